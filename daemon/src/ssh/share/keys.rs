//! The throw-away keys of one session's shares: the client key the server's `sshfs` logs in
//! with, and the host key our embedded server proves itself with. Both are Ed25519, made from
//! fresh random seeds, live only in memory, and go with the session (a resume makes new ones).

use std::path::PathBuf;

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};

use crate::ssh::error::Error;
use crate::ssh::secret::Secret;

/// The key pair of a session's shares.
pub struct ShareKeys {
    client: PublicKey,
    /// The client's private key in OpenSSH's format, which the server-side `sshfs` reads.
    client_openssh: Secret,
    host: PrivateKey,
    /// `<type> <base64>`: the line `x2gomountdirs` pins in its known-hosts file.
    host_line: String,
}

impl std::fmt::Debug for ShareKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareKeys")
            .field("client", &self.client.fingerprint(Default::default()))
            .field("host", &self.host_line)
            .finish_non_exhaustive()
    }
}

/// An Ed25519 key from a fresh random seed (the OS's generator behind `rand`'s thread RNG).
fn fresh_key() -> PrivateKey {
    let seed: [u8; 32] = rand::random();
    PrivateKey::from(Ed25519Keypair::from_seed(&seed))
}

fn key_error(reason: impl std::fmt::Display) -> Error {
    Error::KeyFile {
        path: PathBuf::from("<share key>"),
        reason: reason.to_string(),
    }
}

impl ShareKeys {
    /// Makes a new pair of keys.
    pub fn generate() -> Result<ShareKeys, Error> {
        let client = fresh_key();
        let host = fresh_key();
        let client_openssh = client.to_openssh(LineEnding::LF).map_err(key_error)?;
        let host_line = host.public_key().to_openssh().map_err(key_error)?;
        Ok(ShareKeys {
            client: client.public_key().clone(),
            client_openssh: Secret::new(client_openssh.as_str().to_owned()),
            host,
            host_line,
        })
    }

    /// The client's private key, in OpenSSH's format, for the server-side `sshfs`.
    pub fn client_private_openssh(&self) -> &Secret {
        &self.client_openssh
    }

    /// The embedded server's public host key as `<type> <base64>`, no comment.
    pub fn host_public_line(&self) -> &str {
        &self.host_line
    }

    /// Whether `key` is the client key of these shares: the one key the server accepts.
    pub(super) fn is_client(&self, key: &PublicKey) -> bool {
        key.key_data() == self.client.key_data()
    }

    /// The embedded server's host key.
    pub(super) fn host(&self) -> &PrivateKey {
        &self.host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fresh_each_time_and_in_openssh_format() {
        let a = ShareKeys::generate().unwrap();
        let b = ShareKeys::generate().unwrap();
        assert_ne!(a.host_public_line(), b.host_public_line());
        assert_ne!(
            a.client_private_openssh().expose(),
            b.client_private_openssh().expose()
        );
        let text = a.client_private_openssh().expose();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
        let parsed = russh::keys::decode_secret_key(text, None).unwrap();
        assert!(a.is_client(parsed.public_key()));
        assert!(!b.is_client(parsed.public_key()));
        let line = a.host_public_line();
        assert!(line.starts_with("ssh-ed25519 ") && !line.contains('\n'));
        assert_eq!(line.split(' ').count(), 2, "no comment: {line}");
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }
}
