//! Server queries: features, versions, home, users, sshfs, mounts.

use std::collections::HashMap;

use x2god_tests::{Daemon, Lab};

use crate::{bounded, connected, connected_as, expect_err};

fn commands_run(d: &Daemon, command: &str) -> usize {
    let needle = format!("command=\"{command}\"");
    d.log_text()
        .lines()
        .filter(|l| l.contains("running server command") && l.contains(&needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn features_and_versions_equal_the_server_and_are_cached() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = connected(&d, &lab, "features").await;
        let px = p.proxy();
        let user = lab.var("SSH_USER");
        let mut expected: Vec<String> = lab
            .ssh(&user, "x2gofeaturelist")
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect();
        expected.sort();
        expected.dedup();
        assert_eq!(px.server_features(false).await.unwrap(), expected);
        let runs = commands_run(&d, "x2gofeaturelist");
        assert_eq!(px.server_features(false).await.unwrap(), expected);
        assert_eq!(
            commands_run(&d, "x2gofeaturelist"),
            runs,
            "cached: no second run"
        );
        assert_eq!(px.server_features(true).await.unwrap(), expected);
        assert_eq!(
            commands_run(&d, "x2gofeaturelist"),
            runs + 1,
            "force runs it again"
        );

        let versions: HashMap<String, String> = lab
            .ssh(&user, "x2goversion")
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        assert!(versions.contains_key("x2goserver"), "{versions:?}");
        assert_eq!(px.server_versions(false).await.unwrap(), versions);
        let runs = commands_run(&d, "x2goversion");
        assert_eq!(runs, 1);
        assert_eq!(px.server_versions(false).await.unwrap(), versions);
        assert_eq!(commands_run(&d, "x2goversion"), 1, "cached: no second run");
        assert_eq!(px.server_versions(true).await.unwrap(), versions);
        assert_eq!(commands_run(&d, "x2goversion"), 2, "force runs it again");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_and_users() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = connected(&d, &lab, "users").await;
        let px = p.proxy();
        assert!(px.home_exists().await.unwrap());
        assert!(px.is_x2go_user(&lab.var("SSH_USER")).await.unwrap());
        assert!(px.is_x2go_user(&lab.var("SSH_USER2")).await.unwrap());
        // A system account without a login shell cannot run sessions; nor can a missing one.
        assert!(!px.is_x2go_user("daemon").await.unwrap());
        assert!(!px.is_x2go_user("nosuchuser-x2god").await.unwrap());
        expect_err(px.is_x2go_user("a;id").await, "InvalidArgument");
        expect_err(px.is_x2go_user("").await, "InvalidArgument");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sshfs_availability_per_user() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let yes = connected_as(&d, &lab, "fuse-yes", &lab.var("SSHFS_AVAILABLE_USER")).await;
        let no = connected_as(&d, &lab, "fuse-no", &lab.var("SSHFS_DENIED_USER")).await;
        assert!(yes.proxy().is_sshfs_available().await.unwrap());
        assert!(!no.proxy().is_sshfs_available().await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_mounts() {
    let Some(lab) = Lab::get() else { return };
    let _g = crate::GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let name = crate::listing::start_session(&user);
        let d = Daemon::start().await;
        let p = connected(&d, &lab, "mounts").await;
        let px = p.proxy();
        assert!(
            px.list_mounts(&name, HashMap::new())
                .await
                .unwrap()
                .is_empty()
        );
        expect_err(
            px.list_mounts("x2gotest-99-1700000000_stRxterm_dp24", HashMap::new())
                .await,
            "NotFound",
        );
        let before = commands_run(&d, "x2golistmounts");
        expect_err(
            px.list_mounts("x;id", HashMap::new()).await,
            "InvalidArgument",
        );
        expect_err(
            px.list_mounts("$(id)-50-1700000000_stRxterm_dp24", HashMap::new())
                .await,
            "InvalidArgument",
        );
        assert_eq!(
            commands_run(&d, "x2golistmounts"),
            before,
            "nothing ran for invalid names"
        );
        px.terminate(&name, HashMap::new()).await.unwrap();
    })
    .await;
}
