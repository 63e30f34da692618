//! The print queue, end to end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::{Fixture, calls, collector, listing, pdf, wait_until};
use crate::control::spool::{
    CommandLine, PrintAction, PrintActionKind, PrintJob, PrintQueue, PrintQueueConfig,
};

/// Drops a job the way x2goprint ≥ 4.1.0.3 does: the PDF, then `<pdf>.notready` renamed to
/// `<pdf>.ready`.
fn drop_job(spool: &Path, name: &str, title: &str, content: &[u8]) {
    std::fs::write(spool.join(name), content).unwrap();
    let notready = spool.join(format!("{name}.notready"));
    std::fs::write(&notready, format!("{name}\n{title}\n")).unwrap();
    std::fs::rename(&notready, spool.join(format!("{name}.ready"))).unwrap();
}

fn config(f: &Fixture, action: PrintAction) -> PrintQueueConfig {
    PrintQueueConfig::new(&f.session, action, f.launcher())
}

fn command(program: &Path, args: &str) -> CommandLine {
    CommandLine::parse(&format!("'{}' {args}", program.display())).unwrap()
}

fn ready_files(spool: &Path) -> usize {
    listing(spool)
        .iter()
        .filter(|n| n.ends_with(".ready"))
        .count()
}

#[tokio::test]
async fn pdfsave_saves_readable_unique_copies_promptly() {
    let f = Fixture::new();
    let folder = f.dir.path().join("home/PDF");
    let action = PrintAction::PdfSave {
        save_to_folder: folder.clone(),
    };
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config(&f, action), on_job).unwrap();

    let title = "Quarterly Report: Q3/2026";
    let started = Instant::now();
    drop_job(&f.spool(), "S-1_1.pdf", title, &pdf("one"));
    wait_until("the first job", || jobs.lock().unwrap().len() == 1).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop_job(&f.spool(), "S-1_2.pdf", title, &pdf("two"));
    wait_until("the second job", || jobs.lock().unwrap().len() == 2).await;

    let first = folder.join("Quarterly Report_ Q3_2026.pdf");
    let second = folder.join("Quarterly Report_ Q3_2026 (2).pdf");
    assert_eq!(std::fs::read(&first).unwrap(), pdf("one"));
    assert_eq!(std::fs::read(&second).unwrap(), pdf("two"));
    let jobs = jobs.lock().unwrap().clone();
    assert_eq!(
        jobs,
        [
            PrintJob {
                title: title.into(),
                file: first,
                action_taken: PrintActionKind::PdfSave
            },
            PrintJob {
                title: title.into(),
                file: second,
                action_taken: PrintActionKind::PdfSave
            },
        ]
    );
    wait_until("an empty spool", || listing(&f.spool()).is_empty()).await;
    assert!(listing(&f.jobs()).is_empty());
    queue.stop().await;
}

#[tokio::test]
async fn pdfview_opens_a_copy_that_outlives_the_spool_entry() {
    let f = Fixture::new();
    let viewer = f.recorder("viewer");
    let action = PrintAction::PdfView {
        pdfview_cmd: command(&viewer, "--page-label 'a b' $HOME"),
    };
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config(&f, action), on_job).unwrap();
    drop_job(&f.spool(), "S-1_7.pdf", "Letter", &pdf("view"));

    wait_until("the viewer", || calls(&viewer).len() == 1).await;
    let (argv, file) = calls(&viewer).remove(0);
    let copy = f.jobs().join("Letter.pdf");
    assert_eq!(
        argv,
        ["--page-label", "a b", "$HOME", copy.to_str().unwrap()]
    );
    assert_eq!(file.unwrap(), pdf("view"));
    wait_until("an empty spool", || listing(&f.spool()).is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(std::fs::read(&copy).unwrap(), pdf("view"), "the copy stays");
    assert_eq!(
        jobs.lock().unwrap()[0].action_taken,
        PrintActionKind::PdfView
    );
    queue.stop().await;
}

#[tokio::test]
async fn printcmd_gets_the_file_last_and_the_copy_goes_afterwards() {
    let f = Fixture::new();
    let printer = f.recorder("myprint");
    let action = PrintAction::PrintCmd {
        print_cmd: command(&printer, "-o 'media=A4 sides' -- ';rm -rf ~'"),
    };
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config(&f, action), on_job).unwrap();
    drop_job(&f.spool(), "S-1_3.pdf", "Invoice", &pdf("cmd"));

    wait_until("the command", || calls(&printer).len() == 1).await;
    let (argv, file) = calls(&printer).remove(0);
    let copy = f.jobs().join("Invoice.pdf");
    assert_eq!(
        argv,
        [
            "-o",
            "media=A4 sides",
            "--",
            ";rm -rf ~",
            copy.to_str().unwrap()
        ]
    );
    assert_eq!(file.unwrap(), pdf("cmd"));
    assert_eq!(
        jobs.lock().unwrap()[0].action_taken,
        PrintActionKind::PrintCmd
    );
    wait_until("the copy removed", || !copy.exists()).await;
    queue.stop().await;
}

#[tokio::test]
async fn print_runs_lp_with_printer_and_title() {
    let f = Fixture::new();
    let launcher = f.launcher();
    let lp = launcher.lp.clone();
    let mut config = PrintQueueConfig::new(
        &f.session,
        PrintAction::Print {
            printer: Some("office-2".into()),
        },
        launcher,
    );
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config.clone(), on_job).unwrap();
    drop_job(&f.spool(), "S-1_4.pdf", "-t Budget", &pdf("lp"));
    wait_until("lp", || calls(&lp).len() == 1).await;
    let (argv, file) = calls(&lp).remove(0);
    let copy = f.jobs().join("t Budget.pdf");
    assert_eq!(
        argv,
        ["-d", "office-2", "-t", "-t Budget", copy.to_str().unwrap()]
    );
    assert_eq!(file.unwrap(), pdf("lp"));
    assert_eq!(jobs.lock().unwrap()[0].action_taken, PrintActionKind::Print);
    wait_until("the copy removed", || !copy.exists()).await;
    queue.stop().await;

    // The default printer: no -d.
    config.action = PrintAction::Print { printer: None };
    let (_, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config, on_job).unwrap();
    drop_job(&f.spool(), "S-1_5.pdf", "Budget", &pdf("lp2"));
    wait_until("lp again", || calls(&lp).len() == 2).await;
    let argv: Vec<Vec<String>> = calls(&lp).into_iter().map(|c| c.0).collect();
    let copy = f.jobs().join("Budget.pdf");
    assert!(
        argv.contains(&vec![
            "-t".into(),
            "Budget".into(),
            copy.to_str().unwrap().into()
        ]),
        "{argv:?}"
    );
    queue.stop().await;
}

#[tokio::test]
async fn dialog_hands_the_job_over_once_and_runs_nothing() {
    let f = Fixture::new();
    let launcher = f.launcher();
    let (lp, xdg) = (launcher.lp.clone(), launcher.xdg_open.clone());
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(
        PrintQueueConfig::new(&f.session, PrintAction::Dialog, launcher),
        on_job,
    )
    .unwrap();
    drop_job(&f.spool(), "S-1_6.pdf", "Photo", &pdf("dialog"));
    wait_until("the job", || jobs.lock().unwrap().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let jobs = jobs.lock().unwrap().clone();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].action_taken, PrintActionKind::Dialog);
    assert_eq!(jobs[0].file, f.jobs().join("Photo.pdf"));
    assert_eq!(std::fs::read(&jobs[0].file).unwrap(), pdf("dialog"));
    assert!(calls(&lp).is_empty() && calls(&xdg).is_empty());
    queue.stop().await;
}

#[tokio::test]
async fn failed_actions_fall_back_to_dialog() {
    let f = Fixture::new();
    let (jobs, on_job) = collector::<PrintJob>();
    let action = PrintAction::PdfView {
        pdfview_cmd: CommandLine::parse("/nonexistent/viewer").unwrap(),
    };
    let queue = PrintQueue::start(config(&f, action), on_job).unwrap();
    drop_job(&f.spool(), "S-1_8.pdf", "View me", &pdf("noviewer"));
    wait_until("the job", || jobs.lock().unwrap().len() == 1).await;
    queue.stop().await;

    // A save folder that cannot exist (below a regular file), even for root.
    let blocker = f.dir.path().join("not-a-folder");
    std::fs::write(&blocker, b"").unwrap();
    let action = PrintAction::PdfSave {
        save_to_folder: blocker.join("PDF"),
    };
    let sink = jobs.clone();
    let queue =
        PrintQueue::start(config(&f, action), move |j| sink.lock().unwrap().push(j)).unwrap();
    drop_job(&f.spool(), "S-1_9.pdf", "Save me", &pdf("nofolder"));
    wait_until("the job", || jobs.lock().unwrap().len() == 2).await;
    queue.stop().await;

    let jobs = jobs.lock().unwrap().clone();
    for (job, want) in jobs.iter().zip([pdf("noviewer"), pdf("nofolder")]) {
        assert_eq!(job.action_taken, PrintActionKind::Dialog);
        assert!(job.file.starts_with(f.jobs()), "{job:?}");
        assert_eq!(std::fs::read(&job.file).unwrap(), want);
    }
}

#[tokio::test]
async fn each_job_is_acted_on_once_despite_many_events() {
    let f = Fixture::new();
    let printer = f.recorder("myprint");
    let action = PrintAction::PrintCmd {
        print_cmd: command(&printer, ""),
    };
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config(&f, action), on_job).unwrap();
    let spool = f.spool();

    // An older x2goprint: the .ready file is written in place (a copy across file systems),
    // closed, and (as sshfs may) opened for writing and closed again.
    std::fs::write(spool.join("S-1_10.pdf"), pdf("events")).unwrap();
    let ready = spool.join("S-1_10.pdf.ready");
    std::fs::write(&ready, "S-1_10.pdf\nTwice\n").unwrap();
    for _ in 0..3 {
        let _ = std::fs::OpenOptions::new().append(true).open(&ready);
    }
    // And a job renamed into place while the events above are being handled.
    drop_job(&spool, "S-1_11.pdf", "Once", &pdf("rename"));

    wait_until("both jobs", || jobs.lock().unwrap().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(jobs.lock().unwrap().len(), 2);
    wait_until("both commands", || calls(&printer).len() == 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(calls(&printer).len(), 2);
    queue.stop().await;
}

#[tokio::test]
async fn a_restart_over_a_half_written_job_acts_on_complete_jobs_once() {
    let f = Fixture::new();
    let spool = f.spool();
    std::fs::create_dir_all(&spool).unwrap();
    // A complete job left by a previous run, and a job still being written.
    drop_job(&spool, "S-1_20.pdf", "Old", &pdf("old"));
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(spool.join("S-1_20.pdf.ready"))
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let half = pdf("half");
    std::fs::write(spool.join("S-1_21.pdf"), &half[..10]).unwrap();
    std::fs::write(spool.join("S-1_21.pdf.notready"), "S-1_21.pdf\nHalf\n").unwrap();

    let folder = f.dir.path().join("PDF");
    let action = PrintAction::PdfSave {
        save_to_folder: folder.clone(),
    };
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config(&f, action.clone()), on_job).unwrap();
    wait_until("the old job", || jobs.lock().unwrap().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(listing(&folder), ["Old.pdf"]);
    assert_eq!(
        listing(&spool),
        ["S-1_21.pdf", "S-1_21.pdf.notready"],
        "the half-written job is left alone"
    );
    queue.stop().await;

    // Restarted: nothing is repeated; the job completes and is saved once.
    let sink = jobs.clone();
    let queue =
        PrintQueue::start(config(&f, action), move |j| sink.lock().unwrap().push(j)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(jobs.lock().unwrap().len(), 1);
    std::fs::OpenOptions::new()
        .append(true)
        .open(spool.join("S-1_21.pdf"))
        .unwrap()
        .write_all(&half[10..])
        .unwrap();
    std::fs::rename(
        spool.join("S-1_21.pdf.notready"),
        spool.join("S-1_21.pdf.ready"),
    )
    .unwrap();
    wait_until("the completed job", || jobs.lock().unwrap().len() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(jobs.lock().unwrap().len(), 2);
    assert_eq!(listing(&folder), ["Half.pdf", "Old.pdf"]);
    assert_eq!(std::fs::read(folder.join("Half.pdf")).unwrap(), half);
    assert_eq!(std::fs::read(folder.join("Old.pdf")).unwrap(), pdf("old"));
    queue.stop().await;
}

#[tokio::test]
async fn hostile_jobs_are_refused_with_nothing_read_outside_and_nothing_run() {
    let f = Fixture::new();
    let spool = f.spool();
    std::fs::create_dir_all(&spool).unwrap();
    let printer = f.recorder("myprint");
    let mut config = config(
        &f,
        PrintAction::PrintCmd {
            print_cmd: command(&printer, ""),
        },
    );
    config.max_size = 64 * 1024;

    // Files outside the spool folder that a job must never reach.
    let secret = f.session.join("outside.pdf");
    std::fs::write(&secret, pdf("secret")).unwrap();
    let elsewhere = f.dir.path().join("elsewhere.pdf");
    std::fs::write(&elsewhere, pdf("elsewhere")).unwrap();
    let outside: Vec<(PathBuf, Vec<u8>)> = [&secret, &elsewhere]
        .iter()
        .map(|p| ((*p).clone(), std::fs::read(p).unwrap()))
        .collect();
    let ready = |name: &str, content: &str| {
        std::fs::write(spool.join(format!("{name}.ready")), content).unwrap()
    };

    // The .ready file names a path out of the folder, or an absolute path.
    std::fs::write(spool.join("a.pdf"), pdf("a")).unwrap();
    ready("a.pdf", "../outside.pdf\nDotdot\n");
    std::fs::write(spool.join("b.pdf"), pdf("b")).unwrap();
    ready("b.pdf", &format!("{}\nAbsolute\n", elsewhere.display()));
    // The PDF is a symlink out of the folder.
    std::os::unix::fs::symlink(&secret, spool.join("c.pdf")).unwrap();
    ready("c.pdf", "c.pdf\nSymlink\n");
    // The .ready file itself is a symlink out of the folder.
    std::fs::write(spool.join("d.pdf"), pdf("d")).unwrap();
    std::fs::write(f.dir.path().join("d.ready.target"), "d.pdf\nLinked ready\n").unwrap();
    std::os::unix::fs::symlink(
        f.dir.path().join("d.ready.target"),
        spool.join("d.pdf.ready"),
    )
    .unwrap();
    // The PDF is missing; not a PDF; too large; a hard link to a file outside; a FIFO; a
    // directory.
    ready("e.pdf", "e.pdf\nMissing\n");
    std::fs::write(spool.join("f.pdf"), b"#!/bin/sh\necho not a pdf\n").unwrap();
    ready("f.pdf", "f.pdf\nScript\n");
    let mut huge = pdf("huge");
    huge.resize(100 * 1024, b' ');
    std::fs::write(spool.join("g.pdf"), &huge).unwrap();
    ready("g.pdf", "g.pdf\nHuge\n");
    std::fs::hard_link(&elsewhere, spool.join("h.pdf")).unwrap();
    ready("h.pdf", "h.pdf\nHard link\n");
    let spool_fd = rustix::fs::open(
        &spool,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    rustix::fs::mkfifoat(
        &spool_fd,
        "i.pdf",
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
    )
    .unwrap();
    ready("i.pdf", "i.pdf\nFifo\n");
    // A .ready file far too large to be a file name and a title.
    ready("j.pdf", &format!("j.pdf\n{}\n", "x".repeat(10_000)));
    std::fs::create_dir(spool.join("k.pdf")).unwrap();
    ready("k.pdf", "k.pdf\nDirectory\n");

    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config, on_job).unwrap();
    // The jobs are fresh: the start-up scan takes them once they have been quiet for 2 s.
    wait_until("every job refused", || ready_files(&spool) == 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    queue.stop().await;

    assert!(
        jobs.lock().unwrap().is_empty(),
        "{:?}",
        jobs.lock().unwrap()
    );
    assert!(calls(&printer).is_empty(), "nothing may run");
    assert!(listing(&f.jobs()).is_empty(), "nothing copied out");
    for (path, content) in outside {
        assert_eq!(std::fs::read(&path).unwrap(), content, "{}", path.display());
    }
    assert!(f.dir.path().join("d.ready.target").exists());
    // Only the directory is left (it is never removed).
    assert_eq!(listing(&spool), ["k.pdf"]);
}

#[tokio::test]
async fn a_job_arriving_while_another_is_handled_is_not_lost() {
    let f = Fixture::new();
    let spool = f.spool();
    let (jobs, _) = collector::<PrintJob>();
    let sink = jobs.clone();
    let dropper = spool.clone();
    let on_job = move |job: PrintJob| {
        let first = job.title == "First";
        sink.lock().unwrap().push(job);
        if first {
            // The second job arrives while the first one is still in hand.
            drop_job(&dropper, "S-1_31.pdf", "Second", &pdf("second"));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let queue = PrintQueue::start(config(&f, PrintAction::Dialog), on_job).unwrap();
    drop_job(&spool, "S-1_30.pdf", "First", &pdf("first"));
    wait_until("both jobs", || jobs.lock().unwrap().len() == 2).await;
    let titles: Vec<String> = jobs
        .lock()
        .unwrap()
        .iter()
        .map(|j| j.title.clone())
        .collect();
    assert_eq!(titles, ["First", "Second"]);
    queue.stop().await;
}

#[tokio::test]
async fn a_stopped_or_dropped_queue_acts_on_nothing() {
    let f = Fixture::new();
    let (jobs, on_job) = collector::<PrintJob>();
    let queue = PrintQueue::start(config(&f, PrintAction::Dialog), on_job).unwrap();
    queue.stop().await;
    drop_job(&f.spool(), "S-1_40.pdf", "After stop", &pdf("late"));

    let sink = jobs.clone();
    let queue = PrintQueue::start(config(&f, PrintAction::Dialog), move |j| {
        sink.lock().unwrap().push(j)
    })
    .unwrap();
    // That queue takes the waiting job (after the quiet time of a start-up scan)…
    wait_until("the waiting job", || jobs.lock().unwrap().len() == 1).await;
    drop(queue);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // …and once dropped, takes nothing more.
    drop_job(&f.spool(), "S-1_41.pdf", "After drop", &pdf("later"));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(jobs.lock().unwrap().len(), 1);
    assert_eq!(listing(&f.spool()), ["S-1_41.pdf", "S-1_41.pdf.ready"]);
}
