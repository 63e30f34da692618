//! Secrets of a profile in the desktop keyring (Secret Service), through the `keyring` crate.
//!
//! One item per profile and kind: service `x2god:<kind>`, user the profile name, so the
//! item's attributes (`service`, `username`) identify both. The secret never passes through
//! our own files or logs; the profile keeps only the list of kinds stored (see
//! [`ProfileSettings::keyring`](crate::profiles::ProfileSettings::keyring)).
//!
//! The `keyring` crate's Secret Service store is blocking and runs its own executor, which
//! must not run on a tokio worker: every call goes through `spawn_blocking`, under a timeout
//! so that a keyring waiting for an unlock prompt nobody answers cannot hang a connect. A call
//! that timed out still holds its thread; the profile's next call waits for it (and times out
//! in turn) instead of starting one more, so a hung keyring costs one thread per profile, not
//! one per reconnect attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Mutex as CallLock;

use x2god_proto::names::secret_kind;

use super::error::Error;
use crate::ssh::Secret;

/// Longest wait for one keyring operation.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(10);

/// The keyring item's service attribute for `kind`.
fn service(kind: &str) -> String {
    format!("x2god:{kind}")
}

/// Checks that `kind` is one the keyring may hold.
pub fn check_kind(kind: &str) -> Result<(), Error> {
    if secret_kind::STORABLE.contains(&kind) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "secret kind must be one of {}, not {:?}",
            secret_kind::STORABLE.join(", "),
            super::error::truncate(kind, 40)
        )))
    }
}

fn keyring_error(what: &str, e: &keyring::Error) -> Error {
    // keyring's messages name the store and the failure, never the secret.
    Error::Local(format!("keyring: cannot {what}: {e}"))
}

/// The keyring call in flight per profile: held by the blocking thread for as long as it runs.
fn in_flight(profile: &str) -> Arc<CallLock<()>> {
    static CALLS: OnceLock<Mutex<HashMap<String, Arc<CallLock<()>>>>> = OnceLock::new();
    let mut calls = CALLS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    // Profiles with no call in flight (only the map holds their lock) are forgotten.
    calls.retain(|_, l| Arc::strong_count(l) > 1);
    Arc::clone(calls.entry(profile.to_owned()).or_default())
}

/// Runs `f` for `profile` on the blocking pool with the keyring timeout, after the profile's
/// previous call has finished.
async fn blocking<T: Send + 'static>(
    profile: &str,
    what: &'static str,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    blocking_within(profile, what, KEYRING_TIMEOUT, f).await
}

async fn blocking_within<T: Send + 'static>(
    profile: &str,
    what: &'static str,
    limit: Duration,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let timed_out = || {
        Error::Local(format!(
            "keyring: {what} did not finish within {} s (is the keyring locked?)",
            limit.as_secs_f64()
        ))
    };
    let deadline = tokio::time::Instant::now() + limit;
    let Ok(turn) = tokio::time::timeout_at(deadline, in_flight(profile).lock_owned()).await else {
        return Err(timed_out());
    };
    let task = tokio::task::spawn_blocking(move || {
        let _turn = turn;
        f()
    });
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(Error::Local(format!("keyring: {what} failed: {e}"))),
        Err(_) => Err(timed_out()),
    }
}

/// Stores `secret` as `kind` of `profile`, replacing what was there.
pub async fn store(profile: &str, kind: &str, secret: Secret) -> Result<(), Error> {
    check_kind(kind)?;
    let (profile, service) = (profile.to_owned(), service(kind));
    blocking(&profile.clone(), "store a secret", move || {
        let entry = keyring::Entry::new(&service, &profile)
            .map_err(|e| keyring_error("open the item", &e))?;
        entry
            .set_password(secret.expose())
            .map_err(|e| keyring_error("store the secret", &e))
    })
    .await
}

/// The secret `kind` of `profile`, if stored.
pub async fn lookup(profile: &str, kind: &str) -> Result<Option<Secret>, Error> {
    check_kind(kind)?;
    let (profile, service) = (profile.to_owned(), service(kind));
    blocking(&profile.clone(), "look up a secret", move || {
        let entry = keyring::Entry::new(&service, &profile)
            .map_err(|e| keyring_error("open the item", &e))?;
        match entry.get_password() {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error("read the secret", &e)),
        }
    })
    .await
}

/// Removes the secret `kind` of `profile`; `false` when there was none.
pub async fn forget(profile: &str, kind: &str) -> Result<bool, Error> {
    check_kind(kind)?;
    let (profile, service) = (profile.to_owned(), service(kind));
    blocking(&profile.clone(), "forget a secret", move || {
        let entry = keyring::Entry::new(&service, &profile)
            .map_err(|e| keyring_error("open the item", &e))?;
        match entry.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(keyring_error("delete the secret", &e)),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for k in secret_kind::STORABLE {
            assert!(check_kind(k).is_ok());
        }
        for k in ["", "response", "Password", "password\n"] {
            assert!(check_kind(k).is_err(), "{k:?}");
        }
    }

    #[tokio::test]
    async fn a_hung_call_holds_its_profile_and_no_new_thread_starts() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let (release, hung) = std::sync::mpsc::channel::<()>();
        let short = Duration::from_millis(200);
        let e = blocking_within("hung-profile", "hang", short, move || {
            let _ = hung.recv();
            Ok(())
        })
        .await
        .unwrap_err();
        assert!(e.to_string().contains("did not finish"), "{e}");
        // The next call for that profile waits for the hung one and never runs.
        let ran = Arc::new(AtomicBool::new(false));
        let r = Arc::clone(&ran);
        let e = blocking_within("hung-profile", "again", short, move || {
            r.store(true, Ordering::SeqCst);
            Ok(())
        })
        .await
        .unwrap_err();
        assert!(e.to_string().contains("did not finish"), "{e}");
        assert!(!ran.load(Ordering::SeqCst));
        // Another profile is not held up.
        blocking_within("other-profile", "other", short, || Ok(()))
            .await
            .unwrap();
        // Once the hung call ends, the profile's calls run again.
        release.send(()).unwrap();
        blocking_within("hung-profile", "after", Duration::from_secs(5), || Ok(()))
            .await
            .unwrap();
    }
}
