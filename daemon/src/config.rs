//! Where the daemon keeps its files and what it knows of the local user, from the environment.

use std::path::PathBuf;

/// Errors finding the daemon's directories.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set to an absolute path.
    #[error("cannot find a configuration directory: set HOME or XDG_CONFIG_HOME")]
    NoHome,
}

/// The environment variable that replaces `/etc/ssh/ssh_config` (an absolute path).
pub const SYSTEM_SSH_CONFIG_ENV: &str = "X2GOD_SSH_SYSTEM_CONFIG";

/// The files x2god reads and writes for the local user.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `$XDG_CONFIG_HOME/x2god`.
    pub config_dir: PathBuf,
    /// `profiles.toml` in `config_dir`.
    pub profiles_file: PathBuf,
    /// x2god's own `known_hosts`, where learned host keys go.
    pub known_hosts: PathBuf,
    /// The user's `~/.ssh`, for OpenSSH's `known_hosts`, `config` and discoverable keys.
    pub user_ssh_dir: PathBuf,
    /// OpenSSH's system-wide client configuration: `/etc/ssh/ssh_config`, or the file
    /// `X2GOD_SSH_SYSTEM_CONFIG` names (for tests, which must not edit the machine's).
    pub ssh_system_config: PathBuf,
    /// The machine's known_hosts files, read (never written) like OpenSSH's default
    /// `GlobalKnownHostsFile`: [`GLOBAL_KNOWN_HOSTS`].
    pub global_known_hosts: Vec<PathBuf>,
}

/// OpenSSH's default `GlobalKnownHostsFile`: the site-wide host keys and `@cert-authority`
/// lines an administrator installs for every user.
pub const GLOBAL_KNOWN_HOSTS: [&str; 2] = ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];

impl Paths {
    /// Paths from `XDG_CONFIG_HOME` and `HOME`, as the XDG base directory spec says.
    pub fn from_env() -> Result<Paths, ConfigError> {
        let abs = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let home = abs("HOME");
        let config_home = abs("XDG_CONFIG_HOME")
            .or_else(|| home.as_ref().map(|h| h.join(".config")))
            .ok_or(ConfigError::NoHome)?;
        let home = home.ok_or(ConfigError::NoHome)?;
        let mut paths = Paths::under(config_home.join("x2god"), home.join(".ssh"));
        if let Some(system) = abs(SYSTEM_SSH_CONFIG_ENV) {
            paths.ssh_system_config = system;
        }
        Ok(paths)
    }

    /// Paths with an explicit configuration directory and `~/.ssh`.
    pub fn under(config_dir: PathBuf, user_ssh_dir: PathBuf) -> Paths {
        Paths {
            profiles_file: config_dir.join("profiles.toml"),
            known_hosts: config_dir.join("known_hosts"),
            config_dir,
            user_ssh_dir,
            ssh_system_config: PathBuf::from(crate::ssh::config::ConfigFiles::SYSTEM_FILE),
            global_known_hosts: GLOBAL_KNOWN_HOSTS.iter().map(PathBuf::from).collect(),
        }
    }
}

/// The local login name, which python-x2go uses as the default remote user name.
pub fn local_username() -> Option<String> {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return Some(v);
        }
    }
    // No login variables (a bare service manager environment): look our uid up in passwd.
    let uid = current_uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()? == uid).then(|| name.to_owned())
    })
}

/// The real user id of this process (from `/proc/self`, which needs no `unsafe` call), or
/// `u32::MAX` when it cannot be read, which matches no user.
pub fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}
