//! One controller per profile: it owns the profile's SSH connection and runs X2Go commands over
//! it. It knows SSH and X2Go, and nothing of D-Bus: state changes leave as [`ProfileEvent`]s.

mod error;
mod profile;

pub use error::Error;
pub use profile::{ConnectRequest, EventMessage, ProfileController, ProfileEvent, SessionState};
