//! Shared invariant checks for the x2god fuzz targets.
//!
//! Every check panics (and so makes libFuzzer report a crash with the input) when an invariant
//! does not hold. They are cheap: no I/O, no allocation beyond what the checked value needs.

use x2god::x2go::{Envelope, RemoteCommand};

/// Characters that must never appear in a validated value that reaches a remote shell: shell
/// syntax, quoting, globbing, and line/NUL control characters.
pub const SHELL_META: &[char] = &[
    ';', '|', '&', '$', '`', '<', '>', '(', ')', '\'', '"', '\\', '*', '?', '[', ']', '{', '}',
    '~', '#', '!', '\n', '\r', '\t', '\0',
];

/// Asserts that an accepted `value` holds none of [`SHELL_META`] (blanks are the caller's
/// business: only session command lines may contain them) and no control character.
pub fn assert_no_shell_meta(what: &str, value: &str) {
    if let Some(c) = value
        .chars()
        .find(|c| SHELL_META.contains(c) || c.is_control())
    {
        panic!("accepted {what} {value:?} contains {c:?}");
    }
}

/// Asserts that every character of an accepted `value` satisfies `allowed`.
pub fn assert_charset(what: &str, value: &str, allowed: impl Fn(char) -> bool) {
    if let Some(c) = value.chars().find(|&c| !allowed(c)) {
        panic!("accepted {what} {value:?} contains {c:?} outside its character set");
    }
}

/// Checks the quoting of a rendered shell line: outside quotes only plain word characters and
/// blanks, inside double quotes every `$`, `` ` ``, `"` and `\` escaped, and every quote
/// closed. `extra_plain` lists characters a fixed part of the line may use unquoted.
pub fn assert_quoted(line: &str, extra_plain: &[char]) {
    #[derive(PartialEq)]
    enum St {
        Out,
        Single,
        Double,
    }
    let mut st = St::Out;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match st {
            St::Out => match c {
                '\'' => st = St::Single,
                '"' => st = St::Double,
                c if c.is_ascii_alphanumeric()
                    || matches!(c, ' ' | '+' | '-' | '.' | '/' | ':' | '@' | ']' | '_' | '=')
                    || extra_plain.contains(&c) => {}
                c => panic!("unquoted {c:?} in shell line {line:?}"),
            },
            St::Single => {
                if c == '\'' {
                    st = St::Out;
                }
            }
            St::Double => match c {
                '"' => st = St::Out,
                '\\' => {
                    let next = chars.next();
                    assert!(next.is_some(), "dangling backslash in shell line {line:?}");
                }
                '$' | '`' => panic!("unescaped {c:?} inside double quotes in {line:?}"),
                _ => {}
            },
        }
    }
    assert!(st == St::Out, "unterminated quote in shell line {line:?}");
}

/// The words `to_shell` must produce: `NAME=value` assignments, then the argv.
pub fn expected_words(cmd: &RemoteCommand) -> Vec<String> {
    cmd.env()
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .chain(cmd.argv().iter().cloned())
        .collect()
}

const DETACHED_PREFIX: &str = "{ ";
const DETACHED_SUFFIX: &str = " </dev/null >/dev/null 2>&1 & }";

/// Asserts that `cmd.to_shell()` splits back into exactly its environment and argv, with no
/// shell syntax outside quotes, and that the exec envelope around it quotes it once more
/// correctly. A command holding a NUL must render as `false`.
pub fn check_command(cmd: &RemoteCommand) {
    let line = cmd.to_shell();
    let words = expected_words(cmd);
    if words.iter().any(|w| w.contains('\0')) {
        assert_eq!(line, "false", "a command with NUL must render as false");
        return;
    }
    let inner = if cmd.is_detached() {
        line.strip_prefix(DETACHED_PREFIX)
            .and_then(|l| l.strip_suffix(DETACHED_SUFFIX))
            .unwrap_or_else(|| panic!("detached command not wrapped: {line:?}"))
    } else {
        line.as_str()
    };
    assert_quoted(inner, &[]);
    let split = shlex::split(inner).unwrap_or_else(|| panic!("shlex cannot split {inner:?}"));
    assert_eq!(
        split, words,
        "to_shell does not split back to env + argv: {line:?}"
    );
    check_envelope_wrap(cmd, &line);
}

/// Asserts that [`Envelope::wrap`] puts `line` (the command's `to_shell`) into exactly one
/// quoted word for `/bin/sh -c`, between the fixed marker commands.
fn check_envelope_wrap(cmd: &RemoteCommand, line: &str) {
    let id = "fuzz0000id";
    let Ok(env) = Envelope::new(id) else {
        panic!("envelope id {id:?} refused");
    };
    let wrapped = env.wrap(cmd);
    let prefix = format!("echo X2GODATABEGIN:{id}; /bin/sh -c ");
    let suffix = format!("; x2god_rc=$?; echo X2GODATAEND:{id}; exit $x2god_rc");
    let quoted = wrapped
        .strip_prefix(&prefix)
        .and_then(|w| w.strip_suffix(&suffix))
        .unwrap_or_else(|| panic!("unexpected envelope shape: {wrapped:?}"));
    assert_quoted(quoted, &[]);
    let words = shlex::split(quoted).unwrap_or_else(|| panic!("cannot split {quoted:?}"));
    let want = format!("PATH=/usr/local/bin:/usr/bin:/bin; export PATH; {line}; exit $?");
    assert_eq!(
        words,
        [want],
        "envelope does not quote the command as one word"
    );
}

/// The text of `data` when it is UTF-8 (every parser input is a `&str`; the daemon decodes
/// server output before parsing).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Whether `s` is 32 lower-case hex digits (an X cookie).
pub fn is_cookie(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
