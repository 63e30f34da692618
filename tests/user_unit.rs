//! x2god as a desktop runs it: installed by `install.sh` into a test user's home and started by
//! a real systemd user manager (systemd --user, a socket-activated session bus from
//! dbus-user-session, a journald of its own), all in a private pid + mount namespace that
//! `tests/systemd/usermgr.sh` sets up. Checks D-Bus activation as the unit, the unit's sandbox
//! from inside the service, a session on the lab through that sandbox (nxproxy included),
//! the journal's fields, restarts after a crash, the start limit on a malformed
//! `profiles.toml`, and the tie to the graphical session.
//!
//! Root only (it creates the test user and the namespace); CI fails without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use x2god_tests::{Lab, daemon_binary, in_ci};

use crate::GRAPHICAL;

/// The test user the manager runs for (created by usermgr.sh when missing).
const USER: &str = "x2godsd";
/// The profile the test creates.
const PROFILE: &str = "lab";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn usermgr() -> PathBuf {
    repo().join("tests/systemd/usermgr.sh")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Polls `f` every 100 ms until it holds, failing after `timeout`.
fn poll(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running user manager; stopped (and what it made on the host removed) when dropped.
struct UserManager {
    dir: PathBuf,
    home: PathBuf,
}

impl UserManager {
    fn up() -> UserManager {
        let dir = std::env::temp_dir().join("x2god-usermgr");
        // A manager left over by an aborted run would keep the old unit and bus.
        let _ = Command::new(usermgr()).arg("down").arg(&dir).output();
        let out = Command::new(usermgr())
            .arg("up")
            .arg(&dir)
            .env("X2GOD_SD_USER", USER)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "usermgr.sh up: {}", text(&out));
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let home = passwd
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f[0] == USER).then(|| PathBuf::from(f[5]))
            })
            .unwrap();
        UserManager { dir, home }
    }

    /// Runs `args` as the test user in the namespace, with the login environment.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(usermgr())
            .arg("run")
            .arg(&self.dir)
            .args(args)
            .env("X2GOD_SD_USER", USER)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Like [`run`](Self::run), failing the test unless it succeeds; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `args` as root in the namespace (its /proc shows the unit's processes).
    fn root(&self, args: &[&str]) -> String {
        let out = Command::new(usermgr())
            .arg("root")
            .arg(&self.dir)
            .args(args)
            .env("X2GOD_SD_USER", USER)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?} as root: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn systemctl(&self, args: &[&str]) -> String {
        let mut all = vec!["systemctl", "--user"];
        all.extend_from_slice(args);
        self.ok(&all)
    }

    /// A property of x2god.service (`systemctl --user show -p NAME --value`).
    fn prop(&self, name: &str) -> String {
        self.systemctl(&["show", "-p", name, "--value", "x2god.service"])
            .trim()
            .to_owned()
    }

    fn main_pid(&self) -> u32 {
        self.prop("MainPID").parse().unwrap()
    }

    /// `journalctl --user -u x2god -o <output>` with `args`.
    fn journal(&self, output: &str, args: &[&str]) -> String {
        let mut all = vec![
            "journalctl",
            "--user",
            "-u",
            "x2god.service",
            "--no-pager",
            "-o",
            output,
        ];
        all.extend_from_slice(args);
        self.ok(&all)
    }

    fn list_profiles(&self) -> Output {
        self.run(&[
            "busctl",
            "--user",
            "call",
            "org.x2go.Control1",
            "/org/x2go/Control1",
            "org.x2go.Control1.Manager",
            "ListProfiles",
        ])
    }

    /// Makes the folder `dir` (and its parents), owned by the test user.
    fn mkdir(&self, dir: &Path) {
        self.root(&[
            "install",
            "-d",
            "-o",
            USER,
            "-g",
            USER,
            &dir.to_string_lossy(),
        ]);
    }

    /// Writes `contents` to `rel` in the test user's home, owned by the user.
    fn put(&self, rel: &str, contents: &[u8], mode: u32) -> PathBuf {
        let path = self.home.join(rel);
        self.mkdir(path.parent().unwrap());
        std::fs::write(&path, contents).unwrap();
        self.root(&["chown", &format!("{USER}:{USER}"), &path.to_string_lossy()]);
        self.root(&["chmod", &format!("{mode:o}"), &path.to_string_lossy()]);
        path
    }
}

impl Drop for UserManager {
    fn drop(&mut self) {
        let _ = Command::new(usermgr())
            .arg("down")
            .arg(&self.dir)
            .env("X2GOD_SD_USER", USER)
            .output();
    }
}

/// The probe's verdicts: check name → (verdict, detail).
fn probe_verdicts(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("x2god-probe "))
        .map(|l| {
            let mut f = l.splitn(3, ' ');
            let mut next = || f.next().unwrap_or_default().to_owned();
            (next(), next(), next())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2god_under_a_real_systemd_user_manager() {
    let Some(lab) = Lab::get() else { return };
    if !std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
    {
        assert!(
            !in_ci(),
            "the user-manager test needs root; CI runs tests/run as root"
        );
        eprintln!("SKIPPED: the user-manager test needs root (sudo tests/run)");
        return;
    }
    let m = UserManager::up();
    let home = m.home.to_string_lossy().into_owned();
    // Fresh state: nothing of an earlier run (profiles, units, drop-ins, ~/.x2go) may count.
    for rel in [
        ".config/x2god",
        ".config/systemd/user/x2god.service.d",
        ".x2go",
        ".local",
    ] {
        let _ = std::fs::remove_dir_all(m.home.join(rel));
    }

    // ---- install.sh, run as the user, as the README says (binaries from this build).
    let bins = m.home.join("bins");
    m.mkdir(&bins);
    let daemon = daemon_binary();
    for name in ["x2god", "x2goctl"] {
        let src = daemon.with_file_name(name);
        m.root(&[
            "install",
            "-m",
            "755",
            "-o",
            USER,
            &src.to_string_lossy(),
            &bins.join(name).to_string_lossy(),
        ]);
    }
    let install = format!(
        "cd {} && ./install.sh --from {}",
        repo().display(),
        bins.display()
    );
    let out = m.ok(&["bash", "-c", &install]);
    assert!(out.contains("x2god.service"), "{out}");
    assert_eq!(m.prop("ActiveState"), "inactive");

    // ---- The first bus call activates x2god as x2god.service.
    let out = m.list_profiles();
    assert!(
        out.status.success(),
        "ListProfiles: {}\n{}",
        text(&out),
        text(&m.run(&[
            "systemctl",
            "--user",
            "status",
            "x2god.service",
            "--no-pager"
        ]))
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ao 0");
    assert_eq!(m.prop("ActiveState"), "active");
    assert!(m.main_pid() > 0);
    let bus_log = m.ok(&[
        "journalctl",
        "--user",
        "--no-pager",
        "-o",
        "cat",
        "-t",
        "dbus-daemon",
    ]);
    assert!(
        bus_log.contains(
            "Activating via systemd: service name='org.x2go.Control1' unit='x2god.service'"
        ),
        "{bus_log}"
    );

    // ---- The sandbox, from inside the unit: a drop-in runs the probe as ExecStartPre, which
    // shares the unit's [Service] settings. The same probe outside must find every door open,
    // or the check proves nothing.
    let host_uts = std::fs::read_link("/proc/self/ns/uts").unwrap();
    let host_uts = host_uts.to_string_lossy();
    let probe = m.put(
        "bins/probe.py",
        &std::fs::read(repo().join("tests/systemd/probe.py")).unwrap(),
        0o755,
    );
    let probe = probe.to_string_lossy();
    let runtime = format!("/run/user/{}", m.ok(&["id", "-u"]).trim());
    let dropin = format!("[Service]\nExecStartPre=/usr/bin/python3 {probe} {host_uts} %h %t\n");
    m.put(
        ".config/systemd/user/x2god.service.d/probe.conf",
        dropin.as_bytes(),
        0o644,
    );
    m.systemctl(&["daemon-reload"]);
    m.systemctl(&["restart", "x2god.service"]);
    let inside = probe_verdicts(&m.journal("cat", &[]));
    let outside = probe_verdicts(&m.ok(&["python3", &probe, &host_uts, &home, &runtime]));
    assert!(inside.len() >= 19, "probe output: {inside:?}");
    let modules_dirs = ["/usr/lib/modules", "/lib/modules"]
        .iter()
        .any(|d| Path::new(d).exists());
    for (check, verdict, detail) in &inside {
        let (_, open, open_detail) = outside
            .iter()
            .find(|(c, _, _)| c == check)
            .unwrap_or_else(|| panic!("{check} missing outside"));
        match check.as_str() {
            // Writable inside as outside: the paths x2god must write.
            "read-write-paths" => assert_eq!(verdict, "sandboxed", "{check}: {detail}"),
            // Nothing to cover on a machine without module directories.
            "protect-kernel-modules" if !modules_dirs => assert_eq!(verdict, "n/a"),
            _ => {
                assert_eq!(verdict, "sandboxed", "{check} not in force: {detail}");
                assert_eq!(open, "open", "{check} outside the unit: {open_detail}");
            }
        }
    }
    // x2god itself, as the kernel sees it.
    let status = m.root(&["cat", &format!("/proc/{}/status", m.main_pid())]);
    for line in ["NoNewPrivs:\t1", "Seccomp:\t2", "CapBnd:\t0000000000000000"] {
        assert!(
            status.contains(line),
            "x2god's status lacks {line:?}:\n{status}"
        );
    }
    let uid_map = m.root(&["cat", &format!("/proc/{}/uid_map", m.main_pid())]);
    assert_eq!(uid_map.lines().count(), 1, "PrivateUsers=: {uid_map}");
    std::fs::remove_dir_all(m.home.join(".config/systemd/user/x2god.service.d")).unwrap();
    m.systemctl(&["daemon-reload"]);

    let score = m.ok(&[
        "systemd-analyze",
        "security",
        "--user",
        "x2god.service",
        "--no-pager",
    ]);
    let overall = score
        .lines()
        .find(|l| l.contains("Overall exposure level for x2god.service"))
        .unwrap_or_else(|| panic!("no score in {score}"));
    eprintln!("{overall}");
    let value: f64 = overall
        .split(": ")
        .nth(1)
        .and_then(|v| v.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(value < 5.0, "{overall}");

    // ---- A session on the lab through the sandbox, on the display the desktop imported into
    // the manager: nxproxy runs under the unit's system call filter and W^X too.
    let key = m.put(
        ".ssh/lab_key",
        &std::fs::read(lab.var("SSH_KEY")).unwrap(),
        0o600,
    );
    m.put(
        ".ssh/known_hosts",
        &std::fs::read(lab.var("KNOWN_HOSTS")).unwrap(),
        0o600,
    );
    let xauth = m.put(
        ".Xauthority",
        &std::fs::read(lab.var("XAUTHORITY")).unwrap(),
        0o600,
    );
    m.ok(&[
        "env",
        &format!("DISPLAY={}", lab.var("X_DISPLAY")),
        &format!("XAUTHORITY={}", xauth.display()),
        "systemctl",
        "--user",
        "import-environment",
        "DISPLAY",
        "XAUTHORITY",
    ]);
    m.systemctl(&["restart", "x2god.service"]);
    m.ok(&[
        "x2goctl",
        "profile",
        "add",
        PROFILE,
        "--host",
        "127.0.0.1",
        "--port",
        &lab.var("SSH_PORT"),
        "--user",
        &lab.var("SSH_USER"),
        "--key",
        &key.to_string_lossy(),
    ]);
    m.ok(&["x2goctl", "connect", PROFILE]);
    {
        let _g = GRAPHICAL.lock().await;
        assert!(
            lab.visible_windows("XTerm").is_empty(),
            "a window is already there"
        );
        let session = m.ok(&[
            "x2goctl",
            "start",
            PROFILE,
            "--cmd",
            "xterm",
            "--type",
            "application",
            "-g",
            "800x600",
        ]);
        let session = session.trim().to_owned();
        poll("the xterm window", Duration::from_secs(30), || {
            !lab.visible_windows("XTerm").is_empty()
        });
        let tree = m.systemctl(&["status", "x2god.service", "--no-pager", "-n", "0"]);
        assert!(tree.contains("nxproxy"), "nxproxy not in the unit: {tree}");
        m.ok(&["x2goctl", "terminate", PROFILE, &session]);
        poll("the window to go", Duration::from_secs(30), || {
            lab.visible_windows("XTerm").is_empty()
        });

        // The journal's fields for this profile and session.
        let fields = m.journal("verbose", &[&format!("PROFILE={PROFILE}")]);
        assert!(fields.contains("HOST=127.0.0.1"), "{fields}");
        assert!(fields.contains(&format!("SESSION={session}")), "{fields}");
        assert!(fields.contains("SYSLOG_IDENTIFIER=x2god"), "{fields}");
    }

    // ---- A crash: Restart=on-failure brings it back, NRestarts counts it, profiles survive.
    let before = m.main_pid();
    m.ok(&["kill", "-ABRT", &before.to_string()]);
    poll("x2god to be restarted", Duration::from_secs(20), || {
        let pid = m.main_pid();
        pid != 0 && pid != before && m.prop("ActiveState") == "active"
    });
    assert_eq!(m.prop("NRestarts"), "1");
    let out = m.ok(&["x2goctl", "profile", "list"]);
    assert!(out.contains(PROFILE), "{out}");

    // ---- Enabled, it starts with the graphical session (after the desktop imported DISPLAY)
    // and stops with it. A desktop's session target binds graphical-session.target.
    m.systemctl(&["stop", "x2god.service"]);
    let out = m.systemctl(&["enable", "x2god.service"]);
    assert!(
        m.home
            .join(".config/systemd/user/graphical-session.target.wants/x2god.service")
            .exists(),
        "{out}"
    );
    m.put(
        ".config/systemd/user/x2god-test-desktop.target",
        b"[Unit]\nDescription=x2god test: a desktop session\nBindsTo=graphical-session.target\n",
        0o644,
    );
    m.systemctl(&["daemon-reload"]);
    assert!(
        m.prop("After")
            .split(' ')
            .any(|u| u == "graphical-session.target")
    );
    m.systemctl(&["start", "x2god-test-desktop.target"]);
    poll(
        "x2god to start with the session",
        Duration::from_secs(20),
        || m.prop("ActiveState") == "active",
    );
    let environ = m.root(&["cat", &format!("/proc/{}/environ", m.main_pid())]);
    assert!(
        environ
            .split('\0')
            .any(|v| v == format!("DISPLAY={}", lab.var("X_DISPLAY"))),
        "x2god started without the imported DISPLAY"
    );
    m.systemctl(&["stop", "x2god-test-desktop.target"]);
    poll(
        "x2god to stop with the session",
        Duration::from_secs(20),
        || m.prop("ActiveState") == "inactive",
    );
    m.systemctl(&["disable", "x2god.service"]);

    // ---- A malformed profiles.toml: the unit gives up after its start limit, and status and
    // the journal say which file and line.
    let profiles = m.home.join(".config/x2god/profiles.toml");
    let good = std::fs::read(&profiles).unwrap();
    m.put(
        ".config/x2god/profiles.toml",
        b"[profile.lab]\nhostname = \"127.0.0.1\"\nport = = 22\n",
        0o600,
    );
    let _ = m.run(&["systemctl", "--user", "start", "x2god.service"]);
    poll("the start limit", Duration::from_secs(40), || {
        m.prop("ActiveState") == "failed"
    });
    let why = format!("{}: line 3", profiles.display());
    // Five starts in 30 s: the first and four restarts; systemd counts the fifth restart it
    // then refuses.
    assert_eq!(m.prop("NRestarts"), "5");
    // The log lines `status` shows are the refused start's only; x2god's status text names
    // the file and line.
    let status = m.run(&[
        "systemctl",
        "--user",
        "status",
        "x2god.service",
        "--no-pager",
    ]);
    assert!(
        text(&status).contains(&format!("Status: \"cannot load profiles: {why}")),
        "status: {}",
        text(&status)
    );
    assert!(text(&status).contains("Start request repeated too quickly"));
    let errors = m.journal("cat", &["-p", "err"]);
    assert_eq!(errors.matches(&why).count(), 5, "journal: {errors}");

    // Mended, it starts again.
    m.put(".config/x2god/profiles.toml", &good, 0o600);
    m.systemctl(&["reset-failed", "x2god.service"]);
    let out = m.list_profiles();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(m.prop("ActiveState"), "active");
    assert_eq!(m.prop("StatusText"), "serving on the session bus");

    // Down again, nothing of it is left on the host: no sign of systemd as init, no cgroups.
    drop(m);
    assert!(!Path::new("/run/systemd/system").exists());
    for root in [
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup/systemd",
        "/sys/fs/cgroup",
    ] {
        assert!(!Path::new(root).join("x2god-sd.slice").exists(), "{root}");
    }
}
