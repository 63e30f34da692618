//! The one way a profile lists its sessions: [`Listings::list`].
//!
//! Whoever asks (a client's `ListSessions`, the watcher, the lifecycle after an operation),
//! a listing goes the same way: shared with the daemon's other profiles of the same account
//! when one is under way ([`SharedListings`]), asked of the watcher's script when one runs on
//! the current connection (one round trip, no channel to open), else run as a command of its
//! own; and every listing updates the session table, whose changes are published before
//! `list` returns.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot};
use tracing::{debug, warn};
use x2god_proto::types::SessionState;

use super::connection::Connector;
use super::error::Error;
use super::events::Events;
use super::exec::{self, COMMAND_TIMEOUT};
use super::shared::{ListingKey, SharedListings};
use super::sync::{CountGuard, SharedName, lock};
use super::table::{Cause, Change, SessionTable};
use crate::x2go::AgentState;
use crate::x2go::command::RemoteCommand;
use crate::x2go::list::{self, SessionInfo, SessionStatus};
use crate::x2go::validate::{SessionKind, SessionName};

/// How long before a client's `ListSessions` a connection's first listing may have started
/// and still answer it: that listing starts as `Connect` returns, and a client listing right
/// then would otherwise wait for it and then run its own.
pub(crate) const CALLER_MAX_AGE: Duration = Duration::from_millis(200);
/// How long a listing may leave out shadow sessions (see [`Listings::list`]); the watcher's
/// periodic listing comes as often.
const SHADOW_LISTING_EVERY: Duration = Duration::from_secs(120);
/// How long a listing asked of the watcher's script may take before it runs without it: a
/// listing takes a fraction of a second; the usual way still has its full timeout.
const WATCHER_LISTING_TIMEOUT: Duration = Duration::from_secs(15);

/// Where a listing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Asked of the watcher's script when one runs (one round trip, no channel to open).
    Watcher,
    /// As a command of its own: the watcher's own listings, so that its script stays free to
    /// report the next change meanwhile.
    Exec,
}

/// A listing asked of the watcher's script (see `x2go::watch::list_request`).
pub(crate) struct ListRequest {
    /// Include shadow sessions.
    pub include_shadow: bool,
    /// The listing's text, or why it failed.
    pub reply: oneshot::Sender<Result<String, Error>>,
}

/// Where listings can be asked of a running watcher, for the connection of `generation`.
struct WatcherRoute {
    generation: u64,
    requests: mpsc::UnboundedSender<ListRequest>,
}

/// Told of every change of the session table, before it is published: what keeps state per
/// session (shared folders) learns that a session was suspended or ended, by whomever.
pub(crate) trait SessionObserver: Send + Sync {
    /// `change` happened to the table.
    fn changed(&self, change: &Change);
}

/// A profile's sessions: the table of what was last listed, and the listings that fill it.
pub(crate) struct Listings {
    name: SharedName,
    connector: Arc<Connector>,
    /// Listings shared with the daemon's other profiles of the same account.
    shared: Arc<SharedListings>,
    /// Sessions as last listed.
    table: Mutex<SessionTable>,
    /// When shadow sessions were last listed on the current connection.
    full_listing: Mutex<Option<Instant>>,
    /// `ShareDesktop` calls in progress: their listings must include shadow sessions.
    sharing: AtomicUsize,
    /// The running watcher, which lists on request.
    route: Mutex<Option<WatcherRoute>>,
    /// Asks the watcher for an immediate listing.
    kick: Notify,
    /// Sessions were added to or removed from the table: the watcher tells its script (which
    /// follows the listed sessions' state files) the new set.
    names_changed: Notify,
    events: Events,
    observers: Mutex<Vec<Weak<dyn SessionObserver>>>,
}

impl Listings {
    /// The sessions of the profile connected by `connector`.
    pub(crate) fn new(
        name: SharedName,
        connector: Arc<Connector>,
        shared: Arc<SharedListings>,
        events: Events,
    ) -> Listings {
        Listings {
            name,
            connector,
            shared,
            table: Mutex::new(SessionTable::default()),
            full_listing: Mutex::new(None),
            sharing: AtomicUsize::new(0),
            route: Mutex::new(None),
            kick: Notify::new(),
            names_changed: Notify::new(),
            events,
            observers: Mutex::default(),
        }
    }

    /// Tells `observer` of every change from now on (the controller adds its parts).
    pub(crate) fn add_observer(&self, observer: Weak<dyn SessionObserver>) {
        lock(&self.observers).push(observer);
    }

    /// Tells the observers of `change`, then publishes it.
    pub(crate) async fn publish(&self, change: Change, cause: Cause) {
        let observers: Vec<_> = lock(&self.observers)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for o in observers {
            o.changed(&change);
        }
        self.events.session(change, cause).await;
    }

    /// A new connection: its first listing includes shadow sessions.
    pub(crate) fn connected(&self) {
        *lock(&self.full_listing) = None;
    }

    /// The session table, for the lifecycle to record what its operations expect.
    pub(crate) fn table(&self) -> MutexGuard<'_, SessionTable> {
        lock(&self.table)
    }

    /// Counts a `ShareDesktop` in progress (its listings include shadow sessions).
    pub(crate) fn sharing(&self) -> CountGuard<'_> {
        CountGuard::new(&self.sharing)
    }

    /// The user's sessions, from a listing that started after this call — or up to `max_age`
    /// before it, when that was the connection's first. Lines that do not parse are skipped
    /// and logged. The table's changes are published before this returns.
    pub(crate) async fn list(
        &self,
        max_age: Duration,
        route: Route,
    ) -> Result<Vec<SessionInfo>, Error> {
        let ticket = self.table().ticket();
        let text = self.text(max_age, route).await?;
        let listing = list::parse_listing(&text);
        if listing.over_limit {
            warn!(profile = %self.name, max = list::MAX_ROWS, "refused a listing with too many rows");
            return Err(Error::Protocol {
                command: "x2golistsessions".into(),
                reason: format!("more than {} session rows; refused", list::MAX_ROWS),
            });
        }
        for skipped in &listing.skipped {
            debug!(profile = %self.name, line = skipped.line_no, reason = %skipped.reason, "skipped a session line");
        }
        let changes = self.table().apply(ticket, listing.sessions.clone());
        if changes
            .iter()
            .any(|(c, _)| matches!(c, Change::Added(_) | Change::Removed(_)))
        {
            self.names_changed.notify_one();
        }
        for (change, cause) in changes {
            self.publish(change, cause).await;
        }
        Ok(listing.sessions)
    }

    /// A listing that started after this call, through the watcher when it runs.
    pub(crate) async fn list_now(&self) -> Result<Vec<SessionInfo>, Error> {
        self.list(Duration::ZERO, Route::Watcher).await
    }

    /// Waits for this account's turn to start a session (see `turns`): the daemon's other
    /// profiles of the same account start theirs before or after. `None` when not connected.
    pub(crate) async fn start_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let account = self.connector.account()?;
        Some(self.shared.starts().take(&account).await)
    }

    /// The server's `x2golistsessions` output as is (`max_age` as for [`Listings::list`]).
    pub(crate) async fn raw(&self, max_age: Duration) -> Result<String, Error> {
        self.text(max_age, Route::Watcher).await
    }

    /// The listing's text. Listing shadow sessions is a second Perl start on the server,
    /// which doubles a warm `ListSessions`; it is done on a connection's first listing, at
    /// least every [`SHADOW_LISTING_EVERY`], and always while a shadow session is known or
    /// being started here. So a shadow session another client starts shows within that time,
    /// every other change at once.
    async fn text(&self, max_age: Duration, route: Route) -> Result<String, Error> {
        let has_shadow = self
            .table()
            .all()
            .any(|s| s.name.kind() == SessionKind::Shadow);
        let first = lock(&self.full_listing).is_none();
        let full = has_shadow
            || self.sharing.load(Ordering::Relaxed) > 0
            || lock(&self.full_listing).is_none_or(|t| t.elapsed() >= SHADOW_LISTING_EVERY);
        // Not connected: an error, even though another profile could answer.
        self.connector.connection()?;
        let account = self.connector.account();
        // Only the connection's first listing may be joined late: later, a run under way may
        // have started before an operation of ours that the caller expects to see.
        let max_age = if first { max_age } else { Duration::ZERO };
        let started = Instant::now();
        let text = match account {
            Some(account) => {
                let key = ListingKey {
                    account,
                    with_shadow: full,
                };
                let mut own_error = None;
                let shared = self
                    .shared
                    .get(key, max_age, || async {
                        match self.run(full, route).await {
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
                    (None, None) => self.run(full, route).await?,
                }
            }
            None => self.run(full, route).await?,
        };
        if full {
            *lock(&self.full_listing) = Some(started);
        }
        Ok(text)
    }

    /// Runs the listing (with shadow sessions if `include_shadow`): asked of the watcher's
    /// script when one runs on the current connection and `route` allows, else as a command
    /// of its own.
    async fn run(&self, include_shadow: bool, route: Route) -> Result<String, Error> {
        let command = RemoteCommand::list_sessions(include_shadow);
        let generation = self.connector.generation();
        let requests = lock(&self.route)
            .as_ref()
            .filter(|r| route == Route::Watcher && r.generation == generation)
            .map(|r| r.requests.clone());
        if let Some(requests) = requests {
            debug!(profile = %self.name, command = command.name(), via = "watcher",
                "running server command");
            let (reply, answer) = oneshot::channel();
            let asked = requests.send(ListRequest {
                include_shadow,
                reply,
            });
            if asked.is_ok() {
                match tokio::time::timeout(WATCHER_LISTING_TIMEOUT, answer).await {
                    Ok(Ok(result)) => return result,
                    // The watcher ended first: list the usual way.
                    Ok(Err(_)) => {}
                    // The script is stuck (or its listing is): it gets no more requests on this
                    // connection, and this listing runs the usual way.
                    Err(_) => {
                        warn!(profile = %self.name, timeout = ?WATCHER_LISTING_TIMEOUT,
                            "the session watcher did not answer a listing; listing without it");
                        self.withdraw_route(generation);
                    }
                }
            }
        }
        exec::run_text(&self.connector, &command, COMMAND_TIMEOUT).await
    }

    /// The watcher of connection `generation` takes listing requests from now on.
    pub(crate) fn offer_route(&self, generation: u64) -> mpsc::UnboundedReceiver<ListRequest> {
        let (requests, asked) = mpsc::unbounded_channel();
        *lock(&self.route) = Some(WatcherRoute {
            generation,
            requests,
        });
        asked
    }

    /// The watcher of `generation` takes no more requests (unless a newer connection's
    /// watcher took over already).
    pub(crate) fn withdraw_route(&self, generation: u64) {
        let mut route = lock(&self.route);
        if route.as_ref().is_some_and(|r| r.generation == generation) {
            *route = None;
        }
    }

    /// Asks the watcher for a listing soon (an operation ended, nxproxy went away).
    pub(crate) fn request_listing(&self) {
        self.kick.notify_one();
    }

    /// Returns when a listing was asked for with [`Listings::request_listing`].
    pub(crate) async fn listing_requested(&self) {
        self.kick.notified().await;
    }

    /// Returns when sessions were added to or removed from the table.
    pub(crate) async fn names_changed(&self) {
        self.names_changed.notified().await;
    }

    /// The names of the sessions in the table, sorted.
    pub(crate) fn names(&self) -> Vec<SessionName> {
        let mut names: Vec<SessionName> = self.table().all().map(|s| s.name.clone()).collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        names
    }

    /// Publishes what the watcher read from session `name`'s agent state file, where it
    /// changes the session's listed state (see `SessionTable::observe`).
    pub(crate) async fn observe_agent(&self, name: &str, state: AgentState) {
        let change = self.table().observe(name, state);
        if let Some((change, cause)) = change {
            debug!(profile = %self.name, session = name, agent = state.as_str(), "agent state changed");
            self.publish(change, cause).await;
        }
    }

    /// A session as last listed.
    pub(crate) fn session_info(&self, name: &str) -> Option<SessionInfo> {
        self.table().get(name).cloned()
    }

    /// Every session as last listed.
    pub(crate) fn known(&self) -> Vec<SessionInfo> {
        self.table().all().cloned().collect()
    }

    /// Where `name` stands now: listed running or suspended, gone, or never seen.
    pub(crate) async fn session_state(&self, name: &str) -> Result<SessionState, Error> {
        let name = SessionName::parse(name)?;
        let sessions = self.list_now().await?;
        Ok(match sessions.iter().find(|s| s.name == name) {
            Some(s) if s.status == SessionStatus::Suspended => SessionState::Suspended,
            Some(_) => SessionState::Running,
            None if self.table().was_seen(name.as_str()) => SessionState::Terminated,
            None => SessionState::Unknown,
        })
    }
}
