//! Remote command lines, built only from validated values.
//!
//! A [`RemoteCommand`] is an environment plus an argv; it is rendered for the shell with every
//! piece quoted, so no value is ever parsed as shell syntax. Commands that need shell features
//! (a sequence, `$HOME`) run a constant script through `sh -c`, which interpolates nothing.

use std::borrow::Cow;
use std::time::Duration;

use super::keyboard::SessionKeyboard;
use super::scripts::script;
use super::session_options::{
    ResumeArgs, SessionCommand, SessionType, StartAgentArgs, set_keyboard_flag,
};
use super::share::{ShareKind, SharePath};
use super::sound::SoundSystem;
use super::validate::{Display, InvalidArgument, SessionName, Username};
use super::watch::{HEARTBEAT_SECS, WATCH_SCRIPT};

/// Runs `x2goresume-session "$@"` once the agent of session `$1` no longer says `SUSPENDING`
/// (see [`RemoteCommand::resume`]). The state file is where the watcher looks for it
/// ([`super::watch`]).
const RESUME_SCRIPT: &str = script!("resume.sh");

/// `x2golistsessions`, then `x2golistshadowsessions` where the server has it and this user may
/// have shadow sessions (see `scripts/any_shadow_dir.sh`).
const LIST_WITH_SHADOW_SCRIPT: &str = script!("list_with_shadow.sh");

/// The wait of [`RemoteCommand::await_agent_state`].
const AWAIT_RUNNING_SCRIPT: &str = script!("await_running.sh");

/// The suspend and wait of [`RemoteCommand::suspend_and_await`].
const SUSPEND_AND_AWAIT_SCRIPT: &str = script!("suspend_and_await.sh");

/// The check of [`RemoteCommand::home_exists`].
const HOME_EXISTS_SCRIPT: &str = script!("home_exists.sh");

/// The check of [`RemoteCommand::sshfs_available`].
const SSHFS_AVAILABLE_SCRIPT: &str = script!("sshfs_available.sh");

/// The share of [`RemoteCommand::mount_dirs`].
const MOUNT_DIRS_SCRIPT: &str = script!("mount_dirs.sh");

/// The PulseAudio set-up of [`RemoteCommand::sound_setup`].
const SOUND_SETUP_SCRIPT: &str = script!("sound_setup.sh");

/// The start of a session's program with sound, [`RemoteCommand::run_command`].
const RUN_WITH_SOUND_SCRIPT: &str = script!("run_with_sound.sh");

/// The check of [`RemoteCommand::x2go_user`].
const X2GO_USER_SCRIPT: &str = script!("x2go_user.sh");

/// The name of an environment variable set on a remote command.
///
/// Only constructible in `const` context inside this module, so a malformed name is a compile
/// error rather than a runtime failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EnvName(&'static str);

impl EnvName {
    /// Checks `^[A-Z_][A-Z0-9_]*$`; only ever evaluated in `const` items.
    const fn new(name: &'static str) -> Self {
        let b = name.as_bytes();
        assert!(!b.is_empty(), "empty environment variable name");
        assert!(
            !b[0].is_ascii_digit(),
            "environment variable name starts with a digit"
        );
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            assert!(
                c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_',
                "environment variable name outside [A-Z0-9_]"
            );
            i += 1;
        }
        Self(name)
    }
}

const X2GO_XINERAMA: EnvName = EnvName::new("X2GO_XINERAMA");
const X2GODPI: EnvName = EnvName::new("X2GODPI");
const DISPLAY: EnvName = EnvName::new("DISPLAY");

/// Accumulates one command; constructors below are the only users, so every value it receives
/// already went through a validator.
struct Builder {
    env: Vec<(String, String)>,
    argv: Vec<String>,
    detached: bool,
}

impl Builder {
    fn program(name: &'static str) -> Self {
        Self {
            env: Vec::new(),
            argv: vec![name.to_owned()],
            detached: false,
        }
    }

    /// A constant script run by `shell` with `-c`; values go in as positional parameters
    /// (`$1`…) after `name`, which becomes `$0` and the command's [`RemoteCommand::name`].
    fn script(shell: &'static str, script: &'static str, name: &'static str) -> Self {
        Self::program(shell).arg("-c").arg(script).arg(name)
    }

    /// Run in the background in a new session with all standard streams on `/dev/null`.
    fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    fn env(mut self, name: EnvName, value: &str) -> Self {
        self.env.push((name.0.to_owned(), value.to_owned()));
        self
    }

    fn arg(mut self, value: &str) -> Self {
        self.argv.push(value.to_owned());
        self
    }

    fn build(self) -> RemoteCommand {
        RemoteCommand {
            env: self.env,
            argv: self.argv,
            detached: self.detached,
        }
    }
}

/// Whether a word of a script is a variable assignment, `<name>=…`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// A constant `sh -c` script: the only way shell syntax enters a command, and it never contains
/// outside data.
fn shell_script(script: &'static str) -> RemoteCommand {
    Builder::program("sh").arg("-c").arg(script).build()
}

/// A command to run on the X2Go server: environment assignments plus an argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    env: Vec<(String, String)>,
    argv: Vec<String>,
    /// Rendered as `{ setsid CMD </dev/null >/dev/null 2>&1 & }`.
    detached: bool,
}

impl RemoteCommand {
    /// List the caller's sessions; with `include_shadow`, append the shadow-session listing in
    /// the same exec when the server has `x2golistshadowsessions` (python-x2go asks
    /// `x2gofeaturelist` for `X2GO_LIST_SHADOWSESSIONS` first: the script's presence is the
    /// same fact without a round trip, doc §2.4).
    pub fn list_sessions(include_shadow: bool) -> Self {
        if include_shadow {
            // One after the other: run side by side they contend for the session database
            // (x2golistsessions also writes its repairs there). A failing first listing fails
            // the command instead of being masked by the second's status.
            shell_script(LIST_WITH_SHADOW_SCRIPT)
        } else {
            Builder::program("x2golistsessions").build()
        }
    }

    /// Suspend a session (doc §2.8).
    pub fn suspend(name: &SessionName) -> Self {
        Builder::program("x2gosuspend-session")
            .arg(name.as_str())
            .build()
    }

    /// Terminate a session (doc §2.9).
    pub fn terminate(name: &SessionName) -> Self {
        Builder::program("x2goterminate-session")
            .arg(name.as_str())
            .build()
    }

    /// The server's feature tokens (doc §2.1). A server without the script answers with exit
    /// status 127, which the caller can tell apart from a failure.
    pub fn feature_list() -> Self {
        Builder::program("x2gofeaturelist").build()
    }

    /// Component versions (doc §2.2).
    pub fn versions() -> Self {
        Builder::program("x2goversion").build()
    }

    /// Whether `$HOME` is a directory: prints [`super::tokens::HOME_EXISTS_YES`] or
    /// [`super::tokens::HOME_EXISTS_NO`]. The home path is expanded by the remote shell, never
    /// interpolated by us.
    pub fn home_exists() -> Self {
        shell_script(HOME_EXISTS_SCRIPT)
    }

    /// Folders shared into a session (doc §2.11).
    pub fn list_mounts(name: &SessionName) -> Self {
        Builder::program("x2golistmounts")
            .arg(name.as_str())
            .build()
    }

    /// Mounts the client folder `path` into session `name` through the reverse forward on
    /// server port `port` (doc §2.12). The key bundle is the command's standard input (see
    /// `scripts/mount_dirs.sh`); `agent_pid` names its file, as python-x2go does.
    pub fn mount_dirs(
        name: &SessionName,
        agent_pid: u32,
        local_user: &Username,
        path: &SharePath,
        kind: ShareKind,
        port: u16,
    ) -> Self {
        Builder::script("sh", MOUNT_DIRS_SCRIPT, "x2gomountdirs")
            .arg(name.as_str())
            .arg(&agent_pid.to_string())
            .arg(local_user.as_str())
            .arg(&path.mount_arg(kind, port))
            .build()
    }

    /// Unmounts the client folder `path` from session `name`, or every share of the session
    /// (print spool and MIME box included) when `path` is `None` (doc §2.13).
    pub fn umount(name: &SessionName, path: Option<&SharePath>) -> Self {
        let b = Builder::program("x2goumount-session").arg(name.as_str());
        match path {
            Some(p) => b.arg(p.as_str()).build(),
            None => b.build(),
        }
    }

    /// Desktops the caller may shadow (doc §2.10).
    pub fn list_desktops() -> Self {
        Builder::program("x2golistdesktops").build()
    }

    /// The published-applications menu (doc §2.14).
    pub fn get_apps() -> Self {
        Builder::program("x2gogetapps").build()
    }

    /// A no-op round trip to check that the connection still executes commands.
    pub fn echo() -> Self {
        Builder::program("echo").build()
    }

    /// Create a session: `x2gostartagent` (doc §2.5) with `X2GO_XINERAMA` and, when set,
    /// `X2GODPI` in its environment. Fails when the session type and the command disagree about
    /// being a shadow session (the server would misread the command).
    pub fn start_agent(args: &StartAgentArgs) -> Result<Self, InvalidArgument> {
        let shadow = args.session_type == SessionType::Shadow;
        if shadow != args.command.is_shadow() {
            return Err(InvalidArgument::new(
                "session type",
                args.session_type.as_arg(),
                "shadow type and shadow command must go together",
            ));
        }
        let mut b = Builder::program("x2gostartagent")
            .env(X2GO_XINERAMA, if args.xinerama { "true" } else { "false" });
        if let Some(dpi) = args.dpi {
            b = b.env(X2GODPI, &dpi.value().to_string());
        }
        b = b
            .arg(&args.geometry.as_arg())
            .arg(args.link.as_str())
            .arg(args.pack.as_str())
            .arg(&args.depth.cache_type(&args.cache_type))
            .arg(args.kblayout.as_str())
            .arg(args.kbtype.as_str())
            .arg(set_keyboard_flag(&args.kbtype))
            .arg(args.session_type.as_arg())
            .arg(&args.command.agent_token());
        if !shadow {
            // For S the 10th argument would be read as the requesting user (doc §2.5).
            b = b.arg(args.clipboard.as_str());
        }
        Ok(b.build())
    }

    /// Launch the session's program (doc §2.6), right after a successful start:
    /// `x2goruncommand <display> <agent pid> <session> <sound port> <command> <sound> <type>`.
    ///
    /// It runs as long as the session, so it is detached (`setsid`, standard streams on
    /// `/dev/null`, background): the exec channel closes at once and the exit status only says
    /// whether it was launched. Failures show up later in the session's `cmdoutput`.
    ///
    /// With [`SoundSystem::Pulse`] the session's PulseAudio client config is written first and
    /// the program gets `PULSE_CLIENTCONFIG` (see `scripts/run_with_sound.sh`): the command
    /// then reads the session's sound cookie, 256 bytes, on its standard input.
    pub fn run_command(
        display: &Display,
        agent_pid: u32,
        name: &SessionName,
        snd_port: u16,
        command: &SessionCommand,
        session_type: SessionType,
        sound: SoundSystem,
    ) -> Self {
        match sound {
            SoundSystem::None => Builder::program("setsid")
                .arg("x2goruncommand")
                .arg(&display.number().to_string())
                .arg(&agent_pid.to_string())
                .arg(name.as_str())
                .arg(&snd_port.to_string())
                .arg(&command.run_argument())
                .arg(SoundSystem::None.as_arg())
                .arg(session_type.as_arg())
                .detached()
                .build(),
            SoundSystem::Pulse => Builder::script("sh", RUN_WITH_SOUND_SCRIPT, "x2goruncommand")
                .arg(name.as_str())
                .arg(&snd_port.to_string())
                .arg(&display.number().to_string())
                .arg(&agent_pid.to_string())
                .arg(&command.run_argument())
                .arg(session_type.as_arg())
                .build(),
        }
    }

    /// Points session `name`'s PulseAudio clients at its (possibly new) sound port `snd_port`
    /// with a new cookie, which the command reads on its standard input (doc §3.6): after a
    /// resume, the session's programs still have `PULSE_CLIENTCONFIG`.
    pub fn sound_setup(name: &SessionName, snd_port: u16) -> Self {
        Builder::script("sh", SOUND_SETUP_SCRIPT, "x2go-sound-setup")
            .arg(name.as_str())
            .arg(&snd_port.to_string())
            .build()
    }

    /// Sets the keyboard of the session on `display` as python-x2go does after
    /// `x2goruncommand` and after a resume: `DISPLAY=:<n> setxkbmap -model … -layout …
    /// -variant …`, each value its own quoted word.
    pub fn set_keyboard(display: &Display, keyboard: &SessionKeyboard) -> Self {
        let mut b = Builder::program("setxkbmap").env(DISPLAY, &format!(":{}", display.number()));
        for a in keyboard.setxkbmap_args() {
            b = b.arg(a);
        }
        b.build()
    }

    /// Reattach a session (doc §2.7):
    /// `x2goresume-session <S> <geometry> <link> <pack> <kblayout> <kbtype> <setkbd> <clipboard> True|False`,
    /// after waiting on the server, checking every 50 ms for at most 3 s, while the agent's
    /// state file says `SUSPENDING`. A resume right after a suspend finds the agent there until
    /// nxproxy has gone (some ms), and `x2goresume-session` would then sleep a whole second
    /// before it looks again. Reading the file is a shell builtin, not `x2gogetagentstate`
    /// (a Perl start-up per look); where the file is elsewhere (shadow sessions), nothing is
    /// waited for here and `x2goresume-session` waits as before.
    pub fn resume(name: &SessionName, args: &ResumeArgs) -> Self {
        Builder::script("sh", RESUME_SCRIPT, "x2goresume-session")
            .arg(name.as_str())
            .arg(&args.geometry.as_arg())
            .arg(args.link.as_str())
            .arg(args.pack.as_str())
            .arg(args.kblayout.as_str())
            .arg(args.kbtype.as_str())
            .arg(set_keyboard_flag(&args.kbtype))
            .arg(args.clipboard.as_str())
            // python's str(bool); the server's x2goistrue reads it.
            .arg(if args.xinerama { "True" } else { "False" })
            .build()
    }

    /// Waits on the server, checking every 50 ms at most `polls` times, until the agent of
    /// `name` is `RUNNING` (or ending), and prints the last state: one channel instead of a
    /// round trip per check while nxproxy and the agent shake hands. The name and the count
    /// are positional parameters of a fixed script, as for [`RemoteCommand::agent_state`].
    pub fn await_agent_state(name: &SessionName, polls: u32) -> Self {
        Builder::script("sh", AWAIT_RUNNING_SCRIPT, "x2gogetagentstate")
            .arg(name.as_str())
            .arg(&polls.to_string())
            .build()
    }

    /// Suspends `name` and waits on the server (as [`RemoteCommand::await_agent_state`]) until
    /// its agent is `SUSPENDED` (or ending), printing the last state. Taking over a session
    /// another client shows needs this before [`RemoteCommand::resume`]: the agent handles
    /// the suspend signal in its own time, and `x2goresume-session` only waits 2 s for it; if
    /// the agent still says `RUNNING` then, the resume signal suspends it instead while the
    /// database says running (and `x2gocleansessions` then marks it suspended under the new
    /// client).
    pub fn suspend_and_await(name: &SessionName, polls: u32) -> Self {
        Builder::script("sh", SUSPEND_AND_AWAIT_SCRIPT, "x2gosuspend-session")
            .arg(name.as_str())
            .arg(&polls.to_string())
            .build()
    }

    /// Print the agent state word of a session (parse with
    /// [`super::start::parse_agent_state`]). `x2gogetagentstate` lives in the libexec directory
    /// only `x2gopath` knows; it finds the state file itself (including the shadowed user's for
    /// shadow sessions and polyinstantiated `/tmp`). The name is a positional parameter of a
    /// fixed script, never part of it.
    pub fn agent_state(name: &SessionName) -> Self {
        Builder::script(
            "sh",
            "lib=$(x2gopath libexec) && exec \"$lib/x2gogetagentstate\" \"$1\"",
            "x2gogetagentstate",
        )
        .arg(name.as_str())
        .build()
    }

    /// Whether the agent of session `name` logged that its port was taken under it
    /// ([`super::start_failure::BIND_TAKEN`]): exit status 0 when it did, looking again every
    /// 100 ms up to `polls` more times (an agent still starting has not tried its port yet).
    /// The log is the agent's own file in the session directory; its path is built by the
    /// remote shell.
    pub fn agent_port_taken(name: &SessionName, polls: u32) -> Self {
        Builder::script(
            "sh",
            "n=0; until grep -qF -- \"$2\" \"$HOME/.x2go/C-$1/session.log\" 2>/dev/null; do \
             [ \"$n\" -ge \"$3\" ] && exit 1; n=$((n + 1)); sleep 0.1; done",
            "x2goagentlog",
        )
        .arg(name.as_str())
        .arg(super::start_failure::BIND_TAKEN)
        .arg(&polls.to_string())
        .build()
    }

    /// Whether the user can mount client folders: `sshfs`, `fusermount` (or `fusermount3`) and
    /// a readable, writable `/dev/fuse` — what `x2gomountdirs` needs, not only python-x2go's
    /// `which fusermount`. Prints [`super::tokens::SSHFS_YES`] or [`super::tokens::SSHFS_NO`].
    pub fn sshfs_available() -> Self {
        shell_script(SSHFS_AVAILABLE_SCRIPT)
    }

    /// Whether `user` may run X2Go sessions on the server, by what the server enforces: the
    /// account exists, has a login shell (sshd runs every command through it) and a home
    /// directory (`x2gostartagent` exits when `$HOME` is missing). Prints
    /// [`super::tokens::X2GO_USER_OK`] or another `x2god_user_*` token of `scripts/tokens.sh`.
    pub fn x2go_user(user: &Username) -> Self {
        Builder::script("sh", X2GO_USER_SCRIPT, "x2god-user")
            .arg(user.as_str())
            .build()
    }

    /// Starts `exec` (a published application's command line, from the server's own menu) in
    /// session `name` on display `display`, detached.
    pub fn exec_published(display: &Display, name: &SessionName, exec: &str) -> Self {
        Builder::script(
            "sh",
            "DISPLAY=:$1 X2GO_SESSION=$2; export DISPLAY X2GO_SESSION; exec sh -c \"$3\"",
            "x2god-exec",
        )
        .arg(&display.number().to_string())
        .arg(name.as_str())
        .arg(exec)
        .detached()
        .build()
    }

    /// Exit status 0 when the program of `command` exists on the server (`command -v`, in the
    /// login environment `x2goruncommand` will use); `None` for tokens, which need no probe.
    pub fn command_exists(command: &SessionCommand) -> Option<Self> {
        let program = command.program()?;
        Some(
            Builder::script("sh", "command -v \"$1\" >/dev/null 2>&1", "x2god-probe")
                .arg(program)
                .build(),
        )
    }

    /// A long-lived watcher for a persistent exec channel (see [`super::watch`]): prints
    /// [`super::tokens::WATCH_ALIVE`] once armed and as a heartbeat about every 30 s, and
    /// [`super::tokens::WATCH_CHANGED`] within about `poll` of a session appearing, vanishing or
    /// changing agent state. `poll` is clamped to 0.1–10 s. Runs under bash explicitly (dash
    /// cannot sleep without a process), whatever the login shell. Keep the channel's stdin
    /// open: end-of-file on it stops the watcher.
    pub fn watch_changes(poll: Duration) -> Self {
        let millis = poll.as_millis().clamp(100, 10_000);
        let beat = (u128::from(HEARTBEAT_SECS) * 1000).div_ceil(millis);
        Builder::script("bash", WATCH_SCRIPT, "x2god-watch")
            .arg(&format!("{}.{:03}", millis / 1000, millis % 1000))
            .arg(&beat.to_string())
            .build()
    }

    /// An arbitrary argv, for tests in sibling modules that need a command no constructor builds.
    #[cfg(test)]
    pub(crate) fn for_test(argv: Vec<String>) -> Self {
        Self {
            env: Vec::new(),
            argv,
            detached: false,
        }
    }

    /// A short name for logs and errors: the program, the `$0` given to a fixed script, or the
    /// first word of a script without one (past the assignments of `scripts/tokens.sh` that
    /// open some); `setsid` is looked through.
    pub fn name(&self) -> &str {
        let program = self.argv.first().map_or("", String::as_str);
        match (
            program,
            self.argv.get(1).map(String::as_str),
            self.argv.get(2),
        ) {
            ("sh" | "bash", Some("-c"), Some(_)) if self.argv.len() >= 4 => {
                self.argv.get(3).map_or(program, String::as_str)
            }
            ("sh", Some("-c"), Some(script)) => script
                .split_whitespace()
                .find(|word| !is_assignment(word))
                .unwrap_or(program),
            ("setsid", Some(inner), _) => inner,
            _ => program,
        }
    }

    /// Whether the command is started in the background (see [`RemoteCommand::run_command`]).
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// The argv, program first.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The environment assignments, in order.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Renders `NAME='v' cmd 'arg' …` for a POSIX shell, each piece quoted; a detached command
    /// as `{ NAME='v' cmd 'arg' … </dev/null >/dev/null 2>&1 & }`. The braces make it one
    /// complete command, so the envelope can append `; exit $?` (a bare `… &; exit` would be a
    /// syntax error), and the background job is a fork of the envelope's inner shell, so the
    /// login shell still never execs the X2Go program (doc §2.19).
    ///
    /// Quoting fails only on NUL, which no validator lets through; should it ever happen the
    /// result is `false`, so the server runs nothing rather than a mangled command.
    pub fn to_shell(&self) -> String {
        let env = self.env.iter().map(|(name, value)| {
            shlex::try_quote(value).map(|v| Cow::Owned(format!("{name}={v}")))
        });
        let argv = self.argv.iter().map(|a| shlex::try_quote(a));
        match env.chain(argv).collect::<Result<Vec<_>, _>>() {
            Ok(parts) if !parts.is_empty() => {
                let line = parts.join(" ");
                if self.detached {
                    format!("{{ {line} </dev/null >/dev/null 2>&1 & }}")
                } else {
                    line
                }
            }
            _ => "false".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x2go::scripts::token;
    use proptest::prelude::*;

    fn name() -> SessionName {
        SessionName::parse("a_b-50-1700000000_stRmy_app_dp24").unwrap()
    }

    fn split(cmd: &RemoteCommand) -> Vec<String> {
        shlex::split(&cmd.to_shell()).unwrap()
    }

    fn expected_words(cmd: &RemoteCommand) -> Vec<String> {
        cmd.env()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .chain(cmd.argv().iter().cloned())
            .collect()
    }

    #[test]
    fn simple_commands_render_plainly() {
        assert_eq!(
            RemoteCommand::list_sessions(false).to_shell(),
            "x2golistsessions"
        );
        assert_eq!(
            RemoteCommand::suspend(&name()).to_shell(),
            "x2gosuspend-session a_b-50-1700000000_stRmy_app_dp24"
        );
        assert_eq!(
            RemoteCommand::terminate(&name()).argv(),
            ["x2goterminate-session", "a_b-50-1700000000_stRmy_app_dp24"]
        );
        assert_eq!(
            RemoteCommand::list_mounts(&name()).argv()[0],
            "x2golistmounts"
        );
        assert_eq!(RemoteCommand::echo().to_shell(), "echo");
    }

    #[test]
    fn scripts_are_single_quoted_words() {
        let cmd = RemoteCommand::list_sessions(true);
        assert!(
            cmd.to_shell()
                .starts_with("sh -c 'x2golistsessions || exit; ")
        );
        assert!(
            cmd.to_shell()
                .ends_with("then exec x2golistshadowsessions; fi'")
        );
        assert_eq!(split(&cmd), expected_words(&cmd));
        let cmd = RemoteCommand::home_exists();
        assert_eq!(split(&cmd), expected_words(&cmd));
        assert!(cmd.argv()[2].contains(HOME_EXISTS_YES));
        assert!(cmd.argv()[2].contains(HOME_EXISTS_NO));
    }

    #[test]
    fn env_assignments_are_quoted_values() {
        let cmd = Builder::program("x2gostartagent")
            .env(X2GO_XINERAMA, "false")
            .env(X2GODPI, "it's $(x) `y`")
            .arg("1024x768")
            .build();
        let shell = cmd.to_shell();
        assert!(shell.starts_with("X2GO_XINERAMA=false X2GODPI="));
        assert_eq!(split(&cmd), expected_words(&cmd));
    }

    #[test]
    fn nul_renders_as_false() {
        let cmd = Builder::program("echo").arg("a\0b").build();
        assert_eq!(cmd.to_shell(), "false");
        let cmd = Builder::program("echo").env(X2GODPI, "\0").build();
        assert_eq!(cmd.to_shell(), "false");
    }

    #[test]
    fn every_fixed_constructor_round_trips() {
        let all = [
            RemoteCommand::list_sessions(false),
            RemoteCommand::list_sessions(true),
            RemoteCommand::suspend(&name()),
            RemoteCommand::terminate(&name()),
            RemoteCommand::feature_list(),
            RemoteCommand::versions(),
            RemoteCommand::home_exists(),
            RemoteCommand::list_mounts(&name()),
            RemoteCommand::list_desktops(),
            RemoteCommand::get_apps(),
            RemoteCommand::echo(),
            RemoteCommand::resume(&name(), &ResumeArgs::default()),
            RemoteCommand::agent_state(&name()),
            RemoteCommand::await_agent_state(&name(), 3),
            RemoteCommand::suspend_and_await(&name(), 3),
            RemoteCommand::watch_changes(Duration::from_secs(1)),
        ];
        for cmd in all {
            assert_eq!(split(&cmd), expected_words(&cmd), "{cmd:?}");
            assert_ne!(cmd.to_shell(), "false");
        }
    }

    use crate::x2go::session_options::{ColorDepth, Pack};
    use crate::x2go::tokens::{HOME_EXISTS_NO, HOME_EXISTS_YES, SSHFS_NO, SSHFS_YES, X2GO_USER_OK};
    use crate::x2go::validate::{Clipboard, Dpi, Geometry, KeyboardSetting, Link, Username};

    #[test]
    fn start_agent_like_python() {
        let args = StartAgentArgs::new(SessionCommand::parse("XFCE").unwrap());
        let cmd = RemoteCommand::start_agent(&args).unwrap();
        assert_eq!(
            cmd.to_shell(),
            "X2GO_XINERAMA=false x2gostartagent 800x600 adsl 16m-jpeg-9 unix-kde-depth_24 \
             null null/null 0 D XFCE both"
        );
        assert_eq!(cmd.name(), "x2gostartagent");

        let mut args = StartAgentArgs::new(SessionCommand::parse("xterm -e top").unwrap());
        args.geometry = Geometry::Fullscreen;
        args.link = Link::Lan;
        args.pack = Pack::parse("2m-png").unwrap();
        args.depth = ColorDepth::new(16).unwrap();
        args.kblayout = KeyboardSetting::parse("de").unwrap();
        args.kbtype = KeyboardSetting::parse("pc105/de").unwrap();
        args.clipboard = Clipboard::Server;
        args.dpi = Some(Dpi::new(96).unwrap());
        args.xinerama = true;
        let cmd = RemoteCommand::start_agent(&args).unwrap();
        assert_eq!(
            split(&cmd),
            [
                "X2GO_XINERAMA=true",
                "X2GODPI=96",
                "x2gostartagent",
                "fullscreen",
                "lan",
                "2m-png",
                "unix-kde-depth_16",
                "de",
                "pc105/de",
                "1",
                "R",
                "xterm",
                "server"
            ]
        );
    }

    #[test]
    fn start_agent_shadow() {
        let alice = Username::parse("alice").unwrap();
        let d = Display::parse("50").unwrap();
        let args = StartAgentArgs::new(SessionCommand::shadow(true, &alice, d));
        assert_eq!(args.session_type, SessionType::Shadow);
        let cmd = RemoteCommand::start_agent(&args).unwrap();
        let words = split(&cmd);
        assert_eq!(
            words.last().map(String::as_str),
            Some("1XSHADaliceXSHAD:50")
        );
        assert_eq!(words[words.len() - 2], "S");
        // Mismatches are refused both ways.
        let mut bad = args.clone();
        bad.session_type = SessionType::Desktop;
        assert!(RemoteCommand::start_agent(&bad).is_err());
        let mut bad = StartAgentArgs::new(SessionCommand::parse("xterm").unwrap());
        bad.session_type = SessionType::Shadow;
        assert!(RemoteCommand::start_agent(&bad).is_err());
    }

    #[test]
    fn run_command_is_detached() {
        let cmd = RemoteCommand::run_command(
            &Display::parse("50").unwrap(),
            4711,
            &name(),
            30002,
            &SessionCommand::parse("xterm -e top").unwrap(),
            SessionType::Application,
            SoundSystem::None,
        );
        assert!(cmd.is_detached());
        assert_eq!(cmd.name(), "x2goruncommand");
        let shell = cmd.to_shell();
        assert_eq!(
            shell,
            "{ setsid x2goruncommand 50 4711 a_b-50-1700000000_stRmy_app_dp24 30002 \
             xtermX2GO_SPACE_CHAR-eX2GO_SPACE_CHARtop none R </dev/null >/dev/null 2>&1 & }"
        );
        let inner = shell
            .strip_prefix("{ ")
            .and_then(|s| s.strip_suffix(" </dev/null >/dev/null 2>&1 & }"))
            .unwrap();
        assert_eq!(shlex::split(inner).unwrap(), expected_words(&cmd));
    }

    /// The sound form, run by real shells with a stand-in `x2goruncommand`: the cookie from
    /// standard input lands in a private file, the config names it and the port, and the
    /// program is started with `PULSE_CLIENTCONFIG` and `pulse`; a second set-up (a resume)
    /// replaces both.
    #[test]
    fn run_command_with_sound_writes_the_client_config_in_real_shells() {
        use std::os::unix::fs::PermissionsExt;
        let cmd = RemoteCommand::run_command(
            &Display::parse("50").unwrap(),
            4711,
            &name(),
            30002,
            &SessionCommand::parse("xterm").unwrap(),
            SessionType::Application,
            SoundSystem::Pulse,
        );
        assert_eq!(cmd.name(), "x2goruncommand");
        for shell in ["/bin/bash", "/bin/dash"] {
            if !std::path::Path::new(shell).exists() {
                continue;
            }
            let home = tempfile::tempdir().unwrap();
            let bin = home.path().join("bin");
            let session = home
                .path()
                .join(".x2go")
                .join(format!("C-{}", name().as_str()));
            std::fs::create_dir_all(&session).unwrap();
            std::fs::create_dir_all(&bin).unwrap();
            let record = home.path().join("ran");
            let fake = bin.join("x2goruncommand");
            std::fs::write(
                &fake,
                format!(
                    "#!/bin/sh\necho \"$PULSE_CLIENTCONFIG $*\" >{}\n",
                    record.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
            let run = |cmd: &RemoteCommand, cookie: &[u8]| {
                use std::io::Write;
                let mut child = std::process::Command::new(shell)
                    .arg("-c")
                    .arg(cmd.to_shell())
                    .env("HOME", home.path())
                    .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                child.stdin.take().unwrap().write_all(cookie).unwrap();
                assert!(child.wait().unwrap().success(), "{shell}");
            };
            run(&cmd, &[7; 256]);
            let conf = session.join(".pulse-client.conf");
            let cookie = session.join(".pulse-cookie");
            for _ in 0..100 {
                if record.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let ran = std::fs::read_to_string(&record).unwrap();
            assert_eq!(
                ran.trim(),
                format!(
                    "{} 50 4711 {} 30002 xterm pulse R",
                    conf.display(),
                    name().as_str()
                )
            );
            assert_eq!(
                std::fs::read_to_string(&conf).unwrap(),
                format!(
                    "default-server=127.0.0.1:30002\ncookie-file={}\n",
                    cookie.display()
                )
            );
            assert_eq!(std::fs::read(&cookie).unwrap(), [7; 256]);
            for f in [&conf, &cookie] {
                let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{shell} {}", f.display());
            }
            run(&RemoteCommand::sound_setup(&name(), 30100), &[9; 256]);
            assert!(std::fs::read_to_string(&conf).unwrap().contains(":30100\n"));
            assert_eq!(std::fs::read(&cookie).unwrap(), [9; 256]);
        }
    }

    /// The detached form inside the real envelope: the channel's stdout closes at once even
    /// though the program keeps running, and the exit status is the launch's.
    #[test]
    fn detached_command_returns_immediately_in_real_shells() {
        use std::time::{Duration, Instant};
        let cmd = Builder::program("sleep").arg("5").detached().build();
        let env = crate::x2go::Envelope::new("abcdefgh-1234").unwrap();
        let wire = env.wrap(&cmd);
        for shell in ["/bin/bash", "/bin/dash"] {
            if !std::path::Path::new(shell).exists() {
                continue;
            }
            let t = Instant::now();
            // `output()` waits for EOF on stdout/stderr, like an SSH channel does.
            let out = std::process::Command::new(shell)
                .arg("-c")
                .arg(&wire)
                .output()
                .unwrap();
            assert!(t.elapsed() < Duration::from_secs(2), "{shell} waited");
            assert_eq!(out.status.code(), Some(0), "{shell}");
            assert_eq!(env.unwrap(&out.stdout).unwrap(), b"");
        }
    }

    #[test]
    fn set_keyboard_quotes_each_value() {
        use super::super::validate::KeyboardSetting;
        let kb = |s: &str| KeyboardSetting::parse(s).unwrap();
        let keyboard =
            SessionKeyboard::new(&kb("pc105/de"), &kb("de"), Some(&kb("nodeadkeys"))).unwrap();
        let cmd = RemoteCommand::set_keyboard(&Display::parse("50").unwrap(), &keyboard);
        assert_eq!(
            cmd.to_shell(),
            "DISPLAY=:50 setxkbmap -model pc105 -layout de -variant nodeadkeys"
        );
        assert_eq!(cmd.name(), "setxkbmap");
        assert_eq!(split(&cmd), expected_words(&cmd));
    }

    #[test]
    fn resume_like_python() {
        let cmd = RemoteCommand::resume(&name(), &ResumeArgs::default());
        assert_eq!(&cmd.argv()[..3], ["sh", "-c", RESUME_SCRIPT]);
        assert_eq!(
            cmd.argv()[3..].join(" "),
            "x2goresume-session a_b-50-1700000000_stRmy_app_dp24 800x600 adsl 16m-jpeg-9 null \
             null/null 0 both False"
        );
        let args = ResumeArgs {
            kbtype: KeyboardSetting::parse("auto").unwrap(),
            xinerama: true,
            ..ResumeArgs::default()
        };
        let words = split(&RemoteCommand::resume(&name(), &args));
        assert_eq!(&words[9..], ["auto", "1", "both", "True"]);
    }

    #[test]
    fn agent_state_passes_the_name_as_a_parameter() {
        let cmd = RemoteCommand::agent_state(&name());
        assert_eq!(cmd.name(), "x2gogetagentstate");
        let argv = cmd.argv();
        assert_eq!(argv[0], "sh");
        assert!(!argv[2].contains(name().as_str()));
        assert_eq!(argv[4], name().as_str());
        assert_eq!(split(&cmd), expected_words(&cmd));
    }

    /// Runs the agent-state script with a fake `x2gopath` and state script, checking that the
    /// name arrives as one untouched argument.
    #[test]
    fn agent_state_script_runs() {
        let cmd = RemoteCommand::agent_state(&name());
        let (code, out, _) = run_with_fakes(
            &cmd,
            &[("x2gogetagentstate", "printf 'RUNNING %s %s' \"$#\" \"$1\"")],
        );
        assert_eq!(code, 0);
        assert_eq!(out, format!("RUNNING 1 {}", name().as_str()));
    }

    /// A user name of this test process's own, whose `/tmp/.x2go-<user>` (see
    /// `scripts/x2go_tmp_dir.sh`) the test owns; removed again on drop.
    struct TmpUser(String);

    impl TmpUser {
        fn new(tag: &str) -> Self {
            let user = format!("x2godtest{}{tag}", std::process::id());
            let _ = std::fs::remove_dir_all(Self::dir_of(&user));
            Self(user)
        }
        fn dir_of(user: &str) -> std::path::PathBuf {
            std::path::PathBuf::from(format!("/tmp/.x2go-{user}"))
        }
        fn dir(&self) -> std::path::PathBuf {
            Self::dir_of(&self.0)
        }
    }

    impl Drop for TmpUser {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.dir());
        }
    }

    /// The resume script waits while the agent says `SUSPENDING`, then runs
    /// `x2goresume-session` with the same words; without a state file it does not wait.
    #[test]
    fn resume_waits_out_suspending() {
        use std::time::{Duration, Instant};
        let user = TmpUser::new("resume");
        let state = user.dir().join(format!("C-{}/state", name().as_str()));
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        let cmd = RemoteCommand::resume(&name(), &ResumeArgs::default());
        let env = [
            ("USER", std::ffi::OsStr::new(&user.0)),
            ("STATE", state.as_os_str()),
        ];
        let fake = [(
            "x2goresume-session",
            "printf '%s|' \"$(cat \"$STATE\" 2>/dev/null)\" \"$@\"",
        )];
        for suspending in [true, false] {
            let writer = if suspending {
                std::fs::write(&state, "SUSPENDING").unwrap();
                let state = state.clone();
                Some(std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    std::fs::write(&state, "SUSPENDED").unwrap();
                }))
            } else {
                let _ = std::fs::remove_file(&state);
                None
            };
            let t = Instant::now();
            let (code, out, _) = run_with_fakes_env(&cmd, &fake, &env);
            let took = t.elapsed();
            assert_eq!(code, 0);
            let words: Vec<&str> = out.split('|').collect();
            assert_eq!(words[1..10].join(" "), cmd.argv()[4..].join(" "), "{out}");
            if let Some(writer) = writer {
                writer.join().unwrap();
                assert_eq!(words[0], "SUSPENDED");
                assert!(took >= Duration::from_millis(300), "{took:?}");
                assert!(took < Duration::from_millis(900), "{took:?}");
            } else {
                assert_eq!(words[0], "");
                assert!(took < Duration::from_millis(300), "{took:?}");
            }
        }
    }

    /// The probe of a dead agent's log: at once without polls, and catching a line the agent
    /// writes a moment later with them.
    #[test]
    fn agent_port_probe_reads_the_log_and_waits_for_it() {
        use std::time::{Duration, Instant};
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(format!(".x2go/C-{}", name().as_str()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("session.log");
        let env = [("HOME", home.path().as_os_str())];
        let probe = |polls| {
            let t = Instant::now();
            let (code, _, _) =
                run_with_fakes_env(&RemoteCommand::agent_port_taken(&name(), polls), &[], &env);
            (code, t.elapsed())
        };
        // No log yet, or one without the line: no.
        assert_eq!(probe(0).0, 1);
        std::fs::write(&log, "Info: Agent running.\n").unwrap();
        let (code, took) = probe(3);
        assert_eq!(code, 1);
        assert!(took >= Duration::from_millis(300), "{took:?}");
        // Written 200 ms later: found within the polls.
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                let line = "Loop: PANIC! Call to bind failed for NX. Error is 98 'Address already in use'.\n";
                std::fs::write(&log, line).unwrap();
            })
        };
        let (code, took) = probe(30);
        writer.join().unwrap();
        assert_eq!(code, 0);
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(probe(0).0, 0);
    }

    /// A state directory the user does not own (another user made `/tmp/.x2go-<user>` first)
    /// is never read: the resume does not wait on its `SUSPENDING`, the watcher does not start
    /// (the daemon polls instead). Needs root, to give the directory away.
    #[test]
    fn a_state_directory_of_another_owner_is_not_read() {
        use std::time::{Duration, Instant};
        let user = TmpUser::new("foreign");
        let state = user.dir().join(format!("C-{}/state", name().as_str()));
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(&state, "SUSPENDING").unwrap();
        if let Err(e) = std::os::unix::fs::chown(user.dir(), Some(65534), Some(65534)) {
            assert!(std::env::var_os("CI").is_none(), "CI runs as root: {e}");
            eprintln!("skipped: giving a directory away needs root ({e})");
            return;
        }
        let env = [("USER", std::ffi::OsStr::new(&user.0))];
        let cmd = RemoteCommand::resume(&name(), &ResumeArgs::default());
        let fake = [("x2goresume-session", "echo resumed")];
        let t = Instant::now();
        let (code, out, _) = run_with_fakes_env(&cmd, &fake, &env);
        assert_eq!((code, out.trim()), (0, "resumed"));
        assert!(
            t.elapsed() < Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        let watch = RemoteCommand::watch_changes(Duration::from_millis(100));
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(watch.to_shell())
            .env("USER", &user.0)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            out.stdout.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(err.contains("is not owned by"), "{err}");
    }

    /// The shadow listing runs only where this user has had a shadow session: a session
    /// directory `C-<user>-*XSHAD*` in any user's `/tmp/.x2go-*`, or (as a link) in `~/.x2go`.
    #[test]
    fn shadow_listing_only_after_a_shadow_session() {
        let user = TmpUser::new("shadow");
        let other = TmpUser::new("other");
        let home = tempfile::tempdir().unwrap();
        let cmd = RemoteCommand::list_sessions(true);
        let env = [
            ("USER", std::ffi::OsStr::new(&user.0)),
            ("HOME", home.path().as_os_str()),
        ];
        let fakes = [
            ("x2golistsessions", "echo plain; echo l >>calls"),
            (
                "x2golistshadowsessions",
                "echo shadow; echo s >>calls; exit 4",
            ),
        ];
        let plain = (0, "plain\n".to_owned(), "l\n".to_owned());
        let both = (4, "plain\nshadow\n".to_owned(), "l\ns\n".to_owned());
        let u = &user.0;
        let own = format!("C-{u}-52-1700000200_stSfullXSHAD{u}XSHADPP50_dp24");
        std::fs::create_dir_all(user.dir().join(format!("C-{}", name().as_str()))).unwrap();
        std::fs::create_dir_all(home.path().join(".x2go")).unwrap();
        // Another user's shadow session of this user's desktop is not this user's.
        let theirs = format!("C-{}-53-1700000300_stSfullXSHAD{u}XSHADPP50_dp24", other.0);
        std::fs::create_dir_all(user.dir().join(&theirs)).unwrap();
        std::os::unix::fs::symlink(
            user.dir().join(&theirs),
            home.path().join(".x2go").join(&theirs),
        )
        .unwrap();
        assert_eq!(run_with_fakes_env(&cmd, &fakes, &env), plain);
        // x2gostartagent's link, dangling.
        let link = home.path().join(".x2go").join(&own);
        std::os::unix::fs::symlink(user.dir().join(&own), &link).unwrap();
        assert_eq!(run_with_fakes_env(&cmd, &fakes, &env), both);
        std::fs::remove_file(&link).unwrap();
        std::fs::create_dir_all(user.dir().join(&own)).unwrap();
        assert_eq!(run_with_fakes_env(&cmd, &fakes, &env), both);
        std::fs::remove_dir(user.dir().join(&own)).unwrap();
        // This user's shadow session of another user's desktop lives in theirs.
        let of_other = format!("C-{u}-54-1700000400_stSfullXSHAD{}XSHADPP51_dp24", other.0);
        std::fs::create_dir_all(other.dir().join(&of_other)).unwrap();
        assert_eq!(run_with_fakes_env(&cmd, &fakes, &env), both);
        // A failing session listing ends the command.
        let failing = [("x2golistsessions", "echo l >>calls; exit 2"), fakes[1]];
        assert_eq!(
            run_with_fakes_env(&cmd, &failing, &env),
            (2, String::new(), "l\n".into())
        );
    }

    /// Runs `cmd` with fake server scripts in a fresh directory first on `PATH` (and named by
    /// the fake `x2gopath`); returns the exit status, stdout and the file `calls` the fakes
    /// append to.
    fn run_with_fakes(cmd: &RemoteCommand, fakes: &[(&str, &str)]) -> (i32, String, String) {
        run_with_fakes_env(cmd, fakes, &[])
    }

    /// As [`run_with_fakes`], with `env` added to the command's environment.
    fn run_with_fakes_env(
        cmd: &RemoteCommand,
        fakes: &[(&str, &str)],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> (i32, String, String) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let write = |n: &str, body: &str| {
            let p = dir.path().join(n);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write("x2gopath", &format!("echo '{}'", dir.path().display()));
        for (n, body) in fakes {
            write(n, body);
        }
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd.to_shell())
            .current_dir(dir.path())
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap_or_default();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            calls,
        )
    }

    /// The agent answers `RUNNING` twice (it has not handled the signal yet), then
    /// `SUSPENDED`: the wait outlasts the stale answer and prints the final one.
    #[test]
    fn suspend_and_await_waits_for_the_agent() {
        let cmd = RemoteCommand::suspend_and_await(&name(), 100);
        assert_eq!(cmd.name(), "x2gosuspend-session");
        assert!(!cmd.argv()[2].contains(name().as_str()));
        let state = "echo state \"$1\" >>calls; n=$(grep -c state calls); \
                     if [ \"$n\" -le 2 ]; then echo RUNNING; else echo SUSPENDED; fi";
        let (code, out, calls) = run_with_fakes(
            &cmd,
            &[
                ("x2gosuspend-session", "echo suspend \"$#\" \"$1\" >>calls"),
                ("x2gogetagentstate", state),
            ],
        );
        assert_eq!(code, 0);
        assert_eq!(out.trim(), "SUSPENDED");
        let n = name();
        let want = format!(
            "suspend 1 {n}\nstate {n}\nstate {n}\nstate {n}\n",
            n = n.as_str()
        );
        assert_eq!(calls, want);
    }

    /// A failing suspend ends the script with its status, and nothing is polled.
    #[test]
    fn suspend_and_await_stops_when_the_suspend_fails() {
        let cmd = RemoteCommand::suspend_and_await(&name(), 100);
        let (code, out, calls) = run_with_fakes(
            &cmd,
            &[
                ("x2gosuspend-session", "exit 3"),
                ("x2gogetagentstate", "echo state >>calls; echo SUSPENDED"),
            ],
        );
        assert_eq!((code, out.as_str(), calls.as_str()), (3, "", ""));
    }

    /// Where the user's X2Go directory has the agent's state file, the wait reads it: no
    /// `x2gogetagentstate` runs.
    #[test]
    fn await_agent_state_reads_the_state_file() {
        use std::time::Duration;
        let user = TmpUser::new("await");
        let state = user.dir().join(format!("C-{}/state", name().as_str()));
        std::fs::create_dir_all(state.parent().unwrap()).unwrap();
        std::fs::write(&state, "RESUMING").unwrap();
        let writer = {
            let state = state.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                std::fs::write(&state, "RUNNING").unwrap();
            })
        };
        let cmd = RemoteCommand::await_agent_state(&name(), 100);
        let (code, out, calls) = run_with_fakes_env(
            &cmd,
            &[("x2gogetagentstate", "echo state >>calls; echo TERMINATED")],
            &[("USER", std::ffi::OsStr::new(&user.0))],
        );
        writer.join().unwrap();
        assert_eq!((code, out.trim(), calls.as_str()), (0, "RUNNING", ""));
    }

    /// The attach wait gives up after `polls` checks and prints the last state.
    #[test]
    fn await_agent_state_gives_up_after_the_polls() {
        let cmd = RemoteCommand::await_agent_state(&name(), 3);
        let (code, out, calls) = run_with_fakes(
            &cmd,
            &[("x2gogetagentstate", "echo state >>calls; echo RESUMING")],
        );
        assert_eq!((code, out.trim()), (0, "RESUMING"));
        assert_eq!(calls.lines().count(), 3);
    }

    /// The probes print the tokens of `scripts/tokens.sh` they include, and keep the names
    /// they had as one-line scripts.
    #[test]
    fn probes_print_their_tokens() {
        let home = tempfile::tempdir().unwrap();
        let missing = home.path().join("missing");
        let cmd = RemoteCommand::home_exists();
        assert_eq!(cmd.name(), "if");
        for (dir, want) in [
            (home.path(), HOME_EXISTS_YES),
            (missing.as_path(), HOME_EXISTS_NO),
        ] {
            let (code, out, _) = run_with_fakes_env(&cmd, &[], &[("HOME", dir.as_os_str())]);
            assert_eq!((code, out.as_str()), (0, format!("{want}\n").as_str()));
        }

        let cmd = RemoteCommand::sshfs_available();
        assert_eq!(cmd.name(), "if");
        let (code, out, _) = run_with_fakes(&cmd, &[]);
        assert_eq!(code, 0);
        assert!([SSHFS_YES, SSHFS_NO].contains(&out.trim_end()), "{out:?}");
        let (_, out, _) = run_with_fakes(&cmd, &[("sshfs", ""), ("fusermount", "")]);
        let fuse = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/fuse")
            .is_ok();
        assert_eq!(out.trim_end(), if fuse { SSHFS_YES } else { SSHFS_NO });

        let cmd = RemoteCommand::x2go_user(&Username::parse("alice").unwrap());
        let h = home.path().display();
        for (getent, want) in [
            ("exit 2".to_owned(), token("x2god_user_unknown")),
            (
                format!("echo 'alice:x:1000:1000::{h}:/usr/sbin/nologin'"),
                token("x2god_user_no_login"),
            ),
            (
                format!("echo 'alice:x:1000:1000::{h}/missing:/bin/sh'"),
                token("x2god_user_no_home"),
            ),
            (
                format!("echo \"$1:x:1000:1000::{h}:/bin/sh\""),
                X2GO_USER_OK,
            ),
        ] {
            let (code, out, _) = run_with_fakes(
                &cmd,
                &[(
                    "getent",
                    &format!("[ \"$1\" = passwd ] || exit 9; shift; {getent}"),
                )],
            );
            assert_eq!((code, out.trim_end()), (0, want), "{getent}");
        }
        assert_eq!(
            RemoteCommand::list_sessions(true).name(),
            "x2golistsessions"
        );
    }

    #[test]
    fn watch_changes_arguments() {
        let cmd = RemoteCommand::watch_changes(Duration::from_millis(500));
        assert_eq!(cmd.name(), "x2god-watch");
        assert_eq!(&cmd.argv()[3..], ["x2god-watch", "0.500", "60"]);
        assert_eq!(split(&cmd), expected_words(&cmd));
        let cmd = RemoteCommand::watch_changes(Duration::ZERO);
        assert_eq!(&cmd.argv()[4..], ["0.100", "300"]);
        let cmd = RemoteCommand::watch_changes(Duration::from_secs(3600));
        assert_eq!(&cmd.argv()[4..], ["10.000", "3"]);
        let cmd = RemoteCommand::watch_changes(Duration::from_millis(700));
        assert_eq!(&cmd.argv()[4..], ["0.700", "43"]);
    }

    proptest! {
        #[test]
        fn start_and_run_commands_round_trip(
            line in "[a-z][A-Za-z0-9._/+,:=@%-]{0,20}( [A-Za-z0-9._/+,:=@%-]{1,10}){0,4}",
            pid in 1u32..,
            port in 1u16..,
        ) {
            let Ok(c) = SessionCommand::parse(&line) else { return Ok(()); };
            let args = StartAgentArgs::new(c.clone());
            let cmd = RemoteCommand::start_agent(&args).unwrap();
            prop_assert_eq!(split(&cmd), expected_words(&cmd));
            let run = RemoteCommand::run_command(
                &Display::parse("50").unwrap(), pid, &name(), port, &c, args.session_type,
                SoundSystem::None,
            );
            let shell = run.to_shell();
            let inner = shell
                .strip_prefix("{ ")
                .and_then(|s| s.strip_suffix(" </dev/null >/dev/null 2>&1 & }"))
                .unwrap();
            prop_assert_eq!(shlex::split(inner).unwrap(), expected_words(&run));
        }
    }

    proptest! {
        #[test]
        fn session_commands_round_trip(
            s in "[A-Za-z0-9._][A-Za-z0-9._@-]{0,12}-[0-9]{2,4}-[0-9]{9,12}_st[A-Z][A-Za-z0-9._-]{0,12}_dp[0-9]{1,2}[A-Za-z0-9._-]{0,6}"
        ) {
            let n = SessionName::parse(&s).unwrap();
            for cmd in [
                RemoteCommand::suspend(&n),
                RemoteCommand::terminate(&n),
                RemoteCommand::list_mounts(&n),
            ] {
                prop_assert_eq!(split(&cmd), expected_words(&cmd));
            }
        }

        #[test]
        fn builder_round_trips_any_nul_free_text(
            args in proptest::collection::vec("[^\u{0}]{0,40}", 0..5),
            value in "[^\u{0}]{0,40}",
        ) {
            let mut b = Builder::program("x2goruncommand").env(X2GODPI, &value);
            for a in &args {
                b = b.arg(a);
            }
            let cmd = b.build();
            prop_assert_eq!(split(&cmd), expected_words(&cmd));
        }
    }
}
