//! The error of the parsers of server output (`start`, `server_info`) when it does not fit.

use super::validate::preview;

/// Probe output did not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected {what} output {preview}")]
pub struct UnexpectedOutput {
    /// Which probe.
    pub what: &'static str,
    /// Short escaped preview of the output.
    pub preview: String,
}

impl UnexpectedOutput {
    /// The error for `output` of `what`, with a short escaped preview of it.
    pub(super) fn new(what: &'static str, output: &str) -> Self {
        Self {
            what,
            preview: preview(output),
        }
    }
}
