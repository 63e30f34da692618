//! OpenSSH's client configuration (`~/.ssh/config`, then `/etc/ssh/ssh_config`) resolved for
//! one host the way `ssh -G` does, for the keywords x2god honours. Reading files is all it
//! does: it runs nothing (an OpenSSH `Match exec` would; ours is refused) and knows neither
//! X2Go nor D-Bus.
//!
//! Honoured: `HostName` (`%h`), `User`, `Port`, `IdentityFile` (every value, `~` and the tokens
//! `%d %u %h %r %p %n %%`), `IdentitiesOnly`, `ProxyJump` (hops `[user@]host[:port]` or
//! `ssh://…`, comma-separated, or `none`), `UserKnownHostsFile`, `GlobalKnownHostsFile`,
//! `HostKeyAlias`, `ConnectTimeout`, `ServerAliveInterval`, `ServerAliveCountMax`,
//! `StrictHostKeyChecking`; `Include` (globs; relative names under `~/.ssh` for the user's
//! file and under the system file's directory for it), `Host` (patterns with `*`, `?`, `!`),
//! `Match all`, `Match host`, `Match originalhost` (each criterion may be negated). Refused
//! with an error naming file and line: every other `Match` criterion and `ProxyCommand` (both
//! would run a program), and lines that are malformed (an open quote, a missing or bad value
//! of an honoured keyword). Other keywords are ignored: users' files hold many options that
//! mean nothing to x2god.
//!
//! As in OpenSSH, the first value of a keyword wins (the user's file is read before the
//! system's), except `IdentityFile`, whose values add up; the caller's own values (a
//! profile's user and port) act like `ssh`'s command line and win over both files.
//!
//! Why not a parser crate: `ssh2-config` (0.9) reports no file or line in its errors, knows no
//! `Match`, and drops `ProxyJump`, `HostKeyAlias` and the known_hosts keywords as unsupported;
//! `russh-config` (0.58) reads one file with neither `Include` nor `Match` and no line numbers.
//! Both would lose the "which file, which line" a person needs to fix a bad line, so the few
//! hundred lines here do it, following `readconf.c`.

mod expand;
mod lexer;
mod pattern;
mod reader;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

/// A line of a configuration file could not be used, or a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line, when the error is about one.
    pub line: Option<usize>,
    /// What is wrong, for a person.
    pub message: String,
}

/// OpenSSH's `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// `yes`: never ask about an unknown key, never learn one.
    Yes,
    /// `ask`: ask a person.
    Ask,
    /// `accept-new`: OpenSSH learns unknown keys; x2god does not weaken its own checks for it.
    AcceptNew,
    /// `no`/`off`: as `accept-new` for x2god.
    No,
}

/// One hop of `ProxyJump`: what the line says, before the hop's own `Host` lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHop {
    /// User name, when the hop names one (`user@host`).
    pub user: Option<String>,
    /// Host name or alias (IPv6 literals without brackets).
    pub host: String,
    /// Port, when the hop names one.
    pub port: Option<u16>,
}

/// The values `ssh -G` would use for one host, as far as x2god honours them. `None` and empty
/// lists: no file set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// The host to connect to: `HostName` with `%h` expanded, else the name looked up.
    pub hostname: String,
    /// `User` (or the caller's).
    pub user: Option<String>,
    /// `Port` (or the caller's).
    pub port: Option<u16>,
    /// Every `IdentityFile`, expanded, in order.
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly`.
    pub identities_only: Option<bool>,
    /// `ProxyJump`: `Some(empty)` for `none`.
    pub proxy_jump: Option<Vec<JumpHop>>,
    /// `UserKnownHostsFile`, expanded: `Some(empty)` for `none`.
    pub user_known_hosts_files: Option<Vec<PathBuf>>,
    /// `GlobalKnownHostsFile`, expanded: `Some(empty)` for `none`.
    pub global_known_hosts_files: Option<Vec<PathBuf>>,
    /// `HostKeyAlias`.
    pub host_key_alias: Option<String>,
    /// `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// `ServerAliveInterval`: zero means off.
    pub server_alive_interval: Option<Duration>,
    /// `ServerAliveCountMax`.
    pub server_alive_count_max: Option<u32>,
    /// `StrictHostKeyChecking`.
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
}

/// What a lookup takes from the caller, like `ssh`'s command line (`-l`, `-p`): these win over
/// both files and are what `%r` and `%p` expand to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given {
    /// The user name the caller has settled on.
    pub user: Option<String>,
    /// The port the caller has settled on.
    pub port: Option<u16>,
}

/// The configuration files of one local user and what their tokens expand to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFiles {
    /// `~/.ssh`: the user's file is `config` in it, and its relative `Include`s are under it.
    pub user_ssh_dir: PathBuf,
    /// The system-wide file (`/etc/ssh/ssh_config`); its relative `Include`s are under its
    /// directory. `None`: none is read.
    pub system_file: Option<PathBuf>,
    /// The home directory, for `~` and `%d`.
    pub home: PathBuf,
    /// The local user name, for `%u` and the default of `%r`.
    pub local_user: String,
}

/// Files larger than this are refused: a configuration is a few kilobytes, and a huge file (or
/// a device) would only stall the connect.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

impl ConfigFiles {
    /// The system file OpenSSH reads.
    pub const SYSTEM_FILE: &'static str = "/etc/ssh/ssh_config";

    /// Resolves `host` (a `Host` alias or a name) through the user's file, then the system
    /// file. Missing files count as empty.
    pub fn resolve(&self, host: &str, given: &Given) -> Result<HostConfig, ConfigError> {
        let mut r = reader::Reader::new(self, host, given);
        r.read_top(&self.user_ssh_dir.join("config"), &self.user_ssh_dir)?;
        if let Some(system) = &self.system_file {
            let dir = system
                .parent()
                .map_or_else(|| PathBuf::from("/"), PathBuf::from);
            r.read_top(system, &dir)?;
        }
        r.finish()
    }
}
