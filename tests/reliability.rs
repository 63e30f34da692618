//! Reliability: a lost or hung server is noticed within the keepalive window, x2god
//! reconnects by itself (and resumes what it showed), survives sshd restarts without leaking,
//! and a restarted daemon finds its sessions and leaves no orphan behind. Tests that kill the
//! server have their own sshd (same users, keys and x2goserver as the lab) so that killing it
//! disturbs no other test; the hung server is a relay to the lab's sshd that stops moving bytes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use x2god_client::{ConnectionState, Options, Profile};
use x2god_tests::{Daemon, Lab, PrivateSshd, Relay, SignalLog, nxproxies_mentioning, wait_until};

use crate::{GRAPHICAL, bounded};

/// Keepalive every second, lost after two unanswered: detection within about 3 s.
const INTERVAL: f64 = 1.0;
const COUNT: u32 = 2;

async fn profile(d: &Daemon, lab: &Lab, sshd: &PrivateSshd, extra: Options) -> Profile {
    sshd.trust_in_home(d.home.path());
    connected_at(d, lab, sshd.port, extra).await
}

/// A connected profile of the lab's user at 127.0.0.1:`port` (whose host key `d` trusts),
/// with the fast keepalive above and `extra` settings.
pub(crate) async fn connected_at(d: &Daemon, lab: &Lab, port: u16, extra: Options) -> Profile {
    let s = Options::new()
        .set("hostname", "127.0.0.1")
        .set("port", u32::from(port))
        .set("username", lab.var("SSH_USER"))
        .set("key_filename", lab.var("SSH_KEY"))
        .set("keepalive_interval", INTERVAL)
        .set("keepalive_count", COUNT);
    let p = d.create_profile("rel", s.merge(extra)).await;
    p.connect(Options::new()).await.unwrap();
    p
}

async fn wait_state(p: &Profile, want: ConnectionState, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if p.state().await.unwrap() == want {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "not {want:?} within {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sshd_is_lost_then_reconnected_and_the_session_resumed() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let sshd = PrivateSshd::start(&lab);
        let d = Daemon::start_with_display(&lab).await;
        let p = profile(&d, &lab, &sshd, Options::new().set("auto_resume", true)).await;
        let log = SignalLog::start(&d.bus.connect().await).await;
        let (name, _) = p
            .proxy()
            .start(Options::new().set("cmd", "xterm").as_call_arg())
            .await
            .unwrap();
        wait_until("the window", Duration::from_secs(30), || {
            !lab.visible_windows("XTerm").is_empty()
        })
        .await;

        // The server goes away entirely: sshd and the process serving our connection.
        sshd.kill_all();
        let lost = wait_state(&p, ConnectionState::Lost, Duration::from_secs(10)).await;
        eprintln!("sshd killed → lost after {lost:?}");
        assert!(p.proxy().has_session_died().await.unwrap());
        wait_until(
            "the window to go with the connection",
            Duration::from_secs(20),
            || lab.visible_windows("XTerm").is_empty(),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            p.state().await.unwrap(),
            ConnectionState::Lost,
            "no server, no connection"
        );

        // The server comes back: x2god reconnects and shows the session again.
        let back = Instant::now();
        sshd.run();
        let again = wait_state(&p, ConnectionState::Connected, Duration::from_secs(40)).await;
        eprintln!("sshd back → connected after {again:?}");
        wait_until(
            "the session to be shown again (auto_resume)",
            Duration::from_secs(40),
            || !lab.visible_windows("XTerm").is_empty(),
        )
        .await;
        eprintln!("sshd back → window again after {:?}", back.elapsed());
        let listed = p.list_sessions().await.unwrap();
        let s = listed
            .iter()
            .find(|s| s.name == name)
            .expect("session listed after reconnect");
        assert_eq!(s.status, "R");
        p.proxy().terminate(&name, HashMap::new()).await.unwrap();
        drop(log);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_is_detected_within_the_keepalive_window() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        // The connection goes through a relay that can freeze it: the server (or the
        // network) stops answering while the TCP connection stays up.
        let relay = Relay::start(lab.port()).await;
        let d = Daemon::start().await;
        lab.trust_port_in_home(d.home.path(), relay.port);
        let p = connected_at(&d, &lab, relay.port, Options::new()).await;
        let lost_signal = {
            let px = p.proxy().clone();
            let mut s = px.receive_connection_lost().await.unwrap();
            tokio::spawn(async move {
                use futures_util::StreamExt;
                s.next()
                    .await
                    .map(|m| m.args().unwrap().reason().to_owned())
            })
        };
        relay.freeze(true);
        let lost = wait_state(&p, ConnectionState::Lost, Duration::from_secs(10)).await;
        let window =
            Duration::from_secs_f64(INTERVAL * f64::from(COUNT + 1)) + Duration::from_secs(2);
        eprintln!("frozen → lost after {lost:?} (keepalive {INTERVAL} s × {COUNT})");
        assert!(lost <= window, "{lost:?} > {window:?}");
        let reason = tokio::time::timeout(Duration::from_secs(5), lost_signal)
            .await
            .unwrap()
            .unwrap();
        assert!(reason.is_some(), "ConnectionLost signal");
        relay.freeze(false);
        wait_state(&p, ConnectionState::Connected, Duration::from_secs(30)).await;
        p.proxy().list_sessions_raw().await.unwrap();
        assert!(p.proxy().is_alive().await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_sshd_restarts_during_polling_leak_nothing() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let sshd = PrivateSshd::start(&lab);
        let d = Daemon::start().await;
        let p = profile(&d, &lab, &sshd, Options::new()).await;
        p.list_sessions().await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (fds0, threads0) = d.fds_and_threads();
        let poller = {
            let p = p.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                let end = Instant::now() + Duration::from_secs(25);
                while Instant::now() < end {
                    match p.proxy().list_sessions_raw().await {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                (ok, failed)
            })
        };
        for i in 0..5 {
            sshd.kill_all();
            tokio::time::sleep(Duration::from_millis(700)).await;
            sshd.run();
            wait_state(&p, ConnectionState::Connected, Duration::from_secs(30)).await;
            eprintln!("restart {} done", i + 1);
        }
        let (ok, failed) = poller.await.unwrap();
        eprintln!(
            "polling during restarts: {ok} calls ok, {failed} failed while the server was gone"
        );
        assert!(ok > 0);
        wait_state(&p, ConnectionState::Connected, Duration::from_secs(30)).await;
        p.list_sessions().await.unwrap();
        assert_eq!(
            d.tcp_connections_to(sshd.port).len(),
            1,
            "exactly one connection again"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (fds1, threads1) = d.fds_and_threads();
        eprintln!("daemon fds {fds0} → {fds1}, threads {threads0} → {threads1}");
        assert!(fds1 <= fds0 + 2, "file descriptors leaked: {fds0} → {fds1}");
        assert!(
            threads1 <= threads0 + 2,
            "threads leaked: {threads0} → {threads1}"
        );
        assert!(d.children("nxproxy").is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_finds_its_session_and_leaves_no_orphan() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let mut d = Daemon::start_with_display(&lab).await;
        let home = d.home.path().display().to_string();
        let p = crate::connected(&d, &lab, "restart").await;
        p.proxy()
            .update(Options::new().set("autoconnect", true).as_call_arg())
            .await
            .unwrap();
        let (name, _) = p
            .proxy()
            .start(Options::new().set("cmd", "xterm").as_call_arg())
            .await
            .unwrap();
        wait_until("the window", Duration::from_secs(30), || {
            !lab.visible_windows("XTerm").is_empty()
        })
        .await;
        assert!(!nxproxies_mentioning(&home).is_empty());

        // A crash: the old daemon's nxproxy is left running.
        d.crash();
        assert!(!nxproxies_mentioning(&home).is_empty(), "the orphan exists");
        d.restart().await;
        wait_until(
            "the orphan nxproxy to be ended",
            Duration::from_secs(10),
            || nxproxies_mentioning(&home).is_empty(),
        )
        .await;
        let p = d.client().await.profile("restart").await.unwrap();
        wait_state(&p, ConnectionState::Connected, Duration::from_secs(20)).await;
        let listed = p.list_sessions().await.unwrap();
        assert!(
            listed.iter().any(|s| s.name == name),
            "{name} not listed after restart"
        );
        wait_until("the window to go", Duration::from_secs(20), || {
            lab.visible_windows("XTerm").is_empty()
        })
        .await;
        p.proxy().resume(&name, HashMap::new()).await.unwrap();
        wait_until("the window again", Duration::from_secs(30), || {
            !lab.visible_windows("XTerm").is_empty()
        })
        .await;
        p.proxy().terminate(&name, HashMap::new()).await.unwrap();
        wait_until("nxproxy reaped", Duration::from_secs(10), || {
            nxproxies_mentioning(&home).is_empty()
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_command_leaves_the_connection_usable() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = crate::connected_as(&d, &lab, "timeout", &lab.var("SSH_USER2")).await;
        // x2golistdesktops takes longer than a millisecond: both attempts time out.
        let started = Instant::now();
        crate::expect_err(
            p.proxy()
                .list_desktops(Options::new().set("maxwait", 0.001f64).as_call_arg())
                .await,
            "Timeout",
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // The channel was closed; the connection serves the next calls.
        p.proxy().list_sessions_raw().await.unwrap();
        assert!(p.proxy().is_alive().await.unwrap());
        p.proxy().list_desktops(HashMap::new()).await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_blocks_neither_other_profiles_nor_property_reads() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let slow = crate::connected(&d, &lab, "slow").await;
        let other = crate::connected_as(&d, &lab, "other", &lab.var("SSH_USER2")).await;
        // Start takes seconds (x2gostartagent alone is about 2 s).
        let starting = {
            let p = slow.clone();
            tokio::spawn(async move {
                p.proxy()
                    .start(Options::new().set("cmd", "xterm").as_call_arg())
                    .await
            })
        };
        other.proxy().server_features(false).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        for _ in 0..5 {
            let t = Instant::now();
            assert_eq!(slow.proxy().hostname().await.unwrap(), "127.0.0.1");
            assert_eq!(slow.state().await.unwrap(), ConnectionState::Connected);
            // Answered by the daemon alone (cached), so the time measures blocking, not the
            // server's load.
            other.proxy().server_features(false).await.unwrap();
            let took = t.elapsed();
            assert!(took < Duration::from_secs(1), "blocked for {took:?}");
            assert!(!starting.is_finished() || took < Duration::from_secs(1));
        }
        let (name, _) = starting.await.unwrap().unwrap();
        // Concurrent lifecycle calls on one session are serialised: both end, the session too.
        let (a, b) = tokio::join!(
            slow.proxy().suspend(&name),
            slow.proxy().terminate(&name, HashMap::new())
        );
        for r in [a, b] {
            if let Err(e) = r {
                assert!(
                    matches!(e.kind(), "Busy" | "NotFound" | "ServerError"),
                    "{e}"
                );
            }
        }
        wait_until("the session to end", Duration::from_secs(20), || {
            !lab.server_sessions(&lab.var("SSH_USER")).contains(&name)
        })
        .await;
        wait_until("nxproxy reaped", Duration::from_secs(10), || {
            d.children("nxproxy").is_empty()
        })
        .await;
    })
    .await;
}
