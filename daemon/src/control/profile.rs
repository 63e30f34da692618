//! The per-profile controller.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, info, warn};
use x2god_proto::types::{ConnectionState, SessionState};

use super::Error;
use super::local::LocalSession;
use super::shared::{ListingKey, SharedListings};
use super::table::{Cause, Change, SessionTable};
use crate::config::{Paths, local_username};
use crate::profiles::ProfileSettings;
use crate::ssh::{
    self, AuthParams, ConnectParams, Connection, HostKeyPolicy, PromptHandle, Secret,
};
use crate::x2go::AgentState;
use crate::x2go::command::RemoteCommand;
use crate::x2go::envelope::Envelope;
use crate::x2go::list::{self, SessionInfo, SessionStatus};
use crate::x2go::server_info;
use crate::x2go::validate::{SessionName, Username};

/// How long one ordinary server command may take before it is abandoned.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for the `timeout` setting: TCP connect, handshake and authentication.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Session channels one connection may have open at once: OpenSSH's default `MaxSessions`.
const MAX_CHANNELS: usize = 10;
/// At most this much of a server's stderr goes into an error message.
const STDERR_LIMIT: usize = 2048;

/// How long before a client's `ListSessions` a connection's first listing may have started
/// and still answer it: that listing starts as `Connect` returns, and a client listing right
/// then would otherwise wait for it and then run its own.
const CALLER_MAX_AGE: Duration = Duration::from_millis(200);
/// First pause before reconnecting after a loss; doubled up to [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(500);
/// Longest pause between reconnect attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// How long a state change waits for the bus layer to publish it before going on anyway.
const PUBLISH_WAIT: Duration = Duration::from_secs(2);

/// An event and the acknowledgement its publisher sends once the event is on the bus, so a
/// method reply never overtakes the signals of the change it caused.
pub type EventMessage = (ProfileEvent, oneshot::Sender<()>);

/// Something a watcher of the profile (the bus layer) should publish.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileEvent {
    /// The connection state changed; `reason` says why, for people.
    StateChanged {
        /// The new state.
        state: ConnectionState,
        /// Why, in a few words.
        reason: String,
    },
    /// A listing showed a change of a session.
    Session {
        /// What changed (boxed: a session row is large next to the other events).
        change: Box<Change>,
        /// Who caused it.
        cause: Cause,
    },
    /// The connection ended without being asked to.
    ConnectionLost {
        /// Why, for people.
        reason: String,
    },
    /// x2god started or stopped displaying a session locally.
    Local {
        /// The session.
        name: String,
        /// Whether its nxproxy runs now.
        attached: bool,
    },
}

/// What `Connect` was asked to do: the effective settings and the secrets for this attempt.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// Stored settings with the caller's overrides applied.
    pub settings: ProfileSettings,
    /// Password, for password authentication or to unlock a key.
    pub password: Option<Secret>,
    /// Passphrase of an encrypted key.
    pub passphrase: Option<Secret>,
    /// Password for the jump host.
    pub proxy_password: Option<Secret>,
    /// Passphrase of the jump host's encrypted key.
    pub proxy_passphrase: Option<Secret>,
    /// Who to ask for what is still missing (a registered agent), if anyone.
    pub prompter: Option<PromptHandle>,
}

impl ConnectRequest {
    /// A request with `settings` and no secrets: keys, the agent and the keyring only.
    pub fn new(settings: ProfileSettings) -> ConnectRequest {
        ConnectRequest {
            settings,
            password: None,
            passphrase: None,
            proxy_password: None,
            proxy_passphrase: None,
            prompter: None,
        }
    }
}

#[derive(Default)]
struct ServerCache {
    features: Option<Vec<String>>,
    versions: Option<BTreeMap<String, String>>,
    /// When shadow sessions were last listed on this connection.
    full_listing: Option<std::time::Instant>,
}

/// Counts one call in progress (a `ShareDesktop`, a lifecycle operation) for as long as it
/// lives.
pub(super) struct CountGuard<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> CountGuard<'a> {
    pub(super) fn new(count: &'a std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        CountGuard(count)
    }
}

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How long a listing may leave out shadow sessions (see `listing_text`); the watcher's
/// periodic listing comes as often.
const SHADOW_LISTING_EVERY: Duration = Duration::from_secs(120);

struct Live {
    state: ConnectionState,
    connection: Option<Connection>,
    /// Who the connection is logged in as, where (see [`account_of`]).
    account: Option<String>,
    /// Bumped on every connect/disconnect so a stale watcher cannot mark a newer connection lost.
    generation: u64,
    last_error: String,
    died: bool,
    cache: ServerCache,
    /// The settings of the last successful connect, for reconnecting after a loss (secrets
    /// are not kept: a reconnect uses keys, the agent or the keyring only).
    reconnect: Option<ProfileSettings>,
}

/// Where a profile's settings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    /// x2god's own `profiles.toml`: read and written by x2god.
    Own,
    /// A section of an x2goclient / python-x2go sessions file, which x2god only reads.
    X2goClient {
        /// The section (profile id) in the file.
        id: String,
        /// Why x2god cannot connect this profile (e.g. an HTTP proxy), if it cannot.
        unsupported: Option<String>,
    },
}

impl ProfileSource {
    /// The `Source` property's value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProfileSource::Own => "x2god",
            ProfileSource::X2goClient { .. } => "x2goclient",
        }
    }
}

/// The account a connection logs in to, as a key for [`SharedListings`]: equal for profiles
/// that get the same answers from the server (the jump host is part of it, since a name may
/// mean another machine behind it).
fn account_of(params: &ConnectParams) -> String {
    let mut account = format!("{}@[{}]:{}", params.auth.username, params.host, params.port);
    if let Some(proxy) = &params.proxy {
        account.push_str(&format!(
            " via {}@[{}]:{}",
            proxy.auth.username, proxy.host, proxy.port
        ));
    }
    account
}

/// Owns one profile's settings and connection.
pub struct ProfileController {
    name: Mutex<String>,
    source: ProfileSource,
    settings: Mutex<ProfileSettings>,
    paths: Arc<Paths>,
    /// Listings shared with the daemon's other profiles of the same account.
    listings: Arc<SharedListings>,
    live: Mutex<Live>,
    /// Serialises Connect/Disconnect so two callers never build two connections.
    connect_lock: tokio::sync::Mutex<()>,
    events: mpsc::UnboundedSender<EventMessage>,
    /// Sessions as last listed.
    pub(super) table: Mutex<SessionTable>,
    /// Sessions this daemon displays, by name.
    pub(super) local: Mutex<HashMap<String, LocalSession>>,
    /// Wakes the watcher for an immediate listing.
    pub(super) kick: Notify,
    /// Sessions were added to or removed from the table: the watcher tells its script (which
    /// follows the listed sessions' state files) the new set.
    pub(super) names_changed: Notify,
    /// The published-applications entries and the raw text, cached per connection.
    pub(super) apps: Mutex<Option<(Arc<Vec<crate::x2go::apps::AppEntry>>, String)>>,
    /// How to show again, after a reconnect, each session x2god shows (see `auto_resume`).
    pub(super) viewing: Mutex<HashMap<String, super::ResumePlan>>,
    /// One lock per session name: lifecycle operations on one session never overlap.
    op_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Resumes waiting for their agent to listen (see [`Self::await_agent_listening`]).
    listening: Mutex<HashMap<String, oneshot::Sender<u16>>>,
    /// `ShareDesktop` calls in progress: their listings must include shadow sessions.
    pub(super) sharing: std::sync::atomic::AtomicUsize,
    /// Lifecycle operations in progress (start, resume, suspend, terminate): the watcher holds
    /// back its listings meanwhile (see `control::watcher`), as each operation ends with one.
    busy: std::sync::atomic::AtomicUsize,
    /// The running watcher, which lists on request.
    pub(super) lister: Mutex<Option<super::watcher::Lister>>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these short locks leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ProfileController {
    /// A disconnected controller; events go to `events`.
    pub fn new(
        name: String,
        settings: ProfileSettings,
        source: ProfileSource,
        paths: Arc<Paths>,
        listings: Arc<SharedListings>,
        events: mpsc::UnboundedSender<EventMessage>,
    ) -> Arc<ProfileController> {
        Arc::new(ProfileController {
            name: Mutex::new(name),
            source,
            settings: Mutex::new(settings),
            paths,
            listings,
            live: Mutex::new(Live {
                state: ConnectionState::Disconnected,
                connection: None,
                account: None,
                generation: 0,
                last_error: String::new(),
                died: false,
                cache: ServerCache::default(),
                reconnect: None,
            }),
            connect_lock: tokio::sync::Mutex::new(()),
            events,
            table: Mutex::new(SessionTable::default()),
            local: Mutex::new(HashMap::new()),
            kick: Notify::new(),
            names_changed: Notify::new(),
            apps: Mutex::new(None),
            viewing: Mutex::new(HashMap::new()),
            op_locks: Mutex::new(HashMap::new()),
            sharing: std::sync::atomic::AtomicUsize::new(0),
            busy: std::sync::atomic::AtomicUsize::new(0),
            listening: Mutex::new(HashMap::new()),
            lister: Mutex::new(None),
        })
    }

    /// The profile's current name.
    pub fn name(&self) -> String {
        lock(&self.name).clone()
    }

    /// Renames the profile (the registry moves the object and saves the file).
    pub fn set_name(&self, name: String) {
        *lock(&self.name) = name;
    }

    /// Where the settings come from.
    pub fn source(&self) -> &ProfileSource {
        &self.source
    }

    /// Whether the settings belong to another program's file, which x2god never writes.
    pub fn read_only(&self) -> bool {
        self.source != ProfileSource::Own
    }

    /// A copy of the stored settings.
    pub fn settings(&self) -> ProfileSettings {
        lock(&self.settings).clone()
    }

    /// Replaces the stored settings; they apply from the next connect on.
    pub fn set_settings(&self, settings: ProfileSettings) {
        *lock(&self.settings) = settings;
    }

    /// The remote user name the profile connects as.
    pub fn username(&self) -> String {
        lock(&self.settings)
            .username
            .clone()
            .or_else(local_username)
            .unwrap_or_default()
    }

    /// Current connection state.
    pub fn state(&self) -> ConnectionState {
        lock(&self.live).state
    }

    /// The last connection error, for people; empty when none.
    pub fn last_error(&self) -> String {
        lock(&self.live).last_error.clone()
    }

    /// Which connection is current; bumped on every connect and disconnect.
    pub(super) fn generation(&self) -> u64 {
        lock(&self.live).generation
    }

    /// Seconds between listings when the server-side watcher is unavailable.
    pub(super) fn poll_interval(&self) -> Duration {
        lock(&self.settings)
            .session
            .poll_interval
            .filter(|t| t.is_finite() && *t > 0.0)
            .map_or(Duration::from_secs(2), Duration::from_secs_f64)
    }

    /// Whether the connection ended without being asked to.
    pub fn has_died(&self) -> bool {
        lock(&self.live).died
    }

    /// The authenticated remote user, empty when disconnected.
    pub fn remote_username(&self) -> String {
        lock(&self.live)
            .connection
            .as_ref()
            .map(|c| c.username().to_owned())
            .unwrap_or_default()
    }

    /// The live connection's peer as `address:port`, empty when disconnected.
    pub fn remote_peername(&self) -> String {
        lock(&self.live)
            .connection
            .as_ref()
            .map(|c| c.peer_addr().to_string())
            .unwrap_or_default()
    }

    async fn set_state(&self, state: ConnectionState, reason: impl Into<String>) {
        let reason = reason.into();
        {
            let mut live = lock(&self.live);
            if live.state == state {
                return;
            }
            live.state = state;
        }
        info!(profile = %self.name(), %state, %reason, "connection state changed");
        self.emit(ProfileEvent::StateChanged { state, reason })
            .await;
    }

    /// Hands `event` to the bus layer and waits until it is published, so that a method reply
    /// never overtakes the signals of the change it caused.
    pub(super) async fn emit(&self, event: ProfileEvent) {
        let (ack, published) = oneshot::channel();
        // The receiver lives as long as the bus object; a closed channel only means shutdown.
        if self.events.send((event, ack)).is_ok() {
            let _ = tokio::time::timeout(PUBLISH_WAIT, published).await;
        }
    }

    /// Counts a lifecycle operation in progress for as long as the guard lives.
    pub(super) fn busy(&self) -> CountGuard<'_> {
        CountGuard::new(&self.busy)
    }

    /// Whether a lifecycle operation is in progress.
    pub(super) fn is_busy(&self) -> bool {
        self.busy.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    /// The lock that serialises lifecycle operations on session `name`.
    pub(super) fn op_lock(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.op_locks)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    fn host_key_policy(&self, add_unknown: bool, prompter: Option<PromptHandle>) -> HostKeyPolicy {
        HostKeyPolicy {
            read_files: vec![
                self.paths.user_ssh_dir.join("known_hosts"),
                self.paths.known_hosts.clone(),
            ],
            own_file: self.paths.known_hosts.clone(),
            add_unknown,
            trusted_fingerprint: None,
            prompter,
        }
    }

    fn home_dir(&self) -> Option<PathBuf> {
        self.paths.user_ssh_dir.parent().map(Path::to_path_buf)
    }

    /// The connect timeout of `s`, checked.
    fn checked_timeout(s: &ProfileSettings) -> Result<Duration, Error> {
        match s.timeout {
            Some(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => Ok(Duration::from_secs_f64(t)),
            Some(t) => Err(Error::InvalidArgument(format!(
                "timeout must be between 0 and 3600 seconds, not {t}"
            ))),
            None => Ok(CONNECT_TIMEOUT),
        }
    }

    /// The local agent socket, for `allow_agent` and `forward_sshagent`.
    fn agent_socket() -> Option<PathBuf> {
        std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }

    fn connect_params(&self, req: ConnectRequest) -> Result<ConnectParams, Error> {
        let s = req.settings;
        let host = validate_hostname(&s.hostname)?;
        let username = match s.username.clone().or_else(local_username) {
            Some(u) => u,
            None => {
                return Err(Error::InvalidArgument(
                    "no username given and the local user name is unknown".into(),
                ));
            }
        };
        Username::parse(&username)?;
        let home = self.home_dir();
        let expand = |files: &[PathBuf]| -> Vec<PathBuf> {
            files
                .iter()
                .map(|p| expand_tilde(p, home.as_deref()))
                .collect()
        };
        let timeout = Self::checked_timeout(&s)?;
        let key_files = expand(&s.key_filename);
        let auth = AuthParams {
            username: username.clone(),
            password: req.password.clone(),
            passphrase: req.passphrase.clone(),
            key_files: key_files.clone(),
            allow_agent: s.allow_agent,
            look_for_keys: s.look_for_keys,
            force_password_auth: s.force_password_auth,
            ssh_dir: self.paths.user_ssh_dir.clone(),
            agent_socket: Self::agent_socket(),
            prompter: req.prompter.clone(),
        };
        let host_keys = self.host_key_policy(s.add_to_known_hosts, req.prompter.clone());
        // Through a jump host the target is reached at the tunnel's remote address.
        let (target_host, target_port, proxy) = match &s.sshproxy {
            None => (host, s.port, None),
            Some(p) => {
                let (th, tp) = p.target(&host, s.port).map_err(Error::InvalidArgument)?;
                let th = validate_hostname(&th)?;
                let proxy_host = validate_hostname(&p.host)?;
                let proxy_user = p.user.clone().unwrap_or_else(|| username.clone());
                Username::parse(&proxy_user)?;
                let reuse = p.reuse_authinfo;
                let proxy_auth = AuthParams {
                    username: proxy_user,
                    password: req
                        .proxy_password
                        .clone()
                        .or_else(|| reuse.then(|| req.password.clone()).flatten()),
                    passphrase: req
                        .proxy_passphrase
                        .clone()
                        .or_else(|| reuse.then(|| req.passphrase.clone()).flatten()),
                    key_files: if reuse && p.key_filename.is_empty() {
                        key_files.clone()
                    } else {
                        expand(&p.key_filename)
                    },
                    allow_agent: p.allow_agent || (reuse && s.allow_agent),
                    look_for_keys: p.look_for_keys || (reuse && s.look_for_keys),
                    force_password_auth: p.force_password_auth,
                    ssh_dir: self.paths.user_ssh_dir.clone(),
                    agent_socket: Self::agent_socket(),
                    prompter: req.prompter.clone(),
                };
                let proxy_keys = self.host_key_policy(s.add_to_known_hosts, req.prompter.clone());
                let proxy = ssh::ProxyParams {
                    host: proxy_host,
                    port: p.port,
                    auth: proxy_auth,
                    host_keys: proxy_keys,
                };
                (th, tp, Some(Box::new(proxy)))
            }
        };
        Ok(ConnectParams {
            host: target_host,
            port: target_port,
            auth,
            host_keys,
            timeout,
            max_channels: MAX_CHANNELS,
            keepalive_interval: Some(
                s.keepalive_interval
                    .filter(|t| t.is_finite() && *t > 0.0)
                    .map_or(Duration::from_secs(15), Duration::from_secs_f64),
            ),
            keepalive_max: s.keepalive_count.map_or(3, |c| c as usize),
            proxy,
            host_key_name: s.unique_hostkey_aliases.then(|| self.host_key_alias()),
            forward_agent: if s.forward_sshagent {
                Self::agent_socket()
            } else {
                None
            },
        })
    }

    /// The known_hosts name of the server under `unique_hostkey_aliases`: the profile, not
    /// the address, so profiles reaching different servers through one address stay apart.
    fn host_key_alias(&self) -> String {
        let name: String = self
            .name()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("x2god-profile-{name}")
    }

    /// Fills the secrets the caller did not give from the keyring, for the kinds the profile
    /// has stored there. A keyring that cannot be read is logged and skipped: the agent (or
    /// an AuthFailed naming what was tried) follows.
    async fn fill_from_keyring(&self, req: &mut ConnectRequest) {
        use x2god_proto::names::secret_kind as kind;
        // Profiles read from another program's file have no record of what is stored: try
        // every kind.
        let stored: Vec<String> = if self.read_only() {
            kind::STORABLE.iter().map(|k| (*k).to_owned()).collect()
        } else {
            req.settings.keyring.clone()
        };
        let name = self.name();
        for k in stored {
            let slot = match k.as_str() {
                kind::PASSWORD => &mut req.password,
                kind::PASSPHRASE => &mut req.passphrase,
                kind::SSHPROXY_PASSWORD => &mut req.proxy_password,
                kind::SSHPROXY_PASSPHRASE => &mut req.proxy_passphrase,
                _ => continue,
            };
            if slot.is_some() {
                continue;
            }
            match super::keyring::lookup(&name, &k).await {
                Ok(Some(secret)) => {
                    debug!(profile = %name, kind = %k, "secret taken from the keyring");
                    *slot = Some(secret);
                }
                Ok(None) => debug!(profile = %name, kind = %k, "listed secret not in the keyring"),
                Err(e) => {
                    // An unreachable or locked keyring fails every kind alike, each after its
                    // timeout: one failure is enough to go on without it.
                    warn!(profile = %name, kind = %k, error = %e, "keyring lookup failed");
                    break;
                }
            }
        }
    }

    /// Connects and authenticates. Already connected: nothing to do.
    pub async fn connect(self: &Arc<Self>, req: ConnectRequest) -> Result<(), Error> {
        self.connect_as(req, ConnectionState::Disconnected).await
    }

    /// Connects; on failure the state becomes `failed_state` (`lost` while reconnecting).
    async fn connect_as(
        self: &Arc<Self>,
        mut req: ConnectRequest,
        failed_state: ConnectionState,
    ) -> Result<(), Error> {
        if let ProfileSource::X2goClient {
            unsupported: Some(why),
            ..
        } = &self.source
        {
            return Err(Error::NotSupported(format!(
                "profile {:?} cannot be connected by x2god: {why}",
                self.name()
            )));
        }
        let _guard = self.connect_lock.lock().await;
        let settings = req.settings.clone();
        if self.state() != ConnectionState::Connected || self.connection_closed() {
            self.fill_from_keyring(&mut req).await;
        }
        // Validated even when connected: a refused value is refused in every state.
        let params = self.connect_params(req)?;
        if self.state() == ConnectionState::Connected && !self.connection_closed() {
            let current = lock(&self.live).reconnect.clone();
            if current.is_some_and(|c| c != settings) {
                return Err(Error::InvalidArgument(
                    "already connected with other settings; Disconnect first".into(),
                ));
            }
            return Ok(());
        }
        self.set_state(ConnectionState::Connecting, "connect requested")
            .await;
        let host = params.host.clone();
        let port = params.port;
        let account = account_of(&params);
        match Connection::connect(params).await {
            Ok(conn) => {
                let generation = {
                    let mut live = lock(&self.live);
                    live.generation += 1;
                    live.connection = Some(conn.clone());
                    live.account = Some(account);
                    live.last_error.clear();
                    live.died = false;
                    live.cache = ServerCache::default();
                    live.reconnect = Some(settings);
                    *lock(&self.apps) = None;
                    live.generation
                };
                self.spawn_watch(conn.clone(), generation);
                super::watcher::spawn(self, conn, generation);
                info!(profile = %self.name(), %host, port, "connected");
                self.set_state(ConnectionState::Connected, "authenticated")
                    .await;
                Ok(())
            }
            Err(e) => {
                warn!(profile = %self.name(), %host, port, error = %e, "connect failed");
                lock(&self.live).last_error = e.to_string();
                self.set_state(failed_state, format!("connect failed: {e}"))
                    .await;
                Err(e.into())
            }
        }
    }

    fn connection_closed(&self) -> bool {
        lock(&self.live)
            .connection
            .as_ref()
            .is_none_or(Connection::is_closed)
    }

    /// Marks the profile lost when its connection ends without a Disconnect.
    fn spawn_watch(self: &Arc<Self>, conn: Connection, generation: u64) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            conn.closed().await;
            let Some(this) = weak.upgrade() else { return };
            let current = {
                let mut live = lock(&this.live);
                let current = live.generation == generation;
                if current {
                    live.connection = None;
                    live.died = true;
                    live.last_error = "the connection to the server was lost".into();
                }
                current
            };
            if current {
                let reason = "connection closed by the server or network";
                this.set_state(ConnectionState::Lost, reason).await;
                this.emit(ProfileEvent::ConnectionLost {
                    reason: reason.into(),
                })
                .await;
                this.spawn_reconnect(generation);
            }
        });
    }

    /// After a loss: reconnect with capped exponential backoff and jitter, using only what
    /// needs no person (keys, agent); then resume what was shown, if `auto_resume`.
    fn spawn_reconnect(self: &Arc<Self>, lost_generation: u64) {
        let Some(settings) = lock(&self.live).reconnect.clone() else {
            return;
        };
        if settings.auto_reconnect == Some(false) {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut delay = RECONNECT_FIRST;
            loop {
                let jitter = rand::random_range(0.8..1.2);
                tokio::time::sleep(delay.mul_f64(jitter)).await;
                let Some(this) = weak.upgrade() else { return };
                // A Connect or Disconnect by a client meanwhile takes over.
                if this.generation() != lost_generation || this.state() != ConnectionState::Lost {
                    return;
                }
                let req = ConnectRequest::new(settings.clone());
                match this.connect_as(req, ConnectionState::Lost).await {
                    Ok(()) => {
                        info!(profile = %this.name(), "reconnected");
                        this.resume_viewed().await;
                        return;
                    }
                    Err(Error::Ssh(e))
                        if matches!(
                            e.innermost(),
                            ssh::Error::AuthFailed { .. }
                                | ssh::Error::HostKeyUnknown { .. }
                                | ssh::Error::HostKeyChanged { .. }
                                | ssh::Error::HostKeyRevoked { .. }
                                | ssh::Error::KeyFile { .. }
                                | ssh::Error::Cancelled(_)
                                | ssh::Error::InvalidParams(_)
                        ) =>
                    {
                        // Needs a person: stay lost until a client connects.
                        warn!(profile = %this.name(), error = %e, "cannot reconnect without help");
                        return;
                    }
                    Err(e) => {
                        debug!(profile = %this.name(), error = %e, ?delay, "reconnect failed; retrying");
                        delay = (delay * 2).min(RECONNECT_MAX);
                    }
                }
            }
        });
    }

    /// Resumes the sessions that were shown when the connection was lost (`auto_resume`).
    async fn resume_viewed(self: &Arc<Self>) {
        let plans: Vec<(String, super::ResumePlan)> = if self.settings().auto_resume {
            lock(&self.viewing).drain().collect()
        } else {
            lock(&self.viewing).clear();
            Vec::new()
        };
        for (name, plan) in plans {
            match self.resume(&name, plan).await {
                Ok(()) => info!(profile = %self.name(), session = %name, "resumed after reconnect"),
                Err(e) => {
                    warn!(profile = %self.name(), session = %name, error = %e, "cannot resume after reconnect")
                }
            }
        }
    }

    /// Closes the connection, if any.
    pub async fn disconnect(&self) {
        let _guard = self.connect_lock.lock().await;
        let conn = {
            let mut live = lock(&self.live);
            live.generation += 1;
            live.died = false;
            live.reconnect = None;
            live.connection.take()
        };
        if let Some(conn) = conn {
            conn.disconnect().await;
        }
        self.set_state(ConnectionState::Disconnected, "disconnect requested")
            .await;
    }

    /// Connection parameters for a host-key probe: the stored settings, keyring secrets for a
    /// jump host's login, and `trusted` accepted on whichever hop presents it.
    async fn probe_params(
        &self,
        trusted: Option<String>,
        prompter: Option<PromptHandle>,
    ) -> Result<ConnectParams, Error> {
        let mut req = ConnectRequest::new(self.settings());
        req.prompter = prompter;
        if req.settings.sshproxy.is_some() {
            self.fill_from_keyring(&mut req).await;
        }
        let mut params = self.connect_params(req)?;
        let hops = std::iter::once(&mut params.host_keys)
            .chain(params.proxy.as_deref_mut().map(|p| &mut p.host_keys));
        for keys in hops {
            keys.add_unknown = false;
            keys.prompter = None;
            keys.trusted_fingerprint.clone_from(&trusted);
        }
        Ok(params)
    }

    /// Checks the server's host key without authenticating: true if known, false if unknown.
    /// Through a jump host, the jump host's key must be known (an unknown one is the error
    /// `HostKeyUnknown` naming the jump host) and its login succeed.
    pub async fn check_host(&self, prompter: Option<PromptHandle>) -> Result<bool, Error> {
        let params = self.probe_params(None, prompter).await?;
        match Connection::probe_host_key_for(&params).await {
            Ok(_) => Ok(true),
            Err(e @ ssh::Error::Proxy { .. }) => Err(e.into()),
            Err(ssh::Error::HostKeyUnknown { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Learns the host key whose fingerprint is `fingerprint`: the jump host's when it presents
    /// that unknown key, else the server's.
    pub async fn trust_host_key(
        &self,
        fingerprint: &str,
        prompter: Option<PromptHandle>,
    ) -> Result<(), Error> {
        let fingerprint = fingerprint.trim();
        if !fingerprint.starts_with("SHA256:") || fingerprint.len() > 80 {
            return Err(Error::InvalidArgument(format!(
                "a host key fingerprint looks like SHA256:<base64>, not {:?}",
                truncate(fingerprint, 80)
            )));
        }
        let params = self
            .probe_params(Some(fingerprint.to_owned()), prompter)
            .await?;
        // The jump host first, on its own: when it presents this fingerprint, trusting it is
        // all that was asked (the server behind it may still be unknown).
        if let Some(p) = params.proxy.as_deref() {
            let info = Connection::probe_host_key(&p.host, p.port, &p.host_keys, params.timeout)
                .await
                .map_err(|e| e.via_proxy(&p.host, p.port))?;
            if info.fingerprint == fingerprint {
                info!(profile = %self.name(), host = %p.host, %fingerprint, "jump host key trusted");
                return Ok(());
            }
        }
        let host = params.host.clone();
        Connection::probe_host_key_for(&params).await?;
        info!(profile = %self.name(), %host, %fingerprint, "host key trusted");
        Ok(())
    }

    pub(super) fn connection(&self) -> Result<Connection, Error> {
        match &lock(&self.live).connection {
            Some(c) if !c.is_closed() => Ok(c.clone()),
            _ => Err(Error::NotConnected(self.name())),
        }
    }

    /// Whether the server answers a round trip within a few seconds.
    pub async fn is_alive(&self) -> bool {
        match self.connection() {
            // Generous: a busy server is alive; a hung one is caught by the keepalives.
            Ok(c) => c.ping(Duration::from_secs(15)).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Runs one command in the envelope; returns the envelope (to unwrap stdout) and the raw
    /// output.
    async fn exec_enveloped(
        &self,
        cmd: &RemoteCommand,
        timeout: Duration,
    ) -> Result<(Envelope, crate::ssh::ExecOutput), Error> {
        let conn = self.connection()?;
        let envelope = Envelope::new(&new_marker()).map_err(|e| Error::Protocol {
            command: cmd.name().to_owned(),
            reason: e.to_string(),
        })?;
        debug!(profile = %self.name(), command = cmd.name(), "running server command");
        let out = conn.exec(&envelope.wrap(cmd), timeout).await?;
        Ok((envelope, out))
    }

    /// Runs one X2Go command and returns its payload, or the server's error.
    pub(super) async fn run(
        &self,
        cmd: &RemoteCommand,
        timeout: Duration,
    ) -> Result<Vec<u8>, Error> {
        let (envelope, out) = self.exec_enveloped(cmd, timeout).await?;
        if out.exit_status != Some(0) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Server {
                command: cmd.name().to_owned(),
                status: out.exit_status,
                stderr: truncate(stderr.trim(), STDERR_LIMIT).to_owned(),
            });
        }
        envelope.unwrap(&out.stdout).map_err(|e| Error::Protocol {
            command: cmd.name().to_owned(),
            reason: e.to_string(),
        })
    }

    /// Runs a probe whose answer is its exit status.
    pub(super) async fn run_status(
        &self,
        cmd: &RemoteCommand,
        timeout: Duration,
    ) -> Result<Option<u32>, Error> {
        Ok(self.exec_enveloped(cmd, timeout).await?.1.exit_status)
    }

    /// The listing's text. Listing shadow sessions is a second Perl start on the server,
    /// which doubles a warm `ListSessions`; it is done on a connection's first listing, at
    /// least every [`SHADOW_LISTING_EVERY`], and always while a shadow session is known or
    /// being started here. So a shadow session another client starts shows within that time,
    /// every other change at once.
    async fn listing_text(&self, max_age: Duration, route: Route) -> Result<String, Error> {
        let has_shadow = lock(&self.table)
            .all()
            .any(|s| s.name.kind() == crate::x2go::validate::SessionKind::Shadow);
        let full = has_shadow
            || self.sharing.load(std::sync::atomic::Ordering::Relaxed) > 0
            || lock(&self.live)
                .cache
                .full_listing
                .is_none_or(|t| t.elapsed() >= SHADOW_LISTING_EVERY);
        // Not connected: an error, even though another profile could answer.
        self.connection()?;
        let (account, first) = {
            let live = lock(&self.live);
            (live.account.clone(), live.cache.full_listing.is_none())
        };
        // Only the connection's first listing may be joined late: later, a run under way may
        // have started before an operation of ours that the caller expects to see.
        let max_age = if first { max_age } else { Duration::ZERO };
        let started = std::time::Instant::now();
        let text = match account {
            Some(account) => {
                let key = ListingKey {
                    account,
                    with_shadow: full,
                };
                let mut own_error = None;
                let shared = self
                    .listings
                    .get(key, max_age, || async {
                        match self.run_listing(full, route).await {
                            Ok(out) => Some(out),
                            Err(e) => {
                                own_error = Some(e);
                                None
                            }
                        }
                    })
                    .await;
                match (shared, own_error) {
                    (Some(text), _) => text.to_string(),
                    (None, Some(e)) => return Err(e),
                    // Another profile's run failed: its connection, not necessarily ours.
                    (None, None) => self.run_listing(full, route).await?,
                }
            }
            None => self.run_listing(full, route).await?,
        };
        if full {
            lock(&self.live).cache.full_listing = Some(started);
        }
        Ok(text)
    }

    /// Runs the listing (with shadow sessions if `include_shadow`): asked of the watcher's
    /// script when one runs on the current connection — one round trip, no channel to open —
    /// else as a command of its own.
    async fn run_listing(&self, include_shadow: bool, route: Route) -> Result<String, Error> {
        let command = RemoteCommand::list_sessions(include_shadow);
        let generation = self.generation();
        let requests = lock(&self.lister)
            .as_ref()
            .filter(|l| route == Route::Watcher && l.generation == generation)
            .map(|l| l.requests.clone());
        if let Some(requests) = requests {
            debug!(profile = %self.name(), command = command.name(), via = "watcher",
                "running server command");
            let (reply, answer) = oneshot::channel();
            let asked = requests.send(super::watcher::ListRequest {
                include_shadow,
                reply,
            });
            if asked.is_ok() {
                match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
                    Ok(Ok(result)) => return result,
                    // The watcher ended first: list the usual way.
                    Ok(Err(_)) => {}
                    Err(_) => {
                        return Err(Error::Ssh(ssh::Error::Timeout(format!(
                            "x2golistsessions did not finish within {} s",
                            COMMAND_TIMEOUT.as_secs()
                        ))));
                    }
                }
            }
        }
        let out = self.run(&command, COMMAND_TIMEOUT).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The server's `x2golistsessions` output as is, for a client (as
    /// [`ProfileController::list_sessions_for_caller`]).
    pub async fn list_sessions_raw(&self) -> Result<String, Error> {
        self.listing_text(CALLER_MAX_AGE, Route::Watcher).await
    }

    /// [`ProfileController::list_sessions`] for a client's `ListSessions`, which accepts the
    /// connection's first listing if it started up to [`CALLER_MAX_AGE`] before the call: the
    /// changes it could miss are those of that fraction of a second, which the watcher
    /// reports anyway.
    pub async fn list_sessions_for_caller(&self) -> Result<Vec<SessionInfo>, Error> {
        self.list_sessions_within(CALLER_MAX_AGE, Route::Watcher)
            .await
    }

    /// The user's sessions; lines that do not parse are skipped and logged. Every listing
    /// updates the session table, and its changes are published before this returns.
    pub async fn list_sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        self.list_sessions_within(Duration::ZERO, Route::Watcher)
            .await
    }

    /// [`ProfileController::list_sessions`] for the watcher itself: as a command of its own,
    /// so that the watcher's script stays free to report the next change meanwhile.
    pub(super) async fn refresh_sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        self.list_sessions_within(Duration::ZERO, Route::Exec).await
    }

    async fn list_sessions_within(
        &self,
        max_age: Duration,
        route: Route,
    ) -> Result<Vec<SessionInfo>, Error> {
        let ticket = lock(&self.table).ticket();
        let text = self.listing_text(max_age, route).await?;
        let listing = list::parse_listing(&text);
        for skipped in &listing.skipped {
            debug!(profile = %self.name(), line = skipped.line_no, reason = %skipped.reason, "skipped a session line");
        }
        let changes = lock(&self.table).apply(ticket, listing.sessions.clone());
        if changes
            .iter()
            .any(|(c, _)| matches!(c, Change::Added(_) | Change::Removed(_)))
        {
            self.names_changed.notify_one();
        }
        for (change, cause) in changes {
            self.emit(ProfileEvent::Session {
                change: Box::new(change),
                cause,
            })
            .await;
        }
        Ok(listing.sessions)
    }

    /// Waits, for a resume of session `name` in progress, for the watcher to see its agent
    /// resume (see [`Self::agent_listens`]); replaces an earlier wait for the same session.
    pub(super) fn await_agent_listening(&self, name: &str) -> oneshot::Receiver<u16> {
        let (tx, rx) = oneshot::channel();
        lock(&self.listening).insert(name.to_owned(), tx);
        rx
    }

    /// Stops waiting as [`Self::await_agent_listening`] asked.
    pub(super) fn forget_agent_listening(&self, name: &str) {
        lock(&self.listening).remove(name);
    }

    /// The watcher saw the agent of session `name` resume, listening on graphics port `port`:
    /// a resume of ours waiting for that can start nxproxy before `x2goresume-session` has
    /// done its bookkeeping (some 0.4 s).
    pub(super) fn agent_listens(&self, name: &str, port: u16) {
        if let Some(tx) = lock(&self.listening).remove(name) {
            let _ = tx.send(port);
        }
    }

    /// Publishes what the watcher read from session `name`'s agent state file, where it
    /// changes the session's listed state (see `SessionTable::observe`).
    pub(super) async fn observe_agent(&self, name: &str, state: AgentState) {
        let change = lock(&self.table).observe(name, state);
        if let Some((change, cause)) = change {
            debug!(profile = %self.name(), session = name, agent = state.as_str(), "agent state changed");
            self.emit(ProfileEvent::Session {
                change: Box::new(change),
                cause,
            })
            .await;
        }
    }

    /// A session as last listed.
    pub fn session_info(&self, name: &str) -> Option<SessionInfo> {
        lock(&self.table).get(name).cloned()
    }

    /// Every session as last listed.
    pub fn known_sessions(&self) -> Vec<SessionInfo> {
        lock(&self.table).all().cloned().collect()
    }

    /// Whether x2god displays `name` locally (its nxproxy runs).
    pub fn is_local(&self, name: &str) -> bool {
        lock(&self.local)
            .get(name)
            .is_some_and(LocalSession::is_running)
    }

    /// Where `name` stands now: listed running or suspended, gone, or never seen.
    pub async fn session_state(&self, name: &str) -> Result<SessionState, Error> {
        let name = SessionName::parse(name)?;
        let sessions = self.list_sessions().await?;
        Ok(match sessions.iter().find(|s| s.name == name) {
            Some(s) if s.status == SessionStatus::Suspended => SessionState::Suspended,
            Some(_) => SessionState::Running,
            None if lock(&self.table).was_seen(name.as_str()) => SessionState::Terminated,
            None => SessionState::Unknown,
        })
    }

    /// The server's X2Go features, cached for the life of the connection.
    pub async fn server_features(&self, force: bool) -> Result<Vec<String>, Error> {
        if !force && let Some(cached) = &lock(&self.live).cache.features {
            return Ok(cached.clone());
        }
        let out = self
            .run(&RemoteCommand::feature_list(), COMMAND_TIMEOUT)
            .await?;
        let features: Vec<String> = server_info::parse_feature_list(&String::from_utf8_lossy(&out))
            .iter()
            .map(str::to_owned)
            .collect();
        lock(&self.live).cache.features = Some(features.clone());
        Ok(features)
    }

    /// The server's X2Go component versions, cached for the life of the connection.
    pub async fn server_versions(&self, force: bool) -> Result<BTreeMap<String, String>, Error> {
        if !force && let Some(cached) = &lock(&self.live).cache.versions {
            return Ok(cached.clone());
        }
        let out = self
            .run(&RemoteCommand::versions(), COMMAND_TIMEOUT)
            .await?;
        let versions = server_info::parse_versions(&String::from_utf8_lossy(&out));
        lock(&self.live).cache.versions = Some(versions.clone());
        Ok(versions)
    }
}

/// Where a listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Asked of the watcher's script when one runs (one round trip, no channel to open).
    Watcher,
    /// As a command of its own.
    Exec,
}

/// A fresh marker for the exec envelope: unguessable, so server output cannot fake the end.
pub(super) fn new_marker() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Accepts host names and IPv4/IPv6 literals; nothing that could be mistaken for an option.
pub fn validate_hostname(host: &str) -> Result<String, Error> {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    let ok = !h.is_empty()
        && h.len() <= 253
        && !h.starts_with('-')
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '%'));
    if ok {
        Ok(h.to_owned())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid host name {:?}",
            truncate(host, 64)
        )))
    }
}

fn expand_tilde(p: &Path, home: Option<&Path>) -> PathBuf {
    match (p.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_path_buf(),
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert_eq!(validate_hostname("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(validate_hostname("[::1]").unwrap(), "::1");
        assert_eq!(
            validate_hostname("srv.example.org").unwrap(),
            "srv.example.org"
        );
        for bad in ["", "-oProxyCommand=x", "a b", "a;b", "a\nb", "x$(id)"] {
            assert!(validate_hostname(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tilde() {
        let home = Path::new("/home/u");
        assert_eq!(
            expand_tilde(Path::new("~/.ssh/id"), Some(home)),
            Path::new("/home/u/.ssh/id")
        );
        assert_eq!(expand_tilde(Path::new("/k"), Some(home)), Path::new("/k"));
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
