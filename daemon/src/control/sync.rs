//! Small synchronisation helpers shared by the controller's parts.

use std::collections::HashMap;
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

/// One async lock per key (a session name): operations on one key never overlap, operations on
/// different keys run side by side.
#[derive(Default)]
pub(crate) struct KeyedLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl KeyedLocks {
    /// The lock of `key`; hold its guard for the operation.
    pub(crate) fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = lock(&self.0);
        // A lock only the map holds guards nothing (every holder and waiter keeps a clone):
        // dropping it keeps the map as small as the operations under way, not every session
        // name ever seen.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// How many keys have a lock now.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.0).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keyed_locks_serialise_one_key_and_forget_idle_ones() {
        let locks = KeyedLocks::default();
        let a = locks.get("a");
        let held = a.lock().await;
        // Another caller of the same key gets the same lock, which is taken.
        assert!(locks.get("a").try_lock().is_err());
        assert!(locks.get("b").try_lock().is_ok());
        for n in 0..1000 {
            let _ = locks.get(&format!("s{n}"));
        }
        // Only the held key is left (plus the one just asked for).
        assert!(locks.len() <= 2, "{}", locks.len());
        drop(held);
        drop(a);
        assert!(locks.get("a").try_lock().is_ok());
        assert_eq!(locks.len(), 1);
    }
}
