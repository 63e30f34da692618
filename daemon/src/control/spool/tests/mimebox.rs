//! The MIME box, end to end.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::{Fixture, calls, collector, listing, wait_until};
use crate::control::spool::{
    MimeBox, MimeBoxAction, MimeBoxActionKind, MimeBoxConfig, MimeBoxFile, MimeBoxSettings,
};

fn start(
    f: &Fixture,
    action: MimeBoxAction,
    extensions: &str,
) -> (MimeBox, std::sync::Arc<std::sync::Mutex<Vec<MimeBoxFile>>>) {
    let settings = MimeBoxSettings {
        action,
        extensions: MimeBoxSettings::parse_extensions(extensions),
    };
    let (files, on_file) = collector::<MimeBoxFile>();
    let mime = MimeBox::start(
        MimeBoxConfig::new(&f.session, settings, f.launcher()),
        on_file,
    )
    .unwrap();
    (mime, files)
}

fn mimebox(f: &Fixture) -> PathBuf {
    f.session.join("mimebox")
}

#[tokio::test]
async fn allowed_files_are_opened_and_others_refused() {
    let f = Fixture::new();
    let xdg = f.bin.join("xdg-open");
    let (mime, files) = start(&f, MimeBoxAction::Open, "pdf, odt");
    let dir = mimebox(&f);
    let secret = f.dir.path().join("secret.pdf");
    std::fs::write(&secret, b"%PDF-1.4 secret").unwrap();

    std::os::unix::fs::symlink(&secret, dir.join("link.pdf")).unwrap();
    std::fs::write(dir.join("tool.exe"), b"MZ").unwrap();
    std::fs::write(dir.join("notes.txt"), b"text").unwrap();
    std::fs::write(dir.join(".hidden.pdf"), b"%PDF-").unwrap();
    std::fs::write(dir.join("launch.desktop"), b"[Desktop Entry]").unwrap();
    std::fs::write(dir.join("Report 2026.PDF"), b"%PDF-1.4 report").unwrap();

    wait_until("the report opened", || calls(&xdg).len() == 1).await;
    // The symlink gets no event (it is never written): the scan of a restarted box would take
    // it; here every written file is done once its directory entry is gone.
    wait_until("the written files removed", || {
        listing(&dir).iter().all(|n| n == "link.pdf") && !dir.join(".hidden.pdf").exists()
    })
    .await;
    let (argv, content) = calls(&xdg).remove(0);
    let copy = f.jobs().join("Report 2026.PDF");
    assert_eq!(argv, [copy.to_str().unwrap()]);
    assert_eq!(content.unwrap(), b"%PDF-1.4 report");
    assert_eq!(std::fs::read(&copy).unwrap(), b"%PDF-1.4 report");
    assert_eq!(
        files.lock().unwrap().clone(),
        [MimeBoxFile {
            name: "Report 2026.PDF".into(),
            file: copy,
            action_taken: MimeBoxActionKind::Open
        }]
    );
    mime.stop().await;

    // A restarted box finds the symlink by its scan, refuses it and removes only the link.
    let (mime, files) = start(&f, MimeBoxAction::Open, "");
    wait_until("the symlink removed", || listing(&dir).is_empty()).await;
    mime.stop().await;
    assert!(files.lock().unwrap().is_empty());
    assert_eq!(std::fs::read(&secret).unwrap(), b"%PDF-1.4 secret");
    assert_eq!(calls(&xdg).len(), 1);
    assert_eq!(listing(&f.jobs()), ["Report 2026.PDF"]);
}

#[tokio::test]
async fn an_empty_allow_list_allows_all_but_denied_extensions() {
    let f = Fixture::new();
    let xdg = f.bin.join("xdg-open");
    let (mime, files) = start(&f, MimeBoxAction::OpenWith, "");
    let dir = mimebox(&f);
    std::fs::write(dir.join("install.sh"), b"rm -rf ~").unwrap();
    std::fs::write(dir.join("notes.txt"), b"text").unwrap();
    wait_until("both handled", || listing(&dir).is_empty()).await;
    wait_until("the note opened", || calls(&xdg).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(calls(&xdg).len(), 1);
    let files = files.lock().unwrap().clone();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "notes.txt");
    assert_eq!(files[0].action_taken, MimeBoxActionKind::OpenWith);
    mime.stop().await;
}

#[tokio::test]
async fn save_as_saves_into_its_folder_or_hands_the_file_over() {
    let f = Fixture::new();
    let xdg = f.bin.join("xdg-open");
    let target = f.dir.path().join("Downloads");
    let (mime, files) = start(
        &f,
        MimeBoxAction::SaveAs {
            folder: Some(target.clone()),
        },
        "txt",
    );
    let dir = mimebox(&f);
    std::fs::write(dir.join("same.txt"), b"first").unwrap();
    wait_until("the first file", || files.lock().unwrap().len() == 1).await;
    std::fs::write(dir.join("same.txt"), b"second").unwrap();
    wait_until("the second file", || files.lock().unwrap().len() == 2).await;
    assert_eq!(listing(&target), ["same (2).txt", "same.txt"]);
    assert_eq!(std::fs::read(target.join("same.txt")).unwrap(), b"first");
    assert_eq!(
        std::fs::read(target.join("same (2).txt")).unwrap(),
        b"second"
    );
    mime.stop().await;

    let (mime, files) = start(&f, MimeBoxAction::SaveAs { folder: None }, "txt");
    std::fs::write(dir.join("ask.txt"), b"where?").unwrap();
    wait_until("the file", || files.lock().unwrap().len() == 1).await;
    let file = files.lock().unwrap()[0].clone();
    assert_eq!(file.action_taken, MimeBoxActionKind::SaveAs);
    assert_eq!(file.file, f.jobs().join("ask.txt"));
    assert_eq!(std::fs::read(&file.file).unwrap(), b"where?");
    assert!(calls(&xdg).is_empty(), "SAVEAS runs nothing");
    mime.stop().await;
}

#[tokio::test]
async fn a_file_is_taken_only_once_its_writer_closed_it() {
    let f = Fixture::new();
    let xdg = f.bin.join("xdg-open");
    let (mime, files) = start(&f, MimeBoxAction::Open, "odt");
    let path = mimebox(&f).join("slow.odt");
    let mut writer = std::fs::File::create(&path).unwrap();
    writer.write_all(b"first half, ").unwrap();
    writer.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        files.lock().unwrap().is_empty(),
        "taken while being written"
    );
    assert!(path.exists());
    writer.write_all(b"second half").unwrap();
    drop(writer);
    wait_until("the file", || files.lock().unwrap().len() == 1).await;
    wait_until("xdg-open", || calls(&xdg).len() == 1).await;
    assert_eq!(
        calls(&xdg)[0].1.as_deref(),
        Some(&b"first half, second half"[..])
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(files.lock().unwrap().len(), 1);
    mime.stop().await;
}

#[tokio::test]
async fn an_empty_file_waits_for_its_second_open_or_for_quiet() {
    let f = Fixture::new();
    let xdg = f.bin.join("xdg-open");
    let (mime, files) = start(&f, MimeBoxAction::Open, "odt");
    let dir = mimebox(&f);
    // A FUSE client without `create`: the file is made (opened and closed empty), then opened
    // again and written.
    drop(std::fs::File::create(dir.join("made.odt")).unwrap());
    // And a file that is empty for good.
    drop(std::fs::File::create(dir.join("empty.odt")).unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        files.lock().unwrap().is_empty(),
        "an empty file taken on its first close"
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("made.odt"))
        .unwrap()
        .write_all(b"content")
        .unwrap();
    wait_until("the written file", || files.lock().unwrap().len() == 1).await;
    assert_eq!(files.lock().unwrap()[0].name, "made.odt");
    wait_until("the empty file, once quiet", || {
        files.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(files.lock().unwrap()[1].name, "empty.odt");
    wait_until("both opened", || calls(&xdg).len() == 2).await;
    let mut contents: Vec<Vec<u8>> = calls(&xdg).into_iter().filter_map(|c| c.1).collect();
    contents.sort();
    assert_eq!(contents, [b"".to_vec(), b"content".to_vec()]);
    mime.stop().await;
}
