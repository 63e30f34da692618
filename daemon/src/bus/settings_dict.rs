//! The other direction of `options`: a profile's stored settings as the `a{sv}` that
//! `CreateProfile` takes (`GetSettings`), so that a caller can copy or edit a profile.

use std::collections::HashMap;
use std::path::PathBuf;

use x2god_proto::keys;
use zbus::{OwnedVariant, Variant};

use crate::profiles::ProfileSettings;

/// Every stored setting of `s` as an `a{sv}` with the keys `CreateProfile` takes; unset
/// optional values are left out. Secrets are never part of settings.
pub fn settings_dict(s: &ProfileSettings) -> HashMap<String, OwnedVariant> {
    fn put<'a>(d: &mut HashMap<String, OwnedVariant>, k: &str, v: impl Into<Variant<'a>>) {
        if let Ok(v) = OwnedVariant::try_from(v.into()) {
            d.insert(k.to_owned(), v);
        }
    }
    fn paths(p: &[PathBuf]) -> Vec<String> {
        p.iter().map(|p| p.display().to_string()).collect()
    }
    let mut d = HashMap::new();
    put(&mut d, keys::HOSTNAME, s.hostname.as_str());
    put(&mut d, keys::PORT, s.port);
    if let Some(u) = &s.username {
        put(&mut d, keys::USERNAME, u.as_str());
    }
    put(&mut d, keys::KEY_FILENAME, paths(&s.key_filename));
    for (k, v) in [
        (keys::ALLOW_AGENT, s.allow_agent),
        (keys::LOOK_FOR_KEYS, s.look_for_keys),
        (keys::FORCE_PASSWORD_AUTH, s.force_password_auth),
        (keys::ADD_TO_KNOWN_HOSTS, s.add_to_known_hosts),
        (keys::AUTO_RESUME, s.auto_resume),
        (keys::AUTOCONNECT, s.autoconnect),
        (keys::FORWARD_SSHAGENT, s.forward_sshagent),
        (keys::UNIQUE_HOSTKEY_ALIASES, s.unique_hostkey_aliases),
        (keys::USE_SSHPROXY, s.sshproxy.is_some()),
    ] {
        put(&mut d, k, v);
    }
    if let Some(t) = s.timeout {
        put(&mut d, keys::TIMEOUT, t);
    }
    if let Some(t) = s.keepalive_interval {
        put(&mut d, keys::KEEPALIVE_INTERVAL, t);
    }
    if let Some(c) = s.keepalive_count {
        put(&mut d, keys::KEEPALIVE_COUNT, c);
    }
    if let Some(r) = s.auto_reconnect {
        put(&mut d, keys::AUTO_RECONNECT, r);
    }
    if let Some(u) = s.use_ssh_config {
        put(&mut d, keys::USE_SSH_CONFIG, u);
    }
    if let Some(p) = &s.sshproxy {
        put(&mut d, keys::SSHPROXY_TYPE, p.kind.as_str());
        put(&mut d, keys::SSHPROXY_HOST, p.host.as_str());
        put(&mut d, keys::SSHPROXY_PORT, p.port);
        if let Some(u) = &p.user {
            put(&mut d, keys::SSHPROXY_USER, u.as_str());
        }
        put(&mut d, keys::SSHPROXY_KEY_FILENAME, paths(&p.key_filename));
        put(&mut d, keys::SSHPROXY_ALLOW_AGENT, p.allow_agent);
        put(&mut d, keys::SSHPROXY_LOOK_FOR_KEYS, p.look_for_keys);
        put(
            &mut d,
            keys::SSHPROXY_FORCE_PASSWORD_AUTH,
            p.force_password_auth,
        );
        put(&mut d, keys::SSHPROXY_REUSE_AUTHINFO, p.reuse_authinfo);
        if let Some(t) = &p.tunnel {
            put(&mut d, keys::SSHPROXY_TUNNEL, t.as_str());
        }
    }
    let ss = &s.session;
    for (k, v) in [
        (keys::CMD, &ss.cmd),
        (keys::SESSION_TYPE, &ss.session_type),
        (keys::GEOMETRY, &ss.geometry),
        (keys::LINK, &ss.link),
        (keys::PACK, &ss.pack),
        (keys::CACHE_TYPE, &ss.cache_type),
        (keys::SESSION_TITLE, &ss.session_title),
        (keys::KBLAYOUT, &ss.kblayout),
        (keys::KBTYPE, &ss.kbtype),
        (keys::KBVARIANT, &ss.kbvariant),
        (keys::CLIPBOARD, &ss.clipboard),
        (keys::SND_SYSTEM, &ss.snd_system),
        (keys::PRINT_ACTION, &ss.print_action),
        (keys::PDFVIEW_CMD, &ss.pdfview_cmd),
        (keys::PRINTER, &ss.printer),
        (keys::PRINT_CMD, &ss.print_cmd),
        (keys::MIMEBOX_ACTION, &ss.mimebox_action),
    ] {
        if let Some(v) = v {
            put(&mut d, k, v.as_str());
        }
    }
    if let Some(dpi) = ss.dpi {
        put(&mut d, keys::DPI, dpi);
    }
    if let Some(port) = ss.snd_port {
        put(&mut d, keys::SND_PORT, port);
    }
    if let Some(depth) = ss.depth {
        put(&mut d, keys::DEPTH, depth);
    }
    if let Some(n) = &ss.nxproxy {
        put(&mut d, keys::NXPROXY, n.display().to_string());
    }
    if let Some(t) = ss.poll_interval {
        put(&mut d, keys::POLL_INTERVAL, t);
    }
    for (k, v) in [
        (
            keys::ALLOW_SHARE_LOCAL_FOLDERS,
            ss.allow_share_local_folders,
        ),
        (
            keys::RESTORE_SHARED_LOCAL_FOLDERS,
            ss.restore_shared_local_folders,
        ),
        (keys::PRINTING, ss.printing),
        (keys::SETDPI, ss.setdpi),
        (keys::XINERAMA, ss.xinerama),
        (keys::SET_SESSION_TITLE, ss.set_session_title),
        (keys::ALLOW_MIMEBOX, ss.allow_mimebox),
    ] {
        if let Some(v) = v {
            put(&mut d, k, v);
        }
    }
    if !ss.share_local_folders.is_empty() {
        put(
            &mut d,
            keys::SHARE_LOCAL_FOLDERS,
            paths(&ss.share_local_folders),
        );
    }
    if !ss.mimebox_extensions.is_empty() {
        put(
            &mut d,
            keys::MIMEBOX_EXTENSIONS,
            ss.mimebox_extensions.clone(),
        );
    }
    for (k, v) in [
        (keys::SAVE_TO_FOLDER, &ss.save_to_folder),
        (keys::MIMEBOX_SAVE_TO_FOLDER, &ss.mimebox_save_to_folder),
    ] {
        if let Some(v) = v {
            put(&mut d, k, v.display().to_string());
        }
    }
    d
}
