//! `org.x2go.Control1.Manager` at `/org/x2go/Control1`.

use std::sync::Arc;

use x2god_proto::Error;
use zbus::object_server::SignalEmitter;
use zbus::{ObjectPath, OwnedObjectPath, interface};

use x2god_proto::path::profile_path;

use super::agents::Agents;
use super::options::{self, Dict};
use crate::profiles::ProfileSettings;
use crate::registry::Registry;

/// The manager object: creates, finds and removes profiles.
#[derive(Clone)]
pub struct Manager {
    registry: Arc<Registry>,
    agents: Arc<Agents>,
}

impl Manager {
    /// The manager of `registry`'s profiles and of the `agents` registered for them.
    pub fn new(registry: Arc<Registry>, agents: Arc<Agents>) -> Manager {
        Manager { registry, agents }
    }
}

/// The unique name that sent a call.
fn sender<'a>(hdr: &zbus::message::Header<'a>) -> Result<zbus::names::UniqueName<'a>, Error> {
    hdr.sender()
        .cloned()
        .ok_or_else(|| Error::InvalidArgument("the call has no sender".into()))
}

#[interface(name = "org.x2go.Control1.Manager")]
impl Manager {
    /// Creates a profile from `settings` and returns its path. Keys (python-x2go's names; every
    /// key with its type in the README, "Keys"): `hostname` (required), `port`, `username`,
    /// `key_filename` (`s` or `as`), `allow_agent`, `look_for_keys`, `force_password_auth`,
    /// `timeout`, `add_to_known_hosts`, `forward_sshagent`, `unique_hostkey_aliases`,
    /// `use_ssh_config`; jump host or HTTP proxy: `use_sshproxy`, `sshproxy_type` (`ssh` or
    /// `http`), `sshproxy_host`, `sshproxy_port`, `sshproxy_user`,
    /// `sshproxy_key_filename`, `sshproxy_allow_agent`, `sshproxy_look_for_keys`,
    /// `sshproxy_force_password_auth`, `sshproxy_reuse_authinfo`, `sshproxy_tunnel`;
    /// reliability: `keepalive_interval`, `keepalive_count`, `auto_reconnect`, `auto_resume`,
    /// `autoconnect`, `poll_interval`; session defaults for `Start`: `cmd`, `session_type`,
    /// `geometry`, `link`, `pack`, `dpi`, `setdpi`, `depth`, `cache_type`, `xinerama`,
    /// `set_session_title`, `session_title`,
    /// `kblayout`, `kbtype`, `kbvariant`, `clipboard`, `nxproxy`; sound: `snd_system`, `snd_port`; folders, printing and the MIME box: `allow_share_local_folders`,
    /// `share_local_folders`, `restore_shared_local_folders`, `printing`, `print_action`,
    /// `pdfview_cmd`, `save_to_folder`, `printer`, `print_cmd`, `allow_mimebox`,
    /// `mimebox_extensions`, `mimebox_action`, `mimebox_save_to_folder`. Secrets are refused:
    /// `Connect` takes them, `StoreSecret` keeps them.
    async fn create_profile(
        &self,
        name: String,
        settings: Dict,
        #[zbus(signal_emitter)] em: SignalEmitter<'_>,
    ) -> Result<OwnedObjectPath, Error> {
        let mut s = ProfileSettings::new(String::new());
        options::apply_settings(&mut s, &settings)?;
        let ctl = self.registry.create(&name, s).await?;
        let path = profile_path(&ctl.name());
        Self::profile_added(&em, &path.as_ref(), &name).await?;
        Ok(path)
    }

    /// Disconnects and removes the profile `name`.
    async fn remove_profile(
        &self,
        name: String,
        #[zbus(signal_emitter)] em: SignalEmitter<'_>,
    ) -> Result<(), Error> {
        let path = profile_path(&self.registry.get(&name).await?.name());
        self.registry.remove(&name).await?;
        Self::profile_removed(&em, &path.as_ref(), &name).await?;
        Ok(())
    }

    /// Object paths of all profiles.
    async fn list_profiles(&self) -> Vec<OwnedObjectPath> {
        self.registry
            .names()
            .await
            .iter()
            .map(|n| profile_path(n))
            .collect()
    }

    /// Object path of the profile `name`.
    async fn get_profile(&self, name: String) -> Result<OwnedObjectPath, Error> {
        Ok(profile_path(&self.registry.get(&name).await?.name()))
    }

    /// Registers the caller's object at `agent` (serving `org.x2go.Control1.Agent`) to answer
    /// password, passphrase, one-time-code and host-key questions of every profile. One
    /// registration per bus connection (a new one replaces it); it ends with
    /// `UnregisterAgent` or when the caller leaves the bus. The newest agent is asked first.
    async fn register_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
    ) -> Result<(), Error> {
        self.agents.register(sender(&hdr)?, agent).await
    }

    /// Ends the caller's agent registration at `agent`.
    async fn unregister_agent(
        &self,
        agent: OwnedObjectPath,
        #[zbus(header)] hdr: zbus::message::Header<'_>,
    ) -> Result<(), Error> {
        self.agents.unregister(sender(&hdr)?, &agent)
    }

    /// A profile was added.
    #[zbus(signal)]
    async fn profile_added(
        em: &SignalEmitter<'_>,
        profile: &ObjectPath<'_>,
        name: &str,
    ) -> zbus::Result<()>;

    /// A profile was removed.
    #[zbus(signal)]
    async fn profile_removed(
        em: &SignalEmitter<'_>,
        profile: &ObjectPath<'_>,
        name: &str,
    ) -> zbus::Result<()>;

    /// The daemon's version.
    #[zbus(property(emits_changed_signal = "const"))]
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }
}
