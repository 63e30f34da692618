//! Interoperation with the reference client (pyhoca-cli / python-x2go) and with plain OpenSSH:
//! sessions move between clients, and x2god tells its listeners what the others did.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use x2god_client::Options;
use x2god_tests::{Daemon, Lab, Pyhoca, SignalLog, wait_until};

use crate::{GRAPHICAL, bounded, connected};

const XTERM: &str = "XTerm";

fn xterm() -> Options {
    Options::new()
        .set("cmd", "xterm")
        .set("session_type", "application")
}

fn server_status(lab: &Lab, name: &str) -> Option<String> {
    lab.ssh(&lab.var("SSH_USER"), "x2golistsessions")
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.get(1).map(String::as_str) == Some(name))
        .and_then(|f| f.get(4).cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyhoca_lists_and_resumes_a_session_x2god_started() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "interop").await;
        let log = SignalLog::start(&d.bus.connect().await).await;
        let (name, _) = p.proxy().start(xterm().as_call_arg()).await.unwrap();
        p.proxy().suspend(&name).await.unwrap();
        wait_until("the window to go", Duration::from_secs(20), || {
            lab.visible_windows(XTERM).is_empty()
        })
        .await;

        let mut py = Pyhoca::new(&lab);
        let listed = py.run(&["-L"]);
        assert!(
            listed.contains(&name),
            "pyhoca-cli -L does not list {name}:\n{listed}"
        );
        py.spawn(&["-R", &name]);
        wait_until(
            "pyhoca-cli to resume the session",
            Duration::from_secs(40),
            || {
                server_status(&lab, &name).as_deref() == Some("R")
                    && !lab.visible_windows(XTERM).is_empty()
            },
        )
        .await;
        log.wait_for(
            &format!("Changed {name} suspended->running other"),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            d.children("nxproxy").is_empty(),
            "x2god must not display it too"
        );
        p.proxy().terminate(&name, HashMap::new()).await.unwrap();
        wait_until("the window to go", Duration::from_secs(20), || {
            lab.visible_windows(XTERM).is_empty()
        })
        .await;
        drop(py);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2god_resumes_a_session_pyhoca_started() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "interop2").await;
        let before: Vec<String> = lab.server_sessions(&lab.var("SSH_USER"));
        let mut py = Pyhoca::new(&lab);
        py.spawn(&["-N", "-c", "xterm", "-g", "800x600"]);
        let mut name = String::new();
        wait_until(
            "pyhoca-cli's session to run with a window",
            Duration::from_secs(40),
            || {
                let now = lab.server_sessions(&lab.var("SSH_USER"));
                if let Some(n) = now.into_iter().find(|n| !before.contains(n)) {
                    name = n;
                }
                !name.is_empty() && !lab.visible_windows(XTERM).is_empty()
            },
        )
        .await;
        // x2god takes it over: the server suspends pyhoca's side, ours draws the window.
        let t = Instant::now();
        p.proxy().resume(&name, HashMap::new()).await.unwrap();
        eprintln!("taken over from pyhoca-cli in {:?}", t.elapsed());
        assert_eq!(d.children("nxproxy").len(), 1);
        assert_eq!(server_status(&lab, &name).as_deref(), Some("R"));
        wait_until("x2god's window", Duration::from_secs(30), || {
            !lab.visible_windows(XTERM).is_empty()
        })
        .await;
        // pyhoca-cli sees its display gone elsewhere and leaves by itself, the session ours.
        assert!(py.wait_exit(Duration::from_secs(30)), "{}", py.logs());
        assert!(
            py.logs().contains("has been moved to a different screen"),
            "{}",
            py.logs()
        );
        assert_eq!(server_status(&lab, &name).as_deref(), Some("R"));
        assert_eq!(d.children("nxproxy").len(), 1);
        p.proxy().terminate(&name, HashMap::new()).await.unwrap();
        wait_until("the window to go", Duration::from_secs(20), || {
            lab.visible_windows(XTERM).is_empty()
        })
        .await;
        drop(py);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspends_by_other_clients_are_signalled_at_once() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "watch").await;
        let log = SignalLog::start(&d.bus.connect().await).await;
        let user = lab.var("SSH_USER");

        // Plain OpenSSH, the way a script would do it.
        let (name, _) = p.proxy().start(xterm().as_call_arg()).await.unwrap();
        lab.ssh(&user, &format!("x2gosuspend-session {name}"));
        let done = Instant::now();
        let at = log
            .wait_for(
                &format!("Changed {name} running->suspended other"),
                Duration::from_secs(3),
            )
            .await;
        let latency = at.saturating_duration_since(done);
        eprintln!(
            "suspend by OpenSSH → SessionStateChanged: {latency:?} after it exited{}",
            if at < done { " (before it exited)" } else { "" }
        );
        // The agent's state file changes a few tenths of a second before the command ends
        // (it writes the database last); the watcher is woken by it, not by a poll.
        assert!(latency < Duration::from_secs(1), "{latency:?}");
        // The local side notices at once too.
        wait_until("nxproxy to be reaped", Duration::from_secs(10), || {
            d.children("nxproxy").is_empty()
        })
        .await;

        // pyhoca-cli.
        p.proxy().resume(&name, HashMap::new()).await.unwrap();
        let py = Pyhoca::new(&lab);
        let out = py.run(&["-S", &name]);
        let done = Instant::now();
        let at = log
            .wait_for(
                &format!("Changed {name} running->suspended other"),
                Duration::from_secs(3),
            )
            .await;
        eprintln!(
            "suspend by pyhoca-cli → signal {:?} after it exited",
            at.saturating_duration_since(done)
        );
        assert_eq!(server_status(&lab, &name).as_deref(), Some("S"), "{out}");
        assert_eq!(
            log.for_session(&name),
            vec![
                format!("Added {name} running self"),
                format!("Changed {name} running->suspended other"),
                format!("Changed {name} suspended->running self"),
                format!("Changed {name} running->suspended other"),
            ]
        );
        p.proxy().terminate(&name, HashMap::new()).await.unwrap();
    })
    .await;
}
