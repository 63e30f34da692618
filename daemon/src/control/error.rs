//! Errors of profile operations, before they are mapped to D-Bus error names.

use crate::{ssh, x2go};

/// What went wrong in a profile operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller-supplied value was refused before anything ran.
    #[error("{0}")]
    InvalidArgument(String),
    /// The profile has no live connection.
    #[error("profile {0:?} is not connected")]
    NotConnected(String),
    /// No such session, profile or object.
    #[error("{0}")]
    NotFound(String),
    /// The operation is not implemented or the server cannot do it.
    #[error("{0}")]
    NotSupported(String),
    /// The SSH layer failed (auth, host key, network, timeout).
    #[error(transparent)]
    Ssh(#[from] ssh::Error),
    /// A server command failed.
    #[error("{command} failed on the server{}: {stderr}", status.map(|s| format!(" (exit status {s})")).unwrap_or_default())]
    Server {
        /// The X2Go command's name.
        command: String,
        /// Its exit status, when the server sent one.
        status: Option<u32>,
        /// Its standard error, trimmed and shortened.
        stderr: String,
    },
    /// The server's output did not have the expected shape.
    #[error("unexpected output from {command}: {reason}")]
    Protocol {
        /// The X2Go command's name.
        command: String,
        /// What was wrong.
        reason: String,
    },
    /// The local side (nxproxy, directories) failed.
    #[error("{0}")]
    Local(String),
    /// A step of a multi-step operation failed; the message names the step.
    #[error("{step} failed: {source}")]
    Step {
        /// The step, e.g. `x2gostartagent`.
        step: &'static str,
        /// What went wrong there.
        #[source]
        source: Box<Error>,
    },
    /// The desktop's owner refused to share it.
    #[error("{0}")]
    DesktopSharingDenied(String),
    /// Another operation on the same session is in progress.
    #[error("{0}")]
    Busy(String),
    /// Invalid profile settings.
    #[error("{0}")]
    Settings(String),
    /// Saving the profiles failed.
    #[error(transparent)]
    Store(#[from] crate::profiles::StoreError),
}

impl Error {
    /// Wraps `self` as the failure of `step`.
    pub fn at(self, step: &'static str) -> Error {
        match self {
            // Refusals before anything ran keep their plain message.
            e @ (Error::InvalidArgument(_) | Error::NotConnected(_) | Error::Step { .. }) => e,
            e => Error::Step {
                step,
                source: Box::new(e),
            },
        }
    }
}

impl From<x2go::validate::InvalidArgument> for Error {
    fn from(e: x2go::validate::InvalidArgument) -> Self {
        Error::InvalidArgument(e.to_string())
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, for values quoted in messages.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncation() {
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
