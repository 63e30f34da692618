//! The local side of printing and the MIME box: the folders the X2Go server writes into
//! through the session's sshfs mount, watched, and the actions taken on what arrives.
//!
//! Per session, below its folder `~/.x2go/S-<session>/`:
//! - `spool/`: print jobs (`<pdf>` plus `<pdf>.ready`), acted on by a [`PrintQueue`] with a
//!   [`PrintAction`] (python-x2go's `PDFVIEW`, `PDFSAVE`, `PRINT`, `PRINTCMD`, `DIALOG`);
//! - `mimebox/`: files opened or saved by a [`MimeBox`] ([`MimeBoxAction`]: `OPEN`,
//!   `OPENWITH`, `SAVEAS`) when their extension is allowed;
//! - `jobs/`: the *job folder*, never mounted on the server, holding the copies handed to a
//!   viewer, to `xdg-open` or to the caller, so they outlive their spool entries; it goes with
//!   the session folder.
//!
//! Everything in `spool/` and `mimebox/` is untrusted input; programs are started by one
//! [`Launcher`] (as transient systemd units when x2god runs sandboxed as one).
//!
//! The parts, each a module with one job:
//! - [`print`](mod@print), [`mimebox`]: the two queues, each a [`watch::Handler`];
//! - [`print_action`]: print actions and their settings;
//! - [`watch`]: watching a folder, acting on each complete entry once;
//! - [`folder`]: opening, reading and removing untrusted entries safely;
//! - [`names`]: safe, readable, unique names for the copies;
//! - [`launcher`]: starting programs; [`error`]: the errors.
//!
//! ```ignore
//! let launcher = Launcher::from_env().with_display(display, xauthority);
//! let print = PrintQueue::start(
//!     PrintQueueConfig::new(&session_dir, PrintAction::from_settings("PDFSAVE", &args, &home)?, launcher.clone()),
//!     move |job: PrintJob| emit_print_job_signal(job),
//! )?;
//! let mime = MimeBox::start(MimeBoxConfig::new(&session_dir, settings, launcher), on_file)?;
//! // … session ends:
//! print.stop().await;
//! mime.stop().await;
//! ```

mod error;
mod folder;
mod launcher;
mod mimebox;
mod names;
mod print;
mod print_action;
mod watch;

#[cfg(test)]
mod tests;

// The API for the session wiring of issue 15, which does not use all of it yet.
#[allow(unused_imports)]
pub use error::Error;
#[allow(unused_imports)]
pub use folder::DEFAULT_MAX_SIZE;
#[allow(unused_imports)]
pub use launcher::{LaunchMode, Launched, Launcher, Until};
#[allow(unused_imports)]
pub use mimebox::{
    DENIED_EXTENSIONS, MimeBox, MimeBoxAction, MimeBoxActionKind, MimeBoxConfig, MimeBoxFile,
    MimeBoxSettings,
};
#[allow(unused_imports)]
pub use print::{PrintJob, PrintQueue, PrintQueueConfig};
#[allow(unused_imports)]
pub use print_action::{
    CommandLine, DEFAULT_PDFSAVE_LOCATION, DEFAULT_PDFVIEW_CMD, DEFAULT_PRINTCMD_CMD, PrintAction,
    PrintActionKind, PrintArgs, save_folder,
};
