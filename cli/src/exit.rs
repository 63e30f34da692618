//! Exit codes and the error type every command returns.
//!
//! Scripts branch on the exit code, so each class of failure a person (or a retry loop) would
//! handle differently gets its own: a wrong password is not a dead network.

use std::fmt;

use x2god_proto::Error as Wire;

/// What `x2goctl` exits with. The numbers are part of the interface: never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Any other failure: the server command failed, the daemon is busy, a local I/O error.
    Failure = 1,
    /// The command line or an option value was wrong (also `InvalidArgument` from x2god).
    Usage = 2,
    /// No such profile, session or desktop.
    NotFound = 3,
    /// The server refused every authentication method tried.
    AuthFailed = 4,
    /// The server's host key is unknown or has changed.
    HostKey = 5,
    /// Network trouble: the server cannot be reached, the profile is not connected, a timeout.
    Network = 6,
    /// The server or this x2god lacks the feature.
    NotSupported = 7,
    /// x2god cannot be reached on the session bus.
    NoDaemon = 8,
}

/// The exit codes with their meaning, for `--help` and the man page.
pub const TABLE: &[(Exit, &str)] = &[
    (Exit::Ok, "success"),
    (
        Exit::Failure,
        "any other failure (a server command failed, x2god is busy, local I/O)",
    ),
    (
        Exit::Usage,
        "usage error: bad command line, option key or value (also x2god's InvalidArgument)",
    ),
    (Exit::NotFound, "no such profile, session or desktop"),
    (
        Exit::AuthFailed,
        "authentication failed (wrong password or passphrase, key refused)",
    ),
    (
        Exit::HostKey,
        "the server's host key is unknown (trust it with trust-host-key) or has changed",
    ),
    (
        Exit::Network,
        "network: server unreachable, connection refused, profile not connected, timeout",
    ),
    (
        Exit::NotSupported,
        "not supported by the server or by this version of x2god",
    ),
    (
        Exit::NoDaemon,
        "x2god is not reachable on the D-Bus session bus",
    ),
];

/// `after_long_help` text listing the exit codes.
pub fn help_text() -> String {
    let mut s = String::from("Exit status:\n");
    for (code, what) in TABLE {
        s.push_str(&format!("  {}  {what}\n", *code as u8));
    }
    s
}

/// A failed command: what to tell the person, and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// The error kind (`NotFound`, `AuthFailed`, … as on the bus, or `Usage`, `Io`).
    pub kind: String,
    /// The message, for a person.
    pub message: String,
    /// What to do about it, when there is something obvious.
    pub hint: Option<String>,
}

impl Failure {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Usage,
            kind: "Usage".into(),
            message: message.into(),
            hint: None,
        }
    }

    /// A local failure (exit 1), e.g. reading stdin or writing a file.
    pub fn local(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::Failure,
            kind: "Failed".into(),
            message: message.into(),
            hint: None,
        }
    }

    /// A failure of a given class with a message.
    pub fn new(exit: Exit, kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            kind: kind.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Phrases in x2god's `Failed` messages that mean the network, not something else, failed. The
/// daemon sends unreachable servers as `Failed` (`cannot connect to HOST port N: …`), so the
/// message is the only place the distinction survives.
const NETWORK_PHRASES: &[&str] = &[
    "cannot connect to",
    "cannot resolve host name",
    "connection refused",
    "connection reset",
    "network is unreachable",
    "no route to host",
    "host is unreachable",
    "broken pipe",
];

fn is_network_message(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    NETWORK_PHRASES.iter().any(|p| m.contains(p))
}

/// D-Bus error names that mean x2god is not there to answer.
const NO_DAEMON_NAMES: &[&str] = &[
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.Spawn.ChildExited",
    "org.freedesktop.DBus.Error.Spawn.ExecFailed",
    "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
    "org.freedesktop.DBus.Error.TimedOut",
];

/// The D-Bus error name carried by a zbus error, when it is a remote error.
fn dbus_error_name(e: &zbus::Error) -> Option<String> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.as_str().to_owned()),
        zbus::Error::FDO(fdo) => Some(zbus::DBusError::name(&**fdo).as_str().to_owned()),
        _ => None,
    }
}

/// The message of a zbus error without the error name that zbus prefixes.
fn zbus_message(e: &zbus::Error) -> String {
    match e {
        zbus::Error::MethodError(name, Some(msg), _) => format!("{msg} ({name})"),
        other => other.to_string(),
    }
}

/// Classifies an error of the D-Bus layer itself (no bus, no daemon, old daemon).
pub fn from_zbus(e: &zbus::Error) -> Failure {
    let name = dbus_error_name(e);
    let message = zbus_message(e);
    match name.as_deref() {
        Some(n) if NO_DAEMON_NAMES.contains(&n) => {
            Failure::new(Exit::NoDaemon, "NoDaemon", message).with_hint(
                "is x2god running? start it with `systemctl --user start x2god` or `x2god &`",
            )
        }
        Some("org.freedesktop.DBus.Error.UnknownMethod")
        | Some("org.freedesktop.DBus.Error.UnknownInterface")
        | Some("org.freedesktop.DBus.Error.UnknownProperty") => {
            Failure::new(Exit::NotSupported, "NotSupported", message)
                .with_hint("this x2god is older than x2goctl")
        }
        Some("org.freedesktop.DBus.Error.UnknownObject") => {
            Failure::new(Exit::NotFound, "NotFound", message)
        }
        Some("org.freedesktop.DBus.Error.InvalidArgs") => {
            Failure::new(Exit::Usage, "InvalidArgument", message)
        }
        Some(_) => Failure::new(Exit::Failure, "Failed", message),
        // Not a remote error: the bus itself could not be reached or talked to.
        None => match e {
            zbus::Error::Address(_)
            | zbus::Error::InputOutput(_)
            | zbus::Error::Handshake(_)
            | zbus::Error::Connection(..) => Failure::new(Exit::NoDaemon, "NoBus", message)
                .with_hint("no D-Bus session bus: is DBUS_SESSION_BUS_ADDRESS set?"),
            _ => Failure::new(Exit::Failure, "Failed", message),
        },
    }
}

impl From<Wire> for Failure {
    fn from(e: Wire) -> Failure {
        let kind = e.kind();
        let (exit, message) = match e {
            Wire::ZBus(z) => return from_zbus(&z),
            Wire::NotFound(m) => (Exit::NotFound, m),
            Wire::AuthFailed(m) => (Exit::AuthFailed, m),
            Wire::HostKeyUnknown(m)
            | Wire::HostKeyChanged(m)
            | Wire::HostKeyOtherType(m)
            | Wire::HostKeyRevoked(m)
            | Wire::HostCertInvalid(m) => (Exit::HostKey, m),
            Wire::NotConnected(m) | Wire::Timeout(m) => (Exit::Network, m),
            Wire::NotSupported(m) => (Exit::NotSupported, m),
            Wire::InvalidArgument(m) => (Exit::Usage, m),
            Wire::Failed(m) if is_network_message(&m) => {
                return Failure::new(Exit::Network, "Network", m);
            }
            Wire::Failed(m)
            | Wire::AlreadyExists(m)
            | Wire::ServerError(m)
            | Wire::Busy(m)
            | Wire::DesktopSharingDenied(m)
            | Wire::AccessDenied(m)
            | Wire::Cancelled(m) => (Exit::Failure, m),
        };
        Failure::new(exit, kind, message)
    }
}

impl From<zbus::Error> for Failure {
    fn from(e: zbus::Error) -> Failure {
        // A proto proxy hands x2god's own errors over as zbus method errors when called through
        // a plain zbus proxy; turn those back into their kind first.
        if let zbus::Error::MethodError(name, msg, _) = &e
            && let Some(kind) = name.as_str().strip_prefix("org.x2go.Control1.Error.")
        {
            return from_kind(kind, msg.clone().unwrap_or_default());
        }
        from_zbus(&e)
    }
}

impl From<zbus::fdo::Error> for Failure {
    fn from(e: zbus::fdo::Error) -> Failure {
        Failure::from(zbus::Error::FDO(Box::new(e)))
    }
}

/// A failure for x2god's error kind `kind` (the last element of the error name).
fn from_kind(kind: &str, message: String) -> Failure {
    let wire = match kind {
        "NotSupported" => Wire::NotSupported(message),
        "InvalidArgument" => Wire::InvalidArgument(message),
        "NotFound" => Wire::NotFound(message),
        "AlreadyExists" => Wire::AlreadyExists(message),
        "AuthFailed" => Wire::AuthFailed(message),
        "HostKeyUnknown" => Wire::HostKeyUnknown(message),
        "HostKeyChanged" => Wire::HostKeyChanged(message),
        "HostKeyOtherType" => Wire::HostKeyOtherType(message),
        "HostKeyRevoked" => Wire::HostKeyRevoked(message),
        "HostCertInvalid" => Wire::HostCertInvalid(message),
        "NotConnected" => Wire::NotConnected(message),
        "Timeout" => Wire::Timeout(message),
        "ServerError" => Wire::ServerError(message),
        "Busy" => Wire::Busy(message),
        "DesktopSharingDenied" => Wire::DesktopSharingDenied(message),
        "Cancelled" => Wire::Cancelled(message),
        "AccessDenied" => Wire::AccessDenied(message),
        _ => Wire::Failed(message),
    };
    Failure::from(wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_documented_codes() {
        let cases = [
            (Wire::NotFound("x".into()), Exit::NotFound),
            (Wire::AuthFailed("x".into()), Exit::AuthFailed),
            (Wire::HostKeyUnknown("x".into()), Exit::HostKey),
            (Wire::HostKeyChanged("x".into()), Exit::HostKey),
            (Wire::NotConnected("x".into()), Exit::Network),
            (Wire::Timeout("x".into()), Exit::Network),
            (Wire::NotSupported("x".into()), Exit::NotSupported),
            (Wire::InvalidArgument("x".into()), Exit::Usage),
            (Wire::ServerError("x".into()), Exit::Failure),
            (
                Wire::Failed("cannot connect to 127.0.0.1 port 1: Connection refused".into()),
                Exit::Network,
            ),
            (Wire::Failed("disk full".into()), Exit::Failure),
        ];
        for (e, want) in cases {
            let f = Failure::from(e);
            assert_eq!(f.exit, want, "{}", f.message);
        }
    }

    #[test]
    fn method_error_names_become_kinds() {
        let f = from_kind("HostKeyChanged", "m".into());
        assert_eq!((f.exit, f.kind.as_str()), (Exit::HostKey, "HostKeyChanged"));
        let f = from_kind("Whatever", "m".into());
        assert_eq!(f.exit, Exit::Failure);
    }

    #[test]
    fn codes_are_listed_once_in_order() {
        for (i, (code, _)) in TABLE.iter().enumerate() {
            assert_eq!(*code as usize, i);
        }
        assert!(help_text().contains("  4  authentication failed"));
    }
}
