//! Published applications: the server's menu, cached per connection, and launching entries in
//! a published-applications session.

use std::sync::{Arc, Mutex};

use super::connection::Connector;
use super::error::Error;
use super::exec::{COMMAND_TIMEOUT, run, run_text};
use super::listing::Listings;
use super::server::ServerQueries;
use super::sync::lock;
use crate::x2go::apps::{AppEntry, Menu, build_menu, parse_apps};
use crate::x2go::command::RemoteCommand;
use crate::x2go::list::SessionStatus;
use crate::x2go::server_info::FEATURE_PUBLISHED_APPLICATIONS;
use crate::x2go::validate::{Display, SessionKind, SessionName};

/// What `PublishedApplications` returns, by the caller's choice of detail.
pub enum AppsAnswer {
    /// The menu tree for a language.
    Menu(Menu),
    /// The parsed entries, every language.
    Raw(Arc<Vec<AppEntry>>),
    /// `x2gogetapps` output as is.
    VeryRaw(String),
}

/// The entries and the server's text they came from.
type Cached = (Arc<Vec<AppEntry>>, String);

/// A profile's published applications.
pub struct PublishedApps {
    connector: Arc<Connector>,
    server: Arc<ServerQueries>,
    listings: Arc<Listings>,
    /// Fetched once per connection.
    cache: Mutex<Option<Cached>>,
}

impl PublishedApps {
    /// The published applications of `connector`'s server.
    pub(crate) fn new(
        connector: Arc<Connector>,
        server: Arc<ServerQueries>,
        listings: Arc<Listings>,
    ) -> PublishedApps {
        PublishedApps {
            connector,
            server,
            listings,
            cache: Mutex::new(None),
        }
    }

    /// A new connection: its server's menu is fetched anew.
    pub(crate) fn connected(&self) {
        *lock(&self.cache) = None;
    }

    async fn require_published_feature(&self) -> Result<(), Error> {
        if self
            .server
            .features(false)
            .await?
            .iter()
            .any(|f| f == FEATURE_PUBLISHED_APPLICATIONS)
        {
            Ok(())
        } else {
            Err(Error::NotSupported(
                "the server does not offer published applications".into(),
            ))
        }
    }

    /// The server's published applications, fetched once per connection unless `refresh`.
    async fn entries(&self, refresh: bool) -> Result<Cached, Error> {
        if !refresh && let Some(cached) = lock(&self.cache).clone() {
            return Ok(cached);
        }
        self.require_published_feature().await?;
        let text = run_text(&self.connector, &RemoteCommand::get_apps(), COMMAND_TIMEOUT).await?;
        let (entries, skipped) = parse_apps(&text);
        for reason in skipped {
            tracing::debug!(profile = %self.connector.params().name, %reason, "skipped a published application");
        }
        let entry = (Arc::new(entries), text);
        *lock(&self.cache) = Some(entry.clone());
        Ok(entry)
    }

    /// The published-applications menu in language `lang`, flat when there are at most
    /// `max_no_submenus` entries.
    pub async fn menu(
        &self,
        lang: &str,
        max_no_submenus: i32,
        refresh: bool,
        raw: bool,
        very_raw: bool,
    ) -> Result<AppsAnswer, Error> {
        let (entries, text) = self.entries(refresh).await?;
        Ok(if very_raw {
            AppsAnswer::VeryRaw(text)
        } else if raw {
            AppsAnswer::Raw(entries)
        } else {
            AppsAnswer::Menu(build_menu(&entries, lang, max_no_submenus))
        })
    }

    /// Starts the published application whose command line is `exec` (or whose name, in any
    /// language, is `exec`) in the running published-applications session `name`. Only commands
    /// from the server's own menu can be started.
    pub async fn exec(&self, name: &str, exec: &str) -> Result<(), Error> {
        let name = SessionName::parse(name)?;
        if name.kind() != SessionKind::Published {
            return Err(Error::InvalidArgument(format!(
                "{:?} is not a published-applications session",
                name.as_str()
            )));
        }
        let (entries, _) = self.entries(false).await?;
        let entry = entries
            .iter()
            .find(|e| e.exec == exec || e.names.values().any(|n| n == exec))
            .ok_or_else(|| {
                Error::NotFound(format!("no published application {exec:?} on the server"))
            })?;
        let sessions = self.listings.list_now().await?;
        let session = sessions
            .iter()
            .find(|s| s.name == name && s.status == SessionStatus::Running)
            .ok_or_else(|| Error::NotFound(format!("no running session {:?}", name.as_str())))?;
        let display = Display::parse(&session.display.to_string())?;
        let command = if entry.terminal {
            format!("x-terminal-emulator -e {}", entry.exec)
        } else {
            entry.exec.clone()
        };
        run(
            &self.connector,
            &RemoteCommand::exec_published(&display, &name, &command),
            COMMAND_TIMEOUT,
        )
        .await?;
        Ok(())
    }
}
