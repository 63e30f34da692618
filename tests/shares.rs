//! Client folders shared into sessions, seen on the real server: mounted by the server's
//! sshfs through the profile's connection, readable and writable where allowed, nothing
//! reachable beside them, keys nobody else reads, and what happens across suspend, resume and
//! a lost connection.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use x2god_client::{Options, Profile, SessionHandle};
use x2god_tests::{Daemon, Lab, wait_until};

use crate::{GRAPHICAL, bounded, connected, expect_err};

/// Where the server mounts client folder `path` for `user` (x2gomountdirs: `/` and blanks
/// become `_`).
fn mount_point(user: &str, path: &str) -> String {
    format!(
        "/tmp/.x2go-{user}/media/disk/{}",
        path.replace(['/', ' '], "_")
    )
}

/// Runs `script` on the server machine as `user` (`runuser`; the lab is this machine), with
/// `args` as `$1…`; returns (success, stdout, stderr).
fn as_user(user: &str, script: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("runuser")
        .args(["-u", user, "--", "sh", "-c", script, "sh"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `sha256sum` of a file, as hex.
fn sha256(user: Option<&str>, path: &str) -> String {
    let out = match user {
        Some(u) => Command::new("runuser")
            .args(["-u", u, "--", "sha256sum", path])
            .output(),
        None => Command::new("sha256sum").arg(path).output(),
    }
    .unwrap();
    assert!(out.status.success(), "sha256sum {path}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The sshfs mounts of the server's mount table, by mount point.
fn sshfs_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .filter(|l| l.contains("fuse.sshfs"))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .map(|m| m.replace("\\040", " "))
        .collect()
}

/// A folder on the client side (this machine) for sharing, world-traversable so the
/// assertions can look at it, with a file in it.
fn client_folder(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), format!("hello from {name}\n")).unwrap();
    dir
}

/// An xterm session of `p`, started with `options` added.
async fn start(p: &Profile, options: Options) -> SessionHandle {
    let o = options
        .set("cmd", "xterm")
        .set("session_type", "application")
        .set("geometry", "640x480");
    p.start(o).await.unwrap()
}

async fn wait_mounted(p: &Profile, session: &str, mount: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mounts = p.list_mounts(session, Options::new()).await.unwrap();
        if mounts.iter().any(|m| m == mount) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{mount} not among the mounts {mounts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_shared_at_start_and_later_carry_files_both_ways() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let tmp = tempfile::Builder::new()
            .prefix("x2god-share")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let at_start = client_folder(tmp.path(), "at start");
        let later = client_folder(tmp.path(), "Bücher später");
        let big = later.join("big.bin");
        let mut data = vec![0u8; 64 << 20];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i.wrapping_mul(2654435761) >> 13) as u8;
        }
        std::fs::write(&big, &data).unwrap();

        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "shares").await;
        let folder = at_start.to_string_lossy().into_owned();
        let s = start(
            &p,
            Options::new().set("share_local_folders", vec![folder.clone()]),
        )
        .await;
        let name = s.name().to_owned();

        // Shared at start: the server mounts it once the session runs.
        let m1 = mount_point(&user, &folder);
        wait_mounted(&p, &name, &m1).await;
        let (ok, out, err) = as_user(&user, "cat \"$1/hello.txt\"", &[&m1]);
        assert!(ok, "{err}");
        assert_eq!(out, "hello from at start\n");

        // Shared later: visible on the server as soon as ShareFolder returns.
        let later_s = later.to_string_lossy().into_owned();
        s.share_folder(&later_s, false).await.unwrap();
        let returned = Instant::now();
        let m2 = mount_point(&user, &later_s);
        let (ok, _, err) = as_user(&user, "test -f \"$1/hello.txt\"", &[&m2]);
        assert!(ok, "not visible right after ShareFolder: {err}");
        assert!(returned.elapsed() < Duration::from_secs(1));
        let shared = s.shared_folders().await.unwrap();
        assert_eq!(
            shared,
            vec![(folder.clone(), false), (later_s.clone(), false)]
        );

        // Server → client: a file written in the session appears locally.
        let (ok, _, err) = as_user(
            &user,
            "echo from the server >\"$1/from server.txt\"",
            &[&m2],
        );
        assert!(ok, "{err}");
        assert_eq!(
            std::fs::read_to_string(later.join("from server.txt")).unwrap(),
            "from the server\n"
        );
        // Client → server: 64 MiB read back with the same digest.
        assert_eq!(
            sha256(Some(&user), &format!("{m2}/big.bin")),
            sha256(None, &big.to_string_lossy())
        );

        // Unshare one: gone from the server's mounts and mount table.
        s.unshare_folder(&later_s).await.unwrap();
        let mounts = p.list_mounts(&name, Options::new()).await.unwrap();
        assert!(!mounts.contains(&m2), "{mounts:?}");
        wait_until(
            "the mount to go from /proc/mounts",
            Duration::from_secs(10),
            || !sshfs_mounts().contains(&m2),
        )
        .await;
        // Unshare all.
        s.unshare_all_folders().await.unwrap();
        wait_until("every share to go", Duration::from_secs(10), || {
            !sshfs_mounts().iter().any(|m| m == &m1)
        })
        .await;
        assert!(s.shared_folders().await.unwrap().is_empty());
        assert!(
            p.list_mounts(&name, Options::new())
                .await
                .unwrap()
                .is_empty()
        );

        s.terminate().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_folders_are_refused_with_nothing_mounted() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let tmp = tempfile::Builder::new()
            .prefix("x2god-bad")
            .tempdir()
            .unwrap();
        let file = tmp.path().join("a file");
        std::fs::write(&file, "x").unwrap();
        let colon = tmp.path().join("a:b");
        let dollar = tmp.path().join("$(id)");
        let quote = tmp.path().join("a\"b");
        let newline = tmp.path().join("a\nb");
        for d in [&colon, &dollar, &quote, &newline] {
            std::fs::create_dir_all(d).unwrap();
        }
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "badshares").await;
        let s = start(&p, Options::new()).await;
        let before = sshfs_mounts();
        for (path, why) in [
            ("relative/dir".to_owned(), "absolute"),
            ("/nonexistent/x2god".to_owned(), "cannot share"),
            (file.to_string_lossy().into_owned(), "not a directory"),
            (colon.to_string_lossy().into_owned(), "':'"),
            (dollar.to_string_lossy().into_owned(), "'$'"),
            (quote.to_string_lossy().into_owned(), "'\"'"),
            (newline.to_string_lossy().into_owned(), "control"),
        ] {
            let msg = expect_err(s.share_folder(&path, false).await, "InvalidArgument");
            assert!(msg.contains(why), "{path:?}: {msg}");
        }
        assert_eq!(sshfs_mounts(), before, "something was mounted");
        assert!(s.shared_folders().await.unwrap().is_empty());
        // Options other than readonly are refused too.
        let msg = expect_err(
            s.proxy()
                .share_folder(
                    &tmp.path().to_string_lossy(),
                    Options::new().set("writable", true).as_call_arg(),
                )
                .await,
            "InvalidArgument",
        );
        assert!(msg.contains("writable"), "{msg}");
        s.terminate().await.unwrap();
    })
    .await;
}
