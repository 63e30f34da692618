//! The D-Bus contract of x2god, shared by the daemon, `x2god-client` and anyone who talks to
//! `org.x2go.Control1`: bus and interface names, the reversible escaping of profile and session
//! names into object paths, the wire error type, the `#[proxy]` traits and the table of every
//! key the API's `a{sv}` dictionaries take ([`keys`]). The interfaces as the daemon and the
//! agents serve them are in `interfaces/*.xml` beside this crate; tests hold the proxies, the
//! key table and the README to them.
//!
//! This crate depends on nothing of the daemon, so applets can use it without pulling SSH in.

pub mod error;
pub mod interfaces;
pub mod keys;
pub mod names;
pub mod path;
pub mod proxy;
pub mod types;

pub use error::Error;
pub use zbus;
