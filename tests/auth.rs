//! Authentication against the lab's sshd: every method python-x2go's connect() offers.

use x2god_client::{ConnectionState, Options};
use x2god_tests::{Daemon, Lab, SshAgent};

use crate::{bounded, expect_err, key_profile, lab_profile};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_login_sets_connection_properties() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = key_profile(&d, &lab, "key", "SSH_KEY").await;
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
        assert!(!p.proxy().is_connected().await.unwrap());
        p.connect(Options::new()).await.unwrap();
        let px = p.proxy();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        assert!(px.is_connected().await.unwrap());
        assert!(px.is_alive().await.unwrap());
        assert_eq!(px.remote_username().await.unwrap(), lab.var("SSH_USER"));
        assert_eq!(
            px.remote_username_prop().await.unwrap(),
            lab.var("SSH_USER")
        );
        assert_eq!(
            px.remote_peername().await.unwrap(),
            format!("127.0.0.1:{}", lab.port())
        );
        assert_eq!(px.get_hostname().await.unwrap(), "127.0.0.1");
        assert_eq!(px.get_port().await.unwrap(), lab.port());
        px.disconnect().await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
        expect_err(px.remote_username().await, "NotConnected");
        expect_err(px.list_sessions().await, "NotConnected");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_ecdsa_keys() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        for (name, key) in [("rsa", "SSH_KEY_RSA"), ("ecdsa", "SSH_KEY_ECDSA")] {
            let p = key_profile(&d, &lab, name, key).await;
            p.connect(Options::new()).await.unwrap();
            assert!(p.proxy().is_alive().await.unwrap(), "{name}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_key_with_passphrase() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = key_profile(&d, &lab, "enc", "SSH_KEY_ENC").await;
        let msg = expect_err(p.connect(Options::new()).await, "AuthFailed");
        assert!(!msg.is_empty());
        let msg = expect_err(
            p.connect(Options::new().set("passphrase", "wrong-phrase-123"))
                .await,
            "AuthFailed",
        );
        assert!(!msg.contains("wrong-phrase-123"), "{msg}");
        p.connect(Options::new().set("passphrase", lab.var("SSH_KEY_PASSPHRASE")))
            .await
            .unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        p.disconnect().await.unwrap();
        // As in python-x2go, a password given without a passphrase unlocks the key.
        p.connect(Options::new().set("password", lab.var("SSH_KEY_PASSPHRASE")))
            .await
            .unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        assert!(
            !d.log_text().contains(&lab.var("SSH_KEY_PASSPHRASE")),
            "passphrase in the log"
        );
        assert!(
            !d.log_text().contains("wrong-phrase-123"),
            "passphrase in the log"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_login() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let agent = SshAgent::with_key(lab.var("SSH_KEY").as_ref());
        let d = Daemon::start_with_env(vec![(
            "SSH_AUTH_SOCK".into(),
            agent.socket.display().to_string(),
        )])
        .await;
        let p = lab_profile(&d, &lab, "agent", &lab.var("SSH_USER"), Options::new()).await;
        // No key and no agent allowed: nothing to authenticate with.
        expect_err(p.connect(Options::new()).await, "AuthFailed");
        p.connect(Options::new().set("allow_agent", true))
            .await
            .unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discoverable_key_in_home() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = lab_profile(
            &d,
            &lab,
            "look",
            &lab.var("SSH_USER"),
            Options::new().set("look_for_keys", true),
        )
        .await;
        expect_err(p.connect(Options::new()).await, "AuthFailed");
        std::fs::copy(lab.var("SSH_KEY"), d.home.path().join(".ssh/id_ed25519")).unwrap();
        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_login_and_wrong_password_leaks_nothing() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = lab_profile(&d, &lab, "pw", &lab.var("SSH_USER"), Options::new()).await;
        let wrong = "Wr0ng-Pa55word-x2god";
        let msg = expect_err(
            p.connect(Options::new().set("password", wrong)).await,
            "AuthFailed",
        );
        assert!(!msg.contains(wrong), "{msg}");
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
        let last = p.proxy().last_error().await.unwrap();
        assert!(!last.is_empty() && !last.contains(wrong), "{last}");

        p.connect(Options::new().set("password", lab.var("SSH_PASSWORD")))
            .await
            .unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        p.disconnect().await.unwrap();
        // force_password_auth ignores the key even when one is configured.
        p.connect(
            Options::new()
                .set("key_filename", lab.var("SSH_KEY"))
                .set("force_password_auth", true)
                .set("password", lab.var("SSH_PASSWORD")),
        )
        .await
        .unwrap();
        p.proxy().list_sessions_raw().await.unwrap();

        let log = d.log_text();
        assert!(
            log.contains("connect failed"),
            "the daemon logs at trace level:\n{log}"
        );
        for secret in [wrong.to_owned(), lab.var("SSH_PASSWORD")] {
            assert!(!log.contains(&secret), "a password reached the log");
            for f in x2god_tests::files_under(d.home.path()) {
                let text = std::fs::read(&f).unwrap_or_default();
                assert!(
                    !String::from_utf8_lossy(&text).contains(&secret),
                    "a password reached {}",
                    f.display()
                );
            }
        }
    })
    .await;
}
