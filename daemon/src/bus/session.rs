//! `org.x2go.Control1.Session`: one object per known session, below its profile.

use std::sync::Arc;

use x2god_proto::Error;
use x2god_proto::path::profile_path;
use zbus::{OwnedObjectPath, interface};

use super::options::{self, Dict};
use crate::control::{ProfileController, ResumePlan, off_workers, status_str};
use crate::x2go::list::SessionInfo;

/// The D-Bus face of one session of a profile.
#[derive(Clone)]
pub struct SessionObject {
    ctl: Arc<ProfileController>,
    name: String,
}

impl SessionObject {
    /// The object for session `name` of `ctl`.
    pub fn new(ctl: Arc<ProfileController>, name: String) -> SessionObject {
        SessionObject { ctl, name }
    }

    fn info<T: Default>(&self, f: impl FnOnce(&SessionInfo) -> T) -> T {
        self.ctl
            .session_info(&self.name)
            .as_ref()
            .map(f)
            .unwrap_or_default()
    }
}

#[interface(name = "org.x2go.Control1.Session")]
impl SessionObject {
    /// Suspends the session.
    async fn suspend(&self) -> Result<(), Error> {
        Ok(self.ctl.lifecycle().suspend(&self.name).await?)
    }

    /// Terminates the session.
    async fn terminate(&self) -> Result<(), Error> {
        Ok(self.ctl.lifecycle().terminate(&self.name).await?)
    }

    /// Resumes the session and displays it locally; options as for `Profile.Resume`.
    async fn resume(&self, options: Dict) -> Result<(), Error> {
        let opts = options::apply_start(&self.ctl.settings(), &options)?;
        let (session, display) = (opts.session, opts.display);
        let plan = off_workers(move || ResumePlan::new(&session, display)).await?;
        Ok(self.ctl.lifecycle().resume(&self.name, plan).await?)
    }

    /// Stops displaying the session locally, leaving it alone on the server.
    async fn dissociate(&self) -> Result<(), Error> {
        Ok(self.ctl.lifecycle().dissociate(&self.name).await?)
    }

    /// Shares the local folder `path` (absolute; symbolic links are resolved) into the running
    /// session, through the profile's connection; returns once the server has mounted it
    /// (`x2golistmounts`). Options: `readonly` (b, default false). The server reaches only
    /// the folders shared, never anything beside them. `NotSupported` when the server lacks
    /// sshfs or the profile turns sharing off (`allow_share_local_folders`).
    async fn share_folder(&self, path: String, options: Dict) -> Result<(), Error> {
        let read_only = options::apply_share_folder(&options)?;
        self.ctl
            .share_folder(&self.name, std::path::Path::new(&path), read_only)
            .await?;
        Ok(())
    }

    /// Unmounts a folder shared into the session (`NotFound` when it is not shared).
    async fn unshare_folder(&self, path: String) -> Result<(), Error> {
        Ok(self
            .ctl
            .shares()
            .unshare(&self.name, std::path::Path::new(&path))
            .await?)
    }

    /// Unmounts every folder shared into the session (printing and the MIME box stay).
    async fn unshare_all_folders(&self) -> Result<(), Error> {
        Ok(self.ctl.shares().unshare_all(&self.name).await?)
    }

    /// The folders shared into the session now: (path, read-only).
    #[zbus(property)]
    fn shared_folders(&self) -> Vec<(String, bool)> {
        self.ctl.shares().folders(&self.name)
    }

    /// The session's sound here: `pulse` (its PulseAudio clients play through the local sound
    /// server), `failed` (asked for, but the local sound server or the session's sound port
    /// cannot be had; the log says why) or `none` (not asked for, or not shown here).
    #[zbus(property)]
    fn sound(&self) -> String {
        self.ctl.sound().state(&self.name).to_owned()
    }

    /// The session name.
    #[zbus(property(emits_changed_signal = "const"))]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// The profile object the session belongs to.
    #[zbus(property(emits_changed_signal = "const"))]
    fn profile(&self) -> OwnedObjectPath {
        profile_path(&self.ctl.name())
    }

    /// `running` or `suspended`.
    #[zbus(property)]
    fn state(&self) -> String {
        self.info(|i| status_str(i.status).to_owned())
    }

    /// Whether x2god displays the session locally (its nxproxy runs).
    #[zbus(property)]
    fn local(&self) -> bool {
        self.ctl.lifecycle().is_local(&self.name)
    }

    /// `desktop`, `application`, `published` or `shadow`.
    #[zbus(property(emits_changed_signal = "const"))]
    fn session_type(&self) -> String {
        self.info(|i| i.name.kind().as_str().to_owned())
    }

    /// The command or desktop the session runs.
    #[zbus(property(emits_changed_signal = "const"))]
    fn command(&self) -> String {
        self.info(|i| i.name.command().to_owned())
    }

    /// X display number on the server.
    #[zbus(property(emits_changed_signal = "const"))]
    fn display(&self) -> u32 {
        self.info(|i| i.display)
    }

    /// Agent process id on the server.
    #[zbus(property)]
    fn agent_pid(&self) -> u32 {
        self.info(|i| i.agent_pid)
    }

    /// Graphics port of the agent on the server.
    #[zbus(property)]
    fn graphics_port(&self) -> u16 {
        self.info(|i| i.graphics_port)
    }

    /// Creation time (server local time).
    #[zbus(property(emits_changed_signal = "const"))]
    fn date_created(&self) -> String {
        self.info(|i| i.date_created.clone())
    }

    /// Time of the last state change (server local time).
    #[zbus(property)]
    fn date_suspended(&self) -> String {
        self.info(|i| i.date_suspended.clone())
    }

    /// The client address the server saw last.
    #[zbus(property)]
    fn client_ip(&self) -> String {
        self.info(|i| i.client_ip.clone())
    }

    /// The remote user.
    #[zbus(property(emits_changed_signal = "const"))]
    fn username(&self) -> String {
        self.info(|i| i.username.clone())
    }
}
