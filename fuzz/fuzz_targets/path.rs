//! Profile/session names → `x2god_proto::path::{escape, unescape, profile_path, session_path,
//! profile_name}`.
//!
//! Invariants: `escape` yields a non-empty `[A-Za-z0-9_]` element that `unescape` reverses
//! exactly; `unescape` accepts only what `escape` produces (so `escape(unescape(e)) == e`);
//! `profile_path`/`session_path` are the escaped paths themselves (never the fallback) and
//! `profile_name` recovers the name. The input is also read as `/`-separated elements for
//! `unescape`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use x2god_proto::names::PROFILE_PREFIX;
use x2god_proto::path::{escape, profile_name, profile_path, session_path, unescape};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };

    let e = escape(name);
    assert!(!e.is_empty());
    assert!(
        e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "escaped {e:?}"
    );
    assert_eq!(
        unescape(&e).as_deref(),
        Some(name),
        "escape does not round-trip"
    );

    let p = profile_path(name);
    assert_eq!(
        p.as_str(),
        format!("{PROFILE_PREFIX}/{e}"),
        "profile path fell back"
    );
    assert_eq!(profile_name(&p.as_ref()).as_deref(), Some(name));

    // The input split in two: a profile and a session name.
    let (profile, session) = name.split_at(name.floor_char_boundary(name.len() / 2));
    let s = session_path(profile, session);
    assert_eq!(
        s.as_str(),
        format!(
            "{PROFILE_PREFIX}/{}/session/{}",
            escape(profile),
            escape(session)
        ),
        "session path fell back"
    );
    assert_eq!(
        profile_name(&s.as_ref()),
        None,
        "a session path read as a profile"
    );

    // The input as `/`-separated path elements: each accepted only when canonical. (Not for
    // the empty input: libFuzzer runs that one first in every process, so a finding there would
    // stop the whole target; "/" reaches the same empty element.)
    if !name.is_empty() {
        for element in name.split('/') {
            if let Some(back) = unescape(element) {
                assert_eq!(
                    escape(&back),
                    element,
                    "unescape accepted a non-canonical element {element:?}"
                );
            }
        }
    }
});
