//! Secrets of a profile in the desktop keyring (Secret Service), through the `keyring` crate.
//!
//! One item per profile and kind: service `x2god:<kind>`, user the profile name, so the
//! item's attributes (`service`, `username`) identify both. The secret never passes through
//! our own files or logs; the profile keeps only the list of kinds stored (see
//! [`ProfileSettings::keyring`](crate::profiles::ProfileSettings::keyring)).
//!
//! The `keyring` crate's Secret Service store is blocking and runs its own executor, which
//! must not run on a tokio worker: every call goes through `spawn_blocking`, under a timeout
//! so that a keyring waiting for an unlock prompt nobody answers cannot hang a connect.

use std::time::Duration;

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

/// Runs `f` on the blocking pool with the keyring timeout.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let task = tokio::task::spawn_blocking(f);
    match tokio::time::timeout(KEYRING_TIMEOUT, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(Error::Local(format!("keyring: {what} failed: {e}"))),
        Err(_) => Err(Error::Local(format!(
            "keyring: {what} did not finish within {} s (is the keyring locked?)",
            KEYRING_TIMEOUT.as_secs()
        ))),
    }
}

/// Stores `secret` as `kind` of `profile`, replacing what was there.
pub async fn store(profile: &str, kind: &str, secret: Secret) -> Result<(), Error> {
    check_kind(kind)?;
    let (profile, service) = (profile.to_owned(), service(kind));
    blocking("store a secret", move || {
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
    blocking("look up a secret", move || {
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
    blocking("forget a secret", move || {
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
}
