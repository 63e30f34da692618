//! Remote sessions: the listing rows of `ListSessions` ([`Session`]) and the session objects
//! x2god serves below each profile ([`SessionHandle`]).

use std::collections::HashMap;
use std::fmt;

use x2god_proto::keys::session as key;
use x2god_proto::names::SESSION_INTERFACE;
use x2god_proto::proxy::SessionProxy;
use zbus::names::InterfaceName;
use zbus::{ObjectPath, OwnedObjectPath, OwnedVariant};

use crate::{Error, Options};

pub use x2god_proto::types::SessionState;

/// Which session an event is about: its object path and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId {
    /// The session object, `/org/x2go/Control1/profile/<p>/session/<s>`.
    pub path: OwnedObjectPath,
    /// The X2Go session name.
    pub name: String,
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// One session as listed by the server (`Profile.ListSessions`).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Session name (`user-display-time_stTYPEcmd_dpDEPTH`).
    pub name: String,
    /// `R` or `S`.
    pub status: String,
    /// X display number on the server.
    pub display: u32,
    /// Agent process id on the server.
    pub agent_pid: u32,
    /// The server's host name.
    pub hostname: String,
    /// Remote user.
    pub username: String,
    /// Creation time, server local time.
    pub date_created: String,
    /// Time of the last state change.
    pub date_suspended: String,
    /// Graphics port of the agent on the server.
    pub graphics_port: u16,
    /// `desktop`, `application`, `published` or `shadow`.
    pub session_type: String,
    /// Every value as sent, for keys not covered above.
    pub raw: HashMap<String, OwnedVariant>,
}

pub(crate) fn get<T: TryFrom<OwnedVariant>>(
    d: &HashMap<String, OwnedVariant>,
    k: &str,
) -> Option<T> {
    d.get(k)
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| T::try_from(v).ok())
}

impl Session {
    /// Reads the typed fields of a `ListSessions` dictionary.
    pub fn from_dict(raw: HashMap<String, OwnedVariant>) -> Session {
        Session {
            name: get(&raw, key::NAME).unwrap_or_default(),
            status: get(&raw, key::STATUS).unwrap_or_default(),
            display: get(&raw, key::DISPLAY).unwrap_or_default(),
            agent_pid: get(&raw, key::AGENT_PID).unwrap_or_default(),
            hostname: get(&raw, key::HOSTNAME).unwrap_or_default(),
            username: get(&raw, key::USERNAME).unwrap_or_default(),
            date_created: get(&raw, key::DATE_CREATED).unwrap_or_default(),
            date_suspended: get(&raw, key::DATE_SUSPENDED).unwrap_or_default(),
            graphics_port: get(&raw, key::GRAPHICS_PORT).unwrap_or_default(),
            session_type: get(&raw, key::SESSION_TYPE).unwrap_or_default(),
            raw,
        }
    }

    /// The state as a type: running, suspended or unknown.
    pub fn state(&self) -> SessionState {
        match self.status.as_str() {
            "R" => SessionState::Running,
            "S" => SessionState::Suspended,
            _ => SessionState::Unknown,
        }
    }

    /// The command or desktop the session runs (`command`).
    pub fn command(&self) -> String {
        self.value(key::COMMAND).unwrap_or_default()
    }

    /// The client address the server saw last (`client_ip`).
    pub fn client_ip(&self) -> String {
        self.value(key::CLIENT_IP).unwrap_or_default()
    }

    /// Any value of the dictionary by its key ([`crate::keys::session`] has the keys and
    /// types).
    pub fn value<T: TryFrom<OwnedVariant>>(&self, key: &str) -> Option<T> {
        get(&self.raw, key)
    }
}

/// Every property of a session object, read in one call ([`SessionHandle::details`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionDetails {
    /// Session name.
    pub name: String,
    /// The profile object the session belongs to.
    pub profile: Option<OwnedObjectPath>,
    /// Running or suspended.
    pub state: SessionState,
    /// Whether x2god shows the session here (its nxproxy runs).
    pub local: bool,
    /// `desktop`, `application`, `published` or `shadow`.
    pub session_type: String,
    /// The command or desktop the session runs.
    pub command: String,
    /// X display number on the server.
    pub display: u32,
    /// Agent process id on the server.
    pub agent_pid: u32,
    /// Graphics port of the agent on the server.
    pub graphics_port: u16,
    /// Creation time (server local time).
    pub date_created: String,
    /// Time of the last state change (server local time).
    pub date_suspended: String,
    /// The client address the server saw last.
    pub client_ip: String,
    /// The remote user.
    pub username: String,
    /// The folders shared into the session: (path, read-only).
    pub shared_folders: Vec<(String, bool)>,
    /// The session's sound here: `pulse` (it plays through the local sound server), `failed`
    /// (asked for, but not to be had; the daemon's log says why) or `none`.
    pub sound: String,
    /// Every property as sent, for ones added later.
    pub raw: HashMap<String, OwnedVariant>,
}

impl SessionDetails {
    fn from_props(raw: HashMap<String, OwnedVariant>) -> SessionDetails {
        SessionDetails {
            name: get(&raw, "Name").unwrap_or_default(),
            profile: get(&raw, "Profile"),
            state: SessionState::parse(&get::<String>(&raw, "State").unwrap_or_default()),
            local: get(&raw, "Local").unwrap_or_default(),
            session_type: get(&raw, "SessionType").unwrap_or_default(),
            command: get(&raw, "Command").unwrap_or_default(),
            display: get(&raw, "Display").unwrap_or_default(),
            agent_pid: get(&raw, "AgentPid").unwrap_or_default(),
            graphics_port: get(&raw, "GraphicsPort").unwrap_or_default(),
            date_created: get(&raw, "DateCreated").unwrap_or_default(),
            date_suspended: get(&raw, "DateSuspended").unwrap_or_default(),
            client_ip: get(&raw, "ClientIp").unwrap_or_default(),
            username: get(&raw, "Username").unwrap_or_default(),
            shared_folders: raw
                .get("SharedFolders")
                .and_then(|v| <Vec<(String, bool)>>::try_from(v.clone()).ok())
                .unwrap_or_default(),
            sound: get(&raw, "Sound").unwrap_or_default(),
            raw,
        }
    }
}

/// A session object of the daemon (`org.x2go.Control1.Session`): what x2god knows of one
/// remote session, and the lifecycle calls on it.
///
/// The object exists while the daemon knows the session (from any listing); once the session
/// ends, calls fail with [`Error::NotFound`].
#[derive(Clone, Debug)]
pub struct SessionHandle {
    proxy: SessionProxy<'static>,
    name: String,
}

/// A property read or call on an object that is gone is `NotFound`, as a method of the
/// daemon would say, rather than a D-Bus `UnknownObject`.
pub(crate) fn object_error(e: zbus::Error) -> Error {
    let gone = match &e {
        zbus::Error::MethodError(n, _, _) => {
            n.as_str() == "org.freedesktop.DBus.Error.UnknownObject"
        }
        zbus::Error::FDO(f) => matches!(**f, zbus::fdo::Error::UnknownObject(_)),
        _ => false,
    };
    if gone {
        return Error::NotFound(format!("the object is gone: {e}"));
    }
    Error::from(e)
}

impl SessionHandle {
    pub(crate) async fn new(
        conn: &zbus::Connection,
        path: OwnedObjectPath,
        name: String,
    ) -> Result<SessionHandle, Error> {
        // Uncached, as for profiles: a cached state could lag a reply that already changed it.
        let proxy = SessionProxy::builder(conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .path(path)
            .build()
            .await?;
        Ok(SessionHandle { proxy, name })
    }

    /// The session name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The object path.
    pub fn path(&self) -> &ObjectPath<'_> {
        self.proxy.inner().path()
    }

    /// This session as an event names it.
    pub fn id(&self) -> SessionId {
        SessionId {
            path: self.path().to_owned().into(),
            name: self.name.clone(),
        }
    }

    /// The generated proxy, for calls this wrapper does not cover.
    pub fn proxy(&self) -> &SessionProxy<'static> {
        &self.proxy
    }

    /// Running or suspended.
    pub async fn state(&self) -> Result<SessionState, Error> {
        let s = self.proxy.state().await.map_err(object_error)?;
        Ok(SessionState::parse(&s))
    }

    /// Whether x2god shows the session here (its nxproxy runs).
    pub async fn is_local(&self) -> Result<bool, Error> {
        self.proxy.local().await.map_err(object_error)
    }

    /// The profile object the session belongs to.
    pub async fn profile_path(&self) -> Result<OwnedObjectPath, Error> {
        self.proxy.profile().await.map_err(object_error)
    }

    /// `desktop`, `application`, `published` or `shadow`.
    pub async fn session_type(&self) -> Result<String, Error> {
        self.proxy.session_type().await.map_err(object_error)
    }

    /// The command or desktop the session runs.
    pub async fn command(&self) -> Result<String, Error> {
        self.proxy.command().await.map_err(object_error)
    }

    /// X display number on the server.
    pub async fn display(&self) -> Result<u32, Error> {
        self.proxy.display().await.map_err(object_error)
    }

    /// Every property in one round trip.
    pub async fn details(&self) -> Result<SessionDetails, Error> {
        let props = zbus::fdo::PropertiesProxy::builder(self.proxy.inner().connection())
            .destination(x2god_proto::names::BUS_NAME)
            .path(self.path().to_owned())
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        let all = props
            .get_all(InterfaceName::from_static_str_unchecked(SESSION_INTERFACE))
            .await
            .map_err(|e| object_error(e.into()))?;
        Ok(SessionDetails::from_props(all))
    }

    /// Suspends the session; the local window goes.
    pub async fn suspend(&self) -> Result<(), Error> {
        self.proxy.suspend().await
    }

    /// Terminates the session.
    pub async fn terminate(&self) -> Result<(), Error> {
        self.proxy.terminate().await
    }

    /// Resumes the session and shows it here; options as for
    /// [`Profile::resume`](crate::Profile::resume).
    pub async fn resume(&self, options: Options) -> Result<(), Error> {
        self.proxy.resume(options.as_call_arg()).await
    }

    /// Stops showing the session here and leaves it alone on the server.
    pub async fn dissociate(&self) -> Result<(), Error> {
        self.proxy.dissociate().await
    }

    /// Shares the local folder `path` into the running session (read-only if `read_only`);
    /// returns once the server has mounted it.
    pub async fn share_folder(&self, path: &str, read_only: bool) -> Result<(), Error> {
        let options = crate::Options::new().set(crate::keys::READONLY, read_only);
        self.proxy.share_folder(path, options.as_call_arg()).await
    }

    /// Unmounts a folder shared into the session.
    pub async fn unshare_folder(&self, path: &str) -> Result<(), Error> {
        self.proxy.unshare_folder(path).await
    }

    /// Unmounts every folder shared into the session.
    pub async fn unshare_all_folders(&self) -> Result<(), Error> {
        self.proxy.unshare_all_folders().await
    }

    /// The folders shared into the session: (path, read-only).
    pub async fn shared_folders(&self) -> Result<Vec<(String, bool)>, Error> {
        self.proxy.shared_folders().await.map_err(object_error)
    }

    /// The session's sound here: `pulse`, `failed` or `none`.
    pub async fn sound(&self) -> Result<String, Error> {
        self.proxy.sound().await.map_err(object_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::unread_properties;

    #[test]
    fn details_read_every_property_the_interface_declares() {
        // `running` so that `State` reads as something else than an unknown state.
        let unread = unread_properties(SESSION_INTERFACE, "running", |props| SessionDetails {
            raw: HashMap::new(),
            ..SessionDetails::from_props(props)
        });
        assert!(unread.is_empty(), "SessionDetails does not read {unread:?}");
    }

    #[test]
    fn listing_rows_read_the_contract_keys() {
        let raw: HashMap<String, OwnedVariant> = x2god_proto::keys::session::KEYS
            .iter()
            .map(|k| {
                (
                    k.name.to_owned(),
                    crate::test_support::sample(k.signature, "R"),
                )
            })
            .collect();
        let s = Session::from_dict(raw);
        assert_eq!((s.name.as_str(), s.status.as_str()), ("R", "R"));
        assert_eq!((s.display, s.agent_pid, s.graphics_port), (7, 7, 7));
        assert_eq!(s.state(), SessionState::Running);
        assert_eq!(
            (s.command(), s.client_ip()),
            ("R".to_owned(), "R".to_owned())
        );
    }
}
