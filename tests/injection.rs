//! Hostile names are refused with InvalidArgument before anything runs on the server.

use std::collections::HashMap;

use x2god_client::Options;
use x2god_tests::{Daemon, Lab};

use crate::{bounded, connected_as, expect_err};

const CANARY: &str = "/tmp/x2god-injection-canary";

fn hostile_session_names() -> Vec<String> {
    let valid = "x2gotest-50-1700000000_stRxterm_dp24";
    let mut v: Vec<String> = [
        "",
        " ",
        "x;touch /tmp/x2god-injection-canary",
        "$(touch /tmp/x2god-injection-canary)",
        "`touch /tmp/x2god-injection-canary`",
        "a b",
        "a\nb",
        "../../etc/passwd",
        "-rf",
        "*",
        "x2gotest-50-1700000000_stRxterm_dp24 ; id",
        "x2gotest-50-1700000000_stRxterm_dp24'",
        "x2gotest-50-1700000000_stRxterm_dp24\"",
        "x2gotest-50-1700000000_stRxterm_dp24|id",
        "x2gotest-50-1700000000_stRxterm_dp24&",
        "x2gotest-50-1700000000_stRxterm_dp24>/tmp/x",
        "x2gotest-50-1700000000_stRxterm_dp24\n",
        "x2gotest-5-1700000000_stRxterm_dp24",
        "x2gotest-50-17_stRxterm_dp24",
        "x2gotest-50-1700000000_stRxterm",
        "x2gotest-50-1700000000_stRx term_dp24",
        "x2gotest-50-1700000000_stR$(id)_dp24",
        "x2gotest-50-1700000000_stRxterm_dp24\u{202e}",
        "ünïcode-50-1700000000_stRxterm_dp24",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("{valid}{}", "a".repeat(100_000)));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_session_names_run_nothing() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let _ = std::fs::remove_file(CANARY);
        let d = Daemon::start().await;
        // The second user: no other test changes its sessions, so the daemon's watcher stays
        // quiet while we count channels.
        let p = connected_as(&d, &lab, "inj", &lab.var("SSH_USER2")).await;
        p.list_sessions().await.unwrap();
        let conns = d.tcp_connections_to(lab.port());
        assert_eq!(conns.len(), 1);
        let before = lab.settled_channels(conns[0]).await;
        let log_before = d.log_text().len();
        let px = p.proxy();
        for name in hostile_session_names() {
            expect_err(px.suspend(&name).await, "InvalidArgument");
            expect_err(px.terminate(&name, HashMap::new()).await, "InvalidArgument");
            expect_err(px.session_state(&name).await, "InvalidArgument");
            expect_err(px.is_running(&name).await, "InvalidArgument");
        }
        // A well-formed name never seen is NotFound, after one listing.
        expect_err(
            px.is_running("x2gotest-99-1700000000_stRxterm_dp24").await,
            "NotFound",
        );
        // What ran on the server meanwhile: the daemon logs every command it sends. Only
        // listings (ours for the NotFound check, or the watcher's) may appear.
        let log = d.log_text();
        let commands: Vec<&str> = log[log_before..]
            .lines()
            .filter(|l| l.contains("running server command"))
            .collect();
        assert!(!commands.is_empty(), "the NotFound check lists sessions");
        for c in &commands {
            assert!(
                c.contains("command=\"x2golistsessions\""),
                "unexpected command: {c}"
            );
        }
        // And sshd agrees: no more channels than listings.
        let after = lab.channels_from(conns[0]);
        assert!(
            after - before <= commands.len(),
            "{} channels for {} commands",
            after - before,
            commands.len()
        );
        assert!(!std::path::Path::new(CANARY).exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_user_and_host_names_are_refused_before_connecting() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = crate::key_profile(&d, &lab, "inj2", "SSH_KEY").await;
        for user in [
            "x2gotest;id",
            "$(id)",
            "-oProxyCommand=x",
            "a b",
            "a\nb",
            "XSHADx",
        ] {
            expect_err(
                p.connect(Options::new().set("username", user)).await,
                "InvalidArgument",
            );
        }
        for host in ["-oProxyCommand=touch /tmp/x", "a b", "h;id", ""] {
            expect_err(
                p.connect(Options::new().set("hostname", host)).await,
                "InvalidArgument",
            );
        }
        assert!(d.tcp_connections_to(lab.port()).is_empty());
        assert!(!p.proxy().is_connected().await.unwrap());
    })
    .await;
}

/// Where a hostile value of the table goes.
enum Call {
    Suspend(String),
    Terminate(String),
    Resume(String),
    ListMounts(String),
    IsRunning(String),
    ExecPublished(String),
    Dissociate(String),
    IsX2goUser(String),
    /// `Connect` options, on a profile that is not connected.
    Connect(Options),
    ShareDesktop(Options),
    Start(Options),
    CreateProfile(Options),
}

/// A row of the table: the method and parameter, the value (`{C}` stands for the row's canary
/// file), how the call is built, the error kind and a word its message must hold, so that a
/// refusal for another reason (no local display, a missing option) cannot pass for this one.
type Row = (
    &'static str,
    String,
    fn(String) -> Call,
    &'static str,
    &'static str,
);

/// A session name the server grammar accepts, and a published-applications one.
const SESSION: &str = "x2gotest2-50-1700000000_stRxterm_dp24";
const PUBLISHED: &str = "x2gotest2-51-1700000000_stRPUBLISHED_dp24";
/// Prefix of the canary files: `touch /tmp/x2god-canary-<row>` in a value that ran would leave one.
const CANARY_PREFIX: &str = "x2god-canary-";

/// Valid `Start` options apart from the one under test: the lab's X display.
fn start() -> Options {
    Options::new().set("display", ":70")
}

/// Valid `ShareDesktop` options apart from the one under test.
fn share() -> Options {
    Options::new().set("local_display", ":70")
}

fn hostile_table() -> Vec<Row> {
    let long = "a".repeat(100_000);
    let s = |v: &str| v.replace("{S}", SESSION).replace("{P}", PUBLISHED);
    let inv = "InvalidArgument";
    vec![
        // Session names.
        (
            "Suspend name",
            s("{S};touch {C}"),
            Call::Suspend,
            inv,
            "session name",
        ),
        (
            "Terminate name",
            s("{S}$(touch {C})"),
            Call::Terminate,
            inv,
            "session name",
        ),
        (
            "Resume name",
            s("`touch {C}`"),
            Call::Resume,
            inv,
            "session name",
        ),
        (
            "ListMounts name",
            s("{S}|touch {C}"),
            Call::ListMounts,
            inv,
            "session name",
        ),
        (
            "IsRunning name",
            s("{S}&touch {C}&"),
            Call::IsRunning,
            inv,
            "session name",
        ),
        (
            "ExecPublishedApplication name",
            s("{P}\ntouch {C}"),
            Call::ExecPublished,
            inv,
            "session name",
        ),
        (
            "Dissociate name",
            s("{S}>{C}"),
            Call::Dissociate,
            inv,
            "session name",
        ),
        (
            "Suspend name",
            s("{S}'; touch {C}; '"),
            Call::Suspend,
            inv,
            "session name",
        ),
        (
            "Terminate name",
            s("-{S}"),
            Call::Terminate,
            inv,
            "session name",
        ),
        (
            "IsRunning name",
            "x2gotest2-*".into(),
            Call::IsRunning,
            inv,
            "session name",
        ),
        (
            "ListMounts name",
            format!("{}{long};touch {{C}}", SESSION),
            Call::ListMounts,
            inv,
            "session name",
        ),
        // U+037E GREEK QUESTION MARK looks like ';' and NFKC-normalises to it.
        (
            "Resume name",
            s("{S}\u{37e}touch {C}"),
            Call::Resume,
            inv,
            "session name",
        ),
        (
            "Dissociate name",
            s("{S}\rtouch {C}"),
            Call::Dissociate,
            inv,
            "session name",
        ),
        (
            "ExecPublishedApplication name",
            s("{P}\"$(touch {C})\""),
            Call::ExecPublished,
            inv,
            "session name",
        ),
        // User names.
        (
            "IsX2goUser",
            "x2gotest2;touch {C}".into(),
            Call::IsX2goUser,
            inv,
            "user name",
        ),
        (
            "IsX2goUser",
            "$(touch {C})".into(),
            Call::IsX2goUser,
            inv,
            "user name",
        ),
        (
            "IsX2goUser",
            "-x2gotest2".into(),
            Call::IsX2goUser,
            inv,
            "user name",
        ),
        (
            "IsX2goUser",
            "x2gotest2\ntouch {C}".into(),
            Call::IsX2goUser,
            inv,
            "user name",
        ),
        // U+FF1B FULLWIDTH SEMICOLON.
        (
            "IsX2goUser",
            "x2gotest2\u{ff1b}touch {C}".into(),
            Call::IsX2goUser,
            inv,
            "user name",
        ),
        (
            "Connect username",
            "x2gotest2`touch {C}`".into(),
            |v| Call::Connect(Options::new().set("username", v)),
            inv,
            "user name",
        ),
        (
            "Connect username",
            "x2gotest2 && touch {C}".into(),
            |v| Call::Connect(Options::new().set("username", v)),
            inv,
            "user name",
        ),
        (
            "Connect username",
            "-oProxyCommand=touch {C}".into(),
            |v| Call::Connect(Options::new().set("username", v)),
            inv,
            "user name",
        ),
        (
            "Connect username",
            format!("{long};touch {{C}}"),
            |v| Call::Connect(Options::new().set("username", v)),
            inv,
            "user name",
        ),
        (
            "ShareDesktop user",
            "x2gotest;touch {C}".into(),
            |v| Call::ShareDesktop(share().set("user", v).set("display", "50")),
            inv,
            "user name",
        ),
        (
            "ShareDesktop user",
            "x2gotest|touch {C}".into(),
            |v| Call::ShareDesktop(share().set("user", v).set("display", "50")),
            inv,
            "user name",
        ),
        (
            "ShareDesktop desktop",
            "$(touch {C})@:50".into(),
            |v| Call::ShareDesktop(share().set("desktop", v)),
            inv,
            "user name",
        ),
        // Display numbers.
        (
            "ShareDesktop desktop",
            "x2gotest@:50;touch {C}".into(),
            |v| Call::ShareDesktop(share().set("desktop", v)),
            inv,
            "invalid display",
        ),
        (
            "ShareDesktop display",
            "50;touch {C}".into(),
            |v| Call::ShareDesktop(share().set("user", "x2gotest").set("display", v)),
            inv,
            "invalid display",
        ),
        (
            "ShareDesktop display",
            "${IFS}touch${IFS}{C}".into(),
            |v| Call::ShareDesktop(share().set("user", "x2gotest").set("display", v)),
            inv,
            "invalid display",
        ),
        (
            "ShareDesktop display (i)",
            "-1".into(),
            |v| {
                Call::ShareDesktop(
                    share()
                        .set("user", "x2gotest")
                        .set("display", v.parse::<i32>().unwrap()),
                )
            },
            inv,
            "invalid display",
        ),
        (
            "Start display",
            ":70;touch {C}".into(),
            |v| Call::Start(Options::new().set("display", v)),
            inv,
            "not an x display",
        ),
        (
            "Start display",
            "$(touch {C}):70".into(),
            |v| Call::Start(Options::new().set("display", v)),
            inv,
            "not an x display",
        ),
        (
            "Start display",
            ":70\ntouch {C}".into(),
            |v| Call::Start(Options::new().set("display", v)),
            inv,
            "not an x display",
        ),
        // Start options.
        (
            "Start cmd",
            "xterm;touch {C}".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start cmd",
            "xterm $(touch {C})".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start cmd",
            "xterm `touch {C}`".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start cmd",
            "xterm | touch {C}".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start cmd",
            "xterm & touch {C}".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start cmd",
            "xterm > {C}".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start cmd",
            "xterm\ntouch {C}".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start cmd",
            "-e touch {C}".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        // Harmless characters only, so only the length stops it.
        (
            "Start cmd",
            format!("touch {{C}}{}", " a".repeat(50_000)),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        // U+FF5C FULLWIDTH VERTICAL LINE.
        (
            "Start cmd",
            "xterm\u{ff5c}touch {C}".into(),
            |v| Call::Start(start().set("cmd", v)),
            inv,
            "session command",
        ),
        (
            "Start geometry",
            "800x600;touch {C}".into(),
            |v| Call::Start(start().set("geometry", v)),
            inv,
            "geometry",
        ),
        (
            "Start geometry",
            "$(touch {C})".into(),
            |v| Call::Start(start().set("geometry", v)),
            inv,
            "geometry",
        ),
        // U+00D7 MULTIPLICATION SIGN for the x.
        (
            "Start geometry",
            "800\u{d7}600".into(),
            |v| Call::Start(start().set("geometry", v)),
            inv,
            "geometry",
        ),
        (
            "Start link",
            "lan;touch {C}".into(),
            |v| Call::Start(start().set("link", v)),
            inv,
            "link",
        ),
        (
            "Start link",
            "lan`touch {C}`".into(),
            |v| Call::Start(start().set("link", v)),
            inv,
            "link",
        ),
        (
            "Start pack",
            "16m-jpeg-9|touch {C}".into(),
            |v| Call::Start(start().set("pack", v)),
            inv,
            "pack",
        ),
        (
            "Start pack",
            "16m-jpeg-*".into(),
            |v| Call::Start(start().set("pack", v)),
            inv,
            "pack",
        ),
        (
            "Start kblayout",
            "de;touch {C}".into(),
            |v| Call::Start(start().set("kblayout", v)),
            inv,
            "keyboard",
        ),
        (
            "Start kblayout",
            "-de".into(),
            |v| Call::Start(start().set("kblayout", v)),
            inv,
            "keyboard",
        ),
        (
            "Start kbtype",
            "pc105/de$(touch {C})".into(),
            |v| Call::Start(start().set("kbtype", v)),
            inv,
            "keyboard",
        ),
        (
            "Start kbtype",
            format!("pc105/{long}"),
            |v| Call::Start(start().set("kbtype", v)),
            inv,
            "keyboard",
        ),
        (
            "Start clipboard",
            "both;touch {C}".into(),
            |v| Call::Start(start().set("clipboard", v)),
            inv,
            "clipboard",
        ),
        (
            "Start clipboard",
            "both\"; touch {C}; \"".into(),
            |v| Call::Start(start().set("clipboard", v)),
            inv,
            "clipboard",
        ),
        (
            "Start dpi (s)",
            "96;touch {C}".into(),
            |v| Call::Start(start().set("dpi", v)),
            inv,
            "dpi",
        ),
        (
            "Start dpi (u)",
            "100000".into(),
            |v| Call::Start(start().set("dpi", v.parse::<u32>().unwrap())),
            inv,
            "dpi",
        ),
        (
            "Start session_type",
            "desktop;touch {C}".into(),
            |v| Call::Start(start().set("session_type", v)),
            inv,
            "session_type",
        ),
        // Shadowing goes through ShareDesktop, which checks that the desktop is offered.
        (
            "Start session_type",
            "shadow".into(),
            |v| Call::Start(start().set("session_type", v)),
            inv,
            "session_type",
        ),
        (
            "Start kbvariant",
            "nodeadkeys;touch {C}".into(),
            |v| Call::Start(start().set("kbvariant", v)),
            inv,
            "keyboard",
        ),
        (
            "Start kbvariant",
            "-print".into(),
            |v| Call::Start(start().set("kbvariant", v)),
            inv,
            "keyboard",
        ),
        (
            "Start cache_type",
            "unix-kde,listen=1;touch {C}".into(),
            |v| Call::Start(start().set("cache_type", v)),
            inv,
            "cache type",
        ),
        (
            "Start cache_type",
            "unix-kde-depth_8".into(),
            |v| Call::Start(start().set("cache_type", v)),
            inv,
            "cache type",
        ),
        // Profile settings.
        (
            "CreateProfile hostname",
            "127.0.0.1;touch {C}".into(),
            |v| Call::CreateProfile(Options::new().set("hostname", v)),
            inv,
            "host",
        ),
        (
            "CreateProfile hostname",
            "-oProxyCommand=touch {C}".into(),
            |v| Call::CreateProfile(Options::new().set("hostname", v)),
            inv,
            "host",
        ),
        (
            "CreateProfile hostname",
            "$(touch {C})".into(),
            |v| Call::CreateProfile(Options::new().set("hostname", v)),
            inv,
            "host",
        ),
        (
            "CreateProfile hostname",
            format!("{long}.example.org"),
            |v| Call::CreateProfile(Options::new().set("hostname", v)),
            inv,
            "host",
        ),
        (
            "CreateProfile port (s)",
            "22;touch {C}".into(),
            |v| Call::CreateProfile(Options::new().set("hostname", "127.0.0.1").set("port", v)),
            inv,
            "port",
        ),
        (
            "CreateProfile port (x)",
            "0".into(),
            |v| {
                Call::CreateProfile(
                    Options::new()
                        .set("hostname", "127.0.0.1")
                        .set("port", v.parse::<i64>().unwrap()),
                )
            },
            inv,
            "port",
        ),
        (
            "CreateProfile port (x)",
            "65536".into(),
            |v| {
                Call::CreateProfile(
                    Options::new()
                        .set("hostname", "127.0.0.1")
                        .set("port", v.parse::<i64>().unwrap()),
                )
            },
            inv,
            "port",
        ),
        (
            "CreateProfile port (i)",
            "-22".into(),
            |v| {
                Call::CreateProfile(
                    Options::new()
                        .set("hostname", "127.0.0.1")
                        .set("port", v.parse::<i32>().unwrap()),
                )
            },
            inv,
            "port",
        ),
    ]
}

/// The profiles the table runs against.
struct Targets {
    client: x2god_client::Client,
    /// Connected as the second lab user.
    on: x2god_client::Profile,
    /// Not connected (for `Connect` options, which are checked when connecting).
    off: x2god_client::Profile,
}

impl Call {
    /// Makes the call; `Ok` carries what the daemon unexpectedly accepted, so it can be undone.
    async fn run(self, t: &Targets, row: usize) -> Result<String, x2god_client::Error> {
        let px = t.on.proxy();
        let none = HashMap::new;
        Ok(match self {
            Call::Suspend(v) => format!("{:?}", px.suspend(&v).await?),
            Call::Terminate(v) => format!("{:?}", px.terminate(&v, none()).await?),
            Call::Resume(v) => format!("{:?}", px.resume(&v, start().as_call_arg()).await?),
            Call::ListMounts(v) => format!("{:?}", px.list_mounts(&v, none()).await?),
            Call::IsRunning(v) => format!("{:?}", px.is_running(&v).await?),
            Call::ExecPublished(v) => {
                format!("{:?}", px.exec_published_application(&v, "xterm").await?)
            }
            Call::Dissociate(v) => format!("{:?}", px.dissociate(&v).await?),
            Call::IsX2goUser(v) => format!("{:?}", px.is_x2go_user(&v).await?),
            Call::Connect(o) => {
                t.off.connect(o).await?;
                t.off.disconnect().await?;
                "connected".into()
            }
            Call::ShareDesktop(o) => format!("{:?}", px.share_desktop(o.as_call_arg()).await?),
            Call::Start(o) => {
                let (name, _) = px.start(o.as_call_arg()).await?;
                let _ = px.terminate(&name, none()).await;
                format!("started {name}")
            }
            Call::CreateProfile(o) => {
                let name = format!("hostile-{row}");
                t.client.create_profile(&name, o).await?;
                let _ = t.client.remove_profile(&name).await;
                format!("created profile {name}")
            }
        })
    }
}

fn canaries() -> Vec<String> {
    std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(CANARY_PREFIX))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_hostile_values_is_refused_and_leaves_no_trace() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        for stale in canaries() {
            std::fs::remove_file(format!("/tmp/{stale}")).unwrap();
        }
        let d = Daemon::start().await;
        let user = lab.var("SSH_USER2");
        // The second user: no other test changes its sessions, so the watcher stays quiet.
        let on = connected_as(&d, &lab, "hostile-on", &user).await;
        let key = Options::new().set("key_filename", lab.var("SSH_KEY"));
        let off = crate::lab_profile(&d, &lab, "hostile-off", &user, key).await;
        let targets = Targets {
            client: d.client().await,
            on,
            off,
        };
        // Warm the feature cache and the session table.
        targets.on.list_sessions().await.unwrap();
        let conns = d.tcp_connections_to(lab.port());
        assert_eq!(conns.len(), 1, "one connection, of hostile-on: {conns:?}");
        let before = lab.settled_channels(conns[0]).await;
        let log_before = d.log_text().len();

        let table = hostile_table();
        assert!(table.len() >= 30);
        let mut wrong = Vec::new();
        let mut rows = Vec::new();
        for (n, (method, value, build, kind, about)) in table.into_iter().enumerate() {
            let value = value.replace("{C}", &format!("/tmp/{CANARY_PREFIX}{n}"));
            let shown = x2god_tests_preview(&value);
            rows.push(format!("{n:2} {method:30} {shown:50} -> {kind}"));
            match build(value).run(&targets, n).await {
                Err(e) if e.kind() == kind && e.to_string().to_lowercase().contains(about) => {}
                Err(e) => wrong.push(format!(
                    "row {n} {method} {shown}: expected {kind} about {about:?}, got {}: {e}",
                    e.kind()
                )),
                Ok(what) => wrong.push(format!(
                    "row {n} {method} {shown}: expected {kind}, the daemon accepted it ({what})"
                )),
            }
        }
        eprintln!("hostile values:\n{}", rows.join("\n"));

        // What ran on the server meanwhile, as the daemon logs it: listings at most (the
        // watcher's, or a refused call's that listed first would be a bug caught below too).
        let after = lab.settled_channels(conns[0]).await;
        let log = d.log_text();
        let window = &log[log_before..];
        let commands: Vec<&str> = window
            .lines()
            .filter(|l| l.contains("running server command"))
            .collect();
        for c in &commands {
            if !(c.contains("command=\"x2golistsessions\"")
                || c.contains("command=\"x2gofeaturelist\""))
            {
                wrong.push(format!("a server command ran: {c}"));
            }
        }
        // No connection was even attempted for the refused Connect options.
        for l in window.lines().filter(|l| {
            l.contains("x2god::ssh::connection: connecting") || l.contains("TCP connect failed")
        }) {
            wrong.push(format!("a connection was attempted: {l}"));
        }
        // sshd agrees: no command channel beyond those listings.
        if after - before > commands.len() {
            wrong.push(format!(
                "sshd started {} command channels for {} logged listings",
                after - before,
                commands.len()
            ));
        }
        assert_eq!(
            d.tcp_connections_to(lab.port()),
            conns,
            "still only hostile-on's connection"
        );
        assert!(!targets.off.proxy().is_connected().await.unwrap());
        // Nothing was executed: the lab server is this machine.
        let left = canaries();
        if !left.is_empty() {
            wrong.push(format!("canary files exist: {left:?}"));
        }
        // Only the two profiles of this test exist.
        let profiles = targets.client.manager().list_profiles().await.unwrap();
        if profiles.len() != 2 {
            wrong.push(format!("profiles after the table: {profiles:?}"));
        }
        assert!(
            wrong.is_empty(),
            "{} problems:\n{}",
            wrong.len(),
            wrong.join("\n")
        );

        // The same parameters with well-formed values get past validation (so the rows above
        // were refused for their values, not for the setup): never-seen sessions are
        // NotFound after a listing, and Resume accepts the Start options used above.
        let px = targets.on.proxy();
        expect_err(px.is_running(SESSION).await, "NotFound");
        expect_err(px.list_mounts(SESSION, HashMap::new()).await, "NotFound");
        expect_err(px.dissociate(SESSION).await, "NotFound");
        let good = start()
            .set("geometry", "800x600")
            .set("link", "lan")
            .set("pack", "16m-jpeg-9")
            .set("kblayout", "de")
            .set("kbtype", "pc105/de")
            .set("clipboard", "both");
        expect_err(px.resume(SESSION, good.as_call_arg()).await, "NotFound");
        // And the log check above could see a command: these listings are in it.
        assert!(
            d.log_text()[log.len()..]
                .lines()
                .any(|l| l.contains("running server command")
                    && l.contains("command=\"x2golistsessions\"")),
            "the daemon's log does not show the listings of the checks above"
        );
    })
    .await;
}

/// A short, escaped rendering of a value for messages.
fn x2god_tests_preview(v: &str) -> String {
    let head: String = v.chars().take(40).collect();
    let more = v.chars().count() > 40;
    format!(
        "{:?}{}",
        head,
        if more {
            format!("…({} bytes)", v.len())
        } else {
            String::new()
        }
    )
}
