//! The server driven by russh-sftp's own client over an in-memory stream: the requests
//! `sshfs` makes, and the ways a client could try to leave the shared folders.

use std::{
    os::unix::fs::{MetadataExt, symlink},
    path::PathBuf,
};

use russh_sftp::client::{RawSftpSession, SftpSession as Client, error::Error as ClientError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fsops::STATVFS_RDONLY;
use super::handles::MAX_HANDLES;
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
