//! Profiles: one SSH control connection to an X2Go server each (`org.x2go.Control1.Profile`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use x2god_proto::names::{BUS_NAME, PROFILE_INTERFACE};
use x2god_proto::proxy::ProfileProxy;
use x2god_proto::types::ConnectionState;
use zbus::names::InterfaceName;
use zbus::{ObjectPath, OwnedObjectPath, OwnedVariant};

use crate::session::{Session, SessionHandle, SessionState, get, object_error};
use crate::{Error, Options};

/// Reads a connection state as sent on the bus; an unknown string counts as disconnected.
pub(crate) fn parse_state(s: &str) -> ConnectionState {
    match s {
        "connecting" => ConnectionState::Connecting,
        "connected" => ConnectionState::Connected,
        "lost" => ConnectionState::Lost,
        _ => ConnectionState::Disconnected,
    }
}

/// A method call on an object that is gone says `NotFound`, like the daemon's own methods.
fn gone(e: Error) -> Error {
    match e {
        Error::ZBus(z) => object_error(z),
        other => other,
    }
}

/// Which profile an event or a prompt is about: its object path and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProfileId {
    /// The profile object, `/org/x2go/Control1/profile/<escaped name>`.
    pub path: OwnedObjectPath,
    /// The profile name.
    pub name: String,
}

impl ProfileId {
    /// The id of the profile object at `path`; the name is recovered from the path, whose
    /// escaping is reversible (see [`x2god_proto::path`]).
    pub fn from_path(path: OwnedObjectPath) -> ProfileId {
        let name = x2god_proto::path::profile_name(&path.as_ref())
            .unwrap_or_else(|| path.as_str().to_owned());
        ProfileId { path, name }
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Every property of a profile, read in one call ([`Profile::info`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileInfo {
    /// Profile name.
    pub name: String,
    /// Server host name.
    pub hostname: String,
    /// SSH port.
    pub port: u16,
    /// The remote user name the profile connects as.
    pub username: String,
    /// Connection state.
    pub state: ConnectionState,
    /// Remote user of the live connection; empty when disconnected.
    pub remote_username: String,
    /// Peer address of the live connection; empty when disconnected.
    pub remote_peername: String,
    /// The last connection error; empty when none.
    pub last_error: String,
    /// Kinds of secret stored in the keyring for this profile (never the secrets).
    pub stored_secrets: Vec<String>,
    /// The jump host as `host:port`; empty when the server is reached directly.
    pub sshproxy: String,
    /// `x2god` for profiles in x2god's own file, `x2goclient` for read-only ones from
    /// `~/.x2goclient/sessions`.
    pub source: String,
    /// Every property as sent, including ones this version does not know.
    pub raw: HashMap<String, OwnedVariant>,
}

impl ProfileInfo {
    fn from_props(raw: HashMap<String, OwnedVariant>) -> ProfileInfo {
        ProfileInfo {
            name: get(&raw, "Name").unwrap_or_default(),
            hostname: get(&raw, "Hostname").unwrap_or_default(),
            port: get(&raw, "Port").unwrap_or_default(),
            username: get(&raw, "Username").unwrap_or_default(),
            state: parse_state(&get::<String>(&raw, "State").unwrap_or_default()),
            remote_username: get(&raw, "RemoteUsername").unwrap_or_default(),
            remote_peername: get(&raw, "RemotePeername").unwrap_or_default(),
            last_error: get(&raw, "LastError").unwrap_or_default(),
            stored_secrets: get(&raw, "StoredSecrets").unwrap_or_default(),
            sshproxy: get(&raw, "Sshproxy").unwrap_or_default(),
            source: get(&raw, "Source").unwrap_or_default(),
            raw,
        }
    }
}

/// A desktop the user may share ([`Profile::list_desktops`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desktop {
    /// `user@:display`, the value for the `desktop` option of [`Profile::share_desktop`].
    pub desktop: String,
    /// Its owner.
    pub user: String,
    /// Its X display number on the server.
    pub display: u32,
}

/// One entry of the published-applications menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedApp {
    /// Display name, in the requested language.
    pub name: String,
    /// Tooltip, in the requested language.
    pub comment: String,
    /// Command line; pass it to [`Profile::exec_published_application`].
    pub exec: String,
    /// Whether it runs in a terminal.
    pub terminal: bool,
    /// Icon bytes (PNG, SVG …), empty when none.
    pub icon: Vec<u8>,
    /// Icon format (`png`, `svg` …), empty when none.
    pub icon_format: String,
}

/// The published-applications menu ([`Profile::published_applications`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedApplications {
    /// The language the names were chosen for.
    pub lang: String,
    /// Category (`TOP` for the flat list) → entries. Empty with the `raw` or `very_raw`
    /// options, whose answers are in [`PublishedApplications::raw`].
    pub menu: BTreeMap<String, Vec<PublishedApp>>,
    /// The reply as sent (`entries` for `raw`, `text` for `very_raw`).
    pub raw: HashMap<String, OwnedVariant>,
}

impl PublishedApplications {
    fn from_dict(raw: HashMap<String, OwnedVariant>) -> PublishedApplications {
        let menu: HashMap<String, Vec<HashMap<String, OwnedVariant>>> =
            get(&raw, "menu").unwrap_or_default();
        let menu = menu
            .into_iter()
            .map(|(cat, items)| {
                let items = items
                    .iter()
                    .map(|d| PublishedApp {
                        name: get(d, "name").unwrap_or_default(),
                        comment: get(d, "comment").unwrap_or_default(),
                        exec: get(d, "exec").unwrap_or_default(),
                        terminal: get(d, "terminal").unwrap_or_default(),
                        icon: get(d, "icon").unwrap_or_default(),
                        icon_format: get(d, "icon_format").unwrap_or_default(),
                    })
                    .collect();
                (cat, items)
            })
            .collect();
        PublishedApplications {
            lang: get(&raw, "lang").unwrap_or_default(),
            menu,
            raw,
        }
    }
}

/// A profile object of the daemon: one SSH control connection to an X2Go server, and every
/// server command over it.
///
/// Errors are the daemon's ([`Error::NotConnected`] when the profile is not connected,
/// [`Error::NotFound`] for a session it never saw or a profile that was removed, …).
#[derive(Clone, Debug)]
pub struct Profile {
    proxy: ProfileProxy<'static>,
}

impl Profile {
    pub(crate) async fn at(
        conn: &zbus::Connection,
        path: OwnedObjectPath,
    ) -> Result<Profile, Error> {
        // Reads go to the daemon: a cached value could lag a reply that already changed it.
        let proxy = ProfileProxy::builder(conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .path(path)
            .build()
            .await?;
        Ok(Profile { proxy })
    }

    /// The generated proxy, for every method of `org.x2go.Control1.Profile`.
    pub fn proxy(&self) -> &ProfileProxy<'static> {
        &self.proxy
    }

    /// The object path.
    pub fn path(&self) -> &ObjectPath<'_> {
        self.proxy.inner().path()
    }

    /// This profile as events name it (name recovered from the path, no call).
    pub fn id(&self) -> ProfileId {
        ProfileId::from_path(self.path().to_owned().into())
    }

    /// The profile name (the `Name` property).
    pub async fn name(&self) -> Result<String, Error> {
        self.proxy.name().await.map_err(object_error)
    }

    /// Connects and authenticates. `options` override the profile's settings for this
    /// connection and may carry the secrets `password`, `passphrase`, `sshproxy_password` and
    /// `sshproxy_passphrase` ([`keys::SECRETS`](crate::keys::SECRETS)), which are never
    /// stored. What is missing is asked of the registered agent
    /// ([`Client::register_agent`](crate::Client::register_agent)).
    pub async fn connect(&self, options: Options) -> Result<(), Error> {
        self.proxy
            .connect(options.as_call_arg())
            .await
            .map_err(gone)
    }

    /// Closes the SSH connection (sessions stay on the server).
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.proxy.disconnect().await.map_err(gone)
    }

    /// Whether an authenticated connection exists.
    pub async fn is_connected(&self) -> Result<bool, Error> {
        self.proxy.is_connected().await.map_err(gone)
    }

    /// Whether the server answers a round trip now.
    pub async fn is_alive(&self) -> Result<bool, Error> {
        self.proxy.is_alive().await.map_err(gone)
    }

    /// Whether the connection died without being asked to.
    pub async fn has_session_died(&self) -> Result<bool, Error> {
        self.proxy.has_session_died().await.map_err(gone)
    }

    /// The connection state.
    pub async fn state(&self) -> Result<ConnectionState, Error> {
        let s = self.proxy.state().await.map_err(object_error)?;
        Ok(parse_state(&s))
    }

    /// The configured server host name.
    pub async fn hostname(&self) -> Result<String, Error> {
        self.proxy.hostname().await.map_err(object_error)
    }

    /// The configured SSH port.
    pub async fn port(&self) -> Result<u16, Error> {
        self.proxy.port().await.map_err(object_error)
    }

    /// The remote user name the profile connects as.
    pub async fn username(&self) -> Result<String, Error> {
        self.proxy.username().await.map_err(object_error)
    }

    /// The last connection error; empty when none.
    pub async fn last_error(&self) -> Result<String, Error> {
        self.proxy.last_error().await.map_err(object_error)
    }

    /// The remote user of the live connection; [`Error::NotConnected`] without one.
    pub async fn remote_username(&self) -> Result<String, Error> {
        self.proxy.remote_username().await.map_err(gone)
    }

    /// The live connection's peer as `address:port`; [`Error::NotConnected`] without one.
    pub async fn remote_peername(&self) -> Result<String, Error> {
        self.proxy.remote_peername().await.map_err(gone)
    }

    /// Every property in one round trip.
    pub async fn info(&self) -> Result<ProfileInfo, Error> {
        let props = zbus::fdo::PropertiesProxy::builder(self.proxy.inner().connection())
            .destination(BUS_NAME)
            .path(self.path().to_owned())
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        let all = props
            .get_all(InterfaceName::from_static_str_unchecked(PROFILE_INTERFACE))
            .await
            .map_err(|e| object_error(e.into()))?;
        Ok(ProfileInfo::from_props(all))
    }

    /// Renames the profile. Its object moves, so this handle goes stale: use the returned one.
    pub async fn rename(&self, new_name: &str) -> Result<Profile, Error> {
        let path = self.proxy.set_profile_name(new_name).await.map_err(gone)?;
        Profile::at(self.proxy.inner().connection(), path).await
    }

    /// Changes stored settings (keys as for
    /// [`Client::create_profile`](crate::Client::create_profile)).
    pub async fn update(&self, settings: Options) -> Result<(), Error> {
        self.proxy
            .update(settings.as_call_arg())
            .await
            .map_err(gone)
    }

    /// Checks the server's host key without authenticating: whether it is known. A changed
    /// key is [`Error::HostKeyChanged`].
    pub async fn check_host(&self) -> Result<bool, Error> {
        self.proxy.check_host().await.map_err(gone)
    }

    /// Learns the server's host key if its fingerprint is `fingerprint` (`SHA256:…`, as
    /// [`ErrorExt::fingerprint`](crate::ErrorExt::fingerprint) reads it from the
    /// [`Error::HostKeyUnknown`] of a connect).
    pub async fn trust_host_key(&self, fingerprint: &str) -> Result<(), Error> {
        self.proxy.trust_host_key(fingerprint).await.map_err(gone)
    }

    /// Stores `secret` as `kind` ([`x2god_proto::names::secret_kind::STORABLE`]) of this
    /// profile in the desktop keyring, for connects and automatic reconnects to use.
    pub async fn store_secret(&self, kind: &str, secret: &str) -> Result<(), Error> {
        self.proxy.store_secret(kind, secret).await.map_err(gone)
    }

    /// Removes the secret `kind` of this profile from the keyring; [`Error::NotFound`] when
    /// none is stored.
    pub async fn forget_secret(&self, kind: &str) -> Result<(), Error> {
        self.proxy.forget_secret(kind).await.map_err(gone)
    }

    /// The kinds of secret stored in the keyring for this profile (never the secrets).
    pub async fn stored_secrets(&self) -> Result<Vec<String>, Error> {
        self.proxy.stored_secrets().await.map_err(object_error)
    }

    /// The sessions of the remote user, as the server lists them.
    pub async fn list_sessions(&self) -> Result<Vec<Session>, Error> {
        Ok(self
            .proxy
            .list_sessions()
            .await
            .map_err(gone)?
            .into_iter()
            .map(Session::from_dict)
            .collect())
    }

    /// The server's `x2golistsessions` output, the sessions' X cookies left out.
    pub async fn list_sessions_raw(&self) -> Result<String, Error> {
        self.proxy.list_sessions_raw().await.map_err(gone)
    }

    /// What the daemon knows of the session `name`: running, suspended, terminated (seen, now
    /// gone) or unknown (never seen).
    pub async fn session_state(&self, name: &str) -> Result<SessionState, Error> {
        let s = self.proxy.session_state(name).await.map_err(gone)?;
        Ok(SessionState::parse(&s))
    }

    /// Whether the session runs; [`Error::NotFound`] for one the daemon never saw.
    pub async fn is_running(&self, name: &str) -> Result<bool, Error> {
        self.proxy.is_running(name).await.map_err(gone)
    }

    /// Whether the session is suspended; [`Error::NotFound`] for one never seen.
    pub async fn is_suspended(&self, name: &str) -> Result<bool, Error> {
        self.proxy.is_suspended(name).await.map_err(gone)
    }

    /// Whether the session was seen and is gone now; [`Error::NotFound`] for one never seen.
    pub async fn has_terminated(&self, name: &str) -> Result<bool, Error> {
        self.proxy.has_terminated(name).await.map_err(gone)
    }

    /// A handle on the session object of `name` (no call is made; calls on it fail with
    /// [`Error::NotFound`] if the daemon does not know the session).
    pub async fn session(&self, name: &str) -> Result<SessionHandle, Error> {
        let profile = match x2god_proto::path::profile_name(self.path()) {
            Some(n) => n,
            None => self.name().await?,
        };
        let path = x2god_proto::path::session_path(&profile, name);
        SessionHandle::new(self.proxy.inner().connection(), path, name.to_owned()).await
    }

    /// Starts a session and shows it on the local X display; returns once it runs. Options
    /// (over the profile's session settings): `cmd`, `session_type`, `geometry`, `link`,
    /// `pack`, `dpi`, `kblayout`, `kbtype`, `kbvariant`, `clipboard`, `nxproxy`, `display`
    /// ([`keys::accepted`](crate::keys::accepted) of [`keys::Call::Start`](crate::keys::Call)).
    ///
    /// ```no_run
    /// # async fn demo(profile: x2god_client::Profile) -> Result<(), x2god_client::Error> {
    /// use x2god_client::Options;
    /// let session = profile
    ///     .start(Options::new().set("cmd", "xterm").set("session_type", "application"))
    ///     .await?;
    /// session.suspend().await?;
    /// session.resume(Options::new()).await?;
    /// session.terminate().await?;
    /// # Ok(()) }
    /// ```
    pub async fn start(&self, options: Options) -> Result<SessionHandle, Error> {
        let (name, path) = self
            .proxy
            .start(options.as_call_arg())
            .await
            .map_err(gone)?;
        SessionHandle::new(self.proxy.inner().connection(), path, name).await
    }

    /// Resumes the session `name` (or takes over one another client shows) and shows it here;
    /// options as for [`Profile::start`] (the command and type are the session's own).
    pub async fn resume(&self, name: &str, options: Options) -> Result<(), Error> {
        self.proxy
            .resume(name, options.as_call_arg())
            .await
            .map_err(gone)
    }

    /// Suspends the session `name` on the server.
    pub async fn suspend(&self, name: &str) -> Result<(), Error> {
        self.proxy.suspend(name).await.map_err(gone)
    }

    /// Terminates the session `name` on the server.
    pub async fn terminate(&self, name: &str) -> Result<(), Error> {
        self.terminate_with(name, Options::new()).await
    }

    /// Terminates the session `name` with options (`destroy_terminals`).
    pub async fn terminate_with(&self, name: &str, options: Options) -> Result<(), Error> {
        self.proxy
            .terminate(name, options.as_call_arg())
            .await
            .map_err(gone)
    }

    /// Stops showing the session `name` here and leaves it alone on the server.
    pub async fn dissociate(&self, name: &str) -> Result<(), Error> {
        self.proxy.dissociate(name).await.map_err(gone)
    }

    /// Terminates every session of the user. Options: `destroy_terminals`,
    /// `published_applications` (also published-applications sessions).
    pub async fn clean_sessions(&self, options: Options) -> Result<(), Error> {
        self.proxy
            .clean_sessions(options.as_call_arg())
            .await
            .map_err(gone)
    }

    /// Shadows a desktop and shows it here, like [`Profile::start`]. Options: `desktop`
    /// (`user@:display`, see [`Profile::list_desktops`]) or `user` and `display`,
    /// `share_mode` (0 view only, 1 full access), `maxwait`, `local_display`, session keys.
    pub async fn share_desktop(&self, options: Options) -> Result<SessionHandle, Error> {
        let (name, path) = self
            .proxy
            .share_desktop(options.as_call_arg())
            .await
            .map_err(gone)?;
        SessionHandle::new(self.proxy.inner().connection(), path, name).await
    }

    /// Desktops the user may share. Option: `maxwait` (seconds).
    pub async fn list_desktops(&self, options: Options) -> Result<Vec<Desktop>, Error> {
        let list = self
            .proxy
            .list_desktops(options.as_call_arg())
            .await
            .map_err(gone)?;
        Ok(list
            .into_iter()
            .map(|d| Desktop {
                desktop: get(&d, "desktop").unwrap_or_default(),
                user: get(&d, "user").unwrap_or_default(),
                display: get(&d, "display").unwrap_or_default(),
            })
            .collect())
    }

    /// Mount points of client folders shared into the session `name`. Option: `maxwait`.
    pub async fn list_mounts(&self, name: &str, options: Options) -> Result<Vec<String>, Error> {
        self.proxy
            .list_mounts(name, options.as_call_arg())
            .await
            .map_err(gone)
    }

    /// The published-applications menu. Options: `lang`, `max_no_submenus`, `refresh`,
    /// `raw`, `very_raw`. [`Error::NotSupported`] when the server has none.
    pub async fn published_applications(
        &self,
        options: Options,
    ) -> Result<PublishedApplications, Error> {
        let d = self
            .proxy
            .published_applications(options.as_call_arg())
            .await
            .map_err(gone)?;
        Ok(PublishedApplications::from_dict(d))
    }

    /// Starts a menu entry (by its command line or name) in the running
    /// published-applications session `name`.
    pub async fn exec_published_application(&self, name: &str, exec: &str) -> Result<(), Error> {
        self.proxy
            .exec_published_application(name, exec)
            .await
            .map_err(gone)
    }

    /// The server's X2Go features (`x2gofeaturelist`); cached per connection unless `force`.
    pub async fn server_features(&self, force: bool) -> Result<Vec<String>, Error> {
        self.proxy.server_features(force).await.map_err(gone)
    }

    /// The server's X2Go component versions; cached per connection unless `force`.
    pub async fn server_versions(&self, force: bool) -> Result<HashMap<String, String>, Error> {
        self.proxy.server_versions(force).await.map_err(gone)
    }

    /// Whether the remote home directory exists.
    pub async fn home_exists(&self) -> Result<bool, Error> {
        self.proxy.home_exists().await.map_err(gone)
    }

    /// Whether the remote user can share client folders (sshfs, fusermount, `/dev/fuse`).
    pub async fn is_sshfs_available(&self) -> Result<bool, Error> {
        self.proxy.is_sshfs_available().await.map_err(gone)
    }

    /// Whether `username` may run X2Go sessions on the server.
    pub async fn is_x2go_user(&self, username: &str) -> Result<bool, Error> {
        self.proxy.is_x2go_user(username).await.map_err(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::unread_properties;

    #[test]
    fn info_reads_every_property_the_interface_declares() {
        // `connected` so that `State` reads as something else than the default state.
        let unread = unread_properties(PROFILE_INTERFACE, "connected", |props| ProfileInfo {
            raw: HashMap::new(),
            ..ProfileInfo::from_props(props)
        });
        assert!(unread.is_empty(), "ProfileInfo does not read {unread:?}");
    }
}
