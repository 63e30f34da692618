//! The record of one authentication: what was tried, and what the server still accepts.

use russh::MethodKind;
use russh::client::AuthResult;

use crate::ssh::error::Error;

/// The attempts so far, for the error message, and whether the server saw any of them.
pub(super) struct Attempts {
    /// One entry per method, e.g. `publickey (id_ed25519)`.
    pub(super) tried: Vec<String>,
    /// Whether at least one request reached the server. When none did, the local problem
    /// (unreadable key file, agent unavailable) is the error to report.
    pub(super) reached_server: bool,
    /// The first local problem, reported when nothing reached the server.
    pub(super) local_problem: Option<Error>,
    /// The methods the server said it would still accept after the last failure.
    pub(super) remaining: Option<Vec<MethodKind>>,
}

impl Attempts {
    pub(super) fn note(&mut self, what: String) {
        self.tried.push(what);
    }

    pub(super) fn local(&mut self, what: String, problem: Error) {
        self.tried.push(what);
        if self.local_problem.is_none() {
            self.local_problem = Some(problem);
        }
    }

    /// Records the server's answer; `true` on success.
    pub(super) fn result(&mut self, result: AuthResult) -> bool {
        self.reached_server = true;
        match result {
            AuthResult::Success => true,
            AuthResult::Failure {
                remaining_methods,
                partial_success,
            } => {
                if partial_success {
                    tracing::debug!("partial authentication success, server wants more");
                }
                self.remaining = Some(remaining_methods.iter().copied().collect());
                false
            }
        }
    }

    pub(super) fn server_allows(&self, method: MethodKind) -> bool {
        self.remaining.as_ref().is_none_or(|m| m.contains(&method))
    }
}
