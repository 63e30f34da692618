//! What the daemon knows of a profile's sessions, and how a new listing differs from it.
//!
//! Every listing, whoever asked for it (a client's `ListSessions`, the watcher, our own
//! operations), goes through [`SessionTable::apply`], so changes are reported once, in order,
//! however they were noticed.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::x2go::AgentState;
use crate::x2go::list::{SessionInfo, SessionStatus};

/// How long an operation of ours claims the change it expects; a later change is someone else's.
const EXPECTATION_TTL: Duration = Duration::from_secs(60);

/// Who caused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// This daemon, on a client's request.
    Daemon,
    /// Another client, the server, or the session itself.
    Other,
}

impl Cause {
    /// The string used on the bus.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Daemon => "self",
            Cause::Other => "other",
        }
    }
}

/// The state an operation of ours is about to bring about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Listed as running (start, resume).
    Running,
    /// Listed as suspended.
    Suspended,
    /// No longer listed.
    Gone,
}

/// One difference between two listings.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A session appeared.
    Added(SessionInfo),
    /// A session's status changed.
    StateChanged {
        /// The session as listed now.
        info: SessionInfo,
        /// Its status before.
        old: SessionStatus,
    },
    /// Other fields changed (ports, times, client address), the status did not.
    Updated(SessionInfo),
    /// A session disappeared.
    Removed(SessionInfo),
}

/// The bus name of a status.
pub fn status_str(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::Running => "running",
        SessionStatus::Suspended => "suspended",
        SessionStatus::Other(_) => "unknown",
    }
}

/// How many names of sessions that are gone a table remembers (for `Terminated` rather than
/// `Unknown`); far more than one user ends while a client still asks about them.
const MAX_SEEN: usize = 4096;

/// The known sessions of one profile.
#[derive(Debug, Default)]
pub struct SessionTable {
    known: BTreeMap<String, SessionInfo>,
    seen: HashSet<String>,
    /// `seen` in the order first listed, to forget the oldest gone ones first.
    seen_order: VecDeque<String>,
    expected: HashMap<String, (Expect, Instant)>,
    /// Sequence number of the newest listing applied: an older listing that finishes late
    /// must not undo what a newer one showed.
    applied: u64,
    issued: u64,
    /// Starts of ours under way, each until its deadline: a session that appears meanwhile
    /// is held back until a start names it (or the starts are over).
    starting_until: Vec<Instant>,
}

fn same_fields(a: &SessionInfo, b: &SessionInfo) -> bool {
    // The age column changes on every listing; it is not a change of the session.
    a.agent_pid == b.agent_pid
        && a.graphics_port == b.graphics_port
        && a.snd_port == b.snd_port
        && a.sshfs_port == b.sshfs_port
        && a.date_suspended == b.date_suspended
        && a.client_ip == b.client_ip
        && a.tekictrl_port == b.tekictrl_port
        && a.tekidata_port == b.tekidata_port
}

impl SessionTable {
    /// A ticket for a listing about to be requested; pass it to [`SessionTable::apply`].
    pub fn ticket(&mut self) -> u64 {
        self.issued += 1;
        self.issued
    }

    /// Records that an operation of ours is about to move `name` to `expect`.
    pub fn expect(&mut self, name: &str, expect: Expect) {
        self.expected
            .insert(name.to_owned(), (expect, Instant::now()));
    }

    /// Records that a start of ours is under way; its session's name is not known yet.
    pub fn expect_new(&mut self) {
        self.starting_until.push(Instant::now() + EXPECTATION_TTL);
    }

    /// The start is over (its session was listed, or it failed).
    pub fn start_done(&mut self) {
        // Starts overlap: each ends its own window (the oldest, which expires first).
        if !self.starting_until.is_empty() {
            self.starting_until.remove(0);
        }
    }

    /// Applies the result of an operation of ours that the server has confirmed (its
    /// command succeeded) without waiting for a listing: `name` is now suspended or gone.
    /// Listings requested before this are ignored when they finish, so they cannot undo it;
    /// the next listing confirms it (and reports any field that changed as an update).
    pub fn assume(&mut self, name: &str, reached: Expect) -> Option<(Change, Cause)> {
        self.expected.remove(name);
        self.overrule_pending_listings();
        let change = match reached {
            Expect::Gone => Change::Removed(self.known.remove(name)?),
            Expect::Suspended => self.set_status(name, SessionStatus::Suspended)?,
            Expect::Running => return None,
        };
        Some((change, Cause::Daemon))
    }

    /// Listings requested before now are ignored when they finish: they may predate a change
    /// just applied without one.
    fn overrule_pending_listings(&mut self) {
        self.issued += 1;
        self.applied = self.issued;
    }

    /// Sets a listed session's status ahead of a listing (see
    /// [`SessionTable::overrule_pending_listings`]); `None` if not listed or already so.
    fn set_status(&mut self, name: &str, status: SessionStatus) -> Option<Change> {
        let row = self.known.get_mut(name)?;
        if row.status == status {
            return None;
        }
        let old = std::mem::replace(&mut row.status, status);
        let info = row.clone();
        self.overrule_pending_listings();
        Some(Change::StateChanged { info, old })
    }

    /// Applies what a session's agent says of it (the watcher read its state file), as
    /// `x2golistsessions` would show it: suspended from `SUSPENDING` on, running while
    /// starting, resuming or running. Listings requested before are ignored when they finish
    /// (they may predate the change); other agent states, and sessions not listed yet, are
    /// left to the next listing.
    pub fn observe(&mut self, name: &str, agent: AgentState) -> Option<(Change, Cause)> {
        let (status, reached) = match agent {
            AgentState::Suspending | AgentState::Suspended => {
                (SessionStatus::Suspended, Expect::Suspended)
            }
            AgentState::Starting | AgentState::Resuming | AgentState::Running => {
                (SessionStatus::Running, Expect::Running)
            }
            AgentState::Terminating | AgentState::Terminated | AgentState::Unknown => {
                return None;
            }
        };
        let change = self.set_status(name, status)?;
        Some((change, self.cause(name, reached)))
    }

    /// Forgets an expectation (the operation failed).
    pub fn unexpect(&mut self, name: &str) {
        self.expected.remove(name);
    }

    fn cause(&mut self, name: &str, reached: Expect) -> Cause {
        match self.expected.get(name) {
            Some((want, at)) if *want == reached && at.elapsed() < EXPECTATION_TTL => {
                self.expected.remove(name);
                Cause::Daemon
            }
            _ => Cause::Other,
        }
    }

    /// Replaces the known sessions with a listing and returns what changed. A listing whose
    /// ticket is older than one already applied is ignored.
    pub fn apply(&mut self, ticket: u64, sessions: Vec<SessionInfo>) -> Vec<(Change, Cause)> {
        if ticket <= self.applied {
            return Vec::new();
        }
        self.applied = ticket;
        let mut changes = Vec::new();
        let mut now: BTreeMap<String, SessionInfo> = BTreeMap::new();
        // While a start of ours runs, a session nobody expected by name may be ours (its
        // name is not known until x2gostartagent answers) or another client's: it is held
        // back until the start knows its name, so the cause is never guessed.
        let now_t = Instant::now();
        self.starting_until.retain(|t| now_t < *t);
        let starting = !self.starting_until.is_empty();
        for info in sessions {
            let name = info.name.as_str();
            if starting && !self.known.contains_key(name) && !self.expected.contains_key(name) {
                continue;
            }
            now.insert(name.to_owned(), info);
        }
        for (name, old) in &self.known {
            if !now.contains_key(name) {
                changes.push((Change::Removed(old.clone()), Expect::Gone));
            }
        }
        for (name, info) in &now {
            match self.known.get(name) {
                None => {
                    let reached = match info.status {
                        SessionStatus::Suspended => Expect::Suspended,
                        _ => Expect::Running,
                    };
                    changes.push((Change::Added(info.clone()), reached));
                }
                Some(old) if old.status != info.status => {
                    let reached = match info.status {
                        SessionStatus::Suspended => Expect::Suspended,
                        _ => Expect::Running,
                    };
                    changes.push((
                        Change::StateChanged {
                            info: info.clone(),
                            old: old.status,
                        },
                        reached,
                    ));
                }
                Some(old) if !same_fields(old, info) => {
                    changes.push((Change::Updated(info.clone()), Expect::Running));
                }
                Some(_) => {}
            }
        }
        let names: Vec<String> = now.keys().cloned().collect();
        self.known = now;
        let out = changes
            .into_iter()
            .map(|(change, reached)| {
                let name = match &change {
                    Change::Added(i)
                    | Change::Updated(i)
                    | Change::Removed(i)
                    | Change::StateChanged { info: i, .. } => i.name.as_str().to_owned(),
                };
                let cause = match change {
                    // Field updates carry no cause of their own.
                    Change::Updated(_) => Cause::Other,
                    _ => self.cause(&name, reached),
                };
                (change, cause)
            })
            .collect();
        self.remember(names);
        out
    }

    /// Adds `names` to the sessions ever seen, forgetting the oldest ones no longer listed past
    /// [`MAX_SEEN`]: a daemon that runs for months must not keep every name it ever saw.
    fn remember(&mut self, names: Vec<String>) {
        for name in names {
            if self.seen.insert(name.clone()) {
                self.seen_order.push_back(name);
            }
        }
        // Each name is looked at once at most; listed ones go back to the end.
        for _ in 0..self.seen_order.len() {
            if self.seen_order.len() <= MAX_SEEN {
                break;
            }
            let Some(old) = self.seen_order.pop_front() else {
                break;
            };
            if self.known.contains_key(&old) {
                self.seen_order.push_back(old);
            } else {
                self.seen.remove(&old);
            }
        }
    }

    /// The session as last listed.
    pub fn get(&self, name: &str) -> Option<&SessionInfo> {
        self.known.get(name)
    }

    /// Every session as last listed.
    pub fn all(&self) -> impl Iterator<Item = &SessionInfo> {
        self.known.values()
    }

    /// Whether `name` was ever listed since the daemon started.
    pub fn was_seen(&self, name: &str) -> bool {
        self.seen.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x2go::list::parse_listing;

    fn row(name: &str, status: char, port: u16) -> String {
        let display = name.split('-').nth(1).unwrap();
        format!(
            "123|{name}|{display}|vm|{status}|2026-11-25T10:00:00|0123456789abcdef0123456789abcdef|127.0.0.1|{port}|{}|2026-11-25T10:00:01|alice|5|{}|-1|-1",
            port + 1,
            port + 2
        )
    }

    fn listing(rows: &[String]) -> Vec<SessionInfo> {
        let l = parse_listing(&rows.join("\n"));
        assert!(l.skipped.is_empty(), "{:?}", l.skipped);
        l.sessions
    }

    const A: &str = "alice-50-1700000000_stRxterm_dp24";
    const B: &str = "alice-51-1700000000_stDXFCE_dp24";

    fn kinds(c: &[(Change, Cause)]) -> Vec<String> {
        c.iter()
            .map(|(ch, cause)| {
                let k = match ch {
                    Change::Added(i) => format!("added {}", i.name.as_str()),
                    Change::StateChanged { info, old } => format!(
                        "{} {}->{}",
                        info.name.as_str(),
                        status_str(*old),
                        status_str(info.status)
                    ),
                    Change::Updated(i) => format!("updated {}", i.name.as_str()),
                    Change::Removed(i) => format!("removed {}", i.name.as_str()),
                };
                format!("{k} by {}", cause.as_str())
            })
            .collect()
    }

    #[test]
    fn diffs_with_causes() {
        let mut t = SessionTable::default();
        t.expect(A, Expect::Running);
        let k = t.ticket();
        assert_eq!(
            kinds(&t.apply(k, listing(&[row(A, 'R', 30000)]))),
            ["added alice-50-1700000000_stRxterm_dp24 by self"]
        );
        // Nothing changed (the age column differs, which does not count).
        let k = t.ticket();
        assert!(t.apply(k, listing(&[row(A, 'R', 30000)])).is_empty());
        let k = t.ticket();
        assert_eq!(
            kinds(&t.apply(k, listing(&[row(A, 'S', 30000), row(B, 'R', 31000)]))),
            [
                "alice-50-1700000000_stRxterm_dp24 running->suspended by other",
                "added alice-51-1700000000_stDXFCE_dp24 by other",
            ]
        );
        t.expect(A, Expect::Running);
        let k = t.ticket();
        assert_eq!(
            kinds(&t.apply(k, listing(&[row(A, 'R', 30100), row(B, 'R', 31000)]))),
            ["alice-50-1700000000_stRxterm_dp24 suspended->running by self",]
        );
        let k = t.ticket();
        assert_eq!(
            kinds(&t.apply(k, listing(&[row(A, 'R', 30200), row(B, 'R', 31000)]))),
            ["updated alice-50-1700000000_stRxterm_dp24 by other",]
        );
        t.expect(B, Expect::Gone);
        let k = t.ticket();
        assert_eq!(
            kinds(&t.apply(k, listing(&[row(A, 'R', 30200)]))),
            ["removed alice-51-1700000000_stDXFCE_dp24 by self",]
        );
        assert!(t.was_seen(B));
        assert!(t.get(B).is_none());
    }

    #[test]
    fn sessions_appearing_during_a_start_wait_for_its_name() {
        let mut t = SessionTable::default();
        t.expect_new();
        // Another client's session and ours show up before x2gostartagent has answered.
        let k = t.ticket();
        assert!(
            t.apply(k, listing(&[row(A, 'R', 30000), row(B, 'R', 31000)]))
                .is_empty()
        );
        t.expect(B, Expect::Running);
        let k = t.ticket();
        assert_eq!(
            kinds(&t.apply(k, listing(&[row(A, 'R', 30000), row(B, 'R', 31000)]))),
            ["added alice-51-1700000000_stDXFCE_dp24 by self"]
        );
        t.start_done();
        let k = t.ticket();
        assert_eq!(
            kinds(&t.apply(k, listing(&[row(A, 'R', 30000), row(B, 'R', 31000)]))),
            ["added alice-50-1700000000_stRxterm_dp24 by other"]
        );
    }

    #[test]
    fn confirmed_operations_apply_at_once_and_older_listings_cannot_undo_them() {
        let mut t = SessionTable::default();
        let k = t.ticket();
        t.apply(k, listing(&[row(A, 'R', 30000), row(B, 'R', 31000)]));
        let in_flight = t.ticket();
        t.expect(A, Expect::Suspended);
        let (change, cause) = t.assume(A, Expect::Suspended).unwrap();
        assert_eq!(
            kinds(&[(change, cause)]),
            ["alice-50-1700000000_stRxterm_dp24 running->suspended by self"]
        );
        // The listing requested before the suspend finishes late: ignored.
        assert!(
            t.apply(
                in_flight,
                listing(&[row(A, 'R', 30000), row(B, 'R', 31000)])
            )
            .is_empty()
        );
        assert_eq!(t.get(A).unwrap().status, SessionStatus::Suspended);
        // The next listing confirms it: nothing to report.
        let k = t.ticket();
        assert!(
            t.apply(k, listing(&[row(A, 'S', 30000), row(B, 'R', 31000)]))
                .is_empty()
        );
        let (change, _) = t.assume(B, Expect::Gone).unwrap();
        assert!(matches!(change, Change::Removed(_)));
        assert!(t.assume(B, Expect::Gone).is_none());
        let k = t.ticket();
        assert!(t.apply(k, listing(&[row(A, 'S', 30000)])).is_empty());
    }

    #[test]
    fn agent_states_apply_at_once_as_a_listing_would_show_them() {
        let mut t = SessionTable::default();
        let k = t.ticket();
        t.apply(k, listing(&[row(A, 'R', 30000), row(B, 'S', 31000)]));
        let in_flight = t.ticket();
        // Another client suspends A: reported when the agent starts suspending.
        let (change, cause) = t.observe(A, AgentState::Suspending).unwrap();
        assert_eq!(
            kinds(&[(change, cause)]),
            ["alice-50-1700000000_stRxterm_dp24 running->suspended by other"]
        );
        assert!(t.observe(A, AgentState::Suspended).is_none(), "once");
        // A listing asked for before (the database may still say R) cannot undo it.
        assert!(
            t.apply(
                in_flight,
                listing(&[row(A, 'R', 30000), row(B, 'S', 31000)])
            )
            .is_empty()
        );
        assert_eq!(t.get(A).unwrap().status, SessionStatus::Suspended);
        // Our own resume of B: the cause is ours.
        t.expect(B, Expect::Running);
        let (change, cause) = t.observe(B, AgentState::Resuming).unwrap();
        assert_eq!(
            kinds(&[(change, cause)]),
            ["alice-51-1700000000_stDXFCE_dp24 suspended->running by self"]
        );
        // Left to listings: ending agents, unreadable states, sessions never listed.
        for state in [
            AgentState::Terminating,
            AgentState::Terminated,
            AgentState::Unknown,
        ] {
            assert!(t.observe(B, state).is_none());
        }
        assert!(
            t.observe("alice-52-1700000000_stRxterm_dp24", AgentState::Running)
                .is_none()
        );
        // The next listing agrees: nothing more to report.
        let k = t.ticket();
        assert!(
            t.apply(k, listing(&[row(A, 'S', 30000), row(B, 'R', 31000)]))
                .is_empty()
        );
    }

    #[test]
    fn late_listings_are_ignored() {
        let mut t = SessionTable::default();
        let old = t.ticket();
        let new = t.ticket();
        assert_eq!(t.apply(new, listing(&[row(A, 'S', 30000)])).len(), 1);
        assert!(t.apply(old, listing(&[row(A, 'R', 30000)])).is_empty());
        assert_eq!(t.get(A).unwrap().status, SessionStatus::Suspended);
    }

    #[test]
    fn the_names_seen_are_pruned_oldest_gone_first() {
        let mut t = SessionTable::default();
        let k = t.ticket();
        t.apply(k, listing(&[row(A, 'R', 30200)]));
        let gone: Vec<String> = (0..MAX_SEEN + 10).map(|i| format!("gone-{i}")).collect();
        t.remember(gone);
        assert_eq!(t.seen.len(), MAX_SEEN);
        assert_eq!(t.seen_order.len(), MAX_SEEN);
        // The listed session is kept; the oldest gone ones are forgotten.
        assert!(t.was_seen(A));
        assert!(!t.was_seen("gone-0"));
        assert!(t.was_seen(&format!("gone-{}", MAX_SEEN + 9)));
    }
}
