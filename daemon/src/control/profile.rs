//! The per-profile controller: the profile's settings and the parts that act on them — the
//! connection, the sessions' listings, the lifecycle, server queries, published applications
//! and the watcher — wired together. Each part has a module of its own; this one only owns
//! them and decides what happens when a connection comes up.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use x2god_proto::types::{ConnectionState, SessionState};

use super::activity::Activity;
use super::apps::PublishedApps;
use super::connection::{self, ConnectRequest, Connector, ConnectorHooks, ParamsSource};
use super::error::Error;
use super::events::{EventMessage, Events};
use super::lifecycle::Lifecycle;
use super::listing::{CALLER_MAX_AGE, Listings, Route, SessionObserver};
use super::server::ServerQueries;
use super::shared::SharedListings;
use super::shares::Shares;
use super::sound::SoundRelays;
use super::sync::{SharedName, lock};
use super::watcher::{self, WatchTarget};
use crate::config::{Paths, local_username};
use crate::profiles::ProfileSettings;
use crate::ssh::{Connection, PromptHandle};
use crate::x2go::list::SessionInfo;

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

/// Owns one profile's settings and the parts that act on them.
pub struct ProfileController {
    name: SharedName,
    source: ProfileSource,
    settings: Mutex<ProfileSettings>,
    connector: Arc<Connector>,
    listings: Arc<Listings>,
    lifecycle: Arc<Lifecycle>,
    server: Arc<ServerQueries>,
    apps: PublishedApps,
    activity: Arc<Activity>,
    shares: Arc<Shares>,
    sound: Arc<SoundRelays>,
}

impl ProfileController {
    /// A disconnected controller; events go to `events`.
    pub fn new(
        name: String,
        settings: ProfileSettings,
        source: ProfileSource,
        paths: Arc<Paths>,
        shared: Arc<SharedListings>,
        events: mpsc::UnboundedSender<EventMessage>,
    ) -> Arc<ProfileController> {
        Arc::new_cyclic(|me: &Weak<ProfileController>| {
            let name = SharedName::new(name);
            let events = Events::new(events);
            let params = ParamsSource {
                name: name.clone(),
                paths,
                read_only: source != ProfileSource::Own,
            };
            let hooks: Weak<dyn ConnectorHooks> = me.clone();
            let connector = Arc::new(Connector::new(params, events.clone(), hooks));
            let listings = Arc::new(Listings::new(
                name.clone(),
                connector.clone(),
                shared,
                events.clone(),
            ));
            let activity = Arc::new(Activity::default());
            let shares = Arc::new(Shares::new(
                name.clone(),
                connector.clone(),
                listings.clone(),
                events.clone(),
            ));
            let sound = Arc::new(SoundRelays::new(
                name.clone(),
                connector.clone(),
                events.clone(),
            ));
            let observer: Weak<dyn SessionObserver> = Arc::downgrade(&shares) as _;
            listings.add_observer(observer);
            let observer: Weak<dyn SessionObserver> = Arc::downgrade(&sound) as _;
            listings.add_observer(observer);
            let lifecycle = Arc::new(Lifecycle::new(
                name.clone(),
                connector.clone(),
                listings.clone(),
                activity.clone(),
                events,
                shares.clone(),
                sound.clone(),
            ));
            let server = Arc::new(ServerQueries::new(connector.clone(), listings.clone()));
            let apps = PublishedApps::new(connector.clone(), server.clone(), listings.clone());
            ProfileController {
                name,
                source,
                settings: Mutex::new(settings),
                connector,
                listings,
                lifecycle,
                server,
                apps,
                activity,
                shares,
                sound,
            }
        })
    }

    /// The profile's current name.
    pub fn name(&self) -> String {
        self.name.get()
    }

    /// Renames the profile (the registry moves the object and saves the file).
    pub fn set_name(&self, name: String) {
        self.name.set(name);
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

    /// Seconds between listings when the server-side watcher is unavailable.
    fn poll_interval(&self) -> Duration {
        lock(&self.settings)
            .session
            .poll_interval
            .and_then(crate::profiles::duration_setting)
            .unwrap_or(Duration::from_secs(2))
    }

    /// Current connection state.
    pub fn state(&self) -> ConnectionState {
        self.connector.state()
    }

    /// The last connection error, for people; empty when none.
    pub fn last_error(&self) -> String {
        self.connector.last_error()
    }

    /// Whether the connection ended without being asked to.
    pub fn has_died(&self) -> bool {
        self.connector.has_died()
    }

    /// The authenticated remote user, empty when disconnected.
    pub fn remote_username(&self) -> String {
        self.connector.remote_username()
    }

    /// The live connection's peer as `address:port`, empty when disconnected.
    pub fn remote_peername(&self) -> String {
        self.connector.remote_peername()
    }

    /// Whether the server answers a round trip within a few seconds.
    pub async fn is_alive(&self) -> bool {
        self.connector.is_alive().await
    }

    /// Connects and authenticates. Already connected: nothing to do.
    pub async fn connect(&self, req: ConnectRequest) -> Result<(), Error> {
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
        self.connector.connect(req).await
    }

    /// Closes the connection, if any.
    pub async fn disconnect(&self) {
        self.connector.disconnect().await;
    }

    /// Checks the server's host key without authenticating: true if known, false if unknown.
    pub async fn check_host(&self, prompter: Option<PromptHandle>) -> Result<bool, Error> {
        connection::check_host(self.connector.params(), self.settings(), prompter).await
    }

    /// Learns the host key whose fingerprint is `fingerprint` (the jump host's when it
    /// presents that unknown key, else the server's).
    pub async fn trust_host_key(
        &self,
        fingerprint: &str,
        prompter: Option<PromptHandle>,
    ) -> Result<(), Error> {
        let settings = self.settings();
        connection::trust_host_key(self.connector.params(), settings, fingerprint, prompter).await
    }

    /// The user's sessions for a client's `ListSessions`, which accepts the connection's first
    /// listing if it started up to [`CALLER_MAX_AGE`] before the call: the changes it could
    /// miss are those of that fraction of a second, which the watcher reports anyway.
    pub async fn list_sessions(&self) -> Result<Vec<SessionInfo>, Error> {
        self.listings.list(CALLER_MAX_AGE, Route::Watcher).await
    }

    /// The server's `x2golistsessions` output without the sessions' X cookies, for a client (as
    /// [`Self::list_sessions`]).
    pub async fn list_sessions_raw(&self) -> Result<String, Error> {
        let raw = self.listings.raw(CALLER_MAX_AGE).await?;
        Ok(crate::x2go::list::redact_cookies(&raw))
    }

    /// Where `name` stands now: listed running or suspended, gone, or never seen.
    pub async fn session_state(&self, name: &str) -> Result<SessionState, Error> {
        self.listings.session_state(name).await
    }

    /// A session as last listed.
    pub fn session_info(&self, name: &str) -> Option<SessionInfo> {
        self.listings.session_info(name)
    }

    /// Every session as last listed.
    pub fn known_sessions(&self) -> Vec<SessionInfo> {
        self.listings.known()
    }

    /// Starting, resuming, suspending and ending sessions, and showing them locally.
    pub fn lifecycle(&self) -> &Arc<Lifecycle> {
        &self.lifecycle
    }

    /// Questions about the server and the remote user.
    pub fn server(&self) -> &ServerQueries {
        &self.server
    }

    /// The server's published applications.
    pub fn apps(&self) -> &PublishedApps {
        &self.apps
    }

    /// The folders shared into the sessions.
    pub fn shares(&self) -> &Shares {
        &self.shares
    }

    /// The sound of the sessions.
    pub fn sound(&self) -> &SoundRelays {
        &self.sound
    }

    /// Shares the local folder `path` into the running session `session` (read-only if
    /// asked), unless the profile turns sharing off; returns the folder as shared.
    pub async fn share_folder(
        &self,
        session: &str,
        path: &std::path::Path,
        read_only: bool,
    ) -> Result<String, Error> {
        // What the session was started or resumed with wins over the profile's setting.
        let allowed = self
            .lifecycle()
            .sharing_allowed(session)
            .unwrap_or_else(|| {
                self.settings()
                    .session
                    .allow_share_local_folders
                    .unwrap_or(true)
            });
        if !allowed {
            return Err(Error::NotSupported(format!(
                "session {session:?} of profile {:?} does not allow sharing folders \
                 (allow_share_local_folders)",
                self.name()
            )));
        }
        self.shares.share(session, path, read_only).await
    }
}

impl ConnectorHooks for ProfileController {
    fn connected(&self, conn: &Connection, generation: u64) {
        self.listings.connected();
        self.server.connected();
        self.apps.connected();
        self.shares.connection_changed();
        self.sound.connection_changed();
        let target = WatchTarget {
            name: self.name.clone(),
            listings: Arc::downgrade(&self.listings),
            connector: Arc::downgrade(&self.connector),
            activity: self.activity.clone(),
            poll_interval: self.poll_interval(),
        };
        watcher::spawn(target, conn.clone(), generation);
    }

    fn reconnected(self: Arc<Self>) -> BoxFuture<'static, ()> {
        async move {
            let auto_resume = self.settings().auto_resume;
            self.lifecycle.resume_viewed(auto_resume).await;
        }
        .boxed()
    }
}
