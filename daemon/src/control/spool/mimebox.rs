//! The MIME box of one session: files the server side drops into `~/.x2go/S-<session>/mimebox`
//! (mounted on the server; `x2gomimebox` copies a file there) are opened with the desktop's
//! handler or saved, if their extension is allowed, and removed either way.
//!
//! python-x2go's semantics (`mimebox.py`, `mimeboxactions.py`, `defaults.py`), with its
//! defects mended:
//! - actions `OPEN` (`xdg-open`), `OPENWITH` (the same on Linux: python-x2go falls back to
//!   `OPEN` there) and `SAVEAS` (python-x2go calls a save-as hook; here the file is saved into a
//!   folder when one is set, else kept in the job folder and handed to the callback, whose
//!   applet may ask where to save it);
//! - `mimebox_extensions` is the profile's comma-separated allow list; empty allows every
//!   extension. python-x2go never splits the profile string under Python 3, so it compares
//!   single characters; here `pdf, .ODT, tar.gz` allows `*.pdf`, `*.odt` and `*.tar.gz`,
//!   case-insensitively;
//! - whatever the allow list says, hidden files (a leading dot) and the extensions of
//!   [`DENIED_EXTENSIONS`] (python-x2go's list plus launchers, scripts and installers a
//!   desktop's handler might run) are refused.
//!
//! A file is complete when its writer closed it ([`super::watch`]); python-x2go does not check
//! this at all and may open a half-copied file. The file is copied out (a single-linked regular
//! file within the size limit; see [`super::folder`]) under a safe unique name made from its
//! own ([`super::names`]); opened files go to the session's job folder, where they outlive the
//! MIME box entry, like a print job's.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::{error, info, warn};

use super::error::Error;
use super::folder::{DEFAULT_MAX_SIZE, Folder, Refusal};
use super::launcher::{Launcher, Until};
use super::names::{self, StageError};
use super::print_action::save_folder;
use super::watch::{self, Handler, Watch};

/// Extensions never acted on (compared case-insensitively): python-x2go's
/// `X2GO_MIMEBOX_EXTENSIONS_BLACKLIST` first, then ours.
pub const DENIED_EXTENSIONS: &[&str] = &[
    "LOCK",
    "SYS",
    "SWP",
    "EXE",
    "COM",
    "CMD",
    "PS1",
    "PS2",
    "BAT",
    "JS",
    "PY",
    "PL",
    "SH",
    // Desktop launchers, executables, scripts and packages a handler may run or install.
    "DESKTOP",
    "APPIMAGE",
    "RUN",
    "BIN",
    "JAR",
    "BASH",
    "ZSH",
    "CSH",
    "KSH",
    "FISH",
    "RB",
    "PHP",
    "LUA",
    "TCL",
    "VBS",
    "WSF",
    "MSI",
    "SCR",
    "LNK",
    "PIF",
    "REG",
    "APK",
    "DEB",
    "RPM",
    "FLATPAKREF",
    "SNAP",
];

/// What to do with each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MimeBoxAction {
    /// `OPEN`: open it with the desktop's handler (`xdg-open`).
    Open,
    /// `OPENWITH`: as `OPEN` (python-x2go has no "open with" dialog on Linux either).
    OpenWith,
    /// `SAVEAS`: save it into `folder`; without one, hand it to the caller to ask the user.
    SaveAs {
        /// The folder (created when missing), or `None` to ask.
        folder: Option<PathBuf>,
    },
}

/// A MIME box action's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MimeBoxActionKind {
    /// `OPEN`.
    Open,
    /// `OPENWITH`.
    OpenWith,
    /// `SAVEAS`.
    SaveAs,
}

impl MimeBoxActionKind {
    /// Every kind, in python-x2go's order.
    pub const ALL: [MimeBoxActionKind; 3] = [
        MimeBoxActionKind::Open,
        MimeBoxActionKind::OpenWith,
        MimeBoxActionKind::SaveAs,
    ];

    /// python-x2go's name: `OPEN`, `OPENWITH`, `SAVEAS`.
    pub fn name(self) -> &'static str {
        match self {
            MimeBoxActionKind::Open => "OPEN",
            MimeBoxActionKind::OpenWith => "OPENWITH",
            MimeBoxActionKind::SaveAs => "SAVEAS",
        }
    }

    /// The kind named `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<MimeBoxActionKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name.trim()))
    }
}

impl MimeBoxAction {
    /// The action named `name` (python-x2go's `mimebox_action`); `SAVEAS` saves into
    /// `save_folder` (resolved against `home` like `PDFSAVE`'s folder) when given.
    pub fn from_settings(
        name: &str,
        save_folder_setting: Option<&str>,
        home: &Path,
    ) -> Result<MimeBoxAction, Error> {
        let kind = MimeBoxActionKind::parse(name).ok_or_else(|| {
            Error::Setting(format!(
                "unknown MIME box action {name:?} (one of OPEN, OPENWITH, SAVEAS)"
            ))
        })?;
        Ok(match kind {
            MimeBoxActionKind::Open => MimeBoxAction::Open,
            MimeBoxActionKind::OpenWith => MimeBoxAction::OpenWith,
            MimeBoxActionKind::SaveAs => MimeBoxAction::SaveAs {
                folder: save_folder_setting
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(|f| save_folder(f, home)),
            },
        })
    }

    /// The action's kind.
    pub fn kind(&self) -> MimeBoxActionKind {
        match self {
            MimeBoxAction::Open => MimeBoxActionKind::Open,
            MimeBoxAction::OpenWith => MimeBoxActionKind::OpenWith,
            MimeBoxAction::SaveAs { .. } => MimeBoxActionKind::SaveAs,
        }
    }
}

/// The MIME box's settings from a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeBoxSettings {
    /// What to do with each file.
    pub action: MimeBoxAction,
    /// Allowed extensions (without the dot, any case); empty allows all but the denied ones.
    pub extensions: Vec<String>,
}

impl MimeBoxSettings {
    /// The allow list from the profile's comma-separated `mimeboxextensions` (`"pdf, .odt"`).
    pub fn parse_extensions(list: &str) -> Vec<String> {
        list.split(',')
            .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|e| !e.is_empty())
            .collect()
    }

    /// Whether a file named `name` may be acted on; the reason when not.
    fn check(&self, name: &str) -> Result<(), Refusal> {
        if name.starts_with('.') {
            return Err(Refusal::Hidden);
        }
        let lower = name.to_lowercase();
        if let Some((_, ext)) = lower.rsplit_once('.')
            && DENIED_EXTENSIONS
                .iter()
                .any(|d| d.eq_ignore_ascii_case(ext))
        {
            return Err(Refusal::Extension(ext.to_owned()));
        }
        let allowed = self.extensions.is_empty()
            || self.extensions.iter().any(|e| {
                let e = e.trim().trim_start_matches('.').to_lowercase();
                !e.is_empty() && lower.ends_with(&format!(".{e}"))
            });
        if allowed {
            Ok(())
        } else {
            let ext = lower.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
            Err(Refusal::Extension(ext.to_owned()))
        }
    }
}

/// A file from the MIME box that was acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeBoxFile {
    /// Its name as the server gave it (lossily decoded).
    pub name: String,
    /// Where it is now: the save folder or the job folder.
    pub file: PathBuf,
    /// What was done; [`MimeBoxActionKind::SaveAs`] also when opening failed (the file is
    /// handed on to be saved).
    pub action_taken: MimeBoxActionKind,
}

/// How a [`MimeBox`] works.
#[derive(Debug, Clone)]
pub struct MimeBoxConfig {
    /// The MIME box folder the server writes into (`~/.x2go/S-<session>/mimebox`).
    pub mimebox_dir: PathBuf,
    /// The job folder (`~/.x2go/S-<session>/jobs`); see [`super::PrintQueueConfig::jobs_dir`].
    pub jobs_dir: PathBuf,
    /// Action and allow list.
    pub settings: MimeBoxSettings,
    /// How programs are started.
    pub launcher: Launcher,
    /// The largest file accepted, in bytes.
    pub max_size: u64,
}

impl MimeBoxConfig {
    /// The configuration for the session folder `session_dir` (`~/.x2go/S-<session>`): its
    /// `mimebox` and `jobs` folders, the default size limit.
    pub fn new(session_dir: &Path, settings: MimeBoxSettings, launcher: Launcher) -> MimeBoxConfig {
        MimeBoxConfig {
            mimebox_dir: session_dir.join("mimebox"),
            jobs_dir: session_dir.join("jobs"),
            settings,
            launcher,
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// A running MIME box. Dropping it (or [`MimeBox::stop`]) ends the watcher; so does removing
/// or moving the MIME box folder.
#[derive(Debug)]
pub struct MimeBox {
    watch: Watch,
}

impl MimeBox {
    /// Starts watching `config.mimebox_dir` (created, private, when missing). `on_file` is
    /// called once per file acted on, from the MIME box's task: it must return quickly. Must be
    /// called within the tokio runtime.
    pub fn start(
        config: MimeBoxConfig,
        on_file: impl Fn(MimeBoxFile) + Send + Sync + 'static,
    ) -> Result<MimeBox, Error> {
        let folder = Arc::new(Folder::open(&config.mimebox_dir)?);
        super::folder::create_private_dir(&config.jobs_dir)?;
        let handler = MimeHandler {
            folder: folder.clone(),
            jobs_dir: config.jobs_dir,
            settings: config.settings,
            launcher: config.launcher,
            max_size: config.max_size,
            on_file: Arc::new(on_file),
        };
        Ok(MimeBox {
            watch: Watch::start(folder, handler)?,
        })
    }

    /// Stops watching, after the file in hand (if any) is done.
    pub async fn stop(self) {
        self.watch.stop().await;
    }
}

struct MimeHandler {
    folder: Arc<Folder>,
    jobs_dir: PathBuf,
    settings: MimeBoxSettings,
    launcher: Launcher,
    max_size: u64,
    on_file: Arc<dyn Fn(MimeBoxFile) + Send + Sync>,
}

/// Checks and copies out entry `name`, then removes it whatever happened. Returns the copy and
/// the action still to take. Runs on the blocking pool.
fn take_file(
    folder: &Folder,
    name: &OsStr,
    settings: &MimeBoxSettings,
    jobs_dir: &Path,
    max_size: u64,
) -> Result<(PathBuf, MimeBoxAction), Refusal> {
    let taken = copy_file(folder, name, settings, jobs_dir, max_size);
    if let Err(e) = folder.remove(name) {
        warn!(folder = %folder.path().display(), entry = ?name, error = %e, "cannot remove a MIME box file");
    }
    taken
}

fn copy_file(
    folder: &Folder,
    name: &OsStr,
    settings: &MimeBoxSettings,
    jobs_dir: &Path,
    max_size: u64,
) -> Result<(PathBuf, MimeBoxAction), Refusal> {
    let text = name.to_string_lossy();
    settings.check(&text)?;
    let mut entry = folder.open_entry(name, max_size)?;
    let (stem, ext) = names::stem_and_extension(&text);
    let to_jobs = |entry: &mut super::folder::Entry| {
        names::stage(jobs_dir, entry).map_err(|e| match e {
            StageError::Source(r) => r,
            StageError::Target(e) => Refusal::Io(e),
        })
    };
    let (staged, action) = match &settings.action {
        MimeBoxAction::SaveAs {
            folder: Some(target),
        } => match names::stage(target, &mut entry) {
            Ok(staged) => (staged, settings.action.clone()),
            Err(StageError::Source(r)) => return Err(r),
            Err(StageError::Target(e)) => {
                warn!(folder = %target.display(), error = %e, "cannot save into the MIME box folder; handing the file on");
                (to_jobs(&mut entry)?, MimeBoxAction::SaveAs { folder: None })
            }
        },
        other => (to_jobs(&mut entry)?, other.clone()),
    };
    let file = staged.persist(&stem, &ext).map_err(Refusal::Io)?;
    Ok((file, action))
}

impl Handler for MimeHandler {
    fn wants(&self, _name: &OsStr) -> bool {
        true
    }

    async fn handle(&mut self, name: OsString) {
        let folder = self.folder.clone();
        let settings = self.settings.clone();
        let jobs_dir = self.jobs_dir.clone();
        let max_size = self.max_size;
        let entry = name.clone();
        let taken =
            watch::blocking(move || take_file(&folder, &entry, &settings, &jobs_dir, max_size))
                .await;
        let (file, action) = match taken {
            Some(Ok(taken)) => taken,
            Some(Err(Refusal::Io(e))) => {
                error!(folder = %self.folder.path().display(), entry = ?name, error = %e, "MIME box file lost");
                return;
            }
            Some(Err(refusal)) => {
                warn!(folder = %self.folder.path().display(), entry = ?name, reason = %refusal, "MIME box file refused and removed");
                return;
            }
            None => return,
        };
        let mut action_taken = action.kind();
        if matches!(action, MimeBoxAction::Open | MimeBoxAction::OpenWith) {
            let argv = vec![self.launcher.xdg_open.clone().into(), file.clone().into()];
            if let Err(e) = self.launcher.launch("mimebox-open", argv, Until::Started) {
                warn!(error = %e, "cannot open a MIME box file; handing it on to be saved");
                action_taken = MimeBoxActionKind::SaveAs;
            }
        }
        info!(file = %file.display(), action = action_taken.name(), "MIME box file");
        (self.on_file)(MimeBoxFile {
            name: name.to_string_lossy().into_owned(),
            file,
            action_taken,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(list: &str) -> MimeBoxSettings {
        MimeBoxSettings {
            action: MimeBoxAction::Open,
            extensions: MimeBoxSettings::parse_extensions(list),
        }
    }

    #[test]
    fn allow_list_semantics() {
        assert_eq!(
            MimeBoxSettings::parse_extensions(" pdf, .ODT ,,tar.gz "),
            ["pdf", "odt", "tar.gz"]
        );
        let some = settings("pdf, .ODT, tar.gz");
        for ok in ["a.pdf", "B.PDF", "x.odt", "src.tar.gz", "my file.v2.pdf"] {
            assert!(some.check(ok).is_ok(), "{ok}");
        }
        for refused in ["a.txt", "pdf", "a.pdf.exe", "apdf", "a.gz", "README"] {
            assert!(some.check(refused).is_err(), "{refused}");
        }
        let all = settings("");
        for ok in ["a.txt", "README", "photo.JPEG"] {
            assert!(all.check(ok).is_ok(), "{ok}");
        }
        for refused in [
            ".hidden.pdf",
            "run.sh",
            "evil.desktop",
            "Setup.EXE",
            "x.AppImage",
        ] {
            assert!(all.check(refused).is_err(), "{refused}");
        }
        // The deny list wins over the allow list.
        assert!(settings("sh").check("a.sh").is_err());
    }

    #[test]
    fn actions_from_settings() {
        let home = Path::new("/home/u");
        assert_eq!(
            MimeBoxAction::from_settings("open", None, home).unwrap(),
            MimeBoxAction::Open
        );
        assert_eq!(
            MimeBoxAction::from_settings("OPENWITH", Some("x"), home).unwrap(),
            MimeBoxAction::OpenWith
        );
        assert_eq!(
            MimeBoxAction::from_settings("SAVEAS", Some("Downloads"), home).unwrap(),
            MimeBoxAction::SaveAs {
                folder: Some("/home/u/Downloads".into())
            }
        );
        assert_eq!(
            MimeBoxAction::from_settings("SAVEAS", Some(" "), home).unwrap(),
            MimeBoxAction::SaveAs { folder: None }
        );
        assert!(MimeBoxAction::from_settings("RUN", None, home).is_err());
        for k in MimeBoxActionKind::ALL {
            assert_eq!(MimeBoxActionKind::parse(k.name()), Some(k));
        }
    }
}
