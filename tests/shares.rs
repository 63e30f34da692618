//! Client folders shared into sessions, seen on the real server: mounted by the server's
//! sshfs through the profile's connection, readable and writable where allowed, nothing
//! reachable beside them, keys nobody else reads, and what happens across suspend, resume and
//! a lost connection.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use x2god_client::{Options, Profile, SessionHandle};
use x2god_tests::{Daemon, Lab, Pyhoca, wait_until};

use crate::{GRAPHICAL, assert_only_check_ran, bounded, connected, expect_err};

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
pub(crate) fn as_user(user: &str, script: &str, args: &[&str]) -> (bool, String, String) {
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

/// A temporary parent of client folders, world-traversable so the server-side assertions (as
/// the session's user) can look at the client side too.
fn client_dir(prefix: &str) -> tempfile::TempDir {
    let tmp = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    tmp
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
        let tmp = client_dir("x2god-share");
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
        let mut shared = s.shared_folders().await.unwrap();
        shared.sort();
        let mut want = vec![(folder.clone(), false), (later_s.clone(), false)];
        want.sort();
        assert_eq!(shared, want);

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
        let log_before = d.log_text().len();
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
        // Nothing ran on the server for them (the daemon logs every command it sends), and no
        // key reached the server's key folder.
        // A command after them shows that commands are logged at all (else this could not fail).
        p.list_mounts(s.name(), Options::new()).await.unwrap();
        assert_only_check_ran(&d, log_before, "x2golistmounts", "refused folders");
        let user = lab.var("SSH_USER");
        let (_, keys, _) = as_user(&user, "ls -A \"$HOME/.x2go/ssh\" 2>/dev/null", &[]);
        assert!(keys.trim().is_empty(), "key files left: {keys}");
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

/// Field `index` of the server's `x2golistsessions` line of `session` (13: the sshfs port).
fn session_field(lab: &Lab, session: &str, index: usize) -> String {
    lab.ssh(&lab.var("SSH_USER"), "x2golistsessions")
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.get(1).map(String::as_str) == Some(session))
        .and_then(|f| f.get(index).cloned())
        .unwrap_or_else(|| panic!("{session} not listed by x2golistsessions"))
}

/// Whether some sshfs mount of the server's table is at `mount` and answers (a stale one
/// whose sshfs died fails `stat`).
fn mounted_and_readable(user: &str, mount: &str) -> bool {
    sshfs_mounts().iter().any(|m| m == mount)
        && as_user(user, "test -f \"$1/hello.txt\"", &[mount]).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_user_reads_no_key_and_cannot_log_in_to_the_share() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let other = lab.var("SSH_USER2");
        let tmp = client_dir("x2god-keys");
        let folder = client_folder(tmp.path(), "folder");
        let folder_s = folder.to_string_lossy().into_owned();
        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "keys").await;
        let s = start(&p, Options::new()).await;
        let name = s.name().to_owned();

        // The other user polls the first one's key folder as fast as it can meanwhile.
        let key_dir = format!("/home/{user}/.x2go/ssh");
        let stop = tmp.path().join("stop");
        let poll = "n=0; while [ ! -e \"$2\" ]; do \
                    for f in \"$1\"/* \"$1\"/.[!.]*; do cat \"$f\" 2>/dev/null && echo \"READ $f\"; done; \
                    ls -la \"$1\" 2>/dev/null && echo LISTED; n=$((n+1)); done; echo polls=$n";
        let poller = Command::new("runuser")
            .args(["-u", &other, "--", "sh", "-c", poll, "sh", &key_dir])
            .arg(&stop)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let m = mount_point(&user, &folder_s);
        for _ in 0..10 {
            s.share_folder(&folder_s, false).await.unwrap();
            assert!(mounted_and_readable(&user, &m), "{m} not mounted");
            s.unshare_folder(&folder_s).await.unwrap();
        }
        std::fs::write(&stop, "").unwrap();
        let out = poller.wait_with_output().unwrap();
        let seen = String::from_utf8_lossy(&out.stdout);
        assert!(!seen.contains("PRIVATE KEY") && !seen.contains("READ "), "{other} read:\n{seen}");
        let polls: u32 = seen
            .lines()
            .find_map(|l| l.strip_prefix("polls="))
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(polls >= 20, "only {polls} polls during 20 share operations");
        eprintln!("{other} polled {key_dir} {polls} times, read nothing");

        // With a share up, the sshfs port listens on the server: nothing the other user has
        // gets in (its own fresh key, the agent it does not have, a password).
        s.share_folder(&folder_s, true).await.unwrap();
        let port = session_field(&lab, &name, 13);
        let try_login = "d=$(mktemp -d) && ssh-keygen -q -t ed25519 -N '' -f \"$d/k\" && \
            for k in \"$d/k\" \"$HOME\"/.ssh/id_*; do [ -f \"$k\" ] && case \"$k\" in *.pub) ;; *) \
            ssh -F /dev/null -p \"$1\" -i \"$k\" -o IdentitiesOnly=yes -o BatchMode=yes \
              -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \"$2\"@127.0.0.1 true 2>&1 \
              && echo \"LOGGED IN with $k\"; \
            sftp -q -F /dev/null -P \"$1\" -i \"$k\" -o IdentitiesOnly=yes -o BatchMode=yes \
              -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \"$2\"@127.0.0.1 </dev/null 2>&1 \
              && echo \"SFTP with $k\";; esac; done; rm -rf \"$d\"";
        let (_, out, err) = as_user(&other, try_login, &[&port, &user]);
        assert!(!out.contains("LOGGED IN") && !out.contains("SFTP with"), "{out}{err}");
        assert!(out.contains("Permission denied (publickey)"), "{out}{err}");

        // Read-only: the session cannot write into it.
        let (ok, _, _) = as_user(&user, "echo x >\"$1/new.txt\"", &[&m]);
        assert!(!ok, "wrote into a read-only share");
        assert!(!folder.join("new.txt").exists());
        // Terminated with the share up: its mount goes with the session, at once (the server
        // does not unmount on terminate; x2god ends the share's sshfs connection).
        s.terminate().await.unwrap();
        wait_until("the mount to go with the session", Duration::from_secs(5), || {
            !sshfs_mounts().contains(&m)
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_return_after_resume_and_after_a_reconnect() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let tmp = client_dir("x2god-restore");
        let first = client_folder(tmp.path(), "first");
        let second = client_folder(tmp.path(), "second");
        let (first_s, second_s) = (
            first.to_string_lossy().into_owned(),
            second.to_string_lossy().into_owned(),
        );
        let (m1, m2) = (mount_point(&user, &first_s), mount_point(&user, &second_s));
        let sshd = x2god_tests::PrivateSshd::start(&lab);
        let d = Daemon::start_with_display(&lab).await;
        sshd.trust_in_home(d.home.path());
        let settings = Options::new()
            .set("auto_resume", true)
            .set("restore_shared_local_folders", true)
            .set("share_local_folders", vec![first_s.clone()]);
        let p = crate::reliability::connected_at(&d, &lab, sshd.port, settings).await;
        let s = start(&p, Options::new()).await;
        let name = s.name().to_owned();
        wait_until("the first share", Duration::from_secs(30), || {
            mounted_and_readable(&user, &m1)
        })
        .await;
        s.share_folder(&second_s, false).await.unwrap();
        assert!(mounted_and_readable(&user, &m2));

        // Suspend: the server unmounts both; resume: both come back.
        s.suspend().await.unwrap();
        wait_until(
            "the mounts to go on suspend",
            Duration::from_secs(20),
            || {
                let m = sshfs_mounts();
                !m.contains(&m1) && !m.contains(&m2)
            },
        )
        .await;
        s.resume(Options::new()).await.unwrap();
        wait_until(
            "both shares back after resume",
            Duration::from_secs(30),
            || mounted_and_readable(&user, &m1) && mounted_and_readable(&user, &m2),
        )
        .await;
        // The records follow the mounts (each once its x2gomountdirs has returned).
        let want = vec![(first_s.clone(), false), (second_s.clone(), false)];
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut shared = s.shared_folders().await.unwrap();
            shared.sort();
            if shared == want {
                break;
            }
            assert!(Instant::now() < deadline, "SharedFolders: {shared:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // The sshd serving the connection dies: x2god reconnects, resumes, shares again.
        sshd.kill_all();
        tokio::time::sleep(Duration::from_secs(1)).await;
        sshd.run();
        wait_until(
            "both shares back after the reconnect",
            Duration::from_secs(60),
            || mounted_and_readable(&user, &m1) && mounted_and_readable(&user, &m2),
        )
        .await;
        let (ok, out, err) = as_user(&user, "cat \"$1/hello.txt\"", &[&m2]);
        assert!(ok && out == "hello from second\n", "{out}{err}");
        let listed = p.list_sessions().await.unwrap();
        assert!(
            listed.iter().any(|l| l.name == name && l.status == "R"),
            "{listed:?}"
        );
        p.proxy()
            .terminate(&name, std::collections::HashMap::new())
            .await
            .unwrap();
        wait_until(
            "the mounts to go with the session",
            Duration::from_secs(5),
            || {
                let m = sshfs_mounts();
                !m.contains(&m1) && !m.contains(&m2)
            },
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyhoca_and_x2god_see_each_others_shares() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let user = lab.var("SSH_USER");
        let tmp = client_dir("x2god-interop");
        let theirs = client_folder(tmp.path(), "pyhoca shares");
        let ours = client_folder(tmp.path(), "x2god shares");
        let (theirs_s, ours_s) = (
            theirs.to_string_lossy().into_owned(),
            ours.to_string_lossy().into_owned(),
        );
        let (m_theirs, m_ours) = (mount_point(&user, &theirs_s), mount_point(&user, &ours_s));
        // python-x2go's sshfs login uses ssh-rsa (SHA-1), which OpenSSH's client refuses unless
        // told otherwise (lab recipe): for the length of this test only.
        let ssh_config = format!("/home/{user}/.ssh/config");
        let saved = std::fs::read(&ssh_config).ok();
        let (ok, _, err) = as_user(
            &user,
            "printf 'Host 127.0.0.1\\n  PubkeyAcceptedAlgorithms +ssh-rsa\\n  HostKeyAlgorithms +ssh-rsa\\n' >\"$1\"",
            &[&ssh_config],
        );
        assert!(ok, "{err}");

        let mut py = Pyhoca::new(&lab);
        py.spawn(&["-N", "-c", "xterm", "-g", "640x480", "-F", &theirs_s]);
        wait_until("pyhoca-cli's share", Duration::from_secs(90), || {
            mounted_and_readable(&user, &m_theirs)
        })
        .await;
        // Mounted: the login is done, the user's ssh configuration goes back as it was.
        match saved {
            Some(b) => std::fs::write(&ssh_config, b).unwrap(),
            None => {
                let _ = std::fs::remove_file(&ssh_config);
            }
        }

        let d = Daemon::start_with_display(&lab).await;
        let p = connected(&d, &lab, "interop-shares").await;
        let listed = p.list_sessions().await.unwrap();
        let mut found = None;
        for l in &listed {
            if p.list_mounts(&l.name, Options::new()).await.unwrap().contains(&m_theirs) {
                found = Some(l.name.clone());
            }
        }
        let name = found.unwrap_or_else(|| panic!("x2god's ListMounts misses {m_theirs}"));

        // The session's sshfs port is pyhoca-cli's: x2god says so instead of half-sharing.
        let handle = p.session(&name).await.unwrap();
        let msg = expect_err(handle.share_folder(&ours_s, false).await, "Busy");
        assert!(msg.contains("another client"), "{msg}");
        assert!(!sshfs_mounts().contains(&m_ours));

        // A session of x2god's own: python-x2go lists what x2god shares into it.
        let mine = start(&p, Options::new()).await;
        mine.share_folder(&ours_s, false).await.unwrap();
        assert!(mounted_and_readable(&user, &m_ours));
        let script = "import sys\n\
from x2go.backends.control.plain import X2GoControlSession\n\
c = X2GoControlSession(known_hosts=sys.argv[5])\n\
c.connect('127.0.0.1', port=int(sys.argv[1]), username=sys.argv[2], key_filename=sys.argv[3], look_for_keys=False, allow_agent=False)\n\
for m in c.list_mounts(sys.argv[4])[sys.argv[4]]: print(m)\n";
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::copy(lab.var("KNOWN_HOSTS"), ssh.join("known_hosts")).unwrap();
        let out = Command::new("/usr/bin/python3")
            .args(["-c", script, &lab.var("SSH_PORT"), &user, &lab.var("SSH_KEY"), mine.name()])
            .arg(ssh.join("known_hosts"))
            .env("HOME", home.path())
            .output()
            .unwrap();
        let mounts = String::from_utf8_lossy(&out.stdout);
        assert!(
            mounts.lines().any(|l| l.ends_with(&m_ours)),
            "python-x2go's list_mounts: {mounts}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        mine.unshare_folder(&ours_s).await.unwrap();
        wait_until("x2god's share to go", Duration::from_secs(10), || {
            !sshfs_mounts().contains(&m_ours)
        })
        .await;
        assert!(mounted_and_readable(&user, &m_theirs), "pyhoca-cli's share went too");
        mine.terminate().await.unwrap();
        p.proxy().terminate(&name, std::collections::HashMap::new()).await.unwrap();
        py.wait_exit(Duration::from_secs(20));
    })
    .await;
}
