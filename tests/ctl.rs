//! `x2goctl`, the command-line client, run as a process against the daemon on a private bus:
//! its `--json` output equals golden files (volatile fields normalised), its exit codes tell
//! the error kinds apart, and `watch` prints what another client did.
//! Run with `X2GOD_BLESS=1` to rewrite `tests/golden/ctl/` after a deliberate change.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use x2god_client::Options;
use x2god_tests::{Bus, Daemon, Lab, wait_until};

use crate::{GRAPHICAL, bounded, connected};

/// target/<profile>/x2goctl, built by `cargo build --workspace --bins` (tests/run does).
fn ctl_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("x2goctl");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p x2goctl` (tests/run does)",
        bin.display()
    );
    let built = std::fs::metadata(&bin).unwrap().modified().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/src");
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let t = e.metadata().unwrap().modified().unwrap();
        assert!(
            built >= t,
            "{} is older than {}: run `cargo build -p x2goctl`",
            bin.display(),
            e.path().display()
        );
    }
    bin
}

/// x2goctl on `bus`, with a clean environment (no terminal, no secrets) and `home` as HOME.
fn ctl_command(bus: &str, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(ctl_binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .current_dir(home);
    cmd
}

/// What a finished x2goctl run left.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs x2goctl with `input` on stdin (none: /dev/null) off the async runtime's threads.
async fn run_on(bus: &str, home: &Path, args: &[&str], input: Option<&str>) -> Run {
    let mut cmd = ctl_command(bus, home, args);
    let input = input.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().expect("run x2goctl");
        if let Some(text) = input {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        Run::from(child.wait_with_output().unwrap())
    })
    .await
    .unwrap()
}

async fn ctl(d: &Daemon, args: &[&str]) -> Run {
    run_on(&d.bus.address, d.home.path(), args, None).await
}

/// Runs x2goctl and requires exit 0.
async fn ok(d: &Daemon, args: &[&str]) -> String {
    let r = ctl(d, args).await;
    assert_eq!(
        r.code, 0,
        "x2goctl {args:?} exited {}:\n{}{}",
        r.code, r.stdout, r.stderr
    );
    r.stdout
}

/// Runs x2goctl and requires exit `code`; with `--json`, stderr must name the error `kind`.
async fn fails(d: &Daemon, args: &[&str], input: Option<&str>, code: i32, kind: &str) -> Run {
    let r = run_on(&d.bus.address, d.home.path(), args, input).await;
    assert_eq!(
        r.code, code,
        "x2goctl {args:?}: want exit {code} ({kind}), got {}:\n{}{}",
        r.code, r.stdout, r.stderr
    );
    if args.contains(&"--json") {
        assert!(
            r.stderr.contains(&format!("\"kind\":\"{kind}\""))
                && r.stderr.contains(&format!("\"exit_code\":{code}")),
            "stderr does not report {kind}: {}",
            r.stderr
        );
    }
    r
}

/// Keys whose values change from run to run; their values become `"<key>"`.
const VOLATILE: &[&str] = &[
    "agent_pid",
    "date_created",
    "date_suspended",
    "display",
    "graphics_port",
    "snd_port",
    "sshfs_port",
    "time",
];

/// Replaces the values of `VOLATILE` keys and `extra` keys in pretty-printed or one-line JSON,
/// then each `(from, to)` text.
fn normalise(json: &str, extra: &[&str], texts: &[(&str, &str)]) -> String {
    let mut out = json.to_owned();
    for key in VOLATILE.iter().chain(extra) {
        let needle = format!("\"{key}\":");
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&needle) {
            let (head, tail) = rest.split_at(at + needle.len());
            result.push_str(head);
            let spaces = tail.len() - tail.trim_start().len();
            result.push_str(&tail[..spaces]);
            let value = &tail[spaces..];
            let end = if let Some(s) = value.strip_prefix('"') {
                1 + s.find('"').unwrap() + 1
            } else {
                value.find([',', '}', '\n']).unwrap_or(value.len())
            };
            result.push_str(&format!("\"<{key}>\""));
            rest = &value[end..];
        }
        result.push_str(rest);
        out = result;
    }
    for (from, to) in texts {
        out = out.replace(from, to);
    }
    out
}

/// Compares `actual` with `tests/golden/ctl/<name>.json` (or writes it with `X2GOD_BLESS=1`).
fn golden(name: &str, actual: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/ctl");
    let file = dir.join(format!("{name}.json"));
    if std::env::var_os("X2GOD_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&file, actual).unwrap();
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (X2GOD_BLESS=1 writes it)", file.display()));
    assert_eq!(
        actual,
        want,
        "x2goctl output differs from {}; review and bless with X2GOD_BLESS=1",
        file.display()
    );
}

/// The object of the pretty-printed JSON array `json` that mentions `needle`, as a one-element
/// array: other tests' sessions of the same user may be listed too.
fn only_element(json: &str, needle: &str) -> String {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    let mut inside = false;
    for line in json.lines() {
        if line == "  {" {
            blocks.push(Vec::new());
            inside = true;
        }
        if inside && let Some(b) = blocks.last_mut() {
            b.push(line);
        }
        if line == "  }" || line == "  }," {
            inside = false;
        }
    }
    let block = blocks
        .into_iter()
        .find(|b| b.iter().any(|l| l.contains(needle)))
        .unwrap_or_else(|| panic!("{needle} not in {json}"));
    let body = block.join("\n");
    format!("[\n{}\n]\n", body.trim_end_matches(','))
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_completions_man_and_errors_without_a_daemon() {
    bounded(async {
        let bus = Bus::start();
        let home = tempfile::tempdir().unwrap();
        let run = |args: &'static [&'static str]| run_on(&bus.address, home.path(), args, None);

        let help = run(&["--help"]).await;
        assert_eq!(help.code, 0);
        for line in [
            "Exit status:",
            "  3  no such profile",
            "  4  authentication failed",
            "  5  the server's host key",
            "  6  network",
            "  8  x2god is not reachable",
        ] {
            assert!(help.stdout.contains(line), "--help lacks {line:?}");
        }
        for cmd in [
            "profile",
            "connect",
            "disconnect",
            "sessions",
            "start",
            "resume",
            "suspend",
            "terminate",
            "clean",
            "desktops",
            "share",
            "mounts",
            "apps",
            "features",
            "versions",
            "trust-host-key",
            "watch",
            "completions",
            "man",
        ] {
            assert!(
                help.stdout.contains(&format!("\n  {cmd} ")),
                "--help lacks {cmd}"
            );
        }
        let short = run(&["connect", "-h"]).await;
        assert!(short.stdout.contains("4 auth failed"), "{}", short.stdout);

        for (shell, marker) in [
            ("bash", "_x2goctl()"),
            ("zsh", "#compdef x2goctl"),
            ("fish", "complete -c x2goctl"),
        ] {
            let r = run_on(&bus.address, home.path(), &["completions", shell], None).await;
            assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
            assert!(
                r.stdout.contains(marker),
                "{shell} completion lacks {marker}"
            );
            assert!(
                r.stdout.contains("trust-host-key"),
                "{shell}: no subcommands"
            );
        }
        let man = run(&["man"]).await;
        assert_eq!(man.code, 0);
        assert!(man.stdout.contains(".TH x2goctl 1"));
        assert!(man.stdout.contains(".SH \"EXIT STATUS\""));
        assert!(man.stdout.contains("password\\-stdin"));
        let dir = home.path().join("man");
        let r = run_on(
            &bus.address,
            home.path(),
            &["man", "--dir", dir.to_str().unwrap()],
            None,
        )
        .await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(dir.join("x2goctl.1").exists() && dir.join("x2goctl-connect.1").exists());

        // Usage errors are 2, and never reach the daemon.
        assert_eq!(run(&["frobnicate"]).await.code, 2);
        assert_eq!(run(&["connect"]).await.code, 2);
        let r = run(&["connect", "p", "--set", "password=hunter2"]).await;
        assert_eq!(r.code, 2);
        assert!(
            r.stderr.contains("never taken on the command line"),
            "{}",
            r.stderr
        );
        assert_eq!(
            run(&["profile", "add", "p", "--host", "h", "--port", "0"])
                .await
                .code,
            2
        );
        assert_eq!(run(&["secret", "store", "p", "pin"]).await.code, 2);
        let r = run(&["clean", "p"]).await;
        assert_eq!(r.code, 2, "clean without --yes and without a terminal");
        assert!(r.stderr.contains("--yes"), "{}", r.stderr);

        // A bus without x2god, and no bus at all.
        let r = run(&["profile", "list", "--json"]).await;
        assert_eq!(r.code, 8, "{}", r.stderr);
        assert!(r.stderr.contains("\"exit_code\":8"), "{}", r.stderr);
        let r = run_on(
            "unix:path=/nonexistent/x2goctl-bus",
            home.path(),
            &["profile", "list"],
            None,
        )
        .await;
        assert_eq!(r.code, 8, "{}", r.stderr);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_of_profiles_connect_and_queries_matches_golden() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        lab.trust_in_home(d.home.path());
        let port = lab.var("SSH_PORT");
        let user = lab.var("SSH_USER");
        let key = lab.var("SSH_KEY");
        let texts = [(port.as_str(), "<port>"), (key.as_str(), "<key>")];
        let g = |name: &str, out: &str| golden(name, &normalise(out, &[], &texts));

        let out = ok(
            &d,
            &[
                "profile",
                "add",
                "cli",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--user",
                &user,
                "--key",
                &key,
                "--json",
            ],
        )
        .await;
        g("profile_add", &out);
        g(
            "profile_list",
            &ok(&d, &["profile", "list", "--json"]).await,
        );
        g(
            "profile_show_disconnected",
            &ok(&d, &["profile", "show", "cli", "--json"]).await,
        );
        let human = ok(&d, &["profile", "list"]).await;
        assert!(
            human.starts_with("NAME") && human.contains("cli") && human.contains("disconnected"),
            "{human}"
        );
        g(
            "profile_update",
            &ok(
                &d,
                &["profile", "update", "cli", "--set", "timeout=20", "--json"],
            )
            .await,
        );
        g(
            "check_host",
            &ok(&d, &["check-host", "cli", "--json"]).await,
        );
        g("connect", &ok(&d, &["connect", "cli", "--json"]).await);
        g("ping", &ok(&d, &["ping", "cli", "--json"]).await);
        g("features", &ok(&d, &["features", "cli", "--json"]).await);
        g("versions", &ok(&d, &["versions", "cli", "--json"]).await);
        g(
            "home_exists",
            &ok(&d, &["home-exists", "cli", "--json"]).await,
        );
        g(
            "sshfs_available",
            &ok(&d, &["sshfs-available", "cli", "--json"]).await,
        );
        g(
            "is_x2go_user",
            &ok(
                &d,
                &["is-x2go-user", "cli", &lab.var("SSH_USER2"), "--json"],
            )
            .await,
        );
        g("apps", &ok(&d, &["apps", "cli", "--json"]).await);
        g(
            "state_unknown",
            &ok(
                &d,
                &[
                    "state",
                    "cli",
                    "x2gotest-99-1700000000_stRxterm_dp24",
                    "--json",
                ],
            )
            .await,
        );
        golden(
            "version",
            &normalise(
                &ok(&d, &["version", "--json"]).await,
                &[],
                &[(env!("CARGO_PKG_VERSION"), "<version>")],
            ),
        );
        // Other tests may share desktops of the lab's users right now: only the shape is fixed.
        let desktops = ok(&d, &["desktops", "cli", "--json", "--maxwait", "10"]).await;
        assert!(desktops.trim_start().starts_with('['), "{desktops}");
        let raw = ok(&d, &["sessions", "cli", "--raw"]).await;
        assert!(!raw.contains('{'), "--raw is the server's text: {raw}");
        g(
            "disconnect",
            &ok(&d, &["disconnect", "cli", "--json"]).await,
        );
        g(
            "profile_rename",
            &ok(&d, &["profile", "rename", "cli", "cli2", "--json"]).await,
        );
        g(
            "profile_rm",
            &ok(&d, &["profile", "rm", "cli2", "--json"]).await,
        );
        assert_eq!(ok(&d, &["profile", "list", "--json"]).await, "[]\n");
    })
    .await;
}

/// Creates a lab profile through x2goctl.
async fn add_profile(d: &Daemon, lab: &Lab, name: &str, port: &str, extra: &[&str]) {
    let user = lab.var("SSH_USER");
    let mut args = vec![
        "profile",
        "add",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--user",
        &user,
    ];
    args.extend_from_slice(extra);
    ok(d, &args).await;
}

/// The `SHA256:…` fingerprint in `text`.
fn fingerprint_in(text: &str) -> String {
    let at = text
        .find("SHA256:")
        .unwrap_or_else(|| panic!("no fingerprint in {text}"));
    text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '+' | '/' | '='))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_error_kinds_apart() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        // No known_hosts in this HOME: the lab's key is unknown.
        let d = Daemon::start().await;
        let port = lab.var("SSH_PORT");
        add_profile(&d, &lab, "pw", &port, &["--force-password"]).await;

        // Not found (3).
        fails(&d, &["sessions", "nope", "--json"], None, 3, "NotFound").await;
        fails(&d, &["connect", "nope"], None, 3, "NotFound").await;

        // Host key unknown (5), then trusted with the fingerprint the error names.
        let r = fails(&d, &["connect", "pw", "--json"], None, 5, "HostKeyUnknown").await;
        assert!(
            r.stderr.contains("trust-host-key pw SHA256:"),
            "no hint: {}",
            r.stderr
        );
        let fp = fingerprint_in(&r.stderr);
        let r = ctl(&d, &["check-host", "pw", "--json"]).await;
        assert_eq!(r.code, 5, "{}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("\"known\": false"), "{}", r.stdout);
        fails(
            &d,
            &["trust-host-key", "pw", "SHA256:AAAAwrong", "--json"],
            None,
            2,
            "InvalidArgument",
        )
        .await;
        ok(&d, &["trust-host-key", "pw", &fp]).await;
        ok(&d, &["check-host", "pw"]).await;

        // Auth failed (4): a wrong password on stdin, which is never echoed back.
        let r = fails(
            &d,
            &["connect", "pw", "--password-stdin", "--json"],
            Some("wrong-pw-4711\n"),
            4,
            "AuthFailed",
        )
        .await;
        assert!(!r.stderr.contains("wrong-pw-4711") && !r.stdout.contains("wrong-pw-4711"));
        assert!(
            !d.log_text().contains("wrong-pw-4711"),
            "password in the daemon log"
        );
        // The server delays a failed login; even so, a pipe gets no spinner.
        assert!(
            !r.stderr.contains('\r'),
            "spinner on a pipe: {:?}",
            r.stderr
        );
        fails(
            &d,
            &["connect", "pw", "--password-stdin"],
            Some(""),
            2,
            "Usage",
        )
        .await;

        // The right one connects; then a session or desktop that does not exist is not found.
        let pw = format!("{}\n", lab.var("SSH_PASSWORD"));
        ok_with_input(&d, &["connect", "pw", "--password-stdin"], &pw).await;
        fails(
            &d,
            &[
                "session",
                "pw",
                "x2gotest-99-1700000000_stRxterm_dp24",
                "--json",
            ],
            None,
            3,
            "NotFound",
        )
        .await;
        let x = lab.var("X_DISPLAY");
        fails(
            &d,
            &[
                "share",
                "pw",
                "nobody-here@:4711",
                "--maxwait",
                "10",
                "--local-display",
                &x,
                "--json",
            ],
            None,
            3,
            "NotFound",
        )
        .await;
        // An option x2god refuses is a usage error (2), decided before anything runs.
        fails(
            &d,
            &["start", "pw", "--set", "colour=red", "--json"],
            None,
            2,
            "InvalidArgument",
        )
        .await;

        // Network (6): a closed port, and a profile that is not connected.
        add_profile(&d, &lab, "closed", &closed_port().to_string(), &[]).await;
        let r = fails(&d, &["connect", "closed", "--json"], None, 6, "Network").await;
        assert!(r.stderr.contains("cannot connect"), "{}", r.stderr);
        let r = fails(
            &d,
            &["sessions", "closed", "--json"],
            None,
            6,
            "NotConnected",
        )
        .await;
        assert!(
            r.stderr.contains("x2goctl connect closed"),
            "no hint: {}",
            r.stderr
        );
    })
    .await;
}

async fn ok_with_input(d: &Daemon, args: &[&str], input: &str) {
    let r = run_on(&d.bus.address, d.home.path(), args, Some(input)).await;
    assert_eq!(r.code, 0, "x2goctl {args:?}: {}{}", r.stdout, r.stderr);
}

fn xterm_start() -> Options {
    Options::new()
        .set("cmd", "xterm")
        .set("session_type", "application")
        .set("geometry", "800x600")
}

async fn no_xterm_left(lab: &Lab) {
    wait_until("the xterm window to go", Duration::from_secs(30), || {
        lab.visible_windows("XTerm").is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lifecycle_json_matches_golden() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        lab.trust_in_home(d.home.path());
        let port = lab.var("SSH_PORT");
        ok(
            &d,
            &[
                "profile",
                "add",
                "life",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--user",
                &lab.var("SSH_USER"),
                "--key",
                &lab.var("SSH_KEY"),
            ],
        )
        .await;
        ok(&d, &["connect", "life"]).await;
        let started = ok(
            &d,
            &[
                "start",
                "life",
                "--cmd",
                "xterm",
                "--type",
                "application",
                "--geometry",
                "800x600",
                "--json",
            ],
        )
        .await;
        let name = started
            .split("\"session\": \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_else(|| panic!("no session in {started}"))
            .to_owned();
        let spath = x2god_proto::path::session_path("life", &name);
        let texts = [
            (spath.as_str(), "<session path>"),
            (name.as_str(), "<session>"),
            (port.as_str(), "<port>"),
        ];
        let g = |file: &str, out: &str| golden(file, &normalise(out, &[], &texts));
        g("start", &started);
        let listed = ok(&d, &["sessions", "life", "--json"]).await;
        golden(
            "sessions",
            &normalise(&only_element(&listed, &name), &["hostname"], &texts),
        );
        let table = ok(&d, &["sessions", "life"]).await;
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(&name) && l.contains("running")),
            "{table}"
        );
        g(
            "session",
            &ok(&d, &["session", "life", &name, "--json"]).await,
        );
        g("state", &ok(&d, &["state", "life", &name, "--json"]).await);
        g(
            "state_is_running",
            &ok(&d, &["state", "life", &name, "--is", "running", "--json"]).await,
        );
        g(
            "mounts",
            &ok(&d, &["mounts", "life", &name, "--json"]).await,
        );
        g(
            "suspend",
            &ok(&d, &["suspend", "life", &name, "--json"]).await,
        );
        g(
            "resume",
            &ok(&d, &["resume", "life", &name, "--json"]).await,
        );
        // Without its nxproxy the agent suspends the session by itself, sooner or later: the
        // state right after a dissociate is either.
        let out = ok(&d, &["dissociate", "life", &name, "--json"]).await;
        assert!(
            out.contains("\"state\": \"running\"") || out.contains("\"state\": \"suspended\""),
            "{out}"
        );
        golden("dissociate", &normalise(&out, &["state"], &texts));
        g(
            "terminate",
            &ok(&d, &["terminate", "life", &name, "--json"]).await,
        );
        assert_eq!(ok(&d, &["state", "life", &name]).await, "terminated\n");
        no_xterm_left(&lab).await;
    })
    .await;
}

/// Lines a child process writes, collected by a thread.
fn lines_of(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `needle`; returns it, or panics with what came instead.
async fn line_with(rx: &mpsc::Receiver<String>, needle: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        while let Ok(l) = rx.try_recv() {
            if l.contains(needle) {
                return l;
            }
            seen.push(l);
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needle:?} within {timeout:?}; got {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_a_suspend_done_by_another_client() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "watched").await;
        let (name, _) = p.proxy().start(xterm_start().as_call_arg()).await.unwrap();

        let mut watchers = Vec::new();
        let mut outputs = Vec::new();
        for args in [&["watch", "watched"][..], &["watch", "--json"][..]] {
            let mut child = ctl_command(&d.bus.address, d.home.path(), args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let out = lines_of(child.stdout.take().unwrap());
            let err = lines_of(child.stderr.take().unwrap());
            // Ready once it says so: its match rules are in place by then.
            line_with(&err, "watching x2god events", Duration::from_secs(10)).await;
            watchers.push(child);
            outputs.push(out);
        }

        // Another client: plain OpenSSH running the X2Go server command.
        lab.ssh(&lab.var("SSH_USER"), &format!("x2gosuspend-session {name}"));
        let want = format!("watched: session {name} running -> suspended (other)");
        let line = line_with(&outputs[0], &want, Duration::from_secs(15)).await;
        assert_eq!(line, want);
        let json = line_with(
            &outputs[1],
            "session_state_changed",
            Duration::from_secs(15),
        )
        .await;
        golden(
            "watch_suspend",
            &normalise(&format!("{json}\n"), &[], &[(name.as_str(), "<session>")]),
        );

        // A change by x2god itself is `self`; the filter keeps other profiles out.
        p.proxy()
            .terminate(&name, std::collections::HashMap::new())
            .await
            .unwrap();
        line_with(
            &outputs[0],
            &format!("watched: session {name} removed (self)"),
            Duration::from_secs(15),
        )
        .await;
        for mut w in watchers {
            let _ = w.kill();
            let _ = w.wait();
        }
        no_xterm_left(&lab).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_count_exits_and_filters_profiles() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        lab.trust_in_home(d.home.path());
        let mut child = ctl_command(
            &d.bus.address,
            d.home.path(),
            &["watch", "second", "--count", "2"],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let out = lines_of(child.stdout.take().unwrap());
        let err = lines_of(child.stderr.take().unwrap());
        line_with(&err, "watching x2god events", Duration::from_secs(10)).await;
        let c = d.client().await;
        for name in ["first", "second"] {
            c.create_profile(name, lab.profile_settings(&lab.var("SSH_USER")))
                .await
                .unwrap();
        }
        let p = c.profile("second").await.unwrap();
        p.connect(Options::new().set("key_filename", lab.var("SSH_KEY")))
            .await
            .unwrap();
        assert_eq!(
            line_with(&out, "profile", Duration::from_secs(10)).await,
            "second: profile added (disconnected)"
        );
        line_with(&out, "second: connection", Duration::from_secs(10)).await;
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        assert!(status.success(), "watch --count 2 did not exit cleanly");

        // --snapshot describes what is there first, then says it is in sync.
        let snap = ok(&d, &["watch", "--snapshot", "--json", "--count", "3"]).await;
        golden("watch_snapshot", &normalise(&snap, &[], &[]));
    })
    .await;
}
