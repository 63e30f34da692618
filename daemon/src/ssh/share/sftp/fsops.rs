//! The file-system side of the requests: blocking calls that resolve client paths through
//! the [`Jail`] and act on what they find. Each runs on tokio's blocking pool (the session
//! sends it there); none resolves a path outside the jail's directory descriptors, so
//! neither `..`, nor symlinks, nor a rename racing with the lookup can reach a file outside
//! the shared folders.

use std::{
    ffi::OsStr,
    fs::File,
    os::{fd::AsRawFd, unix::fs::FileExt},
    sync::Arc,
};

use russh_sftp::protocol::{File as Entry, FileAttributes, OpenFlags, StatusCode};
use rustix::{
    fd::{BorrowedFd, OwnedFd},
    fs::{AtFlags, Dir, FileType, Mode, OFlags, RenameFlags, Stat, Timespec, Timestamps},
    io::Errno,
};

use super::super::jail::Jail;
use super::attrs::{allowed_mode, entry_of, unix_now};
use super::errors::{Error, denied};
use super::handles::{Listing, OpenFile};

/// Directory entries per READDIR reply: five times OpenSSH's 100, so that listing a large
/// folder takes a fifth of the round trips (through two SSH layers); at ~150 bytes an entry a
/// reply stays well below 256 KiB.
const READDIR_BATCH: usize = 500;
/// `SSH2_FXE_STATVFS_ST_RDONLY` of OpenSSH's `PROTOCOL` file: set for read-only roots too.
pub(super) const STATVFS_RDONLY: u64 = 0x1;
/// `SSH2_FXE_STATVFS_ST_NOSUID` of OpenSSH's `PROTOCOL` file.
const STATVFS_NOSUID: u64 = 0x2;

/// Opens a file for a handle. Modifying opens are refused under read-only roots. Only regular
/// files can be opened: `O_NONBLOCK` keeps a FIFO from blocking a thread in `open`, and the
/// type check keeps reads and writes from blocking on one afterwards.
pub(super) fn open_file(
    jail: &Jail,
    path: &[u8],
    pflags: OpenFlags,
    attrs: &FileAttributes,
) -> Result<OpenFile, Error> {
    let (root, rel) = jail.locate(path)?;
    let modifying = OpenFlags::WRITE | OpenFlags::APPEND | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    if pflags.intersects(modifying) && root.is_read_only() {
        return Err(denied());
    }
    let writable = pflags.contains(OpenFlags::WRITE);
    let mut flags = match (pflags.contains(OpenFlags::READ), writable) {
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    };
    if pflags.contains(OpenFlags::APPEND) {
        flags |= OFlags::APPEND;
    }
    if pflags.contains(OpenFlags::CREATE) {
        flags |= OFlags::CREATE;
        if pflags.contains(OpenFlags::EXCLUDE) {
            flags |= OFlags::EXCL;
        }
    }
    if pflags.contains(OpenFlags::TRUNCATE) {
        flags |= OFlags::TRUNC;
    }
    flags |= OFlags::NOCTTY | OFlags::NONBLOCK;
    // Plain permission bits only: a remote must not plant set-id programs in the user's files.
    let mode = Mode::from_bits_truncate(attrs.permissions.map_or(0o666, |p| p & 0o777));
    // No separate parent lookup for O_CREAT: openat2 confines the creation the same way (a
    // final symlink is followed only beneath the root; a dangling one pointing out is EXDEV).
    let fd = root.open(rel, flags, mode)?;
    if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
        return Err(Error::Status(StatusCode::Failure, "not a regular file"));
    }
    let fl = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, fl - OFlags::NONBLOCK)?;
    Ok(OpenFile {
        file: File::from(fd),
        root,
        writable,
    })
}

/// Reads up to `len` bytes at `offset`, looping over short reads; EOF when nothing is left.
pub(super) fn read_at(file: &File, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
    let mut buf = vec![0; len];
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, offset.saturating_add(filled as u64)) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // What was read is still good; the error shows again on the next read.
            Err(_) if filled > 0 => break,
            Err(e) => return Err(e.into()),
        }
    }
    if filled == 0 && len > 0 {
        return Err(Error::Status(StatusCode::Eof, ""));
    }
    buf.truncate(filled);
    Ok(buf)
}

/// `stat` (`follow`) or `lstat` of a path: an `O_PATH` descriptor resolved beneath the root,
/// then `fstat` on it, so the call itself never resolves a path.
pub(super) fn stat_path(jail: &Jail, path: &[u8], follow: bool) -> Result<Stat, Error> {
    let (root, rel) = jail.locate(path)?;
    let flags = if follow {
        OFlags::PATH
    } else {
        OFlags::PATH | OFlags::NOFOLLOW
    };
    let fd = root.open(rel, flags, Mode::empty())?;
    Ok(rustix::fs::fstat(&fd)?)
}

/// What [`set_attrs`] acts on: an open descriptor, or the `/proc/self/fd/N` name of an
/// `O_PATH` descriptor (which cannot be passed to `fchmod` and friends).
pub(super) enum Target<'a> {
    /// A descriptor opened for the change (an open file or directory handle).
    Fd(BorrowedFd<'a>),
    /// `/proc/self/fd/N` of an `O_PATH` descriptor resolved beneath the root.
    Proc(&'a str),
}

/// SETSTAT on a path. The path is resolved once, beneath the root, to an `O_PATH` descriptor
/// (following a final symlink only as far as it stays inside); the changes then go through
/// `/proc/self/fd/N`, which names exactly that inode, so no call re-resolves the client path.
pub(super) fn setstat_path(jail: &Jail, path: &[u8], attrs: &FileAttributes) -> Result<(), Error> {
    let (root, rel) = jail.locate(path)?;
    if root.is_read_only() {
        return Err(denied());
    }
    let fd = root.open(rel, OFlags::PATH, Mode::empty())?;
    let proc = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let result = set_attrs(Target::Proc(&proc), attrs);
    drop(fd);
    result
}

/// Applies SFTP attributes in OpenSSH's order: size, permissions, times, owner.
pub(super) fn set_attrs(target: Target<'_>, attrs: &FileAttributes) -> Result<(), Error> {
    if let Some(size) = attrs.size {
        match target {
            Target::Fd(fd) => rustix::fs::ftruncate(fd, size)?,
            Target::Proc(path) => {
                // A real descriptor is needed for ftruncate; O_NONBLOCK so that a FIFO cannot
                // block the open.
                let flags = OFlags::WRONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
                let fd = rustix::fs::open(path, flags, Mode::empty())?;
                rustix::fs::ftruncate(&fd, size)?;
            }
        }
    }
    if let Some(perms) = attrs.permissions {
        let st = match target {
            Target::Fd(fd) => rustix::fs::fstat(fd)?,
            Target::Proc(path) => rustix::fs::stat(path)?,
        };
        let mode = allowed_mode(perms, st.st_mode);
        match target {
            Target::Fd(fd) => rustix::fs::fchmod(fd, mode)?,
            Target::Proc(path) => rustix::fs::chmod(path, mode)?,
        }
    }
    if attrs.atime.is_some() || attrs.mtime.is_some() {
        let time = |t: Option<u32>| match t {
            Some(secs) => Timespec {
                tv_sec: i64::from(secs),
                tv_nsec: 0,
            },
            None => Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_OMIT,
            },
        };
        let times = Timestamps {
            last_access: time(attrs.atime),
            last_modification: time(attrs.mtime),
        };
        match target {
            Target::Fd(fd) => rustix::fs::futimens(fd, &times)?,
            Target::Proc(path) => {
                rustix::fs::utimensat(rustix::fs::CWD, path, &times, AtFlags::empty())?
            }
        }
    }
    if attrs.uid.is_some() || attrs.gid.is_some() {
        // u32::MAX is chown's "leave unchanged".
        let uid = attrs
            .uid
            .filter(|&u| u != u32::MAX)
            .map(rustix::fs::Uid::from_raw_unchecked);
        let gid = attrs
            .gid
            .filter(|&g| g != u32::MAX)
            .map(rustix::fs::Gid::from_raw_unchecked);
        match target {
            Target::Fd(fd) => rustix::fs::fchown(fd, uid, gid)?,
            Target::Proc(path) => rustix::fs::chown(path, uid, gid)?,
        }
    }
    Ok(())
}

/// Opens a directory beneath its root for listing (following a final symlink that stays
/// inside).
pub(super) fn open_dir(jail: &Jail, path: &[u8]) -> Result<Listing, Error> {
    let (root, rel) = jail.locate(path)?;
    let fd: OwnedFd = root.open(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
    let st = rustix::fs::fstat(&fd)?;
    let root_st = rustix::fs::fstat(root.fd())?;
    Ok(Listing {
        dir: Dir::new(fd)?,
        is_root: (st.st_dev, st.st_ino) == (root_st.st_dev, root_st.st_ino),
        ended: false,
        root,
    })
}

/// The next batch of entries, with `lstat` attributes (one component, relative to the open
/// directory: no path to escape through) and an `ls -l` style long name; EOF at the end.
pub(super) fn read_dir(l: &mut Listing) -> Result<Vec<Entry>, Error> {
    if l.ended {
        return Err(Error::Status(StatusCode::Eof, ""));
    }
    let now = unix_now();
    let mut files = Vec::new();
    while files.len() < READDIR_BATCH {
        let entry = match l.dir.read() {
            None => {
                l.ended = true;
                break;
            }
            Some(Ok(entry)) => entry,
            Some(Err(e)) if files.is_empty() => return Err(e.into()),
            // Send what we have; the stream reports its end next time.
            Some(Err(_)) => break,
        };
        let name = entry.file_name();
        let dir = l.dir.fd()?;
        let st = if name == c".." && l.is_root {
            rustix::fs::fstat(dir)
        } else {
            rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        };
        // An entry removed since it was read is skipped, as OpenSSH does.
        if let Ok(st) = st {
            files.push(entry_of(name, &st, now));
        }
    }
    if files.is_empty() {
        return Err(Error::Status(StatusCode::Eof, ""));
    }
    Ok(files)
}

/// Resolves the parent of an entry to be created, removed or renamed, refusing under
/// read-only roots.
pub(super) fn parent_for_change<'p>(
    jail: &Jail,
    path: &'p [u8],
) -> Result<(OwnedFd, &'p OsStr), Error> {
    let (root, rel) = jail.locate(path)?;
    if root.is_read_only() {
        return Err(denied());
    }
    Ok(root.open_parent(rel)?)
}

/// Resolves two entries that must lie in the same writable root (a rename or link never
/// crosses shared folders) and applies `op` to their parents and names.
pub(super) fn two_entries(
    jail: &Jail,
    old: &[u8],
    new: &[u8],
    op: impl FnOnce(&OwnedFd, &OsStr, &OwnedFd, &OsStr) -> Result<(), Errno>,
) -> Result<(), Error> {
    let (old_root, old_rel) = jail.locate(old)?;
    let (new_root, new_rel) = jail.locate(new)?;
    if !Arc::ptr_eq(&old_root, &new_root) || old_root.is_read_only() {
        return Err(denied());
    }
    let (old_parent, old_name) = old_root.open_parent(old_rel)?;
    let (new_parent, new_name) = new_root.open_parent(new_rel)?;
    Ok(op(&old_parent, old_name, &new_parent, new_name)?)
}

/// SSH_FXP_RENAME: the draft says an existing target is an error (unlike posix-rename).
pub(super) fn rename_noreplace(
    op: &OwnedFd,
    on: &OsStr,
    np: &OwnedFd,
    nn: &OsStr,
) -> Result<(), Errno> {
    match rustix::fs::renameat_with(op, on, np, nn, RenameFlags::NOREPLACE) {
        // File systems without RENAME_NOREPLACE: check, then rename (racy, as OpenSSH's
        // fallback; only an existing target could be replaced, nothing outside reached).
        Err(Errno::INVAL) => {
            if rustix::fs::statat(np, nn, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                return Err(Errno::EXIST);
            }
            rustix::fs::renameat(op, on, np, nn)
        }
        other => other,
    }
}

/// The statvfs@openssh.com reply: eleven u64 in OpenSSH's order. The read-only flag is set for
/// read-only roots too, so that sshfs knows.
pub(super) fn statvfs(jail: &Jail, path: &[u8]) -> Result<Vec<u8>, Error> {
    let (root, rel) = jail.locate(path)?;
    let fd = root.open(rel, OFlags::PATH, Mode::empty())?;
    let st = rustix::fs::fstatvfs(&fd)?;
    let mut flag = 0;
    if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) || root.is_read_only() {
        flag |= STATVFS_RDONLY;
    }
    if st.f_flag.contains(rustix::fs::StatVfsMountFlags::NOSUID) {
        flag |= STATVFS_NOSUID;
    }
    let fields = [
        st.f_bsize,
        st.f_frsize,
        st.f_blocks,
        st.f_bfree,
        st.f_bavail,
        st.f_files,
        st.f_ffree,
        st.f_favail,
        st.f_fsid,
        flag,
        st.f_namemax,
    ];
    Ok(fields.iter().flat_map(|v| v.to_be_bytes()).collect())
}

/// REALPATH without touching the file system: `.` or empty is the first root (the client's
/// working directory; `/` when nothing is shared), relative paths are taken from there, and
/// `.` and `..` are folded lexically. The result must lie within a root.
pub(super) fn realpath(jail: &Jail, path: &str) -> Result<String, Error> {
    let first = jail
        .first_root()
        .map(|r| r.path().to_string_lossy().into_owned());
    if path.is_empty() || path == "." {
        return Ok(first.unwrap_or_else(|| "/".to_owned()));
    }
    let mut parts: Vec<&str> = Vec::new();
    let base = if path.starts_with('/') {
        None
    } else {
        Some(first.as_deref().ok_or_else(denied)?)
    };
    for part in base.into_iter().chain([path]).flat_map(|p| p.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let normal = format!("/{}", parts.join("/"));
    jail.locate(normal.as_bytes())?;
    Ok(normal)
}
