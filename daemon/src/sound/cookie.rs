//! A PulseAudio cookie: 256 bytes that authorise a client.

use std::fmt;

use super::native::{COOKIE_LEN, wipe};

/// A cookie, wiped when dropped and never printed.
pub struct Cookie(Box<[u8; COOKIE_LEN]>);

impl Cookie {
    /// A fresh random cookie (one per session view: the server gets this, never the local
    /// sound server's own).
    pub fn random() -> Cookie {
        let mut bytes = Box::new([0u8; COOKIE_LEN]);
        rand::fill(&mut bytes[..]);
        Cookie(bytes)
    }

    /// A cookie read from a file's contents: PulseAudio's are exactly 256 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Cookie> {
        let array: [u8; COOKIE_LEN] = bytes.try_into().ok()?;
        Some(Cookie(Box::new(array)))
    }

    /// The bytes, for the one place that sends or compares them.
    pub fn expose(&self) -> &[u8; COOKIE_LEN] {
        &self.0
    }
}

impl Drop for Cookie {
    fn drop(&mut self) {
        wipe(&mut self.0[..]);
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_random_sized_and_never_printed() {
        let (a, b) = (Cookie::random(), Cookie::random());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "Cookie(<redacted>)");
        assert!(Cookie::from_bytes(&[1; 255]).is_none());
        assert!(Cookie::from_bytes(&[1; 257]).is_none());
        assert_eq!(Cookie::from_bytes(&[1; 256]).unwrap().expose(), &[1; 256]);
    }
}
