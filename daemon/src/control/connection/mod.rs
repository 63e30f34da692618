//! A profile's SSH connection: its state machine (disconnected → connecting → connected,
//! lost), connecting with the profile's settings, noticing a loss, and reconnecting with
//! capped exponential backoff. Keepalives are the SSH layer's (`ConnectParams`); what runs over
//! the connection is the business of the other parts of the controller.

#[cfg(test)]
mod config_tests;
mod jump_chain;
mod params;
mod probe;
mod ssh_config;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tracing::{debug, info, warn};
use x2god_proto::types::ConnectionState;

use super::error::Error;
use super::events::{Events, ProfileEvent};
use super::sync::{SharedName, lock};
use crate::profiles::ProfileSettings;
use crate::ssh::{self, Connection};

pub use params::{ConnectRequest, validate_hostname};
pub(crate) use params::{ParamsSource, account_of};
pub(crate) use probe::{check_host, trust_host_key};

/// First pause before reconnecting after a loss; doubled up to [`RECONNECT_MAX`].
const RECONNECT_FIRST: Duration = Duration::from_millis(500);
/// Longest pause between reconnect attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// What the rest of the controller does when a connection comes up: the connector knows the
/// moment, the controller what to start then.
pub(crate) trait ConnectorHooks: Send + Sync {
    /// A new connection (number `generation`) is up: start watching its sessions, forget what
    /// was cached of the previous one.
    fn connected(&self, conn: &Connection, generation: u64);
    /// A reconnect after a loss succeeded: show again what was shown (`auto_resume`).
    fn reconnected(self: Arc<Self>) -> futures_util::future::BoxFuture<'static, ()>;
}

struct Live {
    state: ConnectionState,
    connection: Option<Connection>,
    /// Who the connection is logged in as, where (see [`account_of`]).
    account: Option<String>,
    /// Bumped on every connect/disconnect so a stale watcher cannot mark a newer connection lost.
    generation: u64,
    last_error: String,
    died: bool,
    /// The settings of the last successful connect, for reconnecting after a loss (secrets
    /// are not kept: a reconnect uses keys, the agent or the keyring only).
    reconnect: Option<ProfileSettings>,
}

/// Owns one profile's SSH connection.
pub(crate) struct Connector {
    params: ParamsSource,
    live: Mutex<Live>,
    /// Serialises Connect/Disconnect so two callers never build two connections.
    connect_lock: tokio::sync::Mutex<()>,
    events: Events,
    hooks: Weak<dyn ConnectorHooks>,
}

impl Connector {
    /// A disconnected connector; `hooks` hear of every new connection.
    pub(crate) fn new(
        params: ParamsSource,
        events: Events,
        hooks: Weak<dyn ConnectorHooks>,
    ) -> Connector {
        Connector {
            params,
            live: Mutex::new(Live {
                state: ConnectionState::Disconnected,
                connection: None,
                account: None,
                generation: 0,
                last_error: String::new(),
                died: false,
                reconnect: None,
            }),
            connect_lock: tokio::sync::Mutex::new(()),
            events,
            hooks,
        }
    }

    /// What parameters are built from.
    pub(crate) fn params(&self) -> &ParamsSource {
        &self.params
    }

    fn name(&self) -> &SharedName {
        &self.params.name
    }

    /// Current connection state.
    pub(crate) fn state(&self) -> ConnectionState {
        lock(&self.live).state
    }

    /// The last connection error, for people; empty when none.
    pub(crate) fn last_error(&self) -> String {
        lock(&self.live).last_error.clone()
    }

    /// Which connection is current; bumped on every connect and disconnect.
    pub(crate) fn generation(&self) -> u64 {
        lock(&self.live).generation
    }

    /// Whether the connection ended without being asked to.
    pub(crate) fn has_died(&self) -> bool {
        lock(&self.live).died
    }

    /// The account the current connection is logged in to (see [`account_of`]).
    pub(crate) fn account(&self) -> Option<String> {
        lock(&self.live).account.clone()
    }

    /// The authenticated remote user, empty when disconnected.
    pub(crate) fn remote_username(&self) -> String {
        lock(&self.live)
            .connection
            .as_ref()
            .map(|c| c.username().to_owned())
            .unwrap_or_default()
    }

    /// The live connection's peer as `address:port`, empty when disconnected.
    pub(crate) fn remote_peername(&self) -> String {
        lock(&self.live)
            .connection
            .as_ref()
            .map(|c| c.peer_addr().to_string())
            .unwrap_or_default()
    }

    /// The live connection, or `NotConnected`.
    pub(crate) fn connection(&self) -> Result<Connection, Error> {
        match &lock(&self.live).connection {
            Some(c) if !c.is_closed() => Ok(c.clone()),
            _ => Err(Error::NotConnected(self.name().get())),
        }
    }

    fn connection_closed(&self) -> bool {
        lock(&self.live)
            .connection
            .as_ref()
            .is_none_or(Connection::is_closed)
    }

    /// Whether the server answers a round trip within a few seconds.
    pub(crate) async fn is_alive(&self) -> bool {
        match self.connection() {
            // Generous: a busy server is alive; a hung one is caught by the keepalives.
            Ok(c) => c.ping(Duration::from_secs(15)).await.is_ok(),
            Err(_) => false,
        }
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
        self.events
            .emit(ProfileEvent::StateChanged { state, reason })
            .await;
    }

    /// Connects and authenticates. Already connected: nothing to do.
    pub(crate) async fn connect(self: &Arc<Self>, req: ConnectRequest) -> Result<(), Error> {
        self.connect_as(req, ConnectionState::Disconnected).await
    }

    /// Connects; on failure the state becomes `failed_state` (`lost` while reconnecting).
    async fn connect_as(
        self: &Arc<Self>,
        mut req: ConnectRequest,
        failed_state: ConnectionState,
    ) -> Result<(), Error> {
        let _guard = self.connect_lock.lock().await;
        let settings = req.settings.clone();
        if self.state() != ConnectionState::Connected || self.connection_closed() {
            self.params.fill_from_keyring(&mut req).await;
        }
        // Validated even when connected: a refused value is refused in every state.
        let params = self.params.connect_params(req)?;
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
                    live.reconnect = Some(settings);
                    live.generation
                };
                self.spawn_loss_watch(conn.clone(), generation);
                if let Some(hooks) = self.hooks.upgrade() {
                    hooks.connected(&conn, generation);
                }
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

    /// Marks the profile lost when its connection ends without a Disconnect.
    fn spawn_loss_watch(self: &Arc<Self>, conn: Connection, generation: u64) {
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
                this.events
                    .emit(ProfileEvent::ConnectionLost {
                        reason: reason.into(),
                    })
                    .await;
                this.spawn_reconnect(generation);
            }
        });
    }

    /// After a loss: reconnect with capped exponential backoff and jitter, using only what
    /// needs no person (keys, agent, keyring); then tell the hooks.
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
                        if let Some(hooks) = this.hooks.upgrade() {
                            hooks.reconnected().await;
                        }
                        return;
                    }
                    Err(Error::Ssh(e)) if needs_a_person(&e) => {
                        // Stay lost until a client connects.
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

    /// Closes the connection, if any.
    pub(crate) async fn disconnect(&self) {
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
}

/// Failures a retry cannot mend: a person must answer or change something first.
fn needs_a_person(e: &ssh::Error) -> bool {
    matches!(
        e.innermost(),
        ssh::Error::AuthFailed { .. }
            | ssh::Error::HostKeyUnknown { .. }
            | ssh::Error::HostKeyChanged { .. }
            | ssh::Error::HostKeyRevoked { .. }
            | ssh::Error::HostKeyOtherType { .. }
            | ssh::Error::HostCertInvalid { .. }
            | ssh::Error::KeyFile { .. }
            | ssh::Error::Cancelled(_)
            | ssh::Error::InvalidParams(_)
    )
}
