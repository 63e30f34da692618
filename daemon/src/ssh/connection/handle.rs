//! The connection itself, shared by all its clones: its russh handle, its channel slots, whom
//! and where it is connected to, and whether it is still alive.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::Disconnect;
use russh::client::Handle;
use tokio::sync::{Semaphore, watch};

use crate::ssh::error::Error;
use crate::ssh::host_key_info::HostKeyInfo;

use super::handshake::ClientHandler;

/// How long [`Connection::disconnect`] waits for the server to acknowledge.
const DISCONNECT_GRACE: Duration = Duration::from_secs(2);

/// An authenticated SSH connection. Cheap to clone: all clones share one connection.
#[derive(Clone)]
pub struct Connection {
    pub(in crate::ssh) inner: Arc<Inner>,
}

pub(in crate::ssh) struct Inner {
    pub(in crate::ssh) handle: Handle<ClientHandler>,
    /// One permit per session channel that may be open at once: [`Connection::exec`] holds
    /// one while its command runs, a [`LineStream`] for its whole life.
    /// Forwarding channels (`direct-tcpip`) take none: sshd's `MaxSessions` counts only
    /// session channels.
    ///
    /// [`LineStream`]: super::super::LineStream
    pub(in crate::ssh) slots: Arc<Semaphore>,
    pub(super) username: String,
    pub(super) peer_addr: SocketAddr,
    pub(super) host_key: HostKeyInfo,
    /// Becomes `true` (or its sender is dropped) when the session task has ended, or the
    /// jump host's connection has.
    pub(in crate::ssh) closed: watch::Receiver<bool>,
    /// The connection to the jump host this one runs through; it lives as long as this one.
    pub(in crate::ssh) jump: Option<Connection>,
    /// Request agent forwarding on every session channel.
    pub(super) forward_agent: bool,
    /// The reverse forwards of this connection, by server port.
    pub(in crate::ssh) routes: super::routes::ForwardRoutes,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("username", &self.inner.username)
            .field("peer_addr", &self.inner.peer_addr)
            .field("host_key", &self.inner.host_key)
            .field("jump", &self.inner.jump)
            .field("forward_agent", &self.inner.forward_agent)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A real round trip: a global request the server must answer (OpenSSH answers
    /// `keepalive@openssh.com` with a failure, which is fine: it is an answer).
    pub async fn ping(&self, timeout: Duration) -> Result<(), Error> {
        let request = self
            .inner
            .handle
            .send_global_request("keepalive@openssh.com", &[], true);
        match tokio::time::timeout(timeout, request).await {
            Err(_) => Err(Error::Timeout(format!(
                "the server did not answer a ping within {:.1} s",
                timeout.as_secs_f64()
            ))),
            Ok(Ok(_)) | Ok(Err(russh::Error::RequestDenied)) => Ok(()),
            Ok(Err(_)) => Err(Error::Disconnected),
        }
    }

    /// Whether the connection has ended (through a jump host: or the jump host's has).
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
            || *self.inner.closed.borrow()
            || self.inner.jump.as_ref().is_some_and(Connection::is_closed)
    }

    /// Resolves once the connection has ended. Cancel-safe; any number of tasks may wait.
    pub async fn closed(&self) {
        let mut rx = self.inner.closed.clone();
        // An error means the session task dropped the sender: it has ended too.
        let _ = rx.wait_for(|closed| *closed).await;
    }

    /// The authenticated remote user.
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// The server address actually connected to. Through a jump host: the server's address
    /// when its host was given as an IP address, else the jump host's address (only the jump
    /// host knows what the name resolved to).
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer_addr
    }

    /// The jump host's address, when the connection runs through one (for the lab tests).
    #[cfg(test)]
    pub fn jump_peer_addr(&self) -> Option<SocketAddr> {
        self.inner.jump.as_ref().map(Connection::peer_addr)
    }

    /// The server's host key, as verified (for the lab tests).
    #[cfg(test)]
    pub fn host_key(&self) -> &HostKeyInfo {
        &self.inner.host_key
    }

    /// Ends the connection (for every clone) and waits briefly for it to close; then the
    /// jump host's connection, if any.
    pub async fn disconnect(&self) {
        let _ = self
            .inner
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        let _ = tokio::time::timeout(DISCONNECT_GRACE, self.closed()).await;
        if let Some(jump) = &self.inner.jump {
            Box::pin(jump.disconnect()).await;
        }
    }
}
