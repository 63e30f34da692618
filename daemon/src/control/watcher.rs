//! Watching a connected profile's sessions, whoever changes them.
//!
//! A long-lived command on the profile's own connection (the `x2go::command::watch_changes`
//! script, shell builtins only) prints a line when the user's session directories change; only
//! then does the watcher run `x2golistsessions`. Every [`FULL_LISTING`] it lists anyway, because
//! the listing also repairs server state. Without the script (another login shell, a server that
//! closes it) the watcher falls back to listing every `poll_interval` seconds.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use tracing::{debug, info, warn};

use super::profile::{ProfileController, lock};
use crate::ssh::{Connection, LineStream};
use crate::x2go::command::RemoteCommand;
use crate::x2go::envelope::Envelope;
use crate::x2go::start::{WatchEvent, parse_watch_line};
use crate::x2go::validate::SessionName;
use crate::x2go::watch_line;

/// A listing at least this often, even when the watcher reports nothing (its heartbeats do not
/// count): `x2golistsessions`
/// also repairs server state, and the server's own `x2gocleansessions` does the same every 2 s,
/// so this is a safety net, kept rare because each listing costs the server ~0.1 s of CPU.
const FULL_LISTING: Duration = Duration::from_secs(120);
/// How often the server-side script looks at the session files: each look costs the server
/// about 1 ms of CPU (benchmarked), so 0.5 s keeps one watched profile near 0.1 s of server CPU
/// a minute while a change still reaches listeners well within a second.
const WATCH_TICK: Duration = Duration::from_millis(500);

/// Starts watching `ctl`'s sessions on `conn` until the connection ends or is replaced.
pub(super) fn spawn(ctl: &Arc<ProfileController>, conn: Connection, generation: u64) {
    let weak = Arc::downgrade(ctl);
    tokio::spawn(async move { run(weak, conn, generation).await });
}

async fn refresh(ctl: &ProfileController) {
    if let Err(e) = ctl.list_sessions().await {
        debug!(profile = %ctl.name(), error = %e, "watcher listing failed");
    }
}

async fn open_stream(ctl: &ProfileController, conn: &Connection) -> Option<LineStream> {
    let envelope = Envelope::new(&super::profile::new_marker()).ok()?;
    let cmd = envelope.wrap(&RemoteCommand::watch_changes(WATCH_TICK));
    match conn.exec_lines(&cmd).await {
        Ok(s) => {
            info!(profile = %ctl.name(), "watching sessions on the server");
            Some(s)
        }
        Err(e) => {
            warn!(profile = %ctl.name(), error = %e, "cannot start the session watcher; polling instead");
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

async fn run(weak: Weak<ProfileController>, conn: Connection, generation: u64) {
    let (mut stream, mut listed_at) = {
        let Some(ctl) = weak.upgrade() else { return };
        refresh(&ctl).await;
        (open_stream(&ctl, &conn).await, Instant::now())
    };
    let mut told: Option<Vec<String>> = None;
    loop {
        let Some(ctl) = weak.upgrade() else { return };
        if ctl.generation() != generation || conn.is_closed() {
            return;
        }
        tell_sessions(&ctl, stream.as_ref(), &mut told).await;
        let wait = if stream.is_some() {
            FULL_LISTING
        } else {
            ctl.poll_interval()
        };
        let list = tokio::select! {
            line = next_line(&mut stream) => match line {
                Some(line) => parse_watch_line(&line) == Some(WatchEvent::Changed),
                None => {
                    if let Some(s) = stream.take() {
                        s.close().await;
                    }
                    if !conn.is_closed() {
                        warn!(profile = %ctl.name(), "the session watcher ended; polling instead");
                    }
                    false
                }
            },
            _ = ctl.kick.notified() => true,
            // Heartbeats do not postpone the periodic listing.
            _ = tokio::time::sleep_until(listed_at + wait) => true,
            _ = conn.closed() => return,
        };
        if list {
            refresh(&ctl).await;
            listed_at = Instant::now();
        }
    }
}

/// Tells the server-side script which sessions' state files to look at: the ones listed
/// (see `x2go::watch::WATCH_SCRIPT`), whenever that set has changed since it was last told.
async fn tell_sessions(
    ctl: &ProfileController,
    stream: Option<&LineStream>,
    told: &mut Option<Vec<String>>,
) {
    let Some(stream) = stream else { return };
    let mut names: Vec<SessionName> = lock(&ctl.table).all().map(|s| s.name.clone()).collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let now: Vec<String> = names.iter().map(|n| n.as_str().to_owned()).collect();
    if told.as_ref() == Some(&now) {
        return;
    }
    match stream.send(watch_line(&names).as_bytes()).await {
        Ok(()) => *told = Some(now),
        Err(e) => debug!(profile = %ctl.name(), error = %e, "cannot update the session watcher"),
    }
}
