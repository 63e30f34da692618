//! The bus edge: internal errors become `org.x2go.Control1.Error.<Kind>`.

use x2god_proto::Error as Wire;

use crate::control::Error;
use crate::{registry, ssh};

impl From<ssh::Error> for Wire {
    fn from(e: ssh::Error) -> Wire {
        // A jump host's failure keeps its kind (an unknown key is HostKeyUnknown on either
        // hop); the message says which hop.
        let msg = e.to_string();
        match e.innermost() {
            ssh::Error::AuthFailed { .. }
            | ssh::Error::KeyFile { .. }
            | ssh::Error::HttpProxyAuth { .. } => Wire::AuthFailed(msg),
            ssh::Error::HostKeyUnknown { .. } => Wire::HostKeyUnknown(msg),
            ssh::Error::HostKeyChanged { .. } => Wire::HostKeyChanged(msg),
            ssh::Error::HostKeyRevoked { .. } => Wire::HostKeyRevoked(msg),
            ssh::Error::HostKeyOtherType { .. } => Wire::HostKeyOtherType(msg),
            ssh::Error::HostCertInvalid { .. } => Wire::HostCertInvalid(msg),
            ssh::Error::FingerprintMismatch { .. } | ssh::Error::InvalidParams(_) => {
                Wire::InvalidArgument(msg)
            }
            ssh::Error::Cancelled(_) => Wire::Cancelled(msg),
            ssh::Error::Timeout(_) => Wire::Timeout(msg),
            ssh::Error::Disconnected => Wire::NotConnected(msg),
            ssh::Error::OutputTooLarge { .. } => Wire::ServerError(msg),
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
            Error::Store(_) | Error::Local(_) => Wire::Failed(msg),
            Error::Busy(_) => Wire::Busy(msg),
            Error::DesktopSharingDenied(_) => Wire::DesktopSharingDenied(msg),
            Error::Step { source, .. } => match Wire::from(*source) {
                // Keep the kind of the inner error, with the step in the message.
                Wire::ZBus(e) => Wire::ZBus(e),
                inner => with_message(inner, msg),
            },
        }
    }
}

impl From<registry::Error> for Wire {
    fn from(e: registry::Error) -> Wire {
        let msg = e.to_string();
        match e {
            registry::Error::InvalidArgument(_) => Wire::InvalidArgument(msg),
            registry::Error::AlreadyExists(_) => Wire::AlreadyExists(msg),
            registry::Error::NotFound(_) => Wire::NotFound(msg),
            registry::Error::ReadOnly(_) => Wire::NotSupported(msg),
            registry::Error::Store(_) | registry::Error::Publish(_) => Wire::Failed(msg),
            registry::Error::Control(e) => e.into(),
        }
    }
}

/// `kind` with `msg` as its message.
fn with_message(kind: Wire, msg: String) -> Wire {
    match kind {
        Wire::NotSupported(_) => Wire::NotSupported(msg),
        Wire::InvalidArgument(_) => Wire::InvalidArgument(msg),
        Wire::NotFound(_) => Wire::NotFound(msg),
        Wire::AlreadyExists(_) => Wire::AlreadyExists(msg),
        Wire::AuthFailed(_) => Wire::AuthFailed(msg),
        Wire::HostKeyUnknown(_) => Wire::HostKeyUnknown(msg),
        Wire::HostKeyChanged(_) => Wire::HostKeyChanged(msg),
        Wire::HostKeyOtherType(_) => Wire::HostKeyOtherType(msg),
        Wire::HostKeyRevoked(_) => Wire::HostKeyRevoked(msg),
        Wire::HostCertInvalid(_) => Wire::HostCertInvalid(msg),
        Wire::NotConnected(_) => Wire::NotConnected(msg),
        Wire::Timeout(_) => Wire::Timeout(msg),
        Wire::ServerError(_) => Wire::ServerError(msg),
        Wire::Busy(_) => Wire::Busy(msg),
        Wire::DesktopSharingDenied(_) => Wire::DesktopSharingDenied(msg),
        Wire::Cancelled(_) => Wire::Cancelled(msg),
        Wire::AccessDenied(_) => Wire::AccessDenied(msg),
        Wire::Failed(_) | Wire::ZBus(_) => Wire::Failed(msg),
    }
}
