//! Parsers for the session lifecycle scripts: `x2gostartagent` (doc §2.5),
//! `x2goresume-session` (§2.7) and `x2gogetagentstate` (§3.2).

use super::list::XCookie;
use super::output::UnexpectedOutput;
use super::validate::{Display, SessionName, preview};

/// What `x2gostartagent` reports for a new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedAgent {
    /// The agent's display.
    pub display: Display,
    /// Pid of the agent on the server.
    pub agent_pid: u32,
    /// The session name the server chose.
    pub name: SessionName,
    /// Agent graphics port on the server's localhost.
    pub graphics_port: u16,
    /// Server-side sound port (target of the reverse forward).
    pub sound_port: u16,
    /// Server-side sshfs port.
    pub sshfs_port: u16,
    /// Telekinesis control and data ports, when the server has telekinesis enabled.
    pub telekinesis: Option<(u16, u16)>,
    cookie: XCookie,
}

impl StartedAgent {
    /// The X cookie (kept apart so it never lands in logs by accident; see [`XCookie`]).
    pub fn cookie(&self) -> &XCookie {
        &self.cookie
    }
}

const START: &str = "x2gostartagent";

fn start_error(preview: String) -> UnexpectedOutput {
    UnexpectedOutput {
        what: START,
        preview,
    }
}

/// A port number 1..=65535 written as plain decimal digits.
fn port(s: &str) -> Option<u16> {
    let ok = (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if ok {
        s.parse().ok().filter(|&p| p > 0)
    } else {
        None
    }
}

/// Lines of script output without trailing blank lines and `\r`.
fn output_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// Parses `x2gostartagent` stdout: 7 lines (display, cookie, agent pid, session name, graphics,
/// sound and sshfs port) or 9 with the telekinesis ports.
///
/// Error previews never include the cookie line.
pub fn parse_start_agent(text: &str) -> Result<StartedAgent, UnexpectedOutput> {
    let lines = output_lines(text);
    if lines.len() != 7 && lines.len() != 9 {
        // Not a preview of the text: it may hold the cookie.
        return Err(start_error(format!(
            "expected 7 or 9 lines, got {}",
            lines.len()
        )));
    }
    let line = |i: usize| lines.get(i).copied().unwrap_or_default();
    let bad = |i: usize, what: &str| {
        start_error(format!("line {} ({what}): {}", i + 1, preview(line(i))))
    };

    let display = Display::parse(line(0)).map_err(|_| bad(0, "display"))?;
    let cookie = XCookie::parse(line(1))
        .ok_or_else(|| start_error("line 2 (cookie) is not 32 hex digits".to_owned()))?;
    let agent_pid = {
        let s = line(2);
        let ok = (1..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|&p| p > 0)
            .ok_or_else(|| bad(2, "agent pid"))?
    };
    let name = SessionName::parse(line(3)).map_err(|_| bad(3, "session name"))?;
    if name.display() != display.number() {
        return Err(start_error(format!(
            "display {} does not match the session name's {}",
            display.number(),
            name.display()
        )));
    }
    let graphics_port = port(line(4)).ok_or_else(|| bad(4, "graphics port"))?;
    let sound_port = port(line(5)).ok_or_else(|| bad(5, "sound port"))?;
    let sshfs_port = port(line(6)).ok_or_else(|| bad(6, "sshfs port"))?;
    let telekinesis = if lines.len() == 9 {
        Some((
            port(line(7)).ok_or_else(|| bad(7, "tekictrl port"))?,
            port(line(8)).ok_or_else(|| bad(8, "tekidata port"))?,
        ))
    } else {
        None
    };
    Ok(StartedAgent {
        display,
        agent_pid,
        name,
        graphics_port,
        sound_port,
        sshfs_port,
        telekinesis,
        cookie,
    })
}

/// Ports after a resume; the server may have moved busy ones (doc §2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumedPorts {
    /// Agent graphics port.
    pub graphics_port: u16,
    /// Server-side sound port.
    pub sound_port: u16,
    /// Server-side sshfs port.
    pub sshfs_port: u16,
    /// Telekinesis control port, when reported.
    pub tekictrl_port: Option<u16>,
    /// Telekinesis data port, when reported.
    pub tekidata_port: Option<u16>,
}

/// Parses `x2goresume-session` stdout: `gr_port=`, `sound_port=` and `fs_port=` lines are
/// required, telekinesis lines optional; other lines are ignored.
///
/// The script prints the port lines and exits 0 even when the agent is already gone (doc §2.7,
/// §12.3), so success here does not prove the session is running; check the agent state or
/// the listing.
pub fn parse_resume(text: &str) -> Result<ResumedPorts, UnexpectedOutput> {
    let err = |msg: String| UnexpectedOutput {
        what: "x2goresume-session",
        preview: msg,
    };
    let (mut gr, mut snd, mut fs, mut ctrl, mut data) = (None, None, None, None, None);
    for line in output_lines(text) {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "gr_port" => &mut gr,
            "sound_port" => &mut snd,
            "fs_port" => &mut fs,
            "tekictrl_port" => &mut ctrl,
            "tekidata_port" => &mut data,
            _ => continue,
        };
        let p = port(value.trim())
            .ok_or_else(|| err(format!("{} value {}", key.trim(), preview(value))))?;
        if slot.is_some_and(|old| old != p) {
            return Err(err(format!("conflicting {} lines", key.trim())));
        }
        *slot = Some(p);
    }
    match (gr, snd, fs) {
        (Some(graphics_port), Some(sound_port), Some(sshfs_port)) => Ok(ResumedPorts {
            graphics_port,
            sound_port,
            sshfs_port,
            tekictrl_port: ctrl,
            tekidata_port: data,
        }),
        _ => Err(err(format!(
            "gr_port, sound_port or fs_port missing in {}",
            preview(text)
        ))),
    }
}

/// The agent's own view of a session (the `state` file, doc §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// `STARTING`: started, no client has connected yet.
    Starting,
    /// `RUNNING`: a client is attached.
    Running,
    /// `RESUMING`: a client is reconnecting.
    Resuming,
    /// `SUSPENDING`: detaching from the client.
    Suspending,
    /// `SUSPENDED`: no client attached.
    Suspended,
    /// `TERMINATING`: shutting down.
    Terminating,
    /// `TERMINATED`: gone.
    Terminated,
    /// `UNKNOWN` (no state file) or anything unrecognised.
    Unknown,
}

impl AgentState {
    /// The state word (`RUNNING`, …; `UNKNOWN` for [`AgentState::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::Running => "RUNNING",
            Self::Resuming => "RESUMING",
            Self::Suspending => "SUSPENDING",
            Self::Suspended => "SUSPENDED",
            Self::Terminating => "TERMINATING",
            Self::Terminated => "TERMINATED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// Parses `x2gogetagentstate` output: the state word, surrounded by optional whitespace (the
/// script prints the file as it is, with or without a newline). Anything else is
/// [`AgentState::Unknown`], the server's own reading of a missing state file.
pub fn parse_agent_state(text: &str) -> AgentState {
    match text.trim() {
        "STARTING" => AgentState::Starting,
        "RUNNING" => AgentState::Running,
        "RESUMING" => AgentState::Resuming,
        "SUSPENDING" => AgentState::Suspending,
        "SUSPENDED" => AgentState::Suspended,
        "TERMINATING" => AgentState::Terminating,
        "TERMINATED" => AgentState::Terminated,
        _ => AgentState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COOKIE: &str = "8f1c2d3e4b5a69788796a5b4c3d2e1f0";

    /// Shape of a real lab run (`x2gostartagent 800x600 lan 16m-jpeg-9 unix-kde-depth_24 null
    /// auto 1 R xterm both`), cookie replaced.
    fn lab_output() -> String {
        format!("50\n{COOKIE}\n4711\nx2gotest-50-1795638682_stRxterm_dp24\n30001\n30002\n30003\n")
    }

    #[test]
    fn start_agent_seven_lines() {
        let s = parse_start_agent(&lab_output()).unwrap();
        assert_eq!(s.display.number(), 50);
        assert_eq!(s.agent_pid, 4711);
        assert_eq!(s.name.as_str(), "x2gotest-50-1795638682_stRxterm_dp24");
        assert_eq!(
            (s.graphics_port, s.sound_port, s.sshfs_port),
            (30001, 30002, 30003)
        );
        assert_eq!(s.telekinesis, None);
        assert_eq!(s.cookie().expose(), COOKIE);
        assert!(!format!("{s:?}").contains(COOKIE));
        // CRLF and trailing blank lines are tolerated.
        let crlf = lab_output().replace('\n', "\r\n") + "\r\n\n";
        assert_eq!(parse_start_agent(&crlf).unwrap(), s);
    }

    #[test]
    fn start_agent_nine_lines() {
        let text = format!("{}40000\n40001\n", lab_output());
        let s = parse_start_agent(&text).unwrap();
        assert_eq!(s.telekinesis, Some((40000, 40001)));
    }

    #[test]
    fn start_agent_errors_never_leak_the_cookie() {
        let base = lab_output();
        let lines: Vec<&str> = base.lines().collect();
        let mut cases = vec![
            String::new(),
            format!("{}30004\n", base),
            lines[..6].join("\n"),
            base.replace("50\n", "5x\n"),
            base.replace(COOKIE, &COOKIE.to_uppercase()),
            base.replace("4711", "0"),
            base.replace("4711", "-1"),
            base.replace("4711", "99999999999"),
            base.replace("x2gotest-50", "x2gotest-51"),
            base.replace("_stRxterm", "_Rxterm"),
            base.replace("30001", "0"),
            base.replace("30002", "65536"),
            base.replace("30003", "+3"),
            format!("{base}1\n"),
        ];
        cases.push(format!("{base}40000\nx\n"));
        for c in cases {
            let e = parse_start_agent(&c).unwrap_err();
            assert!(!e.to_string().contains(COOKIE), "{e}");
            assert!(!e.to_string().contains(&COOKIE.to_uppercase()), "{e}");
        }
    }

    #[test]
    fn resume_output() {
        let text = "gr_port=30001\nsound_port=30002\nfs_port=30003\n";
        let p = parse_resume(text).unwrap();
        assert_eq!(
            (p.graphics_port, p.sound_port, p.sshfs_port),
            (30001, 30002, 30003)
        );
        assert_eq!((p.tekictrl_port, p.tekidata_port), (None, None));
        let noisy = "some warning\nfoo=bar\ngr_port=30001\r\nsound_port=30002\nfs_port=30003\ntekictrl_port=1\ntekidata_port=2\n";
        let p = parse_resume(noisy).unwrap();
        assert_eq!((p.tekictrl_port, p.tekidata_port), (Some(1), Some(2)));
        for bad in [
            "",
            "gr_port=30001\nsound_port=30002\n",
            "gr_port=\nsound_port=30002\nfs_port=30003\n",
            "gr_port=x\nsound_port=30002\nfs_port=30003\n",
            "gr_port=1\ngr_port=2\nsound_port=30002\nfs_port=30003\n",
        ] {
            assert!(parse_resume(bad).is_err(), "accepted {bad:?}");
        }
        // Identical duplicates are harmless.
        assert!(parse_resume("gr_port=1\ngr_port=1\nsound_port=2\nfs_port=3\n").is_ok());
    }

    #[test]
    fn agent_states() {
        for s in [
            AgentState::Starting,
            AgentState::Running,
            AgentState::Resuming,
            AgentState::Suspending,
            AgentState::Suspended,
            AgentState::Terminating,
            AgentState::Terminated,
            AgentState::Unknown,
        ] {
            assert_eq!(parse_agent_state(s.as_str()), s);
            assert_eq!(parse_agent_state(&format!("{}\n", s.as_str())), s);
        }
        assert_eq!(parse_agent_state("running"), AgentState::Unknown);
        assert_eq!(parse_agent_state(""), AgentState::Unknown);
        assert_eq!(parse_agent_state("RUNNING\nRUNNING"), AgentState::Unknown);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,400}") {
            let _ = parse_start_agent(&s);
            let _ = parse_resume(&s);
            let _ = parse_agent_state(&s);
        }

        #[test]
        fn start_agent_line_mutations_never_panic(idx in 0usize..7, junk in "\\PC{0,20}") {
            let base = lab_output();
            let mut lines: Vec<String> = base.lines().map(str::to_owned).collect();
            lines[idx] = junk;
            let text = lines.join("\n");
            if let Err(e) = parse_start_agent(&text) {
                prop_assert!(idx == 1 || !e.to_string().contains(COOKIE));
            }
        }
    }
}
