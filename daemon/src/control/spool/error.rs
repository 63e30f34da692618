//! Errors of the spool watchers and the launcher: what the caller did wrong or what the local
//! system refused. What the *server* did wrong is never an error here: a hostile or broken job
//! is refused, logged and removed (see [`super::folder::Refusal`]), and the watcher goes on.

use std::io;
use std::path::PathBuf;

/// Why a queue could not start, a setting was refused or a program could not be launched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A folder could not be created or opened.
    #[error("cannot use folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The folder could not be watched (inotify).
    #[error("cannot watch {path}: {source}")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A print or MIME box setting was refused (an unknown action name, a command line that
    /// does not split into words).
    #[error("{0}")]
    Setting(String),
    /// A program could not be started.
    #[error("cannot start {program}: {source}")]
    Launch {
        /// The program (never its arguments, which may carry anything).
        program: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}
