//! A profile's settings against OpenSSH configuration files: the profile wins, the files fill
//! the rest, `use_ssh_config = false` reads nothing, `ProxyJump` becomes a chain.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::params::{ConnectRequest, ParamsSource, account_of};
use crate::config::Paths;
use crate::control::sync::SharedName;
use crate::profiles::{ProfileSettings, ProxySettings};
use crate::ssh::{ConnectParams, PromptError};

struct Fixture {
    dir: tempfile::TempDir,
    source: ParamsSource,
}

impl Fixture {
    fn new(user_config: &str, system_config: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let ssh = dir.path().join("home/.ssh");
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(ssh.join("config"), user_config).unwrap();
        let mut paths = Paths::under(dir.path().join("cfg/x2god"), ssh);
        paths.ssh_system_config = dir.path().join("ssh_config");
        std::fs::write(&paths.ssh_system_config, system_config).unwrap();
        let source = ParamsSource {
            name: SharedName::new("p".into()),
            paths: Arc::new(paths),
            read_only: false,
        };
        Fixture { dir, source }
    }

    fn home(&self) -> &Path {
        self.source.paths.user_ssh_dir.parent().unwrap()
    }

    fn params(&self, s: ProfileSettings) -> ConnectParams {
        self.source.connect_params(ConnectRequest::new(s)).unwrap()
    }
}

fn settings(host: &str) -> ProfileSettings {
    let mut s = ProfileSettings::new(host);
    s.username = Some("puser".into());
    s
}

const CONFIG: &str = "Host srv\n  HostName 10.1.2.3\n  User fileuser\n  Port 2222\n  \
    IdentityFile ~/.ssh/id_srv\n  ConnectTimeout 7\n  ServerAliveInterval 4\n  \
    ServerAliveCountMax 6\n  HostKeyAlias srv-key\n  UserKnownHostsFile ~/.ssh/kh_srv\n  \
    GlobalKnownHostsFile /site/known_hosts\n";

#[test]
fn the_files_fill_what_the_profile_leaves_unset() {
    let f = Fixture::new(CONFIG, "");
    let mut s = settings("srv");
    s.username = None;
    let p = f.params(s);
    assert_eq!((p.host.as_str(), p.port), ("10.1.2.3", 2222));
    assert_eq!(p.auth.username, "fileuser");
    assert_eq!(p.auth.key_files, vec![f.home().join(".ssh/id_srv")]);
    assert_eq!(p.timeout, Duration::from_secs(7));
    assert_eq!(p.keepalive_interval, Some(Duration::from_secs(4)));
    assert_eq!(p.keepalive_max, 6);
    assert_eq!(p.host_key_name.as_deref(), Some("srv-key"));
    let read = &p.host_keys.read_files;
    assert_eq!(read[0], f.home().join(".ssh/kh_srv"));
    assert_eq!(read[1], Path::new("/site/known_hosts"));
    assert_eq!(read[2], f.source.paths.known_hosts);
    assert_eq!(p.host_keys.own_file, f.source.paths.known_hosts);
}

#[test]
fn profile_values_win_over_the_files() {
    let f = Fixture::new(CONFIG, "");
    let mut s = settings("srv");
    s.port = 2200;
    s.key_filename = vec!["/k/own".into()];
    s.timeout = Some(3.0);
    s.keepalive_interval = Some(9.0);
    s.keepalive_count = Some(2);
    s.unique_hostkey_aliases = true;
    let p = f.params(s);
    assert_eq!(p.auth.username, "puser");
    assert_eq!(p.port, 2200);
    assert_eq!(p.auth.key_files, vec![Path::new("/k/own").to_owned()]);
    assert_eq!(p.timeout, Duration::from_secs(3));
    assert_eq!(p.keepalive_interval, Some(Duration::from_secs(9)));
    assert_eq!(p.keepalive_max, 2);
    assert_eq!(p.host_key_name.as_deref(), Some("x2god-profile-p"));
}

#[test]
fn use_ssh_config_false_reads_nothing_not_even_bad_lines() {
    let f = Fixture::new(&format!("{CONFIG}Port bad\n"), "");
    let mut s = settings("srv");
    assert!(
        f.source
            .connect_params(ConnectRequest::new(s.clone()))
            .is_err()
    );
    s.use_ssh_config = Some(false);
    let p = f.params(s);
    assert_eq!((p.host.as_str(), p.port), ("srv", 22));
    assert!(p.auth.key_files.is_empty());
    assert_eq!(p.host_key_name, None);
    assert_eq!(
        p.host_keys.read_files[0],
        f.source.paths.user_ssh_dir.join("known_hosts")
    );
}

#[test]
fn strict_host_key_checking_never_weakens_ours() {
    let prompter = crate::ssh::PromptHandle::new(Arc::new(Nobody));
    for (mode, asks) in [
        ("yes", false),
        ("ask", true),
        ("no", true),
        ("accept-new", true),
    ] {
        let f = Fixture::new(&format!("StrictHostKeyChecking {mode}\n"), "");
        let mut req = ConnectRequest::new(settings("srv"));
        req.prompter = Some(prompter.clone());
        let p = f.source.connect_params(req).unwrap();
        assert!(!p.host_keys.add_unknown, "{mode} learns nothing");
        assert_eq!(p.host_keys.prompter.is_some(), asks, "{mode}");
    }
    // The profile's own add_to_known_hosts still counts.
    let f = Fixture::new("StrictHostKeyChecking yes\n", "");
    let mut s = settings("srv");
    s.add_to_known_hosts = true;
    assert!(f.params(s).host_keys.add_unknown);
}

#[test]
fn proxy_jump_becomes_a_chain_of_hops_each_looked_up() {
    let f = Fixture::new(
        "Host target\n  HostName 10.9.9.9\n  ProxyJump alice@j1:2201,j2\n\
         Host j1\n  HostName 10.0.0.1\n  User ignored\n  Port 1\n\
         Host j2\n  HostName 10.0.0.2\n  User bob\n  IdentityFile /k/j2\n  HostKeyAlias j2-key\n\
         UserKnownHostsFile /kh/j2\n  ProxyJump not-followed\n",
        "",
    );
    let mut s = settings("target");
    s.key_filename = vec!["/k/target".into()];
    let mut req = ConnectRequest::new(s);
    req.proxy_password = Some(crate::ssh::Secret::new("jump-pw".into()));
    let p = f.source.connect_params(req).unwrap();
    assert_eq!(p.host, "10.9.9.9");
    let hops: Vec<_> = p.jump_hops().collect();
    assert_eq!(hops.len(), 2);
    // Next to the server: j2, with its own user, key, alias and known_hosts file.
    assert_eq!((hops[0].host.as_str(), hops[0].port), ("10.0.0.2", 22));
    assert_eq!(hops[0].auth.username, "bob");
    assert_eq!(hops[0].auth.key_files, vec![Path::new("/k/j2").to_owned()]);
    assert_eq!(hops[0].host_key_name.as_deref(), Some("j2-key"));
    assert_eq!(hops[0].host_keys.read_files[0], Path::new("/kh/j2"));
    assert!(
        hops[0].auth.password.is_none(),
        "the jump password goes to the first hop only"
    );
    // First connected: j1, the ProxyJump's user and port winning over its block.
    assert_eq!((hops[1].host.as_str(), hops[1].port), ("10.0.0.1", 2201));
    assert_eq!(hops[1].auth.username, "alice");
    assert_eq!(
        hops[1].auth.key_files,
        vec![Path::new("/k/target").to_owned()]
    );
    assert!(hops[1].auth.password.is_some());
    assert!(hops[1].via.is_none());
    assert_eq!(
        account_of(&p),
        "puser@[10.9.9.9]:22 via bob@[10.0.0.2]:22 via alice@[10.0.0.1]:2201"
    );
    // A profile's own jump host wins over the file's ProxyJump.
    let mut s = settings("target");
    s.sshproxy = Some(ProxySettings::new("own-jump"));
    let p = f.params(s);
    let hops: Vec<_> = p.jump_hops().collect();
    assert_eq!(hops.len(), 1);
    assert_eq!(hops[0].host, "own-jump");
    let _ = &f.dir;
}

#[test]
fn config_errors_name_file_and_line() {
    let f = Fixture::new("", "Host *\n  Match exec true\n");
    let e = f
        .source
        .connect_params(ConnectRequest::new(settings("srv")))
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, super::super::error::Error::InvalidArgument(_)));
    assert!(msg.contains("ssh_config line 2"), "{msg}");
    assert!(msg.contains("Match exec"), "{msg}");
}

/// A prompter that is never reached: these tests only build parameters.
struct Nobody;

impl crate::ssh::Prompter for Nobody {
    fn secret(
        &self,
        _: crate::ssh::Hop,
        _: crate::ssh::SecretKind,
        _: String,
        _: bool,
    ) -> Pin<Box<dyn Future<Output = Result<crate::ssh::Secret, PromptError>> + Send>> {
        Box::pin(async { Err(PromptError::Unavailable("nobody".into())) })
    }

    fn confirm_host_key(
        &self,
        _: crate::ssh::Hop,
        _: String,
        _: crate::ssh::HostKeyInfo,
    ) -> Pin<Box<dyn Future<Output = Result<bool, PromptError>> + Send>> {
        Box::pin(async { Err(PromptError::Unavailable("nobody".into())) })
    }
}

#[test]
fn an_http_proxy_carries_its_user_and_the_proxy_password_only() {
    use crate::profiles::ProxyKind;
    use crate::ssh::Secret;
    let f = Fixture::new("Host srv\n  ProxyJump filejump\n", "");
    let mut s = settings("srv");
    let mut proxy = ProxySettings::new("proxy.lan");
    proxy.kind = ProxyKind::Http;
    proxy.port = 3128;
    proxy.user = Some("pxuser".into());
    proxy.key_filename = vec!["/jump-key".into()];
    s.sshproxy = Some(proxy);
    let mut req = ConnectRequest::new(s.clone());
    req.password = Some(Secret::new("server-pw".into()));
    req.proxy_password = Some(Secret::new("proxy-pw".into()));
    let p = f.source.connect_params(req).unwrap();
    // No jump host, neither the profile's nor the files' ProxyJump.
    assert!(p.proxy.is_none());
    assert_eq!((p.host.as_str(), p.port), ("srv", 22));
    let http = p.http_proxy.as_ref().unwrap();
    assert_eq!((http.host.as_str(), http.port), ("proxy.lan", 3128));
    assert_eq!(http.user.as_deref(), Some("pxuser"));
    assert_eq!(http.password.as_ref().map(Secret::expose), Some("proxy-pw"));
    assert!(
        account_of(&p).ends_with(" via http [proxy.lan]:3128"),
        "{}",
        account_of(&p)
    );

    // No user: no credentials; the server's password is the proxy's only when reused.
    let proxy = s.sshproxy.as_mut().unwrap();
    proxy.user = None;
    let mut req = ConnectRequest::new(s.clone());
    req.password = Some(Secret::new("server-pw".into()));
    let http = f.source.connect_params(req).unwrap().http_proxy.unwrap();
    assert_eq!((http.user, http.password.is_none()), (None, true));
    s.sshproxy.as_mut().unwrap().reuse_authinfo = true;
    let mut req = ConnectRequest::new(s);
    req.password = Some(Secret::new("server-pw".into()));
    let http = f.source.connect_params(req).unwrap().http_proxy.unwrap();
    assert_eq!(http.user.as_deref(), Some("puser"));
    assert_eq!(
        http.password.as_ref().map(Secret::expose),
        Some("server-pw")
    );
}
