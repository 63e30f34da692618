//! Server queries of a profile: features and versions (cached per connection), home, sshfs,
//! users, mounts and shareable desktops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::debug;

use super::connection::Connector;
use super::error::Error;
use super::exec::{COMMAND_TIMEOUT, run_text};
use super::listing::Listings;
use super::sync::lock;
use crate::x2go::command::RemoteCommand;
use crate::x2go::server_info::{self, Desktop};
use crate::x2go::tokens::{SSHFS_YES, X2GO_USER_OK};
use crate::x2go::validate::{SessionName, Username};

/// python-x2go's `maxwait` for desktop and mount listings.
pub const DEFAULT_MAXWAIT: Duration = Duration::from_secs(20);

/// What the current connection's server said of itself.
#[derive(Default)]
struct Cache {
    features: Option<Vec<String>>,
    versions: Option<BTreeMap<String, String>>,
}

/// Asks a profile's server about itself and its user.
pub struct ServerQueries {
    connector: Arc<Connector>,
    listings: Arc<Listings>,
    cache: Mutex<Cache>,
}

impl ServerQueries {
    /// Queries over `connector`'s connection; `listings` tell which sessions exist.
    pub(crate) fn new(connector: Arc<Connector>, listings: Arc<Listings>) -> ServerQueries {
        ServerQueries {
            connector,
            listings,
            cache: Mutex::default(),
        }
    }

    /// A new connection: what the previous server said may not hold.
    pub(crate) fn connected(&self) {
        *lock(&self.cache) = Cache::default();
    }

    async fn run(&self, cmd: &RemoteCommand, timeout: Duration) -> Result<String, Error> {
        run_text(&self.connector, cmd, timeout).await
    }

    /// The server's X2Go features, cached for the life of the connection.
    pub async fn features(&self, force: bool) -> Result<Vec<String>, Error> {
        if !force && let Some(cached) = &lock(&self.cache).features {
            return Ok(cached.clone());
        }
        let out = self
            .run(&RemoteCommand::feature_list(), COMMAND_TIMEOUT)
            .await?;
        let features: Vec<String> = server_info::parse_feature_list(&out)
            .iter()
            .map(|f| (*f).to_owned())
            .collect();
        lock(&self.cache).features = Some(features.clone());
        Ok(features)
    }

    /// The server's X2Go component versions, cached for the life of the connection.
    pub async fn versions(&self, force: bool) -> Result<BTreeMap<String, String>, Error> {
        if !force && let Some(cached) = &lock(&self.cache).versions {
            return Ok(cached.clone());
        }
        let out = self
            .run(&RemoteCommand::versions(), COMMAND_TIMEOUT)
            .await?;
        let versions = server_info::parse_versions(&out);
        lock(&self.cache).versions = Some(versions.clone());
        Ok(versions)
    }

    /// Whether the remote home directory exists.
    pub async fn home_exists(&self) -> Result<bool, Error> {
        let out = self
            .run(&RemoteCommand::home_exists(), COMMAND_TIMEOUT)
            .await?;
        server_info::parse_home_exists(&out).map_err(|e| Error::Protocol {
            command: "home check".into(),
            reason: e.to_string(),
        })
    }

    /// Whether the remote user can share client folders into sessions (sshfs and FUSE).
    pub async fn is_sshfs_available(&self) -> Result<bool, Error> {
        let out = self
            .run(&RemoteCommand::sshfs_available(), COMMAND_TIMEOUT)
            .await?;
        Ok(out.trim() == SSHFS_YES)
    }

    /// Whether `user` may run X2Go sessions on the server (see [`RemoteCommand::x2go_user`]).
    pub async fn is_x2go_user(&self, user: &str) -> Result<bool, Error> {
        let user = Username::parse(user)?;
        let out = self
            .run(&RemoteCommand::x2go_user(&user), COMMAND_TIMEOUT)
            .await?;
        Ok(out.trim() == X2GO_USER_OK)
    }

    /// The mount points of client folders shared into session `name`.
    pub async fn list_mounts(&self, name: &str, maxwait: Duration) -> Result<Vec<String>, Error> {
        let name = SessionName::parse(name)?;
        if !self
            .listings
            .list_now()
            .await?
            .iter()
            .any(|s| s.name == name)
        {
            return Err(Error::NotFound(format!(
                "no session {:?} on the server",
                name.as_str()
            )));
        }
        let out = self
            .run(&RemoteCommand::list_mounts(&name), maxwait)
            .await?;
        Ok(server_info::parse_mounts(&out)
            .into_iter()
            .map(|m| m.mountpoint)
            .collect())
    }

    /// Desktops the user may share (`x2golistdesktops`). The server command is slow and
    /// sometimes hangs on a display; as python-x2go advises, a timed-out attempt is tried
    /// once more before `Timeout` is returned.
    pub async fn list_desktops(&self, maxwait: Duration) -> Result<Vec<Desktop>, Error> {
        let mut last = None;
        for attempt in 1..=2 {
            match self.run(&RemoteCommand::list_desktops(), maxwait).await {
                Ok(out) => return Ok(server_info::parse_desktops(&out)),
                Err(Error::Ssh(e @ crate::ssh::Error::Timeout(_))) => {
                    debug!(profile = %self.connector.params().name, attempt, "x2golistdesktops timed out");
                    last = Some(Error::Ssh(e));
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::NotFound("no desktops".into())))
    }
}
