//! Small synchronisation helpers shared by the controller's parts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Locks one of the controller's short-held locks. A panic while holding one leaves plain
/// data behind, so a poisoned lock is taken as it is and the daemon keeps serving.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts one call in progress (a `ShareDesktop`, a lifecycle operation) for as long as it
/// lives.
pub(crate) struct CountGuard<'a>(&'a AtomicUsize);

impl<'a> CountGuard<'a> {
    /// Counts one more until the guard is dropped.
    pub(crate) fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        CountGuard(count)
    }
}

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The profile's name, shared by its parts: a rename changes it for all of them at once
/// (logs, keyring items and host-key aliases follow the current name).
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedName(Arc<Mutex<String>>);

impl SharedName {
    /// A name shared from now on.
    pub(crate) fn new(name: String) -> SharedName {
        SharedName(Arc::new(Mutex::new(name)))
    }

    /// The current name.
    pub(crate) fn get(&self) -> String {
        lock(&self.0).clone()
    }

    /// Renames.
    pub(crate) fn set(&self, name: String) {
        *lock(&self.0) = name;
    }
}

impl std::fmt::Display for SharedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&lock(&self.0))
    }
}
