//! The bus edge: internal errors become `org.x2go.Control1.Error.<Kind>`.

use x2god_proto::Error as Wire;

use crate::control::Error;
use crate::ssh;

impl From<ssh::Error> for Wire {
    fn from(e: ssh::Error) -> Wire {
        let msg = e.to_string();
        match e {
            ssh::Error::AuthFailed { .. } | ssh::Error::KeyFile { .. } => Wire::AuthFailed(msg),
            ssh::Error::HostKeyUnknown { .. } => Wire::HostKeyUnknown(msg),
            ssh::Error::HostKeyChanged { .. } | ssh::Error::HostKeyRevoked { .. } => {
                Wire::HostKeyChanged(msg)
            }
            ssh::Error::FingerprintMismatch { .. } => Wire::InvalidArgument(msg),
            ssh::Error::Timeout(_) => Wire::Timeout(msg),
            ssh::Error::Disconnected => Wire::NotConnected(msg),
            _ => Wire::Failed(msg),
        }
    }
}

impl From<Error> for Wire {
    fn from(e: Error) -> Wire {
        let msg = e.to_string();
        match e {
            Error::InvalidArgument(_) | Error::Settings(_) => Wire::InvalidArgument(msg),
            Error::NotConnected(_) => Wire::NotConnected(msg),
            Error::NotFound(_) => Wire::NotFound(msg),
            Error::NotSupported(_) => Wire::NotSupported(msg),
            Error::Ssh(e) => e.into(),
            Error::Server { .. } | Error::Protocol { .. } => Wire::ServerError(msg),
            Error::Store(_) => Wire::Failed(msg),
        }
    }
}
