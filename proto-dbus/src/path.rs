//! Reversible escaping of profile and session names into D-Bus object path elements.
//!
//! Every byte outside `[A-Za-z0-9]` becomes `_` followed by two lowercase hex digits (the rule of
//! GLib's `g_dbus_escape_object_path_bytestring` and systemd's `sd_bus_path_encode`), so two
//! different names can never share a path and the name can be recovered exactly.

use zbus::{ObjectPath, OwnedObjectPath};

use crate::names::PROFILE_PREFIX;

/// Escapes `name` into one object path element. The empty string becomes `_`.
pub fn escape(name: &str) -> String {
    if name.is_empty() {
        return "_".to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(char::from(b));
        } else {
            out.push('_');
            out.push_str(&format!("{b:02x}"));
        }
    }
    out
}

/// Reverses [`escape`]; `None` when `element` is not something [`escape`] produces.
pub fn unescape(element: &str) -> Option<String> {
    if element.is_empty() {
        return None;
    }
    if element == "_" {
        return Some(String::new());
    }
    let bytes = element.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = *bytes.get(i)?;
        if b == b'_' {
            let hex = element.get(i + 1..i + 3)?;
            // Exactly two lowercase hex digits: from_str_radix alone would also take "+1".
            if !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            {
                return None;
            }
            let v = u8::from_str_radix(hex, 16).ok()?;
            if v.is_ascii_alphanumeric() {
                return None;
            }
            out.push(v);
            i += 3;
        } else if b.is_ascii_alphanumeric() {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

fn owned(path: String) -> OwnedObjectPath {
    // The escaped element only contains [A-Za-z0-9_], so the path is always valid; fall back to
    // the prefix rather than panic if that ever stops holding.
    ObjectPath::try_from(path)
        .map(OwnedObjectPath::from)
        .unwrap_or_else(|_| {
            OwnedObjectPath::from(ObjectPath::from_static_str_unchecked(PROFILE_PREFIX))
        })
}

/// The object path of the profile called `name`.
pub fn profile_path(name: &str) -> OwnedObjectPath {
    owned(format!("{PROFILE_PREFIX}/{}", escape(name)))
}

/// The object path of the remote session `session` of profile `profile`.
pub fn session_path(profile: &str, session: &str) -> OwnedObjectPath {
    owned(format!(
        "{PROFILE_PREFIX}/{}/session/{}",
        escape(profile),
        escape(session)
    ))
}

/// The profile name a profile object path stands for, if it is one.
pub fn profile_name(path: &ObjectPath<'_>) -> Option<String> {
    let rest = path
        .as_str()
        .strip_prefix(PROFILE_PREFIX)?
        .strip_prefix('/')?;
    if rest.contains('/') {
        return None;
    }
    unescape(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(escape("my-host.lan"), "my_2dhost_2elan");
        assert_eq!(escape("büro"), "b_c3_bcro");
        assert_eq!(escape("a_b"), "a_5fb");
        assert_eq!(escape(""), "_");
        assert_eq!(
            profile_path("office").as_str(),
            "/org/x2go/Control1/profile/office"
        );
        assert_eq!(unescape("_2"), None);
        assert_eq!(unescape("_41"), None, "alphanumerics are never escaped");
        assert_eq!(unescape("a-b"), None);
        assert_eq!(unescape(""), None, "escape never yields an empty element");
        assert_eq!(unescape("_+1"), None, "a sign is not a hex digit");
        assert_eq!(unescape("_2D"), None, "escape writes lowercase hex");
    }

    proptest! {
        #[test]
        fn round_trip(name in ".*") {
            let p = profile_path(&name);
            prop_assert_eq!(profile_name(&p.as_ref()), Some(name.clone()));
            let s = session_path(&name, &name);
            prop_assert!(s.as_str().starts_with(PROFILE_PREFIX));
        }
    }
}
