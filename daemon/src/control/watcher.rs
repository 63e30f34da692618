//! Watching a connected profile's sessions, whoever changes them.
//!
//! A long-lived command on the profile's own connection (the `x2go::command::watch_changes`
//! script, shell builtins only) prints a line when the user's session directories change; only
//! then does the watcher run `x2golistsessions`. Every [`FULL_LISTING`] it lists anyway, because
//! the listing also repairs server state. The script also runs clients' listings on request
//! over its channel (see `Listings::offer_route`), which saves opening a channel per listing;
//! the watcher's own listings run as commands of their own, so that the script, which runs a
//! listing before it reads on, keeps reporting agent state changes (within milliseconds)
//! meanwhile. Without the script (another login shell, a server that closes it) the watcher
//! falls back to listing every `poll_interval` seconds.
//!
//! It sees its profile only through a [`WatchTarget`]: the sessions, the connection's
//! generation, and the lifecycle's activity.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use tracing::{debug, info, trace, warn};

use super::activity::Activity;
use super::connection::Connector;
use super::error::Error;
use super::exec::new_marker;
use super::listing::{ListRequest, Listings, Route};
use super::sync::SharedName;
use crate::ssh::{Connection, LineStream, MAX_STDERR, MAX_STDOUT};
use crate::x2go::command::RemoteCommand;
use crate::x2go::envelope::Envelope;
use crate::x2go::watch::{WatchEvent, parse_watch_line};
use crate::x2go::{ListMarker, list_request, parse_list_marker, watch_line};

/// A listing at least this often, even when the watcher reports nothing (its heartbeats do not
/// count): `x2golistsessions` also repairs server state, and the server's own
/// `x2gocleansessions` does the same every 2 s, so this is a safety net, kept rare because each
/// listing costs the server ~0.1 s of CPU.
const FULL_LISTING: Duration = Duration::from_secs(120);
/// After a reported change, list once more this much later: the server scripts change the
/// files the watcher looks at (the agent's state) and the database the listing reads
/// (`x2gochangestatus`) in either order, so the listing right after the last file change
/// may still show the old status — and a database change alone is never reported.
const FOLLOW_UP: Duration = Duration::from_secs(1);
/// How often the server-side script looks at the session files unwoken: each look costs the
/// server about 1 ms of CPU (a wake-up of bash, measured with schedstat). The known sessions'
/// state changes wake it at once (`tail -F`, see `x2go::watch`), so the tick bounds only how
/// late a session another client starts is seen, and every change on a server whose `tail`
/// cannot follow files.
const WATCH_TICK: Duration = Duration::from_secs(2);
/// While a lifecycle operation of ours is in progress, the listings the watcher would run are
/// put off, looking again this often: the operation ends with a listing of its own (or a
/// kick), and the server scripts it runs are mostly Perl start-ups that a listing (one more)
/// would slow down on a small server. Agent states are still published at once.
const BUSY_RECHECK: Duration = Duration::from_millis(250);
/// How long listings are put off at most, should an operation take long.
const BUSY_DEFER_MAX: Duration = Duration::from_secs(5);
/// How long opening the script's channel and starting it may take: a server that never
/// answers leaves the profile polling, not without a watcher for good.
const WATCH_START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request to the script may take to go out: a script that stopped reading (its
/// channel's window full) is given up, and the profile polls.
const WATCH_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the watcher may use of its profile: the sessions (to list, to learn the names to
/// follow, to publish agent states), the connector (is this connection still the current
/// one?), and the lifecycle's activity (is an operation under way, is a resume waiting for an
/// agent?). The sessions are held weakly: a profile that goes away ends its watcher.
pub(crate) struct WatchTarget {
    /// For logs.
    pub name: SharedName,
    /// The profile's sessions.
    pub listings: Weak<Listings>,
    /// The profile's connection.
    pub connector: Weak<Connector>,
    /// What the profile's own operations are doing.
    pub activity: Arc<Activity>,
    /// How often to list when the server-side script cannot run.
    pub poll_interval: Duration,
}

/// Starts watching the target's sessions on `conn` until the connection ends or is replaced.
pub(crate) fn spawn(target: WatchTarget, conn: Connection, generation: u64) {
    tokio::spawn(async move { run(target, conn, generation).await });
}

async fn refresh(name: &SharedName, listings: &Listings) {
    if let Err(e) = listings.list(Duration::ZERO, Route::Exec).await {
        debug!(profile = %name, error = %e, "watcher listing failed");
    }
}

/// Lists in a task of its own, so that the watcher keeps reading its stream (which reports
/// agent states within milliseconds) meanwhile.
fn spawn_refresh(name: &SharedName, listings: &Arc<Listings>) {
    let (name, listings) = (name.clone(), Arc::clone(listings));
    tokio::spawn(async move { refresh(&name, &listings).await });
}

/// A listing the script was asked for and has not finished.
struct Pending {
    id: u64,
    reply: oneshot::Sender<Result<String, Error>>,
    /// Between its begin and end markers.
    started: bool,
    stdout: String,
    stderr: String,
}

impl Pending {
    fn new(id: u64, reply: oneshot::Sender<Result<String, Error>>) -> Self {
        Self {
            id,
            reply,
            started: false,
            stdout: String::new(),
            stderr: String::new(),
        }
    }
}

/// Files one line of a listing under way; `true` if the line belonged to one.
fn on_list_line(line: &str, pending: &mut VecDeque<Pending>) -> bool {
    match parse_list_marker(line) {
        Some(ListMarker::Begin(id)) => {
            if let Some(p) = pending.front_mut().filter(|p| p.id == id) {
                p.started = true;
            }
            true
        }
        Some(ListMarker::Stderr(text)) => {
            if let Some(p) = pending.front_mut().filter(|p| p.started) {
                append_bounded(&mut p.stderr, text, MAX_STDERR);
            }
            true
        }
        Some(ListMarker::End(id, status)) => {
            if pending.front().is_some_and(|p| p.id == id)
                && let Some(p) = pending.pop_front()
            {
                let result = if status == 0 {
                    Ok(p.stdout)
                } else {
                    Err(Error::Server {
                        command: "x2golistsessions".into(),
                        status: Some(status),
                        stderr: p.stderr.trim().to_owned(),
                    })
                };
                let _ = p.reply.send(result);
            }
            true
        }
        None => match pending.front_mut().filter(|p| p.started) {
            Some(p) => {
                if !append_bounded(&mut p.stdout, line, MAX_STDOUT)
                    && let Some(p) = pending.pop_front()
                {
                    // The script keeps printing this listing's rows; with it no longer the
                    // front, they fall to the watcher, which ignores lines it does not know.
                    warn!(
                        max = MAX_STDOUT,
                        "a listing from the watcher script was too large"
                    );
                    let _ = p.reply.send(Err(Error::Protocol {
                        command: "x2golistsessions".into(),
                        reason: format!("more than {MAX_STDOUT} bytes of output; refused"),
                    }));
                }
                true
            }
            None => false,
        },
    }
}

/// Appends `line` and a newline to `buf` unless that would pass `limit` bytes; stderr, only
/// ever shown in a message, stops growing there, stdout fails the listing (`false`).
fn append_bounded(buf: &mut String, line: &str, limit: usize) -> bool {
    if buf.len().saturating_add(line.len()).saturating_add(1) > limit {
        return false;
    }
    buf.push_str(line);
    buf.push('\n');
    true
}

async fn open_stream(name: &SharedName, conn: &Connection) -> Option<LineStream> {
    let envelope = Envelope::new(&new_marker()).ok()?;
    let cmd = envelope.wrap(&RemoteCommand::watch_changes(WATCH_TICK));
    match tokio::time::timeout(WATCH_START_TIMEOUT, conn.exec_lines(&cmd)).await {
        Ok(Ok(s)) => {
            info!(profile = %name, "watching sessions on the server");
            Some(s)
        }
        Ok(Err(e)) => {
            warn!(profile = %name, error = %e, "cannot start the session watcher; polling instead");
            None
        }
        Err(_) => {
            warn!(profile = %name, timeout = ?WATCH_START_TIMEOUT, "the session watcher did not start in time; polling instead");
            None
        }
    }
}

async fn next_line(stream: &mut Option<LineStream>) -> Option<String> {
    match stream {
        Some(s) => match s.next_line().await {
            Some(Ok(line)) => Some(line),
            Some(Err(_)) | None => None,
        },
        None => std::future::pending().await,
    }
}

async fn run(target: WatchTarget, conn: Connection, generation: u64) {
    let name = target.name.clone();
    let (mut stream, mut listed_at) = {
        let Some(listings) = target.listings.upgrade() else {
            return;
        };
        refresh(&name, &listings).await;
        (open_stream(&name, &conn).await, Instant::now())
    };
    let mut asked = match (&stream, target.listings.upgrade()) {
        (Some(_), Some(listings)) => Some(listings.offer_route(generation)),
        _ => None,
    };
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut next_id: u64 = 0;
    let mut told: Option<String> = None;
    // A second look a moment after a reported change (see [`FOLLOW_UP`]).
    let mut follow_up: Option<Instant> = None;
    // Since when a listing has been put off for an operation in progress (see [`BUSY_RECHECK`]).
    let mut deferred_since: Option<Instant> = None;
    loop {
        let (Some(listings), Some(connector)) =
            (target.listings.upgrade(), target.connector.upgrade())
        else {
            return;
        };
        if connector.generation() != generation || conn.is_closed() {
            listings.withdraw_route(generation);
            return;
        }
        drop(connector);
        tell_sessions(&name, &listings, stream.as_ref(), &mut told).await;
        let wait = if stream.is_some() {
            FULL_LISTING
        } else {
            target.poll_interval
        };
        let list = tokio::select! {
            line = next_line(&mut stream) => match line {
                // (Not logged: listing rows carry the sessions' X cookies.)
                Some(line) if on_list_line(&line, &mut pending) => false,
                Some(line) => match parse_watch_line(&line).inspect(|e| trace!(profile = %name, event = ?e, "watcher line")) {
                    Some(WatchEvent::Changed) => {
                        follow_up = Some(Instant::now() + FOLLOW_UP);
                        true
                    }
                    // Told at once; the change line that follows has it confirmed by a listing.
                    Some(WatchEvent::Agent { session, state, listen }) => {
                        if let Some(port) = listen {
                            target.activity.agent_listens(session.as_str(), port);
                        }
                        listings.observe_agent(session.as_str(), state).await;
                        false
                    }
                    Some(WatchEvent::Alive) | None => false,
                },
                None => {
                    give_up_script(&mut stream, &listings, generation, &mut pending, &mut asked).await;
                    if !conn.is_closed() {
                        warn!(profile = %name, "the session watcher ended; polling instead");
                    }
                    false
                }
            },
            Some(req) = next_request(&mut asked) => {
                next_id += 1;
                let line = list_request(next_id, req.include_shadow);
                if let Some(s) = stream.as_ref() {
                    match tokio::time::timeout(WATCH_WRITE_TIMEOUT, s.send(line.as_bytes())).await {
                        Ok(Ok(())) => pending.push_back(Pending::new(next_id, req.reply)),
                        // The caller, its reply dropped, lists on its own.
                        Ok(Err(_)) => {}
                        Err(_) => {
                            warn!(profile = %name, timeout = ?WATCH_WRITE_TIMEOUT, "the session watcher stopped reading; polling instead");
                            give_up_script(&mut stream, &listings, generation, &mut pending, &mut asked).await;
                        }
                    }
                }
                false
            },
            () = sleep_until_some(follow_up) => {
                follow_up = None;
                true
            },
            () = listings.listing_requested() => true,
            // Back to the top, which tells the script the new set.
            () = listings.names_changed() => false,
            // Heartbeats do not postpone the periodic listing; while listings are put off,
            // the follow-up looks again.
            _ = tokio::time::sleep_until(listed_at + wait), if deferred_since.is_none() => true,
            _ = conn.closed() => {
                listings.withdraw_route(generation);
                return;
            },
        };
        if list {
            let now = Instant::now();
            if put_off(target.activity.is_busy(), now, &mut deferred_since) {
                let recheck = now + BUSY_RECHECK;
                follow_up = Some(follow_up.map_or(recheck, |f| f.min(recheck)));
            } else {
                spawn_refresh(&name, &listings);
                listed_at = now;
            }
        }
    }
}

/// Ends the script's stream; callers waiting for a listing from it, or about to ask, fall
/// back to their own.
async fn give_up_script(
    stream: &mut Option<LineStream>,
    listings: &Listings,
    generation: u64,
    pending: &mut VecDeque<Pending>,
    asked: &mut Option<tokio::sync::mpsc::UnboundedReceiver<ListRequest>>,
) {
    if let Some(s) = stream.take() {
        s.close().await;
    }
    listings.withdraw_route(generation);
    pending.clear();
    if let Some(mut a) = asked.take() {
        a.close();
        while a.try_recv().is_ok() {}
    }
}

/// The next listing asked of the script, while it takes requests.
async fn next_request(
    asked: &mut Option<tokio::sync::mpsc::UnboundedReceiver<ListRequest>>,
) -> Option<ListRequest> {
    match asked {
        Some(a) => a.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether a listing due `now` is put off because an operation is in progress (`busy`);
/// `since` remembers when the first one was, so that none is put off beyond
/// [`BUSY_DEFER_MAX`]. Cleared once a listing runs.
fn put_off(busy: bool, now: Instant, since: &mut Option<Instant>) -> bool {
    if busy && now < *since.get_or_insert(now) + BUSY_DEFER_MAX {
        return true;
    }
    *since = None;
    false
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Tells the server-side script which sessions' state files to look at: the ones listed
/// (see `x2go::watch::WATCH_SCRIPT`), whenever that set has changed since it was last told.
async fn tell_sessions(
    name: &SharedName,
    listings: &Listings,
    stream: Option<&LineStream>,
    told: &mut Option<String>,
) {
    let Some(stream) = stream else { return };
    let line = watch_line(&listings.names());
    if told.as_ref() == Some(&line) {
        return;
    }
    trace!(profile = %name, line = line.trim_end(), "telling the session watcher");
    match stream.send(line.as_bytes()).await {
        Ok(()) => *told = Some(line),
        Err(e) => debug!(profile = %name, error = %e, "cannot update the session watcher"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_are_put_off_while_busy_for_a_while_only() {
        let t0 = Instant::now();
        let mut since = None;
        assert!(!put_off(false, t0, &mut since));
        assert!(put_off(true, t0, &mut since));
        assert!(put_off(true, t0 + BUSY_DEFER_MAX / 2, &mut since));
        // Still busy, but put off for too long: this one runs, and the count starts again.
        assert!(!put_off(true, t0 + BUSY_DEFER_MAX, &mut since));
        assert_eq!(since, None);
        assert!(put_off(true, t0 + BUSY_DEFER_MAX, &mut since));
        assert!(!put_off(false, t0 + BUSY_DEFER_MAX, &mut since));
        assert_eq!(since, None);
    }

    fn pending(id: u64) -> (Pending, oneshot::Receiver<Result<String, Error>>) {
        let (reply, answer) = oneshot::channel();
        (Pending::new(id, reply), answer)
    }

    #[test]
    fn listing_lines_are_framed_and_the_rest_is_left_to_the_watcher() {
        let mut q = VecDeque::new();
        let (p1, mut a1) = pending(1);
        let (p2, mut a2) = pending(2);
        q.push_back(p1);
        q.push_back(p2);
        // Before the begin marker, lines belong to the watcher.
        assert!(!on_list_line("X2GOD-CHANGED", &mut q));
        assert!(on_list_line("X2GOD-LIST-BEGIN 1", &mut q));
        assert!(on_list_line("1|s|50|h|R", &mut q));
        assert!(on_list_line("X2GOD-LIST-ERR noise", &mut q));
        assert!(on_list_line("X2GOD-LIST-END 1 0", &mut q));
        assert_eq!(a1.try_recv().unwrap().unwrap(), "1|s|50|h|R\n");
        // An end for another id does not finish listing 2.
        assert!(on_list_line("X2GOD-LIST-BEGIN 2", &mut q));
        assert!(on_list_line("X2GOD-LIST-END 7 0", &mut q));
        assert!(a2.try_recv().is_err());
        assert!(on_list_line("X2GOD-LIST-ERR no database", &mut q));
        assert!(on_list_line("X2GOD-LIST-END 2 1", &mut q));
        match a2.try_recv().unwrap() {
            Err(Error::Server { status, stderr, .. }) => {
                assert_eq!((status, stderr.as_str()), (Some(1), "no database"));
            }
            other => panic!("{other:?}"),
        }
        assert!(q.is_empty());
        assert!(!on_list_line("X2GOD-ALIVE", &mut q));
    }

    #[test]
    fn a_listing_over_the_output_cap_fails_and_its_buffers_stay_bounded() {
        let mut q = VecDeque::new();
        let (p1, mut a1) = pending(1);
        q.push_back(p1);
        assert!(on_list_line("X2GOD-LIST-BEGIN 1", &mut q));
        let row = "x".repeat(60 * 1024);
        let noise = "e".repeat(1024);
        for _ in 0..(MAX_STDOUT / row.len() + 2) {
            assert!(on_list_line(&row, &mut q) || q.is_empty());
            assert!(q.front().is_none_or(|p| p.stdout.len() <= MAX_STDOUT));
        }
        match a1.try_recv().unwrap() {
            Err(Error::Protocol { reason, .. }) => assert!(reason.contains("refused"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(q.is_empty());
        // Standard error stops growing at its cap.
        let (p2, _a2) = pending(2);
        q.push_back(p2);
        assert!(on_list_line("X2GOD-LIST-BEGIN 2", &mut q));
        for _ in 0..(MAX_STDERR / noise.len() + 10) {
            assert!(on_list_line(&format!("X2GOD-LIST-ERR {noise}"), &mut q));
        }
        assert!(q.front().unwrap().stderr.len() <= MAX_STDERR);
    }
}
