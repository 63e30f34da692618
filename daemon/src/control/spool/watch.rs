//! Watching one folder the server writes into, and acting on each complete entry exactly once.
//!
//! When is an entry complete? The server writes through sshfs, so locally each of its file
//! operations is one system call of our SFTP server, and inotify reports it:
//! - an entry *renamed* into place (`IN_MOVED_TO`) is complete: x2goprint ≥ 4.1.0.3 writes
//!   `<pdf>.notready` and renames it to `<pdf>.ready` for exactly this reason;
//! - an entry written in place is complete when its writer closes it (`IN_CLOSE_WRITE`): older
//!   x2goprint versions `mv` the `.ready` file across file systems, which is a copy, and the
//!   MIME box's files are copied in (python-x2go has no completeness test at all: it lists the
//!   folder every 3 s and takes whatever is there, half-written or not);
//! - an entry found by a scan (at start, or after the kernel's event queue overflowed) is taken
//!   as complete once it has not been modified for [`QUIET`]; a younger one is looked at again
//!   then, unless its event comes first;
//! - an *empty* entry is never taken on its event, only once quiet: a FUSE client without the
//!   `create` operation makes a file with an open and close of its own (`mknod`), then opens
//!   it again to write it; the first close is no sign of completeness.
//!
//! Exactly once: entries are acted on one at a time, in order; an entry queued twice (several
//! events, an event and a scan) is queued once; an entry gone by its turn is skipped; and an
//! entry still there after it was handled (its removal failed) is remembered by name and inode,
//! so no later event or rescan acts on it again, while a new file under the same name (another
//! inode) is a new entry. Events arriving while an entry is handled wait in the kernel's queue;
//! none is lost (an overflow is a rescan).

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use inotify::{EventMask, Inotify, WatchMask};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::error::Error;
use super::folder::{Folder, Identity};

/// How long an entry found by a scan must have been left alone to count as complete.
pub(crate) const QUIET: Duration = Duration::from_secs(2);

/// What a watcher does with the entries of its folder.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Whether the watcher acts on entry `name` at all (others are left alone).
    fn wants(&self, name: &OsStr) -> bool;

    /// Acts on complete entry `name`, which should be gone from the folder afterwards.
    fn handle(&mut self, name: OsString) -> impl Future<Output = ()> + Send;
}

/// A running watcher. Dropping it stops it (after the entry in hand, if any).
#[derive(Debug)]
pub(crate) struct Watch {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Watch {
    /// Starts watching `folder` for `handler`. Must be called within the tokio runtime.
    pub(crate) fn start<H: Handler>(folder: Arc<Folder>, handler: H) -> Result<Watch, Error> {
        let watch_error = |source| Error::Watch {
            path: folder.path().to_owned(),
            source,
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(watch_error(std::io::Error::other(
                "not within the tokio runtime",
            )));
        }
        let inotify = Inotify::init().map_err(watch_error)?;
        inotify
            .watches()
            .add(
                folder.path(),
                WatchMask::CLOSE_WRITE
                    | WatchMask::MOVED_TO
                    | WatchMask::DELETE_SELF
                    | WatchMask::MOVE_SELF
                    | WatchMask::ONLYDIR,
            )
            .map_err(watch_error)?;
        let events = inotify
            .into_event_stream([0u8; 4096])
            .map_err(watch_error)?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(folder, events, handler, stopped));
        Ok(Watch {
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops the watcher and waits until it ended (it finishes the entry in hand first).
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs `f` on the blocking pool (file system calls never run on a runtime worker).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// What the watcher knows about its folder's entries.
#[derive(Debug, Default)]
struct Tracker {
    /// Complete entries, in arrival order, each once.
    queue: VecDeque<OsString>,
    /// Entries found by a scan, to be looked at again at the given time.
    pending: HashMap<OsString, Instant>,
    /// Entries that were handled (or refused) but are still there, by inode.
    stuck: HashMap<OsString, u64>,
}

impl Tracker {
    fn complete(&mut self, name: OsString) {
        self.pending.remove(&name);
        if !self.queue.contains(&name) {
            self.queue.push_back(name);
        }
    }

    /// Whether `name` with identity `id` was handled already.
    fn is_stuck(&self, name: &OsStr, id: &Identity) -> bool {
        id.is_dir || self.stuck.get(name) == Some(&id.ino)
    }

    /// Takes an entry seen by a scan or a recheck: complete when quiet long enough.
    fn seen(&mut self, name: OsString, id: &Identity, now: SystemTime) {
        if self.is_stuck(&name, id) {
            return;
        }
        let age = now.duration_since(id.modified).unwrap_or_default();
        if age >= QUIET {
            self.complete(name);
        } else {
            self.pending.insert(name, Instant::now() + (QUIET - age));
        }
    }

    /// The next time a pending entry is due.
    fn next_recheck(&self) -> Option<Instant> {
        self.pending.values().min().copied()
    }
}

/// Whether the watcher goes on after an event.
enum Flow {
    Go,
    Rescan,
    End,
}

fn on_event<H: Handler>(t: &mut Tracker, handler: &H, event: inotify::EventOwned) -> Flow {
    if event.mask.contains(EventMask::Q_OVERFLOW) {
        return Flow::Rescan;
    }
    if event
        .mask
        .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF | EventMask::IGNORED)
    {
        return Flow::End;
    }
    if let Some(name) = event.name
        && event
            .mask
            .intersects(EventMask::CLOSE_WRITE | EventMask::MOVED_TO)
        && !event.mask.contains(EventMask::ISDIR)
        && handler.wants(&name)
    {
        t.complete(name);
    }
    Flow::Go
}

async fn scan<H: Handler>(t: &mut Tracker, folder: &Arc<Folder>, handler: &H) {
    let f = folder.clone();
    let listed = match blocking(move || f.list()).await {
        Some(Ok(listed)) => listed,
        Some(Err(e)) => {
            warn!(folder = %folder.path().display(), error = %e, "cannot list the folder");
            return;
        }
        None => return,
    };
    t.stuck
        .retain(|name, ino| listed.iter().any(|(n, id)| n == name && id.ino == *ino));
    let now = SystemTime::now();
    for (name, id) in listed {
        if handler.wants(&name) {
            t.seen(name, &id, now);
        }
    }
}

async fn recheck(t: &mut Tracker, folder: &Arc<Folder>) {
    let now = Instant::now();
    let due: Vec<OsString> = t
        .pending
        .iter()
        .filter(|(_, at)| **at <= now)
        .map(|(name, _)| name.clone())
        .collect();
    for name in due {
        t.pending.remove(&name);
        let f = folder.clone();
        let n = name.clone();
        if let Some(Some(id)) = blocking(move || f.identity(&n)).await {
            t.seen(name, &id, SystemTime::now());
        }
    }
}

async fn act<H: Handler>(t: &mut Tracker, folder: &Arc<Folder>, handler: &mut H, name: OsString) {
    let f = folder.clone();
    let n = name.clone();
    let Some(Some(before)) = blocking(move || f.identity(&n)).await else {
        debug!(entry = ?name, "gone before its turn");
        return;
    };
    if t.is_stuck(&name, &before) {
        return;
    }
    let age = SystemTime::now()
        .duration_since(before.modified)
        .unwrap_or_default();
    if before.is_empty && age < QUIET {
        // Perhaps only just created, to be written by a second open: wait until it is quiet,
        // or written and closed again.
        t.pending.insert(name, Instant::now() + (QUIET - age));
        return;
    }
    handler.handle(name.clone()).await;
    let f = folder.clone();
    let n = name.clone();
    match blocking(move || f.identity(&n)).await.flatten() {
        Some(after) => {
            warn!(
                folder = %folder.path().display(),
                entry = ?name,
                "entry still there after it was handled; it will not be acted on again"
            );
            t.stuck.insert(name, after.ino);
        }
        None => {
            t.stuck.remove(&name);
        }
    }
}

async fn run<H: Handler>(
    folder: Arc<Folder>,
    mut events: inotify::EventStream<[u8; 4096]>,
    mut handler: H,
    mut stop: oneshot::Receiver<()>,
) {
    let mut t = Tracker::default();
    scan(&mut t, &folder, &handler).await;
    debug!(folder = %folder.path().display(), "watching");
    loop {
        while let Some(name) = t.queue.pop_front() {
            if !matches!(stop.try_recv(), Err(oneshot::error::TryRecvError::Empty)) {
                return;
            }
            act(&mut t, &folder, &mut handler, name).await;
        }
        let recheck_at = t.next_recheck();
        tokio::select! {
            _ = &mut stop => return,
            event = events.next() => match event {
                Some(Ok(event)) => match on_event(&mut t, &handler, event) {
                    Flow::Go => {}
                    Flow::Rescan => {
                        info!(folder = %folder.path().display(), "event queue overflowed; rescanning");
                        scan(&mut t, &folder, &handler).await;
                    }
                    Flow::End => {
                        info!(folder = %folder.path().display(), "folder removed; watcher ends");
                        return;
                    }
                },
                Some(Err(e)) => {
                    warn!(folder = %folder.path().display(), error = %e, "cannot read events; rescanning");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    scan(&mut t, &folder, &handler).await;
                }
                None => return,
            },
            () = async {
                if let Some(at) = recheck_at {
                    tokio::time::sleep_until(at).await;
                }
            }, if recheck_at.is_some() => recheck(&mut t, &folder).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ino: u64, age: Duration) -> Identity {
        Identity {
            ino,
            modified: SystemTime::now() - age,
            is_dir: false,
            is_empty: false,
        }
    }

    #[test]
    fn entries_are_queued_once() {
        let mut t = Tracker::default();
        t.complete("a".into());
        t.complete("b".into());
        t.complete("a".into());
        assert_eq!(t.queue, ["a", "b"]);
    }

    #[test]
    fn a_scan_waits_for_quiet_entries() {
        let mut t = Tracker::default();
        let now = SystemTime::now();
        t.seen("old".into(), &id(1, QUIET * 2), now);
        t.seen("young".into(), &id(2, Duration::ZERO), now);
        assert_eq!(t.queue, ["old"]);
        assert!(t.pending.contains_key(OsStr::new("young")));
        assert!(t.next_recheck().is_some());
        // Its event comes first: complete at once, no longer pending.
        t.complete("young".into());
        assert!(t.pending.is_empty());
        assert_eq!(t.queue, ["old", "young"]);
    }

    #[test]
    fn handled_entries_are_not_taken_again_but_new_files_are() {
        let mut t = Tracker::default();
        t.stuck.insert("job.ready".into(), 7);
        t.seen("job.ready".into(), &id(7, QUIET * 2), SystemTime::now());
        assert!(t.queue.is_empty());
        t.seen("job.ready".into(), &id(8, QUIET * 2), SystemTime::now());
        assert_eq!(t.queue, ["job.ready"]);
        let dir = Identity {
            is_dir: true,
            ..id(9, QUIET * 2)
        };
        t.seen("folder".into(), &dir, SystemTime::now());
        assert_eq!(t.queue, ["job.ready"]);
    }

    /// A handler that records each call and leaves the entry in place (as when its removal
    /// failed).
    struct Leaves(Arc<std::sync::Mutex<Vec<OsString>>>);

    impl Handler for Leaves {
        fn wants(&self, name: &OsStr) -> bool {
            use std::os::unix::ffi::OsStrExt;
            !name.as_bytes().starts_with(b"ignored")
        }

        async fn handle(&mut self, name: OsString) {
            self.0.lock().unwrap().push(name);
        }
    }

    #[tokio::test]
    async fn an_entry_left_in_place_is_not_acted_on_again_until_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let folder = Arc::new(Folder::open(dir.path()).unwrap());
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let watch = Watch::start(folder, Leaves(calls.clone())).unwrap();
        let count = || calls.lock().unwrap().len();
        let settle = || tokio::time::sleep(Duration::from_millis(300));

        let job = dir.path().join("job");
        std::fs::write(&job, b"1").unwrap();
        std::fs::write(dir.path().join("ignored"), b"x").unwrap();
        settle().await;
        assert_eq!(count(), 1);
        // More events for the same file: written and closed again, renamed onto itself.
        for _ in 0..3 {
            std::fs::OpenOptions::new().append(true).open(&job).unwrap();
        }
        std::fs::rename(&job, &job).unwrap();
        settle().await;
        assert_eq!(count(), 1);
        // A new file under the same name is a new entry.
        let tmp = dir.path().join("ignored-tmp");
        std::fs::write(&tmp, b"2").unwrap();
        std::fs::rename(&tmp, &job).unwrap();
        settle().await;
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls, ["job", "job"]);
        watch.stop().await;
    }
}
