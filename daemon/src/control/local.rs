//! The local side of a session x2god displays: the SSH forward to the agent's graphics port and
//! the `nxproxy` process that draws on the local X display.

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{oneshot, watch};
use tracing::{debug, info, warn};

use super::error::Error;
use crate::ssh::{Connection, LocalForward};
use crate::x2go::list::XCookie;
use crate::x2go::proxy::{nxproxy_options, nxproxy_options_arg};
use crate::x2go::validate::SessionName;

/// How long a stopped nxproxy may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Name of the file in a session directory holding the pid of our nxproxy.
const PID_FILE: &str = "x2god-nxproxy.pid";
/// nxproxy's options (the X cookie among them) in the session directory, `0600`, as x2goclient
/// keeps them: never on its command line.
const OPTIONS_FILE: &str = "options";

/// Ends nxproxy processes a previous daemon left behind (it crashed or was killed), found by
/// the pid files below `root`. A pid is only signalled when its command line still names
/// nxproxy and that session directory, so a recycled pid is never hit.
pub fn reap_orphans(root: &std::path::Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut reaped = 0;
    for dir in dirs.flatten().map(|e| e.path()) {
        let pid_file = dir.join(PID_FILE);
        let Ok(text) = std::fs::read_to_string(&pid_file) else {
            continue;
        };
        let _ = std::fs::remove_file(&pid_file);
        let Ok(pid) = text.trim().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("nxproxy") && cmdline.contains(&*dir.to_string_lossy()) {
            let killed = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status()
                .is_ok_and(|s| s.success());
            if killed {
                info!(pid, dir = %dir.display(), "ended an nxproxy left by a previous x2god");
                reaped += 1;
            }
        }
    }
    reaped
}

/// Where and how to run the local proxy.
#[derive(Debug, Clone)]
pub struct LocalSpec {
    /// The `nxproxy` binary.
    pub nxproxy: PathBuf,
    /// The local X display (`:0`).
    pub display: String,
    /// The X authority file for `display`, if any.
    pub xauthority: Option<OsString>,
    /// `NX_ROOT`: the per-session directories `S-<name>` go below it.
    pub root: PathBuf,
}

/// A running local side. Dropping it kills nxproxy and closes the forward.
pub struct LocalSession {
    forward: Option<LocalForward>,
    stop: Option<oneshot::Sender<()>>,
    exited: watch::Receiver<Option<ExitStatus>>,
    /// The session's directory with nxproxy's `session.log`.
    pub dir: PathBuf,
}

impl LocalSession {
    /// Opens the forward and starts nxproxy. `on_exit` runs when nxproxy ends, with `true`
    /// when it ended because [`LocalSession::close`] asked it to.
    pub async fn attach(
        conn: &Connection,
        name: &SessionName,
        cookie: &XCookie,
        remote_display: u32,
        graphics_port: u16,
        spec: &LocalSpec,
        on_exit: impl FnOnce(bool) + Send + 'static,
    ) -> Result<LocalSession, Error> {
        let dir = spec.root.join(format!("S-{}", name.as_str()));
        // The user's alone, whatever the process umask: it holds nxproxy's options (the X
        // cookie), its logs and the print spool.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| local_error("create the session directory", &e))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| local_error("make the session directory private", &e))?;
        let forward = conn.forward_local("127.0.0.1", graphics_port).await?;
        let options = nxproxy_options(
            cookie,
            forward.local_port(),
            &dir.join("session.err"),
            remote_display,
        )?;
        let options_file = dir.join(OPTIONS_FILE);
        let arg = nxproxy_options_arg(&options_file, remote_display)?;
        if let Err(e) = write_private(&options_file, options.as_bytes()) {
            forward.close().await;
            return Err(local_error("write nxproxy's options", &e));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("session.log"))
            .map_err(|e| local_error("open the nxproxy log", &e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| local_error("open the nxproxy log", &e))?;
        let mut cmd = Command::new(&spec.nxproxy);
        cmd.arg("-S")
            .arg(arg)
            .env("DISPLAY", &spec.display)
            .env("NX_CLIENT", "/bin/true")
            .env("NX_ROOT", &spec.root)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .kill_on_drop(true);
        if let Some(x) = &spec.xauthority {
            cmd.env("XAUTHORITY", x);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                forward.close().await;
                return Err(Error::Local(format!(
                    "cannot start {}: {e}",
                    spec.nxproxy.display()
                )));
            }
        };
        let pid = child.id().unwrap_or_default();
        // Lets a later daemon find and end this nxproxy should this one die without reaping it.
        let pid_file = dir.join(PID_FILE);
        if let Err(e) = std::fs::write(&pid_file, format!("{pid}\n")) {
            warn!(error = %e, "cannot record the nxproxy pid");
        }
        info!(session = %name.as_str(), pid, port = forward.local_port(), display = %spec.display, "nxproxy started");
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (exit_tx, exited) = watch::channel(None);
        let session = name.as_str().to_owned();
        tokio::spawn(async move {
            let (status, requested) = tokio::select! {
                s = child.wait() => (s, false),
                _ = stop_rx => {
                    // Suspend/terminate end nxproxy by themselves; give it a moment first.
                    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
                        Ok(s) => (s, true),
                        Err(_) => {
                            let _ = child.start_kill();
                            (child.wait().await, true)
                        }
                    }
                }
            };
            match &status {
                Ok(s) => debug!(%session, status = %s, requested, "nxproxy exited"),
                Err(e) => warn!(%session, error = %e, "cannot reap nxproxy"),
            }
            let _ = std::fs::remove_file(&pid_file);
            let _ = exit_tx.send(Some(status.unwrap_or_else(|_| ExitStatus::default())));
            on_exit(requested);
        });
        Ok(LocalSession {
            forward: Some(forward),
            stop: Some(stop_tx),
            exited,
            dir,
        })
    }

    /// Whether nxproxy still runs.
    pub fn is_running(&self) -> bool {
        self.exited.borrow().is_none()
    }

    /// Returns once nxproxy has exited.
    pub async fn exited(&self) {
        let mut rx = self.exited.clone();
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// The last lines nxproxy wrote, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("session.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" / ")
    }

    /// Stops nxproxy (after a grace period in which it may exit by itself) and closes the
    /// forward; returns once nxproxy is reaped.
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.exited.wait_for(Option::is_some).await;
        if let Some(f) = self.forward.take() {
            f.close().await;
        }
    }
}

impl LocalSession {
    /// Ends the local side without waiting for nxproxy: for suspend and terminate, after
    /// which nxproxy exits by itself as soon as the agent is gone (its own task reaps it, or
    /// kills it after the grace period). The forward is closed first, so nothing can reach
    /// the session through it once this returns.
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(f) = self.forward.take() {
            f.close().await;
        }
    }
}

impl Drop for LocalSession {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Writes `path` afresh, readable by the user alone from its first byte (it holds the session's
/// X cookie): an old file (another client's, a crashed run's) is removed, never reused.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

fn local_error(what: &str, e: &std::io::Error) -> Error {
    Error::Local(format!("cannot {what}: {e}"))
}
