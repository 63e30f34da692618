//! The D-Bus objects of x2god. Only this module knows zbus; errors of the layers below are
//! mapped to `org.x2go.Control1.Error.*` here.

pub(crate) mod agents;
mod apps;
mod errors;
pub(crate) mod guard;
pub(crate) mod manager;
mod objects;
pub mod options;
pub(crate) mod profile;
pub(crate) mod session;
mod sessions;
mod settings_dict;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures_util::StreamExt;
use tracing::{info, warn};
use x2god_proto::names::{BUS_NAME, ROOT_PATH};
use zbus::fdo::{self, RequestNameFlags, RequestNameReply};

use crate::config::Paths;
use crate::registry::Registry;
use agents::Agents;
use guard::{Gate, Guarded};

/// Errors starting the service.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The profile file could not be read.
    #[error("cannot load profiles: {0}")]
    Profiles(#[from] crate::profiles::StoreError),
    /// D-Bus failed.
    #[error("D-Bus: {0}")]
    Bus(#[from] zbus::Error),
    /// A profile could not be put on the bus.
    #[error("cannot publish the profiles: {0}")]
    Publish(#[from] crate::registry::Error),
    /// Another x2god owns the name.
    #[error("{BUS_NAME} is already owned by another process; use --replace to take it over")]
    NameTaken,
}

/// Serves the API on the session bus until SIGTERM/SIGINT or until the name is taken over.
pub async fn run(paths: Paths, replace: bool) -> Result<(), ServeError> {
    if let Some(home) = paths.user_ssh_dir.parent() {
        crate::control::reap_orphans(&home.join(".x2go"));
    }
    let registry = Registry::load(Arc::new(paths))?;
    // Objects first, name last: an activated client's first call must find the handlers.
    let conn = zbus::connection::Builder::session().build().await?;
    let agents = Arc::new(Agents::default());
    agents.attach(&conn).await?;
    serve(&conn, &registry, agents).await?;

    let dbus = fdo::DBusProxy::new(&conn).await?;
    let mut lost = dbus.receive_name_lost().await?;
    let mut flags = RequestNameFlags::ALLOW_REPLACEMENT | RequestNameFlags::DO_NOT_QUEUE;
    if replace {
        flags |= RequestNameFlags::REPLACE_EXISTING;
    }
    match conn.request_name_with_flags(BUS_NAME, flags).await {
        Ok(RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner) => {}
        Ok(_) | Err(zbus::Error::NameTaken) => return Err(ServeError::NameTaken),
        Err(e) => return Err(e.into()),
    }
    info!(name = BUS_NAME, "serving on the session bus");
    // Replaces the error a failed start may have left as the unit's status.
    crate::service::status("serving on the session bus");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| zbus::Error::InputOutput(Arc::new(e)))?;
    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = tokio::signal::ctrl_c() => { info!("SIGINT: shutting down"); break; }
            Some(sig) = lost.next() => {
                if sig.args().is_ok_and(|a| a.name() == BUS_NAME) {
                    warn!("another x2god took over the bus name; exiting");
                    break;
                }
            }
        }
    }
    registry.disconnect_all().await;
    Ok(())
}

/// Puts the manager, the object manager and every profile of `registry` (with its sessions)
/// on `conn`; `agents` answer their prompts. Nothing is asked of a bus daemon, so this serves
/// a peer-to-peer connection too.
pub async fn serve(
    conn: &zbus::Connection,
    registry: &Arc<Registry>,
    agents: Arc<Agents>,
) -> Result<(), ServeError> {
    // Every object is served behind one gate: only our own uid may call or read it.
    let gate = Gate::new(crate::config::current_uid());
    let server = conn.object_server();
    let manager = manager::Manager::new(registry.clone(), agents.clone());
    server
        .at(ROOT_PATH, Guarded::new(manager, gate.clone()))
        .await?;
    server
        .at(ROOT_PATH, Guarded::new(fdo::ObjectManager, gate.clone()))
        .await?;
    let publisher = objects::BusPublisher::new(conn.clone(), registry, agents, gate);
    registry.attach(Arc::new(publisher)).await?;
    Ok(())
}
