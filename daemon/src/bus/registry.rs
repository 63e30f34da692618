//! The set of profiles: the only code that adds and removes profile objects and saves the file.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use tokio::sync::{Mutex, mpsc};
use tracing::{info, warn};
use x2god_proto::Error;
use x2god_proto::path::{profile_path, session_path};
use zbus::OwnedObjectPath;

use super::profile::ProfileObject;
use super::session::SessionObject;
use crate::config::Paths;
use crate::control::{EventMessage, ProfileController, ProfileSource, SharedListings};
use crate::profiles::{
    ProfileSettings, ProfileStore, StoreError, validate_profile_name, x2goclient,
};

/// All profiles of the user, their objects on the bus and their file.
pub struct Registry {
    profiles: Mutex<BTreeMap<String, Arc<ProfileController>>>,
    store: ProfileStore,
    paths: Arc<Paths>,
    /// Listings shared by profiles of one account.
    listings: Arc<SharedListings>,
    conn: OnceLock<zbus::Connection>,
    /// Applets registered to answer prompts.
    pub agents: Arc<super::agents::Agents>,
    /// Profiles read from `~/.x2goclient/sessions`, put on the bus by `attach`.
    imported: std::sync::Mutex<Vec<x2goclient::ImportedProfile>>,
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::Failed(e.to_string())
}

impl Registry {
    /// Reads the profile file. A malformed file is an error: the daemon must not start and then
    /// overwrite the user's profiles with an empty set.
    pub fn load(
        paths: Arc<Paths>,
    ) -> Result<(Arc<Registry>, BTreeMap<String, ProfileSettings>), StoreError> {
        let store = ProfileStore::new(paths.profiles_file.clone());
        let stored = store.load()?;
        Ok((
            Arc::new(Registry {
                profiles: Mutex::new(BTreeMap::new()),
                store,
                paths: paths.clone(),
                listings: Arc::default(),
                conn: OnceLock::new(),
                agents: Arc::default(),
                imported: std::sync::Mutex::new(read_x2goclient(&paths)),
            }),
            stored,
        ))
    }

    /// Puts the loaded profiles on `conn`.
    pub async fn attach(
        self: &Arc<Self>,
        conn: &zbus::Connection,
        stored: BTreeMap<String, ProfileSettings>,
    ) -> zbus::Result<()> {
        let _ = self.conn.set(conn.clone());
        self.agents.attach(conn).await?;
        let mut profiles = self.profiles.lock().await;
        for (name, settings) in stored {
            let autoconnect = settings.autoconnect;
            let ctl = self.new_controller(name.clone(), settings, ProfileSource::Own);
            self.export(&ctl).await?;
            if autoconnect {
                let ctl = ctl.clone();
                tokio::spawn(async move {
                    let req = crate::control::ConnectRequest::new(ctl.settings());
                    if let Err(e) = ctl.connect(req).await {
                        warn!(profile = %ctl.name(), error = %e, "autoconnect failed");
                    }
                });
            }
            profiles.insert(name, ctl);
        }
        let imported =
            std::mem::take(&mut *self.imported.lock().unwrap_or_else(|p| p.into_inner()));
        for p in imported {
            let mut name = p.name.clone();
            if profiles.contains_key(&name) || validate_profile_name(&name).is_err() {
                // The profile id keeps x2goclient profiles apart from ours and each other.
                name = format!("{} [{}]", p.name, p.id);
            }
            if profiles.contains_key(&name) || validate_profile_name(&name).is_err() {
                warn!(id = %p.id, "x2goclient profile skipped: its name is taken or unusable");
                continue;
            }
            if !p.ignored.is_empty() {
                info!(profile = %name, ignored = %p.ignored.join(","), "x2goclient profile: settings x2god does not act on");
            }
            let source = ProfileSource::X2goClient {
                id: p.id,
                unsupported: p.unsupported,
            };
            let ctl = self.new_controller(name.clone(), p.settings, source);
            self.export(&ctl).await?;
            profiles.insert(name, ctl);
        }
        info!(count = profiles.len(), file = %self.store.path().display(), "profiles loaded");
        Ok(())
    }

    fn conn(&self) -> Result<&zbus::Connection, Error> {
        self.conn
            .get()
            .ok_or_else(|| Error::Failed("the daemon is not on the bus yet".into()))
    }

    fn new_controller(
        self: &Arc<Self>,
        name: String,
        settings: ProfileSettings,
        source: ProfileSource,
    ) -> Arc<ProfileController> {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctl = ProfileController::new(
            name,
            settings,
            source,
            self.paths.clone(),
            self.listings.clone(),
            tx,
        );
        if let Some(conn) = self.conn.get() {
            tokio::spawn(forward_events(conn.clone(), Arc::downgrade(&ctl), rx));
        }
        ctl
    }

    /// Puts the profile and its known sessions on the bus under the profile's current name.
    async fn export(self: &Arc<Self>, ctl: &Arc<ProfileController>) -> zbus::Result<()> {
        let conn = self.conn.get().ok_or(zbus::Error::Unsupported)?;
        let name = ctl.name();
        let obj = ProfileObject::new(ctl.clone(), self.clone());
        conn.object_server().at(&profile_path(&name), obj).await?;
        for s in ctl.known_sessions() {
            let session = s.name.as_str().to_owned();
            let obj = SessionObject::new(ctl.clone(), session.clone());
            conn.object_server()
                .at(&session_path(&name, &session), obj)
                .await?;
        }
        Ok(())
    }

    /// Takes the profile `name` and its session objects off the bus.
    async fn unexport(&self, name: &str, ctl: &ProfileController) -> Result<(), Error> {
        let server = self.conn()?.object_server();
        for s in ctl.known_sessions() {
            let path = session_path(name, s.name.as_str());
            // Already gone is fine: the session may have ended meanwhile.
            let _ = server.remove::<SessionObject, _>(&path).await;
        }
        server
            .remove::<ProfileObject, _>(&profile_path(name))
            .await
            .map_err(failed)?;
        Ok(())
    }

    fn save(&self, profiles: &BTreeMap<String, Arc<ProfileController>>) -> Result<(), Error> {
        let map = profiles
            .iter()
            .filter(|(_, c)| !c.read_only())
            .map(|(k, c)| (k.clone(), c.settings()))
            .collect();
        self.store.save(&map).map_err(failed)
    }

    /// Object paths of all profiles.
    pub async fn list(&self) -> Vec<OwnedObjectPath> {
        self.profiles
            .lock()
            .await
            .keys()
            .map(|n| profile_path(n))
            .collect()
    }

    /// The object path of `name`.
    pub async fn get(&self, name: &str) -> Result<OwnedObjectPath, Error> {
        if self.profiles.lock().await.contains_key(name) {
            Ok(profile_path(name))
        } else {
            Err(not_found(name))
        }
    }

    /// Adds a profile and saves the file.
    pub async fn create(
        self: &Arc<Self>,
        name: &str,
        settings: ProfileSettings,
    ) -> Result<OwnedObjectPath, Error> {
        validate_profile_name(name).map_err(|m| Error::InvalidArgument(m.into()))?;
        check_settings(&settings)?;
        let mut profiles = self.profiles.lock().await;
        if profiles.contains_key(name) {
            return Err(Error::AlreadyExists(format!(
                "a profile named {name:?} exists already"
            )));
        }
        let ctl = self.new_controller(name.to_owned(), settings, ProfileSource::Own);
        profiles.insert(name.to_owned(), ctl.clone());
        if let Err(e) = self.save(&profiles) {
            profiles.remove(name);
            return Err(e);
        }
        self.export(&ctl).await.map_err(failed)?;
        info!(profile = %name, "profile created");
        Ok(profile_path(name))
    }

    /// Disconnects and removes a profile, and saves the file.
    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        let mut profiles = self.profiles.lock().await;
        if let Some(c) = profiles.get(name) {
            refuse_read_only(c)?;
        }
        let ctl = profiles.remove(name).ok_or_else(|| not_found(name))?;
        if let Err(e) = self.save(&profiles) {
            profiles.insert(name.to_owned(), ctl);
            return Err(e);
        }
        drop(profiles);
        ctl.disconnect().await;
        self.unexport(name, &ctl).await?;
        move_secrets(name, None, &ctl.settings().keyring).await;
        info!(profile = %name, "profile removed");
        Ok(())
    }

    /// Renames a profile: the object moves to the new path and the file is saved.
    pub async fn rename(self: &Arc<Self>, old: &str, new: &str) -> Result<OwnedObjectPath, Error> {
        validate_profile_name(new).map_err(|m| Error::InvalidArgument(m.into()))?;
        let mut profiles = self.profiles.lock().await;
        if old == new {
            return Ok(profile_path(new));
        }
        if profiles.contains_key(new) {
            return Err(Error::AlreadyExists(format!(
                "a profile named {new:?} exists already"
            )));
        }
        if let Some(c) = profiles.get(old) {
            refuse_read_only(c)?;
        }
        let ctl = profiles.remove(old).ok_or_else(|| not_found(old))?;
        profiles.insert(new.to_owned(), ctl.clone());
        if let Err(e) = self.save(&profiles) {
            profiles.remove(new);
            profiles.insert(old.to_owned(), ctl);
            return Err(e);
        }
        self.unexport(old, &ctl).await?;
        ctl.set_name(new.to_owned());
        self.export(&ctl).await.map_err(failed)?;
        move_secrets(old, Some(new), &ctl.settings().keyring).await;
        info!(from = %old, to = %new, "profile renamed");
        Ok(profile_path(new))
    }

    /// Replaces a profile's settings and saves the file.
    pub async fn update(
        &self,
        ctl: &ProfileController,
        settings: ProfileSettings,
    ) -> Result<(), Error> {
        refuse_read_only(ctl)?;
        check_settings(&settings)?;
        let profiles = self.profiles.lock().await;
        let old = ctl.settings();
        ctl.set_settings(settings);
        if let Err(e) = self.save(&profiles) {
            ctl.set_settings(old);
            return Err(e);
        }
        Ok(())
    }

    /// Disconnects every profile (daemon shutdown).
    pub async fn disconnect_all(&self) {
        let all: Vec<_> = self.profiles.lock().await.values().cloned().collect();
        for ctl in all {
            ctl.disconnect().await;
        }
    }

    /// Records which secret kinds the keyring holds for `ctl`; saved for x2god's own
    /// profiles, kept in memory for read-only ones.
    pub async fn set_keyring_kinds(
        &self,
        ctl: &ProfileController,
        kinds: Vec<String>,
    ) -> Result<(), Error> {
        let mut s = ctl.settings();
        s.keyring = kinds;
        if ctl.read_only() {
            ctl.set_settings(s);
            return Ok(());
        }
        self.update(ctl, s).await
    }
}

/// Reads the x2goclient sessions file, if any. Problems are logged, never fatal: the file
/// belongs to another program.
fn read_x2goclient(paths: &Paths) -> Vec<x2goclient::ImportedProfile> {
    let Some(home) = paths.user_ssh_dir.parent() else {
        return Vec::new();
    };
    let file = x2goclient::default_path(home);
    let text = match std::fs::read(&file) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            warn!(file = %file.display(), error = %e, "cannot read the x2goclient sessions file");
            return Vec::new();
        }
    };
    let import = x2goclient::parse(&text);
    for w in &import.warnings {
        warn!(file = %file.display(), "{w}");
    }
    for s in &import.skipped {
        info!(file = %file.display(), id = %s.id, reason = %s.reason, "x2goclient profile skipped");
    }
    info!(file = %file.display(), count = import.profiles.len(), "x2goclient profiles read");
    import.profiles
}

/// Refuses to change a profile that comes from another program's file.
fn refuse_read_only(ctl: &ProfileController) -> Result<(), Error> {
    if ctl.read_only() {
        return Err(Error::NotSupported(format!(
            "profile {:?} comes from ~/.x2goclient/sessions, which x2god only reads; change it in x2goclient, or copy its GetSettings into CreateProfile",
            ctl.name()
        )));
    }
    Ok(())
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("no profile named {name:?}"))
}

/// Settings are checked when stored, not only when used, so that no hostile value is ever
/// kept in the file or shown in a property.
fn check_settings(s: &ProfileSettings) -> Result<(), Error> {
    if s.hostname.trim().is_empty() {
        return Err(Error::InvalidArgument(
            "setting \"hostname\" is required".into(),
        ));
    }
    crate::control::validate_hostname(&s.hostname).map_err(Error::from)?;
    if let Some(u) = &s.username {
        crate::x2go::validate::Username::parse(u)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
    }
    if let Some(p) = &s.sshproxy {
        crate::control::validate_hostname(&p.host).map_err(Error::from)?;
        if let Some(u) = &p.user {
            crate::x2go::validate::Username::parse(u)
                .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        }
        let (th, _) = p
            .target(&s.hostname, s.port)
            .map_err(Error::InvalidArgument)?;
        crate::control::validate_hostname(&th).map_err(Error::from)?;
    }
    Ok(())
}

/// Moves (`to` = Some) or deletes the keyring items of a profile. Best effort: a keyring that
/// cannot be reached must not block renaming or removing the profile.
async fn move_secrets(from: &str, to: Option<&str>, kinds: &[String]) {
    for kind in kinds {
        if let Some(to) = to {
            match crate::control::keyring::lookup(from, kind).await {
                Ok(Some(secret)) => {
                    if let Err(e) = crate::control::keyring::store(to, kind, secret).await {
                        warn!(profile = %to, %kind, error = %e, "cannot move a keyring item");
                        continue;
                    }
                }
                Ok(None) => continue,
                Err(e) => {
                    warn!(profile = %from, %kind, error = %e, "cannot move a keyring item");
                    continue;
                }
            }
        }
        if let Err(e) = crate::control::keyring::forget(from, kind).await {
            warn!(profile = %from, %kind, error = %e, "cannot delete a keyring item");
        }
    }
}

/// Publishes a controller's events on its current object path until the controller goes away.
async fn forward_events(
    conn: zbus::Connection,
    ctl: std::sync::Weak<ProfileController>,
    mut rx: mpsc::UnboundedReceiver<EventMessage>,
) {
    while let Some((event, ack)) = rx.recv().await {
        let Some(ctl) = ctl.upgrade() else { return };
        if let Err(e) = super::profile::publish(&conn, &ctl, &event).await {
            warn!(profile = %ctl.name(), error = %e, "cannot publish a profile event");
        }
        let _ = ack.send(());
    }
}
