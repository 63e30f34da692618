//! Typed async client for x2god, the X2Go control daemon on the D-Bus session bus
//! (`org.x2go.Control1`), for panel applets, scripts and tests.
//!
//! - [`Client`]: the connection; creates, finds and removes profiles, subscribes to
//!   [`Event`]s, registers an [`Agent`].
//! - [`Profile`]: one SSH control connection to an X2Go server: connect, list, start, resume,
//!   suspend, terminate sessions, share desktops, published applications, server queries.
//! - [`SessionHandle`]: one session object of the daemon (state, local display, lifecycle).
//! - [`Options`]: the `a{sv}` dictionaries of settings and options; [`keys`] has every key,
//!   its type and the calls that take it.
//! - [`Error`]: the daemon's typed errors (`HostKeyUnknown`, `AuthFailed`, `NotFound` …),
//!   with [`ErrorExt`] for the usual questions.
//!
//! It needs a Tokio runtime (zbus is built for Tokio here).
//!
//! # Profiles and sessions
//!
//! ```no_run
//! # async fn demo() -> Result<(), x2god_client::Error> {
//! use x2god_client::{Client, ErrorExt, Options};
//! let client = Client::session().await?;
//! let profile = client
//!     .create_profile("office", Options::new().set("hostname", "x2go.example.org").set("port", 22u16))
//!     .await?;
//! match profile.connect(Options::new().set("allow_agent", true)).await {
//!     Ok(()) => {}
//!     Err(e) if e.is_host_key() => {
//!         // Show e.fingerprint() to the person; if they confirm:
//!         profile.trust_host_key(e.fingerprint().unwrap_or_default()).await?;
//!         profile.connect(Options::new()).await?;
//!     }
//!     Err(e) => return Err(e),
//! }
//! for s in profile.list_sessions().await? {
//!     println!("{} {}", s.name, s.status);
//! }
//! let session = profile.start(Options::new().set("cmd", "XFCE")).await?;
//! session.suspend().await?;
//! # Ok(()) }
//! ```
//!
//! # Events
//!
//! One stream covers every profile, present and future, and survives daemon restarts:
//!
//! ```no_run
//! # async fn demo() -> Result<(), x2god_client::Error> {
//! use futures_util::StreamExt;
//! use x2god_client::{Client, Event};
//! let client = Client::session().await?;
//! let mut events = client.events_with_snapshot().await?;
//! while let Some(event) = events.next().await {
//!     match event {
//!         Event::ConnectionStateChanged { profile, state, reason } => {
//!             println!("{}: {state} ({reason})", profile.name)
//!         }
//!         Event::SessionAdded { profile, session, state, .. } => {
//!             println!("{}: new session {} ({state})", profile.name, session.name)
//!         }
//!         Event::DaemonLost => println!("x2god went away"),
//!         other => println!("{other}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! `examples/watch.rs` is a complete watcher.

mod agent;
mod client;
mod error;
mod events;
mod options;
mod profile;
mod session;
#[cfg(test)]
mod test_support;

pub use agent::{
    AGENT_PATH, Agent, AgentGuard, Declined, FnAgent, HostKeyRequest, SecretKind, SecretRequest,
};
pub use client::Client;
pub use error::ErrorExt;
pub use events::{Cause, Event, EventStream};
pub use options::Options;
pub use profile::{Desktop, Profile, ProfileId, ProfileInfo, PublishedApp, PublishedApplications};
pub use session::{Session, SessionDetails, SessionHandle, SessionId, SessionState};
pub use x2god_proto::keys;
pub use x2god_proto::proxy::{ManagerProxy, ProfileProxy, SessionProxy};
pub use x2god_proto::types::ConnectionState;
pub use x2god_proto::{self as proto, Error};
pub use zbus;
