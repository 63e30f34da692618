//! Connection paths and secrets: a jump host in network namespaces, keyboard-interactive
//! logins answered by a registered agent, the Secret Service keyring, and profiles read from
//! an x2goclient sessions file.

use std::time::Duration;

use x2god_client::{ConnectionState, Options, Profile};
use x2god_tests::{AgentQuestion, Daemon, Lab, TestAgent, fingerprint_of, totp, wait_until};

use crate::{GRAPHICAL, bounded, expect_err};

/// A profile reaching the namespaced target through the namespaced jump host, with the lab
/// key on both hops and nothing in known_hosts.
async fn jump_profile(d: &Daemon, lab: &Lab, name: &str) -> Profile {
    let settings = Options::new()
        .set("hostname", lab.var("TARGET_HOST"))
        .set("port", lab.var("TARGET_PORT").parse::<u32>().unwrap())
        .set("username", lab.var("SSH_USER"))
        .set("key_filename", lab.var("SSH_KEY"))
        .set("use_sshproxy", true)
        .set("sshproxy_host", lab.var("JUMP_HOST"))
        .set(
            "sshproxy_port",
            lab.var("JUMP_PORT").parse::<u32>().unwrap(),
        )
        .set("sshproxy_user", lab.var("SSH_USER"))
        .set("sshproxy_key_filename", lab.var("SSH_KEY"));
    d.client()
        .await
        .create_profile(name, settings)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jump_host_keys_checked_per_hop_then_list_and_start_through_it() {
    let Some(lab) = Lab::get() else { return };
    let _g = GRAPHICAL.lock().await;
    bounded(async {
        let d = Daemon::start_with_display(&lab).await;

        // The target is not reachable without the jump host.
        let direct = Options::new()
            .set("hostname", lab.var("TARGET_HOST"))
            .set("username", lab.var("SSH_USER"))
            .set("key_filename", lab.var("SSH_KEY"))
            .set("timeout", 5u32);
        let p = d
            .client()
            .await
            .create_profile("direct", direct)
            .await
            .unwrap();
        let e = p.connect(Options::new()).await.unwrap_err();
        assert!(
            ["Failed", "Timeout"].contains(&e.kind()),
            "direct connect to the target: {e:?}"
        );

        let p = jump_profile(&d, &lab, "jump").await;
        let px = p.proxy();
        let jump_fp = fingerprint_of(&lab.var("JUMP_HOSTKEY_PUB"));
        let target_fp = fingerprint_of(&lab.var("TARGET_HOSTKEY_PUB"));
        assert_ne!(jump_fp, target_fp);

        // Unknown jump key: refused, named as the jump host's.
        let msg = expect_err(p.connect(Options::new()).await, "HostKeyUnknown");
        assert!(msg.contains(&jump_fp), "{msg}");
        assert!(msg.contains("jump host"), "{msg}");
        assert!(!msg.contains(&target_fp), "{msg}");
        px.trust_host_key(&jump_fp).await.unwrap();

        // Jump known, target unknown: refused separately, with the target's key.
        let msg = expect_err(p.connect(Options::new()).await, "HostKeyUnknown");
        assert!(msg.contains(&target_fp), "{msg}");
        assert!(!msg.contains("jump host"), "{msg}");
        // A fingerprint neither hop offers learns nothing.
        expect_err(
            px.trust_host_key("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
                .await,
            "InvalidArgument",
        );
        assert!(!px.check_host().await.unwrap());
        px.trust_host_key(&target_fp).await.unwrap();
        assert!(px.check_host().await.unwrap());

        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        // The target sees us coming from the jump host's inner address.
        let log = std::fs::read_to_string(lab.var("TARGET_SSHD_LOG")).unwrap();
        assert!(log.contains("from 10.231.3.1"), "target log:\n{log}");
        p.list_sessions().await.unwrap();

        // A graphical session through both hops: the window shows on the lab's Xvfb.
        let start = Options::new()
            .set("cmd", "xterm")
            .set("session_type", "application")
            .set("geometry", "640x480");
        let (name, _) = px.start(start.as_call_arg()).await.unwrap();
        wait_until("the xterm window", Duration::from_secs(40), || {
            !lab.visible_windows("XTerm").is_empty()
        })
        .await;
        // Listed through the jump host as on the server itself.
        let listed = p.list_sessions().await.unwrap();
        assert!(listed.iter().any(|s| s.name == name && s.status == "R"));
        assert!(lab.server_sessions(&lab.var("SSH_USER")).contains(&name));
        px.terminate(&name, Options::new().as_call_arg())
            .await
            .unwrap();
        wait_until("the window to go", Duration::from_secs(30), || {
            lab.visible_windows("XTerm").is_empty()
        })
        .await;
        p.disconnect().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_confirms_both_hops_and_the_keys_are_learned() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = jump_profile(&d, &lab, "jump-agent").await;
        let agent = TestAgent::register(
            &d,
            Box::new(|q| matches!(q, AgentQuestion::HostKey { .. }).then(|| "yes".into())),
        )
        .await;
        p.connect(Options::new()).await.unwrap();
        let asked = agent.asked();
        let fps: Vec<String> = asked
            .iter()
            .filter_map(|q| match q {
                AgentQuestion::HostKey { fingerprint, .. } => Some(fingerprint.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            fps,
            vec![
                fingerprint_of(&lab.var("JUMP_HOSTKEY_PUB")),
                fingerprint_of(&lab.var("TARGET_HOSTKEY_PUB"))
            ],
            "{asked:?}"
        );
        p.disconnect().await.unwrap();
        // Learned: the next connect asks nothing.
        p.connect(Options::new()).await.unwrap();
        assert_eq!(agent.asked().len(), asked.len());
    })
    .await;
}

/// A profile for the keyboard-interactive sshd (password + one-time code), no keys.
async fn kbd_profile(d: &Daemon, lab: &Lab, name: &str) -> Profile {
    let settings = Options::new()
        .set("hostname", lab.var("KBD_HOST"))
        .set("port", lab.var("KBD_PORT").parse::<u32>().unwrap())
        .set("username", lab.var("KBD_USER"));
    d.client()
        .await
        .create_profile(name, settings)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_interactive_password_and_one_time_code_from_the_agent() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = kbd_profile(&d, &lab, "kbd").await;

        // Nobody to ask: the host key is unknown and stays so.
        expect_err(p.connect(Options::new()).await, "HostKeyUnknown");

        let password = lab.var("KBD_PASSWORD");
        let secret = lab.var("KBD_TOTP_SECRET");
        let agent = TestAgent::register(
            &d,
            Box::new(move |q| match q {
                AgentQuestion::HostKey { .. } => Some("yes".into()),
                AgentQuestion::Secret { kind, .. } if kind == "password" => Some(password.clone()),
                AgentQuestion::Secret { kind, .. } if kind == "response" => Some(totp(&secret)),
                AgentQuestion::Secret { .. } => None,
            }),
        )
        .await;
        p.connect(Options::new()).await.unwrap();
        let asked = agent.asked();
        let secrets: Vec<(String, String)> = asked
            .iter()
            .filter_map(|q| match q {
                AgentQuestion::Secret { kind, prompt } => Some((kind.clone(), prompt.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(secrets.len(), 2, "{asked:?}");
        assert_eq!(secrets[0].0, "password");
        assert!(secrets[0].1.contains("Password"), "{secrets:?}");
        assert_eq!(secrets[1].0, "response");
        assert!(secrets[1].1.contains("Verification code"), "{secrets:?}");
        assert!(p.list_sessions().await.is_ok());
        p.disconnect().await.unwrap();

        // A password given to Connect answers the first prompt; the agent only the code.
        let before = agent.asked().len();
        p.connect(Options::new().set("password", lab.var("KBD_PASSWORD")))
            .await
            .unwrap();
        let new: Vec<AgentQuestion> = agent.asked()[before..].to_vec();
        assert!(
            matches!(new.as_slice(), [AgentQuestion::Secret { kind, .. }] if kind == "response"),
            "{new:?}"
        );
        p.disconnect().await.unwrap();

        // The agent leaves the bus: its registration ends, and Connect says nobody can answer.
        drop(agent);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let msg = expect_err(p.connect(Options::new()).await, "AuthFailed");
        assert!(msg.contains("agent"), "{msg}");
        assert!(!d.log_text().contains(&lab.var("KBD_PASSWORD")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declining_agent_cancels_the_connect() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        let p = kbd_profile(&d, &lab, "kbd-no").await;
        let agent = TestAgent::register(
            &d,
            Box::new(|q| matches!(q, AgentQuestion::HostKey { .. }).then(|| "yes".into())),
        )
        .await;
        expect_err(p.connect(Options::new()).await, "Cancelled");
        assert!(
            agent
                .asked()
                .iter()
                .any(|q| matches!(q, AgentQuestion::Secret { kind, .. } if kind == "password"))
        );
        assert_eq!(p.state().await.unwrap(), ConnectionState::Disconnected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_store_connect_forget() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let d = Daemon::start().await;
        d.start_keyring();
        lab.trust_in_home(d.home.path());
        let user = lab.var("SSH_USER2");
        let password = lab.var("SSH_PASSWORD2");
        let settings = lab
            .profile_settings(&user)
            .set("force_password_auth", true)
            .set("auto_reconnect", false);
        let p = d
            .client()
            .await
            .create_profile("kr", settings)
            .await
            .unwrap();
        let px = p.proxy();

        // Nothing stored, nobody to ask.
        expect_err(p.connect(Options::new()).await, "AuthFailed");
        expect_err(px.store_secret("cookie", "x").await, "InvalidArgument");

        px.store_secret("password", &password).await.unwrap();
        assert_eq!(
            px.stored_secrets().await.unwrap(),
            vec!["password".to_owned()]
        );
        p.connect(Options::new()).await.unwrap();
        p.disconnect().await.unwrap();

        // The secret is in the Secret Service and nowhere in our files or log.
        let out = std::process::Command::new("secret-tool")
            .args(["lookup", "service", "x2god:password", "username", "kr"])
            .env("DBUS_SESSION_BUS_ADDRESS", &d.bus.address)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), password);
        for f in x2god_tests::files_under(d.home.path()) {
            if f.to_string_lossy().contains("keyrings") {
                continue; // gnome-keyring's own encrypted store
            }
            let bytes = std::fs::read(&f).unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&password),
                "the password is in {}",
                f.display()
            );
        }

        px.forget_secret("password").await.unwrap();
        assert!(px.stored_secrets().await.unwrap().is_empty());
        expect_err(px.forget_secret("password").await, "NotFound");
        let msg = expect_err(p.connect(Options::new()).await, "AuthFailed");
        assert!(msg.contains("agent"), "{msg}");

        // With an agent, the agent is asked instead.
        let pw = password.clone();
        let agent = TestAgent::register(
            &d,
            Box::new(move |q| {
                matches!(q, AgentQuestion::Secret { kind, .. } if kind == "password")
                    .then(|| pw.clone())
            }),
        )
        .await;
        p.connect(Options::new()).await.unwrap();
        assert!(!agent.asked().is_empty());
    })
    .await;
}

/// An x2goclient sessions file as x2goclient (Qt QSettings) writes it: a key login to the
/// lab, a password login through the lab's jump host, a key login through the lab's HTTP
/// proxy (tinyproxy), and names with characters that need quoting and escaping.
fn x2goclient_file(lab: &Lab) -> String {
    format!(
        r#"[20261125093512871]
autologin=false
clipboard=both
command=XFCE
fullscreen=false
height=600
host=127.0.0.1
key={key}
name="B\xfcro, \"Lab\" / 1"
pack=16m-jpeg
quality=9
rootless=false
sound=true
speed=4
sshport={port}
usesshproxy=false
user={user}
width=800

[20261125093600002]
autologin=false
command=TERMINAL
host={target}
key={key}
name="a=b;c#d jump"
rootless=true
sshport={target_port}
sshproxyautologin=false
sshproxyhost={jump}:{jump_port}
sshproxykeyfile={key}
sshproxysamepass=false
sshproxysameuser=true
sshproxytype=SSH
usesshproxy=true
user={user}

[20261125093700003]
autologin=false
host=127.0.0.1
key={key}
name=Via HTTP
sshport={port}
sshproxyhost=127.0.0.1
sshproxyport={http_port}
sshproxytype=HTTP
usesshproxy=true
user={user}

[20261125093800004]
host=
name=Unfinished
"#,
        key = lab.var("SSH_KEY"),
        port = lab.var("SSH_PORT"),
        user = lab.var("SSH_USER"),
        target = lab.var("TARGET_HOST"),
        target_port = lab.var("TARGET_PORT"),
        jump = lab.var("JUMP_HOST"),
        jump_port = lab.var("JUMP_PORT"),
        http_port = lab.var("HTTP_PROXY_PORT"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2goclient_sessions_file_is_listed_and_connects() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let text = x2goclient_file(&lab);
        let d = Daemon::start_prepared(Vec::new(), |home| {
            std::fs::create_dir_all(home.join(".x2goclient")).unwrap();
            std::fs::write(home.join(".x2goclient/sessions"), &text).unwrap();
        })
        .await;
        lab.trust_in_home(d.home.path());
        let c = d.client().await;
        let mut names = Vec::new();
        for p in c.profiles().await.unwrap() {
            names.push(p.proxy().name().await.unwrap());
        }
        names.sort();
        assert_eq!(
            names,
            vec!["Büro, \"Lab\" / 1", "Via HTTP", "a=b;c#d jump"],
            "the host-less profile is skipped"
        );

        let plain = c.profile("Büro, \"Lab\" / 1").await.unwrap();
        let px = plain.proxy();
        assert_eq!(px.source().await.unwrap(), "x2goclient");
        let s = px.get_settings().await.unwrap();
        let get = |k: &str| s.get(k).map(|v| format!("{:?}", &**v)).unwrap_or_default();
        assert!(get("hostname").contains("127.0.0.1"), "{s:?}");
        assert!(get("port").contains(&lab.var("SSH_PORT")), "{s:?}");
        assert!(get("key_filename").contains(&lab.var("SSH_KEY")), "{s:?}");
        assert!(get("geometry").contains("800x600"), "{s:?}");
        assert!(get("link").contains("lan"), "{s:?}");
        assert!(get("pack").contains("16m-jpeg-9"), "{s:?}");
        assert!(get("use_sshproxy").contains("false"), "{s:?}");
        plain.connect(Options::new()).await.unwrap();
        plain.list_sessions().await.unwrap();
        plain.disconnect().await.unwrap();
        // Read-only: x2god never rewrites another program's file.
        expect_err(
            px.update(Options::new().set("port", 22u32).as_call_arg())
                .await,
            "NotSupported",
        );
        expect_err(c.remove_profile("Via HTTP").await, "NotSupported");
        assert_eq!(
            std::fs::read_to_string(d.home.path().join(".x2goclient/sessions")).unwrap(),
            text
        );

        // Through the jump host, with the same user on both hops.
        let jump = c.profile("a=b;c#d jump").await.unwrap();
        let s = jump.proxy().get_settings().await.unwrap();
        assert!(format!("{s:?}").contains(&lab.var("JUMP_HOST")), "{s:?}");
        assert_eq!(
            jump.proxy().sshproxy().await.unwrap(),
            format!("{}:{}", lab.var("JUMP_HOST"), lab.var("JUMP_PORT"))
        );
        let _agent = TestAgent::register(
            &d,
            Box::new(|q| matches!(q, AgentQuestion::HostKey { .. }).then(|| "yes".into())),
        )
        .await;
        jump.connect(Options::new()).await.unwrap();
        jump.list_sessions().await.unwrap();
        jump.disconnect().await.unwrap();

        // Through the HTTP proxy.
        let http = c.profile("Via HTTP").await.unwrap();
        let s = http.proxy().get_settings().await.unwrap();
        assert!(
            format!("{:?}", &*s["sshproxy_type"]).contains("http"),
            "{s:?}"
        );
        http.connect(Options::new()).await.unwrap();
        http.list_sessions().await.unwrap();
        let proxy_port: u16 = lab.var("HTTP_PROXY_PORT").parse().unwrap();
        assert_eq!(d.tcp_connections_to(proxy_port).len(), 1);
        http.disconnect().await.unwrap();

        // Profiles created by x2god still go to its own file only.
        c.create_profile("own", lab.profile_settings("x2gotest"))
            .await
            .unwrap();
        let own = std::fs::read_to_string(d.config_dir().join("profiles.toml")).unwrap();
        assert!(own.contains("own") && !own.contains("Lab"), "{own}");
    })
    .await;
}
