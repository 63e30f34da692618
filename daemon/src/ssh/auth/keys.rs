//! Loading private key files, decrypting them with the configured passphrase or password,
//! or with a passphrase asked of a person.

use std::path::Path;

use russh::keys::PrivateKey;

use crate::ssh::error::Error;
use crate::ssh::prompt::{self, Asker, SecretKind};
use crate::ssh::secret::Secret;

/// Where passphrases of encrypted key files come from during one attempt.
#[derive(Clone)]
pub(super) struct Passphrases<'a> {
    /// The passphrase, or the password standing in for it.
    pub(super) configured: Option<&'a Secret>,
    /// Who to ask when `configured` is `None`.
    pub(super) asker: Option<&'a Asker>,
    /// The last answer, tried first on the next encrypted file.
    pub(super) asked: Option<Secret>,
    /// Why nobody could be asked, once that is known: not asked again.
    pub(super) unavailable: Option<String>,
}

impl Passphrases<'_> {
    /// Loads `path`, asking for its passphrase when it is encrypted and none is configured.
    /// The outer error ends the attempt (the question was declined or timed out).
    pub(super) async fn load(
        &mut self,
        path: &Path,
    ) -> Result<Result<PrivateKey, LoadError>, Error> {
        let first = load_key(path, self.configured);
        if !matches!(first, Err(LoadError::NeedsPassphrase)) {
            return Ok(first);
        }
        if let Some(previous) = &self.asked {
            match load_key(path, Some(previous)) {
                Err(LoadError::WrongPassphrase) => {}
                other => return Ok(other),
            }
        }
        let Some(asker) = self.asker else {
            return Ok(first);
        };
        if let Some(reason) = &self.unavailable {
            return Ok(Err(LoadError::Unanswered(reason.clone())));
        }
        let prompt = format!("Enter passphrase for key '{}': ", path.display());
        match asker.secret(SecretKind::Passphrase, prompt, false).await {
            Ok(answer) => {
                let key = load_key(path, Some(&answer));
                self.asked = Some(answer);
                Ok(key)
            }
            Err(e) => {
                let what = format!("the passphrase of {}", path.display());
                if let Some(abort) = prompt::abort_error(&e, &what) {
                    return Err(abort);
                }
                self.unavailable = Some(e.to_string());
                Ok(Err(LoadError::Unanswered(e.to_string())))
            }
        }
    }
}

/// Why a key could not be loaded, phrased for the user, never containing the secret.
pub(super) enum LoadError {
    /// Encrypted and no passphrase or password was given.
    NeedsPassphrase,
    /// Encrypted, and nobody could be asked for the passphrase (the reason).
    Unanswered(String),
    /// Encrypted and the secret did not decrypt it.
    WrongPassphrase,
    /// Unreadable or unsupported.
    Unusable(String),
}

fn load_key(path: &Path, secret: Option<&Secret>) -> Result<PrivateKey, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Unusable(e.to_string()))?;
    match russh::keys::decode_secret_key(&text, None) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let Some(secret) = secret else {
                return Err(LoadError::NeedsPassphrase);
            };
            russh::keys::decode_secret_key(&text, Some(secret.expose()))
                .map_err(|_| LoadError::WrongPassphrase)
        }
        // Legacy PEM keys report encryption differently; if a secret is at hand, try it.
        Err(first) => match secret {
            Some(secret) => russh::keys::decode_secret_key(&text, Some(secret.expose()))
                .map_err(|_| LoadError::Unusable(first.to_string())),
            None => Err(LoadError::Unusable(first.to_string())),
        },
    }
}
