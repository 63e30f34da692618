//! Remote command lines, built only from validated values.
//!
//! A [`RemoteCommand`] is an environment plus an argv; it is rendered for the shell with every
//! piece quoted, so no value is ever parsed as shell syntax. Commands that need shell features
//! (a sequence, `$HOME`) run a constant script through `sh -c`, which interpolates nothing.

use std::borrow::Cow;

use super::validate::SessionName;

/// The name of an environment variable set on a remote command.
///
/// Only constructible in `const` context inside this module, so a malformed name is a compile
/// error rather than a runtime failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
struct EnvName(&'static str);

#[cfg_attr(not(test), allow(dead_code))]
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

/// Accumulates one command; constructors below are the only users, so every value it receives
/// already went through a validator.
struct Builder {
    env: Vec<(String, String)>,
    argv: Vec<String>,
}

#[cfg_attr(not(test), allow(dead_code))]
impl Builder {
    fn program(name: &'static str) -> Self {
        Self {
            env: Vec::new(),
            argv: vec![name.to_owned()],
        }
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
        }
    }
}

/// A constant `sh -c` script: the only way shell syntax enters a command, and it never contains
/// outside data.
fn shell_script(script: &'static str) -> RemoteCommand {
    Builder::program("sh").arg("-c").arg(script).build()
}

/// Output of [`RemoteCommand::home_exists`] when `$HOME` is a directory.
pub const HOME_EXISTS_YES: &str = "X2GOD_HOME_EXISTS";
/// Output of [`RemoteCommand::home_exists`] when it is not.
pub const HOME_EXISTS_NO: &str = "X2GOD_HOME_MISSING";

/// A command to run on the X2Go server: environment assignments plus an argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    env: Vec<(String, String)>,
    argv: Vec<String>,
}

impl RemoteCommand {
    /// List the caller's sessions; with `include_shadow`, append the shadow-session listing in
    /// the same exec (only when the server has `X2GO_LIST_SHADOWSESSIONS`, doc §2.4).
    pub fn list_sessions(include_shadow: bool) -> Self {
        if include_shadow {
            // `&&` so a failing first listing makes the whole command fail instead of being
            // masked by the second one's status.
            shell_script("x2golistsessions && x2golistshadowsessions")
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

    /// The remote home directory, printed verbatim on one line (no word splitting, unlike
    /// python-x2go's `echo $HOME`).
    pub fn remote_home() -> Self {
        Builder::program("printenv").arg("HOME").build()
    }

    /// Whether `$HOME` is a directory: prints [`HOME_EXISTS_YES`] or [`HOME_EXISTS_NO`]. The home
    /// path is expanded by the remote shell, never interpolated by us.
    pub fn home_exists() -> Self {
        shell_script(
            "if test -d \"$HOME\"; then echo X2GOD_HOME_EXISTS; else echo X2GOD_HOME_MISSING; fi",
        )
    }

    /// Path of `fusermount`, or nothing when it is missing (doc §2.3); always exit status 0, so
    /// "absent" is not mistaken for a failed command.
    pub fn which_fusermount() -> Self {
        shell_script("command -v fusermount || :")
    }

    /// Folders shared into a session (doc §2.11).
    pub fn list_mounts(name: &SessionName) -> Self {
        Builder::program("x2golistmounts")
            .arg(name.as_str())
            .build()
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

    /// An arbitrary argv, for tests in sibling modules that need a command no constructor builds.
    #[cfg(test)]
    pub(crate) fn for_test(argv: Vec<String>) -> Self {
        Self {
            env: Vec::new(),
            argv,
        }
    }

    /// A short name for logs and errors: the program, or the first word of a fixed script.
    pub fn name(&self) -> &str {
        let program = self.argv.first().map_or("", String::as_str);
        match (
            program,
            self.argv.get(1).map(String::as_str),
            self.argv.get(2),
        ) {
            ("sh", Some("-c"), Some(script)) => script.split_whitespace().next().unwrap_or(program),
            _ => program,
        }
    }

    /// The argv, program first.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The environment assignments, in order.
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Renders `NAME='v' cmd 'arg' …` for a POSIX shell, each piece quoted.
    ///
    /// Quoting fails only on NUL, which no validator lets through; should it ever happen the
    /// result is `false`, so the server runs nothing rather than a mangled command.
    pub fn to_shell(&self) -> String {
        let env = self.env.iter().map(|(name, value)| {
            shlex::try_quote(value).map(|v| Cow::Owned(format!("{name}={v}")))
        });
        let argv = self.argv.iter().map(|a| shlex::try_quote(a));
        match env.chain(argv).collect::<Result<Vec<_>, _>>() {
            Ok(parts) if !parts.is_empty() => parts.join(" "),
            _ => "false".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const X2GO_XINERAMA: EnvName = EnvName::new("X2GO_XINERAMA");
    const X2GODPI: EnvName = EnvName::new("X2GODPI");

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
        assert_eq!(RemoteCommand::remote_home().to_shell(), "printenv HOME");
        assert_eq!(RemoteCommand::echo().to_shell(), "echo");
    }

    #[test]
    fn scripts_are_single_quoted_words() {
        let cmd = RemoteCommand::list_sessions(true);
        assert_eq!(
            cmd.to_shell(),
            "sh -c 'x2golistsessions && x2golistshadowsessions'"
        );
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
            RemoteCommand::remote_home(),
            RemoteCommand::home_exists(),
            RemoteCommand::which_fusermount(),
            RemoteCommand::list_mounts(&name()),
            RemoteCommand::list_desktops(),
            RemoteCommand::get_apps(),
            RemoteCommand::echo(),
        ];
        for cmd in all {
            assert_eq!(split(&cmd), expected_words(&cmd), "{cmd:?}");
            assert_ne!(cmd.to_shell(), "false");
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
