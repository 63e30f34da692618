//! Values shared by daemon and clients: connection states and the keys of option dictionaries.

use serde::{Deserialize, Serialize};

/// Connection state of a profile, the `State` property of `org.x2go.Control1.Profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, zbus::Type)]
#[serde(rename_all = "kebab-case")]
#[zbus(signature = "s")]
pub enum ConnectionState {
    /// No SSH connection, and none wanted.
    Disconnected,
    /// Connecting or authenticating.
    Connecting,
    /// Authenticated; server commands can run.
    Connected,
    /// The connection dropped without being asked to.
    Lost,
}

impl ConnectionState {
    /// The string used on the bus.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Lost => "lost",
        }
    }
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a remote session, as `Profile.SessionState` and the session signals say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Running (`R` in listings).
    Running,
    /// Suspended (`S`): no client shows it; it can be resumed.
    Suspended,
    /// Seen by the daemon and gone now (only `Profile.SessionState` says so).
    Terminated,
    /// Never seen, or a state this version does not know.
    Unknown,
}

impl SessionState {
    /// The string used on the bus.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Running => "running",
            SessionState::Suspended => "suspended",
            SessionState::Terminated => "terminated",
            SessionState::Unknown => "unknown",
        }
    }

    /// Reads a bus string (`running`, `suspended`, …); anything else is `Unknown`.
    pub fn parse(s: &str) -> SessionState {
        match s {
            "running" => SessionState::Running,
            "suspended" => SessionState::Suspended,
            "terminated" => SessionState::Terminated,
            _ => SessionState::Unknown,
        }
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Keys of the `settings` dictionary of `CreateProfile`, kept by the profile store.
/// They are python-x2go's `connect()` parameter names.
pub mod setting {
    /// Server host name or address (`s`).
    pub const HOSTNAME: &str = "hostname";
    /// SSH port (any integer type).
    pub const PORT: &str = "port";
    /// Remote user name (`s`); defaults to the local user.
    pub const USERNAME: &str = "username";
    /// Private key file(s) (`s` or `as`).
    pub const KEY_FILENAME: &str = "key_filename";
    /// Try keys held by the SSH agent (`b`).
    pub const ALLOW_AGENT: &str = "allow_agent";
    /// Try the default key files in `~/.ssh` (`b`).
    pub const LOOK_FOR_KEYS: &str = "look_for_keys";
    /// Use only password authentication (`b`).
    pub const FORCE_PASSWORD_AUTH: &str = "force_password_auth";
    /// TCP connect and authentication timeout in seconds (integer or `d`).
    pub const TIMEOUT: &str = "timeout";
    /// Learn an unknown host key instead of refusing it (`b`).
    pub const ADD_TO_KNOWN_HOSTS: &str = "add_to_known_hosts";
}

/// Keys of the `options` dictionary of `Profile.Connect` that never persist.
pub mod connect_option {
    /// Password for password authentication, or to unlock a key when no passphrase is given.
    pub const PASSWORD: &str = "password";
    /// Passphrase of an encrypted private key.
    pub const PASSPHRASE: &str = "passphrase";
}
