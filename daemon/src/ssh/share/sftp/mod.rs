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
//!
//! This module answers the requests; its parts, each used only from here or from the ones
//! after it: [`errors`] (the status replies), [`attrs`] (attributes and long names),
//! [`handles`] (the handle table) and [`fsops`] (the blocking file-system calls).

mod attrs;
mod errors;
mod fsops;
mod handles;

use std::{
    collections::HashMap,
    os::unix::fs::FileExt,
    sync::{Arc, Mutex, PoisonError},
};

use russh_sftp::protocol::{
    Attrs, Data, ExtendedReply, File as Entry, FileAttributes, Handle as HandleReply, Name,
    OpenFlags, Packet, Status, StatusCode, Version,
};
use rustix::{
    fd::AsFd,
    fs::{AtFlags, Mode, OFlags},
};

use super::jail::Jail;
use attrs::attrs_of;
use errors::{Error, bad_handle, denied};
use fsops::{
    Target, open_dir, open_file, parent_for_change, read_at, read_dir, realpath, rename_noreplace,
    set_attrs, setstat_path, stat_path, statvfs, two_entries,
};
use handles::{Handle, Handles};

/// Largest read answered in one reply: OpenSSH's limit, so that the reply fits in the 256 KiB
/// packets clients accept, and a client cannot make us allocate gigabytes.
const MAX_READ: u32 = 256 * 1024 - 1024;

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
    handles: Handles,
}

impl SftpSession {
    /// STAT (`follow`: the final symbolic link is followed, within the jail) or LSTAT.
    async fn stat_reply(&self, id: u32, path: String, follow: bool) -> Result<Attrs, Error> {
        let jail = self.jail();
        let st = blocking(move || stat_path(&jail, path.as_bytes(), follow)).await?;
        Ok(Attrs {
            id,
            attrs: attrs_of(&st),
        })
    }

    /// A session serving the folders of `jail`, with no open handles.
    pub(super) fn new(jail: Arc<Jail>) -> SftpSession {
        SftpSession {
            jail,
            handles: Handles::default(),
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
        self.handles.check_room()?;
        let jail = self.jail();
        let file = blocking(move || open_file(&jail, filename.as_bytes(), pflags, &attrs)).await?;
        let handle = self.handles.insert(Handle::File(Arc::new(file)));
        Ok(HandleReply { id, handle })
    }

    async fn close(&mut self, id: u32, handle: String) -> Result<Status, Error> {
        let handle = self.handles.remove(&handle)?;
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
        let f = self.handles.file(&handle)?;
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
        let f = self.handles.file(&handle)?;
        // Both: the handle may be read-only, and the root may have become read-only since.
        if !f.writable || f.root.is_read_only() {
            return Err(denied());
        }
        blocking(move || Ok(f.file.write_all_at(&data, offset)?)).await?;
        Ok(ok(id))
    }

    async fn lstat(&mut self, id: u32, path: String) -> Result<Attrs, Error> {
        self.stat_reply(id, path, false).await
    }

    async fn stat(&mut self, id: u32, path: String) -> Result<Attrs, Error> {
        self.stat_reply(id, path, true).await
    }

    async fn fstat(&mut self, id: u32, handle: String) -> Result<Attrs, Error> {
        let st = match self.handles.get(&handle)? {
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
        match self.handles.get(&handle)? {
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
        self.handles.check_room()?;
        let jail = self.jail();
        let listing = blocking(move || open_dir(&jail, path.as_bytes())).await?;
        let handle = self
            .handles
            .insert(Handle::Dir(Arc::new(Mutex::new(listing))));
        Ok(HandleReply { id, handle })
    }

    async fn readdir(&mut self, id: u32, handle: String) -> Result<Name, Error> {
        let Handle::Dir(l) = self.handles.get(&handle)? else {
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
                let f = self.handles.file(handle)?;
                blocking(move || Ok(f.file.sync_all()?)).await?;
                Ok(Packet::Status(ok(id)))
            }
            _ => Err(self.unimplemented()),
        }
    }
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

#[cfg(test)]
mod tests;
