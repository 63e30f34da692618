//! Parsers for the small server queries: features, versions, mounts, shadowable desktops and the
//! environment probes built by `RemoteCommand`.
//!
//! All of them treat the output as untrusted: lines that do not fit are skipped, and values that
//! a later command may reuse are validated like client input.

use std::collections::{BTreeMap, BTreeSet};

use super::output::UnexpectedOutput;
use super::tokens::{HOME_EXISTS_NO, HOME_EXISTS_YES};
use super::validate::{Display, Username};

/// Server can list shadow sessions; decides the listing command (doc §2.4).
pub const FEATURE_LIST_SHADOWSESSIONS: &str = "X2GO_LIST_SHADOWSESSIONS";
/// Server offers the published-applications menu (doc §5).
pub const FEATURE_PUBLISHED_APPLICATIONS: &str = "X2GO_PUBLISHED_APPLICATIONS";
/// Server can run KDrive sessions.
pub const FEATURE_KDRIVE_BASE_SUPPORT: &str = "X2GOKDRIVE_BASE_SUPPORT";
/// Server supports Telekinesis.
pub const FEATURE_TELEKINESIS: &str = "X2GO_TELEKINESIS";

/// Longest feature token, version component or version string accepted.
const TOKEN_MAX_LEN: usize = 64;
/// Longest path accepted from the server.
const PATH_MAX_LEN: usize = 4096;

/// The server's feature tokens, sorted and deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureList(BTreeSet<String>);

impl FeatureList {
    /// Whether the server announced `feature`.
    pub fn contains(&self, feature: &str) -> bool {
        self.0.contains(feature)
    }

    /// The tokens in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the server announced nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses `x2gofeaturelist`: one `^[A-Z0-9_]+$` token per line; anything else is skipped (the
/// script greps feature scripts heuristically, so odd lines are possible).
pub fn parse_feature_list(text: &str) -> FeatureList {
    let tokens = text
        .lines()
        .map(str::trim)
        .filter(|t| {
            (1..=TOKEN_MAX_LEN).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_owned)
        .collect();
    FeatureList(tokens)
}

/// Parses `x2goversion`: `component: version` lines into a map. Lines without `:`, with an
/// empty side, or with characters outside the usual package-name/version sets are ignored.
pub fn parse_versions(text: &str) -> BTreeMap<String, String> {
    let component_ok = |s: &str| {
        (1..=TOKEN_MAX_LEN).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
    };
    let version_ok = |s: &str| {
        (1..=TOKEN_MAX_LEN).contains(&s.len())
            && s.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | '~' | ':')
            })
    };
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, v)| component_ok(k) && version_ok(v))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// One shared folder of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Client address recorded for the mount.
    pub client: String,
    /// Mount point on the server.
    pub mountpoint: String,
}

/// Parses `x2golistmounts`: `client|mountpoint` lines. Empty lines (the script prints a lone
/// newline when nothing is mounted) and malformed lines are skipped.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (client, mountpoint) = line.split_once('|')?;
            let client_ok = (1..=253).contains(&client.len())
                && client
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'));
            (client_ok && absolute_path(mountpoint)).then(|| Mount {
                client: client.to_owned(),
                mountpoint: mountpoint.to_owned(),
            })
        })
        .collect()
}

/// A desktop that may be shadowed, from `x2golistdesktops`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desktop {
    /// Owner of the desktop.
    pub user: Username,
    /// Its display.
    pub display: Display,
}

impl Desktop {
    /// The server's id form `user@:display`.
    pub fn id(&self) -> String {
        format!("{}@:{}", self.user, self.display)
    }
}

/// Parses `x2golistdesktops`: `user@:display` lines. The split is at the last `@`, since user
/// names may contain `@` but the display part cannot.
pub fn parse_desktops(text: &str) -> Vec<Desktop> {
    text.lines()
        .filter_map(|line| {
            let (user, display) = line.trim_end_matches('\r').rsplit_once('@')?;
            let display = display.strip_prefix(':')?;
            Some(Desktop {
                user: Username::parse(user).ok()?,
                display: Display::parse(display).ok()?,
            })
        })
        .collect()
}

/// Parses the output of `RemoteCommand::home_exists`.
pub fn parse_home_exists(text: &str) -> Result<bool, UnexpectedOutput> {
    match text.trim() {
        HOME_EXISTS_YES => Ok(true),
        HOME_EXISTS_NO => Ok(false),
        _ => Err(UnexpectedOutput::new("home check", text)),
    }
}

/// An absolute path without control characters, bounded in length.
fn absolute_path(s: &str) -> bool {
    s.starts_with('/') && s.len() <= PATH_MAX_LEN && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn feature_list() {
        let text = "X2GO_XSESSION\nX2GOAGENT_RANDRXINERAMA\n\nX2GO_LIST_SHADOWSESSIONS\n\
                    X2GO_XSESSION\nnot a feature\nX2GO;id\n  X2GO_MOUNTDIRS  \nx2go_lower\n";
        let f = parse_feature_list(text);
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            [
                "X2GOAGENT_RANDRXINERAMA",
                "X2GO_LIST_SHADOWSESSIONS",
                "X2GO_MOUNTDIRS",
                "X2GO_XSESSION"
            ]
        );
        assert!(f.contains(FEATURE_LIST_SHADOWSESSIONS));
        assert!(!f.contains(FEATURE_TELEKINESIS));
        assert_eq!(f.len(), 4);
        assert!(parse_feature_list("").is_empty());
        assert!(parse_feature_list(&"A".repeat(65)).is_empty());
    }

    #[test]
    fn versions() {
        let text = "x2goserver: 4.1.0.3\nx2goserver-common: 4.1.0.3\n\
                    x2goserver-x2goagent: 3.5.99.26\nnonsense\n: 1\nempty:\n\
                    evil: 1;id\nepoch: 1:2.3-4\n";
        let v = parse_versions(text);
        assert_eq!(v.get("x2goserver").map(String::as_str), Some("4.1.0.3"));
        assert_eq!(
            v.get("x2goserver-x2goagent").map(String::as_str),
            Some("3.5.99.26")
        );
        assert_eq!(v.get("epoch").map(String::as_str), Some("1:2.3-4"));
        assert!(!v.contains_key("evil"));
        assert!(!v.contains_key("empty"));
        assert!(!v.contains_key(""));
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn mounts() {
        let text = "127.0.0.1|/tmp/.x2go-alice/media/disk/_home_bob_Documents\n\
                    ::1|/tmp/x y\nbad line\n|/x\nhost|relative\n\n";
        let m = parse_mounts(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].client, "127.0.0.1");
        assert_eq!(
            m[0].mountpoint,
            "/tmp/.x2go-alice/media/disk/_home_bob_Documents"
        );
        assert_eq!(m[1].mountpoint, "/tmp/x y");
        assert!(parse_mounts("\n").is_empty());
    }

    #[test]
    fn desktops() {
        let text = "alice@:50\nbob@example.com@:0\r\ncarol@:\nmallory;id@:51\n@:52\ndave@50\n";
        let d = parse_desktops(text);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].user.as_str(), "alice");
        assert_eq!(d[0].display.number(), 50);
        assert_eq!(d[0].id(), "alice@:50");
        assert_eq!(d[1].user.as_str(), "bob@example.com");
        assert_eq!(d[1].id(), "bob@example.com@:0");
    }

    #[test]
    fn probes() {
        assert_eq!(parse_home_exists("X2GOD_HOME_EXISTS\n"), Ok(true));
        assert_eq!(parse_home_exists("X2GOD_HOME_MISSING\n"), Ok(false));
        assert!(parse_home_exists("").is_err());
        assert!(parse_home_exists("yes\n").is_err());
        let e = parse_home_exists(&format!("/{}\n", "\n".repeat(10_000))).unwrap_err();
        assert!(e.preview.chars().count() <= 64);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,300}") {
            let _ = parse_feature_list(&s);
            let _ = parse_versions(&s);
            let _ = parse_mounts(&s);
            let _ = parse_desktops(&s);
            let _ = parse_home_exists(&s);
        }
    }
}
