//! The D-Bus contract of x2god, shared by the daemon, `x2god-client` and anyone who talks to
//! `org.x2go.Control1`: bus and interface names, the reversible escaping of profile and session
//! names into object paths, the wire error type and the `#[proxy]` traits.
//!
//! This crate depends on nothing of the daemon, so applets can use it without pulling SSH in.

pub mod error;
pub mod names;
pub mod path;
pub mod proxy;
pub mod types;

pub use error::Error;
pub use zbus;
