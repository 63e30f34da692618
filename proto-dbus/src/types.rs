//! Values shared by daemon and clients: the states of connections and sessions. The keys of
//! option dictionaries are in [`crate::keys`].

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
