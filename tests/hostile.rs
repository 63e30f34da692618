//! A hostile server (`tests/lab/hostile.sh`: a second lab sshd whose private `/usr/local/bin`
//! holds an `x2golistsessions` that prints 100 MiB, or 100,000 well-formed rows) cannot make
//! the daemon buffer without bound or publish an object per row: the listing fails with a
//! clear error, the daemon's peak memory stays bounded, and its other profiles keep working.

use x2god_tests::{Daemon, Lab, hostile_profile};

use crate::{bounded, connected, expect_err};

/// The daemon's peak resident memory (`VmHWM`) in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_listing_fails_clearly_with_bounded_memory() {
    let Some(lab) = Lab::get() else { return };
    if !lab.has_part("HOSTILE_PORT", "hostile.sh") {
        return;
    }
    bounded(async {
        let d = Daemon::start().await;
        // A profile on the lab's honest sshd, to show the daemon keeps serving it.
        let good = connected(&d, &lab, "good").await;
        good.list_sessions().await.unwrap();
        let before = peak_rss_kib(d.pid());

        let big = hostile_profile(&d, &lab, "big", &lab.var("HOSTILE_BIG_USER")).await;
        let msg = expect_err(big.list_sessions().await, "ServerError");
        assert!(msg.contains("refused"), "{msg}");
        let raw = big.list_sessions_raw().await;
        assert!(raw.is_err(), "a 100 MiB raw listing was handed out");

        let rows = hostile_profile(&d, &lab, "rows", &lab.var("HOSTILE_ROWS_USER")).await;
        let msg = expect_err(rows.list_sessions().await, "ServerError");
        assert!(msg.contains("10000 session rows"), "{msg}");

        // No session object was published for any of those rows.
        let conn = d.bus.connect().await;
        let om = zbus::fdo::ObjectManagerProxy::builder(&conn)
            .destination(x2god_proto::names::BUS_NAME)
            .path(x2god_proto::names::ROOT_PATH)
            .build()
            .await
            .unwrap();
        let objects = om.get_managed_objects().await.unwrap();
        assert!(objects.len() < 100, "{} objects on the bus", objects.len());

        // The other profile still works, and memory stayed bounded.
        good.list_sessions().await.unwrap();
        let peak = peak_rss_kib(d.pid());
        eprintln!("x2god VmHWM: {before} KiB before the hostile listings, {peak} KiB after");
        assert!(
            peak < 128 * 1024,
            "x2god's peak RSS grew to {peak} KiB (from {before} KiB)"
        );
    })
    .await;
}
