//! Published applications: the parser for `x2gogetapps` output and the menu builder
//! (doc §2.14, §5).
//!
//! `x2gogetapps` prints one block per visible `.desktop` file (the server already drops
//! `NoDisplay=true` / `Hidden=true` entries and reads only the `[Desktop Entry]` group):
//!
//! ```text
//! <desktop>
//! Name=…            (Name/Comment/Exec/Terminal/Categories lines, localized variants too)
//! <icon>            (where the Icon= line was, only if the icon file was readable)
//! <base64 lines>    (76 columns, an empty line after every 3420-byte chunk)
//! </icon>
//! </desktop>
//! ```
//!
//! Differences from python-x2go's parser (doc §5), on purpose:
//! * values are everything after the first `=` (python cuts `Exec=env A=1 app` to `env A`);
//! * keys are matched exactly (`Name`, `Name[de]`), not by regular expressions built from the
//!   language, and localized values follow the freedesktop locale fallback
//!   (`de_DE.UTF-8@euro` → `de_DE@euro`, `de_DE`, `de@euro`, `de`, default);
//! * all field codes are removed, not only `%f %F %u %U`, and `%%` becomes `%`;
//! * the category is chosen per XDG category token (`AudioVideo`, not any substring "Audio"),
//!   so `Settings;System;` lands in System rather than in "Other Applications";
//! * terminal applications keep their plain command: the caller decides how to wrap them;
//! * icons are decoded, and their format is sniffed from the bytes.
//!
//! Everything here is pure and total: any input text yields a (possibly empty) result.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

/// python-x2go's default for `max_no_submenus` (`defaults.PUBAPP_MAX_NO_SUBMENUS`): with more
/// entries than this, the menu is split into category submenus.
pub const DEFAULT_MAX_NO_SUBMENUS: i32 = 10;

/// Title of the top-level pseudo category (flat menus put every entry here; entries with the
/// `X2Go-Top` category always go here).
pub const TOP: &str = "TOP";

/// Title of the category for entries without a recognised XDG main category.
pub const OTHER_APPLICATIONS: &str = "Other Applications";

/// Longest entry name quoted in a skip reason (in characters).
const REASON_NAME_MAX: usize = 60;

/// One published application as listed by `x2gogetapps`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppEntry {
    /// `Name` values by locale key: `""` is the unlocalized `Name=`, other keys are the text in
    /// brackets (`de`, `de_DE`, `sr@latin`) with any `.ENCODING` part removed.
    pub names: BTreeMap<String, String>,
    /// `Comment` values by locale key, like [`AppEntry::names`].
    pub comments: BTreeMap<String, String>,
    /// The `Exec` command line with the field codes `%f %F %u %U %i %c %k` (and the deprecated
    /// `%d %D %n %N %v %m`) removed and `%%` turned into `%`; desktop-entry string escapes
    /// (`\s \n \t \r \\`) are resolved. It is a command line from the server, meant for the
    /// server's shell; it may contain any characters.
    pub exec: String,
    /// `Terminal=true`: the program needs a terminal emulator. `exec` is not wrapped.
    pub terminal: bool,
    /// The `Categories` list, in file order, without empty items.
    pub categories: Vec<String>,
    /// The icon file's bytes; `None` when the entry has no icon or its base64 is undecodable.
    pub icon: Option<Vec<u8>>,
    /// The icon format sniffed from [`AppEntry::icon`]: `"png"`, `"svg"`, `"xpm"`, `"jpeg"` or
    /// `"bmp"`; `None` without an icon or when the bytes match none of them.
    pub icon_format: Option<&'static str>,
}

impl AppEntry {
    /// The display name for the locale `lang` (`de_DE.UTF-8@euro`, `de`, `C`, `""`…), with
    /// freedesktop fallback to the less specific locales, then the default `Name=`, then any
    /// localized name. Empty only if the entry has no name at all.
    pub fn name(&self, lang: &str) -> &str {
        localized(&self.names, lang)
            .or_else(|| self.names.values().find(|v| !v.is_empty()))
            .map_or("", String::as_str)
    }

    /// The comment for the locale `lang` (same fallback as [`AppEntry::name`], down to the
    /// default `Comment=`), or the display name when the entry has no comment.
    pub fn comment(&self, lang: &str) -> &str {
        match localized(&self.comments, lang) {
            Some(c) => c,
            None => self.name(lang),
        }
    }
}

/// The locale keys to try for `lang`, most specific first, ending with `""` (the default).
///
/// `lang` has the POSIX form `lang_COUNTRY.ENCODING@MODIFIER` (every part but `lang`
/// optional); the encoding is ignored, a `-` is accepted in place of `_` (`de-DE`). `C`,
/// `POSIX` and the empty string only match the default.
pub fn locale_candidates(lang: &str) -> Vec<String> {
    let (base, modifier) = match lang.trim().split_once('@') {
        Some((b, m)) => (b, Some(m).filter(|m| !m.is_empty())),
        None => (lang.trim(), None),
    };
    let base = base.split_once('.').map_or(base, |(b, _)| b);
    let (language, country) = match base.split_once(['_', '-']) {
        Some((l, c)) => (l, Some(c).filter(|c| !c.is_empty())),
        None => (base, None),
    };
    let mut out = Vec::with_capacity(5);
    if !language.is_empty() && language != "C" && language != "POSIX" {
        if let (Some(c), Some(m)) = (country, modifier) {
            out.push(format!("{language}_{c}@{m}"));
        }
        if let Some(c) = country {
            out.push(format!("{language}_{c}"));
        }
        if let Some(m) = modifier {
            out.push(format!("{language}@{m}"));
        }
        out.push(language.to_owned());
    }
    out.push(String::new());
    out
}

/// The first non-empty value of `map` under the locale candidates of `lang` (default last).
fn localized<'a>(map: &'a BTreeMap<String, String>, lang: &str) -> Option<&'a String> {
    locale_candidates(lang)
        .iter()
        .find_map(|k| map.get(k).filter(|v| !v.is_empty()))
}

/// Normalizes a locale key from a `.desktop` file: `de_DE.UTF-8@euro` → `de_DE@euro`.
fn normalize_locale_key(key: &str) -> String {
    let key = key.trim();
    let (base, modifier) = match key.split_once('@') {
        Some((b, m)) => (b, Some(m)),
        None => (key, None),
    };
    let base = base.split_once('.').map_or(base, |(b, _)| b);
    match modifier {
        Some(m) => format!("{base}@{m}"),
        None => base.to_owned(),
    }
}

/// Resolves the desktop-entry string escapes `\s \n \t \r \\`; other backslashes stay.
fn unescape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Removes the `Exec` field codes (see [`AppEntry::exec`]); unknown `%x` sequences stay as
/// they are. The result is trimmed.
pub fn strip_field_codes(exec: &str) -> String {
    let mut out = String::with_capacity(exec.len());
    let mut chars = exec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('%') => {
                out.push('%');
                chars.next();
            }
            Some('f' | 'F' | 'u' | 'U' | 'i' | 'c' | 'k' | 'd' | 'D' | 'n' | 'N' | 'v' | 'm') => {
                chars.next();
            }
            _ => out.push('%'),
        }
    }
    out.trim().to_owned()
}

/// Sniffs an icon's format from its first bytes.
pub fn sniff_icon_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("png");
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("jpeg");
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[start..];
    if text.starts_with(b"/* XPM */") || text.starts_with(b"! XPM2") {
        return Some("xpm");
    }
    if text.starts_with(b"<") && text.windows(4).any(|w| w == b"<svg") {
        return Some("svg");
    }
    if bytes.len() >= 26 && bytes.starts_with(b"BM") {
        return Some("bmp");
    }
    None
}

/// Base64 as `x2gogetapps` writes it (standard alphabet), lenient about the padding.
const ICON_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes the collected lines of an `<icon>` block; `None` when empty or not base64.
fn decode_icon(b64: &str) -> Option<Vec<u8>> {
    let compact: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return None;
    }
    ICON_BASE64
        .decode(&compact)
        .or_else(|_| general_purpose::STANDARD.decode(&compact))
        .ok()
        .filter(|b| !b.is_empty())
}

/// Shortens a name for a skip reason.
fn short(name: &str) -> String {
    if name.chars().count() <= REASON_NAME_MAX {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(REASON_NAME_MAX).collect();
        s.push('…');
        s
    }
}

/// An entry while its `<desktop>` block is being read.
#[derive(Default)]
struct Pending {
    names: BTreeMap<String, String>,
    comments: BTreeMap<String, String>,
    exec: Option<String>,
    terminal: Option<bool>,
    categories: Option<Vec<String>>,
    icon: Option<Vec<u8>>,
    /// The lines of the `<icon>` block being read, if inside one.
    icon_b64: Option<String>,
    /// An `<icon>` block was present but could not be decoded.
    bad_icon: bool,
}

impl Pending {
    /// Takes one `Key=value` line of the block; anything else is ignored.
    fn line(&mut self, line: &str) {
        let Some((key, value)) = line.split_once('=') else {
            return;
        };
        let key = key.trim();
        let value = unescape_value(value.trim());
        let (base, locale) = match key.split_once('[') {
            Some((b, rest)) => match rest.strip_suffix(']') {
                Some(l) => (b.trim_end(), Some(normalize_locale_key(l))),
                None => return,
            },
            None => (key, None),
        };
        // The first occurrence of a key wins (duplicates are invalid in desktop entries).
        match (base, locale) {
            ("Name", l) => {
                self.names.entry(l.unwrap_or_default()).or_insert(value);
            }
            ("Comment", l) => {
                self.comments.entry(l.unwrap_or_default()).or_insert(value);
            }
            ("Exec", None) => {
                self.exec.get_or_insert(value);
            }
            ("Terminal", None) => {
                self.terminal
                    .get_or_insert(value.eq_ignore_ascii_case("true"));
            }
            ("Categories", None) => {
                self.categories.get_or_insert_with(|| {
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                        .collect()
                });
            }
            _ => {}
        }
    }

    /// Ends an `<icon>` block. An unterminated one is dropped, and its lines are read as
    /// `Key=value` lines (python-x2go also ignores an icon block without `</icon>`).
    fn end_icon(&mut self, closed: bool) {
        if let Some(b64) = self.icon_b64.take() {
            if !closed {
                for line in b64.lines() {
                    self.line(line);
                }
            }
            match decode_icon(&b64).filter(|_| closed) {
                // The first decodable icon wins (one per Icon= line, normally just one).
                Some(bytes) => {
                    self.icon.get_or_insert(bytes);
                }
                None => self.bad_icon = true,
            }
        }
    }

    /// The finished entry, or the reason it is skipped. `reasons` also gets notes about
    /// accepted entries (an undecodable icon).
    fn finish(mut self, reasons: &mut Vec<String>) -> Option<AppEntry> {
        self.names.retain(|_, v| !v.is_empty());
        self.comments.retain(|_, v| !v.is_empty());
        let label = self
            .names
            .get("")
            .or_else(|| self.names.values().next())
            .map(|n| short(n));
        let Some(label) = label else {
            reasons.push("entry without Name skipped".to_owned());
            return None;
        };
        let exec = self
            .exec
            .as_deref()
            .map(strip_field_codes)
            .unwrap_or_default();
        if exec.is_empty() {
            reasons.push(format!("{label:?}: no Exec, skipped"));
            return None;
        }
        if self.bad_icon && self.icon.is_none() {
            reasons.push(format!("{label:?}: undecodable icon ignored"));
        }
        let icon_format = self.icon.as_deref().and_then(sniff_icon_format);
        Some(AppEntry {
            names: self.names,
            comments: self.comments,
            exec,
            terminal: self.terminal.unwrap_or(false),
            categories: self.categories.unwrap_or_default(),
            icon: self.icon,
            icon_format,
        })
    }
}

/// Parses the output of `x2gogetapps`.
///
/// Returns the usable entries in output order and short human-readable notes about what was
/// skipped or ignored (entries without `Name` or `Exec`, unterminated blocks, undecodable
/// icons, stray text). `\r\n` line ends are accepted.
pub fn parse_apps(text: &str) -> (Vec<AppEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut reasons = Vec::new();
    let mut current: Option<Pending> = None;
    let mut stray = 0usize;

    for raw in text.lines() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let marker = line.trim();
        match marker {
            "<desktop>" => {
                if current.take().is_some() {
                    reasons.push("unterminated <desktop> block skipped".to_owned());
                }
                current = Some(Pending::default());
            }
            "</desktop>" => match current.take() {
                Some(mut p) => {
                    if p.icon_b64.is_some() {
                        p.end_icon(false);
                    }
                    if let Some(e) = p.finish(&mut reasons) {
                        entries.push(e);
                    }
                }
                None => stray += 1,
            },
            _ => match current.as_mut() {
                None => {
                    if !marker.is_empty() {
                        stray += 1;
                    }
                }
                Some(p) => match (&mut p.icon_b64, marker) {
                    (Some(_), "</icon>") => p.end_icon(true),
                    (Some(_), "<icon>") => {
                        // A new block before the old one ended: drop the old one.
                        p.end_icon(false);
                        p.icon_b64 = Some(String::new());
                    }
                    (Some(b64), _) => {
                        b64.push_str(line);
                        b64.push('\n');
                    }
                    (None, "<icon>") => p.icon_b64 = Some(String::new()),
                    (None, "</icon>") => {}
                    (None, _) => p.line(line),
                },
            },
        }
    }
    if current.is_some() {
        reasons.push("unterminated <desktop> block at end of output skipped".to_owned());
    }
    if stray > 0 {
        reasons.push(format!(
            "{stray} stray line(s) outside <desktop> blocks ignored"
        ));
    }
    (entries, reasons)
}

/// One application in a [`Menu`], resolved for one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    /// Display name ([`AppEntry::name`]).
    pub name: String,
    /// Comment, or the name when there is none ([`AppEntry::comment`]).
    pub comment: String,
    /// Command line to run on the server ([`AppEntry::exec`]).
    pub exec: String,
    /// Needs a terminal emulator; `exec` is not wrapped.
    pub terminal: bool,
    /// Icon bytes ([`AppEntry::icon`]).
    pub icon: Option<Vec<u8>>,
    /// Icon format ([`AppEntry::icon_format`]).
    pub icon_format: Option<&'static str>,
}

/// The published-applications menu for one language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Menu {
    /// Items by category title ([`TOP`], `"Multimedia"`, `"Development"`, `"Education"`,
    /// `"Games"`, `"Graphics"`, `"Internet"`, `"Office"`, `"System"`, `"Utilities"`,
    /// [`OTHER_APPLICATIONS`]). Only non-empty categories are present; items are sorted by
    /// display name (case-insensitively, ties by exact name, then command).
    pub categories: BTreeMap<String, Vec<MenuItem>>,
}

/// The menu category title of a `Categories` list.
///
/// `X2Go-Top` anywhere wins; otherwise the first XDG main category in list order that maps to
/// a title (`Audio`, `Video`, `AudioVideo` → Multimedia, `Development`, `Education`, `Game` →
/// Games, `Graphics`, `Network` → Internet, `Office`, `System`, `Utility` → Utilities);
/// otherwise [`OTHER_APPLICATIONS`]. Tokens are matched exactly (case-sensitive, as in the
/// desktop menu specification).
pub fn category_title(categories: &[String]) -> &'static str {
    if categories.iter().any(|c| c == "X2Go-Top") {
        return TOP;
    }
    categories
        .iter()
        .find_map(|c| match c.as_str() {
            "Audio" | "Video" | "AudioVideo" => Some("Multimedia"),
            "Development" => Some("Development"),
            "Education" => Some("Education"),
            "Game" => Some("Games"),
            "Graphics" => Some("Graphics"),
            "Network" => Some("Internet"),
            "Office" => Some("Office"),
            "System" => Some("System"),
            "Utility" => Some("Utilities"),
            _ => None,
        })
        .unwrap_or(OTHER_APPLICATIONS)
}

/// Builds the menu for the locale `lang`.
///
/// Submenus (categories, see [`category_title`]) are used only when there are more entries
/// than `max_no_submenus` and `max_no_submenus >= 0`; otherwise every item goes to [`TOP`]
/// (python-x2go's rule; [`DEFAULT_MAX_NO_SUBMENUS`] is its default).
pub fn build_menu(entries: &[AppEntry], lang: &str, max_no_submenus: i32) -> Menu {
    let submenus = usize::try_from(max_no_submenus).is_ok_and(|max| entries.len() > max);
    let mut categories: BTreeMap<String, Vec<MenuItem>> = BTreeMap::new();
    for e in entries {
        let title = if submenus {
            category_title(&e.categories)
        } else {
            TOP
        };
        categories
            .entry(title.to_owned())
            .or_default()
            .push(MenuItem {
                name: e.name(lang).to_owned(),
                comment: e.comment(lang).to_owned(),
                exec: e.exec.clone(),
                terminal: e.terminal,
                icon: e.icon.clone(),
                icon_format: e.icon_format,
            });
    }
    for items in categories.values_mut() {
        items.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.exec.cmp(&b.exec))
        });
    }
    categories.retain(|_, items| !items.is_empty());
    Menu { categories }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Real `x2gogetapps` output from the lab (tests/lab/setup.sh, Debian bookworm x2goserver
    /// 4.1.0.3): stock entries plus the lab's `x2god-lab-*` ones (`x2god-lab-hidden` is
    /// `NoDisplay=true` and python3.11.desktop is `NoDisplay` too: neither is listed).
    const LAB_OUTPUT: &str = r#"<desktop>
Name=X2Go Desktop Sharing
Exec=/usr/bin/x2godesktopsharing
<icon>
iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAYAAABzenr0AAAABHNCSVQICAgIfAhkiAAAAAlwSFlz
AAACNwAAAjcB9wZEwgAAABl0RVh0U29mdHdhcmUAd3d3Lmlua3NjYXBlLm9yZ5vuPBoAAAfHSURB
VFiFvZdNbFNXFsd/tt8zfn5u/AEhdhJ/RMSEhmnDVGpR1EEatSVVgLhqNC0LPiRgFqMwUqQsgAWs
2MAmHUQbUanqqqQS6nSRii4SVVUmdIAEVEJJLbcQktixMflyYl5sP8fPsyi2Eux0Shc90tW7uufd
c88959z/OUfX1tbWCPwTSAIp/hgyAy8AFwWgA+js6+vLtrW1NQNNzyPpnXfe8T/P/6qq/rejo+Pf
gUBgA/AvAVD6+vqygUCgX6fT7X4eYQBut/t5t3RduXIl1NfXty0QCCQFINXW1tYsCMJuURQRRRGj
0Uhh/uxIpVKEQiFqamoAkGW55ARFUYrzgrzVJMtyw8cff/w3YFl4uvZcZhcEgfb2dl577TUqKiqK
66qqEovFCIVC5PP5ooIejweXywVAOp1mZmaGBw8e/AVIFBTAYDBgMpmQJAlJkjCbzWXnqVSKTCZD
b28vly9f5pNPPsFgMAAwOTnJ+Pj4GmUTiQSJRAKHw4HBYODGjRtkMhmy2WwOoKhALpcjnU6Ty+XI
ZDIoilJifkEQEEURp9OJx+NhfHyc+/fv09DQAIAkSWUtVnBDMBgkk8ms4enLbcjn82XHap6maciy
zNTUFKqqAlBVVVW0xmryeDwsLS0RDodLeEULCIJQNLcsyyVzWZYxm804HI6M0+lM2+12zWKxGOLx
+KPZ2dnK6upquyiK1NTUMDU1xWq5Pp+PO3fulLVOUYGVlRVSqVTxu9r0Lpdr9q233oo4HI4td+/e
fWFwcHDD/Pw8CwsLABV2ux2Hw8G2bdtoamrKqqo6/vjx4y2apgl1dXUkk0nm5uZ+XYFyLvB6vVOH
Dx+eW1hYePnTTz/dJIoi9fX1pNNpEokE8XgcAJ1Oh9lsJhwO8+2334rZbLZh//79S5IkTXu93hdv
375d9vASF5hMJsxmMxaLRTty5MgPsiy/9Pnnn3usVivHjx/HaDTS3d1NLBbjzTffpLW1lXw+TyQS
4ZtvvqG6upquri5UVeXq1asVi4uLFe+++242k8nEgdr/64J0Os3mzZujJ0+eTPb29jbJskxHRwcm
k4l8Ps+ZM2eYn5/nwIEDVFVVYbFYWFlZobKyEpfLxRdffEF3dzdnz57l2LFjpNNpPvvsM1FRlNrd
u3ffC4fDLwJrotTQ0NDwV+CJXq/f9957711vbW2tu3TpknPfvn3s2bMHQfhFx/7+foaGhmhubqau
rg6fz0dlZSU2mw1JklheXgZgdHQUWZapr69HEAReeeUVJEmit7d3886dOx+pqqpqmmZeWlq6HgqF
VD3AiRMnlEuXLn2v0+ma+/v7pdOnT9PUtBYch4eHsdls2Gw2vF4vVqsVvV6PwWCgoqICj8dDRUUF
drudkZGRNXubmpo4ffo0g4OD1Y8fP7Y2Njb+8Oqrr07AUxzYvn27Y2ho6M+1tbV0dnaWxfeJiQmM
RmPxwGfJZrNhtVoxGo08fPiwhC/LMp2dnbjdbuHmzZsvud1ufVGB30qFaNfpdCU8TdNYXl4uAtZv
JT3A2NjY/K5du76PRCJcuHBhTTYrUF1dHaqqMj09zezsbAk/kUiwuLiIqqr4fL4SvqIoXLhwgXA4
vLJz584fwuGwBk+D8LvvvlO//vrrv2/fvv3666+/vunixYtiZWUlTqezKCCVSjE8PIzBYCCfz2O3
2xFFEU3TmJmZYXh4mGAwSCwWo7W1lfr6+uLe0dFRenp62Lt3b1Sv16/E43FfMBgMhkIhdQ0Qffnl
l80jIyPRU6dOTfX29jaMjIxw8OBBTCYTLS0tDA0NEYlEAJibm8NqtWI2m5menmZqaopIJILX66Wl
pQWg8AxRFIVDhw6VfYYlQKQoSvX58+e1I0eO3JFl+eWenh691Wpl7969dHV10d3dzYMHD5ibm8No
NKLT6VBVlYWFBbxeL11dXcTjca5evcri4iLt7e3YbLb0zZs3/1QuBkqAKJfLkUql9B988MEOv99f
hOKPPvrIIIoijY2NVFVVEY1GefToEQBOpxO/38/GjRv58MMPyWaz7N+/f8nv94sbNmyQAJPFYuHJ
kyfrK7CadDodOp2OyclJz7lz5zwul2v26NGjxWSkKAo2m60Y8TabDZPJhNvtzr/99tvTkUhEicVi
W3K5nFDAE6/Xy9jY2PoKrE7HhW9hSJK06dq1a5sK6XjXrl0ph8OhybJMNBqNbdy40ZPNZo137941
3Lp1q4j58XicdDqNyWTC5XLx888/F2uHsi5YnY6TyeR6FdGGp4OffvqJw4cPO7Zs2cK1a9fQNG2N
8Hw+z+TkJA0NDRgMBmpra0tKtnWBqOCG1aCj1+vXjGQyid/vZ2ZmhlSqfE8TjUaLrvL5fCUVcskr
eNYNzxalmUyGH3/8kenpaXbs2EFVVRXBYHC9e6CqKktLS1itVkRRZOvWrdy7d6+8CwqvQFXVskVp
oS+4f/8+x44d44033ijeTK/XMzExseZws9mM2+1ekztqamowGo0oimIBkgUFRte9QhnSNI2BgQEG
BgZ4//33f/X20WiUaDRawlteXv4P4BcA6auvvroeCAQGcrnc7nQ6/ZuUKARTMplc95+VlZWy/MXF
xdDBgwcvX7ly5bwASIFAwNDX19fye5rTcDj8e5tTEXhB97Q9/we/tOZ/VHsuATLQ8z8T8HaJhIiT
sAAAAABJRU5ErkJggg==

</icon>
Terminal=false
Categories=Qt;KDE;Network;RemoteAccess;
</desktop>
<desktop>
Name[ca]=Vim
Name[de]=Vim
Name[eo]=Vim
Name[es]=Vim
Name[fi]=Vim
Name[fr]=Vim
Name[ga]=Vim
Name[it]=Vim
Name[ru]=Vim
Name[sr]=Vim
Name[tr]=Vim
Name[uk]=Vim
Name[zh_CN]=Vim
Name=Vim
Comment[ca]=Edita fitxers de text
Comment[de]=Textdateien bearbeiten
Comment[eo]=Redakti tekstajn dosierojn
Comment[es]=Editar archivos de texto
Comment[fi]=Muokkaa tekstitiedostoja
Comment[fr]=Éditer des fichiers texte
Comment[ga]=Cuir comhaid téacs in eagar
Comment[it]=Edita file di testo
Comment[ja]=テキストファイルを編集します
Comment[ru]=Редактирование текстовых файлов
Comment[sr]=Уређујте текст фајлове
Comment[tr]=Metin dosyaları düzenleyin
Comment[uk]=Редагувати текстові файли
Comment[zh_CN]=编辑文本文件
Comment=Edit text files
Comment[af]=Redigeer tekslêers
Comment[am]=የጽሑፍ ፋይሎች ያስተካክሉ
Comment[ar]=حرّر ملفات نصية
Comment[az]=Mətn fayllarını redaktə edin
Comment[be]=Рэдагаваньне тэкставых файлаў
Comment[bg]=Редактиране на текстови файлове
Comment[bn]=টেক্স্ট ফাইল এডিট করুন
Comment[bs]=Izmijeni tekstualne datoteke
Comment[cs]=Úprava textových souborů
Comment[cy]=Golygu ffeiliau testun
Comment[da]=Rediger tekstfiler
Comment[el]=Επεξεργασία αρχείων κειμένου
Comment[en_CA]=Edit text files
Comment[en_GB]=Edit text files
Comment[et]=Redigeeri tekstifaile
Comment[eu]=Editatu testu-fitxategiak
Comment[fa]=ویرایش پرونده‌های متنی
Comment[gu]=લખાણ ફાઇલોમાં ફેરફાર કરો
Comment[he]=ערוך קבצי טקסט
Comment[hi]=पाठ फ़ाइलें संपादित करें
Comment[hr]=Uređivanje tekstualne datoteke
Comment[hu]=Szövegfájlok szerkesztése
Comment[id]=Edit file teks
Comment[is]=Vinna með textaskrár
Comment[kn]=ಪಠ್ಯ ಕಡತಗಳನ್ನು ಸಂಪಾದಿಸು
Comment[ko]=텍스트 파일을 편집합니다
Comment[lt]=Redaguoti tekstines bylas
Comment[lv]=Rediģēt teksta failus
Comment[mk]=Уреди текстуални фајлови
Comment[ml]=വാചക രചനകള് തിരുത്തുക
Comment[mn]=Текст файл боловсруулах
Comment[mr]=गद्य फाइल संपादित करा
Comment[ms]=Edit fail teks
Comment[nb]=Rediger tekstfiler
Comment[ne]=पाठ फाइललाई संशोधन गर्नुहोस्
Comment[nl]=Tekstbestanden bewerken
Comment[nn]=Rediger tekstfiler
Comment[no]=Rediger tekstfiler
Comment[or]=ପାଠ୍ଯ ଫାଇଲଗୁଡ଼ିକୁ ସମ୍ପାଦନ କରନ୍ତୁ
Comment[pa]=ਪਾਠ ਫਾਇਲਾਂ ਸੰਪਾਦਨ
Comment[pl]=Edytuj pliki tekstowe
Comment[pt]=Editar ficheiros de texto
Comment[pt_BR]=Edite arquivos de texto
Comment[ro]=Editare fişiere text
Comment[sk]=Úprava textových súborov
Comment[sl]=Urejanje datotek z besedili
Comment[sq]=Përpuno files teksti
Comment[sr@Latn]=Izmeni tekstualne datoteke
Comment[sv]=Redigera textfiler
Comment[ta]=உரை கோப்புகளை தொகுக்கவும்
Comment[th]=แก้ไขแฟ้มข้อความ
Comment[tk]=Metin faýllary editle
Comment[vi]=Soạn thảo tập tin văn bản
Comment[wa]=Asspougnî des fitchîs tecses
Comment[zh_TW]=編輯文字檔
Exec=vim %F
Terminal=true
<icon>
iVBORw0KGgoAAAANSUhEUgAAADAAAAAwBAMAAAClLOS0AAAABGdBTUEAALGPC/xhBQAAABhQTFRF
vb29AACEAP8AhIKE////AIIAxsPGAAAA5GgsdwAAAAF0Uk5TAEDm2GYAAAFgSURBVHicdZRLjsMg
DEDZec0iygmqHICqHGCqzrqVUA4QCbZJ2sD1x2A+pspYXpS+vJjYCCFawCrOY5/O/4fL60sJFLsx
k4C8SE/eKX6Nea2fvIju52FTLAcqd/ptdQS2gfnBwY2BHwZAJaK0wXgrekinXSVfHRHM9GKVNg4c
3JvQAdoiCRx0AgedwEAvMNALDRShgPodWTjyXGDK6yKYPJd9zuBTa000uAxCEQwpe+61akJS4FJA
E5KyDwUwIU1fZnBlgnmOQmwDgRsXJFYHWQfdCaiMBbjABFQq8JbAU/JeMSC7eTRAFRhYdOiEClQ4
5pgbnekKFu2dt5T8lKBg3Vw2zsCi53OAE7SYIcRkr8Ju4G693bBAVwPb5x2m9E5413aFQirhRuvA
MqCw+6kE2BVsa8miQaYSKyshxFvhqdzKx8UsPYk9gDEcY1ghZXcPbENtax8g5T+3zHYufF1Lf9Hd
IZBfNEiKAAAAAElFTkSuQmCC

</icon>
Categories=Utility;TextEditor;
</desktop>
<desktop>
Name=XTerm
Comment=standard terminal emulator for the X window system
Exec=xterm
Terminal=false
Categories=System;TerminalEmulator;
</desktop>
<desktop>
Name=UXTerm
Comment=xterm wrapper for Unicode environments
Exec=uxterm
Terminal=false
Categories=System;TerminalEmulator;
</desktop>
<desktop>
Name=x2god-lab-browser
Comment=x2god lab browser
Exec=xterm -T x2god-lab-browser -e sh -c 'echo browser; sleep 600' %U
<icon>
iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mMwMLhAEmIY1TCqYfhq
AAD+QDAQCCo4OgAAAABJRU5ErkJggg==

</icon>
Terminal=false
Categories=Network;WebBrowser;
</desktop>
<desktop>
Name=x2god-lab-calc
Name[de]=x2god-lab-Rechner
Comment=x2god lab calculator
Comment[de]=Rechner für das x2god-Labor
Exec=xterm -T x2god-lab-calc -e sh -c 'echo calc; sleep 600'
<icon>
iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mO4YGBAEmIY1TCqYfhq
AAA+XjAQecrJFAAAAABJRU5ErkJggg==

</icon>
Terminal=false
Categories=Utility;Calculator;
</desktop>
<desktop>
Name=x2god-lab-notes
Comment=x2god lab notes
Exec=env X2GOD_LAB_APP=notes xterm -T x2god-lab-notes -e sh -c 'echo notes; sleep 600' %F
<icon>
iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mMwWGBAEmIY1TCqYfhq
AAAaCAAQFukafQAAAABJRU5ErkJggg==

</icon>
Terminal=false
Categories=Utility;TextEditor;
</desktop>
<desktop>
Name=x2god-lab-term
Comment=x2god lab terminal app
Exec=sh -c 'echo term; sleep 600'
<icon>
iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFElEQVR42mNoIBEwjGoY1TB8NQAA
JYSAELxv8c8AAAAASUVORK5CYII=

</icon>
Terminal=true
Categories=Utility;ConsoleOnly;
</desktop>
"#;

    fn entry<'a>(entries: &'a [AppEntry], name: &str) -> &'a AppEntry {
        match entries.iter().find(|e| e.name("") == name) {
            Some(e) => e,
            None => panic!("no entry {name}"),
        }
    }

    #[test]
    fn lab_output() {
        let (entries, reasons) = parse_apps(LAB_OUTPUT);
        assert!(reasons.is_empty(), "{reasons:?}");
        let lab: Vec<&str> = entries
            .iter()
            .map(|e| e.name(""))
            .filter(|n| n.starts_with("x2god-lab-"))
            .collect();
        assert_eq!(
            lab,
            [
                "x2god-lab-browser",
                "x2god-lab-calc",
                "x2god-lab-notes",
                "x2god-lab-term"
            ]
        );
        assert!(entries.iter().all(|e| e.name("") != "x2god-lab-hidden"));

        let calc = entry(&entries, "x2god-lab-calc");
        assert_eq!(calc.name("de_DE.UTF-8"), "x2god-lab-Rechner");
        assert_eq!(calc.comment("de"), "Rechner für das x2god-Labor");
        assert_eq!(calc.comment("fr_FR"), "x2god lab calculator");
        assert_eq!(calc.name("en_US.UTF-8"), "x2god-lab-calc");
        assert_eq!(
            calc.exec,
            "xterm -T x2god-lab-calc -e sh -c 'echo calc; sleep 600'"
        );
        assert!(!calc.terminal);
        assert_eq!(calc.categories, ["Utility", "Calculator"]);
        assert_eq!(calc.icon_format, Some("png"));
        let icon = calc.icon.as_deref().unwrap_or_default();
        assert!(icon.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(icon.len(), 79);

        let notes = entry(&entries, "x2god-lab-notes");
        assert_eq!(
            notes.exec,
            "env X2GOD_LAB_APP=notes xterm -T x2god-lab-notes -e sh -c 'echo notes; sleep 600'"
        );
        let browser = entry(&entries, "x2god-lab-browser");
        assert!(browser.exec.ends_with("sleep 600'"));
        assert_eq!(browser.categories, ["Network", "WebBrowser"]);
        let term = entry(&entries, "x2god-lab-term");
        assert!(term.terminal);
        assert_eq!(term.exec, "sh -c 'echo term; sleep 600'");
        for e in [calc, notes, browser, term] {
            assert_eq!(e.icon_format, Some("png"), "{}", e.name(""));
        }

        // Stock entries: vim (Terminal=true, %F, many locales), xterm without a findable icon.
        let vim = entry(&entries, "Vim");
        assert_eq!(vim.exec, "vim");
        assert!(vim.terminal);
        assert_eq!(vim.comment("de_AT"), "Textdateien bearbeiten");
        assert_eq!(vim.comment("zh_TW.UTF-8"), "編輯文字檔");
        assert_eq!(vim.icon_format, Some("png"));
        let xterm = entry(&entries, "XTerm");
        assert_eq!(xterm.icon, None);
        assert_eq!(xterm.icon_format, None);
    }

    #[test]
    fn lab_menu() {
        let (entries, _) = parse_apps(LAB_OUTPUT);
        assert!(entries.len() <= DEFAULT_MAX_NO_SUBMENUS as usize);
        let flat = build_menu(&entries, "de_DE.UTF-8", DEFAULT_MAX_NO_SUBMENUS);
        assert_eq!(flat.categories.keys().collect::<Vec<_>>(), [TOP]);
        let top = &flat.categories[TOP];
        assert_eq!(top.len(), entries.len());
        let calc = top.iter().find(|i| i.name == "x2god-lab-Rechner");
        assert!(calc.is_some_and(|i| i.comment == "Rechner für das x2god-Labor"));

        let split = build_menu(&entries, "C", 0);
        let utilities: Vec<&str> = split.categories["Utilities"]
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| n.starts_with("x2god-lab-"))
            .collect();
        assert_eq!(
            utilities,
            ["x2god-lab-calc", "x2god-lab-notes", "x2god-lab-term"]
        );
        assert!(
            split.categories["Internet"]
                .iter()
                .any(|i| i.name == "x2god-lab-browser")
        );
        assert!(split.categories.values().all(|v| !v.is_empty()));
    }

    #[test]
    fn exec_with_equals_and_field_codes() {
        let text = "<desktop>\nName=A\nExec=foo --opt=1 --x=%f %U 100%% %i%c%k %z\n</desktop>\n";
        let (e, r) = parse_apps(text);
        assert!(r.is_empty());
        assert_eq!(e[0].exec, "foo --opt=1 --x=  100%  %z");
        assert_eq!(strip_field_codes("a %"), "a %");
        assert_eq!(strip_field_codes("%%f"), "%f");
    }

    #[test]
    fn string_escapes() {
        let (e, _) = parse_apps("<desktop>\nName=a\\sb\\\\c\\q\nExec=x\\sy\n</desktop>\n");
        assert_eq!(e[0].name(""), "a b\\c\\q");
        assert_eq!(e[0].exec, "x y");
    }

    #[test]
    fn locale_fallback() {
        assert_eq!(
            locale_candidates("de_DE.UTF-8@euro"),
            ["de_DE@euro", "de_DE", "de@euro", "de", ""]
        );
        assert_eq!(locale_candidates("sr@latin"), ["sr@latin", "sr", ""]);
        assert_eq!(locale_candidates("pt-BR"), ["pt_BR", "pt", ""]);
        assert_eq!(locale_candidates("C.UTF-8"), [""]);
        assert_eq!(locale_candidates(""), [""]);

        let text = "<desktop>\nName=Default\nName[de]=Deutsch\nName[de_AT]=Österreichisch\n\
                    Name[de@euro]=Euro\nName[sr@latin]=Latinica\nName[pt_BR.UTF-8]=Brasil\n\
                    Comment[de]=Kommentar\nExec=x\n</desktop>\n";
        let (e, _) = parse_apps(text);
        let e = &e[0];
        assert_eq!(e.name("de_AT.UTF-8"), "Österreichisch");
        assert_eq!(e.name("de_DE.UTF-8@euro"), "Euro");
        assert_eq!(e.name("de_DE"), "Deutsch");
        assert_eq!(e.name("de_CH@euro"), "Euro");
        assert_eq!(e.name("sr_RS@latin"), "Latinica");
        assert_eq!(e.name("pt_BR"), "Brasil");
        assert_eq!(e.name("en_US"), "Default");
        assert_eq!(e.name("C"), "Default");
        // python-x2go's regex would have matched Name[d.] for lang "d.": no such thing here.
        assert_eq!(e.name("d."), "Default");
        assert_eq!(e.comment("de_DE"), "Kommentar");
        assert_eq!(e.comment("en"), "Default");
    }

    #[test]
    fn only_localized_name() {
        let (e, _) = parse_apps("<desktop>\nName[de]=Nur deutsch\nExec=x\n</desktop>\n");
        assert_eq!(e[0].name("en"), "Nur deutsch");
        assert_eq!(e[0].comment("en"), "Nur deutsch");
    }

    #[test]
    fn skipped_entries() {
        let text = "junk\n<desktop>\nName=NoExec\nComment=c\n</desktop>\n\
                    <desktop>\nName=EmptyExec\nExec= %U\n</desktop>\n\
                    <desktop>\nComment=nameless\nExec=x\n</desktop>\n\
                    <desktop>\nName=Cut\nExec=y\n<desktop>\nName=Ok\nExec=z\n</desktop>\n\
                    <desktop>\nName=Tail\nExec=t\n";
        let (e, r) = parse_apps(text);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].name(""), "Ok");
        assert_eq!(r.len(), 6, "{r:?}");
        assert!(r[0].contains("NoExec"));
        assert!(r[1].contains("EmptyExec"));
        assert!(r.iter().any(|x| x.contains("stray")));
    }

    #[test]
    fn icons() {
        let png = general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n0000");
        let svg = general_purpose::STANDARD.encode(b"<?xml version=\"1.0\"?>\n<svg></svg>");
        let text = format!(
            "<desktop>\nName=Missing\nExec=a\n</desktop>\n\
             <desktop>\nName=Broken\n<icon>\n!!!not base64***\n\n</icon>\nExec=b\n</desktop>\n\
             <desktop>\nName=Png\n<icon>\n{png}\n\n</icon>\nExec=c\n</desktop>\n\
             <desktop>\nName=Svg\r\n<icon>\r\n{svg}\r\n</icon>\r\nExec=d\r\n</desktop>\r\n\
             <desktop>\nName=Open\n<icon>\n{png}\nExec=e\n</desktop>\n"
        );
        let (e, r) = parse_apps(&text);
        assert_eq!(e.len(), 5);
        assert_eq!((e[0].icon.is_none(), e[0].icon_format), (true, None));
        assert_eq!((e[1].icon.is_none(), e[1].icon_format), (true, None));
        assert_eq!(e[1].exec, "b");
        assert_eq!(e[2].icon_format, Some("png"));
        assert_eq!(e[3].icon_format, Some("svg"));
        assert_eq!(e[3].name(""), "Svg");
        // An unterminated <icon> block is ignored; its lines are read as keys.
        assert_eq!((e[4].exec.as_str(), e[4].icon.is_none()), ("e", true));
        assert!(r.iter().any(|x| x.contains("Broken")));
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_icon_format(b"\xff\xd8\xff\xe0rest"), Some("jpeg"));
        assert_eq!(sniff_icon_format(b"/* XPM */\nstatic char"), Some("xpm"));
        assert_eq!(sniff_icon_format(b"\xef\xbb\xbf <svg/>"), Some("svg"));
        assert_eq!(
            sniff_icon_format(&[b"BM".as_slice(), &[0; 30]].concat()),
            Some("bmp")
        );
        assert_eq!(sniff_icon_format(b"BM"), None);
        assert_eq!(sniff_icon_format(b""), None);
        assert_eq!(sniff_icon_format(b"GIF89a"), None);
    }

    #[test]
    fn terminal_and_duplicates() {
        let text = "<desktop>\nName=A\nName=B\nTerminal = TRUE\nExec=first\nExec=second\n\
                    Exec[de]=lokal\nNameX=bogus\nname=lower\n</desktop>\n";
        let (e, _) = parse_apps(text);
        assert_eq!(e[0].name(""), "A");
        assert!(e[0].terminal);
        assert_eq!(e[0].exec, "first");
        assert_eq!(e[0].names.len(), 1);
    }

    fn app(name: &str, cats: &str) -> AppEntry {
        let text =
            format!("<desktop>\nName={name}\nExec=run-{name}\nCategories={cats}\n</desktop>\n");
        let (mut e, _) = parse_apps(&text);
        e.pop().unwrap_or_default()
    }

    #[test]
    fn categories() {
        let t = |c: &str| category_title(&app("x", c).categories);
        assert_eq!(t("Utility;X2Go-Top;"), TOP);
        assert_eq!(t("AudioVideo;Player;"), "Multimedia");
        assert_eq!(t("Audio"), "Multimedia");
        assert_eq!(t("Development;IDE"), "Development");
        assert_eq!(t("Education;Science"), "Education");
        assert_eq!(t("Game;ArcadeGame"), "Games");
        assert_eq!(t("Graphics"), "Graphics");
        assert_eq!(t("Qt;KDE;Network;RemoteAccess;"), "Internet");
        assert_eq!(t("Office"), "Office");
        assert_eq!(t("Settings;System;"), "System");
        assert_eq!(t("Utility;TextEditor"), "Utilities");
        assert_eq!(t("Science;"), OTHER_APPLICATIONS);
        assert_eq!(t("GameBoy;utility"), OTHER_APPLICATIONS);
        assert_eq!(t(""), OTHER_APPLICATIONS);
    }

    #[test]
    fn submenu_threshold_and_sorting() {
        let entries = vec![
            app("zeta", "Utility"),
            app("Alpha", "Utility"),
            app("beta", "Network"),
        ];
        for max in [3, 10, -1, i32::MAX] {
            let m = build_menu(&entries, "", max);
            assert_eq!(m.categories.len(), 1, "max {max}");
            let names: Vec<_> = m.categories[TOP].iter().map(|i| i.name.as_str()).collect();
            assert_eq!(names, ["Alpha", "beta", "zeta"]);
        }
        let m = build_menu(&entries, "", 2);
        assert_eq!(
            m.categories.keys().map(String::as_str).collect::<Vec<_>>(),
            ["Internet", "Utilities"]
        );
        assert_eq!(m.categories["Utilities"][0].name, "Alpha");
        assert_eq!(m.categories["Utilities"][0].exec, "run-Alpha");
        assert_eq!(m.categories["Utilities"][0].comment, "Alpha");
        assert!(build_menu(&[], "de", 0).categories.is_empty());
        assert!(build_menu(&[], "de", i32::MIN).categories.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC{0,400}", lang in "\\PC{0,20}", max in any::<i32>()) {
            let (e, _) = parse_apps(&s);
            let m = build_menu(&e, &lang, max);
            prop_assert!(m.categories.values().all(|v| !v.is_empty()));
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (e, _) = parse_apps(&String::from_utf8_lossy(&b));
            let _ = build_menu(&e, "de_DE.UTF-8@euro", 0);
            let _ = sniff_icon_format(&b);
        }

        #[test]
        fn never_panics_on_structured_text(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("<desktop>".to_owned()),
                    Just("</desktop>".to_owned()),
                    Just("<icon>".to_owned()),
                    Just("</icon>".to_owned()),
                    "[A-Za-z0-9+/=]{0,20}",
                    "(Name|Comment)(\\[[a-z_@.A-Z-]{0,8}\\]?)?=\\PC{0,10}",
                    "(Exec|Terminal|Categories)=[%a-zA-Z; =\\\\]{0,16}",
                ],
                0..40,
            ),
            lang in "[a-zA-Z_.@-]{0,12}",
        ) {
            let (e, _) = parse_apps(&lines.join("\n"));
            for x in &e {
                prop_assert!(!x.exec.is_empty());
                let _ = (x.name(&lang), x.comment(&lang));
            }
            let m = build_menu(&e, &lang, 1);
            prop_assert_eq!(m.categories.values().map(Vec::len).sum::<usize>(), e.len());
        }
    }
}
