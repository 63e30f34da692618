//! The OpenSSH `known_hosts` line format: parsing one line, matching its host patterns, and
//! writing the line we append for a learned key.
//!
//! We parse the files ourselves instead of using `russh::keys::check_known_hosts_path`: that
//! function splits on single spaces, miscounts lines after comments, fails the whole lookup on
//! one unparsable key, and ignores negations, wildcards, `@revoked` and `@cert-authority`, all
//! of which real `known_hosts` files contain. Public so the fuzz target can reach it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use russh::keys::PublicKey;

/// The marker a line may start with (`sshd(8)`, section SSH_KNOWN_HOSTS FILE FORMAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A plain host key.
    None,
    /// `@cert-authority`: the key is a CA whose host certificates are trusted for the
    /// matching hosts; it is never a host's own key.
    CertAuthority,
    /// `@revoked`: the key (host key or CA) must never be accepted, for any host.
    Revoked,
}

/// One parsed line.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The marker, if any.
    pub marker: Marker,
    /// The comma-separated host patterns, as written.
    pub hosts: &'a str,
    /// The key type field, as written.
    pub key_type: &'a str,
    /// `None` when the key type is unknown to us, the blob is corrupt, or the type field does
    /// not name the blob's type.
    pub key: Option<PublicKey>,
}

/// Splits one known_hosts line into marker, host patterns and key. Blank lines, comments,
/// unknown markers and lines with too few fields give `None`.
pub fn parse_line(line: &str) -> Option<Entry<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@cert-authority" => Marker::CertAuthority,
        "@revoked" => Marker::Revoked,
        m if m.starts_with('@') => return None,
        _ => Marker::None,
    };
    if marker != Marker::None {
        first = fields.next()?;
    }
    let key_type = fields.next()?;
    let blob = fields.next()?;
    let key = russh::keys::parse_public_key_base64(blob)
        .ok()
        .filter(|k| k.algorithm().as_str() == key_type);
    Some(Entry {
        marker,
        hosts: first,
        key_type,
        key,
    })
}

/// The line that records `key` for `name` (with its newline), as we append it to our own file:
/// the name in clear (the file is ours, and a readable entry is easier for a person to check
/// and remove). `None` when `name` cannot stand as one plain host entry: empty, with white
/// space, control or pattern characters (`*?!,#`), or starting with `@` or `|`.
pub fn format_line(name: &str, key: &PublicKey) -> Option<String> {
    let bad = name.is_empty()
        || name.starts_with('@')
        || name.starts_with('|')
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "*?!,#".contains(c));
    if bad {
        return None;
    }
    let openssh = key.to_openssh().ok()?;
    Some(format!("{name} {openssh}\n"))
}

/// Whether the comma-separated patterns of a known_hosts line name `name` (given in lower
/// case). As in OpenSSH, a matching negated pattern (`!pat`) excludes the line even if another
/// pattern matches.
pub fn hosts_match(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for pattern in patterns.split(',') {
        if let Some(hashed) = pattern.strip_prefix("|1|") {
            if hashed_match(hashed, name) {
                matched = true;
            }
        } else if let Some(negated) = pattern.strip_prefix('!') {
            if glob_match(&negated.to_ascii_lowercase(), name) {
                return false;
            }
        } else if glob_match(&pattern.to_ascii_lowercase(), name) {
            matched = true;
        }
    }
    matched
}

/// `salt|hash` (both base64) of a hashed entry: HMAC-SHA1 of the name keyed with the salt.
fn hashed_match(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = HmacSha1::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// HMAC-SHA1 of `msg` keyed with `key`, as OpenSSH's hashed entries use it.
#[cfg(test)]
pub(super) fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha1::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// OpenSSH pattern matching: `*` matches any run of characters, `?` any one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with single-star backtracking: linear enough for host names.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";

    #[test]
    fn markers_and_fields() {
        let line = format!("@cert-authority *.lan,!x.lan ssh-ed25519 {ED_A} ca");
        let e = parse_line(&line).unwrap();
        assert_eq!(e.marker, Marker::CertAuthority);
        assert_eq!(e.hosts, "*.lan,!x.lan");
        assert!(e.key.is_some());
        assert!(parse_line("@bogus h ssh-ed25519 AAAA").is_none());
        assert!(parse_line("   # comment").is_none());
        assert!(parse_line("h ssh-ed25519").is_none());
        // The type field must name the blob's type.
        assert!(
            parse_line(&format!("h ssh-rsa {ED_A}"))
                .unwrap()
                .key
                .is_none()
        );
    }

    #[test]
    fn written_lines_parse_back() {
        let key = russh::keys::parse_public_key_base64(ED_A).unwrap();
        let line = format_line("[h]:2222", &key).unwrap();
        let e = parse_line(&line).unwrap();
        assert_eq!((e.marker, e.hosts), (Marker::None, "[h]:2222"));
        assert_eq!(e.key.as_ref(), Some(&key));
        assert!(hosts_match(e.hosts, "[h]:2222"));
        for bad in ["", "a b", "a,b", "@x", "|1|x", "a*", "!a", "a#"] {
            assert!(format_line(bad, &key).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("a*b?c", "axxbyc"));
        assert!(!glob_match("a*b?c", "axxbc"));
        assert!(glob_match("*", ""));
        assert!(!hosts_match("*.lan,!bad.lan", "bad.lan"));
        assert!(hosts_match("*.lan,!bad.lan", "good.lan"));
    }
}
