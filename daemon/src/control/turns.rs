//! Turns per server account for the steps the server cannot run twice at once.
//!
//! x2gostartagent picks a free display and then records it, in two steps that another start
//! of the same user can slip between (`UNIQUE constraint failed: sessions.display`, or an agent
//! that finds its display taken). Profiles that log in to the same account (see
//! `connection::account_of`) therefore take turns for that step; everything else they do
//! stays concurrent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

use super::sync::lock;

/// One lock per account, dropped once nobody holds or waits for it.
#[derive(Default)]
pub(crate) struct AccountTurns {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl AccountTurns {
    /// Waits until no other holder of `account`'s turn remains; the turn lasts as long as the
    /// guard.
    pub(crate) async fn take(&self, account: &str) -> OwnedMutexGuard<()> {
        let turn = {
            let mut locks = lock(&self.locks);
            // Forget accounts nobody waits for, so the map does not grow with every account.
            locks.retain(|_, l| l.strong_count() > 0);
            match locks.get(account).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(account.to_owned(), Arc::downgrade(&l));
                    l
                }
            }
        };
        turn.lock_owned().await
    }

    /// How many accounts have a turn taken or awaited.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.locks)
            .values()
            .filter(|l| l.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_account_takes_turns_and_others_do_not_wait() {
        let turns = Arc::new(AccountTurns::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let (turns, inside, most) = (turns.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _turn = turns.take("u@[h]:22").await;
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        // Another account is not held up by the five.
        tokio::time::sleep(Duration::from_millis(5)).await;
        tokio::time::timeout(Duration::from_millis(10), turns.take("v@[h]:22"))
            .await
            .unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(turns.len(), 0, "idle accounts are forgotten");
    }
}
