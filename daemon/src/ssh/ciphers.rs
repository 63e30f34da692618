//! The symmetric ciphers we prefer, for our connections and for the share server.
//!
//! Bulk data crosses two SSH layers when a folder is shared (the server's `sshfs` session
//! inside the forwarded channel of the control connection), and the session's picture crosses
//! the control connection: the cipher is most of the cost per byte. Where the CPU has AES
//! instructions, AES-GCM (ring's) is several times cheaper than ChaCha20-Poly1305, russh's
//! default first choice; without them ChaCha20 stays first.

use std::borrow::Cow;

use russh::cipher::{self, Name};

/// AES-GCM first: the CPU has AES instructions.
const AES_FIRST: &[Name] = &[
    cipher::AES_128_GCM,
    cipher::AES_256_GCM,
    cipher::CHACHA20_POLY1305,
    cipher::AES_256_CTR,
    cipher::AES_192_CTR,
    cipher::AES_128_CTR,
];

/// ChaCha20 first: no AES instructions.
const CHACHA_FIRST: &[Name] = &[
    cipher::CHACHA20_POLY1305,
    cipher::AES_128_GCM,
    cipher::AES_256_GCM,
    cipher::AES_256_CTR,
    cipher::AES_192_CTR,
    cipher::AES_128_CTR,
];

/// Whether this CPU has instructions for AES and for GCM's multiplication.
fn has_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The ciphers to offer, most preferred first.
pub(in crate::ssh) fn preferred() -> Cow<'static, [Name]> {
    Cow::Borrowed(if has_aes() { AES_FIRST } else { CHACHA_FIRST })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_orders_offer_the_same_ciphers() {
        let mut a = AES_FIRST.to_vec();
        let mut c = CHACHA_FIRST.to_vec();
        a.sort_by_key(|n| n.as_ref().to_owned());
        c.sort_by_key(|n| n.as_ref().to_owned());
        assert_eq!(a, c);
        assert!(preferred().contains(&cipher::AES_128_GCM));
    }
}
