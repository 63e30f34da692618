//! `org.x2go.Control1.Profile`: one object per profile.

use std::collections::HashMap;
use std::sync::Arc;

use x2god_proto::Error;
use x2god_proto::path::profile_path;
use x2god_proto::types::SessionState;
use zbus::object_server::SignalEmitter;
use zbus::{OwnedObjectPath, interface};

use super::agents::Agents;
use super::options::{self, Dict};
use super::sessions::session_dict;
use crate::control::{
    ConnectRequest, DesktopRequest, ProfileController, ResumePlan, StartPlan, off_workers,
};
use crate::registry::Registry;
use x2god_proto::path::session_path;

/// The D-Bus face of one [`ProfileController`]. Cheap to clone; all state is in the controller.
#[derive(Clone)]
pub struct ProfileObject {
    ctl: Arc<ProfileController>,
    registry: Arc<Registry>,
    agents: Arc<Agents>,
}

impl ProfileObject {
    /// Asks the registered agents on behalf of this profile.
    fn prompter(&self) -> crate::ssh::PromptHandle {
        self.agents.prompter(profile_path(&self.ctl.name()))
    }

    /// The object for `ctl`, one of `registry`'s profiles; `agents` answer its prompts.
    pub fn new(
        ctl: Arc<ProfileController>,
        registry: Arc<Registry>,
        agents: Arc<Agents>,
    ) -> ProfileObject {
        ProfileObject {
            ctl,
            registry,
            agents,
        }
    }
}

#[interface(name = "org.x2go.Control1.Profile")]
impl ProfileObject {
    /// Connects and authenticates. `options` override the stored settings for this connection
    /// (keys as for `CreateProfile`) and may carry the secrets `password`, `passphrase`,
    /// `sshproxy_password` and `sshproxy_passphrase`, which are never stored or logged.
    ///
    /// What is missing comes from the keyring (`StoreSecret`), then from the registered agent
    /// (`Manager.RegisterAgent`): passwords, passphrases, one-time codes and decisions on
    /// unknown host keys.
    async fn connect(&self, options: Dict) -> Result<(), Error> {
        let mut settings = self.ctl.settings();
        let secrets = options::apply_connect(&mut settings, &options)?;
        let req = ConnectRequest {
            settings,
            password: secrets.password,
            passphrase: secrets.passphrase,
            proxy_password: secrets.proxy_password,
            proxy_passphrase: secrets.proxy_passphrase,
            prompter: Some(self.prompter()),
        };
        Ok(self.ctl.connect(req).await?)
    }

    /// Stores `secret` as `kind` (`password`, `passphrase`, `sshproxy_password`,
    /// `sshproxy_passphrase`) of this profile in the desktop keyring (Secret Service), for
    /// `Connect` and automatic reconnects to use. The secret is never written anywhere else.
    async fn store_secret(
        &self,
        kind: String,
        secret: String,
        #[zbus(signal_emitter)] em: SignalEmitter<'_>,
    ) -> Result<(), Error> {
        let secret = crate::ssh::Secret::new(secret);
        if self.registry.store_secret(&self.ctl, &kind, secret).await? {
            self.stored_secrets_changed(&em).await?;
        }
        Ok(())
    }

    /// Every stored setting, keys as for `CreateProfile` (unset optional values left out).
    /// Secrets are never settings; `StoredSecrets` says which are in the keyring.
    fn get_settings(&self) -> Dict {
        super::settings_dict::settings_dict(&self.ctl.settings())
    }

    /// Removes the secret `kind` of this profile from the keyring. Not stored: `NotFound`.
    async fn forget_secret(
        &self,
        kind: String,
        #[zbus(signal_emitter)] em: SignalEmitter<'_>,
    ) -> Result<(), Error> {
        match self.registry.forget_secret(&self.ctl, &kind).await? {
            None => Err(Error::NotFound(format!(
                "no {kind} of profile {:?} is in the keyring",
                self.ctl.name()
            ))),
            Some(changed) => {
                if changed {
                    self.stored_secrets_changed(&em).await?;
                }
                Ok(())
            }
        }
    }

    /// Closes the SSH connection.
    async fn disconnect(&self) {
        self.ctl.disconnect().await;
    }

    /// Whether an authenticated connection exists.
    fn is_connected(&self) -> bool {
        self.ctl.state() == x2god_proto::types::ConnectionState::Connected
    }

    /// Whether the server answers a round trip now.
    async fn is_alive(&self) -> bool {
        self.ctl.is_alive().await
    }

    /// Whether the connection ended without a Disconnect.
    fn has_session_died(&self) -> bool {
        self.ctl.has_died()
    }

    /// The configured server host name.
    fn get_hostname(&self) -> String {
        self.ctl.settings().hostname
    }

    /// The configured SSH port.
    fn get_port(&self) -> u16 {
        self.ctl.settings().port
    }

    /// The remote user of the live connection.
    async fn remote_username(&self) -> Result<String, Error> {
        self.while_connected(self.ctl.remote_username())
    }

    /// The live connection's peer, as `address:port`.
    async fn remote_peername(&self) -> Result<String, Error> {
        self.while_connected(self.ctl.remote_peername())
    }

    /// Renames the profile; its object moves to the path of the new name, which is returned.
    async fn set_profile_name(&self, name: String) -> Result<OwnedObjectPath, Error> {
        let ctl = self.registry.rename(&self.ctl.name(), &name).await?;
        Ok(profile_path(&ctl.name()))
    }

    /// Changes stored settings; keys as for `CreateProfile`.
    async fn update(
        &self,
        settings: Dict,
        #[zbus(signal_emitter)] em: SignalEmitter<'_>,
    ) -> Result<(), Error> {
        let mut s = self.ctl.settings();
        options::apply_settings(&mut s, &settings)?;
        self.registry.update(&self.ctl, s).await?;
        self.hostname_changed(&em).await?;
        self.port_changed(&em).await?;
        self.username_changed(&em).await?;
        Ok(())
    }

    /// Checks the server's host key without authenticating: true if it is known. An unknown key
    /// gives false; a changed key the `HostKeyChanged` error.
    async fn check_host(&self) -> Result<bool, Error> {
        Ok(self.ctl.check_host(Some(self.prompter())).await?)
    }

    /// Learns the server's host key if its SHA256 fingerprint is `fingerprint` (as shown in the
    /// `HostKeyUnknown` error).
    async fn trust_host_key(&self, fingerprint: String) -> Result<(), Error> {
        Ok(self
            .ctl
            .trust_host_key(&fingerprint, Some(self.prompter()))
            .await?)
    }

    /// The remote user's sessions, one dictionary per `x2golistsessions` line.
    async fn list_sessions(&self) -> Result<Vec<HashMap<String, zbus::OwnedVariant>>, Error> {
        let sessions = self.ctl.list_sessions().await?;
        Ok(sessions.iter().map(session_dict).collect())
    }

    /// The server's `x2golistsessions` output, each session's X cookie (field 7) left empty: it
    /// would let whoever reads it attach to the session.
    async fn list_sessions_raw(&self) -> Result<String, Error> {
        Ok(self.ctl.list_sessions_raw().await?)
    }

    /// `running`, `suspended`, `terminated` (seen before, gone now) or `unknown` (never seen).
    async fn session_state(&self, session_name: String) -> Result<String, Error> {
        Ok(self
            .ctl
            .session_state(&session_name)
            .await?
            .as_str()
            .to_owned())
    }

    /// True if the session is running. `NotFound` for a session this daemon never saw.
    async fn is_running(&self, session_name: String) -> Result<bool, Error> {
        self.state_is(&session_name, SessionState::Running).await
    }

    /// True if the session is suspended. `NotFound` for a session this daemon never saw.
    async fn is_suspended(&self, session_name: String) -> Result<bool, Error> {
        self.state_is(&session_name, SessionState::Suspended).await
    }

    /// True if the session was seen and is gone now. `NotFound` for a session never seen.
    async fn has_terminated(&self, session_name: String) -> Result<bool, Error> {
        self.state_is(&session_name, SessionState::Terminated).await
    }

    /// Suspends a session on the server.
    async fn suspend(&self, session_name: String) -> Result<(), Error> {
        Ok(self.ctl.lifecycle().suspend(&session_name).await?)
    }

    /// Terminates a session on the server. Option: `destroy_terminals` (b).
    async fn terminate(&self, session_name: String, options: Dict) -> Result<(), Error> {
        options::apply_terminate(&options)?;
        Ok(self.ctl.lifecycle().terminate(&session_name).await?)
    }

    /// The server's X2Go features (`x2gofeaturelist`), cached until `force`.
    async fn server_features(&self, force: bool) -> Result<Vec<String>, Error> {
        Ok(self.ctl.server().features(force).await?)
    }

    /// The server's X2Go component versions (`x2goversion`), cached until `force`.
    async fn server_versions(&self, force: bool) -> Result<HashMap<String, String>, Error> {
        Ok(self
            .ctl
            .server()
            .versions(force)
            .await?
            .into_iter()
            .collect())
    }

    /// Starts a new session and displays it on the local X display; returns its name and
    /// object once it runs. Options (over the profile's session settings): `cmd`,
    /// `session_type`, `geometry`, `link`, `pack`, `dpi`, `setdpi`, `depth`, `cache_type`,
    /// `xinerama`, `set_session_title`, `session_title`, `kblayout`, `kbtype`, `kbvariant`,
    /// `clipboard`, `snd_system`, `snd_port`, and `display` (the local X display; default the daemon's);
    /// `share_local_folders` (shared once the session runs, after this returns),
    /// `allow_share_local_folders`, `restore_shared_local_folders`, `printing`,
    /// `print_action`, `pdfview_cmd`, `save_to_folder`, `printer`, `print_cmd`,
    /// `allow_mimebox`, `mimebox_extensions`, `mimebox_action`, `mimebox_save_to_folder`.
    async fn start(&self, options: Dict) -> Result<(String, OwnedObjectPath), Error> {
        let opts = options::apply_start(&self.ctl.settings(), &options)?;
        let (session, display) = (opts.session, opts.display);
        let plan = off_workers(move || StartPlan::new(&session, display)).await?;
        let name = self.ctl.lifecycle().start(plan).await?;
        let path = session_path(&self.ctl.name(), &name);
        Ok((name, path))
    }

    /// Resumes a suspended session (or takes over one another client displays) and displays
    /// it locally. Options as for `Start` (the command and type are the session's own).
    async fn resume(&self, session_name: String, options: Dict) -> Result<(), Error> {
        let opts = options::apply_start(&self.ctl.settings(), &options)?;
        let (session, display) = (opts.session, opts.display);
        let plan = off_workers(move || ResumePlan::new(&session, display)).await?;
        Ok(self.ctl.lifecycle().resume(&session_name, plan).await?)
    }

    /// Shadows a desktop and shows it locally; returns the shadow session's name and object.
    /// Options: `desktop` (`user@:display`) or `user` and `display`, `share_mode` (0 view
    /// only, 1 full access), `maxwait` (s), `local_display` (the local X display), and the
    /// session keys of `Start`: `cmd`, `session_type`, `geometry`, `link`, `pack`, `dpi`,
    /// `setdpi`, `depth`, `cache_type`, `xinerama`, `set_session_title`, `session_title`,
    /// `kblayout`, `kbtype`, `kbvariant`, `clipboard`, `snd_system`, `snd_port`, and those of folders,
    /// printing and the MIME box: `allow_share_local_folders`, `share_local_folders`,
    /// `restore_shared_local_folders`, `printing`, `print_action`, `pdfview_cmd`,
    /// `save_to_folder`, `printer`, `print_cmd`, `allow_mimebox`, `mimebox_extensions`,
    /// `mimebox_action`, `mimebox_save_to_folder`.
    /// Errors: `NotFound` when the server offers no such desktop, `DesktopSharingDenied` when
    /// its owner declines.
    async fn share_desktop(&self, options: Dict) -> Result<(String, OwnedObjectPath), Error> {
        let o = options::apply_share(&self.ctl.settings(), &options)?;
        let (session, display) = (o.start.session, o.start.display);
        let plan = off_workers(move || StartPlan::new(&session, display)).await?;
        let desktop = DesktopRequest {
            user: &o.user,
            display: &o.display,
            full_access: o.full_access,
            maxwait: o.maxwait,
        };
        let name = self
            .ctl
            .lifecycle()
            .share_desktop(self.ctl.server(), desktop, plan)
            .await?;
        let path = session_path(&self.ctl.name(), &name);
        Ok((name, path))
    }

    /// Desktops the user may share: one dictionary per desktop with `desktop`
    /// (`user@:display`), `user` and `display`. Option: `maxwait` (s, default 20): the server
    /// command is slow; a timed-out attempt is retried once, then `Timeout`.
    async fn list_desktops(
        &self,
        options: Dict,
    ) -> Result<Vec<HashMap<String, zbus::OwnedVariant>>, Error> {
        let maxwait = options::only_maxwait(&options)?;
        let desktops = self.ctl.server().list_desktops(maxwait).await?;
        Ok(desktops
            .iter()
            .map(|d| {
                HashMap::from([
                    (
                        "desktop".to_owned(),
                        zbus::OwnedVariant::from(zbus::Str::from(d.id())),
                    ),
                    (
                        "user".to_owned(),
                        zbus::OwnedVariant::from(zbus::Str::from(d.user.as_str().to_owned())),
                    ),
                    (
                        "display".to_owned(),
                        zbus::OwnedVariant::from(d.display.number()),
                    ),
                ])
            })
            .collect())
    }

    /// Mount points of client folders shared into a session. Option: `maxwait` (s). `NotFound`
    /// for a session the server does not list.
    async fn list_mounts(&self, session_name: String, options: Dict) -> Result<Vec<String>, Error> {
        let maxwait = options::only_maxwait(&options)?;
        Ok(self
            .ctl
            .server()
            .list_mounts(&session_name, maxwait)
            .await?)
    }

    /// The published-applications menu, ready for an applet to render. Options: `lang`
    /// (default: the daemon's `LANG`), `max_no_submenus` (default 10: at most that many
    /// entries are shown flat under `TOP`, more are grouped by XDG main category),
    /// `refresh` (fetch again; otherwise cached per connection), `raw`, `very_raw`.
    /// Result: `lang` s and `menu` a{saa{sv}} (category → entries with `name`, `comment`,
    /// `exec`, `terminal` b, `icon` ay (PNG/SVG/… bytes), `icon_format` s); with `raw`:
    /// `entries` aa{sv} (`names` a{ss}, `comments` a{ss}, `exec`, `terminal`, `categories` as,
    /// `icon` ay); with `very_raw`: `text` s, the server's output.
    async fn published_applications(
        &self,
        options: Dict,
    ) -> Result<HashMap<String, zbus::OwnedVariant>, Error> {
        let o = options::apply_apps(&options)?;
        let answer = self
            .ctl
            .apps()
            .menu(&o.lang, o.max_no_submenus, o.refresh, o.raw, o.very_raw)
            .await?;
        Ok(super::apps::answer_dict(&o.lang, answer))
    }

    /// Starts a published application (by its command line or its name, as listed) in the
    /// running published-applications session `session_name`.
    async fn exec_published_application(
        &self,
        session_name: String,
        exec: String,
    ) -> Result<(), Error> {
        Ok(self.ctl.apps().exec(&session_name, &exec).await?)
    }

    /// Terminates every session of the user. Options: `destroy_terminals` (b, accepted for
    /// python-x2go compatibility), `published_applications` (b: also published-applications
    /// sessions; default false).
    async fn clean_sessions(&self, options: Dict) -> Result<(), Error> {
        let published = options::apply_clean(&options)?;
        Ok(self.ctl.lifecycle().clean_sessions(published).await?)
    }

    /// Stops displaying a session locally (nxproxy and forward), leaving it on the server.
    async fn dissociate(&self, session_name: String) -> Result<(), Error> {
        Ok(self.ctl.lifecycle().dissociate(&session_name).await?)
    }

    /// Whether the remote home directory exists.
    async fn home_exists(&self) -> Result<bool, Error> {
        Ok(self.ctl.server().home_exists().await?)
    }

    /// Whether the remote user can share client folders: `sshfs`, `fusermount` and a usable
    /// `/dev/fuse` on the server.
    async fn is_sshfs_available(&self) -> Result<bool, Error> {
        Ok(self.ctl.server().is_sshfs_available().await?)
    }

    /// Whether `username` may run X2Go sessions on the server: the account exists, has a
    /// login shell and a home directory (what sshd and `x2gostartagent` require).
    #[zbus(name = "IsX2goUser")]
    async fn is_x2go_user(&self, username: String) -> Result<bool, Error> {
        Ok(self.ctl.server().is_x2go_user(&username).await?)
    }

    /// A session appeared: `cause` is `self` when x2god started it, `other` otherwise.
    #[zbus(signal)]
    pub async fn session_added(
        em: &SignalEmitter<'_>,
        name: &str,
        session: &zbus::ObjectPath<'_>,
        state: &str,
        cause: &str,
    ) -> zbus::Result<()>;

    /// A session went from `old` to `new` (`running`, `suspended`); `cause` as above.
    #[zbus(signal)]
    pub async fn session_state_changed(
        em: &SignalEmitter<'_>,
        name: &str,
        old: &str,
        new: &str,
        cause: &str,
    ) -> zbus::Result<()>;

    /// A session ended; `cause` as above.
    #[zbus(signal)]
    pub async fn session_removed(
        em: &SignalEmitter<'_>,
        name: &str,
        session: &zbus::ObjectPath<'_>,
        cause: &str,
    ) -> zbus::Result<()>;

    /// A print job arrived for `session` and its print action is `DIALOG`: `file` is the PDF
    /// (kept by x2god under the session's folder), `title` the job's title. An applet may
    /// offer to open, save or print it.
    #[zbus(signal)]
    pub async fn print_job(
        em: &SignalEmitter<'_>,
        name: &str,
        session: &zbus::ObjectPath<'_>,
        file: &str,
        title: &str,
    ) -> zbus::Result<()>;

    /// The connection ended without a Disconnect (server gone, network down, keepalives
    /// unanswered). x2god reconnects by itself unless `auto_reconnect` is false.
    #[zbus(signal)]
    pub async fn connection_lost(em: &SignalEmitter<'_>, reason: &str) -> zbus::Result<()>;

    /// Emitted when the connection state changes, with a reason for people.
    #[zbus(signal, name = "StateChanged")]
    pub async fn state_changed_event(
        em: &SignalEmitter<'_>,
        state: &str,
        reason: &str,
    ) -> zbus::Result<()>;

    /// The profile's name; renaming moves the object, so it never changes on one path.
    #[zbus(property(emits_changed_signal = "const"))]
    fn name(&self) -> String {
        self.ctl.name()
    }

    /// Server host name.
    #[zbus(property)]
    fn hostname(&self) -> String {
        self.ctl.settings().hostname
    }

    /// SSH port.
    #[zbus(property)]
    fn port(&self) -> u16 {
        self.ctl.settings().port
    }

    /// The remote user name the profile connects as.
    #[zbus(property)]
    fn username(&self) -> String {
        self.ctl.username()
    }

    /// Kinds of secret stored for this profile in the keyring (`StoreSecret`); never the
    /// secrets themselves.
    #[zbus(property)]
    fn stored_secrets(&self) -> Vec<String> {
        self.ctl.settings().keyring
    }

    /// `x2god` for profiles in x2god's own file, `x2goclient` for profiles read from
    /// `~/.x2goclient/sessions` (read-only: `Update`, `SetProfileName` and `RemoveProfile`
    /// are `NotSupported`; connect and sessions work as for any profile).
    #[zbus(property(emits_changed_signal = "const"))]
    fn source(&self) -> String {
        self.ctl.source().as_str().to_owned()
    }

    /// The jump host as `host:port`, empty when the server is reached directly.
    #[zbus(property)]
    fn sshproxy(&self) -> String {
        self.ctl
            .settings()
            .sshproxy
            .map(|p| format!("{}:{}", p.host, p.port))
            .unwrap_or_default()
    }

    /// `disconnected`, `connecting`, `connected` or `lost`.
    #[zbus(property)]
    fn state(&self) -> String {
        self.ctl.state().as_str().to_owned()
    }

    /// Remote user of the live connection; empty when disconnected.
    #[zbus(property, name = "RemoteUsername")]
    fn remote_username_prop(&self) -> String {
        self.ctl.remote_username()
    }

    /// Peer address of the live connection; empty when disconnected.
    #[zbus(property, name = "RemotePeername")]
    fn remote_peername_prop(&self) -> String {
        self.ctl.remote_peername()
    }

    /// The last connection error; empty when none.
    #[zbus(property)]
    fn last_error(&self) -> String {
        self.ctl.last_error()
    }
}

impl ProfileObject {
    /// `value` of the live connection, which is empty exactly when there is none.
    fn while_connected(&self, value: String) -> Result<String, Error> {
        if value.is_empty() {
            return Err(Error::NotConnected(format!(
                "profile {:?} is not connected",
                self.ctl.name()
            )));
        }
        Ok(value)
    }

    async fn state_is(&self, name: &str, want: SessionState) -> Result<bool, Error> {
        match self.ctl.session_state(name).await? {
            SessionState::Unknown => Err(Error::NotFound(format!(
                "session {name:?} was never seen on profile {:?}",
                self.ctl.name()
            ))),
            s => Ok(s == want),
        }
    }
}
