//! The print queue of one session: watches the session's spool folder and takes each print
//! job's action once.
//!
//! The server side (cups-x2go, then `x2goprint` as root) moves each job's PDF into the spool
//! folder, which the session has mounted through sshfs, then writes `<pdf>.ready` holding two
//! lines: the PDF's file name and the job title. We trust none of it: the `.ready` file must be
//! a small regular file naming exactly its own sibling (`x.pdf.ready` names `x.pdf`, so no
//! path leads anywhere else), and the PDF must be a single-linked regular file within the size
//! limit that starts like a PDF. A job that fails any of this is refused and logged, and its
//! files are removed; nothing is run for it.
//!
//! Accepted, the PDF is copied out under a readable unique name made from the title
//! ([`super::names`]) and both spool files are removed. `PDFSAVE` puts the copy into its folder;
//! every other action puts it into the session's *job folder* (`~/.x2go/S-<session>/jobs/`,
//! [`PrintQueueConfig::jobs_dir`]), which the server never sees (it is beside the mounted spool
//! folder, not in it) and where the file outlives its spool entry: a viewer or an applet may
//! open it minutes later. `PRINT` and `PRINTCMD` remove their copy once the command ended;
//! `PDFVIEW` and `DIALOG` copies stay until the session folder is removed. An action that
//! cannot be taken (the save folder is not writable, the viewer does not start) falls back to
//! `DIALOG`, so the job is never silently lost.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::{error, info, warn};

use super::error::Error;
use super::folder::{DEFAULT_MAX_SIZE, Folder, Refusal};
use super::launcher::{Launcher, Until};
use super::names::{self, StageError};
use super::print_action::{PrintAction, PrintActionKind};
use super::watch::{self, Handler, Watch};

/// The most bytes a `.ready` file may have (a file name and a title).
const MAX_JOB_FILE: u64 = 4096;

/// The title of a job whose `.ready` file names none (python-x2go's).
const DEFAULT_TITLE: &str = "X2Go Print Job";

/// The longest title kept, in characters.
const MAX_TITLE_CHARS: usize = 256;

/// A print job that was acted on: what the daemon turns into a `PrintJob` signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintJob {
    /// The job title as the server gave it (control, zero-width and text-direction
    /// characters removed).
    pub title: String,
    /// Where the PDF is now: in the save folder (`PDFSAVE`) or the job folder. For `PRINT` and
    /// `PRINTCMD` the copy is removed once the command ended.
    pub file: PathBuf,
    /// What was done; [`PrintActionKind::Dialog`] also when the configured action failed.
    pub action_taken: PrintActionKind,
}

/// How a [`PrintQueue`] works.
#[derive(Debug, Clone)]
pub struct PrintQueueConfig {
    /// The spool folder the server writes into (`~/.x2go/S-<session>/spool`).
    pub spool_dir: PathBuf,
    /// The job folder for copies that outlive the spool entry (`~/.x2go/S-<session>/jobs`);
    /// it must not be inside a folder mounted on the server.
    pub jobs_dir: PathBuf,
    /// The action for every job.
    pub action: PrintAction,
    /// How programs are started.
    pub launcher: Launcher,
    /// The largest PDF accepted, in bytes.
    pub max_size: u64,
}

impl PrintQueueConfig {
    /// The configuration for the session folder `session_dir` (`~/.x2go/S-<session>`): its
    /// `spool` and `jobs` folders, the default size limit.
    pub fn new(session_dir: &Path, action: PrintAction, launcher: Launcher) -> PrintQueueConfig {
        PrintQueueConfig {
            spool_dir: session_dir.join("spool"),
            jobs_dir: session_dir.join("jobs"),
            action,
            launcher,
            max_size: DEFAULT_MAX_SIZE,
        }
    }
}

/// A running print queue. Dropping it (or [`PrintQueue::stop`]) ends the watcher; jobs that
/// arrive afterwards stay in the spool folder for the next queue on it. The watcher also ends
/// by itself when the spool folder is removed or moved away.
#[derive(Debug)]
pub struct PrintQueue {
    watch: Watch,
}

impl PrintQueue {
    /// Starts watching `config.spool_dir` (created, private, when missing), acting on the jobs
    /// already there and on every new one. `on_job` is called once per job acted on, from the
    /// queue's task: it must return quickly. Must be called within the tokio runtime.
    pub fn start(
        config: PrintQueueConfig,
        on_job: impl Fn(PrintJob) + Send + Sync + 'static,
    ) -> Result<PrintQueue, Error> {
        let folder = Arc::new(Folder::open(&config.spool_dir)?);
        super::folder::create_private_dir(&config.jobs_dir)?;
        let handler = PrintHandler {
            folder: folder.clone(),
            jobs_dir: config.jobs_dir,
            action: config.action,
            launcher: config.launcher,
            max_size: config.max_size,
            on_job: Arc::new(on_job),
        };
        let watch = Watch::start(folder, handler)?;
        Ok(PrintQueue { watch })
    }

    /// Stops watching, after the job in hand (if any) is done.
    pub async fn stop(self) {
        self.watch.stop().await;
    }
}

struct PrintHandler {
    folder: Arc<Folder>,
    jobs_dir: PathBuf,
    action: PrintAction,
    launcher: Launcher,
    max_size: u64,
    on_job: Arc<dyn Fn(PrintJob) + Send + Sync>,
}

/// A job whose PDF was copied out.
struct Taken {
    title: String,
    file: PathBuf,
    /// The action still to take (a fallback to `DIALOG` already applied).
    action: PrintAction,
}

/// Zero-width and text-direction characters: a title shown in an applet must read as it is.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The job's title from a `.ready` file's content, if it names `pdf` (and only then).
fn parse_job_file(content: &[u8], pdf: &[u8]) -> Result<String, Refusal> {
    let (first, rest) = match content.iter().position(|&b| b == b'\n') {
        Some(i) => (&content[..i], Some(&content[i + 1..])),
        None => (content, None),
    };
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    if first != pdf {
        return Err(Refusal::BadJobFile("it names another file"));
    }
    let line = rest
        .map(|r| r.split(|&b| b == b'\n').next().unwrap_or_default())
        .unwrap_or_default();
    let title: String = String::from_utf8_lossy(line)
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .take(MAX_TITLE_CHARS)
        .collect();
    let title = title.trim();
    Ok(if title.is_empty() {
        DEFAULT_TITLE.to_owned()
    } else {
        title.to_owned()
    })
}

/// Reads, checks and copies out the job of `ready`; removes its spool files whatever happened.
/// Runs on the blocking pool.
fn take_job(
    folder: &Folder,
    ready: &OsStr,
    action: PrintAction,
    jobs_dir: &Path,
    max_size: u64,
) -> Result<Taken, Refusal> {
    let pdf = OsStr::from_bytes(ready.as_bytes().strip_suffix(b".ready").unwrap_or_default());
    let taken = copy_job(folder, ready, pdf, action, jobs_dir, max_size);
    for name in [pdf, ready] {
        if let Err(e) = folder.remove(name) {
            warn!(folder = %folder.path().display(), entry = ?name, error = %e, "cannot remove a print job file");
        }
    }
    taken
}

fn copy_job(
    folder: &Folder,
    ready: &OsStr,
    pdf: &OsStr,
    action: PrintAction,
    jobs_dir: &Path,
    max_size: u64,
) -> Result<Taken, Refusal> {
    let content = folder.open_entry(ready, MAX_JOB_FILE)?.read_all()?;
    let title = parse_job_file(&content, pdf.as_bytes())?;
    let mut entry = folder.open_entry(pdf, max_size)?;
    entry.check_pdf()?;
    let stem = names::title_stem(&title);
    let (staged, action) = match &action {
        PrintAction::PdfSave { save_to_folder } => match names::stage(save_to_folder, &mut entry) {
            Ok(staged) => (staged, action),
            Err(StageError::Source(refusal)) => return Err(refusal),
            Err(StageError::Target(e)) => {
                warn!(folder = %save_to_folder.display(), error = %e, "cannot save into the PDF folder; handing the job on as DIALOG");
                (stage_job(jobs_dir, &mut entry)?, PrintAction::Dialog)
            }
        },
        _ => (stage_job(jobs_dir, &mut entry)?, action),
    };
    let file = staged.persist(&stem, "pdf").map_err(Refusal::Io)?;
    Ok(Taken {
        title,
        file,
        action,
    })
}

fn stage_job(jobs_dir: &Path, entry: &mut super::folder::Entry) -> Result<names::Staged, Refusal> {
    names::stage(jobs_dir, entry).map_err(|e| match e {
        StageError::Source(r) => r,
        StageError::Target(e) => Refusal::Io(e),
    })
}

impl PrintHandler {
    /// Takes the action on a copied-out job (launching runs nothing on the blocking pool: it
    /// only spawns) and reports it.
    fn act(&self, taken: Taken) {
        let Taken {
            title,
            file,
            action,
        } = taken;
        let path_arg = || file.clone().into_os_string();
        let launched = match &action {
            PrintAction::PdfSave { .. } | PrintAction::Dialog => Ok(None),
            PrintAction::PdfView { pdfview_cmd } => {
                let mut argv: Vec<OsString> = pdfview_cmd.words().iter().map(Into::into).collect();
                argv.push(path_arg());
                self.launcher
                    .launch("pdfview", argv, Until::Started)
                    .map(|_| None)
            }
            PrintAction::Print { printer } => {
                let mut argv: Vec<OsString> = vec![self.launcher.lp.clone().into()];
                if let Some(printer) = printer {
                    argv.extend(["-d".into(), printer.into()]);
                }
                argv.extend(["-t".into(), title.as_str().into(), path_arg()]);
                self.launcher.launch("print", argv, Until::Exited).map(Some)
            }
            PrintAction::PrintCmd { print_cmd } => {
                let mut argv: Vec<OsString> = print_cmd.words().iter().map(Into::into).collect();
                argv.push(path_arg());
                self.launcher
                    .launch("printcmd", argv, Until::Exited)
                    .map(Some)
            }
        };
        let action_taken = match launched {
            Ok(Some(running)) => {
                // The command has the file; it goes once the command ended.
                let copy = file.clone();
                tokio::spawn(async move {
                    running.finished().await;
                    let _ = tokio::fs::remove_file(&copy).await;
                });
                action.kind()
            }
            Ok(None) => action.kind(),
            Err(e) => {
                warn!(error = %e, "print action failed; handing the job on as DIALOG");
                PrintActionKind::Dialog
            }
        };
        info!(title = %title, file = %file.display(), action = action_taken.name(), "print job");
        (self.on_job)(PrintJob {
            title,
            file,
            action_taken,
        });
    }
}

impl Handler for PrintHandler {
    fn wants(&self, name: &OsStr) -> bool {
        name.as_bytes().len() > b".ready".len() && name.as_bytes().ends_with(b".ready")
    }

    async fn handle(&mut self, name: OsString) {
        let action = self.action.clone();
        let folder = self.folder.clone();
        let jobs_dir = self.jobs_dir.clone();
        let max_size = self.max_size;
        let job = name.clone();
        let taken =
            watch::blocking(move || take_job(&folder, &job, action, &jobs_dir, max_size)).await;
        match taken {
            Some(Ok(taken)) => self.act(taken),
            Some(Err(Refusal::Io(e))) => {
                error!(folder = %self.folder.path().display(), job = ?name, error = %e, "print job lost");
            }
            Some(Err(refusal)) => {
                warn!(folder = %self.folder.path().display(), job = ?name, reason = %refusal, "print job refused and removed");
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_files_name_their_own_pdf_only() {
        let pdf = b"S-1_12.pdf";
        assert_eq!(
            parse_job_file(b"S-1_12.pdf\nMy Report\n", pdf).unwrap(),
            "My Report"
        );
        assert_eq!(parse_job_file(b"S-1_12.pdf\r\nT\r\n", pdf).unwrap(), "T");
        assert_eq!(parse_job_file(b"S-1_12.pdf", pdf).unwrap(), DEFAULT_TITLE);
        assert_eq!(
            parse_job_file(b"S-1_12.pdf\n  \n", pdf).unwrap(),
            DEFAULT_TITLE
        );
        assert_eq!(
            parse_job_file(b"S-1_12.pdf\na\x1b[31mb\x07\nsecond line", pdf).unwrap(),
            "a[31mb"
        );
        assert_eq!(
            parse_job_file("S-1_12.pdf\ninvoice\u{202E}fdp.exe".as_bytes(), pdf).unwrap(),
            "invoicefdp.exe"
        );
        let long = [b"S-1_12.pdf\n".as_slice(), &[b'x'; 1000]].concat();
        assert_eq!(parse_job_file(&long, pdf).unwrap().len(), MAX_TITLE_CHARS);
        for hostile in [
            b"../x\nt".as_slice(),
            b"/etc/passwd\nt",
            b"S-1_12.pdf/../../x\nt",
            b"other.pdf\nt",
            b"",
            b"\nS-1_12.pdf",
        ] {
            assert!(
                matches!(parse_job_file(hostile, pdf), Err(Refusal::BadJobFile(_))),
                "{:?}",
                String::from_utf8_lossy(hostile)
            );
        }
    }
}
