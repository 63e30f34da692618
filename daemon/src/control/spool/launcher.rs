//! Starting the programs print and MIME box actions name: a PDF viewer, `lp`, a print
//! command, `xdg-open`.
//!
//! Under the systemd user unit x2god runs in a sandbox (`systemd/x2god.service.in`: read-only
//! system, `MemoryDenyWriteExecute=`, a system call filter, no new privileges) that every
//! child inherits; a PDF viewer or a browser opened by `xdg-open` breaks in it (no JIT, no
//! setuid helpers). So when x2god runs as a unit (`INVOCATION_ID` or `NOTIFY_SOCKET` set by
//! systemd), a program is started as a transient unit of the user manager instead:
//! `systemd-run --user --collect --quiet --unit=x2god-<purpose>-<random> -- prog args…`, outside
//! our sandbox, like any program the desktop starts. Otherwise it is started directly.
//!
//! Either way there is no shell: arguments go as argv, whatever they contain. `DISPLAY` and
//! `XAUTHORITY` are passed on explicitly when given (a transient unit gets the manager's
//! environment, not ours). A direct child gets a process group of its own (a signal to the
//! daemon's group does not close the user's viewer) and is reaped by a task; each launch is
//! logged with its program, never its arguments.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::error::Error;

/// How much of a waited-for program's standard error is kept for the log.
const STDERR_KEPT: usize = 2048;

/// How long standard error is still read after the program exited (a child it left behind
/// may hold the pipe open forever).
const STDERR_AFTER_EXIT: Duration = Duration::from_secs(1);

/// How programs are started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchMode {
    /// As children of the daemon.
    Direct,
    /// As transient units of the systemd user manager (`systemd-run --user`).
    SystemdUnit,
}

/// When a launch counts as done (see [`Launched::finished`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Once the program runs (a viewer: it may run for hours).
    Started,
    /// Once the program exited (`lp`, a print command: its input file may go then). Under
    /// systemd this adds `--wait`.
    Exited,
}

/// Starts programs; see the module documentation. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// Directly or as transient units.
    pub mode: LaunchMode,
    /// `DISPLAY` for the programs, when set.
    pub display: Option<OsString>,
    /// `XAUTHORITY` for the programs, when set.
    pub xauthority: Option<OsString>,
    /// The `systemd-run` program.
    pub systemd_run: PathBuf,
    /// The `lp` program the `PRINT` action runs.
    pub lp: PathBuf,
    /// The `xdg-open` program the MIME box's `OPEN` action runs.
    pub xdg_open: PathBuf,
}

impl Default for Launcher {
    /// Direct launches, programs found on `PATH`, no display given.
    fn default() -> Self {
        Launcher {
            mode: LaunchMode::Direct,
            display: None,
            xauthority: None,
            systemd_run: "systemd-run".into(),
            lp: "lp".into(),
            xdg_open: "xdg-open".into(),
        }
    }
}

/// A started program. Dropping it is fine: the program is reaped all the same.
#[derive(Debug)]
pub struct Launched {
    done: oneshot::Receiver<Option<ExitStatus>>,
}

impl Launched {
    /// Waits until the launch is done (see [`Until`]): the exit status, or `None` when it
    /// could not be waited for.
    pub async fn finished(self) -> Option<ExitStatus> {
        self.done.await.ok().flatten()
    }
}

/// Whether the environment says we run as a systemd unit.
fn under_systemd(var: impl Fn(&str) -> Option<OsString>) -> bool {
    ["INVOCATION_ID", "NOTIFY_SOCKET"]
        .iter()
        .any(|name| var(name).is_some_and(|v| !v.is_empty()))
}

impl Launcher {
    /// The launcher for this process: transient units when it runs as a systemd unit, else
    /// direct children.
    pub fn from_env() -> Launcher {
        let mode = if under_systemd(|name| std::env::var_os(name)) {
            LaunchMode::SystemdUnit
        } else {
            LaunchMode::Direct
        };
        Launcher {
            mode,
            ..Launcher::default()
        }
    }

    /// The same launcher with a display (and its X authority file) for the programs.
    pub fn with_display(mut self, display: Option<OsString>, xauthority: Option<OsString>) -> Self {
        self.display = display;
        self.xauthority = xauthority;
        self
    }

    /// The full argv for running `argv` in this mode (the argv itself when direct).
    fn command_line(&self, purpose: &str, argv: Vec<OsString>, until: Until) -> Vec<OsString> {
        if self.mode == LaunchMode::Direct {
            return argv;
        }
        let mut unit: String = format!("x2god-{purpose}-{:08x}", rand::random::<u32>());
        unit.retain(|c| c.is_ascii_alphanumeric() || c == '-');
        let mut line: Vec<OsString> = vec![
            self.systemd_run.clone().into(),
            "--user".into(),
            "--collect".into(),
            "--quiet".into(),
        ];
        if until == Until::Exited {
            line.push("--wait".into());
        }
        line.push(format!("--unit={unit}").into());
        for (name, value) in [("DISPLAY", &self.display), ("XAUTHORITY", &self.xauthority)] {
            if let Some(value) = value {
                let mut arg = OsString::from(format!("--setenv={name}="));
                arg.push(value);
                line.push(arg);
            }
        }
        line.push("--".into());
        line.extend(argv);
        line
    }

    /// Starts `argv` (program first). `purpose` names it in logs and unit names (`pdfview`,
    /// `print`, …). Must be called within the tokio runtime, which reaps the child.
    pub fn launch(
        &self,
        purpose: &str,
        argv: Vec<OsString>,
        until: Until,
    ) -> Result<Launched, Error> {
        let program = argv
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if program.is_empty() {
            return Err(Error::Setting(format!("no program to start for {purpose}")));
        }
        let line = self.command_line(purpose, argv, until);
        let Some((first, rest)) = line.split_first() else {
            return Err(Error::Setting(format!("no program to start for {purpose}")));
        };
        let mut command = Command::new(first);
        command
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if until == Until::Exited {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .process_group(0)
            .kill_on_drop(false);
        if self.mode == LaunchMode::Direct {
            if let Some(display) = &self.display {
                command.env("DISPLAY", display);
            }
            if let Some(xauthority) = &self.xauthority {
                command.env("XAUTHORITY", xauthority);
            }
        }
        let mut child = command.spawn().map_err(|source| Error::Launch {
            program: program.clone(),
            source,
        })?;
        info!(purpose, program = %program, mode = ?self.mode, pid = child.id(), "started a program");
        let stderr = child.stderr.take();
        let (tx, done) = oneshot::channel();
        let purpose = purpose.to_owned();
        // Started: done now. Exited: done when the reaper saw the exit.
        let mut tx = Some(tx);
        if until == Until::Started
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(None);
        }
        tokio::spawn(async move {
            let reader = stderr.map(|s| tokio::spawn(keep_head(s)));
            let status = child.wait().await.ok();
            let stderr = match reader {
                Some(r) => tokio::time::timeout(STDERR_AFTER_EXIT, r)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            match status {
                Some(s) if s.success() => debug!(purpose, program = %program, "program ended"),
                Some(s) => warn!(
                    purpose,
                    program = %program,
                    status = %s,
                    stderr = %String::from_utf8_lossy(&stderr).trim(),
                    "program failed"
                ),
                None => warn!(purpose, program = %program, "program could not be waited for"),
            }
            if let Some(tx) = tx {
                let _ = tx.send(status);
            }
        });
        Ok(Launched { done })
    }
}

/// Reads a pipe to its end, keeping the first [`STDERR_KEPT`] bytes.
async fn keep_head(mut pipe: tokio::process::ChildStderr) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = STDERR_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_is_detected_from_its_variables() {
        let env = |set: &'static [&'static str]| {
            move |name: &str| set.contains(&name).then(|| OsString::from("x"))
        };
        assert!(under_systemd(env(&["INVOCATION_ID"])));
        assert!(under_systemd(env(&["NOTIFY_SOCKET"])));
        assert!(!under_systemd(env(&["JOURNAL_STREAM"])));
        assert!(!under_systemd(|_| Some(OsString::new())));
    }

    #[test]
    fn transient_unit_command_line() {
        let launcher = Launcher {
            mode: LaunchMode::SystemdUnit,
            ..Launcher::default()
        }
        .with_display(Some(":5".into()), Some("/run/user/1000/xauth".into()));
        let line = launcher.command_line(
            "pdf view",
            vec!["evince".into(), "/tmp/a b.pdf".into()],
            Until::Exited,
        );
        let line: Vec<String> = line
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            line[..5],
            ["systemd-run", "--user", "--collect", "--quiet", "--wait"]
        );
        assert!(line[5].starts_with("--unit=x2god-pdfview-"), "{line:?}");
        assert_eq!(
            line[6..],
            [
                "--setenv=DISPLAY=:5",
                "--setenv=XAUTHORITY=/run/user/1000/xauth",
                "--",
                "evince",
                "/tmp/a b.pdf"
            ]
        );
        let direct = Launcher::default().command_line("x", vec!["lp".into()], Until::Started);
        assert_eq!(direct, [OsString::from("lp")]);
    }
}
