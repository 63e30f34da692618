//! What a review found an attacker could use, closed: on a client machine shared with other
//! users, nothing of a session's credentials is visible to them.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use x2god_client::Options;
use x2god_tests::{Daemon, Lab, wait_until};

use crate::{GRAPHICAL, bounded, connected};

/// Every process's command line, as `ps -eo args` shows them to any local user.
fn all_command_lines() -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_line_shows_the_session_cookie() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "cookie").await;
        let s = p
            .start(
                Options::new()
                    .set("cmd", "xterm")
                    .set("session_type", "application")
                    .set("snd_system", "none"),
            )
            .await
            .unwrap();
        let name = s.name().to_owned();
        wait_until("the window", Duration::from_secs(30), || {
            !lab.visible_windows("XTerm").is_empty()
        })
        .await;
        // The session's X cookie, as the server lists it (field 7).
        let cookie = lab
            .ssh(&lab.var("SSH_USER"), "x2golistsessions")
            .lines()
            .find(|l| l.contains(&name))
            .and_then(|l| l.split('|').nth(6).map(str::to_owned))
            .expect("the session is listed");
        assert_eq!(cookie.len(), 32, "{cookie}");
        // nxproxy runs and reads its options from a file only the user reads.
        let nxproxy: Vec<String> = all_command_lines()
            .into_iter()
            .filter(|c| c.contains("nxproxy") && c.contains(&name))
            .collect();
        // (nxproxy forks once: two processes with the same command line.)
        assert!(!nxproxy.is_empty(), "no nxproxy for {name}");
        assert!(
            nxproxy.iter().all(|c| c.contains("options=")),
            "{nxproxy:?}"
        );
        let options = d
            .home
            .path()
            .join(".x2go")
            .join(format!("S-{name}"))
            .join("options");
        let meta = std::fs::metadata(&options).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // Its folder, with the logs and the print spool, is the user's alone too.
        let dir = std::fs::metadata(options.parent().unwrap()).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
        assert!(std::fs::read_to_string(&options).unwrap().contains(&cookie));
        let showing: Vec<String> = all_command_lines()
            .into_iter()
            .filter(|c| c.contains(&cookie))
            .collect();
        assert!(
            showing.is_empty(),
            "the cookie is on a command line: {showing:?}"
        );
        s.terminate().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_files_that_are_no_files_fail_at_once() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let d = Daemon::start().await;
        for key in ["/dev/zero".to_owned(), fifo.to_string_lossy().into_owned()] {
            let p = crate::lab_profile(
                &d,
                &lab,
                &format!("key{}", key.len()),
                &lab.var("SSH_USER"),
                Options::new()
                    .set("key_filename", key.clone())
                    .set("look_for_keys", false)
                    .set("allow_agent", false),
            )
            .await;
            let started = std::time::Instant::now();
            let r = p.connect(Options::new()).await;
            let took = started.elapsed();
            let e = r.expect_err("connected without a key");
            assert!(took < Duration::from_secs(1), "{key}: {took:?}");
            assert!(e.to_string().contains("not a regular file"), "{key}: {e}");
            // The daemon keeps answering.
            d.client().await.profiles().await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cannot_choose_the_program_x2god_runs() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "nxproxy").await;
        let marker = tempfile::tempdir().unwrap();
        let ran = marker.path().join("ran");
        let script = marker.path().join("evil");
        std::fs::write(&script, format!("#!/bin/sh\ntouch {}\n", ran.display())).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let evil = script.to_string_lossy().into_owned();
        let o = || {
            Options::new()
                .set("cmd", "xterm")
                .set("nxproxy", evil.clone())
        };
        let msg = crate::expect_err(p.start(o()).await, "InvalidArgument");
        assert!(msg.contains("stored setting"), "{msg}");
        crate::expect_err(
            p.resume("x2gotest-50-1700000000_stRxterm_dp24", o()).await,
            "InvalidArgument",
        );
        crate::expect_err(p.connect(o()).await, "InvalidArgument");
        assert!(!ran.exists(), "the caller's program ran");
        assert!(
            lab.server_sessions(&lab.var("SSH_USER"))
                .iter()
                .all(|n| !n.contains("1700000000"))
        );
        // As a stored setting (the profile's owner chose it) it is taken.
        p.update(Options::new().set("nxproxy", "/usr/bin/nxproxy"))
            .await
            .unwrap();
    })
    .await;
}
