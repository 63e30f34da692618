//! Session lifecycle with a real picture: nxproxy draws on the lab's Xvfb, and every watcher
//! on the bus learns what happened, whoever did it.

use std::collections::HashMap;
use std::time::Duration;

use x2god_client::{Options, Profile};
use x2god_tests::{Daemon, Lab, SignalLog, wait_until};

use crate::{GRAPHICAL, bounded, connected, expect_err};

const XTERM: &str = "XTerm";

fn xterm_start() -> Options {
    Options::new()
        .set("cmd", "xterm")
        .set("session_type", "application")
        .set("geometry", "800x600")
}

async fn start(p: &Profile, o: Options) -> String {
    let (name, path) = p.proxy().start(o.as_call_arg()).await.unwrap();
    assert!(path.as_str().contains("/session/"), "{path}");
    name
}

async fn status(p: &Profile, name: &str) -> Option<String> {
    p.list_sessions()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.status)
}

async fn window_shown(lab: &Lab, shown: bool) {
    wait_until(
        if shown {
            "the xterm window to appear"
        } else {
            "the xterm window to go"
        },
        Duration::from_secs(30),
        || lab.visible_windows(XTERM).is_empty() != shown,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_suspend_resume_terminate_with_a_window_and_signals() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "life").await;
        let log = SignalLog::start(&d.bus.connect().await).await;
        assert!(
            lab.visible_windows(XTERM).is_empty(),
            "a window is already there"
        );

        let name = start(&p, xterm_start()).await;
        assert_eq!(status(&p, &name).await.as_deref(), Some("R"));
        assert_eq!(d.children("nxproxy").len(), 1, "one nxproxy");
        let ports = d.listening_ports();
        assert_eq!(ports.len(), 1, "one graphics forward: {ports:?}");
        window_shown(&lab, true).await;
        let session = x2god_proto::proxy::SessionProxy::builder(d.client().await.connection())
            .path(x2god_proto::path::session_path("life", &name))
            .build()
            .await
            .unwrap();
        assert!(session.local().await.unwrap());
        assert_eq!(session.state().await.unwrap(), "running");
        let spath = x2god_proto::path::session_path("life", &name);
        crate::introspection::check_golden(
            &d.bus.connect().await,
            "org.x2go.Control1.Session",
            spath.as_str(),
        )
        .await;

        p.proxy().suspend(&name).await.unwrap();
        assert_eq!(status(&p, &name).await.as_deref(), Some("S"));
        window_shown(&lab, false).await;
        wait_until("nxproxy to be reaped", Duration::from_secs(10), || {
            d.children("nxproxy").is_empty()
        })
        .await;
        assert!(d.listening_ports().is_empty(), "forward still open");
        assert!(!session.local().await.unwrap());

        p.proxy().resume(&name, HashMap::new()).await.unwrap();
        assert_eq!(status(&p, &name).await.as_deref(), Some("R"));
        window_shown(&lab, true).await;
        assert_eq!(d.children("nxproxy").len(), 1);

        p.proxy().terminate(&name, HashMap::new()).await.unwrap();
        assert_eq!(status(&p, &name).await, None);
        window_shown(&lab, false).await;
        wait_until("nxproxy to be reaped", Duration::from_secs(10), || {
            d.children("nxproxy").is_empty()
        })
        .await;
        assert!(
            d.listening_ports().is_empty(),
            "forward still open after terminate"
        );

        // A moment for any stray signal to arrive, then: each change exactly once, in order.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            log.for_session(&name),
            vec![
                format!("Added {name} running self"),
                format!("Changed {name} running->suspended self"),
                format!("Changed {name} suspended->running self"),
                format!("Removed {name} self"),
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_starts_fail_clearly_and_leave_nothing() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "bad").await;
        let user = lab.var("SSH_USER");
        let before = lab.server_sessions(&user);
        let px = p.proxy();
        let msg = expect_err(
            px.start(
                xterm_start()
                    .set("cmd", "no-such-command-x2god")
                    .as_call_arg(),
            )
            .await,
            "NotFound",
        );
        assert!(msg.contains("no-such-command-x2god"), "{msg}");
        expect_err(
            px.start(xterm_start().set("geometry", "0x0").as_call_arg())
                .await,
            "InvalidArgument",
        );
        expect_err(
            px.start(
                xterm_start()
                    .set("cmd", "xterm;touch /tmp/x2god-canary")
                    .as_call_arg(),
            )
            .await,
            "InvalidArgument",
        );
        expect_err(
            px.start(xterm_start().set("display", ":0;id").as_call_arg())
                .await,
            "InvalidArgument",
        );
        expect_err(
            px.start(xterm_start().set("link", "fast").as_call_arg())
                .await,
            "InvalidArgument",
        );
        expect_err(
            px.resume("x2gotest-50-1700000000_stRxterm_dp24;id", HashMap::new())
                .await,
            "InvalidArgument",
        );
        expect_err(
            px.resume("x2gotest-99-1700000000_stRxterm_dp24", HashMap::new())
                .await,
            "NotFound",
        );
        // A broken local side (the profile's stored nxproxy exits at once): the server session
        // it started is terminated again.
        p.update(Options::new().set("nxproxy", "/bin/false"))
            .await
            .unwrap();
        let msg = expect_err(px.start(xterm_start().as_call_arg()).await, "Failed");
        assert!(msg.contains("nxproxy") || msg.contains("display"), "{msg}");
        wait_until(
            "the server to drop the aborted session",
            Duration::from_secs(20),
            || lab.server_sessions(&user) == before,
        )
        .await;
        assert!(d.children("nxproxy").is_empty());
        assert!(d.listening_ports().is_empty());
        assert!(!std::path::Path::new("/tmp/x2god-canary").exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_on_one_profile_and_sessions_on_two_profiles() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let a = connected(&d, &lab, "a").await;
        // A second profile (to the same server and user: the second lab user must stay free
        // of sessions for the tests that count its channels).
        let b = connected(&d, &lab, "b").await;
        let a1 = start(&a, xterm_start()).await;
        let a2 = start(&a, xterm_start().set("geometry", "640x480")).await;
        let b1 = start(&b, xterm_start()).await;
        assert_ne!(a1, a2);
        wait_until("three xterm windows", Duration::from_secs(30), || {
            lab.visible_windows(XTERM).len() == 3
        })
        .await;
        assert_eq!(d.children("nxproxy").len(), 3);
        let names: Vec<_> = a
            .list_sessions()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert!(names.contains(&a1) && names.contains(&a2));
        assert!(
            b.list_sessions()
                .await
                .unwrap()
                .iter()
                .any(|s| s.name == b1)
        );
        for n in [&a1, &a2] {
            a.proxy().terminate(n, HashMap::new()).await.unwrap();
        }
        b.proxy().terminate(&b1, HashMap::new()).await.unwrap();
        window_shown(&lab, false).await;
        wait_until("every nxproxy reaped", Duration::from_secs(10), || {
            d.children("nxproxy").is_empty()
        })
        .await;
    })
    .await;
}
