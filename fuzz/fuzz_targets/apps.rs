//! `x2gogetapps` output → `parse_apps`, then `build_menu` with a fuzzed language and
//! `max_no_submenus`.
//!
//! Input: `<max_no_submenus as 4 bytes LE><lang>\n<x2gogetapps output>`.
//! Invariants: no panic; every entry has a non-empty name and `Exec`, no empty category, an
//! icon format only with icon bytes (and the one sniffed from them); the menu holds every entry
//! exactly once, sorted, in the `TOP` category alone unless submenus are due, with no empty
//! category; locale candidates always end with the default key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x2god::x2go::apps::{TOP, build_menu, locale_candidates, parse_apps, sniff_icon_format};
use x2god_fuzz::text;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let max_no_submenus = i32::from_le_bytes(*head);
    let Some(rest) = text(rest) else { return };
    let (lang, output) = rest.split_once('\n').unwrap_or((rest, ""));

    let candidates = locale_candidates(lang);
    assert_eq!(candidates.last().map(String::as_str), Some(""));

    let (entries, _reasons) = parse_apps(output);
    for e in &entries {
        assert!(!e.exec.is_empty(), "entry without Exec accepted");
        assert!(
            !e.name(lang).is_empty(),
            "entry without a name for {lang:?}"
        );
        assert!(!e.comment(lang).is_empty());
        assert!(e.names.values().all(|v| !v.is_empty()));
        assert!(e.comments.values().all(|v| !v.is_empty()));
        assert!(
            e.categories
                .iter()
                .all(|c| !c.is_empty() && c.trim() == c && !c.contains(';'))
        );
        assert!(e.icon_format.is_none() || e.icon.is_some());
        assert_eq!(e.icon_format, e.icon.as_deref().and_then(sniff_icon_format));
        assert!(e.icon.as_ref().is_none_or(|i| !i.is_empty()), "empty icon");
    }

    let menu = build_menu(&entries, lang, max_no_submenus);
    let total: usize = menu.categories.values().map(Vec::len).sum();
    assert_eq!(total, entries.len(), "menu lost or duplicated entries");
    assert!(menu.categories.values().all(|items| !items.is_empty()));
    let submenus = usize::try_from(max_no_submenus).is_ok_and(|max| entries.len() > max);
    if !submenus {
        assert!(
            menu.categories.keys().all(|k| k == TOP),
            "submenus without need"
        );
    }
    for items in menu.categories.values() {
        for w in items.windows(2) {
            assert!(
                w[0].name.to_lowercase() <= w[1].name.to_lowercase(),
                "menu not sorted: {:?} before {:?}",
                w[0].name,
                w[1].name
            );
        }
        for item in items {
            assert!(!item.name.is_empty() && !item.exec.is_empty());
        }
    }
});
