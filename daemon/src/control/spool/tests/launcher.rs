//! The launcher with real processes.

use std::time::{Duration, Instant};

use super::{Fixture, calls, wait_until};
use crate::control::spool::{Error, LaunchMode, Launcher, Until};

#[tokio::test]
async fn direct_launches_pass_argv_and_the_display_verbatim() {
    let f = Fixture::new();
    let out = f.dir.path().join("env");
    let program = f.script(
        "show env",
        &format!(
            "printf '%s\\n' \"$DISPLAY\" \"$XAUTHORITY\" \"$#\" \"$1\" > '{}'\n",
            out.display()
        ),
    );
    let launcher = Launcher::default().with_display(Some(":42".into()), Some("/x/auth".into()));
    let running = launcher
        .launch(
            "test",
            vec![program.into(), "$(touch /tmp/pwned) ; *".into()],
            Until::Exited,
        )
        .unwrap();
    assert!(running.finished().await.unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        ":42\n/x/auth\n1\n$(touch /tmp/pwned) ; *\n"
    );
}

#[tokio::test]
async fn until_exited_waits_for_the_exit_status_and_started_does_not() {
    let f = Fixture::new();
    let slow = f.script("slow", "sleep 1\nexit 3\n");
    let launcher = Launcher::default();
    let started = Instant::now();
    let status = launcher
        .launch("test", vec![slow.clone().into()], Until::Exited)
        .unwrap()
        .finished()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(started.elapsed() >= Duration::from_secs(1));

    let started = Instant::now();
    let status = launcher
        .launch("test", vec![slow.into()], Until::Started)
        .unwrap()
        .finished()
        .await;
    assert!(status.is_none());
    assert!(started.elapsed() < Duration::from_millis(900));
}

#[tokio::test]
async fn a_missing_program_is_an_error() {
    let err = Launcher::default()
        .launch("test", vec!["/nonexistent/prog".into()], Until::Started)
        .unwrap_err();
    assert!(matches!(err, Error::Launch { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/prog"));
    assert!(
        Launcher::default()
            .launch("test", vec![], Until::Started)
            .is_err()
    );
}

#[tokio::test]
async fn under_systemd_programs_become_transient_units() {
    let f = Fixture::new();
    let launcher = Launcher {
        mode: LaunchMode::SystemdUnit,
        systemd_run: f.recorder("systemd-run"),
        ..Launcher::default()
    }
    .with_display(Some(":7".into()), None);
    let pdf = f.dir.path().join("a b.pdf");
    std::fs::write(&pdf, b"%PDF-").unwrap();
    launcher
        .launch(
            "pdfview",
            vec!["evince".into(), pdf.clone().into()],
            Until::Started,
        )
        .unwrap();
    let status = launcher
        .launch(
            "print",
            vec!["lp".into(), pdf.clone().into()],
            Until::Exited,
        )
        .unwrap()
        .finished()
        .await;
    assert!(status.unwrap().success());
    let recorder = f.bin.join("systemd-run");
    wait_until("both launches", || calls(&recorder).len() == 2).await;
    let mut argvs: Vec<Vec<String>> = calls(&recorder).into_iter().map(|c| c.0).collect();
    argvs.sort_by_key(|a| a.contains(&"--wait".to_owned()));
    let pdf = pdf.to_str().unwrap();
    let (view, print) = (&argvs[0], &argvs[1]);
    assert_eq!(view[..3], ["--user", "--collect", "--quiet"]);
    assert!(view[3].starts_with("--unit=x2god-pdfview-"), "{view:?}");
    assert_eq!(view[4..], ["--setenv=DISPLAY=:7", "--", "evince", pdf]);
    assert_eq!(print[..4], ["--user", "--collect", "--quiet", "--wait"]);
    assert!(print[4].starts_with("--unit=x2god-print-"), "{print:?}");
    assert_eq!(print[5..], ["--setenv=DISPLAY=:7", "--", "lp", pdf]);
}
