//! The errors x2god returns on the bus, named `org.x2go.Control1.Error.<Kind>`.
//!
//! The same type serves both sides: the daemon returns it from its methods, and proxies built
//! from [`crate::proxy`] turn a received error with one of these names back into the variant,
//! so a client can `match` on `Error::HostKeyUnknown(..)`.

/// A D-Bus error of the x2god API. Every message is meant for a person and never holds a secret.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.x2go.Control1.Error")]
pub enum Error {
    /// A transport or protocol error of D-Bus itself.
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The method exists but is not implemented yet, or the server lacks the feature.
    NotSupported(String),
    /// An argument was refused before anything ran (bad name, unknown option key, wrong type).
    InvalidArgument(String),
    /// No such profile, session or other object.
    NotFound(String),
    /// A profile of that name exists already.
    AlreadyExists(String),
    /// The server refused every authentication method that was tried.
    AuthFailed(String),
    /// The server offered a host key that is not known; the message names type and fingerprint.
    HostKeyUnknown(String),
    /// The server offered a key that differs from the known one. Never learned automatically.
    HostKeyChanged(String),
    /// The host is known only by keys of other types than the one offered (e.g. known by its
    /// RSA key, offering only ed25519). Never learned automatically.
    HostKeyOtherType(String),
    /// The offered host key, or the CA that signed its certificate, is marked `@revoked`.
    HostKeyRevoked(String),
    /// A host certificate failed its checks (CA, principal, validity) and the plain key is not
    /// known. Never learned automatically.
    HostCertInvalid(String),
    /// The profile has no live SSH connection.
    NotConnected(String),
    /// An operation did not finish in time.
    Timeout(String),
    /// A server command failed; the message carries its exit status and standard error.
    ServerError(String),
    /// Another operation on the same object is in progress.
    Busy(String),
    /// The owner of a desktop refused to share it.
    DesktopSharingDenied(String),
    /// A person (through the registered agent) declined to answer a prompt or to trust a key.
    Cancelled(String),
    /// The caller's bus connection belongs to another user than the daemon's; nothing ran.
    AccessDenied(String),
    /// Anything else (local I/O, network errors).
    Failed(String),
}

impl Error {
    /// The short kind name (`"AuthFailed"`, …), the last element of the D-Bus error name.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::ZBus(_) => "ZBus",
            Error::NotSupported(_) => "NotSupported",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::NotFound(_) => "NotFound",
            Error::AlreadyExists(_) => "AlreadyExists",
            Error::AuthFailed(_) => "AuthFailed",
            Error::HostKeyUnknown(_) => "HostKeyUnknown",
            Error::HostKeyChanged(_) => "HostKeyChanged",
            Error::HostKeyOtherType(_) => "HostKeyOtherType",
            Error::HostKeyRevoked(_) => "HostKeyRevoked",
            Error::HostCertInvalid(_) => "HostCertInvalid",
            Error::NotConnected(_) => "NotConnected",
            Error::Timeout(_) => "Timeout",
            Error::ServerError(_) => "ServerError",
            Error::Busy(_) => "Busy",
            Error::DesktopSharingDenied(_) => "DesktopSharingDenied",
            Error::Cancelled(_) => "Cancelled",
            Error::AccessDenied(_) => "AccessDenied",
            Error::Failed(_) => "Failed",
        }
    }
}
