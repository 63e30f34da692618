//! known_hosts lines (the user's, the machine's, a hostile one's) → `x2god::known_hosts`:
//! `parse_line`, `hosts_match` and `format_line`.
//!
//! Input: `<name>\n<line>\n<32 key bytes>`. Invariants: nothing panics, whatever the line; a
//! parsed key's type is the type field; the line `format_line` writes for a name and an ed25519
//! key (made of the input's bytes) parses back to the same name and key as a plain entry that
//! matches that name (in lower case, as lookups use it) and only as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use russh::keys::PublicKey;
use russh::keys::ssh_key::public::{Ed25519PublicKey, KeyData};
use x2god::known_hosts::{Marker, format_line, hosts_match, parse_line};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let name = parts.next().unwrap_or_default();
    let line = parts.next().unwrap_or_default();
    let key_bytes = parts.next().unwrap_or_default().as_bytes();

    // 1. Arbitrary line, arbitrary name.
    if let Some(entry) = parse_line(line) {
        if let Some(key) = &entry.key {
            assert_eq!(key.algorithm().as_str(), entry.key_type);
        }
        let _ = hosts_match(entry.hosts, &name.to_ascii_lowercase());
    }

    // 2. What we write reads back.
    let mut raw = [0u8; 32];
    for (d, s) in raw.iter_mut().zip(key_bytes) {
        *d = *s;
    }
    let key = PublicKey::new(KeyData::Ed25519(Ed25519PublicKey(raw)), "");
    let Some(written) = format_line(name, &key) else {
        return;
    };
    assert!(written.ends_with('\n') && written.matches('\n').count() == 1, "{written:?}");
    let entry = parse_line(&written).unwrap_or_else(|| panic!("{written:?} does not parse"));
    assert_eq!(entry.marker, Marker::None);
    assert_eq!(entry.hosts, name);
    assert_eq!(entry.key.as_ref(), Some(&key), "{written:?}");
    let lower = name.to_ascii_lowercase();
    assert!(hosts_match(entry.hosts, &lower), "{written:?} does not match {lower:?}");
    let other = format!("{lower}x");
    assert!(!hosts_match(entry.hosts, &other), "{written:?} matches {other:?}");
});
