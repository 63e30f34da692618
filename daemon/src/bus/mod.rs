//! The D-Bus objects of x2god. Only this module knows zbus; errors of the layers below are
//! mapped to `org.x2go.Control1.Error.*` here.

pub mod agents;
mod apps;
mod errors;
pub mod manager;
pub mod options;
pub mod profile;
pub mod registry;
pub mod session;
mod sessions;

use std::sync::Arc;

use futures_util::StreamExt;
use tracing::{info, warn};
use x2god_proto::names::{BUS_NAME, ROOT_PATH};
use zbus::fdo::{self, RequestNameFlags, RequestNameReply};

use crate::config::Paths;
pub use registry::Registry;

/// Errors starting the service.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The profile file could not be read.
    #[error("cannot load profiles: {0}")]
    Profiles(#[from] crate::profiles::StoreError),
    /// D-Bus failed.
    #[error("D-Bus: {0}")]
    Bus(#[from] zbus::Error),
    /// Another x2god owns the name.
    #[error("{BUS_NAME} is already owned by another process; use --replace to take it over")]
    NameTaken,
}

/// Serves the API on the session bus until SIGTERM/SIGINT or until the name is taken over.
pub async fn run(paths: Paths, replace: bool) -> Result<(), ServeError> {
    if let Some(home) = paths.user_ssh_dir.parent() {
        crate::control::reap_orphans(&home.join(".x2go"));
    }
    let paths = Arc::new(paths);
    let (registry, stored) = Registry::load(paths.clone())?;
    // Objects first, name last: an activated client's first call must find the handlers.
    let conn = zbus::connection::Builder::session()
        .serve_at(ROOT_PATH, manager::Manager::new(registry.clone()))
        .serve_at(ROOT_PATH, fdo::ObjectManager)
        .build()
        .await?;
    registry.attach(&conn, stored).await?;

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
