//! Parser for `x2golistsessions` / `x2golistshadowsessions` output (doc §2.4).
//!
//! Rows are `|`-separated, 16 fields for normal sessions and 14 for shadow sessions. Each row is
//! judged on its own: a half-created session or a warning line merged into the output is skipped
//! with a reason, never failing the listing (python-x2go retries 20 times and then drops the
//! whole connection, doc §2.4).

use std::fmt;

use super::validate::{SessionName, Username, preview};

/// Longest host or client-address field accepted.
const HOST_MAX_LEN: usize = 253;

/// Session status column of the server database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionStatus {
    /// `R`: running (also the default of a half-created row).
    Running,
    /// `S`: suspended.
    Suspended,
    /// Any other single character, kept so a new server state does not hide the session.
    Other(char),
}

impl SessionStatus {
    fn from_char(c: char) -> Self {
        match c {
            'R' => Self::Running,
            'S' => Self::Suspended,
            other => Self::Other(other),
        }
    }
}

/// The session's X authorization cookie (32 lower-case hex digits).
///
/// It is a credential for the session's display, so it never appears in `Debug` output and has
/// no `Display` or serde support; read it deliberately with [`XCookie::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct XCookie(String);

impl XCookie {
    /// Accepts exactly 32 lower-case hex digits (the server's `mcookie` output).
    pub(super) fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(s.to_owned()))
    }

    /// The cookie text, for handing to the local proxy.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for XCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One session row, every field validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Pid of the X2Go agent on the server.
    pub agent_pid: u32,
    /// Session name.
    pub name: SessionName,
    /// Display number.
    pub display: u32,
    /// Server host name the session belongs to.
    pub hostname: String,
    /// Database status.
    pub status: SessionStatus,
    /// Creation time, `YYYY-MM-DDTHH:MM:SS` in server local time.
    pub date_created: String,
    /// Client address as the server saw it at start or last resume.
    pub client_ip: String,
    /// Agent graphics port (on the server's localhost).
    pub graphics_port: u16,
    /// Sound port.
    pub snd_port: u16,
    /// Time of the last state change, `YYYY-MM-DDTHH:MM:SS`.
    pub date_suspended: String,
    /// Owner (for shadow sessions: the requesting user).
    pub username: String,
    /// Seconds since creation; `None` when the server reports a negative or empty age (its
    /// clock arithmetic mixes local time and stored time).
    pub age_secs: Option<u64>,
    /// Reverse sshfs port.
    pub sshfs_port: u16,
    /// Telekinesis control port, `-1` when disabled or absent (shadow rows).
    pub tekictrl_port: i32,
    /// Telekinesis data port, `-1` when disabled or absent.
    pub tekidata_port: i32,
    cookie: XCookie,
}

impl SessionInfo {
    /// The X cookie (see [`XCookie`] for why it is kept apart).
    pub fn cookie(&self) -> &XCookie {
        &self.cookie
    }
}

/// A row that was not turned into a [`SessionInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number in the listing.
    pub line_no: usize,
    /// Why; includes at most a short escaped preview of the offending field, never the cookie.
    pub reason: String,
}

/// Result of parsing a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Sessions in server order.
    pub sessions: Vec<SessionInfo>,
    /// Non-empty rows that were skipped.
    pub skipped: Vec<SkippedLine>,
    /// The listing had more than [`MAX_ROWS`] rows; those after it were not read. Every row
    /// becomes a bus object, so the caller refuses such a listing instead of using a part.
    pub over_limit: bool,
}

/// Most rows a listing may have: far more sessions than one user has, few enough that a
/// hostile server cannot make the daemon build an object per line of a huge listing.
pub const MAX_ROWS: usize = 10_000;

/// `x2golistsessions` output with each row's X cookie (field 7) left empty: the cookie lets
/// whoever holds it attach to the session, so the raw listing x2god hands out never carries
/// it. Lines that are not session rows pass unchanged.
pub fn redact_cookies(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut fields: Vec<&str> = body.split('|').collect();
        if fields.len() > 6 && XCookie::parse(fields[6]).is_some() {
            fields[6] = "";
            out.push_str(&fields.join("|"));
        } else {
            out.push_str(body);
        }
        out.push_str(end);
    }
    out
}

/// Parses the combined output of `x2golistsessions` and `x2golistshadowsessions`.
pub fn parse_listing(text: &str) -> Listing {
    let mut listing = Listing::default();
    let mut rows = 0usize;
    for (idx, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        rows += 1;
        if rows > MAX_ROWS {
            listing.over_limit = true;
            break;
        }
        match parse_row(line) {
            Ok(info) => listing.sessions.push(info),
            Err(reason) => listing.skipped.push(SkippedLine {
                line_no: idx + 1,
                reason,
            }),
        }
    }
    listing
}

/// Field positions (doc §2.4).
const F_PID: usize = 0;
const F_COOKIE: usize = 6;
const F_GR_PORT: usize = 8;
const F_SND_PORT: usize = 9;
const F_FS_PORT: usize = 13;

fn parse_row(line: &str) -> Result<SessionInfo, String> {
    let fields: Vec<&str> = line.split('|').collect();
    if !(14..=16).contains(&fields.len()) {
        return Err(format!("expected 14 to 16 fields, got {}", fields.len()));
    }
    let field = |i: usize| fields.get(i).copied().unwrap_or_default();
    // x2gostartagent inserts the row before the agent exists; those columns fill in later.
    let incomplete = [F_PID, F_COOKIE, F_GR_PORT, F_SND_PORT, F_FS_PORT]
        .iter()
        .any(|&i| field(i).is_empty());
    if incomplete {
        return Err("incomplete row (session still being created)".to_owned());
    }
    let bad =
        |no: usize, what: &str| format!("field {no} ({what}) invalid: {}", preview(field(no)));

    let agent_pid = parse_uint::<u32>(field(0), 10)
        .filter(|&p| p > 0)
        .ok_or_else(|| bad(0, "agent pid"))?;
    let name = SessionName::parse(field(1)).map_err(|e| format!("field 1 (session name) {e}"))?;
    let display = parse_uint::<u32>(field(2), 5).ok_or_else(|| bad(2, "display"))?;
    if display != name.display() {
        return Err(format!(
            "display {display} does not match the session name's {}",
            name.display()
        ));
    }
    let hostname = host_like(field(3), false).ok_or_else(|| bad(3, "hostname"))?;
    let mut status_chars = field(4).chars();
    let status = match (status_chars.next(), status_chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => SessionStatus::from_char(c),
        _ => return Err(bad(4, "status")),
    };
    let date_created = timestamp(field(5)).ok_or_else(|| bad(5, "creation date"))?;
    // The cookie is a credential: report it as invalid without any preview.
    let cookie = XCookie::parse(field(6)).ok_or("field 6 (cookie) invalid")?;
    let client_ip = host_like(field(7), true).ok_or_else(|| bad(7, "client address"))?;
    let graphics_port = port(field(8)).ok_or_else(|| bad(8, "graphics port"))?;
    let snd_port = port(field(9)).ok_or_else(|| bad(9, "sound port"))?;
    let date_suspended = timestamp(field(10)).ok_or_else(|| bad(10, "last change date"))?;
    let username = Username::parse(field(11))
        .map_err(|e| format!("field 11 (user name) {e}"))?
        .as_str()
        .to_owned();
    let age_secs = age(field(12)).ok_or_else(|| bad(12, "age"))?;
    let sshfs_port = port(field(13)).ok_or_else(|| bad(13, "sshfs port"))?;
    let tekictrl_port =
        teki_port(fields.get(14).copied()).ok_or_else(|| bad(14, "tekictrl port"))?;
    let tekidata_port =
        teki_port(fields.get(15).copied()).ok_or_else(|| bad(15, "tekidata port"))?;

    Ok(SessionInfo {
        agent_pid,
        name,
        display,
        hostname,
        status,
        date_created,
        client_ip,
        graphics_port,
        snd_port,
        date_suspended,
        username,
        age_secs,
        sshfs_port,
        tekictrl_port,
        tekidata_port,
        cookie,
    })
}

/// ASCII digits only (no sign), 1 to `max_len` of them.
fn parse_uint<T: std::str::FromStr>(s: &str, max_len: usize) -> Option<T> {
    let ok = (1..=max_len).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if ok { s.parse().ok() } else { None }
}

fn port(s: &str) -> Option<u16> {
    parse_uint::<u16>(s, 5).filter(|&p| p > 0)
}

/// Telekinesis ports: absent (shadow rows), empty or `-1` mean disabled.
fn teki_port(s: Option<&str>) -> Option<i32> {
    match s {
        None | Some("") | Some("-1") => Some(-1),
        Some(s) => parse_uint::<u16>(s, 5).filter(|&p| p > 0).map(i32::from),
    }
}

/// Seconds since creation. Negative or empty ages are representable but meaningless → `None`.
fn age(s: &str) -> Option<Option<u64>> {
    if s.is_empty() {
        return Some(None);
    }
    if let Some(neg) = s.strip_prefix('-') {
        return parse_uint::<u64>(neg, 19).map(|_| None);
    }
    parse_uint::<u64>(s, 19).map(Some)
}

/// Host names and client addresses: letters, digits, `.`, `-`, `_`, plus `:` and `%` for IPv6
/// addresses (with zone) when `address` is set.
fn host_like(s: &str, address: bool) -> Option<String> {
    let ok = (1..=HOST_MAX_LEN).contains(&s.len())
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '.' | '-' | '_')
                || (address && matches!(c, ':' | '%'))
        })
        && !s.starts_with('-');
    ok.then(|| s.to_owned())
}

/// `YYYY-MM-DDTHH:MM:SS` with plausible ranges.
fn timestamp(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() != 19 {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> { parse_uint(s.get(from..to)?, 4) };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if !seps.iter().all(|&(i, c)| b.get(i) == Some(&c)) {
        return None;
    }
    let (_year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let ok = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    ok.then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_listings_lose_their_cookies_only() {
        let row = "4711|alice-50-1700000000_stRxterm_dp24|50|vm|R|2026-12-07T14:47:08|8f1c2d3e4b5a69788796a5b4c3d2e1f0|127.0.0.1|30359|30360|2026-12-07T14:47:14|alice|7|30361|-1|-1";
        let text = format!("noise line\n{row}\n{row}");
        let out = redact_cookies(&text);
        assert!(!out.contains("8f1c2d3e4b5a69788796a5b4c3d2e1f0"));
        let want = row.replace("8f1c2d3e4b5a69788796a5b4c3d2e1f0", "");
        assert_eq!(out, format!("noise line\n{want}\n{want}"));
        assert_eq!(
            redact_cookies("a|b|c|d|e|f|not-a-cookie|h\n"),
            "a|b|c|d|e|f|not-a-cookie|h\n"
        );
        assert_eq!(redact_cookies(""), "");
    }
    use crate::x2go::validate::SessionKind;
    use proptest::prelude::*;

    const COOKIE: &str = "8f1c2d3e4b5a69788796a5b4c3d2e1f0";
    const DOC_LINE: &str = "23456|alice-50-1700000000_stDXFCE_dp24|50|x2gosrv|R|2023-11-14T22:13:20|8f1c2d3e4b5a69788796a5b4c3d2e1f0|192.0.2.10|33456|33457|2023-11-14T22:13:25|alice|305|33458|-1|-1";
    const SHADOW_LINE: &str = "23999|bob-53-1700000300_stS1XSHADaliceXSHADPP50_dp24|53|x2gosrv|S|2023-11-14T22:18:20|0123456789abcdef0123456789abcdef|2001:db8::1|34456|34457|2023-11-14T22:30:00|bob|60|34458";

    fn row(fields: &[(usize, &str)]) -> String {
        let mut f: Vec<String> = DOC_LINE.split('|').map(str::to_owned).collect();
        for &(i, v) in fields {
            f[i] = v.to_owned();
        }
        f.join("|")
    }

    #[test]
    fn a_listing_over_max_rows_is_marked_and_not_read_further() {
        let at_limit = vec![DOC_LINE; MAX_ROWS].join("\n");
        let l = parse_listing(&at_limit);
        assert!(!l.over_limit);
        assert_eq!(l.sessions.len(), MAX_ROWS);
        let l = parse_listing(&format!("{at_limit}\n\n{DOC_LINE}\n"));
        assert!(l.over_limit);
        assert_eq!(l.sessions.len(), MAX_ROWS);
    }

    #[test]
    fn parses_the_doc_example() {
        let l = parse_listing(&format!("{DOC_LINE}\n"));
        assert!(l.skipped.is_empty(), "{:?}", l.skipped);
        let s = &l.sessions[0];
        assert_eq!(s.agent_pid, 23456);
        assert_eq!(s.name.as_str(), "alice-50-1700000000_stDXFCE_dp24");
        assert_eq!(s.display, 50);
        assert_eq!(s.hostname, "x2gosrv");
        assert_eq!(s.status, SessionStatus::Running);
        assert_eq!(s.date_created, "2023-11-14T22:13:20");
        assert_eq!(s.client_ip, "192.0.2.10");
        assert_eq!(
            (s.graphics_port, s.snd_port, s.sshfs_port),
            (33456, 33457, 33458)
        );
        assert_eq!(s.date_suspended, "2023-11-14T22:13:25");
        assert_eq!(s.username, "alice");
        assert_eq!(s.age_secs, Some(305));
        assert_eq!((s.tekictrl_port, s.tekidata_port), (-1, -1));
        assert_eq!(s.cookie().expose(), COOKIE);
    }

    #[test]
    fn cookie_is_redacted_in_debug() {
        let l = parse_listing(DOC_LINE);
        let dbg = format!("{:?}", l.sessions[0]);
        assert!(!dbg.contains(COOKIE));
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn parses_shadow_rows_and_mixed_listings() {
        let text = format!("{DOC_LINE}\n\n{SHADOW_LINE}\n");
        let l = parse_listing(&text);
        assert!(l.skipped.is_empty(), "{:?}", l.skipped);
        assert_eq!(l.sessions.len(), 2);
        let s = &l.sessions[1];
        assert_eq!(s.status, SessionStatus::Suspended);
        assert_eq!(s.name.kind(), SessionKind::Shadow);
        assert_eq!(s.client_ip, "2001:db8::1");
        assert_eq!((s.tekictrl_port, s.tekidata_port), (-1, -1));
        let fifteen = format!("{SHADOW_LINE}|40000");
        let l = parse_listing(&fifteen);
        assert_eq!(
            (l.sessions[0].tekictrl_port, l.sessions[0].tekidata_port),
            (40000, -1)
        );
    }

    #[test]
    fn names_with_underscores_and_telekinesis() {
        let line = row(&[
            (1, "a_b-50-1700000000_stRmy_app_dp24"),
            (11, "a_b"),
            (14, "40001"),
            (15, "40002"),
            (4, "X"),
        ]);
        let l = parse_listing(&line);
        let s = &l.sessions[0];
        assert_eq!(s.name.command(), "my_app");
        assert_eq!(s.status, SessionStatus::Other('X'));
        assert_eq!((s.tekictrl_port, s.tekidata_port), (40001, 40002));
    }

    #[test]
    fn half_created_rows_are_skipped_not_fatal() {
        let half = "|alice-51-1700000100_stRTERMINAL_dp24|51|x2gosrv|R|2023-11-14T22:15:00||192.0.2.10|||2023-11-14T22:15:00|alice|1|||";
        let text = format!("{half}\n{DOC_LINE}\n");
        let l = parse_listing(&text);
        assert_eq!(l.sessions.len(), 1);
        assert_eq!(l.skipped.len(), 1);
        assert_eq!(l.skipped[0].line_no, 1);
        assert!(l.skipped[0].reason.contains("incomplete"));
    }

    #[test]
    fn noise_lines_are_skipped_with_short_reasons() {
        let noise = format!(
            "DBD::SQLite::db do failed: database is locked {}",
            "x".repeat(10_000)
        );
        let text = format!("{noise}\n{DOC_LINE}\n");
        let l = parse_listing(&text);
        assert_eq!(l.sessions.len(), 1);
        assert_eq!(l.skipped[0].line_no, 1);
        assert!(l.skipped[0].reason.len() < 200);
    }

    #[test]
    fn every_field_is_validated() {
        let long = "h".repeat(300);
        let cases: Vec<(usize, &str)> = vec![
            (0, "0"),
            (0, "-1"),
            (0, "+5"),
            (0, "99999999999"),
            (1, "alice;rm -rf ~"),
            (1, "alice-50-1700000000_stDXFCE_dp24 "),
            (2, "51"),
            (2, "5x"),
            (3, "x2go srv"),
            (3, "-x"),
            (3, long.as_str()),
            (3, "srv;id"),
            (4, "RR"),
            (4, "1"),
            (5, "2023-11-14 22:13:20"),
            (5, "2023-13-14T22:13:20"),
            (5, "2023-11-14T22:13"),
            (6, "8F1C2D3E4B5A69788796A5B4C3D2E1F0"),
            (6, "8f1c2d3e4b5a69788796a5b4c3d2e1f"),
            (6, "$(id)2d3e4b5a69788796a5b4c3d2e1f0"),
            (7, ""),
            (7, "192.0.2.10 22"),
            (8, "0"),
            (8, "65536"),
            (9, "abc"),
            (10, "yesterday"),
            (11, "bob`id`"),
            (11, "aXSHADb"),
            (12, "abc"),
            (12, "1.5"),
            (13, "-1"),
            (14, "-2"),
            (15, "70000"),
        ];
        for (i, v) in cases {
            let line = row(&[(i, v)]);
            let l = parse_listing(&line);
            assert!(l.sessions.is_empty(), "field {i} = {v:?} accepted");
            assert_eq!(l.skipped.len(), 1);
            assert!(!l.skipped[0].reason.contains(COOKIE));
            assert!(l.skipped[0].reason.len() < 300, "{}", l.skipped[0].reason);
        }
        // Cookie errors carry no preview at all.
        let l = parse_listing(&row(&[(6, "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")]));
        assert!(!l.skipped[0].reason.contains("ZZZ"));
    }

    #[test]
    fn age_variants() {
        let l = parse_listing(&row(&[(12, "-3600")]));
        assert_eq!(l.sessions[0].age_secs, None);
        let l = parse_listing(&row(&[(12, "")]));
        assert_eq!(l.sessions[0].age_secs, None);
    }

    #[test]
    fn wrong_field_counts() {
        let l = parse_listing("a|b|c\n\n  \n1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17\n");
        assert_eq!(l.skipped.len(), 2);
        assert_eq!(l.skipped[0].line_no, 1);
        assert_eq!(l.skipped[1].line_no, 4);
        assert!(parse_listing("").sessions.is_empty());
    }

    #[test]
    fn metacharacters_anywhere_are_rejected() {
        let fields = DOC_LINE.split('|').count();
        for c in [
            ';', '&', '$', '`', '\'', '"', '<', '>', '*', '?', '[', ']', '~', '!', '#', ' ', '\0',
        ] {
            for i in 0..fields {
                let orig = DOC_LINE.split('|').nth(i).unwrap();
                let v = format!("{orig}{c}");
                let l = parse_listing(&row(&[(i, &v)]));
                assert!(l.sessions.is_empty(), "field {i} with {c:?} accepted");
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,400}") {
            let l = parse_listing(&s);
            prop_assert!(l.sessions.len() + l.skipped.len() <= s.lines().count());
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_listing(&String::from_utf8_lossy(&b));
        }

        #[test]
        fn never_panics_on_row_shaped_text(fields in proptest::collection::vec("[^|\n]{0,12}", 12..18)) {
            let _ = parse_listing(&fields.join("|"));
        }
    }
}
