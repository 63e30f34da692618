//! The handle table of a session: what an SFTP handle string stands for. Handles are opaque
//! decimal counters mapping to descriptors opened once, so reads and writes on them never
//! resolve a path again.

use std::{
    collections::HashMap,
    fs::File,
    sync::{Arc, Mutex},
};

use russh_sftp::protocol::StatusCode;
use rustix::fs::Dir;

use super::super::jail::Root;
use super::errors::{Error, bad_handle};

/// Open handles per session; beyond this `open`/`opendir` fail, so a client cannot exhaust
/// the daemon's descriptors (OpenSSH's sftp-server has a similar cap).
pub(super) const MAX_HANDLES: usize = 1024;

/// What one handle stands for. Shared (`Arc`) so that a request can take it to the blocking
/// pool while the table stays with the session.
pub(super) enum Handle {
    /// A file opened by OPEN.
    File(Arc<OpenFile>),
    /// A directory opened by OPENDIR; the lock serialises the stream position, which READDIR
    /// advances.
    Dir(Arc<Mutex<Listing>>),
}

/// A regular file opened for a handle.
pub(super) struct OpenFile {
    /// The descriptor, opened once beneath the root.
    pub(super) file: File,
    /// The root the file was opened under: its read-only flag is checked again on each write.
    pub(super) root: Arc<Root>,
    /// Opened for writing (and allowed to be, at open time).
    pub(super) writable: bool,
}

/// A directory being listed for a handle.
pub(super) struct Listing {
    /// The open directory stream.
    pub(super) dir: Dir,
    /// The directory is the root itself: its `..` entry is reported with the root's own
    /// attributes instead of those of the directory above the share.
    pub(super) is_root: bool,
    /// The end was reached; further READDIRs answer EOF without touching the directory.
    pub(super) ended: bool,
    /// The root the directory was opened under: its read-only flag is checked on FSETSTAT.
    pub(super) root: Arc<Root>,
}

/// The open handles of one session. Requests arrive one at a time (russh-sftp awaits each
/// handler before reading the next packet), so the table needs no lock.
#[derive(Default)]
pub(super) struct Handles {
    open: HashMap<u64, Handle>,
    /// The next handle number; never reused, so a stale handle cannot name a new file.
    next: u64,
}

impl Handles {
    /// Fails when [`MAX_HANDLES`] are open: checked before opening, so that nothing is opened
    /// only to be closed again.
    pub(super) fn check_room(&self) -> Result<(), Error> {
        if self.open.len() >= MAX_HANDLES {
            return Err(Error::Status(StatusCode::Failure, "too many open handles"));
        }
        Ok(())
    }

    /// Adds `handle` under a new number and returns the string the client will use.
    pub(super) fn insert(&mut self, handle: Handle) -> String {
        let key = self.next;
        self.next += 1;
        self.open.insert(key, handle);
        key.to_string()
    }

    /// The handle a client string names.
    pub(super) fn get(&self, handle: &str) -> Result<&Handle, Error> {
        handle
            .parse::<u64>()
            .ok()
            .and_then(|key| self.open.get(&key))
            .ok_or_else(bad_handle)
    }

    /// The file a client string names; a directory handle is refused like an unknown one.
    pub(super) fn file(&self, handle: &str) -> Result<Arc<OpenFile>, Error> {
        match self.get(handle)? {
            Handle::File(f) => Ok(Arc::clone(f)),
            Handle::Dir(_) => Err(bad_handle()),
        }
    }

    /// Takes the handle a client string names out of the table (CLOSE), for the caller to
    /// drop where closing may block.
    pub(super) fn remove(&mut self, handle: &str) -> Result<Handle, Error> {
        let key = handle.parse::<u64>().map_err(|_| bad_handle())?;
        self.open.remove(&key).ok_or_else(bad_handle)
    }
}
