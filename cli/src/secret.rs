//! Reading passwords: from the terminal without echo, or from standard input for scripts.
//! Never from argv or the environment, which other processes of the machine can read.

use std::io::{BufRead, IsTerminal, Write};

use x2god_client::{Agent, Declined, HostKeyRequest, SecretKind, SecretRequest};

use crate::exit::Failure;

/// Whether a person can answer prompts: stdin is a terminal.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks for a secret on the terminal, without echo.
pub fn prompt(question: &str) -> Result<String, Failure> {
    rpassword::prompt_password(question)
        .map_err(|e| Failure::local(format!("cannot read the password from the terminal: {e}")))
}

/// Reads `n` lines from standard input, without their line endings.
pub fn stdin_lines(n: usize) -> Result<Vec<String>, Failure> {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let mut line = String::new();
        let read = lock
            .read_line(&mut line)
            .map_err(|e| Failure::local(format!("cannot read standard input: {e}")))?;
        if read == 0 {
            return Err(Failure::usage(format!(
                "standard input ended before line {} (expected {n} line(s): the password, then \
                 the passphrase)",
                i + 1
            )));
        }
        while line.ends_with('\n') || line.ends_with('\r') {
            line.pop();
        }
        out.push(line);
    }
    Ok(out)
}

/// Asks a yes/no question on the terminal (stderr, so stdout stays clean); anything but yes is no.
pub fn confirm(question: &str) -> bool {
    let mut err = std::io::stderr();
    // A failed prompt write means nobody sees the question: answer no.
    if write!(err, "{question} [y/N] ")
        .and_then(|_| err.flush())
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Answers x2god's questions during `connect` on the terminal: passwords, passphrases and
/// one-time codes without echo, unknown host keys with their fingerprint and a yes/no.
pub struct TerminalAgent;

/// Runs a blocking terminal interaction off the runtime, with the spinner paused.
async fn on_terminal<T: Send + 'static>(
    f: impl FnOnce() -> Option<T> + Send + 'static,
) -> Result<T, Declined> {
    tokio::task::spawn_blocking(move || {
        let _pause = crate::progress::Pause::new();
        f()
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| Declined::new("no answer on the terminal"))
}

impl Agent for TerminalAgent {
    async fn request_secret(&self, req: SecretRequest) -> Result<String, Declined> {
        let profile = req.profile.name.clone();
        let question = match req.kind {
            SecretKind::Password => format!("Password for profile {profile}: "),
            SecretKind::Passphrase => format!("Key passphrase for profile {profile}: "),
            SecretKind::SshProxyPassword => format!("Jump host password for {profile}: "),
            SecretKind::SshProxyPassphrase => {
                format!("Jump host key passphrase for {profile}: ")
            }
            SecretKind::Response | SecretKind::Other(_) => {
                if req.prompt.trim().is_empty() {
                    format!("Answer for {profile}: ")
                } else {
                    req.prompt.clone()
                }
            }
        };
        on_terminal(move || rpassword::prompt_password(question).ok()).await
    }

    async fn confirm_host_key(&self, req: HostKeyRequest) -> Result<bool, Declined> {
        on_terminal(move || {
            eprintln!(
                "The host key of {} is not known.\n{} key fingerprint is {}.\nCompare it with \
                 the one the server's administrator gives you.",
                req.host, req.key_type, req.fingerprint
            );
            Some(confirm(&format!("Trust the host key {}?", req.fingerprint)))
        })
        .await
    }
}
