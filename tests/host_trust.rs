//! Host keys like OpenSSH: a key of another type than the known one, the global
//! `/etc/ssh/ssh_known_hosts`, `@revoked`, and `@cert-authority` host certificates, against the
//! lab's extra sshds (tests/lab/hostkeys.sh).

use std::path::Path;
use std::process::Command;

use x2god_client::{ConnectionState, Options};
use x2god_tests::{Daemon, Lab};

use crate::{bounded, expect_err};

/// `type base64` of an OpenSSH public key file.
fn pub_key(path: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut f = text.split_whitespace();
    format!("{} {}", f.next().unwrap(), f.next().unwrap())
}

use crate::host_keys::fingerprint;

/// Writes `text` as the daemon's `~/.ssh/known_hosts`.
fn user_known_hosts(d: &Daemon, text: &str) {
    let ssh = d.home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::write(ssh.join("known_hosts"), text).unwrap();
}

/// x2god's own known_hosts: what it learned.
fn learned(d: &Daemon) -> String {
    std::fs::read_to_string(d.config_dir().join("known_hosts")).unwrap_or_default()
}

/// A key-authenticated profile for the lab sshd variant on `port`.
async fn profile_on(d: &Daemon, lab: &Lab, name: &str, port: &str) -> x2god_client::Profile {
    let s = lab
        .profile_settings(&lab.var("SSH_USER"))
        .set("port", port.parse::<u32>().unwrap())
        .set("key_filename", lab.var("SSH_KEY"));
    d.client().await.create_profile(name, s).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_type_is_refused_and_never_learned() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        // Known by its RSA key; this sshd has the same host's ed25519 key only.
        let port = lab.var("HK_ED_PORT");
        user_known_hosts(
            &d,
            &format!(
                "[127.0.0.1]:{port} {}\n",
                pub_key(&lab.var("HOSTKEY_RSA_PUB"))
            ),
        );
        let p = profile_on(&d, &lab, "other-type", &port).await;
        let offered = fingerprint(&lab.var("HOSTKEY_ED25519_PUB"));
        for opts in [
            Options::new(),
            Options::new().set("add_to_known_hosts", true),
        ] {
            let msg = expect_err(p.connect(opts).await, "HostKeyOtherType");
            assert!(msg.contains("ssh-rsa") && msg.contains(&offered), "{msg}");
        }
        expect_err(p.proxy().check_host().await, "HostKeyOtherType");
        expect_err(p.proxy().trust_host_key(&offered).await, "HostKeyOtherType");
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
        assert!(learned(&d).trim().is_empty(), "learned: {}", learned(&d));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_known_by_rsa_negotiates_rsa() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        // The lab sshd has ed25519 and RSA keys; only RSA is known.
        user_known_hosts(
            &d,
            &format!(
                "[127.0.0.1]:{} {}\n",
                lab.port(),
                pub_key(&lab.var("HOSTKEY_RSA_PUB"))
            ),
        );
        let p = profile_on(&d, &lab, "rsa-known", &lab.port().to_string()).await;
        assert!(p.proxy().check_host().await.unwrap());
        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        assert!(learned(&d).trim().is_empty(), "learned: {}", learned(&d));
    })
    .await;
}

/// A private `/etc/ssh` holding `ssh_known_hosts` (and `ssh_known_hosts2`) with `text`.
fn etc_ssh(dir: &Path, text: &str, text2: &str) {
    std::fs::write(dir.join("ssh_known_hosts"), text).unwrap();
    std::fs::write(dir.join("ssh_known_hosts2"), text2).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_known_hosts_is_read_never_written_and_revokes() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let etc = tempfile::tempdir().unwrap();
        let ed = pub_key(&lab.var("HOSTKEY_ED25519_PUB"));
        let line = format!("[127.0.0.1]:{} {ed}\n", lab.port());
        etc_ssh(etc.path(), "", &line);
        // Hashed, as `HashKnownHosts yes` writes it.
        let global2 = etc.path().join("ssh_known_hosts2");
        let st = Command::new("ssh-keygen")
            .args(["-q", "-H", "-f"])
            .arg(&global2)
            .output()
            .unwrap();
        assert!(st.status.success(), "{st:?}");
        let hashed = std::fs::read_to_string(&global2).unwrap();
        assert!(hashed.starts_with("|1|"), "{hashed}");
        let d = Daemon::start_with_etc_ssh(etc.path()).await;
        let p = profile_on(&d, &lab, "global", &lab.port().to_string()).await;
        assert!(p.proxy().check_host().await.unwrap());
        p.connect(Options::new()).await.unwrap();
        p.disconnect().await.unwrap();
        assert!(learned(&d).trim().is_empty(), "learned: {}", learned(&d));
        assert_eq!(std::fs::read_to_string(&global2).unwrap(), hashed);

        // `@revoked` in the global file wins over the user's entry and add_to_known_hosts.
        etc_ssh(etc.path(), &format!("@revoked * {ed}\n"), &line);
        user_known_hosts(&d, &line);
        let msg = expect_err(
            p.connect(Options::new().set("add_to_known_hosts", true))
                .await,
            "HostKeyRevoked",
        );
        assert!(msg.contains("ssh_known_hosts:1"), "{msg}");
        assert!(learned(&d).trim().is_empty(), "learned: {}", learned(&d));
    })
    .await;
}

/// `@cert-authority` for the lab's loopback names with the test CA, plus `extra`.
fn trust_ca(d: &Daemon, lab: &Lab, extra: &str) {
    user_known_hosts(
        d,
        &format!(
            "@cert-authority 127.0.0.1,[127.0.0.1]:* {}\n{extra}",
            pub_key(&lab.var("HK_CA_PUB"))
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_certificate_of_a_trusted_ca_connects_without_a_prompt() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        trust_ca(&d, &lab, "");
        let p = profile_on(&d, &lab, "cert", &lab.var("HK_CERT_PORT")).await;
        assert!(p.proxy().check_host().await.unwrap());
        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        // Nothing learned: the CA vouches for the key.
        assert!(learned(&d).trim().is_empty(), "learned: {}", learned(&d));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_host_certificates_are_refused_and_never_learned() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        trust_ca(&d, &lab, "");
        let cases = [
            ("expired", "HK_CERT_EXPIRED_PORT", "not valid now"),
            (
                "wrongname",
                "HK_CERT_WRONGNAME_PORT",
                "not-this-host.example",
            ),
        ];
        for (name, port, why) in cases {
            let p = profile_on(&d, &lab, name, &lab.var(port)).await;
            for opts in [
                Options::new(),
                Options::new().set("add_to_known_hosts", true),
            ] {
                let msg = expect_err(p.connect(opts).await, "HostCertInvalid");
                assert!(msg.contains(why), "{name}: {msg}");
            }
            expect_err(p.proxy().check_host().await, "HostCertInvalid");
        }
        assert!(learned(&d).trim().is_empty(), "learned: {}", learned(&d));

        // A CA that signs no certificate of this host: refused the same way.
        let other_ca = tempfile::tempdir().unwrap();
        let ca = other_ca.path().join("ca");
        assert!(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&ca)
                .status()
                .unwrap()
                .success()
        );
        let good = profile_on(&d, &lab, "good", &lab.var("HK_CERT_PORT")).await;
        user_known_hosts(
            &d,
            &format!(
                "@cert-authority * {}\n",
                pub_key(ca.with_extension("pub").to_str().unwrap())
            ),
        );
        let msg = expect_err(good.connect(Options::new()).await, "HostCertInvalid");
        assert!(msg.contains("no @cert-authority"), "{msg}");

        // A revoked CA, and a revoked host key, beat a valid certificate.
        for revoked in ["HK_CA_PUB", "HK_CERT_HOSTKEY_PUB"] {
            trust_ca(
                &d,
                &lab,
                &format!("@revoked * {}\n", pub_key(&lab.var(revoked))),
            );
            expect_err(
                good.connect(Options::new().set("add_to_known_hosts", true))
                    .await,
                "HostKeyRevoked",
            );
        }
        assert!(learned(&d).trim().is_empty(), "learned: {}", learned(&d));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_key_aliases_of_similar_profile_names_do_not_collide() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let aliased = |port: String| {
            lab.profile_settings(&lab.var("SSH_USER"))
                .set("port", port.parse::<u32>().unwrap())
                .set("key_filename", lab.var("SSH_KEY"))
                .set("unique_hostkey_aliases", true)
        };
        let c = d.client().await;
        // Two servers with different keys; the old aliases were both x2god-profile-a_b.
        let first = c
            .create_profile("a b", aliased(lab.port().to_string()))
            .await
            .unwrap();
        let second = c
            .create_profile("a_b", aliased(lab.var("HK_CERT_PORT")))
            .await
            .unwrap();
        first
            .connect(Options::new().set("add_to_known_hosts", true))
            .await
            .unwrap();
        // The second profile's server is unknown under its own name, not "changed".
        expect_err(second.connect(Options::new()).await, "HostKeyUnknown");
        second
            .connect(Options::new().set("add_to_known_hosts", true))
            .await
            .unwrap();
        let own = learned(&d);
        assert!(own.contains("x2god-profile-a_20b ssh-"), "{own}");
        assert!(own.contains("x2god-profile-a_5fb ssh-"), "{own}");

        // A key learned under the former alias still counts for its profile.
        let d2 = Daemon::start().await;
        std::fs::create_dir_all(d2.config_dir()).unwrap();
        std::fs::write(
            d2.config_dir().join("known_hosts"),
            format!(
                "x2god-profile-a_b {}\n",
                pub_key(&lab.var("HOSTKEY_ED25519_PUB"))
            ),
        )
        .unwrap();
        let old = d2
            .client()
            .await
            .create_profile("a b", aliased(lab.port().to_string()))
            .await
            .unwrap();
        old.connect(Options::new()).await.unwrap();
    })
    .await;
}
