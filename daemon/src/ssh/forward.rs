//! Local port forwarding over the connection: a listener on 127.0.0.1 whose every accepted
//! TCP connection is carried to a fixed remote address on its own `direct-tcpip` channel, as
//! `ssh -L` does. X2Go needs it to reach the session's NX proxy port on the server.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep, timeout};

use super::connection::{Connection, Inner};
use super::error::Error;

/// How long the server may take to answer a `direct-tcpip` open (it connects to the target
/// first, so an unreachable target can take a while).
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long stopping a forward waits for its pumps to send their channel close before it
/// drops them outright (their sockets close either way).
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How often, and how far apart, a channel whose target refused the connection is asked for
/// again: a listener may be about to open (an agent told to resume listens a few ms after
/// it says so), and the local client has already connected.
const REFUSED_RETRIES: u32 = 10;
const REFUSED_PAUSE: Duration = Duration::from_millis(50);

/// Bytes read from a local socket at a time: russh's default maximum packet size, so that one
/// read becomes one SSH packet.
const READ_CHUNK: usize = 32 * 1024;

/// How long finding the owner of a connecting socket may take (a read of `/proc/net/tcp`).
const PEER_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause after a failed `accept` (e.g. out of file descriptors), so that a persistent error
/// does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A running local port forwarding, from [`Connection::forward_local`].
///
/// It stops when [`close`](Self::close) is called, when it is dropped, or when the SSH
/// connection ends; stopping frees the local port and closes every forwarded connection (its
/// local socket and its channel). It does not keep the SSH connection alive by itself.
pub struct LocalForward {
    port: u16,
    target: Arc<Target>,
    active: Arc<AtomicUsize>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LocalForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalForward")
            .field("local_port", &self.port)
            .field("remote_host", &self.target.host)
            .field("remote_port", &self.target.port)
            .field("connections", &self.connections())
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

/// Where the server is asked to connect.
struct Target {
    host: String,
    port: u16,
}

impl LocalForward {
    /// The local TCP port (on 127.0.0.1) that forwards to the remote address.
    pub fn local_port(&self) -> u16 {
        self.port
    }

    /// How many accepted connections are being forwarded right now (their channel is open and
    /// bytes are pumped).
    pub fn connections(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Whether the forward has stopped (closed, or its SSH connection ended): the port no
    /// longer accepts connections.
    pub fn is_stopped(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops accepting (the port is free when this returns) and closes every forwarded
    /// connection: its channel is closed and its local socket shut.
    pub async fn close(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            // The accept task bounds its own cleanup by STOP_GRACE; a panic in it has already
            // been reported by tokio.
            let _ = task.await;
        }
    }
}

impl Drop for LocalForward {
    /// Stops the forward like [`close`](Self::close), without waiting: the accept task does
    /// the cleanup on its own.
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl Connection {
    /// Listens on an ephemeral port of 127.0.0.1 and forwards every connection accepted there
    /// to `remote_host`:`remote_port` as seen from the server, each on its own `direct-tcpip`
    /// channel of this connection (the accepted peer is the originator).
    ///
    /// End of stream travels both ways: when one side shuts down writing, the other side sees
    /// end-of-file and may go on sending. If the server refuses a channel (e.g. the target
    /// refuses the connection), that one local connection is closed and the listener goes on.
    /// Forwarding channels do not count against `max_channels`: OpenSSH's `MaxSessions`
    /// limits session channels only.
    ///
    /// Every forwarded connection must keep reading what it is sent: russh hands incoming
    /// data to channels without flow control of its own, so a stalled reader eventually
    /// stalls the whole SSH connection.
    pub async fn forward_local(
        &self,
        remote_host: &str,
        remote_port: u16,
    ) -> Result<LocalForward, Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(Error::Listen)?;
        let port = listener.local_addr().map_err(Error::Listen)?.port();
        let (stop, stop_rx) = watch::channel(false);
        let active = Arc::new(AtomicUsize::new(0));
        let target = Arc::new(Target {
            host: remote_host.to_owned(),
            port: remote_port,
        });
        tracing::info!(
            local_port = port,
            remote_host,
            remote_port,
            "port forwarding started"
        );
        let task = tokio::spawn(accept_loop(
            listener,
            // Weak: a forward must not keep a connection alive that everyone else dropped.
            Arc::downgrade(&self.inner),
            self.inner.closed.clone(),
            stop_rx,
            Arc::clone(&target),
            Arc::clone(&active),
        ));
        Ok(LocalForward {
            port,
            target,
            active,
            stop,
            task: Some(task),
        })
    }
}

/// Accepts local connections and starts a pump for each until told to stop or the
/// connection ends; then frees the port and stops the pumps.
async fn accept_loop(
    listener: TcpListener,
    conn: Weak<Inner>,
    mut conn_closed: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    target: Arc<Target>,
    active: Arc<AtomicUsize>,
) {
    let local_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    // The pumps' own stop signal, so that they also stop when the loop ends for another
    // reason than `stop` (connection gone, Connection dropped).
    let (halt, halt_rx) = watch::channel(false);
    let mut pumps = JoinSet::new();
    loop {
        tokio::select! {
            // An error means the LocalForward was dropped: stop as well.
            () = until_set(&mut stop) => break,
            () = until_set(&mut conn_closed) => {
                tracing::info!(local_port, "SSH connection ended; port forwarding stops");
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    let Some(inner) = conn.upgrade() else {
                        tracing::info!(local_port, "SSH connection dropped; port forwarding stops");
                        break;
                    };
                    // NX traffic is many small, latency-sensitive writes.
                    if let Err(e) = sock.set_nodelay(true) {
                        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                    }
                    let Ok(ours) = sock.local_addr() else { continue };
                    let pump = forward_one(
                        inner,
                        sock,
                        peer,
                        Arc::clone(&target),
                        halt_rx.clone(),
                        Arc::clone(&active),
                    );
                    pumps.spawn(async move {
                        if peer_is_us(peer, ours).await {
                            pump.await;
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(local_port, error = %e, "accepting a forwarded connection failed");
                    sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            // Reap finished pumps so the set does not grow with every connection ever made.
            Some(_) = pumps.join_next(), if !pumps.is_empty() => {}
        }
    }
    drop(listener);
    halt.send_replace(true);
    let drained = timeout(STOP_GRACE, async {
        while pumps.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            local_port,
            left = pumps.len(),
            "dropping forwarded connections that did not stop in time"
        );
        pumps.shutdown().await;
    }
    tracing::info!(local_port, remote_host = %target.host, remote_port = target.port,
        "port forwarding stopped");
}

/// Whether the process at `peer`, connected to our `ours`, runs as our uid. Any local user can
/// connect to a port on 127.0.0.1; only our own (the session's nxproxy) may use the session.
/// A refused connection is dropped unanswered: no channel, no byte.
async fn peer_is_us(peer: SocketAddr, ours: SocketAddr) -> bool {
    let uids = tokio::task::spawn_blocking(move || {
        (
            super::peer::loopback_peer_uid(peer, ours),
            super::peer::own_uid(),
        )
    });
    match timeout(PEER_CHECK_TIMEOUT, uids).await {
        Ok(Ok((Some(theirs), Some(own)))) if theirs == own => true,
        Ok(Ok((theirs, own))) => {
            tracing::warn!(%peer, local_port = ours.port(), peer_uid = ?theirs, own_uid = ?own,
                "refused a forwarded connection from another user");
            false
        }
        _ => {
            tracing::warn!(%peer, "cannot tell who connected; refused the forwarded connection");
            false
        }
    }
}

/// Resolves once the flag is set or its sender is gone (which means the same here). Returns
/// nothing, so that no lock guard of the watch lives on in a `select!`.
async fn until_set(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// Counts a pump as active for as long as it lives.
struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    fn new(counter: Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(counter)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a pump ended.
enum PumpEnd {
    /// The server closed the channel, or the connection ended.
    ServerClosed,
    /// The local socket failed (reset, or gone while data was still coming).
    Local(std::io::Error),
    /// The channel could no longer be written to.
    Channel(russh::Error),
    /// The forward was stopped.
    Stopped,
}

impl std::fmt::Display for PumpEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PumpEnd::ServerClosed => f.write_str("closed by the server"),
            PumpEnd::Local(e) => write!(f, "local socket error: {e}"),
            PumpEnd::Channel(e) => write!(f, "channel error: {e}"),
            PumpEnd::Stopped => f.write_str("forward stopped"),
        }
    }
}

/// Opens the channel for one accepted connection and pumps bytes until either side is done.
async fn forward_one(
    inner: Arc<Inner>,
    sock: TcpStream,
    peer: SocketAddr,
    target: Arc<Target>,
    mut halt: watch::Receiver<bool>,
    active: Arc<AtomicUsize>,
) {
    let mut refused = 0;
    let channel = loop {
        let open = inner.handle.channel_open_direct_tcpip(
            target.host.as_str(),
            u32::from(target.port),
            peer.ip().to_string(),
            u32::from(peer.port()),
        );
        // Not cancelled by `halt`: a confirmation arriving after we stopped listening would
        // leave a channel open on the server that nobody closes. OPEN_TIMEOUT and STOP_GRACE
        // bound it.
        match timeout(OPEN_TIMEOUT, open).await {
            Ok(Err(russh::Error::ChannelOpenFailure(russh::ChannelOpenFailure::ConnectFailed)))
                if refused < REFUSED_RETRIES && !*halt.borrow() =>
            {
                refused += 1;
                sleep(REFUSED_PAUSE).await;
            }
            other => break other,
        }
    };
    let channel = match channel {
        Ok(Ok(channel)) => channel,
        Ok(Err(e)) => {
            // Dropping `sock` closes the local connection; the listener goes on.
            tracing::warn!(%peer, remote_host = %target.host, remote_port = target.port,
                error = %e, "the server refused to open a forwarding channel");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, remote_host = %target.host, remote_port = target.port,
                "opening a forwarding channel timed out");
            return;
        }
    };
    drop(inner);
    let _active = ActiveGuard::new(active);
    let (mut rx, tx) = channel.split();
    tracing::debug!(%peer, remote_host = %target.host, remote_port = target.port,
        "forwarding a connection");
    let end = if *halt.borrow() {
        PumpEnd::Stopped
    } else {
        tokio::select! {
            end = pump(&mut rx, &tx, sock) => end,
            () = until_set(&mut halt) => PumpEnd::Stopped,
        }
    };
    // The local socket is closed by now (dropped with the pump). The server closed the channel
    // itself in the first case, and russh has answered it.
    if !matches!(end, PumpEnd::ServerClosed) {
        let _ = tx.close().await;
    }
    tracing::debug!(%peer, %end, "forwarded connection ended");
}

/// Copies bytes both ways between `sock` and the channel until the channel closes or the
/// local side fails. End of file is passed on in each direction on its own (half-close).
async fn pump(
    rx: &mut ChannelReadHalf,
    tx: &ChannelWriteHalf<Msg>,
    mut sock: TcpStream,
) -> PumpEnd {
    let (mut sock_rx, mut sock_tx) = sock.split();
    let up = async {
        loop {
            // A fresh buffer each time: it becomes the packet's payload without a copy.
            let mut buf = Vec::with_capacity(READ_CHUNK);
            match sock_rx.read_buf(&mut buf).await {
                Ok(0) => {
                    // The local client shut down writing: tell the server, keep receiving.
                    return tx.eof().await.map_err(PumpEnd::Channel);
                }
                Ok(_) => tx.data_bytes(buf).await.map_err(PumpEnd::Channel)?,
                Err(e) => return Err(PumpEnd::Local(e)),
            }
        }
    };
    let down = async {
        loop {
            match rx.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    if let Err(e) = sock_tx.write_all(&data).await {
                        return PumpEnd::Local(e);
                    }
                }
                Some(ChannelMsg::Eof) => {
                    // The remote side shut down writing: pass it on, the other way goes on.
                    if let Err(e) = sock_tx.shutdown().await {
                        return PumpEnd::Local(e);
                    }
                }
                Some(ChannelMsg::Close) | None => return PumpEnd::ServerClosed,
                Some(_) => {}
            }
        }
    };
    tokio::pin!(up, down);
    // The downstream decides the end: the server closes the channel once both directions are
    // done. Upstream only ends the pump early when it fails; after a clean EOF it waits for
    // the server (which, until then, may still send).
    tokio::select! {
        end = &mut down => end,
        up_end = &mut up => match up_end {
            Ok(()) => down.await,
            Err(end) => end,
        },
    }
}
