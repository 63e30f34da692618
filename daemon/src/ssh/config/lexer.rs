//! One line of an OpenSSH client configuration file split into its keyword and arguments, as
//! `readconf.c` and `argv_split()` do it: `Keyword args`, `Keyword=args` or `Keyword = args`;
//! arguments separated by white space, grouped by double or single quotes, with `\` escaping
//! a quote, a backslash or a space; an argument starting with `#` ends the line.

/// A line's keyword and arguments; `None` for blank and comment lines.
pub(super) type Tokens = Option<(String, Vec<String>)>;

/// Splits `line`. The error says what is wrong, for the caller to place at its file and line.
pub(super) fn split_line(line: &str) -> Result<Tokens, String> {
    let line = line.trim_start_matches([' ', '\t', '\r']);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line
        .find(|c: char| c.is_ascii_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    if keyword.is_empty() {
        return Err("the line starts with '=' instead of a keyword".into());
    }
    // One optional '=' between keyword and arguments, with white space around it.
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let args = split_args(rest)?;
    Ok(Some((keyword.to_owned(), args)))
}

/// The arguments of a line.
fn split_args(s: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(args);
        };
        if first == '#' {
            return Ok(args);
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match (c, quote) {
                ('\\', _) => match chars.peek() {
                    Some(&n) if n == '\\' || n == '"' || n == '\'' || n == ' ' => {
                        arg.push(n);
                        chars.next();
                    }
                    _ => arg.push('\\'),
                },
                (q, None) if q == '"' || q == '\'' => quote = Some(q),
                (q, Some(open)) if q == open => quote = None,
                (w, None) if w.is_ascii_whitespace() => break,
                (other, _) => arg.push(other),
            }
        }
        if let Some(q) = quote {
            return Err(format!("unterminated {q} quote"));
        }
        args.push(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> (String, Vec<String>) {
        split_line(line).unwrap().unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(split_line("").unwrap(), None);
        assert_eq!(split_line("   # note").unwrap(), None);
        assert_eq!(split("Port 22"), ("Port".into(), vec!["22".into()]));
        assert_eq!(split("Port=22"), ("Port".into(), vec!["22".into()]));
        assert_eq!(split("  Port = 22  "), ("Port".into(), vec!["22".into()]));
        assert_eq!(
            split("\tHost a b\t!c"),
            ("Host".into(), vec!["a".into(), "b".into(), "!c".into()])
        );
        assert_eq!(split("Host a # comment"), ("Host".into(), vec!["a".into()]));
        assert_eq!(
            split("IdentityFile \"~/my keys/id\""),
            ("IdentityFile".into(), vec!["~/my keys/id".into()])
        );
        assert_eq!(
            split("IdentityFile ~/my\\ keys/id"),
            ("IdentityFile".into(), vec!["~/my keys/id".into()])
        );
        assert_eq!(split("User 'a\"b'"), ("User".into(), vec!["a\"b".into()]));
        assert_eq!(split("HostName"), ("HostName".into(), vec![]));
    }

    #[test]
    fn errors() {
        assert!(
            split_line("IdentityFile \"~/x")
                .unwrap_err()
                .contains("quote")
        );
        assert!(split_line("=x").is_err());
    }
}
