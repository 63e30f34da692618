//! Loading private key files, decrypting them with the configured passphrase or password,
//! or with a passphrase asked of a person.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

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
        let text = match read_key_file(path).await {
            Ok(t) => t,
            Err(e) => return Ok(Err(e)),
        };
        let first = decode(&text, self.configured).await;
        if !matches!(first, Err(LoadError::NeedsPassphrase)) {
            return Ok(first);
        }
        if let Some(previous) = &self.asked {
            match decode(&text, Some(previous)).await {
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
                let key = decode(&text, Some(&answer)).await;
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

/// The largest key file read: OpenSSH's are a few KiB.
const MAX_KEY_FILE: u64 = 1 << 20;
/// How long reading one may take (a file on a hung network mount).
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Reads a key file off the async workers: a regular file of at most [`MAX_KEY_FILE`] bytes,
/// opened without blocking (a FIFO would wait for a writer forever), within [`READ_TIMEOUT`].
async fn read_key_file(path: &Path) -> Result<Secret, LoadError> {
    let owned = path.to_owned();
    let read = tokio::task::spawn_blocking(move || read_regular(&owned));
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(LoadError::Unusable(e.to_string())),
        Err(_) => Err(LoadError::Unusable(format!(
            "reading it took longer than {READ_TIMEOUT:?}"
        ))),
    }
}

fn read_regular(path: &Path) -> Result<Secret, LoadError> {
    use std::os::unix::fs::OpenOptionsExt;
    let unusable = |e: std::io::Error| LoadError::Unusable(e.to_string());
    let nonblock = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(path)
        .map_err(unusable)?;
    let meta = file.metadata().map_err(unusable)?;
    if !meta.is_file() {
        return Err(LoadError::Unusable("not a regular file".into()));
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(LoadError::Unusable(format!(
            "{} bytes: larger than a key file can be ({MAX_KEY_FILE})",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unusable)?;
    let text =
        String::from_utf8(bytes).map_err(|_| LoadError::Unusable("not a text key file".into()))?;
    Ok(Secret::new(text))
}

/// Decodes (and, with `secret`, decrypts: a key derivation of some 100 ms) off the async
/// workers.
async fn decode(text: &Secret, secret: Option<&Secret>) -> Result<PrivateKey, LoadError> {
    let text = Secret::new(text.expose().to_owned());
    let secret = secret.map(|s| Secret::new(s.expose().to_owned()));
    tokio::task::spawn_blocking(move || load_key(text.expose(), secret.as_ref()))
        .await
        .unwrap_or_else(|e| Err(LoadError::Unusable(e.to_string())))
}

fn load_key(text: &str, secret: Option<&Secret>) -> Result<PrivateKey, LoadError> {
    match russh::keys::decode_secret_key(text, None) {
        Ok(key) => Ok(key),
        Err(russh::keys::Error::KeyIsEncrypted) => {
            let Some(secret) = secret else {
                return Err(LoadError::NeedsPassphrase);
            };
            russh::keys::decode_secret_key(text, Some(secret.expose()))
                .map_err(|_| LoadError::WrongPassphrase)
        }
        // Legacy PEM keys report encryption differently; if a secret is at hand, try it.
        Err(first) => match secret {
            Some(secret) => russh::keys::decode_secret_key(text, Some(secret.expose()))
                .map_err(|_| LoadError::Unusable(first.to_string())),
            None => Err(LoadError::Unusable(first.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<Secret, LoadError>) -> String {
        match r {
            Err(LoadError::Unusable(why)) => why,
            Ok(_) => "read".into(),
            Err(_) => "other".into(),
        }
    }

    #[tokio::test]
    async fn only_small_regular_files_are_read_and_never_block() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; (MAX_KEY_FILE + 1) as usize]).unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, "not a key").unwrap();
        let started = std::time::Instant::now();
        for (path, want) in [
            (Path::new("/dev/zero"), "not a regular file"),
            (fifo.as_path(), "not a regular file"),
            (dir.path(), "not a regular file"),
            (big.as_path(), "larger than a key file"),
        ] {
            let why = reason(read_key_file(path).await);
            assert!(why.contains(want), "{}: {why}", path.display());
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(reason(read_key_file(&small).await), "read");
    }
}
