//! OpenSSH's client configuration: a profile that names only a `Host` alias connects with the
//! alias's `HostName`, `User`, `Port` and `IdentityFile`; `ProxyJump` reaches the namespaced
//! target through one and two jump hops; `Include` works in the user's and the system file;
//! a bad line is refused naming file and line; `use_ssh_config = false` ignores the files. The
//! daemon reads a test `~/.ssh/config` in its own HOME and a test system file named by
//! `X2GOD_SSH_SYSTEM_CONFIG`, never the machine's.

use std::path::{Path, PathBuf};

use x2god_client::{ConnectionState, Options, Profile};
use x2god_tests::{Daemon, Lab, SshAgent};

use crate::{bounded, expect_err};

/// A daemon whose system-wide ssh_config is `system.conf` in a fresh directory, returned too.
async fn daemon() -> (Daemon, tempfile::TempDir) {
    let etc = tempfile::tempdir().unwrap();
    let system = etc.path().join("system.conf");
    std::fs::write(&system, "# the test's system-wide file\n").unwrap();
    let env = vec![(
        "X2GOD_SSH_SYSTEM_CONFIG".to_owned(),
        system.display().to_string(),
    )];
    (Daemon::start_with_env(env).await, etc)
}

/// Writes `text` to `rel` under the daemon's `~/.ssh`, and returns the path.
fn write_ssh(d: &Daemon, rel: &str, text: &str) -> PathBuf {
    let p = d.home.path().join(".ssh").join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

/// A profile that names only `hostname`, plus `extra`.
async fn alias_profile(d: &Daemon, name: &str, hostname: &str, extra: Options) -> Profile {
    let settings = Options::new().set("hostname", hostname.to_owned());
    d.create_profile(name, settings.merge(extra)).await
}

/// The lab server as a `Host` block for `alias` with `user`.
fn lab_block(lab: &Lab, alias: &str, user: &str) -> String {
    format!(
        "Host {alias}\n    HostName 127.0.0.1\n    User {user}\n    Port {port}\n    \
         IdentityFile {key}\n",
        port = lab.port(),
        key = lab.var("SSH_KEY"),
    )
}

/// The known_hosts line of the public key in `pub_file` under `name`.
fn known_line(name: &str, pub_file: &str) -> String {
    let key = std::fs::read_to_string(pub_file).unwrap();
    let mut f = key.split_whitespace();
    format!("{name} {} {}\n", f.next().unwrap(), f.next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_alias_connects_and_the_profile_wins_over_the_file() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let (d, _etc) = daemon().await;
        lab.trust_in_home(d.home.path());
        let user = lab.var("SSH_USER");
        // Indented, with an `=` form and a block for another host before it.
        let config = format!(
            "Host elsewhere\n    Port 1\n\n{}\nHost wronguser\n    HostName=127.0.0.1\n    \
             User nosuchuser\n    Port {}\n    IdentityFile {}\n",
            lab_block(&lab, "lab-alias", &user),
            lab.port(),
            lab.var("SSH_KEY"),
        );
        write_ssh(&d, "config", &config);

        let p = alias_profile(&d, "alias", "lab-alias", Options::new()).await;
        p.connect(Options::new()).await.unwrap();
        assert_eq!(p.state().await.unwrap(), ConnectionState::Connected);
        p.list_sessions().await.unwrap();
        p.disconnect().await.unwrap();

        // The file's user does not exist; the profile's own username wins over it.
        let p = alias_profile(&d, "wrong", "wronguser", Options::new()).await;
        let e = p.connect(Options::new()).await.unwrap_err();
        assert!(e.to_string().contains("nosuchuser"), "{e}");
        p.update(Options::new().set("username", user.clone()))
            .await
            .unwrap();
        p.connect(Options::new()).await.unwrap();
        p.disconnect().await.unwrap();

        // The file changes between connects and is read again.
        write_ssh(
            &d,
            "config",
            "Host lab-alias\n    HostName 127.0.0.1\n    Port 1\n",
        );
        let p = alias_profile(&d, "alias2", "lab-alias", Options::new()).await;
        let e = p.connect(Options::new()).await.unwrap_err();
        assert!(
            e.to_string().contains("port 1"),
            "the file's port 1 is used: {e:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_ssh_config_false_ignores_the_files() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let (d, _etc) = daemon().await;
        lab.trust_in_home(d.home.path());
        write_ssh(
            &d,
            "config",
            &lab_block(&lab, "lab-alias", &lab.var("SSH_USER")),
        );
        let off = Options::new()
            .set("use_ssh_config", false)
            .set("timeout", 5u32);
        let p = alias_profile(&d, "off", "lab-alias", off).await;
        let e = p.connect(Options::new()).await.unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("lab-alias"), "{e:?}");
        assert!(
            msg.contains("resolve"),
            "the alias is looked up as a name: {e:?}"
        );
        // Stored and shown as set.
        let settings = p.proxy().get_settings().await.unwrap();
        let shown = settings
            .get("use_ssh_config")
            .map(|v| format!("{:?}", &**v));
        assert!(shown.is_some_and(|v| v.contains("false")), "{settings:?}");
        // Turned on again, the same profile connects.
        p.update(Options::new().set("use_ssh_config", true))
            .await
            .unwrap();
        p.connect(Options::new()).await.unwrap();
        p.disconnect().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_in_the_user_and_the_system_file() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let (d, etc) = daemon().await;
        lab.trust_in_home(d.home.path());
        // The user's file includes the alias's name and user; the system file (read after it)
        // includes its port and key, relative to its own directory.
        write_ssh(&d, "config", "Include conf.d/*.conf\n");
        write_ssh(
            &d,
            "conf.d/10-lab.conf",
            &format!(
                "Host inc-alias\n    HostName 127.0.0.1\n    User {}\n",
                lab.var("SSH_USER")
            ),
        );
        write_ssh(
            &d,
            "conf.d/20-other.conf",
            "Host inc-alias\n    User notme\n",
        );
        std::fs::write(etc.path().join("system.conf"), "Include sys.d/*\n").unwrap();
        std::fs::create_dir_all(etc.path().join("sys.d")).unwrap();
        std::fs::write(
            etc.path().join("sys.d/lab"),
            format!(
                "Match originalhost inc-*\n    Port {}\n    IdentityFile {}\n",
                lab.port(),
                lab.var("SSH_KEY")
            ),
        )
        .unwrap();
        let p = alias_profile(&d, "inc", "inc-alias", Options::new()).await;
        p.connect(Options::new()).await.unwrap();
        p.list_sessions().await.unwrap();
        p.disconnect().await.unwrap();
        // Without the system file's include there is no port, key or reachable server.
        std::fs::write(etc.path().join("system.conf"), "\n").unwrap();
        p.update(Options::new().set("timeout", 5u32)).await.unwrap();
        assert!(p.connect(Options::new()).await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_is_refused_naming_file_and_line() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let (d, etc) = daemon().await;
        lab.trust_in_home(d.home.path());
        let user = lab.var("SSH_USER");
        let config = write_ssh(
            &d,
            "config",
            &format!(
                "{}\nHost other\n    Port notaport\n",
                lab_block(&lab, "lab-alias", &user)
            ),
        );
        let p = alias_profile(&d, "bad", "lab-alias", Options::new()).await;
        let log_before = d.log_text().len();
        let msg = expect_err(p.connect(Options::new()).await, "InvalidArgument");
        let where_ = format!("{} line 8", config.display());
        assert!(msg.contains(&where_), "{msg}");
        assert!(msg.contains("notaport"), "{msg}");
        // Refused before anything reached the network.
        assert!(
            !d.log_text()[log_before..].contains("connecting"),
            "{}",
            d.log_text()
        );

        // `Match exec` would run a program: refused, in the system file, naming it.
        write_ssh(&d, "config", &lab_block(&lab, "lab-alias", &user));
        let system = etc.path().join("system.conf");
        std::fs::write(
            &system,
            "# site\nMatch exec \"touch /tmp/pwned\"\n    User x\n",
        )
        .unwrap();
        let msg = expect_err(p.connect(Options::new()).await, "InvalidArgument");
        assert!(
            msg.contains(&format!("{} line 2", system.display())),
            "{msg}"
        );
        assert!(msg.contains("Match exec"), "{msg}");
        // Fixed, the profile connects.
        std::fs::write(&system, "Match host 127.0.0.1\n    ForwardX11 no\n").unwrap();
        p.connect(Options::new()).await.unwrap();
        p.disconnect().await.unwrap();
    })
    .await;
}

/// A config reaching the lab target (`target-alias`) through `ProxyJump {jumps}`, with every
/// key in `known_hosts_file` (named by `UserKnownHostsFile`).
fn jump_config(lab: &Lab, jumps: &str, known_hosts_file: &Path) -> String {
    let user = lab.var("SSH_USER");
    let key = lab.var("SSH_KEY");
    format!(
        "Host target-alias\n    HostName {target}\n    ProxyJump {jumps}\n    HostKeyAlias lab-target\n\
         Host jump-outer\n    HostName {jump}\n\
         Host jump-inner\n    HostName {jump}\n    HostKeyAlias lab-jump-inner\n\
         Host *\n    User {user}\n    IdentityFile {key}\n    UserKnownHostsFile {kh}\n",
        target = lab.var("TARGET_HOST"),
        jump = lab.var("JUMP_HOST"),
        kh = known_hosts_file.display(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_jump_through_one_and_two_hops() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        let (d, _etc) = daemon().await;
        let kh = d.home.path().join(".ssh/lab_known_hosts");
        // The target only under its HostKeyAlias, the outer jump under its address.
        let target_line = known_line("lab-target", &lab.var("TARGET_HOSTKEY_PUB"));
        let jump_line = known_line(&lab.var("JUMP_HOST"), &lab.var("JUMP_HOSTKEY_PUB"));
        std::fs::create_dir_all(kh.parent().unwrap()).unwrap();
        std::fs::write(&kh, format!("{target_line}{jump_line}")).unwrap();

        write_ssh(&d, "config", &jump_config(&lab, "jump-outer", &kh));
        let p = alias_profile(&d, "one-hop", "target-alias", Options::new()).await;
        p.connect(Options::new()).await.unwrap();
        p.list_sessions().await.unwrap();
        let log = std::fs::read_to_string(lab.var("TARGET_SSHD_LOG")).unwrap();
        assert!(log.contains("from 10.231.3.1"), "target log:\n{log}");
        p.disconnect().await.unwrap();

        // Two hops: the jump host reached again through itself, under another key name. Its
        // key is unknown under that name: the error names the hop's key name.
        write_ssh(
            &d,
            "config",
            &jump_config(&lab, "jump-outer,jump-inner", &kh),
        );
        let p = alias_profile(&d, "two-hops", "target-alias", Options::new()).await;
        let msg = expect_err(p.connect(Options::new()).await, "HostKeyUnknown");
        assert!(msg.contains("jump host"), "{msg}");
        assert!(msg.contains("lab-jump-inner"), "{msg}");
        let inner_line = known_line("lab-jump-inner", &lab.var("JUMP_HOSTKEY_PUB"));
        std::fs::write(&kh, format!("{target_line}{jump_line}{inner_line}")).unwrap();
        let jump_log_before = std::fs::read_to_string(lab.var("JUMP_SSHD_LOG"))
            .unwrap()
            .len();
        p.connect(Options::new()).await.unwrap();
        p.list_sessions().await.unwrap();
        // The second hop logged in to the jump host from the jump host itself.
        let jump_log = std::fs::read_to_string(lab.var("JUMP_SSHD_LOG")).unwrap();
        let new = &jump_log[jump_log_before.min(jump_log.len())..];
        let from_itself = format!(
            "Accepted publickey for {} from {}",
            lab.var("SSH_USER"),
            lab.var("JUMP_HOST")
        );
        assert!(new.contains(&from_itself), "jump log:\n{new}");
        p.disconnect().await.unwrap();

        // `ProxyJump none` in the profile's own block: no jump host, so the target cannot be
        // reached (and the first ProxyJump wins over the `Host *` one after it).
        let direct = format!(
            "Host target-alias\n    ProxyJump none\n    ConnectTimeout 3\n{}",
            jump_config(&lab, "jump-outer", &kh)
        );
        write_ssh(&d, "config", &direct);
        let e = p.connect(Options::new()).await.unwrap_err();
        assert!(["Failed", "Timeout"].contains(&e.kind()), "{e:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_only_keeps_other_agent_keys_back() {
    let Some(lab) = Lab::get() else { return };
    bounded(async {
        // The agent holds the lab's key; the file lists only a key the server does not know.
        let agent = SshAgent::with_key(lab.var("SSH_KEY").as_ref());
        let env = vec![(
            "SSH_AUTH_SOCK".to_owned(),
            agent.socket.display().to_string(),
        )];
        let d = Daemon::start_with_env(env).await;
        lab.trust_in_home(d.home.path());
        let stranger = d.home.path().join("stranger");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&stranger)
            .status()
            .unwrap();
        assert!(st.success());
        let config = |only: &str| {
            format!(
                "Host idonly\n    HostName 127.0.0.1\n    User {}\n    Port {}\n    \
                 IdentityFile {}\n    IdentitiesOnly {only}\n",
                lab.var("SSH_USER"),
                lab.port(),
                stranger.display(),
            )
        };
        write_ssh(&d, "config", &config("yes"));
        let agent_on = Options::new().set("allow_agent", true);
        let p = alias_profile(&d, "idonly", "idonly", agent_on).await;
        let msg = expect_err(p.connect(Options::new()).await, "AuthFailed");
        assert!(msg.contains("IdentitiesOnly"), "{msg}");
        // Without IdentitiesOnly the agent's key is offered after the file's and logs in.
        write_ssh(&d, "config", &config("no"));
        p.connect(Options::new()).await.unwrap();
        p.disconnect().await.unwrap();
        // With it, and the agent's key listed by its public half only (no private file to
        // log in with), the agent's matching key is the one used.
        let public_only = d.home.path().join("agentkey");
        std::fs::copy(
            format!("{}.pub", lab.var("SSH_KEY")),
            d.home.path().join("agentkey.pub"),
        )
        .unwrap();
        let listed = format!(
            "{}    IdentityFile {}\n",
            config("yes"),
            public_only.display()
        );
        write_ssh(&d, "config", &listed);
        p.connect(Options::new()).await.unwrap();
        p.disconnect().await.unwrap();
    })
    .await;
}
