//! One persistent SSH connection, shared by many tasks, each command on its own channel,
//! optionally reached through a jump host and with the local SSH agent forwarded.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use russh::client::{self, ChannelOpenHandle, DisconnectReason, Handle, Msg, Session};
use russh::keys::PublicKeyOrCertificate;
use russh::keys::agent::AgentSessionBinding;
use russh::keys::agent::client::AgentClient;
use russh::{Channel, ChannelMsg, ChannelOpenFailure, Disconnect, Sig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, timeout, timeout_at};

use super::auth::{self, AuthParams};
use super::error::Error;
use super::host_key_info::HostKeyInfo;
use super::host_keys::{self, HostKeyPolicy};
use super::prompt::{self, Asker, Hop, PauseClock};

/// First pause before retrying a channel open the server refused for lack of room; doubled up
/// to [`OPEN_RETRY_MAX`]. The server frees a session slot only after it has processed our
/// close, so the wait is short.
const OPEN_RETRY_FIRST: Duration = Duration::from_millis(20);
const OPEN_RETRY_MAX: Duration = Duration::from_millis(500);

/// Handshakes in flight to one server at once: below OpenSSH's default `MaxStartups` of 10.
const HANDSHAKES_PER_SERVER: usize = 8;
/// Attempts at a handshake the server reset before speaking (its `MaxStartups` drop).
const HANDSHAKE_TRIES: u32 = 4;

/// How long connecting to the local agent socket for a forwarded agent channel may take.
const AGENT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
///
/// [`Default`] gives port 22, a 20 s timeout, 10 channels, no keepalive and no jump host, so
/// that callers can name only what they set (`..Default::default()`).
#[derive(Debug, Clone)]
pub struct ConnectParams {
    /// Host name or address. Through a jump host, the jump host resolves it.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Credentials.
    pub auth: AuthParams,
    /// Which host keys to accept.
    pub host_keys: HostKeyPolicy,
    /// Limit for resolving, TCP connect, SSH handshake and authentication together, the jump
    /// host's included. Time spent waiting for a person to answer a prompt does not count.
    pub timeout: Duration,
    /// Session channels open at once; OpenSSH's `MaxSessions` defaults to 10. Each running
    /// [`Connection::exec`] and each live [`LineStream`](super::LineStream) holds one slot (a
    /// line stream for as long as it exists); further calls wait for a free slot. Port
    /// forwardings ([`Connection::forward_local`]) need none.
    pub max_channels: usize,
    /// Send a keepalive after this long without traffic from the server (the jump host
    /// too).
    pub keepalive_interval: Option<Duration>,
    /// Close the connection after this many unanswered keepalives (0: never).
    pub keepalive_max: usize,
    /// Reach the server through this jump host: an authenticated connection to it carries
    /// the connection to `host`:`port` in a `direct-tcpip` channel, like `ssh -J`. Errors of
    /// that hop are [`Error::Proxy`].
    pub proxy: Option<Box<ProxyParams>>,
    /// Look the server's key up, and learn it, under this name instead of `host` or
    /// `[host]:port` (OpenSSH's `HostKeyAlias`). Stored in lower case; names known_hosts cannot
    /// hold as one plain entry (white space, `*?!,|#`, leading `@` or `[`) are
    /// [`Error::InvalidParams`].
    pub host_key_name: Option<String>,
    /// Forward this local SSH agent socket: every command's session channel requests agent
    /// forwarding, and the server's agent connections are relayed to a new connection to this
    /// socket each.
    pub forward_agent: Option<PathBuf>,
}

impl Default for ConnectParams {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 22,
            auth: AuthParams::default(),
            host_keys: HostKeyPolicy::default(),
            timeout: Duration::from_secs(20),
            max_channels: 10,
            keepalive_interval: None,
            keepalive_max: 3,
            proxy: None,
            host_key_name: None,
            forward_agent: None,
        }
    }
}

/// The jump host of [`ConnectParams::proxy`]. Its key is looked up under `host` or
/// `[host]:port`.
#[derive(Debug, Clone, Default)]
pub struct ProxyParams {
    /// Jump host name or address.
    pub host: String,
    /// Its SSH port.
    pub port: u16,
    /// Credentials for the jump host. Questions to a person are asked with [`Hop::Proxy`].
    pub auth: AuthParams,
    /// Which host keys of the jump host to accept.
    pub host_keys: HostKeyPolicy,
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
    /// Becomes `true` (or its sender is dropped) when the session task has ended, or the
    /// jump host's connection has.
    pub(super) closed: watch::Receiver<bool>,
    /// The connection to the jump host this one runs through; it lives as long as this one.
    pub(super) jump: Option<Connection>,
    /// Request agent forwarding on every session channel.
    forward_agent: bool,
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

/// Where forwarded agent connections go.
pub(super) struct AgentRelay {
    socket: PathBuf,
    /// The session's key exchange, so that the local agent learns which server its
    /// forwarded connections come from (OpenSSH's `session-bind@openssh.com`), as `ssh` does.
    /// Set once the handshake is done, before any channel can exist.
    binding: OnceLock<AgentSessionBinding>,
}

/// russh's callbacks: host key verification, forwarded agent connections and the end of the
/// session.
pub(super) struct ClientHandler {
    policy: HostKeyPolicy,
    /// The known_hosts lookup name.
    name: String,
    /// Who to ask about an unknown key.
    asker: Option<Asker>,
    /// The key the server offered, for the caller, whatever the verdict.
    offered: Arc<OnceLock<HostKeyInfo>>,
    closed: watch::Sender<bool>,
    /// `None`: agent forwarding is off and the server's agent channels are refused.
    agent: Option<Arc<AgentRelay>>,
}

impl ClientHandler {
    /// The verdict on an unknown key when a person can be asked.
    async fn confirm_unknown(
        &self,
        asker: &Asker,
        key: &russh::keys::PublicKey,
        unknown: Error,
    ) -> Result<bool, Error> {
        let info = HostKeyInfo::from_key(key);
        match asker
            .confirm_host_key(self.name.clone(), info.clone())
            .await
        {
            Ok(true) => {
                // Learn it the way `add_unknown` does (and look again: another connect may
                // have learned a key meanwhile).
                let learn = HostKeyPolicy {
                    add_unknown: true,
                    prompter: None,
                    ..self.policy.clone()
                };
                learn.verify(&self.name, key)?;
                tracing::info!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, "host key trusted by a person");
                Ok(true)
            }
            Ok(false) => {
                tracing::warn!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, "trusting the host key was refused");
                Err(Error::HostKeyUnknown {
                    host: self.name.clone(),
                    key: info,
                    refused: true,
                })
            }
            Err(e) => {
                let what = format!("the confirmation of the host key of {}", self.name);
                Err(prompt::abort_error(&e, &what).unwrap_or(unknown))
            }
        }
    }
}

impl client::Handler for ClientHandler {
    type Error = Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Error> {
        // A host certificate is checked as its plain key: we trust no CAs, and OpenSSH falls
        // back the same way.
        let key = key.public_key();
        let info = HostKeyInfo::from_key(&key);
        let _ = self.offered.set(info.clone());
        let verdict = match self.policy.verify(&self.name, &key) {
            Err(e @ Error::HostKeyUnknown { .. }) => match &self.asker {
                Some(asker) => self.confirm_unknown(asker, &key, e).await,
                None => Err(e),
            },
            Err(e) => Err(e),
            Ok(how) => {
                tracing::debug!(host = %self.name, key_type = %info.key_type,
                    fingerprint = %info.fingerprint, ?how, "host key accepted");
                Ok(true)
            }
        };
        if let Err(e) = &verdict {
            tracing::warn!(host = %self.name, key_type = %info.key_type,
                fingerprint = %info.fingerprint, error = %e, "host key refused");
        }
        verdict
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Error> {
        match &self.agent {
            Some(relay) => {
                // Off the session task: connecting must not hold up the connection.
                tokio::spawn(relay_agent(Arc::clone(relay), channel, reply));
            }
            None => {
                tracing::debug!(host = %self.name, "refusing an agent channel: agent forwarding is off");
                reply
                    .reject(ChannelOpenFailure::AdministrativelyProhibited)
                    .await;
            }
        }
        Ok(())
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

/// Carries one forwarded agent connection: a new connection to the local agent socket,
/// bytes copied both ways until either side closes. An unreachable agent refuses the channel.
async fn relay_agent(relay: Arc<AgentRelay>, channel: Channel<Msg>, reply: ChannelOpenHandle) {
    let socket = &relay.socket;
    let sock = match timeout(AGENT_CONNECT_TIMEOUT, UnixStream::connect(socket)).await {
        Ok(Ok(sock)) => sock,
        Ok(Err(e)) => {
            tracing::debug!(socket = %socket.display(), error = %e,
                "cannot reach the local agent for a forwarded agent connection");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
        Err(_) => {
            tracing::debug!(socket = %socket.display(),
                "the local agent did not accept a forwarded agent connection in time");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
    };
    reply.accept().await;
    let mut local: Box<dyn russh::keys::agent::client::AgentStream + Send + Unpin> =
        match relay.binding.get() {
            Some(binding) => {
                let mut client = AgentClient::connect(sock);
                if let Err(e) = client.bind_session(binding, true).await {
                    // Agents other than OpenSSH's do not know the extension; they work
                    // without it.
                    tracing::debug!(error = %e, "the local agent did not take the session binding");
                }
                client.into_inner()
            }
            None => Box::new(sock),
        };
    let mut remote = channel.into_stream();
    match tokio::io::copy_bidirectional(&mut remote, &mut local).await {
        Ok((up, down)) => {
            tracing::debug!(
                to_agent = up,
                from_agent = down,
                "forwarded agent connection ended"
            );
        }
        Err(e) => tracing::debug!(error = %e, "forwarded agent connection failed"),
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

/// A `direct-tcpip` channel from the jump host to `host`:`port`, to run the server's
/// connection in.
async fn tunnel(
    jump: &Connection,
    proxy: &ProxyParams,
    host: &str,
    port: u16,
) -> Result<Channel<Msg>, Error> {
    if jump.is_closed() {
        return Err(Error::Disconnected.via_proxy(&proxy.host, proxy.port));
    }
    // Like `ssh -W`: there is no local socket, so the originator is a placeholder.
    match jump
        .inner
        .handle
        .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
        .await
    {
        Ok(channel) => Ok(channel),
        Err(russh::Error::ChannelOpenFailure(reason)) => Err(Error::Connect {
            host: host.to_owned(),
            port,
            source: std::io::Error::other(format!(
                "the jump host {} port {} could not connect there ({reason:?})",
                proxy.host, proxy.port
            )),
        }),
        Err(_) if jump.is_closed() => Err(Error::Disconnected.via_proxy(&proxy.host, proxy.port)),
        Err(e) => Err(Error::from(e).via_proxy(&proxy.host, proxy.port)),
    }
}

/// The parts of a fresh session.
struct Handshake {
    handle: Handle<ClientHandler>,
    peer_addr: SocketAddr,
    host_key: HostKeyInfo,
    closed: watch::Receiver<bool>,
}

/// One hop of a connect: the jump host or the server.
struct HopSpec<'a> {
    host: &'a str,
    port: u16,
    /// The known_hosts lookup name.
    name: String,
    auth: &'a AuthParams,
    policy: &'a HostKeyPolicy,
    hop: Hop,
    forward_agent: Option<&'a Path>,
}

/// The key exchange on `stream`, with the host key checked (and a person asked, if the
/// policy has a prompter and the key is unknown).
async fn handshake_on<S>(
    stream: S,
    peer_addr: SocketAddr,
    spec: &HopSpec<'_>,
    config: &Arc<client::Config>,
    clock: &PauseClock,
) -> Result<Handshake, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let offered = Arc::new(OnceLock::new());
    let (closed_tx, closed) = watch::channel(false);
    let agent = spec.forward_agent.map(|socket| {
        Arc::new(AgentRelay {
            socket: socket.to_owned(),
            binding: OnceLock::new(),
        })
    });
    let handler = ClientHandler {
        policy: spec.policy.clone(),
        name: spec.name.clone(),
        asker: Asker::new(spec.policy.prompter.as_ref(), spec.hop, clock),
        offered: Arc::clone(&offered),
        closed: closed_tx,
        agent: agent.clone(),
    };
    let handle = client::connect_stream(Arc::clone(config), stream, handler).await?;
    if let (Some(agent), Some(binding)) = (agent, handle.agent_session_binding()) {
        let _ = agent.binding.set(binding.clone());
    }
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

/// Connects one hop, directly or through `via` (the jump host's connection and its
/// parameters), and authenticates unless `login` is false.
async fn establish(
    spec: &HopSpec<'_>,
    via: Option<(&Connection, &ProxyParams)>,
    config: &Arc<client::Config>,
    clock: &PauseClock,
    login: bool,
) -> Result<Handshake, Error> {
    // sshd drops unauthenticated connections beyond `MaxStartups` (10 by default): keep our
    // own handshakes to one server below that, and retry a connection the server reset
    // before it spoke.
    let gate = handshake_gate(spec.host, spec.port);
    let _permit = gate.acquire().await.map_err(|_| Error::Disconnected)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let hs = match via {
            None => match tcp_connect(spec.host, spec.port).await {
                Ok((stream, peer)) => handshake_on(stream, peer, spec, config, clock).await,
                Err(e) => Err(e),
            },
            Some((jump, proxy)) => match tunnel(jump, proxy, spec.host, spec.port).await {
                Ok(channel) => {
                    let peer = tunnelled_peer(spec.host, spec.port, jump);
                    handshake_on(channel.into_stream(), peer, spec, config, clock).await
                }
                Err(e) => Err(e),
            },
        };
        match hs {
            Ok(mut hs) => {
                if login {
                    let asker = Asker::new(spec.auth.prompter.as_ref(), spec.hop, clock);
                    let server = format!("{}@{}", spec.auth.username, spec.host);
                    auth::authenticate(&mut hs.handle, spec.auth, &server, asker.as_ref()).await?;
                }
                return Ok(hs);
            }
            Err(e) if attempt < HANDSHAKE_TRIES && dropped_early(&e) => {
                tracing::debug!(host = %spec.host, port = spec.port, attempt, error = %e,
                    "server dropped the connection before the handshake; retrying");
                sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The address reported for a server reached through a jump host: its own when `host` is an
/// IP address, else the jump host's (only the jump host knows what the name resolved to).
fn tunnelled_peer(host: &str, port: u16, jump: &Connection) -> SocketAddr {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port),
        Err(_) => jump.inner.peer_addr,
    }
}

/// A watch that turns `true` once either `a` or `b` does (or its sender is gone). The task
/// behind it ends then, or when nobody holds the returned receiver any more.
fn either_closed(
    mut a: watch::Receiver<bool>,
    mut b: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            () = async { let _ = a.wait_for(|c| *c).await; } => {}
            () = async { let _ = b.wait_for(|c| *c).await; } => {}
            () = tx.closed() => return,
        }
        tx.send_replace(true);
    });
    rx
}

fn timeout_error(what: &str, host: &str, port: u16, limit: Duration) -> Error {
    Error::Timeout(format!(
        "{what} {host} port {port} did not finish within {:.1} s",
        limit.as_secs_f64()
    ))
}

/// The spec of the server hop of `params`.
fn target_spec(params: &ConnectParams) -> Result<HopSpec<'_>, Error> {
    let name = match &params.host_key_name {
        Some(alias) => host_keys::alias_name(alias)?,
        None => host_keys::lookup_name(&params.host, params.port),
    };
    Ok(HopSpec {
        host: &params.host,
        port: params.port,
        name,
        auth: &params.auth,
        policy: &params.host_keys,
        hop: Hop::Target,
        forward_agent: params.forward_agent.as_deref(),
    })
}

/// The client configuration of every hop of a connect.
fn client_config(params: &ConnectParams) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: params.keepalive_interval,
        keepalive_max: params.keepalive_max,
        nodelay: true,
        ..Default::default()
    })
}

impl Connection {
    /// Connects, verifies the host key under `params.host_keys` (learning it when the policy
    /// says so, or when its prompter's person says so) and authenticates; through
    /// `params.proxy` when set, the jump host first. All of it must finish within
    /// `params.timeout`, not counting the time a person takes to answer.
    ///
    /// Errors of the jump host hop are [`Error::Proxy`]; [`Error::innermost`] tells their
    /// kind.
    pub async fn connect(params: ConnectParams) -> Result<Connection, Error> {
        let spec = target_spec(&params)?;
        tracing::info!(host = %params.host, port = params.port, user = %params.auth.username,
            jump_host = params.proxy.as_ref().map(|p| p.host.as_str()), "connecting");
        let config = client_config(&params);
        let clock = PauseClock::new();
        let deadline = Instant::now() + params.timeout;
        let jump = Self::jump_for(&params, &config, &clock, deadline).await?;
        let via = jump.as_ref().zip(params.proxy.as_deref());
        let work = establish(&spec, via, &config, &clock, true);
        let hs = match clock.run(deadline, work).await {
            Ok(result) => result,
            Err(prompt::Elapsed) => Err(timeout_error(
                "connecting and logging in to",
                &params.host,
                params.port,
                params.timeout,
            )),
        };
        let hs = match hs {
            Ok(hs) => hs,
            Err(e) => {
                if let Some(jump) = &jump {
                    jump.disconnect().await;
                }
                return Err(e);
            }
        };
        tracing::info!(host = %params.host, port = params.port, user = %params.auth.username,
            peer = %hs.peer_addr, key_type = %hs.host_key.key_type,
            fingerprint = %hs.host_key.fingerprint, "SSH connection established");
        Ok(Self::assemble(
            hs,
            params.auth.username,
            params.max_channels,
            jump,
            params.forward_agent.is_some(),
        ))
    }

    /// The jump host of `params` connected and authenticated, if it has one.
    async fn jump_for(
        params: &ConnectParams,
        config: &Arc<client::Config>,
        clock: &PauseClock,
        deadline: Instant,
    ) -> Result<Option<Connection>, Error> {
        match params.proxy.as_deref() {
            Some(proxy) => Ok(Some(
                Self::connect_jump(proxy, config, clock, deadline, params.timeout).await?,
            )),
            None => Ok(None),
        }
    }

    /// Connects and authenticates the jump host; every error is [`Error::Proxy`].
    async fn connect_jump(
        proxy: &ProxyParams,
        config: &Arc<client::Config>,
        clock: &PauseClock,
        deadline: Instant,
        limit: Duration,
    ) -> Result<Connection, Error> {
        let spec = HopSpec {
            host: &proxy.host,
            port: proxy.port,
            name: host_keys::lookup_name(&proxy.host, proxy.port),
            auth: &proxy.auth,
            policy: &proxy.host_keys,
            hop: Hop::Proxy,
            forward_agent: None,
        };
        let work = establish(&spec, None, config, clock, true);
        let hs = match clock.run(deadline, work).await {
            Ok(result) => result,
            Err(prompt::Elapsed) => Err(timeout_error(
                "connecting and logging in to",
                &proxy.host,
                proxy.port,
                limit,
            )),
        }
        .map_err(|e| e.via_proxy(&proxy.host, proxy.port))?;
        tracing::info!(host = %proxy.host, port = proxy.port, user = %proxy.auth.username,
            peer = %hs.peer_addr, "connected to the jump host");
        // The jump connection runs no commands: one slot is plenty.
        Ok(Self::assemble(
            hs,
            proxy.auth.username.clone(),
            1,
            None,
            false,
        ))
    }

    /// The connection from its authenticated session. With a jump host, this one counts as
    /// closed as soon as the jump host's connection is.
    fn assemble(
        hs: Handshake,
        username: String,
        max_channels: usize,
        jump: Option<Connection>,
        forward_agent: bool,
    ) -> Connection {
        let closed = match &jump {
            None => hs.closed,
            Some(jump) => either_closed(hs.closed, jump.inner.closed.clone()),
        };
        Connection {
            inner: Arc::new(Inner {
                handle: hs.handle,
                slots: Arc::new(Semaphore::new(max_channels.max(1))),
                username,
                peer_addr: hs.peer_addr,
                host_key: hs.host_key,
                closed,
                jump,
                forward_agent,
            }),
        }
    }

    /// Performs the handshake only (no authentication) and returns the server's key when the
    /// policy accepts it, learning it if the policy says so. Otherwise the error says why:
    /// [`Error::HostKeyUnknown`] (with the key, for a person to confirm),
    /// [`Error::HostKeyChanged`], [`Error::FingerprintMismatch`], or a connection error.
    ///
    /// Connects directly and looks the key up under `host` or `[host]:port`; for a jump host
    /// or a host key name use [`probe_host_key_for`](Self::probe_host_key_for).
    pub async fn probe_host_key(
        host: &str,
        port: u16,
        policy: &HostKeyPolicy,
        timeout: Duration,
    ) -> Result<HostKeyInfo, Error> {
        let params = ConnectParams {
            host: host.to_owned(),
            port,
            host_keys: policy.clone(),
            timeout,
            ..Default::default()
        };
        Self::probe_host_key_for(&params).await
    }

    /// Like [`probe_host_key`](Self::probe_host_key) for the server of `params`: under
    /// `params.host_key_name` if set, and through `params.proxy` if set (the jump host is
    /// connected and authenticated first, with its own host key check; its errors are
    /// [`Error::Proxy`]). `params.auth` is not used.
    pub async fn probe_host_key_for(params: &ConnectParams) -> Result<HostKeyInfo, Error> {
        let spec = target_spec(params)?;
        let config = client_config(params);
        let clock = PauseClock::new();
        let deadline = Instant::now() + params.timeout;
        let jump = Self::jump_for(params, &config, &clock, deadline).await?;
        let via = jump.as_ref().zip(params.proxy.as_deref());
        let work = async {
            let hs = establish(&spec, via, &config, &clock, false).await?;
            // Polite goodbye; the answer does not matter.
            let _ = hs
                .handle
                .disconnect(Disconnect::ByApplication, "host key check", "en")
                .await;
            Ok::<_, Error>(hs.host_key)
        };
        let result = match clock.run(deadline, work).await {
            Ok(result) => result,
            Err(prompt::Elapsed) => Err(timeout_error(
                "checking the host key of",
                &params.host,
                params.port,
                params.timeout,
            )),
        };
        if let Some(jump) = &jump {
            jump.disconnect().await;
        }
        result
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

    /// Opens a session channel, retrying while the server says it has no room, and requests
    /// agent forwarding on it when the connection forwards the agent.
    pub(super) async fn open_session(&self) -> Result<Channel<Msg>, Error> {
        let mut pause = OPEN_RETRY_FIRST;
        loop {
            match self.inner.handle.channel_open_session().await {
                Ok(ch) => {
                    if self.inner.forward_agent {
                        // No reply wanted: a server that refuses leaves the command without
                        // an agent, which the command reports itself, as with `ssh -A`.
                        if let Err(e) = ch.agent_forward(false).await {
                            let _ = ch.close().await;
                            return Err(if self.is_closed() {
                                Error::Disconnected
                            } else {
                                e.into()
                            });
                        }
                    }
                    return Ok(ch);
                }
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

    /// The jump host's address, when the connection runs through one.
    pub fn jump_peer_addr(&self) -> Option<SocketAddr> {
        self.inner.jump.as_ref().map(Connection::peer_addr)
    }

    /// The server's host key, as verified.
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
