//! Where the `forwarded-tcpip` channels of a connection go: the server opens one per
//! connection made to a port it listens on for us, and russh's callback
//! (`handshake`) hands it to the reverse forward (`ssh::remote_forward`) of that port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use russh::Channel;
use russh::client::Msg;
use tokio::sync::mpsc;

use crate::ssh::error::Error;

/// The reverse forwards of one connection: where the channels for each server port go.
#[derive(Clone, Default)]
pub(in crate::ssh) struct ForwardRoutes(
    Arc<Mutex<HashMap<u32, mpsc::UnboundedSender<Channel<Msg>>>>>,
);

impl ForwardRoutes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, mpsc::UnboundedSender<Channel<Msg>>>> {
        // The map stays consistent whatever panicked while holding it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `channel` to the forward of `port`; gives it back when there is none.
    pub(in crate::ssh) fn deliver(
        &self,
        port: u32,
        channel: Channel<Msg>,
    ) -> Result<(), Channel<Msg>> {
        match self.lock().get(&port) {
            Some(tx) => tx.send(channel).map_err(|e| e.0),
            None => Err(channel),
        }
    }

    pub(in crate::ssh) fn add(
        &self,
        port: u32,
    ) -> Result<mpsc::UnboundedReceiver<Channel<Msg>>, Error> {
        let mut routes = self.lock();
        if routes.get(&port).is_some_and(|tx| !tx.is_closed()) {
            return Err(Error::Channel(format!(
                "port {port} is forwarded from the server already"
            )));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        routes.insert(port, tx);
        Ok(rx)
    }

    pub(in crate::ssh) fn remove(&self, port: u32) {
        self.lock().remove(&port);
    }
}
