//! The session watcher: a long-lived bash loop on a persistent exec channel that tells the
//! daemon when to re-list sessions, so it need not poll `x2golistsessions` (a perl program and
//! a database query) every few seconds.
//!
//! What changes on the server when a session comes, goes or changes state (doc §3.2, §3.10):
//! `x2gostartagent` creates `/tmp/.x2go-<user>/C-<S>/` (the directory's mtime changes), the
//! cleanup removes it (again), and the agent rewrites `C-<S>/state` on every transition. The
//! loop compares those mtimes with a reference file using only shell builtins: no process is
//! created per iteration. Changes the files do not show (an agent killed with SIGKILL before
//! the cleanup daemon notices, a clock step) are covered by the heartbeat, on which the daemon
//! can afford an occasional full listing.
//!
//! Waking: the loop sleeps reading a FIFO with a timeout (the poll interval). Two helpers,
//! started once, write lines to it: `cat` copies the daemon's lines from stdin, and a
//! doorbell writes an empty line whenever `tail -F` of the named sessions' state files
//! prints anything. GNU `tail` waits on inotify, so the agent's writes wake the loop within
//! milliseconds at no cost while nothing happens; the poll remains for new session
//! directories and for servers whose `tail` cannot follow (it then polls every 30 s).
//!
//! Lifetime: the loop ends within one poll interval when stdin reaches end-of-file (the
//! daemon sends EOF or closes the channel; sshd then closes the pipe and `cat` ends). It also
//! ends on SIGHUP/SIGTERM/SIGINT, and at the next output line (≤ 30 s) once stdout is gone
//! (SIGPIPE or a failed write); its helpers end with it (`tail --pid` covers a SIGKILL). The
//! daemon must therefore keep the channel's stdin open.

use super::scripts::script;
use super::start::{AgentState, parse_agent_state};
use super::tokens::{
    LIST_BEGIN, LIST_END, LIST_ERR, LIST_REQUEST, LIST_SHADOW, WATCH_ALIVE, WATCH_CHANGED,
    WATCH_SESSIONS, WATCH_STATE,
};
use super::validate::SessionName;

/// Interval between heartbeats.
pub(super) const HEARTBEAT_SECS: u64 = 30;

/// The watcher (`scripts/watch.sh`), run as
/// `bash -c WATCH_SCRIPT x2god-watch <poll seconds> <heartbeat polls> [dir]`.
///
/// Which state files it looks at on each poll: all of them (`C-*/state`) until the daemon
/// writes a line `X2GOD-WATCH <session> …` ([`watch_line`]) on its standard input, then only
/// those sessions' — a server keeps the directories of ended sessions (hundreds on a busy
/// account), and one look at each every poll was most of the watcher's cost. A session must
/// be listed before it can change in a way a listing shows: `x2gostartagent` adds the
/// database row before it creates the directory, whose change is seen on every poll. As a
/// safety net all state files are still compared, against the previous heartbeat, once per
/// heartbeat interval.
///
/// For a named session it also prints what the agent's state file now says ([`WATCH_STATE`],
/// read with the `read` builtin): `x2golistsessions` shows a session as the agent's state
/// says (suspended once it is `SUSPENDING`) even before the script that changed it writes the
/// database, so the daemon can tell its listeners without waiting the ~0.15 s of a listing.
///
/// A change may be reported twice, but none is lost (the script says why).
pub(super) const WATCH_SCRIPT: &str = script!("watch.sh");

/// The line that tells a running watcher which sessions' state files to look at (see
/// [`WATCH_SCRIPT`]); names are validated session names, so they hold no blank or glob
/// character.
pub fn watch_line<'a>(sessions: impl IntoIterator<Item = &'a SessionName>) -> String {
    let mut line = String::from(WATCH_SESSIONS);
    for s in sessions {
        line.push(' ');
        line.push_str(s.as_str());
    }
    line.push('\n');
    line
}

/// The line that asks a running watcher for a listing, numbered `id`: the same output as
/// `RemoteCommand::list_sessions`, framed by [`ListMarker`] lines, over the watcher's channel —
/// no channel to open, so one round trip instead of two or three.
pub fn list_request(id: u64, include_shadow: bool) -> String {
    let kind = if include_shadow { LIST_SHADOW } else { "plain" };
    format!("{LIST_REQUEST} {id} {kind}\n")
}

/// A line that frames a listing the watcher runs on request ([`list_request`]); the lines
/// between `Begin` and `End` are the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListMarker<'a> {
    /// The listing numbered so starts.
    Begin(u64),
    /// A line the listing wrote to standard error.
    Stderr(&'a str),
    /// The listing numbered so ended with this exit status.
    End(u64, u32),
}

/// Recognises a [`ListMarker`] line (a trailing `\r` ignored).
pub fn parse_list_marker(line: &str) -> Option<ListMarker<'_>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let after = |word: &str| line.strip_prefix(word)?.strip_prefix(' ');
    if let Some(rest) = after(LIST_ERR) {
        return Some(ListMarker::Stderr(rest));
    }
    if let Some(id) = after(LIST_BEGIN) {
        return id.parse().ok().map(ListMarker::Begin);
    }
    let (id, rc) = after(LIST_END)?.split_once(' ')?;
    Some(ListMarker::End(id.parse().ok()?, rc.parse().ok()?))
}

/// One line of watcher output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Sessions may have changed: re-list them.
    Changed,
    /// Heartbeat; the first one means the watcher is armed.
    Alive,
    /// A named session's agent state file changed and now says `state`.
    Agent {
        /// The session.
        session: SessionName,
        /// What its state file says ([`AgentState::Unknown`] if unreadable or empty).
        state: AgentState,
        /// For [`AgentState::Resuming`]: the graphics port the agent listens on, when its
        /// options name one.
        listen: Option<u16>,
    },
}

/// Recognises a watcher line (trailing whitespace and `\r` ignored). Anything else (envelope
/// markers, rc-file noise, a state line whose session name is not valid) is `None`.
pub fn parse_watch_line(line: &str) -> Option<WatchEvent> {
    let line = line.trim_end();
    match line {
        WATCH_CHANGED => return Some(WatchEvent::Changed),
        WATCH_ALIVE => return Some(WatchEvent::Alive),
        _ => {}
    }
    let rest = line.strip_prefix(WATCH_STATE)?.strip_prefix(' ')?;
    let (session, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (state, port) = rest.split_once(' ').unwrap_or((rest, ""));
    let state = parse_agent_state(state);
    Some(WatchEvent::Agent {
        session: SessionName::parse(session).ok()?,
        state,
        listen: match state {
            AgentState::Resuming => port.parse().ok().filter(|&p: &u16| p != 0),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::{BufRead, BufReader};
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::mpsc::{Receiver, channel};
    use std::time::{Duration, Instant};

    #[test]
    fn lines() {
        assert_eq!(parse_watch_line("X2GOD-CHANGED"), Some(WatchEvent::Changed));
        assert_eq!(parse_watch_line("X2GOD-ALIVE\r"), Some(WatchEvent::Alive));
        assert_eq!(parse_watch_line("X2GOD-ALIVE "), Some(WatchEvent::Alive));
        assert_eq!(parse_watch_line(" X2GOD-ALIVE"), None);
        assert_eq!(parse_watch_line("X2GODATABEGIN:abc"), None);
        assert_eq!(parse_watch_line(""), None);
        let a = SessionName::parse("u-50-1700000000_stDXFCE_dp24").unwrap();
        assert_eq!(
            parse_watch_line("X2GOD-STATE u-50-1700000000_stDXFCE_dp24 SUSPENDING\r"),
            Some(WatchEvent::Agent {
                session: a.clone(),
                state: AgentState::Suspending,
                listen: None,
            })
        );
        assert_eq!(
            parse_watch_line("X2GOD-STATE u-50-1700000000_stDXFCE_dp24 "),
            Some(WatchEvent::Agent {
                session: a.clone(),
                state: AgentState::Unknown,
                listen: None,
            })
        );
        let resuming = |listen| {
            Some(WatchEvent::Agent {
                session: a.clone(),
                state: AgentState::Resuming,
                listen,
            })
        };
        let line = |rest: &str| parse_watch_line(&format!("X2GOD-STATE {} {rest}", a.as_str()));
        assert_eq!(line("RESUMING 46190\r"), resuming(Some(46190)));
        assert_eq!(line("RESUMING"), resuming(None));
        for bad in [
            "RESUMING 0",
            "RESUMING 65536",
            "RESUMING -1",
            "RESUMING 12x",
        ] {
            assert_eq!(line(bad), resuming(None), "{bad}");
        }
        // Only a resuming agent's port counts.
        assert_eq!(
            line("RUNNING 46190"),
            Some(WatchEvent::Agent {
                session: a.clone(),
                state: AgentState::Running,
                listen: None,
            })
        );
        for other in [
            "X2GOD-STATE",
            "X2GOD-STATE ",
            "X2GOD-STATE ../x RUNNING",
            "X2GOD-STATEu-50-1700000000_stDXFCE_dp24 RUNNING",
        ] {
            assert_eq!(parse_watch_line(other), None, "{other}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,100}") {
            let _ = parse_watch_line(&s);
        }
    }

    struct Watcher {
        child: Child,
        stdin: Option<ChildStdin>,
        lines: Receiver<String>,
        tmp: PathBuf,
    }

    impl Watcher {
        /// Starts the script the way the envelope does: `<shell> -c "bash -c SCRIPT …"`, i.e.
        /// with `shell` in the role of the inner `/bin/sh`.
        fn start(shell: &str, dir: &Path, beat: u32) -> Self {
            Self::start_in(shell, dir, beat, None)
        }

        /// As [`Watcher::start`], with `bin` first on `PATH` (fake server commands).
        fn start_in(shell: &str, dir: &Path, beat: u32, bin: Option<&Path>) -> Self {
            Self::start_polling(shell, dir, beat, bin, "0.2")
        }

        /// As [`Watcher::start_in`], looking every `poll` seconds.
        fn start_polling(
            shell: &str,
            dir: &Path,
            beat: u32,
            bin: Option<&Path>,
            poll: &str,
        ) -> Self {
            let tmp = dir.with_extension("tmpdir");
            std::fs::create_dir_all(&tmp).unwrap();
            let words = [
                "bash",
                "-c",
                WATCH_SCRIPT,
                "x2god-watch",
                poll,
                &beat.to_string(),
                dir.to_str().unwrap(),
            ];
            let line = words
                .iter()
                .map(|w| shlex::try_quote(w).unwrap().into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            // `exec` so the pid we hold is bash itself (for /proc checks).
            let path = match bin {
                Some(bin) => format!("{}:/usr/bin:/bin", bin.display()),
                None => std::env::var("PATH").unwrap_or_default(),
            };
            let mut child = Command::new(shell)
                .arg("-c")
                .arg(format!("exec {line}"))
                .env("TMPDIR", &tmp)
                // No `~/.x2go` of whoever runs the tests (see `scripts/any_shadow_dir.sh`).
                .env("HOME", &tmp)
                .env("PATH", path)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = channel();
            std::thread::spawn(move || {
                for l in BufReader::new(stdout).lines() {
                    let Ok(l) = l else { break };
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            });
            let stdin = child.stdin.take();
            let w = Self {
                child,
                stdin,
                lines: rx,
                tmp,
            };
            assert_eq!(w.next(Duration::from_secs(5)).as_deref(), Some(WATCH_ALIVE));
            w
        }

        /// Writes a [`watch_line`] naming `sessions` to the script's stdin.
        fn tell(&mut self, sessions: &[&str]) {
            use std::io::Write;
            let names: Vec<SessionName> = sessions
                .iter()
                .map(|s| SessionName::parse(s).unwrap())
                .collect();
            let stdin = self.stdin.as_mut().unwrap();
            stdin.write_all(watch_line(&names).as_bytes()).unwrap();
            stdin.flush().unwrap();
        }

        fn next(&self, timeout: Duration) -> Option<String> {
            self.lines.recv_timeout(timeout).ok()
        }

        fn expect_changed_within(&self, limit: Duration) -> Duration {
            let t = Instant::now();
            let l = self.next(limit);
            assert_eq!(l.as_deref(), Some(WATCH_CHANGED));
            t.elapsed()
        }

        /// Expects the state line of a named session, then the change line; returns how long
        /// the state line took. A writer truncates the file before it writes, so the script
        /// may catch it empty first, and a change may be reported twice (see
        /// [`WATCH_SCRIPT`]): such lines, other sessions' and change lines are skipped.
        fn expect_state_within(&self, limit: Duration, session: &str, state: &str) -> Duration {
            let t = Instant::now();
            let want = format!("{WATCH_STATE} {session} {state}");
            let empty = format!("{WATCH_STATE} {session} ");
            loop {
                let left = limit.saturating_sub(t.elapsed());
                let l = self.next(left);
                match l.as_deref() {
                    Some(l) if l == want => break,
                    Some(l)
                        if l == empty
                            || l == WATCH_CHANGED
                            || (l.starts_with(WATCH_STATE) && !l.starts_with(&empty)) => {}
                    other => panic!("waiting for {want:?}: {other:?}"),
                }
            }
            let took = t.elapsed();
            let (word, listen) = match state.split_once(' ') {
                Some((word, port)) => (word, Some(port.parse().unwrap())),
                None => (state, None),
            };
            assert_eq!(
                parse_watch_line(&want),
                Some(WatchEvent::Agent {
                    session: SessionName::parse(session).unwrap(),
                    state: parse_agent_state(word),
                    listen,
                })
            );
            self.expect_changed_within(Duration::from_millis(100));
            took
        }

        /// Drains lines for `d`, returning them.
        fn quiet_for(&self, d: Duration) -> Vec<String> {
            let end = Instant::now() + d;
            let mut got = Vec::new();
            while let Some(left) = end.checked_duration_since(Instant::now()) {
                match self.lines.recv_timeout(left) {
                    Ok(l) => got.push(l),
                    Err(_) => break,
                }
            }
            got
        }

        fn exited_within(&mut self, d: Duration) -> bool {
            let end = Instant::now() + d;
            while Instant::now() < end {
                if self.child.try_wait().unwrap().is_some() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        }

        fn pid(&self) -> u32 {
            self.child.id()
        }
    }

    impl Drop for Watcher {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }

    /// utime + stime in clock ticks, and the number of threads' children, from /proc.
    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split(' ').collect();
        // Fields 14 and 15 of stat(5); `after` starts at field 3.
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    fn children(pid: u32) -> String {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default()
    }

    /// Every process below `pid`.
    fn descendants(pid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        for c in children(pid).split_whitespace() {
            let c: u32 = c.parse().unwrap();
            out.push(c);
            out.extend(descendants(c));
        }
        out
    }

    /// Whether `pid` runs (exists and is not a zombie).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, r)| !r.starts_with('Z'))
        })
    }

    fn shells() -> Vec<&'static str> {
        ["/bin/bash", "/bin/dash"]
            .into_iter()
            .filter(|s| Path::new(s).exists())
            .collect()
    }

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("x2god-watch-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn watcher_reports_changes_and_stays_quiet_otherwise() {
        if !Path::new("/bin/bash").exists() {
            return;
        }
        for shell in shells() {
            let root = scratch(&format!("changes-{}", shell.replace('/', "_")));
            let dir = root.join(".x2go-u");
            std::fs::create_dir_all(&dir).unwrap();
            let sess = dir.join("C-u-50-1700000000_stDXFCE_dp24");
            std::fs::create_dir(&sess).unwrap();
            std::fs::write(sess.join("state"), "STARTING").unwrap();
            std::thread::sleep(Duration::from_millis(50));

            let mut w = Watcher::start(shell, &dir, 1000);
            // Nothing changes: nothing printed (2 s = 10 polls).
            assert_eq!(
                w.quiet_for(Duration::from_secs(2)),
                Vec::<String>::new(),
                "{shell}"
            );

            // State file rewritten (the agent truncates and writes).
            std::fs::write(sess.join("state"), "RUNNING").unwrap();
            let dt = w.expect_changed_within(Duration::from_secs(1));
            eprintln!("{shell}: state change seen after {dt:?}");
            // At most one duplicate, then quiet again.
            let extra = w.quiet_for(Duration::from_millis(800));
            assert!(extra.len() <= 1, "{shell}: {extra:?}");

            // New session directory.
            std::fs::create_dir(dir.join("C-u-51-1700000100_stRxterm_dp24")).unwrap();
            w.expect_changed_within(Duration::from_secs(1));
            let _ = w.quiet_for(Duration::from_millis(500));

            // Session directory removed.
            std::fs::remove_dir_all(&sess).unwrap();
            w.expect_changed_within(Duration::from_secs(1));
            let _ = w.quiet_for(Duration::from_millis(500));

            // Many quick changes: none lost (the last one is always followed by a report).
            for i in 0..50 {
                std::fs::write(
                    dir.join("C-u-51-1700000100_stRxterm_dp24/state"),
                    format!("{i}"),
                )
                .unwrap();
                std::thread::sleep(Duration::from_millis(3));
                let got = w.quiet_for(Duration::from_millis(0));
                let _ = got;
            }
            // Drain, then ensure a final change is still reported.
            let _ = w.quiet_for(Duration::from_millis(500));
            std::fs::write(dir.join("C-u-51-1700000100_stRxterm_dp24/state"), "X").unwrap();
            w.expect_changed_within(Duration::from_secs(1));

            // Watched directory deleted and recreated.
            let _ = w.quiet_for(Duration::from_millis(500));
            std::fs::remove_dir_all(&dir).unwrap();
            w.expect_changed_within(Duration::from_secs(1));
            let _ = w.quiet_for(Duration::from_millis(500));
            std::fs::create_dir_all(&dir).unwrap();
            w.expect_changed_within(Duration::from_secs(1));

            // Reference directory removed from under it at exit.
            drop(w.stdin.take());
            assert!(
                w.exited_within(Duration::from_secs(2)),
                "{shell}: stdin EOF"
            );
            let leftovers: Vec<_> = std::fs::read_dir(&w.tmp).unwrap().collect();
            assert!(leftovers.is_empty(), "{shell}: temp dir not removed");
            drop(w);
            let _ = std::fs::remove_dir_all(&root);
        }
    }

    const A: &str = "u-50-1700000000_stDXFCE_dp24";
    const B: &str = "u-51-1700000100_stRxterm_dp24";
    /// A shadow session of user `u`'s display :50 (as `x2gostartagent` names it).
    const SHADOW: &str = "u-52-1700000200_stSfullXSHADuXSHADPP50_dp24";

    /// A directory with sessions [`A`] and [`B`], each with a state file.
    fn two_sessions(name: &str) -> (PathBuf, PathBuf) {
        let root = scratch(name);
        let dir = root.join(".x2go-u");
        for s in [A, B] {
            std::fs::create_dir_all(dir.join(format!("C-{s}"))).unwrap();
            std::fs::write(dir.join(format!("C-{s}/state")), "RUNNING").unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        (root, dir)
    }

    #[test]
    fn list_markers() {
        assert_eq!(list_request(7, true), "X2GOD-LIST 7 shadow\n");
        assert_eq!(list_request(8, false), "X2GOD-LIST 8 plain\n");
        assert_eq!(
            parse_list_marker("X2GOD-LIST-BEGIN 7"),
            Some(ListMarker::Begin(7))
        );
        assert_eq!(
            parse_list_marker("X2GOD-LIST-END 7 0\r"),
            Some(ListMarker::End(7, 0))
        );
        assert_eq!(
            parse_list_marker("X2GOD-LIST-ERR no | pipe"),
            Some(ListMarker::Stderr("no | pipe"))
        );
        for other in [
            "X2GOD-LIST-END 7",
            "X2GOD-LIST-END x 0",
            "X2GOD-LIST-BEGIN -1",
            "X2GOD-CHANGED",
            "1|u-50-1_stDXFCE_dp24|50|h|R|…",
        ] {
            assert_eq!(parse_list_marker(other), None, "{other}");
        }
    }

    proptest! {
        #[test]
        fn list_marker_parse_never_panics(s in "\\PC{0,80}") {
            let _ = parse_list_marker(&s);
        }
    }

    /// Fake `x2golistsessions` / `x2golistshadowsessions` that print `args` lines (the last
    /// without a newline), read stdin (which must not be the watcher's) and write stderr.
    fn fake_listers(root: &Path, status: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for (name, rows) in [
            ("x2golistsessions", "a|1\nb|2"),
            ("x2golistshadowsessions", "s|3"),
        ] {
            let p = bin.join(name);
            std::fs::write(
                &p,
                format!(
                    "#!/bin/sh\ncat >/dev/null\nprintf '{rows}'\necho \"{name} warns\" >&2\nexit {status}\n"
                ),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        bin
    }

    /// Collects the lines of listing `id` up to its end marker.
    fn listing(w: &Watcher, id: u64) -> Vec<String> {
        let mut got = Vec::new();
        loop {
            let line = w.next(Duration::from_secs(5)).expect("listing output");
            let end = matches!(parse_list_marker(&line), Some(ListMarker::End(i, _)) if i == id);
            got.push(line);
            if end {
                return got;
            }
        }
    }

    #[test]
    fn watcher_lists_on_request() {
        if !Path::new("/bin/bash").exists() {
            return;
        }
        let (root, dir) = two_sessions("lists");
        let bin = fake_listers(&root, 0);
        let mut w = Watcher::start_in("/bin/bash", &dir, 1000, Some(&bin));
        let send = |w: &mut Watcher, line: &str| {
            use std::io::Write;
            let stdin = w.stdin.as_mut().unwrap();
            stdin.write_all(line.as_bytes()).unwrap();
            stdin.flush().unwrap();
        };
        send(&mut w, &list_request(1, false));
        assert_eq!(
            listing(&w, 1),
            [
                "X2GOD-LIST-BEGIN 1",
                "a|1",
                "b|2",
                "X2GOD-LIST-ERR x2golistsessions warns",
                "X2GOD-LIST-END 1 0"
            ]
        );
        // Asked for shadow sessions while this user never had one: no shadow listing.
        send(&mut w, &list_request(2, true));
        assert_eq!(
            listing(&w, 2),
            [
                "X2GOD-LIST-BEGIN 2",
                "a|1",
                "b|2",
                "X2GOD-LIST-ERR x2golistsessions warns",
                "X2GOD-LIST-END 2 0"
            ]
        );
        // x2gostartagent's link in ~/.x2go (HOME is the watcher's TMPDIR here), dangling as
        // once its session directory is gone; not in `dir`, whose change would be reported.
        let x2go_home = dir.with_extension("tmpdir").join(".x2go");
        std::fs::create_dir_all(&x2go_home).unwrap();
        std::os::unix::fs::symlink(root.join("gone"), x2go_home.join(format!("C-{SHADOW}")))
            .unwrap();
        send(&mut w, &list_request(3, true));
        assert_eq!(
            listing(&w, 3),
            [
                "X2GOD-LIST-BEGIN 3",
                "a|1",
                "b|2",
                "s|3",
                "X2GOD-LIST-ERR x2golistsessions warns",
                "X2GOD-LIST-ERR x2golistshadowsessions warns",
                "X2GOD-LIST-END 3 0"
            ]
        );
        // Still watching (the listers did not eat its stdin), and still told sessions.
        w.tell(&[A]);
        let _ = w.quiet_for(Duration::from_millis(400));
        std::fs::write(dir.join(format!("C-{A}/state")), "SUSPENDED").unwrap();
        w.expect_state_within(Duration::from_secs(1), A, "SUSPENDED");
        // Resuming: the port the agent's options (rewritten first) name comes along.
        std::fs::write(
            dir.join(format!("C-{A}/options")),
            "nx/nx,link=lan,pack=16m-jpeg-9,accept=localhost,listen=46190,clipboard=both,id=x:50\n",
        )
        .unwrap();
        std::fs::write(dir.join(format!("C-{A}/state")), "RESUMING").unwrap();
        w.expect_state_within(Duration::from_secs(1), A, "RESUMING 46190");
        drop(w);

        // A failing listing: its status, and no shadow listing after it.
        let bin = fake_listers(&root, 3);
        let mut w = Watcher::start_in("/bin/bash", &dir, 1000, Some(&bin));
        send(&mut w, &list_request(9, true));
        let got = listing(&w, 9);
        assert_eq!(got.last().map(String::as_str), Some("X2GOD-LIST-END 9 3"));
        assert!(!got.iter().any(|l| l.contains("s|3")), "{got:?}");
        drop(w);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn watch_line_names_the_sessions() {
        let a = SessionName::parse(A).unwrap();
        let b = SessionName::parse(B).unwrap();
        assert_eq!(watch_line([&a, &b]), format!("X2GOD-WATCH {A} {B}\n"));
        assert_eq!(watch_line([]), "X2GOD-WATCH\n");
    }

    /// Once told which sessions to watch, a poll looks only at their state files; the others
    /// are still compared once per heartbeat interval, so their changes come late, not never.
    #[test]
    fn watcher_told_the_sessions_looks_only_at_theirs_between_heartbeats() {
        if !Path::new("/bin/bash").exists() {
            return;
        }
        let (root, dir) = two_sessions("told");
        let mut w = Watcher::start("/bin/bash", &dir, 1000);
        w.tell(&[A]);
        assert_eq!(
            w.quiet_for(Duration::from_millis(600)),
            Vec::<String>::new()
        );
        std::fs::write(dir.join(format!("C-{B}/state")), "SUSPENDED").unwrap();
        assert_eq!(
            w.quiet_for(Duration::from_millis(1000)),
            Vec::<String>::new(),
            "a session not named is not looked at on every poll"
        );
        // The agent writes its state without a newline; an unreadable one is still reported.
        std::fs::write(dir.join(format!("C-{A}/state")), "SUSPENDING").unwrap();
        w.expect_state_within(Duration::from_secs(1), A, "SUSPENDING");
        let _ = w.quiet_for(Duration::from_millis(500));
        std::fs::write(dir.join(format!("C-{A}/state")), "SUSPENDED\n").unwrap();
        w.expect_state_within(Duration::from_secs(1), A, "SUSPENDED");
        let _ = w.quiet_for(Duration::from_millis(500));
        std::fs::write(dir.join(format!("C-{A}/state")), "").unwrap();
        w.expect_state_within(Duration::from_secs(1), A, "");
        // A new session directory is seen at once whatever the names.
        let _ = w.quiet_for(Duration::from_millis(500));
        std::fs::create_dir(dir.join("C-u-52-1700000200_stRxterm_dp24")).unwrap();
        w.expect_changed_within(Duration::from_secs(1));
        // An empty set: nothing is looked at but the directory.
        w.tell(&[]);
        let _ = w.quiet_for(Duration::from_millis(500));
        std::fs::write(dir.join(format!("C-{A}/state")), "RUNNING").unwrap();
        assert_eq!(
            w.quiet_for(Duration::from_millis(1000)),
            Vec::<String>::new()
        );
        drop(w);

        // Heartbeat every 5 polls (1 s): a change to a session not named is reported then.
        let mut w = Watcher::start("/bin/bash", &dir, 5);
        w.tell(&[A]);
        let _ = w.quiet_for(Duration::from_millis(300));
        std::fs::write(dir.join(format!("C-{B}/state")), "RUNNING").unwrap();
        let t = Instant::now();
        loop {
            let line = w.next(Duration::from_secs(3));
            match line.as_deref() {
                Some(WATCH_CHANGED) => break,
                Some(WATCH_ALIVE) => {
                    assert!(t.elapsed() < Duration::from_millis(2500), "only heartbeats")
                }
                other => panic!("{other:?}"),
            }
        }
        // And only once: the next heartbeat is a plain one.
        assert_eq!(w.next(Duration::from_secs(3)).as_deref(), Some(WATCH_ALIVE));
        drop(w);
        let _ = std::fs::remove_dir_all(&root);
    }

    /// Named sessions' state files are followed by `tail` (inotify): each change the agent
    /// makes is reported at once, not at the next poll (5 s apart here).
    #[test]
    fn watcher_told_the_sessions_hears_their_changes_at_once() {
        if !Path::new("/bin/bash").exists() {
            return;
        }
        let (root, dir) = two_sessions("bell");
        let mut w = Watcher::start_polling("/bin/bash", &dir, 1000, None, "5");
        w.tell(&[A, B]);
        // tail starts watching.
        let _ = w.quiet_for(Duration::from_millis(500));
        let write = |s: &str, state: &str| {
            std::fs::write(dir.join(format!("C-{s}/state")), state).unwrap();
        };
        let mut slowest = Duration::ZERO;
        for (s, state) in [
            (A, "SUSPENDING"),
            (A, "SUSPENDED"),
            (A, "RESUMING"),
            (A, "RUNNING"),
            (B, "SUSPENDING"),
            (B, "TERMINATING"),
            (B, "TERMINATED"),
        ] {
            write(s, state);
            let took = w.expect_state_within(Duration::from_secs(2), s, state);
            slowest = slowest.max(took);
            let _ = w.quiet_for(Duration::from_millis(100));
        }
        // The agent truncates the file, then writes it: a look in between finds it empty, and
        // the write must still be heard, however soon it follows.
        for (i, pause) in [0u64, 5, 15, 60].into_iter().enumerate() {
            let state = if i % 2 == 0 { "SUSPENDED" } else { "RUNNING" };
            let path = dir.join(format!("C-{A}/state"));
            let mut f = std::fs::File::create(&path).unwrap();
            std::thread::sleep(Duration::from_millis(pause));
            std::io::Write::write_all(&mut f, state.as_bytes()).unwrap();
            drop(f);
            let took = w.expect_state_within(Duration::from_secs(2), A, state);
            slowest = slowest.max(took);
            let _ = w.quiet_for(Duration::from_millis(100));
        }
        eprintln!("state changes reported within {slowest:?} (poll 5 s)");
        assert!(slowest < Duration::from_millis(500), "{slowest:?}");
        // Told anew: the doorbell follows the new set only.
        w.tell(&[B]);
        let _ = w.quiet_for(Duration::from_millis(500));
        write(B, "RUNNING");
        let took = w.expect_state_within(Duration::from_secs(2), B, "RUNNING");
        assert!(took < Duration::from_millis(500), "{took:?}");
        let _ = w.quiet_for(Duration::from_millis(100));
        write(A, "SUSPENDED");
        assert_eq!(
            w.quiet_for(Duration::from_millis(1500)),
            Vec::<String>::new()
        );
        drop(w);
        let _ = std::fs::remove_dir_all(&root);
    }

    /// The cost that naming the sessions removes: with 1000 directories of ended sessions, a
    /// watcher told its one live session uses a fraction of the CPU of one looking at all.
    #[test]
    fn watcher_told_the_sessions_ignores_ended_ones() {
        if !Path::new("/bin/bash").exists() || !Path::new("/proc/self/stat").exists() {
            return;
        }
        let (root, dir) = two_sessions("ended");
        for i in 0..1000 {
            let s = dir.join(format!("C-u-{}-1600000000_stRxterm_dp24", 100 + i));
            std::fs::create_dir(&s).unwrap();
            std::fs::write(s.join("state"), "TERMINATED").unwrap();
        }
        let measure = |tell: bool| {
            let mut w = Watcher::start("/bin/bash", &dir, 1000);
            if tell {
                w.tell(&[A]);
            }
            std::thread::sleep(Duration::from_millis(300));
            let before = cpu_ticks(w.pid());
            std::thread::sleep(Duration::from_secs(3));
            cpu_ticks(w.pid()) - before
        };
        let all = measure(false);
        let told = measure(true);
        eprintln!("watcher CPU over 3 s, 1000 ended sessions: all {all} ticks, told {told} ticks");
        assert!(told * 3 < all.max(1), "told {told} vs all {all} ticks");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn watcher_heartbeat_and_exit_paths() {
        if !Path::new("/bin/bash").exists() {
            return;
        }
        for shell in shells() {
            let root = scratch(&format!("exit-{}", shell.replace('/', "_")));
            let dir = root.join(".x2go-u");
            // The directory does not exist yet: no error, no report.
            let w = Watcher::start(shell, &dir, 3);
            let got = w.quiet_for(Duration::from_millis(1300));
            assert!(
                !got.is_empty() && got.iter().all(|l| l == WATCH_ALIVE),
                "{shell}: {got:?}"
            );
            drop(w);

            // SIGHUP (what a pty hang-up or sshd would send) ends it, temp dir removed.
            let mut w = Watcher::start(shell, &dir, 1000);
            let status = Command::new("kill")
                .args(["-HUP", &w.pid().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            assert!(w.exited_within(Duration::from_secs(2)), "{shell}: SIGHUP");
            assert_eq!(std::fs::read_dir(&w.tmp).unwrap().count(), 0);
            drop(w);

            // stdin closed (the daemon is gone): ends within a poll, and so do its helpers
            // (the stdin copier, the doorbell and its tail).
            let mut w = Watcher::start(shell, &dir, 1000);
            w.tell(&[A]);
            let _ = w.quiet_for(Duration::from_millis(500));
            let helpers = descendants(w.pid());
            assert_eq!(helpers.len(), 3, "{shell}: {helpers:?}");
            drop(w.stdin.take());
            assert!(
                w.exited_within(Duration::from_secs(2)),
                "{shell}: stdin closed"
            );
            let end = Instant::now() + Duration::from_secs(3);
            while helpers.iter().any(|p| alive(*p)) && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            let left: Vec<_> = helpers.iter().filter(|p| alive(**p)).collect();
            assert!(left.is_empty(), "{shell}: helpers left behind: {left:?}");
            drop(w);

            // stdout closed: ends at the next line it prints (here the next heartbeat).
            let mut w = Watcher::start(shell, &dir, 2);
            let Watcher { lines, .. } = &mut w;
            let (_tx, rx) = channel();
            drop(std::mem::replace(lines, rx));
            assert!(
                w.exited_within(Duration::from_secs(3)),
                "{shell}: stdout gone"
            );
            drop(w);
            let _ = std::fs::remove_dir_all(&root);
        }
    }

    /// No process is created per iteration (its helpers, started once, stay the same), and
    /// the loop is cheap. Reports the CPU use.
    #[test]
    fn watcher_forks_nothing_and_is_cheap() {
        if !Path::new("/bin/bash").exists() || !Path::new("/proc/self/stat").exists() {
            return;
        }
        let root = scratch("cpu");
        let dir = root.join(".x2go-u");
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..10 {
            let s = dir.join(format!("C-u-{}-1700000000_stDXFCE_dp24", 50 + i));
            std::fs::create_dir(&s).unwrap();
            std::fs::write(s.join("state"), "SUSPENDED").unwrap();
        }
        let mut w = Watcher::start("/bin/bash", &dir, 1000);
        w.tell(&[
            "u-50-1700000000_stDXFCE_dp24",
            "u-51-1700000000_stDXFCE_dp24",
        ]);
        let _ = w.quiet_for(Duration::from_millis(300));
        let pid = w.pid();
        let helpers = children(pid);
        assert_eq!(helpers.split_whitespace().count(), 3, "{helpers}");
        let secs: u64 = std::env::var("X2GOD_WATCH_CPU_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5);
        let before = cpu_ticks(pid);
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            // Sampled every 10 ms: a fork+exec+wait of any helper takes longer than that.
            assert_eq!(children(pid), helpers);
            std::thread::sleep(Duration::from_millis(10));
        }
        let ticks = cpu_ticks(pid) - before;
        eprintln!(
            "watcher CPU over {secs} s at 0.2 s poll with 10 sessions: {ticks} ticks (utime+stime)"
        );
        // 5 polls per second must stay far below 1% of a CPU (100 ticks/s).
        assert!(ticks <= secs, "{ticks} ticks in {secs} s");
        drop(w);
        let _ = std::fs::remove_dir_all(&root);
    }
}
