//! Import of x2goclient / python-x2go session profiles (`~/.x2goclient/sessions`).
//!
//! The file is written by Qt's `QSettings` in INI format: one section per profile, named by the
//! profile id (`[20231012093512871]`), the display name in `name=`. [`parse`] reads it the way
//! `QSettings` does (quotes, backslash escapes, unquoted commas making lists, `@Invalid()`), and
//! maps each profile onto [`ProfileSettings`] the way python-x2go's
//! `_convert_SessionProfileOptions_2_SessionParams` maps it onto `connect()` and session
//! parameters. Nothing is validated here beyond what the mapping needs: values x2god refuses
//! later (a pack method, a keyboard type) are passed through as written.
//!
//! The INI dialect itself is read by `qt_ini`; this module only knows what the keys mean.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::qt_ini::{Value, decode_value, read_sections};
use super::settings::{ProfileSettings, SessionSettings};
use proxy::map_proxy;

/// Where x2goclient, PyHoca-GUI and python-x2go keep a user's session profiles.
pub fn default_path(home: &Path) -> PathBuf {
    home.join(".x2goclient").join("sessions")
}

/// One profile of the file, mapped onto x2god's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedProfile {
    /// The section name: x2goclient's profile id, e.g. `20231012093512871`.
    pub id: String,
    /// The display name (`name=`), trimmed as x2goclient shows it, or the id when unset. It may
    /// hold x2goclient's folder path (`Office/Server 2`) and is not checked against
    /// [`super::validate_profile_name`]; names need not be unique in the file either.
    pub name: String,
    /// The mapped settings.
    pub settings: ProfileSettings,
    /// Keys, in file order, set to a value that changes what x2goclient or python-x2go does but
    /// that x2god does not act on (Kerberos, an RDP command, …).
    /// Names only: values such as `rdpoptions` may hold passwords.
    pub ignored: Vec<String>,
    /// Why x2god cannot connect this profile as configured (an HTTP proxy, a direct RDP
    /// connection, a bad port); `None` when it can. `settings` is still filled as far as possible.
    pub unsupported: Option<String>,
    /// Adjustments made while mapping, for a log line: several hosts reduced to the first, a value
    /// that could not be read and was left at its default, a missing name.
    pub notes: Vec<String>,
}

/// A section that is not imported as a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedProfile {
    /// The section name.
    pub id: String,
    /// The profile's `name=`, when it has one.
    pub name: Option<String>,
    /// Why it is skipped.
    pub reason: String,
}

/// Everything read from a sessions file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Import {
    /// The profiles, in file order.
    pub profiles: Vec<ImportedProfile>,
    /// Sections that are no importable profile (no host, x2goclient's `embedded` section).
    pub skipped: Vec<SkippedProfile>,
    /// Problems with the file itself, such as lines that are neither a section header nor
    /// `key=value`; such lines are skipped as `QSettings` skips them. At most
    /// [`MAX_WARNINGS`] entries and a count of the rest, so a wrong file cannot flood a log.
    pub warnings: Vec<String>,
}

/// The most warnings [`Import::warnings`] lists one by one.
pub const MAX_WARNINGS: usize = 20;

/// Reads a sessions file. Never fails: a file that is no sessions file at all yields no
/// profiles and a list of warnings.
pub fn parse(text: &str) -> Import {
    let mut warnings = Warnings::default();
    let sections = read_sections(text, &mut |w| warnings.push(w));
    let mut import = Import::default();
    for section in sections {
        // python-x2go skips these two; x2goclient keeps its embedded mode's settings in the
        // former.
        let not_a_profile = match section.name.as_str() {
            "embedded" => Some("x2goclient's embedded-mode settings, not a profile"),
            "none" => Some("python-x2go's placeholder section, not a profile"),
            _ => None,
        };
        if let Some(reason) = not_a_profile {
            import.skipped.push(SkippedProfile {
                id: section.name,
                name: None,
                reason: reason.into(),
            });
            continue;
        }
        let entries: Vec<(String, Value)> = section
            .entries
            .into_iter()
            .map(|(k, raw)| (k, decode_value(&raw)))
            .collect();
        match map_profile(&section.name, &entries) {
            Ok(p) => import.profiles.push(p),
            Err(s) => import.skipped.push(s),
        }
    }
    import.warnings = warnings.finish();
    import
}

/// The first [`MAX_WARNINGS`] problems with the file, and a count of the rest.
#[derive(Default)]
struct Warnings {
    list: Vec<String>,
    left_out: usize,
}

impl Warnings {
    fn push(&mut self, w: String) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
        } else {
            self.left_out += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.left_out > 0 {
            self.list
                .push(format!("{} more warnings left out", self.left_out));
        }
        self.list
    }
}

// ---------------------------------------------------------------------------------------------
// Profile keys → ProfileSettings
// ---------------------------------------------------------------------------------------------

/// Keys mapped onto settings (never listed as ignored).
const MAPPED: &[&str] = &[
    "name",
    "host",
    "sshport",
    "user",
    "key",
    "autologin",
    "autoconnect",
    "forwardsshagent",
    "uniquehostkeyaliases",
    "usesshproxy",
    "sshproxytype",
    "sshproxyhost",
    "sshproxyport",
    "sshproxyuser",
    "sshproxykeyfile",
    "sshproxyautologin",
    "sshproxysameuser",
    "sshproxysamepass",
    "sshproxytunnel",
    "command",
    "rootless",
    "published",
    "speed",
    "pack",
    "quality",
    "dpi",
    "setdpi",
    "width",
    "height",
    "fullscreen",
    "maxdim",
    "xinerama",
    "setsessiontitle",
    "sessiontitle",
    "usekbd",
    "layout",
    "type",
    "variant",
    "clipboard",
    "useexports",
    "export",
    "restoreexports",
    "print",
    "usemimebox",
    "mimeboxextensions",
    "mimeboxaction",
    "sound",
    "soundsystem",
    "defsndport",
    "sndport",
];

/// Switches x2god does not act on, listed as ignored when on (python-x2go's default for all of
/// them is off; x2goclient turns `sound` and `print` on by default, which a log line should
/// mention all the more).
const IGNORED_SWITCHES: &[&str] = &[
    "useiconv",
    "multidisp",
    "krblogin",
    "krbdelegation",
    "kdrive",
    "autostart",
];

/// Keys that only refine a switch above, an RDP/XDMCP command or the look of x2goclient; their
/// values alone change nothing, so they are never listed.
const INERT: &[&str] = &[
    "startsoundsystem",
    "soundtunnel",
    "iconvto",
    "iconvfrom",
    "display",
    "fstunnel",
    "icon",
    "applications",
    "rdpoptions",
    "rdpserver",
    "rdpport",
    "rdpclient",
    "directrdp",
    "directrdpsettings",
    "xdmcpserver",
    "sshproxykrblogin",
];

/// Pack methods that take a quality suffix (python-x2go's `…-%` entries).
const PACK_WITH_QUALITY: &[&str] = &[
    "8-jpeg",
    "16m-jpeg",
    "8-png-jpeg",
    "16m-png-jpeg",
    "8-png",
    "16m-png",
    "16m-rgb",
    "16m-rle",
];

/// `speed` 0 to 4, as python-x2go and x2goclient name them.
const LINKS: [&str; 5] = ["modem", "isdn", "adsl", "wan", "lan"];

/// Session commands x2god cannot start from a profile: RDP and XDMCP need client-side pieces,
/// and a shadow session needs the user and display to shadow.
const FOREIGN_COMMANDS: &[&str] = &["RDP", "XDMCP", "SHADOW"];

/// A profile's values with typed access; reading problems become notes.
struct Fields<'a> {
    values: HashMap<&'a str, &'a Value>,
    /// Each key once, in order of first appearance.
    keys: Vec<&'a str>,
    notes: Vec<String>,
}

impl<'a> Fields<'a> {
    fn new(entries: &'a [(String, Value)]) -> Fields<'a> {
        let mut values = HashMap::new();
        let mut keys = Vec::new();
        for (k, v) in entries {
            // The last occurrence wins, as in QSettings.
            if values.insert(k.as_str(), v).is_none() {
                keys.push(k.as_str());
            }
        }
        Fields {
            values,
            keys,
            notes: Vec::new(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.values.get(key).copied()
    }

    fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The trimmed text, as x2goclient reads its strings (`toString().trimmed()`).
    fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(|v| v.text().trim().to_owned())
    }

    fn non_empty(&self, key: &str) -> Option<String> {
        self.text(key).filter(|s| !s.is_empty())
    }

    /// A switch: Qt writes `true`/`false`, python-x2go `1`/`0`.
    fn flag(&mut self, key: &str, default: bool) -> bool {
        let Some(v) = self.get(key) else {
            return default;
        };
        let parsed = match v {
            Value::Invalid => Some(false),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Some(true),
                "false" | "0" | "no" | "off" | "" => Some(false),
                _ => None,
            },
            Value::List(_) => None,
        };
        parsed.unwrap_or_else(|| {
            self.notes
                .push(format!("{key} is not true or false; taken as {default}"));
            default
        })
    }

    /// An integer; `None` when absent or unreadable (then with a note).
    fn number(&mut self, key: &str) -> Option<i64> {
        let text = self.text(key)?;
        let parsed = text.parse().ok();
        if parsed.is_none() {
            self.notes
                .push(format!("{key} is not a number; left at its default"));
        }
        parsed
    }

    /// A TCP port; `Err` with a reason when present but no port.
    fn port(&mut self, key: &str) -> Result<Option<u16>, String> {
        if !self.has(key) {
            return Ok(None);
        }
        match self.number(key) {
            Some(n) => u16::try_from(n)
                .ok()
                .filter(|p| *p != 0)
                .map(Some)
                .ok_or_else(|| format!("{key} {n} is not a TCP port")),
            None => Ok(None),
        }
    }
}

fn map_profile(id: &str, entries: &[(String, Value)]) -> Result<ImportedProfile, SkippedProfile> {
    let mut f = Fields::new(entries);
    let name = f.non_empty("name");
    let direct_rdp = f.text("command").as_deref() == Some("RDP") && f.flag("directrdp", false);
    let hosts = f.get("host").map(Value::items).unwrap_or_default();
    let Some(host) = hosts.first() else {
        return Err(SkippedProfile {
            id: id.to_owned(),
            name,
            reason: if direct_rdp {
                "a direct RDP connection without an X2Go server".into()
            } else {
                "no host".into()
            },
        });
    };
    let mut unsupported = Vec::new();
    if direct_rdp {
        unsupported.push(
            "a direct RDP connection (directrdp): x2god only connects to X2Go servers".to_owned(),
        );
    }
    if hosts.len() > 1 {
        // python-x2go picks one at random; a fixed choice keeps host keys and logs stable.
        f.notes.push(format!(
            "host lists {} servers; using the first, {host}",
            hosts.len()
        ));
    }

    let mut s = ProfileSettings::new(host.clone());
    match f.port("sshport") {
        Ok(Some(p)) => s.port = p,
        Ok(None) => {}
        Err(e) => unsupported.push(e),
    }
    s.username = f.non_empty("user");
    // Kept as written; x2god expands `~` when it connects.
    s.key_filename = f.non_empty("key").map(PathBuf::from).into_iter().collect();
    // python-x2go: autologin is look_for_keys, and look_for_keys turns on allow_agent.
    let autologin = f.flag("autologin", true);
    s.allow_agent = autologin;
    s.look_for_keys = autologin;
    s.autoconnect = f.flag("autoconnect", false);
    s.forward_sshagent = f.flag("forwardsshagent", false);
    s.unique_hostkey_aliases = f.flag("uniquehostkeyaliases", false);

    let mut ignored: HashSet<&str> = HashSet::new();
    if f.flag("usesshproxy", false) {
        match map_proxy(&mut f, s.username.as_deref()) {
            Ok(p) => s.sshproxy = Some(p),
            Err(e) => unsupported.push(e),
        }
        if f.flag("sshproxykrblogin", false) {
            ignored.insert("sshproxykrblogin");
        }
    }

    s.session = map_session(&mut f, &mut ignored);

    for &key in IGNORED_SWITCHES {
        if f.has(key) && f.flag(key, false) {
            ignored.insert(key);
        }
    }
    map_features(&mut f, &mut s.session);
    let unknown: Vec<&str> = f
        .keys
        .iter()
        .copied()
        .filter(|k| !MAPPED.contains(k) && !IGNORED_SWITCHES.contains(k) && !INERT.contains(k))
        .filter(|k| f.get(k).is_some_and(is_meaningful))
        .collect();
    ignored.extend(unknown);

    let ignored = f
        .keys
        .iter()
        .filter(|k| ignored.contains(*k))
        .map(|k| (*k).to_owned())
        .collect();
    let name = name.unwrap_or_else(|| {
        f.notes.push("no name; the profile id is used".into());
        id.to_owned()
    });
    Ok(ImportedProfile {
        id: id.to_owned(),
        name,
        settings: s,
        ignored,
        unsupported: (!unsupported.is_empty()).then(|| unsupported.join("; ")),
        notes: f.notes,
    })
}

/// Whether a key x2god does not know is set to something: not empty, not off.
fn is_meaningful(v: &Value) -> bool {
    let t = v.text();
    let t = t.trim();
    !(t.is_empty() || t == "0" || t.eq_ignore_ascii_case("false"))
}

/// `export` holds `path:1;path:0;` (x2goclient) or a quoted form of it (python-x2go).
/// Folders, printing and the MIME box, as python-x2go reads them (`utils.py`): `export` lists
/// `path:1` (shared at start) or `path:0` entries, separated by `;` (old files: `,`); a bare
/// path means `:1`. `fstunnel` is always on for x2god.
fn map_features(f: &mut Fields<'_>, ss: &mut SessionSettings) {
    ss.allow_share_local_folders = Some(f.flag("useexports", true));
    if let Some(export) = f.text("export") {
        for entry in export.replace(',', ";").trim_matches('"').split(';') {
            let entry = entry.trim();
            let (path, on) = match entry.rsplit_once(':') {
                Some((p, flag)) => (p, flag == "1"),
                None => (entry, true),
            };
            if on && !path.is_empty() {
                ss.share_local_folders.push(PathBuf::from(path));
            }
        }
    }
    if f.has("restoreexports") {
        ss.restore_shared_local_folders = Some(f.flag("restoreexports", false));
    }
    if f.has("print") {
        ss.printing = Some(f.flag("print", false));
    }
    if f.has("usemimebox") {
        ss.allow_mimebox = Some(f.flag("usemimebox", false));
    }
    if let Some(v) = f.get("mimeboxextensions") {
        ss.mimebox_extensions = v
            .items()
            .iter()
            .flat_map(|i| i.split(','))
            .map(|e| e.trim().trim_start_matches('.').to_owned())
            .filter(|e| !e.is_empty())
            .collect();
    }
    map_sound(f, ss);
    // python-x2go falls back to OPEN for names it does not know.
    if let Some(a) = f.non_empty("mimeboxaction") {
        ss.mimebox_action = Some(if ["OPEN", "OPENWITH", "SAVEAS"].contains(&a.as_str()) {
            a
        } else {
            "OPEN".into()
        });
    }
}

/// Sound as python-x2go reads it: `sound` off is `none`, else `soundsystem` (x2god's default,
/// `pulse`, when unset). `sndport` is the local sound server's TCP port; x2goclient writes
/// 4713 whether or not it is used, so it counts only with `defsndport` off (x2god otherwise
/// reaches the sound server by its socket).
fn map_sound(f: &mut Fields<'_>, ss: &mut SessionSettings) {
    if f.has("sound") && !f.flag("sound", true) {
        ss.snd_system = Some("none".into());
    } else if let Some(system) = f.non_empty("soundsystem") {
        ss.snd_system = Some(system);
    }
    if !f.flag("defsndport", true) {
        match f.number("sndport").map(u16::try_from) {
            Some(Ok(port)) if port != 0 => ss.snd_port = Some(port),
            Some(_) => f.notes.push("sndport is not a port; not set".into()),
            None => {}
        }
    }
}

fn map_session(f: &mut Fields<'_>, ignored: &mut HashSet<&str>) -> SessionSettings {
    let mut ss = SessionSettings::default();

    if f.flag("published", false) {
        // python-x2go runs `PUBLISHED` for a published-applications profile, whatever the
        // command says.
        ss.session_type = Some("published".into());
        ss.cmd = Some("PUBLISHED".into());
    } else {
        let command = f
            .text("command")
            .map(|c| if c == "XFCE4" { "XFCE".to_owned() } else { c });
        match command {
            Some(c) if FOREIGN_COMMANDS.contains(&c.as_str()) => {
                ignored.insert("command");
                f.notes.push(format!(
                    "x2god cannot start {c} sessions; no session command imported"
                ));
            }
            command => {
                // Only when the file says so: python-x2go and x2goclient disagree on the
                // default, and x2god derives the type from the command when unset.
                if f.has("rootless") {
                    let rootless = f.flag("rootless", true);
                    ss.session_type = Some(if rootless { "application" } else { "desktop" }.into());
                }
                ss.cmd = command.filter(|c| !c.is_empty());
            }
        }
    }

    if ["fullscreen", "maxdim", "width", "height"]
        .iter()
        .any(|k| f.has(k))
    {
        ss.geometry = Some(if f.flag("fullscreen", false) {
            "fullscreen".into()
        } else if f.flag("maxdim", false) {
            "maximize".into()
        } else {
            let width = f.number("width").unwrap_or(800);
            let height = f.number("height").unwrap_or(600);
            format!("{width}x{height}")
        });
    }

    // x2goclient writes the index, python-x2go also accepts the name.
    ss.link = f.non_empty("speed").map(|speed| {
        match speed.parse::<usize>().ok().and_then(|i| LINKS.get(i)) {
            Some(link) => (*link).to_owned(),
            None => speed.to_lowercase(),
        }
    });

    let pack = f.non_empty("pack");
    if pack.is_some() || f.has("quality") {
        let base = pack.unwrap_or_else(|| "16m-jpeg".into());
        let quality = f.number("quality").unwrap_or(9);
        // x2goclient's rule: only methods that take a quality get one. python-x2go appends it to
        // any method, yielding names like `64k-png-9` that exist nowhere.
        ss.pack = Some(if PACK_WITH_QUALITY.contains(&base.as_str()) {
            format!("{base}-{quality}")
        } else {
            base
        });
    }

    if f.flag("setdpi", false) {
        let dpi = if f.has("dpi") {
            f.number("dpi")
        } else {
            Some(96)
        };
        if let Some(d) = dpi {
            match u32::try_from(d) {
                Ok(d) => ss.dpi = Some(d),
                Err(_) => f.notes.push(format!("dpi {d} is negative; not set")),
            }
        }
    }

    // With usekbd off python-x2go sends `null` for all three, which is x2god's unset.
    if f.flag("usekbd", true) {
        map_keyboard(f, &mut ss);
    }

    ss.clipboard = f.non_empty("clipboard");
    if f.flag("xinerama", false) {
        ss.xinerama = Some(true);
    }
    // x2goclient keeps the title even while the switch is off; only a title in use is taken.
    if f.flag("setsessiontitle", false) {
        ss.set_session_title = Some(true);
        ss.session_title = f.non_empty("sessiontitle");
    }
    ss
}

/// `type` is `auto`, python-x2go's `pc105/de` (with `layout` and `variant` beside it), or
/// x2goclient's `pc105/de\(nodeadkeys\)`, escaped for the remote shell; x2goclient itself
/// drops the backslashes when reading it back, and so does this.
fn map_keyboard(f: &mut Fields<'_>, ss: &mut SessionSettings) {
    let mut layout = None;
    let mut variant = None;
    if let Some(t) = f.non_empty("type") {
        let t = t.replace('\\', "");
        if t == "auto" {
            ss.kbtype = Some(t);
        } else {
            let (main, var) = match t.split_once('(') {
                Some((main, rest)) => (main.to_owned(), Some(rest.trim_end_matches(')'))),
                None => (t.clone(), None),
            };
            variant = var.filter(|v| !v.is_empty()).map(str::to_owned);
            layout = main
                .split_once('/')
                .map(|(_, l)| l.to_owned())
                .filter(|l| !l.is_empty());
            ss.kbtype = Some(main);
        }
    }
    // A layout inside `type` is x2goclient's current form; a separate `layout` may be a stale
    // leftover of an older x2goclient, so it only fills a gap.
    ss.kblayout = layout.or_else(|| f.non_empty("layout"));
    ss.kbvariant = variant.or_else(|| f.non_empty("variant"));
}

mod proxy;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::qt_ini::unescape_key;
    use crate::profiles::settings::{ProxyKind, ProxySettings};
    use proptest::prelude::*;

    const SAMPLE: &str = include_str!("testdata/x2goclient-sessions");

    /// What `QSettingsPrivate::iniEscapedString` writes for a string (after `variantToString`
    /// doubled a leading `@`). Qt 5 without an INI codec, as x2goclient uses it, escapes every
    /// non-ASCII UTF-16 unit as `\x…`; Qt 6 writes UTF-8.
    fn qt_escape(s: &str, qt5: bool) -> String {
        let s = if s.starts_with('@') {
            format!("@{s}")
        } else {
            s.to_owned()
        };
        let mut out = String::new();
        let mut needs_quotes = false;
        let mut escape_next_if_digit = false;
        let units: Vec<u16> = s.encode_utf16().collect();
        for (i, &u) in units.iter().enumerate() {
            let is_hex = u < 0x80 && (u as u8).is_ascii_hexdigit();
            if matches!(u, 0x3b | 0x2c | 0x3d) {
                needs_quotes = true;
            }
            if escape_next_if_digit && is_hex {
                out.push_str(&format!("\\x{u:x}"));
                continue;
            }
            escape_next_if_digit = false;
            match u {
                0 => {
                    out.push_str("\\0");
                    escape_next_if_digit = true;
                }
                0x07 => out.push_str("\\a"),
                0x08 => out.push_str("\\b"),
                0x0c => out.push_str("\\f"),
                0x0a => out.push_str("\\n"),
                0x0d => out.push_str("\\r"),
                0x09 => out.push_str("\\t"),
                0x0b => out.push_str("\\v"),
                0x22 | 0x5c => {
                    out.push('\\');
                    out.push(u as u8 as char);
                }
                _ if u <= 0x1f || (qt5 && u >= 0x7f) => {
                    out.push_str(&format!("\\x{u:x}"));
                    escape_next_if_digit = true;
                }
                _ => {
                    // A whole character: a surrogate pair only reaches here in Qt 6 mode.
                    if (0xd800..0xdc00).contains(&u) {
                        let pair = [u, units[i + 1]];
                        out.push_str(&String::from_utf16_lossy(&pair));
                    } else if !(0xdc00..0xe000).contains(&u) {
                        out.push_str(&String::from_utf16_lossy(&[u]));
                    }
                }
            }
        }
        if needs_quotes || out.starts_with(' ') || out.ends_with(' ') {
            out = format!("\"{out}\"");
        }
        out
    }

    fn profile<'a>(import: &'a Import, id: &str) -> &'a ImportedProfile {
        import
            .profiles
            .iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no profile {id} in {import:#?}"))
    }

    #[test]
    fn default_path_is_x2goclients() {
        assert_eq!(
            default_path(Path::new("/home/anna")),
            PathBuf::from("/home/anna/.x2goclient/sessions")
        );
    }

    #[test]
    fn sample_file_order_and_skips() {
        let import = parse(SAMPLE);
        assert_eq!(import.warnings, Vec::<String>::new());
        let ids: Vec<&str> = import.profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "20231012093512871",
                "20231012094010123",
                "20231013080000001",
                "20231014120000002",
                "20231015000000003",
            ]
        );
        assert_eq!(
            import.skipped,
            [SkippedProfile {
                id: "20231016000000004".into(),
                name: Some("Unfinished".into()),
                reason: "no host".into(),
            }]
        );
    }

    #[test]
    fn xinerama_and_session_title_are_mapped() {
        let text = "[1]\nhost=h\nname=n\nxinerama=true\nsetsessiontitle=true\nsessiontitle=Büro\n\
                    [2]\nhost=h\nname=m\nsetsessiontitle=false\nsessiontitle=Old\nmultidisp=true\n";
        let import = parse(text);
        let s = &profile(&import, "1").settings.session;
        assert_eq!(s.xinerama, Some(true));
        assert_eq!(s.set_session_title, Some(true));
        assert_eq!(s.session_title.as_deref(), Some("Büro"));
        let p = profile(&import, "2");
        assert_eq!(p.settings.session.session_title, None);
        assert!(
            p.ignored.iter().any(|k| k == "multidisp"),
            "{:?}",
            p.ignored
        );
    }

    #[test]
    fn sample_key_login_desktop() {
        let import = parse(SAMPLE);
        let p = profile(&import, "20231012093512871");
        assert_eq!(p.name, "Office desktop");
        let mut want = ProfileSettings::new("x2go.example.org");
        want.port = 2222;
        want.username = Some("anna".into());
        want.key_filename = vec![PathBuf::from("~/.ssh/id_ed25519")];
        want.session = SessionSettings {
            cmd: Some("XFCE".into()),
            session_type: Some("desktop".into()),
            geometry: Some("1280x800".into()),
            link: Some("lan".into()),
            pack: Some("16m-jpeg-7".into()),
            dpi: Some(120),
            kblayout: Some("de".into()),
            kbtype: Some("pc105/de".into()),
            kbvariant: Some("nodeadkeys".into()),
            clipboard: Some("server".into()),
            allow_share_local_folders: Some(true),
            share_local_folders: vec![PathBuf::from("/home/anna/Share")],
            printing: Some(true),
            snd_system: Some("pulse".into()),
            ..SessionSettings::default()
        };
        assert_eq!(p.settings, want);
        assert_eq!(p.ignored, Vec::<String>::new());
        assert_eq!(p.unsupported, None);
        assert_eq!(p.notes, Vec::<String>::new());
    }

    #[test]
    fn sample_autologin_application_and_odd_name() {
        let import = parse(SAMPLE);
        let p = profile(&import, "20231012094010123");
        assert_eq!(p.name, "Büro, \"Test\" / 2");
        let mut want = ProfileSettings::new("srv1.example.org");
        want.username = Some("bob".into());
        want.allow_agent = true;
        want.look_for_keys = true;
        want.forward_sshagent = true;
        want.session = SessionSettings {
            cmd: Some("TERMINAL".into()),
            session_type: Some("application".into()),
            geometry: Some("fullscreen".into()),
            link: Some("adsl".into()),
            pack: Some("16m-png-9".into()),
            kbtype: Some("auto".into()),
            clipboard: Some("both".into()),
            allow_share_local_folders: Some(true),
            printing: Some(false),
            snd_system: Some("none".into()),
            ..SessionSettings::default()
        };
        assert_eq!(p.settings, want);
        assert_eq!(p.ignored, Vec::<String>::new());
        assert_eq!(p.unsupported, None);
        assert_eq!(
            p.notes,
            ["host lists 2 servers; using the first, srv1.example.org"]
        );
    }

    #[test]
    fn sample_password_login_through_ssh_proxy() {
        let import = parse(SAMPLE);
        let p = profile(&import, "20231013080000001");
        assert_eq!(p.name, "a=b;c#d");
        let mut want = ProfileSettings::new("10.0.0.5");
        want.username = Some("carol".into());
        let mut proxy = ProxySettings::new("jump.example.org");
        proxy.port = 2222;
        proxy.reuse_authinfo = true;
        proxy.tunnel = Some("localhost:44444:10.0.0.5:22".into());
        want.sshproxy = Some(proxy);
        want.session = SessionSettings {
            cmd: Some("PUBLISHED".into()),
            session_type: Some("published".into()),
            geometry: Some("maximize".into()),
            allow_share_local_folders: Some(true),
            printing: Some(false),
            snd_system: Some("none".into()),
            ..SessionSettings::default()
        };
        assert_eq!(p.settings, want);
        assert_eq!(p.ignored, ["krblogin"]);
        assert_eq!(p.unsupported, None);
    }

    #[test]
    fn sample_http_proxy_is_imported_as_one() {
        let import = parse(SAMPLE);
        let p = profile(&import, "20231014120000002");
        // x2goclient shows names trimmed; the quotes only protected the blanks.
        assert_eq!(p.name, "Leading spaces");
        assert_eq!(p.unsupported, None);
        let mut want = ProxySettings::new("proxy.example.org");
        want.kind = ProxyKind::Http;
        want.port = 3128;
        want.user = Some("dave".into());
        assert_eq!(p.settings.sshproxy, Some(want));
        assert_eq!(p.settings.hostname, "behind-proxy.example.org");
        assert_eq!(p.settings.session.cmd.as_deref(), Some("MATE"));
    }

    #[test]
    fn an_http_proxy_takes_the_servers_user_when_told_and_no_keys() {
        let p = &parse(
            "[x]\nhost=h\nuser=erin\nusesshproxy=true\nsshproxytype=http\n\
             sshproxyhost=p:8080\nsshproxysameuser=true\nsshproxysamepass=true\n\
             sshproxykeyfile=~/.ssh/k\n",
        )
        .profiles[0];
        let proxy = p.settings.sshproxy.as_ref().unwrap();
        assert_eq!(
            (proxy.kind, proxy.host.as_str(), proxy.port),
            (ProxyKind::Http, "p", 8080)
        );
        assert_eq!(proxy.user.as_deref(), Some("erin"));
        assert!(proxy.reuse_authinfo);
        assert!(proxy.key_filename.is_empty() && !proxy.allow_agent);
        // Without a user, none at the proxy; other types stay SSH jump hosts.
        let p = &parse("[x]\nhost=h\nusesshproxy=true\nsshproxytype=HTTP\nsshproxyhost=p\n")
            .profiles[0];
        assert_eq!(p.settings.sshproxy.as_ref().unwrap().user, None);
        let p = &parse("[x]\nhost=h\nusesshproxy=true\nsshproxytype=SOCKS\nsshproxyhost=p\n")
            .profiles[0];
        assert_eq!(p.settings.sshproxy.as_ref().unwrap().kind, ProxyKind::Ssh);
    }

    #[test]
    fn sample_rdp_command_is_ignored() {
        let import = parse(SAMPLE);
        let p = profile(&import, "20231015000000003");
        assert_eq!(p.name, "Grüße");
        assert_eq!(p.ignored, ["command"]);
        assert_eq!(p.settings.session.cmd, None);
        assert_eq!(p.settings.session.session_type, None);
        assert_eq!(p.unsupported, None);
    }

    #[test]
    fn direct_rdp_is_unsupported_or_skipped() {
        let import = parse(
            "[1]\nhost=win.example.org\ncommand=RDP\ndirectrdp=true\n\
             [2]\nhost=\ncommand=RDP\ndirectrdp=true\nname=Win\n",
        );
        assert!(import.profiles[0].unsupported.is_some());
        assert_eq!(import.skipped[0].id, "2");
        assert!(import.skipped[0].reason.contains("direct RDP"));
    }

    #[test]
    fn empty_file() {
        assert_eq!(parse(""), Import::default());
        assert_eq!(parse("\n\n  \r\n; comment\n# comment\n"), Import::default());
    }

    #[test]
    fn garbage_lines_cost_only_themselves() {
        let text = "stray=1\n\
                    [100]\n\
                    host=a.example.org\n\
                    this line is garbage\n\
                    user=anna\n\
                    \x20 ; indented comment\n\
                    =no key\n\
                    name=\"unbalanced\n\
                    sshport=2200 ; trailing comment\n\
                    [200\n\
                    host=b.example.org\n\
                    [100]\n\
                    autologin=false\n";
        let import = parse(text);
        assert_eq!(import.profiles.len(), 2, "{import:#?}");
        let a = &import.profiles[0];
        assert_eq!(a.id, "100");
        assert_eq!(a.settings.hostname, "a.example.org");
        assert_eq!(a.settings.username.as_deref(), Some("anna"));
        assert_eq!(a.settings.port, 2200);
        assert_eq!(a.name, "unbalanced");
        // The repeated section was merged into the first.
        assert!(!a.settings.allow_agent);
        let b = &import.profiles[1];
        assert_eq!(b.id, "200");
        assert_eq!(b.settings.hostname, "b.example.org");
        assert_eq!(import.warnings.len(), 5, "{:#?}", import.warnings);
        assert!(import.warnings[0].starts_with("line 1:"));
        assert!(import.warnings[1].starts_with("line 4:"));
        assert!(import.warnings[2].starts_with("line 7:"));
        assert!(import.warnings[3].starts_with("line 10:"));
        assert!(import.warnings[4].starts_with("line 12:"));
    }

    #[test]
    fn continuation_lines() {
        // Qt joins a line ending in a backslash with the next, in the key=value scan and in
        // the value.
        let import = parse("[1]\nhost=h\nname=first \\\r\n  second\nuser=u\n");
        assert_eq!(import.warnings, Vec::<String>::new());
        let p = &import.profiles[0];
        assert_eq!(p.name, "first   second");
        assert_eq!(p.settings.username.as_deref(), Some("u"));
        assert_eq!(decode_value("a\\\n\rb"), Value::Text("ab".into()));
    }

    #[test]
    fn warnings_are_capped() {
        let text = "garbage\n".repeat(100);
        let w = parse(&text).warnings;
        assert_eq!(w.len(), MAX_WARNINGS + 1);
        assert_eq!(w[MAX_WARNINGS], "80 more warnings left out");
    }

    #[test]
    fn profile_without_host() {
        let import = parse("[1]\nname=No host\nuser=x\n[2]\nhost= , \n");
        assert!(import.profiles.is_empty());
        assert_eq!(import.skipped.len(), 2);
        assert_eq!(import.skipped[0].name.as_deref(), Some("No host"));
        assert_eq!(import.skipped[1].name, None);
        assert!(import.skipped.iter().all(|s| s.reason == "no host"));
    }

    #[test]
    fn python_x2go_file() {
        // configparser's layout: blanks around `=`, booleans as 1/0, lists joined with ", ".
        let text = "[20240101120000000000]\n\
                    name = pyhoca profile\n\
                    host = a.example.org, b.example.org\n\
                    user = erik\n\
                    autologin = 0\n\
                    usesshproxy = 1\n\
                    sshproxyhost = [2001:db8::1]:2022\n\
                    sshproxyuser = jumper\n\
                    sshproxykeyfile = ~/.ssh/jump\n\
                    sshproxytunnel = DEPRECATED_CAN_BE_SAFELY_REMOVED\n\
                    command = XFCE4\n\
                    rootless = 0\n\
                    speed = 3\n\
                    pack = 64k-png\n\
                    quality = 9\n\
                    layout = us\n\
                    type = pc105/us\n\
                    variant = intl\n\
                    usekbd = 1\n\
                    export = \"/home/erik:1;\"\n\
                    useexports = 0\n\
                    sound = 0\n\
                    unknownthing = 1\n\
                    otherunknown = 0\n";
        let import = parse(text);
        assert_eq!(import.warnings, Vec::<String>::new());
        let p = &import.profiles[0];
        assert_eq!(p.name, "pyhoca profile");
        assert_eq!(p.settings.hostname, "a.example.org");
        assert!(!p.settings.allow_agent && !p.settings.look_for_keys);
        let proxy = p.settings.sshproxy.as_ref().unwrap();
        assert_eq!(proxy.host, "2001:db8::1");
        assert_eq!(proxy.port, 2022);
        assert_eq!(proxy.user.as_deref(), Some("jumper"));
        assert_eq!(proxy.key_filename, [PathBuf::from("~/.ssh/jump")]);
        // python-x2go's default for sshproxyautologin is on.
        assert!(proxy.allow_agent && proxy.look_for_keys);
        assert_eq!(proxy.tunnel, None);
        let ss = &p.settings.session;
        assert_eq!(ss.cmd.as_deref(), Some("XFCE"));
        assert_eq!(ss.session_type.as_deref(), Some("desktop"));
        assert_eq!(ss.link.as_deref(), Some("wan"));
        assert_eq!(ss.pack.as_deref(), Some("64k-png"));
        assert_eq!(ss.kbtype.as_deref(), Some("pc105/us"));
        assert_eq!(ss.kblayout.as_deref(), Some("us"));
        assert_eq!(ss.kbvariant.as_deref(), Some("intl"));
        assert_eq!(ss.geometry, None);
        assert_eq!(p.ignored, ["unknownthing"]);
    }

    #[test]
    fn missing_keys_take_python_x2go_defaults() {
        let p = &parse("[x]\nhost=h\n").profiles[0];
        assert_eq!(p.name, "x");
        assert_eq!(p.notes, ["no name; the profile id is used"]);
        let mut want = ProfileSettings::new("h");
        want.allow_agent = true;
        want.look_for_keys = true;
        // python-x2go's default: sharing allowed (`useexports`), nothing shared.
        want.session.allow_share_local_folders = Some(true);
        assert_eq!(p.settings, want);
        assert!(p.ignored.is_empty());
    }

    #[test]
    fn bad_values() {
        let text = "[x]\nname=n\nhost=h\nsshport=99999\nautologin=maybe\nwidth=wide\nheight=700\n\
                    usesshproxy=true\nsshproxyhost=j:port\n";
        let p = &parse(text).profiles[0];
        let u = p.unsupported.as_deref().unwrap();
        assert!(u.contains("sshport 99999"), "{u}");
        assert!(u.contains("sshproxyhost"), "{u}");
        assert_eq!(p.settings.port, 22);
        assert!(p.settings.allow_agent);
        assert_eq!(p.settings.session.geometry.as_deref(), Some("800x700"));
        assert_eq!(
            p.notes,
            [
                "autologin is not true or false; taken as true",
                "width is not a number; left at its default",
            ]
        );
    }

    #[test]
    fn proxy_without_host_is_unsupported() {
        let p = &parse("[x]\nhost=h\nusesshproxy=true\nsshproxyhost=\n").profiles[0];
        assert_eq!(
            p.unsupported.as_deref(),
            Some("usesshproxy is on but sshproxyhost is empty")
        );
        // Proxy keys of a profile without a proxy are neither mapped nor listed.
        let p = &parse("[x]\nhost=h\nsshproxyhost=j\nsshproxykrblogin=true\n").profiles[0];
        assert_eq!(p.settings.sshproxy, None);
        assert!(p.ignored.is_empty());
    }

    #[test]
    fn quality_only_for_methods_that_take_one() {
        let pack = |extra: &str| {
            parse(&format!("[x]\nhost=h\n{extra}"))
                .profiles
                .remove(0)
                .settings
                .session
                .pack
        };
        assert_eq!(
            pack("pack=16m-jpeg\nquality=0\n").as_deref(),
            Some("16m-jpeg-0")
        );
        assert_eq!(pack("quality=5\n").as_deref(), Some("16m-jpeg-5"));
        assert_eq!(pack("pack=nopack\nquality=9\n").as_deref(), Some("nopack"));
        assert_eq!(pack("pack=16m-rgb\n").as_deref(), Some("16m-rgb-9"));
        assert_eq!(pack(""), None);
    }

    #[test]
    fn section_and_key_escapes() {
        assert_eq!(unescape_key("a%20b%U00fc\\c"), "a bü/c");
        assert_eq!(unescape_key("50%"), "50%");
        assert_eq!(unescape_key("%zz%U12"), "%zz%U12");
        assert_eq!(unescape_key("%+f"), "%+f");
        let import = parse("[General]\nhost=x\n[%General]\nhost=g\n[a%20b]\nhost=h\n");
        let ids: Vec<&str> = import.profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["General", "a b"]);
        let import = parse("[embedded]\nhost=x\n[none]\nhost=y\n");
        assert!(import.profiles.is_empty());
        assert_eq!(import.skipped.len(), 2);
    }

    #[test]
    fn odd_names_as_x2goclient_writes_them() {
        for name in [
            "Büro, \"Test\" / 2",
            "a=b;c#d",
            "Ordner/Unterordner/Server",
            "back\\slash",
            "@home",
            "tab\tand 😀",
            "#not a comment",
            ";not a comment either",
            "[not a section]",
        ] {
            for qt5 in [true, false] {
                let line = qt_escape(name, qt5);
                let import = parse(&format!("[1]\nname={line}\nhost=h\n"));
                assert_eq!(import.profiles[0].name, name, "Qt 5: {qt5}, written {line}");
            }
        }
        assert_eq!(
            qt_escape("Büro, \"Test\" / 2", true),
            r#""B\xfcro, \"Test\" / 2""#
        );
        assert_eq!(qt_escape("Grüße", true), r"Gr\xfc\xdf\x65");
        assert_eq!(qt_escape("a=b;c#d", false), "\"a=b;c#d\"");
        assert_eq!(qt_escape("  lead", false), "\"  lead\"");
    }

    fn structured_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "\\[[0-9a-z% \\]\\\\]{0,12}\\]?",
            "[a-z ]{0,10}=[\\PC\"\\\\,;=@ ]{0,24}",
            "(host|name|sshport|usesshproxy|sshproxyhost|type|pack|quality|speed|export)=[\\PC\"\\\\,;:@ ]{0,16}",
            "[;#\"\\\\ ]{0,3}\\PC{0,12}",
        ]
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,600}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_arbitrary_chars(
            chars in proptest::collection::vec(any::<char>(), 0..400),
        ) {
            let s: String = chars.into_iter().collect();
            let import = parse(&s);
            prop_assert!(import.warnings.len() <= MAX_WARNINGS + 1);
        }

        #[test]
        fn never_panics_on_structured_text(
            lines in proptest::collection::vec(structured_line(), 0..40),
            crlf in any::<bool>(),
        ) {
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            let import = parse(&text);
            for p in &import.profiles {
                prop_assert!(!p.settings.hostname.is_empty());
                prop_assert!(!p.name.is_empty());
            }
        }

        #[test]
        fn any_string_round_trips(
            chars in proptest::collection::vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..40),
            qt5 in any::<bool>(),
        ) {
            // Qt writes a string holding NUL as binary `@String(…)`, which no profile needs.
            let s: String = chars.into_iter().collect();
            let written = qt_escape(&s, qt5);
            prop_assert_eq!(decode_value(&written), Value::Text(s.clone()));
            let import = parse(&format!("[1]\nname={written}\nhost=h\n"));
            prop_assert_eq!(import.warnings.len(), 0);
            let want = if s.trim().is_empty() { "1" } else { s.trim() };
            prop_assert_eq!(&import.profiles[0].name, want);
        }
    }
}
