//! The SFTP (version 3) server behind a share: what the X2Go server's `sshfs` talks to.
//!
//! Every path the client names goes through the [`Jail`]: it is mapped to a shared root and
//! resolved beneath that root's directory descriptor by the kernel (see `jail.rs`), so neither
//! `..`, nor symlinks, nor a rename racing with the lookup can reach a file outside the shared
//! folders. Modifying requests are refused under read-only roots, with the root's flag read at
//! each request (it can change while the share is mounted).
//!
//! Open files and directories are handles: opaque decimal counters mapping to descriptors
//! opened once, so reads and writes on them never resolve a path again. File-system calls run
//! on tokio's blocking pool; requests arrive one at a time (russh-sftp awaits each handler
//! before reading the next packet), so the handle table needs no lock.
//!
//! Paths arrive as UTF-8 strings (russh-sftp decodes them lossily), so names that are not
//! valid UTF-8 are listed with U+FFFD in them and cannot be opened through the share.

use std::{
    collections::HashMap,
    ffi::{CStr, OsStr},
    fs::File,
    os::{fd::AsRawFd, unix::fs::FileExt},
    sync::{Arc, Mutex, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

use russh_sftp::{
    protocol::{
        Attrs, Data, ExtendedReply, File as Entry, FileAttributes, Handle as HandleReply, Name,
        OpenFlags, Packet, Status, StatusCode, Version,
    },
    server::StatusReply,
};
use rustix::{
    fd::{AsFd, BorrowedFd, OwnedFd},
    fs::{AtFlags, Dir, FileType, Mode, OFlags, RenameFlags, Stat, Timespec, Timestamps},
    io::Errno,
};

use super::jail::{Jail, Root};

/// Open handles per session; beyond this `open`/`opendir` fail, so a client cannot exhaust
/// the daemon's descriptors (OpenSSH's sftp-server has a similar cap).
const MAX_HANDLES: usize = 1024;
/// Largest read answered in one reply: OpenSSH's limit, so that the reply fits in the 256 KiB
/// packets clients accept, and a client cannot make us allocate gigabytes.
const MAX_READ: u32 = 256 * 1024 - 1024;
/// Directory entries per READDIR reply (as OpenSSH), keeping replies well below 256 KiB.
const READDIR_BATCH: usize = 100;
/// `SSH2_FXE_STATVFS_ST_RDONLY` and `_ST_NOSUID` of OpenSSH's `PROTOCOL` file.
const STATVFS_RDONLY: u64 = 0x1;
/// See [`STATVFS_RDONLY`].
const STATVFS_NOSUID: u64 = 0x2;

/// A failed request: becomes the `SSH_FXP_STATUS` reply.
#[derive(Debug)]
pub(super) enum Error {
    /// A system call failed; mapped to the closest SFTP status.
    Os(Errno),
    /// A status of our own with a fixed message (empty: the code's default text).
    Status(StatusCode, &'static str),
}

impl From<Errno> for Error {
    fn from(errno: Errno) -> Error {
        Error::Os(errno)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        match Errno::from_io_error(&e) {
            Some(errno) => Error::Os(errno),
            None => Error::Status(StatusCode::Failure, "input/output error"),
        }
    }
}

impl From<Error> for StatusReply {
    fn from(e: Error) -> StatusReply {
        match e {
            Error::Os(Errno::NOENT) => StatusReply::new(StatusCode::NoSuchFile),
            // EXDEV and ELOOP are how openat2 reports an attempted escape from the root.
            Error::Os(Errno::ACCESS | Errno::PERM | Errno::XDEV | Errno::LOOP) => {
                StatusReply::new(StatusCode::PermissionDenied)
            }
            // File-system messages name no secrets; they help the person reading sshfs's log.
            Error::Os(errno) => StatusCode::Failure.with_message(errno.to_string()),
            Error::Status(code, "") => StatusReply::new(code),
            Error::Status(code, message) => code.with_message(message),
        }
    }
}

fn denied() -> Error {
    Error::Os(Errno::ACCESS)
}

fn bad_handle() -> Error {
    Error::Status(StatusCode::Failure, "invalid handle")
}

/// An SSH_FX_OK status. Empty strings: they cost no allocation, and clients ignore the text of
/// a success.
fn ok(id: u32) -> Status {
    Status {
        id,
        status_code: StatusCode::Ok,
        error_message: String::new(),
        language_tag: String::new(),
    }
}

/// Runs a blocking file-system call on tokio's blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => {
            tracing::warn!("SFTP file-system task failed: {e}");
            Err(Error::Status(StatusCode::Failure, "internal error"))
        }
    }
}

/// One SFTP session (one `sftp` subsystem channel) over the folders of a [`Jail`].
pub(super) struct SftpSession {
    jail: Arc<Jail>,
    handles: HashMap<u64, Handle>,
    /// The next handle number; never reused, so a stale handle cannot name a new file.
    next_handle: u64,
}

enum Handle {
    File(Arc<OpenFile>),
    Dir(Arc<Mutex<Listing>>),
}

struct OpenFile {
    file: File,
    /// The root the file was opened under: its read-only flag is checked again on each write.
    root: Arc<Root>,
    /// Opened for writing (and allowed to be, at open time).
    writable: bool,
}

struct Listing {
    dir: Dir,
    /// The directory is the root itself: its `..` entry is reported with the root's own
    /// attributes instead of those of the directory above the share.
    is_root: bool,
    /// The end was reached; further READDIRs answer EOF without touching the directory.
    ended: bool,
    root: Arc<Root>,
}

impl SftpSession {
    /// A session serving the folders of `jail`, with no open handles.
    pub(super) fn new(jail: Arc<Jail>) -> SftpSession {
        SftpSession {
            jail,
            handles: HashMap::new(),
            next_handle: 0,
        }
    }

    fn check_room(&self) -> Result<(), Error> {
        if self.handles.len() >= MAX_HANDLES {
            return Err(Error::Status(StatusCode::Failure, "too many open handles"));
        }
        Ok(())
    }

    fn insert(&mut self, handle: Handle) -> String {
        let key = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(key, handle);
        key.to_string()
    }

    fn get(&self, handle: &str) -> Result<&Handle, Error> {
        handle
            .parse::<u64>()
            .ok()
            .and_then(|key| self.handles.get(&key))
            .ok_or_else(bad_handle)
    }

    fn file(&self, handle: &str) -> Result<Arc<OpenFile>, Error> {
        match self.get(handle)? {
            Handle::File(f) => Ok(Arc::clone(f)),
            Handle::Dir(_) => Err(bad_handle()),
        }
    }

    fn jail(&self) -> Arc<Jail> {
        Arc::clone(&self.jail)
    }
}

impl russh_sftp::server::Handler for SftpSession {
    type Error = Error;

    fn unimplemented(&self) -> Error {
        Error::Status(StatusCode::OpUnsupported, "")
    }

    async fn init(
        &mut self,
        _version: u32,
        _extensions: HashMap<String, String>,
    ) -> Result<Version, Error> {
        let mut version = Version::new();
        for (name, ver) in [
            ("posix-rename@openssh.com", "1"),
            ("statvfs@openssh.com", "2"),
            ("fsync@openssh.com", "1"),
            ("hardlink@openssh.com", "1"),
        ] {
            version.extensions.insert(name.to_owned(), ver.to_owned());
        }
        Ok(version)
    }

    async fn open(
        &mut self,
        id: u32,
        filename: String,
        pflags: OpenFlags,
        attrs: FileAttributes,
    ) -> Result<HandleReply, Error> {
        self.check_room()?;
        let jail = self.jail();
        let file = blocking(move || open_file(&jail, filename.as_bytes(), pflags, &attrs)).await?;
        let handle = self.insert(Handle::File(Arc::new(file)));
        Ok(HandleReply { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Error> {
        let key = handle.parse::<u64>().map_err(|_| bad_handle())?;
        let handle = self.handles.remove(&key).ok_or_else(bad_handle)?;
        // close(2) may flush to a network or FUSE file system: not on the async threads.
        blocking(move || {
            drop(handle);
            Ok(())
        })
        .await?;
        Ok(ok(id))
    }

    async fn read(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        len: u32,
    ) -> Result<Data, Error> {
        let f = self.file(&handle)?;
        let len = len.min(MAX_READ) as usize;
        let data = blocking(move || read_at(&f.file, offset, len)).await?;
        Ok(Data { id, data })
    }

    async fn write(
        &mut self,
        id: u32,
        handle: String,
        offset: u64,
        data: Vec<u8>,
    ) -> Result<Status, Error> {
        let f = self.file(&handle)?;
        // Both: the handle may be read-only, and the root may have become read-only since.
        if !f.writable || f.root.is_read_only() {
            return Err(denied());
        }
        blocking(move || Ok(f.file.write_all_at(&data, offset)?)).await?;
        Ok(ok(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Error> {
        let jail = self.jail();
        let st = blocking(move || stat_path(&jail, path.as_bytes(), false)).await?;
        Ok(Attrs {
            id,
            attrs: attrs_of(&st),
        })
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Error> {
        let jail = self.jail();
        let st = blocking(move || stat_path(&jail, path.as_bytes(), true)).await?;
        Ok(Attrs {
            id,
            attrs: attrs_of(&st),
        })
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Error> {
        let st = match self.get(&handle)? {
            Handle::File(f) => {
                let f = Arc::clone(f);
                blocking(move || Ok(rustix::fs::fstat(&f.file)?)).await?
            }
            Handle::Dir(l) => {
                let l = Arc::clone(l);
                blocking(move || {
                    let l = l.lock().unwrap_or_else(PoisonError::into_inner);
                    Ok(rustix::fs::fstat(l.dir.fd()?)?)
                })
                .await?
            }
        };
        Ok(Attrs {
            id,
            attrs: attrs_of(&st),
        })
    }

    async fn setstat(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Error> {
        let jail = self.jail();
        blocking(move || setstat_path(&jail, path.as_bytes(), &attrs)).await?;
        Ok(ok(id))
    }

    async fn fsetstat(
        &mut self,
        id: u32,
        handle: String,
        attrs: FileAttributes,
    ) -> Result<Status, Error> {
        match self.get(&handle)? {
            Handle::File(f) => {
                if f.root.is_read_only() {
                    return Err(denied());
                }
                let f = Arc::clone(f);
                blocking(move || set_attrs(Target::Fd(f.file.as_fd()), &attrs)).await?;
            }
            Handle::Dir(l) => {
                let l = Arc::clone(l);
                blocking(move || {
                    let l = l.lock().unwrap_or_else(PoisonError::into_inner);
                    if l.root.is_read_only() {
                        return Err(denied());
                    }
                    set_attrs(Target::Fd(l.dir.fd()?), &attrs)
                })
                .await?;
            }
        }
        Ok(ok(id))
    }

    async fn opendir(&mut self, id: u32, path: String) -> Result<HandleReply, Error> {
        self.check_room()?;
        let jail = self.jail();
        let listing = blocking(move || open_dir(&jail, path.as_bytes())).await?;
        let handle = self.insert(Handle::Dir(Arc::new(Mutex::new(listing))));
        Ok(HandleReply { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Error> {
        let Handle::Dir(l) = self.get(&handle)? else {
            return Err(bad_handle());
        };
        let l = Arc::clone(l);
        let files =
            blocking(move || read_dir(&mut l.lock().unwrap_or_else(PoisonError::into_inner)))
                .await?;
        Ok(Name { id, files })
    }

    async fn remove(&mut self, id: u32, filename: String) -> Result<Status, Error> {
        let jail = self.jail();
        blocking(move || {
            let (parent, name) = parent_for_change(&jail, filename.as_bytes())?;
            Ok(rustix::fs::unlinkat(&parent, name, AtFlags::empty())?)
        })
        .await?;
        Ok(ok(id))
    }

    async fn mkdir(
        &mut self,
        id: u32,
        path: String,
        attrs: FileAttributes,
    ) -> Result<Status, Error> {
        let jail = self.jail();
        // The kernel keeps only the permission and sticky bits of a new directory's mode.
        let mode = Mode::from_bits_truncate(attrs.permissions.map_or(0o777, |p| p & 0o1777));
        blocking(move || {
            let (parent, name) = parent_for_change(&jail, path.as_bytes())?;
            Ok(rustix::fs::mkdirat(&parent, name, mode)?)
        })
        .await?;
        Ok(ok(id))
    }

    async fn rmdir(&mut self, id: u32, path: String) -> Result<Status, Error> {
        let jail = self.jail();
        blocking(move || {
            let (parent, name) = parent_for_change(&jail, path.as_bytes())?;
            Ok(rustix::fs::unlinkat(&parent, name, AtFlags::REMOVEDIR)?)
        })
        .await?;
        Ok(ok(id))
    }

    async fn realpath(&mut self, id: u32, path: String) -> Result<Name, Error> {
        let filename = realpath(&self.jail, &path)?;
        Ok(Name {
            id,
            files: vec![Entry {
                filename,
                longname: String::new(),
                attrs: FileAttributes::empty(),
            }],
        })
    }

    async fn rename(&mut self, id: u32, oldpath: String, newpath: String) -> Result<Status, Error> {
        let jail = self.jail();
        blocking(move || {
            two_entries(
                &jail,
                oldpath.as_bytes(),
                newpath.as_bytes(),
                rename_noreplace,
            )
        })
        .await?;
        Ok(ok(id))
    }

    async fn readlink(&mut self, id: u32, path: String) -> Result<Name, Error> {
        let jail = self.jail();
        let target = blocking(move || {
            let (root, rel) = jail.locate(path.as_bytes())?;
            let link = root.open(rel, OFlags::PATH | OFlags::NOFOLLOW, Mode::empty())?;
            // An empty path reads the link the O_PATH descriptor itself refers to.
            Ok(rustix::fs::readlinkat(&link, c"", Vec::new())?)
        })
        .await?;
        let target = target.to_string_lossy().into_owned();
        Ok(Name {
            id,
            files: vec![Entry {
                longname: target.clone(),
                filename: target,
                attrs: FileAttributes::empty(),
            }],
        })
    }

    /// The arguments are taken in OpenSSH's order, which sshfs follows and which is the
    /// reverse of the draft's: first the link's target (any text, never resolved here), then
    /// the path of the link to create. russh-sftp names them the other way round.
    async fn symlink(
        &mut self,
        id: u32,
        linkpath: String,
        targetpath: String,
    ) -> Result<Status, Error> {
        let (target, link) = (linkpath, targetpath);
        let jail = self.jail();
        blocking(move || {
            let (parent, name) = parent_for_change(&jail, link.as_bytes())?;
            Ok(rustix::fs::symlinkat(target.as_bytes(), &parent, name)?)
        })
        .await?;
        Ok(ok(id))
    }

    async fn extended(&mut self, id: u32, request: String, data: Vec<u8>) -> Result<Packet, Error> {
        let jail = self.jail();
        match request.as_str() {
            "posix-rename@openssh.com" | "hardlink@openssh.com" => {
                let hardlink = request.starts_with("hardlink");
                blocking(move || {
                    let mut args = data.as_slice();
                    let (old, new) = (ssh_string(&mut args)?, ssh_string(&mut args)?);
                    two_entries(&jail, old, new, |op, on, np, nn| {
                        if hardlink {
                            // Without AT_SYMLINK_FOLLOW a symlink is linked, not its target.
                            rustix::fs::linkat(op, on, np, nn, AtFlags::empty())
                        } else {
                            rustix::fs::renameat(op, on, np, nn)
                        }
                    })
                })
                .await?;
                Ok(Packet::Status(ok(id)))
            }
            "statvfs@openssh.com" => {
                let data = blocking(move || {
                    let mut args = data.as_slice();
                    statvfs(&jail, ssh_string(&mut args)?)
                })
                .await?;
                Ok(Packet::ExtendedReply(ExtendedReply { id, data }))
            }
            "fsync@openssh.com" => {
                let mut args = data.as_slice();
                let handle =
                    std::str::from_utf8(ssh_string(&mut args)?).map_err(|_| bad_handle())?;
                let f = self.file(handle)?;
                blocking(move || Ok(f.file.sync_all()?)).await?;
                Ok(Packet::Status(ok(id)))
            }
            _ => Err(self.unimplemented()),
        }
    }
}

/// Opens a file for a handle. Modifying opens are refused under read-only roots. Only regular
/// files can be opened: `O_NONBLOCK` keeps a FIFO from blocking a thread in `open`, and the
/// type check keeps reads and writes from blocking on one afterwards.
fn open_file(
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
fn read_at(file: &File, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
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
fn stat_path(jail: &Jail, path: &[u8], follow: bool) -> Result<Stat, Error> {
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
enum Target<'a> {
    Fd(BorrowedFd<'a>),
    Proc(&'a str),
}

/// SETSTAT on a path. The path is resolved once, beneath the root, to an `O_PATH` descriptor
/// (following a final symlink only as far as it stays inside); the changes then go through
/// `/proc/self/fd/N`, which names exactly that inode, so no call re-resolves the client path.
fn setstat_path(jail: &Jail, path: &[u8], attrs: &FileAttributes) -> Result<(), Error> {
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
fn set_attrs(target: Target<'_>, attrs: &FileAttributes) -> Result<(), Error> {
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

/// The permission bits a client may set: rwx and sticky, plus set-group-ID on directories
/// (new files inherit the group). Set-user-ID and set-group-ID on files are dropped: a remote
/// server must not be able to leave a program in the user's folders that others could run as
/// this user.
fn allowed_mode(requested: u32, st_mode: u32) -> Mode {
    let mut keep = 0o1777;
    if FileType::from_raw_mode(st_mode) == FileType::Directory {
        keep |= 0o2000;
    }
    Mode::from_bits_truncate(requested & keep)
}

/// Opens a directory beneath its root for listing (following a final symlink that stays
/// inside).
fn open_dir(jail: &Jail, path: &[u8]) -> Result<Listing, Error> {
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
fn read_dir(l: &mut Listing) -> Result<Vec<Entry>, Error> {
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

fn entry_of(name: &CStr, st: &Stat, now: i64) -> Entry {
    let filename = name.to_string_lossy().into_owned();
    Entry {
        longname: longname(&filename, st, now),
        filename,
        attrs: attrs_of(st),
    }
}

/// Resolves the parent of an entry to be created, removed or renamed, refusing under
/// read-only roots.
fn parent_for_change<'p>(jail: &Jail, path: &'p [u8]) -> Result<(OwnedFd, &'p OsStr), Error> {
    let (root, rel) = jail.locate(path)?;
    if root.is_read_only() {
        return Err(denied());
    }
    Ok(root.open_parent(rel)?)
}

/// Resolves two entries that must lie in the same writable root (a rename or link never
/// crosses shared folders) and applies `op` to their parents and names.
fn two_entries(
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
fn rename_noreplace(op: &OwnedFd, on: &OsStr, np: &OwnedFd, nn: &OsStr) -> Result<(), Errno> {
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
fn statvfs(jail: &Jail, path: &[u8]) -> Result<Vec<u8>, Error> {
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

/// Takes one SSH `string` (u32 big-endian length, then the bytes) off the front of `data`.
fn ssh_string<'d>(data: &mut &'d [u8]) -> Result<&'d [u8], Error> {
    let bad = || Error::Status(StatusCode::BadMessage, "malformed extension request");
    let (len, rest) = data.split_first_chunk::<4>().ok_or_else(bad)?;
    let len = u32::from_be_bytes(*len) as usize;
    let (s, rest) = rest.split_at_checked(len).ok_or_else(bad)?;
    *data = rest;
    Ok(s)
}

/// REALPATH without touching the file system: `.` or empty is the first root (the client's
/// working directory; `/` when nothing is shared), relative paths are taken from there, and
/// `.` and `..` are folded lexically. The result must lie within a root.
fn realpath(jail: &Jail, path: &str) -> Result<String, Error> {
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

fn attrs_of(st: &Stat) -> FileAttributes {
    FileAttributes {
        size: Some(to_u64(st.st_size)),
        uid: Some(st.st_uid),
        user: None,
        gid: Some(st.st_gid),
        group: None,
        permissions: Some(st.st_mode),
        atime: Some(to_u32_time(st.st_atime)),
        mtime: Some(to_u32_time(st.st_mtime)),
    }
}

// Generic because `struct stat`'s field types differ between architectures.
fn to_u64<T: TryInto<u64>>(v: T) -> u64 {
    v.try_into().unwrap_or(0)
}

/// SFTP v3 times are u32 seconds: earlier than 1970 shows as 1970, after 2106 as 2106.
fn to_u32_time<T: TryInto<u32> + PartialOrd + Default>(t: T) -> u32 {
    if t < T::default() {
        0
    } else {
        t.try_into().unwrap_or(u32::MAX)
    }
}

fn to_i64<T: TryInto<i64>>(v: T) -> i64 {
    v.try_into().unwrap_or(0)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| to_i64(d.as_secs()))
}

/// An `ls -l` line as OpenSSH's sftp-server writes it (numeric owner, times in UTC since the
/// daemon has no time zone database): `-rw-r--r--    1 1000     1000         5 Mar  3 14:05 f`.
/// Old or future times show the year instead of the time of day.
fn longname(name: &str, st: &Stat, now: i64) -> String {
    let mtime = to_i64(st.st_mtime);
    let (year, month, day) = civil_from_days(mtime.div_euclid(86_400));
    let secs = mtime.rem_euclid(86_400);
    const SIX_MONTHS: i64 = 365 * 86_400 / 2;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .copied()
        .unwrap_or("???");
    let when = if now - SIX_MONTHS <= mtime && mtime <= now {
        format!(
            "{month} {day:>2} {:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60
        )
    } else {
        format!("{month} {day:>2}  {year}")
    };
    format!(
        "{} {:>4} {:<8} {:<8} {:>8} {when} {name}",
        mode_string(st.st_mode),
        st.st_nlink,
        st.st_uid,
        st.st_gid,
        to_u64(st.st_size),
    )
}

/// `drwxr-xr-x` and friends, with `s`/`S`/`t`/`T` for the set-id and sticky bits.
fn mode_string(mode: u32) -> String {
    let kind = match FileType::from_raw_mode(mode) {
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::CharacterDevice => 'c',
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
        FileType::RegularFile => '-',
        _ => '?',
    };
    let bit = |mask: u32, c: char| if mode & mask != 0 { c } else { '-' };
    let exec =
        |x: u32, special: u32, on: char, off: char| match (mode & x != 0, mode & special != 0) {
            (true, true) => on,
            (false, true) => off,
            (true, false) => 'x',
            (false, false) => '-',
        };
    [
        kind,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        exec(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        exec(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        exec(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// Year, month (1–12) and day of a day number counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::{
        os::unix::fs::{MetadataExt, PermissionsExt, symlink},
        path::PathBuf,
    };

    use russh_sftp::client::{RawSftpSession, SftpSession as Client, error::Error as ClientError};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A base directory with a read-write root `root`, a read-only root `ro`, and beside them
    /// `outside/` and `root2/` (which shares a string prefix with `root`) that must stay
    /// unreachable. `root` holds symlinks out: `abs_dir`, `rel_dir` to `outside/` and
    /// `abs_file`, `rel_file` to `outside/secret.txt`.
    struct Fixture {
        _tmp: tempfile::TempDir,
        base: PathBuf,
        jail: Arc<Jail>,
        client: Client,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let base = tmp.path().canonicalize().unwrap();
            for dir in ["root/sub", "outside/inner", "root2", "ro/sub"] {
                std::fs::create_dir_all(base.join(dir)).unwrap();
            }
            std::fs::write(base.join("root/file.txt"), "hello").unwrap();
            std::fs::write(base.join("outside/secret.txt"), "secret").unwrap();
            std::fs::write(base.join("root2/secret.txt"), "secret2").unwrap();
            std::fs::write(base.join("ro/data.txt"), "read only").unwrap();
            symlink(base.join("outside"), base.join("root/abs_dir")).unwrap();
            symlink("../outside", base.join("root/rel_dir")).unwrap();
            symlink(base.join("outside/secret.txt"), base.join("root/abs_file")).unwrap();
            symlink("../outside/secret.txt", base.join("root/rel_file")).unwrap();
            let jail = Arc::new(Jail::new());
            jail.add(&base.join("root"), false).unwrap();
            jail.add(&base.join("ro"), true).unwrap();
            let client = Client::new(serve(&jail).await).await.unwrap();
            Fixture {
                _tmp: tmp,
                base,
                jail,
                client,
            }
        }

        /// The client's name of `rel` under the base directory.
        fn p(&self, rel: &str) -> String {
            format!("{}/{rel}", self.base.display())
        }

        fn local(&self, rel: &str) -> PathBuf {
            self.base.join(rel)
        }

        /// A second, low-level client on its own session, for exact status codes.
        async fn raw(&self) -> RawSftpSession {
            let raw = RawSftpSession::new(serve(&self.jail).await);
            raw.init().await.unwrap();
            raw
        }
    }

    async fn serve(jail: &Arc<Jail>) -> tokio::io::DuplexStream {
        let (server, client) = tokio::io::duplex(1 << 20);
        russh_sftp::server::run(server, SftpSession::new(Arc::clone(jail))).await;
        client
    }

    /// The status code of a failed request (`None` if it succeeded).
    fn code<T>(result: Result<T, ClientError>) -> Option<StatusCode> {
        match result {
            Ok(_) => None,
            Err(ClientError::Status(s)) => Some(s.status_code),
            Err(e) => panic!("expected a status reply, got {e}"),
        }
    }

    const DENIED: Option<StatusCode> = Some(StatusCode::PermissionDenied);

    fn chmod_attrs(mode: u32) -> FileAttributes {
        FileAttributes {
            permissions: Some(mode),
            ..FileAttributes::empty()
        }
    }

    #[tokio::test]
    async fn files_and_directories_work_inside_a_root() {
        let f = Fixture::new().await;
        let c = &f.client;
        assert_eq!(c.read(f.p("root/file.txt")).await.unwrap(), b"hello");
        // `..` that stays beneath the root is fine.
        assert_eq!(c.read(f.p("root/sub/../file.txt")).await.unwrap(), b"hello");

        // Create and write, then read back in pieces larger than one reply.
        let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let mut file = c.create(f.p("root/sub/new.bin")).await.unwrap();
        file.write_all(&big).await.unwrap();
        file.sync_all().await.unwrap();
        file.shutdown().await.unwrap();
        assert_eq!(std::fs::read(f.local("root/sub/new.bin")).unwrap(), big);
        let mut back = Vec::new();
        c.open(f.p("root/sub/new.bin"))
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert_eq!(back, big);
        let meta = c.metadata(f.p("root/sub/new.bin")).await.unwrap();
        assert_eq!(meta.size, Some(big.len() as u64));
        assert!(meta.is_regular());

        c.create_dir(f.p("root/made")).await.unwrap();
        assert!(f.local("root/made").is_dir());
        c.rename(f.p("root/sub/new.bin"), f.p("root/made/moved.bin"))
            .await
            .unwrap();
        assert!(f.local("root/made/moved.bin").is_file());
        // SSH_FXP_RENAME does not replace; posix-rename does.
        let r = c
            .rename(f.p("root/file.txt"), f.p("root/made/moved.bin"))
            .await;
        assert_eq!(code(r), Some(StatusCode::Failure));
        let raw = f.raw().await;
        let mut args = Vec::new();
        for s in [f.p("root/file.txt"), f.p("root/made/moved.bin")] {
            args.extend((s.len() as u32).to_be_bytes());
            args.extend(s.as_bytes());
        }
        raw.extended("posix-rename@openssh.com", args)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(f.local("root/made/moved.bin")).unwrap(),
            b"hello"
        );

        assert!(
            c.hardlink(f.p("root/made/moved.bin"), f.p("root/hard.txt"))
                .await
                .unwrap()
        );
        assert_eq!(
            std::fs::metadata(f.local("root/hard.txt")).unwrap().nlink(),
            2
        );
        // OpenSSH's order: target first, then the link.
        c.symlink("made/moved.bin", f.p("root/link")).await.unwrap();
        assert_eq!(
            c.read_link(f.p("root/link")).await.unwrap(),
            "made/moved.bin"
        );
        assert_eq!(c.read(f.p("root/link")).await.unwrap(), b"hello");
        assert!(
            c.symlink_metadata(f.p("root/link"))
                .await
                .unwrap()
                .is_symlink()
        );

        c.set_metadata(f.p("root/hard.txt"), chmod_attrs(0o4640))
            .await
            .unwrap();
        let mode = std::fs::metadata(f.local("root/hard.txt")).unwrap().mode();
        assert_eq!(mode & 0o7777, 0o640, "set-user-ID is dropped");
        let times = FileAttributes {
            size: Some(2),
            atime: Some(1_000_000),
            mtime: Some(2_000_000),
            ..FileAttributes::empty()
        };
        c.set_metadata(f.p("root/hard.txt"), times).await.unwrap();
        let meta = std::fs::metadata(f.local("root/hard.txt")).unwrap();
        assert_eq!((meta.len(), meta.mtime()), (2, 2_000_000));

        c.remove_file(f.p("root/hard.txt")).await.unwrap();
        c.remove_file(f.p("root/made/moved.bin")).await.unwrap();
        c.remove_dir(f.p("root/made")).await.unwrap();
        assert!(!f.local("root/made").exists());
        assert_eq!(
            code(c.metadata(f.p("root/made")).await),
            Some(StatusCode::NoSuchFile)
        );
    }

    #[tokio::test]
    async fn directories_are_listed_in_batches() {
        let f = Fixture::new().await;
        for i in 0..250 {
            std::fs::write(f.local(&format!("root/sub/f{i:03}")), "x").unwrap();
        }
        let listed = f.client.read_dir(f.p("root/sub")).await.unwrap();
        let names: Vec<String> = listed.map(|e| e.file_name()).collect();
        assert_eq!(names.iter().filter(|n| n.starts_with('f')).count(), 250);

        let raw = f.raw().await;
        let handle = raw.opendir(f.p("root")).await.unwrap().handle;
        let batch = raw.readdir(handle.as_str()).await.unwrap();
        let link = batch
            .files
            .iter()
            .find(|e| e.filename == "abs_dir")
            .unwrap();
        assert!(
            link.longname.starts_with("lrwxrwxrwx "),
            "{}",
            link.longname
        );
        assert!(link.longname.ends_with(" abs_dir"), "{}", link.longname);
        // The root's `..` shows the root itself, not the directory above the share.
        let attrs = |name: &str| {
            let e = batch.files.iter().find(|e| e.filename == name).unwrap();
            (e.attrs.permissions, e.attrs.mtime, e.attrs.atime)
        };
        assert_eq!(attrs(".."), attrs("."));
        let r = raw.readdir(handle.as_str()).await;
        assert_eq!(code(r), Some(StatusCode::Eof));
        raw.close(handle).await.unwrap();
    }

    #[tokio::test]
    async fn dot_dot_and_symlinks_cannot_escape() {
        let f = Fixture::new().await;
        let c = &f.client;
        for path in [
            "root/../outside/secret.txt",
            "root/sub/../../outside/secret.txt",
        ] {
            assert_eq!(code(c.read(f.p(path)).await), DENIED, "{path}");
            assert_eq!(code(c.metadata(f.p(path)).await), DENIED, "{path}");
        }
        assert_eq!(code(c.read_dir(f.p("root/..")).await), DENIED);

        for link in ["abs", "rel"] {
            let dir = format!("root/{link}_dir");
            let file = format!("root/{link}_file");
            assert_eq!(code(c.read(f.p(&file)).await), DENIED, "{file}");
            assert_eq!(
                code(c.read(f.p(&format!("{dir}/secret.txt"))).await),
                DENIED
            );
            assert_eq!(code(c.write(f.p(&file), b"pwned").await), DENIED, "{file}");
            let created = c.create(f.p(&format!("{dir}/new.txt"))).await;
            assert_eq!(code(created), DENIED, "{dir}");
            assert_eq!(code(c.metadata(f.p(&dir)).await), DENIED, "{dir}");
            assert_eq!(code(c.metadata(f.p(&file)).await), DENIED, "{file}");
            // The link itself is inside: lstat and readlink answer.
            assert!(c.symlink_metadata(f.p(&dir)).await.unwrap().is_symlink());
            assert!(c.read_link(f.p(&file)).await.is_ok());
            assert_eq!(code(c.read_dir(f.p(&dir)).await), DENIED, "{dir}");
            let r = c.set_metadata(f.p(&file), chmod_attrs(0o777)).await;
            assert_eq!(code(r), DENIED, "{file}");
            let r = c.set_metadata(f.p(&dir), chmod_attrs(0o777)).await;
            assert_eq!(code(r), DENIED, "{dir}");
            let r = c.create_dir(f.p(&format!("{dir}/made"))).await;
            assert_eq!(code(r), DENIED, "{dir}");
            let r = c
                .rename(f.p("root/file.txt"), f.p(&format!("{dir}/file.txt")))
                .await;
            assert_eq!(code(r), DENIED, "{dir}");
            let r = c
                .rename(f.p(&format!("{dir}/secret.txt")), f.p("root/stolen"))
                .await;
            assert_eq!(code(r), DENIED, "{dir}");
            let r = c
                .hardlink(f.p(&format!("{dir}/secret.txt")), f.p("root/stolen"))
                .await;
            assert_eq!(code(r), DENIED, "{dir}");
            let r = c.remove_file(f.p(&format!("{dir}/secret.txt"))).await;
            assert_eq!(code(r), DENIED, "{dir}");
        }
        // Creating through a dangling link that points out.
        symlink(f.local("outside/new.txt"), f.local("root/dangling")).unwrap();
        assert_eq!(code(c.create(f.p("root/dangling")).await), DENIED);
        assert!(!f.local("outside/new.txt").exists());
        // A link the client makes to the outside is only text: following it is refused too.
        let outside = f.p("outside/secret.txt");
        c.symlink(outside.as_str(), f.p("root/planted"))
            .await
            .unwrap();
        assert_eq!(code(c.read(f.p("root/planted")).await), DENIED);

        // A string prefix of a root is not a root; nor is anything above it.
        assert_eq!(code(c.read(f.p("root2/secret.txt")).await), DENIED);
        assert_eq!(code(c.metadata(f.p("root2")).await), DENIED);
        assert_eq!(code(c.read_dir(f.p("")).await), DENIED);
        assert_eq!(code(c.metadata("/").await), DENIED);
        // A NUL byte would cut the path short in C: refused.
        let r = c.metadata(f.p("root/file.txt\0/x")).await;
        assert_eq!(code(r), Some(StatusCode::Failure));
        // The root itself cannot be removed or renamed away.
        assert_eq!(code(c.remove_dir(f.p("root")).await), DENIED);
        assert_eq!(code(c.rename(f.p("root"), f.p("root/x")).await), DENIED);

        // Nothing outside changed.
        assert_eq!(
            std::fs::read(f.local("outside/secret.txt")).unwrap(),
            b"secret"
        );
        let mode = std::fs::metadata(f.local("outside/secret.txt"))
            .unwrap()
            .mode();
        assert_ne!(mode & 0o777, 0o777);
        let mut names: Vec<_> = std::fs::read_dir(f.local("outside"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["inner", "secret.txt"]);
        assert!(f.local("root/file.txt").exists());
        assert!(!f.local("root/stolen").exists());
    }

    #[tokio::test]
    async fn read_only_roots_refuse_changes() {
        let f = Fixture::new().await;
        let c = &f.client;
        assert_eq!(c.read(f.p("ro/data.txt")).await.unwrap(), b"read only");
        assert!(c.read_dir(f.p("ro")).await.is_ok());
        assert!(c.metadata(f.p("ro/data.txt")).await.is_ok());

        assert_eq!(code(c.create(f.p("ro/new.txt")).await), DENIED);
        assert_eq!(code(c.write(f.p("ro/data.txt"), b"x").await), DENIED);
        let r = c.open_with_flags(f.p("ro/data.txt"), OpenFlags::READ | OpenFlags::APPEND);
        assert_eq!(code(r.await), DENIED);
        assert_eq!(code(c.remove_file(f.p("ro/data.txt")).await), DENIED);
        assert_eq!(code(c.create_dir(f.p("ro/made")).await), DENIED);
        assert_eq!(code(c.remove_dir(f.p("ro/sub")).await), DENIED);
        let r = c.rename(f.p("ro/data.txt"), f.p("ro/renamed.txt")).await;
        assert_eq!(code(r), DENIED);
        let r = c.rename(f.p("ro/data.txt"), f.p("root/taken.txt")).await;
        assert_eq!(code(r), DENIED);
        let r = c.rename(f.p("root/file.txt"), f.p("ro/given.txt")).await;
        assert_eq!(code(r), DENIED);
        let r = c.set_metadata(f.p("ro/data.txt"), chmod_attrs(0o600)).await;
        assert_eq!(code(r), DENIED);
        assert_eq!(code(c.symlink("data.txt", f.p("ro/link")).await), DENIED);
        let r = c.hardlink(f.p("ro/data.txt"), f.p("ro/hard")).await;
        assert_eq!(code(r), DENIED);

        let raw = f.raw().await;
        let handle = raw
            .open(f.p("ro/data.txt"), OpenFlags::READ, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
        let r = raw.fsetstat(handle.as_str(), chmod_attrs(0o600)).await;
        assert_eq!(code(r), DENIED);
        let r = raw.write(handle.as_str(), 0, b"x".to_vec()).await;
        assert_eq!(code(r), DENIED);

        assert_eq!(std::fs::read(f.local("ro/data.txt")).unwrap(), b"read only");
        let mode = std::fs::metadata(f.local("ro/data.txt")).unwrap().mode();
        assert_ne!(mode & 0o777, 0o600);
        assert!(!f.local("ro/new.txt").exists());
        assert!(f.local("ro/sub").is_dir());
    }

    #[tokio::test]
    async fn flags_and_removals_apply_to_the_next_request() {
        let f = Fixture::new().await;
        let raw = f.raw().await;
        let flags = OpenFlags::READ | OpenFlags::WRITE;
        let handle = raw
            .open(f.p("root/file.txt"), flags, FileAttributes::empty())
            .await
            .unwrap()
            .handle;
        raw.write(handle.as_str(), 0, b"J".to_vec()).await.unwrap();

        // Made read-only while open: the open handle may no longer write.
        f.jail.add(&f.local("root"), true).unwrap();
        let r = raw.write(handle.as_str(), 0, b"X".to_vec()).await;
        assert_eq!(code(r), DENIED);
        f.jail.add(&f.local("root"), false).unwrap();
        raw.write(handle.as_str(), 1, b"E".to_vec()).await.unwrap();

        // Removed: new requests are refused, the open handle still reads.
        f.jail.remove(&f.local("root"));
        assert_eq!(code(raw.stat(f.p("root/file.txt")).await), DENIED);
        assert_eq!(code(raw.opendir(f.p("root")).await), DENIED);
        let data = raw.read(handle.as_str(), 0, 100).await.unwrap().data;
        assert_eq!(data, b"JEllo");
        raw.close(handle).await.unwrap();
        assert_eq!(f.jail.roots(), vec![(f.local("ro"), true)]);
    }

    #[tokio::test]
    async fn handles_are_capped_and_checked() {
        let f = Fixture::new().await;
        let raw = f.raw().await;
        let mut handles = Vec::new();
        for _ in 0..MAX_HANDLES {
            let h = raw.opendir(f.p("root")).await.unwrap().handle;
            handles.push(h);
        }
        assert_eq!(
            code(raw.opendir(f.p("root")).await),
            Some(StatusCode::Failure)
        );
        let first = handles.swap_remove(0);
        raw.close(first.as_str()).await.unwrap();
        // A closed handle stays invalid; a new one gets a new number.
        assert_eq!(
            code(raw.readdir(first.as_str()).await),
            Some(StatusCode::Failure)
        );
        let again = raw.opendir(f.p("root")).await.unwrap().handle;
        assert_ne!(again, first);
        assert_eq!(
            code(raw.read("bogus", 0, 10).await),
            Some(StatusCode::Failure)
        );
        // A directory handle is not a file handle.
        assert_eq!(
            code(raw.read(again.as_str(), 0, 10).await),
            Some(StatusCode::Failure)
        );
    }

    #[tokio::test]
    async fn realpath_and_statvfs_answer() {
        let f = Fixture::new().await;
        let c = &f.client;
        let root = f.p("root");
        assert_eq!(c.canonicalize(".").await.unwrap(), root);
        assert_eq!(
            c.canonicalize(f.p("root/./sub/../file.txt")).await.unwrap(),
            f.p("root/file.txt")
        );
        assert_eq!(c.canonicalize("sub").await.unwrap(), f.p("root/sub"));
        assert_eq!(code(c.canonicalize(f.p("root/..")).await), DENIED);
        assert_eq!(code(c.canonicalize(f.p("root2")).await), DENIED);

        let st = c.fs_info(root.as_str()).await.unwrap().unwrap();
        assert!(st.name_max > 0 && st.blocks > 0, "{st:?}");
        assert_eq!(st.flags & STATVFS_RDONLY, 0);
        let st = c.fs_info(f.p("ro")).await.unwrap().unwrap();
        assert_eq!(st.flags & STATVFS_RDONLY, STATVFS_RDONLY);
        assert_eq!(code(c.fs_info(f.p("root/abs_dir")).await), DENIED);

        let raw = f.raw().await;
        let r = raw.extended("nope@example.com", Vec::new()).await;
        assert!(
            matches!(r, Ok(Packet::Status(ref s)) if s.status_code == StatusCode::OpUnsupported),
            "{r:?}"
        );
    }

    #[test]
    fn long_names_look_like_ls() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o4754)).unwrap();
        let mut st = rustix::fs::stat(&path).unwrap();
        // 2021-03-04 05:06:07 UTC
        st.st_mtime = 1_614_834_367;
        let line = longname("f", &st, 1_614_834_367 + 86_400);
        assert!(
            line.starts_with("-rwsr-xr-- ") && line.ends_with(" 5 Mar  4 05:06 f"),
            "{line}"
        );
        let line = longname("f", &st, 1_700_000_000);
        assert!(line.ends_with(" 5 Mar  4  2021 f"), "{line}");
        assert_eq!(mode_string(0o41777), "drwxrwxrwt");
        assert_eq!(mode_string(0o102644), "-rw-r-Sr--");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    }

    #[test]
    fn statuses_map_errors() {
        let code = |e: Error| StatusReply::from(e).status_code;
        assert_eq!(code(Error::Os(Errno::NOENT)), StatusCode::NoSuchFile);
        for errno in [Errno::ACCESS, Errno::PERM, Errno::XDEV, Errno::LOOP] {
            assert_eq!(code(Error::Os(errno)), StatusCode::PermissionDenied);
        }
        let reply = StatusReply::from(Error::Os(Errno::NOTEMPTY));
        assert_eq!(reply.status_code, StatusCode::Failure);
        assert!(reply.error_message.unwrap().contains("not empty"));
    }
}
