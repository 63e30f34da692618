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
