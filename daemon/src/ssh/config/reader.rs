//! Reading configuration files in OpenSSH's order: each line checked, the lines of matching
//! `Host`/`Match` blocks applied (first value wins), `Include` read in place, as
//! `readconf.c`'s `read_config_file_depth()` does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::expand::{self, Tokens};
use super::lexer::split_line;
use super::pattern::matches_list;
use super::{
    ConfigError, ConfigFiles, Given, HostConfig, JumpHop, MAX_FILE_BYTES, StrictHostKeyChecking,
};

/// Includes nested deeper than this are refused (OpenSSH's limit too): it ends include loops.
const MAX_DEPTH: usize = 16;

/// A value and the line it came from, for errors found when it is expanded.
#[derive(Debug, Clone)]
struct Located<T> {
    value: T,
    file: PathBuf,
    line: usize,
}

/// What `ProxyJump` or `ProxyCommand`, whichever came first, says.
#[derive(Debug, Clone)]
enum Proxy {
    Jump(Vec<JumpHop>),
    Command,
}

/// The values found so far; `None`: not yet set.
#[derive(Debug, Default)]
struct Values {
    hostname: Option<Located<String>>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<Located<String>>,
    identities_only: Option<bool>,
    proxy: Option<Located<Proxy>>,
    user_known_hosts: Option<Located<Vec<String>>>,
    global_known_hosts: Option<Located<Vec<String>>>,
    host_key_alias: Option<String>,
    connect_timeout: Option<u32>,
    server_alive_interval: Option<u32>,
    server_alive_count_max: Option<u32>,
    strict: Option<StrictHostKeyChecking>,
}

/// One lookup in progress.
pub(super) struct Reader<'a> {
    files: &'a ConfigFiles,
    /// The name looked up, as given (`%n`, `%h` in `HostName`).
    original: String,
    values: Values,
}

/// Sets `slot` to `value` unless it is set already: OpenSSH's "first value wins".
fn first<T>(active: bool, slot: &mut Option<T>, value: T) {
    if active && slot.is_none() {
        *slot = Some(value);
    }
}

impl<'a> Reader<'a> {
    pub(super) fn new(files: &'a ConfigFiles, host: &str, given: &Given) -> Reader<'a> {
        Reader {
            files,
            original: host.to_owned(),
            values: Values {
                user: given.user.clone(),
                port: given.port,
                ..Values::default()
            },
        }
    }

    /// Reads a top-level file (a missing one is empty); relative includes are under `dir`.
    pub(super) fn read_top(&mut self, file: &Path, dir: &Path) -> Result<(), ConfigError> {
        if !file.exists() {
            return Ok(());
        }
        let mut active = true;
        self.read_file(file, dir, &mut active, false, 0)
    }

    fn read_file(
        &mut self,
        file: &Path,
        dir: &Path,
        active: &mut bool,
        never_match: bool,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let text = read_text(file)?;
        for (index, raw) in text.lines().enumerate() {
            let at = |message: String| ConfigError {
                file: file.to_owned(),
                line: Some(index + 1),
                message,
            };
            let Some((keyword, args)) = split_line(raw).map_err(at)? else {
                continue;
            };
            let keyword = keyword.to_ascii_lowercase();
            match keyword.as_str() {
                "include" => {
                    if args.is_empty() {
                        return Err(at("Include needs a file name".into()));
                    }
                    if depth + 1 > MAX_DEPTH {
                        return Err(at(format!(
                            "Include nested more than {MAX_DEPTH} deep (a loop?)"
                        )));
                    }
                    for name in &args {
                        for found in self.include_matches(name, dir).map_err(at)? {
                            let saved = *active;
                            let never = never_match || !saved;
                            self.read_file(&found, dir, active, never, depth + 1)?;
                            *active = saved;
                        }
                    }
                }
                "host" => {
                    if args.is_empty() {
                        return Err(at("Host needs at least one pattern".into()));
                    }
                    let host = self.original.to_ascii_lowercase();
                    *active = !never_match && matches_list(&host, args.iter().map(String::as_str));
                }
                "match" => {
                    let matched = self.match_line(&args).map_err(at)?;
                    *active = !never_match && matched;
                }
                _ => self
                    .keyword(&keyword, &args, *active, file, index + 1)
                    .map_err(at)?,
            }
        }
        Ok(())
    }

    /// The files an `Include` argument names, in name order.
    fn include_matches(&self, name: &str, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let path = if name.starts_with('~') {
            expand::tilde(name, &self.files.home)?
        } else if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            dir.join(name)
        };
        let pattern = path.to_string_lossy();
        let paths =
            glob::glob(&pattern).map_err(|e| format!("Include {name:?}: bad pattern: {e}"))?;
        let mut found: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        found.sort();
        Ok(found)
    }

    /// Whether a `Match` line's criteria all hold; the forms that would run something or need
    /// what x2god does not have are refused.
    fn match_line(&self, args: &[String]) -> Result<bool, String> {
        if args.is_empty() {
            return Err("Match needs a criterion (all, host or originalhost)".into());
        }
        let host = self.current_host()?.to_ascii_lowercase();
        let original = self.original.to_ascii_lowercase();
        let mut all = true;
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            let (negated, name) = match arg.strip_prefix('!') {
                Some(n) => (true, n.to_ascii_lowercase()),
                None => (false, arg.to_ascii_lowercase()),
            };
            let holds = match name.as_str() {
                "all" if args.len() == 1 => true,
                "all" => return Err("Match all takes no other criteria".into()),
                "host" | "originalhost" => {
                    i += 1;
                    let list = args
                        .get(i)
                        .ok_or_else(|| format!("Match {name} needs a pattern list"))?;
                    let subject = if name == "host" { &host } else { &original };
                    matches_list(subject, list.split(','))
                }
                "exec" => {
                    return Err(
                        "Match exec is refused: x2god never runs programs from ssh_config".into(),
                    );
                }
                other => {
                    return Err(format!(
                        "Match {other} is not supported (x2god honours Match all, host and \
                         originalhost)"
                    ));
                }
            };
            all &= holds != negated;
            i += 1;
        }
        Ok(all)
    }

    /// The host a `Match host` sees: `HostName` so far with `%h` expanded, else the name.
    fn current_host(&self) -> Result<String, String> {
        match &self.values.hostname {
            Some(h) => self.expand_hostname(&h.value),
            None => Ok(self.original.clone()),
        }
    }

    fn expand_hostname(&self, raw: &str) -> Result<String, String> {
        let t = self.tokens(&self.original);
        expand::percent(raw, &t, "h")
    }

    /// Checks one keyword line and, in an active block, keeps its value unless one is kept.
    fn keyword(
        &mut self,
        keyword: &str,
        args: &[String],
        active: bool,
        file: &Path,
        line: usize,
    ) -> Result<(), String> {
        let v = &mut self.values;
        let one = || match args {
            [a] => Ok(a.as_str()),
            [] => Err(format!("{keyword} needs a value")),
            _ => Err(format!("{keyword} takes one value, not {}", args.len())),
        };
        fn located<T>(value: T, file: &Path, line: usize) -> Located<T> {
            Located {
                value,
                file: file.to_owned(),
                line,
            }
        }
        match keyword {
            "hostname" => first(
                active,
                &mut v.hostname,
                located(one()?.to_owned(), file, line),
            ),
            "user" => first(active, &mut v.user, one()?.to_owned()),
            "port" => first(active, &mut v.port, expand::port(one()?)?),
            "identityfile" => {
                let f = one()?;
                if active && !f.eq_ignore_ascii_case("none") {
                    v.identity_files.push(located(f.to_owned(), file, line));
                }
            }
            "identitiesonly" => first(active, &mut v.identities_only, expand::flag(one()?)?),
            "proxyjump" => {
                let hops = expand::proxy_jump(one()?)?;
                first(active, &mut v.proxy, located(Proxy::Jump(hops), file, line));
            }
            "proxycommand" => {
                let proxy = match args {
                    [] => return Err("ProxyCommand needs a value".into()),
                    [none] if none.eq_ignore_ascii_case("none") => Proxy::Jump(Vec::new()),
                    _ => Proxy::Command,
                };
                first(active, &mut v.proxy, located(proxy, file, line));
            }
            "userknownhostsfile" | "globalknownhostsfile" => {
                if args.is_empty() {
                    return Err(format!("{keyword} needs a file name"));
                }
                let files = match args {
                    [none] if none.eq_ignore_ascii_case("none") => Vec::new(),
                    _ => args.to_vec(),
                };
                let slot = if keyword == "userknownhostsfile" {
                    &mut v.user_known_hosts
                } else {
                    &mut v.global_known_hosts
                };
                first(active, slot, located(files, file, line));
            }
            "hostkeyalias" => first(active, &mut v.host_key_alias, one()?.to_owned()),
            "connecttimeout" => {
                let value = one()?;
                if !value.eq_ignore_ascii_case("none") {
                    first(active, &mut v.connect_timeout, expand::seconds(value)?);
                }
            }
            "serveraliveinterval" => {
                first(
                    active,
                    &mut v.server_alive_interval,
                    expand::seconds(one()?)?,
                );
            }
            "serveralivecountmax" => {
                let value = one()?;
                let n = value
                    .parse::<u32>()
                    .map_err(|_| format!("{value:?} is not a count"))?;
                first(active, &mut v.server_alive_count_max, n);
            }
            "stricthostkeychecking" => {
                let mode = match one()?.to_ascii_lowercase().as_str() {
                    "yes" | "true" => StrictHostKeyChecking::Yes,
                    "ask" => StrictHostKeyChecking::Ask,
                    "accept-new" => StrictHostKeyChecking::AcceptNew,
                    "no" | "off" | "false" => StrictHostKeyChecking::No,
                    other => {
                        return Err(format!("{other:?} is not yes, ask, accept-new, no or off"));
                    }
                };
                first(active, &mut v.strict, mode);
            }
            // Every other keyword is some option x2god has no use for.
            _ => {}
        }
        Ok(())
    }

    fn tokens<'t>(&'t self, host: &'t str) -> Tokens<'t> {
        Tokens {
            home: &self.files.home,
            local_user: &self.files.local_user,
            host,
            original: &self.original,
            remote_user: self
                .values
                .user
                .as_deref()
                .unwrap_or(&self.files.local_user),
            port: self.values.port.unwrap_or(22),
        }
    }

    /// The values, expanded.
    pub(super) fn finish(self) -> Result<HostConfig, ConfigError> {
        let place = |file: &Path, line: usize| {
            let file = file.to_owned();
            move |message: String| ConfigError {
                file,
                line: Some(line),
                message,
            }
        };
        let hostname = match &self.values.hostname {
            Some(h) => self
                .expand_hostname(&h.value)
                .map_err(place(&h.file, h.line))?,
            None => self.original.clone(),
        };
        let t = self.tokens(&hostname);
        let files = |l: &Located<Vec<String>>| -> Result<Vec<PathBuf>, ConfigError> {
            l.value
                .iter()
                .map(|f| expand::file(f, &t).map_err(place(&l.file, l.line)))
                .collect()
        };
        let v = &self.values;
        let identity_files = v
            .identity_files
            .iter()
            .map(|f| expand::file(&f.value, &t).map_err(place(&f.file, f.line)))
            .collect::<Result<Vec<_>, _>>()?;
        let proxy_jump = match &v.proxy {
            None => None,
            Some(Located {
                value: Proxy::Jump(hops),
                ..
            }) => Some(hops.clone()),
            Some(Located {
                value: Proxy::Command,
                file,
                line,
            }) => {
                return Err(place(file, *line)(
                    "ProxyCommand is refused: x2god never runs programs from ssh_config; use \
                     ProxyJump"
                        .into(),
                ));
            }
        };
        Ok(HostConfig {
            user: v.user.clone(),
            port: v.port,
            identity_files,
            identities_only: v.identities_only,
            proxy_jump,
            user_known_hosts_files: v.user_known_hosts.as_ref().map(files).transpose()?,
            global_known_hosts_files: v.global_known_hosts.as_ref().map(files).transpose()?,
            host_key_alias: v.host_key_alias.clone(),
            connect_timeout: v.connect_timeout.map(|s| Duration::from_secs(s.into())),
            server_alive_interval: v
                .server_alive_interval
                .map(|s| Duration::from_secs(s.into())),
            server_alive_count_max: v.server_alive_count_max,
            strict_host_key_checking: v.strict,
            hostname,
        })
    }
}

/// The text of a configuration file: a regular file of at most [`MAX_FILE_BYTES`] in UTF-8.
/// Checked before it is opened, so that a FIFO or a device cannot block the read.
fn read_text(file: &Path) -> Result<String, ConfigError> {
    let err = |message: String| ConfigError {
        file: file.to_owned(),
        line: None,
        message,
    };
    // `ssh -F /dev/null` is the usual way to say "no configuration": honour it.
    if file == Path::new("/dev/null") {
        return Ok(String::new());
    }
    let meta = std::fs::metadata(file).map_err(|e| err(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(err(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    let mut text = String::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_FILE_BYTES).read_to_string(&mut text))
        .map_err(|e| err(format!("cannot read it: {e}")))?;
    Ok(text)
}
