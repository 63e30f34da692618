//! ListSessions against the server's own x2golistsessions, and one connection for many calls.

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use x2god_client::Session;
use x2god_tests::{Daemon, Lab, wait_until};

use crate::{bounded, connected};

/// `x2golistsessions` as the reference client sees it, one field map per line.
fn reference_listing(lab: &Lab, user: &str) -> (String, Vec<Vec<String>>) {
    let text = lab.ssh(user, "x2golistsessions");
    let rows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect();
    (text, rows)
}

pub fn start_session(user: &str) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/start-session.sh");
    let out = Command::new(script).args(["-u", user]).output().unwrap();
    assert!(
        out.status.success(),
        "start-session.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn compare(ours: &Session, row: &[String]) {
    let f = |i: usize| row.get(i).cloned().unwrap_or_default();
    assert_eq!(ours.agent_pid.to_string(), f(0));
    assert_eq!(ours.name, f(1));
    assert_eq!(ours.display.to_string(), f(2));
    assert_eq!(ours.hostname, f(3));
    assert_eq!(ours.status, f(4));
    assert_eq!(ours.date_created, f(5));
    assert_eq!(ours.graphics_port.to_string(), f(8));
    assert_eq!(ours.date_suspended, f(10));
    assert_eq!(ours.username, f(11));
    let raw = |k: &str| ours.raw.get(k).map(text).unwrap_or_default();
    assert_eq!(raw("client_ip"), f(7));
    assert_eq!(raw("snd_port"), f(9));
    assert_eq!(raw("sshfs_port"), f(13));
    assert_eq!(raw("tekictrl_port"), f(14));
    assert_eq!(raw("tekidata_port"), f(15));
    assert!(
        !ours.raw.contains_key("cookie"),
        "the X cookie is a credential"
    );
    let raw_text = format!("{:?}", ours.raw);
    assert!(
        !raw_text.contains(&f(6)),
        "the X cookie leaked into the dictionary"
    );
}

fn text(v: &zbus::OwnedVariant) -> String {
    use zbus::Variant;
    match &**v {
        Variant::Str(s) => s.to_string(),
        Variant::U16(n) => n.to_string(),
        Variant::U32(n) => n.to_string(),
        Variant::I32(n) => n.to_string(),
        other => panic!("unexpected type {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sessions_equals_server_listing() {
    let Some(lab) = Lab::get() else { return };
    // The sharing test gives the second user a desktop for a while.
    let _g = crate::GRAPHICAL.lock().await;
    bounded(async {
        // The second lab user never has sessions in these tests.
        let user = lab.var("SSH_USER2");
        let d = Daemon::start().await;
        lab.trust_in_home(d.home.path());
        let p = d
            .client()
            .await
            .create_profile(
                "two",
                lab.profile_settings(&user)
                    .set("key_filename", lab.var("SSH_KEY")),
            )
            .await
            .unwrap();
        p.connect(x2god_client::Options::new()).await.unwrap();
        let (text, rows) = reference_listing(&lab, &user);
        assert!(rows.is_empty(), "{user} has sessions: {text}");
        assert!(p.list_sessions().await.unwrap().is_empty());
        assert_eq!(
            p.proxy().list_sessions_raw().await.unwrap().trim(),
            text.trim()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_session_equals_server_listing() {
    let Some(lab) = Lab::get() else { return };
    // Tests that change the first user's session set run one at a time.
    let _g = crate::GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let name = start_session(&user);
        let d = Daemon::start().await;
        let p = connected(&d, &lab, "one").await;
        let ours = p.list_sessions().await.unwrap();
        let (text, rows) = reference_listing(&lab, &user);
        let row = rows
            .iter()
            .find(|r| r.get(1) == Some(&name))
            .unwrap_or_else(|| panic!("{name} not in {text}"));
        let mine = ours
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} not in {ours:?}"));
        compare(mine, row);
        assert_eq!(mine.session_type, "application");
        // Every complete server line is in our list.
        let names: Vec<_> = ours.iter().map(|s| s.name.clone()).collect();
        for r in &rows {
            if r.len() >= 14 && !r[0].is_empty() {
                assert!(names.contains(&r[1]), "{} missing from {names:?}", r[1]);
            }
        }
        let raw = p.proxy().list_sessions_raw().await.unwrap();
        assert!(raw.contains(&name));
        // The server's row, its X cookie (field 7) left out. (Its dates may have moved on since
        // the reference listing: the agent's start is still being recorded.)
        assert_eq!(row[6].len(), 32, "{text}");
        let line: Vec<&str> = raw
            .lines()
            .find(|l| l.contains(&name))
            .unwrap_or_else(|| panic!("{name} not in {raw}"))
            .split('|')
            .collect();
        assert_eq!(line.len(), row.len(), "{raw}");
        assert_eq!(line[6], "", "{raw}");
        // Field 13 counts the session's seconds and moves on between the two listings.
        for i in [0, 1, 2, 3, 7, 8, 9, 11, 13] {
            assert_eq!(line[i], row[i], "field {} of {raw}", i + 1);
        }
        assert!(!raw.contains(&row[6]), "the raw listing carries the cookie");
        assert_eq!(p.proxy().session_state(&name).await.unwrap(), "running");
        assert!(p.proxy().is_running(&name).await.unwrap());

        p.proxy().terminate(&name, HashMap::new()).await.unwrap();
        wait_until(
            "the session to leave the server listing",
            Duration::from_secs(20),
            || !lab.ssh(&user, "x2golistsessions").contains(&name),
        )
        .await;
        assert!(
            p.list_sessions()
                .await
                .unwrap()
                .iter()
                .all(|s| s.name != name)
        );
        assert_eq!(p.proxy().session_state(&name).await.unwrap(), "terminated");
        assert!(p.proxy().has_terminated(&name).await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_calls_share_one_connection() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = connected(&d, &lab, "many").await;
        p.list_sessions().await.unwrap();
        let conns = d.tcp_connections_to(lab.port());
        assert_eq!(
            conns.len(),
            1,
            "expected one TCP connection, found {conns:?}"
        );
        let local = conns[0];

        // Twenty commands at once, each its own channel: twice sshd's limit of 10 sessions
        // per connection, and every call succeeds.
        let before = lab.channels_from(local);
        let calls = (0..20).map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.server_features(true).await })
        });
        for r in futures_util::future::join_all(calls).await {
            r.unwrap()
                .expect("every call succeeds, beyond sshd's 10 channels too");
        }
        wait_until(
            "sshd to log 20 more command channels",
            Duration::from_secs(10),
            || lab.channels_from(local) >= before + 20,
        )
        .await;

        // Twenty listings at once share runs: the first caller's, and one for all who asked
        // while it ran (a listing that started before a caller asked may predate what it
        // wants to see). They run over the session watcher's channel: no channel is opened.
        wait_until(
            "the session watcher to run",
            Duration::from_secs(10),
            || d.log_text().contains("watching sessions on the server"),
        )
        .await;
        let before = lab.channels_from(local);
        let runs_before = listing_runs(&d);
        let calls = (0..20).map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.list_sessions().await })
        });
        for r in futures_util::future::join_all(calls).await {
            r.unwrap().expect("every listing succeeds");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            lab.channels_from(local),
            before,
            "channels opened for listings"
        );
        // The watcher may add a run of its own when the server's cleaner touches files.
        let runs = listing_runs(&d) - runs_before;
        assert!((1..=3).contains(&runs), "{runs} runs for 20 listings");
        assert_eq!(
            d.tcp_connections_to(lab.port()),
            vec![local],
            "still exactly one connection"
        );
    })
    .await;
}

/// How many listings the daemon has run so far (its log says so for each).
fn listing_runs(d: &Daemon) -> usize {
    d.log_text()
        .lines()
        .filter(|l| l.contains("running server command") && l.contains("x2golistsessions"))
        .count()
}
