//! What a profile tells the layer above (the bus), and the acknowledgement that keeps method
//! replies behind the signals of the changes they caused.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use x2god_proto::types::ConnectionState;

use super::table::{Cause, Change};

/// How long a state change waits for the bus layer to publish it before going on anyway.
const PUBLISH_WAIT: Duration = Duration::from_secs(2);

/// An event and the acknowledgement its publisher sends once the event is on the bus, so a
/// method reply never overtakes the signals of the change it caused.
pub type EventMessage = (ProfileEvent, oneshot::Sender<()>);

/// Something a watcher of the profile (the bus layer) should publish.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileEvent {
    /// The connection state changed; `reason` says why, for people.
    StateChanged {
        /// The new state.
        state: ConnectionState,
        /// Why, in a few words.
        reason: String,
    },
    /// A listing showed a change of a session.
    Session {
        /// What changed (boxed: a session row is large next to the other events).
        change: Box<Change>,
        /// Who caused it.
        cause: Cause,
    },
    /// The connection ended without being asked to.
    ConnectionLost {
        /// Why, for people.
        reason: String,
    },
    /// The folders shared into a session changed.
    SharedFolders {
        /// The session.
        name: String,
    },
    /// The sound of a session changed (its `Sound` property).
    Sound {
        /// The session.
        name: String,
    },
    /// A print job arrived for a session whose print action is `DIALOG`: an applet may offer
    /// to open, save or print it.
    PrintJob {
        /// The session.
        session: String,
        /// The PDF, where the daemon keeps it.
        file: std::path::PathBuf,
        /// The job's title.
        title: String,
    },
    /// x2god started or stopped displaying a session locally.
    Local {
        /// The session.
        name: String,
        /// Whether its nxproxy runs now.
        attached: bool,
    },
}

/// Where a profile's parts send their events.
#[derive(Debug, Clone)]
pub(crate) struct Events(mpsc::UnboundedSender<EventMessage>);

impl Events {
    /// Events go to `tx`.
    pub(crate) fn new(tx: mpsc::UnboundedSender<EventMessage>) -> Events {
        Events(tx)
    }

    /// Hands `event` to the bus layer and waits until it is published, so that a method reply
    /// never overtakes the signals of the change it caused.
    pub(crate) async fn emit(&self, event: ProfileEvent) {
        let (ack, published) = oneshot::channel();
        // The receiver lives as long as the bus object; a closed channel only means shutdown.
        if self.0.send((event, ack)).is_ok() {
            let _ = tokio::time::timeout(PUBLISH_WAIT, published).await;
        }
    }

    /// Hands `event` to the bus layer without waiting for it, from code that cannot wait (a
    /// connection hook); events keep their order either way.
    pub(crate) fn post(&self, event: ProfileEvent) {
        let (ack, _) = oneshot::channel();
        let _ = self.0.send((event, ack));
    }

    /// Publishes a session change.
    pub(crate) async fn session(&self, change: Change, cause: Cause) {
        self.emit(ProfileEvent::Session {
            change: Box::new(change),
            cause,
        })
        .await;
    }
}
