//! The stored settings of one profile. Secrets are never part of them.

use std::path::PathBuf;

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
    /// Defaults for sessions started from this profile.
    #[serde(default, skip_serializing_if = "SessionSettings::is_empty")]
    pub session: SessionSettings,
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
    /// Seconds between session listings when the server-side watcher is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval: Option<f64>,
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
            session: SessionSettings::default(),
        }
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
    Ok(())
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
    }
}
