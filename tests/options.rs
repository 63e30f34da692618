//! Every python-x2go session parameter: what x2god takes shows its effect in the session on
//! the server (the agent's options, its command line, `setxkbmap -query` and `xdpyinfo` on its
//! display), what it refuses is `NotSupported` naming the key with nothing run on the server,
//! and a misspelling is `InvalidArgument`.

use std::time::Duration;

use x2god_client::{Options, Profile};
use x2god_proto::keys::{self, Call, PythonStatus};
use x2god_tests::{Daemon, Lab, wait_until};

use crate::{GRAPHICAL, assert_only_check_ran, bounded, connected, expect_err};

/// Starts `o` over an xterm application session; returns the session's name and display.
async fn start(p: &Profile, o: Options) -> (String, u32) {
    let (name, _) = p.proxy().start(o.as_call_arg()).await.unwrap();
    let display = p
        .list_sessions()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.display)
        .expect("the started session is listed");
    (name, display)
}

fn xterm() -> Options {
    Options::new()
        .set("cmd", "xterm")
        .set("session_type", "application")
}

/// Output of `cmd` run on the server as the lab's user with `DISPLAY` the session's.
fn on_display(lab: &Lab, display: u32, cmd: &str) -> String {
    lab.ssh(&lab.var("SSH_USER"), &format!("DISPLAY=:{display} {cmd}"))
}

/// `setxkbmap -query` in the session: `(model, layout, variant)`.
fn keyboard(lab: &Lab, display: u32) -> (String, String, String) {
    let q = on_display(lab, display, "setxkbmap -query");
    let field = |name: &str| {
        q.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    (field("model"), field("layout"), field("variant"))
}

/// The agent's options file on the server (what `x2gostartagent` gave nxagent).
fn agent_options(lab: &Lab, name: &str) -> String {
    lab.ssh(
        &lab.var("SSH_USER"),
        &format!("cat \"$HOME/.x2go/C-{name}/options\""),
    )
}

/// `xdpyinfo`'s depth of the session's root window.
fn root_depth(lab: &Lab, display: u32) -> String {
    on_display(lab, display, "xdpyinfo")
        .lines()
        .find_map(|l| l.trim().strip_prefix("depth of root window:"))
        .map(|d| d.trim().to_owned())
        .unwrap_or_default()
}

/// How a supported parameter's effect is observed: a piece of the agent's options file, a
/// word of the agent's command line, the session's keyboard, a piece of the session's name,
/// `ShareFolder` refused, or another test of this binary
/// (file and function), which must exist.
enum Effect {
    Options(&'static str),
    AgentArg(&'static str),
    Keyboard,
    Name(&'static str),
    NoSharing,
    Test(&'static str, &'static str),
}

/// The value each agent-level parameter gets in [`supported_parameters_take_effect`], and
/// what shows it.
fn effects() -> Vec<(&'static str, Option<zbus::Variant<'static>>, Effect)> {
    use Effect::*;
    use zbus::Variant as V;
    vec![
        (
            "geometry",
            Some(V::from("640x480")),
            Options("geometry=640x480,"),
        ),
        ("link", Some(V::from("lan")), Options("link=lan,")),
        ("pack", Some(V::from("64k-png")), Options("pack=64k-png,")),
        ("dpi", Some(V::U32(120)), AgentArg("-dpi 120")),
        (
            "depth",
            Some(V::U32(16)),
            Options("type=unix-gnome-depth_16,"),
        ),
        (
            "cache_type",
            Some(V::from("unix-gnome")),
            Options("type=unix-gnome-depth_16,"),
        ),
        (
            "kbtype",
            Some(V::from("pc105/de")),
            Options("kbtype=pc105/de,"),
        ),
        ("kblayout", Some(V::from("de")), Keyboard),
        ("kbvariant", Some(V::from("nodeadkeys")), Keyboard),
        (
            "clipboard",
            Some(V::from("server")),
            Options("clipboard=server,"),
        ),
        ("xinerama", Some(V::from(true)), Options("xinerama=1,")),
        // (and two monitors in with_xinerama_the_session_sees_both_local_monitors)
        ("session_type", None, Name("_stR")),
        ("cmd", None, Name("xterm_dp")),
        (
            "set_session_title",
            None,
            Test(
                "options.rs",
                "fn the_local_window_carries_the_session_title",
            ),
        ),
        (
            "session_title",
            None,
            Test(
                "options.rs",
                "fn the_local_window_carries_the_session_title",
            ),
        ),
        (
            "snd_system",
            None,
            Test(
                "sound.rs",
                "fn without_a_local_sound_server_the_session_starts_silent_and_says_so",
            ),
        ),
        (
            "snd_port",
            None,
            Test(
                "sound.rs",
                "fn snd_port_reaches_the_local_sound_server_over_tcp",
            ),
        ),
        ("print_action", None, Test("printing.rs", "print_action")),
        ("printing", None, Test("printing.rs", "\"printing\"")),
        (
            "allow_mimebox",
            None,
            Test("printing.rs", "\"allow_mimebox\""),
        ),
        (
            "mimebox_extensions",
            None,
            Test("printing.rs", "\"mimebox_extensions\""),
        ),
        (
            "mimebox_action",
            None,
            Test("printing.rs", "\"mimebox_action\""),
        ),
        ("allow_share_local_folders", Some(V::from(false)), NoSharing),
        (
            "share_local_folders",
            None,
            Test("shares.rs", "\"share_local_folders\""),
        ),
        (
            "restore_shared_local_folders",
            None,
            Test("shares.rs", "\"restore_shared_local_folders\""),
        ),
    ]
}

/// The sources of the test binary, for [`Effect::Test`].
fn test_source(file: &str) -> &'static str {
    match file {
        "printing.rs" => include_str!("printing.rs"),
        "shares.rs" => include_str!("shares.rs"),
        "options.rs" => include_str!("options.rs"),
        "sound.rs" => include_str!("sound.rs"),
        other => panic!("no test file {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supported_parameters_take_effect() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let effects = effects();
        // Every python-x2go parameter a session takes is in the table, and only those.
        for name in keys::PYTHON_SESSION_PARAMS {
            let supported = matches!(keys::python_status(name), Some(PythonStatus::Supported(_)));
            let session = keys::lookup(Call::Start, name).is_some();
            let listed = effects.iter().any(|(n, _, _)| n == name);
            if supported && session {
                assert!(listed, "{name}: no effect is checked");
            } else {
                assert!(!listed, "{name} is listed but not a session key");
            }
        }
        for (name, _, effect) in &effects {
            if let Effect::Test(file, needle) = effect {
                assert!(
                    test_source(file).contains(needle),
                    "{name}: {file} does not use {needle}"
                );
            }
        }

        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "params").await;
        let mut o = xterm();
        for (name, value, _) in &effects {
            if let Some(v) = value {
                o = o.set(name, v.try_clone().unwrap());
            }
        }
        let (name, display) = start(&p, o).await;
        let options = agent_options(&lab, &name);
        let pid = p
            .list_sessions()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap()
            .agent_pid;
        let args = lab.ssh(&lab.var("SSH_USER"), &format!("ps -o args= -p {pid}"));
        for (key, _, effect) in &effects {
            match effect {
                Effect::Options(piece) => {
                    assert!(options.contains(piece), "{key}: {piece} not in {options}")
                }
                Effect::AgentArg(word) => {
                    assert!(args.contains(word), "{key}: {word} not in {args}")
                }
                Effect::Name(piece) => {
                    assert!(name.contains(piece), "{key}: {piece} not in {name}")
                }
                Effect::NoSharing => {
                    let s = p.session(&name).await.unwrap();
                    expect_err(s.share_folder("/tmp", false).await, "NotSupported");
                }
                Effect::Keyboard | Effect::Test(..) => {}
            }
        }
        assert_eq!(
            keyboard(&lab, display),
            ("pc105".into(), "de".into(), "nodeadkeys".into())
        );
        p.proxy()
            .terminate(&name, Default::default())
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_is_set_after_start_and_after_resume() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "kbd").await;
        let o = xterm()
            .set("kbtype", "pc105/de")
            .set("kblayout", "de")
            .set("kbvariant", "nodeadkeys");
        let (name, display) = start(&p, o).await;
        assert_eq!(
            keyboard(&lab, display),
            ("pc105".into(), "de".into(), "nodeadkeys".into())
        );
        // Resume sets what its options say, as python-x2go does after a resume.
        p.proxy().suspend(&name).await.unwrap();
        let again = Options::new()
            .set("kbtype", "pc104/us")
            .set("kblayout", "us")
            .set("kbvariant", "dvorak");
        p.proxy().resume(&name, again.as_call_arg()).await.unwrap();
        assert_eq!(
            keyboard(&lab, display),
            ("pc104".into(), "us".into(), "dvorak".into())
        );
        p.proxy()
            .terminate(&name, Default::default())
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_depths_16_and_32_reach_the_agent() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "depth").await;
        for depth in [16u32, 32] {
            let (name, display) = start(&p, xterm().set("depth", depth)).await;
            assert!(name.ends_with(&format!("_dp{depth}")), "{name}");
            let options = agent_options(&lab, &name);
            assert!(
                options.contains(&format!("type=unix-kde-depth_{depth},")),
                "{options}"
            );
            let listed = p.list_sessions().await.unwrap();
            let s = listed.iter().find(|s| s.name == name).unwrap();
            let color_depth: u32 = s.raw["color_depth"]
                .try_clone()
                .unwrap()
                .try_into()
                .unwrap();
            assert_eq!(color_depth, depth);
            // The agent draws at the local display's depth whatever the session's is (nxagent
            // takes it from the display nxproxy shows it on; x2gostartagent passes the depth
            // in the session's name and `type=` only): shown for the record.
            eprintln!(
                "depth {depth}: session root window {}",
                root_depth(&lab, display)
            );
            p.proxy()
                .terminate(&name, Default::default())
                .await
                .unwrap();
        }
    })
    .await;
}

/// An x2goclient sessions file with a keyboard variant, as x2goclient writes it.
fn x2goclient_keyboard_file(lab: &Lab) -> String {
    format!(
        r#"[20261207150000001]
command=xterm
host=127.0.0.1
key={key}
name=Keyboard
rootless=true
sshport={port}
type=pc105/de\\(nodeadkeys\\)
usekbd=true
user={user}
"#,
        key = lab.var("SSH_KEY"),
        port = lab.var("SSH_PORT"),
        user = lab.var("SSH_USER"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_x2goclient_keyboard_variant_starts_and_is_set() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let text = x2goclient_keyboard_file(&lab);
        let d = Daemon::start_prepared(lab.display_env(), |home| {
            std::fs::create_dir_all(home.join(".x2goclient")).unwrap();
            std::fs::write(home.join(".x2goclient/sessions"), &text).unwrap();
        })
        .await;
        lab.trust_in_home(d.home.path());
        let p = d.client().await.profile("Keyboard").await.unwrap();
        p.connect(Options::new()).await.unwrap();
        let (name, display) = start(&p, Options::new()).await;
        assert_eq!(
            keyboard(&lab, display),
            ("pc105".into(), "de".into(), "nodeadkeys".into())
        );
        p.proxy()
            .terminate(&name, Default::default())
            .await
            .unwrap();
    })
    .await;
}

/// A value of the type python-x2go gives `name`, close enough for a refusal (x2god refuses
/// these keys whatever their value).
fn any_value(name: &str) -> zbus::Variant<'static> {
    match name {
        "kdrive" | "convert_encoding" | "set_session_title" | "published_applications" => {
            zbus::Variant::from(true)
        }
        _ => zbus::Variant::from("x"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_parameters_are_not_supported_and_run_nothing() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = connected(&d, &lab, "refused").await;
        let log_before = d.log_text().len();
        let mut refused = 0;
        for name in keys::PYTHON_SESSION_PARAMS {
            let o = || xterm().set(name, any_value(name));
            match keys::python_status(name).expect("known") {
                PythonStatus::NotSupported(u) => {
                    for r in [
                        p.proxy().start(o().as_call_arg()).await.map(drop),
                        p.proxy().resume("x", o().as_call_arg()).await.map(drop),
                        p.proxy().update(o().as_call_arg()).await.map(drop),
                    ] {
                        let msg = expect_err(r, "NotSupported");
                        assert!(
                            msg.contains(name) && msg.contains(u.reason),
                            "{name}: {msg}"
                        );
                    }
                    refused += 1;
                }
                // Connection settings belong to the profile: known, and refused by Start as
                // such.
                PythonStatus::Supported(k) if !k.accepted_by(Call::Start) => {
                    let msg = expect_err(
                        p.proxy().start(o().as_call_arg()).await.map(drop),
                        "InvalidArgument",
                    );
                    assert!(msg.contains("connection setting"), "{name}: {msg}");
                }
                PythonStatus::Supported(_) => {}
            }
        }
        assert!(refused > 30, "only {refused} refused parameters");
        for typo in ["kbvarient", "colour_depth", "sessiontitle", "snd_sytem"] {
            let msg = expect_err(
                p.proxy()
                    .start(xterm().set(typo, "x").as_call_arg())
                    .await
                    .map(drop),
                "InvalidArgument",
            );
            assert!(msg.contains(typo), "{msg}");
        }
        // Nothing ran on the server for them (the daemon logs every command it sends); a
        // command after them shows that commands are logged at all.
        p.proxy().list_desktops(Default::default()).await.ok();
        assert_only_check_ran(&d, log_before, "x2golistdesktops", "refused keys");
    })
    .await;
}

/// `xprop WM_NAME` of the lab's Xvfb windows named `title`, found with `xwininfo`.
fn titled_windows(lab: &Lab, title: &str) -> Vec<String> {
    let x = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .envs(lab.display_env())
            .output()
            .expect("x11-utils");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let needle = format!("\"{title}\"");
    x(&["xwininfo", "-root", "-tree"])
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .map(|id| x(&["xprop", "-id", &id, "WM_NAME"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_window_carries_the_session_title() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "title").await;
        let title = "x2god: Büro 1";
        let o = Options::new()
            .set("cmd", "xterm")
            .set("session_type", "desktop")
            .set("geometry", "640x480")
            .set("set_session_title", true)
            .set("session_title", title);
        let (name, _) = start(&p, o).await;
        let shown = || {
            titled_windows(&lab, title)
                .iter()
                .any(|p| p.contains(&format!("WM_NAME(UTF8_STRING) = \"{title}\"")))
        };
        wait_until("the titled window", Duration::from_secs(30), shown).await;
        // The window is new after a resume; it gets the title again.
        p.proxy().suspend(&name).await.unwrap();
        wait_until("the window to go", Duration::from_secs(30), || !shown()).await;
        p.proxy()
            .resume(
                &name,
                Options::new().set("session_title", title).as_call_arg(),
            )
            .await
            .unwrap();
        wait_until("the titled window again", Duration::from_secs(30), shown).await;
        p.proxy()
            .terminate(&name, Default::default())
            .await
            .unwrap();
    })
    .await;
}

/// An Xvfb of its own with two screens side by side joined by Xinerama: two local monitors.
struct TwoMonitors {
    child: std::process::Child,
    display: String,
}

impl TwoMonitors {
    fn start() -> TwoMonitors {
        Self::with_screens(&[
            "+xinerama",
            "-screen",
            "0",
            "640x480x24",
            "-screen",
            "1",
            "640x480x24",
        ])
    }

    /// An Xvfb with `args` on a display number of this test's own.
    fn with_screens(args: &[&str]) -> TwoMonitors {
        // A display number of this test's own (the lab's Xvfb is :70).
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = 170
            + (std::process::id() % 100) * 8
            + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 8;
        let display = format!(":{n}");
        let child = std::process::Command::new("Xvfb")
            .args([&display, "-ac", "-nolisten", "tcp"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("Xvfb");
        let socket = format!("/tmp/.X11-unix/X{n}");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !std::path::Path::new(&socket).exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "Xvfb {display} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TwoMonitors { child, display }
    }
}

impl Drop for TwoMonitors {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The monitors `xrandr --listmonitors` lists in the session on `display`.
fn session_monitors(lab: &Lab, display: u32) -> usize {
    on_display(lab, display, "xrandr --listmonitors")
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_xinerama_the_session_sees_both_local_monitors() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let x = TwoMonitors::start();
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "xinerama").await;
        for (xinerama, monitors) in [(true, 2), (false, 1)] {
            let o = Options::new()
                .set("cmd", "xterm")
                .set("session_type", "desktop")
                .set("geometry", "1280x480")
                .set("display", x.display.clone())
                .set("xinerama", xinerama);
            let (name, display) = start(&p, o).await;
            wait_until(
                &format!("{monitors} monitors in the session"),
                Duration::from_secs(20),
                || session_monitors(&lab, display) == monitors,
            )
            .await;
            p.proxy()
                .terminate(&name, Default::default())
                .await
                .unwrap();
        }
    })
    .await;
}
