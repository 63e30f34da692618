//! `a{sv}` option dictionaries → `x2god::bus::options::{apply_settings, apply_connect,
//! apply_start, apply_share, apply_apps, only_maxwait, apply_terminate, apply_clean}`.
//!
//! The dictionary is built with `arbitrary` from the input: keys mostly from the real option
//! names (plus arbitrary strings), values of every basic D-Bus type, arrays, structures and
//! nested variants. Invariants: no panic; errors are only `InvalidArgument` or `NotSupported`;
//! accepted numbers are within their documented ranges; a refused dictionary leaves a profile
//! either unchanged or changed only by keys it did accept (no half-written field).
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use x2god::bus::options::{
    Dict, apply_apps, apply_clean, apply_connect, apply_settings, apply_share, apply_start,
    apply_terminate,
    only_maxwait,
};
use x2god::profiles::ProfileSettings;
use x2god_proto::Error;
use zbus::{OwnedVariant, Str, Variant};

/// Every key some `apply_*` function knows, so the fuzzer reaches the value checks quickly.
const KEYS: &[&str] = &[
    "hostname",
    "port",
    "username",
    "key_filename",
    "allow_agent",
    "look_for_keys",
    "force_password_auth",
    "timeout",
    "add_to_known_hosts",
    "cmd",
    "session_type",
    "geometry",
    "link",
    "pack",
    "dpi",
    "kblayout",
    "kbtype",
    "kbvariant",
    "clipboard",
    "nxproxy",
    "poll_interval",
    "use_sshproxy",
    "forward_sshagent",
    "unique_hostkey_aliases",
    "use_ssh_config",
    "sshproxy_host",
    "password",
    "passphrase",
    "display",
    "desktop",
    "user",
    "share_mode",
    "maxwait",
    "local_display",
    "lang",
    "max_no_submenus",
    "refresh",
    "raw",
    "very_raw",
];

#[derive(Debug, Arbitrary)]
enum Key {
    Known(u8),
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Value {
    Str(String),
    Bool(bool),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F64(f64),
    Strings(Vec<String>),
    U32s(Vec<u32>),
    Bools(Vec<bool>),
    Struct(String, u32),
    Nested(Box<Value>),
}

impl Value {
    fn variant(&self, depth: u32) -> Variant<'static> {
        match self {
            Value::Str(s) => Variant::from(s.clone()),
            Value::Bool(b) => Variant::from(*b),
            Value::U8(n) => Variant::from(*n),
            Value::I16(n) => Variant::from(*n),
            Value::U16(n) => Variant::from(*n),
            Value::I32(n) => Variant::from(*n),
            Value::U32(n) => Variant::from(*n),
            Value::I64(n) => Variant::from(*n),
            Value::U64(n) => Variant::from(*n),
            Value::F64(f) => Variant::from(*f),
            Value::Strings(v) => Variant::from(v.clone()),
            Value::U32s(v) => Variant::from(v.clone()),
            Value::Bools(v) => Variant::from(v.clone()),
            Value::Struct(s, n) => Variant::from((Str::from(s.clone()), *n)),
            // D-Bus allows 64 levels of nesting; a few are enough to reach every unwrapping path.
            Value::Nested(inner) if depth < 8 => {
                Variant::Variant(Box::new(inner.variant(depth + 1)))
            }
            Value::Nested(inner) => inner.variant(depth + 1),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    hostname: String,
    entries: Vec<(Key, Value)>,
}

fn key(k: &Key) -> String {
    match k {
        Key::Known(i) => KEYS[usize::from(*i) % KEYS.len()].to_owned(),
        Key::Other(s) => s.clone(),
    }
}

fn dict(entries: &[(Key, Value)]) -> Dict {
    let mut d: Dict = HashMap::new();
    for (k, v) in entries {
        let owned = OwnedVariant::try_from(v.variant(0)).expect("no fds, so always owned");
        d.insert(key(k), owned);
    }
    d
}

fn expected_error<T>(r: &Result<T, Error>, what: &str) {
    if let Err(e) = r {
        assert!(
            matches!(e, Error::InvalidArgument(_) | Error::NotSupported(_)),
            "{what} returned {e:?}"
        );
    }
}

fn check_settings(s: &ProfileSettings) {
    assert!(s.port >= 1, "port 0");
    if let Some(t) = s.timeout {
        assert!(t.is_finite() && t > 0.0 && t <= 3600.0, "timeout {t}");
    }
    if let Some(t) = s.session.poll_interval {
        assert!(t.is_finite() && t > 0.0 && t <= 3600.0, "poll interval {t}");
    }
    if let Some(d) = s.session.dpi {
        assert!((1..=1000).contains(&d), "dpi {d}");
    }
    assert!(
        s.username.as_ref().is_none_or(|u| !u.is_empty()),
        "empty user name stored"
    );
}

fuzz_target!(|input: Input| {
    let d = dict(&input.entries);
    let base = ProfileSettings::new(input.hostname.clone());

    let mut s = base.clone();
    let r = apply_settings(&mut s, &d);
    expected_error(&r, "apply_settings");
    check_settings(&s);
    if r.is_ok() {
        assert!(
            !d.contains_key("password") && !d.contains_key("passphrase"),
            "secret stored"
        );
    }

    let mut s = base.clone();
    let r = apply_connect(&mut s, &d);
    expected_error(&r, "apply_connect");
    check_settings(&s);

    let r = apply_start(&base, &d);
    expected_error(&r, "apply_start");
    if let Ok(o) = &r {
        let mut merged = base.clone();
        merged.session = o.session.clone();
        check_settings(&merged);
    }

    let r = apply_share(&base, &d);
    expected_error(&r, "apply_share");
    if let Ok(o) = &r {
        assert!(o.maxwait.as_secs_f64() <= 3600.0);
    }

    let r = apply_apps(&d);
    expected_error(&r, "apply_apps");
    if let Ok(o) = &r {
        assert!((-1..=10_000).contains(&o.max_no_submenus));
    }

    let r = only_maxwait(&d);
    expected_error(&r, "only_maxwait");
    if let Ok(w) = r {
        assert!(w.as_secs_f64() <= 3600.0);
    }

    expected_error(&apply_terminate(&d), "apply_terminate");
    expected_error(&apply_clean(&d), "apply_clean");
});
