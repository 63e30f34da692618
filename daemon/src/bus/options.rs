//! Decoding `a{sv}` option dictionaries into typed settings.
//!
//! Which keys a call accepts, and the type of each, is the key table of the contract
//! ([`x2god_proto::keys`]): a key the call does not accept is refused before its value is looked
//! at, and a value of another type in the table's words. Keys are python-x2go's parameter names.
//! Numbers are accepted in any D-Bus integer type that holds the value (busctl users write
//! `port u 22` or `port q 22`). An unknown key or a wrong type is an `InvalidArgument` that names
//! the key.

use std::collections::HashMap;
use std::path::PathBuf;

use x2god_proto::Error;
use x2god_proto::keys::{self, Call, Key};
use zbus::{OwnedVariant, Variant};

use crate::profiles::{ProfileSettings, ProxyKind, ProxySettings};
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
        other => Err(invalid(key, keys::Type::String.expected(), other)),
    }
}

/// A boolean option.
pub fn boolean(key: &str, v: &Variant<'_>) -> Result<bool, Error> {
    match inner(v) {
        Variant::Bool(b) => Ok(*b),
        other => Err(invalid(key, keys::Type::Boolean.expected(), other)),
    }
}

/// Any integer, for the words of [`integer`]'s errors.
const ANY_INTEGER: keys::Type = keys::Type::Integer {
    signature: "x",
    min: i64::MIN,
    max: i64::MAX,
};

/// An integer option within `min..=max`, from any integer type.
pub fn integer(key: &str, v: &Variant<'_>, min: i128, max: i128) -> Result<i128, Error> {
    let n = as_i128(v).ok_or_else(|| invalid(key, ANY_INTEGER.expected(), v))?;
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
        other => as_i128(other)
            .ok_or_else(|| invalid(key, keys::Type::Seconds.expected(), other))?
            as f64,
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
    let want = keys::Type::Paths.expected();
    match inner(v) {
        Variant::Str(s) if s.is_empty() => Ok(Vec::new()),
        Variant::Str(s) => Ok(vec![PathBuf::from(s.to_string())]),
        Variant::Array(a) => a
            .inner()
            .iter()
            .map(|e| match e {
                Variant::Str(s) => Ok(PathBuf::from(s.to_string())),
                other => Err(invalid(key, want, other)),
            })
            .collect(),
        other => Err(invalid(key, want, other)),
    }
}

/// An integer key within the range the key table gives it.
fn ranged(key: &Key, v: &Variant<'_>) -> Result<i128, Error> {
    let (min, max) = key.ty.range().unwrap_or((i64::MIN, i64::MAX));
    integer(key.name, v, min.into(), max.into())
}

fn unknown(key: &str) -> Error {
    Error::InvalidArgument(format!("unknown option {key:?}"))
}

/// The table's row of `key` for `call`, with its value checked against the row's type; a key
/// the call does not take is refused, with the reason when the table has one.
fn entry(call: Call, key: &str, v: &Variant<'_>) -> Result<&'static Key, Error> {
    let Some(k) = keys::lookup(call, key) else {
        return Err(refused(call, key));
    };
    let value = inner(v);
    if !k.ty.accepts(&value.value_signature().to_string()) {
        return Err(invalid(key, k.ty.expected(), value));
    }
    Ok(k)
}

/// Why `call` does not take `key`.
fn refused(call: Call, key: &str) -> Error {
    if let Some(u) = keys::unsupported(call, key) {
        return Error::NotSupported(format!("option {key:?}: {}", u.reason));
    }
    let Some(k) = keys::named(key).next() else {
        return unknown(key);
    };
    let settings_call = matches!(call, Call::CreateProfile | Call::Update);
    let session_call = matches!(call, Call::Start | Call::Resume | Call::ShareDesktop);
    if key == keys::NXPROXY {
        Error::InvalidArgument(format!(
            "{key:?} is a stored setting only (CreateProfile, Update): a call cannot choose the \
             program x2god runs"
        ))
    } else if k.secret && settings_call {
        Error::InvalidArgument(format!(
            "{key:?} cannot be stored in a profile; pass it to Connect or StoreSecret"
        ))
    } else if session_call && k.accepted_by(Call::CreateProfile) {
        Error::InvalidArgument(format!(
            "{key:?} is a connection setting, not a session option"
        ))
    } else {
        let calls: Vec<&str> = keys::named(key)
            .flat_map(|k| k.calls)
            .map(|c| c.member())
            .collect();
        Error::InvalidArgument(format!(
            "option {key:?} is not accepted here (only by {})",
            calls.join(", ")
        ))
    }
}

/// Applies one `sshproxy_*` key to the jump-host settings.
fn apply_proxy(p: &mut ProxySettings, key: &Key, v: &Variant<'_>) -> Result<(), Error> {
    let name = key.name;
    match name {
        keys::SSHPROXY_TYPE => {
            let t = string(name, v)?;
            p.kind = ProxyKind::parse(&t).ok_or_else(|| {
                Error::InvalidArgument(format!("{name} must be \"ssh\" or \"http\", not {t:?}"))
            })?;
        }
        keys::SSHPROXY_HOST => {
            // python-x2go: `host:port` overrides `sshproxy_port` (no IPv6 literals there).
            let h = string(name, v)?;
            match h.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => {
                    p.host = host.to_owned();
                    p.port =
                        port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                            Error::InvalidArgument(format!("{name} {h:?}: bad port"))
                        })?;
                }
                _ => p.host = h,
            }
        }
        keys::SSHPROXY_PORT => p.port = u16::try_from(ranged(key, v)?).unwrap_or(22),
        keys::SSHPROXY_USER => {
            let u = string(name, v)?;
            p.user = (!u.is_empty()).then_some(u);
        }
        keys::SSHPROXY_KEY_FILENAME => p.key_filename = paths(name, v)?,
        keys::SSHPROXY_ALLOW_AGENT => p.allow_agent = boolean(name, v)?,
        keys::SSHPROXY_LOOK_FOR_KEYS => p.look_for_keys = boolean(name, v)?,
        keys::SSHPROXY_FORCE_PASSWORD_AUTH => p.force_password_auth = boolean(name, v)?,
        keys::SSHPROXY_REUSE_AUTHINFO => p.reuse_authinfo = boolean(name, v)?,
        keys::SSHPROXY_TUNNEL => {
            let t = string(name, v)?;
            p.tunnel = (!t.is_empty()).then_some(t);
            p.target("", 22).map_err(Error::InvalidArgument)?;
        }
        _ => return Err(unknown(name)),
    }
    Ok(())
}

/// Applies one stored-setting key (a connection or session setting of the key table).
fn apply_setting(s: &mut ProfileSettings, key: &Key, v: &Variant<'_>) -> Result<(), Error> {
    let name = key.name;
    match name {
        keys::HOSTNAME => s.hostname = string(name, v)?,
        keys::PORT => s.port = u16::try_from(ranged(key, v)?).unwrap_or(22),
        keys::USERNAME => {
            let u = string(name, v)?;
            s.username = (!u.is_empty()).then_some(u);
        }
        keys::KEY_FILENAME => s.key_filename = paths(name, v)?,
        keys::ALLOW_AGENT => s.allow_agent = boolean(name, v)?,
        keys::LOOK_FOR_KEYS => s.look_for_keys = boolean(name, v)?,
        keys::FORCE_PASSWORD_AUTH => s.force_password_auth = boolean(name, v)?,
        keys::TIMEOUT => s.timeout = Some(seconds(name, v)?),
        keys::ADD_TO_KNOWN_HOSTS => s.add_to_known_hosts = boolean(name, v)?,
        keys::KEEPALIVE_INTERVAL => s.keepalive_interval = Some(seconds(name, v)?),
        keys::KEEPALIVE_COUNT => {
            s.keepalive_count = Some(u32::try_from(ranged(key, v)?).unwrap_or(3))
        }
        keys::AUTO_RECONNECT => s.auto_reconnect = Some(boolean(name, v)?),
        keys::AUTO_RESUME => s.auto_resume = boolean(name, v)?,
        keys::AUTOCONNECT => s.autoconnect = boolean(name, v)?,
        keys::FORWARD_SSHAGENT => s.forward_sshagent = boolean(name, v)?,
        keys::UNIQUE_HOSTKEY_ALIASES => s.unique_hostkey_aliases = boolean(name, v)?,
        keys::USE_SSH_CONFIG => s.use_ssh_config = Some(boolean(name, v)?),
        keys::POLL_INTERVAL => s.session.poll_interval = Some(seconds(name, v)?),
        keys::CMD => s.session.cmd = Some(string(name, v)?),
        keys::SESSION_TYPE => s.session.session_type = Some(string(name, v)?),
        keys::GEOMETRY => s.session.geometry = Some(string(name, v)?),
        keys::LINK => s.session.link = Some(string(name, v)?),
        keys::PACK => s.session.pack = Some(string(name, v)?),
        keys::DPI => s.session.dpi = Some(u32::try_from(ranged(key, v)?).unwrap_or(96)),
        keys::SETDPI => s.session.setdpi = Some(boolean(name, v)?),
        keys::DEPTH => s.session.depth = Some(u32::try_from(ranged(key, v)?).unwrap_or(24)),
        keys::CACHE_TYPE => s.session.cache_type = Some(string(name, v)?),
        keys::XINERAMA => s.session.xinerama = Some(boolean(name, v)?),
        keys::SET_SESSION_TITLE => s.session.set_session_title = Some(boolean(name, v)?),
        keys::SESSION_TITLE => s.session.session_title = Some(string(name, v)?),
        keys::KBLAYOUT => s.session.kblayout = Some(string(name, v)?),
        keys::KBTYPE => s.session.kbtype = Some(string(name, v)?),
        keys::KBVARIANT => s.session.kbvariant = Some(string(name, v)?),
        keys::CLIPBOARD => s.session.clipboard = Some(string(name, v)?),
        keys::NXPROXY => s.session.nxproxy = Some(PathBuf::from(string(name, v)?)),
        keys::SND_SYSTEM => s.session.snd_system = Some(string(name, v)?),
        keys::SND_PORT => s.session.snd_port = u16::try_from(ranged(key, v)?).ok(),
        keys::ALLOW_SHARE_LOCAL_FOLDERS => {
            s.session.allow_share_local_folders = Some(boolean(name, v)?)
        }
        keys::SHARE_LOCAL_FOLDERS => s.session.share_local_folders = paths(name, v)?,
        keys::RESTORE_SHARED_LOCAL_FOLDERS => {
            s.session.restore_shared_local_folders = Some(boolean(name, v)?)
        }
        keys::PRINTING => s.session.printing = Some(boolean(name, v)?),
        keys::PRINT_ACTION => s.session.print_action = Some(string(name, v)?),
        keys::PDFVIEW_CMD => s.session.pdfview_cmd = Some(string(name, v)?),
        keys::SAVE_TO_FOLDER => s.session.save_to_folder = Some(PathBuf::from(string(name, v)?)),
        keys::PRINTER => s.session.printer = Some(string(name, v)?),
        keys::PRINT_CMD => s.session.print_cmd = Some(string(name, v)?),
        keys::ALLOW_MIMEBOX => s.session.allow_mimebox = Some(boolean(name, v)?),
        keys::MIMEBOX_EXTENSIONS => {
            s.session.mimebox_extensions = paths(name, v)?
                .into_iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect()
        }
        keys::MIMEBOX_ACTION => s.session.mimebox_action = Some(string(name, v)?),
        keys::MIMEBOX_SAVE_TO_FOLDER => {
            s.session.mimebox_save_to_folder = Some(PathBuf::from(string(name, v)?))
        }
        keys::SSHPROXY_TYPE
        | keys::SSHPROXY_HOST
        | keys::SSHPROXY_PORT
        | keys::SSHPROXY_USER
        | keys::SSHPROXY_KEY_FILENAME
        | keys::SSHPROXY_ALLOW_AGENT
        | keys::SSHPROXY_LOOK_FOR_KEYS
        | keys::SSHPROXY_FORCE_PASSWORD_AUTH
        | keys::SSHPROXY_REUSE_AUTHINFO
        | keys::SSHPROXY_TUNNEL => {
            let p = s.sshproxy.get_or_insert_with(|| ProxySettings::new(""));
            apply_proxy(p, key, v)?;
        }
        _ => return Err(unknown(name)),
    }
    Ok(())
}

/// Applies `dict` (the settings or options of `call`) to `settings`, with `use_sshproxy`
/// deciding whether a jump host is used whatever order the keys come in; secret keys go to
/// `secret`.
fn apply_dict(
    call: Call,
    settings: &mut ProfileSettings,
    dict: &Dict,
    mut secret: impl FnMut(&str, &Variant<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let had_proxy = settings.sshproxy.is_some();
    let mut use_proxy = None;
    for (key, v) in dict {
        let k = entry(call, key, v)?;
        if k.secret {
            secret(key, v)?;
        } else if k.name == keys::USE_SSHPROXY {
            use_proxy = Some(boolean(key, v)?);
        } else {
            apply_setting(settings, k, v)?;
        }
    }
    match (use_proxy, settings.sshproxy.as_ref()) {
        (Some(false), _) => settings.sshproxy = None,
        (Some(true), None) => {
            return Err(Error::InvalidArgument(format!(
                "{} needs {}",
                keys::USE_SSHPROXY,
                keys::SSHPROXY_HOST
            )));
        }
        (_, Some(p)) if p.host.is_empty() => {
            return Err(Error::InvalidArgument(
                if use_proxy.is_none() && !had_proxy {
                    format!(
                        "sshproxy_* options need {}=true and {}",
                        keys::USE_SSHPROXY,
                        keys::SSHPROXY_HOST
                    )
                } else {
                    format!("{} needs {}", keys::USE_SSHPROXY, keys::SSHPROXY_HOST)
                },
            ));
        }
        (None, Some(_)) if !had_proxy => {
            return Err(Error::InvalidArgument(format!(
                "sshproxy_* options need {}=true",
                keys::USE_SSHPROXY
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Applies a `CreateProfile`/`Update` dictionary to `settings`. Secrets are refused: they are
/// never stored (`Profile.StoreSecret` puts them in the keyring).
pub fn apply_settings(settings: &mut ProfileSettings, dict: &Dict) -> Result<(), Error> {
    // The table gives both calls the same keys; it refuses the secrets, with the reason,
    // before they get here.
    apply_dict(Call::CreateProfile, settings, dict, |key, _| {
        Err(unknown(key))
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
    apply_dict(Call::Connect, settings, dict, |key, v| {
        let value = Some(Secret::new(string(key, v)?));
        match key {
            keys::PASSWORD => secrets.password = value,
            keys::PASSPHRASE => secrets.passphrase = value,
            keys::SSHPROXY_PASSWORD => secrets.proxy_password = value,
            keys::SSHPROXY_PASSPHRASE => secrets.proxy_passphrase = value,
            _ => return Err(unknown(key)),
        }
        Ok(())
    })?;
    Ok(secrets)
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
    // `Start` and `Resume` take the same keys; connection settings cannot change for one
    // session, so they are not among them.
    let mut s = settings.clone();
    let mut display = None;
    for (key, v) in dict {
        let k = entry(Call::Start, key, v)?;
        if k.name == keys::DISPLAY {
            display = Some(string(key, v)?);
        } else {
            apply_setting(&mut s, k, v)?;
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
        let k = entry(Call::ShareDesktop, key, v)?;
        match k.name {
            keys::DESKTOP => {
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
            keys::USER => user = Some(string(key, v)?),
            keys::DISPLAY => {
                display = Some(match as_i128(v) {
                    Some(n) => n.to_string(),
                    None => string(key, v)?.trim_start_matches(':').to_owned(),
                })
            }
            keys::SHARE_MODE => full_access = ranged(k, v)? == 1,
            keys::MAXWAIT => maxwait = std::time::Duration::from_secs_f64(seconds(key, v)?),
            keys::LOCAL_DISPLAY => local_display = Some(string(key, v)?),
            _ => {
                // Session keys, which `Start` takes too.
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
        _ => Err(Error::InvalidArgument(format!(
            "name the desktop: {:?} as user@:display, or {:?} and {:?}",
            keys::DESKTOP,
            keys::USER,
            keys::DISPLAY
        ))),
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
        let k = entry(Call::PublishedApplications, key, v)?;
        match k.name {
            keys::LANG => o.lang = string(key, v)?,
            keys::MAX_NO_SUBMENUS => o.max_no_submenus = i32::try_from(ranged(k, v)?).unwrap_or(10),
            keys::REFRESH => o.refresh = boolean(key, v)?,
            keys::RAW => o.raw = boolean(key, v)?,
            keys::VERY_RAW => o.very_raw = boolean(key, v)?,
            _ => return Err(unknown(key)),
        }
    }
    Ok(o)
}

/// Reads `maxwait` (seconds) from a `ListDesktops`/`ListMounts` dictionary; any other key is
/// refused.
pub fn only_maxwait(dict: &Dict) -> Result<std::time::Duration, Error> {
    let mut maxwait = crate::control::DEFAULT_MAXWAIT;
    for (k, v) in dict {
        // Both calls take only `maxwait`.
        let key = entry(Call::ListDesktops, k, v)?;
        match key.name {
            keys::MAXWAIT => maxwait = std::time::Duration::from_secs_f64(seconds(k, v)?),
            _ => return Err(unknown(k)),
        }
    }
    Ok(maxwait)
}

/// Reads a `ShareFolder` dictionary: whether the folder is shared read-only.
pub fn apply_share_folder(dict: &Dict) -> Result<bool, Error> {
    let mut read_only = false;
    for (k, v) in dict {
        let key = entry(Call::ShareFolder, k, v)?;
        match key.name {
            keys::READONLY => read_only = boolean(k, v)?,
            _ => return Err(unknown(k)),
        }
    }
    Ok(read_only)
}

/// Checks a `Terminate` dictionary: `destroy_terminals` is accepted for python-x2go
/// compatibility (the server's `x2goterminate-session` always ends the session's programs).
pub fn apply_terminate(dict: &Dict) -> Result<(), Error> {
    for (k, v) in dict {
        let key = entry(Call::Terminate, k, v)?;
        match key.name {
            keys::DESTROY_TERMINALS => {
                boolean(k, v)?;
            }
            _ => return Err(unknown(k)),
        }
    }
    Ok(())
}

/// Reads a `CleanSessions` dictionary: whether published-applications sessions go too
/// (`published_applications`, default false); `destroy_terminals` as for `Terminate`.
pub fn apply_clean(dict: &Dict) -> Result<bool, Error> {
    let mut published = false;
    for (k, v) in dict {
        let key = entry(Call::CleanSessions, k, v)?;
        match key.name {
            keys::DESTROY_TERMINALS => {
                boolean(k, v)?;
            }
            keys::PUBLISHED_APPLICATIONS => published = boolean(k, v)?,
            _ => return Err(unknown(k)),
        }
    }
    Ok(published)
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
            ("sshproxy_type", str("HTTP")),
            ("timeout", Variant::F64(7.5)),
            ("geometry", str("800x600")),
            ("dpi", Variant::U32(120)),
        ]);
        apply_settings(&mut s, &d).unwrap();
        let mut again = ProfileSettings::new("");
        apply_settings(&mut again, &crate::bus::settings_dict::settings_dict(&s)).unwrap();
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
    fn the_proxy_type_is_ssh_or_http() {
        let str = |v: &'static str| Variant::Str(Str::from(v));
        let mut s = ProfileSettings::new("srv");
        let d = dict(vec![
            ("use_sshproxy", Variant::Bool(true)),
            ("sshproxy_host", str("proxy:3128")),
            ("sshproxy_type", str("http")),
        ]);
        apply_settings(&mut s, &d).unwrap();
        let p = s.sshproxy.clone().unwrap();
        assert_eq!(
            (p.kind, p.host.as_str(), p.port),
            (ProxyKind::Http, "proxy", 3128)
        );
        let e = apply_settings(&mut s, &dict(vec![("sshproxy_type", str("socks5"))]));
        assert!(
            matches!(e, Err(Error::InvalidArgument(ref m)) if m.contains("sshproxy_type") && m.contains("socks5")),
            "{e:?}"
        );
        apply_settings(&mut s, &dict(vec![("sshproxy_type", str("ssh"))])).unwrap();
        assert_eq!(s.sshproxy.unwrap().kind, ProxyKind::Ssh);
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

    /// Parses a one-key dictionary as `call` does.
    fn parse_as(call: Call, key: &str, v: Variant<'static>) -> Result<(), Error> {
        let d = dict(vec![(key, v)]);
        let s = ProfileSettings::new("h");
        match call {
            Call::CreateProfile | Call::Update => apply_settings(&mut s.clone(), &d),
            Call::Connect => apply_connect(&mut s.clone(), &d).map(drop),
            Call::Start | Call::Resume => apply_start(&s, &d).map(drop),
            Call::ShareDesktop => apply_share(&s, &d).map(drop),
            Call::ListDesktops | Call::ListMounts => only_maxwait(&d).map(drop),
            Call::PublishedApplications => apply_apps(&d).map(drop),
            Call::Terminate => apply_terminate(&d),
            Call::CleanSessions => apply_clean(&d).map(drop),
            Call::ShareFolder => apply_share_folder(&d).map(drop),
        }
    }

    fn sample(ty: keys::Type) -> Variant<'static> {
        match ty {
            keys::Type::String => Variant::from("x"),
            keys::Type::Boolean => Variant::from(true),
            keys::Type::Integer { min, .. } => Variant::from(min),
            keys::Type::Seconds => Variant::F64(1.5),
            keys::Type::Paths => Variant::from(vec!["/k"]),
            keys::Type::IntegerOrString => Variant::U32(1),
        }
    }

    #[test]
    fn every_call_takes_the_keys_of_the_table_and_only_those() {
        for call in Call::ALL {
            for k in keys::accepted(call) {
                // A value of the right type gets past the table: an error now is about the
                // value or about another key (a jump host needs its host, …).
                if let Err(e) = parse_as(call, k.name, sample(k.ty)) {
                    let m = e.to_string();
                    assert!(
                        !m.contains("unknown option")
                            && !m.contains("not accepted")
                            && !m.contains("connection setting"),
                        "{call} {}: {m}",
                        k.name
                    );
                }
                if call != Call::CleanSessions {
                    let e = parse_as(call, k.name, Variant::from((1u32, 2u32))).unwrap_err();
                    assert!(
                        matches!(e, Error::InvalidArgument(ref m)
                            if m.contains(k.name) && m.contains(k.ty.expected())),
                        "{call} {}: {e}",
                        k.name
                    );
                }
            }
        }
    }

    #[test]
    fn get_settings_uses_the_keys_and_types_of_the_table() {
        let mut s = ProfileSettings::new("h");
        let mut d: Vec<(&str, Variant<'static>)> = keys::accepted(Call::CreateProfile)
            .filter(|k| k.name != keys::SSHPROXY_TUNNEL && k.name != keys::SSHPROXY_TYPE)
            .map(|k| (k.name, sample(k.ty)))
            .collect();
        d.push((keys::SSHPROXY_TUNNEL, Variant::from("localhost:1:srv2:22")));
        d.push((keys::SSHPROXY_TYPE, Variant::from("http")));
        apply_settings(&mut s, &dict(d)).unwrap();
        let got = crate::bus::settings_dict::settings_dict(&s);
        for k in keys::accepted(Call::CreateProfile) {
            let v = got
                .get(k.name)
                .unwrap_or_else(|| panic!("{} missing", k.name));
            assert_eq!(
                v.value_signature().to_string(),
                k.ty.signature(),
                "{}",
                k.name
            );
        }
        assert_eq!(got.len(), keys::accepted(Call::CreateProfile).count());
    }

    #[test]
    fn keys_of_other_calls_are_refused_with_a_reason() {
        let e = parse_as(Call::Start, keys::HOSTNAME, Variant::from("h")).unwrap_err();
        assert!(e.to_string().contains("connection setting"), "{e}");
        let e = parse_as(Call::Start, keys::POLL_INTERVAL, Variant::U32(5)).unwrap_err();
        assert!(e.to_string().contains("connection setting"), "{e}");
        let e = parse_as(Call::Start, keys::MAXWAIT, Variant::U32(5)).unwrap_err();
        assert!(e.to_string().contains("ListDesktops"), "{e}");
        let e = parse_as(Call::Update, keys::PASSWORD, Variant::from("pw-123")).unwrap_err();
        assert!(e.to_string().contains("StoreSecret") && !e.to_string().contains("pw-123"));
        let e = parse_as(Call::Start, keys::PKEY, Variant::from("k")).unwrap_err();
        assert!(matches!(e, Error::NotSupported(_)), "{e}");
        let e = parse_as(Call::PublishedApplications, keys::PKEY, Variant::from("k"));
        assert!(e.unwrap_err().to_string().contains("unknown option"));
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
