//! Host key verification against OpenSSH `known_hosts` files: plain keys, `@revoked` keys
//! and `@cert-authority` host certificates, and the host key algorithms to offer first.
//!
//! The line format itself is [`super::known_hosts`].

use std::borrow::Cow;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use russh::keys::{Algorithm, PublicKey, PublicKeyOrCertificate};

use super::error::{Error, KnownTypes};
use super::host_certs::{self, CertProblem};
use super::host_key_info::HostKeyInfo;
use super::known_hosts::{Marker, format_line, hosts_match, parse_line};
use super::prompt::PromptHandle;

/// Which host keys to accept, and where to look them up and record them.
///
/// [`Default`] names no files at all; set at least `own_file`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostKeyPolicy {
    /// known_hosts files to read, in order (e.g. `~/.ssh/known_hosts`, then the global
    /// `/etc/ssh/ssh_known_hosts`). Missing files hold no entries. They are never written.
    /// `own_file` is always read as well.
    pub read_files: Vec<PathBuf>,
    /// x2god's own known_hosts file. It is created (parent directory 0700, file 0600) when
    /// missing, and learned keys are appended here only, never to `~/.ssh/known_hosts`.
    pub own_file: PathBuf,
    /// Learn a key that no file knows (python-x2go's `add_to_known_hosts`). Never a key of
    /// another type than the known ones, nor a certificate that fails its checks.
    pub add_unknown: bool,
    /// Accept an unknown key if, and only if, its SHA-256 fingerprint equals this one (with or
    /// without the `SHA256:` prefix and base64 padding); the key is then learned. When set, a
    /// different unknown key is refused with [`Error::FingerprintMismatch`] even if
    /// `add_unknown` is true, because the caller said which key it expects.
    pub trusted_fingerprint: Option<String>,
    /// Who to ask about an unknown key when `add_unknown` is false and no fingerprint is
    /// trusted. A yes learns the key exactly as `add_unknown` would; a no is
    /// [`Error::HostKeyUnknown`] with `refused` set; [`PromptError::Unavailable`] is the plain
    /// [`Error::HostKeyUnknown`]. Changed, other-type and revoked keys are refused without
    /// asking.
    ///
    /// [`PromptError::Unavailable`]: super::PromptError::Unavailable
    pub prompter: Option<PromptHandle>,
    /// Other names the host's key may be recorded under by older versions (a host key alias
    /// from before aliases were made injective). A key recorded there exactly counts as
    /// known; nothing else is taken from them (a different key there is no change: the old
    /// names were shared by colliding profiles).
    pub legacy_names: Vec<String>,
}

/// The name a host is recorded under: `host` for port 22, `[host]:port` otherwise. Host names
/// are case-insensitive, and OpenSSH records and hashes them in lower case.
pub(crate) fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// Checks a host key name given by the caller (an alias) and puts it in the form it is
/// stored and looked up in: lower case, like OpenSSH records host names. Refuses names that a
/// known_hosts line cannot hold as one plain entry: empty, with white space or control
/// characters, with pattern or list characters (`*?!,|#`), or starting with `@` or `[`.
pub(crate) fn alias_name(name: &str) -> Result<String, Error> {
    let bad = name.is_empty()
        || name.starts_with('@')
        || name.starts_with('[')
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "*?!,|#".contains(c));
    if bad {
        return Err(Error::InvalidParams(format!(
            "{name:?} cannot be a host key name: use letters, digits and .-_:/+@ (not first)"
        )));
    }
    Ok(name.to_ascii_lowercase())
}

/// What the known_hosts files say about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// A file records exactly this key for the name.
    Known,
    /// No file records any key for the name.
    Unknown,
    /// Files record the name only with keys of other types (listed, e.g. `ssh-rsa`); the first
    /// such entry is at `file`:`line`.
    OtherType {
        known_types: Vec<String>,
        file: PathBuf,
        line: usize,
    },
    /// A file records a different key of the same type for the name.
    Changed { file: PathBuf, line: usize },
    /// A file marks this key `@revoked`.
    Revoked { file: PathBuf, line: usize },
}

/// How [`HostKeyPolicy::verify`] accepted a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accepted {
    /// It was already recorded.
    Known,
    /// It was unknown and has now been appended to `own_file`.
    Learned,
    /// A host certificate signed by a CA trusted for the host.
    Certified,
}

/// One usable line of one file.
struct Line {
    file: PathBuf,
    /// 1-based.
    line: usize,
    marker: Marker,
    hosts: String,
    key: PublicKey,
}

impl HostKeyPolicy {
    /// The files to read: `read_files`, then `own_file` unless already listed.
    fn files(&self) -> impl Iterator<Item = &Path> {
        let own_listed = self.read_files.iter().any(|f| f == &self.own_file);
        self.read_files
            .iter()
            .map(PathBuf::as_path)
            .chain((!own_listed).then_some(self.own_file.as_path()))
    }

    /// Every line with a key we can parse, of every file, in order.
    fn lines(&self) -> Result<Vec<Line>, Error> {
        let mut out = Vec::new();
        for file in self.files() {
            let text = match fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(Error::Io {
                        path: file.to_owned(),
                        source,
                    });
                }
            };
            for (index, text) in text.lines().enumerate() {
                let Some(entry) = parse_line(text) else {
                    continue;
                };
                let Some(key) = entry.key else {
                    tracing::debug!(file = %file.display(), line = index + 1,
                        "known_hosts: skipping an entry whose key cannot be parsed");
                    continue;
                };
                out.push(Line {
                    file: file.to_owned(),
                    line: index + 1,
                    marker: entry.marker,
                    hosts: entry.hosts.to_owned(),
                    key,
                });
            }
        }
        Ok(out)
    }

    /// Looks `key` up under `name` in all files. A revoked or changed key anywhere wins over a
    /// match elsewhere: a stale entry in any file the user relies on is a warning we must not
    /// paper over.
    #[cfg(test)]
    pub(crate) fn lookup(&self, name: &str, key: &PublicKey) -> Result<Lookup, Error> {
        lookup_in(&self.lines()?, name, key)
    }

    /// Decides whether to accept `key` for `name`, learning it when the policy says so.
    pub(crate) fn verify(&self, name: &str, key: &PublicKey) -> Result<Accepted, Error> {
        self.ensure_own_file()?;
        let info = HostKeyInfo::from_key(key);
        let lines = self.lines()?;
        match lookup_in(&lines, name, key)? {
            Lookup::Unknown if self.known_under_legacy(&lines, key)? => Ok(Accepted::Known),
            Lookup::Unknown => self.accept_unknown(name, key, info),
            other => known_verdict(other, name, info),
        }
    }

    /// Whether `key` is recorded exactly under one of the `legacy_names`.
    fn known_under_legacy(&self, lines: &[Line], key: &PublicKey) -> Result<bool, Error> {
        for legacy in &self.legacy_names {
            if lookup_in(lines, legacy, key)? == Lookup::Known {
                tracing::debug!(name = %legacy, "host key known under its former name");
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Decides on what the server presented for `name`: a plain key as [`verify`](Self::verify)
    /// does; a host certificate by the `@cert-authority` lines for `name` and `principals`
    /// (the host names it must be issued for). A certificate that fails is still accepted when
    /// its plain key is known (as OpenSSH falls back), else refused with
    /// [`Error::HostCertInvalid`] and never learned.
    pub(crate) fn verify_presented(
        &self,
        name: &str,
        principals: &[String],
        presented: &PublicKeyOrCertificate,
    ) -> Result<Accepted, Error> {
        let Some(cert) = presented.certificate() else {
            return self.verify(name, &presented.public_key());
        };
        let key = presented.public_key();
        let info = HostKeyInfo::from_key(&key);
        let lines = self.lines()?;
        let ca_key = PublicKey::new(cert.signature_key().clone(), "");
        for l in &lines {
            if l.marker == Marker::Revoked && (l.key == key || l.key == ca_key) {
                let what = if l.key == key { "key" } else { "CA" };
                tracing::warn!(host = name, what, file = %l.file.display(), line = l.line,
                    "the host certificate's key or CA is @revoked");
                return Err(Error::HostKeyRevoked {
                    host: name.to_owned(),
                    key: HostKeyInfo::from_key(&l.key),
                    file: l.file.clone(),
                    line: l.line,
                });
            }
        }
        let cas: Vec<PublicKey> = lines
            .iter()
            .filter(|l| l.marker == Marker::CertAuthority && hosts_match(&l.hosts, name))
            .map(|l| l.key.clone())
            .collect();
        let problem = match host_certs::check(cert, &cas, principals) {
            Ok(()) => {
                tracing::debug!(
                    host = name,
                    key_id = cert.key_id(),
                    serial = cert.serial(),
                    "host certificate accepted"
                );
                return Ok(Accepted::Certified);
            }
            Err(p) => p,
        };
        match lookup_in(&lines, name, &key)? {
            Lookup::Known => Ok(Accepted::Known),
            Lookup::Unknown if self.known_under_legacy(&lines, &key)? => Ok(Accepted::Known),
            Lookup::Unknown if cas.is_empty() => {
                // No CA is trusted for this host, so we did not ask for certificates; treat
                // it as the plain key it carries.
                self.ensure_own_file()?;
                self.accept_unknown(name, &key, info)
            }
            Lookup::Unknown => Err(cert_error(name, info, problem)),
            other => known_verdict(other, name, info),
        }
    }

    /// The host key algorithms to offer for `name`, most preferred first: those of the keys
    /// known for it first (so a host known by its RSA key negotiates RSA even when it also has
    /// an ed25519 key), then russh's default order. Certificate algorithms are offered only
    /// when a `@cert-authority` line covers `name`.
    pub(crate) fn preferred(&self, name: &str) -> russh::Preferred {
        let lines = match self.lines() {
            Ok(l) => l,
            Err(e) => {
                // The check itself will report the error; offer the defaults meanwhile.
                tracing::debug!(error = %e, "cannot read known_hosts to order host key types");
                Vec::new()
            }
        };
        let named = |hosts: &str| {
            hosts_match(hosts, name) || self.legacy_names.iter().any(|n| hosts_match(hosts, n))
        };
        let matching = || lines.iter().filter(|l| named(&l.hosts));
        let known: Vec<Algorithm> = matching()
            .filter(|l| l.marker == Marker::None)
            .map(|l| l.key.algorithm())
            .collect();
        let has_ca = matching().any(|l| l.marker == Marker::CertAuthority);
        let defaults = russh::Preferred::default();
        let rsa = |a: &Algorithm| matches!(a, Algorithm::Rsa { .. });
        let is_known = |a: &Algorithm| known.iter().any(|k| k == a || (rsa(k) && rsa(a)));
        let (mut order, rest): (Vec<Algorithm>, Vec<Algorithm>) =
            defaults.key.iter().cloned().partition(is_known);
        order.extend(rest);
        let certs = if has_ca { order.clone() } else { Vec::new() };
        russh::Preferred {
            key: Cow::Owned(order),
            host_key_certificates: Cow::Owned(certs),
            ..defaults
        }
    }

    /// The verdict on a key no file knows: trusted by fingerprint, learned, or refused.
    fn accept_unknown(
        &self,
        name: &str,
        key: &PublicKey,
        info: HostKeyInfo,
    ) -> Result<Accepted, Error> {
        if let Some(expected) = &self.trusted_fingerprint {
            if !fingerprints_equal(expected, &info.fingerprint) {
                return Err(Error::FingerprintMismatch {
                    expected: expected.clone(),
                    offered: info,
                });
            }
        } else if !self.add_unknown {
            return Err(Error::HostKeyUnknown {
                host: name.to_owned(),
                key: info,
                refused: false,
            });
        }
        self.learn(name, key)?;
        tracing::info!(
            host = name,
            key_type = %info.key_type,
            fingerprint = %info.fingerprint,
            file = %self.own_file.display(),
            "learned a new host key"
        );
        Ok(Accepted::Learned)
    }

    /// Creates `own_file` (and its directory) when missing, with owner-only permissions.
    fn ensure_own_file(&self) -> Result<(), Error> {
        if let Some(dir) = self.own_file.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| Error::Io {
                    path: dir.to_owned(),
                    source,
                })?;
        }
        fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&self.own_file)
            .map(drop)
            .map_err(|source| Error::Io {
                path: self.own_file.clone(),
                source,
            })
    }

    /// Appends the [`format_line`] of `name` and `key` to `own_file`.
    fn learn(&self, name: &str, key: &PublicKey) -> Result<(), Error> {
        let io_err = |source| Error::Io {
            path: self.own_file.clone(),
            source,
        };
        self.ensure_own_file()?;
        let line = format_line(name, key).ok_or_else(|| {
            Error::InvalidParams(format!("{name:?} cannot be recorded in known_hosts"))
        })?;
        let mut file = fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.own_file)
            .map_err(io_err)?;
        // Start on a fresh line if someone edited the file and left no final newline.
        let mut last = [0u8; 1];
        let needs_newline = file.seek(SeekFrom::End(-1)).is_ok()
            && file.read_exact(&mut last).is_ok()
            && last[0] != b'\n';
        let mut entry = String::new();
        if needs_newline {
            entry.push('\n');
        }
        entry.push_str(&line);
        // One write call with O_APPEND, so concurrent learners do not interleave lines.
        file.write_all(entry.as_bytes()).map_err(io_err)?;
        file.sync_data().map_err(io_err)
    }
}

/// [`HostKeyPolicy::lookup`] over lines already read.
fn lookup_in(lines: &[Line], name: &str, key: &PublicKey) -> Result<Lookup, Error> {
    let mut found = false;
    let mut changed = None;
    let mut other: Option<(Vec<String>, PathBuf, usize)> = None;
    for l in lines {
        match l.marker {
            // A revoked key is revoked for every host, whatever the name field says.
            Marker::Revoked if &l.key == key => {
                return Ok(Lookup::Revoked {
                    file: l.file.clone(),
                    line: l.line,
                });
            }
            // CA keys vouch for certificates only, never for a plain key.
            Marker::Revoked | Marker::CertAuthority => continue,
            Marker::None => {}
        }
        if !hosts_match(&l.hosts, name) {
            continue;
        }
        if l.key.algorithm() != key.algorithm() {
            let t = l.key.algorithm().as_str().to_owned();
            match &mut other {
                Some((types, _, _)) => {
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
                None => other = Some((vec![t], l.file.clone(), l.line)),
            }
        } else if &l.key == key {
            found = true;
        } else if changed.is_none() {
            changed = Some((l.file.clone(), l.line));
        }
    }
    Ok(match (changed, found, other) {
        (Some((file, line)), _, _) => Lookup::Changed { file, line },
        (None, true, _) => Lookup::Known,
        (None, false, Some((known_types, file, line))) => Lookup::OtherType {
            known_types,
            file,
            line,
        },
        (None, false, None) => Lookup::Unknown,
    })
}

/// The verdict on a key the files say something about (anything but [`Lookup::Unknown`]).
fn known_verdict(lookup: Lookup, name: &str, key: HostKeyInfo) -> Result<Accepted, Error> {
    let host = name.to_owned();
    match lookup {
        Lookup::Known => Ok(Accepted::Known),
        Lookup::Changed { file, line } => Err(Error::HostKeyChanged {
            host,
            key,
            file,
            line,
        }),
        Lookup::Revoked { file, line } => Err(Error::HostKeyRevoked {
            host,
            key,
            file,
            line,
        }),
        Lookup::OtherType {
            known_types,
            file,
            line,
        } => Err(Error::HostKeyOtherType {
            host,
            key,
            known: Box::new(KnownTypes {
                types: known_types,
                file,
                line,
            }),
        }),
        Lookup::Unknown => Err(Error::HostKeyUnknown {
            host,
            key,
            refused: false,
        }),
    }
}

fn cert_error(name: &str, key: HostKeyInfo, problem: CertProblem) -> Error {
    Error::HostCertInvalid {
        host: name.to_owned(),
        key,
        reason: problem.to_string(),
    }
}

/// Compares fingerprints loosely in form (prefix, padding) but exactly in value.
fn fingerprints_equal(expected: &str, offered: &str) -> bool {
    fn normal(s: &str) -> &str {
        let s = s.trim();
        let s = s.strip_prefix("SHA256:").unwrap_or(s);
        s.trim_end_matches('=')
    }
    let (a, b) = (normal(expected), normal(offered));
    !a.is_empty() && a == b
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::super::known_hosts::{glob_match, hmac_sha1};
    use super::*;

    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const ED_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAILIG2T/B0l0gaqj3puu510tu9N1OkQ4znY3LYuEm5zCF";
    const ECDSA: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEwii8gWYI0irgPJMXCmkX3Zm3GcqdZKjEfZ2tY65b+5KPfwMJnxQiFcwrZ6IuZwHFnACstdZJ2RYDW+YFCt4+I=";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.path(name);
            fs::write(&p, text).unwrap();
            p
        }
        fn policy(&self, read: &[PathBuf]) -> HostKeyPolicy {
            HostKeyPolicy {
                read_files: read.to_vec(),
                own_file: self.path("x2god/sub/known_hosts"),
                add_unknown: false,
                trusted_fingerprint: None,
                prompter: None,
                legacy_names: Vec::new(),
            }
        }
    }

    #[test]
    fn alias_names() {
        assert_eq!(alias_name("Work-Server_2").unwrap(), "work-server_2");
        assert_eq!(alias_name("a.b:c/d+e@f").unwrap(), "a.b:c/d+e@f");
        for bad in [
            "", "a b", "a\nb", "a,b", "a*", "a?", "!a", "|1|x", "a#b", "@revoked", "[a]:22", "a\tb",
        ] {
            assert!(
                matches!(alias_name(bad), Err(Error::InvalidParams(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lookup_names() {
        assert_eq!(lookup_name("Server.Example", 22), "server.example");
        assert_eq!(lookup_name("server", 2222), "[server]:2222");
        assert_eq!(lookup_name("::1", 2222), "[::1]:2222");
    }

    #[test]
    fn fingerprint_format_matches_openssh() {
        let info = HostKeyInfo::from_key(&key(ED_A));
        assert_eq!(info.key_type, "ssh-ed25519");
        assert!(info.fingerprint.starts_with("SHA256:"));
        assert!(!info.fingerprint.ends_with('='));
        assert_eq!(info.fingerprint.len(), "SHA256:".len() + 43);
    }

    #[test]
    fn plain_port_and_comment_lines() {
        let f = Fixture::new();
        let kh = f.write(
            "known_hosts",
            &format!(
                "# a comment\n\nother ssh-ed25519 {ED_B}\n[srv]:2222\tssh-ed25519   {ED_A} c\nsrv ssh-ed25519 {ED_B}\n"
            ),
        );
        let p = f.policy(std::slice::from_ref(&kh));
        assert_eq!(p.lookup("[srv]:2222", &key(ED_A)).unwrap(), Lookup::Known);
        // Port 22 name does not match the [srv]:2222 entry: srv has ED_B, so ED_A is changed.
        assert_eq!(
            p.lookup("srv", &key(ED_A)).unwrap(),
            Lookup::Changed {
                file: kh.clone(),
                line: 5
            }
        );
        assert_eq!(p.lookup("srv", &key(ED_B)).unwrap(), Lookup::Known);
        assert_eq!(p.lookup("[srv]:2223", &key(ED_A)).unwrap(), Lookup::Unknown);
        // A key of another type for the same name is its own verdict, naming the known type.
        assert_eq!(
            p.lookup("srv", &key(ECDSA)).unwrap(),
            Lookup::OtherType {
                known_types: vec!["ssh-ed25519".into()],
                file: kh.clone(),
                line: 5
            }
        );
    }

    #[test]
    fn hashed_entries() {
        let f = Fixture::new();
        // Test vector from russh: example.com, port 22.
        let kh = f.write(
            "known_hosts",
            &format!(
                "|1|O33ESRMWPVkMYIwJ1Uw+n877jTo=|nuuC5vEqXlEZ/8BXQR7m619W6Ak= ssh-ed25519 {ED_B}\n"
            ),
        );
        let p = f.policy(std::slice::from_ref(&kh));
        assert_eq!(p.lookup("example.com", &key(ED_B)).unwrap(), Lookup::Known);
        assert_eq!(
            p.lookup("example.com", &key(ED_A)).unwrap(),
            Lookup::Changed { file: kh, line: 1 }
        );
        assert_eq!(
            p.lookup("example.org", &key(ED_A)).unwrap(),
            Lookup::Unknown
        );
    }

    #[test]
    fn hashed_entry_with_port_from_our_hmac() {
        let f = Fixture::new();
        let salt = [7u8; 20];
        let hash = hmac_sha1(&salt, b"[10.0.0.1]:2222");
        let line = format!(
            "|1|{}|{} ssh-ed25519 {ED_A}\n",
            STANDARD.encode(salt),
            STANDARD.encode(hash)
        );
        let kh = f.write("known_hosts", &line);
        let p = f.policy(&[kh]);
        assert_eq!(
            p.lookup("[10.0.0.1]:2222", &key(ED_A)).unwrap(),
            Lookup::Known
        );
        assert_eq!(p.lookup("10.0.0.1", &key(ED_A)).unwrap(), Lookup::Unknown);
    }

    #[test]
    fn patterns_negation_and_markers() {
        let f = Fixture::new();
        let kh = f.write(
            "known_hosts",
            &format!(
                "*.lan,!bad.lan ssh-ed25519 {ED_A}\n@cert-authority *.lan ssh-ed25519 {ED_B}\nbroken ssh-ed25519 AAAAnotbase64!!\n@revoked * ecdsa-sha2-nistp256 {ECDSA}\n"
            ),
        );
        let p = f.policy(std::slice::from_ref(&kh));
        assert_eq!(p.lookup("good.lan", &key(ED_A)).unwrap(), Lookup::Known);
        assert_eq!(p.lookup("bad.lan", &key(ED_B)).unwrap(), Lookup::Unknown);
        assert_eq!(p.lookup("broken", &key(ED_A)).unwrap(), Lookup::Unknown);
        assert_eq!(
            p.lookup("anything", &key(ECDSA)).unwrap(),
            Lookup::Revoked { file: kh, line: 4 }
        );
        assert!(glob_match("a*b?c", "axxbyc"));
        assert!(!glob_match("a*b?c", "axxbc"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn unknown_refused_by_default_and_nothing_written() {
        let f = Fixture::new();
        let p = f.policy(&[f.path("missing")]);
        let err = p.verify("[h]:2222", &key(ED_A)).unwrap_err();
        assert!(matches!(err, Error::HostKeyUnknown { ref host, .. } if host == "[h]:2222"));
        let msg = err.to_string();
        assert!(
            msg.contains("ssh-ed25519") && msg.contains("SHA256:"),
            "{msg}"
        );
        // The own file exists (created) but is empty.
        assert_eq!(fs::read_to_string(&p.own_file).unwrap(), "");
        let mode = fs::metadata(&p.own_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(p.own_file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }

    #[test]
    fn learning_appends_to_own_file_only() {
        let f = Fixture::new();
        let user_kh = f.write("user_known_hosts", "other ssh-ed25519 AAAA\n");
        let before = fs::read_to_string(&user_kh).unwrap();
        let mut p = f.policy(std::slice::from_ref(&user_kh));
        p.add_unknown = true;
        assert_eq!(p.verify("[h]:2222", &key(ED_A)).unwrap(), Accepted::Learned);
        assert_eq!(fs::read_to_string(&user_kh).unwrap(), before);
        let own = fs::read_to_string(&p.own_file).unwrap();
        assert_eq!(own, format!("[h]:2222 ssh-ed25519 {ED_A}\n"));
        // Second time it is known, and nothing more is written.
        assert_eq!(p.verify("[h]:2222", &key(ED_A)).unwrap(), Accepted::Known);
        assert_eq!(fs::read_to_string(&p.own_file).unwrap(), own);
    }

    #[test]
    fn learning_adds_missing_newline() {
        let f = Fixture::new();
        let mut p = f.policy(&[]);
        p.own_file = f.write("own", "x ssh-ed25519 AAAA");
        p.add_unknown = true;
        p.verify("h", &key(ED_A)).unwrap();
        assert_eq!(
            fs::read_to_string(&p.own_file).unwrap(),
            format!("x ssh-ed25519 AAAA\nh ssh-ed25519 {ED_A}\n")
        );
    }

    #[test]
    fn trusted_fingerprint() {
        let f = Fixture::new();
        let mut p = f.policy(&[]);
        let fp_b = HostKeyInfo::from_key(&key(ED_B)).fingerprint;
        p.trusted_fingerprint = Some(fp_b.clone());
        p.add_unknown = true; // the explicit fingerprint still wins
        let err = p.verify("h", &key(ED_A)).unwrap_err();
        assert!(
            matches!(err, Error::FingerprintMismatch { ref expected, .. } if *expected == fp_b)
        );
        assert_eq!(fs::read_to_string(&p.own_file).unwrap(), "");
        // Without prefix, with padding: still equal.
        let bare = format!("{}=", fp_b.trim_start_matches("SHA256:"));
        p.trusted_fingerprint = Some(bare);
        assert_eq!(p.verify("h", &key(ED_B)).unwrap(), Accepted::Learned);
        assert_eq!(p.verify("h", &key(ED_B)).unwrap(), Accepted::Known);
    }

    #[test]
    fn changed_key_always_refused_and_never_learned() {
        let f = Fixture::new();
        let user_kh = f.write("user_known_hosts", &format!("h ssh-ed25519 {ED_B}\n"));
        let mut p = f.policy(std::slice::from_ref(&user_kh));
        p.add_unknown = true;
        p.trusted_fingerprint = Some(HostKeyInfo::from_key(&key(ED_A)).fingerprint);
        // Also record the new key in our own file: a stale entry elsewhere still wins.
        fs::create_dir_all(p.own_file.parent().unwrap()).unwrap();
        fs::write(&p.own_file, format!("h ssh-ed25519 {ED_A}\n")).unwrap();
        let err = p.verify("h", &key(ED_A)).unwrap_err();
        match &err {
            Error::HostKeyChanged {
                host, file, line, ..
            } => {
                assert_eq!(host, "h");
                assert_eq!(file, &user_kh);
                assert_eq!(*line, 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("CHANGED"));
        assert_eq!(
            fs::read_to_string(&p.own_file).unwrap(),
            format!("h ssh-ed25519 {ED_A}\n")
        );
    }

    #[test]
    fn other_type_is_refused_and_never_learned() {
        let f = Fixture::new();
        let user_kh = f.write("user_known_hosts", &format!("h ssh-ed25519 {ED_B}\n"));
        let mut p = f.policy(std::slice::from_ref(&user_kh));
        p.add_unknown = true;
        p.trusted_fingerprint = Some(HostKeyInfo::from_key(&key(ECDSA)).fingerprint);
        let err = p.verify("h", &key(ECDSA)).unwrap_err();
        assert!(
            matches!(&err, Error::HostKeyOtherType { known, .. }
                if known.types == ["ssh-ed25519"] && known.line == 1),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("ssh-ed25519") && msg.contains("SHA256:"),
            "{msg}"
        );
        assert_eq!(fs::read_to_string(&p.own_file).unwrap(), "");
    }

    #[test]
    fn known_types_are_offered_first() {
        let f = Fixture::new();
        let kh = f.write(
            "known_hosts",
            &format!("h ecdsa-sha2-nistp256 {ECDSA}\n@cert-authority *.ca ssh-ed25519 {ED_A}\n"),
        );
        let p = f.policy(&[kh]);
        let pref = p.preferred("h");
        assert_eq!(pref.key.first().unwrap().as_str(), "ecdsa-sha2-nistp256");
        assert_eq!(pref.key.len(), russh::Preferred::default().key.len());
        assert!(pref.host_key_certificates.is_empty());
        // Unknown host: russh's order, no certificates.
        assert_eq!(p.preferred("other").key, russh::Preferred::default().key);
        // A CA for the host: certificates are asked for.
        assert!(!p.preferred("x.ca").host_key_certificates.is_empty());
    }
}
