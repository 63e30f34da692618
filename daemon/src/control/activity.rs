//! What the profile's own operations are doing, where the session watcher must take it into
//! account: lifecycle operations in progress (the watcher holds back its listings meanwhile,
//! as each operation ends with one), and resumes waiting for the watcher to see their agent
//! listen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;

use super::sync::{CountGuard, lock};

/// Shared by the lifecycle (which reports) and the watcher (which reads and answers).
#[derive(Default)]
pub(crate) struct Activity {
    /// Lifecycle operations in progress (start, resume, suspend, terminate).
    busy: AtomicUsize,
    /// Resumes waiting for their agent to listen (see [`Activity::await_agent_listening`]).
    listening: Mutex<HashMap<String, oneshot::Sender<u16>>>,
}

impl Activity {
    /// Counts a lifecycle operation in progress for as long as the guard lives.
    pub(crate) fn busy(&self) -> CountGuard<'_> {
        CountGuard::new(&self.busy)
    }

    /// Whether a lifecycle operation is in progress.
    pub(crate) fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0
    }

    /// Waits, for a resume of session `name` in progress, for the watcher to see its agent
    /// resume (see [`Self::agent_listens`]); replaces an earlier wait for the same session.
    pub(crate) fn await_agent_listening(&self, name: &str) -> oneshot::Receiver<u16> {
        let (tx, rx) = oneshot::channel();
        lock(&self.listening).insert(name.to_owned(), tx);
        rx
    }

    /// Stops waiting as [`Self::await_agent_listening`] asked.
    pub(crate) fn forget_agent_listening(&self, name: &str) {
        lock(&self.listening).remove(name);
    }

    /// The watcher saw the agent of session `name` resume, listening on graphics port `port`:
    /// a resume of ours waiting for that can start nxproxy before `x2goresume-session` has
    /// done its bookkeeping (some 0.4 s).
    pub(crate) fn agent_listens(&self, name: &str, port: u16) {
        if let Some(tx) = lock(&self.listening).remove(name) {
            let _ = tx.send(port);
        }
    }
}
