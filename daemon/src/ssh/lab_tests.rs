//! Tests against a real OpenSSH server: the lab of `tests/lab/setup.sh`, described by
//! `/tmp/x2god-lab/lab.env` (or the file named by `X2GOD_LAB_ENV`). `tests/run` sets the lab up;
//! without it they are skipped, except in CI (`CI` set), where a missing lab fails. They run one
//! at a time, because `one_connection_many_channels` counts connections in the sshd log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::lines::MAX_LINE;
use super::*;

const T: Duration = Duration::from_secs(15);

/// One lab test at a time: some count connections in the shared sshd log.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Lab {
    env: HashMap<String, String>,
    tmp: tempfile::TempDir,
}

/// A CI run (`CI` set and not `false`): a missing lab fails instead of skipping.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

impl Lab {
    fn load() -> Option<Self> {
        let path =
            std::env::var("X2GOD_LAB_ENV").unwrap_or_else(|_| "/tmp/x2god-lab/lab.env".into());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if in_ci() => {
                panic!("the lab is missing ({path}: {e}); CI must run tests/run")
            }
            Err(e) => {
                eprintln!("SKIPPED: no lab at {path} ({e}); run `sudo tests/run`");
                return None;
            }
        };
        let env = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Some(Self {
            env,
            tmp: tempfile::tempdir().unwrap(),
        })
    }

    fn get(&self, k: &str) -> &str {
        self.env
            .get(k)
            .unwrap_or_else(|| panic!("{k} missing in lab.env"))
    }

    fn port(&self) -> u16 {
        self.get("SSH_PORT").parse().unwrap()
    }

    fn policy(&self) -> HostKeyPolicy {
        HostKeyPolicy {
            read_files: vec![PathBuf::from(self.get("KNOWN_HOSTS"))],
            own_file: self.tmp.path().join("own/known_hosts"),
            add_unknown: false,
            trusted_fingerprint: None,
            prompter: None,
            legacy_names: Vec::new(),
        }
    }

    /// A policy that knows nothing about the lab server.
    fn empty_policy(&self) -> HostKeyPolicy {
        HostKeyPolicy {
            read_files: vec![self.tmp.path().join("user_known_hosts")],
            ..self.policy()
        }
    }

    fn auth(&self) -> AuthParams {
        AuthParams {
            username: self.get("SSH_USER").to_owned(),
            ssh_dir: self.tmp.path().join("no-ssh-dir"),
            ..Default::default()
        }
    }

    fn params(&self, auth: AuthParams) -> ConnectParams {
        ConnectParams {
            host: "127.0.0.1".into(),
            port: self.port(),
            auth,
            host_keys: self.policy(),
            timeout: T,
            max_channels: 10,
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_max: 3,
            ..Default::default()
        }
    }

    fn connection_count(&self) -> usize {
        std::fs::read_to_string(self.get("SSHD_LOG"))
            .unwrap()
            .matches("Connection from")
            .count()
    }
}

async fn whoami(c: &Connection) -> String {
    let out = c.exec("whoami", T).await.unwrap();
    assert_eq!(out.exit_status, Some(0));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn key_file() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let mut auth = lab.auth();
    auth.key_files = vec![lab.get("SSH_KEY").into()];
    let c = Connection::connect(lab.params(auth)).await.unwrap();
    assert_eq!(whoami(&c).await, lab.get("SSH_USER"));
    assert_eq!(c.username(), lab.get("SSH_USER"));
    assert_eq!(c.peer_addr().port(), lab.port());
    assert!(c.host_key().fingerprint.starts_with("SHA256:"));
    let out = c.exec("echo out; echo err >&2; exit 3", T).await.unwrap();
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.exit_status, Some(3));
    let out = c.exec("kill -TERM $$", T).await.unwrap();
    assert_eq!(out.exit_signal.as_deref(), Some("TERM"));
    c.ping(T).await.unwrap();
    c.disconnect().await;
    assert!(c.is_closed());
    tokio::time::timeout(T, c.closed()).await.unwrap();
    assert!(matches!(c.exec("true", T).await, Err(Error::Disconnected)));
}

#[tokio::test]
async fn rsa_key_file() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let mut auth = lab.auth();
    auth.key_files = vec![lab.get("SSH_KEY_RSA").into()];
    let c = Connection::connect(lab.params(auth)).await.unwrap();
    assert_eq!(whoami(&c).await, lab.get("SSH_USER"));
}

#[tokio::test]
async fn encrypted_key() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let pass = lab.get("SSH_KEY_PASSPHRASE");
    let mut auth = lab.auth();
    auth.key_files = vec![lab.get("SSH_KEY_ENC").into()];

    // Right passphrase.
    auth.passphrase = Some(Secret::new(pass.to_owned()));
    let c = Connection::connect(lab.params(auth.clone())).await.unwrap();
    assert_eq!(whoami(&c).await, lab.get("SSH_USER"));

    // The password doubles as passphrase when no passphrase is given.
    auth.passphrase = None;
    auth.password = Some(Secret::new(pass.to_owned()));
    Connection::connect(lab.params(auth.clone())).await.unwrap();

    // No secret at all: an auth failure that says why.
    auth.password = None;
    let err = Connection::connect(lab.params(auth.clone()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
    assert!(msg.contains("encrypted"), "{msg}");

    // Wrong passphrase: says so, never shows it.
    auth.passphrase = Some(Secret::new("not-the-passphrase".into()));
    let err = Connection::connect(lab.params(auth)).await.unwrap_err();
    let msg = format!("{err} {err:?}");
    assert!(msg.contains("wrong passphrase"), "{msg}");
    assert!(!msg.contains("not-the-passphrase"), "{msg}");
}

#[tokio::test]
async fn password_and_wrong_password() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let mut auth = lab.auth();
    auth.password = Some(Secret::new(lab.get("SSH_PASSWORD").to_owned()));
    let c = Connection::connect(lab.params(auth.clone())).await.unwrap();
    assert_eq!(whoami(&c).await, lab.get("SSH_USER"));

    // force_password_auth skips a (working) key.
    auth.key_files = vec![lab.get("SSH_KEY").into()];
    auth.force_password_auth = true;
    auth.password = Some(Secret::new("wrong-password-123".into()));
    let err = Connection::connect(lab.params(auth)).await.unwrap_err();
    let msg = format!("{err} {err:?}");
    match &err {
        Error::AuthFailed { detail, .. } => assert_eq!(detail, "password"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(!msg.contains("wrong-password-123"), "{msg}");
}

#[tokio::test]
async fn missing_key_file_then_password() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let mut auth = lab.auth();
    auth.key_files = vec![lab.tmp.path().join("nope")];
    // Nothing else to try: the key file problem is the error.
    let err = Connection::connect(lab.params(auth.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KeyFile { .. }), "{err:?}");
    // With a password, it falls through to it.
    auth.password = Some(Secret::new(lab.get("SSH_PASSWORD").to_owned()));
    Connection::connect(lab.params(auth)).await.unwrap();
}

struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_agent(dir: &Path, key: &str) -> Agent {
    let sock = dir.join("agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let agent = Agent { child, sock };
    for _ in 0..100 {
        if agent.sock.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("ssh-add")
        .arg(key)
        .env("SSH_AUTH_SOCK", &agent.sock)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    agent
}

#[tokio::test]
async fn agent() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let key = lab
        .env
        .get("SSH_KEY_AGENT")
        .map_or(lab.get("SSH_KEY"), String::as_str);
    let agent = start_agent(lab.tmp.path(), key);
    let mut auth = lab.auth();
    auth.allow_agent = true;
    auth.agent_socket = Some(agent.sock.clone());
    let c = Connection::connect(lab.params(auth.clone())).await.unwrap();
    assert_eq!(whoami(&c).await, lab.get("SSH_USER"));

    // Agent gone and nothing else: Error::Agent.
    auth.agent_socket = Some(lab.tmp.path().join("no-agent.sock"));
    let err = Connection::connect(lab.params(auth)).await.unwrap_err();
    assert!(matches!(err, Error::Agent(_)), "{err:?}");
}

#[tokio::test]
async fn look_for_keys() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let dir = lab.tmp.path().join("dot-ssh");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(lab.get("SSH_KEY"), dir.join("id_ed25519")).unwrap();
    let mut auth = lab.auth();
    auth.look_for_keys = true;
    auth.ssh_dir = dir;
    Connection::connect(lab.params(auth)).await.unwrap();
}

#[tokio::test]
async fn host_key_unknown_trusted_changed() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let port = lab.port();
    let policy = lab.empty_policy();

    // Unknown: refused, with the key to show a person; nothing learned.
    let err = Connection::probe_host_key("127.0.0.1", port, &policy, T)
        .await
        .unwrap_err();
    let Error::HostKeyUnknown { host, key, .. } = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(host, &format!("[127.0.0.1]:{port}"));
    assert!(err.to_string().contains(&key.fingerprint));
    let mut auth = lab.auth();
    auth.key_files = vec![lab.get("SSH_KEY").into()];
    let mut params = lab.params(auth);
    params.host_keys = policy.clone();
    assert!(matches!(
        Connection::connect(params.clone()).await,
        Err(Error::HostKeyUnknown { .. })
    ));
    assert_eq!(std::fs::read_to_string(&policy.own_file).unwrap(), "");

    // A wrong trusted fingerprint: refused.
    let mut wrong = policy.clone();
    wrong.trusted_fingerprint = Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into());
    assert!(matches!(
        Connection::probe_host_key("127.0.0.1", port, &wrong, T).await,
        Err(Error::FingerprintMismatch { .. })
    ));

    // The right one: accepted and learned into own_file only.
    let mut trusted = policy.clone();
    trusted.trusted_fingerprint = Some(key.fingerprint.clone());
    let got = Connection::probe_host_key("127.0.0.1", port, &trusted, T)
        .await
        .unwrap();
    assert_eq!(&got, key);
    let own = std::fs::read_to_string(&policy.own_file).unwrap();
    assert!(
        own.starts_with(&format!("[127.0.0.1]:{port} {} ", key.key_type)),
        "{own}"
    );
    assert!(!policy.read_files[0].exists());
    // Now known without any trust.
    let c = Connection::connect(params.clone()).await.unwrap();
    assert_eq!(c.host_key(), key);

    // A changed key (same type, other value) in a read file: refused even with add_unknown
    // and the right fingerprint trusted, and not learned.
    std::fs::write(
        &policy.read_files[0],
        format!(
            "[127.0.0.1]:{port} {} AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n",
            key.key_type
        ),
    )
    .unwrap();
    let mut changed = trusted.clone();
    changed.add_unknown = true;
    params.host_keys = changed.clone();
    let err = Connection::connect(params).await.unwrap_err();
    assert!(
        matches!(err, Error::HostKeyChanged { line: 1, .. }),
        "{err:?}"
    );
    let err = Connection::probe_host_key("127.0.0.1", port, &changed, T)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::HostKeyChanged { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&policy.own_file).unwrap(), own);
}

#[tokio::test]
async fn hashed_known_hosts() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let kh = lab.tmp.path().join("hashed_known_hosts");
    std::fs::copy(lab.get("KNOWN_HOSTS"), &kh).unwrap();
    let st = Command::new("ssh-keygen")
        .arg("-H")
        .arg("-f")
        .arg(&kh)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read_to_string(&kh).unwrap().starts_with("|1|"));
    let mut policy = lab.policy();
    policy.read_files = vec![kh];
    Connection::probe_host_key("127.0.0.1", lab.port(), &policy, T)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_many_channels() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let before = lab.connection_count();
    let mut auth = lab.auth();
    auth.key_files = vec![lab.get("SSH_KEY").into()];
    let c = Connection::connect(lab.params(auth.clone())).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.exec("echo hi", T).await })
        })
        .collect();
    for t in tasks {
        let out = t.await.unwrap().unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.exit_status, Some(0));
    }
    assert_eq!(
        lab.connection_count() - before,
        1,
        "exactly one TCP connection"
    );

    // A limit above the server's MaxSessions (10): refused opens are retried, none fail.
    let mut params = lab.params(auth);
    params.max_channels = 40;
    let c = Connection::connect(params).await.unwrap();
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.exec("sleep 0.3; echo hi", T).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().stdout, b"hi\n");
    }
}

#[tokio::test]
async fn exec_timeout_keeps_connection() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let mut auth = lab.auth();
    auth.key_files = vec![lab.get("SSH_KEY").into()];
    let c = Connection::connect(lab.params(auth)).await.unwrap();
    let start = std::time::Instant::now();
    let err = c
        .exec("sleep 30", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    let out = c.exec("echo ok", T).await.unwrap();
    assert_eq!(out.stdout, b"ok\n");
    // The timed-out command was ended, not left behind.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let out = c
        .exec("pgrep -u \"$(id -u)\" -fx 'sleep 30' || true", T)
        .await
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!c.is_closed());
}

#[tokio::test]
async fn connect_errors() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    // A closed port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut params = lab.params(lab.auth());
    params.port = port;
    assert!(matches!(
        Connection::connect(params).await,
        Err(Error::Connect { .. })
    ));
    // A server that never speaks: timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut params = lab.params(lab.auth());
    params.port = listener.local_addr().unwrap().port();
    params.timeout = Duration::from_millis(500);
    assert!(matches!(
        Connection::connect(params).await,
        Err(Error::Timeout(_))
    ));
}

// ---- port forwarding and line streams ----

async fn key_connection(lab: &Lab, max_channels: usize) -> Connection {
    let mut auth = lab.auth();
    auth.key_files = vec![lab.get("SSH_KEY").into()];
    let mut params = lab.params(auth);
    params.max_channels = max_channels;
    Connection::connect(params).await.unwrap()
}

/// Polls `cond` until it holds, for at most `T`.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + T;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Deterministic test bytes, different per `seed`.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

/// What the test target server saw on one connection.
#[derive(Debug)]
struct Seen {
    /// Bytes received before end of file.
    received: Vec<u8>,
    /// Whether it saw end of file (not an error).
    eof: bool,
}

/// A TCP server on 127.0.0.1 — the lab server is this machine, so it serves as the remote
/// target of forwards. `Echo`: echoes until EOF, then shuts down writing. `SendFirst(data)`:
/// sends `data`, shuts down writing, then reads until EOF. Reports each connection's `Seen`.
#[derive(Clone)]
enum Mode {
    Echo,
    SendFirst(Arc<Vec<u8>>),
}

use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn target_server(mode: Mode) -> (u16, tokio::sync::mpsc::UnboundedReceiver<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            let mode = mode.clone();
            tokio::spawn(async move {
                let (mut r, mut w) = sock.into_split();
                let mut received = Vec::new();
                let mut eof = false;
                match mode {
                    Mode::Echo => {
                        let mut buf = vec![0; 65536];
                        loop {
                            match r.read(&mut buf).await {
                                Ok(0) => {
                                    eof = true;
                                    break;
                                }
                                Ok(n) => {
                                    received.extend_from_slice(&buf[..n]);
                                    if w.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                                Err(_) => break,
                            }
                        }
                        let _ = w.shutdown().await;
                    }
                    Mode::SendFirst(data) => {
                        let reader = async {
                            let res = r.read_to_end(&mut received).await;
                            eof = res.is_ok();
                        };
                        let writer = async {
                            let _ = w.write_all(&data).await;
                            let _ = w.shutdown().await;
                        };
                        tokio::join!(reader, writer);
                    }
                }
                let _ = tx.send(Seen { received, eof });
            });
        }
    });
    (port, rx)
}

async fn connect_local(port: u16) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap()
}

#[tokio::test]
async fn forward_to_sshd_banner() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let c = key_connection(&lab, 10).await;
    let fwd = c.forward_local("127.0.0.1", lab.port()).await.unwrap();
    assert_ne!(fwd.local_port(), 0);
    let mut s = connect_local(fwd.local_port()).await;
    let mut banner = Vec::new();
    let mut byte = [0u8; 1];
    while !banner.ends_with(b"\n") {
        tokio::time::timeout(T, s.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        banner.push(byte[0]);
    }
    let banner = String::from_utf8_lossy(&banner);
    assert!(banner.starts_with("SSH-2.0-"), "{banner}");
    wait_until("one pump", || fwd.connections() == 1).await;
    drop(s);
    wait_until("no pump", || fwd.connections() == 0).await;
    assert!(!fwd.is_stopped());
    // Forwards take no session slot: 10 execs at once still run.
    let execs: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.exec("echo hi", T).await })
        })
        .collect();
    for e in execs {
        assert_eq!(e.await.unwrap().unwrap().stdout, b"hi\n");
    }
    fwd.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_8mib_both_ways_with_eof() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let c = key_connection(&lab, 10).await;
    const N: usize = 8 << 20;

    // Local side shuts down writing first: the target sees EOF, echoes everything, and its
    // EOF comes back.
    let (port, mut seen) = target_server(Mode::Echo).await;
    let fwd = c.forward_local("127.0.0.1", port).await.unwrap();
    let data = pattern(N, 1);
    let s = connect_local(fwd.local_port()).await;
    let (mut r, mut w) = s.into_split();
    let send = {
        let data = data.clone();
        async move {
            w.write_all(&data).await.unwrap();
            w.shutdown().await.unwrap();
        }
    };
    let recv = async {
        let mut got = Vec::with_capacity(N);
        r.read_to_end(&mut got).await.unwrap();
        got
    };
    let ((), got) =
        tokio::time::timeout(Duration::from_secs(60), async { tokio::join!(send, recv) })
            .await
            .expect("8 MiB echo hung (EOF lost?)");
    assert!(
        got == data,
        "echoed bytes differ ({} of {N} bytes)",
        got.len()
    );
    let s = tokio::time::timeout(T, seen.recv()).await.unwrap().unwrap();
    assert!(s.eof, "the target saw no EOF");
    assert!(s.received == data);
    wait_until("pump ends", || fwd.connections() == 0).await;
    fwd.close().await;

    // The target shuts down writing first: the local client sees EOF and still sends 8 MiB,
    // which arrive whole, followed by EOF.
    let first = Arc::new(pattern(N, 2));
    let (port, mut seen) = target_server(Mode::SendFirst(Arc::clone(&first))).await;
    let fwd = c.forward_local("127.0.0.1", port).await.unwrap();
    let mut s = connect_local(fwd.local_port()).await;
    let mut got = Vec::with_capacity(N);
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut got))
        .await
        .expect("no EOF from the remote side")
        .unwrap();
    assert!(
        got == *first,
        "received bytes differ ({} of {N} bytes)",
        got.len()
    );
    let second = pattern(N, 3);
    tokio::time::timeout(Duration::from_secs(60), async {
        s.write_all(&second).await.unwrap();
        s.shutdown().await.unwrap();
    })
    .await
    .expect("sending after the remote EOF hung");
    let seen = tokio::time::timeout(Duration::from_secs(60), seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(seen.eof, "the target saw no EOF");
    assert!(
        seen.received == second,
        "target got {} of {N} bytes",
        seen.received.len()
    );
    // Both directions done: the server closes the channel, the pump ends, the socket closes.
    wait_until("pump ends", || fwd.connections() == 0).await;
    let mut rest = Vec::new();
    assert_eq!(s.read_to_end(&mut rest).await.unwrap_or(0), 0);
    fwd.close().await;
    assert!(!c.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_concurrent_connections() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let c = key_connection(&lab, 10).await;
    let (port, _seen) = target_server(Mode::Echo).await;
    let fwd = c.forward_local("127.0.0.1", port).await.unwrap();
    let local = fwd.local_port();
    // More at once than MaxSessions: forwarding channels are not session channels.
    let clients: Vec<_> = (0..16u64)
        .map(|i| {
            tokio::spawn(async move {
                let data = pattern(256 * 1024 + i as usize, i + 10);
                let s = connect_local(local).await;
                let (mut r, mut w) = s.into_split();
                let expected = data.clone();
                let send = async move {
                    w.write_all(&data).await.unwrap();
                    w.shutdown().await.unwrap();
                };
                let recv = async move {
                    let mut got = Vec::new();
                    r.read_to_end(&mut got).await.unwrap();
                    got
                };
                let ((), got) = tokio::join!(send, recv);
                assert!(got == expected, "client {i}: echoed bytes differ");
            })
        })
        .collect();
    for client in clients {
        tokio::time::timeout(Duration::from_secs(60), client)
            .await
            .unwrap()
            .unwrap();
    }
    // Several held open at once are counted.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_local(local).await);
    }
    wait_until("five pumps", || fwd.connections() == 5).await;
    drop(held);
    wait_until("no pumps", || fwd.connections() == 0).await;
    fwd.close().await;
}

#[tokio::test]
async fn forward_close_frees_port_and_closes_pumps() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let c = key_connection(&lab, 10).await;
    let (port, mut seen) = target_server(Mode::Echo).await;
    let fwd = c.forward_local("127.0.0.1", port).await.unwrap();
    let local = fwd.local_port();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect_local(local).await;
        s.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        held.push(s);
    }
    assert_eq!(fwd.connections(), 3);
    tokio::time::timeout(T, fwd.close()).await.unwrap();
    // Every local socket is closed (EOF or reset)...
    for mut s in held {
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(T, s.read(&mut buf)).await.unwrap();
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    // ...every channel too: the server closed its connections to the target...
    for _ in 0..3 {
        let s = tokio::time::timeout(T, seen.recv()).await.unwrap().unwrap();
        assert_eq!(s.received, b"ping");
    }
    // ...and the port is free.
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", local))
            .await
            .is_err()
    );
    drop(
        tokio::net::TcpListener::bind(("127.0.0.1", local))
            .await
            .unwrap(),
    );

    // Dropping stops a forward too.
    let fwd = c.forward_local("127.0.0.1", port).await.unwrap();
    let local = fwd.local_port();
    let mut s = connect_local(local).await;
    s.write_all(b"x").await.unwrap();
    wait_until("one pump", || fwd.connections() == 1).await;
    drop(fwd);
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(T, s.read(&mut buf)).await.unwrap() {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let deadline = std::time::Instant::now() + T;
    while tokio::net::TcpStream::connect(("127.0.0.1", local))
        .await
        .is_ok()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "port still open after drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!c.is_closed());
}

#[tokio::test]
async fn forward_refused_target_keeps_listening() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let c = key_connection(&lab, 10).await;
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fwd = c.forward_local("127.0.0.1", closed_port).await.unwrap();
    for _ in 0..3 {
        let mut s = connect_local(fwd.local_port()).await;
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(T, s.read(&mut buf)).await.unwrap();
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    assert!(!fwd.is_stopped());
    assert_eq!(fwd.connections(), 0);
    assert_eq!(whoami(&c).await, lab.get("SSH_USER"));
}

#[tokio::test]
async fn forward_stops_when_connection_ends() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let c = key_connection(&lab, 10).await;
    let (port, _seen) = target_server(Mode::Echo).await;
    let fwd = c.forward_local("127.0.0.1", port).await.unwrap();
    let local = fwd.local_port();
    let mut s = connect_local(local).await;
    s.write_all(b"hi").await.unwrap();
    wait_until("one pump", || fwd.connections() == 1).await;
    c.disconnect().await;
    wait_until("forward stopped", || fwd.is_stopped()).await;
    assert_eq!(fwd.connections(), 0);
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", local))
            .await
            .is_err()
    );
    let mut buf = [0u8; 16];
    let mut total = 0;
    loop {
        match tokio::time::timeout(T, s.read(&mut buf)).await.unwrap() {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(total <= 2);
    assert!(matches!(
        c.forward_local("127.0.0.1", port).await,
        Err(Error::Disconnected)
    ));
    fwd.close().await;
}

#[tokio::test]
async fn exec_lines_reads_lines() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let c = key_connection(&lab, 10).await;
    let mut s = c
        .exec_lines("for i in 1 2 3; do echo $i; sleep 0.2; done")
        .await
        .unwrap();
    let mut lines = Vec::new();
    while let Some(line) = tokio::time::timeout(T, s.next_line()).await.unwrap() {
        lines.push(line.unwrap());
    }
    assert_eq!(lines, ["1", "2", "3"]);
    assert_eq!(s.exit_status(), Some(0));
    assert!(s.next_line().await.is_none());

    // A line of MAX_LINE bytes comes whole; a last line without newline still comes; stderr
    // is ignored.
    let mut s = c
        .exec_lines(&format!("head -c {MAX_LINE} /dev/zero | tr '\\0' a; echo; echo err >&2; printf 'end\\n\\xff\\nlast'; exit 4"))
        .await
        .unwrap();
    let mut lines = Vec::new();
    while let Some(line) = tokio::time::timeout(T, s.next_line()).await.unwrap() {
        lines.push(line.unwrap());
    }
    assert_eq!(
        lines.len(),
        4,
        "{:?}",
        lines.iter().map(String::len).collect::<Vec<_>>()
    );
    assert_eq!(lines[0], "a".repeat(MAX_LINE));
    assert_eq!(lines[1..], ["end", "\u{fffd}", "last"]);
    assert_eq!(s.exit_status(), Some(4));

    // One byte more is refused with a clear error, not cut, and the stream ends.
    let mut s = c
        .exec_lines(&format!(
            "echo first; head -c {} /dev/zero | tr '\\0' a; echo; sleep 30",
            MAX_LINE + 1
        ))
        .await
        .unwrap();
    assert_eq!(s.next_line().await.unwrap().unwrap(), "first");
    let e = tokio::time::timeout(T, s.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, Error::OutputTooLarge { .. }), "{e}");
    assert!(s.next_line().await.is_none());

    // Command output over the caps fails clearly too, and the connection stays usable.
    let e = c
        .exec(&format!("head -c {} /dev/zero", MAX_STDOUT + 1), T)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::OutputTooLarge { .. }), "{e}");
    assert!(e.to_string().contains("standard output"), "{e}");
    let e = c
        .exec(&format!("head -c {} /dev/zero >&2", MAX_STDERR + 1), T)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("standard error"), "{e}");
    let ok = c
        .exec(&format!("head -c {MAX_STDOUT} /dev/zero"), T)
        .await
        .unwrap();
    assert_eq!(ok.stdout.len(), MAX_STDOUT);
}

async fn marker_running(c: &Connection, marker: &str) -> bool {
    // `[x]...` so that pgrep's own shell does not match the pattern.
    let (first, rest) = marker.split_at(1);
    let out = c
        .exec(
            &format!("pgrep -u \"$(id -u)\" -f '[{first}]{rest}' || true"),
            T,
        )
        .await
        .unwrap();
    !out.stdout.is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_lines_close_ends_command_and_frees_slot() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };

    // One slot only: the stream holds it, so exec has to wait.
    let c = key_connection(&lab, 1).await;
    let marker = format!("x2godlines{}", std::process::id());
    let mut s = c
        .exec_lines(&format!("while :; do echo x; sleep 1; done # {marker}"))
        .await
        .unwrap();
    assert_eq!(s.next_line().await.unwrap().unwrap(), "x");
    let err = c
        .exec("true", Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    tokio::time::timeout(T, s.close()).await.unwrap();
    assert!(
        !marker_running(&c, &marker).await,
        "command still running after close"
    );

    // The default ten slots: after close, ten commands run at once again.
    let c = key_connection(&lab, 10).await;
    let s = c
        .exec_lines(&format!("while :; do echo x; sleep 1; done # {marker}"))
        .await
        .unwrap();
    s.close().await;
    let start = std::time::Instant::now();
    let execs: Vec<_> = (0..10)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move {
                c.exec("sleep 1; echo hi", Duration::from_millis(1900))
                    .await
            })
        })
        .collect();
    for e in execs {
        assert_eq!(e.await.unwrap().unwrap().stdout, b"hi\n");
    }
    assert!(start.elapsed() < Duration::from_millis(1900));
    assert!(!marker_running(&c, &marker).await);

    // Dropping ends the command as well.
    let mut s = c
        .exec_lines(&format!("while :; do echo y; sleep 1; done # {marker}"))
        .await
        .unwrap();
    assert_eq!(s.next_line().await.unwrap().unwrap(), "y");
    drop(s);
    let deadline = std::time::Instant::now() + T;
    while marker_running(&c, &marker).await {
        assert!(
            std::time::Instant::now() < deadline,
            "command still running after drop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A connection that ends under a stream: an error, then None.
    // Short: sshd does not end a pty-less command when the connection drops, and a leftover
    // `sleep 30` would confuse `exec_timeout_keeps_connection`.
    let mut s = c.exec_lines("sleep 2").await.unwrap();
    c.disconnect().await;
    let first = tokio::time::timeout(T, s.next_line()).await.unwrap();
    assert!(
        matches!(first, Some(Err(Error::Disconnected)) | None),
        "{first:?}"
    );
    assert!(s.next_line().await.is_none());
    assert!(matches!(
        c.exec_lines("true").await,
        Err(Error::Disconnected)
    ));
}

// ---- jump host, prompts, agent forwarding ----

use std::net::SocketAddr;

use super::prompt::testing::{Asked, Script};

impl Lab {
    /// Whether lab.env has all of `keys` (a lab from before they were added lacks them):
    /// skipped without, except in CI, where it fails.
    fn has(&self, keys: &[&str]) -> bool {
        let missing: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| !self.env.contains_key(*k))
            .collect();
        if missing.is_empty() {
            return true;
        }
        if in_ci() {
            panic!("lab.env lacks {missing:?}; CI must run a current tests/run");
        }
        eprintln!("SKIPPED: lab.env lacks {missing:?}; rerun `sudo tests/run`");
        false
    }

    fn port_of(&self, k: &str) -> u16 {
        self.get(k).parse().unwrap()
    }

    /// A known_hosts file (in the test's own directory) recording each public key file
    /// under its name.
    fn known_hosts(&self, file: &str, entries: &[(String, &str)]) -> PathBuf {
        let path = self.tmp.path().join(file);
        let mut text = String::new();
        for (name, pub_file) in entries {
            let key = std::fs::read_to_string(self.get(pub_file)).unwrap();
            let mut fields = key.split_whitespace();
            let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
            text.push_str(&format!("{name} {kind} {blob}\n"));
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A policy reading only `read` and learning into `own` (both in the test's directory).
    fn policy_with(&self, read: PathBuf, own: &str) -> HostKeyPolicy {
        HostKeyPolicy {
            read_files: vec![read],
            own_file: self.tmp.path().join(own),
            ..Default::default()
        }
    }

    fn jump_name(&self) -> String {
        host_keys::lookup_name(self.get("JUMP_HOST"), self.port_of("JUMP_PORT"))
    }

    fn target_name(&self) -> String {
        host_keys::lookup_name(self.get("TARGET_HOST"), self.port_of("TARGET_PORT"))
    }

    fn key_auth(&self) -> AuthParams {
        AuthParams {
            key_files: vec![self.get("SSH_KEY").into()],
            ..self.auth()
        }
    }

    /// The target through the jump host, key auth on both hops, both keys known.
    fn jump_params(&self) -> ConnectParams {
        let kh = self.known_hosts(
            "jump_known_hosts",
            &[
                (self.jump_name(), "JUMP_HOSTKEY_PUB"),
                (self.target_name(), "TARGET_HOSTKEY_PUB"),
            ],
        );
        let policy = self.policy_with(kh, "own/known_hosts");
        ConnectParams {
            host: self.get("TARGET_HOST").into(),
            port: self.port_of("TARGET_PORT"),
            auth: self.key_auth(),
            host_keys: policy.clone(),
            timeout: T,
            proxy: Some(Box::new(ProxyParams {
                host: self.get("JUMP_HOST").into(),
                port: self.port_of("JUMP_PORT"),
                auth: self.key_auth(),
                host_keys: policy,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// The keyboard-interactive server, its key known, no credentials.
    fn kbd_params(&self) -> ConnectParams {
        let port = self.port_of("KBD_PORT");
        let kh = self.known_hosts(
            "kbd_known_hosts",
            &[(
                host_keys::lookup_name(self.get("KBD_HOST"), port),
                "KBD_HOSTKEY_PUB",
            )],
        );
        ConnectParams {
            host: self.get("KBD_HOST").into(),
            port,
            auth: AuthParams {
                username: self.get("KBD_USER").into(),
                ssh_dir: self.tmp.path().join("no-ssh-dir"),
                ..Default::default()
            },
            host_keys: self.policy_with(kh, "own/known_hosts"),
            timeout: T,
            ..Default::default()
        }
    }

    fn totp(&self) -> String {
        let out = Command::new("oathtool")
            .args(["--totp", "-b", self.get("KBD_TOTP_SECRET")])
            .output()
            .unwrap();
        assert!(out.status.success(), "oathtool failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

fn secret(hop: Hop, kind: SecretKind, prompt: &str) -> Asked {
    Asked::Secret {
        hop,
        kind,
        prompt: prompt.into(),
        echo: false,
    }
}

async fn run_ok(c: &Connection, command: &str) -> String {
    let out = c.exec(command, T).await.unwrap();
    assert_eq!(
        out.exit_status,
        Some(0),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn jump_host_key_auth_both_hops() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    if !lab.has(&[
        "JUMP_HOST",
        "TARGET_HOST",
        "JUMP_HOSTKEY_PUB",
        "TARGET_HOSTKEY_PUB",
    ]) {
        return;
    }
    let c = Connection::connect(lab.jump_params()).await.unwrap();
    assert_eq!(run_ok(&c, "echo hi").await, "hi\n");
    // It runs on the target, reached from the jump host's inner address.
    let conn = run_ok(&c, "echo $SSH_CONNECTION").await;
    let fields: Vec<&str> = conn.split_whitespace().collect();
    assert_eq!(fields[2], lab.get("TARGET_HOST"), "{conn}");
    assert_ne!(fields[0], "127.0.0.1", "{conn}");
    run_ok(&c, "x2golistsessions").await;
    assert_eq!(
        c.peer_addr(),
        SocketAddr::new(
            lab.get("TARGET_HOST").parse().unwrap(),
            lab.port_of("TARGET_PORT")
        )
    );
    assert_eq!(
        c.jump_peer_addr().unwrap().ip().to_string(),
        lab.get("JUMP_HOST")
    );
    // Port forwarding and line streams work through the tunnel too.
    let mut lines = c.exec_lines("echo a; echo b").await.unwrap();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "a");
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "b");

    // The jump connection ends: the target connection is seen closed, and its own session
    // ends too (its transport is gone).
    let jump = c.inner.jump.clone().unwrap();
    let closed = c.clone();
    let waiter = tokio::spawn(async move { closed.closed().await });
    jump.disconnect().await;
    tokio::time::timeout(T, waiter).await.unwrap().unwrap();
    assert!(c.is_closed());
    wait_until("target session ends", || c.inner.handle.is_closed()).await;
    assert!(matches!(c.exec("true", T).await, Err(Error::Disconnected)));

    // A normal disconnect ends both.
    let c = Connection::connect(lab.jump_params()).await.unwrap();
    let jump = c.inner.jump.clone().unwrap();
    c.disconnect().await;
    assert!(c.is_closed());
    tokio::time::timeout(T, jump.closed()).await.unwrap();
}

#[tokio::test]
async fn target_not_reachable_directly() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    if !lab.has(&["TARGET_HOST", "TARGET_HOSTKEY_PUB"]) {
        return;
    }
    let mut params = lab.jump_params();
    params.proxy = None;
    params.timeout = Duration::from_secs(3);
    let err = Connection::connect(params).await.unwrap_err();
    assert!(
        matches!(err, Error::Connect { .. } | Error::Timeout(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn jump_failures_name_their_hop() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    if !lab.has(&[
        "JUMP_HOST",
        "TARGET_HOST",
        "JUMP_HOSTKEY_PUB",
        "TARGET_HOSTKEY_PUB",
    ]) {
        return;
    }
    // Wrong key on the jump host: AuthFailed there.
    let mut params = lab.jump_params();
    if let Some(p) = params.proxy.as_mut() {
        p.auth.key_files = vec![lab.get("SSH_KEY_ENC").into()];
    }
    let err = Connection::connect(params).await.unwrap_err();
    assert!(err.is_proxy(), "{err:?}");
    assert!(
        matches!(err.innermost(), Error::AuthFailed { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "jump host {} port {}: ",
            lab.get("JUMP_HOST"),
            lab.get("JUMP_PORT")
        )),
        "{err}"
    );
    // Wrong key on the target: AuthFailed, not of the jump host.
    let mut params = lab.jump_params();
    params.auth.key_files = vec![lab.get("SSH_KEY_ENC").into()];
    let err = Connection::connect(params).await.unwrap_err();
    assert!(
        !err.is_proxy() && matches!(err, Error::AuthFailed { .. }),
        "{err:?}"
    );
    // A port nothing listens on behind the jump host: a connect error of the target.
    let mut params = lab.jump_params();
    params.port = 1;
    let err = Connection::connect(params).await.unwrap_err();
    assert!(
        !err.is_proxy() && matches!(err, Error::Connect { port: 1, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn jump_unknown_host_keys() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    if !lab.has(&[
        "JUMP_HOST",
        "TARGET_HOST",
        "JUMP_HOSTKEY_PUB",
        "TARGET_HOSTKEY_PUB",
    ]) {
        return;
    }
    let fingerprint = |pub_file: &str| {
        let text = std::fs::read_to_string(lab.get(pub_file)).unwrap();
        HostKeyInfo::from_key(
            &russh::keys::parse_public_key_base64(text.split_whitespace().nth(1).unwrap()).unwrap(),
        )
    };
    let (jump_key, target_key) = (
        fingerprint("JUMP_HOSTKEY_PUB"),
        fingerprint("TARGET_HOSTKEY_PUB"),
    );
    let base = lab.jump_params();
    let empty = lab.policy_with(lab.tmp.path().join("none"), "learned/known_hosts");
    let known_jump = lab.policy_with(
        lab.known_hosts("only_jump", &[(lab.jump_name(), "JUMP_HOSTKEY_PUB")]),
        "learned/known_hosts",
    );
    let with = |jump: &HostKeyPolicy, target: &HostKeyPolicy| {
        let mut p = base.clone();
        p.host_keys = target.clone();
        if let Some(proxy) = p.proxy.as_mut() {
            proxy.host_keys = jump.clone();
        }
        p
    };

    // Unknown jump host key: refused on the jump hop, for connect and probe alike.
    for err in [
        Connection::connect(with(&empty, &empty)).await.unwrap_err(),
        Connection::probe_host_key_for(&with(&empty, &empty))
            .await
            .unwrap_err(),
    ] {
        assert!(err.is_proxy(), "{err:?}");
        match err.innermost() {
            Error::HostKeyUnknown { host, key, refused } => {
                assert_eq!(host, &lab.jump_name());
                assert_eq!(key, &jump_key);
                assert!(!refused);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // Jump host known, target unknown: refused on the target hop.
    for err in [
        Connection::connect(with(&known_jump, &empty))
            .await
            .unwrap_err(),
        Connection::probe_host_key_for(&with(&known_jump, &empty))
            .await
            .unwrap_err(),
    ] {
        match &err {
            Error::HostKeyUnknown { host, key, .. } => {
                assert_eq!(host, &lab.target_name());
                assert_eq!(key, &target_key);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        Connection::probe_host_key_for(&base).await.unwrap(),
        target_key
    );
    assert_eq!(
        std::fs::read_to_string(&empty.own_file).unwrap_or_default(),
        ""
    );

    // A person refuses: HostKeyUnknown saying so.
    let refuse = Script {
        host_keys: Some(Ok(false)),
        ..Default::default()
    };
    let mut asking = empty.clone();
    asking.prompter = Some(refuse.handle());
    let err = Connection::connect(with(&known_jump, &asking))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::HostKeyUnknown { refused: true, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("refused"), "{err}");

    // A person confirms both: learned into the own file, under each hop's name, and known
    // from then on without asking.
    let confirm = Script {
        host_keys: Some(Ok(true)),
        ..Default::default()
    };
    asking.prompter = Some(confirm.handle());
    let c = Connection::connect(with(&asking, &asking)).await.unwrap();
    assert_eq!(run_ok(&c, "echo hi").await, "hi\n");
    c.disconnect().await;
    assert_eq!(
        confirm.asked(),
        [
            Asked::HostKey {
                hop: Hop::Proxy,
                name: lab.jump_name(),
                key: jump_key.clone()
            },
            Asked::HostKey {
                hop: Hop::Target,
                name: lab.target_name(),
                key: target_key.clone()
            },
        ]
    );
    let own = std::fs::read_to_string(&empty.own_file).unwrap();
    assert!(
        own.starts_with(&format!("{} ssh-ed25519 ", lab.jump_name())),
        "{own}"
    );
    assert!(
        own.contains(&format!("\n{} ssh-ed25519 ", lab.target_name())),
        "{own}"
    );
    Connection::connect(with(&empty, &empty))
        .await
        .unwrap()
        .disconnect()
        .await;

    // Under a host key name, the target's key is unknown again, and learned under the name.
    let mut aliased = with(&empty, &asking);
    aliased.host_key_name = Some("X2god-Profile-Test".into());
    let c = Connection::connect(aliased.clone()).await.unwrap();
    c.disconnect().await;
    let own = std::fs::read_to_string(&empty.own_file).unwrap();
    assert!(own.contains("\nx2god-profile-test ssh-ed25519 "), "{own}");
    assert_eq!(confirm.asked().len(), 3);
    assert_eq!(
        Connection::probe_host_key_for(&aliased).await.unwrap(),
        target_key
    );
    aliased.host_key_name = Some("two words".into());
    assert!(matches!(
        Connection::connect(aliased).await,
        Err(Error::InvalidParams(_))
    ));
}

#[tokio::test]
async fn kbd_int_password_and_code() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    if !lab.has(&["KBD_PORT", "KBD_TOTP_SECRET", "KBD_HOSTKEY_PUB"]) {
        return;
    }
    let password = lab.get("KBD_PASSWORD");

    // A person answers both questions.
    let script = Script::answers(&[password, &lab.totp()]);
    let mut params = lab.kbd_params();
    params.auth.prompter = Some(script.handle());
    let c = Connection::connect(params.clone()).await.unwrap();
    assert_eq!(whoami(&c).await, lab.get("KBD_USER"));
    c.disconnect().await;
    assert_eq!(
        script.asked(),
        [
            secret(Hop::Target, SecretKind::Password, "Password: "),
            secret(Hop::Target, SecretKind::Response, "Verification code: "),
        ]
    );

    // The given password answers the first, a person the second.
    let script = Script::answers(&[&lab.totp()]);
    params.auth.prompter = Some(script.handle());
    params.auth.password = Some(Secret::new(password.into()));
    let c = Connection::connect(params.clone()).await.unwrap();
    c.disconnect().await;
    assert_eq!(
        script.asked(),
        [secret(
            Hop::Target,
            SecretKind::Response,
            "Verification code: "
        )]
    );

    // A wrong code: AuthFailed.
    let script = Script::answers(&["000000x"]);
    params.auth.prompter = Some(script.handle());
    let err = Connection::connect(params.clone()).await.unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");

    // Nobody to ask for the code: AuthFailed saying why.
    params.auth.prompter = Some(Script::default().handle());
    let err = Connection::connect(params.clone()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
    assert!(
        msg.contains("Verification code: no agent is registered to ask"),
        "{msg}"
    );
    assert!(!msg.contains(password), "{msg}");

    // No prompter: AuthFailed as before, with the password and with nothing.
    params.auth.prompter = None;
    let err = Connection::connect(params.clone()).await.unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
    params.auth.password = None;
    let err = Connection::connect(params.clone()).await.unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");

    // Nobody to ask for the password.
    params.auth.prompter = Some(Script::default().handle());
    let err = Connection::connect(params.clone()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("password: no agent is registered to ask"),
        "{err}"
    );

    // Declined: the connect is given up.
    let script = Script::default();
    script
        .secrets
        .lock()
        .unwrap()
        .push_back(Err(PromptError::Cancelled("the user said no".into())));
    params.auth.prompter = Some(script.handle());
    let err = Connection::connect(params.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled(_)), "{err:?}");

    // A slow person does not make the connect time out.
    let mut script = Script::answers(&[password, &lab.totp()]);
    script.delay = Duration::from_millis(600);
    params.auth.prompter = Some(script.handle());
    params.timeout = Duration::from_secs(1);
    Connection::connect(params)
        .await
        .unwrap()
        .disconnect()
        .await;
}

#[tokio::test]
async fn prompted_passphrase_and_password() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let pass = lab.get("SSH_KEY_PASSPHRASE");
    // Another encrypted key, with the same passphrase, that the server does not know: the
    // one answer is tried on both.
    let other = lab.tmp.path().join("other_enc");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", pass, "-f"])
        .arg(&other)
        .status()
        .unwrap();
    assert!(st.success());
    let script = Script::answers(&[pass]);
    let mut auth = lab.auth();
    auth.key_files = vec![other.clone(), lab.get("SSH_KEY_ENC").into()];
    auth.prompter = Some(script.handle());
    let c = Connection::connect(lab.params(auth.clone())).await.unwrap();
    assert_eq!(whoami(&c).await, lab.get("SSH_USER"));
    assert_eq!(
        script.asked(),
        [secret(
            Hop::Target,
            SecretKind::Passphrase,
            &format!("Enter passphrase for key '{}': ", other.display())
        )]
    );

    // A wrong answer for the first file: asked again for the second.
    let script = Script::answers(&["wrong", pass]);
    auth.prompter = Some(script.handle());
    Connection::connect(lab.params(auth.clone())).await.unwrap();
    assert_eq!(script.asked().len(), 2);

    // Nobody to ask: the keys fail saying why, then the password is asked (the lab server
    // takes passwords, not keyboard-interactive), which nobody answers either.
    auth.key_files = vec![lab.get("SSH_KEY_ENC").into()];
    auth.prompter = Some(Script::default().handle());
    let err = Connection::connect(lab.params(auth.clone()))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
    assert!(
        msg.contains("cannot ask for the passphrase: no agent is registered to ask"),
        "{msg}"
    );
    assert!(
        msg.contains("password (cannot ask for it: no agent is registered to ask)"),
        "{msg}"
    );

    // No keys: the password is asked for and used.
    auth.key_files.clear();
    let script = Script::answers(&[lab.get("SSH_PASSWORD")]);
    auth.prompter = Some(script.handle());
    Connection::connect(lab.params(auth.clone())).await.unwrap();
    assert_eq!(
        script.asked(),
        [secret(
            Hop::Target,
            SecretKind::Password,
            &format!("{}@127.0.0.1's password: ", lab.get("SSH_USER"))
        )]
    );

    // force_password_auth without a password: asked first (an encrypted key would have
    // been asked for before).
    auth.key_files = vec![lab.get("SSH_KEY_ENC").into()];
    auth.force_password_auth = true;
    let script = Script::answers(&[lab.get("SSH_PASSWORD")]);
    auth.prompter = Some(script.handle());
    Connection::connect(lab.params(auth.clone())).await.unwrap();
    assert!(
        matches!(
            &script.asked()[..],
            [Asked::Secret {
                kind: SecretKind::Password,
                ..
            }]
        ),
        "{:?}",
        script.asked()
    );

    // A declined passphrase gives up.
    auth.force_password_auth = false;
    auth.key_files = vec![lab.get("SSH_KEY_ENC").into()];
    let script = Script::default();
    script
        .secrets
        .lock()
        .unwrap()
        .push_back(Err(PromptError::Timeout("nobody answered in 60 s".into())));
    auth.prompter = Some(script.handle());
    let err = Connection::connect(lab.params(auth)).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
}

/// The SHA-256 fingerprint of the public key next to `key`, as `ssh-keygen -l` prints it.
fn key_fingerprint(key: &str) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(format!("{key}.pub"))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn agent_forwarding() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    let key = lab.get("SSH_KEY");
    let fingerprint = key_fingerprint(key);
    let agent = start_agent(lab.tmp.path(), key);

    let mut params = lab.params(lab.key_auth());
    params.forward_agent = Some(agent.sock.clone());
    let c = Connection::connect(params.clone()).await.unwrap();
    let listed = run_ok(&c, "ssh-add -l").await;
    assert!(listed.contains(&fingerprint), "{listed}");
    // Every command gets the agent, also several at once and from a line stream.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.exec("ssh-add -l", T).await })
        })
        .collect();
    for t in tasks {
        let out = t.await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains(&fingerprint));
    }
    let mut s = c.exec_lines("ssh-add -l").await.unwrap();
    assert!(s.next_line().await.unwrap().unwrap().contains(&fingerprint));
    drop(s);

    // Without forwarding, there is no agent on the server.
    params.forward_agent = None;
    let plain = Connection::connect(params.clone()).await.unwrap();
    let out = plain.exec("ssh-add -l", T).await.unwrap();
    assert_eq!(out.exit_status, Some(2), "{out:?}");

    // An unreachable local agent: the server's agent connection is refused, nothing else
    // breaks.
    params.forward_agent = Some(lab.tmp.path().join("no-agent.sock"));
    let broken = Connection::connect(params).await.unwrap();
    let out = broken.exec("ssh-add -l", T).await.unwrap();
    assert_ne!(out.exit_status, Some(0), "{out:?}");
    assert_eq!(whoami(&broken).await, lab.get("SSH_USER"));
    assert!(!broken.is_closed());
}

#[tokio::test]
async fn agent_forwarding_through_jump_host() {
    let _serial = SERIAL.lock().await;
    let Some(lab) = Lab::load() else { return };
    if !lab.has(&[
        "JUMP_HOST",
        "TARGET_HOST",
        "JUMP_HOSTKEY_PUB",
        "TARGET_HOSTKEY_PUB",
    ]) {
        return;
    }
    let key = lab.get("SSH_KEY");
    let agent = start_agent(lab.tmp.path(), key);
    let mut params = lab.jump_params();
    params.forward_agent = Some(agent.sock.clone());
    let c = Connection::connect(params).await.unwrap();
    let listed = run_ok(&c, "ssh-add -l").await;
    assert!(listed.contains(&key_fingerprint(key)), "{listed}");
}

/// A port free on this machine (where the lab's sshd runs too) for a reverse forward.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The share server through a real reverse forward, driven by OpenSSH's `sftp` on the server
/// with the session's key, as a hostile server could after capturing it: inside the jail
/// everything works, nothing outside can be read or listed (`..`, absolute paths, symbolic
/// links planted inside pointing out, relative and absolute), a read-only root refuses every
/// change, and any other key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_server_confines_a_captured_key_to_its_jail() {
    let Some(lab) = Lab::load() else { return };
    let _serial = SERIAL.lock().await;
    let conn = key_connection(&lab, 10).await;

    // The client side: a shared folder, a read-only one, and a secret beside them.
    let base = lab.tmp.path().join("client");
    let (rw, ro, outside) = (base.join("rw share"), base.join("ro"), base.join("outside"));
    for d in [&rw, &ro, &outside] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(rw.join("inside.txt"), "inside\n").unwrap();
    std::fs::write(ro.join("kept.txt"), "kept\n").unwrap();
    std::fs::write(outside.join("secret.txt"), "secret\n").unwrap();
    std::os::unix::fs::symlink("../outside", rw.join("rel")).unwrap();
    std::os::unix::fs::symlink(&outside, rw.join("abs")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), rw.join("secret-link")).unwrap();
    let jail = Arc::new(Jail::new());
    jail.add(&rw, false).unwrap();
    jail.add(&ro, true).unwrap();

    let keys = Arc::new(ShareKeys::generate().unwrap());
    let port = free_port();
    let mut forward = conn.forward_remote(port).await.unwrap();
    let (k, j) = (keys.clone(), jail.clone());
    let server = tokio::spawn(async move {
        while let Some(stream) = forward.accept().await {
            let (k, j) = (k.clone(), j.clone());
            tokio::spawn(async move {
                let _ = serve_sftp(stream, k, j).await;
            });
        }
    });

    // The server side: the key and the pinned host key, private files of the lab user.
    let dir = format!("/tmp/x2god-share-test-{port}");
    let setup = format!(
        "umask 077; mkdir -p {dir} && cat > {dir}/key && echo '[127.0.0.1]:{port} {}' > {dir}/kh && ssh-keygen -q -t ed25519 -N '' -f {dir}/other",
        keys.host_public_line()
    );
    let out = conn
        .exec_with_input(&setup, keys.client_private_openssh().expose().as_bytes(), T)
        .await
        .unwrap();
    assert_eq!(
        out.exit_status,
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sftp = |key: &str, batch: &str| {
        format!(
            "printf '%s\\n' {} | sftp -q -b - -i {dir}/{key} -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile={dir}/kh -o StrictHostKeyChecking=yes -o BatchMode=yes -P {port} anyone@127.0.0.1",
            shlex::try_quote(batch).unwrap()
        )
    };
    let run = |key: &'static str, batch: String| {
        let cmd = sftp(key, &batch);
        let conn = &conn;
        async move {
            let out = conn.exec(&cmd, T).await.unwrap();
            (
                out.exit_status == Some(0),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (rw_s, ro_s, out_s) = (
        rw.to_str().unwrap(),
        ro.to_str().unwrap(),
        outside.to_str().unwrap(),
    );

    // Inside: reads, writes, listings work.
    let (ok, stdout, stderr) = run(
        "key",
        format!(
            "get \"{rw_s}/inside.txt\" {dir}/got\nput {dir}/kh \"{rw_s}/put.txt\"\nls \"{rw_s}\""
        ),
    )
    .await;
    assert!(ok, "inside the jail: {stdout}{stderr}");
    assert!(stdout.contains("put.txt"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(rw.join("put.txt"))
            .unwrap()
            .trim_end(),
        format!("[127.0.0.1]:{port} {}", keys.host_public_line())
    );

    // Outside: every way out is refused.
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode()
    };
    let outside_mode = mode(&outside);
    let escapes = [
        format!("get \"{rw_s}/../outside/secret.txt\" {dir}/x"),
        format!("ls \"{rw_s}/..\""),
        format!("get {out_s}/secret.txt {dir}/x"),
        format!("ls {out_s}"),
        "ls /".to_owned(),
        "get /etc/passwd {dir}/x".replace("{dir}", &dir),
        format!("get \"{rw_s}/rel/secret.txt\" {dir}/x"),
        format!("ls \"{rw_s}/rel/\""),
        format!("get \"{rw_s}/abs/secret.txt\" {dir}/x"),
        format!("ls \"{rw_s}/abs/\""),
        format!("get \"{rw_s}/secret-link\" {dir}/x"),
        format!("put {dir}/kh \"{rw_s}/rel/planted.txt\""),
        format!("mkdir \"{rw_s}/abs/planted\""),
        format!("rename \"{rw_s}/inside.txt\" {out_s}/moved.txt"),
        format!("chmod 777 \"{rw_s}/abs\""),
    ];
    for batch in escapes {
        let (ok, stdout, stderr) = run("key", batch.clone()).await;
        assert!(!ok, "escaped the jail with {batch:?}: {stdout}{stderr}");
        // (sftp echoes each command after `sftp>`; anything else is what the server sent.)
        let shown: Vec<_> = stdout.lines().filter(|l| !l.starts_with("sftp>")).collect();
        assert!(
            !shown.iter().any(|l| l.contains("secret")),
            "{batch:?} showed {shown:?}"
        );
    }
    let out = conn.exec(&format!("test -e {dir}/x"), T).await.unwrap();
    assert_ne!(out.exit_status, Some(0), "something outside was copied");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "outside changed"
    );
    assert_eq!(mode(&outside), outside_mode, "outside's mode changed");

    // Read-only: reads work, no change does.
    let (ok, _, stderr) = run("key", format!("get {ro_s}/kept.txt {dir}/kept")).await;
    assert!(ok, "reading a read-only share: {stderr}");
    for batch in [
        format!("put {dir}/kh {ro_s}/new.txt"),
        format!("put {dir}/kh {ro_s}/kept.txt"),
        format!("rm {ro_s}/kept.txt"),
        format!("mkdir {ro_s}/d"),
        format!("rename {ro_s}/kept.txt {ro_s}/moved.txt"),
        format!("chmod 600 {ro_s}/kept.txt"),
        format!("symlink kept.txt {ro_s}/link"),
    ] {
        let (ok, stdout, stderr) = run("key", batch.clone()).await;
        assert!(!ok, "a read-only share took {batch:?}: {stdout}{stderr}");
    }
    let names: Vec<_> = std::fs::read_dir(&ro)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("kept.txt")]);
    assert_eq!(
        std::fs::read_to_string(ro.join("kept.txt")).unwrap(),
        "kept\n"
    );

    // A removed root is gone at once; any other key gets nowhere.
    jail.remove(&ro);
    let (ok, _, _) = run("key", format!("get {ro_s}/kept.txt {dir}/kept2")).await;
    assert!(!ok, "a removed root still answered");
    let (ok, _, stderr) = run("other", format!("ls \"{rw_s}\"")).await;
    assert!(!ok, "another key got in: {stderr}");

    let _ = conn.exec(&format!("rm -rf {dir}"), T).await;
    server.abort();
}
