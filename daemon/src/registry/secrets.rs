//! Keyring items follow their profile: moved on a rename, deleted with the profile.

use tracing::warn;

use crate::control::keyring;

/// Moves (`to` = Some) or deletes the keyring items of a profile. Best effort: a keyring that
/// cannot be reached must not block renaming or removing the profile.
pub(crate) async fn move_secrets(from: &str, to: Option<&str>, kinds: &[String]) {
    for kind in kinds {
        if let Some(to) = to {
            match keyring::lookup(from, kind).await {
                Ok(Some(secret)) => {
                    if let Err(e) = keyring::store(to, kind, secret).await {
                        warn!(profile = %to, %kind, error = %e, "cannot move a keyring item");
                        continue;
                    }
                }
                Ok(None) => continue,
                Err(e) => {
                    warn!(profile = %from, %kind, error = %e, "cannot move a keyring item");
                    continue;
                }
            }
        }
        if let Err(e) = keyring::forget(from, kind).await {
            warn!(profile = %from, %kind, error = %e, "cannot delete a keyring item");
        }
    }
}
