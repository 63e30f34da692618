//! The proxy of an x2goclient profile: `usesshproxy` and the `sshproxy*` keys.

use std::path::PathBuf;

use super::super::qt_ini::Value;
use super::super::settings::{ProxyKind, ProxySettings};
use super::Fields;

/// The proxy of a profile with `usesshproxy`; `user` is the profile's, for an HTTP proxy's
/// `sshproxysameuser`.
pub(super) fn map_proxy(f: &mut Fields<'_>, user: Option<&str>) -> Result<ProxySettings, String> {
    let hosts = f.get("sshproxyhost").map(Value::items).unwrap_or_default();
    let Some(first) = hosts.first() else {
        return Err("usesshproxy is on but sshproxyhost is empty".into());
    };
    if hosts.len() > 1 {
        f.notes.push(format!(
            "sshproxyhost lists {} hosts; using the first, {first}",
            hosts.len()
        ));
    }
    let mut p = ProxySettings::new("");
    if let Some(port) = f.port("sshproxyport")? {
        p.port = port;
    }
    // x2goclient and python-x2go both accept `host:port` here, the port overriding
    // sshproxyport; a bracketed or bare IPv6 address is kept whole (both would break it).
    let (host, port) = split_host_port(first);
    if let Some(port) = port {
        p.port = port
            .parse()
            .ok()
            .filter(|n| *n != 0)
            .ok_or_else(|| format!("sshproxyhost has {port:?} where a port belongs"))?;
    }
    p.host = host.to_owned();
    // x2goclient treats every type but HTTP as SSH.
    if f.text("sshproxytype")
        .is_some_and(|t| t.eq_ignore_ascii_case("HTTP"))
    {
        p.kind = ProxyKind::Http;
        // No default user at an HTTP proxy: "same user" must name it.
        p.user = if f.flag("sshproxysameuser", false) {
            user.map(str::to_owned)
        } else {
            f.non_empty("sshproxyuser")
        };
        p.reuse_authinfo = f.flag("sshproxysamepass", false);
        // An HTTP proxy takes no keys: sshproxykeyfile and sshproxyautologin mean nothing.
        return Ok(p);
    }
    p.user = if f.flag("sshproxysameuser", false) {
        None
    } else {
        f.non_empty("sshproxyuser")
    };
    p.key_filename = f
        .non_empty("sshproxykeyfile")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let autologin = f.flag("sshproxyautologin", true);
    p.allow_agent = autologin;
    p.look_for_keys = autologin;
    p.reuse_authinfo = f.flag("sshproxysamepass", false);
    // Written by python-x2go 0.2.1; later versions write `DEPRECATED…` there.
    p.tunnel = f
        .non_empty("sshproxytunnel")
        .filter(|t| !t.starts_with("DEPRECATED"));
    Ok(p)
}

/// Splits `host:port`, `[v6]:port` and `[v6]`; a bare IPv6 address has no port.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':'));
    }
    match s.split_once(':') {
        Some((host, port)) if !port.contains(':') => (host, Some(port)),
        _ => (s, None),
    }
}
