//! Printing and the MIME box through a session's reverse sshfs: the lab's real CUPS with the
//! cups-x2go queue turns `lp` in the session into a PDF in x2god's spool folder, and x2god acts
//! on it as the profile says; files dropped into the session's MIME box are opened or refused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use x2god_client::{Options, Profile, SessionHandle};
use x2god_tests::{Daemon, Lab, wait_until};

use crate::{GRAPHICAL, bounded, connected};

/// A script that records its arguments, one per line, in `log` (the test's "program").
fn recorder(dir: &Path, name: &str, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >>'{}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Prints `text` as `user` to the lab's cups-x2go queue, titled `title`; returns the job id.
fn lp(lab: &Lab, user: &str, title: &str, text: &str) -> String {
    let file = std::env::temp_dir().join(format!("x2god-print-{}.txt", std::process::id()));
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = Command::new("runuser")
        .args([
            "-u",
            user,
            "--",
            "lp",
            "-d",
            &lab.var("CUPS_QUEUE"),
            "-t",
            title,
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "lp: {out:?}");
    // "request id is X2GO-12 (1 file(s))"
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_owned()
}

/// When CUPS says job `id` completed (the backend ran x2goprint to its end).
async fn completed(id: &str) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("lpstat")
            .args(["-W", "completed", "-o"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.split_whitespace().next() == Some(id))
        {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "job {id} did not complete");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The spool of `session` is mounted on the server (cups-x2go finds it with x2golistmounts).
async fn spool_mounted(p: &Profile, session: &str) {
    wait_until_async(
        "the print spool to be mounted",
        Duration::from_secs(30),
        || async {
            p.list_mounts(session, Options::new())
                .await
                .unwrap()
                .iter()
                .any(|m| m.contains("/spool/C-"))
        },
    )
    .await;
}

async fn wait_until_async<F, Fut>(what: &str, within: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn xterm(p: &Profile, options: Options) -> SessionHandle {
    p.start(
        options
            .set("cmd", "xterm")
            .set("session_type", "application")
            .set("geometry", "640x480"),
    )
    .await
    .unwrap()
}

fn pdfs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_jobs_are_saved_run_or_signalled_once_each() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let tmp = tempfile::tempdir().unwrap();
        let saved = tmp.path().join("saved pdfs");
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "printing").await;

        // PDFSAVE: a valid PDF in the folder, promptly; a second job with the same title is a
        // second file.
        let s = xterm(
            &p,
            Options::new()
                .set("printing", true)
                .set("print_action", "PDFSAVE")
                .set("save_to_folder", saved.to_string_lossy().into_owned()),
        )
        .await;
        spool_mounted(&p, s.name()).await;
        let job = lp(&lab, &user, "x2god test page", "hello printer\n");
        let done = completed(&job).await;
        wait_until("the PDF to be saved", Duration::from_secs(10), || {
            pdfs(&saved).len() == 1
        })
        .await;
        let lag = Instant::now().saturating_duration_since(done);
        eprintln!("PDF saved {lag:?} after CUPS completed the job");
        assert!(lag < Duration::from_secs(2), "{lag:?}");
        let pdf = pdfs(&saved).remove(0);
        let info = Command::new("pdfinfo").arg(&pdf).output().unwrap();
        assert!(info.status.success(), "not a PDF: {info:?}");
        assert!(
            pdf.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("x2god test page"),
            "{pdf:?}"
        );
        let job2 = lp(&lab, &user, "x2god test page", "second job\n");
        completed(&job2).await;
        wait_until("the second PDF", Duration::from_secs(10), || {
            pdfs(&saved).len() == 2
        })
        .await;
        s.terminate().await.unwrap();

        // PRINTCMD: the profile's command gets the file.
        let log = tmp.path().join("printcmd.log");
        let cmd = recorder(tmp.path(), "my-print", &log);
        let s = xterm(
            &p,
            Options::new()
                .set("printing", true)
                .set("print_action", "PRINTCMD")
                .set("print_cmd", format!("{} --copies 1", cmd.display())),
        )
        .await;
        spool_mounted(&p, s.name()).await;
        let job = lp(&lab, &user, "for the command", "to the command\n");
        completed(&job).await;
        wait_until("the print command to run", Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 3)
        })
        .await;
        let args: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(&args[..2], ["--copies", "1"], "{args:?}");
        assert!(args[2].ends_with(".pdf"), "{args:?}");
        s.terminate().await.unwrap();

        // DIALOG: one PrintJob signal per job, nothing run.
        let mut signals = p.proxy().receive_print_job().await.unwrap();
        let s = xterm(
            &p,
            Options::new()
                .set("printing", true)
                .set("print_action", "DIALOG"),
        )
        .await;
        spool_mounted(&p, s.name()).await;
        let job = lp(&lab, &user, "ask me", "dialog\n");
        completed(&job).await;
        let sig = tokio::time::timeout(Duration::from_secs(10), signals.next())
            .await
            .expect("no PrintJob signal")
            .unwrap();
        let args = sig.args().unwrap();
        assert_eq!(args.name, s.name());
        assert_eq!(args.title, "ask me");
        assert!(Path::new(&args.file).exists(), "{}", args.file);
        assert!(
            tokio::time::timeout(Duration::from_secs(3), signals.next())
                .await
                .is_err(),
            "a second PrintJob for one job"
        );
        s.terminate().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mimebox_files_are_opened_or_refused_by_extension() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("opened.log");
        // The desktop's handler, as `xdg-open` is found: first in PATH.
        recorder(tmp.path(), "xdg-open", &log);
        let path = format!(
            "{}:{}",
            tmp.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut env = lab.display_env();
        env.push(("PATH".into(), path));
        let d = Daemon::start_with_env(env).await;
        let p = connected(&d, &lab, "mimebox").await;
        let s = xterm(
            &p,
            Options::new()
                .set("allow_mimebox", true)
                .set(
                    "mimebox_extensions",
                    vec!["pdf".to_owned(), "txt".to_owned()],
                )
                .set("mimebox_action", "OPEN"),
        )
        .await;
        let name = s.name().to_owned();
        wait_until_async(
            "the MIME box to be mounted",
            Duration::from_secs(30),
            || async {
                p.list_mounts(&name, Options::new())
                    .await
                    .unwrap()
                    .iter()
                    .any(|m| m.contains("/mimebox/C-"))
            },
        )
        .await;
        // What the server-side MIME box command does: drop the file into the session's box
        // (Debian's x2goserver ships no such command; the drop is the same).
        let drop = |file: &str, text: &str| {
            let out = Command::new("runuser")
                .args(["-u", &user, "--", "sh", "-c"])
                .arg("printf '%s' \"$2\" >\"$HOME/.x2go/C-$1/mimebox/$3\"")
                .args(["sh", &name, text, file])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
        };
        drop("report.txt", "a report\n");
        wait_until("the handler to open it", Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("report"))
        })
        .await;
        drop("tool.sh", "#!/bin/sh\n");
        drop("picture.png", "not allowed\n");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let opened = std::fs::read_to_string(&log).unwrap();
        assert_eq!(opened.lines().count(), 1, "{opened}");
        // Refused files are removed from the box.
        let out = Command::new("runuser")
            .args([
                "-u",
                &user,
                "--",
                "sh",
                "-c",
                "ls -A \"$HOME/.x2go/C-$1/mimebox/\"",
                "sh",
                &name,
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
        s.terminate().await.unwrap();
    })
    .await;
}
