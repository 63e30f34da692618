//! The remote shell scripts: files under `scripts/`, which shellcheck reads (`.ci/run`), put
//! together at compile time into the text a command sends.
//!
//! A script includes a fragment it shares with others by a line `. ./<fragment>.sh`. shellcheck
//! follows that line (the files say `source-path=SCRIPTDIR`), so it checks each script with the
//! variables and functions of its fragments, as the server will run it. The server has no such
//! files: [`script!`] puts the fragment's text in place of the line, indented like it. It also
//! leaves out blank lines and lines that are only a comment, which are for readers here, not
//! for the wire; so the files hold no here-documents and no quoted text spanning lines, where a
//! line starting with `#` would be data.
//!
//! All of it runs in `const` context: a script that includes a file which is not a fragment, or
//! a token missing from `tokens.sh`, is a compile error.

/// `tokens.sh`: the words the scripts and the daemon exchange (see [`token`]).
const TOKENS: &str = include_str!("scripts/tokens.sh");

/// The fragments a script may include, by file name.
const FRAGMENTS: [(&str, &str); 5] = [
    ("tokens.sh", TOKENS),
    ("x2go_tmp_dir.sh", include_str!("scripts/x2go_tmp_dir.sh")),
    (
        "any_shadow_dir.sh",
        include_str!("scripts/any_shadow_dir.sh"),
    ),
    ("await_agent.sh", include_str!("scripts/await_agent.sh")),
    ("pulse_config.sh", include_str!("scripts/pulse_config.sh")),
];

/// What starts a line that includes a fragment: the `.` builtin and a path next to the script.
const INCLUDE: &[u8] = b". ./";

/// How deep fragments may include fragments; deeper, they include each other in a circle.
const MAX_DEPTH: u32 = 4;

/// The text of `scripts/<file>` as a command sends it, a `&'static str` constant: fragments in
/// place of the lines that include them, without comment lines and blank lines.
macro_rules! script {
    ($file:literal) => {{
        const SOURCE: &str = include_str!(concat!("scripts/", $file));
        const TEXT: [u8; $crate::x2go::scripts::composed_len(SOURCE)] =
            $crate::x2go::scripts::compose(SOURCE);
        $crate::x2go::scripts::as_str(&TEXT)
    }};
}
pub(super) use script;

/// Length of the text [`compose`] makes of `source`.
pub(super) const fn composed_len(source: &str) -> usize {
    write(source.as_bytes(), 0, &mut [], 0, 0)
}

/// The text sent for `source`, `N` ([`composed_len`]) bytes long.
pub(super) const fn compose<const N: usize>(source: &str) -> [u8; N] {
    let mut out = [0; N];
    let end = write(source.as_bytes(), 0, &mut out, 0, 0);
    assert!(end == N, "composed script length changed");
    out
}

/// `text` as a string; the composition cuts lines at ASCII bytes only, so UTF-8 stays whole.
pub(super) const fn as_str(text: &'static [u8]) -> &'static str {
    match core::str::from_utf8(text) {
        Ok(s) => s,
        Err(_) => panic!("a script is not UTF-8"),
    }
}

/// The value of the line `<name>=<value>` of `tokens.sh`, which must be a plain word (no
/// quoting in the shell, nothing to trim here).
pub(super) const fn token(name: &str) -> &'static str {
    let source = TOKENS.as_bytes();
    let name = name.as_bytes();
    let mut start = 0;
    while start < source.len() {
        let end = line_end(source, start);
        let line = bytes(source, start, end);
        start = end + 1;
        if line.len() > name.len() && starts_with(line, name) && line[name.len()] == b'=' {
            let value = bytes(line, name.len() + 1, line.len());
            assert!(is_word(value), "a value in tokens.sh is not a plain word");
            return as_str(value);
        }
    }
    panic!("a token is missing from tokens.sh")
}

/// Writes the lines of `source` that reach the server into `out` from `at`, a newline before
/// each but the very first, indented by `indent` more blanks, fragments in place of the lines
/// that include them; returns where the text ends. Bytes past the end of `out` are only
/// counted (for [`composed_len`]).
const fn write(source: &[u8], indent: usize, out: &mut [u8], mut at: usize, depth: u32) -> usize {
    assert!(
        depth <= MAX_DEPTH,
        "fragments include each other in a circle"
    );
    let mut start = 0;
    while start < source.len() {
        let end = line_end(source, start);
        let line = bytes(source, start, end);
        start = end + 1;
        let blanks = leading_blanks(line);
        let code = bytes(line, blanks, line.len());
        if code.is_empty() || code[0] == b'#' {
            continue;
        }
        if starts_with(code, INCLUDE) {
            let name = bytes(code, INCLUDE.len(), code.len());
            at = write(fragment(name), indent + blanks, out, at, depth + 1);
            continue;
        }
        if at > 0 {
            at = put(out, at, b'\n');
        }
        let mut i = 0;
        while i < indent {
            at = put(out, at, b' ');
            i += 1;
        }
        let mut i = 0;
        while i < line.len() {
            at = put(out, at, line[i]);
            i += 1;
        }
    }
    at
}

/// The text of the fragment called `name`.
const fn fragment(name: &[u8]) -> &'static [u8] {
    let mut i = 0;
    while i < FRAGMENTS.len() {
        let (file, text) = FRAGMENTS[i];
        if eq(file.as_bytes(), name) {
            return text.as_bytes();
        }
        i += 1;
    }
    panic!("a script includes a file that is not in FRAGMENTS")
}

/// Stores `b` at `at` when `out` reaches that far; returns the next position.
const fn put(out: &mut [u8], at: usize, b: u8) -> usize {
    if at < out.len() {
        out[at] = b;
    }
    at + 1
}

/// Where the line starting at `start` ends: its newline, or the end of `s`.
const fn line_end(s: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < s.len() && s[i] != b'\n' {
        i += 1;
    }
    i
}

/// `s[start..end]`.
const fn bytes(s: &[u8], start: usize, end: usize) -> &[u8] {
    s.split_at(end).0.split_at(start).1
}

/// How many spaces and tabs `s` starts with.
const fn leading_blanks(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

/// Whether `s` starts with `prefix`.
const fn starts_with(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && eq(bytes(s, 0, prefix.len()), prefix)
}

/// Whether `a` and `b` are equal.
const fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `s` is a non-empty word of `[A-Za-z0-9_-]`.
const fn is_word(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        if !(c.is_ascii_alphanumeric() || c == b'_' || c == b'-') {
            return false;
        }
        i += 1;
    }
    !s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// The composition of `source`, at run time.
    fn composed(source: &str) -> String {
        let mut out = vec![0; composed_len(source)];
        let end = write(source.as_bytes(), 0, &mut out, 0, 0);
        assert_eq!(end, out.len());
        String::from_utf8(out).unwrap()
    }

    fn scripts_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/x2go/scripts")
    }

    /// Every `scripts/*.sh`, by file name.
    fn script_files() -> Vec<(String, String)> {
        let mut files: Vec<_> = std::fs::read_dir(scripts_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sh"))
            .map(|p| {
                let name = p.file_name().unwrap().to_str().unwrap().to_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        files.sort();
        files
    }

    /// The `(name, value)` pairs of `tokens.sh`.
    fn tokens() -> Vec<(&'static str, &'static str)> {
        TOKENS
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|l| l.split_once('=').unwrap_or((l, "")))
            .collect()
    }

    #[test]
    fn fragments_replace_their_include_lines_indented() {
        let source = "#!/bin/bash\n# why\n\nif [ -z \"$d\" ]; then\n  . ./x2go_tmp_dir.sh\n\
                      \t# more why\n  echo \"$d\"  # trailing comments stay\nfi\n";
        let tmp_dir: Vec<String> = composed(FRAGMENTS[1].1)
            .lines()
            .map(|l| format!("  {l}"))
            .collect();
        assert_eq!(
            composed(source),
            format!(
                "if [ -z \"$d\" ]; then\n{}\n  echo \"$d\"  # trailing comments stay\nfi",
                tmp_dir.join("\n")
            )
        );
        assert!(tmp_dir[0].starts_with("  u=${USER:-}"), "{tmp_dir:?}");
        // Fragments include fragments; nothing but code reaches the wire.
        let awaits = composed(". ./await_agent.sh\n");
        assert!(awaits.starts_with("lib=$(x2gopath libexec) || exit 1\nu=${USER:-}\n"));
        assert!(
            !awaits
                .lines()
                .any(|l| l.trim().is_empty() || l.contains(". ./"))
        );
        assert!(!awaits.lines().any(|l| l.trim_start().starts_with('#')));
        assert_eq!(composed(""), "");
        assert_eq!(composed("# only\n\n"), "");
    }

    #[test]
    fn every_fragment_is_a_file_here() {
        let files = script_files();
        for (name, text) in FRAGMENTS {
            assert!(files.iter().any(|(f, t)| f == name && t == text), "{name}");
        }
    }

    /// What the composition relies on: no line of a script file is data of a multi-line
    /// construct, and every one names its shell for shellcheck.
    #[test]
    fn script_files_suit_the_composition() {
        for (name, text) in script_files() {
            assert!(!text.contains("<<"), "{name}: here-document");
            let first = text.lines().next().unwrap_or_default();
            assert!(
                first == "#!/bin/bash" || first == "# shellcheck shell=sh",
                "{name}: {first:?}"
            );
            assert!(!text.contains('\r'), "{name}");
        }
    }

    #[test]
    fn tokens_are_plain_distinct_assignments() {
        let all = tokens();
        assert!(all.len() >= 17, "{all:?}");
        for (name, value) in &all {
            assert!(
                name.starts_with("x2god_")
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            assert!(is_word(value.as_bytes()), "{name}={value}");
            assert_eq!(token(name), *value);
        }
        for (i, (name, value)) in all.iter().enumerate() {
            for (other, other_value) in &all[i + 1..] {
                assert_ne!(name, other);
                assert_ne!(value, other_value, "{name} and {other}");
            }
        }
    }

    /// Each token is spelled once: no script and no code of the X2Go layer writes one out
    /// (tests may, to check the wire), and every one is used by some script.
    #[test]
    fn tokens_are_spelled_only_in_tokens_sh() {
        let words: Vec<_> = tokens()
            .into_iter()
            .filter(|(_, v)| v.starts_with("X2GOD"))
            .collect();
        let scripts: Vec<_> = script_files()
            .into_iter()
            .filter(|(name, _)| name != "tokens.sh")
            .collect();
        for (name, text) in &scripts {
            for (_, value) in &words {
                assert!(!text.contains(value), "{name} spells {value}");
            }
        }
        for (var, _) in tokens() {
            let used = scripts.iter().any(|(_, t)| {
                t.contains(&format!("\"${var}\"")) || t.contains(&format!("${var} "))
            });
            assert!(used, "no script uses {var}");
        }
        let x2go = scripts_dir().parent().unwrap().to_owned();
        for entry in std::fs::read_dir(&x2go).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (_, value) in &words {
                    assert!(!line.contains(value), "{}: {line}", path.display());
                }
            }
        }
    }
}
