//! A local folder the X2Go server writes into (through the session's sshfs mount), and the
//! only way its entries are opened, read and removed.
//!
//! The folder itself is ours (the caller names it), but every name in it and every byte of it
//! comes from the server: an entry may be a symlink out of the folder, a hard link to one of the
//! user's files, a FIFO that blocks a reader forever, a device-sized file or anything else.
//! Entries are therefore opened relative to the folder's descriptor, never following a symlink
//! and without blocking, and accepted only as single-linked regular files of bounded size; the
//! copy is read from that very descriptor, so a name swapped after the checks does not matter.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{DirBuilder, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::error::Error;

/// The default limit on a print job's PDF or a MIME box file, in bytes.
pub const DEFAULT_MAX_SIZE: u64 = 512 << 20;

/// How far into a file the `%PDF-` marker may start (PDF readers accept leading garbage up to
/// this offset, and so do we).
const PDF_MARKER_WITHIN: usize = 1024;

/// Why an entry the server wrote was not acted on. Shown in logs; never an [`Error`].
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The name is not one plain file name (`..`, a slash, empty).
    NotPlainName,
    /// Nothing by that name (any more).
    Missing,
    /// A symbolic link (never followed).
    Symlink,
    /// A directory, FIFO, socket or device rather than a regular file.
    NotRegular,
    /// A regular file with more than one name: possibly a link to a file outside the folder.
    HardLinked,
    /// Larger than the limit (or it grew past it while being copied).
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// Not a PDF document.
    NotPdf,
    /// A job file that does not say what the protocol says it must.
    BadJobFile(&'static str),
    /// A name starting with a dot (hidden files are never acted on).
    Hidden,
    /// A file name extension that is not allowed.
    Extension(String),
    /// Reading failed.
    Io(io::Error),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotPlainName => f.write_str("not a plain file name"),
            Refusal::Missing => f.write_str("no such file"),
            Refusal::Symlink => f.write_str("a symbolic link"),
            Refusal::NotRegular => f.write_str("not a regular file"),
            Refusal::HardLinked => f.write_str("a file with several hard links"),
            Refusal::TooLarge { max } => write!(f, "larger than the limit of {max} bytes"),
            Refusal::NotPdf => f.write_str("not a PDF document"),
            Refusal::BadJobFile(why) => write!(f, "malformed job file: {why}"),
            Refusal::Hidden => f.write_str("a hidden file"),
            Refusal::Extension(ext) => write!(f, "file name extension {ext:?} is not allowed"),
            Refusal::Io(e) => write!(f, "cannot read it: {e}"),
        }
    }
}

/// What identifies one version of an entry: a new file under an old name has another inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The inode number.
    pub ino: u64,
    /// The last modification.
    pub modified: SystemTime,
    /// A directory (never acted on, never removed).
    pub is_dir: bool,
    /// Empty (possibly only just created, to be written by a second open).
    pub is_empty: bool,
}

/// One folder, held open.
#[derive(Debug)]
pub(crate) struct Folder {
    path: PathBuf,
    fd: OwnedFd,
}

/// Whether `name` is one plain file name: not empty, no slash, not `.` or `..`.
pub(crate) fn is_plain_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && b != b"." && b != b".." && !b.contains(&b'/') && !b.contains(&0)
}

/// Creates `path` and its missing parents, private to the user (0700).
pub(crate) fn create_private_dir(path: &Path) -> Result<(), Error> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| Error::Folder {
            path: path.to_owned(),
            source,
        })
}

impl Folder {
    /// Opens the folder at `path`, creating it (private to the user) when it is missing.
    pub(crate) fn open(path: &Path) -> Result<Folder, Error> {
        create_private_dir(path)?;
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::Folder {
            path: path.to_owned(),
            source: e.into(),
        })?;
        Ok(Folder {
            path: path.to_owned(),
            fd,
        })
    }

    /// The folder's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Every entry with its identity (symlinks are not followed).
    pub(crate) fn list(&self) -> io::Result<Vec<(OsString, Identity)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.path)? {
            let entry = entry?;
            // `DirEntry::metadata` does not follow symlinks.
            if let Ok(meta) = entry.metadata() {
                out.push((entry.file_name(), identity(&meta)));
            }
        }
        Ok(out)
    }

    /// The identity of entry `name`, or `None` when there is none.
    pub(crate) fn identity(&self, name: &OsStr) -> Option<Identity> {
        if !is_plain_name(name) {
            return None;
        }
        std::fs::symlink_metadata(self.path.join(name))
            .ok()
            .map(|m| identity(&m))
    }

    /// Opens entry `name` for reading, if it is a regular file with one name and at most `max`
    /// bytes. Never follows a symlink and never blocks (a FIFO is refused, not read).
    pub(crate) fn open_entry(&self, name: &OsStr, max: u64) -> Result<Entry, Refusal> {
        if !is_plain_name(name) {
            return Err(Refusal::NotPlainName);
        }
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = rustix::fs::openat(&self.fd, name, flags, Mode::empty()).map_err(|e| match e {
            Errno::LOOP => Refusal::Symlink,
            Errno::NOENT => Refusal::Missing,
            Errno::NXIO => Refusal::NotRegular,
            e => Refusal::Io(e.into()),
        })?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(Refusal::Io)?;
        if !meta.is_file() {
            return Err(Refusal::NotRegular);
        }
        if meta.nlink() != 1 {
            return Err(Refusal::HardLinked);
        }
        if meta.len() > max {
            return Err(Refusal::TooLarge { max });
        }
        Ok(Entry { file, max })
    }

    /// Removes entry `name` (the name only: a symlink's target is untouched). Succeeds when it
    /// is already gone.
    pub(crate) fn remove(&self, name: &OsStr) -> io::Result<()> {
        if !is_plain_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a plain file name",
            ));
        }
        match rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn identity(meta: &std::fs::Metadata) -> Identity {
    Identity {
        ino: meta.ino(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        is_dir: meta.is_dir(),
        is_empty: meta.len() == 0,
    }
}

/// An opened entry that passed [`Folder::open_entry`]'s checks.
#[derive(Debug)]
pub(crate) struct Entry {
    file: File,
    max: u64,
}

impl Entry {
    /// The whole content (for small job files), at most the limit the entry was opened with.
    pub(crate) fn read_all(&mut self) -> Result<Vec<u8>, Refusal> {
        let mut out = Vec::new();
        self.copy_to(&mut out)?;
        Ok(out)
    }

    /// Whether the content is a PDF document (`%PDF-` within the first kilobyte). Leaves the
    /// read position at the start.
    pub(crate) fn check_pdf(&mut self) -> Result<(), Refusal> {
        let mut head = Vec::with_capacity(PDF_MARKER_WITHIN);
        (&mut self.file)
            .take(PDF_MARKER_WITHIN as u64)
            .read_to_end(&mut head)
            .map_err(Refusal::Io)?;
        self.file.seek(SeekFrom::Start(0)).map_err(Refusal::Io)?;
        if head.windows(5).any(|w| w == b"%PDF-") {
            Ok(())
        } else {
            Err(Refusal::NotPdf)
        }
    }

    /// Copies the content from the read position to `out`; refuses a file that grew past the
    /// limit while being read.
    pub(crate) fn copy_to(&mut self, out: &mut dyn Write) -> Result<u64, Refusal> {
        let copied =
            io::copy(&mut (&mut self.file).take(self.max + 1), out).map_err(Refusal::Io)?;
        if copied > self.max {
            return Err(Refusal::TooLarge { max: self.max });
        }
        Ok(copied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for ok in [
            "a.pdf",
            "x2gotest-50_stDXFCE.pdf.ready",
            "..a",
            "a..",
            ".hidden",
        ] {
            assert!(is_plain_name(OsStr::new(ok)), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "/etc/passwd", "a/b", "a\0b"] {
            assert!(!is_plain_name(OsStr::new(bad)), "{bad:?}");
        }
    }

    #[test]
    fn entries_are_checked_before_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), b"%PDF-1.4 secret").unwrap();
        let folder = Folder::open(&dir.path().join("spool")).unwrap();
        let p = folder.path().to_owned();
        std::fs::write(p.join("ok.pdf"), b"%PDF-1.4\n").unwrap();
        std::fs::write(p.join("big.pdf"), vec![b'x'; 100]).unwrap();
        std::fs::write(p.join("text.pdf"), b"hello").unwrap();
        std::os::unix::fs::symlink(outside.path(), p.join("link.pdf")).unwrap();
        std::fs::hard_link(outside.path(), p.join("hard.pdf")).unwrap();
        std::fs::create_dir(p.join("dir.pdf")).unwrap();
        rustix::fs::mkfifoat(&folder.fd, "fifo.pdf", Mode::RUSR | Mode::WUSR).unwrap();

        let mut ok = folder.open_entry(OsStr::new("ok.pdf"), 50).unwrap();
        ok.check_pdf().unwrap();
        assert_eq!(ok.read_all().unwrap(), b"%PDF-1.4\n");
        let refused = |name: &str| folder.open_entry(OsStr::new(name), 50).unwrap_err();
        assert!(matches!(refused("big.pdf"), Refusal::TooLarge { max: 50 }));
        assert!(matches!(refused("link.pdf"), Refusal::Symlink));
        assert!(matches!(refused("hard.pdf"), Refusal::HardLinked));
        assert!(matches!(refused("dir.pdf"), Refusal::NotRegular));
        assert!(matches!(refused("fifo.pdf"), Refusal::NotRegular));
        assert!(matches!(refused("gone.pdf"), Refusal::Missing));
        assert!(matches!(refused("../x"), Refusal::NotPlainName));
        let mut text = folder.open_entry(OsStr::new("text.pdf"), 50).unwrap();
        assert!(matches!(text.check_pdf(), Err(Refusal::NotPdf)));

        folder.remove(OsStr::new("link.pdf")).unwrap();
        folder.remove(OsStr::new("link.pdf")).unwrap();
        assert!(outside.path().exists());
        assert!(folder.remove(OsStr::new("../x")).is_err());
    }
}
