//! A long-running command whose standard output is read line by line as it comes, for
//! watchers (e.g. a loop that prints session state changes).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use russh::client::Msg;
use russh::{Channel, ChannelMsg, Sig};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::timeout;
use tracing::warn;

use super::connection::{Connection, command_summary, signal_text};
use super::error::Error;
use super::framing::LineFramer;
pub use super::framing::MAX_LINE;

/// Most complete lines kept unread. Lines are read as they come, so only output that arrives
/// before the server confirms the command piles up; more than this is refused the same way.
const MAX_READY: usize = 10_000;

/// How long closing waits for the server to confirm, so that its session slot is free when
/// ours is released.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The standard output of a command started by [`Connection::exec_lines`], line by line.
///
/// It holds one of the connection's `max_channels` session slots for as long as it exists,
/// also after the command has ended, until the server has closed the channel. Closing or
/// dropping it ends the command (SIGTERM) and closes the channel.
///
/// Read it promptly: russh passes incoming data to channels without flow control of its own,
/// so a stream nobody reads eventually stalls the whole SSH connection.
pub struct LineStream {
    /// `None` once the channel has closed.
    channel: Option<Channel<Msg>>,
    /// Released together with the channel.
    permit: Option<OwnedSemaphorePermit>,
    command: String,
    /// The unfinished line.
    framer: LineFramer,
    /// Complete lines not yet handed out.
    ready: VecDeque<String>,
    /// An error to hand out once the lines before it are read.
    error: Option<Error>,
    /// The server confirmed the exec request.
    confirmed: bool,
    exit_status: Option<u32>,
    exit_signal: Option<String>,
}

impl std::fmt::Debug for LineStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineStream")
            .field("command", &self.command)
            .field("open", &self.channel.is_some())
            .field("exit_status", &self.exit_status)
            .field("exit_signal", &self.exit_signal)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Runs `command` on a new session channel and returns its standard output as a stream
    /// of lines. Standard error is discarded.
    ///
    /// The stream takes one of the `max_channels` session slots for its whole life (waiting
    /// for one like [`exec`](Self::exec) does, as long as the connection lasts). Returns once
    /// the server has accepted the command; a refused command is [`Error::Channel`].
    pub async fn exec_lines(&self, command: &str) -> Result<LineStream, Error> {
        if self.is_closed() {
            return Err(Error::Disconnected);
        }
        let permit = tokio::select! {
            permit = Arc::clone(&self.inner.slots).acquire_owned() => {
                permit.map_err(|_| Error::Disconnected)?
            }
            () = self.closed() => return Err(Error::Disconnected),
        };
        let channel = tokio::select! {
            channel = self.open_session() => channel?,
            () = self.closed() => return Err(Error::Disconnected),
        };
        let summary = command_summary(command);
        tracing::debug!(command = %summary, "exec (line stream)");
        // From here on, Drop closes the channel if we fail or are cancelled.
        let mut stream = LineStream {
            channel: Some(channel),
            permit: Some(permit),
            command: summary,
            framer: LineFramer::new(),
            ready: VecDeque::new(),
            error: None,
            confirmed: false,
            exit_status: None,
            exit_signal: None,
        };
        if let Some(ch) = stream.channel.as_ref() {
            ch.exec(true, command).await?;
        }
        // Wait for the server's answer, so that a refused command fails here. Output that
        // arrives meanwhile is kept.
        while !stream.confirmed && stream.channel.is_some() {
            stream.receive().await;
            if let Some(e) = stream.error.take() {
                return Err(e);
            }
        }
        Ok(stream)
    }
}

impl LineStream {
    /// The next line of standard output, without its `\n`, decoded as UTF-8 (invalid bytes
    /// become U+FFFD). A line longer than [`MAX_LINE`] bytes ends the stream with
    /// [`Error::OutputTooLarge`]. A last line without a newline is returned too. `None` once the command has ended and the channel has
    /// closed; an error (e.g. [`Error::Disconnected`]) comes once, before `None`.
    ///
    /// Cancel-safe: it can be used in `tokio::select!` without losing lines.
    pub async fn next_line(&mut self) -> Option<Result<String, Error>> {
        loop {
            if let Some(line) = self.ready.pop_front() {
                return Some(Ok(line));
            }
            if let Some(e) = self.error.take() {
                return Some(Err(e));
            }
            if self.channel.is_none() {
                return self.framer.finish().map(Ok);
            }
            self.receive().await;
        }
    }

    /// The command's exit status, once the server has reported it (normally known when
    /// [`next_line`](Self::next_line) has returned `None`). The daemon only needs the lines;
    /// the lab tests check the status.
    #[cfg(test)]
    pub fn exit_status(&self) -> Option<u32> {
        self.exit_status
    }

    /// Writes `data` to the command's standard input (which stays open for more).
    pub async fn send(&self, data: &[u8]) -> Result<(), Error> {
        let Some(ch) = self.channel.as_ref() else {
            return Err(Error::Disconnected);
        };
        ch.data(data).await.map_err(|_| Error::Disconnected)
    }

    /// Ends the command (SIGTERM), closes the channel and waits briefly for the server to
    /// confirm, then releases the session slot.
    pub async fn close(mut self) {
        if let Some(ch) = self.channel.take() {
            tracing::debug!(command = %self.command, "closing line stream");
            close_channel(ch).await;
        }
        self.permit = None;
    }

    /// Reads one message from the channel and files what it says. Cancel-safe: all state
    /// changes happen after the one await.
    async fn receive(&mut self) {
        let Some(ch) = self.channel.as_mut() else {
            return;
        };
        let Some(msg) = ch.wait().await else {
            // The channel vanished without a close: the connection ended under us.
            self.finish();
            self.error = Some(Error::Disconnected);
            return;
        };
        match msg {
            ChannelMsg::Data { data } => {
                if let Err(e) = self.push(&data) {
                    warn!(command = %self.command, error = %e, "line stream refused");
                    self.error = Some(e);
                    if let Some(ch) = self.channel.take() {
                        close_channel(ch).await;
                    }
                    self.permit = None;
                }
            }
            // Exit status may come before the last data: keep reading until Close.
            ChannelMsg::ExitStatus { exit_status } => self.exit_status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                self.exit_signal = Some(signal_text(&signal_name));
            }
            ChannelMsg::Success => self.confirmed = true,
            ChannelMsg::Failure if !self.confirmed => {
                self.error = Some(Error::Channel(
                    "the server refused to run the command".into(),
                ));
                if let Some(ch) = self.channel.take() {
                    let _ = ch.close().await;
                }
                self.permit = None;
            }
            ChannelMsg::Close => self.finish(),
            _ => {}
        }
    }

    /// The channel has closed: russh has answered the server's close, so the slot is free.
    fn finish(&mut self) {
        self.channel = None;
        self.permit = None;
        tracing::debug!(command = %self.command, exit_status = ?self.exit_status,
            exit_signal = ?self.exit_signal, "line stream ended");
    }

    /// Splits `data` into lines, continuing the unfinished one; refuses a line over
    /// [`MAX_LINE`] or more than [`MAX_READY`] unread lines.
    fn push(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.framer.push(data, &mut self.ready).is_err() {
            return Err(self.too_large("one output line", MAX_LINE));
        }
        if self.ready.len() > MAX_READY {
            return Err(self.too_large("unread lines", MAX_READY));
        }
        Ok(())
    }

    fn too_large(&self, what: &'static str, limit: usize) -> Error {
        Error::OutputTooLarge {
            command: self.command.clone(),
            what,
            limit,
        }
    }
}

impl Drop for LineStream {
    /// Closes like [`close`](LineStream::close), in a task of its own.
    fn drop(&mut self) {
        let Some(ch) = self.channel.take() else {
            return;
        };
        let permit = self.permit.take();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                close_channel(ch).await;
                drop(permit);
            });
        }
    }
}

/// Asks the server to end the command, then closes the channel and waits (briefly) for the
/// server's close.
async fn close_channel(mut ch: Channel<Msg>) {
    // Without a pty OpenSSH does not end the command when the channel closes; the signal
    // does (the command's next write would fail anyway, but a watcher may print rarely).
    let _ = ch.signal(Sig::TERM).await;
    let _ = ch.close().await;
    let _ = timeout(CLOSE_GRACE, async {
        while let Some(msg) = ch.wait().await {
            if matches!(msg, ChannelMsg::Close) {
                break;
            }
        }
    })
    .await;
}
