//! The set of the user's profiles: the only code that adds, renames and removes profiles,
//! saves the profile file (rolling back when that fails), checks settings before they are
//! kept, moves keyring items along, imports x2goclient's profiles and keeps them read-only.
//!
//! It knows nothing of D-Bus: whoever shows profiles to the world (the bus layer) registers a
//! [`Publisher`], which the set tells of every profile that appears, moves or goes, under the
//! set's lock, so that the published objects follow the set in order.

mod checks;
mod error;
mod import;
mod secrets;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, mpsc};
use tracing::{info, warn};

use crate::config::Paths;
use crate::control::{
    ConnectRequest, EventMessage, ProfileController, ProfileSource, SharedListings, keyring,
};
use crate::profiles::{ProfileSettings, ProfileStore, StoreError, validate_profile_name};
use crate::ssh::Secret;

pub use error::Error;

/// The events of one profile, for its publisher.
pub type EventReceiver = mpsc::UnboundedReceiver<EventMessage>;

/// Shows the set's profiles to the world (the bus layer implements it).
pub trait Publisher: Send + Sync {
    /// `ctl` joined the set: publish it, and its `events` from now on.
    fn added(
        &self,
        ctl: Arc<ProfileController>,
        events: EventReceiver,
    ) -> BoxFuture<'_, Result<(), String>>;
    /// The profile that was called `name` left the set.
    fn removed(
        &self,
        name: String,
        ctl: Arc<ProfileController>,
    ) -> BoxFuture<'_, Result<(), String>>;
    /// The profile that was called `old` is called `ctl.name()` now.
    fn renamed(
        &self,
        old: String,
        ctl: Arc<ProfileController>,
    ) -> BoxFuture<'_, Result<(), String>>;
}

/// All profiles of the user and their file.
pub struct Registry {
    profiles: Mutex<BTreeMap<String, Arc<ProfileController>>>,
    store: ProfileStore,
    paths: Arc<Paths>,
    /// Listings shared by profiles of one account.
    listings: Arc<SharedListings>,
    publisher: OnceLock<Arc<dyn Publisher>>,
    /// The profiles read by `load`, made controllers by `attach`.
    loaded: std::sync::Mutex<Vec<(String, ProfileSettings, ProfileSource)>>,
}

fn publish_error(e: String) -> Error {
    Error::Publish(e)
}

impl Registry {
    /// Reads the profile file and x2goclient's. A malformed profile file is an error: the
    /// daemon must not start and then overwrite the user's profiles with an empty set.
    pub fn load(paths: Arc<Paths>) -> Result<Arc<Registry>, StoreError> {
        let store = ProfileStore::new(paths.profiles_file.clone());
        let stored = store.load()?;
        let mut loaded: Vec<(String, ProfileSettings, ProfileSource)> = stored
            .into_iter()
            .map(|(name, settings)| (name, settings, ProfileSource::Own))
            .collect();
        for p in import::read_x2goclient(&paths) {
            let Some(name) = import::import_name(&p, |n| loaded.iter().any(|(k, ..)| k == n))
            else {
                warn!(id = %p.id, "x2goclient profile skipped: its name is taken or unusable");
                continue;
            };
            if !p.ignored.is_empty() {
                info!(profile = %name, ignored = %p.ignored.join(","), "x2goclient profile: settings x2god does not act on");
            }
            let source = ProfileSource::X2goClient {
                id: p.id,
                unsupported: p.unsupported,
            };
            loaded.push((name, p.settings, source));
        }
        Ok(Arc::new(Registry {
            profiles: Mutex::new(BTreeMap::new()),
            store,
            paths,
            listings: Arc::default(),
            publisher: OnceLock::new(),
            loaded: std::sync::Mutex::new(loaded),
        }))
    }

    /// A controller whose events go to the returned receiver.
    fn new_controller(
        &self,
        name: String,
        settings: ProfileSettings,
        source: ProfileSource,
    ) -> (Arc<ProfileController>, EventReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctl = ProfileController::new(
            name,
            settings,
            source,
            self.paths.clone(),
            self.listings.clone(),
            tx,
        );
        (ctl, rx)
    }

    /// Starts publishing: every profile loaded is handed to `publisher`, and those with
    /// `autoconnect` connect.
    pub async fn attach(&self, publisher: Arc<dyn Publisher>) -> Result<(), Error> {
        let _ = self.publisher.set(publisher.clone());
        let loaded = std::mem::take(&mut *self.loaded.lock().unwrap_or_else(|p| p.into_inner()));
        let mut profiles = self.profiles.lock().await;
        for (name, settings, source) in loaded {
            let autoconnect = source == ProfileSource::Own && settings.autoconnect;
            let (ctl, events) = self.new_controller(name.clone(), settings, source);
            publisher
                .added(ctl.clone(), events)
                .await
                .map_err(publish_error)?;
            if autoconnect {
                let ctl = ctl.clone();
                tokio::spawn(async move {
                    let req = ConnectRequest::new(ctl.settings());
                    if let Err(e) = ctl.connect(req).await {
                        warn!(profile = %ctl.name(), error = %e, "autoconnect failed");
                    }
                });
            }
            profiles.insert(name, ctl);
        }
        info!(count = profiles.len(), file = %self.store.path().display(), "profiles loaded");
        Ok(())
    }

    fn publisher(&self) -> Result<&Arc<dyn Publisher>, Error> {
        self.publisher
            .get()
            .ok_or_else(|| Error::Publish("the daemon is not on the bus yet".into()))
    }

    fn save(&self, profiles: &BTreeMap<String, Arc<ProfileController>>) -> Result<(), Error> {
        let map = profiles
            .iter()
            .filter(|(_, c)| !c.read_only())
            .map(|(k, c)| (k.clone(), c.settings()))
            .collect();
        Ok(self.store.save(&map)?)
    }

    /// The file the profiles are kept in.
    pub fn file(&self) -> &std::path::Path {
        self.store.path()
    }

    /// The names of all profiles, sorted.
    pub async fn names(&self) -> Vec<String> {
        self.profiles.lock().await.keys().cloned().collect()
    }

    /// The profile `name`.
    pub async fn get(&self, name: &str) -> Result<Arc<ProfileController>, Error> {
        self.profiles
            .lock()
            .await
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(name.to_owned()))
    }

    /// Adds a profile and saves the file.
    pub async fn create(
        &self,
        name: &str,
        settings: ProfileSettings,
    ) -> Result<Arc<ProfileController>, Error> {
        validate_profile_name(name).map_err(|m| Error::InvalidArgument(m.into()))?;
        checks::check_settings(&settings)?;
        let publisher = self.publisher()?;
        let mut profiles = self.profiles.lock().await;
        if profiles.contains_key(name) {
            return Err(Error::AlreadyExists(name.to_owned()));
        }
        let (ctl, events) = self.new_controller(name.to_owned(), settings, ProfileSource::Own);
        profiles.insert(name.to_owned(), ctl.clone());
        if let Err(e) = self.save(&profiles) {
            profiles.remove(name);
            return Err(e);
        }
        publisher
            .added(ctl.clone(), events)
            .await
            .map_err(publish_error)?;
        info!(profile = %name, "profile created");
        Ok(ctl)
    }

    /// Disconnects and removes a profile, and saves the file.
    pub async fn remove(&self, name: &str) -> Result<(), Error> {
        let publisher = self.publisher()?;
        let mut profiles = self.profiles.lock().await;
        let ctl = profiles
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NotFound(name.to_owned()))?;
        refuse_read_only(&ctl)?;
        profiles.remove(name);
        if let Err(e) = self.save(&profiles) {
            profiles.insert(name.to_owned(), ctl);
            return Err(e);
        }
        drop(profiles);
        // Disconnected while still published, so that its watchers see it go.
        ctl.disconnect().await;
        publisher
            .removed(name.to_owned(), ctl.clone())
            .await
            .map_err(publish_error)?;
        secrets::move_secrets(name, None, &ctl.settings().keyring).await;
        info!(profile = %name, "profile removed");
        Ok(())
    }

    /// Renames a profile and saves the file; returns the controller under its new name.
    pub async fn rename(&self, old: &str, new: &str) -> Result<Arc<ProfileController>, Error> {
        validate_profile_name(new).map_err(|m| Error::InvalidArgument(m.into()))?;
        let publisher = self.publisher()?;
        let mut profiles = self.profiles.lock().await;
        let ctl = profiles
            .get(old)
            .cloned()
            .ok_or_else(|| Error::NotFound(old.to_owned()))?;
        if old == new {
            return Ok(ctl);
        }
        if profiles.contains_key(new) {
            return Err(Error::AlreadyExists(new.to_owned()));
        }
        refuse_read_only(&ctl)?;
        profiles.remove(old);
        profiles.insert(new.to_owned(), ctl.clone());
        if let Err(e) = self.save(&profiles) {
            profiles.remove(new);
            profiles.insert(old.to_owned(), ctl);
            return Err(e);
        }
        ctl.set_name(new.to_owned());
        publisher
            .renamed(old.to_owned(), ctl.clone())
            .await
            .map_err(publish_error)?;
        drop(profiles);
        secrets::move_secrets(old, Some(new), &ctl.settings().keyring).await;
        info!(from = %old, to = %new, "profile renamed");
        Ok(ctl)
    }

    /// Replaces a profile's settings and saves the file.
    pub async fn update(
        &self,
        ctl: &ProfileController,
        settings: ProfileSettings,
    ) -> Result<(), Error> {
        refuse_read_only(ctl)?;
        checks::check_settings(&settings)?;
        let profiles = self.profiles.lock().await;
        self.replace_settings(&profiles, ctl, settings)
    }

    /// Sets `ctl`'s settings and saves them, or puts the old ones back.
    fn replace_settings(
        &self,
        profiles: &BTreeMap<String, Arc<ProfileController>>,
        ctl: &ProfileController,
        settings: ProfileSettings,
    ) -> Result<(), Error> {
        let old = ctl.settings();
        ctl.set_settings(settings);
        if let Err(e) = self.save(profiles) {
            ctl.set_settings(old);
            return Err(e);
        }
        Ok(())
    }

    /// Records which secret kinds the keyring holds for `ctl`; saved for x2god's own
    /// profiles, kept in memory for read-only ones. Returns whether the list changed.
    async fn set_keyring_kinds(
        &self,
        ctl: &ProfileController,
        kinds: Vec<String>,
    ) -> Result<bool, Error> {
        let mut s = ctl.settings();
        if s.keyring == kinds {
            return Ok(false);
        }
        s.keyring = kinds;
        if ctl.read_only() {
            ctl.set_settings(s);
            return Ok(true);
        }
        let profiles = self.profiles.lock().await;
        self.replace_settings(&profiles, ctl, s)?;
        Ok(true)
    }

    /// Stores `secret` as `kind` of `ctl`'s profile in the keyring; returns whether the list
    /// of stored kinds changed.
    pub async fn store_secret(
        &self,
        ctl: &ProfileController,
        kind: &str,
        secret: Secret,
    ) -> Result<bool, Error> {
        keyring::store(&ctl.name(), kind, secret).await?;
        let mut kinds = ctl.settings().keyring;
        if kinds.iter().any(|k| k == kind) {
            return Ok(false);
        }
        kinds.push(kind.to_owned());
        kinds.sort();
        self.set_keyring_kinds(ctl, kinds).await
    }

    /// Removes the secret `kind` of `ctl`'s profile from the keyring. `Ok(None)` when it was
    /// neither stored nor listed; else whether the list of stored kinds changed.
    pub async fn forget_secret(
        &self,
        ctl: &ProfileController,
        kind: &str,
    ) -> Result<Option<bool>, Error> {
        let existed = keyring::forget(&ctl.name(), kind).await?;
        let mut kinds = ctl.settings().keyring;
        let listed = kinds.iter().any(|k| k == kind);
        if !existed && !listed {
            return Ok(None);
        }
        kinds.retain(|k| k != kind);
        Ok(Some(self.set_keyring_kinds(ctl, kinds).await?))
    }

    /// Disconnects every profile (daemon shutdown).
    pub async fn disconnect_all(&self) {
        let all: Vec<_> = self.profiles.lock().await.values().cloned().collect();
        for ctl in all {
            ctl.disconnect().await;
        }
    }
}

/// Refuses to change a profile that comes from another program's file.
fn refuse_read_only(ctl: &ProfileController) -> Result<(), Error> {
    if ctl.read_only() {
        return Err(Error::ReadOnly(ctl.name()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::profiles::x2goclient;

    fn imported(name: &str, id: &str) -> x2goclient::ImportedProfile {
        let text = format!("[{id}]\nname={name}\nhost=h\n");
        x2goclient::parse(&text).profiles.remove(0)
    }

    #[test]
    fn imported_names_avoid_taken_and_unusable_ones() {
        let p = imported("office", "20240101");
        assert_eq!(
            import::import_name(&p, |_| false).as_deref(),
            Some("office")
        );
        assert_eq!(
            import::import_name(&p, |n| n == "office").as_deref(),
            Some("office [20240101]")
        );
        assert_eq!(import::import_name(&p, |_| true), None);
    }
}
