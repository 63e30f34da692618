//! Errors of the profile set, before they are mapped to D-Bus error names.

use crate::{control, profiles};

/// What went wrong adding, changing or removing a profile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name or setting was refused before anything changed.
    #[error("{0}")]
    InvalidArgument(String),
    /// The new name is taken.
    #[error("a profile named {0:?} exists already")]
    AlreadyExists(String),
    /// No profile of that name.
    #[error("no profile named {0:?}")]
    NotFound(String),
    /// The profile belongs to x2goclient's file, which x2god only reads.
    #[error(
        "profile {0:?} comes from ~/.x2goclient/sessions, which x2god only reads; change it in x2goclient, or copy its GetSettings into CreateProfile"
    )]
    ReadOnly(String),
    /// Saving the profile file failed; nothing changed.
    #[error(transparent)]
    Store(#[from] profiles::StoreError),
    /// Putting the profile on the bus, or taking it off, failed.
    #[error("{0}")]
    Publish(String),
    /// A controller refused (a setting, a keyring operation).
    #[error(transparent)]
    Control(#[from] control::Error),
}
