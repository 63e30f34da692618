//! Session lifecycle script output → `parse_start_agent`, `parse_resume`, `parse_agent_state`
//! and, line by line, `parse_watch_line` and `parse_list_marker`.
//!
//! Invariants: no panic; an accepted start has a session name whose display matches, non-zero
//! ports and a 32-hex-digit cookie, and its errors never quote a valid cookie line; an accepted
//! resume has non-zero ports; agent states and watch events round-trip through their words; a
//! listing marker is never also a watch event, and begin/end markers round-trip through the
//! words the watcher script prints.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x2god::x2go::tokens::{WATCH_ALIVE, WATCH_CHANGED, WATCH_STATE};
use x2god::x2go::validate::SessionName;
use x2god::x2go::{
    AgentState, ListMarker, WatchEvent, parse_agent_state, parse_list_marker, parse_resume,
    parse_start_agent, parse_watch_line,
};
use x2god_fuzz::{assert_no_shell_meta, is_cookie, text};

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };

    match parse_start_agent(text) {
        Ok(a) => {
            assert_eq!(
                a.name.display(),
                a.display.number(),
                "display mismatch accepted"
            );
            assert_no_shell_meta("started session name", a.name.as_str());
            assert_eq!(SessionName::parse(a.name.as_str()).as_ref(), Ok(&a.name));
            assert!(a.agent_pid > 0 && a.graphics_port > 0 && a.sound_port > 0 && a.sshfs_port > 0);
            if let Some((c, d)) = a.telekinesis {
                assert!(c > 0 && d > 0);
            }
            assert!(is_cookie(a.cookie().expose()));
        }
        Err(e) => {
            let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
            if let Some(cookie) = lines.get(1).filter(|c| is_cookie(c)) {
                // Another line's escaped preview may hold the same text (`\0` + digits): not a leak.
                let elsewhere = lines
                    .iter()
                    .enumerate()
                    .any(|(i, l)| i != 1 && format!("{l:?}").contains(cookie));
                assert!(
                    elsewhere || !e.to_string().contains(cookie),
                    "start error leaks the cookie: {e}"
                );
            }
        }
    }

    if let Ok(p) = parse_resume(text) {
        assert!(p.graphics_port > 0 && p.sound_port > 0 && p.sshfs_port > 0);
        assert!(p.tekictrl_port.is_none_or(|p| p > 0));
        assert!(p.tekidata_port.is_none_or(|p| p > 0));
    }

    let state = parse_agent_state(text);
    assert_eq!(parse_agent_state(state.as_str()), state);
    if state != AgentState::Unknown {
        assert_eq!(text.trim(), state.as_str());
    }

    for line in text.split('\n') {
        match parse_watch_line(line) {
            Some(WatchEvent::Changed) => assert_eq!(line.trim_end(), WATCH_CHANGED),
            Some(WatchEvent::Alive) => assert_eq!(line.trim_end(), WATCH_ALIVE),
            Some(WatchEvent::Agent {
                session,
                state,
                listen,
            }) => {
                // The name is a valid one, taken whole from the line; the state as parsed; a
                // port only for a resuming agent, and never 0.
                let port = listen.map(|p| format!(" {p}")).unwrap_or_default();
                let again = format!(
                    "{WATCH_STATE} {} {}{port}",
                    session.as_str(),
                    state.as_str()
                );
                assert_eq!(
                    parse_watch_line(&again),
                    Some(WatchEvent::Agent {
                        session,
                        state,
                        listen
                    })
                );
                assert!(line.starts_with(WATCH_STATE));
                assert!(listen.is_none() || state == AgentState::Resuming);
                assert_ne!(listen, Some(0));
            }
            None => assert!(line.trim_end() != WATCH_CHANGED && line.trim_end() != WATCH_ALIVE),
        }
        match parse_list_marker(line) {
            Some(ListMarker::Begin(id)) => {
                assert_eq!(
                    parse_list_marker(&format!("X2GOD-LIST-BEGIN {id}")),
                    Some(ListMarker::Begin(id))
                );
                assert!(parse_watch_line(line).is_none());
            }
            Some(ListMarker::End(id, rc)) => {
                let again = format!("X2GOD-LIST-END {id} {rc}");
                assert_eq!(parse_list_marker(&again), Some(ListMarker::End(id, rc)));
                assert!(parse_watch_line(line).is_none());
            }
            Some(ListMarker::Stderr(rest)) => assert!(line.contains(rest)),
            None => assert!(!line.starts_with("X2GOD-LIST-ERR ")),
        }
    }
});
