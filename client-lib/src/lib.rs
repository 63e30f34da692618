//! Typed async client for x2god, the X2Go control daemon on the D-Bus session bus.
//!
//! ```no_run
//! # async fn demo() -> Result<(), x2god_client::Error> {
//! use x2god_client::{Client, Options};
//! let client = Client::session().await?;
//! let profile = client
//!     .create_profile("office", Options::new().set("hostname", "x2go.example.org").set("port", 22u16))
//!     .await?;
//! profile.connect(Options::new().set("allow_agent", true)).await?;
//! for s in profile.list_sessions().await? {
//!     println!("{} {}", s.name, s.status);
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;

pub use x2god_proto::proxy::{ManagerProxy, ProfileProxy};
pub use x2god_proto::types::ConnectionState;
pub use x2god_proto::{self as proto, Error};
pub use zbus;
use zbus::{OwnedObjectPath, OwnedVariant, Variant};

/// An `a{sv}` options dictionary under construction.
#[derive(Debug, Default, Clone)]
pub struct Options(HashMap<String, OwnedVariant>);

impl Options {
    /// An empty dictionary.
    pub fn new() -> Options {
        Options::default()
    }

    /// Sets `key` to `value` (`&str`, `String`, `bool`, integers, `f64`, `Vec<&str>` …).
    pub fn set<'a>(mut self, key: &str, value: impl Into<Variant<'a>>) -> Options {
        if let Ok(v) = OwnedVariant::try_from(value.into()) {
            self.0.insert(key.to_owned(), v);
        }
        self
    }

    /// The entries, for merging dictionaries.
    pub fn entries(self) -> Vec<(String, Variant<'static>)> {
        self.0
            .into_iter()
            .map(|(k, v)| (k, Variant::from(v)))
            .collect()
    }

    /// The dictionary as a method argument of the generated proxies.
    pub fn as_call_arg(&self) -> HashMap<&str, Variant<'_>> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str(), Variant::from(v.clone())))
            .collect()
    }
}

/// A connection to x2god.
#[derive(Clone)]
pub struct Client {
    conn: zbus::Connection,
    manager: ManagerProxy<'static>,
}

impl Client {
    /// Connects to the session bus.
    pub async fn session() -> Result<Client, Error> {
        let conn = zbus::Connection::session().await?;
        Client::with_connection(conn).await
    }

    /// Uses an existing bus connection (a private bus, or p2p in tests).
    pub async fn with_connection(conn: zbus::Connection) -> Result<Client, Error> {
        let manager = ManagerProxy::new(&conn).await?;
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

    async fn handle(&self, path: OwnedObjectPath) -> Result<Profile, Error> {
        // Reads go to the daemon: a cached value could lag a reply that already changed it.
        let proxy = ProfileProxy::builder(&self.conn)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .path(path)
            .build()
            .await?;
        Ok(Profile { proxy })
    }

    /// Creates a profile.
    pub async fn create_profile(&self, name: &str, settings: Options) -> Result<Profile, Error> {
        let path = self
            .manager
            .create_profile(name, settings.as_call_arg())
            .await?;
        self.handle(path).await
    }

    /// The profile called `name`.
    pub async fn profile(&self, name: &str) -> Result<Profile, Error> {
        let path = self.manager.get_profile(name).await?;
        self.handle(path).await
    }

    /// All profiles.
    pub async fn profiles(&self) -> Result<Vec<Profile>, Error> {
        let mut out = Vec::new();
        for path in self.manager.list_profiles().await? {
            out.push(self.handle(path).await?);
        }
        Ok(out)
    }

    /// Removes the profile called `name`.
    pub async fn remove_profile(&self, name: &str) -> Result<(), Error> {
        self.manager.remove_profile(name).await
    }
}

/// One session as listed by the server.
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

fn get<T: TryFrom<OwnedVariant>>(d: &HashMap<String, OwnedVariant>, k: &str) -> Option<T> {
    d.get(k)
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| T::try_from(v).ok())
}

impl Session {
    /// Reads the typed fields of a `ListSessions` dictionary.
    pub fn from_dict(raw: HashMap<String, OwnedVariant>) -> Session {
        Session {
            name: get(&raw, "name").unwrap_or_default(),
            status: get(&raw, "status").unwrap_or_default(),
            display: get(&raw, "display").unwrap_or_default(),
            agent_pid: get(&raw, "agent_pid").unwrap_or_default(),
            hostname: get(&raw, "hostname").unwrap_or_default(),
            username: get(&raw, "username").unwrap_or_default(),
            date_created: get(&raw, "date_created").unwrap_or_default(),
            date_suspended: get(&raw, "date_suspended").unwrap_or_default(),
            graphics_port: get(&raw, "graphics_port").unwrap_or_default(),
            session_type: get(&raw, "session_type").unwrap_or_default(),
            raw,
        }
    }
}

/// A profile object of the daemon.
#[derive(Clone, Debug)]
pub struct Profile {
    proxy: ProfileProxy<'static>,
}

impl Profile {
    /// The generated proxy, for every method of `org.x2go.Control1.Profile`.
    pub fn proxy(&self) -> &ProfileProxy<'static> {
        &self.proxy
    }

    /// The object path.
    pub fn path(&self) -> &zbus::ObjectPath<'_> {
        self.proxy.inner().path()
    }

    /// Connects; `options` may carry `password`/`passphrase` and setting overrides.
    pub async fn connect(&self, options: Options) -> Result<(), Error> {
        self.proxy.connect(options.as_call_arg()).await
    }

    /// Disconnects.
    pub async fn disconnect(&self) -> Result<(), Error> {
        self.proxy.disconnect().await
    }

    /// The connection state.
    pub async fn state(&self) -> Result<ConnectionState, Error> {
        let s = self.proxy.state().await?;
        Ok(match s.as_str() {
            "connecting" => ConnectionState::Connecting,
            "connected" => ConnectionState::Connected,
            "lost" => ConnectionState::Lost,
            _ => ConnectionState::Disconnected,
        })
    }

    /// The sessions on the server.
    pub async fn list_sessions(&self) -> Result<Vec<Session>, Error> {
        Ok(self
            .proxy
            .list_sessions()
            .await?
            .into_iter()
            .map(Session::from_dict)
            .collect())
    }
}
