//! Resolution against files in a temporary home: precedence, every keyword, the refusals.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(user_config: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home/.ssh")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("home/.ssh/config"), user_config).unwrap();
        Home { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn files(&self) -> ConfigFiles {
        ConfigFiles {
            user_ssh_dir: self.home().join(".ssh"),
            system_file: Some(self.dir.path().join("etc/ssh_config")),
            home: self.home(),
            local_user: "me".into(),
        }
    }

    fn resolve(&self, host: &str) -> Result<HostConfig, ConfigError> {
        self.files().resolve(host, &Given::default())
    }

    fn get(&self, host: &str) -> HostConfig {
        self.resolve(host).unwrap()
    }

    fn err(&self, host: &str) -> ConfigError {
        self.resolve(host).unwrap_err()
    }
}

fn user_file(h: &Home) -> PathBuf {
    h.home().join(".ssh/config")
}

#[test]
fn an_alias_resolves_with_tokens() {
    let h = Home::new(
        "Host work\n  HostName %h.example.org\n  User alice\n  Port 2222\n  \
         IdentityFile ~/.ssh/id_%r_%h_%p\n  IdentityFile %d/keys/%u-%n\n",
    );
    let c = h.get("work");
    assert_eq!(c.hostname, "work.example.org");
    assert_eq!(c.user.as_deref(), Some("alice"));
    assert_eq!(c.port, Some(2222));
    assert_eq!(
        c.identity_files,
        vec![
            h.home().join(".ssh/id_alice_work.example.org_2222"),
            h.home().join("keys/me-work"),
        ]
    );
    // Another name gets none of it.
    let other = h.get("elsewhere");
    assert_eq!(
        other,
        HostConfig {
            hostname: "elsewhere".into(),
            ..Default::default()
        }
    );
}

#[test]
fn first_value_wins_user_file_first_and_the_caller_first_of_all() {
    let h = Home::new("Host srv\n  User one\nHost *\n  User two\n  Port 2200\n");
    h.write(
        "etc/ssh_config",
        "Host *\n  User three\n  Port 2300\n  ConnectTimeout 7\n",
    );
    let c = h.get("srv");
    assert_eq!(c.user.as_deref(), Some("one"));
    assert_eq!(c.port, Some(2200));
    assert_eq!(c.connect_timeout, Some(Duration::from_secs(7)));
    let given = Given {
        user: Some("cli".into()),
        port: Some(22),
    };
    let c = h.files().resolve("srv", &given).unwrap();
    assert_eq!(c.user.as_deref(), Some("cli"));
    assert_eq!(c.port, Some(22));
    // A missing system file is empty, and no system file at all too.
    let mut files = h.files();
    files.system_file = Some(PathBuf::from("/nonexistent/ssh_config"));
    assert_eq!(
        files.resolve("x", &Given::default()).unwrap().port,
        Some(2200)
    );
    files.system_file = None;
    assert_eq!(
        files
            .resolve("x", &Given::default())
            .unwrap()
            .connect_timeout,
        None
    );
}

#[test]
fn the_remote_user_token_follows_the_caller() {
    let h = Home::new("Host srv\n  User cfg\n  IdentityFile ~/k_%r\n");
    let given = Given {
        user: Some("cli".into()),
        port: None,
    };
    let c = h.files().resolve("srv", &given).unwrap();
    assert_eq!(c.identity_files, vec![h.home().join("k_cli")]);
    // Unset everywhere: the local user.
    let h = Home::new("Host srv\n  IdentityFile ~/k_%r\n");
    assert_eq!(h.get("srv").identity_files, vec![h.home().join("k_me")]);
}

#[test]
fn host_patterns_wildcards_and_negation() {
    let h = Home::new(
        "Host *.lan !bad.lan\n  User lanuser\nHost ?.short\n  User short\nHost *\n  User any\n",
    );
    assert_eq!(h.get("pc.lan").user.as_deref(), Some("lanuser"));
    assert_eq!(h.get("PC.LAN").user.as_deref(), Some("lanuser"));
    assert_eq!(h.get("bad.lan").user.as_deref(), Some("any"));
    assert_eq!(h.get("a.short").user.as_deref(), Some("short"));
    assert_eq!(h.get("ab.short").user.as_deref(), Some("any"));
}

#[test]
fn match_host_sees_the_hostname_originalhost_the_alias() {
    let h = Home::new(
        "Host alias\n  HostName real.example.org\n\
         Match host real.example.org\n  User byhost\n\
         Match originalhost alias\n  Port 2022\n\
         Match !host *.example.org\n  IdentityFile ~/not-example\n\
         Match all\n  ServerAliveInterval 1m30s\n",
    );
    let c = h.get("alias");
    assert_eq!(c.hostname, "real.example.org");
    assert_eq!(c.user.as_deref(), Some("byhost"));
    assert_eq!(c.port, Some(2022));
    assert!(c.identity_files.is_empty());
    assert_eq!(c.server_alive_interval, Some(Duration::from_secs(90)));
    let other = h.get("other.org");
    assert_eq!(other.user, None);
    assert_eq!(other.identity_files, vec![h.home().join("not-example")]);
}

#[test]
fn other_match_forms_are_refused_naming_file_and_line() {
    for (line, what) in [
        ("Match exec \"true\"", "never runs programs"),
        ("Match user root", "Match user is not supported"),
        ("Match localuser me", "Match localuser"),
        ("Match canonical all", "Match canonical"),
        ("Match", "needs a criterion"),
        ("Match host", "needs a pattern list"),
        ("Match all host x", "no other criteria"),
    ] {
        let h = Home::new(&format!("# comment\nHost x\n  User u\n{line}\n  User v\n"));
        let e = h.err("anything");
        assert_eq!(e.file, user_file(&h), "{line}");
        assert_eq!(e.line, Some(4), "{line}");
        assert!(e.message.contains(what), "{line}: {e}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("{} line 4", user_file(&h).display())),
            "{text}"
        );
    }
}

#[test]
fn bad_lines_name_file_and_line_even_in_blocks_that_do_not_apply() {
    for (line, what) in [
        ("Port abc", "not a port"),
        ("Port 0", "not a port"),
        ("HostName", "needs a value"),
        ("User a b", "one value"),
        ("IdentityFile \"~/unclosed", "quote"),
        ("IdentitiesOnly maybe", "neither yes nor no"),
        ("ConnectTimeout soon", "not a time"),
        ("ServerAliveCountMax -1", "not a count"),
        ("StrictHostKeyChecking sometimes", "accept-new"),
        ("ProxyJump user@", "no host"),
        ("ProxyJump a:99999", "not a port"),
        ("Host", "at least one pattern"),
        ("Include", "file name"),
    ] {
        let h = Home::new(&format!("Host other\n  {line}\n"));
        let e = h.err("srv");
        assert_eq!(
            (e.file.as_path(), e.line),
            (user_file(&h).as_path(), Some(2)),
            "{line}: {e}"
        );
        assert!(e.message.contains(what), "{line}: {e}");
    }
    // In the system file, the system file is named.
    let h = Home::new("");
    let sys = h.write("etc/ssh_config", "\n\nPort x\n");
    let e = h.err("srv");
    assert_eq!((e.file, e.line), (sys, Some(3)));
}

#[test]
fn unknown_keywords_are_ignored() {
    let h = Home::new(
        "Host srv\n  ForwardX11 yes\n  ControlMaster auto\n  SomethingNew = 1 2 3\n  User u\n",
    );
    assert_eq!(h.get("srv").user.as_deref(), Some("u"));
}

#[test]
fn include_relative_to_ssh_dir_with_globs_and_in_blocks() {
    let h = Home::new(
        "Include conf.d/*.conf\nHost gated\n  Include ~/.ssh/gated.conf\nHost *\n  User fallback\n",
    );
    h.write("home/.ssh/conf.d/10-a.conf", "Host a\n  User from-a\n");
    h.write(
        "home/.ssh/conf.d/20-b.conf",
        "Host a b\n  User from-b\n  Port 2001\n",
    );
    h.write("home/.ssh/conf.d/ignored.txt", "Host *\n  User wrong\n");
    h.write("home/.ssh/gated.conf", "Port 2002\n");
    let a = h.get("a");
    assert_eq!((a.user.as_deref(), a.port), (Some("from-a"), Some(2001)));
    assert_eq!(h.get("b").user.as_deref(), Some("from-b"));
    // The include inside `Host gated` applies to that host only, and the block after the
    // include is still read.
    assert_eq!(h.get("gated").port, Some(2002));
    assert_eq!(h.get("gated").user.as_deref(), Some("fallback"));
    assert_eq!(h.get("c").port, None);
    // Errors in an included file name that file.
    let bad = h.write("home/.ssh/conf.d/30-bad.conf", "\nPort nope\n");
    let e = h.err("a");
    assert_eq!((e.file, e.line), (bad, Some(2)));
}

#[test]
fn system_includes_are_relative_to_its_directory_and_loops_end() {
    let h = Home::new("");
    h.write("etc/ssh_config", "Include ssh_config.d/*\n");
    h.write("etc/ssh_config.d/x.conf", "Host *\n  Port 2500\n");
    assert_eq!(h.get("srv").port, Some(2500));
    let h = Home::new("Include config\n");
    assert!(h.err("srv").message.contains("deep"));
}

#[test]
fn proxy_jump_hops() {
    let h = Home::new(
        "Host one\n  ProxyJump bastion\nHost chain\n  ProxyJump alice@j1:2201,ssh://bob@[fd00::1]:2202,j3\n\
         Host off\n  ProxyJump none\nHost *\n  ProxyJump never-reached\n",
    );
    let hop = |user: Option<&str>, host: &str, port| JumpHop {
        user: user.map(str::to_owned),
        host: host.into(),
        port,
    };
    assert_eq!(
        h.get("one").proxy_jump,
        Some(vec![hop(None, "bastion", None)])
    );
    assert_eq!(
        h.get("chain").proxy_jump,
        Some(vec![
            hop(Some("alice"), "j1", Some(2201)),
            hop(Some("bob"), "fd00::1", Some(2202)),
            hop(None, "j3", None),
        ])
    );
    assert_eq!(h.get("off").proxy_jump, Some(vec![]));
}

#[test]
fn proxy_command_is_refused_where_it_applies() {
    let h = Home::new(
        "Host viajump\n  ProxyJump j\nHost plain\n  ProxyCommand none\n\
         Host *\n  ProxyCommand nc %h %p\n",
    );
    assert_eq!(h.get("viajump").proxy_jump.unwrap().len(), 1);
    assert_eq!(h.get("plain").proxy_jump, Some(vec![]));
    let e = h.err("other");
    assert_eq!(e.line, Some(6));
    assert!(e.message.contains("ProxyJump"), "{e}");
}

#[test]
fn known_hosts_keywords_alias_timeouts_and_strictness() {
    let h = Home::new(
        "Host srv\n  HostName 10.0.0.1\n  UserKnownHostsFile ~/.ssh/kh_%h /abs/kh2 rel_kh\n\
         GlobalKnownHostsFile /etc/site_known_hosts\n  HostKeyAlias srv-key\n\
         ConnectTimeout 12\n  ServerAliveInterval 0\n  ServerAliveCountMax 5\n\
         StrictHostKeyChecking accept-new\n  IdentitiesOnly yes\n\
         Host none\n  UserKnownHostsFile none\n  GlobalKnownHostsFile none\n  StrictHostKeyChecking yes\n",
    );
    let c = h.get("srv");
    assert_eq!(
        c.user_known_hosts_files,
        Some(vec![
            h.home().join(".ssh/kh_10.0.0.1"),
            PathBuf::from("/abs/kh2"),
            h.home().join("rel_kh"),
        ])
    );
    assert_eq!(
        c.global_known_hosts_files,
        Some(vec![PathBuf::from("/etc/site_known_hosts")])
    );
    assert_eq!(c.host_key_alias.as_deref(), Some("srv-key"));
    assert_eq!(c.connect_timeout, Some(Duration::from_secs(12)));
    assert_eq!(c.server_alive_interval, Some(Duration::ZERO));
    assert_eq!(c.server_alive_count_max, Some(5));
    assert_eq!(
        c.strict_host_key_checking,
        Some(StrictHostKeyChecking::AcceptNew)
    );
    assert_eq!(c.identities_only, Some(true));
    let n = h.get("none");
    assert_eq!(n.user_known_hosts_files, Some(vec![]));
    assert_eq!(n.global_known_hosts_files, Some(vec![]));
    assert_eq!(n.strict_host_key_checking, Some(StrictHostKeyChecking::Yes));
    for (v, want) in [
        ("ask", StrictHostKeyChecking::Ask),
        ("no", StrictHostKeyChecking::No),
        ("off", StrictHostKeyChecking::No),
    ] {
        let h = Home::new(&format!("StrictHostKeyChecking {v}\n"));
        assert_eq!(h.get("x").strict_host_key_checking, Some(want));
    }
}

#[test]
fn tokens_that_are_not_supported_name_the_line() {
    let h = Home::new("Host srv\n  IdentityFile ~/id_%C\n");
    let e = h.err("srv");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("%C"), "{e}");
    let h = Home::new("Host srv\n  HostName %r.example\n");
    assert_eq!(h.err("srv").line, Some(2));
    let h = Home::new("Host srv\n  IdentityFile ~other/id\n");
    assert!(h.err("srv").message.contains("another user"));
}

#[test]
fn files_that_are_not_regular_or_too_large_are_refused_without_blocking() {
    let h = Home::new("");
    let fifo = h.dir.path().join("etc/fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let mut files = h.files();
    files.system_file = Some(fifo.clone());
    let e = files.resolve("x", &Given::default()).unwrap_err();
    assert_eq!((e.file.as_path(), e.line), (fifo.as_path(), None));
    assert!(e.message.contains("regular"), "{e}");
    // /dev/null is the one device read: as empty, as OpenSSH does with `-F /dev/null`.
    files.system_file = Some(PathBuf::from("/dev/null"));
    assert!(files.resolve("x", &Given::default()).is_ok());
    let big = h.write("etc/big", &"#".repeat(MAX_FILE_BYTES as usize + 1));
    files.system_file = Some(big);
    assert!(
        files
            .resolve("x", &Given::default())
            .unwrap_err()
            .message
            .contains("larger")
    );
}

#[test]
fn time_values() {
    use super::expand::seconds;
    assert_eq!(seconds("10"), Ok(10));
    assert_eq!(seconds("1m30s"), Ok(90));
    assert_eq!(seconds("1h"), Ok(3600));
    assert!(seconds("2d").is_err());
    assert!(seconds("").is_err());
    assert!(seconds("5x").is_err());
    let _ = Path::new("");
}
