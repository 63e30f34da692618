//! Qt's INI dialect, read the way `QSettings` reads it: sections (merged when repeated,
//! `[General]` being the top level), `%XX` escapes in names, `;` comments, continuation lines,
//! and values with quotes, backslash escapes, unquoted commas making lists, and Qt's `@…(…)`
//! markers (`@Invalid()`, `@ByteArray(…)`, `@Variant(…)`). A line that is neither a header
//! nor `key=value` is skipped with a warning, as `QSettings` skips it.
//!
//! Only reading, and nothing about what the keys mean: that is the caller's business (see
//! `x2goclient`).
//!
//! The INI syntax is read by hand rather than with `rust-ini`, because that crate does not read
//! this dialect faithfully: its `\x` escape takes exactly four hex digits while Qt 5 writes
//! `\xfc` (so its escape mode fails on any profile with an umlaut), and with escapes and quotes
//! off it joins a line without `=` to the next line's key, and an unclosed `[` swallows the
//! following lines into the section name — both silently losing settings instead of skipping
//! one bad line, as `QSettings` does. (Still so in rust-ini 0.21.3.)

use std::collections::HashMap;

// ---------------------------------------------------------------------------------------------
// INI lines and sections, as QSettings reads them
// ---------------------------------------------------------------------------------------------

/// One logical line: no leading blanks, comments removed, continuation lines joined in place.
struct Line<'a> {
    text: &'a str,
    /// Byte offset of the first `=` outside double quotes.
    equals: Option<usize>,
    /// 1-based number of the physical line it starts on.
    number: usize,
}

/// Splits `text` into logical lines like `QSettingsPrivate::readIniLine`: `;` outside quotes
/// starts a comment, a backslash escapes the next character including a line break. Unlike
/// Qt, a line break inside quotes still ends the line (Qt never writes one, it writes `\n`), so
/// one unbalanced quote in a hand-edited file cannot swallow the profiles after it; and `#` at
/// the start of a line is a comment too, as for python-x2go's `configparser`.
fn logical_lines(text: &str) -> Vec<Line<'_>> {
    let b = text.as_bytes();
    let mut lines = Vec::new();
    let mut i = 0;
    let mut number = 1;
    // Consumes a line break at `i` (`\n`, `\r` or `\r\n`) and counts it.
    let line_break = |i: &mut usize, number: &mut usize| {
        if b.get(*i) == Some(&b'\r') && b.get(*i + 1) == Some(&b'\n') {
            *i += 1;
        }
        *i += 1;
        *number += 1;
    };
    while i < b.len() {
        match b[i] {
            b'\n' | b'\r' => {
                line_break(&mut i, &mut number);
                continue;
            }
            b' ' | b'\t' | 0x0b | 0x0c => {
                i += 1;
                continue;
            }
            b';' | b'#' => {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let start = i;
        let start_number = number;
        let mut in_quotes = false;
        let mut equals = None;
        while i < b.len() {
            match b[i] {
                b'\n' | b'\r' => break,
                b';' if !in_quotes => break,
                b'=' if !in_quotes && equals.is_none() => {
                    equals = Some(i - start);
                    i += 1;
                }
                b'"' => {
                    in_quotes = !in_quotes;
                    i += 1;
                }
                b'\\' => {
                    i += 1;
                    match b.get(i) {
                        Some(b'\n' | b'\r') => line_break(&mut i, &mut number),
                        // Stepping one byte may land inside a multi-byte character; harmless,
                        // since only ASCII bytes are acted on and the line ends on one.
                        Some(_) => i += 1,
                        None => {}
                    }
                }
                _ => i += 1,
            }
        }
        // `i` is at an ASCII byte or the end, so this is a character boundary.
        lines.push(Line {
            text: &text[start..i],
            equals,
            number: start_number,
        });
    }
    lines
}

/// What Qt trims around section names and keys (`QByteArray::trimmed`; line breaks cannot
/// occur there but after a backslash), and skips at the start of a line.
const BLANKS: [char; 4] = [' ', '\t', '\x0b', '\x0c'];

/// One section: its name and its entries.
pub(super) struct Section {
    /// The name, unescaped.
    pub(super) name: String,
    /// Keys and undecoded values in file order; a repeated key appears again.
    pub(super) entries: Vec<(String, String)>,
}

/// Groups the lines into sections. Repeated sections are merged, as `QSettings` does. Each
/// line that cannot be used is skipped and described to `report`, one call per line.
pub(super) fn read_sections(text: &str, report: &mut impl FnMut(String)) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut current: Option<usize> = None;
    for line in logical_lines(text) {
        if let Some(inner) = line.text.strip_prefix('[') {
            let name = match inner.find(']') {
                Some(end) => &inner[..end],
                None => {
                    report(format!("line {}: section header without ']'", line.number));
                    inner
                }
            };
            let name = name.trim_matches(BLANKS);
            if name.is_empty() || name.eq_ignore_ascii_case("general") {
                // Qt's top level, never a profile.
                if name.is_empty() {
                    report(format!("line {}: empty section name", line.number));
                }
                current = None;
                continue;
            }
            let id = match name.strip_prefix('%') {
                Some(rest) if rest.eq_ignore_ascii_case("general") => rest.to_owned(),
                _ => unescape_key(name),
            };
            if id.is_empty() {
                // Only a continuation inside the brackets (`[\` then a line break): nothing
                // names the section, and a profile needs a name.
                report(format!("line {}: empty section name", line.number));
                current = None;
                continue;
            }
            current = Some(match index.get(&id) {
                Some(&i) => {
                    report(format!(
                        "line {}: section [{id}] appears again; merged",
                        line.number
                    ));
                    i
                }
                None => {
                    index.insert(id.clone(), sections.len());
                    sections.push(Section {
                        name: id,
                        entries: Vec::new(),
                    });
                    sections.len() - 1
                }
            });
            continue;
        }
        let Some(eq) = line.equals else {
            report(format!(
                "line {}: neither a [section] header nor key=value; skipped",
                line.number
            ));
            continue;
        };
        let key = unescape_key(line.text[..eq].trim_end_matches(BLANKS));
        if key.is_empty() {
            report(format!("line {}: empty key; skipped", line.number));
            continue;
        }
        let Some(i) = current else {
            report(format!(
                "line {}: key {key:?} outside any profile section; skipped",
                line.number
            ));
            continue;
        };
        sections[i]
            .entries
            .push((key, line.text[eq + 1..].to_owned()));
    }
    sections
}

/// Decodes a key or section name like `QSettingsPrivate::iniUnescapedKey`: `%XX` and `%UXXXX`
/// are UTF-16 code units, a backslash is Qt's group separator `/`.
pub(super) fn unescape_key(s: &str) -> String {
    let mut units: Vec<u16> = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            // A continuation line adds nothing, as in values (`\r\n` is one break), so the
            // file reads the same with either line end.
            '\\' if rest.starts_with(['\n', '\r']) => {
                let skip = if rest.starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[skip..];
            }
            '\\' => units.push(u16::from(b'/')),
            '%' => {
                let (digits, after) = match rest.strip_prefix('U') {
                    Some(r) => (4, r),
                    None => (2, rest),
                };
                let hex = after
                    .get(..digits)
                    .filter(|h| h.len() == digits && h.bytes().all(|b| b.is_ascii_hexdigit()));
                match hex.and_then(|h| u16::from_str_radix(h, 16).ok()) {
                    Some(unit) => {
                        units.push(unit);
                        rest = &after[digits..];
                    }
                    None => units.push(u16::from(b'%')),
                }
            }
            _ => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
            }
        }
    }
    String::from_utf16_lossy(&units)
}

// ---------------------------------------------------------------------------------------------
// Values, as QSettings reads them
// ---------------------------------------------------------------------------------------------

/// A value as `QSettings` reads it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// `@Invalid()` (Qt's empty list) or a binary `@Variant(…)` that means nothing here.
    Invalid,
    /// A string.
    Text(String),
    /// Unquoted commas make a string list (`applications=WWWBROWSER, TERMINAL`).
    List(Vec<String>),
}

impl Value {
    /// The value as one string: a list joined again with `, `, which is what python-x2go's
    /// `configparser` sees for it.
    pub(super) fn text(&self) -> String {
        match self {
            Value::Invalid => String::new(),
            Value::Text(s) => s.clone(),
            Value::List(l) => l.join(", "),
        }
    }

    /// The non-empty, trimmed items of a comma-separated value: x2goclient quotes `a,b`,
    /// python-x2go writes `a, b` unquoted, which Qt reads as a list.
    pub(super) fn items(&self) -> Vec<String> {
        let all: Vec<&str> = match self {
            Value::Invalid => Vec::new(),
            Value::Text(s) => s.split(',').collect(),
            Value::List(l) => l.iter().flat_map(|s| s.split(',')).collect(),
        };
        all.into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

fn skip_blanks(chars: &[char], i: &mut usize) {
    while chars.get(*i).is_some_and(|c| matches!(c, ' ' | '\t')) {
        *i += 1;
    }
}

/// Drops trailing blanks, but none at or before `limit` (those came from an escape).
fn chop_blanks(units: &mut Vec<u16>, limit: usize) {
    while units.len() > limit && matches!(units.last(), Some(&0x20 | &0x09)) {
        units.pop();
    }
}

/// Decodes the text after `=` like `QSettingsPrivate::iniUnescapedStringList` followed by
/// `stringToVariant`. Escapes yield UTF-16 code units, so Qt 5's `\xd83d\xde00` for one
/// character outside the BMP comes out whole.
pub(super) fn decode_value(raw: &str) -> Value {
    let chars: Vec<char> = raw.chars().collect();
    let mut i = 0;
    let mut current: Vec<u16> = Vec::new();
    let mut list: Option<Vec<String>> = None;
    let mut in_quotes = false;
    let mut quoted = false;
    skip_blanks(&chars, &mut i);
    let mut chop_limit = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => {
                i += 1;
                let Some(&e) = chars.get(i) else { break };
                i += 1;
                match e {
                    'a' => current.push(0x07),
                    'b' => current.push(0x08),
                    'f' => current.push(0x0c),
                    'n' => current.push(0x0a),
                    'r' => current.push(0x0d),
                    't' => current.push(0x09),
                    'v' => current.push(0x0b),
                    '"' | '?' | '\'' | '\\' => current.push(e as u16),
                    'x' => {
                        let mut value: u32 = 0;
                        let mut any = false;
                        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(16)) {
                            value = value.wrapping_mul(16).wrapping_add(d);
                            any = true;
                            i += 1;
                        }
                        if any {
                            // Qt keeps the low 16 bits (`QChar(int)`).
                            current.push(value as u16);
                        }
                    }
                    '0'..='7' => {
                        let mut value = u32::from(e) - u32::from('0');
                        while let Some(d) = chars.get(i).and_then(|c| c.to_digit(8)) {
                            value = value.wrapping_mul(8).wrapping_add(d);
                            i += 1;
                        }
                        current.push(value as u16);
                    }
                    // A continuation line adds nothing; `\r\n` and `\n\r` count as one break.
                    '\n' | '\r'
                        if chars
                            .get(i)
                            .is_some_and(|&n| matches!(n, '\n' | '\r') && n != e) =>
                    {
                        i += 1;
                    }
                    // Qt drops the character of an unknown escape (and a lone line break).
                    _ => {}
                }
                chop_limit = current.len();
            }
            '"' => {
                i += 1;
                quoted = true;
                in_quotes = !in_quotes;
                if !in_quotes {
                    skip_blanks(&chars, &mut i);
                    chop_limit = current.len();
                }
            }
            ',' if !in_quotes => {
                if !quoted {
                    chop_blanks(&mut current, chop_limit);
                }
                list.get_or_insert_with(Vec::new)
                    .push(String::from_utf16_lossy(&current));
                current.clear();
                quoted = false;
                i += 1;
                skip_blanks(&chars, &mut i);
                chop_limit = 0;
            }
            _ => {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(|c| !matches!(c, '\\' | '"' | ',')) {
                    i += 1;
                }
                let mut buf = [0u16; 2];
                for ch in &chars[start..i] {
                    current.extend_from_slice(ch.encode_utf16(&mut buf));
                }
            }
        }
    }
    if !quoted {
        chop_blanks(&mut current, chop_limit);
    }
    let last = String::from_utf16_lossy(&current);
    match list {
        Some(mut items) => {
            items.push(last);
            Value::List(
                items
                    .into_iter()
                    .map(|s| match s.strip_prefix('@') {
                        Some(rest) if rest.starts_with('@') => rest.to_owned(),
                        _ => s,
                    })
                    .collect(),
            )
        }
        None => string_to_variant(last),
    }
}

/// Qt's markers for values that are no plain string: `@Invalid()`, `@ByteArray(…)`, binary
/// `@Variant(…)`, and `@@` for a string that starts with `@`.
fn string_to_variant(s: String) -> Value {
    if !s.starts_with('@') {
        return Value::Text(s);
    }
    if s.ends_with(')') {
        if s == "@Invalid()" {
            return Value::Invalid;
        }
        if let Some(inner) = s
            .strip_prefix("@ByteArray(")
            .and_then(|r| r.strip_suffix(')'))
        {
            return Value::Text(inner.to_owned());
        }
        // Serialised binary data (Qt also writes a string containing NUL as `@String(…)`).
        if ["@Variant(", "@DateTime(", "@String("]
            .iter()
            .any(|p| s.starts_with(p))
        {
            return Value::Invalid;
        }
    }
    match s.strip_prefix('@') {
        Some(rest) if rest.starts_with('@') => Value::Text(rest.to_owned()),
        _ => Value::Text(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_as_qsettings_reads_them() {
        let t = |s: &str| Value::Text(s.into());
        let l = |v: &[&str]| Value::List(v.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(decode_value("  plain value  "), t("plain value"));
        assert_eq!(decode_value("\"  quoted  \"  "), t("  quoted  "));
        assert_eq!(decode_value("\"a,b\""), t("a,b"));
        assert_eq!(decode_value("a , b,c"), l(&["a", "b", "c"]));
        assert_eq!(decode_value("\"x, y\", z"), l(&["x, y", "z"]));
        assert_eq!(decode_value("a,"), l(&["a", ""]));
        assert_eq!(decode_value("B\\xfcro"), t("Büro"));
        assert_eq!(decode_value("Gr\\xfc\\xdf\\x65"), t("Grüße"));
        assert_eq!(decode_value("\\xd83d\\xde00!"), t("😀!"));
        assert_eq!(
            decode_value("tab\\there\\\\ \\\"q\\\""),
            t("tab\there\\ \"q\"")
        );
        assert_eq!(decode_value("\\101\\0"), t("A\0"));
        assert_eq!(decode_value("a\\zb"), t("ab"));
        assert_eq!(decode_value("esc\\t "), t("esc\t"));
        assert_eq!(decode_value("@Invalid()"), Value::Invalid);
        assert_eq!(decode_value("@@Invalid()"), t("@Invalid()"));
        assert_eq!(decode_value("@ByteArray(raw)"), t("raw"));
        assert_eq!(decode_value("@Variant(\\0\\0\\0\\x7f)"), Value::Invalid);
        assert_eq!(decode_value("@other"), t("@other"));
        assert_eq!(decode_value("@@a, @@b"), l(&["@a", "@b"]));
        assert_eq!(decode_value(""), t(""));
        assert_eq!(decode_value("trailing\\"), t("trailing"));
        assert_eq!(decode_value("\\x"), t(""));
    }

    /// Fuzz findings (`x2goclient_sessions`): a continuation line inside a section header or
    /// key read otherwise with `\r\n` line ends, and form feeds around a section name were kept.
    #[test]
    fn names_read_the_same_with_either_line_end_and_are_trimmed_as_qt_does() {
        let names = |text: &str| -> Vec<(String, Vec<String>)> {
            read_sections(text, &mut |_| {})
                .into_iter()
                .map(|s| (s.name, s.entries.into_iter().map(|(k, _)| k).collect()))
                .collect()
        };
        let lf = "[abc\\\ndef]\nke\\\ny=1\n";
        assert_eq!(names(lf), [("abcdef".to_owned(), vec!["key".to_owned()])]);
        assert_eq!(names(&lf.replace('\n', "\r\n")), names(lf));
        assert_eq!(
            names("[\x0cid\x0c\x0b]\nk\x0c=1"),
            [("id".to_owned(), vec!["k".to_owned()])]
        );
        // A backslash elsewhere is still Qt's group separator.
        assert_eq!(names("[a\\b]\n")[0].0, "a/b");
    }

    /// Proptest finding (`never_panics_on_structured_text`): a header holding only a
    /// continuation (`[\` and an empty line) named a section "", imported as a nameless profile.
    #[test]
    fn a_header_with_only_a_continuation_names_no_section() {
        let mut warnings = Vec::new();
        let sections = read_sections("[\\\n\nhost=h\n", &mut |w| warnings.push(w));
        assert!(sections.is_empty(), "{:?}", sections.len());
        assert!(
            warnings.iter().any(|w| w.contains("empty section name")),
            "{warnings:?}"
        );
    }

    #[test]
    fn sections_merge_and_stray_lines_are_reported() {
        let mut warnings = Vec::new();
        let sections = read_sections(
            "top=1\n[a%20b]\nk = v\n[General]\n[a b]\nk=w\nno equals\n[%General]\ng=\"1\"\n",
            &mut |w| warnings.push(w),
        );
        let got: Vec<(&str, Vec<(&str, &str)>)> = sections
            .iter()
            .map(|s| {
                let entries = s.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                (s.name.as_str(), entries.collect())
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a b", vec![("k", " v"), ("k", "w")]),
                ("General", vec![("g", "\"1\"")]),
            ]
        );
        assert_eq!(warnings.len(), 3, "{warnings:#?}");
        assert!(warnings[0].starts_with("line 1:"));
        assert!(warnings[1].starts_with("line 5:") && warnings[1].contains("merged"));
        assert!(warnings[2].starts_with("line 7:"));
    }
}
