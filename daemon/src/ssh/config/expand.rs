//! Values of honoured keywords: `%` tokens and `~`, OpenSSH's time intervals, yes/no flags and
//! `ProxyJump` hops. Each returns a message; the reader places it at its file and line.

use std::path::{Path, PathBuf};

use super::JumpHop;

/// What the `%` tokens of a value expand to.
pub(super) struct Tokens<'a> {
    /// `%d`: the home directory.
    pub(super) home: &'a Path,
    /// `%u`: the local user.
    pub(super) local_user: &'a str,
    /// `%h`: the host connected to (after `HostName`).
    pub(super) host: &'a str,
    /// `%n`: the name as given.
    pub(super) original: &'a str,
    /// `%r`: the remote user.
    pub(super) remote_user: &'a str,
    /// `%p`: the port.
    pub(super) port: u16,
}

/// Expands the tokens of `value` that `allowed` lists (`%%` always).
pub(super) fn percent(value: &str, t: &Tokens<'_>, allowed: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(tok) = chars.next() else {
            return Err(format!("{value:?} ends in a lone '%'"));
        };
        if tok != '%' && !allowed.contains(tok) {
            return Err(format!(
                "the token %{tok} in {value:?} is not supported here (x2god knows %{} and %%)",
                allowed
                    .chars()
                    .map(String::from)
                    .collect::<Vec<_>>()
                    .join(" %")
            ));
        }
        match tok {
            '%' => out.push('%'),
            'd' => out.push_str(&t.home.to_string_lossy()),
            'u' => out.push_str(t.local_user),
            'h' => out.push_str(t.host),
            'n' => out.push_str(t.original),
            'r' => out.push_str(t.remote_user),
            'p' => out.push_str(&t.port.to_string()),
            _ => return Err(format!("the token %{tok} is not supported")),
        }
    }
    Ok(out)
}

/// A path with a leading `~/` (or `~` alone) under `home`; `~user` is refused.
pub(super) fn tilde(value: &str, home: &Path) -> Result<PathBuf, String> {
    if value == "~" {
        return Ok(home.to_owned());
    }
    if let Some(rest) = value.strip_prefix("~/") {
        return Ok(home.join(rest));
    }
    if value.starts_with('~') {
        return Err(format!(
            "{value:?}: only ~/ (the own home) is expanded, not another user's"
        ));
    }
    Ok(PathBuf::from(value))
}

/// A file name value: tokens, then `~`; relative names are relative to the home directory as
/// in OpenSSH (`IdentityFile`, `UserKnownHostsFile`).
pub(super) fn file(value: &str, t: &Tokens<'_>) -> Result<PathBuf, String> {
    let expanded = percent(value, t, "dhnpru")?;
    let path = tilde(&expanded, t.home)?;
    Ok(if path.is_absolute() {
        path
    } else {
        t.home.join(path)
    })
}

/// OpenSSH's time format (`convtime`): seconds, or numbers with `s`, `m`, `h`, `d`, `w`
/// suffixes, concatenated (`1m30s`). At most a day: more makes no sense for these keywords.
pub(super) fn seconds(value: &str) -> Result<u32, String> {
    let bad = || format!("{value:?} is not a time (seconds, or e.g. 30s, 2m)");
    if value.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in value.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total.saturating_add(n.saturating_mul(unit));
        digits.clear();
    }
    if !digits.is_empty() {
        total = total.saturating_add(digits.parse::<u64>().map_err(|_| bad())?);
    }
    u32::try_from(total)
        .ok()
        .filter(|t| *t <= 86_400)
        .ok_or_else(|| format!("{value:?} is longer than a day"))
}

/// `yes`/`true` or `no`/`false`.
pub(super) fn flag(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("{value:?} is neither yes nor no")),
    }
}

/// A port number, 1 to 65535.
pub(super) fn port(value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{value:?} is not a port number (1 to 65535)"))
}

/// The hops of a `ProxyJump` value; empty for `none`.
pub(super) fn proxy_jump(value: &str) -> Result<Vec<JumpHop>, String> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    value.split(',').map(hop).collect()
}

/// One hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`, IPv6 literals in brackets.
fn hop(spec: &str) -> Result<JumpHop, String> {
    let bad = |why: &str| format!("ProxyJump hop {spec:?}: {why}");
    let s = spec.strip_prefix("ssh://").unwrap_or(spec);
    let s = s.strip_suffix('/').unwrap_or(s);
    let (user, rest) = match s.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_owned()), r),
        Some(_) => return Err(bad("empty user name")),
        None => (None, s),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        match after {
            "" => (h, None),
            p => (
                h,
                Some(p.strip_prefix(':').ok_or_else(|| bad("text after ']'"))?),
            ),
        }
    } else {
        match rest.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            Some(_) => (rest, None),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = port
        .map(|p| self::port(p).map_err(|e| bad(&e)))
        .transpose()?;
    Ok(JumpHop {
        user,
        host: host.to_owned(),
        port,
    })
}
