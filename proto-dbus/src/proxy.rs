//! Client-side proxies of the x2god interfaces.
//!
//! Methods return [`crate::Error`], so a caller can match on the error kind. The keys of the
//! `a{sv}` arguments, their types and the calls that take them are in [`crate::keys`].
//!
//! A test holds these traits to the interface XML in `interfaces/` (which the daemon's and the
//! agents' served interfaces are compared with): every method, property and signal with its
//! types, and nothing else.

use std::collections::HashMap;

use zbus::{OwnedObjectPath, OwnedVariant, proxy};

use crate::Error;

/// One remote session as returned by `ListSessions`: python-x2go's session-info names as keys
/// ([`crate::keys::session`]).
pub type SessionDict = HashMap<String, OwnedVariant>;

/// `org.x2go.Control1.Manager` at `/org/x2go/Control1`.
#[proxy(
    interface = "org.x2go.Control1.Manager",
    default_service = "org.x2go.Control1",
    default_path = "/org/x2go/Control1"
)]
pub trait Manager {
    /// Creates a profile from `settings` and returns its object path. The keys are those
    /// [`crate::keys::accepted`] gives for [`Call::CreateProfile`](crate::keys::Call): `hostname`
    /// (required), connection, jump-host and reliability settings, and the session defaults of
    /// `Start`. Secrets are refused (`StoreSecret` keeps them in the keyring).
    fn create_profile(
        &self,
        name: &str,
        settings: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<OwnedObjectPath, Error>;
    /// Removes a profile, disconnecting it first.
    fn remove_profile(&self, name: &str) -> Result<(), Error>;
    /// Object paths of all profiles.
    fn list_profiles(&self) -> Result<Vec<OwnedObjectPath>, Error>;
    /// Object path of the profile called `name`.
    fn get_profile(&self, name: &str) -> Result<OwnedObjectPath, Error>;
    /// Registers the caller's object at `agent` (interface `org.x2go.Control1.Agent`) to answer
    /// password, passphrase, one-time-code and host-key questions. One agent per bus
    /// connection; the registration ends with `UnregisterAgent` or when the caller leaves the
    /// bus. The newest registration is asked first.
    fn register_agent(&self, agent: &zbus::ObjectPath<'_>) -> Result<(), Error>;
    /// Ends the caller's agent registration.
    fn unregister_agent(&self, agent: &zbus::ObjectPath<'_>) -> Result<(), Error>;
    /// Emitted after a profile object was added.
    #[zbus(signal)]
    fn profile_added(&self, profile: OwnedObjectPath, name: String) -> zbus::Result<()>;
    /// Emitted before a profile object is removed.
    #[zbus(signal)]
    fn profile_removed(&self, profile: OwnedObjectPath, name: String) -> zbus::Result<()>;
    /// The daemon's version.
    #[zbus(property)]
    fn version(&self) -> zbus::Result<String>;
}

/// `org.x2go.Control1.Profile` at `/org/x2go/Control1/profile/<escaped name>`.
#[proxy(
    interface = "org.x2go.Control1.Profile",
    default_service = "org.x2go.Control1"
)]
pub trait Profile {
    /// Connects and authenticates; `options` override the profile's settings (keys as for
    /// `CreateProfile`) and may carry the secrets `password`, `passphrase`,
    /// `sshproxy_password` and `sshproxy_passphrase`, which are never stored. What is missing
    /// comes from the keyring, then from the registered agent.
    fn connect(&self, options: HashMap<&str, zbus::Variant<'_>>) -> Result<(), Error>;
    /// Closes the SSH connection.
    fn disconnect(&self) -> Result<(), Error>;
    /// Whether an authenticated connection exists.
    fn is_connected(&self) -> Result<bool, Error>;
    /// Whether the server answers a round trip now.
    fn is_alive(&self) -> Result<bool, Error>;
    /// Whether the connection died without being asked to.
    fn has_session_died(&self) -> Result<bool, Error>;
    /// The configured server host name.
    fn get_hostname(&self) -> Result<String, Error>;
    /// The configured SSH port.
    fn get_port(&self) -> Result<u16, Error>;
    /// The remote user name of the live connection.
    fn remote_username(&self) -> Result<String, Error>;
    /// The peer address of the live connection, as `address:port`.
    fn remote_peername(&self) -> Result<String, Error>;
    /// Renames the profile; returns the new object path.
    fn set_profile_name(&self, name: &str) -> Result<OwnedObjectPath, Error>;
    /// Changes stored settings (same keys as `CreateProfile`).
    fn update(&self, settings: HashMap<&str, zbus::Variant<'_>>) -> Result<(), Error>;
    /// Checks the server's host key without authenticating.
    fn check_host(&self) -> Result<bool, Error>;
    /// Accepts the server's host key if its SHA256 fingerprint is `fingerprint`.
    fn trust_host_key(&self, fingerprint: &str) -> Result<(), Error>;
    /// Sessions of the remote user, one dictionary per session.
    fn list_sessions(&self) -> Result<Vec<SessionDict>, Error>;
    /// The server's `x2golistsessions` output, the sessions' X cookies left out.
    fn list_sessions_raw(&self) -> Result<String, Error>;
    /// Suspends a session on the server.
    fn suspend(&self, session_name: &str) -> Result<(), Error>;
    /// Terminates a session on the server. Option: `destroy_terminals` (b, accepted for
    /// python-x2go compatibility).
    fn terminate(
        &self,
        session_name: &str,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<(), Error>;
    /// `running`, `suspended`, `terminated` (seen, now gone) or `unknown` (never seen).
    fn session_state(&self, session_name: &str) -> Result<String, Error>;
    /// Whether the session runs; `NotFound` for a session the daemon never saw.
    fn is_running(&self, session_name: &str) -> Result<bool, Error>;
    /// Whether the session is suspended; `NotFound` for a session the daemon never saw.
    fn is_suspended(&self, session_name: &str) -> Result<bool, Error>;
    /// Whether the session was seen and is gone; `NotFound` for a session never seen.
    fn has_terminated(&self, session_name: &str) -> Result<bool, Error>;
    /// Starts a session and shows it on the local X display; returns its name and object once
    /// it runs. Options (over the profile's session settings): `cmd`, `session_type`,
    /// `geometry`, `link`, `pack`, `dpi`, `kblayout`, `kbtype`, `kbvariant`, `clipboard`,
    /// `nxproxy`, `display` (the local X display).
    fn start(
        &self,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<(String, OwnedObjectPath), Error>;
    /// Resumes a suspended session (or takes over one another client shows) and shows it on
    /// the local X display. Options as for `Start` (the command and type are the session's
    /// own).
    fn resume(
        &self,
        session_name: &str,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<(), Error>;
    /// Stops displaying a session locally, leaving it on the server.
    fn dissociate(&self, session_name: &str) -> Result<(), Error>;
    /// Terminates every session of the user. Options: `destroy_terminals`,
    /// `published_applications` (b: also published-applications sessions).
    fn clean_sessions(&self, options: HashMap<&str, zbus::Variant<'_>>) -> Result<(), Error>;
    /// Whether the remote home directory exists.
    fn home_exists(&self) -> Result<bool, Error>;
    /// Whether the remote user can share client folders (sshfs + FUSE).
    fn is_sshfs_available(&self) -> Result<bool, Error>;
    /// Whether `username` may run X2Go sessions on the server.
    #[zbus(name = "IsX2goUser")]
    fn is_x2go_user(&self, username: &str) -> Result<bool, Error>;
    /// Mount points of client folders shared into a session. Option: `maxwait` (s).
    fn list_mounts(
        &self,
        session_name: &str,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<Vec<String>, Error>;
    /// Desktops the user may share: dictionaries with `desktop` (`user@:display`), `user`
    /// and `display`. Option: `maxwait` (s).
    fn list_desktops(
        &self,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<Vec<HashMap<String, OwnedVariant>>, Error>;
    /// Shadows a desktop and shows it locally; returns the shadow session's name and object.
    /// Options: `desktop` (`user@:display`) or `user` and `display`, `share_mode` (0 view
    /// only, 1 full access), `maxwait`, `local_display`, and the session keys of `Start`.
    fn share_desktop(
        &self,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<(String, OwnedObjectPath), Error>;
    /// The published-applications menu (`menu`, `lang`; `entries` with `raw`, `text` with
    /// `very_raw`). Options: `lang`, `max_no_submenus`, `refresh`, `raw`, `very_raw`.
    fn published_applications(
        &self,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<HashMap<String, OwnedVariant>, Error>;
    /// Starts a published application in a published-applications session.
    fn exec_published_application(&self, session_name: &str, exec: &str) -> Result<(), Error>;
    /// A session appeared; `cause` is `self` (x2god did it) or `other`.
    #[zbus(signal)]
    fn session_added(
        &self,
        name: String,
        session: OwnedObjectPath,
        state: String,
        cause: String,
    ) -> zbus::Result<()>;
    /// A session changed state (`running`, `suspended`).
    #[zbus(signal)]
    fn session_state_changed(
        &self,
        name: String,
        old: String,
        new: String,
        cause: String,
    ) -> zbus::Result<()>;
    /// A session ended.
    #[zbus(signal)]
    fn session_removed(
        &self,
        name: String,
        session: OwnedObjectPath,
        cause: String,
    ) -> zbus::Result<()>;
    /// The server's X2Go feature list.
    fn server_features(&self, force: bool) -> Result<Vec<String>, Error>;
    /// The server's X2Go component versions.
    fn server_versions(&self, force: bool) -> Result<HashMap<String, String>, Error>;
    /// The connection ended without a Disconnect.
    #[zbus(signal)]
    fn connection_lost(&self, reason: String) -> zbus::Result<()>;
    /// A print job arrived for `name` (object `session`) and its print action is `DIALOG`:
    /// `file` is the PDF x2god keeps, `title` the job's title.
    #[zbus(signal)]
    fn print_job(
        &self,
        name: String,
        session: OwnedObjectPath,
        file: String,
        title: String,
    ) -> zbus::Result<()>;
    /// Emitted when the connection state changes, with a reason.
    #[zbus(signal, name = "StateChanged")]
    fn state_changed_event(&self, state: String, reason: String) -> zbus::Result<()>;
    /// Profile name.
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    /// Server host name.
    #[zbus(property)]
    fn hostname(&self) -> zbus::Result<String>;
    /// SSH port.
    #[zbus(property)]
    fn port(&self) -> zbus::Result<u16>;
    /// Configured remote user name.
    #[zbus(property)]
    fn username(&self) -> zbus::Result<String>;
    /// `disconnected`, `connecting`, `connected` or `lost`.
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    /// Remote user of the live connection, empty when disconnected.
    #[zbus(property, name = "RemoteUsername")]
    fn remote_username_prop(&self) -> zbus::Result<String>;
    /// Peer address of the live connection, empty when disconnected.
    #[zbus(property, name = "RemotePeername")]
    fn remote_peername_prop(&self) -> zbus::Result<String>;
    /// The last connection error, empty when none.
    #[zbus(property)]
    fn last_error(&self) -> zbus::Result<String>;
    /// Stores `secret` as `kind` (see [`crate::names::secret_kind::STORABLE`]) in the desktop
    /// keyring for this profile.
    fn store_secret(&self, kind: &str, secret: &str) -> Result<(), Error>;
    /// Removes the secret `kind` of this profile from the keyring.
    fn forget_secret(&self, kind: &str) -> Result<(), Error>;
    /// Every stored (non-secret) setting, keys as for `CreateProfile`.
    fn get_settings(&self) -> Result<HashMap<String, OwnedVariant>, Error>;
    /// Kinds of secret stored in the keyring for this profile.
    #[zbus(property)]
    fn stored_secrets(&self) -> zbus::Result<Vec<String>>;
    /// The jump host as `host:port`, empty when none.
    #[zbus(property)]
    fn sshproxy(&self) -> zbus::Result<String>;
    /// Where the profile comes from: `x2god` (profiles.toml) or `x2goclient`
    /// (`~/.x2goclient/sessions`, read-only).
    #[zbus(property)]
    fn source(&self) -> zbus::Result<String>;
}

/// `org.x2go.Control1.Session` at `/org/x2go/Control1/profile/<p>/session/<s>`.
#[proxy(
    interface = "org.x2go.Control1.Session",
    default_service = "org.x2go.Control1"
)]
pub trait Session {
    /// Suspends the session.
    fn suspend(&self) -> Result<(), Error>;
    /// Terminates the session.
    fn terminate(&self) -> Result<(), Error>;
    /// Resumes the session and displays it locally; options as for `Profile.Resume`.
    fn resume(&self, options: HashMap<&str, zbus::Variant<'_>>) -> Result<(), Error>;
    /// Stops displaying the session locally.
    fn dissociate(&self) -> Result<(), Error>;
    /// Shares the local folder `path` into the running session; returns once the server has
    /// mounted it. Options: `readonly` (b).
    fn share_folder(
        &self,
        path: &str,
        options: HashMap<&str, zbus::Variant<'_>>,
    ) -> Result<(), Error>;
    /// Unmounts a folder shared into the session.
    fn unshare_folder(&self, path: &str) -> Result<(), Error>;
    /// Unmounts every folder shared into the session (printing and the MIME box stay).
    fn unshare_all_folders(&self) -> Result<(), Error>;
    /// The folders shared into the session: (path, read-only).
    #[zbus(property)]
    fn shared_folders(&self) -> zbus::Result<Vec<(String, bool)>>;
    /// The session's sound here: `pulse`, `failed` or `none`.
    #[zbus(property)]
    fn sound(&self) -> zbus::Result<String>;
    /// Session name.
    #[zbus(property)]
    fn name(&self) -> zbus::Result<String>;
    /// `running` or `suspended`.
    #[zbus(property)]
    fn state(&self) -> zbus::Result<String>;
    /// Whether x2god displays the session locally.
    #[zbus(property)]
    fn local(&self) -> zbus::Result<bool>;
    /// The profile object.
    #[zbus(property)]
    fn profile(&self) -> zbus::Result<OwnedObjectPath>;
    /// `desktop`, `application`, `published` or `shadow`.
    #[zbus(property)]
    fn session_type(&self) -> zbus::Result<String>;
    /// Display number on the server.
    #[zbus(property)]
    fn display(&self) -> zbus::Result<u32>;
    /// The command or desktop the session runs.
    #[zbus(property)]
    fn command(&self) -> zbus::Result<String>;
    /// Agent process id on the server.
    #[zbus(property)]
    fn agent_pid(&self) -> zbus::Result<u32>;
    /// Graphics port of the agent on the server.
    #[zbus(property)]
    fn graphics_port(&self) -> zbus::Result<u16>;
    /// Creation time (server local time).
    #[zbus(property)]
    fn date_created(&self) -> zbus::Result<String>;
    /// Time of the last state change (server local time).
    #[zbus(property)]
    fn date_suspended(&self) -> zbus::Result<String>;
    /// The client address the server saw last.
    #[zbus(property)]
    fn client_ip(&self) -> zbus::Result<String>;
    /// The remote user.
    #[zbus(property)]
    fn username(&self) -> zbus::Result<String>;
}

/// `org.x2go.Control1.Agent`: served by an applet at the path it registered with
/// `Manager.RegisterAgent`; x2god calls it when a connect needs an answer from a person.
///
/// An agent that will not answer returns the D-Bus error `org.x2go.Control1.Error.Cancelled`;
/// x2god gives up the attempt and reports it to the caller of `Connect`.
#[proxy(
    interface = "org.x2go.Control1.Agent",
    default_service = "org.x2go.Control1"
)]
pub trait Agent {
    /// Asks for a secret of `kind` (`password`, `passphrase`, `sshproxy_password`,
    /// `sshproxy_passphrase` or `response`, see [`crate::names::secret_kind`]) for `profile`;
    /// `prompt` is the question to show, e.g. the server's `Verification code: `.
    fn request_secret(
        &self,
        profile: &zbus::ObjectPath<'_>,
        kind: &str,
        prompt: &str,
    ) -> zbus::Result<String>;
    /// Asks whether to trust the unknown host key of `host` (`host` or `[host]:port`, the jump
    /// host's name for the jump hop). `true` stores it in x2god's known_hosts.
    fn confirm_host_key(
        &self,
        profile: &zbus::ObjectPath<'_>,
        host: &str,
        key_type: &str,
        fingerprint: &str,
    ) -> zbus::Result<bool>;
    /// x2god no longer needs the answer it asked for (the connect timed out or was given up).
    fn cancel(&self) -> zbus::Result<()>;
}
