//! One controller per profile: it owns the profile's SSH connection and runs X2Go commands over
//! it. It knows SSH and X2Go, and nothing of D-Bus: state changes leave as [`ProfileEvent`]s.
//!
//! The parts, each a module with one job; dependencies point down this list only:
//! - [`profile`]: the controller, which owns the parts below and wires them together;
//! - [`watcher`]: follows the server's sessions through a narrow [`watcher::WatchTarget`];
//! - [`lifecycle`]: start, resume, suspend, terminate, dissociate, and the local side
//!   ([`local`]: forward + nxproxy; [`plan`]: validated start and resume requests);
//! - [`apps`], [`server`]: published applications, server queries;
//! - [`shares`]: client folders shared into sessions (reverse sshfs to an embedded SFTP server),
//!   with [`share_forward`] answering the forwarded connections;
//! - [`listing`]: the one way sessions are listed, over [`shared`] listings and the
//!   session [`table`];
//! - [`exec`]: one X2Go command over the connection;
//! - [`connection`]: the SSH connection's state machine, reconnects, host-key probes;
//! - [`spool`]: the local side of printing and the MIME box (folders watched, actions taken);
//! - [`keyring`], [`activity`], [`events`], [`sync`], [`error`]: what the parts share;
//! - [`start_agent`], [`turns`]: x2gostartagent run one at a time per server account and
//!   retried after the server's races.

mod activity;
mod apps;
mod connection;
mod error;
mod events;
mod exec;
pub mod keyring;
mod lifecycle;
mod listing;
mod local;
mod plan;
mod profile;
mod server;
mod share_forward;
mod shared;
mod shares;
mod sound;
pub mod spool;
mod start_agent;
mod sync;
mod table;
mod turns;
mod watcher;
mod window_title;

pub use apps::AppsAnswer;
pub use connection::{ConnectRequest, validate_hostname};
pub use error::Error;
pub use events::{EventMessage, ProfileEvent};
pub use lifecycle::DesktopRequest;
pub use local::reap_orphans;
pub use plan::{ResumePlan, StartPlan, off_workers};
pub use profile::{ProfileController, ProfileSource};
pub use server::DEFAULT_MAXWAIT;
pub use shared::SharedListings;
pub use table::{Change, status_str};
