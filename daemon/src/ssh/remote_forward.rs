//! Remote port forwarding, as `ssh -R` does: the server listens on one of its loopback ports
//! and hands every connection made to it back to us on a `forwarded-tcpip` channel. X2Go's
//! shared folders need it: the server's `sshfs` connects to the session's `sshfs_port`.

use std::sync::Arc;

use russh::client::Msg;
use russh::{Channel, ChannelStream};
use tokio::sync::{mpsc, watch};

use super::connection::{Connection, Inner};
use super::error::Error;

/// A connection the server forwarded to us: a byte stream on its own channel.
pub type ForwardedStream = ChannelStream<Msg>;

/// The address the server listens on: loopback only, as python-x2go asks (`x2gomountdirs`
/// connects to 127.0.0.1).
const BIND_ADDRESS: &str = "127.0.0.1";

/// A port of the server forwarded to us, from [`Connection::forward_remote`].
///
/// [`accept`](Self::accept) yields each connection made to it; it ends when the SSH connection
/// does. [`close`](Self::close) asks the server to stop listening; dropping it refuses further
/// channels (the server keeps its listener until the connection ends).
pub struct RemoteForward {
    port: u16,
    channels: mpsc::UnboundedReceiver<Channel<Msg>>,
    closed: watch::Receiver<bool>,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteForward")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl RemoteForward {
    /// The next connection made to the server port; `None` once the SSH connection is gone.
    pub async fn accept(&mut self) -> Option<ForwardedStream> {
        if *self.closed.borrow() {
            return None;
        }
        tokio::select! {
            ch = self.channels.recv() => ch.map(Channel::into_stream),
            _ = self.closed.wait_for(|c| *c) => None,
        }
    }

    /// Stops the forward: no more channels come, and the server is asked to stop listening
    /// (as dropping it does, without waiting for the answer).
    pub async fn close(mut self) {
        self.inner.routes.remove(u32::from(self.port));
        if !*self.closed.borrow() {
            let _ = self
                .inner
                .handle
                .cancel_tcpip_forward(BIND_ADDRESS, u32::from(self.port))
                .await;
        }
        // Cancelled already: the drop has nothing left to do.
        self.closed = watch::channel(true).1;
    }
}

impl Drop for RemoteForward {
    fn drop(&mut self) {
        self.inner.routes.remove(u32::from(self.port));
        // Dropped without `close` (its task was aborted): the server still listens, and a
        // later forward of the same port on this connection would be refused. Ask it to stop.
        if !*self.closed.borrow()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (inner, port) = (Arc::clone(&self.inner), u32::from(self.port));
            rt.spawn(async move {
                let _ = inner.handle.cancel_tcpip_forward(BIND_ADDRESS, port).await;
            });
        }
    }
}

impl Connection {
    /// Asks the server to listen on its 127.0.0.1:`port` and forward every connection made to
    /// it here; fails when the server refuses (the port is taken, forwarding is off in sshd).
    pub async fn forward_remote(&self, port: u16) -> Result<RemoteForward, Error> {
        if port == 0 {
            return Err(Error::InvalidParams(
                "a reverse forward needs a port".into(),
            ));
        }
        let inner = Arc::clone(&self.inner);
        // Routed before asking: the first connection may arrive right after the reply.
        let channels = inner.routes.add(u32::from(port))?;
        let forward = RemoteForward {
            port,
            channels,
            closed: inner.closed.clone(),
            inner: Arc::clone(&inner),
        };
        match inner
            .handle
            .tcpip_forward(BIND_ADDRESS, u32::from(port))
            .await
        {
            Ok(_) => Ok(forward),
            Err(russh::Error::RequestDenied) => Err(Error::Channel(format!(
                "the server refused to forward its port {port} (taken, or forwarding is off)"
            ))),
            Err(e) => Err(e.into()),
        }
    }
}
