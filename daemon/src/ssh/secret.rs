//! A string that must never be shown: passwords and key passphrases.

use std::fmt;

/// A password or passphrase.
///
/// `Debug` and `Display` print `<redacted>`, so a `Secret` inside any struct or error can be
/// logged without leaking it. Read the value only where it is handed to the SSH library, with
/// [`Secret::expose`]. The buffer is overwritten with zeros when the value is dropped, so that
/// it does not linger in freed heap memory (copies made by other libraries are out of reach).
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`, taking ownership so that no unprotected copy stays with the caller.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret itself. Call this only at the point where the value is used.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (python-x2go treats an empty password as none).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Safe code cannot write into a `str`, so take the bytes out and zero them there.
        // `black_box` keeps the compiler from removing the writes as dead stores before the
        // buffer is freed.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn redacted_inside_containers() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Params {
            user: String,
            password: Option<Secret>,
        }
        let p = Params {
            user: "alice".to_owned(),
            password: Some(Secret::new("hunter2".to_owned())),
        };
        let shown = format!("{p:?} {p:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
        let cloned = p.password.clone();
        assert_eq!(cloned.as_ref().map(Secret::expose), Some("hunter2"));
    }
}
