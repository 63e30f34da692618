//! One controller per profile: it owns the profile's SSH connection and runs X2Go commands over
//! it. It knows SSH and X2Go, and nothing of D-Bus: state changes leave as [`ProfileEvent`]s.

mod apps;
mod error;
pub mod keyring;
mod lifecycle;
mod local;
mod plan;
mod profile;
mod server;
mod shared;
mod table;
mod watcher;

pub use apps::AppsAnswer;
pub use error::Error;
pub use local::{LocalSpec, reap_orphans};
pub use plan::{ResumePlan, StartPlan};
pub use profile::{
    ConnectRequest, EventMessage, ProfileController, ProfileEvent, ProfileSource, validate_hostname,
};
pub use server::DEFAULT_MAXWAIT;
pub use shared::SharedListings;
pub use table::{Cause, Change, status_str};
