//! `a{sv}` option and settings dictionaries.

use std::collections::HashMap;

use zbus::{OwnedVariant, Variant};

/// An `a{sv}` options dictionary under construction: settings for
/// [`Client::create_profile`](crate::Client::create_profile), connect options for
/// [`Profile::connect`](crate::Profile::connect), start options for
/// [`Profile::start`](crate::Profile::start) and so on. Every key, its type and the calls that
/// take it are in [`keys`](crate::keys) (constants such as [`keys::CMD`](crate::keys::CMD)) and
/// in the README's section "Keys"; the daemon refuses a key the call does not take, or a value
/// of another type, with `InvalidArgument`.
///
/// ```
/// use x2god_client::{Options, keys};
/// let o = Options::new().set(keys::CMD, "xterm").set(keys::SESSION_TYPE, "application");
/// assert!(o.contains("cmd"));
/// assert_eq!(o.len(), 2);
/// ```
#[derive(Debug, Default, Clone)]
pub struct Options(HashMap<String, OwnedVariant>);

impl Options {
    /// An empty dictionary.
    pub fn new() -> Options {
        Options::default()
    }

    /// Sets `key` to `value` (`&str`, `String`, `bool`, integers, `f64`, `Vec<&str>` …).
    ///
    /// Numbers may have any integer type: the daemon converts them.
    pub fn set<'a>(mut self, key: &str, value: impl Into<Variant<'a>>) -> Options {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value` in place (for building a dictionary in a loop).
    pub fn insert<'a>(&mut self, key: &str, value: impl Into<Variant<'a>>) {
        // Only a file descriptor cannot become an owned value, and none is ever an option.
        if let Ok(v) = OwnedVariant::try_from(value.into()) {
            self.0.insert(key.to_owned(), v);
        }
    }

    /// Removes `key`; returns whether it was set.
    pub fn remove(&mut self, key: &str) -> bool {
        self.0.remove(key).is_some()
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every entry of `other`, replacing keys set in both.
    pub fn merge(mut self, other: Options) -> Options {
        self.0.extend(other.0);
        self
    }

    /// The entries, for merging dictionaries.
    pub fn entries(self) -> Vec<(String, Variant<'static>)> {
        self.0
            .into_iter()
            .map(|(k, v)| (k, Variant::from(v)))
            .collect()
    }

    /// The dictionary as a method argument of the generated proxies.
    pub fn as_call_arg(&self) -> HashMap<&str, Variant<'_>> {
        self.0
            .iter()
            .map(|(k, v)| (k.as_str(), Variant::from(v.clone())))
            .collect()
    }
}

impl<'a, K: AsRef<str>, V: Into<Variant<'a>>> FromIterator<(K, V)> for Options {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Options {
        let mut o = Options::new();
        for (k, v) in iter {
            o.insert(k.as_ref(), v);
        }
        o
    }
}
