//! `x2goctl watch`: x2god's events as lines (or JSON objects) as they arrive.
//!
//! The events come from `x2god_client`'s stream, which covers profiles created later and
//! follows the daemon across restarts (with a resync of what it knows afterwards).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::{Value as Json, json};
use x2god_client::{Cause, Client, Event};

use crate::exit::{Exit, Failure};

/// One event, as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The profile it concerns; empty for the daemon's own events.
    pub profile: String,
    /// The JSON form: `{"event": …, "profile": …, …}` without the time.
    pub json: Json,
    /// The line for people, without the time.
    pub text: String,
}

/// The cause as the D-Bus API names it: `self` (x2god did it on a client's request), `other`
/// (another client, the server, the session itself), or `sync` (not a change: a resync).
fn cause_word(c: Cause) -> &'static str {
    match c {
        Cause::Requested => "self",
        Cause::External => "other",
        Cause::Sync => "sync",
    }
}

/// Turns an event into what `watch` prints; `None` for kinds this version does not know.
pub fn line_of(e: &Event) -> Option<Line> {
    let profile = e.profile().map(|p| p.name.clone()).unwrap_or_default();
    let p = &profile;
    let (json, text) = match e {
        Event::ProfileAdded { state, .. } => (
            json!({"event": "profile_added", "profile": p, "state": state.as_str()}),
            format!("{p}: profile added ({state})"),
        ),
        Event::ProfileRemoved { .. } => (
            json!({"event": "profile_removed", "profile": p}),
            format!("{p}: profile removed"),
        ),
        Event::ConnectionStateChanged { state, reason, .. } => (
            json!({"event": "connection_state_changed", "profile": p, "state": state.as_str(),
                   "reason": reason}),
            if reason.is_empty() || reason == state.as_str() {
                format!("{p}: connection {state}")
            } else {
                format!("{p}: connection {state}: {reason}")
            },
        ),
        Event::ConnectionLost { reason, .. } => (
            json!({"event": "connection_lost", "profile": p, "reason": reason}),
            format!("{p}: connection lost: {reason}"),
        ),
        Event::SessionAdded {
            session,
            state,
            cause,
            ..
        } => (
            json!({"event": "session_added", "profile": p, "session": session.name,
                   "state": state.as_str(), "cause": cause_word(*cause)}),
            format!(
                "{p}: session {} added, {state} ({})",
                session.name,
                cause_word(*cause)
            ),
        ),
        Event::SessionStateChanged {
            session,
            old,
            new,
            cause,
            ..
        } => (
            json!({"event": "session_state_changed", "profile": p, "session": session.name,
                   "old": old.as_str(), "new": new.as_str(), "cause": cause_word(*cause)}),
            format!(
                "{p}: session {} {old} -> {new} ({})",
                session.name,
                cause_word(*cause)
            ),
        ),
        Event::SessionRemoved { session, cause, .. } => (
            json!({"event": "session_removed", "profile": p, "session": session.name,
                   "cause": cause_word(*cause)}),
            format!(
                "{p}: session {} removed ({})",
                session.name,
                cause_word(*cause)
            ),
        ),
        Event::DaemonLost => (json!({"event": "daemon_lost"}), "x2god stopped".into()),
        Event::DaemonRestarted => (json!({"event": "daemon_started"}), "x2god started".into()),
        Event::Synced => (json!({"event": "synced"}), "x2god: in sync".into()),
        _ => return None,
    };
    Some(Line {
        profile,
        json,
        text,
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `t` (UTC: no time zone database needed, and unambiguous).
pub fn utc_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// What `watch` was asked for.
pub struct WatchArgs<'a> {
    /// Only events of these profiles (and the daemon's own); all when empty.
    pub profiles: &'a [String],
    /// Exit after this many events.
    pub count: Option<usize>,
    /// Prefix lines with the time.
    pub timestamps: bool,
    /// Describe the current state first.
    pub snapshot: bool,
    /// One JSON object per line.
    pub json: bool,
    /// No readiness note on stderr.
    pub quiet: bool,
}

/// Prints events until interrupted, or until `count` were printed.
pub async fn watch(client: &Client, a: WatchArgs<'_>) -> Result<Exit, Failure> {
    let mut events = if a.snapshot {
        client.events_with_snapshot().await?
    } else {
        client.events().await?
    };
    if !a.quiet {
        // On stderr, and only once the subscription is in place: a script can wait for this
        // line before it makes the change it wants to see.
        eprintln!("watching x2god events (Ctrl-C to stop)");
    }
    if a.count == Some(0) {
        return Ok(Exit::Ok);
    }
    let mut printed = 0usize;
    let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
    loop {
        let event = tokio::select! {
            e = events.next() => match e {
                Some(e) => e,
                None => return Err(Failure::new(
                    Exit::NoDaemon, "NoBus", "the D-Bus connection closed")),
            },
            _ = &mut interrupt => return Ok(Exit::Ok),
        };
        let Some(line) = line_of(&event) else {
            continue;
        };
        if !a.profiles.is_empty() && !line.profile.is_empty() && !a.profiles.contains(&line.profile)
        {
            continue;
        }
        let now = SystemTime::now();
        let text = if a.json {
            let mut j = line.json;
            if let Some(m) = j.as_object_mut() {
                m.insert("time".into(), json!(utc_timestamp(now)));
            }
            j.to_string()
        } else if a.timestamps {
            format!("{} {}", utc_timestamp(now), line.text)
        } else {
            line.text
        };
        let mut out = std::io::stdout().lock();
        match writeln!(out, "{text}").and_then(|_| out.flush()) {
            // The reader went away (`x2goctl watch | head -1`): that ends the watch normally.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(Exit::Ok),
            Err(e) => return Err(Failure::local(format!("cannot write the output: {e}"))),
            Ok(()) => {}
        }
        printed += 1;
        if a.count.is_some_and(|n| printed >= n) {
            return Ok(Exit::Ok);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(utc_timestamp(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(utc_timestamp(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn events_become_lines() {
        let profile = x2god_client::ProfileId::from_path(x2god_proto::path::profile_path("my lab"));
        let session = x2god_client::SessionId {
            path: x2god_proto::path::session_path("my lab", "s1"),
            name: "s1".into(),
        };
        let e = Event::SessionStateChanged {
            profile,
            session,
            old: x2god_client::SessionState::Running,
            new: x2god_client::SessionState::Suspended,
            cause: Cause::External,
        };
        let l = line_of(&e).unwrap();
        assert_eq!(l.profile, "my lab");
        assert_eq!(l.text, "my lab: session s1 running -> suspended (other)");
        assert_eq!(l.json["event"], "session_state_changed");
        assert_eq!(l.json["cause"], "other");
        assert_eq!(line_of(&Event::DaemonLost).unwrap().profile, "");
    }
}
