//! `x2golistsessions` / `x2golistshadowsessions` output → `parse_listing`.
//!
//! Invariants: no panic; every row is either a session or a skip; every accepted session is
//! fully validated (its name re-parses to the same `SessionName`, display matches, user name,
//! cookie, ports and host fields are in their character sets); a skip reason never quotes a
//! valid cookie.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x2god::x2go::validate::{SessionName, Username};
use x2god::x2go::{SessionStatus, parse_listing};
use x2god_fuzz::{assert_charset, assert_no_shell_meta, is_cookie, text};

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let listing = parse_listing(text);
    let rows = text.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(
        listing.sessions.len() + listing.skipped.len(),
        rows,
        "rows lost"
    );

    for s in &listing.sessions {
        let name = s.name.as_str();
        assert_no_shell_meta("session name", name);
        let again = SessionName::parse(name).expect("accepted session name does not re-parse");
        assert_eq!(again, s.name);
        assert_eq!(
            s.display,
            s.name.display(),
            "display differs from the name's"
        );
        assert!(s.agent_pid > 0);
        assert!(s.graphics_port > 0 && s.snd_port > 0 && s.sshfs_port > 0);
        assert!(s.tekictrl_port == -1 || (1..=65535).contains(&s.tekictrl_port));
        assert!(s.tekidata_port == -1 || (1..=65535).contains(&s.tekidata_port));
        assert!(is_cookie(s.cookie().expose()), "cookie not 32 hex digits");
        Username::parse(&s.username).expect("accepted user name does not re-parse");
        let host = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
        assert_charset("hostname", &s.hostname, host);
        assert_charset("client address", &s.client_ip, |c| {
            host(c) || matches!(c, ':' | '%')
        });
        if let SessionStatus::Other(c) = s.status {
            assert!(c.is_ascii_alphabetic() && c != 'R' && c != 'S');
        }
        // Cheap accessor calls must not panic either.
        let _ = (
            s.name.user(),
            s.name.command(),
            s.name.tail(),
            s.name.kind(),
        );
        let _ = s.name.shadow_target();
    }

    // A skipped row must not leak its cookie into the (logged) reason.
    let lines: Vec<&str> = text.lines().collect();
    for skip in &listing.skipped {
        let Some(line) = skip.line_no.checked_sub(1).and_then(|i| lines.get(i)) else {
            panic!("skip line number {} out of range", skip.line_no);
        };
        let fields: Vec<&str> = line.split('|').collect();
        if let Some(cookie) = fields.get(6).filter(|c| is_cookie(c)) {
            // Another line's escaped preview may hold the same text (`\0` + digits): not a leak.
            let elsewhere = fields
                .iter()
                .enumerate()
                .any(|(i, f)| i != 6 && format!("{f:?}").contains(cookie));
            assert!(
                elsewhere || !skip.reason.contains(cookie),
                "skip reason leaks the cookie: {:?}",
                skip.reason
            );
        }
    }
});
