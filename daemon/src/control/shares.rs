//! Client folders shared into a profile's sessions.
//!
//! Per session: a fresh key pair (the throw-away client key the server-side `sshfs` logs in
//! with, and the host key of our embedded server, pinned in the `.ident` file), a [`Jail`] of
//! the folders shared, and one reverse forward of the session's `sshfs_port` on the profile's
//! connection, whose channels [`serve_sftp`](crate::ssh::serve_sftp) answers.
//! `x2gomountdirs` (fed the key bundle on standard input, see `x2go/scripts/mount_dirs.sh`)
//! mounts a folder; `x2goumount-session` unmounts it. The server unmounts everything itself on
//! suspend (what was shared is kept for `restore_shared_local_folders`); on terminate nothing
//! does, so the session's share connections end with its shares here, and `sshfs` unmounts as
//! it exits. The print spool and the MIME box travel the same way, each a root of the same
//! jail.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{debug, info, warn};

use super::connection::Connector;
use super::error::Error;
use super::events::{Events, ProfileEvent};
use super::listing::{Listings, SessionObserver};
use super::local::LocalSpec;
use super::plan::Features;
use super::share_forward::accept_loop;
use super::spool::{
    Launcher, MimeBox, MimeBoxConfig, PrintActionKind, PrintQueue, PrintQueueConfig,
};
use super::sync::{SharedName, lock};
use super::table::Change;
use crate::ssh::{Jail, ShareKeys};
use crate::x2go::command::RemoteCommand;
use crate::x2go::list::{SessionInfo, SessionStatus};
use crate::x2go::share::{MountFailure, ShareKind, SharePath, parse_mount_result};
use crate::x2go::validate::{SessionName, Username};

/// `x2gomountdirs` gives `sshfs` 30 s; a little more for the rest of the script.
const MOUNT_TIMEOUT: Duration = Duration::from_secs(45);
/// `x2goumount-session` runs `fusermount -u` per mount.
const UMOUNT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often, and how far apart, a refused reverse forward is asked for again (2 s in all).
const FORWARD_RETRIES: u32 = 20;
const FORWARD_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// What separates the private key from the host key in the key bundle (doc §2.12).
const BUNDLE_SEPARATOR: &str = "----BEGIN RSA IDENTITY----";

/// The shares of one session.
struct SessionShares {
    keys: Arc<ShareKeys>,
    jail: Arc<Jail>,
    /// The reverse forward's accept loop, the connection generation it runs on, and the
    /// server port it forwards.
    forward: Option<(u64, u16, tokio::task::JoinHandle<()>)>,
    /// Folders shared now, and whether read-only.
    folders: BTreeMap<SharePath, bool>,
    /// Folders shared when the session was last suspended (for `restore_shared_local_folders`).
    before_suspend: BTreeMap<SharePath, bool>,
    /// One share operation at a time per session.
    op: Arc<tokio::sync::Mutex<()>>,
    /// The session's print queue, when its print jobs come here.
    print: Option<PrintQueue>,
    /// The session's MIME box, when its files come here.
    mimebox: Option<MimeBox>,
}

impl SessionShares {
    fn new() -> Result<SessionShares, Error> {
        Ok(SessionShares {
            keys: Arc::new(ShareKeys::generate()?),
            jail: Arc::new(Jail::new()),
            forward: None,
            folders: BTreeMap::new(),
            before_suspend: BTreeMap::new(),
            op: Arc::default(),
            print: None,
            mimebox: None,
        })
    }

    fn stop_forward(&mut self) {
        if let Some((_, _, task)) = self.forward.take() {
            task.abort();
        }
    }

    /// Stops the print queue and the MIME box, each after the entry in hand: the server has
    /// unmounted their folders (suspend, end), and a resume starts new ones.
    fn stop_watchers(&mut self) {
        let (print, mimebox) = (self.print.take(), self.mimebox.take());
        if print.is_some() || mimebox.is_some() {
            tokio::spawn(async move {
                if let Some(q) = print {
                    q.stop().await;
                }
                if let Some(m) = mimebox {
                    m.stop().await;
                }
            });
        }
    }
}

impl Drop for SessionShares {
    fn drop(&mut self) {
        self.stop_forward();
    }
}

/// A profile's shared folders, per session.
pub struct Shares {
    name: SharedName,
    connector: Arc<Connector>,
    listings: Arc<Listings>,
    events: Events,
    sessions: Mutex<HashMap<String, SessionShares>>,
}

/// The local login name, which `x2gomountdirs` passes to `sshfs` as the user of the embedded
/// server (which accepts any name: only the key counts).
fn local_user() -> Result<Username, Error> {
    let name = crate::config::local_username().ok_or_else(|| {
        Error::NotSupported("cannot share folders: the local user name is unknown".into())
    })?;
    Username::parse(&name).map_err(|_| {
        Error::NotSupported(format!(
            "cannot share folders: the local user name {name:?} is not one X2Go takes"
        ))
    })
}

/// `path` as a shareable folder: existing, a directory, absolute and canonical (symbolic links
/// resolved, so that what is shared is what the server sees), and a path `x2gomountdirs`
/// carries unharmed.
pub(crate) fn share_path(path: &Path) -> Result<SharePath, Error> {
    if !path.is_absolute() {
        return Err(Error::InvalidArgument(format!(
            "a shared folder must be an absolute path, not {:?}",
            path.display()
        )));
    }
    let canonical = std::fs::canonicalize(path)
        .map_err(|e| Error::InvalidArgument(format!("cannot share {}: {e}", path.display())))?;
    if !canonical.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "cannot share {}: not a directory",
            path.display()
        )));
    }
    let text = canonical.to_str().ok_or_else(|| {
        Error::InvalidArgument(format!("cannot share {}: not valid UTF-8", path.display()))
    })?;
    Ok(SharePath::parse(text)?)
}

impl Shares {
    /// The shares of the sessions of `connector`'s profile.
    pub(crate) fn new(
        name: SharedName,
        connector: Arc<Connector>,
        listings: Arc<Listings>,
        events: Events,
    ) -> Shares {
        Shares {
            name,
            connector,
            listings,
            events,
            sessions: Mutex::default(),
        }
    }

    /// The folders shared into `session` now, each with whether it is read-only.
    pub fn folders(&self, session: &str) -> Vec<(String, bool)> {
        lock(&self.sessions)
            .get(session)
            .map(|s| {
                s.folders
                    .iter()
                    .filter(|(p, _)| !is_feature_folder(p))
                    .map(|(p, ro)| (p.as_str().to_owned(), *ro))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A running session of the table, by name.
    async fn running(&self, session: &SessionName) -> Result<SessionInfo, Error> {
        let info = match self.listings.session_info(session.as_str()) {
            Some(i) => i,
            None => self
                .listings
                .list_now()
                .await?
                .into_iter()
                .find(|s| &s.name == session)
                .ok_or_else(|| {
                    Error::NotFound(format!("no session {:?} on the server", session.as_str()))
                })?,
        };
        if info.status != SessionStatus::Running {
            return Err(Error::InvalidArgument(format!(
                "session {:?} is not running: folders are shared into running sessions",
                session.as_str()
            )));
        }
        Ok(info)
    }

    /// The per-session lock, creating the session's key material on first use.
    fn session_op(&self, session: &str) -> Result<Arc<tokio::sync::Mutex<()>>, Error> {
        let mut sessions = lock(&self.sessions);
        let entry = match sessions.entry(session.to_owned()) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(SessionShares::new()?),
        };
        Ok(entry.op.clone())
    }

    /// Makes sure the session's reverse forward runs on the current connection.
    async fn ensure_forward(&self, session: &str, port: u16) -> Result<(), Error> {
        let generation = self.connector.generation();
        let (keys, jail) = {
            let mut sessions = lock(&self.sessions);
            // The server gave this port to `session`: a session of ours that had it before has
            // ended, even if our listing has not told us yet (a start right after a
            // terminate): its forward must make room.
            for (name, other) in sessions.iter_mut() {
                if name != session
                    && other
                        .forward
                        .as_ref()
                        .is_some_and(|(g, p, _)| *g == generation && *p == port)
                {
                    other.stop_forward();
                }
            }
            let s = sessions
                .get(session)
                .ok_or_else(|| Error::NotFound(format!("no shares of {session:?}")))?;
            if let Some((g, _, task)) = &s.forward
                && *g == generation
                && !task.is_finished()
            {
                return Ok(());
            }
            (s.keys.clone(), s.jail.clone())
        };
        let conn = self.connector.connection()?;
        // A forward of the port just stopped (above, or by a suspend or terminate) cancels on
        // the server asynchronously: ask again for a while before giving up.
        let mut tries = 0;
        let forward = loop {
            match conn.forward_remote(port).await {
                Ok(f) => break f,
                Err(_) if tries < FORWARD_RETRIES => {
                    tries += 1;
                    tokio::time::sleep(FORWARD_RETRY_PAUSE).await;
                }
                // One client per session receives its sshfs connections: the one showing it,
                // which asked for the port first (python-x2go does, for its own sessions).
                Err(e) => {
                    return Err(Error::Busy(format!(
                        "cannot take the session's sshfs connections (server port {port}): {e}; \
                         another client showing the session may hold them: share from that client"
                    )));
                }
            }
        };
        let name = self.name.clone();
        let label = session.to_owned();
        let task = tokio::spawn(accept_loop(forward, keys, jail, name, label));
        let mut sessions = lock(&self.sessions);
        if let Some(s) = sessions.get_mut(session) {
            s.stop_forward();
            s.forward = Some((generation, port, task));
        } else {
            task.abort();
        }
        Ok(())
    }

    /// Shares the local folder `path` (read-only if asked) into the running session `session`;
    /// returns the folder as shared (its canonical path).
    pub async fn share(
        &self,
        session: &str,
        path: &Path,
        read_only: bool,
    ) -> Result<String, Error> {
        let name = SessionName::parse(session)?;
        let path = share_path(path)?;
        self.share_kind(&name, &path, ShareKind::Folder, read_only)
            .await?;
        Ok(path.as_str().to_owned())
    }

    /// Shares `path` as `kind` into `session` (folders, the print spool, the MIME box).
    pub(crate) async fn share_kind(
        &self,
        session: &SessionName,
        path: &SharePath,
        kind: ShareKind,
        read_only: bool,
    ) -> Result<(), Error> {
        let user = local_user()?;
        let info = self.running(session).await?;
        let op = self.session_op(session.as_str())?;
        let _op = op.lock().await;
        // What is shared already decides; the lock is not held across the awaits below.
        let reflag = {
            let sessions = lock(&self.sessions);
            let s = sessions
                .get(session.as_str())
                .ok_or_else(|| Error::NotFound(format!("no shares of {:?}", session.as_str())))?;
            if kind == ShareKind::Folder
                && !s.folders.contains_key(path)
                && let Some(other) = s
                    .folders
                    .keys()
                    .find(|p| p.mount_name() == path.mount_name())
            {
                return Err(Error::InvalidArgument(format!(
                    "{} would be mounted where {} is (the server names both {})",
                    path.as_str(),
                    other.as_str(),
                    path.mount_name()
                )));
            }
            match s.folders.get(path) {
                Some(ro) if *ro == read_only => return Ok(()),
                Some(_) => Some(s.jail.clone()),
                None => None,
            }
        };
        if let Some(jail) = reflag {
            // Only the jail says what may be written: change it, the mount stays.
            jail.add(Path::new(path.as_str()), read_only)?;
            if let Some(s) = lock(&self.sessions).get_mut(session.as_str()) {
                s.folders.insert(path.clone(), read_only);
            }
            self.changed(session).await;
            return Ok(());
        }
        self.ensure_forward(session.as_str(), info.sshfs_port)
            .await?;
        let (keys, jail) = {
            let sessions = lock(&self.sessions);
            let s = sessions
                .get(session.as_str())
                .ok_or_else(|| Error::NotFound(format!("no shares of {:?}", session.as_str())))?;
            (s.keys.clone(), s.jail.clone())
        };
        // In the jail before the server asks for it: the mount's first request follows at once.
        jail.add(Path::new(path.as_str()), read_only)?;
        let result = self.mount(session, &info, &user, path, kind, &keys).await;
        if let Err(e) = result {
            jail.remove(Path::new(path.as_str()));
            return Err(e);
        }
        if let Some(s) = lock(&self.sessions).get_mut(session.as_str()) {
            s.folders.insert(path.clone(), read_only);
        }
        info!(profile = %self.name, session = %session.as_str(), folder = %path.as_str(), read_only, "folder shared");
        self.changed(session).await;
        Ok(())
    }

    async fn mount(
        &self,
        session: &SessionName,
        info: &SessionInfo,
        user: &Username,
        path: &SharePath,
        kind: ShareKind,
        keys: &ShareKeys,
    ) -> Result<(), Error> {
        let cmd =
            RemoteCommand::mount_dirs(session, info.agent_pid, user, path, kind, info.sshfs_port);
        // The bundle exists only here and on the way to the server's private file.
        let mut bundle = keys.client_private_openssh().expose().as_bytes().to_vec();
        bundle.extend_from_slice(BUNDLE_SEPARATOR.as_bytes());
        bundle.extend_from_slice(keys.host_public_line().as_bytes());
        bundle.push(b'\n');
        let out = super::exec::run_with_input(&self.connector, &cmd, &bundle, MOUNT_TIMEOUT)
            .await
            .map_err(|e| e.at("x2gomountdirs"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        parse_mount_result(path, &stdout, &stderr).map_err(|f| match f {
            MountFailure::NoSshfs(_) => Error::NotSupported(f.to_string()),
            MountFailure::AlreadyMounted => Error::Busy(f.to_string()),
            MountFailure::Failed(_) => Error::Server {
                command: "x2gomountdirs".into(),
                status: out.exit_status,
                stderr: f.to_string(),
            },
        })
    }

    /// Unmounts the shared folder `path` from `session`.
    pub async fn unshare(&self, session: &str, path: &Path) -> Result<(), Error> {
        let name = SessionName::parse(session)?;
        let op = self.session_op(session)?;
        let _op = op.lock().await;
        // The folder may be gone locally by now: match the path as shared, or canonical.
        let wanted = [
            path.to_path_buf(),
            std::fs::canonicalize(path).unwrap_or_default(),
        ];
        let found = lock(&self.sessions).get(session).and_then(|s| {
            s.folders
                .keys()
                .find(|p| wanted.iter().any(|w| w.as_os_str() == p.as_str()))
                .cloned()
        });
        let Some(shared) = found else {
            return Err(Error::NotFound(format!(
                "{} is not shared into session {session:?}",
                path.display()
            )));
        };
        self.umount(&name, &shared).await?;
        Ok(())
    }

    /// Unmounts every folder shared into `session` (not the print spool or the MIME box).
    pub async fn unshare_all(&self, session: &str) -> Result<(), Error> {
        let name = SessionName::parse(session)?;
        let op = self.session_op(session)?;
        let _op = op.lock().await;
        let folders: Vec<SharePath> = lock(&self.sessions)
            .get(session)
            .map(|s| {
                s.folders
                    .keys()
                    .filter(|p| !is_feature_folder(p))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for p in folders {
            self.umount(&name, &p).await?;
        }
        Ok(())
    }

    async fn umount(&self, session: &SessionName, path: &SharePath) -> Result<(), Error> {
        self.umount_only(session, path).await?;
        if let Some(s) = lock(&self.sessions).get_mut(session.as_str()) {
            s.folders.remove(path);
            s.jail.remove(Path::new(path.as_str()));
        }
        info!(profile = %self.name, session = %session.as_str(), folder = %path.as_str(), "folder unshared");
        self.changed(session).await;
        Ok(())
    }

    /// Runs `x2goumount-session` for `path`; the records stay as they are.
    async fn umount_only(&self, session: &SessionName, path: &SharePath) -> Result<(), Error> {
        let cmd = RemoteCommand::umount(session, Some(path));
        let out = super::exec::run_with_input(&self.connector, &cmd, &[], UMOUNT_TIMEOUT)
            .await
            .map_err(|e| e.at("x2goumount-session"))?;
        // python-x2go's test: success is an empty stderr.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            return Err(Error::Server {
                command: "x2goumount-session".into(),
                status: out.exit_status,
                stderr: stderr.trim().to_owned(),
            });
        }
        Ok(())
    }

    /// The session was suspended: the server has unmounted everything. The folders are kept
    /// to share again on resume; the forward, the keys and the jail go (a resume gets new ones).
    /// Returns whether anything was shared.
    fn suspended(&self, session: &str) -> bool {
        let mut sessions = lock(&self.sessions);
        let Some(s) = sessions.get_mut(session) else {
            return false;
        };
        s.stop_watchers();
        if s.folders.is_empty() {
            return false;
        }
        let folders = std::mem::take(&mut s.folders);
        let before: BTreeMap<SharePath, bool> = folders
            .into_iter()
            .filter(|(p, _)| !is_feature_folder(p))
            .collect();
        match SessionShares::new() {
            Ok(mut fresh) => {
                fresh.before_suspend = before;
                // (The old entry's drop stops its forward.)
                *s = fresh;
            }
            Err(e) => {
                warn!(profile = %self.name, session, error = %e, "cannot make new share keys");
                sessions.remove(session);
            }
        }
        true
    }

    /// A new connection is up (a reconnect): every forward of the old one is gone, so what was
    /// shared counts as shared before a suspend, to share again on resume.
    pub(crate) fn connection_changed(&self) {
        let names: Vec<String> = lock(&self.sessions).keys().cloned().collect();
        for name in names {
            self.suspended(&name);
        }
    }

    /// The session ended: everything of it goes. Returns whether anything was shared.
    fn ended(&self, session: &str) -> bool {
        let removed = lock(&self.sessions).remove(session);
        removed.is_some_and(|mut s| {
            s.stop_watchers();
            !s.folders.is_empty()
        })
    }

    /// The folders to share again after a resume of `session`: those shared before its
    /// suspend (with `restore`), then `configured` ones, each once.
    pub(crate) fn to_restore(&self, session: &str, restore: bool) -> Vec<(PathBuf, bool)> {
        if !restore {
            return Vec::new();
        }
        lock(&self.sessions)
            .get(session)
            .map(|s| {
                s.before_suspend
                    .iter()
                    .map(|(p, ro)| (PathBuf::from(p.as_str()), *ro))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets up what travels through the reverse sshfs of a session that just started or
    /// resumed: its print queue and MIME box (watchers first, so nothing that arrives is
    /// missed; then their folders shared), then `folders`. Failures are logged and skipped: a
    /// session must not fail because one of these cannot be set up.
    pub(crate) async fn start_features(
        &self,
        session: &str,
        features: &Features,
        local: &LocalSpec,
        folders: &[(PathBuf, bool)],
    ) {
        let Ok(name) = SessionName::parse(session) else {
            return;
        };
        let dir = local.root.join(format!("S-{session}"));
        let launcher = Launcher::from_env().with_display(
            Some(std::ffi::OsString::from(&local.display)),
            local.xauthority.clone(),
        );
        if let Some(action) = &features.printing {
            let events = self.events.clone();
            let label = session.to_owned();
            let config = PrintQueueConfig::new(&dir, action.clone(), launcher.clone());
            let spool = config.spool_dir.clone();
            let started = PrintQueue::start(config, move |job| {
                if job.action_taken == PrintActionKind::Dialog {
                    let (events, session) = (events.clone(), label.clone());
                    tokio::spawn(async move {
                        events
                            .emit(ProfileEvent::PrintJob {
                                session,
                                file: job.file,
                                title: job.title,
                            })
                            .await;
                    });
                }
            });
            self.feature(&name, started, &spool, ShareKind::PrintSpool, |s, q| {
                s.print = Some(q)
            })
            .await;
        }
        if let Some(settings) = &features.mimebox {
            let config = MimeBoxConfig::new(&dir, settings.clone(), launcher);
            let folder = config.mimebox_dir.clone();
            let started = MimeBox::start(config, |file| {
                debug!(file = %file.name, action = file.action_taken.name(), "MIME box file handled");
            });
            self.feature(&name, started, &folder, ShareKind::MimeBox, |s, m| {
                s.mimebox = Some(m)
            })
            .await;
        }
        self.share_all(session, folders).await;
    }

    /// Keeps a started watcher (`keep`) and shares its folder as `kind`.
    async fn feature<T, E: std::fmt::Display>(
        &self,
        session: &SessionName,
        started: Result<T, E>,
        folder: &Path,
        kind: ShareKind,
        keep: impl FnOnce(&mut SessionShares, T),
    ) {
        let watcher = match started {
            Ok(w) => w,
            Err(e) => {
                warn!(profile = %self.name, session = %session.as_str(), ?kind, error = %e, "cannot watch the folder");
                return;
            }
        };
        if let Err(e) = self.session_op(session.as_str()) {
            warn!(profile = %self.name, session = %session.as_str(), error = %e, "cannot share");
            return;
        }
        if let Some(s) = lock(&self.sessions).get_mut(session.as_str()) {
            keep(s, watcher);
        }
        let path = folder
            .to_str()
            .ok_or_else(|| Error::InvalidArgument("the session folder is not UTF-8".into()))
            .and_then(|p| Ok(SharePath::parse(p)?));
        let result = match path {
            Ok(p) => self.share_kind(session, &p, kind, false).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            warn!(profile = %self.name, session = %session.as_str(), ?kind, error = %e, "cannot share the folder");
        }
    }

    /// Shares each folder of `folders` into `session`; failures are logged and skipped, as a
    /// session must not fail to start because one folder cannot be shared.
    pub(crate) async fn share_all(&self, session: &str, folders: &[(PathBuf, bool)]) {
        for (path, ro) in folders {
            match self.share(session, path, *ro).await {
                Ok(p) => debug!(profile = %self.name, session, folder = %p, "shared at start"),
                Err(e) => {
                    warn!(profile = %self.name, session, folder = %path.display(), error = %e, "cannot share a folder")
                }
            }
        }
    }

    async fn changed(&self, session: &SessionName) {
        self.events
            .emit(ProfileEvent::SharedFolders {
                name: session.as_str().to_owned(),
            })
            .await;
    }
}

impl SessionObserver for Shares {
    fn changed(&self, change: &Change) {
        let touched = match change {
            Change::StateChanged { info, .. } if info.status == SessionStatus::Suspended => self
                .suspended(info.name.as_str())
                .then(|| info.name.as_str().to_owned()),
            Change::Removed(info) => self
                .ended(info.name.as_str())
                .then(|| info.name.as_str().to_owned()),
            _ => None,
        };
        // Told from inside a listing: the property change goes out on its own.
        if let Some(name) = touched {
            let events = self.events.clone();
            tokio::spawn(async move {
                events.emit(ProfileEvent::SharedFolders { name }).await;
            });
        }
    }
}

/// Whether `p` is a session's print spool or MIME box (shared by the daemon, not the user).
fn is_feature_folder(p: &SharePath) -> bool {
    let s = p.as_str();
    s.contains("/.x2go/S-") && (s.ends_with("/spool") || s.ends_with("/mimebox"))
}
