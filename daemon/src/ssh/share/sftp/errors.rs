//! How a failed request is told to the client: the one error type of the SFTP server and its
//! mapping to `SSH_FXP_STATUS` codes. Kept apart so that every other part of the server can
//! fail the same way without knowing the reply format.

use russh_sftp::{protocol::StatusCode, server::StatusReply};
use rustix::io::Errno;

/// A failed request: becomes the `SSH_FXP_STATUS` reply.
#[derive(Debug)]
pub(in super::super) enum Error {
    /// A system call failed; mapped to the closest SFTP status.
    Os(Errno),
    /// A status of our own with a fixed message (empty: the code's default text).
    Status(StatusCode, &'static str),
}

impl From<Errno> for Error {
    fn from(errno: Errno) -> Error {
        Error::Os(errno)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        match Errno::from_io_error(&e) {
            Some(errno) => Error::Os(errno),
            None => Error::Status(StatusCode::Failure, "input/output error"),
        }
    }
}

impl From<Error> for StatusReply {
    fn from(e: Error) -> StatusReply {
        match e {
            Error::Os(Errno::NOENT) => StatusReply::new(StatusCode::NoSuchFile),
            // EXDEV and ELOOP are how openat2 reports an attempted escape from the root.
            Error::Os(Errno::ACCESS | Errno::PERM | Errno::XDEV | Errno::LOOP) => {
                StatusReply::new(StatusCode::PermissionDenied)
            }
            // File-system messages name no secrets; they help the person reading sshfs's log.
            Error::Os(errno) => StatusCode::Failure.with_message(errno.to_string()),
            Error::Status(code, "") => StatusReply::new(code),
            Error::Status(code, message) => code.with_message(message),
        }
    }
}

/// The refusal of anything outside the shared folders or forbidden under a read-only root:
/// the same EACCES the kernel gives, so that both show to the client as "permission denied".
pub(super) fn denied() -> Error {
    Error::Os(Errno::ACCESS)
}

/// A handle the session does not know, or of the wrong kind (a directory read as a file).
pub(super) fn bad_handle() -> Error {
    Error::Status(StatusCode::Failure, "invalid handle")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_errors() {
        let code = |e: Error| StatusReply::from(e).status_code;
        assert_eq!(code(Error::Os(Errno::NOENT)), StatusCode::NoSuchFile);
        for errno in [Errno::ACCESS, Errno::PERM, Errno::XDEV, Errno::LOOP] {
            assert_eq!(code(Error::Os(errno)), StatusCode::PermissionDenied);
        }
        let reply = StatusReply::from(Error::Os(Errno::NOTEMPTY));
        assert_eq!(reply.status_code, StatusCode::Failure);
        assert!(reply.error_message.unwrap().contains("not empty"));
    }
}
