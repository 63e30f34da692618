//! `sshproxy_type=http`: the SSH connection through the lab's tinyproxy (tests/lab/tinyproxy.sh),
//! open, with basic authentication, and refusing CONNECT.

use x2god_client::{Options, Profile};
use x2god_tests::{AgentQuestion, Daemon, Lab, TestAgent};

use crate::{bounded, expect_err, lab_profile};

/// A profile reaching the lab sshd with the lab key through the tinyproxy at `port_var`.
async fn proxied(d: &Daemon, lab: &Lab, name: &str, port_var: &str, extra: Options) -> Profile {
    let settings = Options::new()
        .set("key_filename", lab.var("SSH_KEY"))
        .set("use_sshproxy", true)
        .set("sshproxy_type", "http")
        .set("sshproxy_host", "127.0.0.1")
        .set("sshproxy_port", lab.var(port_var).parse::<u32>().unwrap());
    lab_profile(d, lab, name, &lab.var("SSH_USER"), settings.merge(extra)).await
}

/// The `CONNECT` requests to the lab sshd in the tinyproxy log at `log_var`.
fn connects_logged(lab: &Lab, log_var: &str) -> usize {
    let needle = format!("CONNECT 127.0.0.1:{} ", lab.port());
    std::fs::read_to_string(lab.var(log_var))
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_list_through_an_open_proxy() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = proxied(&d, &lab, "via-proxy", "HTTP_PROXY_PORT", Options::new()).await;
        let before = connects_logged(&lab, "HTTP_PROXY_LOG");
        p.connect(Options::new()).await.unwrap();
        p.list_sessions().await.unwrap();
        // The one connection goes to the proxy, none to the sshd itself.
        let proxy_port: u16 = lab.var("HTTP_PROXY_PORT").parse().unwrap();
        assert_eq!(d.tcp_connections_to(proxy_port).len(), 1);
        assert!(d.tcp_connections_to(lab.port()).is_empty());
        assert!(connects_logged(&lab, "HTTP_PROXY_LOG") > before);
        p.disconnect().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_authentication_with_the_given_or_the_asked_password() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let user = lab.var("HTTP_PROXY_USER");
        let password = lab.var("HTTP_PROXY_PASSWORD");
        let extra = Options::new().set("sshproxy_user", user.clone());
        let p = proxied(&d, &lab, "via-auth", "HTTP_PROXY_AUTH_PORT", extra).await;
        let before = connects_logged(&lab, "HTTP_PROXY_AUTH_LOG");
        p.connect(Options::new().set("sshproxy_password", password.clone()))
            .await
            .unwrap();
        p.list_sessions().await.unwrap();
        assert!(connects_logged(&lab, "HTTP_PROXY_AUTH_LOG") > before);
        p.disconnect().await.unwrap();

        // Not given: the proxy's 407 makes x2god ask the agent, as for a jump host.
        let answer = password.clone();
        let agent = TestAgent::register(
            &d,
            Box::new(move |q| match q {
                AgentQuestion::Secret { kind, .. } if kind == "sshproxy_password" => {
                    Some(answer.clone())
                }
                _ => None,
            }),
        )
        .await;
        p.connect(Options::new()).await.unwrap();
        p.list_sessions().await.unwrap();
        let asked = agent.asked();
        assert!(
            matches!(asked.as_slice(), [AgentQuestion::Secret { kind, prompt }]
                if kind == "sshproxy_password" && prompt.contains(&user)),
            "{asked:?}"
        );
        p.disconnect().await.unwrap();
        assert!(
            !d.log_text().contains(&password),
            "the password is in the log"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_credentials_are_auth_failed() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let user = lab.var("HTTP_PROXY_USER");
        let port = lab.var("HTTP_PROXY_AUTH_PORT");
        let p = proxied(&d, &lab, "no-user", "HTTP_PROXY_AUTH_PORT", Options::new()).await;
        let msg = expect_err(p.connect(Options::new()).await, "AuthFailed");
        assert!(
            msg.contains(&format!(
                "HTTP proxy 127.0.0.1 port {port} wants credentials"
            )) && msg.contains("407"),
            "{msg}"
        );

        let extra = Options::new().set("sshproxy_user", user.clone());
        let p = proxied(&d, &lab, "wrong-pw", "HTTP_PROXY_AUTH_PORT", extra).await;
        let wrong = "not-the-proxy-pw";
        let msg = expect_err(
            p.connect(Options::new().set("sshproxy_password", wrong))
                .await,
            "AuthFailed",
        );
        // tinyproxy answers a wrong password with 401.
        assert!(
            msg.contains(&format!("refused the credentials of \"{user}\"")) && msg.contains("401"),
            "{msg}"
        );
        assert!(
            !msg.contains(wrong) && !d.log_text().contains(wrong),
            "{msg}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_refusing_connect_names_403() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = proxied(&d, &lab, "denied", "HTTP_PROXY_DENY_PORT", Options::new()).await;
        let msg = expect_err(p.connect(Options::new()).await, "Failed");
        assert!(
            msg.contains(&format!(
                "the proxy refused CONNECT to 127.0.0.1:{} (HTTP/1.",
                lab.port()
            )) && msg.contains(" 403 "),
            "{msg}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_password_from_the_keyring() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        d.start_keyring();
        let password = lab.var("HTTP_PROXY_PASSWORD");
        let extra = Options::new().set("sshproxy_user", lab.var("HTTP_PROXY_USER"));
        let p = proxied(&d, &lab, "via-keyring", "HTTP_PROXY_AUTH_PORT", extra).await;
        expect_err(p.connect(Options::new()).await, "AuthFailed");
        p.proxy()
            .store_secret("sshproxy_password", &password)
            .await
            .unwrap();
        p.connect(Options::new()).await.unwrap();
        p.list_sessions().await.unwrap();
        p.disconnect().await.unwrap();
        assert!(
            !d.log_text().contains(&password),
            "the password is in the log"
        );
    })
    .await;
}
