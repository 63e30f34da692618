//! Host keys: unknown keys are refused until trusted; changed keys are always refused.

use std::process::Command;

use x2god_client::{ConnectionState, Options};
use x2god_tests::{Daemon, Lab};

use crate::{bounded, expect_err};

/// The SHA256 fingerprints of the lab server's host keys, as OpenSSH prints them.
fn server_fingerprints(lab: &Lab) -> Vec<String> {
    ["HOSTKEY_ED25519_PUB", "HOSTKEY_RSA_PUB"]
        .iter()
        .map(|k| fingerprint(&lab.var(k)))
        .collect()
}

/// The SHA256 fingerprint of a public key file, as OpenSSH prints it.
pub(crate) fn fingerprint(path: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f", path])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

fn fingerprint_in(msg: &str) -> String {
    let start = msg
        .find("SHA256:")
        .unwrap_or_else(|| panic!("no fingerprint in {msg:?}"));
    msg[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '+' | '/' | '='))
        .collect()
}

async fn key_profile(d: &Daemon, lab: &Lab, extra: Options) -> x2god_client::Profile {
    let s = lab
        .profile_settings(&lab.var("SSH_USER"))
        .set("key_filename", lab.var("SSH_KEY"));
    d.create_profile("hk", s.merge(extra)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_key_is_refused_then_trusted() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = key_profile(&d, &lab, Options::new()).await;
        let px = p.proxy();
        assert!(
            !px.check_host().await.unwrap(),
            "unknown key reported as known"
        );
        let msg = expect_err(p.connect(Options::new()).await, "HostKeyUnknown");
        let fp = fingerprint_in(&msg);
        assert!(
            server_fingerprints(&lab).contains(&fp),
            "{fp} is not the server's key"
        );
        assert!(msg.contains("ssh-"), "key type missing: {msg}");
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);

        // A fingerprint that is not what the server offers is refused and learns nothing.
        expect_err(
            px.trust_host_key("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
                .await,
            "InvalidArgument",
        );
        expect_err(
            px.trust_host_key("not-a-fingerprint").await,
            "InvalidArgument",
        );
        assert!(!px.check_host().await.unwrap());

        px.trust_host_key(&fp).await.unwrap();
        assert!(px.check_host().await.unwrap());
        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        // Learned into x2god's own file, never into OpenSSH's.
        let own = std::fs::read_to_string(d.config_dir().join("known_hosts")).unwrap();
        assert!(
            own.contains(&format!("[127.0.0.1]:{}", lab.port())) || own.starts_with("|1|"),
            "{own}"
        );
        assert!(!d.home.path().join(".ssh/known_hosts").exists());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_to_known_hosts_learns_on_connect() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = key_profile(&d, &lab, Options::new()).await;
        p.connect(Options::new().set("add_to_known_hosts", true))
            .await
            .unwrap();
        p.disconnect().await.unwrap();
        // Now known without the option.
        p.connect(Options::new()).await.unwrap();
        assert!(p.proxy().check_host().await.unwrap());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_key_is_always_refused() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        // known_hosts claims other keys of the same types for the server.
        let tmp = tempfile::tempdir().unwrap();
        let mut lines = String::new();
        for t in ["ed25519", "rsa"] {
            let k = tmp.path().join(t);
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", t, "-N", "", "-f"])
                .arg(&k)
                .status()
                .unwrap();
            assert!(st.success());
            let pubkey = std::fs::read_to_string(k.with_extension("pub")).unwrap();
            let mut f = pubkey.split_whitespace();
            lines += &format!(
                "[127.0.0.1]:{} {} {}\n",
                lab.port(),
                f.next().unwrap(),
                f.next().unwrap()
            );
        }
        let ssh = d.home.path().join(".ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(ssh.join("known_hosts"), &lines).unwrap();

        let p = key_profile(&d, &lab, Options::new()).await;
        let px = p.proxy();
        expect_err(px.check_host().await, "HostKeyChanged");
        let msg = expect_err(p.connect(Options::new()).await, "HostKeyChanged");
        let fp = fingerprint_in(&msg);
        assert!(server_fingerprints(&lab).contains(&fp), "{msg}");
        expect_err(
            p.connect(Options::new().set("add_to_known_hosts", true))
                .await,
            "HostKeyChanged",
        );
        expect_err(px.trust_host_key(&fp).await, "HostKeyChanged");
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
        // Never learned.
        let own = std::fs::read_to_string(d.config_dir().join("known_hosts")).unwrap_or_default();
        assert!(own.trim().is_empty(), "changed key was learned: {own}");
        assert_eq!(
            std::fs::read_to_string(ssh.join("known_hosts")).unwrap(),
            lines
        );
    })
    .await;
}
