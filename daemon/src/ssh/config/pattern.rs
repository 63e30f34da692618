//! Host patterns as OpenSSH's `match.c` reads them: `*` and `?` wildcards, `!` negation, host
//! names compared without regard to case. A negated pattern that matches rejects the host
//! whatever else matches; otherwise one matching positive pattern accepts it.

/// Whether `text` matches the wildcard `pattern` (`*`: any run, `?`: one character).
pub(super) fn wildcard(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    // Iterative matching with one backtrack point: linear in practice, no recursion.
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// Whether `host` matches a list of patterns, each possibly negated with `!`.
pub(super) fn matches_list<'a>(host: &str, patterns: impl IntoIterator<Item = &'a str>) -> bool {
    let mut positive = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard(host, negated) => return false,
            Some(_) => {}
            None => positive |= wildcard(host, pattern),
        }
    }
    positive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("srv.example.org", "*.example.org"));
        assert!(wildcard("SRV.Example.org", "srv.example.*"));
        assert!(wildcard("a", "?"));
        assert!(!wildcard("ab", "?"));
        assert!(wildcard("", "*"));
        assert!(wildcard("abcabd", "*ab?"));
        assert!(!wildcard("abc", "abd"));
        assert!(wildcard("10.0.0.1", "10.*.1"));
        assert!(!wildcard("10.0.0.2", "10.*.1"));
    }

    #[test]
    fn negation() {
        assert!(matches_list("a.lan", ["*.lan"]));
        assert!(!matches_list("b.lan", ["*.lan", "!b.lan"]));
        assert!(!matches_list("b.lan", ["!b.lan", "*.lan"]));
        // A negation alone accepts nothing.
        assert!(!matches_list("c.lan", ["!b.lan"]));
        assert!(!matches_list("x", []));
    }
}
