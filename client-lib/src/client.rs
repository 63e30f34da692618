//! The connection to x2god and the manager's calls.

use x2god_proto::names::BUS_NAME;
use zbus::OwnedObjectPath;
use zbus::names::BusName;

use crate::agent::{Agent, AgentGuard};
use crate::events::EventStream;
use crate::profile::Profile;
use crate::session::{SessionHandle, object_error};
use crate::{Error, ManagerProxy, Options};

/// A connection to x2god: profiles, events and the agent.
///
/// Cheap to clone; clones share the bus connection.
#[derive(Clone, Debug)]
pub struct Client {
    conn: zbus::Connection,
    manager: ManagerProxy<'static>,
}

impl Client {
    /// Connects to the session bus. Needs a Tokio runtime, as zbus here is built for Tokio.
    pub async fn session() -> Result<Client, Error> {
        let conn = zbus::Connection::session().await?;
        Client::with_connection(conn).await
    }

    /// Uses an existing bus connection (a private bus in tests, or one the applet shares).
    pub async fn with_connection(conn: zbus::Connection) -> Result<Client, Error> {
        let manager = ManagerProxy::builder(&conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await?;
        Ok(Client { conn, manager })
    }

    /// The underlying bus connection.
    pub fn connection(&self) -> &zbus::Connection {
        &self.conn
    }

    /// The manager proxy, for calls this wrapper does not cover.
    pub fn manager(&self) -> &ManagerProxy<'static> {
        &self.manager
    }

    /// Whether x2god is on the bus now (no activation is triggered).
    pub async fn daemon_running(&self) -> Result<bool, Error> {
        let dbus = zbus::fdo::DBusProxy::new(&self.conn).await?;
        let name = BusName::from_static_str(BUS_NAME)?;
        Ok(dbus.name_has_owner(name).await.map_err(zbus::Error::from)?)
    }

    /// The daemon's version.
    pub async fn version(&self) -> Result<String, Error> {
        Ok(self.manager.version().await?)
    }

    /// Creates a profile from `settings` (`hostname` is required; every key, its type and the
    /// calls that take it are in [`crate::keys`] and the README's section "Keys").
    pub async fn create_profile(&self, name: &str, settings: Options) -> Result<Profile, Error> {
        let path = self
            .manager
            .create_profile(name, settings.as_call_arg())
            .await?;
        Profile::at(&self.conn, path).await
    }

    /// The profile called `name`; [`Error::NotFound`] if there is none.
    pub async fn profile(&self, name: &str) -> Result<Profile, Error> {
        let path = self.manager.get_profile(name).await?;
        Profile::at(&self.conn, path).await
    }

    /// A handle on the profile object at `path` (from an [`Event`](crate::Event)); no call is
    /// made.
    pub async fn profile_at(&self, path: OwnedObjectPath) -> Result<Profile, Error> {
        Profile::at(&self.conn, path).await
    }

    /// All profiles, ordered by name.
    pub async fn profiles(&self) -> Result<Vec<Profile>, Error> {
        let mut out = Vec::new();
        for path in self.manager.list_profiles().await? {
            out.push(Profile::at(&self.conn, path).await?);
        }
        Ok(out)
    }

    /// Removes the profile called `name`, disconnecting it first.
    pub async fn remove_profile(&self, name: &str) -> Result<(), Error> {
        self.manager.remove_profile(name).await
    }

    /// A handle on the session object at `path` (from an [`Event`](crate::Event)); reads its
    /// name, so [`Error::NotFound`] when the daemon does not know it.
    pub async fn session_at(&self, path: OwnedObjectPath) -> Result<SessionHandle, Error> {
        let probe = SessionHandle::new(&self.conn, path.clone(), String::new()).await?;
        let name = probe.proxy().name().await.map_err(object_error)?;
        SessionHandle::new(&self.conn, path, name).await
    }

    /// Changes from now on: profiles added and removed, connection states, sessions added,
    /// changed and removed, and the daemon going away and coming back. See [`Event`] for the
    /// ordering guarantees.
    ///
    /// The stream is subscribed when this returns: read the current state after it (e.g. with
    /// [`Client::profiles`]) and apply the events on top. Or use
    /// [`Client::events_with_snapshot`], which starts with the current state.
    ///
    /// Needs a Tokio runtime: a task follows the bus so the connection never waits for the
    /// consumer. Dropping the stream ends it.
    ///
    /// [`Event`]: crate::Event
    pub async fn events(&self) -> Result<EventStream, Error> {
        EventStream::start(self.conn.clone(), false).await
    }

    /// Like [`Client::events`], but first describes the current state as after a daemon
    /// restart: [`ProfileAdded`] for every profile (with its connection state) and
    /// [`SessionAdded`] for every session the daemon knows (cause
    /// [`Cause::Sync`]), then [`Synced`]. If the daemon is not running, the stream starts with
    /// [`Synced`] alone.
    ///
    /// [`ProfileAdded`]: crate::Event::ProfileAdded
    /// [`SessionAdded`]: crate::Event::SessionAdded
    /// [`Cause::Sync`]: crate::Cause::Sync
    /// [`Synced`]: crate::Event::Synced
    pub async fn events_with_snapshot(&self) -> Result<EventStream, Error> {
        EventStream::start(self.conn.clone(), true).await
    }

    /// Serves `agent` on this connection at [`AGENT_PATH`](crate::AGENT_PATH) and registers it
    /// with x2god, which then asks it for passwords, passphrases, one-time codes and host-key
    /// decisions a `Connect` needs. The registration follows the daemon: when x2god restarts,
    /// it is renewed by itself.
    ///
    /// One agent per connection: while the returned guard lives, another call fails with
    /// [`Error::AlreadyExists`]. Dropping the guard (or [`AgentGuard::unregister`]) ends it.
    pub async fn register_agent<A: Agent>(&self, agent: A) -> Result<AgentGuard, Error> {
        AgentGuard::register(self.conn.clone(), self.manager.clone(), agent).await
    }
}
