//! The SSH transport: one persistent, authenticated connection per profile, over which many
//! commands run on their own session channels.
//!
//! This layer knows neither X2Go nor D-Bus. It resolves and connects, checks the server's host
//! key against `known_hosts` files under a [`HostKeyPolicy`], authenticates in the order
//! python-x2go uses ([`AuthParams`]), and runs command strings, returning their bytes
//! ([`Connection::exec`]), or streams a long-running command's output line by line
//! ([`Connection::exec_lines`]), and forwards local TCP ports to the server side
//! ([`Connection::forward_local`]), and asks the server to forward a port of its own back to us
//! ([`Connection::forward_remote`]), whose connections the embedded SFTP server of [`serve_sftp`]
//! can answer within a [`Jail`]. It is built on russh; it never runs the `ssh` binary.
//!
//! A connection may run through a jump host ([`ConnectParams::proxy`], like `ssh -J`) or an
//! HTTP proxy's `CONNECT` tunnel ([`ConnectParams::http_proxy`]), and may
//! forward the local SSH agent ([`ConnectParams::forward_agent`], like `ssh -A`). Missing
//! passwords, passphrases, one-time codes and the trust in unknown host keys can be asked of a
//! person through a [`Prompter`].
//!
//! Secrets (passwords, passphrases) travel as [`Secret`], whose `Debug` and `Display` print
//! `<redacted>`, so that they cannot leak into logs or error messages by accident.

mod auth;
mod ciphers;
pub mod config;
mod connection;
mod error;
mod forward;
mod framing;
mod host_certs;
mod host_key_info;
mod host_keys;
pub mod known_hosts;
mod lines;
mod peer;
mod prompt;
mod remote_forward;
mod secret;
mod share;

pub use auth::AuthParams;
pub use connection::{
    ConnectParams, Connection, ExecOutput, HttpProxyParams, MAX_STDERR, MAX_STDOUT, ProxyParams,
};
pub use error::Error;
pub use forward::LocalForward;
pub use framing::LineFramer;
pub use host_key_info::HostKeyInfo;
pub use host_keys::HostKeyPolicy;
pub use lines::LineStream;
pub use prompt::{Hop, PromptError, PromptHandle, Prompter, SecretKind};
pub use remote_forward::RemoteForward;
pub use secret::Secret;
pub use share::{Jail, ShareKeys, serve_sftp};

#[cfg(test)]
mod lab_tests;
