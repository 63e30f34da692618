//! Validated options for starting and resuming sessions (doc §2.5–2.7, §3.4).
//!
//! `x2gostartagent` and `x2goruncommand` re-embed several of these values unquoted in further
//! shells and in the session name (doc §12.1), so each type admits only what is harmless there,
//! not merely what survives our own quoting.

use std::fmt;

use super::validate::{
    Clipboard, Display, Dpi, Geometry, InvalidArgument, KeyboardSetting, Link, Username,
};

// ---------------------------------------------------------------------------------------------
// Pack method
// ---------------------------------------------------------------------------------------------

/// NX3 pack methods without a quality suffix (python-x2go `pack_methods_nx3_noqual`).
const PACK_PLAIN: &[&str] = &[
    "nopack",
    "8",
    "64",
    "256",
    "512",
    "4k",
    "32k",
    "64k",
    "256k",
    "2m",
    "16m",
    "256-rdp",
    "256-rdp-compressed",
    "32k-rdp",
    "32k-rdp-compressed",
    "64k-rdp",
    "64k-rdp-compressed",
    "16m-rdp",
    "16m-rdp-compressed",
    "rfb-hextile",
    "rfb-tight",
    "rfb-tight-compressed",
    "8-tight",
    "64-tight",
    "256-tight",
    "512-tight",
    "4k-tight",
    "32k-tight",
    "64k-tight",
    "256k-tight",
    "2m-tight",
    "16m-tight",
    "64-jpeg",
    "256-jpeg",
    "512-jpeg",
    "4k-jpeg",
    "32k-jpeg",
    "64k-jpeg",
    "256k-jpeg",
    "2m-jpeg",
    "64-png-jpeg",
    "256-png-jpeg",
    "512-png-jpeg",
    "4k-png-jpeg",
    "32k-png-jpeg",
    "64k-png-jpeg",
    "256k-png-jpeg",
    "2m-png-jpeg",
    "64-png",
    "256-png",
    "512-png",
    "4k-png",
    "32k-png",
    "64k-png",
    "256k-png",
    "2m-png",
];

/// Pack methods that take a quality digit 0–9 after a final `-` (python's `%` entries).
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

/// An NX3 pack (compression) method: exactly one of python-x2go's `pack_methods_nx3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pack(String);

impl Pack {
    /// Accepts exactly the members of `pack_methods_nx3` (e.g. `16m-jpeg-9`, `nopack`, `2m-png`).
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        let with_quality = s.rsplit_once('-').is_some_and(|(base, q)| {
            PACK_WITH_QUALITY.contains(&base)
                && q.len() == 1
                && q.bytes().all(|b| b.is_ascii_digit())
        });
        if PACK_PLAIN.contains(&s) || with_quality {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidArgument::new(
                "pack method",
                s,
                "not an NX3 pack method (e.g. 16m-jpeg-9, nopack)",
            ))
        }
    }

    /// The method name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// python-x2go's default, `16m-jpeg-9`.
impl Default for Pack {
    fn default() -> Self {
        Self("16m-jpeg-9".to_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// Session type and colour depth
// ---------------------------------------------------------------------------------------------

/// Session type, argument 8 of `x2gostartagent` and 7 of `x2goruncommand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionType {
    /// `D`: a full desktop.
    Desktop,
    /// `R`: a rootless application.
    Application,
    /// `P`: published-applications provider. The server names it `R` (doc §3.1) but starts the
    /// agent with `-norootlessexit`, and `x2goruncommand` only waits for the agent.
    Published,
    /// `S`: shadow another desktop.
    Shadow,
}

impl SessionType {
    /// The letter the server scripts take (`D`, `R`, `P`, `S`).
    pub fn as_arg(self) -> &'static str {
        match self {
            Self::Desktop => "D",
            Self::Application => "R",
            Self::Published => "P",
            Self::Shadow => "S",
        }
    }
}

/// Colour depth of the agent: 8, 16, 24 or 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColorDepth(u8);

impl ColorDepth {
    /// Accepts 8, 16, 24 or 32.
    pub fn new(bits: u32) -> Result<Self, InvalidArgument> {
        match bits {
            8 | 16 | 24 | 32 => Ok(Self(bits as u8)),
            _ => Err(InvalidArgument::new(
                "colour depth",
                &bits.to_string(),
                "expected 8, 16, 24 or 32",
            )),
        }
    }

    /// Bits per pixel.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Argument 4 of `x2gostartagent`: `<cache type>-depth_<n>`; the server takes the depth
    /// from after `-depth_` and passes the whole string to the agent as `type=`.
    pub fn cache_type(self, cache: &CacheType) -> String {
        format!("{}-depth_{}", cache.as_str(), self.0)
    }
}

/// Longest cache type accepted.
const CACHE_TYPE_MAX_LEN: usize = 64;

/// The NX cache type, the part of `x2gostartagent`'s argument 4 before `-depth_<n>`
/// (python-x2go's `cache_type`, default `unix-kde`). The server splits the argument at
/// `-depth_` and the agent reads it inside its comma-separated options, so only letters,
/// digits, `_` and inner single `-` are taken, and never `depth_` after a `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheType(String);

impl CacheType {
    /// Validates `^[A-Za-z0-9_]+(-[A-Za-z0-9_]+)*$`, at most 64 bytes, without `-depth_`.
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        let err = |reason| Err(InvalidArgument::new("cache type", s, reason));
        if s.is_empty() || s.len() > CACHE_TYPE_MAX_LEN {
            return err("must be 1 to 64 characters");
        }
        let words_ok = s
            .split('-')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !words_ok {
            return err("expected words of [A-Za-z0-9_] joined by single '-', e.g. unix-kde");
        }
        if s.split('-').skip(1).any(|w| w.starts_with("depth_")) {
            return err("must not contain -depth_ (the depth is the depth option)");
        }
        Ok(Self(s.to_owned()))
    }

    /// The cache type.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// python-x2go's default, `unix-kde`.
impl Default for CacheType {
    fn default() -> Self {
        Self("unix-kde".to_owned())
    }
}

/// 24 bits, what every current X server offers.
impl Default for ColorDepth {
    fn default() -> Self {
        Self(24)
    }
}

// ---------------------------------------------------------------------------------------------
// Session command
// ---------------------------------------------------------------------------------------------

/// Longest command line accepted.
pub const SESSION_COMMAND_MAX_LEN: usize = 512;
/// Longest agent token (argument 9 of `x2gostartagent`); with a 64-byte user name the session
/// name stays well under [`super::validate::SESSION_NAME_MAX_LEN`].
const AGENT_TOKEN_MAX_LEN: usize = 100;

/// What a known token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TokenKind {
    Desktop,
    Generic,
    Published,
}

/// Tokens `x2goruncommand` maps to programs itself (desktop aliases to the distribution's
/// session binary, generic ones to the first installed browser/terminal/…).
const TOKENS: &[(&str, TokenKind)] = &[
    ("XFCE", TokenKind::Desktop),
    ("KDE", TokenKind::Desktop),
    ("GNOME", TokenKind::Desktop),
    ("MATE", TokenKind::Desktop),
    ("LXDE", TokenKind::Desktop),
    ("LXQt", TokenKind::Desktop),
    ("IceWM", TokenKind::Desktop),
    ("TRINITY", TokenKind::Desktop),
    ("CINNAMON", TokenKind::Desktop),
    ("UNITY", TokenKind::Desktop),
    ("OPENBOX", TokenKind::Desktop),
    ("TERMINAL", TokenKind::Generic),
    ("WWWBROWSER", TokenKind::Generic),
    ("MAILCLIENT", TokenKind::Generic),
    ("OFFICE", TokenKind::Generic),
    ("PUBLISHED", TokenKind::Published),
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Command {
    Token(&'static str, TokenKind),
    Line(String),
    Shadow {
        full_access: bool,
        user: Username,
        display: Display,
    },
}

/// What a session runs: a known token, a restricted command line, or a shadow request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionCommand(Command);

/// Characters allowed in a command line besides ASCII letters and digits. Everything else is
/// refused because `x2goruncommand` expands the line unquoted (`echo $cmd`, `$cmd$args`), so
/// globbing characters would be expanded there, and the rest is shell syntax somewhere on the
/// way (doc §12.1).
fn is_command_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            ' ' | '.' | '_' | '/' | '+' | ',' | ':' | '=' | '@' | '%' | '-'
        )
}

/// The session-name label for a command line: basename of the first word with the server's
/// name rewriting applied in advance (`:` → `PP`, anything outside `[A-Za-z0-9._-]` dropped;
/// `@` too, which the grammar forbids after the timestamp), so the server changes nothing and
/// the resulting name is valid.
fn line_agent_token(line: &str) -> String {
    let first = line.split(' ').next().unwrap_or_default();
    let base = first.rsplit('/').next().unwrap_or_default();
    let mut out = String::with_capacity(base.len());
    for c in base.chars() {
        if c == ':' {
            out.push_str("PP");
        } else if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        }
    }
    out
}

impl SessionCommand {
    /// Accepts a known token (`XFCE`, `KDE`, `GNOME`, `MATE`, `LXDE`, `LXQt`, `IceWM`,
    /// `TRINITY`, `CINNAMON`, `UNITY`, `OPENBOX`, `TERMINAL`, `WWWBROWSER`, `MAILCLIENT`,
    /// `OFFICE`, `PUBLISHED`) or a command line: at most 512 bytes of
    /// `[A-Za-z0-9 ._/+,:=@%-]`, words separated by single blanks, the first word not starting
    /// with `-`, no `X2GO_SPACE_CHAR` or `XSHAD` literal, and a non-empty session-name label.
    pub fn parse(cmd: &str) -> Result<Self, InvalidArgument> {
        if let Some(&(token, kind)) = TOKENS.iter().find(|(t, _)| *t == cmd) {
            return Ok(Self(Command::Token(token, kind)));
        }
        let err = |reason| Err(InvalidArgument::new("session command", cmd, reason));
        if cmd.is_empty() {
            return err("empty");
        }
        if cmd.len() > SESSION_COMMAND_MAX_LEN {
            return err("too long");
        }
        if !cmd.chars().all(is_command_char) {
            return err("contains a character outside [A-Za-z0-9 ._/+,:=@%-]");
        }
        // The server collapses blanks anyway (`echo $cmd`); refusing odd spacing keeps what we
        // send and what runs identical.
        if cmd.starts_with(' ') || cmd.ends_with(' ') || cmd.contains("  ") {
            return err("leading, trailing or repeated blanks");
        }
        if cmd.starts_with('-') {
            // `echo $cmd` on the server would take it as an option.
            return err("must not start with '-'");
        }
        if cmd.contains("X2GO_SPACE_CHAR") {
            return err("contains the reserved token X2GO_SPACE_CHAR");
        }
        if cmd.contains("XSHAD") {
            // The server would take the session for a shadow session.
            return err("contains the reserved token XSHAD");
        }
        let token = line_agent_token(cmd);
        if token.is_empty() {
            return err("the program name yields an empty session-name label");
        }
        if token.len() > AGENT_TOKEN_MAX_LEN {
            return err("program name too long");
        }
        Ok(Self(Command::Line(cmd.to_owned())))
    }

    /// A request to shadow `user`'s desktop `display`, with input (`full_access`) or view-only.
    pub fn shadow(full_access: bool, user: &Username, display: Display) -> Self {
        Self(Command::Shadow {
            full_access,
            user: user.clone(),
            display,
        })
    }

    /// Argument 9 of `x2gostartagent`, which becomes part of the session name: the token itself,
    /// the session-name label of a command line (see [`SessionCommand::parse`]), or
    /// `<0|1>XSHAD<user>XSHAD:<display>` for a shadow request. Never contains a blank.
    pub fn agent_token(&self) -> String {
        match &self.0 {
            Command::Token(t, _) => (*t).to_owned(),
            Command::Line(line) => line_agent_token(line),
            Command::Shadow {
                full_access,
                user,
                display,
            } => format!(
                "{}XSHAD{}XSHAD:{}",
                if *full_access { '1' } else { '0' },
                user.as_str(),
                display.number()
            ),
        }
    }

    /// Argument 5 of `x2goruncommand`: tokens as they are (the server maps desktop aliases and
    /// generic tokens to installed programs itself, more reliably than a client can), command
    /// lines with each blank replaced by `X2GO_SPACE_CHAR`, which the server turns back.
    ///
    /// Shadow sessions run no command (python-x2go never calls `x2goruncommand` for them); for
    /// those the agent token is returned, which the server would refuse as not executable.
    pub fn run_argument(&self) -> String {
        match &self.0 {
            Command::Token(t, _) => (*t).to_owned(),
            Command::Line(line) => line.replace(' ', "X2GO_SPACE_CHAR"),
            Command::Shadow { .. } => self.agent_token(),
        }
    }

    /// The session type this command forces (doc §3.4): desktop aliases ⇒ desktop, `PUBLISHED`
    /// ⇒ published, a shadow request ⇒ shadow; `None` when the caller chooses.
    pub fn implied_type(&self) -> Option<SessionType> {
        match &self.0 {
            Command::Token(_, TokenKind::Desktop) => Some(SessionType::Desktop),
            Command::Token(_, TokenKind::Published) => Some(SessionType::Published),
            Command::Shadow { .. } => Some(SessionType::Shadow),
            Command::Token(_, TokenKind::Generic) | Command::Line(_) => None,
        }
    }

    /// The program a command line runs (its first word); `None` for tokens and shadow
    /// requests, which the server resolves itself.
    pub fn program(&self) -> Option<&str> {
        match &self.0 {
            Command::Line(line) => line.split(' ').next(),
            _ => None,
        }
    }

    /// Whether this is a shadow request.
    pub fn is_shadow(&self) -> bool {
        matches!(self.0, Command::Shadow { .. })
    }
}

/// The token, the command line as given, or the shadow agent token.
impl fmt::Display for SessionCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Command::Token(t, _) => f.write_str(t),
            Command::Line(line) => f.write_str(line),
            Command::Shadow { .. } => f.write_str(&self.agent_token()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Argument bundles
// ---------------------------------------------------------------------------------------------

/// Everything `x2gostartagent` takes (doc §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartAgentArgs {
    /// Window geometry (ignored by the server for shadow sessions).
    pub geometry: Geometry,
    /// Link quality.
    pub link: Link,
    /// NX pack method.
    pub pack: Pack,
    /// Colour depth.
    pub depth: ColorDepth,
    /// NX cache type, sent with the depth as argument 4.
    pub cache_type: CacheType,
    /// Keyboard layout; `null` when unset. The server parses but ignores it.
    pub kblayout: KeyboardSetting,
    /// Keyboard type, `null/null` when unset, `auto` to let the agent follow the client. The
    /// set-keyboard flag is derived from it as python-x2go does (`1` unless `null/null`).
    pub kbtype: KeyboardSetting,
    /// Session type; must be [`SessionType::Shadow`] exactly for a shadow command.
    pub session_type: SessionType,
    /// What to run.
    pub command: SessionCommand,
    /// Clipboard direction (not sent for shadow sessions, doc §2.5).
    pub clipboard: Clipboard,
    /// Agent DPI, sent as `X2GODPI` when set.
    pub dpi: Option<Dpi>,
    /// Xinerama, sent as `X2GO_XINERAMA`.
    pub xinerama: bool,
}

impl StartAgentArgs {
    /// python-x2go's defaults (`800x600`, `adsl`, `16m-jpeg-9`, depth 24, keyboard unset,
    /// clipboard `both`, no DPI, no Xinerama) with the type the command implies, else
    /// application.
    pub fn new(command: SessionCommand) -> Self {
        Self {
            geometry: Geometry::Size {
                width: 800,
                height: 600,
            },
            link: Link::Adsl,
            pack: Pack::default(),
            depth: ColorDepth::default(),
            cache_type: CacheType::default(),
            kblayout: KeyboardSetting::unset_layout(),
            kbtype: KeyboardSetting::unset_type(),
            session_type: command.implied_type().unwrap_or(SessionType::Application),
            command,
            clipboard: Clipboard::Both,
            dpi: None,
            xinerama: false,
        }
    }
}

/// Everything `x2goresume-session` takes besides the session name (doc §2.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeArgs {
    /// Window geometry.
    pub geometry: Geometry,
    /// Link quality.
    pub link: Link,
    /// NX pack method.
    pub pack: Pack,
    /// Keyboard layout (`null` when unset).
    pub kblayout: KeyboardSetting,
    /// Keyboard type (`null/null` when unset); the set-keyboard flag is derived from it.
    pub kbtype: KeyboardSetting,
    /// Clipboard direction.
    pub clipboard: Clipboard,
    /// Xinerama.
    pub xinerama: bool,
}

/// The same defaults as [`StartAgentArgs::new`].
impl Default for ResumeArgs {
    fn default() -> Self {
        Self {
            geometry: Geometry::Size {
                width: 800,
                height: 600,
            },
            link: Link::Adsl,
            pack: Pack::default(),
            kblayout: KeyboardSetting::unset_layout(),
            kbtype: KeyboardSetting::unset_type(),
            clipboard: Clipboard::Both,
            xinerama: false,
        }
    }
}

/// The set-keyboard argument python-x2go derives from the keyboard type.
pub(super) fn set_keyboard_flag(kbtype: &KeyboardSetting) -> &'static str {
    if kbtype.as_str() == "null/null" {
        "0"
    } else {
        "1"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// python's list, expanded the way defaults.py does it.
    fn python_pack_methods() -> Vec<String> {
        let mut all: Vec<String> = PACK_PLAIN.iter().map(|s| (*s).to_owned()).collect();
        for base in PACK_WITH_QUALITY {
            for q in 0..10 {
                all.push(format!("{base}-{q}"));
            }
        }
        all
    }

    #[test]
    fn pack_methods() {
        let all = python_pack_methods();
        // 56 plain + 8 × 10 with a quality digit, as in defaults.py.
        assert_eq!(all.len(), 136);
        for m in &all {
            assert_eq!(Pack::parse(m).unwrap().as_str(), m);
        }
        for bad in [
            "",
            "16m-jpeg",
            "16m-jpeg-10",
            "16m-jpeg-%",
            "8-jpeg-",
            "16m-jpeg-9 ",
            "NOPACK",
            "64-jpeg-9",
            "16m-rgb",
            "2m-png-1",
            "-9",
            "16m-jpeg-٩",
        ] {
            assert!(Pack::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert_eq!(Pack::default().as_str(), "16m-jpeg-9");
    }

    #[test]
    fn session_types_and_depths() {
        let letters: Vec<_> = [
            SessionType::Desktop,
            SessionType::Application,
            SessionType::Published,
            SessionType::Shadow,
        ]
        .iter()
        .map(|t| t.as_arg())
        .collect();
        assert_eq!(letters, ["D", "R", "P", "S"]);
        for d in [8, 16, 24, 32] {
            let c = ColorDepth::new(d).unwrap();
            assert_eq!(u32::from(c.bits()), d);
            assert_eq!(
                c.cache_type(&CacheType::default()),
                format!("unix-kde-depth_{d}")
            );
        }
        for d in [0, 1, 15, 17, 23, 33, 264, u32::MAX] {
            assert!(ColorDepth::new(d).is_err(), "accepted {d}");
        }
    }

    #[test]
    fn cache_types() {
        let kde = CacheType::parse("unix-kde").unwrap();
        assert_eq!(kde, CacheType::default());
        let depth = ColorDepth::new(16).unwrap();
        assert_eq!(depth.cache_type(&kde), "unix-kde-depth_16");
        let gnome = CacheType::parse("unix-gnome_2").unwrap();
        assert_eq!(depth.cache_type(&gnome), "unix-gnome_2-depth_16");
        for bad in [
            "",
            "-kde",
            "kde-",
            "unix--kde",
            "unix-kde-depth_8",
            "a,b",
            "a b",
            "a=b",
            "a;id",
            "ä",
        ] {
            assert!(CacheType::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(CacheType::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn tokens() {
        for (t, kind) in TOKENS {
            let c = SessionCommand::parse(t).unwrap();
            assert_eq!(c.agent_token(), *t);
            assert_eq!(c.run_argument(), *t);
            assert_eq!(c.to_string(), *t);
            let implied = c.implied_type();
            match kind {
                TokenKind::Desktop => assert_eq!(implied, Some(SessionType::Desktop)),
                TokenKind::Published => assert_eq!(implied, Some(SessionType::Published)),
                TokenKind::Generic => assert_eq!(implied, None),
            }
        }
        // Near misses are command lines, not tokens.
        let c = SessionCommand::parse("xfce").unwrap();
        assert_eq!(c.implied_type(), None);
        assert_eq!(c.agent_token(), "xfce");
    }

    #[test]
    fn command_lines() {
        let c = SessionCommand::parse("xterm -e top").unwrap();
        assert_eq!(c.agent_token(), "xterm");
        assert_eq!(c.run_argument(), "xtermX2GO_SPACE_CHAR-eX2GO_SPACE_CHARtop");
        assert_eq!(c.implied_type(), None);
        assert_eq!(c.to_string(), "xterm -e top");

        let c = SessionCommand::parse("/usr/bin/firefox --new-window=a,b").unwrap();
        assert_eq!(c.agent_token(), "firefox");
        assert_eq!(
            c.run_argument(),
            "/usr/bin/firefoxX2GO_SPACE_CHAR--new-window=a,b"
        );

        // Server rewriting applied in advance: ':' → PP, '+', '@', '%', ',', '=' dropped.
        let c = SessionCommand::parse("/opt/a:b+c@d%e,f=g.h_i-j x").unwrap();
        assert_eq!(c.agent_token(), "aPPbcdefg.h_i-j");

        for bad in [
            "",
            " xterm",
            "xterm ",
            "xterm  -e",
            "-xterm",
            "xterm\t-e",
            "xterm\n",
            "xterm;id",
            "xterm $(id)",
            "xterm `id`",
            "xterm 'a'",
            "xterm \"a\"",
            "xterm a*",
            "xterm a?",
            "xterm [a]",
            "xterm ~",
            "xterm !x",
            "xterm #x",
            "xterm a\\b",
            "xterm {a}",
            "xterm a&",
            "xterm a|b",
            "xterm <a",
            "xterm >a",
            "xtermX2GO_SPACE_CHAR-e",
            "1XSHADaliceXSHAD:50",
            "/usr/bin/",
            "+++",
            "@",
            "ähm",
        ] {
            assert!(SessionCommand::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(SessionCommand::parse(&"a".repeat(513)).is_err());
        assert!(SessionCommand::parse(&format!("x {}", "a".repeat(510))).is_ok());
        assert!(SessionCommand::parse(&"a".repeat(101)).is_err());
        assert!(SessionCommand::parse(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn shadow_commands() {
        let alice = Username::parse("alice").unwrap();
        let d = Display::parse("50").unwrap();
        let c = SessionCommand::shadow(true, &alice, d);
        assert_eq!(c.agent_token(), "1XSHADaliceXSHAD:50");
        assert_eq!(c.implied_type(), Some(SessionType::Shadow));
        assert!(c.is_shadow());
        assert_eq!(
            SessionCommand::shadow(false, &alice, d).agent_token(),
            "0XSHADaliceXSHAD:50"
        );
    }

    #[test]
    fn defaults() {
        let a = StartAgentArgs::new(SessionCommand::parse("XFCE").unwrap());
        assert_eq!(a.session_type, SessionType::Desktop);
        assert_eq!(a.kblayout.as_str(), "null");
        assert_eq!(a.kbtype.as_str(), "null/null");
        assert_eq!(set_keyboard_flag(&a.kbtype), "0");
        assert_eq!(
            set_keyboard_flag(&KeyboardSetting::parse("auto").unwrap()),
            "1"
        );
        let a = StartAgentArgs::new(SessionCommand::parse("xterm").unwrap());
        assert_eq!(a.session_type, SessionType::Application);
        let r = ResumeArgs::default();
        assert_eq!(r.pack, Pack::default());
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_outputs_are_safe(s in "\\PC{0,600}") {
            let _ = Pack::parse(&s);
            if let Ok(c) = SessionCommand::parse(&s) {
                let token = c.agent_token();
                prop_assert!(!token.is_empty());
                prop_assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
                let run = c.run_argument();
                prop_assert!(!run.contains(' '));
                prop_assert_eq!(run.replace("X2GO_SPACE_CHAR", " "), s);
            }
        }

        #[test]
        fn restricted_lines_are_accepted(
            words in proptest::collection::vec("[A-Za-z0-9._/+,:=@%][A-Za-z0-9._/+,:=@%-]{0,20}", 1..6)
        ) {
            let line = words.join(" ");
            let first_ok = words.first().is_some_and(|w| {
                w.rsplit('/').next().is_some_and(|b| b.chars().any(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-')))
            });
            prop_assume!(first_ok && !line.contains("XSHAD") && !line.contains("X2GO_SPACE_CHAR"));
            prop_assume!(!TOKENS.iter().any(|(t, _)| *t == line));
            let c = SessionCommand::parse(&line).unwrap();
            prop_assert_eq!(c.to_string(), line);
        }
    }
}
