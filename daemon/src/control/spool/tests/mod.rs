//! End-to-end tests of the spool queues: real folders, real inotify, real processes. The
//! "programs" (viewer, `lp`, print command, `xdg-open`, `systemd-run`) are small shell scripts
//! that record their argv and a copy of the file they were given.

mod launcher;
mod mimebox;
mod print;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Launcher;

/// A temporary session folder (`<tmp>/S-test`) and a folder of recording programs.
pub(super) struct Fixture {
    pub dir: tempfile::TempDir,
    pub session: PathBuf,
    pub bin: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let session = dir.path().join("S-test");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&session).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        Fixture { dir, session, bin }
    }

    pub fn spool(&self) -> PathBuf {
        self.session.join("spool")
    }

    pub fn jobs(&self) -> PathBuf {
        self.session.join("jobs")
    }

    /// A program named `name` that records each call: its argv (one line per argument) in
    /// `<name>.<random>.argv` and a copy of the file its last argument names.
    pub fn recorder(&self, name: &str) -> PathBuf {
        self.script(
            name,
            r#"out=$(mktemp "$0.XXXXXX") || exit 1
for last in "$@"; do :; done
if [ -f "$last" ]; then cat "$last" > "$out.file"; fi
for a in "$@"; do printf '%s\n' "$a"; done > "$out.tmp"
mv "$out.tmp" "$out.argv"
rm -f "$out"
"#,
        )
    }

    /// A shell script `name` with `body`.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A launcher starting programs directly, with `lp` and `xdg-open` replaced by recorders.
    pub fn launcher(&self) -> Launcher {
        Launcher {
            lp: self.recorder("lp"),
            xdg_open: self.recorder("xdg-open"),
            ..Launcher::default()
        }
    }
}

/// The calls a recorder saw: argv without the program, and the file it was given.
pub(super) fn calls(program: &Path) -> Vec<(Vec<String>, Option<Vec<u8>>)> {
    let prefix = format!("{}.", program.file_name().unwrap().to_string_lossy());
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(program.parent().unwrap()) else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".argv") {
            let argv = std::fs::read_to_string(entry.path()).unwrap();
            let file = std::fs::read(entry.path().with_extension("file")).ok();
            out.push((argv.lines().map(str::to_owned).collect(), file));
        }
    }
    out
}

/// Polls `cond` until it holds; fails after 5 s.
pub(super) async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a callback received, shared with the test.
pub(super) fn collector<T: Send + 'static>() -> (Arc<Mutex<Vec<T>>>, impl Fn(T) + Send + Sync) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |item| sink.lock().unwrap().push(item))
}

/// The visible (not hidden) file names in `dir`, sorted.
pub(super) fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A small valid-looking PDF whose body carries `tag`.
pub(super) fn pdf(tag: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n% {tag}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}
