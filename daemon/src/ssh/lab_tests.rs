//! Tests against a real OpenSSH server: the lab of `tests/lab/setup.sh`, described by
//! `/tmp/x2god-lab/lab.env` (or the file named by `X2GOD_LAB_ENV`). `tests/run` sets the lab up;
//! without it they are skipped, except in CI (`CI` set), where a missing lab fails. They run one
//! at a time, because `one_connection_many_channels` counts connections in the sshd log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;

const T: Duration = Duration::from_secs(15);

/// One lab test at a time: some count connections in the shared sshd log.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Lab {
    env: HashMap<String, String>,
    tmp: tempfile::TempDir,
}

impl Lab {
    fn load() -> Option<Self> {
        let path =
            std::env::var("X2GOD_LAB_ENV").unwrap_or_else(|_| "/tmp/x2god-lab/lab.env".into());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") => {
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
    let Error::HostKeyUnknown { host, key } = &err else {
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
