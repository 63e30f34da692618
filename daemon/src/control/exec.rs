//! Running one X2Go command over a profile's connection: wrapped in the exec envelope (so the
//! server's login noise cannot be mistaken for output), with its exit status and stderr turned
//! into errors.

use std::time::Duration;

use tracing::debug;

use super::connection::Connector;
use super::error::{Error, truncate};
use crate::ssh::ExecOutput;
use crate::x2go::command::RemoteCommand;
use crate::x2go::envelope::Envelope;

/// How long one ordinary server command may take before it is abandoned.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this much of a server's stderr goes into an error message.
const STDERR_LIMIT: usize = 2048;

/// A fresh marker for the exec envelope: unguessable, so server output cannot fake the end.
pub(crate) fn new_marker() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs one command in the envelope; returns the envelope (to unwrap stdout) and the raw
/// output.
async fn exec_enveloped(
    connector: &Connector,
    cmd: &RemoteCommand,
    timeout: Duration,
) -> Result<(Envelope, ExecOutput), Error> {
    exec_enveloped_with_input(connector, cmd, &[], timeout).await
}

/// [`exec_enveloped`] with `input` on the command's standard input.
async fn exec_enveloped_with_input(
    connector: &Connector,
    cmd: &RemoteCommand,
    input: &[u8],
    timeout: Duration,
) -> Result<(Envelope, ExecOutput), Error> {
    let conn = connector.connection()?;
    let envelope = Envelope::new(&new_marker()).map_err(|e| Error::Protocol {
        command: cmd.name().to_owned(),
        reason: e.to_string(),
    })?;
    debug!(profile = %connector.params().name, command = cmd.name(), "running server command");
    let line = envelope.wrap(cmd);
    let out = if input.is_empty() {
        conn.exec(&line, timeout).await?
    } else {
        conn.exec_with_input(&line, input, timeout).await?
    };
    Ok((envelope, out))
}

/// Runs a command that reads `input` (never on its command line: key material) and whose
/// answer is read by the caller whatever its exit status: the output, its stdout unwrapped.
pub(crate) async fn run_with_input(
    connector: &Connector,
    cmd: &RemoteCommand,
    input: &[u8],
    timeout: Duration,
) -> Result<ExecOutput, Error> {
    let (envelope, mut out) = exec_enveloped_with_input(connector, cmd, input, timeout).await?;
    out.stdout = envelope.unwrap(&out.stdout).map_err(|e| Error::Protocol {
        command: cmd.name().to_owned(),
        reason: e.to_string(),
    })?;
    Ok(out)
}

/// Runs one X2Go command and returns its payload, or the server's error.
pub(crate) async fn run(
    connector: &Connector,
    cmd: &RemoteCommand,
    timeout: Duration,
) -> Result<Vec<u8>, Error> {
    let (envelope, out) = exec_enveloped(connector, cmd, timeout).await?;
    checked(cmd, &envelope, out)
}

/// [`run`] with `input` on the command's standard input (never on its command line: a
/// credential).
pub(crate) async fn run_input(
    connector: &Connector,
    cmd: &RemoteCommand,
    input: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, Error> {
    let (envelope, out) = exec_enveloped_with_input(connector, cmd, input, timeout).await?;
    checked(cmd, &envelope, out)
}

/// The payload of a command that exited 0, or the server's error.
fn checked(cmd: &RemoteCommand, envelope: &Envelope, out: ExecOutput) -> Result<Vec<u8>, Error> {
    if out.exit_status != Some(0) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Server {
            command: cmd.name().to_owned(),
            status: out.exit_status,
            stderr: truncate(stderr.trim(), STDERR_LIMIT).to_owned(),
        });
    }
    envelope.unwrap(&out.stdout).map_err(|e| Error::Protocol {
        command: cmd.name().to_owned(),
        reason: e.to_string(),
    })
}

/// [`run`], its payload as text.
pub(crate) async fn run_text(
    connector: &Connector,
    cmd: &RemoteCommand,
    timeout: Duration,
) -> Result<String, Error> {
    let out = run(connector, cmd, timeout).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Runs a probe whose answer is its exit status.
pub(crate) async fn run_status(
    connector: &Connector,
    cmd: &RemoteCommand,
    timeout: Duration,
) -> Result<Option<u32>, Error> {
    Ok(exec_enveloped(connector, cmd, timeout).await?.1.exit_status)
}
