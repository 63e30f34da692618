//! Running one command on its own session channel and collecting its output.

use std::time::Duration;

use russh::client::Msg;
use russh::{Channel, ChannelMsg, ChannelOpenFailure, Sig};
use tokio::time::{Instant, sleep, timeout_at};

use crate::ssh::error::Error;

use super::handle::Connection;

/// First pause before retrying a channel open the server refused for lack of room; doubled up
/// to [`OPEN_RETRY_MAX`]. The server frees a session slot only after it has processed our
/// close, so the wait is short.
const OPEN_RETRY_FIRST: Duration = Duration::from_millis(20);
const OPEN_RETRY_MAX: Duration = Duration::from_millis(500);

/// Most standard output a command may send; more fails with [`Error::OutputTooLarge`]. The
/// largest legitimate output (a listing of many sessions, published applications with icons)
/// is far below it.
pub const MAX_STDOUT: usize = 16 << 20;
/// Most standard error a command may send; it is only ever shown in an error message.
pub const MAX_STDERR: usize = 64 << 10;

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Everything the command wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything the command wrote to standard error.
    pub stderr: Vec<u8>,
    /// The exit status, if the server reported one.
    pub exit_status: Option<u32>,
    /// The signal that killed the command (e.g. `TERM`), if it was killed.
    pub exit_signal: Option<String>,
}

impl Connection {
    /// Runs `command` (one shell command line) on a new session channel and collects its
    /// output and exit status until the channel closes.
    ///
    /// At most `max_channels` session channels are open at once, counting both running
    /// commands and live [`LineStream`]s; further calls wait for a free
    /// slot (so `max_channels` line streams starve `exec` until one is closed). A
    /// server that still refuses the channel (it has not yet processed an earlier close) is
    /// asked again after a short pause. If `timeout` elapses (waiting included), the command
    /// is sent SIGTERM, its channel is closed and [`Error::Timeout`] is returned; the
    /// connection stays usable.
    ///
    /// [`LineStream`]: super::super::LineStream
    pub async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, Error> {
        self.exec_with_input(command, &[], timeout).await
    }

    /// [`Connection::exec`], with `input` written to the command's standard input, which is
    /// then closed. For data that must not appear on a command line, where every user of the
    /// server can read it (`ps`): key material, for one.
    pub async fn exec_with_input(
        &self,
        command: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput, Error> {
        let deadline = Instant::now() + timeout;
        let timed_out = |stage: &str| {
            Error::Timeout(format!(
                "{stage} (limit {:.1} s) for command {:?}",
                timeout.as_secs_f64(),
                command_summary(command)
            ))
        };
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let _permit = timeout_at(deadline, self.inner.slots.acquire())
            .await
            .map_err(|_| timed_out("waiting for a free channel"))?
            .map_err(|_| Error::Disconnected)?;
        let channel = timeout_at(deadline, self.open_session())
            .await
            .map_err(|_| timed_out("opening a channel"))??;
        let mut guard = CloseOnDrop(Some(channel));
        tracing::debug!(command = %command_summary(command), "exec");

        let result = match guard.0.as_mut() {
            Some(ch) => timeout_at(deadline, run(ch, command, input)).await,
            None => return Err(Error::Disconnected),
        };
        match result {
            Ok(Err(Error::OutputTooLarge { what, limit, .. })) => {
                if let Some(ch) = guard.0.take() {
                    let _ = ch.signal(Sig::TERM).await;
                    let _ = ch.close().await;
                }
                let command = command_summary(command);
                tracing::warn!(%command, what, limit, "command output over the limit; ended it");
                Err(Error::OutputTooLarge {
                    command,
                    what,
                    limit,
                })
            }
            Ok(out) => {
                // The server closed the channel (or the connection ended): nothing to close.
                guard.0 = None;
                if out.is_err() && self.is_closed() {
                    return Err(Error::Disconnected);
                }
                out
            }
            Err(_) => {
                if let Some(ch) = guard.0.take() {
                    // Ask the server to end the command so its session slot frees promptly
                    // (OpenSSH keeps the slot while the child lives), then close.
                    let _ = ch.signal(Sig::TERM).await;
                    let _ = ch.close().await;
                }
                tracing::info!(command = %command_summary(command), "command timed out");
                Err(timed_out("running"))
            }
        }
    }

    /// Opens a session channel, retrying while the server says it has no room, and requests
    /// agent forwarding on it when the connection forwards the agent.
    pub(in crate::ssh) async fn open_session(&self) -> Result<Channel<Msg>, Error> {
        let mut pause = OPEN_RETRY_FIRST;
        loop {
            match self.inner.handle.channel_open_session().await {
                Ok(ch) => {
                    if self.inner.forward_agent {
                        // No reply wanted: a server that refuses leaves the command without
                        // an agent, which the command reports itself, as with `ssh -A`.
                        if let Err(e) = ch.agent_forward(false).await {
                            let _ = ch.close().await;
                            return Err(if self.is_closed() {
                                Error::Disconnected
                            } else {
                                e.into()
                            });
                        }
                    }
                    return Ok(ch);
                }
                // OpenSSH answers "no more sessions" (MaxSessions reached, e.g. because it
                // has not yet processed an earlier close) with CONNECT_FAILED; other servers
                // use the two codes meant for it.
                Err(russh::Error::ChannelOpenFailure(
                    reason @ (ChannelOpenFailure::AdministrativelyProhibited
                    | ChannelOpenFailure::ResourceShortage
                    | ChannelOpenFailure::ConnectFailed),
                )) => {
                    tracing::debug!(?reason, ?pause, "server refused a channel; retrying");
                    sleep(pause).await;
                    pause = (pause * 2).min(OPEN_RETRY_MAX);
                }
                Err(russh::Error::ChannelOpenFailure(reason)) => {
                    return Err(Error::Channel(format!(
                        "the server refused to open a session channel: {reason:?}"
                    )));
                }
                Err(_) if self.is_closed() => return Err(Error::Disconnected),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Execs `command` on `ch`, writes `input` to its standard input (closed then, when there was
/// any) and reads until the server closes the channel.
async fn run(ch: &mut Channel<Msg>, command: &str, input: &[u8]) -> Result<ExecOutput, Error> {
    ch.exec(true, command).await?;
    if !input.is_empty() {
        ch.data(input).await?;
        ch.eof().await?;
    }
    let mut out = ExecOutput::default();
    let mut confirmed = false;
    loop {
        let Some(msg) = ch.wait().await else {
            // The channel vanished without a close: the connection ended under us.
            return Err(Error::Disconnected);
        };
        match msg {
            ChannelMsg::Data { data } => {
                bounded_extend(&mut out.stdout, &data, MAX_STDOUT, "standard output")?;
            }
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                bounded_extend(&mut out.stderr, &data, MAX_STDERR, "standard error")?;
            }
            // Exit status comes before the last data may arrive: keep reading until Close.
            ChannelMsg::ExitStatus { exit_status } => out.exit_status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                out.exit_signal = Some(signal_text(&signal_name));
            }
            ChannelMsg::Success => confirmed = true,
            ChannelMsg::Failure if !confirmed => {
                let _ = ch.close().await;
                return Err(Error::Channel(
                    "the server refused to run the command".into(),
                ));
            }
            ChannelMsg::Close => return Ok(out),
            _ => {}
        }
    }
}

/// Appends `data` to `buf` unless that would pass `limit`. The command is named by the caller.
fn bounded_extend(
    buf: &mut Vec<u8>,
    data: &[u8],
    limit: usize,
    what: &'static str,
) -> Result<(), Error> {
    if buf.len().saturating_add(data.len()) > limit {
        return Err(Error::OutputTooLarge {
            command: String::new(),
            what,
            limit,
        });
    }
    buf.extend_from_slice(data);
    Ok(())
}

/// The signal's name without the `SIG` prefix, as SSH sends it.
pub(in crate::ssh) fn signal_text(sig: &Sig) -> String {
    match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name,
    }
    .to_owned()
}

/// The start of a command line, for logs and errors. Commands may carry arguments the user
/// typed, but no secrets: credentials never go through exec.
pub(in crate::ssh) fn command_summary(command: &str) -> String {
    const MAX: usize = 80;
    match command.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &command[..i]),
        None => command.to_owned(),
    }
}

/// Closes the channel if `exec` is cancelled (its future dropped) while the command runs, so
/// the server does not keep a session slot for a result nobody reads.
struct CloseOnDrop(Option<Channel<Msg>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(ch) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = ch.close().await;
            });
        }
    }
}
