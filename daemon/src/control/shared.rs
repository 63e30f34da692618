//! Listings shared between profiles that log in to the same account.
//!
//! `x2golistsessions` costs the server about 0.1 s of CPU; profiles that reach the same
//! account (same user, host, port and jump host) get the same answer, so when several need a
//! listing at once — a hundred profiles connecting together, each watcher reacting to the
//! same change — one run can serve them all. A caller may only take the output of a run that
//! *started after it asked*: an older run may predate the change it wants to see. So runs of
//! one account go one at a time, and everybody who asked during a run shares the next one:
//! however many ask, at most two runs per account are under way or waiting.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::turns::AccountTurns;

/// Which account and which listing: callers with equal keys get the same output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListingKey {
    /// `user@host:port`, with ` via user@host:port` for a jump host.
    pub account: String,
    /// Whether the listing includes shadow sessions.
    pub with_shadow: bool,
}

/// Runs started so far, and the one under way with its start.
#[derive(Default)]
struct Started {
    count: u64,
    running: Option<(u64, Instant)>,
}

/// One account's runs: the lock makes them one at a time; `done` carries the number and
/// output of the newest finished run (`None` when it failed).
struct Slot {
    run_lock: tokio::sync::Mutex<()>,
    started: Mutex<Started>,
    done: watch::Sender<(u64, Option<Arc<str>>)>,
}

/// The listings of all accounts (one per daemon, shared by its profiles).
#[derive(Default)]
pub struct SharedListings {
    slots: Mutex<HashMap<ListingKey, Arc<Slot>>>,
    /// What else the daemon's profiles of one account coordinate: starting sessions.
    starts: AccountTurns,
}

impl SharedListings {
    /// The turns of each account for starting a session (see [`AccountTurns`]).
    pub(crate) fn starts(&self) -> &AccountTurns {
        &self.starts
    }

    /// The output of a listing that started after this call — or at most `max_age` before
    /// it, for a caller that accepts that much — run by `run` unless another caller's run
    /// serves. `None` when the run that would have served failed (its own connection may be
    /// at fault): the caller then lists by itself.
    pub async fn get<F, Fut>(&self, key: ListingKey, max_age: Duration, run: F) -> Option<Arc<str>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Option<String>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            // Forget idle accounts so the map does not grow with every host ever listed.
            slots.retain(|_, s| Arc::strong_count(s) > 1 || s.run_lock.try_lock().is_err());
            Arc::clone(slots.entry(key).or_insert_with(|| {
                Arc::new(Slot {
                    run_lock: tokio::sync::Mutex::new(()),
                    started: Mutex::new(Started::default()),
                    done: watch::channel((0, None)).0,
                })
            }))
        };
        let need = {
            let started = slot.started.lock().unwrap_or_else(|p| p.into_inner());
            match started.running {
                Some((number, at)) if at.elapsed() <= max_age => number,
                _ => started.count + 1,
            }
        };
        let served = |slot: &Slot| {
            let done = slot.done.borrow();
            (done.0 >= need).then(|| done.1.clone())
        };
        // Queue behind the run under way (if any); whoever gets the lock first after it runs
        // the next one, the others find its output.
        let _turn = slot.run_lock.lock().await;
        if let Some(output) = served(&slot) {
            return output;
        }
        let number = {
            let mut started = slot.started.lock().unwrap_or_else(|p| p.into_inner());
            started.count += 1;
            started.running = Some((started.count, Instant::now()));
            started.count
        };
        let output: Option<Arc<str>> = run().await.map(Arc::from);
        slot.done.send_replace((number, output.clone()));
        slot.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running = None;
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn key(account: &str) -> ListingKey {
        ListingKey {
            account: account.into(),
            with_shadow: false,
        }
    }

    /// A run that counts itself, takes 50 ms and returns its number.
    async fn counted(runs: &AtomicUsize) -> Option<String> {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        Some(n.to_string())
    }

    /// A caller in a task of its own; its run starts as soon as the task runs.
    fn first_run(
        shared: &Arc<SharedListings>,
        runs: &Arc<AtomicUsize>,
    ) -> tokio::task::JoinHandle<Option<Arc<str>>> {
        let (shared, runs) = (Arc::clone(shared), Arc::clone(runs));
        tokio::spawn(async move {
            shared
                .get(key("u@h:22"), Duration::ZERO, || counted(&runs))
                .await
        })
    }

    /// The first caller's run starts before the others ask: they share the second.
    #[tokio::test]
    async fn a_hundred_callers_at_once_share_two_runs() {
        let shared = SharedListings::default();
        let runs = AtomicUsize::new(0);
        let outs = futures_util::future::join_all(
            (0..100).map(|_| shared.get(key("u@h:22"), Duration::ZERO, || counted(&runs))),
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(outs[0].as_deref(), Some("1"));
        assert!(outs[1..].iter().all(|o| o.as_deref() == Some("2")));
    }

    /// Callers arriving while a run is under way do not take its output (it may predate what
    /// they want to see); they all share the next run.
    #[tokio::test]
    async fn callers_during_a_run_share_the_next_one() {
        let shared = Arc::new(SharedListings::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let first = first_run(&shared, &runs);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let later = futures_util::future::join_all(
            (0..10).map(|_| shared.get(key("u@h:22"), Duration::ZERO, || counted(&runs))),
        )
        .await;
        assert_eq!(first.await.unwrap().as_deref(), Some("1"));
        assert!(later.iter().all(|o| o.as_deref() == Some("2")), "{later:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Once all is quiet, a new caller gets a new run.
        let again = shared
            .get(key("u@h:22"), Duration::ZERO, || counted(&runs))
            .await;
        assert_eq!(again.as_deref(), Some("3"));
    }

    /// A caller that accepts a run started shortly before it asked joins the one under way.
    #[tokio::test]
    async fn a_caller_may_accept_a_run_just_started() {
        let shared = Arc::new(SharedListings::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let first = first_run(&shared, &runs);
        tokio::time::sleep(Duration::from_millis(10)).await;
        let (recent, strict) = tokio::join!(
            shared.get(key("u@h:22"), Duration::from_secs(1), || counted(&runs)),
            shared.get(key("u@h:22"), Duration::ZERO, || counted(&runs)),
        );
        assert_eq!(first.await.unwrap().as_deref(), Some("1"));
        assert_eq!(recent.as_deref(), Some("1"));
        assert_eq!(strict.as_deref(), Some("2"));
        // Too old a run is not accepted.
        let first = first_run(&shared, &runs);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let late = shared
            .get(key("u@h:22"), Duration::from_millis(5), || counted(&runs))
            .await;
        assert_eq!(first.await.unwrap().as_deref(), Some("3"));
        assert_eq!(late.as_deref(), Some("4"));
    }

    #[tokio::test]
    async fn other_accounts_and_shadow_listings_run_apart() {
        let shared = SharedListings::default();
        let runs = AtomicUsize::new(0);
        let shadow = ListingKey {
            with_shadow: true,
            ..key("u@h:22")
        };
        let (a, b, c) = tokio::join!(
            shared.get(key("u@h:22"), Duration::ZERO, || counted(&runs)),
            shared.get(key("v@h:22"), Duration::ZERO, || counted(&runs)),
            shared.get(shadow, Duration::ZERO, || counted(&runs)),
        );
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let mut got = [a, b, c].map(|o| o.unwrap().to_string());
        got.sort();
        assert_eq!(got, ["1", "2", "3"]);
    }

    /// A failed run gives `None` to those it would have served (they list by themselves); a
    /// cancelled runner leaves the next caller to run.
    #[tokio::test]
    async fn failures_and_cancellations_hand_over() {
        let shared = SharedListings::default();
        let failed = shared
            .get(key("u@h:22"), Duration::ZERO, || async { None::<String> })
            .await;
        assert_eq!(failed, None);
        let cancelled = tokio::time::timeout(
            Duration::from_millis(10),
            shared.get(
                key("u@h:22"),
                Duration::ZERO,
                std::future::pending::<Option<String>>,
            ),
        )
        .await;
        assert!(cancelled.is_err());
        let next = shared
            .get(key("u@h:22"), Duration::ZERO, || async {
                Some("ok".to_owned())
            })
            .await;
        assert_eq!(next.as_deref(), Some("ok"));
    }
}
