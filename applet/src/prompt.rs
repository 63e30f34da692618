//! The applet's agent: answers x2god's questions for passwords, passphrases, one-time codes
//! and unknown host keys by asking the person.
//!
//! Who asks, first match wins:
//! 1. `X2GOD_ASKPASS`, else `SSH_ASKPASS`: an askpass program, called as OpenSSH calls it
//!    (the prompt as its only argument, the answer on its standard output, a non-zero exit
//!    declines). For a host key it is asked to type `yes` (or the fingerprint), as `ssh` asks.
//! 2. With a display (`DISPLAY` or `WAYLAND_DISPLAY`): `zenity`, else `kdialog`, from `PATH`.
//! 3. Host keys only: a desktop notification with "Trust" and "Reject" actions, when the
//!    notification server shows actions. A secret cannot be typed into a notification: it is
//!    declined, with a notification saying how to set up an askpass program.
//!
//! Answers are never logged, and only one dialog is shown at a time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use tokio::sync::Mutex;
use tracing::{debug, info, warn};
use x2god_client::{Agent, Declined, HostKeyRequest, SecretKind, SecretRequest};

use crate::model::Notice;
use crate::notify::Notifier;

/// Answers longer than this are not a password: the program is misbehaving.
const MAX_ANSWER: usize = 64 * 1024;

/// A program that can ask the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asker {
    /// An askpass program (`X2GOD_ASKPASS`, `SSH_ASKPASS`).
    Askpass(PathBuf),
    /// GNOME's zenity.
    Zenity(PathBuf),
    /// KDE's kdialog.
    Kdialog(PathBuf),
}

impl Asker {
    /// Finds one from the environment `var` (a lookup function, so tests need not change the
    /// process environment).
    pub fn find(var: impl Fn(&str) -> Option<OsString>) -> Option<Asker> {
        for name in ["X2GOD_ASKPASS", "SSH_ASKPASS"] {
            if let Some(p) = var(name).filter(|p| !p.is_empty()) {
                return Some(Asker::Askpass(PathBuf::from(p)));
            }
        }
        if !graphical(&var) {
            return None;
        }
        let path = var("PATH").unwrap_or_default();
        if let Some(p) = which("zenity", &path) {
            return Some(Asker::Zenity(p));
        }
        which("kdialog", &path).map(Asker::Kdialog)
    }

    fn program(&self) -> &Path {
        match self {
            Asker::Askpass(p) | Asker::Zenity(p) | Asker::Kdialog(p) => p,
        }
    }

    /// The command that asks for a secret.
    fn secret_command(&self, title: &str, text: &str, kind: &SecretKind) -> Command {
        let mut c = Command::new(self.program());
        match self {
            Asker::Askpass(_) => {
                c.arg(text);
            }
            Asker::Zenity(_) => {
                // zenity's entry label is plain text in which `_` marks an access key (and
                // --no-markup is refused there).
                let text = text.replace('_', "__");
                c.args(["--entry", "--hide-text", "--title", title, "--text", &text]);
            }
            Asker::Kdialog(_) => {
                c.args(["--title", title, "--password", text]);
            }
        }
        c.env("X2GOD_ASKPASS_KIND", kind.as_str());
        c
    }

    /// The command that asks whether to trust a host key.
    fn host_key_command(&self, title: &str, text: &str) -> Command {
        let mut c = Command::new(self.program());
        match self {
            Asker::Askpass(_) => {
                c.arg(text);
            }
            Asker::Zenity(_) => {
                // Server and profile names are text, not Pango markup.
                c.args([
                    "--question",
                    "--no-markup",
                    "--title",
                    title,
                    "--text",
                    text,
                ]);
            }
            Asker::Kdialog(_) => {
                c.args(["--title", title, "--yesno", text]);
            }
        }
        c.env("X2GOD_ASKPASS_KIND", "hostkey");
        c
    }
}

/// `name` in the colon-separated `path`, if it is an executable file there.
pub(crate) fn which(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path).map(|d| d.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The first line of a program's output: the answer without its newline.
fn first_line(out: Vec<u8>) -> Result<String, Declined> {
    if out.len() > MAX_ANSWER {
        return Err(Declined::new("the askpass program's answer is too long"));
    }
    let s = String::from_utf8(out)
        .map_err(|_| Declined::new("the askpass program's answer is not UTF-8"))?;
    let line = s.split('\n').next().unwrap_or_default();
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

/// Whether an askpass answer to the host-key question trusts the key: `yes`, as `ssh` wants,
/// or the fingerprint itself. An askpass that prints a password regardless never trusts.
fn askpass_trusts(answer: &str, fingerprint: &str) -> bool {
    let a = answer.trim();
    a.eq_ignore_ascii_case("yes") || (!fingerprint.is_empty() && a == fingerprint)
}

/// The prompt a kind of secret gets when the daemon sent none.
fn default_prompt(kind: &SecretKind) -> &'static str {
    match kind {
        SecretKind::Password => "Password:",
        SecretKind::Passphrase => "Passphrase of the SSH key:",
        SecretKind::SshProxyPassword => "Password of the jump host:",
        SecretKind::SshProxyPassphrase => "Passphrase of the jump host's SSH key:",
        _ => "Answer:",
    }
}

/// The applet's [`Agent`].
pub struct PromptAgent {
    asker: Option<Asker>,
    notifier: Notifier,
    /// One dialog at a time: two profiles connecting at once ask one after the other.
    dialogs: Mutex<()>,
}

impl PromptAgent {
    /// An agent asking through `asker` (see [`Asker::find`]) and notifications.
    pub fn new(asker: Option<Asker>, notifier: Notifier) -> PromptAgent {
        match &asker {
            Some(a) => {
                info!(program = %a.program().display(), "prompts are answered through this program")
            }
            None => info!(
                "no askpass program (X2GOD_ASKPASS, SSH_ASKPASS) and no zenity/kdialog on a display: \
                 secrets are declined, host keys are asked in a notification"
            ),
        }
        PromptAgent {
            asker,
            notifier,
            dialogs: Mutex::new(()),
        }
    }

    /// Runs `cmd` (which asks the person) and returns its exit success and standard output.
    async fn run(mut cmd: Command) -> Result<(bool, Vec<u8>), Declined> {
        // x2god's Cancel drops this future: the dialog must go with it.
        cmd.kill_on_drop(true)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let out = cmd.output().await.map_err(|e| {
            warn!(error = %e, "cannot run the askpass program");
            Declined::new(format!("cannot run the askpass program: {e}"))
        })?;
        Ok((out.status.success(), out.stdout))
    }
}

impl Agent for PromptAgent {
    async fn request_secret(&self, req: SecretRequest) -> Result<String, Declined> {
        let profile = req.profile.name.clone();
        let Some(asker) = &self.asker else {
            self.notifier.show(Notice {
                key: format!("prompt:{}", req.profile.path.as_str()),
                summary: format!("{profile} needs a {}", req.kind),
                body: "Nothing can ask for it here: set X2GOD_ASKPASS (or SSH_ASKPASS) to an \
                       askpass program and restart x2god-tray, or connect with x2goctl."
                    .to_owned(),
                urgent: true,
            });
            return Err(Declined::new(
                "x2god-tray has no askpass program (set X2GOD_ASKPASS)",
            ));
        };
        let _one = self.dialogs.lock().await;
        let prompt = match req.prompt.trim() {
            "" => default_prompt(&req.kind),
            p => p,
        };
        let text = format!("X2Go profile “{profile}”: {prompt}");
        let title = format!("x2god: {profile}");
        // The answer is never logged, only that a question was asked.
        info!(%profile, kind = %req.kind, "asking for a secret");
        let (ok, out) = Self::run(asker.secret_command(&title, &text, &req.kind)).await?;
        if !ok {
            info!(%profile, kind = %req.kind, "the person declined");
            return Err(Declined::new("declined in the dialog"));
        }
        first_line(out)
    }

    async fn confirm_host_key(&self, req: HostKeyRequest) -> Result<bool, Declined> {
        let profile = req.profile.name.clone();
        let text = format!(
            "X2Go profile “{profile}”: the host key of {} is not known.\n\
             The server offered a {} key with the fingerprint\n{}\n\
             Trust it only if that matches the fingerprint your administrator gave you.",
            req.host, req.key_type, req.fingerprint
        );
        let title = format!("x2god: {profile}");
        info!(%profile, host = %req.host, fingerprint = %req.fingerprint, "asking about a host key");
        match &self.asker {
            Some(asker @ Asker::Askpass(_)) => {
                let _one = self.dialogs.lock().await;
                let text = format!("{text}\nType yes to trust it:");
                let (ok, out) = Self::run(asker.host_key_command(&title, &text)).await?;
                if !ok {
                    return Err(Declined::new("declined in the dialog"));
                }
                let trusted = askpass_trusts(&first_line(out)?, &req.fingerprint);
                info!(%profile, trusted, "host key answered");
                Ok(trusted)
            }
            Some(asker) => {
                let _one = self.dialogs.lock().await;
                let (ok, _) = Self::run(asker.host_key_command(&title, &text)).await?;
                info!(%profile, trusted = ok, "host key answered");
                Ok(ok)
            }
            None => {
                let summary = format!("Unknown host key for {profile}");
                let actions = [("trust", "Trust this key"), ("reject", "Reject")];
                match self.notifier.ask(&summary, &text, &actions).await {
                    Ok(Some(key)) => {
                        let trusted = key == "trust";
                        info!(%profile, trusted, "host key answered in a notification");
                        Ok(trusted)
                    }
                    Ok(None) => Err(Declined::new("the notification was dismissed")),
                    Err(e) => {
                        debug!(error = %e, "cannot ask in a notification");
                        Err(Declined::new(
                            "x2god-tray cannot ask about host keys here: set X2GOD_ASKPASS, \
                             or use a notification server that shows actions",
                        ))
                    }
                }
            }
        }
    }
}

/// Whether the environment `var` names a display a dialog can appear on.
pub(crate) fn graphical(var: &impl Fn(&str) -> Option<OsString>) -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| var(v).is_some_and(|d| !d.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn askers_in_order() {
        assert_eq!(
            Asker::find(env(&[("X2GOD_ASKPASS", "/a"), ("SSH_ASKPASS", "/b")])),
            Some(Asker::Askpass("/a".into()))
        );
        assert_eq!(
            Asker::find(env(&[("X2GOD_ASKPASS", ""), ("SSH_ASKPASS", "/b")])),
            Some(Asker::Askpass("/b".into()))
        );
        // No display: no dialog program, however many are installed.
        assert_eq!(Asker::find(env(&[("PATH", "/usr/bin:/bin")])), None);
        // A display, but a PATH without dialog programs.
        let dir = std::env::temp_dir().join("x2god-tray-empty-path");
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.to_string_lossy().into_owned();
        assert_eq!(
            Asker::find(env(&[("DISPLAY", ":1"), ("PATH", p.as_str())])),
            None
        );
    }

    #[test]
    fn answers() {
        assert_eq!(
            first_line(b"s3cret\n".to_vec()).ok().as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            first_line(b"a b\r\nrest".to_vec()).ok().as_deref(),
            Some("a b")
        );
        assert_eq!(first_line(Vec::new()).ok().as_deref(), Some(""));
        assert!(first_line(vec![0xff]).is_err());
        assert!(first_line(vec![b'a'; MAX_ANSWER + 1]).is_err());
        assert!(askpass_trusts("yes", "SHA256:x"));
        assert!(askpass_trusts(" YES ", "SHA256:x"));
        assert!(askpass_trusts("SHA256:x", "SHA256:x"));
        assert!(!askpass_trusts("hunter2", "SHA256:x"));
        assert!(!askpass_trusts("", ""));
    }
}
