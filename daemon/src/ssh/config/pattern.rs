//! Host patterns as OpenSSH's `match.c` reads them: `*` and `?` wildcards, `!` negation, host
//! names compared without regard to case. A negated pattern that matches rejects the host
//! whatever else matches; otherwise one matching positive pattern accepts it.

/// Whether `text` matches the wildcard `pattern` (`*`: any run, `?`: one character); host
/// names in ssh_config match without regard to case, as in OpenSSH.
pub(super) fn wildcard(text: &str, pattern: &str) -> bool {
    crate::ssh::known_hosts::glob_match(&pattern.to_lowercase(), &text.to_lowercase())
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
