//! The stored settings of one profile. Secrets are never part of them.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Connection settings of a profile, named after python-x2go's `connect()` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSettings {
    /// Server host name or address.
    pub hostname: String,
    /// SSH port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Remote user; the local user when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Private key files to try, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_filename: Vec<PathBuf>,
    /// Try the SSH agent's keys.
    #[serde(default)]
    pub allow_agent: bool,
    /// Try the default key files in `~/.ssh`.
    #[serde(default)]
    pub look_for_keys: bool,
    /// Only authenticate by password.
    #[serde(default)]
    pub force_password_auth: bool,
    /// Connect and authentication timeout in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Learn an unknown host key on connect instead of refusing it.
    #[serde(default)]
    pub add_to_known_hosts: bool,
    /// Seconds without traffic from the server before a keepalive is sent (default 15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_interval: Option<f64>,
    /// Unanswered keepalives after which the connection counts as lost (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_count: Option<u32>,
    /// Reconnect by itself after a loss, with keys, agent or keyring (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_reconnect: Option<bool>,
    /// After a reconnect, resume the sessions x2god was showing when the connection was lost.
    #[serde(default)]
    pub auto_resume: bool,
    /// Connect when the daemon starts.
    #[serde(default)]
    pub autoconnect: bool,
    /// Let the server side use the local SSH agent (`forward_sshagent`).
    #[serde(default)]
    pub forward_sshagent: bool,
    /// Store and look up the server's host key under the profile's name instead of
    /// `[host]:port`, so profiles reaching different servers through one tunnel address do
    /// not collide (`unique_hostkey_aliases`).
    #[serde(default)]
    pub unique_hostkey_aliases: bool,
    /// Resolve `hostname` through OpenSSH's client configuration for what the profile
    /// leaves unset (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_ssh_config: Option<bool>,
    /// The jump host, when the server is reached through one (`use_sshproxy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sshproxy: Option<ProxySettings>,
    /// Kinds of secret (`password`, `passphrase`, `sshproxy_password`, `sshproxy_passphrase`)
    /// stored for this profile in the Secret Service keyring. Only the kinds are kept here,
    /// never the secrets, so that a connect asks the keyring only for what is there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keyring: Vec<String>,
    /// Defaults for sessions started from this profile.
    #[serde(default, skip_serializing_if = "SessionSettings::is_empty")]
    pub session: SessionSettings,
}

/// What kind of proxy [`ProxySettings`] names (`sshproxy_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    /// An SSH jump host (python-x2go's only kind).
    #[default]
    Ssh,
    /// An HTTP proxy asked for a tunnel with `CONNECT` (x2goclient's `sshproxytype=HTTP`).
    Http,
}

impl ProxyKind {
    /// The value of `sshproxy_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyKind::Ssh => "ssh",
            ProxyKind::Http => "http",
        }
    }

    /// The kind named `s` (`ssh` or `http`, in any case).
    pub fn parse(s: &str) -> Option<ProxyKind> {
        if s.eq_ignore_ascii_case("ssh") {
            Some(ProxyKind::Ssh)
        } else if s.eq_ignore_ascii_case("http") {
            Some(ProxyKind::Http)
        } else {
            None
        }
    }

    fn is_ssh(&self) -> bool {
        *self == ProxyKind::Ssh
    }
}

/// The proxy the server is reached through, named after python-x2go's `sshproxy_*`
/// parameters. An SSH jump host (the default): the connection to the X2Go server runs inside
/// a `direct-tcpip` channel of an authenticated connection to this host. An HTTP proxy
/// (`kind` [`ProxyKind::Http`]): the connection runs through its `CONNECT` tunnel, with
/// `user` and the proxy password for its basic authentication; the key and agent settings do
/// not apply. Either way no local port is opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySettings {
    /// Which kind of proxy `host` is (`sshproxy_type`).
    #[serde(default, rename = "type", skip_serializing_if = "ProxyKind::is_ssh")]
    pub kind: ProxyKind,
    /// Jump host (or HTTP proxy) name or address.
    pub host: String,
    /// Its SSH port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Remote user on the jump host; the profile's user when unset. For an HTTP proxy, the
    /// user of its basic authentication; none when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Private key files for the jump host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_filename: Vec<PathBuf>,
    /// Try the SSH agent's keys on the jump host.
    #[serde(default)]
    pub allow_agent: bool,
    /// Try the default key files in `~/.ssh` on the jump host.
    #[serde(default)]
    pub look_for_keys: bool,
    /// Only authenticate by password on the jump host.
    #[serde(default)]
    pub force_password_auth: bool,
    /// Where the jump host connects to, as `[<local-address>:<local-port>:]<remote-address>:<remote-port>`
    /// (`sshproxy_tunnel`); the profile's host and port when unset. The local part is accepted
    /// for compatibility and ignored: x2god opens no local port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<String>,
    /// Use the profile's own credentials (key files, password) for the jump host too
    /// (`sshproxy_reuse_authinfo`).
    #[serde(default)]
    pub reuse_authinfo: bool,
}

impl ProxySettings {
    /// A jump host at `host` with every other value at its default.
    pub fn new(host: impl Into<String>) -> ProxySettings {
        ProxySettings {
            kind: ProxyKind::Ssh,
            host: host.into(),
            port: default_port(),
            user: None,
            key_filename: Vec::new(),
            allow_agent: false,
            look_for_keys: false,
            force_password_auth: false,
            tunnel: None,
            reuse_authinfo: false,
        }
    }

    /// The address the jump host connects to: the tunnel's remote part, else `default`.
    pub fn target(&self, default_host: &str, default_port: u16) -> Result<(String, u16), String> {
        let Some(t) = self.tunnel.as_deref().filter(|t| !t.is_empty()) else {
            return Ok((default_host.to_owned(), default_port));
        };
        let parts: Vec<&str> = t.split(':').collect();
        let (host, port) = match parts.as_slice() {
            [_, _, h, p] | [h, p] => (*h, *p),
            _ => {
                return Err(format!(
                    "sshproxy_tunnel must be <local-address>:<local-port>:<remote-address>:<remote-port>, not {t:?}"
                ));
            }
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("sshproxy_tunnel: {port:?} is not a port"))?;
        let host = if host == "localhost" {
            "127.0.0.1"
        } else {
            host
        };
        Ok((host.to_owned(), port))
    }
}

/// Session defaults of a profile, named after python-x2go's terminal-session parameters. Each is
/// validated when a session starts; `Start` options override them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Desktop name (`XFCE`, `MATE`, …) or a command with arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `desktop`, `application` or `published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<String>,
    /// `WxH`, `fullscreen` or `maximize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry: Option<String>,
    /// `modem`, `isdn`, `adsl`, `wan` or `lan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// NX pack method, e.g. `16m-jpeg-9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// Screen resolution in dots per inch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpi: Option<u32>,
    /// Whether `dpi` applies (python-x2go's and x2goclient's `setdpi`); unset: when `dpi` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setdpi: Option<bool>,
    /// Colour depth of new sessions in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// NX cache type of new sessions (before `-depth_<n>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_type: Option<String>,
    /// Whether the session sees the local monitors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xinerama: Option<bool>,
    /// Whether the local window gets `session_title` (python-x2go's `set_session_title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_session_title: Option<bool>,
    /// The local window's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_title: Option<String>,
    /// Keyboard layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kblayout: Option<String>,
    /// Keyboard type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kbtype: Option<String>,
    /// Keyboard variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kbvariant: Option<String>,
    /// `both`, `server`, `client` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipboard: Option<String>,
    /// The local `nxproxy` binary; found in `PATH` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nxproxy: Option<PathBuf>,
    /// `pulse` (the default) or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_system: Option<String>,
    /// The local sound server over TCP on this port of 127.0.0.1, instead of its socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_port: Option<u16>,
    /// Seconds between session listings when the server-side watcher is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<f64>,
    /// Whether client folders may be shared into sessions (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_share_local_folders: Option<bool>,
    /// Client folders shared when a session starts or resumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub share_local_folders: Vec<PathBuf>,
    /// On resume, share again what was shared when the session was suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_shared_local_folders: Option<bool>,
    /// Whether the session's print jobs come to this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printing: Option<bool>,
    /// `PDFVIEW`, `PDFSAVE`, `PRINT`, `PRINTCMD` or `DIALOG`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_action: Option<String>,
    /// The viewer of `PDFVIEW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdfview_cmd: Option<String>,
    /// The folder of `PDFSAVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_to_folder: Option<PathBuf>,
    /// The local printer of `PRINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
    /// The command line of `PRINTCMD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub print_cmd: Option<String>,
    /// Whether files the session drops into its MIME box come to this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_mimebox: Option<bool>,
    /// The file name extensions the MIME box accepts (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mimebox_extensions: Vec<String>,
    /// `OPEN` or `SAVEAS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mimebox_action: Option<String>,
    /// The folder of the MIME box's `SAVEAS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mimebox_save_to_folder: Option<PathBuf>,
}

impl SessionSettings {
    /// True when nothing is set (then the TOML table is left out).
    pub fn is_empty(&self) -> bool {
        *self == SessionSettings::default()
    }
}

fn default_port() -> u16 {
    22
}

impl ProfileSettings {
    /// Settings for `hostname` with every other value at its default.
    pub fn new(hostname: impl Into<String>) -> ProfileSettings {
        ProfileSettings {
            hostname: hostname.into(),
            port: default_port(),
            username: None,
            key_filename: Vec::new(),
            allow_agent: false,
            look_for_keys: false,
            force_password_auth: false,
            timeout: None,
            add_to_known_hosts: false,
            keepalive_interval: None,
            keepalive_count: None,
            auto_reconnect: None,
            auto_resume: false,
            autoconnect: false,
            forward_sshagent: false,
            unique_hostkey_aliases: false,
            use_ssh_config: None,
            sshproxy: None,
            keyring: Vec::new(),
            session: SessionSettings::default(),
        }
    }
}

/// The most seconds a duration setting takes, in the file as on the bus.
pub const MAX_SECONDS: f64 = 3600.0;

/// A duration setting as a [`Duration`], when it is one: more than 0 and at most
/// [`MAX_SECONDS`] (`Duration::from_secs_f64` panics on what does not fit).
pub fn duration_setting(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds > 0.0 && seconds <= MAX_SECONDS)
        .then(|| Duration::from_secs_f64(seconds))
}

impl ProfileSettings {
    /// Checks the numbers a hand-edited file may hold out of range (the bus checks its own):
    /// the first one that is, named with its value.
    pub fn check_ranges(&self) -> Result<(), String> {
        for (key, value) in [
            ("timeout", self.timeout),
            ("keepalive_interval", self.keepalive_interval),
            ("poll_interval", self.session.poll_interval),
        ] {
            if let Some(t) = value
                && duration_setting(t).is_none()
            {
                return Err(format!(
                    "{key} must be more than 0 and at most {MAX_SECONDS} seconds, not {t}"
                ));
            }
        }
        if let Some(n) = self.keepalive_count
            && !(1..=100).contains(&n)
        {
            return Err(format!("keepalive_count must be 1 to 100, not {n}"));
        }
        Ok(())
    }
}

/// Checks a profile name: what a person can type in a menu, nothing that breaks a file or a log.
pub fn validate_profile_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() {
        return Err("a profile name must not be empty");
    }
    if name.len() > 200 {
        return Err("a profile name must be at most 200 bytes");
    }
    if name.chars().any(char::is_control) {
        return Err("a profile name must not contain control characters");
    }
    if name.chars().any(is_invisible_format) {
        return Err(
            "a profile name must not contain invisible formatting characters (bidi controls, \
             zero-width characters)",
        );
    }
    Ok(())
}

/// Unicode format characters that change how a name reads without being seen: bidirectional
/// embeddings, overrides and isolates (a name in a tray menu or log that shows as another),
/// zero-width spaces and joiners, the byte order mark, and the other invisible `Cf` characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_profile_name("Büro / Office 2").is_ok());
        assert!(validate_profile_name("").is_err());
        assert!(validate_profile_name("  ").is_err());
        assert!(validate_profile_name("a\nb").is_err());
        assert!(validate_profile_name("a\0b").is_err());
        assert!(validate_profile_name(&"x".repeat(201)).is_err());
        for sneaky in [
            "abc\u{202E}gpj.exe",
            "a\u{200B}b",
            "\u{2067}x",
            "a\u{FEFF}",
            "a\u{200E}",
        ] {
            assert!(validate_profile_name(sneaky).is_err(), "{sneaky:?}");
        }
        assert!(validate_profile_name("Büro 1 — ارتباط 東京").is_ok());
    }

    #[test]
    fn proxy_tunnel() {
        let mut p = ProxySettings::new("jump");
        assert_eq!(p.target("srv", 22), Ok(("srv".into(), 22)));
        p.tunnel = Some("localhost:44444:10.0.0.2:2222".into());
        assert_eq!(p.target("srv", 22), Ok(("10.0.0.2".into(), 2222)));
        p.tunnel = Some("localhost:22".into());
        assert_eq!(p.target("srv", 22), Ok(("127.0.0.1".into(), 22)));
        for bad in ["a:b:c", "h:0", "h:x", "1:2:3:4:5"] {
            p.tunnel = Some(bad.into());
            assert!(p.target("srv", 22).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_proxy_kind_is_stored_as_type_only_when_http() {
        let mut p = ProxySettings::new("proxy");
        let text = toml::to_string(&p).unwrap();
        assert!(!text.contains("type"), "{text}");
        // Files written before the kind existed read as SSH jump hosts.
        let back: ProxySettings = toml::from_str(&text).unwrap();
        assert_eq!(back.kind, ProxyKind::Ssh);
        p.kind = ProxyKind::Http;
        let text = toml::to_string(&p).unwrap();
        assert!(text.contains("type = \"http\""), "{text}");
        assert_eq!(toml::from_str::<ProxySettings>(&text).unwrap(), p);
        assert!(toml::from_str::<ProxySettings>("host = \"p\"\ntype = \"socks\"\n").is_err());
        assert_eq!(ProxyKind::parse("HTTP"), Some(ProxyKind::Http));
        assert_eq!(ProxyKind::parse("ssh").map(ProxyKind::as_str), Some("ssh"));
        assert_eq!(ProxyKind::parse("socks5"), None);
    }
}
