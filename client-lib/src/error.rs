//! Questions an applet asks about an [`Error`].

use crate::Error;

/// Classifies an [`Error`] the way an applet reacts to it.
///
/// [`Error`] is the wire error of the API (every `org.x2go.Control1.Error.<Kind>` is a variant,
/// D-Bus failures are [`Error::ZBus`]); match on it for the full detail, or use these for the
/// usual decisions:
///
/// ```
/// use x2god_client::{Error, ErrorExt};
/// let e = Error::HostKeyUnknown(
///     "the host key of [h]:2222 is not known: the server offered ssh-ed25519 key \
///      SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
///         .into(),
/// );
/// assert!(e.is_host_key());
/// assert_eq!(e.fingerprint(), Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
/// assert!(!e.is_auth());
/// ```
pub trait ErrorExt {
    /// Authentication failed (`AuthFailed`): ask for a password or another key.
    fn is_auth(&self) -> bool;
    /// The host key is unknown, changed, of another type, revoked or badly certified
    /// (`HostKeyUnknown`, `HostKeyChanged`, `HostKeyOtherType`, `HostKeyRevoked`,
    /// `HostCertInvalid`).
    fn is_host_key(&self) -> bool;
    /// No such profile, session, desktop or command (`NotFound`).
    fn is_not_found(&self) -> bool;
    /// A person declined through the agent (`Cancelled`).
    fn is_cancelled(&self) -> bool;
    /// The profile has no live connection (`NotConnected`).
    fn is_not_connected(&self) -> bool;
    /// x2god is not on the bus (not running, crashed, restarting) or the bus connection broke:
    /// retry once it is back ([`Event::DaemonRestarted`](crate::Event::DaemonRestarted)).
    fn is_daemon_unavailable(&self) -> bool;
    /// The `SHA256:…` fingerprint a host-key error names, to show and pass to
    /// [`Profile::trust_host_key`](crate::Profile::trust_host_key).
    fn fingerprint(&self) -> Option<&str>;
    /// The human-readable message, without the D-Bus error name.
    fn message(&self) -> String;
}

impl ErrorExt for Error {
    fn is_auth(&self) -> bool {
        matches!(self, Error::AuthFailed(_))
    }

    fn is_host_key(&self) -> bool {
        matches!(
            self,
            Error::HostKeyUnknown(_)
                | Error::HostKeyChanged(_)
                | Error::HostKeyOtherType(_)
                | Error::HostKeyRevoked(_)
                | Error::HostCertInvalid(_)
        )
    }

    fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }

    fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled(_))
    }

    fn is_not_connected(&self) -> bool {
        matches!(self, Error::NotConnected(_))
    }

    fn is_daemon_unavailable(&self) -> bool {
        let Error::ZBus(e) = self else { return false };
        match e {
            zbus::Error::InputOutput(_) => true,
            zbus::Error::MethodError(name, _, _) => matches!(
                name.as_str(),
                "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner"
                    | "org.freedesktop.DBus.Error.NoReply"
                    | "org.freedesktop.DBus.Error.Disconnected"
            ),
            zbus::Error::FDO(f) => matches!(
                **f,
                zbus::fdo::Error::ServiceUnknown(_)
                    | zbus::fdo::Error::NameHasNoOwner(_)
                    | zbus::fdo::Error::NoReply(_)
                    | zbus::fdo::Error::Disconnected(_)
            ),
            _ => false,
        }
    }

    fn fingerprint(&self) -> Option<&str> {
        let (Error::HostKeyUnknown(m)
        | Error::HostKeyChanged(m)
        | Error::HostKeyOtherType(m)
        | Error::HostKeyRevoked(m)
        | Error::HostCertInvalid(m)) = self
        else {
            return None;
        };
        let start = m.find("SHA256:")?;
        let rest = m.get(start..)?;
        // Unpadded base64 after the prefix; anything else (a comma, a space) ends it.
        let len = "SHA256:".len()
            + rest
                .get("SHA256:".len()..)?
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/'))
                .unwrap_or(rest.len() - "SHA256:".len());
        rest.get(..len)
    }

    fn message(&self) -> String {
        match self {
            Error::ZBus(zbus::Error::MethodError(_, Some(m), _)) => m.clone(),
            Error::ZBus(e) => e.to_string(),
            Error::NotSupported(m)
            | Error::InvalidArgument(m)
            | Error::NotFound(m)
            | Error::AlreadyExists(m)
            | Error::AuthFailed(m)
            | Error::HostKeyUnknown(m)
            | Error::HostKeyChanged(m)
            | Error::HostKeyOtherType(m)
            | Error::HostKeyRevoked(m)
            | Error::HostCertInvalid(m)
            | Error::NotConnected(m)
            | Error::Timeout(m)
            | Error::ServerError(m)
            | Error::Busy(m)
            | Error::DesktopSharingDenied(m)
            | Error::Cancelled(m)
            | Error::AccessDenied(m)
            | Error::Failed(m) => m.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints() {
        let fp = "SHA256:abc+/9";
        let e = Error::HostKeyChanged(format!("offered ssh-rsa key {fp}, but x records"));
        assert_eq!(e.fingerprint(), Some(fp));
        assert_eq!(Error::NotFound(fp.into()).fingerprint(), None);
        assert_eq!(Error::HostKeyUnknown("no print".into()).fingerprint(), None);
    }

    #[test]
    fn kinds() {
        assert!(Error::AuthFailed(String::new()).is_auth());
        assert!(Error::Cancelled(String::new()).is_cancelled());
        let gone = Error::from(zbus::Error::MethodError(
            zbus::names::OwnedErrorName::try_from("org.freedesktop.DBus.Error.ServiceUnknown")
                .unwrap(),
            None,
            zbus::message::Message::method_call("/", "Ping")
                .build(&())
                .unwrap(),
        ));
        assert!(gone.is_daemon_unavailable(), "{gone:?}");
        assert_eq!(Error::Busy("later".into()).message(), "later");
    }
}
