//! The caller check in front of every x2god object: a call, a property read or a property
//! write from a bus connection of another uid gets `AccessDenied` before the object sees it.
//!
//! The check wraps the zbus [`Interface`] of each object once, at registration, so no method
//! can forget it. On a per-user session bus every peer is the user; a bus reachable by others
//! (a shared or misconfigured one) must not let them start sessions, read settings or run
//! an `nxproxy` as us.

use std::collections::HashMap;
use std::fmt::Write;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tracing::warn;
use x2god_proto::Error;
use zbus::message::{Header, Message};
use zbus::names::{InterfaceName, MemberName};
use zbus::object_server::{DispatchResult, Interface, SignalEmitter};
use zbus::{BoxDBusError, Connection, ObjectServer, OwnedVariant, Variant, fdo};

/// Unique names whose verdict is remembered; a bus never reuses one, so a verdict stays true.
/// Past this many the memory starts over rather than growing with every client ever seen.
const REMEMBERED: usize = 1024;

/// Decides whether a call's sender may use the daemon: only connections of `uid` may.
pub struct Gate {
    uid: u32,
    verdicts: Mutex<HashMap<String, bool>>,
}

impl Gate {
    /// A gate that admits connections of `uid` only.
    pub fn new(uid: u32) -> Arc<Gate> {
        Arc::new(Gate {
            uid,
            verdicts: Mutex::new(HashMap::new()),
        })
    }

    /// `Ok` when the sender of `hdr` runs as our uid. No header means zbus itself asks (to
    /// announce an object's properties), which is us.
    pub async fn admit(&self, conn: &Connection, hdr: Option<&Header<'_>>) -> Result<(), Error> {
        let Some(hdr) = hdr else { return Ok(()) };
        let uid = match hdr.sender() {
            Some(sender) => {
                if let Some(&ok) = self.remembered().get(sender.as_str()) {
                    return self.verdict(ok, None, sender.as_str());
                }
                let dbus = fdo::DBusProxy::new(conn).await.map_err(deny_unchecked)?;
                let uid = dbus
                    .get_connection_unix_user(sender.clone().into())
                    .await
                    .map_err(deny_unchecked)?;
                let mut remembered = self.remembered();
                if remembered.len() >= REMEMBERED {
                    remembered.clear();
                }
                remembered.insert(sender.to_string(), uid == self.uid);
                uid
            }
            // A peer-to-peer connection: the socket's peer is the caller.
            None => conn
                .peer_creds()
                .await
                .ok()
                .and_then(|c| c.unix_user_id())
                .ok_or_else(|| deny_unchecked("the peer's uid is unknown"))?,
        };
        let sender = hdr.sender().map_or("peer", |s| s.as_str());
        self.verdict(uid == self.uid, Some(uid), sender)
    }

    fn verdict(&self, ok: bool, uid: Option<u32>, sender: &str) -> Result<(), Error> {
        if ok {
            return Ok(());
        }
        if let Some(uid) = uid {
            warn!(%sender, uid, "refused a call from another user's bus connection");
        }
        Err(Error::AccessDenied(format!(
            "only uid {} may use this daemon",
            self.uid
        )))
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        self.verdicts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A caller whose uid cannot be learned is refused: the check must not fail open.
fn deny_unchecked(e: impl std::fmt::Display) -> Error {
    Error::AccessDenied(format!("cannot check the caller's user: {e}"))
}

/// An interface served behind a [`Gate`]. It derefs to the object, so property-change helpers
/// and fields read as before; look it up as `Guarded<T>` in the object server.
pub struct Guarded<I> {
    inner: I,
    gate: Arc<Gate>,
}

impl<I> Guarded<I> {
    /// `inner` behind `gate`.
    pub fn new(inner: I, gate: Arc<Gate>) -> Guarded<I> {
        Guarded { inner, gate }
    }
}

impl<I> Deref for Guarded<I> {
    type Target = I;

    fn deref(&self) -> &I {
        &self.inner
    }
}

/// Runs `inner` (not yet polled: zbus's handlers do nothing until awaited) only once the gate
/// admits the caller. An unknown member is refused the same way first, so another user cannot
/// even probe what exists; `unknown` is the answer for one we admit.
fn gated<'call>(
    gate: Arc<Gate>,
    conn: &'call Connection,
    hdr: Option<Header<'call>>,
    inner: DispatchResult<'call>,
    unknown: fn() -> fdo::Error,
) -> DispatchResult<'call> {
    let run = match inner {
        DispatchResult::Async(run) => Some(run),
        DispatchResult::NotFound => None,
        DispatchResult::RequiresMut => return DispatchResult::RequiresMut,
    };
    DispatchResult::Async(Box::pin(async move {
        gate.admit(conn, hdr.as_ref())
            .await
            .map_err(|e| Box::new(e) as BoxDBusError)?;
        match run {
            Some(run) => run.await,
            None => Err(Box::new(unknown()) as BoxDBusError),
        }
    }))
}

fn unknown_property() -> fdo::Error {
    fdo::Error::UnknownProperty("no such writable property".into())
}

fn unknown_method() -> fdo::Error {
    fdo::Error::UnknownMethod("no such method".into())
}

#[async_trait]
impl<I: Interface> Interface for Guarded<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.inner.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<Result<OwnedVariant, BoxDBusError>> {
        if let Err(e) = self.gate.admit(connection, header).await {
            return Some(Err(Box::new(e)));
        }
        self.inner
            .get(property_name, server, connection, header, emitter)
            .await
    }

    async fn get_all(
        &self,
        object_server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<HashMap<String, OwnedVariant>> {
        if let Err(e) = self.gate.admit(connection, header).await {
            return Err(fdo::Error::AccessDenied(e.to_string()));
        }
        self.inner
            .get_all(object_server, connection, header, emitter)
            .await
    }

    fn set<'call>(
        &'call self,
        property_name: &'call str,
        value: &'call Variant<'_>,
        object_server: &'call ObjectServer,
        connection: &'call Connection,
        header: Option<&'call Header<'_>>,
        emitter: &'call SignalEmitter<'_>,
    ) -> DispatchResult<'call> {
        let inner = self.inner.set(
            property_name,
            value,
            object_server,
            connection,
            header,
            emitter,
        );
        gated(
            self.gate.clone(),
            connection,
            header.cloned(),
            inner,
            unknown_property,
        )
    }

    async fn set_mut(
        &mut self,
        property_name: &str,
        value: &Variant<'_>,
        object_server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<Result<(), BoxDBusError>> {
        if let Err(e) = self.gate.admit(connection, header).await {
            return Some(Err(Box::new(e)));
        }
        self.inner
            .set_mut(
                property_name,
                value,
                object_server,
                connection,
                header,
                emitter,
            )
            .await
    }

    fn call<'call>(
        &'call self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult<'call> {
        let inner = self.inner.call(server, connection, msg, name);
        gated(
            self.gate.clone(),
            connection,
            Some(msg.header()),
            inner,
            unknown_method,
        )
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult<'call> {
        let gate = self.gate.clone();
        let inner = self.inner.call_mut(server, connection, msg, name);
        gated(gate, connection, Some(msg.header()), inner, unknown_method)
    }

    fn introspect_to_writer(&self, writer: &mut dyn Write, level: usize) {
        self.inner.introspect_to_writer(writer, level);
    }
}
