//! One persistent SSH connection, shared by many tasks, each command on its own channel.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use russh::client::{self, DisconnectReason, Handle, Msg};
use russh::keys::PublicKeyOrCertificate;
use russh::{Channel, ChannelMsg, ChannelOpenFailure, Disconnect, Sig};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, timeout_at};

use super::auth::{self, AuthParams};
use super::error::Error;
use super::host_keys::{self, HostKeyInfo, HostKeyPolicy};

/// First pause before retrying a channel open the server refused for lack of room; doubled up
/// to [`OPEN_RETRY_MAX`]. The server frees a session slot only after it has processed our
/// close, so the wait is short.
const OPEN_RETRY_FIRST: Duration = Duration::from_millis(20);
const OPEN_RETRY_MAX: Duration = Duration::from_millis(500);

/// Handshakes in flight to one server at once: below OpenSSH's default `MaxStartups` of 10.
const HANDSHAKES_PER_SERVER: usize = 8;
/// Attempts at a handshake the server reset before speaking (its `MaxStartups` drop).
const HANDSHAKE_TRIES: u32 = 4;

/// The gate that limits concurrent handshakes to `host:port`, shared by every profile.
fn handshake_gate(host: &str, port: u16) -> Arc<Semaphore> {
    type Gates = std::sync::Mutex<std::collections::HashMap<(String, u16), Arc<Semaphore>>>;
    static GATES: std::sync::LazyLock<Gates> = std::sync::LazyLock::new(Default::default);
    let mut gates = GATES.lock().unwrap_or_else(|p| p.into_inner());
    gates
        .entry((host.to_owned(), port))
        .or_insert_with(|| Arc::new(Semaphore::new(HANDSHAKES_PER_SERVER)))
        .clone()
}

/// Whether `e` is a server closing the connection before or during the key exchange, as
/// sshd does past `MaxStartups`.
fn dropped_early(e: &Error) -> bool {
    match e {
        Error::Ssh(russh::Error::Disconnect) | Error::Ssh(russh::Error::HUP) => true,
        Error::Ssh(russh::Error::IO(io)) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
        ),
        Error::Disconnected => true,
        _ => false,
    }
}

/// How long [`Connection::disconnect`] waits for the server to acknowledge.
const DISCONNECT_GRACE: Duration = Duration::from_secs(2);

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Credentials.
    pub auth: AuthParams,
    /// Which host keys to accept.
    pub host_keys: HostKeyPolicy,
    /// Limit for resolving, TCP connect, SSH handshake and authentication together.
    pub timeout: Duration,
    /// Session channels open at once; OpenSSH's `MaxSessions` defaults to 10. Each running
    /// [`Connection::exec`] and each live [`LineStream`](super::LineStream) holds one slot (a
    /// line stream for as long as it exists); further calls wait for a free slot. Port
    /// forwardings ([`Connection::forward_local`]) need none.
    pub max_channels: usize,
    /// Send a keepalive after this long without traffic from the server.
    pub keepalive_interval: Option<Duration>,
    /// Close the connection after this many unanswered keepalives (0: never).
    pub keepalive_max: usize,
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Everything the command wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything the command wrote to standard error.
    pub stderr: Vec<u8>,
    /// The exit status, if the server reported one.
    pub exit_status: Option<u32>,
    /// The signal that killed the command (e.g. `TERM`), if it was killed.
    pub exit_signal: Option<String>,
}

/// An authenticated SSH connection. Cheap to clone: all clones share one connection.
#[derive(Clone)]
pub struct Connection {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) handle: Handle<ClientHandler>,
    /// One permit per session channel that may be open at once: [`Connection::exec`] holds
    /// one while its command runs, a [`LineStream`](super::LineStream) for its whole life.
    /// Forwarding channels (`direct-tcpip`) take none: sshd's `MaxSessions` counts only
    /// session channels.
    pub(super) slots: Arc<Semaphore>,
    username: String,
    peer_addr: SocketAddr,
    host_key: HostKeyInfo,
    /// Becomes `true` (or its sender is dropped) when the session task has ended.
    pub(super) closed: watch::Receiver<bool>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("username", &self.inner.username)
            .field("peer_addr", &self.inner.peer_addr)
            .field("host_key", &self.inner.host_key)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// russh's callbacks: host key verification and the end of the session.
pub(super) struct ClientHandler {
    policy: HostKeyPolicy,
    /// The known_hosts lookup name.
    name: String,
    /// The key the server offered, for the caller, whatever the verdict.
    offered: Arc<OnceLock<HostKeyInfo>>,
    closed: watch::Sender<bool>,
}

impl client::Handler for ClientHandler {
    type Error = Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Error> {
        // A host certificate is checked as its plain key: we trust no CAs, and OpenSSH falls
        // back the same way.
        let key = key.public_key();
        let info = HostKeyInfo::from_key(&key);
        let _ = self.offered.set(info.clone());
        match self.policy.verify(&self.name, &key) {
            Ok(how) => {
                tracing::debug!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, ?how, "host key accepted");
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, error = %e, "host key refused");
                Err(e)
            }
        }
    }

    async fn disconnected(&mut self, reason: DisconnectReason<Error>) -> Result<(), Error> {
        self.closed.send_replace(true);
        match reason {
            DisconnectReason::ReceivedDisconnect(info) => {
                tracing::info!(host = %self.name, reason = ?info.reason_code,
                    message = %info.message, "server closed the SSH connection");
                Ok(())
            }
            DisconnectReason::Error(e) => {
                tracing::info!(host = %self.name, error = %e, "SSH connection lost");
                Err(e)
            }
        }
    }
}

/// A TCP connection to the first reachable address of `host`.
async fn tcp_connect(host: &str, port: u16) -> Result<(TcpStream, SocketAddr), Error> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| Error::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    let mut last_err = std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "the name resolved to no address",
    );
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Commands are small request/response exchanges: do not let Nagle delay them.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                return Ok((stream, addr));
            }
            Err(e) => {
                tracing::debug!(%addr, error = %e, "TCP connect failed");
                last_err = e;
            }
        }
    }
    Err(Error::Connect {
        host: host.to_owned(),
        port,
        source: last_err,
    })
}

/// The parts of a fresh, not yet authenticated session.
struct Handshake {
    handle: Handle<ClientHandler>,
    peer_addr: SocketAddr,
    host_key: HostKeyInfo,
    closed: watch::Receiver<bool>,
}

async fn handshake(
    host: &str,
    port: u16,
    policy: &HostKeyPolicy,
    config: client::Config,
) -> Result<Handshake, Error> {
    let (stream, peer_addr) = tcp_connect(host, port).await?;
    let offered = Arc::new(OnceLock::new());
    let (closed_tx, closed) = watch::channel(false);
    let handler = ClientHandler {
        policy: policy.clone(),
        name: host_keys::lookup_name(host, port),
        offered: Arc::clone(&offered),
        closed: closed_tx,
    };
    let handle = client::connect_stream(Arc::new(config), stream, handler).await?;
    let host_key = offered
        .get()
        .cloned()
        .ok_or_else(|| Error::Channel("the server presented no host key".into()))?;
    Ok(Handshake {
        handle,
        peer_addr,
        host_key,
        closed,
    })
}

fn timeout_error(what: &str, host: &str, port: u16, limit: Duration) -> Error {
    Error::Timeout(format!(
        "{what} {host} port {port} did not finish within {:.1} s",
        limit.as_secs_f64()
    ))
}

impl Connection {
    /// Connects, verifies the host key under `params.host_keys` (learning it when the policy
    /// says so) and authenticates. All of it must finish within `params.timeout`.
    pub async fn connect(params: ConnectParams) -> Result<Connection, Error> {
        let ConnectParams {
            host,
            port,
            auth,
            host_keys,
            timeout,
            max_channels,
            keepalive_interval,
            keepalive_max,
        } = params;
        tracing::info!(%host, port, user = %auth.username, "connecting");
        let config = || client::Config {
            keepalive_interval,
            keepalive_max,
            nodelay: true,
            ..Default::default()
        };
        let deadline = Instant::now() + timeout;
        let work = async {
            // sshd drops unauthenticated connections beyond `MaxStartups` (10 by default):
            // keep our own handshakes to one server below that, and retry a connection the
            // server reset before it spoke.
            let gate = handshake_gate(&host, port);
            let _permit = gate.acquire().await.map_err(|_| Error::Disconnected)?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                match handshake(&host, port, &host_keys, config()).await {
                    Ok(mut hs) => {
                        auth::authenticate(&mut hs.handle, &auth).await?;
                        break Ok::<_, Error>(hs);
                    }
                    Err(e) if attempt < HANDSHAKE_TRIES && dropped_early(&e) => {
                        tracing::debug!(%host, port, attempt, error = %e, "server dropped the connection before the handshake; retrying");
                        sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                    }
                    Err(e) => break Err(e),
                }
            }
        };
        let hs = timeout_at(deadline, work)
            .await
            .map_err(|_| timeout_error("connecting and logging in to", &host, port, timeout))??;
        tracing::info!(%host, port, user = %auth.username, peer = %hs.peer_addr,
            key_type = %hs.host_key.key_type, fingerprint = %hs.host_key.fingerprint,
            "SSH connection established");
        Ok(Connection {
            inner: Arc::new(Inner {
                handle: hs.handle,
                slots: Arc::new(Semaphore::new(max_channels.max(1))),
                username: auth.username,
                peer_addr: hs.peer_addr,
                host_key: hs.host_key,
                closed: hs.closed,
            }),
        })
    }

    /// Performs the handshake only (no authentication) and returns the server's key when the
    /// policy accepts it, learning it if the policy says so. Otherwise the error says why:
    /// [`Error::HostKeyUnknown`] (with the key, for a person to confirm),
    /// [`Error::HostKeyChanged`], [`Error::FingerprintMismatch`], or a connection error.
    pub async fn probe_host_key(
        host: &str,
        port: u16,
        policy: &HostKeyPolicy,
        timeout: Duration,
    ) -> Result<HostKeyInfo, Error> {
        let work = async {
            let hs = handshake(host, port, policy, client::Config::default()).await?;
            // Polite goodbye; the answer does not matter.
            let _ = hs
                .handle
                .disconnect(Disconnect::ByApplication, "host key check", "en")
                .await;
            Ok::<_, Error>(hs.host_key)
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| timeout_error("checking the host key of", host, port, timeout))?
    }

    /// Runs `command` (one shell command line) on a new session channel and collects its
    /// output and exit status until the channel closes.
    ///
    /// At most `max_channels` session channels are open at once, counting both running
    /// commands and live [`LineStream`](super::LineStream)s; further calls wait for a free
    /// slot (so `max_channels` line streams starve `exec` until one is closed). A
    /// server that still refuses the channel (it has not yet processed an earlier close) is
    /// asked again after a short pause. If `timeout` elapses (waiting included), the command
    /// is sent SIGTERM, its channel is closed and [`Error::Timeout`] is returned; the
    /// connection stays usable.
    pub async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, Error> {
        let deadline = Instant::now() + timeout;
        let timed_out = |stage: &str| {
            Error::Timeout(format!(
                "{stage} (limit {:.1} s) for command {:?}",
                timeout.as_secs_f64(),
                command_summary(command)
            ))
        };
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let _permit = timeout_at(deadline, self.inner.slots.acquire())
            .await
            .map_err(|_| timed_out("waiting for a free channel"))?
            .map_err(|_| Error::Disconnected)?;
        let channel = timeout_at(deadline, self.open_session())
            .await
            .map_err(|_| timed_out("opening a channel"))??;
        let mut guard = CloseOnDrop(Some(channel));
        tracing::debug!(command = %command_summary(command), "exec");

        let result = match guard.0.as_mut() {
            Some(ch) => timeout_at(deadline, run(ch, command)).await,
            None => return Err(Error::Disconnected),
        };
        match result {
            Ok(out) => {
                // The server closed the channel (or the connection ended): nothing to close.
                guard.0 = None;
                if out.is_err() && self.is_closed() {
                    return Err(Error::Disconnected);
                }
                out
            }
            Err(_) => {
                if let Some(ch) = guard.0.take() {
                    // Ask the server to end the command so its session slot frees promptly
                    // (OpenSSH keeps the slot while the child lives), then close.
                    let _ = ch.signal(Sig::TERM).await;
                    let _ = ch.close().await;
                }
                tracing::info!(command = %command_summary(command), "command timed out");
                Err(timed_out("running"))
            }
        }
    }

    /// Opens a session channel, retrying while the server says it has no room.
    pub(super) async fn open_session(&self) -> Result<Channel<Msg>, Error> {
        let mut pause = OPEN_RETRY_FIRST;
        loop {
            match self.inner.handle.channel_open_session().await {
                Ok(ch) => return Ok(ch),
                // OpenSSH answers "no more sessions" (MaxSessions reached, e.g. because it
                // has not yet processed an earlier close) with CONNECT_FAILED; other servers
                // use the two codes meant for it.
                Err(russh::Error::ChannelOpenFailure(
                    reason @ (ChannelOpenFailure::AdministrativelyProhibited
                    | ChannelOpenFailure::ResourceShortage
                    | ChannelOpenFailure::ConnectFailed),
                )) => {
                    tracing::debug!(?reason, ?pause, "server refused a channel; retrying");
                    sleep(pause).await;
                    pause = (pause * 2).min(OPEN_RETRY_MAX);
                }
                Err(russh::Error::ChannelOpenFailure(reason)) => {
                    return Err(Error::Channel(format!(
                        "the server refused to open a session channel: {reason:?}"
                    )));
                }
                Err(_) if self.is_closed() => return Err(Error::Disconnected),
                Err(e) => return Err(e.into()),
            }
        }
    }

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

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed() || *self.inner.closed.borrow()
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

    /// The server address actually connected to.
    pub fn peer_addr(&self) -> SocketAddr {
        self.inner.peer_addr
    }

    /// The server's host key, as verified.
    pub fn host_key(&self) -> &HostKeyInfo {
        &self.inner.host_key
    }

    /// Ends the connection (for every clone) and waits briefly for it to close.
    pub async fn disconnect(&self) {
        let _ = self
            .inner
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        let _ = tokio::time::timeout(DISCONNECT_GRACE, self.closed()).await;
    }
}

/// Execs `command` on `ch` and reads until the server closes the channel.
async fn run(ch: &mut Channel<Msg>, command: &str) -> Result<ExecOutput, Error> {
    ch.exec(true, command).await?;
    let mut out = ExecOutput::default();
    let mut confirmed = false;
    loop {
        let Some(msg) = ch.wait().await else {
            // The channel vanished without a close: the connection ended under us.
            return Err(Error::Disconnected);
        };
        match msg {
            ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => out.stderr.extend_from_slice(&data),
            // Exit status comes before the last data may arrive: keep reading until Close.
            ChannelMsg::ExitStatus { exit_status } => out.exit_status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                out.exit_signal = Some(signal_text(&signal_name));
            }
            ChannelMsg::Success => confirmed = true,
            ChannelMsg::Failure if !confirmed => {
                let _ = ch.close().await;
                return Err(Error::Channel(
                    "the server refused to run the command".into(),
                ));
            }
            ChannelMsg::Close => return Ok(out),
            _ => {}
        }
    }
}

/// The signal's name without the `SIG` prefix, as SSH sends it.
pub(super) fn signal_text(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name,
    }
    .to_owned()
}

/// The start of a command line, for logs and errors. Commands may carry arguments the user
/// typed, but no secrets: credentials never go through exec.
pub(super) fn command_summary(command: &str) -> String {
    const MAX: usize = 80;
    match command.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &command[..i]),
        None => command.to_owned(),
    }
}

/// Closes the channel if `exec` is cancelled (its future dropped) while the command runs, so
/// the server does not keep a session slot for a result nobody reads.
struct CloseOnDrop(Option<Channel<Msg>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(ch) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = ch.close().await;
            });
        }
    }
}
