//! Installation: what `install.sh` puts where (and that a second run changes nothing), the
//! installed user unit as `systemd-analyze verify` sees it, D-Bus activation of the installed
//! daemon on a private bus, and structured journald logging when systemd's `JOURNAL_STREAM`
//! names the daemon's stderr.
//!
//! None of it needs the lab. A running systemd is not needed either (and not used: the tests
//! never touch the real user manager or session bus); what `systemctl --user` itself would do
//! is covered by `systemd-analyze verify` on the unit and by the bus test of the service file.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use x2god_client::{Client, Options};
use x2god_tests::{Bus, daemon_binary};

use crate::bounded;

const BUS_NAME: &str = "org.x2go.Control1";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Runs `install.sh` with `args` and `env` in an otherwise empty environment whose HOME is
/// `home`, so neither the real user's directories nor their systemd or bus are touched.
fn run_install(home: &Path, args: &[&OsStr], env: &[(&str, &OsStr)]) -> Output {
    let mut cmd = Command::new(repo().join("install.sh"));
    cmd.args(args)
        .arg("--no-reload")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run install.sh")
}

/// Like [`run_install`], failing the test unless it succeeds.
fn install_ok(home: &Path, args: &[&OsStr], env: &[(&str, &OsStr)]) -> String {
    let out = run_install(home, args, env);
    assert!(
        out.status.success(),
        "install.sh {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory holding `x2god` as the freshly built daemon, for `--from`.
fn built_bins(dir: &Path) -> PathBuf {
    let bins = dir.join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    std::os::unix::fs::symlink(daemon_binary(), bins.join("x2god")).unwrap();
    bins
}

/// Every file below `root`, relative to it, with its mode, mtime and contents.
fn snapshot(root: &Path) -> BTreeMap<String, (u32, i64, i64, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, i64, i64, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let mode = meta.permissions().mode() & 0o7777;
                out.insert(
                    rel,
                    (
                        mode,
                        meta.mtime(),
                        meta.mtime_nsec(),
                        std::fs::read(&p).unwrap(),
                    ),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

/// `@name@` left in an installed file: a template placeholder install.sh did not fill.
fn placeholder(text: &str) -> Option<String> {
    let mut parts = text.split('@');
    parts.next();
    let mut prev: Option<&str> = None;
    for part in parts {
        if let Some(p) = prev
            && !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Some(format!("@{p}@"));
        }
        prev = Some(part);
    }
    None
}

fn write_stub(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const LAYOUT: [(&str, u32); 6] = [
    ("usr/bin/x2god", 0o755),
    ("usr/bin/x2goctl", 0o755),
    ("usr/share/systemd/user/x2god.service", 0o644),
    ("usr/share/dbus-1/services/org.x2go.Control1.service", 0o644),
    ("usr/share/man/man1/x2god.1", 0o644),
    ("usr/share/doc/x2god/README.md", 0o644),
];

#[test]
fn install_with_destdir_puts_files_where_documented_and_a_second_run_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let bins = tmp.path().join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    write_stub(&bins.join("x2god"), "#!/bin/sh\necho daemon v1\n");
    write_stub(&bins.join("x2goctl"), "#!/bin/sh\necho ctl v1\n");
    let dest = tmp.path().join("dest");
    let args = [
        OsStr::new("--prefix"),
        OsStr::new("/usr"),
        OsStr::new("--destdir"),
        dest.as_os_str(),
        OsStr::new("--from"),
        bins.as_os_str(),
    ];
    install_ok(&home, &args, &[]);

    let first = snapshot(&dest);
    let names: Vec<&str> = first.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = LAYOUT.iter().map(|(p, _)| *p).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "installed files (and nothing else)");
    for (path, mode) in LAYOUT {
        assert_eq!(first[path].0, mode, "mode of {path}");
    }
    assert_eq!(first["usr/bin/x2god"].3, b"#!/bin/sh\necho daemon v1\n");
    assert_eq!(first["usr/bin/x2goctl"].3, b"#!/bin/sh\necho ctl v1\n");
    assert_eq!(
        first["usr/share/doc/x2god/README.md"].3,
        std::fs::read(repo().join("README.md")).unwrap()
    );
    for path in [
        "usr/share/systemd/user/x2god.service",
        "usr/share/dbus-1/services/org.x2go.Control1.service",
    ] {
        let text = String::from_utf8_lossy(&first[path].3);
        assert_eq!(placeholder(&text), None, "left in {path}:\n{text}");
    }

    // Paths in the files are the prefix's, never DESTDIR's: the package is unpacked to /.
    let unit = String::from_utf8(first["usr/share/systemd/user/x2god.service"].3.clone()).unwrap();
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    for want in [
        "Type=dbus",
        "BusName=org.x2go.Control1",
        "ExecStart=/usr/bin/x2god",
        "Restart=on-failure",
        "Documentation=man:x2god(1) file:///usr/share/doc/x2god/README.md",
    ] {
        assert!(lines.contains(&want), "unit lacks {want}:\n{unit}");
    }
    // nxproxy needs the X sockets in the real /tmp, and the daemon its network.
    for unwanted in ["PrivateTmp=", "PrivateNetwork=", "ProtectHome="] {
        assert!(
            !lines.iter().any(|l| l.starts_with(unwanted)),
            "unit sets {unwanted}:\n{unit}"
        );
    }
    assert!(!unit.contains(dest.to_str().unwrap()));
    let service = String::from_utf8(
        first["usr/share/dbus-1/services/org.x2go.Control1.service"]
            .3
            .clone(),
    )
    .unwrap();
    let lines: Vec<&str> = service.lines().map(str::trim).collect();
    for want in [
        "[D-BUS Service]",
        "Name=org.x2go.Control1",
        "Exec=/usr/bin/x2god",
        "SystemdService=x2god.service",
    ] {
        assert!(
            lines.contains(&want),
            "service file lacks {want}:\n{service}"
        );
    }

    // Idempotent: same files, same bytes, same modes, untouched mtimes.
    let out = install_ok(&home, &args, &[]);
    assert_eq!(
        snapshot(&dest),
        first,
        "second run changed something:\n{out}"
    );
    assert_eq!(out.matches("unchanged ").count(), LAYOUT.len(), "{out}");

    // A new build replaces exactly the binary that changed.
    write_stub(&bins.join("x2god"), "#!/bin/sh\necho daemon v2\n");
    install_ok(&home, &args, &[]);
    let third = snapshot(&dest);
    for (path, entry) in &third {
        if path == "usr/bin/x2god" {
            assert_eq!(entry.3, b"#!/bin/sh\necho daemon v2\n");
        } else {
            assert_eq!(entry, &first[path], "{path} changed");
        }
    }

    // The same settings from the environment, as packaging tools pass them; --uninstall
    // takes everything away again.
    let dest2 = tmp.path().join("dest2");
    let env = [
        ("PREFIX", OsStr::new("/usr")),
        ("DESTDIR", dest2.as_os_str()),
        ("X2GOD_FROM", bins.as_os_str()),
    ];
    install_ok(&home, &[], &env);
    let names2: Vec<String> = snapshot(&dest2).into_keys().collect();
    assert_eq!(names2, expected);
    install_ok(&home, &[OsStr::new("--uninstall")], &env);
    assert!(snapshot(&dest2).is_empty(), "{:?}", snapshot(&dest2).keys());
}

#[test]
fn install_defaults_to_the_users_directories_and_refuses_paths_it_cannot_write_safely() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let bins = tmp.path().join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    write_stub(&bins.join("x2god"), "#!/bin/sh\n");
    let from = [OsStr::new("--from"), bins.as_os_str()];

    // No prefix: ~/.local, where systemd and dbus look for a user's units and services.
    install_ok(&home, &from, &[]);
    let local = home.join(".local");
    let names: Vec<String> = snapshot(&local).into_keys().collect();
    assert_eq!(
        names,
        [
            "bin/x2god",
            "share/dbus-1/services/org.x2go.Control1.service",
            "share/doc/x2god/README.md",
            "share/man/man1/x2god.1",
            "share/systemd/user/x2god.service",
        ]
    );
    let unit = std::fs::read_to_string(local.join("share/systemd/user/x2god.service")).unwrap();
    assert!(unit.contains(&format!("ExecStart={}/bin/x2god\n", local.display())));

    // XDG_DATA_HOME moves what systemd and dbus read from it; the binary stays in ~/.local/bin.
    let data = home.join("data");
    let xdg = [("XDG_DATA_HOME", data.as_os_str())];
    install_ok(&home, &from, &xdg);
    assert!(data.join("systemd/user/x2god.service").is_file());
    assert!(
        data.join("dbus-1/services/org.x2go.Control1.service")
            .is_file()
    );
    let service =
        std::fs::read_to_string(data.join("dbus-1/services/org.x2go.Control1.service")).unwrap();
    assert!(service.contains(&format!("Exec={}/bin/x2god\n", local.display())));

    // Paths that unit files would need quoted or escaped, and relative ones, are refused
    // before anything is written.
    let dest = tmp.path().join("dest");
    for prefix in ["/opt/x 2god", "/opt/50%", "/opt/$HOME", "relative/prefix"] {
        let out = run_install(
            &home,
            &[
                OsStr::new("--prefix"),
                OsStr::new(prefix),
                OsStr::new("--destdir"),
                dest.as_os_str(),
                OsStr::new("--from"),
                bins.as_os_str(),
            ],
            &[],
        );
        assert!(!out.status.success(), "{prefix:?} was accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--prefix"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!dest.exists(), "{prefix:?} left files behind");
    }
}

#[test]
fn systemd_analyze_verify_accepts_the_installed_user_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let prefix = tmp.path().join("prefix");
    let bins = built_bins(tmp.path());
    install_ok(
        &home,
        &[
            OsStr::new("--prefix"),
            prefix.as_os_str(),
            OsStr::new("--from"),
            bins.as_os_str(),
        ],
        &[],
    );
    // `--user` wants a runtime directory even offline; a private one keeps the real one out.
    let runtime = tmp.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    // verify looks up Documentation=man:x2god(1) with man, which finds the installed page
    // through PATH as it would in ~/.local.
    let man = Command::new("man")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !man {
        eprintln!("NOTE: no man(1) here; verifying without the man page check");
    }
    let path = std::env::join_paths(std::iter::once(prefix.join("bin")).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let verify = |unit: &Path| {
        let mut cmd = Command::new("systemd-analyze");
        cmd.args(["verify", "--user"]);
        if !man {
            cmd.arg("--man=no");
        }
        cmd.arg(unit)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .current_dir(tmp.path())
            .output()
            .expect("systemd-analyze (apt-get install systemd)")
    };

    let unit = prefix.join("share/systemd/user/x2god.service");
    let out = verify(&unit);
    // Unknown keys and bad values are only warnings (exit 0), so stderr must be empty.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The check has teeth: a typo and a missing binary are reported.
    let broken_dir = tmp.path().join("broken");
    std::fs::create_dir(&broken_dir).unwrap();
    let broken = broken_dir.join("x2god.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(
        &broken,
        text.replace("Restart=on-failure", "Restart=on-failure\nRestrat=always")
            .replace("/bin/x2god", "/bin/x2god-missing"),
    )
    .unwrap();
    let out = verify(&broken);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Restrat"), "{err}");
    assert!(err.contains("x2god-missing"), "{err}");
}

/// A `dbus-daemon` for the activation test: its environment (which activated services
/// inherit) is built from scratch, so the daemon it starts sees only a temporary HOME.
fn activation_bus(dir: &Path, services: &Path, home: &Path) -> Bus {
    let config = home.join(".config");
    let vars: [(&str, &std::ffi::OsStr); 4] = [
        ("HOME", home.as_os_str()),
        ("XDG_CONFIG_HOME", config.as_os_str()),
        ("USER", "x2god-test-local".as_ref()),
        ("RUST_LOG", "x2god=debug".as_ref()),
    ];
    Bus::start_activating(Some(services), Some((&vars, dir)))
}

/// `busctl call` on `bus`, as the README shows it; returns stdout.
fn busctl(bus: &Bus, args: &[&str]) -> String {
    let out = Command::new("busctl")
        .arg(format!("--address={}", bus.address))
        .arg("call")
        .args(args)
        .output()
        .expect("busctl");
    assert!(
        out.status.success(),
        "busctl call {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Kills the activated daemons (children of dbus-daemon, not ours, so no `Child` to kill)
/// when the test ends, if the pid still runs the installed binary: dbus-daemon reaps the
/// ones that exited, and their pids may be someone else's by now.
struct Activated {
    exe: PathBuf,
    pids: Vec<u32>,
}

impl Drop for Activated {
    fn drop(&mut self) {
        for pid in &self.pids {
            if std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&self.exe) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

/// A child process killed (and reaped) on drop, so a failed assertion leaves nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn owner_pid(dbus: &zbus::fdo::DBusProxy<'_>) -> Option<u32> {
    let name = zbus::names::BusName::try_from(BUS_NAME).unwrap();
    dbus.get_connection_unix_process_id(name).await.ok()
}

fn environ(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    raw.split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_call_starts_the_installed_daemon_by_bus_activation() {
    bounded(async {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let prefix = tmp.path().join("prefix");
        let bins = built_bins(tmp.path());
        install_ok(
            &home,
            &[
                OsStr::new("--prefix"),
                prefix.as_os_str(),
                OsStr::new("--from"),
                bins.as_os_str(),
            ],
            &[],
        );
        let installed = prefix.join("bin/x2god").canonicalize().unwrap();
        let bus = activation_bus(tmp.path(), &prefix.join("share/dbus-1/services"), &home);
        let mut activated = Activated {
            exe: installed.clone(),
            pids: Vec::new(),
        };
        let conn = zbus::connection::Builder::address(bus.address.as_str())
            .build()
            .await
            .unwrap();
        let dbus = zbus::fdo::DBusProxy::new(&conn).await.unwrap();

        let activatable = dbus.list_activatable_names().await.unwrap();
        assert!(
            activatable.iter().any(|n| n.as_str() == BUS_NAME),
            "{activatable:?}"
        );
        assert_eq!(owner_pid(&dbus).await, None, "x2god runs before any call");

        // The README's first command: it starts x2god and gets the answer.
        let t = Instant::now();
        let reply = busctl(
            &bus,
            &[
                BUS_NAME,
                "/org/x2go/Control1",
                "org.x2go.Control1.Manager",
                "ListProfiles",
            ],
        );
        eprintln!("first ListProfiles (with activation): {:?}", t.elapsed());
        assert_eq!(reply, "ao 0");
        let pid = owner_pid(&dbus).await.expect("x2god owns its name");
        activated.pids.push(pid);
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/exe")).unwrap(),
            installed,
            "the running daemon is the installed binary"
        );
        let env = environ(pid);
        assert!(env.contains(&format!("HOME={}", home.display())), "{env:?}");

        // It works in that HOME: a profile lands in its XDG config directory.
        let created = busctl(
            &bus,
            &[
                BUS_NAME,
                "/org/x2go/Control1",
                "org.x2go.Control1.Manager",
                "CreateProfile",
                "sa{sv}",
                "office",
                "2",
                "hostname",
                "s",
                "x2go.example.invalid",
                "port",
                "q",
                "2222",
            ],
        );
        assert_eq!(created, "o \"/org/x2go/Control1/profile/office\"");
        let profiles = std::fs::read_to_string(home.join(".config/x2god/profiles.toml")).unwrap();
        assert!(profiles.contains("x2go.example.invalid"), "{profiles}");

        // Gone (say it crashed): the next call starts it again, and the profile is still there.
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while owner_pid(&dbus).await.is_some() {
            assert!(Instant::now() < deadline, "x2god did not exit on SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let reply = busctl(
            &bus,
            &[
                BUS_NAME,
                "/org/x2go/Control1",
                "org.x2go.Control1.Manager",
                "ListProfiles",
            ],
        );
        assert_eq!(reply, "ao 1 \"/org/x2go/Control1/profile/office\"");
        let again = owner_pid(&dbus).await.expect("x2god owns its name again");
        activated.pids.push(again);
        assert_ne!(again, pid);
    })
    .await;
}

/// One journal entry in the native protocol: `NAME=value\n`, or `NAME\n` + 64-bit LE length +
/// value + `\n` for values that may hold newlines.
fn parse_journal_entry(mut data: &[u8]) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    while !data.is_empty() {
        let nl = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
        let line = &data[..nl];
        if let Some(eq) = line.iter().position(|b| *b == b'=') {
            fields.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            data = &data[(nl + 1).min(data.len())..];
        } else {
            let rest = &data[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            fields.insert(
                String::from_utf8_lossy(line).into_owned(),
                String::from_utf8_lossy(&rest[8..8 + len]).into_owned(),
            );
            data = &rest[(8 + len + 1).min(rest.len())..];
        }
    }
    fields
}

/// x2god in a private mount namespace whose `/run/systemd/journal/socket` is `socket`: the
/// daemon talks to "journald" at the standard path while the test reads what it sends.
fn spawn_with_fake_journald(
    socket: &Path,
    stderr: &Path,
    journal_stream: &str,
    bus: &Bus,
    home: &Path,
) -> Child {
    let script = "mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && \
                  : > /run/systemd/journal/socket && \
                  mount --bind \"$1\" /run/systemd/journal/socket && exec \"$2\"";
    Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(socket)
        .arg(daemon_binary())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("JOURNAL_STREAM", journal_stream)
        .env("RUST_LOG", "x2god=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .expect("unshare")
}

async fn wait_for_name(bus: &Bus, child: &mut Child, stderr: &Path) {
    let conn = bus.connect().await;
    let dbus = zbus::fdo::DBusProxy::new(&conn).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let name = zbus::names::BusName::try_from(BUS_NAME).unwrap();
    while !dbus.name_has_owner(name.clone()).await.unwrap_or(false) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "x2god exited with {status}:\n{}",
                std::fs::read_to_string(stderr).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "x2god did not take its name");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Journal entries sent to `socket` until `done` holds for one of them or `within` passed.
fn read_journal(
    socket: &std::os::unix::net::UnixDatagram,
    within: Duration,
    done: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Vec<BTreeMap<String, String>> {
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut entries = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    while Instant::now() < deadline {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        // The layer probes the socket with an empty datagram first.
        if n == 0 {
            continue;
        }
        let entry = parse_journal_entry(&buf[..n]);
        let last = done(&entry);
        entries.push(entry);
        if last {
            break;
        }
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_systemd_logs_go_to_the_journal_with_structured_fields() {
    // A fake journald at the real path needs a private mount namespace: root and unshare(1).
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let unshare = Command::new("unshare")
        .args(["--mount", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !root || !unshare {
        // CI runs as root with util-linux: there a missing prerequisite is a failure.
        assert!(
            !x2god_tests::in_ci(),
            "needs root and unshare(1) for a private /run/systemd/journal"
        );
        eprintln!("SKIPPED: needs root and unshare(1) for a private /run/systemd/journal");
        return;
    }
    bounded(async {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let sock_path = tmp.path().join("journal.sock");
        let journal = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();

        // As systemd does it: JOURNAL_STREAM names the device and inode of our stderr.
        let stderr = tmp.path().join("stderr");
        std::fs::File::create(&stderr).unwrap();
        let meta = std::fs::metadata(&stderr).unwrap();
        let stream = format!("{}:{}", meta.dev(), meta.ino());
        let bus = Bus::start();
        let mut child = KillOnDrop(spawn_with_fake_journald(
            &sock_path, &stderr, &stream, &bus, &home,
        ));
        wait_for_name(&bus, &mut child.0, &stderr).await;
        let client = Client::with_connection(bus.connect().await).await.unwrap();
        client
            .create_profile(
                "office",
                Options::new().set("hostname", "x2go.example.invalid"),
            )
            .await
            .unwrap();
        let entries = read_journal(&journal, Duration::from_secs(20), |e| {
            e.get("MESSAGE").map(String::as_str) == Some("profile created")
        });
        drop(child);

        let find = |msg: &str| {
            entries
                .iter()
                .find(|e| e.get("MESSAGE").map(String::as_str) == Some(msg))
                .unwrap_or_else(|| panic!("no {msg:?} in the journal: {entries:#?}"))
        };
        let starting = find("starting");
        assert_eq!(starting["SYSLOG_IDENTIFIER"], "x2god");
        assert_eq!(starting["PRIORITY"], "6");
        assert_eq!(starting["VERSION"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            starting["CONFIG"],
            home.join(".config/x2god").display().to_string()
        );
        assert!(starting["TARGET"].starts_with("x2god"), "{starting:?}");
        let created = find("profile created");
        assert_eq!(created["PROFILE"], "office");
        assert_eq!(created["PRIORITY"], "6");
        // RUST_LOG=x2god=info holds in the journal too: nothing at debug (7).
        assert!(
            entries
                .iter()
                .all(|e| e.get("PRIORITY").map(String::as_str) != Some("7")),
            "{entries:#?}"
        );
        let text = std::fs::read_to_string(&stderr).unwrap();
        assert!(text.is_empty(), "also logged to stderr:\n{text}");

        // JOURNAL_STREAM inherited with a different stderr (a shell in a unit running
        // `x2god 2>file`): plain text on stderr, nothing sent to journald.
        let stderr2 = tmp.path().join("stderr2");
        let bus2 = Bus::start();
        let mut child2 = KillOnDrop(spawn_with_fake_journald(
            &sock_path, &stderr2, &stream, &bus2, &home,
        ));
        wait_for_name(&bus2, &mut child2.0, &stderr2).await;
        // The name is taken just before "serving" is logged.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&stderr2).unwrap();
            if text.contains("serving on the session bus") {
                break;
            }
            assert!(Instant::now() < deadline, "stderr: {text}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stray = read_journal(&journal, Duration::from_millis(300), |_| true);
        drop(child2);
        assert!(stray.is_empty(), "sent to journald: {stray:#?}");
    })
    .await;
}
