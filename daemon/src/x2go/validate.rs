//! Validated value types. Every value that reaches a remote shell is one of these, so quoting is a
//! second line of defence rather than the only one: the server scripts re-embed several values
//! unquoted in further shells (protocol doc §12.1), where our quoting no longer protects them.
//!
//! The rules reject rather than clean: silently dropping characters (as the server's `sanitizer`
//! does) could turn one session name into another.

use std::fmt;

/// Upper bound on a session name; real names are well below 100 characters, and the cap keeps
/// hostile input from making every later step (logs, D-Bus paths) arbitrarily large.
pub const SESSION_NAME_MAX_LEN: usize = 256;
/// Upper bound on a user name (the server has none; 64 covers every real account system).
pub const USERNAME_MAX_LEN: usize = 64;
/// Upper bound on a keyboard layout/model/variant string.
pub const KEYBOARD_MAX_LEN: usize = 128;

/// Longest preview of a rejected value that goes into an error message.
const PREVIEW_MAX_CHARS: usize = 64;

/// A value was rejected by one of the validators of this module.
///
/// The message carries only a short, escaped preview of the value: rejected input may be huge
/// or contain control characters, and it ends up in logs and D-Bus error replies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value}: {reason}")]
pub struct InvalidArgument {
    /// What kind of value was rejected, e.g. `"session name"`.
    pub what: &'static str,
    /// `{:?}` rendering of the value, truncated to at most 64 characters.
    pub value: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl InvalidArgument {
    /// Builds the error, truncating the value preview.
    pub fn new(what: &'static str, value: &str, reason: &'static str) -> Self {
        Self {
            what,
            value: preview(value),
            reason,
        }
    }
}

/// Escaped, truncated preview of untrusted text, at most 64 characters long.
pub fn preview(value: &str) -> String {
    // Truncate before escaping so a 10 MB input never gets formatted in full.
    let head: String = value.chars().take(PREVIEW_MAX_CHARS).collect();
    let escaped = format!("{head:?}");
    let truncated_input = value.chars().nth(PREVIEW_MAX_CHARS).is_some();
    if !truncated_input && escaped.chars().count() <= PREVIEW_MAX_CHARS {
        return escaped;
    }
    let mut out: String = escaped.chars().take(PREVIEW_MAX_CHARS - 1).collect();
    out.push('…');
    out
}

/// Characters the server keeps in session names (`sanitizer('x2gosid')`).
fn is_sid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-')
}

/// First character of a user name or session name: no `@` and no `-`, so it cannot look like an
/// option to the server scripts.
fn is_lead_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_')
}

/// Length of the run of ASCII digits at the start of `bytes`.
fn digit_run(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Parses a string that is entirely ASCII digits with a length in `min..=max`.
///
/// `str::parse` alone would also accept a leading `+`, which the server grammars do not.
fn parse_digits<T: std::str::FromStr>(s: &str, min: usize, max: usize) -> Option<T> {
    let ok = (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if ok { s.parse().ok() } else { None }
}

// ---------------------------------------------------------------------------------------------
// Session names
// ---------------------------------------------------------------------------------------------

/// What kind of session a name describes, derived from the type letter after `_st`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// `D`: a full desktop.
    Desktop,
    /// `R`: a single rootless application.
    Application,
    /// `R` with command `PUBLISHED`: the published-applications provider (protocol doc §5).
    Published,
    /// `S`: a shadow session on another desktop.
    Shadow,
    /// Any other upper-case letter (e.g. `K` from KDrive-capable servers), kept rather than
    /// rejected so newer servers do not make whole listings unreadable.
    Other(char),
}

impl SessionKind {
    /// The name used on the bus: `desktop`, `application`, `published`, `shadow` or `other`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionKind::Desktop => "desktop",
            SessionKind::Application => "application",
            SessionKind::Published => "published",
            SessionKind::Shadow => "shadow",
            SessionKind::Other(_) => "other",
        }
    }
}

/// The desktop a shadow session looks at, decoded from its command text
/// `<mode>XSHAD<user>XSHADPP<display>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShadowTarget<'a> {
    /// Share mode `1` (full access) rather than `0` (view only).
    pub full_access: bool,
    /// The owner of the shadowed desktop.
    pub user: &'a str,
    /// The shadowed display number.
    pub display: u32,
}

/// A session name accepted by the server grammar (protocol doc §3.1) and holding the `_st<type>`
/// marker every listed session has.
///
/// Metadata is parsed once, with an anchored scan rather than `_`-splitting, so user names and
/// commands containing `_` are handled (python-x2go gets these wrong, doc §12.4).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionName {
    raw: String,
    /// End of the user part (index of the `-` before the display).
    user_end: usize,
    display: u32,
    timestamp: u64,
    type_letter: char,
    /// Byte range of the command text.
    cmd: (usize, usize),
    depth: u8,
    /// Start of the tail after the colour depth.
    tail_start: usize,
}

/// Positions found by [`match_user_display_ts`].
struct Head {
    user_end: usize,
    display: u32,
    timestamp: u64,
    /// Index just after the `_` that follows the timestamp.
    rest_start: usize,
}

/// Matches `-<2..4 digits>-<9..12 digits>_` at byte `i`. The digit runs are maximal because the
/// next character must be a separator, so each candidate position has exactly one reading.
fn match_user_display_ts(bytes: &[u8], i: usize) -> Option<Head> {
    if bytes.get(i) != Some(&b'-') {
        return None;
    }
    let d_start = i + 1;
    let d_len = digit_run(bytes.get(d_start..)?);
    if !(2..=4).contains(&d_len) || bytes.get(d_start + d_len) != Some(&b'-') {
        return None;
    }
    let t_start = d_start + d_len + 1;
    let t_len = digit_run(bytes.get(t_start..)?);
    if !(9..=12).contains(&t_len) || bytes.get(t_start + t_len) != Some(&b'_') {
        return None;
    }
    let display = std::str::from_utf8(bytes.get(d_start..d_start + d_len)?)
        .ok()?
        .parse()
        .ok()?;
    let timestamp = std::str::from_utf8(bytes.get(t_start..t_start + t_len)?)
        .ok()?
        .parse()
        .ok()?;
    Some(Head {
        user_end: i,
        display,
        timestamp,
        rest_start: t_start + t_len + 1,
    })
}

/// Last position `k` in `rest` with `_dp<digit>` at `k`.
fn last_dp_marker(rest: &[u8]) -> Option<usize> {
    (0..rest.len()).rev().find(|&k| {
        rest.get(k..k + 3) == Some(b"_dp") && rest.get(k + 3).is_some_and(u8::is_ascii_digit)
    })
}

impl SessionName {
    /// Validates `s` against the server's session-name grammar
    /// `^[A-Za-z0-9._][A-Za-z0-9._@-]*-[0-9]{2,4}-[0-9]{9,12}_[A-Za-z0-9._-]*_dp[0-9]{1,2}[A-Za-z0-9._-]*$`,
    /// additionally requiring `_st<upper-case letter>` right after the timestamp.
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        let err = |reason| Err(InvalidArgument::new("session name", s, reason));
        if s.is_empty() {
            return err("empty");
        }
        if s.len() > SESSION_NAME_MAX_LEN {
            return err("too long");
        }
        if !s.chars().all(is_sid_char) {
            return err("contains a character outside [A-Za-z0-9._@-]");
        }
        if !s.chars().next().is_some_and(is_lead_char) {
            return err("must start with a letter, digit, '.' or '_'");
        }
        let bytes = s.as_bytes();
        let mut grammar_ok = false;
        // The user part may itself contain `-<digits>-<digits>_`, so every candidate split is
        // tried; for metadata the leftmost one with an `_st` marker wins, because user names are
        // far more constrained than command texts.
        for i in 1..bytes.len() {
            let Some(head) = match_user_display_ts(bytes, i) else {
                continue;
            };
            let Some(rest) = bytes.get(head.rest_start..) else {
                continue;
            };
            // Everything is already in the name charset, so excluding `@` leaves exactly the
            // `[A-Za-z0-9._-]` the grammar wants after the timestamp.
            if rest.contains(&b'@') {
                continue;
            }
            let Some(k) = last_dp_marker(rest) else {
                continue;
            };
            grammar_ok = true;
            let (Some(b"st"), Some(t)) = (rest.get(0..2), rest.get(2)) else {
                continue;
            };
            if !t.is_ascii_uppercase() || k < 3 {
                continue;
            }
            let depth_start = head.rest_start + k + 3;
            let depth_len = digit_run(bytes.get(depth_start..).unwrap_or_default()).min(2);
            let Some(depth) = s
                .get(depth_start..depth_start + depth_len)
                .and_then(|d| d.parse().ok())
            else {
                continue;
            };
            return Ok(Self {
                raw: s.to_owned(),
                user_end: head.user_end,
                display: head.display,
                timestamp: head.timestamp,
                type_letter: char::from(*t),
                cmd: (head.rest_start + 3, head.rest_start + k),
                depth,
                tail_start: depth_start + depth_len,
            });
        }
        if grammar_ok {
            err("no _st<type> marker after the timestamp")
        } else {
            err("does not match the X2Go session name grammar")
        }
    }

    /// The name as the server spells it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The user part: the session owner, or for shadow sessions the requesting user.
    pub fn user(&self) -> &str {
        self.raw.get(..self.user_end).unwrap_or_default()
    }

    /// Display number embedded in the name.
    pub fn display(&self) -> u32 {
        self.display
    }

    /// Unix time of creation embedded in the name.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The type letter after `_st` (`D`, `R`, `S`, …).
    pub fn type_letter(&self) -> char {
        self.type_letter
    }

    /// The command text between the type letter and `_dp` (e.g. `XFCE`, `PUBLISHED`).
    pub fn command(&self) -> &str {
        self.raw.get(self.cmd.0..self.cmd.1).unwrap_or_default()
    }

    /// Colour depth from the `_dp<n>` part.
    pub fn color_depth(&self) -> u8 {
        self.depth
    }

    /// Whatever follows the colour depth (e.g. `_192.0.2.5` for XDMCP sessions); usually empty.
    pub fn tail(&self) -> &str {
        self.raw.get(self.tail_start..).unwrap_or_default()
    }

    /// The session kind; published-applications providers are only told apart by their command
    /// (doc §12.3).
    pub fn kind(&self) -> SessionKind {
        match self.type_letter {
            'D' => SessionKind::Desktop,
            'R' if self.command() == "PUBLISHED" => SessionKind::Published,
            'R' => SessionKind::Application,
            'S' => SessionKind::Shadow,
            other => SessionKind::Other(other),
        }
    }

    /// For shadow sessions, the desktop being shadowed; `None` for other kinds or when the
    /// command text does not have the `<0|1>XSHAD<user>XSHADPP<display>` shape.
    pub fn shadow_target(&self) -> Option<ShadowTarget<'_>> {
        if self.kind() != SessionKind::Shadow {
            return None;
        }
        let cmd = self.command();
        let (mode, rest) = cmd.split_once("XSHAD")?;
        let full_access = match mode {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        let (user, display) = rest.rsplit_once("XSHADPP")?;
        // The server keeps a screen suffix (`50.0`) verbatim; only the display matters here.
        let number = display.split_once('.').map_or(display, |(d, _)| d);
        let display = parse_digits(number, 1, 5)?;
        if user.is_empty() {
            return None;
        }
        Some(ShadowTarget {
            full_access,
            user,
            display,
        })
    }
}

impl fmt::Debug for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionName").field(&self.raw).finish()
    }
}

impl fmt::Display for SessionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

// ---------------------------------------------------------------------------------------------
// User names and displays
// ---------------------------------------------------------------------------------------------

/// A user name by the server's `pnixusername` rule, not containing `XSHAD` (which would make
/// shadow-session command texts ambiguous).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Validates `^[A-Za-z0-9._][A-Za-z0-9._@-]*$`, at most 64 characters, no `XSHAD`.
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        let err = |reason| Err(InvalidArgument::new("user name", s, reason));
        if s.is_empty() {
            return err("empty");
        }
        if s.len() > USERNAME_MAX_LEN {
            return err("too long");
        }
        if !s.chars().all(is_sid_char) {
            return err("contains a character outside [A-Za-z0-9._@-]");
        }
        if !s.chars().next().is_some_and(is_lead_char) {
            return err("must start with a letter, digit, '.' or '_'");
        }
        if s.contains("XSHAD") {
            return err("contains the reserved token XSHAD");
        }
        Ok(Self(s.to_owned()))
    }

    /// The user name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An X display number (`50` for `:50`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Display(u32);

impl Display {
    /// Validates `^:?[0-9]{1,5}$`.
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        let digits = s.strip_prefix(':').unwrap_or(s);
        parse_digits(digits, 1, 5)
            .map(Self)
            .ok_or_else(|| InvalidArgument::new("display", s, "expected 1 to 5 digits"))
    }

    /// The display number.
    pub fn number(self) -> u32 {
        self.0
    }
}

/// Renders the bare number, the form the server scripts take as an argument.
impl fmt::Display for Display {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Session options
// ---------------------------------------------------------------------------------------------

/// Session window geometry; `maximize` must be resolved to a size by the client beforehand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Geometry {
    /// A window of the given width and height in pixels.
    Size {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Full screen.
    Fullscreen,
}

impl Geometry {
    /// Validates `^([1-9][0-9]{1,4}x[1-9][0-9]{1,4}|fullscreen)$`: no leading zeros, so the
    /// value sent on is the value accepted (and `00x00` is no window size).
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        if s == "fullscreen" {
            return Ok(Self::Fullscreen);
        }
        let no_leading_zero = |d: &str| !d.starts_with('0');
        let size = s.split_once('x').and_then(|(w, h)| {
            if !(no_leading_zero(w) && no_leading_zero(h)) {
                return None;
            }
            Some(Self::Size {
                width: parse_digits(w, 2, 5)?,
                height: parse_digits(h, 2, 5)?,
            })
        });
        size.ok_or_else(|| InvalidArgument::new("geometry", s, "expected WxH or fullscreen"))
    }

    /// The argument form the server expects (`1024x768`, `fullscreen`).
    pub fn as_arg(&self) -> String {
        match self {
            Self::Size { width, height } => format!("{width}x{height}"),
            Self::Fullscreen => "fullscreen".to_owned(),
        }
    }
}

/// Generates a closed string enum with `parse` and `as_str`, keeping the wire tokens in one place.
macro_rules! token_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $token:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Accepts exactly one of the wire tokens.
            pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
                match s {
                    $($token => Ok(Self::$variant),)+
                    _ => Err(InvalidArgument::new($what, s, concat!("expected one of:", $(" ", $token),+))),
                }
            }

            /// The wire token.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $token,)+
                }
            }
        }
    };
}

token_enum!(
    /// NX link quality.
    Link, "link", {
        /// `modem`
        Modem => "modem",
        /// `isdn`
        Isdn => "isdn",
        /// `adsl`
        Adsl => "adsl",
        /// `wan`
        Wan => "wan",
        /// `lan`
        Lan => "lan",
    }
);

token_enum!(
    /// Clipboard direction.
    Clipboard, "clipboard mode", {
        /// `both`
        Both => "both",
        /// `server`
        Server => "server",
        /// `client`
        Client => "client",
        /// `none`
        None => "none",
    }
);

/// A keyboard layout, model/type or variant (`de`, `pc105/de`, `nodeadkeys`); may be empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyboardSetting(String);

impl KeyboardSetting {
    /// Validates `^[A-Za-z0-9_,/+.-]*$`, at most 128 characters.
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        let err = |reason| Err(InvalidArgument::new("keyboard setting", s, reason));
        if s.len() > KEYBOARD_MAX_LEN {
            return err("too long");
        }
        let ok = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ',' | '/' | '+' | '.' | '-'));
        if !ok {
            return err("contains a character outside [A-Za-z0-9_,/+.-]");
        }
        if s.starts_with('-') {
            // A leading dash would be read as an option by setxkbmap.
            return err("must not start with '-'");
        }
        Ok(Self(s.to_owned()))
    }

    /// The setting.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `null`: the layout python-x2go sends when none is configured (the server ignores it).
    pub fn unset_layout() -> Self {
        Self("null".to_owned())
    }

    /// `null/null`: the keyboard type python-x2go sends when none is configured; it also makes
    /// the set-keyboard flag `0`, so the server leaves the keyboard alone.
    pub fn unset_type() -> Self {
        Self("null/null".to_owned())
    }
}

/// Screen resolution for the agent, in dots per inch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dpi(u16);

impl Dpi {
    /// Accepts 1..=1000.
    pub fn new(value: u32) -> Result<Self, InvalidArgument> {
        u16::try_from(value)
            .ok()
            .filter(|v| (1..=1000).contains(v))
            .map(Self)
            .ok_or_else(|| InvalidArgument::new("dpi", &value.to_string(), "expected 1 to 1000"))
    }

    /// Parses a decimal integer in 1..=1000.
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        parse_digits::<u32>(s, 1, 4)
            .ok_or_else(|| InvalidArgument::new("dpi", s, "expected 1 to 1000"))
            .and_then(Self::new)
    }

    /// The value.
    pub fn value(self) -> u16 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_has_no_leading_zeros() {
        for bad in ["00x00", "04x768", "3320x02", "0x0", "800x0600"] {
            assert!(Geometry::parse(bad).is_err(), "{bad}");
        }
        for good in ["800x600", "10x10", "99999x10000"] {
            assert_eq!(Geometry::parse(good).unwrap().as_arg(), good);
        }
    }
    use proptest::prelude::*;

    const METACHARS: &[char] = &[
        ';', '|', '&', '$', '(', ')', '`', '\'', '"', '<', '>', '*', '?', '[', ']', '~', '!', '#',
        ' ', '\n', '\t', '\0', '\\', '{', '}', '=', '%', ':',
    ];

    #[test]
    fn session_name_examples_from_the_protocol_doc() {
        let n = SessionName::parse("alice-50-1700000000_stDXFCE_dp24").unwrap();
        assert_eq!(n.user(), "alice");
        assert_eq!(n.display(), 50);
        assert_eq!(n.timestamp(), 1_700_000_000);
        assert_eq!(n.type_letter(), 'D');
        assert_eq!(n.command(), "XFCE");
        assert_eq!(n.color_depth(), 24);
        assert_eq!(n.tail(), "");
        assert_eq!(n.kind(), SessionKind::Desktop);
        assert_eq!(n.shadow_target(), None);

        let n = SessionName::parse("alice-51-1700000100_stRTERMINAL_dp24").unwrap();
        assert_eq!(n.kind(), SessionKind::Application);
        assert_eq!(n.command(), "TERMINAL");

        let n = SessionName::parse("alice-52-1700000200_stRPUBLISHED_dp24").unwrap();
        assert_eq!(n.kind(), SessionKind::Published);

        let n = SessionName::parse("bob-53-1700000300_stS1XSHADaliceXSHADPP50_dp24").unwrap();
        assert_eq!(n.user(), "bob");
        assert_eq!(n.kind(), SessionKind::Shadow);
        assert_eq!(
            n.shadow_target(),
            Some(ShadowTarget {
                full_access: true,
                user: "alice",
                display: 50
            })
        );

        let n = SessionName::parse("alice-54-1700000400_stDXDMCP_dp24_192.0.2.5").unwrap();
        assert_eq!(n.command(), "XDMCP");
        assert_eq!(n.tail(), "_192.0.2.5");
        assert_eq!(n.color_depth(), 24);

        let n = SessionName::parse("alice-55-1700000500_stRxterm_dp24").unwrap();
        assert_eq!(n.command(), "xterm");
        assert_eq!(n.as_str(), "alice-55-1700000500_stRxterm_dp24");
        assert_eq!(n.to_string(), n.as_str());
    }

    #[test]
    fn session_name_with_underscores_in_user_and_command() {
        let n = SessionName::parse("a_b-50-1700000000_stRmy_app_dp16").unwrap();
        assert_eq!(n.user(), "a_b");
        assert_eq!(n.type_letter(), 'R');
        assert_eq!(n.command(), "my_app");
        assert_eq!(n.color_depth(), 16);

        // A command that itself contains `_dp<digits>`: the last marker is the real one.
        let n = SessionName::parse("x_y.z-1234-123456789012_stDfoo_dp2_bar_dp32").unwrap();
        assert_eq!(n.user(), "x_y.z");
        assert_eq!(n.display(), 1234);
        assert_eq!(n.timestamp(), 123_456_789_012);
        assert_eq!(n.command(), "foo_dp2_bar");
        assert_eq!(n.color_depth(), 32);

        // User names with `@`, `-` and digits (AD accounts).
        let n = SessionName::parse("user@dom-ain-7-50-1700000000_stDKDE_dp24").unwrap();
        assert_eq!(n.user(), "user@dom-ain-7");
        assert_eq!(n.display(), 50);
        // A K (KDrive) name is kept as `Other`.
        let n = SessionName::parse("alice-50-1700000000_stKXFCE_dp24").unwrap();
        assert_eq!(n.kind(), SessionKind::Other('K'));
    }

    #[test]
    fn session_name_user_part_that_looks_like_a_head() {
        // The server grammar matches here only with the second split (the first remainder
        // contains '@'); we must accept it too.
        let n = SessionName::parse("a-12-123456789_x@y-50-1700000000_stDXFCE_dp24").unwrap();
        assert_eq!(n.user(), "a-12-123456789_x@y");
        assert_eq!(n.display(), 50);
    }

    #[test]
    fn session_name_depth_is_at_most_two_digits() {
        let n = SessionName::parse("alice-50-1700000000_stDXFCE_dp245").unwrap();
        assert_eq!(n.color_depth(), 24);
        assert_eq!(n.tail(), "5");
    }

    #[test]
    fn session_name_rejections() {
        let bad = [
            "",
            "alice",
            "alice-50-1700000000",
            "alice-50-1700000000_stDXFCE",
            "alice-5-1700000000_stDXFCE_dp24", // display too short
            "alice-50000-1700000000_stDXFCE_dp24", // display too long
            "alice-50-17000000_stDXFCE_dp24",  // timestamp too short
            "alice-50-1700000000000_stDXFCE_dp24", // timestamp too long
            "alice-50-1700000000_stDXFCE_dp",  // no depth digits
            "alice-50-1700000000_dp24",        // no separate middle
            "-alice-50-1700000000_stDXFCE_dp24", // leading dash
            "@alice-50-1700000000_stDXFCE_dp24", // leading @
            "alice-50-1700000000_stD@XFCE_dp24", // @ after timestamp
            "alice-50-1700000000_stDXFCE_dp24@x", // @ in tail
            "alice-50-1700000000_XFCE_dp24",   // grammar ok, no _st marker
            "alice-50-1700000000_stdXFCE_dp24", // lower-case type
            "alice-+50-1700000000_stDXFCE_dp24",
            "alice-50-1700000000_stDXFCE_dp24\n",
            "alice-50-1700000000_stDXFCE_dp24 ",
            "alice-50-1700000000_stDXFCE_dp24\0",
            "alice-50-1700000000_stDXFCÉ_dp24",
            "alice-50-١٧٠٠٠٠٠٠٠٠_stDXFCE_dp24", // non-ASCII digits
        ];
        for s in bad {
            assert!(SessionName::parse(s).is_err(), "accepted {s:?}");
        }
        let grammar_only = SessionName::parse("alice-50-1700000000_XFCE_dp24").unwrap_err();
        assert!(grammar_only.reason.contains("_st"));
        for c in METACHARS {
            let s = format!("alice-50-1700000000_stDX{c}FCE_dp24");
            assert!(SessionName::parse(&s).is_err(), "accepted {s:?}");
            let s = format!("al{c}ice-50-1700000000_stDXFCE_dp24");
            assert!(SessionName::parse(&s).is_err(), "accepted {s:?}");
        }
        let huge = format!("alice-50-1700000000_stD{}_dp24", "X".repeat(10_000));
        let e = SessionName::parse(&huge).unwrap_err();
        assert!(e.value.chars().count() <= 64);
        assert!(e.to_string().len() < 200);
    }

    #[test]
    fn preview_is_short_and_escaped() {
        assert_eq!(preview("abc"), "\"abc\"");
        let p = preview(&"\n".repeat(10_000));
        assert!(p.chars().count() <= 64);
        assert!(!p.contains('\n'));
        let p = preview(&"é".repeat(100));
        assert!(p.chars().count() <= 64);
        assert!(p.ends_with('…'));
    }

    #[test]
    fn usernames() {
        for ok in [
            "alice",
            "a_b",
            "_x",
            ".hidden",
            "user@example.com",
            "a-b",
            "1",
        ] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        let long = "a".repeat(65);
        for bad in ["", "-x", "@x", "aXSHADb", "a b", "ä", long.as_str(), "a\n"] {
            assert!(Username::parse(bad).is_err(), "accepted {bad:?}");
        }
        for c in METACHARS {
            assert!(Username::parse(&format!("a{c}b")).is_err());
        }
    }

    #[test]
    fn displays() {
        assert_eq!(Display::parse("50").unwrap().number(), 50);
        assert_eq!(Display::parse(":0").unwrap().number(), 0);
        assert_eq!(Display::parse("99999").unwrap().to_string(), "99999");
        for bad in ["", ":", "::5", "+5", "-5", "123456", "5.0", " 5", "5 ", "٥"] {
            assert!(Display::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn geometries() {
        assert_eq!(Geometry::parse("fullscreen").unwrap(), Geometry::Fullscreen);
        let g = Geometry::parse("1024x768").unwrap();
        assert_eq!(
            g,
            Geometry::Size {
                width: 1024,
                height: 768
            }
        );
        assert_eq!(g.as_arg(), "1024x768");
        for bad in [
            "",
            "maximize",
            "1x768",
            "1024x7",
            "123456x768",
            "1024X768",
            "1024x768x1",
            "+10x10",
            "Fullscreen",
            "10 x10",
        ] {
            assert!(Geometry::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn token_enums() {
        for t in ["modem", "isdn", "adsl", "wan", "lan"] {
            assert_eq!(Link::parse(t).unwrap().as_str(), t);
        }
        for t in ["both", "server", "client", "none"] {
            assert_eq!(Clipboard::parse(t).unwrap().as_str(), t);
        }
        assert!(Link::parse("LAN").is_err());
        assert!(Link::parse("lan;").is_err());
        assert!(Clipboard::parse("").is_err());
        assert!(Clipboard::parse("1").is_err());
    }

    #[test]
    fn keyboard_settings() {
        for ok in ["", "de", "pc105/de", "us,de", "nodeadkeys", "grp:alt"] {
            let r = KeyboardSetting::parse(ok);
            if ok.contains(':') {
                assert!(r.is_err());
            } else {
                assert_eq!(r.unwrap().as_str(), ok);
            }
        }
        assert!(KeyboardSetting::parse("-print").is_err());
        assert!(KeyboardSetting::parse(&"a".repeat(129)).is_err());
        for c in METACHARS {
            assert!(KeyboardSetting::parse(&format!("d{c}e")).is_err());
        }
    }

    #[test]
    fn dpis() {
        assert_eq!(Dpi::parse("96").unwrap().value(), 96);
        assert_eq!(Dpi::new(1000).unwrap().value(), 1000);
        for bad in ["0", "1001", "", "+96", "96.0", "99999999999"] {
            assert!(Dpi::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(Dpi::new(u32::MAX).is_err());
    }

    fn valid_name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9._][A-Za-z0-9._@-]{0,12}-[0-9]{2,4}-[0-9]{9,12}_st[A-Z][A-Za-z0-9._-]{0,12}_dp[0-9]{1,2}[A-Za-z0-9._-]{0,6}"
    }

    proptest! {
        #[test]
        fn generated_names_are_accepted(s in valid_name()) {
            let n = SessionName::parse(&s).unwrap();
            prop_assert_eq!(n.as_str(), s.as_str());
        }

        #[test]
        fn accepted_names_use_only_the_allowed_charset(s in "\\PC{0,80}") {
            if let Ok(n) = SessionName::parse(&s) {
                prop_assert!(n.as_str().chars().all(is_sid_char));
            }
        }

        #[test]
        fn mutated_names_never_smuggle_characters(
            s in valid_name(), pos in 0usize..100, c in any::<char>()
        ) {
            let mut chars: Vec<char> = s.chars().collect();
            let pos = pos.min(chars.len());
            chars.insert(pos, c);
            let m: String = chars.into_iter().collect();
            if let Ok(n) = SessionName::parse(&m) {
                prop_assert!(n.as_str().chars().all(is_sid_char));
                prop_assert!(n.as_str().len() <= SESSION_NAME_MAX_LEN);
            }
        }

        #[test]
        fn validators_never_panic(s in "\\PC{0,300}") {
            let _ = SessionName::parse(&s);
            let _ = Username::parse(&s);
            let _ = Display::parse(&s);
            let _ = Geometry::parse(&s);
            let _ = KeyboardSetting::parse(&s);
            let _ = Dpi::parse(&s);
            prop_assert!(preview(&s).chars().count() <= 64);
        }
    }
}
