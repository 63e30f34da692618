//! Sound for X2Go sessions: the relay between the PulseAudio client of a session on the server
//! and the user's local sound server.
//!
//! The server's pulse clients connect to the session's sound port on the server's loopback,
//! which the profile's connection forwards to us; each such connection is relayed to the local
//! native socket ([`LocalServer`]). Any user on the server can connect to that port, and the
//! local sound server lets in a relay running as the desktop user without looking at the
//! cookie, so the relay checks it itself: the first packet must be `AUTH` with the cookie
//! uploaded for this session, else the connection is dropped before anything local is touched
//! ([`relay`]). This module knows neither SSH nor X2Go: it relays any byte stream.

mod cookie;
pub mod native;
mod relay;
mod server;

pub use cookie::Cookie;
pub use relay::{RelayError, relay};
pub use server::{LocalServer, local_cookie};
