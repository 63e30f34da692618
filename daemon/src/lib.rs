//! x2god: a per-user daemon that keeps persistent SSH control sessions to X2Go servers, one per
//! named profile, and offers them on the D-Bus session bus as `org.x2go.Control1`.
//!
//! The layers, from the wire up:
//! - [`ssh`]: connections, host keys, authentication and command channels (russh); knows
//!   neither X2Go nor D-Bus.
//! - [`x2go`]: validation, remote command building and server output parsing; runs nothing.
//! - [`profiles`]: the persistent profile store.
//! - [`control`]: one controller per profile, tying a connection to X2Go commands.
//! - [`registry`]: the set of profiles (create, rename, remove, settings checks, secrets,
//!   x2goclient's profiles), knowing nothing of D-Bus.
//! - [`sound`]: the relay between a session's PulseAudio clients and the local sound server,
//!   which checks their cookie; knows neither SSH nor X2Go.
//! - [`bus`]: the D-Bus objects, the only place that knows zbus and maps errors to wire names.

pub mod bus;
pub mod config;
pub(crate) mod control;
pub mod logging;
pub mod profiles;
pub(crate) mod registry;
pub(crate) mod service;
pub mod sound;
pub(crate) mod ssh;
pub mod x2go;

/// How command output is cut into lines whatever the chunks it arrives in; public for the
/// fuzz targets only (the rest of the SSH layer is the crate's own).
#[doc(hidden)]
pub use ssh::LineFramer;
/// The OpenSSH `known_hosts` line format (parse, match, write), public for the fuzz target.
pub use ssh::known_hosts;

// The workspace's module graph and file sizes, checked.
#[cfg(test)]
mod layering;
