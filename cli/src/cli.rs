//! The command line, as clap derive types. The man page and the shell completions are generated
//! from these same definitions, so they cannot drift from what the parser accepts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit;
use crate::values::{Setting, parse_bool, parse_setting};

const ABOUT: &str = "Control X2Go servers and sessions through x2god";

const LONG_ABOUT: &str = "\
x2goctl drives x2god, the per-user daemon that keeps SSH control connections to X2Go servers \
(D-Bus name org.x2go.Control1 on the session bus). Profiles name a server; connect once, then \
list, start, suspend, resume and terminate sessions over the same connection.

Output is a table for people by default; --json prints JSON for scripts. Secrets are never \
taken as arguments: `connect` prompts without echo on a terminal, reads --password-stdin, or \
relies on keys, the SSH agent or the keyring.";

const SHORT_EXIT: &str = "Exit codes: 0 ok, 1 other, 2 usage, 3 not found, 4 auth failed, \
5 host key, 6 network/not connected/timeout, 7 not supported, 8 x2god unreachable \
(--help for details).";

/// The whole command line.
#[derive(Debug, Parser)]
#[command(
    name = "x2goctl",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = SHORT_EXIT,
    after_long_help = exit::help_text(),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Print JSON on stdout instead of text, errors as JSON on stderr (`watch`: one object a line)
    #[arg(long, global = true)]
    pub json: bool,

    /// No progress line and no confirmations on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, show, change and remove profiles
    #[command(subcommand)]
    Profile(ProfileCmd),

    /// Connect a profile to its server (prompts for a password on a terminal if keys fail)
    Connect(ConnectArgs),

    /// Close a profile's SSH connection
    Disconnect(ProfileArg),

    /// Check that a connected server answers now (a real round trip); exit 6 if not
    Ping(ProfileArg),

    /// Whether the server's host key is known, without logging in; exit 5 if not
    CheckHost(ProfileArg),

    /// Trust the server's host key if its fingerprint is exactly FINGERPRINT
    TrustHostKey {
        /// Profile name
        profile: String,
        /// The key's SHA256 fingerprint, `SHA256:…` as `connect` or `ssh-keygen -l` print it
        fingerprint: String,
    },

    /// List the sessions of the profile's user on the server
    Sessions {
        /// Profile name
        profile: String,
        /// Print the server's `x2golistsessions` output as is
        #[arg(long)]
        raw: bool,
    },

    /// Show everything x2god knows about one session (including whether it is shown locally)
    Session(SessionArg),

    /// A session's state: running, suspended, terminated (gone) or unknown (never seen)
    State {
        /// Profile name
        profile: String,
        /// Session name
        session: String,
        /// Instead print whether the session is in this state (true/false)
        #[arg(long, value_enum, value_name = "STATE")]
        is: Option<StateQuery>,
    },

    /// Start a session and show it on the local display; prints its name
    Start(StartArgs),

    /// Resume a suspended session (or take over one shown elsewhere) and show it locally
    Resume(ResumeArgs),

    /// Suspend a session on the server
    Suspend(SessionArg),

    /// Terminate a session on the server
    Terminate {
        /// Profile name
        profile: String,
        /// Session name
        session: String,
        /// Also end terminal programs started in the session
        #[arg(long)]
        destroy_terminals: bool,
    },

    /// Stop showing a session locally, leaving it alone on the server
    Dissociate(SessionArg),

    /// Terminate EVERY session of the profile's user on the server
    Clean {
        /// Profile name
        profile: String,
        /// Include published-applications sessions
        #[arg(long)]
        published_applications: bool,
        /// Do not ask; required when stdin is not a terminal
        #[arg(short, long)]
        yes: bool,
    },

    /// List the desktops on the server that the user may share
    Desktops {
        /// Profile name
        profile: String,
        /// Seconds to wait for the server's answer
        #[arg(long, value_name = "SECONDS")]
        maxwait: Option<f64>,
    },

    /// Share (shadow) a desktop and show it locally; prints the new session's name
    Share(ShareArgs),

    /// Share a local folder into a running session (the server mounts it: `mounts`)
    ShareFolder {
        /// Profile name
        profile: String,
        /// Session name
        session: String,
        /// The local folder
        path: std::path::PathBuf,
        /// The server may read, never change
        #[arg(long)]
        readonly: bool,
    },

    /// Stop sharing a local folder (or, with --all, every folder) with a session
    UnshareFolder {
        /// Profile name
        profile: String,
        /// Session name
        session: String,
        /// The shared folder
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        path: Option<std::path::PathBuf>,
        /// Every shared folder (printing and the MIME box stay)
        #[arg(long)]
        all: bool,
    },

    /// List the client folders mounted in a session
    Mounts {
        /// Profile name
        profile: String,
        /// Session name
        session: String,
        /// Seconds to wait for the server's answer
        #[arg(long, value_name = "SECONDS")]
        maxwait: Option<f64>,
    },

    /// Show the server's published-applications menu
    Apps(AppsArgs),

    /// Start a published application in a running published-applications session
    Exec {
        /// Profile name
        profile: String,
        /// Session name (a published-applications session)
        session: String,
        /// The menu entry's command line or name
        app: String,
    },

    /// List the server's X2Go features (x2gofeaturelist)
    Features {
        /// Profile name
        profile: String,
        /// Ask the server again instead of using the connection's cache
        #[arg(long)]
        force: bool,
    },

    /// Show the versions of the server's X2Go components (x2goversion)
    Versions {
        /// Profile name
        profile: String,
        /// Ask the server again instead of using the connection's cache
        #[arg(long)]
        force: bool,
    },

    /// Whether the remote user's home directory exists
    HomeExists(ProfileArg),

    /// Whether the remote user can share client folders (sshfs and FUSE on the server)
    SshfsAvailable(ProfileArg),

    /// Whether USER may run X2Go sessions on the server
    IsX2goUser {
        /// Profile name
        profile: String,
        /// User name on the server
        user: String,
    },

    /// Store a password or passphrase in the desktop keyring for a profile, or forget it
    #[command(subcommand)]
    Secret(SecretCmd),

    /// Print events as they happen: sessions added, suspended, resumed, removed; connection changes
    #[command(long_about = "\
Print x2god's events as they happen, one line each, until interrupted: sessions added, \
changing state (running <-> suspended) and removed, whoever caused it (`self`: x2god on a \
client's request; `other`: another client, the server or the session itself), connection state \
changes and losses, profiles added and removed, and x2god starting and stopping (after a \
restart the current state is described again with cause `sync`, then `x2god: in sync`). With \
--json, one JSON object per line. Events of every connected profile are seen; the daemon watches a \
profile's sessions only while it is connected.")]
    Watch {
        /// Only events of these profiles
        profiles: Vec<String>,
        /// Exit after this many events
        #[arg(long, short = 'n', value_name = "N")]
        count: Option<usize>,
        /// Prefix each line with the time (UTC)
        #[arg(long, short = 't')]
        timestamps: bool,
        /// First describe the current state (profiles and sessions, cause `sync`), then `in sync`
        #[arg(long, short = 's')]
        snapshot: bool,
    },

    /// Print the versions of x2goctl and of the running x2god
    Version,

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(long_about = "\
Print a completion script for SHELL on stdout. For example:
  bash:  x2goctl completions bash > ~/.local/share/bash-completion/completions/x2goctl
  zsh:   x2goctl completions zsh > ~/.zfunc/_x2goctl   (with fpath+=~/.zfunc before compinit)
  fish:  x2goctl completions fish > ~/.config/fish/completions/x2goctl.fish")]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff) on stdout, or write one page per command into a directory
    #[command(long_about = "\
Print the x2goctl(1) man page in roff on stdout (view it with `x2goctl man | man -l -`), or with \
--dir write x2goctl.1 and one x2goctl-COMMAND.1 page per command into DIR.")]
    Man {
        /// Write x2goctl.1 and x2goctl-COMMAND.1 pages into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Create a profile
    #[command(long_about = "\
Create a profile. --set takes any other setting of x2god's CreateProfile as key=value, typed as \
x2god expects (port, keepalive_count, dpi: integers; timeout, keepalive_interval, poll_interval: \
seconds; allow_agent, look_for_keys, force_password_auth, add_to_known_hosts, auto_reconnect, \
auto_resume, autoconnect: booleans; key_filename: repeat for several; cmd, session_type, geometry, \
link, pack, kblayout, kbtype, clipboard, nxproxy: strings). Unknown keys go as strings; \
key:TYPE=value forces a D-Bus type (s, b, q, u, i, x, d, as). Passwords are never stored.")]
    Add {
        /// Profile name
        name: String,
        /// Server host name or address
        #[arg(long, short = 'H')]
        host: String,
        #[command(flatten)]
        settings: ProfileSettingsArgs,
    },

    /// List profiles with their connection state
    #[command(visible_alias = "ls")]
    List,

    /// Show a profile's settings and connection state
    Show(ProfileArg),

    /// Change settings of a profile (same flags as `add`)
    Update {
        /// Profile name
        name: String,
        /// Server host name or address
        #[arg(long, short = 'H')]
        host: Option<String>,
        #[command(flatten)]
        settings: ProfileSettingsArgs,
    },

    /// Rename a profile
    Rename {
        /// Current name
        name: String,
        /// New name
        new_name: String,
    },

    /// Remove a profile (disconnecting it first)
    #[command(visible_alias = "remove")]
    Rm(ProfileArg),
}

/// Keyring subcommands.
#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Store a secret in the keyring (asked without echo on a terminal, else read from stdin)
    #[command(long_about = "\
Store a secret of KIND for PROFILE in the desktop keyring (Secret Service), so that connects \
and reconnects need no prompt. The secret is asked for without echo on a terminal, or read from \
the first line of standard input; it is never taken as an argument.")]
    Store {
        /// Profile name
        profile: String,
        /// What the secret is
        #[arg(value_enum)]
        kind: SecretKindArg,
    },
    /// Remove a stored secret from the keyring
    Forget {
        /// Profile name
        profile: String,
        /// What the secret is
        #[arg(value_enum)]
        kind: SecretKindArg,
    },
}

/// The kinds of secret the keyring holds for a profile.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SecretKindArg {
    /// The SSH login password
    Password,
    /// The passphrase of an encrypted private key
    Passphrase,
    /// The jump host's login password
    SshproxyPassword,
    /// The passphrase of the jump host's private key
    SshproxyPassphrase,
}

impl SecretKindArg {
    /// The kind as x2god names it.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKindArg::Password => "password",
            SecretKindArg::Passphrase => "passphrase",
            SecretKindArg::SshproxyPassword => "sshproxy_password",
            SecretKindArg::SshproxyPassphrase => "sshproxy_passphrase",
        }
    }
}

/// Settings flags shared by `profile add` and `profile update`.
#[derive(Debug, Args)]
pub struct ProfileSettingsArgs {
    /// SSH port (default 22)
    #[arg(long, short = 'p', value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// User name on the server (default: the local user)
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// Private key file; repeat for several (relative paths are made absolute)
    #[arg(long, short = 'i', value_name = "FILE")]
    pub key: Vec<PathBuf>,
    /// Try the keys of the SSH agent (--agent=false turns it off)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = bool_arg)]
    pub agent: Option<bool>,
    /// Try ~/.ssh/id_ed25519, id_ecdsa, id_rsa
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = bool_arg)]
    pub look_for_keys: Option<bool>,
    /// Learn an unknown host key on connect instead of refusing it
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = bool_arg)]
    pub add_to_known_hosts: Option<bool>,
    /// Authenticate by password only
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = bool_arg)]
    pub force_password: Option<bool>,
    /// Any other setting as KEY=VALUE (repeatable; see `x2goctl profile add --help`)
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = set_arg)]
    pub set: Vec<Setting>,
}

/// A profile name.
#[derive(Debug, Args)]
pub struct ProfileArg {
    /// Profile name
    pub profile: String,
}

/// A profile and a session name.
#[derive(Debug, Args)]
pub struct SessionArg {
    /// Profile name
    pub profile: String,
    /// Session name (as `sessions` lists it)
    pub session: String,
}

/// `connect`.
#[derive(Debug, Args)]
#[command(long_about = "\
Connect a profile to its server. Authentication follows the profile: key files, the SSH agent, \
~/.ssh keys, then a password. On a terminal, when those fail, x2goctl asks for the password \
without echo (it also unlocks an encrypted key), and offers to trust an unknown host key after \
showing its fingerprint. Scripts pass the password on standard input with --password-stdin. The \
password is sent to x2god for this connection only and is never stored.")]
pub struct ConnectArgs {
    /// Profile name
    pub profile: String,
    /// Read the password from the first line of standard input
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the key passphrase from stdin (with --password-stdin: the line after the password)
    #[arg(long)]
    pub passphrase_stdin: bool,
    /// Ask for the password first, before keys and agent are tried
    #[arg(long, short = 'P', conflicts_with_all = ["password_stdin", "no_prompt"])]
    pub ask_password: bool,
    /// Never prompt; fail instead (the default when stdin is not a terminal)
    #[arg(long)]
    pub no_prompt: bool,
    /// A setting for this connection only, as KEY=VALUE (e.g. timeout=5, allow_agent=false)
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = set_arg)]
    pub set: Vec<Setting>,
}

/// Session options of `start` and `resume`.
#[derive(Debug, Args)]
pub struct SessionOptions {
    /// Desktop (XFCE, MATE, KDE, LXDE, TERMINAL, …) or a command with arguments
    #[arg(long)]
    pub cmd: Option<String>,
    /// desktop, application or published
    #[arg(long = "type", value_name = "TYPE")]
    pub session_type: Option<String>,
    /// WxH, fullscreen or maximize
    #[arg(long, short = 'g')]
    pub geometry: Option<String>,
    /// Local X display to show the session on (default: x2god's DISPLAY)
    #[arg(long)]
    pub display: Option<String>,
    /// Another session option as KEY=VALUE: link, pack, dpi, kblayout, kbtype, clipboard, nxproxy…
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = set_arg)]
    pub set: Vec<Setting>,
}

/// `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Profile name
    pub profile: String,
    #[command(flatten)]
    pub options: SessionOptions,
}

/// `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Profile name
    pub profile: String,
    /// Session name
    pub session: String,
    #[command(flatten)]
    pub options: SessionOptions,
}

/// `share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Profile name
    pub profile: String,
    /// The desktop as `desktops` lists it (user@:display); or use --user and --display
    #[arg(required_unless_present = "user")]
    pub desktop: Option<String>,
    /// Owner of the desktop
    #[arg(long, requires = "display", conflicts_with = "desktop")]
    pub user: Option<String>,
    /// The desktop's display number on the server
    #[arg(long, requires = "user")]
    pub display: Option<String>,
    /// Full access (keyboard and mouse); default is view-only
    #[arg(long)]
    pub full_access: bool,
    /// Seconds to wait for the server's desktop list
    #[arg(long, value_name = "SECONDS")]
    pub maxwait: Option<f64>,
    /// Local X display to show it on (default: x2god's DISPLAY)
    #[arg(long)]
    pub local_display: Option<String>,
    /// WxH, fullscreen or maximize
    #[arg(long, short = 'g')]
    pub geometry: Option<String>,
    /// Any other session option as KEY=VALUE
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = set_arg)]
    pub set: Vec<Setting>,
}

/// `apps`.
#[derive(Debug, Args)]
pub struct AppsArgs {
    /// Profile name
    pub profile: String,
    /// Language of names and comments (de, de_DE.UTF-8, …; default: x2god's LANG)
    #[arg(long)]
    pub lang: Option<String>,
    /// List up to N entries flat before grouping by category
    #[arg(long, value_name = "N")]
    pub max_no_submenus: Option<i32>,
    /// Ask the server again instead of using the connection's cache
    #[arg(long)]
    pub refresh: bool,
    /// The parsed entries instead of the menu
    #[arg(long, conflicts_with = "very_raw")]
    pub raw: bool,
    /// The server's text as is
    #[arg(long)]
    pub very_raw: bool,
    /// With --json, include icons (base64) instead of their size in bytes
    #[arg(long)]
    pub icons: bool,
}

/// Which state `state --is` asks about.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StateQuery {
    /// IsRunning
    Running,
    /// IsSuspended
    Suspended,
    /// HasTerminated
    Terminated,
}

/// The clap command with the short exit-code note under every subcommand's help too, so
/// `x2goctl connect -h` tells what its exit status means.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommands(|sub| {
        sub.after_help(SHORT_EXIT)
            .mut_subcommands(|s| s.after_help(SHORT_EXIT))
    })
}

fn set_arg(s: &str) -> Result<Setting, String> {
    parse_setting(s).map_err(|f| f.message)
}

fn bool_arg(s: &str) -> Result<bool, String> {
    parse_bool("value", s).map_err(|f| f.message)
}

impl Command {
    /// The profile the command is about, for hints in error messages.
    pub fn profile(&self) -> Option<&str> {
        Some(match self {
            Command::Profile(ProfileCmd::Add { name, .. })
            | Command::Profile(ProfileCmd::Update { name, .. })
            | Command::Profile(ProfileCmd::Rename { name, .. }) => name,
            Command::Profile(ProfileCmd::Show(p) | ProfileCmd::Rm(p)) => &p.profile,
            Command::Connect(a) => &a.profile,
            Command::Disconnect(p)
            | Command::Ping(p)
            | Command::CheckHost(p)
            | Command::HomeExists(p)
            | Command::SshfsAvailable(p) => &p.profile,
            Command::Session(s) | Command::Suspend(s) | Command::Dissociate(s) => &s.profile,
            Command::Secret(
                SecretCmd::Store { profile, .. } | SecretCmd::Forget { profile, .. },
            ) => profile,
            Command::TrustHostKey { profile, .. }
            | Command::Sessions { profile, .. }
            | Command::State { profile, .. }
            | Command::Terminate { profile, .. }
            | Command::Clean { profile, .. }
            | Command::Desktops { profile, .. }
            | Command::Mounts { profile, .. }
            | Command::ShareFolder { profile, .. }
            | Command::UnshareFolder { profile, .. }
            | Command::Exec { profile, .. }
            | Command::Features { profile, .. }
            | Command::Versions { profile, .. }
            | Command::IsX2goUser { profile, .. } => profile,
            Command::Start(a) => &a.profile,
            Command::Resume(a) => &a.profile,
            Command::Share(a) => &a.profile,
            Command::Apps(a) => &a.profile,
            Command::Profile(ProfileCmd::List)
            | Command::Watch { .. }
            | Command::Version
            | Command::Completions { .. }
            | Command::Man { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_parse() {
        let c = Cli::try_parse_from([
            "x2goctl",
            "profile",
            "add",
            "lab",
            "--host",
            "h",
            "-p",
            "2222",
            "--agent",
            "--look-for-keys=false",
            "--set",
            "timeout=3",
            "--json",
        ])
        .unwrap();
        assert!(c.json);
        let Command::Profile(ProfileCmd::Add { settings, .. }) = c.command else {
            panic!("not profile add");
        };
        assert_eq!(settings.port, Some(2222));
        assert_eq!(settings.agent, Some(true));
        assert_eq!(settings.look_for_keys, Some(false));
        assert_eq!(settings.set.len(), 1);
        assert!(Cli::try_parse_from(["x2goctl", "connect", "p", "--set", "password=x"]).is_err());
        assert!(
            Cli::try_parse_from(["x2goctl", "profile", "add", "p", "--host", "h", "-p", "0"])
                .is_err()
        );
        assert!(Cli::try_parse_from(["x2goctl", "share", "p"]).is_err());
        assert!(Cli::try_parse_from(["x2goctl", "share", "p", "u@:50"]).is_ok());
        assert!(Cli::try_parse_from(["x2goctl", "share", "p", "--user", "u"]).is_err());
    }
}
