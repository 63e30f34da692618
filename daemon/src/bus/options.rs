//! Decoding `a{sv}` option dictionaries into typed settings.
//!
//! Keys are python-x2go's parameter names. Numbers are accepted in any D-Bus integer type that
//! holds the value (busctl users write `port u 22` or `port q 22`). An unknown key or a wrong type
//! is an `InvalidArgument` that names the key.

use std::collections::HashMap;
use std::path::PathBuf;

use x2god_proto::Error;
use zbus::{OwnedVariant, Variant};

use crate::profiles::{ProfileSettings, ProxySettings};
use crate::ssh::Secret;

/// An `a{sv}` argument as zbus hands it to a method.
pub type Dict = HashMap<String, OwnedVariant>;

fn invalid(key: &str, want: &str, v: &Variant<'_>) -> Error {
    Error::InvalidArgument(format!(
        "option {key:?} must be {want}, not a value of type {}",
        v.value_signature()
    ))
}

/// Unwraps variants nested in variants, which some bindings send.
fn inner<'a>(v: &'a Variant<'a>) -> &'a Variant<'a> {
    match v {
        Variant::Variant(b) => inner(b),
        other => other,
    }
}

fn as_i128(v: &Variant<'_>) -> Option<i128> {
    Some(match inner(v) {
        Variant::U8(n) => i128::from(*n),
        Variant::I16(n) => i128::from(*n),
        Variant::U16(n) => i128::from(*n),
        Variant::I32(n) => i128::from(*n),
        Variant::U32(n) => i128::from(*n),
        Variant::I64(n) => i128::from(*n),
        Variant::U64(n) => i128::from(*n),
        _ => return None,
    })
}

/// A string option.
pub fn string(key: &str, v: &Variant<'_>) -> Result<String, Error> {
    match inner(v) {
        Variant::Str(s) => Ok(s.to_string()),
        other => Err(invalid(key, "a string (s)", other)),
    }
}

/// A boolean option.
pub fn boolean(key: &str, v: &Variant<'_>) -> Result<bool, Error> {
    match inner(v) {
        Variant::Bool(b) => Ok(*b),
        other => Err(invalid(key, "a boolean (b)", other)),
    }
}

/// An integer option within `min..=max`, from any integer type.
pub fn integer(key: &str, v: &Variant<'_>, min: i128, max: i128) -> Result<i128, Error> {
    let n = as_i128(v).ok_or_else(|| invalid(key, "an integer", v))?;
    if n < min || n > max {
        return Err(Error::InvalidArgument(format!(
            "option {key:?} must be between {min} and {max}, not {n}"
        )));
    }
    Ok(n)
}

/// A number of seconds, integer or double.
pub fn seconds(key: &str, v: &Variant<'_>) -> Result<f64, Error> {
    let t = match inner(v) {
        Variant::F64(f) => *f,
        other => as_i128(other).ok_or_else(|| invalid(key, "a number of seconds", other))? as f64,
    };
    if !(t.is_finite() && t > 0.0 && t <= 3600.0) {
        return Err(Error::InvalidArgument(format!(
            "option {key:?} must be between 0 and 3600 seconds"
        )));
    }
    Ok(t)
}

/// One path or a list of paths (`s` or `as`).
pub fn paths(key: &str, v: &Variant<'_>) -> Result<Vec<PathBuf>, Error> {
    match inner(v) {
        Variant::Str(s) if s.is_empty() => Ok(Vec::new()),
        Variant::Str(s) => Ok(vec![PathBuf::from(s.to_string())]),
        Variant::Array(a) => a
            .inner()
            .iter()
            .map(|e| match e {
                Variant::Str(s) => Ok(PathBuf::from(s.to_string())),
                other => Err(invalid(key, "a string or an array of strings", other)),
            })
            .collect(),
        other => Err(invalid(key, "a string or an array of strings", other)),
    }
}

/// Applies one `sshproxy_*` key to the jump-host settings.
fn apply_proxy(p: &mut ProxySettings, key: &str, v: &Variant<'_>) -> Result<bool, Error> {
    match key {
        "sshproxy_host" => {
            // python-x2go: `host:port` overrides `sshproxy_port` (no IPv6 literals there).
            let h = string(key, v)?;
            match h.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => {
                    p.host = host.to_owned();
                    p.port = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                        Error::InvalidArgument(format!("sshproxy_host {h:?}: bad port"))
                    })?;
                }
                _ => p.host = h,
            }
        }
        "sshproxy_port" => p.port = u16::try_from(integer(key, v, 1, 65535)?).unwrap_or(22),
        "sshproxy_user" => {
            let u = string(key, v)?;
            p.user = (!u.is_empty()).then_some(u);
        }
        "sshproxy_key_filename" => p.key_filename = paths(key, v)?,
        "sshproxy_allow_agent" => p.allow_agent = boolean(key, v)?,
        "sshproxy_look_for_keys" => p.look_for_keys = boolean(key, v)?,
        "sshproxy_force_password_auth" => p.force_password_auth = boolean(key, v)?,
        "sshproxy_reuse_authinfo" => p.reuse_authinfo = boolean(key, v)?,
        "sshproxy_tunnel" => {
            let t = string(key, v)?;
            p.tunnel = (!t.is_empty()).then_some(t);
            p.target("", 22).map_err(Error::InvalidArgument)?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies one stored-setting key; `Ok(false)` when `key` is not a setting.
fn apply_setting(s: &mut ProfileSettings, key: &str, v: &Variant<'_>) -> Result<bool, Error> {
    match key {
        "hostname" => s.hostname = string(key, v)?,
        "port" => s.port = u16::try_from(integer(key, v, 1, 65535)?).unwrap_or(22),
        "username" => {
            let u = string(key, v)?;
            s.username = (!u.is_empty()).then_some(u);
        }
        "key_filename" => s.key_filename = paths(key, v)?,
        "allow_agent" => s.allow_agent = boolean(key, v)?,
        "look_for_keys" => s.look_for_keys = boolean(key, v)?,
        "force_password_auth" => s.force_password_auth = boolean(key, v)?,
        "timeout" => s.timeout = Some(seconds(key, v)?),
        "add_to_known_hosts" => s.add_to_known_hosts = boolean(key, v)?,
        "keepalive_interval" => s.keepalive_interval = Some(seconds(key, v)?),
        "keepalive_count" => {
            s.keepalive_count = Some(u32::try_from(integer(key, v, 1, 100)?).unwrap_or(3))
        }
        "auto_reconnect" => s.auto_reconnect = Some(boolean(key, v)?),
        "auto_resume" => s.auto_resume = boolean(key, v)?,
        "autoconnect" => s.autoconnect = boolean(key, v)?,
        "forward_sshagent" => s.forward_sshagent = boolean(key, v)?,
        "unique_hostkey_aliases" => s.unique_hostkey_aliases = boolean(key, v)?,
        "cmd" => s.session.cmd = Some(string(key, v)?),
        "session_type" => s.session.session_type = Some(string(key, v)?),
        "geometry" => s.session.geometry = Some(string(key, v)?),
        "link" => s.session.link = Some(string(key, v)?),
        "pack" => s.session.pack = Some(string(key, v)?),
        "dpi" => s.session.dpi = Some(u32::try_from(integer(key, v, 1, 1000)?).unwrap_or(96)),
        "kblayout" => s.session.kblayout = Some(string(key, v)?),
        "kbtype" => s.session.kbtype = Some(string(key, v)?),
        "kbvariant" => s.session.kbvariant = Some(string(key, v)?),
        "clipboard" => s.session.clipboard = Some(string(key, v)?),
        "nxproxy" => s.session.nxproxy = Some(PathBuf::from(string(key, v)?)),
        "poll_interval" => s.session.poll_interval = Some(seconds(key, v)?),
        "pkey" | "sshproxy_pkey" => {
            return Err(Error::NotSupported(format!(
                "option {key:?}: an in-memory key cannot cross the bus; use a key file or the SSH agent"
            )));
        }
        k if k.starts_with("sshproxy_") => {
            let p = s.sshproxy.get_or_insert_with(|| ProxySettings::new(""));
            return apply_proxy(p, key, v);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn unknown(key: &str) -> Error {
    Error::InvalidArgument(format!("unknown option {key:?}"))
}

/// Keys that carry a secret: accepted by `Connect` only, never stored.
const SECRET_KEYS: [&str; 4] = [
    "password",
    "passphrase",
    "sshproxy_password",
    "sshproxy_passphrase",
];

/// Applies `dict` to `settings`, with `use_sshproxy` deciding whether a jump host is used
/// whatever order the keys come in; secret keys go to `secret`.
fn apply_dict(
    settings: &mut ProfileSettings,
    dict: &Dict,
    mut secret: impl FnMut(&str, &Variant<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let had_proxy = settings.sshproxy.is_some();
    let mut use_proxy = None;
    for (key, v) in dict {
        if SECRET_KEYS.contains(&key.as_str()) {
            secret(key, v)?;
        } else if key == "use_sshproxy" {
            use_proxy = Some(boolean(key, v)?);
        } else if !apply_setting(settings, key, v)? {
            return Err(unknown(key));
        }
    }
    match (use_proxy, settings.sshproxy.as_ref()) {
        (Some(false), _) => settings.sshproxy = None,
        (Some(true), None) => {
            return Err(Error::InvalidArgument(
                "use_sshproxy needs sshproxy_host".into(),
            ));
        }
        (_, Some(p)) if p.host.is_empty() => {
            return Err(Error::InvalidArgument(
                if use_proxy.is_none() && !had_proxy {
                    "sshproxy_* options need use_sshproxy=true and sshproxy_host".into()
                } else {
                    "use_sshproxy needs sshproxy_host".into()
                },
            ));
        }
        (None, Some(_)) if !had_proxy => {
            return Err(Error::InvalidArgument(
                "sshproxy_* options need use_sshproxy=true".into(),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Applies a `CreateProfile`/`Update` dictionary to `settings`. Secrets are refused: they are
/// never stored (`Profile.StoreSecret` puts them in the keyring).
pub fn apply_settings(settings: &mut ProfileSettings, dict: &Dict) -> Result<(), Error> {
    apply_dict(settings, dict, |key, _| {
        Err(Error::InvalidArgument(format!(
            "{key:?} cannot be stored in a profile; pass it to Connect or StoreSecret"
        )))
    })
}

/// The secrets a `Connect` call carries.
#[derive(Debug, Default)]
pub struct ConnectSecrets {
    /// `password`.
    pub password: Option<Secret>,
    /// `passphrase`.
    pub passphrase: Option<Secret>,
    /// `sshproxy_password`.
    pub proxy_password: Option<Secret>,
    /// `sshproxy_passphrase`.
    pub proxy_passphrase: Option<Secret>,
}

/// Applies a `Connect` dictionary: setting overrides for this connection plus secrets.
pub fn apply_connect(settings: &mut ProfileSettings, dict: &Dict) -> Result<ConnectSecrets, Error> {
    let mut secrets = ConnectSecrets::default();
    apply_dict(settings, dict, |key, v| {
        let value = Some(Secret::new(string(key, v)?));
        match key {
            "password" => secrets.password = value,
            "passphrase" => secrets.passphrase = value,
            "sshproxy_password" => secrets.proxy_password = value,
            _ => secrets.proxy_passphrase = value,
        }
        Ok(())
    })?;
    Ok(secrets)
}

/// Every stored setting of `s` as an `a{sv}` with the keys `CreateProfile` takes; unset
/// optional values are left out. Secrets are never part of settings.
pub fn settings_dict(s: &ProfileSettings) -> Dict {
    fn put<'a>(d: &mut Dict, k: &str, v: impl Into<Variant<'a>>) {
        if let Ok(v) = OwnedVariant::try_from(v.into()) {
            d.insert(k.to_owned(), v);
        }
    }
    fn paths(p: &[PathBuf]) -> Vec<String> {
        p.iter().map(|p| p.display().to_string()).collect()
    }
    let mut d = Dict::new();
    put(&mut d, "hostname", s.hostname.as_str());
    put(&mut d, "port", s.port);
    if let Some(u) = &s.username {
        put(&mut d, "username", u.as_str());
    }
    put(&mut d, "key_filename", paths(&s.key_filename));
    for (k, v) in [
        ("allow_agent", s.allow_agent),
        ("look_for_keys", s.look_for_keys),
        ("force_password_auth", s.force_password_auth),
        ("add_to_known_hosts", s.add_to_known_hosts),
        ("auto_resume", s.auto_resume),
        ("autoconnect", s.autoconnect),
        ("forward_sshagent", s.forward_sshagent),
        ("unique_hostkey_aliases", s.unique_hostkey_aliases),
        ("use_sshproxy", s.sshproxy.is_some()),
    ] {
        put(&mut d, k, v);
    }
    if let Some(t) = s.timeout {
        put(&mut d, "timeout", t);
    }
    if let Some(t) = s.keepalive_interval {
        put(&mut d, "keepalive_interval", t);
    }
    if let Some(c) = s.keepalive_count {
        put(&mut d, "keepalive_count", c);
    }
    if let Some(r) = s.auto_reconnect {
        put(&mut d, "auto_reconnect", r);
    }
    if let Some(p) = &s.sshproxy {
        put(&mut d, "sshproxy_host", p.host.as_str());
        put(&mut d, "sshproxy_port", p.port);
        if let Some(u) = &p.user {
            put(&mut d, "sshproxy_user", u.as_str());
        }
        put(&mut d, "sshproxy_key_filename", paths(&p.key_filename));
        put(&mut d, "sshproxy_allow_agent", p.allow_agent);
        put(&mut d, "sshproxy_look_for_keys", p.look_for_keys);
        put(
            &mut d,
            "sshproxy_force_password_auth",
            p.force_password_auth,
        );
        put(&mut d, "sshproxy_reuse_authinfo", p.reuse_authinfo);
        if let Some(t) = &p.tunnel {
            put(&mut d, "sshproxy_tunnel", t.as_str());
        }
    }
    let ss = &s.session;
    for (k, v) in [
        ("cmd", &ss.cmd),
        ("session_type", &ss.session_type),
        ("geometry", &ss.geometry),
        ("link", &ss.link),
        ("pack", &ss.pack),
        ("kblayout", &ss.kblayout),
        ("kbtype", &ss.kbtype),
        ("kbvariant", &ss.kbvariant),
        ("clipboard", &ss.clipboard),
    ] {
        if let Some(v) = v {
            put(&mut d, k, v.as_str());
        }
    }
    if let Some(dpi) = ss.dpi {
        put(&mut d, "dpi", dpi);
    }
    if let Some(n) = &ss.nxproxy {
        put(&mut d, "nxproxy", n.display().to_string());
    }
    if let Some(t) = ss.poll_interval {
        put(&mut d, "poll_interval", t);
    }
    d
}

/// A `Start`/`Resume` request: session settings over the profile's, and the local display.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Effective session settings.
    pub session: crate::profiles::SessionSettings,
    /// The local X display for nxproxy, when not the daemon's.
    pub display: Option<String>,
}

/// Applies a `Start`/`Resume` dictionary over the profile's session defaults. Only session keys
/// and `display` are accepted.
pub fn apply_start(settings: &ProfileSettings, dict: &Dict) -> Result<StartOptions, Error> {
    let mut s = settings.clone();
    let mut display = None;
    for (key, v) in dict {
        if key == "display" {
            display = Some(string(key, v)?);
            continue;
        }
        let before = s.clone();
        if !apply_setting(&mut s, key, v)? {
            return Err(unknown(key));
        }
        // Connection settings cannot change for one session.
        if s.session == before.session && s != before {
            return Err(Error::InvalidArgument(format!(
                "{key:?} is a connection setting, not a session option"
            )));
        }
    }
    Ok(StartOptions {
        session: s.session,
        display,
    })
}

/// A `ShareDesktop` request.
#[derive(Debug, Clone)]
pub struct ShareOptions {
    /// Owner of the desktop.
    pub user: String,
    /// Its display number on the server.
    pub display: String,
    /// 1 = full access, 0 = view only.
    pub full_access: bool,
    /// How long `x2golistdesktops` may take.
    pub maxwait: std::time::Duration,
    /// Session settings and the local display.
    pub start: StartOptions,
}

/// Applies a `ShareDesktop` dictionary: python-x2go's `desktop` (`user@:display`) or `user` +
/// `display` (the shared desktop's, on the server), `share_mode` (0 view-only, 1 full access),
/// `maxwait`; `local_display` for the local X display; and session keys (`geometry`, `link`, …).
pub fn apply_share(settings: &ProfileSettings, dict: &Dict) -> Result<ShareOptions, Error> {
    let mut rest = Dict::new();
    let (mut user, mut display, mut full_access) = (None, None, false);
    let mut maxwait = crate::control::DEFAULT_MAXWAIT;
    let mut local_display = None;
    for (key, v) in dict {
        match key.as_str() {
            "desktop" => {
                let d = string(key, v)?;
                let (u, disp) = d.rsplit_once('@').ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "desktop {d:?} is not of the form user@:display"
                    ))
                })?;
                user = Some(u.to_owned());
                display = Some(
                    disp.trim_start_matches(':')
                        .trim_end_matches(".0")
                        .to_owned(),
                );
            }
            "user" => user = Some(string(key, v)?),
            "display" => {
                display = Some(match as_i128(v) {
                    Some(n) => n.to_string(),
                    None => string(key, v)?.trim_start_matches(':').to_owned(),
                })
            }
            "share_mode" => full_access = integer(key, v, 0, 1)? == 1,
            "maxwait" => maxwait = std::time::Duration::from_secs_f64(seconds(key, v)?),
            "local_display" => local_display = Some(string(key, v)?),
            _ => {
                if let Ok(owned) = v.try_clone() {
                    rest.insert(key.clone(), owned);
                }
            }
        }
    }
    let mut start = apply_start(settings, &rest)?;
    start.display = local_display;
    match (user, display) {
        (Some(user), Some(display)) => Ok(ShareOptions {
            user,
            display,
            full_access,
            maxwait,
            start,
        }),
        _ => Err(Error::InvalidArgument(
            "name the desktop: \"desktop\" as user@:display, or \"user\" and \"display\"".into(),
        )),
    }
}

/// A `PublishedApplications` request.
#[derive(Debug, Clone)]
pub struct AppsOptions {
    /// Language for names and comments (`de`, `de_DE.UTF-8`, …).
    pub lang: String,
    /// Entries shown flat up to this many.
    pub max_no_submenus: i32,
    /// Fetch again instead of using the cache.
    pub refresh: bool,
    /// Parsed entries instead of the menu.
    pub raw: bool,
    /// The server's text instead of the menu.
    pub very_raw: bool,
}

/// Applies a `PublishedApplications` dictionary.
pub fn apply_apps(dict: &Dict) -> Result<AppsOptions, Error> {
    let mut o = AppsOptions {
        lang: std::env::var("LANG").unwrap_or_else(|_| "en".into()),
        max_no_submenus: crate::x2go::apps::DEFAULT_MAX_NO_SUBMENUS,
        refresh: false,
        raw: false,
        very_raw: false,
    };
    for (key, v) in dict {
        match key.as_str() {
            "lang" => o.lang = string(key, v)?,
            "max_no_submenus" => {
                o.max_no_submenus = i32::try_from(integer(key, v, -1, 10_000)?).unwrap_or(10)
            }
            "refresh" => o.refresh = boolean(key, v)?,
            "raw" => o.raw = boolean(key, v)?,
            "very_raw" => o.very_raw = boolean(key, v)?,
            _ => return Err(unknown(key)),
        }
    }
    Ok(o)
}

/// Reads `maxwait` (seconds) from an options dictionary; any other key is refused.
pub fn only_maxwait(dict: &Dict) -> Result<std::time::Duration, Error> {
    let mut maxwait = crate::control::DEFAULT_MAXWAIT;
    for (k, v) in dict {
        if k == "maxwait" {
            maxwait = std::time::Duration::from_secs_f64(seconds(k, v)?);
        } else {
            return Err(unknown(k));
        }
    }
    Ok(maxwait)
}

/// Reads the boolean `key` of an options dictionary, `default` when absent; any other key is
/// refused.
pub fn only_bool(dict: &Dict, key: &str, default: bool) -> Result<bool, Error> {
    let mut value = default;
    for (k, v) in dict {
        if k == key {
            value = boolean(k, v)?;
        } else {
            return Err(unknown(k));
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::Str;

    fn dict(entries: Vec<(&str, Variant<'static>)>) -> Dict {
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), OwnedVariant::try_from(v).unwrap()))
            .collect()
    }

    #[test]
    fn integers_of_any_width() {
        for v in [
            Variant::U16(2222),
            Variant::U32(2222),
            Variant::I32(2222),
            Variant::I64(2222),
            Variant::U64(2222),
        ] {
            let mut s = ProfileSettings::new("h");
            apply_settings(&mut s, &dict(vec![("port", v)])).unwrap();
            assert_eq!(s.port, 2222);
        }
        let mut s = ProfileSettings::new("h");
        let e = apply_settings(&mut s, &dict(vec![("port", Variant::U32(70000))])).unwrap_err();
        assert!(e.to_string().contains("port"));
    }

    #[test]
    fn unknown_key_and_wrong_type_name_the_key() {
        let mut s = ProfileSettings::new("h");
        let e = apply_settings(&mut s, &dict(vec![("colour", Variant::Bool(true))])).unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(ref m) if m.contains("colour")),
            "{e}"
        );
        let e = apply_settings(
            &mut s,
            &dict(vec![("allow_agent", Variant::Str(Str::from("yes")))]),
        )
        .unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(ref m) if m.contains("allow_agent")),
            "{e}"
        );
    }

    #[test]
    fn settings_round_trip_through_the_dict() {
        let str = |v: &'static str| Variant::Str(Str::from(v));
        let mut s = ProfileSettings::new("srv");
        let d = dict(vec![
            ("port", Variant::U32(2222)),
            ("username", str("bob")),
            ("key_filename", str("~/.ssh/k")),
            ("forward_sshagent", Variant::Bool(true)),
            ("use_sshproxy", Variant::Bool(true)),
            ("sshproxy_host", str("jump")),
            ("sshproxy_tunnel", str("localhost:1:srv2:22")),
            ("timeout", Variant::F64(7.5)),
            ("geometry", str("800x600")),
            ("dpi", Variant::U32(120)),
        ]);
        apply_settings(&mut s, &d).unwrap();
        let mut again = ProfileSettings::new("");
        apply_settings(&mut again, &settings_dict(&s)).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn jump_host_options_in_any_order() {
        let str = |v: &'static str| Variant::Str(Str::from(v));
        let mut s = ProfileSettings::new("srv");
        let d = dict(vec![
            ("sshproxy_user", str("jumper")),
            ("sshproxy_host", str("jump.example:2222")),
            ("use_sshproxy", Variant::Bool(true)),
            ("sshproxy_tunnel", str("localhost:44444:10.0.0.5:22")),
            ("sshproxy_password", str("jump-pw")),
        ]);
        let e = apply_settings(&mut s.clone(), &d).unwrap_err();
        assert!(!e.to_string().contains("jump-pw"), "{e}");
        let secrets = apply_connect(&mut s, &d).unwrap();
        assert_eq!(secrets.proxy_password.unwrap().expose(), "jump-pw");
        let p = s.sshproxy.clone().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("jump.example", 2222));
        assert_eq!(p.user.as_deref(), Some("jumper"));
        assert_eq!(p.target("srv", 22).unwrap(), ("10.0.0.5".into(), 22));
        // Turning it off drops it; a proxy key alone on a profile without one is refused.
        apply_settings(&mut s, &dict(vec![("use_sshproxy", Variant::Bool(false))])).unwrap();
        assert!(s.sshproxy.is_none());
        let e = apply_settings(&mut s, &dict(vec![("sshproxy_port", Variant::U32(22))]));
        assert!(matches!(e, Err(Error::InvalidArgument(m)) if m.contains("use_sshproxy")));
        let e = apply_settings(&mut s, &dict(vec![("use_sshproxy", Variant::Bool(true))]));
        assert!(matches!(e, Err(Error::InvalidArgument(m)) if m.contains("sshproxy_host")));
        let e = apply_settings(
            &mut s,
            &dict(vec![
                ("use_sshproxy", Variant::Bool(true)),
                ("sshproxy_host", str("j")),
                ("sshproxy_tunnel", str("a:b:c")),
            ]),
        );
        assert!(matches!(e, Err(Error::InvalidArgument(m)) if m.contains("sshproxy_tunnel")));
        let e = apply_settings(&mut s, &dict(vec![("pkey", str("x"))]));
        assert!(matches!(e, Err(Error::NotSupported(_))));
    }

    #[test]
    fn secrets_only_on_connect() {
        let mut s = ProfileSettings::new("h");
        let d = dict(vec![("password", Variant::Str(Str::from("pw-xyz")))]);
        let e = apply_settings(&mut s, &d).unwrap_err();
        assert!(!e.to_string().contains("pw-xyz"));
        let secrets = apply_connect(&mut s, &d).unwrap();
        assert_eq!(secrets.password.unwrap().expose(), "pw-xyz");
    }

    #[test]
    fn key_filename_string_or_list() {
        let mut s = ProfileSettings::new("h");
        apply_settings(
            &mut s,
            &dict(vec![("key_filename", Variant::from(vec!["/a", "/b"]))]),
        )
        .unwrap();
        assert_eq!(
            s.key_filename,
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
        apply_settings(&mut s, &dict(vec![("key_filename", Variant::from("/c"))])).unwrap();
        assert_eq!(s.key_filename, vec![PathBuf::from("/c")]);
    }
}
