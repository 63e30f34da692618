//! One stream of everything that happens in x2god, surviving daemon restarts.
//!
//! [`Client::events`](crate::Client::events) subscribes with two match rules: every signal the
//! owner of `org.x2go.Control1` sends below `/org/x2go/Control1` (so profiles created later
//! are covered without a proxy each), and the bus's `NameOwnerChanged` for that name. The two
//! are merged in the order the connection received them, so a restart is seen exactly between
//! the old daemon's last signal and the new one's first.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use ordered_stream::OrderedStreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use x2god_proto::names::{
    BUS_NAME, MANAGER_INTERFACE, PROFILE_INTERFACE, ROOT_PATH, SESSION_INTERFACE,
};
use x2god_proto::types::ConnectionState;
use zbus::message::Type;
use zbus::names::{BusName, OwnedUniqueName};
use zbus::{MatchRule, Message, MessageStream, OwnedObjectPath, OwnedVariant};

use crate::Error;
use crate::profile::{ProfileId, parse_state};
use crate::session::{SessionId, SessionState, get};

/// Why a session event happened, as the daemon reports it (the `cause` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// x2god did it at a client's request (`self` on the bus): a start, suspend, resume or
    /// terminate through its API.
    Requested,
    /// Someone else did (`other`): another X2Go client, the server, the session itself.
    External,
    /// Not a change on the server: this library reports what the daemon already knew, while
    /// resynchronising (a snapshot, a daemon restart) or because a profile was renamed or
    /// removed (its sessions' objects moved or went with it).
    Sync,
}

impl Cause {
    fn parse(s: &str) -> Cause {
        if s == "self" {
            Cause::Requested
        } else {
            Cause::External
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::Requested => "requested",
            Cause::External => "external",
            Cause::Sync => "sync",
        })
    }
}

/// Something that happened in x2god, from [`Client::events`](crate::Client::events).
///
/// # Ordering
///
/// - Events come in the order the bus delivered the daemon's signals: one connection, one
///   ordered merge, nothing is reordered.
/// - A profile's [`ProfileAdded`](Event::ProfileAdded) comes before any other event about it,
///   and its [`ProfileRemoved`](Event::ProfileRemoved) after all of them; a
///   [`SessionRemoved`](Event::SessionRemoved) (cause [`Cause::Sync`]) for each of its
///   sessions still known precedes the `ProfileRemoved`.
/// - A session's [`SessionAdded`](Event::SessionAdded) comes before its
///   [`SessionStateChanged`](Event::SessionStateChanged)s, and its `SessionRemoved` last.
/// - [`ConnectionStateChanged`](Event::ConnectionStateChanged) is only sent when the state
///   differs from the last one reported for the profile (by an event or the snapshot), and a
///   `SessionStateChanged` only when the session's state differs: replays of what a
///   snapshot already showed are dropped.
/// - [`DaemonLost`](Event::DaemonLost): the daemon left the bus (stopped, crashed, replaced).
///   No event of that instance follows; whatever was known is void (no removal events are
///   sent for it). Calls fail until it is back.
/// - [`DaemonRestarted`](Event::DaemonRestarted): a daemon owns the name again (or for the
///   first time, if the stream started without one). It is followed by the resync: a
///   `ProfileAdded` for every profile by name, each followed by a `SessionAdded`
///   (cause [`Cause::Sync`]) for each session it knows, then [`Synced`](Event::Synced); live
///   events follow.
/// - A renamed profile is a `ProfileRemoved` under the old name (after `SessionRemoved`s) and a
///   `ProfileAdded` under the new one, whose `SessionAdded`s (cause [`Cause::Sync`]) follow
///   within a quarter of a second.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A profile appeared: created, renamed to this name, or found by a resync.
    ProfileAdded {
        /// The profile.
        profile: ProfileId,
        /// Its connection state at that moment.
        state: ConnectionState,
    },
    /// A profile went: removed, or renamed away. Its sessions' `SessionRemoved` came first.
    ProfileRemoved {
        /// The profile.
        profile: ProfileId,
    },
    /// A profile's connection changed state.
    ConnectionStateChanged {
        /// The profile.
        profile: ProfileId,
        /// The new state.
        state: ConnectionState,
        /// Why, for people (an error message, `connected`, …).
        reason: String,
    },
    /// A profile's connection ended without a `Disconnect` (server gone, keepalives
    /// unanswered). Comes with a `ConnectionStateChanged` to `lost`; x2god reconnects by
    /// itself unless the profile says otherwise.
    ConnectionLost {
        /// The profile.
        profile: ProfileId,
        /// What happened, for people.
        reason: String,
    },
    /// A session appeared on a profile's server (or was found by a resync).
    SessionAdded {
        /// The profile.
        profile: ProfileId,
        /// The session.
        session: SessionId,
        /// Its state.
        state: SessionState,
        /// Who caused it.
        cause: Cause,
    },
    /// A session changed state (running ⇄ suspended).
    SessionStateChanged {
        /// The profile.
        profile: ProfileId,
        /// The session.
        session: SessionId,
        /// The state before.
        old: SessionState,
        /// The state now.
        new: SessionState,
        /// Who caused it.
        cause: Cause,
    },
    /// A session ended (or its object went with its profile: cause [`Cause::Sync`]).
    SessionRemoved {
        /// The profile.
        profile: ProfileId,
        /// The session.
        session: SessionId,
        /// Who caused it.
        cause: Cause,
    },
    /// The daemon left the bus; see the ordering notes above.
    DaemonLost,
    /// A daemon took the bus name; the resync follows, then [`Event::Synced`].
    DaemonRestarted,
    /// The snapshot or resync is complete: the events since it started describe the whole
    /// state.
    Synced,
}

impl Event {
    /// The profile the event is about, if any.
    pub fn profile(&self) -> Option<&ProfileId> {
        match self {
            Event::ProfileAdded { profile, .. }
            | Event::ProfileRemoved { profile }
            | Event::ConnectionStateChanged { profile, .. }
            | Event::ConnectionLost { profile, .. }
            | Event::SessionAdded { profile, .. }
            | Event::SessionStateChanged { profile, .. }
            | Event::SessionRemoved { profile, .. } => Some(profile),
            Event::DaemonLost | Event::DaemonRestarted | Event::Synced => None,
        }
    }

    /// The session the event is about, if any.
    pub fn session(&self) -> Option<&SessionId> {
        match self {
            Event::SessionAdded { session, .. }
            | Event::SessionStateChanged { session, .. }
            | Event::SessionRemoved { session, .. } => Some(session),
            _ => None,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::ProfileAdded { profile, state } => {
                write!(f, "profile {profile} added ({state})")
            }
            Event::ProfileRemoved { profile } => write!(f, "profile {profile} removed"),
            Event::ConnectionStateChanged {
                profile,
                state,
                reason,
            } => write!(f, "profile {profile} {state}: {reason}"),
            Event::ConnectionLost { profile, reason } => {
                write!(f, "profile {profile} lost its connection: {reason}")
            }
            Event::SessionAdded {
                profile,
                session,
                state,
                cause,
            } => write!(f, "session {session} of {profile} added, {state} ({cause})"),
            Event::SessionStateChanged {
                profile,
                session,
                old,
                new,
                cause,
            } => write!(f, "session {session} of {profile} {old} -> {new} ({cause})"),
            Event::SessionRemoved {
                profile,
                session,
                cause,
            } => write!(f, "session {session} of {profile} removed ({cause})"),
            Event::DaemonLost => f.write_str("x2god left the bus"),
            Event::DaemonRestarted => f.write_str("x2god is on the bus"),
            Event::Synced => f.write_str("in sync"),
        }
    }
}

/// How long a session object announced by `InterfacesAdded` waits for its `SessionAdded`
/// signal (which carries the cause) before it is reported with [`Cause::Sync`]. The daemon
/// sends the two back to back; only the objects a rename moves never get the signal.
const ADOPT_AFTER: Duration = Duration::from_millis(250);

/// Messages queued per match rule. zbus's reader waits when a queue is full, so this only
/// has to cover the bursts that arrive while the task awaits a call of its own (it keeps
/// reading meanwhile, see [`Watcher::call`]).
const QUEUE: usize = 1024;

/// The stream of [`Event`]s returned by [`Client::events`](crate::Client::events).
///
/// It ends when the bus connection closes. Dropping it unsubscribes.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<Event>,
    task: tokio::task::AbortHandle,
}

impl Stream for EventStream {
    type Item = Event;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Messages = Pin<Box<dyn Stream<Item = zbus::Result<Message>> + Send>>;

impl EventStream {
    pub(crate) async fn start(
        conn: zbus::Connection,
        snapshot: bool,
    ) -> Result<EventStream, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Failed("x2god-client events need a Tokio runtime".to_owned()))?;
        let queue = NonZeroUsize::new(QUEUE);
        let daemon = MatchRule::builder()
            .msg_type(Type::Signal)
            .sender(BUS_NAME)
            .path_namespace(ROOT_PATH)
            .build()?;
        let owner = MatchRule::builder()
            .msg_type(Type::Signal)
            .sender("org.freedesktop.DBus")
            .path("/org/freedesktop/DBus")
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .arg(0, BUS_NAME)
            .build()?;
        let a = MessageStream::for_match_rule(daemon, &conn, queue).await?;
        let b = MessageStream::for_match_rule(owner, &conn, queue).await?;
        // Both queues are fed by the connection's one reader, which numbers every message:
        // the join hands them out in that order.
        let msgs: Messages = Box::pin(ordered_stream::join(a, b).into_stream());

        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let watcher = Watcher {
            conn,
            tx,
            owner: None,
            profiles: HashMap::new(),
            sessions: HashMap::new(),
            pending: HashMap::new(),
            backlog: VecDeque::new(),
        };
        let task = runtime.spawn(watcher.run(msgs, snapshot, ready_tx));
        match ready_rx.await {
            Ok(Ok(())) => Ok(EventStream {
                rx,
                task: task.abort_handle(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Failed("the event task ended early".to_owned())),
        }
    }
}

#[derive(Debug, Clone)]
struct ProfileEntry {
    name: String,
    state: ConnectionState,
}

#[derive(Debug, Clone)]
struct SessionEntry {
    profile: OwnedObjectPath,
    name: String,
    state: SessionState,
}

/// A session object seen in `InterfacesAdded`, waiting for its `SessionAdded` signal.
#[derive(Debug, Clone)]
struct Pending {
    entry: SessionEntry,
    due: Instant,
}

/// What the daemon has: profiles and sessions by object path.
type Snapshot = (
    HashMap<OwnedObjectPath, ProfileEntry>,
    HashMap<OwnedObjectPath, SessionEntry>,
);

/// The task behind an [`EventStream`]: follows the bus, keeps a model of what was reported,
/// and turns signals into events.
struct Watcher {
    conn: zbus::Connection,
    tx: mpsc::UnboundedSender<Event>,
    /// The unique name of the daemon whose signals count.
    owner: Option<OwnedUniqueName>,
    profiles: HashMap<OwnedObjectPath, ProfileEntry>,
    sessions: HashMap<OwnedObjectPath, SessionEntry>,
    pending: HashMap<OwnedObjectPath, Pending>,
    /// Messages read while the task awaited a call, handled next.
    backlog: VecDeque<Message>,
}

enum Step {
    Stop,
    Message(Option<zbus::Result<Message>>),
    Due,
}

impl Watcher {
    async fn run(
        mut self,
        mut msgs: Messages,
        snapshot: bool,
        ready: oneshot::Sender<Result<(), Error>>,
    ) {
        match self.seed(&mut msgs, snapshot).await {
            Ok(()) => {
                if ready.send(Ok(())).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        }
        let closed = self.tx.clone();
        loop {
            if let Some(m) = self.backlog.pop_front() {
                self.handle(&m, &mut msgs).await;
                continue;
            }
            let due = self.pending.values().map(|p| p.due).min();
            let step = tokio::select! {
                _ = closed.closed() => Step::Stop,
                m = msgs.next() => Step::Message(m),
                _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => Step::Due,
            };
            match step {
                Step::Stop | Step::Message(None) => return,
                Step::Message(Some(Ok(m))) => self.handle(&m, &mut msgs).await,
                Step::Message(Some(Err(_))) => {}
                Step::Due => self.adopt_due(),
            }
        }
    }

    fn emit(&self, e: Event) {
        // A closed channel means the stream was dropped; the loop notices and ends.
        let _ = self.tx.send(e);
    }

    /// Runs `fut` (a call of ours) while reading the subscriptions into the backlog: zbus's
    /// reader would otherwise stop at a full queue and never deliver the reply.
    async fn call<F: Future>(&mut self, msgs: &mut Messages, fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return out,
                m = msgs.next() => match m {
                    Some(Ok(m)) => self.backlog.push_back(m),
                    Some(Err(_)) => {}
                    None => return fut.await,
                },
            }
        }
    }

    async fn seed(&mut self, msgs: &mut Messages, snapshot: bool) -> Result<(), Error> {
        let conn = self.conn.clone();
        let owner = self.call(msgs, current_owner(&conn)).await?;
        self.owner = owner.clone();
        if let Some(owner) = owner {
            // A daemon that vanished meanwhile is reported by the NameOwnerChanged in the
            // backlog; start from nothing then.
            let (profiles, sessions) = self
                .call(msgs, fetch(&conn, owner))
                .await
                .unwrap_or_default();
            self.profiles = profiles;
            self.sessions = sessions;
            if snapshot {
                self.emit_snapshot();
            }
        }
        if snapshot {
            self.emit(Event::Synced);
        }
        Ok(())
    }

    fn emit_snapshot(&self) {
        let mut profiles: Vec<_> = self.profiles.iter().collect();
        profiles.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        for (path, p) in profiles {
            let id = ProfileId {
                path: path.clone(),
                name: p.name.clone(),
            };
            self.emit(Event::ProfileAdded {
                profile: id.clone(),
                state: p.state,
            });
            let mut sessions: Vec<_> = self
                .sessions
                .iter()
                .filter(|(_, s)| &s.profile == path)
                .collect();
            sessions.sort_by(|a, b| a.1.name.cmp(&b.1.name));
            for (spath, s) in sessions {
                self.emit(Event::SessionAdded {
                    profile: id.clone(),
                    session: SessionId {
                        path: spath.clone(),
                        name: s.name.clone(),
                    },
                    state: s.state,
                    cause: Cause::Sync,
                });
            }
        }
    }

    async fn handle(&mut self, m: &Message, msgs: &mut Messages) {
        let h = m.header();
        let (Some(path), Some(iface), Some(member)) = (h.path(), h.interface(), h.member()) else {
            return;
        };
        let sender = h.sender().map(|s| s.as_str()).unwrap_or_default();
        let body = m.body();
        if sender == "org.freedesktop.DBus" && member.as_str() == "NameOwnerChanged" {
            if let Ok((name, _, new)) = body.deserialize::<(String, String, String)>()
                && name == BUS_NAME
            {
                self.owner_changed(new, msgs).await;
            }
            return;
        }
        // The rule names the well-known sender, which zbus cannot check locally: only the
        // current owner's signals count, never a stale or foreign one.
        if self.owner.as_ref().map(|o| o.as_str()) != Some(sender) {
            return;
        }
        let path = OwnedObjectPath::from(path.to_owned());
        match (iface.as_str(), member.as_str()) {
            ("org.freedesktop.DBus.ObjectManager", "InterfacesAdded") => {
                type Added = (
                    OwnedObjectPath,
                    HashMap<String, HashMap<String, OwnedVariant>>,
                );
                if let Ok((obj, ifaces)) = body.deserialize::<Added>() {
                    if let Some(props) = ifaces.get(PROFILE_INTERFACE) {
                        self.profile_appeared(obj.clone(), props);
                    }
                    if let Some(props) = ifaces.get(SESSION_INTERFACE) {
                        self.session_object_appeared(obj, props);
                    }
                }
            }
            ("org.freedesktop.DBus.ObjectManager", "InterfacesRemoved") => {
                if let Ok((obj, ifaces)) = body.deserialize::<(OwnedObjectPath, Vec<String>)>() {
                    if ifaces.iter().any(|i| i == SESSION_INTERFACE) {
                        self.session_object_gone(&obj);
                    }
                    if ifaces.iter().any(|i| i == PROFILE_INTERFACE) {
                        self.profile_gone(&obj);
                    }
                }
            }
            (MANAGER_INTERFACE, "ProfileAdded") => {
                // InterfacesAdded came first and reported it already; this covers a daemon
                // without an object manager.
                if let Ok((obj, name)) = body.deserialize::<(OwnedObjectPath, String)>() {
                    self.ensure_profile(&obj, Some(name));
                }
            }
            (MANAGER_INTERFACE, "ProfileRemoved") => {
                if let Ok((obj, _)) = body.deserialize::<(OwnedObjectPath, String)>() {
                    self.profile_gone(&obj);
                }
            }
            (PROFILE_INTERFACE, "StateChanged") => {
                if let Ok((state, reason)) = body.deserialize::<(String, String)>() {
                    self.state_changed(&path, parse_state(&state), reason);
                }
            }
            (PROFILE_INTERFACE, "ConnectionLost") => {
                if let Ok((reason,)) = body.deserialize::<(String,)>() {
                    let profile = self.ensure_profile(&path, None);
                    self.emit(Event::ConnectionLost { profile, reason });
                }
            }
            (PROFILE_INTERFACE, "SessionAdded") => {
                type Added = (String, OwnedObjectPath, String, String);
                if let Ok((name, spath, state, cause)) = body.deserialize::<Added>() {
                    let state = SessionState::parse(&state);
                    self.session_added(&path, spath, name, state, Cause::parse(&cause));
                }
            }
            (PROFILE_INTERFACE, "SessionStateChanged") => {
                type Changed = (String, String, String, String);
                if let Ok((name, old, new, cause)) = body.deserialize::<Changed>() {
                    let (old, new) = (SessionState::parse(&old), SessionState::parse(&new));
                    self.session_changed(&path, name, old, new, Cause::parse(&cause));
                }
            }
            (PROFILE_INTERFACE, "SessionRemoved") => {
                if let Ok((_, spath, cause)) =
                    body.deserialize::<(String, OwnedObjectPath, String)>()
                {
                    self.session_removed(&spath, Cause::parse(&cause));
                }
            }
            _ => {}
        }
    }

    async fn owner_changed(&mut self, new: String, msgs: &mut Messages) {
        let new = (!new.is_empty())
            .then(|| OwnedUniqueName::try_from(new).ok())
            .flatten();
        if new == self.owner {
            return;
        }
        if self.owner.take().is_some() {
            self.profiles.clear();
            self.sessions.clear();
            self.pending.clear();
            self.emit(Event::DaemonLost);
        }
        let Some(owner) = new else { return };
        self.owner = Some(owner.clone());
        self.emit(Event::DaemonRestarted);
        let conn = self.conn.clone();
        // If the new daemon fails the call it is going away again, and its NameOwnerChanged
        // is already in the backlog: report what there is and let that follow.
        let (profiles, sessions) = self
            .call(msgs, fetch(&conn, owner))
            .await
            .unwrap_or_default();
        self.profiles = profiles;
        self.sessions = sessions;
        self.emit_snapshot();
        self.emit(Event::Synced);
    }

    fn profile_id(&self, path: &OwnedObjectPath) -> ProfileId {
        match self.profiles.get(path) {
            Some(p) => ProfileId {
                path: path.clone(),
                name: p.name.clone(),
            },
            None => ProfileId::from_path(path.clone()),
        }
    }

    /// The id of the profile at `path`, reporting it first if it was not known.
    fn ensure_profile(&mut self, path: &OwnedObjectPath, name: Option<String>) -> ProfileId {
        if !self.profiles.contains_key(path) {
            let id = match name {
                Some(name) => ProfileId {
                    path: path.clone(),
                    name,
                },
                None => ProfileId::from_path(path.clone()),
            };
            self.profiles.insert(
                path.clone(),
                ProfileEntry {
                    name: id.name.clone(),
                    state: ConnectionState::Disconnected,
                },
            );
            self.emit(Event::ProfileAdded {
                profile: id,
                state: ConnectionState::Disconnected,
            });
        }
        self.profile_id(path)
    }

    fn profile_appeared(&mut self, path: OwnedObjectPath, props: &HashMap<String, OwnedVariant>) {
        if self.profiles.contains_key(&path) {
            return;
        }
        let name =
            get::<String>(props, "Name").unwrap_or_else(|| ProfileId::from_path(path.clone()).name);
        let state = parse_state(&get::<String>(props, "State").unwrap_or_default());
        self.profiles.insert(
            path.clone(),
            ProfileEntry {
                name: name.clone(),
                state,
            },
        );
        self.emit(Event::ProfileAdded {
            profile: ProfileId { path, name },
            state,
        });
    }

    fn profile_gone(&mut self, path: &OwnedObjectPath) {
        if !self.profiles.contains_key(path) {
            return;
        }
        let id = self.profile_id(path);
        self.pending.retain(|_, p| &p.entry.profile != path);
        let mut gone: Vec<_> = self
            .sessions
            .iter()
            .filter(|(_, s)| &s.profile == path)
            .map(|(p, s)| (p.clone(), s.name.clone()))
            .collect();
        gone.sort_by(|a, b| a.1.cmp(&b.1));
        for (spath, name) in gone {
            self.sessions.remove(&spath);
            self.emit(Event::SessionRemoved {
                profile: id.clone(),
                session: SessionId { path: spath, name },
                cause: Cause::Sync,
            });
        }
        self.profiles.remove(path);
        self.emit(Event::ProfileRemoved { profile: id });
    }

    fn state_changed(&mut self, path: &OwnedObjectPath, state: ConnectionState, reason: String) {
        let profile = self.ensure_profile(path, None);
        if let Some(p) = self.profiles.get_mut(path) {
            if p.state == state {
                return;
            }
            p.state = state;
        }
        self.emit(Event::ConnectionStateChanged {
            profile,
            state,
            reason,
        });
    }

    fn session_object_appeared(
        &mut self,
        path: OwnedObjectPath,
        props: &HashMap<String, OwnedVariant>,
    ) {
        if self.sessions.contains_key(&path) || self.pending.contains_key(&path) {
            return;
        }
        let Some(profile) = get::<OwnedObjectPath>(props, "Profile") else {
            return;
        };
        let entry = SessionEntry {
            profile,
            name: get(props, "Name").unwrap_or_default(),
            state: SessionState::parse(&get::<String>(props, "State").unwrap_or_default()),
        };
        let due = Instant::now() + ADOPT_AFTER;
        self.pending.insert(path, Pending { entry, due });
    }

    fn session_object_gone(&mut self, path: &OwnedObjectPath) {
        if self.pending.remove(path).is_some() {
            return;
        }
        // Normally SessionRemoved came first; an object that goes without it went with its
        // profile (removal, rename).
        if let Some(s) = self.sessions.remove(path) {
            let profile = self.profile_id(&s.profile);
            self.emit(Event::SessionRemoved {
                profile,
                session: SessionId {
                    path: path.clone(),
                    name: s.name,
                },
                cause: Cause::Sync,
            });
        }
    }

    /// Reports the pending session at `path` now, with the state its object had.
    fn adopt(&mut self, path: &OwnedObjectPath) {
        let Some(p) = self.pending.remove(path) else {
            return;
        };
        let profile = self.ensure_profile(&p.entry.profile, None);
        self.emit(Event::SessionAdded {
            profile,
            session: SessionId {
                path: path.clone(),
                name: p.entry.name.clone(),
            },
            state: p.entry.state,
            cause: Cause::Sync,
        });
        self.sessions.insert(path.clone(), p.entry);
    }

    fn adopt_due(&mut self) {
        let now = Instant::now();
        let mut due: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(path, p)| (p.due, path.clone()))
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.as_str().cmp(b.1.as_str())));
        for (_, path) in due {
            self.adopt(&path);
        }
    }

    fn session_added(
        &mut self,
        profile_path: &OwnedObjectPath,
        path: OwnedObjectPath,
        name: String,
        state: SessionState,
        cause: Cause,
    ) {
        self.pending.remove(&path);
        let profile = self.ensure_profile(profile_path, None);
        let session = SessionId {
            path: path.clone(),
            name: name.clone(),
        };
        if let Some(s) = self.sessions.get_mut(&path) {
            // Known from a snapshot taken after the daemon sent this: a replay.
            if s.state == state {
                return;
            }
            let old = s.state;
            s.state = state;
            self.emit(Event::SessionStateChanged {
                profile,
                session,
                old,
                new: state,
                cause,
            });
            return;
        }
        self.sessions.insert(
            path,
            SessionEntry {
                profile: profile_path.clone(),
                name,
                state,
            },
        );
        self.emit(Event::SessionAdded {
            profile,
            session,
            state,
            cause,
        });
    }

    fn session_changed(
        &mut self,
        profile_path: &OwnedObjectPath,
        name: String,
        old: SessionState,
        new: SessionState,
        cause: Cause,
    ) {
        let profile = self.ensure_profile(profile_path, None);
        let path = x2god_proto::path::session_path(&profile.name, &name);
        self.adopt(&path);
        let session = SessionId {
            path: path.clone(),
            name: name.clone(),
        };
        match self.sessions.get_mut(&path) {
            Some(s) => {
                if s.state == new {
                    return;
                }
                s.state = new;
                self.emit(Event::SessionStateChanged {
                    profile,
                    session,
                    old,
                    new,
                    cause,
                });
            }
            None => {
                // Its SessionAdded was before a snapshot that no longer had it: report it as
                // added, so no change ever names a session not reported.
                self.sessions.insert(
                    path,
                    SessionEntry {
                        profile: profile_path.clone(),
                        name,
                        state: new,
                    },
                );
                self.emit(Event::SessionAdded {
                    profile,
                    session,
                    state: new,
                    cause,
                });
            }
        }
    }

    fn session_removed(&mut self, path: &OwnedObjectPath, cause: Cause) {
        if self.pending.remove(path).is_some() {
            return;
        }
        let Some(s) = self.sessions.remove(path) else {
            return;
        };
        let profile = self.profile_id(&s.profile);
        self.emit(Event::SessionRemoved {
            profile,
            session: SessionId {
                path: path.clone(),
                name: s.name,
            },
            cause,
        });
    }
}

/// The unique name owning `org.x2go.Control1`, `None` when nobody does.
async fn current_owner(conn: &zbus::Connection) -> Result<Option<OwnedUniqueName>, Error> {
    let dbus = zbus::fdo::DBusProxy::new(conn).await?;
    match dbus
        .get_name_owner(BusName::from_static_str(BUS_NAME)?)
        .await
    {
        Ok(owner) => Ok(Some(owner)),
        Err(zbus::fdo::Error::NameHasNoOwner(_)) => Ok(None),
        Err(e) => Err(zbus::Error::from(e).into()),
    }
}

/// Profiles and sessions of the daemon `owner`, from its object manager.
async fn fetch(conn: &zbus::Connection, owner: OwnedUniqueName) -> Result<Snapshot, Error> {
    // Asked of the unique name: a daemon that replaced it meanwhile must not answer for it.
    let om = zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination(owner)
        .path(ROOT_PATH)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await?;
    let objects = om.get_managed_objects().await.map_err(zbus::Error::from)?;
    let mut profiles = HashMap::new();
    let mut sessions = HashMap::new();
    for (path, ifaces) in objects {
        for (iface, props) in ifaces {
            if iface.as_str() == PROFILE_INTERFACE {
                let name = get::<String>(&props, "Name")
                    .unwrap_or_else(|| ProfileId::from_path(path.clone()).name);
                let state = parse_state(&get::<String>(&props, "State").unwrap_or_default());
                profiles.insert(path.clone(), ProfileEntry { name, state });
            } else if iface.as_str() == SESSION_INTERFACE {
                let Some(profile) = get::<OwnedObjectPath>(&props, "Profile") else {
                    continue;
                };
                let entry = SessionEntry {
                    profile,
                    name: get(&props, "Name").unwrap_or_default(),
                    state: SessionState::parse(&get::<String>(&props, "State").unwrap_or_default()),
                };
                sessions.insert(path.clone(), entry);
            }
        }
    }
    Ok((profiles, sessions))
}
