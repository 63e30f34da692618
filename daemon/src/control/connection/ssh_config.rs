//! A profile's settings completed from OpenSSH's client configuration: the profile's
//! `hostname` is looked up as a `Host` alias, and what the profile leaves unset comes from the
//! files (`ssh::config`). A profile value always wins; `use_ssh_config = false` skips the
//! files altogether.
//!
//! Where the profile cannot say "unset", the default counts as unset: port 22, no key files,
//! no timeout or keepalive values, no jump host, `unique_hostkey_aliases` off. Flags that only
//! widen what is accepted (`add_to_known_hosts`, `allow_agent`, `look_for_keys`) are never
//! turned on by a file: `StrictHostKeyChecking no` or `accept-new` learn nothing by themselves.

use std::path::PathBuf;
use std::time::Duration;

use super::super::error::Error;
use crate::config::{Paths, local_username};
use crate::profiles::{MAX_SECONDS, ProfileSettings};
use crate::ssh::config::{ConfigFiles, Given, HostConfig, StrictHostKeyChecking};

/// The configuration files of the user whose `paths` these are.
pub(super) fn config_files(paths: &Paths) -> ConfigFiles {
    let home = paths
        .user_ssh_dir
        .parent()
        .map_or_else(|| PathBuf::from("/"), PathBuf::from);
    ConfigFiles {
        user_ssh_dir: paths.user_ssh_dir.clone(),
        system_file: Some(paths.ssh_system_config.clone()),
        home,
        local_user: local_username().unwrap_or_default(),
    }
}

/// The configuration error as the caller sees it: invalid input, naming file and line.
pub(super) fn config_error(e: crate::ssh::config::ConfigError) -> Error {
    Error::InvalidArgument(format!("OpenSSH client configuration: {e}"))
}

/// What the files say about the profile's host, or nothing when the profile turned them off.
pub(super) fn lookup(paths: &Paths, s: &ProfileSettings) -> Result<Option<HostConfig>, Error> {
    if s.use_ssh_config == Some(false) {
        return Ok(None);
    }
    let given = Given {
        user: s.username.clone(),
        port: (s.port != 22).then_some(s.port),
    };
    config_files(paths)
        .resolve(s.hostname.trim(), &given)
        .map(Some)
        .map_err(config_error)
}

/// The connect timeout a file gives, within the range the profile's own setting has.
pub(super) fn timeout(c: &HostConfig) -> Option<Duration> {
    c.connect_timeout
        .filter(|t| !t.is_zero())
        .map(|t| t.min(Duration::from_secs_f64(MAX_SECONDS)))
}

/// The keepalive interval a file gives: `Some(None)` for `ServerAliveInterval 0` (off).
pub(super) fn keepalive(c: &HostConfig) -> Option<Option<Duration>> {
    c.server_alive_interval
        .map(|t| (!t.is_zero()).then(|| t.min(Duration::from_secs_f64(MAX_SECONDS))))
}

/// The unanswered keepalives a file allows, within the profile setting's range.
pub(super) fn keepalive_max(c: &HostConfig) -> Option<usize> {
    c.server_alive_count_max.map(|n| n.clamp(1, 100) as usize)
}

/// Whether the files forbid asking a person about an unknown key (`StrictHostKeyChecking
/// yes`); the profile's `add_to_known_hosts` still wins, being the profile's word.
pub(super) fn never_ask(c: Option<&HostConfig>) -> bool {
    c.and_then(|c| c.strict_host_key_checking) == Some(StrictHostKeyChecking::Yes)
}

/// The known_hosts files to read for a host: the files' `UserKnownHostsFile` (else
/// `~/.ssh/known_hosts` and `~/.ssh/known_hosts2`), then their `GlobalKnownHostsFile` (else
/// the machine's `/etc/ssh/ssh_known_hosts{,2}`), as OpenSSH reads them.
pub(super) fn known_hosts_files(paths: &Paths, c: Option<&HostConfig>) -> Vec<PathBuf> {
    let user = c
        .and_then(|c| c.user_known_hosts_files.clone())
        .unwrap_or_else(|| {
            ["known_hosts", "known_hosts2"]
                .map(|f| paths.user_ssh_dir.join(f))
                .to_vec()
        });
    let global = c
        .and_then(|c| c.global_known_hosts_files.clone())
        .unwrap_or_else(|| paths.global_known_hosts.clone());
    user.into_iter().chain(global).collect()
}
