//! Profiles and their sessions as objects on the bus: the profile set's [`Publisher`]. It puts
//! a profile object (and one object per known session) at the paths of the profile's current
//! name, moves them on a rename, takes them off when the profile goes, and publishes each
//! controller event as the signals and `PropertiesChanged` it stands for.

use std::sync::{Arc, Weak};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tracing::warn;
use x2god_proto::path::{profile_path, session_path};

use super::agents::Agents;
use super::guard::{Gate, Guarded};
use super::profile::ProfileObject;
use super::session::SessionObject;
use crate::control::{Change, EventMessage, ProfileController, ProfileEvent, status_str};
use crate::registry::{EventReceiver, Publisher, Registry};

/// Publishes the registry's profiles on one bus connection.
pub struct BusPublisher {
    conn: zbus::Connection,
    registry: Weak<Registry>,
    agents: Arc<Agents>,
    gate: Arc<Gate>,
}

impl BusPublisher {
    /// Objects on `conn` behind `gate`; their methods act on `registry` and ask `agents` for
    /// secrets.
    pub fn new(
        conn: zbus::Connection,
        registry: &Arc<Registry>,
        agents: Arc<Agents>,
        gate: Arc<Gate>,
    ) -> Self {
        BusPublisher {
            conn,
            registry: Arc::downgrade(registry),
            agents,
            gate,
        }
    }

    /// Puts the profile and its known sessions on the bus under the profile's current name.
    async fn export(&self, ctl: &Arc<ProfileController>) -> Result<(), String> {
        let registry = self
            .registry
            .upgrade()
            .ok_or_else(|| "the daemon is shutting down".to_owned())?;
        let name = ctl.name();
        let obj = ProfileObject::new(ctl.clone(), registry, self.agents.clone());
        let server = self.conn.object_server();
        server
            .at(&profile_path(&name), Guarded::new(obj, self.gate.clone()))
            .await
            .map_err(|e| e.to_string())?;
        for s in ctl.known_sessions() {
            let session = s.name.as_str().to_owned();
            let obj = SessionObject::new(ctl.clone(), session.clone());
            server
                .at(
                    &session_path(&name, &session),
                    Guarded::new(obj, self.gate.clone()),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Takes the profile `name` and its session objects off the bus.
    async fn unexport(&self, name: &str, ctl: &ProfileController) -> Result<(), String> {
        let server = self.conn.object_server();
        for s in ctl.known_sessions() {
            let path = session_path(name, s.name.as_str());
            // Already gone is fine: the session may have ended meanwhile.
            let _ = server.remove::<Guarded<SessionObject>, _>(&path).await;
        }
        server
            .remove::<Guarded<ProfileObject>, _>(&profile_path(name))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl Publisher for BusPublisher {
    fn added(
        &self,
        ctl: Arc<ProfileController>,
        events: EventReceiver,
    ) -> BoxFuture<'_, Result<(), String>> {
        async move {
            tokio::spawn(forward_events(
                self.conn.clone(),
                self.gate.clone(),
                Arc::downgrade(&ctl),
                events,
            ));
            self.export(&ctl).await
        }
        .boxed()
    }

    fn removed(
        &self,
        name: String,
        ctl: Arc<ProfileController>,
    ) -> BoxFuture<'_, Result<(), String>> {
        async move { self.unexport(&name, &ctl).await }.boxed()
    }

    fn renamed(
        &self,
        old: String,
        ctl: Arc<ProfileController>,
    ) -> BoxFuture<'_, Result<(), String>> {
        async move {
            self.unexport(&old, &ctl).await?;
            self.export(&ctl).await
        }
        .boxed()
    }
}

/// Publishes a controller's events on its current object path until the controller goes away.
async fn forward_events(
    conn: zbus::Connection,
    gate: Arc<Gate>,
    ctl: Weak<ProfileController>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<EventMessage>,
) {
    while let Some((event, ack)) = rx.recv().await {
        let Some(ctl) = ctl.upgrade() else { return };
        if let Err(e) = publish(&conn, &gate, &ctl, &event).await {
            warn!(profile = %ctl.name(), error = %e, "cannot publish a profile event");
        }
        let _ = ack.send(());
    }
}

/// Emits what `event` changed on the profile's object.
async fn publish(
    conn: &zbus::Connection,
    gate: &Arc<Gate>,
    ctl: &Arc<ProfileController>,
    event: &ProfileEvent,
) -> zbus::Result<()> {
    let path = profile_path(&ctl.name());
    let iface = conn
        .object_server()
        .interface::<_, Guarded<ProfileObject>>(&path)
        .await?;
    let em = iface.signal_emitter();
    match event {
        ProfileEvent::StateChanged { state, reason } => {
            let obj = iface.get().await;
            obj.state_changed(em).await?;
            obj.remote_username_changed(em).await?;
            obj.remote_peername_changed(em).await?;
            obj.last_error_changed(em).await?;
            drop(obj);
            ProfileObject::state_changed_event(em, state.as_str(), reason).await?;
        }
        ProfileEvent::Session { change, cause } => {
            let cause = cause.as_str();
            match change.as_ref() {
                Change::Added(info) => {
                    let name = info.name.as_str();
                    let spath = session_path(&ctl.name(), name);
                    let obj = SessionObject::new(ctl.clone(), name.to_owned());
                    conn.object_server()
                        .at(&spath, Guarded::new(obj, gate.clone()))
                        .await?;
                    ProfileObject::session_added(
                        em,
                        name,
                        &spath.as_ref(),
                        status_str(info.status),
                        cause,
                    )
                    .await?;
                }
                Change::StateChanged { info, old } => {
                    let name = info.name.as_str();
                    session_properties_changed(conn, &ctl.name(), name).await?;
                    ProfileObject::session_state_changed(
                        em,
                        name,
                        status_str(*old),
                        status_str(info.status),
                        cause,
                    )
                    .await?;
                }
                Change::Updated(info) => {
                    session_properties_changed(conn, &ctl.name(), info.name.as_str()).await?;
                }
                Change::Removed(info) => {
                    let name = info.name.as_str();
                    let spath = session_path(&ctl.name(), name);
                    ProfileObject::session_removed(em, name, &spath.as_ref(), cause).await?;
                    conn.object_server()
                        .remove::<Guarded<SessionObject>, _>(&spath)
                        .await?;
                }
            }
        }
        ProfileEvent::ConnectionLost { reason } => {
            ProfileObject::connection_lost(em, reason).await?;
        }
        ProfileEvent::Local { name, .. } => {
            session_properties_changed(conn, &ctl.name(), name).await?;
        }
        ProfileEvent::SharedFolders { name } => {
            if let Some(iface) = session_object(conn, &ctl.name(), name).await {
                let em = iface.signal_emitter();
                iface.get().await.shared_folders_changed(em).await?;
            }
        }
        ProfileEvent::Sound { name } => {
            if let Some(iface) = session_object(conn, &ctl.name(), name).await {
                let em = iface.signal_emitter();
                iface.get().await.sound_changed(em).await?;
            }
        }
        ProfileEvent::PrintJob {
            session,
            file,
            title,
        } => {
            let spath = session_path(&ctl.name(), session);
            ProfileObject::print_job(em, session, &spath.as_ref(), &file.to_string_lossy(), title)
                .await?;
        }
    }
    Ok(())
}

/// The session object of `name` in `profile`, if it is served.
async fn session_object(
    conn: &zbus::Connection,
    profile: &str,
    name: &str,
) -> Option<zbus::object_server::InterfaceRef<Guarded<SessionObject>>> {
    let path = session_path(profile, name);
    conn.object_server()
        .interface::<_, Guarded<SessionObject>>(&path)
        .await
        .ok()
}

/// Emits `PropertiesChanged` for the changing properties of a session object, if it exists.
async fn session_properties_changed(
    conn: &zbus::Connection,
    profile: &str,
    name: &str,
) -> zbus::Result<()> {
    let Some(iface) = session_object(conn, profile, name).await else {
        return Ok(());
    };
    let em = iface.signal_emitter();
    let obj = iface.get().await;
    obj.state_changed(em).await?;
    obj.local_changed(em).await?;
    obj.agent_pid_changed(em).await?;
    obj.graphics_port_changed(em).await?;
    obj.date_suspended_changed(em).await?;
    obj.client_ip_changed(em).await?;
    Ok(())
}
