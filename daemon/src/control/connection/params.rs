//! From a profile's settings to the SSH layer's connection parameters: host and user names
//! checked, key paths expanded, the host-key policy, the jump host, and the secrets the caller
//! did not give taken from the keyring.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, warn};

use super::super::error::{Error, truncate};
use super::super::keyring;
use super::super::sync::SharedName;
use super::ssh_config;
use crate::config::{Paths, local_username};
use crate::profiles::{ProfileSettings, ProxyKind, ProxySettings, duration_setting};
use crate::ssh::config::HostConfig;
use crate::ssh::{
    self, AuthParams, ConnectParams, HostKeyPolicy, HttpProxyParams, PromptHandle, Secret,
};
use crate::x2go::validate::Username;

/// Default for the `timeout` setting: TCP connect, handshake and authentication.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Session channels one connection may have open at once: OpenSSH's default `MaxSessions`.
const MAX_CHANNELS: usize = 10;

/// What `Connect` was asked to do: the effective settings and the secrets for this attempt.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// Stored settings with the caller's overrides applied.
    pub settings: ProfileSettings,
    /// Password, for password authentication or to unlock a key.
    pub password: Option<Secret>,
    /// Passphrase of an encrypted key.
    pub passphrase: Option<Secret>,
    /// Password for the jump host.
    pub proxy_password: Option<Secret>,
    /// Passphrase of the jump host's encrypted key.
    pub proxy_passphrase: Option<Secret>,
    /// Who to ask for what is still missing (a registered agent), if anyone.
    pub prompter: Option<PromptHandle>,
}

impl ConnectRequest {
    /// A request with `settings` and no secrets: keys, the agent and the keyring only.
    pub fn new(settings: ProfileSettings) -> ConnectRequest {
        ConnectRequest {
            settings,
            password: None,
            passphrase: None,
            proxy_password: None,
            proxy_passphrase: None,
            prompter: None,
        }
    }
}

/// What connection parameters are made of besides the settings: the profile's name, the
/// user's files, and whether the profile is another program's (read-only).
#[derive(Debug, Clone)]
pub(crate) struct ParamsSource {
    pub(crate) name: SharedName,
    pub(crate) paths: Arc<Paths>,
    pub(crate) read_only: bool,
}

impl ParamsSource {
    /// The host-key policy of a hop whose OpenSSH configuration (if read) is `cfg`.
    pub(super) fn host_key_policy(
        &self,
        add_unknown: bool,
        prompter: Option<PromptHandle>,
        cfg: Option<&HostConfig>,
    ) -> HostKeyPolicy {
        let mut read_files = ssh_config::known_hosts_files(&self.paths, cfg);
        read_files.push(self.paths.known_hosts.clone());
        HostKeyPolicy {
            read_files,
            own_file: self.paths.known_hosts.clone(),
            add_unknown,
            trusted_fingerprint: None,
            // `StrictHostKeyChecking yes`: nobody is asked, unless the profile itself learns.
            prompter: prompter.filter(|_| add_unknown || !ssh_config::never_ask(cfg)),
            legacy_names: Vec::new(),
        }
    }

    fn home_dir(&self) -> Option<PathBuf> {
        self.paths.user_ssh_dir.parent().map(Path::to_path_buf)
    }

    /// The SSH layer's parameters for `req`, every value checked.
    pub(crate) fn connect_params(&self, req: ConnectRequest) -> Result<ConnectParams, Error> {
        let s = &req.settings;
        validate_hostname(&s.hostname)?;
        let cfg = ssh_config::lookup(&self.paths, s)?;
        let cfg = cfg.as_ref();
        let host = validate_hostname(cfg.map_or(s.hostname.as_str(), |c| c.hostname.as_str()))?;
        let port = cfg.and_then(|c| c.port).unwrap_or(s.port);
        let username = match s
            .username
            .clone()
            .or_else(|| cfg.and_then(|c| c.user.clone()))
            .or_else(local_username)
        {
            Some(u) => u,
            None => {
                return Err(Error::InvalidArgument(
                    "no username given and the local user name is unknown".into(),
                ));
            }
        };
        Username::parse(&username)?;
        let home = self.home_dir();
        let expand = |files: &[PathBuf]| -> Vec<PathBuf> {
            files
                .iter()
                .map(|p| expand_tilde(p, home.as_deref()))
                .collect()
        };
        let timeout = match (s.timeout, cfg.and_then(ssh_config::timeout)) {
            (None, Some(t)) => t,
            _ => checked_timeout(s)?,
        };
        let key_files = match cfg {
            Some(c) if s.key_filename.is_empty() => c.identity_files.clone(),
            _ => expand(&s.key_filename),
        };
        let auth = AuthParams {
            username: username.clone(),
            password: req.password.clone(),
            passphrase: req.passphrase.clone(),
            key_files: key_files.clone(),
            allow_agent: s.allow_agent,
            look_for_keys: s.look_for_keys,
            identities_only: cfg.and_then(|c| c.identities_only).unwrap_or(false),
            force_password_auth: s.force_password_auth,
            ssh_dir: self.paths.user_ssh_dir.clone(),
            agent_socket: agent_socket(),
            prompter: req.prompter.clone(),
        };
        let host_keys = self.host_key_policy(s.add_to_known_hosts, req.prompter.clone(), cfg);
        let jumps = cfg
            .and_then(|c| c.proxy_jump.as_deref())
            .unwrap_or_default();
        // Through a jump host the target is reached at the tunnel's remote address.
        let mut http_proxy = None;
        let (target_host, target_port, proxy) = match &s.sshproxy {
            None if !jumps.is_empty() => {
                let chain = self.jump_chain(jumps, &req, &auth)?;
                (host, port, chain)
            }
            None => (host, port, None),
            Some(p) if p.kind == ProxyKind::Http => {
                let (th, tp) = p.target(&host, port).map_err(Error::InvalidArgument)?;
                http_proxy = Some(http_proxy_params(p, &req, &username)?);
                (validate_hostname(&th)?, tp, None)
            }
            Some(p) => {
                let (th, tp) = p.target(&host, port).map_err(Error::InvalidArgument)?;
                let th = validate_hostname(&th)?;
                let proxy_host = validate_hostname(&p.host)?;
                let proxy_user = p.user.clone().unwrap_or_else(|| username.clone());
                Username::parse(&proxy_user)?;
                let reuse = p.reuse_authinfo;
                let proxy_auth = AuthParams {
                    username: proxy_user,
                    password: req
                        .proxy_password
                        .clone()
                        .or_else(|| reuse.then(|| req.password.clone()).flatten()),
                    passphrase: req
                        .proxy_passphrase
                        .clone()
                        .or_else(|| reuse.then(|| req.passphrase.clone()).flatten()),
                    key_files: if reuse && p.key_filename.is_empty() {
                        key_files.clone()
                    } else {
                        expand(&p.key_filename)
                    },
                    allow_agent: p.allow_agent || (reuse && s.allow_agent),
                    look_for_keys: p.look_for_keys || (reuse && s.look_for_keys),
                    identities_only: false,
                    force_password_auth: p.force_password_auth,
                    ssh_dir: self.paths.user_ssh_dir.clone(),
                    agent_socket: agent_socket(),
                    prompter: req.prompter.clone(),
                };
                let proxy_keys =
                    self.host_key_policy(s.add_to_known_hosts, req.prompter.clone(), None);
                let proxy = ssh::ProxyParams {
                    host: proxy_host,
                    port: p.port,
                    auth: proxy_auth,
                    host_keys: proxy_keys,
                    host_key_name: None,
                    via: None,
                };
                (th, tp, Some(Box::new(proxy)))
            }
        };
        let mut host_keys = host_keys;
        if s.unique_hostkey_aliases {
            let legacy = legacy_host_key_alias(&self.name.get());
            if legacy != self.host_key_alias() {
                host_keys.legacy_names = vec![legacy];
            }
        }
        Ok(ConnectParams {
            host: target_host,
            port: target_port,
            auth,
            host_keys,
            timeout,
            max_channels: MAX_CHANNELS,
            keepalive_interval: match s.keepalive_interval.and_then(duration_setting) {
                Some(t) => Some(t),
                None => cfg
                    .and_then(ssh_config::keepalive)
                    .unwrap_or(Some(Duration::from_secs(15))),
            },
            keepalive_max: match s.keepalive_count {
                Some(c) => c as usize,
                None => cfg.and_then(ssh_config::keepalive_max).unwrap_or(3),
            },
            proxy,
            http_proxy,
            host_key_name: if s.unique_hostkey_aliases {
                Some(self.host_key_alias())
            } else {
                cfg.and_then(|c| c.host_key_alias.clone())
            },
            forward_agent: if s.forward_sshagent {
                agent_socket()
            } else {
                None
            },
        })
    }

    /// The known_hosts name of the server under `unique_hostkey_aliases`: the profile, not
    /// the address, so profiles reaching different servers through one address stay apart.
    fn host_key_alias(&self) -> String {
        host_key_alias(&self.name.get())
    }

    /// Fills the secrets the caller did not give from the keyring, for the kinds the profile
    /// has stored there. A keyring that cannot be read is logged and skipped: the agent (or
    /// an AuthFailed naming what was tried) follows.
    pub(crate) async fn fill_from_keyring(&self, req: &mut ConnectRequest) {
        use x2god_proto::names::secret_kind as kind;
        // Profiles read from another program's file have no record of what is stored: try
        // every kind.
        let stored: Vec<String> = if self.read_only {
            kind::STORABLE.iter().map(|k| (*k).to_owned()).collect()
        } else {
            req.settings.keyring.clone()
        };
        let name = self.name.get();
        for k in stored {
            let slot = match k.as_str() {
                kind::PASSWORD => &mut req.password,
                kind::PASSPHRASE => &mut req.passphrase,
                kind::SSHPROXY_PASSWORD => &mut req.proxy_password,
                kind::SSHPROXY_PASSPHRASE => &mut req.proxy_passphrase,
                _ => continue,
            };
            if slot.is_some() {
                continue;
            }
            match keyring::lookup(&name, &k).await {
                Ok(Some(secret)) => {
                    debug!(profile = %name, kind = %k, "secret taken from the keyring");
                    *slot = Some(secret);
                }
                Ok(None) => debug!(profile = %name, kind = %k, "listed secret not in the keyring"),
                Err(e) => {
                    // An unreachable or locked keyring fails every kind alike, each after its
                    // timeout: one failure is enough to go on without it.
                    warn!(profile = %name, kind = %k, error = %e, "keyring lookup failed");
                    break;
                }
            }
        }
    }

    /// Connection parameters for a host-key probe: `settings`, keyring secrets for a jump
    /// host's login, and `trusted` accepted on whichever hop presents it.
    pub(crate) async fn probe_params(
        &self,
        settings: ProfileSettings,
        trusted: Option<String>,
        prompter: Option<PromptHandle>,
    ) -> Result<ConnectParams, Error> {
        let mut req = ConnectRequest::new(settings);
        req.prompter = prompter;
        if req.settings.sshproxy.is_some() {
            self.fill_from_keyring(&mut req).await;
        }
        let mut params = self.connect_params(req)?;
        for keys in params.host_key_policies_mut() {
            keys.add_unknown = false;
            keys.prompter = None;
            keys.trusted_fingerprint.clone_from(&trusted);
        }
        Ok(params)
    }
}

/// The account a connection logs in to, as a key for shared listings: equal for profiles
/// that get the same answers from the server (the jump host is part of it, since a name may
/// mean another machine behind it).
pub(crate) fn account_of(params: &ConnectParams) -> String {
    let mut account = format!("{}@[{}]:{}", params.auth.username, params.host, params.port);
    for proxy in params.jump_hops() {
        account.push_str(&format!(
            " via {}@[{}]:{}",
            proxy.auth.username, proxy.host, proxy.port
        ));
    }
    // The proxy resolves the names: behind another one, a name may mean another machine.
    if let Some(http) = &params.http_proxy {
        account.push_str(&format!(" via http [{}]:{}", http.host, http.port));
    }
    account
}

/// The HTTP proxy of `p`: `sshproxy_user` for its basic authentication (the profile's user
/// with `sshproxy_reuse_authinfo`), with the proxy password given, or the profile's own with
/// `sshproxy_reuse_authinfo`.
fn http_proxy_params(
    p: &ProxySettings,
    req: &ConnectRequest,
    username: &str,
) -> Result<HttpProxyParams, Error> {
    let reuse = p.reuse_authinfo;
    Ok(HttpProxyParams {
        host: validate_hostname(&p.host)?,
        port: p.port,
        user: p
            .user
            .clone()
            .or_else(|| reuse.then(|| username.to_owned())),
        password: req
            .proxy_password
            .clone()
            .or_else(|| reuse.then(|| req.password.clone()).flatten()),
        prompter: req.prompter.clone(),
    })
}

/// The connect timeout of `s`, checked.
fn checked_timeout(s: &ProfileSettings) -> Result<Duration, Error> {
    match s.timeout {
        Some(t) if duration_setting(t).is_some() => Ok(Duration::from_secs_f64(t)),
        Some(t) => Err(Error::InvalidArgument(format!(
            "timeout must be between 0 and 3600 seconds, not {t}"
        ))),
        None => Ok(CONNECT_TIMEOUT),
    }
}

/// The local agent socket, for `allow_agent` and `forward_sshagent`.
fn agent_socket() -> Option<PathBuf> {
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// Accepts host names and IPv4/IPv6 literals; nothing that could be mistaken for an option.
pub fn validate_hostname(host: &str) -> Result<String, Error> {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    let ok = !h.is_empty()
        && h.len() <= 253
        && !h.starts_with('-')
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '%'));
    if ok {
        Ok(h.to_owned())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid host name {:?}",
            truncate(host, 64)
        )))
    }
}

fn expand_tilde(p: &Path, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_path_buf(),
    }
}

/// The host key alias of profile `name`: `x2god-profile-` and the name with every character
/// but `a-z0-9-.` written as `_` and the two lower-case hex digits of each of its UTF-8 bytes.
/// Injective (`a b`, `a_b` and `A_b` get three names) and already in the lower case known_hosts
/// names are looked up in.
pub(crate) fn host_key_alias(name: &str) -> String {
    let mut out = String::from("x2god-profile-");
    for c in name.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("_{b:02x}"));
            }
        }
    }
    out
}

/// The alias older versions used (every other character made `_`, which made names collide),
/// still read so keys learned under it stay known.
fn legacy_host_key_alias(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("x2god-profile-{}", name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_aliases_are_injective_and_valid() {
        let names = ["a b", "a_b", "A_b", "a-b", "a.b", "ä", "a_20b", "x", "X"];
        let aliases: std::collections::BTreeSet<String> =
            names.iter().map(|n| host_key_alias(n)).collect();
        assert_eq!(aliases.len(), names.len(), "{aliases:?}");
        for n in names {
            let a = host_key_alias(n);
            // What the SSH layer's alias check keeps as it is.
            assert!(
                a.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._".contains(c)),
                "{n:?}: {a}"
            );
        }
        assert_eq!(host_key_alias("a b"), "x2god-profile-a_20b");
        assert_eq!(host_key_alias("work-1.lan"), "x2god-profile-work-1.lan");
        // The former alias, still read: lossy.
        assert_eq!(legacy_host_key_alias("a b"), legacy_host_key_alias("A_b"));
    }

    #[test]
    fn hostnames() {
        assert_eq!(validate_hostname("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(validate_hostname("[::1]").unwrap(), "::1");
        assert_eq!(
            validate_hostname("srv.example.org").unwrap(),
            "srv.example.org"
        );
        for bad in ["", "-oProxyCommand=x", "a b", "a;b", "a\nb", "x$(id)"] {
            assert!(validate_hostname(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tilde() {
        let home = Path::new("/home/u");
        assert_eq!(
            expand_tilde(Path::new("~/.ssh/id"), Some(home)),
            Path::new("/home/u/.ssh/id")
        );
        assert_eq!(expand_tilde(Path::new("/k"), Some(home)), Path::new("/k"));
    }
}
