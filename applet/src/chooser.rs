//! Asking the person for a folder to share, with the desktop's own dialog.
//!
//! Who asks, first match wins: `X2GOD_FOLDER_CHOOSER` (a program that prints the chosen folder
//! on its standard output and exits non-zero when the person cancels), then `zenity`, then
//! `kdialog`, from `PATH`, when there is a display.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::Command;
use tracing::debug;

/// A program that can ask for a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderChooser {
    /// `X2GOD_FOLDER_CHOOSER`.
    Program(PathBuf),
    /// GNOME's zenity.
    Zenity(PathBuf),
    /// KDE's kdialog.
    Kdialog(PathBuf),
}

impl FolderChooser {
    /// Finds one from the environment `var` (a lookup function, so tests need not change the
    /// process environment).
    pub fn find(var: impl Fn(&str) -> Option<OsString>) -> Option<FolderChooser> {
        if let Some(p) = var("X2GOD_FOLDER_CHOOSER").filter(|p| !p.is_empty()) {
            return Some(FolderChooser::Program(PathBuf::from(p)));
        }
        if !crate::prompt::graphical(&var) {
            return None;
        }
        let path = var("PATH").unwrap_or_default();
        if let Some(p) = crate::prompt::which("zenity", &path) {
            return Some(FolderChooser::Zenity(p));
        }
        crate::prompt::which("kdialog", &path).map(FolderChooser::Kdialog)
    }

    /// Asks for a folder to share into session `session`; `None` when the person cancels or
    /// the answer is not an absolute path.
    pub async fn choose(&self, session: &str) -> Option<PathBuf> {
        let title = format!("Share a folder with {session}");
        let mut cmd = match self {
            FolderChooser::Program(p) => {
                let mut c = Command::new(p);
                c.arg(&title);
                c
            }
            FolderChooser::Zenity(p) => {
                let mut c = Command::new(p);
                c.args(["--file-selection", "--directory", "--title"])
                    .arg(&title);
                c
            }
            FolderChooser::Kdialog(p) => {
                let mut c = Command::new(p);
                c.args(["--getexistingdirectory", "."])
                    .arg("--title")
                    .arg(&title);
                c
            }
        };
        let out = cmd
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .ok()?;
        if !out.status.success() {
            debug!("no folder chosen");
            return None;
        }
        let text = String::from_utf8(out.stdout).ok()?;
        let line = text.lines().next()?.trim_end_matches('\r');
        let path = PathBuf::from(line);
        path.is_absolute().then_some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_comes_first_and_a_display_is_needed_otherwise() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(*v))
            }
        };
        assert_eq!(
            FolderChooser::find(env(&[("X2GOD_FOLDER_CHOOSER", "/bin/pick")])),
            Some(FolderChooser::Program(PathBuf::from("/bin/pick")))
        );
        assert_eq!(FolderChooser::find(env(&[("PATH", "/usr/bin:/bin")])), None);
    }

    #[tokio::test]
    async fn the_answer_is_the_first_line_and_must_be_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        let ok = FolderChooser::Program(write("ok", "echo /srv/share; echo ignored"));
        assert_eq!(ok.choose("s").await, Some(PathBuf::from("/srv/share")));
        let relative = FolderChooser::Program(write("rel", "echo share"));
        assert_eq!(relative.choose("s").await, None);
        let cancel = FolderChooser::Program(write("cancel", "exit 1"));
        assert_eq!(cancel.choose("s").await, None);
    }
}
