//! How a host key is shown to a person: its type and fingerprint. Shared by the errors, the
//! prompts and the host key checks, and depending on none of them.

use std::fmt;

use russh::keys::{HashAlg, PublicKey};

/// What a person needs to recognise a host key: its type and its fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostKeyInfo {
    /// The SSH key type, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`.
    pub key_type: String,
    /// The SHA-256 fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64.
    pub fingerprint: String,
}

impl HostKeyInfo {
    /// Describes `key`.
    pub fn from_key(key: &PublicKey) -> Self {
        Self {
            key_type: key.algorithm().as_str().to_owned(),
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        }
    }
}

impl fmt::Display for HostKeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} key {}", self.key_type, self.fingerprint)
    }
}
