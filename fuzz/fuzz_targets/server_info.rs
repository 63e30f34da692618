//! Small server query outputs → `parse_feature_list`, `parse_versions`, `parse_mounts`,
//! `parse_desktops`, `parse_home_exists`.
//!
//! Invariants: no panic; everything accepted is in its documented character set and length
//! bound; desktops re-parse from their `user@:display` id; accepted paths are absolute and free
//! of control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x2god::x2go::server_info::{
    parse_desktops, parse_feature_list, parse_home_exists, parse_mounts, parse_versions,
};
use x2god::x2go::tokens::{HOME_EXISTS_NO, HOME_EXISTS_YES};
use x2god::x2go::validate::Username;
use x2god_fuzz::{assert_charset, assert_no_shell_meta, text};

fn assert_abs_path(what: &str, p: &str) {
    assert!(p.starts_with('/'), "{what} {p:?} not absolute");
    assert!(p.len() <= 4096, "{what} too long");
    assert!(
        !p.chars().any(char::is_control),
        "{what} {p:?} has a control character"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };

    let features = parse_feature_list(text);
    assert_eq!(features.len(), features.iter().count());
    for f in features.iter() {
        assert!((1..=64).contains(&f.len()));
        assert_charset("feature", f, |c| {
            c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
        });
        assert!(features.contains(f));
    }

    for (k, v) in parse_versions(text) {
        assert!((1..=64).contains(&k.len()) && (1..=64).contains(&v.len()));
        assert_charset("component", &k, |c| {
            c.is_ascii_alphanumeric() || ".-_+".contains(c)
        });
        assert_charset("version", &v, |c| {
            c.is_ascii_alphanumeric() || ".-_+~:".contains(c)
        });
    }

    for m in parse_mounts(text) {
        assert!((1..=253).contains(&m.client.len()));
        assert_charset("mount client", &m.client, |c| {
            c.is_ascii_alphanumeric() || ".-_:%".contains(c)
        });
        assert_abs_path("mount point", &m.mountpoint);
    }

    for d in parse_desktops(text) {
        assert_no_shell_meta("desktop user", d.user.as_str());
        assert_eq!(Username::parse(d.user.as_str()).as_ref(), Ok(&d.user));
        let again = parse_desktops(&d.id());
        assert_eq!(
            again.as_slice(),
            std::slice::from_ref(&d),
            "id {:?} does not re-parse",
            d.id()
        );
    }

    match parse_home_exists(text) {
        Ok(true) => assert_eq!(text.trim(), HOME_EXISTS_YES),
        Ok(false) => assert_eq!(text.trim(), HOME_EXISTS_NO),
        Err(e) => assert!(e.preview.chars().count() <= 64, "preview too long: {e}"),
    }
});
