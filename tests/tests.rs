//! Integration tests: the real x2god binary on a private bus against the lab's real sshd and
//! x2goserver. One binary, one module per area.

// A failed step must stop the test with its message: panicking is the point in test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// Connecting with key, encrypted key, agent and password; failures and secret hygiene.
mod auth;
// Unknown, trusted and changed host keys.
mod host_keys;
// Host keys like OpenSSH: other key types, the global file, @revoked, host certificates.
mod host_trust;
// ListSessions against x2golistsessions, and many calls over one connection.
mod listing;
// Profile CRUD, persistence across restarts, malformed files.
mod profiles;
// The served API equals the golden introspection XML.
mod introspection;
// Start, suspend, resume, terminate with a window on Xvfb, and the signals.
mod sessions;
// Sessions move between x2god, pyhoca-cli and OpenSSH; others' changes are signalled.
mod interop;
// Server queries: features, versions, home, users, sshfs, mounts.
mod queries;
// Published applications: menu, languages, icons, launching.
mod published;
// Desktop sharing: own desktop, another user's (granted, denied), missing desktops.
mod sharing;
// Lost and hung servers, reconnects, sshd restarts, daemon restarts.
mod reliability;
// Hostile arguments are refused before anything runs remotely.
mod injection;
// Jump hosts, keyboard-interactive logins via an agent, the keyring, x2goclient profiles.
mod paths;
// x2goctl, the command-line client: golden --json output, exit codes, watch.
mod ctl;
// A hundred connected profiles and a thousand concurrent calls on one daemon.
mod load;
// The typed client library: handles, typed errors, the event stream, the agent.
mod client;
// install.sh's layout, the user unit under systemd-analyze, D-Bus activation, journald fields.
mod install;
// The installed unit under a real systemd user manager: activation, sandbox, restarts, journal.
mod user_unit;
// Client folders shared into sessions: mounts, data both ways, the jail, keys, suspend/resume.
mod shares;
// Printing (CUPS + cups-x2go) and the MIME box through the session's reverse sshfs.
mod printing;
// Sound through the local PulseAudio: the tone arrives, the cookie keeps others out.
mod sound;
// Every python-x2go session parameter: its effect in the session, or NotSupported.
mod options;
// ~/.ssh/config and the system ssh_config: Host aliases, ProxyJump chains, Include, bad lines.
mod ssh_config;
// What a local attacker could see or reach of a session: nothing.
mod hardening;
// The example tray applet, driven through its menu as a panel would.
mod applet;
// sshproxy_type=http: through tinyproxy open, with basic authentication, refusing CONNECT.
mod http_proxy;
// Only the daemon's own uid may call it, on a bus others can reach.
mod access;
// A hostile server's huge listings fail clearly, with bounded memory.
mod hostile;

use x2god_client::{Error, Options, Profile};
use x2god_tests::{Daemon, Lab};
pub use x2god_tests::{bounded, lab_profile};

/// Graphical tests share the lab's Xvfb and count its windows: one at a time.
pub static GRAPHICAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A profile for the lab's first user with the key file named by `lab.env` key `key_var`.
pub async fn key_profile(d: &Daemon, lab: &Lab, name: &str, key_var: &str) -> Profile {
    let key = Options::new().set("key_filename", lab.var(key_var));
    lab_profile(d, lab, name, &lab.var("SSH_USER"), key).await
}

/// Creates and connects a key-authenticated profile for the lab's first user.
pub async fn connected(d: &Daemon, lab: &Lab, name: &str) -> Profile {
    connected_as(d, lab, name, &lab.var("SSH_USER")).await
}

/// Creates and connects a key-authenticated profile for `user`.
pub async fn connected_as(d: &Daemon, lab: &Lab, name: &str, user: &str) -> Profile {
    let key = Options::new().set("key_filename", lab.var("SSH_KEY"));
    let p = lab_profile(d, lab, name, user, key).await;
    p.connect(Options::new()).await.unwrap();
    p
}

/// Asserts that since `log_before` (the length of `d`'s log then) the daemon sent the server no
/// command but listings and `check`, which the caller ran last to show that commands are
/// logged at all (else a test of "nothing ran" could not fail); `what` names what was refused.
pub fn assert_only_check_ran(d: &Daemon, log_before: usize, check: &str, what: &str) {
    let log = d.log_text();
    let sent: Vec<&str> = log[log_before..]
        .lines()
        .filter(|l| l.contains("running server command"))
        .filter(|l| !l.contains("x2golistsessions"))
        .collect();
    assert!(
        sent.last().is_some_and(|l| l.contains(check)),
        "the check command is not in the log: {sent:?}"
    );
    assert_eq!(sent.len(), 1, "commands ran for {what}: {sent:?}");
}

/// Asserts that `r` is the error kind `kind`, and returns its message.
pub fn expect_err<T: std::fmt::Debug>(r: Result<T, Error>, kind: &str) -> String {
    match r {
        Err(e) if e.kind() == kind => e.to_string(),
        other => panic!("expected {kind}, got {other:?}"),
    }
}
