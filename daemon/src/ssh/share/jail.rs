//! The folders one share session may touch, and the kernel-enforced confinement to them.
//!
//! A [`Jail`] holds a directory file descriptor per shared root, opened once when the root is
//! added. Every client path is mapped to the longest root that is a component-wise prefix of it;
//! the rest of the path is resolved by `openat2(2)` relative to that root's descriptor with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`. The kernel then refuses (`EXDEV`) any resolution
//! that would leave the root, whether through `..`, an absolute symlink, a relative symlink
//! pointing out, or a `/proc` magic link; a rename of a directory racing with the lookup makes
//! it fail (`EAGAIN`, retried here) rather than escape. Nothing here compares resolved paths as
//! strings, so there is no check-then-use window.
//!
//! Operations that act on a directory entry rather than on a file (mkdir, unlink, rename,
//! symlink, link) resolve the entry's *parent* that way and then call the `*at()` syscall on one
//! final component that contains no `/` and is not `.` or `..`: such calls never follow a
//! symlink in the final component (or, for `linkat` without `AT_SYMLINK_FOLLOW`, link the
//! symlink itself), so they cannot reach outside either.

use std::{
    ffi::OsStr,
    os::unix::ffi::OsStrExt,
    path::{Component, Path, PathBuf},
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use rustix::{
    fd::{AsFd, BorrowedFd, OwnedFd},
    fs::{Mode, OFlags, ResolveFlags},
    io::Errno,
};

/// How often an `openat2` that the kernel aborted with `EAGAIN` (a concurrent rename or mount
/// while `..` was being resolved) is retried before giving up.
const RESOLVE_RETRIES: usize = 16;

/// The shared folders of one share session: absolute directories, each read-write or
/// read-only. Roots can be added, re-flagged and removed while the session is mounted; every
/// SFTP operation looks the flags up anew.
///
/// Cheap to share: used as `Arc<Jail>` by every SFTP session of the share.
#[derive(Debug, Default)]
pub struct Jail {
    /// The roots in the order they were added (the first one answers `realpath(".")`).
    roots: RwLock<Vec<Arc<Root>>>,
}

/// One shared folder: its path as the client sees it, and the directory it was when added.
#[derive(Debug)]
pub(super) struct Root {
    /// The absolute, normalised path (no `.`, `..`, doubled or trailing `/`).
    path: PathBuf,
    /// `O_PATH` descriptor of the directory: every lookup starts here, so renaming or replacing
    /// the path later does not redirect the share.
    fd: OwnedFd,
    /// Whether the client may only read. Atomic because it can change while handles are open.
    read_only: AtomicBool,
    /// Number of normal components of `path`, for the longest-prefix match.
    depth: usize,
}

impl Jail {
    /// An empty jail: every path is refused until a root is added.
    pub fn new() -> Jail {
        Jail::default()
    }

    /// Adds (or re-flags) a shared root: an absolute, existing directory. Opens it once
    /// (`O_PATH|O_DIRECTORY|O_CLOEXEC`, following symlinks in `path` itself: the caller
    /// canonicalised it) and keeps the descriptor. Adding a path that is already a root only
    /// changes its `read_only` flag, with effect on the next operation.
    pub fn add(&self, path: &Path, read_only: bool) -> Result<(), crate::ssh::Error> {
        let io_err = |source: std::io::Error| crate::ssh::Error::Io {
            path: path.to_owned(),
            source,
        };
        let normal = normalise_root(path).ok_or_else(|| {
            io_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a shared folder must be an absolute path without `.` or `..` components",
            ))
        })?;
        if let Some(root) = self.find_exact(&normal) {
            root.read_only.store(read_only, Ordering::Release);
            return Ok(());
        }
        let fd = rustix::fs::open(
            &normal,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(e.into()))?;
        let depth = normal
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .count();
        let root = Arc::new(Root {
            path: normal,
            fd,
            read_only: AtomicBool::new(read_only),
            depth,
        });
        let mut roots = self.roots.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have added the same path meanwhile: re-flag that one instead, so
        // a path is never a root twice.
        if let Some(existing) = roots.iter().find(|r| r.path == root.path) {
            existing.read_only.store(read_only, Ordering::Release);
        } else {
            roots.push(root);
        }
        Ok(())
    }

    /// Removes a shared root. New operations under it are refused; files and directories the
    /// client has already opened there stay usable until closed. Unknown paths are ignored.
    pub fn remove(&self, path: &Path) {
        let Some(normal) = normalise_root(path) else {
            return;
        };
        self.roots
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|r| r.path != normal);
    }

    /// The shared roots with their `read_only` flags, in the order they were added.
    #[cfg(test)]
    pub fn roots(&self) -> Vec<(PathBuf, bool)> {
        self.read()
            .iter()
            .map(|r| (r.path.clone(), r.is_read_only()))
            .collect()
    }

    /// The first root added (still present), which stands for the client's working directory.
    pub(super) fn first_root(&self) -> Option<Arc<Root>> {
        self.read().first().cloned()
    }

    /// Maps a client path to the root it lies in and the remainder relative to that root
    /// (without leading `/`; empty for the root itself). Absolute paths pick the longest root
    /// that is a component-wise prefix (`.` components and repeated `/` are skipped while
    /// matching); relative paths are taken relative to the first root, the client's working
    /// directory (see `realpath`).
    ///
    /// The remainder may still contain `..` or symlinks: only [`Root::open`] and
    /// [`Root::open_parent`] interpret it, under the kernel's confinement.
    ///
    /// Errors: `EINVAL` for a NUL byte; `EACCES` for a path outside every root.
    pub(super) fn locate<'p>(&self, path: &'p [u8]) -> Result<(Arc<Root>, &'p [u8]), Errno> {
        if path.contains(&0) {
            return Err(Errno::INVAL);
        }
        let roots = self.read();
        if path.first() != Some(&b'/') {
            let root = roots.first().ok_or(Errno::ACCESS)?;
            return Ok((Arc::clone(root), path));
        }
        let mut best: Option<(&Arc<Root>, &'p [u8])> = None;
        for root in roots.iter() {
            if best.is_some_and(|(b, _)| b.depth >= root.depth) {
                continue;
            }
            if let Some(rest) = strip_root(root.path.as_os_str().as_bytes(), path) {
                best = Some((root, rest));
            }
        }
        best.map(|(root, rest)| (Arc::clone(root), rest))
            .ok_or(Errno::ACCESS)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Root>>> {
        self.roots.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn find_exact(&self, path: &Path) -> Option<Arc<Root>> {
        self.read().iter().find(|r| r.path == path).cloned()
    }
}

impl Root {
    /// The root's normalised absolute path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the client may currently only read under this root.
    pub(super) fn is_read_only(&self) -> bool {
        self.read_only.load(Ordering::Acquire)
    }

    /// The root directory's `O_PATH` descriptor.
    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Opens `rel` (a remainder from [`Jail::locate`]; empty = the root itself) beneath this
    /// root with `openat2(.., RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`. Symlinks are followed
    /// only as long as they stay beneath the root (the final one too, unless `flags` has
    /// `NOFOLLOW`); anything else fails with `EXDEV` or `ELOOP`. `mode` is used only with
    /// `CREATE` (the kernel rejects a mode without it). Blocking.
    pub(super) fn open(&self, rel: &[u8], flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
        let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
        let mode = if flags.contains(OFlags::CREATE) {
            mode
        } else {
            Mode::empty()
        };
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(&self.fd, rel, flags | OFlags::CLOEXEC, mode, resolve) {
                Err(Errno::AGAIN | Errno::INTR) if tries < RESOLVE_RETRIES => tries += 1,
                other => return other,
            }
        }
    }

    /// Opens the parent directory of the entry `rel` names (`O_PATH|O_DIRECTORY`, beneath this
    /// root) and returns it with the entry's final component, which is never empty, `.` or `..`
    /// and contains no `/`: an `*at()` call on the pair touches exactly that directory entry.
    /// The root itself has no parent here (`EACCES`): it cannot be removed or renamed.
    pub(super) fn open_parent<'r>(&self, rel: &'r [u8]) -> Result<(OwnedFd, &'r OsStr), Errno> {
        let (parent, name) = split_parent(rel).ok_or(Errno::ACCESS)?;
        let dir = self.open(parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok((dir, OsStr::from_bytes(name)))
    }
}

/// The normalised form of a root path, or `None` if it is not absolute or has `.`/`..`
/// components (a caller-canonicalised path never has them; refusing them keeps the lexical
/// prefix match exact).
fn normalise_root(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() || path.as_os_str().as_bytes().contains(&0) {
        return None;
    }
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// The next component of `p` after skipping `/` separators and `.` components, and the rest
/// after it; `None` when `p` has no more components.
fn next_component(mut p: &[u8]) -> Option<(&[u8], &[u8])> {
    loop {
        let start = p.iter().position(|&b| b != b'/')?;
        let rest = p.get(start..)?;
        let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let (comp, after) = rest.split_at(end);
        if comp != b"." {
            return Some((comp, after));
        }
        p = after;
    }
}

/// If the normalised absolute `root` is a component-wise prefix of the absolute `path`, the
/// remainder of `path` without leading `/` (empty for the root itself). `/x/root2` does not lie
/// in `/x/root`; `/x/root/../y` does, with remainder `../y`, which the kernel then refuses.
fn strip_root<'p>(root: &[u8], path: &'p [u8]) -> Option<&'p [u8]> {
    let mut rest = path;
    for want in root.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        let (comp, after) = next_component(rest)?;
        if comp != want {
            return None;
        }
        rest = after;
    }
    let start = rest.iter().position(|&b| b != b'/').unwrap_or(rest.len());
    rest.get(start..)
}

/// Splits a remainder into parent (empty = the root) and final component, ignoring trailing
/// `/`; `None` when there is no usable final component (the root itself, `.` or `..`).
fn split_parent(rel: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = rel.iter().rposition(|&b| b != b'/')? + 1;
    let rel = rel.get(..end)?;
    let (parent, name) = match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (rel.get(..i)?, rel.get(i + 1..)?),
        None => (&b""[..], rel),
    };
    if name == b"." || name == b".." {
        return None;
    }
    Some((parent, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(jail: &Jail, path: &str) -> Result<(PathBuf, String), Errno> {
        jail.locate(path.as_bytes()).map(|(root, rest)| {
            (
                root.path().to_owned(),
                String::from_utf8(rest.to_vec()).unwrap(),
            )
        })
    }

    #[test]
    fn paths_map_to_the_longest_component_prefix_root() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let outer = base.join("root");
        let inner = outer.join("inner");
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::create_dir(base.join("root2")).unwrap();
        let jail = Jail::new();
        jail.add(&inner, true).unwrap();
        jail.add(&outer, false).unwrap();
        let o = outer.display().to_string();

        assert_eq!(located(&jail, &o), Ok((outer.clone(), String::new())));
        assert_eq!(
            located(&jail, &format!("{o}/")),
            Ok((outer.clone(), String::new()))
        );
        assert_eq!(
            located(&jail, &format!("{o}/a//b/")),
            Ok((outer.clone(), "a//b/".into()))
        );
        assert_eq!(
            located(&jail, &format!("{o}/./inner/x")),
            Ok((inner.clone(), "x".into()))
        );
        assert_eq!(
            located(&jail, &format!("{o}//inner")),
            Ok((inner.clone(), String::new()))
        );
        // `..` is left to the kernel, which refuses it when it climbs out.
        assert_eq!(
            located(&jail, &format!("{o}/../root2/x")),
            Ok((outer.clone(), "../root2/x".into()))
        );
        // A shared string prefix is not a path prefix.
        assert_eq!(
            located(&jail, &format!("{}/root2/x", base.display())),
            Err(Errno::ACCESS)
        );
        assert_eq!(located(&jail, "/"), Err(Errno::ACCESS));
        assert_eq!(located(&jail, &format!("{o}/a\0b")), Err(Errno::INVAL));
        // Relative paths are relative to the first root added.
        assert_eq!(located(&jail, "x/y"), Ok((inner.clone(), "x/y".into())));
    }

    #[test]
    fn roots_are_added_reflagged_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let jail = Jail::new();
        assert!(jail.add(Path::new("relative"), false).is_err());
        assert!(jail.add(&root.join("missing"), false).is_err());
        assert!(jail.add(&root.join("a/../b"), false).is_err());
        jail.add(&root, false).unwrap();
        let held = jail.locate(root.as_os_str().as_bytes()).unwrap().0;
        // Same path, spelt with a trailing slash: re-flags the existing root.
        jail.add(Path::new(&format!("{}/", root.display())), true)
            .unwrap();
        assert_eq!(jail.roots(), vec![(root.clone(), true)]);
        assert!(held.is_read_only());
        jail.remove(&root);
        assert!(jail.roots().is_empty());
        assert_eq!(
            jail.locate(root.as_os_str().as_bytes()).map(|_| ()),
            Err(Errno::ACCESS)
        );
    }

    #[test]
    fn jails_are_shared_between_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<Jail>();
    }

    #[test]
    fn parents_split_off_one_final_component() {
        assert_eq!(split_parent(b"a/b"), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(split_parent(b"a/b//"), Some((&b"a"[..], &b"b"[..])));
        assert_eq!(split_parent(b"b"), Some((&b""[..], &b"b"[..])));
        assert_eq!(split_parent(b"x/../b"), Some((&b"x/.."[..], &b"b"[..])));
        assert_eq!(split_parent(b""), None);
        assert_eq!(split_parent(b"/"), None);
        assert_eq!(split_parent(b"a/."), None);
        assert_eq!(split_parent(b"a/.."), None);
        assert_eq!(split_parent(b".."), None);
    }
}
