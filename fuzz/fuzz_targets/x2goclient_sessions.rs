//! The x2goclient / python-x2go sessions file (`profiles/x2goclient.rs` over `profiles/qt_ini.rs`),
//! which x2god imports from `~/.x2goclient/sessions`: a file any program of the user may write.
//!
//! Input: the file's text.
//! Invariants: no panic; parsing is deterministic; the same file with `\r\n` line ends reads the
//! same; the warnings stay bounded; every section becomes a profile or a skipped entry, never
//! both; every profile's settings survive x2god's own store (TOML) unchanged, so an imported
//! profile saved and loaded again is the profile that was imported.
#![no_main]

use std::collections::{BTreeMap, HashSet};

use libfuzzer_sys::fuzz_target;
use x2god::profiles::ProfileSettings;
use x2god::profiles::x2goclient::{MAX_WARNINGS, parse};
use x2god_fuzz::text;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let import = parse(text);
    assert_eq!(parse(text), import, "parsing is not deterministic");
    if !text.contains('\r') {
        assert_eq!(parse(&text.replace('\n', "\r\n")), import, "CRLF reads otherwise");
    }
    // The listed warnings, plus one line counting the rest.
    assert!(import.warnings.len() <= MAX_WARNINGS + 1, "{} warnings", import.warnings.len());

    let mut ids = HashSet::new();
    for p in &import.profiles {
        assert!(ids.insert(p.id.as_str()), "section {:?} imported twice", p.id);
        assert!(!p.id.is_empty());
        // A name from `name=` is trimmed; without one the id stands in, as written.
        if p.name != p.id {
            assert_eq!(p.name.trim(), p.name, "untrimmed name {:?}", p.name);
        }
    }
    for s in &import.skipped {
        assert!(ids.insert(s.id.as_str()), "section {:?} both imported and skipped", s.id);
    }

    for p in &import.profiles {
        let stored = BTreeMap::from([("p".to_owned(), p.settings.clone())]);
        let toml = toml::to_string(&stored)
            .unwrap_or_else(|e| panic!("imported settings cannot be stored: {e}: {:?}", p.settings));
        let back: BTreeMap<String, ProfileSettings> = toml::from_str(&toml)
            .unwrap_or_else(|e| panic!("stored settings cannot be read back: {e}\n{toml}"));
        assert_eq!(back.get("p"), Some(&p.settings), "store round trip changed\n{toml}");
    }
});
