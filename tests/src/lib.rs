//! Fixtures for the integration tests: the lab (a real sshd + x2goserver, set up by
//! `tests/lab/setup.sh`), a private `dbus-daemon` per test and a real `x2god` process on it.

// Fixture code: a setup step that fails must stop the test with its message, so panicking on
// errors is the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x2god_client::{Client, Options, Profile};

/// The running lab, as described by its `lab.env`.
#[derive(Debug, Clone)]
pub struct Lab {
    vars: HashMap<String, String>,
}

/// Whether this is a CI run (`CI` set and not `false`), where a missing prerequisite fails a
/// test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

impl Lab {
    /// The lab, or `None` outside CI when it is not set up. In CI a missing lab is a failure.
    pub fn get() -> Option<Lab> {
        let file =
            std::env::var("X2GOD_LAB_ENV").unwrap_or_else(|_| "/tmp/x2god-lab/lab.env".to_owned());
        match std::fs::read_to_string(&file) {
            Ok(text) => Some(Lab {
                vars: parse_env(&text),
            }),
            Err(e) => {
                if in_ci() {
                    panic!("the lab is missing ({file}: {e}); CI must run tests/run");
                }
                eprintln!("SKIPPED: no lab at {file} ({e}); run `sudo tests/run`");
                None
            }
        }
    }

    /// A value of `lab.env`.
    pub fn var(&self, key: &str) -> String {
        self.vars
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("lab.env has no {key}"))
    }

    /// A value of `lab.env`, if the lab has it (parts added by later lab scripts).
    pub fn var_opt(&self, key: &str) -> Option<String> {
        self.vars.get(key).cloned()
    }

    /// Whether lab.env has `key`, which the lab part `script` adds: in CI a missing part is a
    /// failure, elsewhere the caller skips (and says so).
    pub fn has_part(&self, key: &str, script: &str) -> bool {
        if self.var_opt(key).is_some() {
            return true;
        }
        assert!(
            !in_ci(),
            "lab.env has no {key}: tests/lab/{script} did not run"
        );
        eprintln!("SKIPPED: lab.env has no {key} (tests/lab/{script})");
        false
    }

    /// The sshd port.
    pub fn port(&self) -> u16 {
        self.var("SSH_PORT").parse().expect("SSH_PORT")
    }

    /// Runs `cmd` on the lab server as `user` through OpenSSH (the reference client) and
    /// returns its stdout.
    pub fn ssh(&self, user: &str, cmd: &str) -> String {
        let out = Command::new("ssh")
            .args([
                "-F",
                "/dev/null",
                "-i",
                &self.var("SSH_KEY"),
                "-p",
                &self.var("SSH_PORT"),
            ])
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.var("KNOWN_HOSTS")))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{user}@127.0.0.1"))
            .arg(cmd)
            .output()
            .expect("run ssh");
        assert!(
            out.status.success(),
            "ssh {cmd} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The sshd log so far.
    pub fn sshd_log(&self) -> String {
        std::fs::read_to_string(self.var("SSHD_LOG")).unwrap_or_default()
    }

    /// Lines of the sshd log that start a command channel (`Starting session: command`) for a
    /// client at `127.0.0.1:local_port`.
    pub fn channels_from(&self, local_port: u16) -> usize {
        let needle = format!("from 127.0.0.1 port {local_port} ");
        self.sshd_log()
            .lines()
            .filter(|l| l.contains("Starting session: command") && l.contains(&needle))
            .count()
    }

    /// Settings that reach the lab as `user`, for `CreateProfile`.
    pub fn profile_settings(&self, user: &str) -> Options {
        Options::new()
            .set("hostname", "127.0.0.1")
            .set("port", u32::from(self.port()))
            .set("username", user.to_owned())
    }

    /// Writes the lab's host keys as OpenSSH would have them into `home/.ssh/known_hosts`.
    pub fn trust_in_home(&self, home: &Path) {
        let ssh = home.join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::copy(self.var("KNOWN_HOSTS"), ssh.join("known_hosts")).unwrap();
    }

    /// Known-hosts lines for the lab's host keys at 127.0.0.1:`port` (a private sshd or a
    /// relay), as a daemon's HOME's only ones.
    pub fn trust_port_in_home(&self, home: &Path, port: u16) {
        let ssh = home.join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(ssh.join("known_hosts"), self.known_lines_at(port)).unwrap();
    }

    /// Known-hosts lines for the lab's host keys at 127.0.0.1:`port`.
    pub fn known_lines_at(&self, port: u16) -> String {
        let mut lines = String::new();
        for k in ["HOSTKEY_ED25519_PUB", "HOSTKEY_RSA_PUB"] {
            let key = std::fs::read_to_string(self.var(k)).unwrap();
            let mut f = key.split_whitespace();
            lines += &format!(
                "[127.0.0.1]:{port} {} {}\n",
                f.next().unwrap(),
                f.next().unwrap()
            );
        }
        lines
    }
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                .unwrap_or(v);
            Some((
                k.trim().trim_start_matches("export ").to_owned(),
                v.to_owned(),
            ))
        })
        .collect()
}

/// A private `dbus-daemon`, killed on drop.
pub struct Bus {
    child: Child,
    /// The bus address.
    pub address: String,
    _dir: tempfile::TempDir,
}

impl Bus {
    /// Starts a bus with no service directories, so nothing is activated behind our back.
    pub fn start() -> Bus {
        Bus::start_with_services(None)
    }

    /// Starts a bus whose activation directory is `services`.
    pub fn start_with_services(services: Option<&Path>) -> Bus {
        Bus::start_activating(services, None)
    }

    /// Starts a bus whose activation directory is `services`; with `env`, the bus (and so
    /// every service it activates) runs with exactly that environment plus `PATH`, and its
    /// stderr, where activated services log, goes to `bus.log` in `log_dir`.
    pub fn start_activating(
        services: Option<&Path>,
        env: Option<(&[(&str, &std::ffi::OsStr)], &Path)>,
    ) -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let servicedir = services
            .map(|p| format!("<servicedir>{}</servicedir>", p.display()))
            .unwrap_or_default();
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  {servicedir}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>"#,
            socket.display()
        );
        let conf = dir.path().join("bus.conf");
        std::fs::write(&conf, config).unwrap();
        let mut cmd = Command::new("dbus-daemon");
        cmd.arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some((vars, log_dir)) = env {
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .envs(vars.iter().copied())
                .stderr(std::fs::File::create(log_dir.join("bus.log")).unwrap());
        }
        let mut child = cmd
            .spawn()
            .expect("start dbus-daemon (apt-get install dbus-daemon)");
        let mut line = String::new();
        {
            use std::io::BufRead;
            let out = child.stdout.as_mut().unwrap();
            std::io::BufReader::new(out).read_line(&mut line).unwrap();
        }
        Bus {
            child,
            address: line.trim().to_owned(),
            _dir: dir,
        }
    }

    /// Starts a bus that every local user may connect to (`<allow user="*"/>`, its socket in a
    /// world-readable directory): a bus others reach, as a hostile user would want one.
    pub fn start_shared() -> Bus {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>"#,
            dir.path().join("bus").display()
        );
        let conf = dir.path().join("bus.conf");
        std::fs::write(&conf, config).unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon (apt-get install dbus-daemon)");
        let mut line = String::new();
        {
            use std::io::BufRead;
            let out = child.stdout.as_mut().unwrap();
            std::io::BufReader::new(out).read_line(&mut line).unwrap();
        }
        Bus {
            child,
            address: line.trim().to_owned(),
            _dir: dir,
        }
    }

    /// A client connection to this bus.
    pub async fn connect(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .build()
            .await
            .unwrap()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Path of the x2god binary built by `cargo build` (tests/run builds it first).
pub fn daemon_binary() -> PathBuf {
    if let Ok(p) = std::env::var("X2GOD_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/integration-… → target/<profile>/x2god
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("x2god");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p x2god` (tests/run does)",
        bin.display()
    );
    let built = std::fs::metadata(&bin).unwrap().modified().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../daemon/src");
    if let Some(newest) = newest_mtime(&src) {
        assert!(
            built >= newest,
            "{} is older than its sources: run `cargo build -p x2god` (tests/run does)",
            bin.display()
        );
    }
    bin
}

fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        let t = if p.is_dir() {
            newest_mtime(&p)
        } else {
            entry.metadata().ok()?.modified().ok()
        };
        newest = newest.max(t);
    }
    newest
}

/// A real x2god process on a private bus, with its own HOME and config directory.
pub struct Daemon {
    child: Option<Child>,
    /// The bus it serves on.
    pub bus: Bus,
    /// Its HOME (and `~/.ssh`).
    pub home: tempfile::TempDir,
    /// Where its stderr goes.
    pub log: PathBuf,
    env: Vec<(String, String)>,
    /// Bound over `/etc/ssh` in a private mount namespace of the daemon, if set.
    etc_ssh: Option<PathBuf>,
}

impl Daemon {
    /// Starts x2god with a fresh HOME on a fresh private bus.
    pub async fn start() -> Daemon {
        Daemon::start_with_env(Vec::new()).await
    }

    /// Starts x2god with extra environment variables (e.g. `SSH_AUTH_SOCK`).
    pub async fn start_with_env(env: Vec<(String, String)>) -> Daemon {
        Daemon::start_prepared(env, |_| {}).await
    }

    /// `$XDG_CONFIG_HOME/x2god`.
    pub fn config_dir(&self) -> PathBuf {
        self.home.path().join(".config/x2god")
    }

    async fn spawn(&mut self) {
        let cmd = self.command();
        self.child = Some(cmd.spawn_child());
        self.wait_for_name().await;
    }

    /// Runs the daemon expecting it to exit by itself (e.g. on a bad profile file); returns its
    /// exit status and log.
    pub fn run_once(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.command().spawn_child();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("x2god kept running:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.log_text())
    }

    fn command(&self) -> Command {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = match &self.etc_ssh {
            None => Command::new(daemon_binary()),
            Some(dir) => {
                // A private mount namespace (unshare's default propagation is private), so
                // the machine's /etc/ssh is neither read nor touched; sh and unshare exec, so
                // the pid is the daemon's.
                let mut c = Command::new("unshare");
                c.args(["--mount", "--", "sh", "-c"])
                    .arg(r#"mount --bind "$1" /etc/ssh && exec "$2""#)
                    .arg("sh")
                    .arg(dir)
                    .arg(daemon_binary());
                c
            }
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("USER", "x2god-test-local")
            // The machine's /etc/ssh/ssh_config is no part of any test (ssh_config.rs gives
            // its own through `env`).
            .env("X2GOD_SSH_SYSTEM_CONFIG", "/dev/null")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    async fn wait_for_name(&mut self) {
        let conn = self.bus.connect().await;
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let name = zbus::names::BusName::try_from(x2god_proto::names::BUS_NAME).unwrap();
            if dbus.name_has_owner(name).await.unwrap_or(false) {
                return;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("x2god exited with {status}:\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "x2god did not take its name:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Everything the daemon logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// A client on the daemon's bus.
    pub async fn client(&self) -> Client {
        Client::with_connection(self.bus.connect().await)
            .await
            .unwrap()
    }

    /// Creates profile `name` with `settings` (a fresh client, as most tests need one once).
    pub async fn create_profile(&self, name: &str, settings: Options) -> Profile {
        self.client()
            .await
            .create_profile(name, settings)
            .await
            .unwrap()
    }

    /// Stops the daemon with SIGTERM and waits for it.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the daemon again with the same HOME and bus.
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn().await;
    }

    /// The local TCP ports of the daemon's established connections to `port`.
    pub fn tcp_connections_to(&self, port: u16) -> Vec<u16> {
        let out = Command::new("ss")
            .args(["-tnpH", "state", "established"])
            .output()
            .expect("ss");
        let text = String::from_utf8_lossy(&out.stdout);
        let me = format!("pid={},", self.pid());
        let peer = format!("127.0.0.1:{port}");
        text.lines()
            .filter(|l| l.contains(&me))
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                // Recv-Q Send-Q Local Peer Process
                let local = cols.get(2)?;
                let remote = cols.get(3)?;
                (*remote == peer).then(|| local.rsplit(':').next()?.parse().ok())?
            })
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // A failing test shows what the daemon did last (the harness prints a failed test's
        // output), without a trace-level flood: the log goes with the temporary home.
        if std::thread::panicking() {
            let log = self.log_text();
            // x2god's own lines (the libraries' debug chatter would fill the tail), and every
            // warning and error.
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| {
                    l.contains(" WARN ")
                        || l.contains(" ERROR ")
                        || (l.contains(" x2god::") && !l.contains(" TRACE "))
                })
                .collect();
            let tail = lines.len().saturating_sub(DAEMON_LOG_TAIL);
            eprintln!(
                "--- the daemon's log: its last {} lines of its own at debug and up ---",
                lines.len() - tail
            );
            for l in &lines[tail..] {
                eprintln!("{l}");
            }
        }
    }
}

/// How many lines of a failed test's daemon log are shown.
const DAEMON_LOG_TAIL: usize = 200;

trait SpawnChild {
    fn spawn_child(self) -> Child;
}

impl SpawnChild for Command {
    fn spawn_child(mut self) -> Child {
        self.spawn().expect("start x2god")
    }
}

/// Starts a real ssh-agent holding `key`; returns its socket and pid (killed by the guard).
pub struct SshAgent {
    /// `SSH_AUTH_SOCK`.
    pub socket: PathBuf,
    pid: u32,
    _dir: tempfile::TempDir,
}

impl SshAgent {
    /// An agent with `key` added.
    pub fn with_key(key: &Path) -> SshAgent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let out = Command::new("ssh-agent")
            .arg("-a")
            .arg(&socket)
            .arg("-s")
            .output()
            .expect("ssh-agent");
        let text = String::from_utf8_lossy(&out.stdout);
        let pid = text
            .split("SSH_AGENT_PID=")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .and_then(|p| p.parse().ok())
            .expect("agent pid");
        let st = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &socket)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "ssh-add failed");
        SshAgent {
            socket,
            pid,
            _dir: dir,
        }
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

/// Waits until `f` is true or panics after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Lab {
    /// Environment that points X clients (nxproxy, xwininfo) at the lab's Xvfb.
    pub fn display_env(&self) -> Vec<(String, String)> {
        vec![
            ("DISPLAY".into(), self.var("X_DISPLAY")),
            ("XAUTHORITY".into(), self.var("XAUTHORITY")),
        ]
    }

    /// Ids of the viewable top-level windows of class `class` on the lab's Xvfb.
    pub fn visible_windows(&self, class: &str) -> Vec<String> {
        let tree = self.x_tool("xwininfo", &["-root", "-children"]);
        let needle = format!("\"{class}\")");
        tree.lines()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .filter(|id| {
                self.x_tool("xwininfo", &["-id", id])
                    .contains("Map State: IsViewable")
            })
            .collect()
    }

    fn x_tool(&self, tool: &str, args: &[&str]) -> String {
        let out = Command::new(tool)
            .args(args)
            .envs(self.display_env())
            .output()
            .expect("x11-utils");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until sshd's count of command channels from `local_port` stops changing (the
    /// daemon's watcher opens one at connect and lists once), and returns it.
    pub async fn settled_channels(&self, local_port: u16) -> usize {
        let mut last = self.channels_from(local_port);
        let mut stable_since = Instant::now();
        while stable_since.elapsed() < Duration::from_millis(1500) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.channels_from(local_port);
            if now != last {
                last = now;
                stable_since = Instant::now();
            }
        }
        last
    }

    /// The session names `user` has on the server right now.
    pub fn server_sessions(&self, user: &str) -> Vec<String> {
        self.ssh(user, "x2golistsessions")
            .lines()
            .filter_map(|l| l.split('|').nth(1).map(str::to_owned))
            .filter(|n| !n.is_empty())
            .collect()
    }
}

impl Daemon {
    /// Starts x2god whose local X display is the lab's Xvfb.
    pub async fn start_with_display(lab: &Lab) -> Daemon {
        Daemon::start_with_env(lab.display_env()).await
    }

    /// Pids of the daemon's child processes named `comm` (e.g. `nxproxy`).
    pub fn children(&self, comm: &str) -> Vec<u32> {
        let me = self.pid().to_string();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
            let Some((head, tail)) = stat.rsplit_once(')') else {
                continue;
            };
            let name = head.split_once('(').map(|(_, n)| n).unwrap_or("");
            let mut f = tail.split_whitespace();
            let state = f.next().unwrap_or("");
            let ppid = f.next().unwrap_or("");
            if name == comm && ppid == me && state != "Z" {
                out.push(pid);
            }
        }
        out
    }

    /// TCP ports the daemon listens on (its graphics forwards).
    pub fn listening_ports(&self) -> Vec<u16> {
        let out = Command::new("ss").args(["-ltnpH"]).output().expect("ss");
        let me = format!("pid={},", self.pid());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&me))
            .filter_map(|l| {
                let local = l.split_whitespace().nth(3)?;
                local.rsplit(':').next()?.parse().ok()
            })
            .collect()
    }
}

/// Records the session signals of every profile on a bus, in order, as
/// `"Added <name> <state> <cause>"`, `"Changed <name> <old>-><new> <cause>"` and
/// `"Removed <name> <cause>"`.
pub struct SignalLog {
    events: std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SignalLog {
    /// Starts recording on `conn`.
    pub async fn start(conn: &zbus::Connection) -> SignalLog {
        use futures_util::StreamExt;
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.x2go.Control1.Profile")
            .build()
            .unwrap();
        let mut stream =
            zbus::MessageStream::for_match_rule(rule, conn, std::num::NonZeroUsize::new(256))
                .await
                .unwrap();
        let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = events.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let header = msg.header();
                let member = header.member().map(|m| m.to_string()).unwrap_or_default();
                let body = msg.body();
                let line = match member.as_str() {
                    "SessionAdded" => body
                        .deserialize::<(String, zbus::OwnedObjectPath, String, String)>()
                        .map(|(n, _, s, c)| format!("Added {n} {s} {c}")),
                    "SessionStateChanged" => body
                        .deserialize::<(String, String, String, String)>()
                        .map(|(n, o, s, c)| format!("Changed {n} {o}->{s} {c}")),
                    "SessionRemoved" => body
                        .deserialize::<(String, zbus::OwnedObjectPath, String)>()
                        .map(|(n, _, c)| format!("Removed {n} {c}")),
                    _ => continue,
                };
                if let Ok(line) = line {
                    sink.lock().unwrap().push((Instant::now(), line));
                }
            }
        });
        SignalLog { events, task }
    }

    /// The events recorded so far that mention `session`.
    pub fn for_session(&self, session: &str) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, e)| e.split_whitespace().nth(1) == Some(session))
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Waits for the event `line` and returns when it was received.
    pub async fn wait_for(&self, line: &str, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((at, _)) = self.events.lock().unwrap().iter().find(|(_, e)| e == line) {
                return *at;
            }
            assert!(
                Instant::now() < deadline,
                "no {line:?} within {timeout:?}; got {:?}",
                self.events.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for SignalLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reference client, pyhoca-cli (python-x2go), with its own HOME holding the lab key (it
/// ignores `-i`, see the lab recipe) and the lab's host keys, drawing on the lab's Xvfb.
pub struct Pyhoca {
    home: tempfile::TempDir,
    lab: Lab,
    children: Vec<Child>,
    /// `--sound`: `none`, or `pulse` (to the lab's sound server, see [`Pyhoca::with_sound`]).
    sound: &'static str,
}

impl Pyhoca {
    /// A pyhoca-cli for the lab's first user.
    pub fn new(lab: &Lab) -> Pyhoca {
        let home = tempfile::tempdir().unwrap();
        let ssh = home.path().join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::copy(lab.var("SSH_KEY"), ssh.join("id_ed25519")).unwrap();
        std::fs::copy(lab.var("KNOWN_HOSTS"), ssh.join("known_hosts")).unwrap();
        Pyhoca {
            home,
            lab: lab.clone(),
            children: Vec::new(),
            sound: "none",
        }
    }

    /// A pyhoca-cli with `--sound pulse`: python-x2go forwards the session's sound to TCP
    /// 127.0.0.1:4713 (the lab's sound server listens there) and uploads the cookie of its
    /// HOME, a copy of the lab's.
    pub fn with_sound(lab: &Lab) -> Pyhoca {
        let mut p = Pyhoca::new(lab);
        let pulse = p.home.path().join(".config").join("pulse");
        std::fs::create_dir_all(&pulse).unwrap();
        std::fs::copy(lab.var("PULSE_COOKIE"), pulse.join("cookie")).unwrap();
        p.sound = "pulse";
        p
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("/usr/bin/pyhoca-cli");
        cmd.args(["--server", "127.0.0.1", "-p", &self.lab.var("SSH_PORT")])
            .args(["-l", &self.lab.var("SSH_USER"), "--sound", self.sound])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", self.home.path())
            .envs(self.lab.display_env())
            .current_dir(self.home.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs pyhoca-cli to completion; returns its output (its exit status is unreliable).
    pub fn run(&self, args: &[&str]) -> String {
        let out = self
            .command(args)
            .output()
            .expect("pyhoca-cli (apt install pyhoca-cli)");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Starts pyhoca-cli in the background (for `-N` and `-R`, which stay in the foreground
    /// while the session is shown); it is killed on drop.
    pub fn spawn(&mut self, args: &[&str]) {
        let log = std::fs::File::create(
            self.home
                .path()
                .join(format!("pyhoca-{}.log", self.children.len())),
        )
        .unwrap();
        let child = self
            .command(args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("pyhoca-cli");
        self.children.push(child);
    }

    /// Waits up to `within` for every background run to exit by itself; whether they all did.
    pub fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let mut running = 0;
            for c in &mut self.children {
                if matches!(c.try_wait(), Ok(None)) {
                    running += 1;
                }
            }
            if running == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything the background runs printed.
    pub fn logs(&self) -> String {
        (0..self.children.len())
            .map(|i| {
                std::fs::read_to_string(self.home.path().join(format!("pyhoca-{i}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Pyhoca {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A TCP relay on 127.0.0.1 in front of a server port, which a test can freeze: it then
/// moves no byte either way while both connections stay open — a hung server or network as
/// the client sees it, without having to find (and stop) the right server processes.
pub struct Relay {
    /// Where clients connect.
    pub port: u16,
    frozen: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Relays every connection to 127.0.0.1:`target`.
    pub async fn start(target: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (frozen, watch) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(Relay::pump(cr, sw, watch.clone()));
                tokio::spawn(Relay::pump(sr, cw, watch.clone()));
            }
        });
        Relay { port, frozen, task }
    }

    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        mut frozen: tokio::sync::watch::Receiver<bool>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if frozen.wait_for(|f| !*f).await.is_err() {
                return;
            }
            let n = tokio::select! {
                n = from.read(&mut buf) => match n {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                },
                // Frozen while waiting: stop reading at once.
                _ = frozen.wait_for(|f| *f) => continue,
            };
            // Bytes read just before a freeze are held until the thaw.
            if frozen.wait_for(|f| !*f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }

    /// Stops (`true`) or resumes (`false`) moving bytes.
    pub fn freeze(&self, on: bool) {
        self.frozen.send_replace(on);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A second sshd like the lab's, on its own port, that a test may kill, stop and restart
/// without disturbing the other tests.
pub struct PrivateSshd {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    config: PathBuf,
    lab: Lab,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrivateSshd {
    /// Starts it with the lab's host keys and users.
    pub fn start(lab: &Lab) -> PrivateSshd {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("sshd_config");
        let base = std::fs::read_to_string(lab.var("SSHD_CONFIG")).unwrap();
        let text: String = base
            .lines()
            .map(|l| {
                if l.starts_with("Port ") {
                    format!("Port {port}")
                } else if l.starts_with("PidFile ") {
                    format!("PidFile {}", dir.path().join("sshd.pid").display())
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&config, text + "\n").unwrap();
        let s = PrivateSshd {
            port,
            dir,
            config,
            lab: lab.clone(),
        };
        s.run();
        s
    }

    /// Starts the listening sshd again (after [`PrivateSshd::kill_all`]).
    pub fn run(&self) {
        let st = Command::new("/usr/sbin/sshd")
            .arg("-f")
            .arg(&self.config)
            .arg("-E")
            .arg(self.dir.path().join("sshd.log"))
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "private sshd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("sshd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Sends `signal` (e.g. `KILL`, `STOP`, `CONT`) to `pids`.
    pub fn signal(pids: &[u32], signal: &str) {
        for p in pids {
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(p.to_string())
                .status();
        }
    }

    /// Kills the listening sshd and every connection it serves.
    pub fn kill_all(&self) {
        if let Some(m) = self.master_pid() {
            let children: Vec<u32> = all_pids()
                .into_iter()
                .filter(|p| ppid(*p) == Some(m))
                .collect();
            PrivateSshd::signal(&[m], "KILL");
            for c in children {
                let grandchildren: Vec<u32> = all_pids()
                    .into_iter()
                    .filter(|p| ppid(*p) == Some(c))
                    .collect();
                PrivateSshd::signal(&grandchildren, "KILL");
                PrivateSshd::signal(&[c], "KILL");
            }
        }
        let _ = std::fs::remove_file(self.dir.path().join("sshd.pid"));
    }

    /// Known-hosts lines for this sshd, for a daemon's HOME.
    pub fn trust_in_home(&self, home: &Path) {
        self.lab.trust_port_in_home(home, self.port);
    }
}

impl Drop for PrivateSshd {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
        .collect()
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, tail) = stat.rsplit_once(')')?;
    tail.split_whitespace().nth(1)?.parse().ok()
}

impl Daemon {
    /// Kills the daemon with SIGKILL, as a crash would: nothing of it runs its cleanup.
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Number of open file descriptors and threads of the daemon.
    pub fn fds_and_threads(&self) -> (usize, usize) {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0);
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        (fds, threads)
    }
}

/// Pids of nxproxy processes anywhere whose command line mentions `needle` (e.g. a HOME).
pub fn nxproxies_mentioning(needle: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("nxproxy") && cmd.contains(needle)
        })
        .filter(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, t)| t.trim_start().starts_with('Z'))
        })
        .collect()
}

impl Daemon {
    /// Starts x2god after `prepare` has filled its fresh HOME (e.g. with an x2goclient
    /// sessions file or known_hosts).
    pub async fn start_prepared(env: Vec<(String, String)>, prepare: impl FnOnce(&Path)) -> Daemon {
        Self::launch(Bus::start(), env, None, prepare).await
    }

    /// Starts x2god in a private mount namespace where `/etc/ssh` is `etc_ssh` (needs root),
    /// to test the machine-wide files (`/etc/ssh/ssh_known_hosts`) without the machine's.
    pub async fn start_with_etc_ssh(etc_ssh: &Path) -> Daemon {
        Self::launch(Bus::start(), Vec::new(), Some(etc_ssh.to_owned()), |_| {}).await
    }

    /// Starts x2god with a fresh HOME on a bus other local users can reach
    /// ([`Bus::start_shared`]).
    pub async fn start_on_shared_bus() -> Daemon {
        Self::launch(Bus::start_shared(), Vec::new(), None, |_| {}).await
    }

    /// Starts x2god on `bus` with a fresh HOME that `prepare` fills first.
    async fn launch(
        bus: Bus,
        env: Vec<(String, String)>,
        etc_ssh: Option<PathBuf>,
        prepare: impl FnOnce(&Path),
    ) -> Daemon {
        let home = tempfile::tempdir().unwrap();
        prepare(home.path());
        let log = home.path().join("x2god.log");
        let mut d = Daemon {
            child: None,
            bus,
            home,
            log,
            env,
            etc_ssh,
        };
        d.spawn().await;
        d
    }

    /// Starts gnome-keyring's Secret Service on the daemon's bus with a fresh, unlocked
    /// `login` keyring under the daemon's HOME. It exits when the bus goes away.
    pub fn start_keyring(&self) {
        let mut child = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon (apt-get install gnome-keyring)");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"keyring-unlock-pw").unwrap();
        }
        assert!(
            child.wait().unwrap().success(),
            "gnome-keyring-daemon failed"
        );
        // The daemonised keyring takes its bus name a moment later.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = Command::new("busctl")
                .args(["--address", &self.bus.address, "--no-pager", "list"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("org.freedesktop.secrets") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Secret Service did not appear"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One question the test agent was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentQuestion {
    /// `RequestSecret(profile, kind, prompt)`.
    Secret {
        /// The kind asked for.
        kind: String,
        /// The prompt shown.
        prompt: String,
    },
    /// `ConfirmHostKey(profile, host, key_type, fingerprint)`.
    HostKey {
        /// The known_hosts name.
        host: String,
        /// The SHA256 fingerprint.
        fingerprint: String,
    },
}

/// How the test agent answers.
pub type AgentAnswer = Box<dyn Fn(&AgentQuestion) -> Option<String> + Send + Sync>;

struct TestAgentObject {
    asked: std::sync::Arc<std::sync::Mutex<Vec<AgentQuestion>>>,
    answer: AgentAnswer,
}

#[zbus::interface(name = "org.x2go.Control1.Agent")]
impl TestAgentObject {
    async fn request_secret(
        &self,
        _profile: zbus::OwnedObjectPath,
        kind: String,
        prompt: String,
    ) -> Result<String, x2god_proto::Error> {
        let q = AgentQuestion::Secret { kind, prompt };
        self.asked.lock().unwrap().push(q.clone());
        (self.answer)(&q)
            .ok_or_else(|| x2god_proto::Error::Cancelled("declined by the test".into()))
    }

    async fn confirm_host_key(
        &self,
        _profile: zbus::OwnedObjectPath,
        host: String,
        _key_type: String,
        fingerprint: String,
    ) -> bool {
        let q = AgentQuestion::HostKey { host, fingerprint };
        self.asked.lock().unwrap().push(q.clone());
        (self.answer)(&q).is_some_and(|a| a == "yes")
    }

    async fn cancel(&self) {}
}

/// An agent registered with the daemon on its own bus connection: answers with `answer`
/// (`None` declines; for host keys `Some("yes")` trusts) and records every question.
pub struct TestAgent {
    /// The agent's bus connection; dropping it ends the registration.
    pub conn: zbus::Connection,
    asked: std::sync::Arc<std::sync::Mutex<Vec<AgentQuestion>>>,
}

impl TestAgent {
    /// Serves the agent at `/test/agent` and registers it.
    pub async fn register(daemon: &Daemon, answer: AgentAnswer) -> TestAgent {
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let conn = daemon.bus.connect().await;
        conn.object_server()
            .at(
                "/test/agent",
                TestAgentObject {
                    asked: asked.clone(),
                    answer,
                },
            )
            .await
            .unwrap();
        let manager = x2god_proto::proxy::ManagerProxy::new(&conn).await.unwrap();
        manager
            .register_agent(&zbus::ObjectPath::try_from("/test/agent").unwrap())
            .await
            .unwrap();
        TestAgent { conn, asked }
    }

    /// The questions asked so far.
    pub fn asked(&self) -> Vec<AgentQuestion> {
        self.asked.lock().unwrap().clone()
    }
}

/// The SHA256 fingerprint of the public key file `pub_file`, as `ssh-keygen -l` prints it.
pub fn fingerprint_of(pub_file: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f", pub_file])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

/// The current TOTP code of `secret` (base32), by `oathtool`.
pub fn totp(secret: &str) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret])
        .output()
        .expect("oathtool (apt-get install oathtool)");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Every file below `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Bounds every test: a hang is a failure, not a stuck CI run.
pub async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("test timed out");
}

/// A profile for `user` whose host key is already known (OpenSSH's known_hosts in HOME).
pub async fn lab_profile(d: &Daemon, lab: &Lab, name: &str, user: &str, extra: Options) -> Profile {
    lab.trust_in_home(d.home.path());
    d.create_profile(name, lab.profile_settings(user).merge(extra))
        .await
}

/// A connected profile for `user` on the hostile sshd (its host keys are the lab's, added to
/// the daemon's known_hosts).
pub async fn hostile_profile(d: &Daemon, lab: &Lab, name: &str, user: &str) -> Profile {
    let port: u16 = lab.var("HOSTILE_PORT").parse().unwrap();
    let ssh = d.home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let known = ssh.join("known_hosts");
    let lines = std::fs::read_to_string(&known).unwrap_or_default() + &lab.known_lines_at(port);
    std::fs::write(&known, lines).unwrap();
    let settings = Options::new()
        .set("hostname", "127.0.0.1")
        .set("port", u32::from(port))
        .set("username", user.to_owned())
        .set("key_filename", lab.var("SSH_KEY"));
    let p = d.create_profile(name, settings).await;
    p.connect(Options::new()).await.unwrap();
    p
}
