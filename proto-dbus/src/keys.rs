//! Every key of the `a{sv}` dictionaries of the x2god API, in one table.
//!
//! [`KEYS`] holds the settings of `CreateProfile` and `Update` and the options of `Connect`,
//! `Start`, `Resume`, `ShareDesktop`, `ListDesktops`, `ListMounts`, `Terminate`,
//! `CleanSessions`, `PublishedApplications` and `ShareFolder`: for each key its constant (the spelling), its
//! D-Bus [`Type`], the [`Call`]s that accept it, whether it is a secret, its python-x2go name
//! and what it means. [`session`] does the same for the dictionaries `ListSessions` returns.
//!
//! The daemon parses dictionaries with this table (a key the call does not accept is refused,
//! a value of another type is refused in the table's words), `x2goctl --set` types its values
//! with it, the keyring's kinds ([`crate::names::secret_kind::STORABLE`]) are its secrets, and
//! the README's section "Keys" is rendered from it: a test fails when they disagree, and another
//! when the interface XML's comment of a call does not name every key the call accepts.

use std::fmt;

/// A method that takes an `a{sv}` of settings or options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// `Manager.CreateProfile(s name, a{sv} settings)`.
    CreateProfile,
    /// `Profile.Update(a{sv} settings)`.
    Update,
    /// `Profile.Connect(a{sv} options)`.
    Connect,
    /// `Profile.Start(a{sv} options)`.
    Start,
    /// `Profile.Resume(s name, a{sv} options)` and `Session.Resume(a{sv} options)`.
    Resume,
    /// `Profile.ShareDesktop(a{sv} options)`.
    ShareDesktop,
    /// `Profile.ListDesktops(a{sv} options)`.
    ListDesktops,
    /// `Profile.ListMounts(s name, a{sv} options)`.
    ListMounts,
    /// `Profile.Terminate(s name, a{sv} options)`.
    Terminate,
    /// `Profile.CleanSessions(a{sv} options)`.
    CleanSessions,
    /// `Profile.PublishedApplications(a{sv} options)`.
    PublishedApplications,
    /// `Session.ShareFolder(s path, a{sv} options)`.
    ShareFolder,
}

impl Call {
    /// Every call, in the order of the README.
    pub const ALL: [Call; 12] = [
        Call::CreateProfile,
        Call::Update,
        Call::Connect,
        Call::Start,
        Call::Resume,
        Call::ShareDesktop,
        Call::ListDesktops,
        Call::ListMounts,
        Call::Terminate,
        Call::CleanSessions,
        Call::PublishedApplications,
        Call::ShareFolder,
    ];

    /// The method's member name on the bus.
    pub fn member(self) -> &'static str {
        match self {
            Call::CreateProfile => "CreateProfile",
            Call::Update => "Update",
            Call::Connect => "Connect",
            Call::Start => "Start",
            Call::Resume => "Resume",
            Call::ShareDesktop => "ShareDesktop",
            Call::ListDesktops => "ListDesktops",
            Call::ListMounts => "ListMounts",
            Call::Terminate => "Terminate",
            Call::CleanSessions => "CleanSessions",
            Call::PublishedApplications => "PublishedApplications",
            Call::ShareFolder => "ShareFolder",
        }
    }

    /// The interfaces that have the method (`Resume` is on profiles and on sessions).
    pub fn interfaces(self) -> &'static [&'static str] {
        use crate::names::{MANAGER_INTERFACE, PROFILE_INTERFACE, SESSION_INTERFACE};
        match self {
            Call::CreateProfile => &[MANAGER_INTERFACE],
            Call::Resume => &[PROFILE_INTERFACE, SESSION_INTERFACE],
            Call::ShareFolder => &[SESSION_INTERFACE],
            _ => &[PROFILE_INTERFACE],
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.member())
    }
}

/// D-Bus integer types, any of which is accepted where a key takes an integer: busctl users
/// write `port u 22` as readily as `port q 22`.
const INTEGER_SIGNATURES: [&str; 7] = ["y", "n", "q", "i", "u", "x", "t"];

/// How the value of a key is typed on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A string, `s`.
    String,
    /// A boolean, `b`.
    Boolean,
    /// An integer within `min..=max`, in any D-Bus integer type that holds it; `signature` is
    /// the type x2god itself uses for it (in `GetSettings`) and x2goctl sends.
    Integer {
        /// `q`, `u` or `i`.
        signature: &'static str,
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A number of seconds, more than 0 and at most 3600: `d` or any integer type.
    Seconds,
    /// One path (`s`, empty for none) or several (`as`).
    Paths,
    /// A number in any integer type, or a string.
    IntegerOrString,
}

impl Type {
    /// The signature x2god uses for values of this type, and clients should send.
    pub fn signature(self) -> &'static str {
        match self {
            Type::String | Type::IntegerOrString => "s",
            Type::Boolean => "b",
            Type::Integer { signature, .. } => signature,
            Type::Seconds => "d",
            Type::Paths => "as",
        }
    }

    /// Whether a value of the D-Bus type `signature` is accepted (its value may still be out
    /// of range).
    pub fn accepts(self, signature: &str) -> bool {
        let integer = INTEGER_SIGNATURES.contains(&signature);
        match self {
            Type::String => signature == "s",
            Type::Boolean => signature == "b",
            Type::Integer { .. } => integer,
            Type::Seconds => integer || signature == "d",
            Type::Paths => signature == "s" || signature == "as",
            Type::IntegerOrString => integer || signature == "s",
        }
    }

    /// What a value must be, in the words of error messages ("must be …").
    pub fn expected(self) -> &'static str {
        match self {
            Type::String => "a string (s)",
            Type::Boolean => "a boolean (b)",
            Type::Integer { .. } => "an integer",
            Type::Seconds => "a number of seconds",
            Type::Paths => "a string or an array of strings",
            Type::IntegerOrString => "an integer or a string",
        }
    }

    /// The accepted range of an integer type.
    pub fn range(self) -> Option<(i64, i64)> {
        match self {
            Type::Integer { min, max, .. } => Some((min, max)),
            _ => None,
        }
    }
}

/// The name python-x2go gives a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Python {
    /// The same name (a parameter of `X2GoControlSession`, of a session or of a session
    /// profile).
    Same,
    /// Another name for the same thing.
    Other(&'static str),
    /// python-x2go has no such parameter.
    Missing,
}

/// One key of an `a{sv}` the API takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The key as spelled on the bus.
    pub name: &'static str,
    /// The type of its value.
    pub ty: Type,
    /// The calls that accept it.
    pub calls: &'static [Call],
    /// A secret: accepted by `Connect` only, never stored, logged or shown; the same names
    /// are the kinds `Profile.StoreSecret` keeps in the keyring.
    pub secret: bool,
    /// Its python-x2go name.
    pub python: Python,
    /// What it means, in one line.
    pub doc: &'static str,
}

impl Key {
    /// Whether `call` accepts this key.
    pub fn accepted_by(&self, call: Call) -> bool {
        self.calls.contains(&call)
    }
}

/// Defines the constant of each key (the first row of a name gives it its documentation) and
/// the table [`KEYS`] of all rows, so that no key has a constant without a row.
macro_rules! key_table {
    (@constant $konst:ident = $name:literal, $doc:literal) => {
        #[doc = concat!("`", $name, "`: ", $doc)]
        pub const $konst: &str = $name;
    };
    (@constant $konst:ident, $doc:literal) => {};
    ($( $konst:ident $(= $name:literal)? => $ty:expr, $calls:expr, $secret:expr, $python:expr,
        $doc:literal; )*) => {
        $( key_table!(@constant $konst $(= $name)?, $doc); )*

        /// Every key of every `a{sv}` the API takes. A name has more than one row when it
        /// means different things to different calls (`display`).
        pub const KEYS: &[Key] = &[
            $( Key { name: $konst, ty: $ty, calls: $calls, secret: $secret, python: $python,
                doc: $doc }, )*
        ];
    };
}

use Call::*;
use Python::{Missing, Other, Same};

/// The calls that take a profile's settings.
const SETTINGS: &[Call] = &[CreateProfile, Update, Connect];
/// The calls that take session settings: stored with the profile, or for one session.
const SESSION: &[Call] = &[CreateProfile, Update, Connect, Start, Resume, ShareDesktop];
/// A TCP port.
const PORT_NUMBER: Type = Type::Integer {
    signature: "q",
    min: 1,
    max: 65535,
};

// Each row: CONSTANT = "key" => type, the calls that accept it, secret, python-x2go name,
// meaning. A row without `= "key"` gives a key defined above another meaning for other calls.
key_table! {
    HOSTNAME = "hostname" => Type::String, SETTINGS, false, Same,
        "Host name or address of the server; required by `CreateProfile`.";
    PORT = "port" => PORT_NUMBER, SETTINGS, false, Same,
        "SSH port of the server (default 22).";
    USERNAME = "username" => Type::String, SETTINGS, false, Same,
        "Remote user name (default: the local user; empty: unset).";
    KEY_FILENAME = "key_filename" => Type::Paths, SETTINGS, false, Same,
        "Private key files to try, in order.";
    ALLOW_AGENT = "allow_agent" => Type::Boolean, SETTINGS, false, Same,
        "Try the keys of the SSH agent (the daemon's `SSH_AUTH_SOCK`).";
    LOOK_FOR_KEYS = "look_for_keys" => Type::Boolean, SETTINGS, false, Same,
        "Try `~/.ssh/id_ed25519`, `id_ecdsa` and `id_rsa`.";
    FORCE_PASSWORD_AUTH = "force_password_auth" => Type::Boolean, SETTINGS, false, Same,
        "Authenticate with the password only.";
    TIMEOUT = "timeout" => Type::Seconds, SETTINGS, false, Same,
        "Limit for the TCP connect and the authentication.";
    ADD_TO_KNOWN_HOSTS = "add_to_known_hosts" => Type::Boolean, SETTINGS, false, Same,
        "Learn an unknown host key instead of failing with `HostKeyUnknown`.";
    FORWARD_SSHAGENT = "forward_sshagent" => Type::Boolean, SETTINGS, false, Same,
        "Forward the daemon's SSH agent to every command channel.";
    UNIQUE_HOSTKEY_ALIASES = "unique_hostkey_aliases" => Type::Boolean, SETTINGS, false, Same,
        "Keep the server's host key under `x2god-profile-<name>` instead of `[host]:port`.";
    USE_SSH_CONFIG = "use_ssh_config" => Type::Boolean, SETTINGS, false, Missing,
        "Resolve `hostname` as a `Host` alias in `~/.ssh/config` and `/etc/ssh/ssh_config` \
         for the settings the profile leaves unset (default true; see \"OpenSSH configuration\").";
    KEEPALIVE_INTERVAL = "keepalive_interval" => Type::Seconds, SETTINGS, false, Missing,
        "Seconds between SSH keepalives (default 15).";
    KEEPALIVE_COUNT = "keepalive_count"
        => Type::Integer { signature: "u", min: 1, max: 100 }, SETTINGS, false, Missing,
        "Unanswered keepalives after which the connection is `lost` (default 3).";
    AUTO_RECONNECT = "auto_reconnect" => Type::Boolean, SETTINGS, false, Missing,
        "Reconnect by itself after a loss (default true).";
    AUTO_RESUME = "auto_resume" => Type::Boolean, SETTINGS, false, Missing,
        "After a reconnect, resume the sessions x2god was showing (default false).";
    AUTOCONNECT = "autoconnect" => Type::Boolean, SETTINGS, false, Other("auto_connect"),
        "Connect when the daemon starts (default false).";
    POLL_INTERVAL = "poll_interval" => Type::Seconds, SETTINGS, false, Missing,
        "Seconds between listings when the server-side session watcher cannot run (default 2).";
    USE_SSHPROXY = "use_sshproxy" => Type::Boolean, SETTINGS, false, Same,
        "Reach the server through `sshproxy_host`: a jump host, or an HTTP proxy with \
         `sshproxy_type` `http`.";
    SSHPROXY_TYPE = "sshproxy_type" => Type::String, SETTINGS, false, Missing,
        "`ssh` (default): `sshproxy_host` is an SSH jump host; `http`: an HTTP proxy asked for a \
         tunnel with `CONNECT`, with basic authentication when `sshproxy_user` is set \
         (x2goclient's `sshproxytype=HTTP`).";
    SSHPROXY_HOST = "sshproxy_host" => Type::String, SETTINGS, false, Same,
        "The jump host (or HTTP proxy), `host` or `host:port`.";
    SSHPROXY_PORT = "sshproxy_port" => PORT_NUMBER, SETTINGS, false, Same,
        "Port of the jump host or HTTP proxy (default 22).";
    SSHPROXY_USER = "sshproxy_user" => Type::String, SETTINGS, false, Same,
        "User on the jump host (default: `username`); of an HTTP proxy's basic authentication \
         (default: none).";
    SSHPROXY_KEY_FILENAME = "sshproxy_key_filename" => Type::Paths, SETTINGS, false, Same,
        "Private key files for the jump host.";
    SSHPROXY_ALLOW_AGENT = "sshproxy_allow_agent" => Type::Boolean, SETTINGS, false, Same,
        "Try the keys of the SSH agent on the jump host.";
    SSHPROXY_LOOK_FOR_KEYS = "sshproxy_look_for_keys" => Type::Boolean, SETTINGS, false, Same,
        "Try the default key files in `~/.ssh` on the jump host.";
    SSHPROXY_FORCE_PASSWORD_AUTH = "sshproxy_force_password_auth"
        => Type::Boolean, SETTINGS, false, Same,
        "Authenticate with the password only on the jump host.";
    SSHPROXY_REUSE_AUTHINFO = "sshproxy_reuse_authinfo" => Type::Boolean, SETTINGS, false, Same,
        "Give the jump host the profile's key files and password (x2goclient's \"same password\").";
    SSHPROXY_TUNNEL = "sshproxy_tunnel" => Type::String, SETTINGS, false, Same,
        "`<local-address>:<local-port>:<remote-address>:<remote-port>`: the remote part is the \
         server as the jump host reaches it.";
    PASSWORD = "password" => Type::String, &[Connect], true, Same,
        "Login password of the server; also unlocks key files when no `passphrase` is given.";
    PASSPHRASE = "passphrase" => Type::String, &[Connect], true, Same,
        "Passphrase of an encrypted private key for the server.";
    SSHPROXY_PASSWORD = "sshproxy_password" => Type::String, &[Connect], true, Same,
        "Login password of the jump host, or of `sshproxy_user` at the HTTP proxy.";
    SSHPROXY_PASSPHRASE = "sshproxy_passphrase" => Type::String, &[Connect], true, Same,
        "Passphrase of an encrypted private key for the jump host.";
    CMD = "cmd" => Type::String, SESSION, false, Same,
        "`XFCE`, `MATE`, `KDE`, `LXDE`, `TERMINAL`, … or a command with its arguments (default \
         `TERMINAL`).";
    SESSION_TYPE = "session_type" => Type::String, SESSION, false, Same,
        "`desktop`, `application` or `published`.";
    GEOMETRY = "geometry" => Type::String, SESSION, false, Same,
        "`WxH`, `fullscreen` or `maximize` (default `800x600`).";
    LINK = "link" => Type::String, SESSION, false, Same,
        "Link speed: `modem`, `isdn`, `adsl`, `wan` or `lan`.";
    PACK = "pack" => Type::String, SESSION, false, Same,
        "NX pack method, e.g. `16m-jpeg-9`.";
    DPI = "dpi" => Type::Integer { signature: "u", min: 1, max: 1000 }, SESSION, false, Same,
        "Screen resolution in dots per inch.";
    KBLAYOUT = "kblayout" => Type::String, SESSION, false, Same,
        "Keyboard layout, e.g. `de`.";
    KBTYPE = "kbtype" => Type::String, SESSION, false, Same,
        "Keyboard type `<model>/<layout>`, e.g. `pc105/de`, or `auto`: the local keyboard, which \
         the server's agent reads from this client.";
    KBVARIANT = "kbvariant" => Type::String, SESSION, false, Same,
        "Keyboard variant, e.g. `nodeadkeys`; layout, variant and model are set in the session \
         with `setxkbmap` after it starts and after each resume, as python-x2go does.";
    DEPTH = "depth" => Type::Integer { signature: "u", min: 1, max: 32 }, SESSION, false, Same,
        "Colour depth of a new session: 8, 16, 24 or 32 bits (default 24).";
    CACHE_TYPE = "cache_type" => Type::String, SESSION, false, Same,
        "NX cache type of a new session, sent as `<cache_type>-depth_<depth>` (default \
         `unix-kde`; letters, digits, `_` and inner `-`).";
    XINERAMA = "xinerama" => Type::Boolean, SESSION, false, Same,
        "The session sees the local monitors (Xinerama) instead of one screen (default false).";
    SET_SESSION_TITLE = "set_session_title" => Type::Boolean, SESSION, false, Same,
        "Give the local window of a desktop or shadow session the title `session_title` (default \
         false; the command when `session_title` is empty).";
    SESSION_TITLE = "session_title" => Type::String, SESSION, false, Same,
        "Title of the session's local window instead of the agent's `X2GO-<session>`; set \
         unless `set_session_title` is false.";
    SETDPI = "setdpi" => Type::Boolean, SESSION, false, Same,
        "python-x2go's and x2goclient's profile switch for `dpi`: false ignores `dpi` (default: \
         `dpi` applies when set).";
    CLIPBOARD = "clipboard" => Type::String, SESSION, false, Same,
        "Clipboard sharing: `both`, `server`, `client` or `none`.";
    NXPROXY = "nxproxy" => Type::String, &[CreateProfile, Update], false, Missing,
        "The local `nxproxy` binary (default: found in `PATH`); a stored setting only, never an \
         option of a call: whoever may call `Start` must not choose what x2god runs.";
    SND_SYSTEM = "snd_system" => Type::String, SESSION, false, Same,
        "Sound: `pulse` (default: the session's PulseAudio clients play through the local \
         sound server, the session's `Sound` property says whether they can) or `none`; `esd` \
         and `arts` are refused with `NotSupported`.";
    SND_PORT = "snd_port" => PORT_NUMBER, SESSION, false, Same,
        "Reach the local sound server over TCP at 127.0.0.1 on this port (python-x2go's way; \
         default: its unix socket, `PULSE_SERVER`, else `$XDG_RUNTIME_DIR/pulse/native`).";
    ALLOW_SHARE_LOCAL_FOLDERS = "allow_share_local_folders" => Type::Boolean, SESSION, false,
        Same,
        "Allow sharing client folders into sessions (default true; python-x2go's is false, with \
         `share_local_folders` implying it).";
    SHARE_LOCAL_FOLDERS = "share_local_folders" => Type::Paths, SESSION, false, Same,
        "Client folders shared into the session when it starts or resumes (absolute paths).";
    RESTORE_SHARED_LOCAL_FOLDERS = "restore_shared_local_folders" => Type::Boolean, SESSION,
        false, Same,
        "On resume (also after a reconnect), share again the folders that were shared when the \
         session was suspended (default false).";
    PRINTING = "printing" => Type::Boolean, SESSION, false, Same,
        "Print jobs of the session come to this client (the server's `cups-x2go` queue); what \
         happens to them is `print_action` (default false).";
    PRINT_ACTION = "print_action" => Type::String, SESSION, false, Same,
        "`PDFVIEW` (default: open with `pdfview_cmd`), `PDFSAVE` (into `save_to_folder`), \
         `PRINT` (to the local `printer`), `PRINTCMD` (run `print_cmd` with the file) or \
         `DIALOG` (the `PrintJob` signal; an applet asks).";
    PDFVIEW_CMD = "pdfview_cmd" => Type::String, SESSION, false, Same,
        "The viewer `PDFVIEW` runs with the file (default `xdg-open`).";
    SAVE_TO_FOLDER = "save_to_folder" => Type::String, SESSION, false, Same,
        "Where `PDFSAVE` puts print jobs (default `~/PDF`).";
    PRINTER = "printer" => Type::String, SESSION, false, Same,
        "The local printer (CUPS queue) of `PRINT` (default: the default printer).";
    PRINT_CMD = "print_cmd" => Type::String, SESSION, false, Same,
        "The command line `PRINTCMD` runs, the file appended (split like shell words, no shell).";
    ALLOW_MIMEBOX = "allow_mimebox" => Type::Boolean, SESSION, false, Same,
        "Files the session drops into its MIME box come to this client (default false).";
    MIMEBOX_EXTENSIONS = "mimebox_extensions" => Type::Paths, SESSION, false, Same,
        "File name extensions the MIME box accepts (e.g. `pdf`, `odt`); others are refused and \
         removed; empty: all.";
    MIMEBOX_ACTION = "mimebox_action" => Type::String, SESSION, false, Same,
        "What happens to a MIME box file: `OPEN` (the desktop's handler, default) or `SAVEAS` \
         (into `mimebox_save_to_folder`).";
    MIMEBOX_SAVE_TO_FOLDER = "mimebox_save_to_folder" => Type::String, SESSION, false, Missing,
        "Where `SAVEAS` puts MIME box files (default `~/MIME-Box`).";
    DISPLAY = "display" => Type::String, &[Start, Resume], false, Missing,
        "The local X display to show the session on (default: the daemon's `DISPLAY`, with its \
         `XAUTHORITY`).";
    DESKTOP = "desktop" => Type::String, &[ShareDesktop], false, Same,
        "The desktop to share, `user@:display` as `ListDesktops` gives it.";
    USER = "user" => Type::String, &[ShareDesktop], false, Same,
        "Owner of the desktop to share (with `display`, instead of `desktop`).";
    DISPLAY => Type::IntegerOrString, &[ShareDesktop], false, Same,
        "Display number of the desktop to share on the server, `N` or `:N` (with `user`).";
    SHARE_MODE = "share_mode"
        => Type::Integer { signature: "i", min: 0, max: 1 }, &[ShareDesktop], false, Same,
        "0 view only (default), 1 full access.";
    LOCAL_DISPLAY = "local_display" => Type::String, &[ShareDesktop], false, Missing,
        "The local X display to show the shared desktop on (what `display` is to `Start`).";
    MAXWAIT = "maxwait" => Type::Seconds, &[ShareDesktop, ListDesktops, ListMounts], false, Same,
        "How long listing the server's desktops or mounts may take (default 20); `ListDesktops` \
         retries a timed-out attempt once.";
    DESTROY_TERMINALS = "destroy_terminals"
        => Type::Boolean, &[Terminate, CleanSessions], false, Same,
        "Accepted for python-x2go compatibility; sessions end the same way either way.";
    PUBLISHED_APPLICATIONS = "published_applications"
        => Type::Boolean, &[CleanSessions], false, Same,
        "Also terminate published-applications sessions (default false).";
    LANG = "lang" => Type::String, &[PublishedApplications], false, Same,
        "Language of names and comments, matched as freedesktop does (`de_DE.UTF-8`: `de_DE`, \
         `de`, default); default: the daemon's `LANG`.";
    MAX_NO_SUBMENUS = "max_no_submenus"
        => Type::Integer { signature: "i", min: -1, max: 10_000 }, &[PublishedApplications],
        false, Same,
        "Up to this many entries are listed flat under `TOP`, more are grouped by XDG main \
         category (default 10; -1: never grouped).";
    REFRESH = "refresh" => Type::Boolean, &[PublishedApplications], false, Same,
        "Fetch the menu again instead of using the connection's cache.";
    RAW = "raw" => Type::Boolean, &[PublishedApplications], false, Same,
        "Answer with the parsed entries (`entries`) instead of the menu.";
    VERY_RAW = "very_raw" => Type::Boolean, &[PublishedApplications], false, Same,
        "Answer with the server's output (`text`) instead of the menu.";
    READONLY = "readonly" => Type::Boolean, &[ShareFolder], false, Missing,
        "Share the folder read-only: the server can read, never change (default false).";
}

/// A python-x2go key x2god knows and refuses with `NotSupported`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported {
    /// The key.
    pub name: &'static str,
    /// The calls that refuse it with `NotSupported` (the others call it unknown).
    pub calls: &'static [Call],
    /// Why, for the error message.
    pub reason: &'static str,
}

/// `pkey`: python-x2go's in-memory private key object.
pub const PKEY: &str = "pkey";
/// `sshproxy_pkey`: python-x2go's in-memory private key object for the jump host.
pub const SSHPROXY_PKEY: &str = "sshproxy_pkey";

/// Why python-x2go's in-memory objects, classes and paths of its own are refused.
const PYTHON_INTERNAL: &str = "a python-x2go object or class of its own; x2god has one implementation and keeps its files \
     in its own places";
/// Why python-x2go's state flags are refused.
const PYTHON_STATE: &str =
    "python-x2go's state of a session object, not a setting; see the session's properties";
/// Why RDP and XDMCP proxy sessions are refused.
const FOREIGN_SESSION: &str =
    "x2god starts X2Go sessions only, not RDP or XDMCP sessions proxied by the X2Go server";

/// Shorthand for the rows of [`UNSUPPORTED`] that session calls refuse.
const fn refused(name: &'static str, reason: &'static str) -> Unsupported {
    Unsupported {
        name,
        calls: SESSION,
        reason,
    }
}

/// The python-x2go keys x2god refuses with `NotSupported` rather than as unknown: x2god knows
/// them and says why it does not take them, before anything runs on the server.
pub const UNSUPPORTED: &[Unsupported] = &[
    refused(
        PKEY,
        "an in-memory key cannot cross the bus; use a key file or the SSH agent",
    ),
    refused(
        SSHPROXY_PKEY,
        "an in-memory key cannot cross the bus; use a key file or the SSH agent",
    ),
    refused(
        "kdrive",
        "X2Go KDrive sessions (x2gokdrive instead of nxagent) are not supported",
    ),
    refused("rdp_server", FOREIGN_SESSION),
    refused("rdp_options", FOREIGN_SESSION),
    refused("xdmcp_server", FOREIGN_SESSION),
    refused(
        "applications",
        "python-x2go's list of the server's applications, which it fills itself; see \
         `PublishedApplications`",
    ),
    refused(
        "convert_encoding",
        "x2god exchanges UTF-8 with the server and converts nothing",
    ),
    refused(
        "client_encoding",
        "x2god exchanges UTF-8 with the server and converts nothing",
    ),
    refused(
        "server_encoding",
        "x2god exchanges UTF-8 with the server and converts nothing",
    ),
    refused(
        "proxy_options",
        "nxproxy's options are x2god's own (`link`, `pack`, `clipboard`, …)",
    ),
    refused(
        "published_applications",
        "for a session, use `session_type` `published`",
    ),
    refused(
        "published_applications_no_submenus",
        "the menu's grouping is the `max_no_submenus` option of `PublishedApplications`",
    ),
    refused(
        "print_action_args",
        "a dictionary of python-x2go's print classes; use `pdfview_cmd`, `save_to_folder`, \
         `printer` and `print_cmd`",
    ),
    refused(
        "profile_name",
        "the profile is the object the call is made on",
    ),
    refused(
        "profile_id",
        "the profile is the object the call is made on",
    ),
    refused(
        "session_name",
        "the server names new sessions; `Resume` takes the name as its argument",
    ),
    refused(
        "auto_start_or_resume",
        "a python-x2go client's behaviour; call `Start` or `Resume`",
    ),
    refused("auto_connect", "x2god spells it `autoconnect`"),
    refused(
        "keep_controlsession_alive",
        "x2god keeps a profile's connection while it is connected",
    ),
    refused(
        "known_hosts",
        "x2god keeps the host keys it learns in its own known-hosts file",
    ),
    refused("rootdir", PYTHON_INTERNAL),
    refused("client_rootdir", PYTHON_INTERNAL),
    refused("sessions_rootdir", PYTHON_INTERNAL),
    refused("ssh_rootdir", PYTHON_INTERNAL),
    refused(
        "loglevel",
        "x2god logs as its command line and `RUST_LOG` say",
    ),
    refused("logger", PYTHON_INTERNAL),
    refused("session_instance", PYTHON_INTERNAL),
    refused("client_instance", PYTHON_INTERNAL),
    refused("control_backend", PYTHON_INTERNAL),
    refused("terminal_backend", PYTHON_INTERNAL),
    refused("info_backend", PYTHON_INTERNAL),
    refused("list_backend", PYTHON_INTERNAL),
    refused("proxy_backend", PYTHON_INTERNAL),
    refused("profiles_backend", PYTHON_INTERNAL),
    refused("settings_backend", PYTHON_INTERNAL),
    refused("printing_backend", PYTHON_INTERNAL),
    refused("connected", PYTHON_STATE),
    refused("virgin", PYTHON_STATE),
    refused("running", PYTHON_STATE),
    refused("suspended", PYTHON_STATE),
    refused("terminated", PYTHON_STATE),
    refused("faulty", PYTHON_STATE),
];

/// Every parameter of a python-x2go session: `_X2GO_TERMINAL_PARAMS` and
/// `_X2GO_SESSION_PARAMS` of `x2go/session.py` and the parameters of
/// `X2GoTerminalSession.__init__` (`x2go/backends/terminal/plain.py`), in that order, each
/// once. Each is a row of [`KEYS`] (also as [`Python::Other`]) or of [`UNSUPPORTED`]; the
/// README's table of them is rendered from this list. (Sound's `snd_system` and `snd_port`
/// come with sound.)
pub const PYTHON_SESSION_PARAMS: &[&str] = &[
    // _X2GO_TERMINAL_PARAMS
    "geometry",
    "depth",
    "link",
    "pack",
    "dpi",
    "cache_type",
    "kbtype",
    "kblayout",
    "kbvariant",
    "clipboard",
    "xinerama",
    "session_type",
    "kdrive",
    "snd_system",
    "snd_port",
    "cmd",
    "set_session_title",
    "session_title",
    "rdp_server",
    "rdp_options",
    "applications",
    "xdmcp_server",
    "rootdir",
    "loglevel",
    "profile_name",
    "profile_id",
    "print_action",
    "print_action_args",
    "convert_encoding",
    "client_encoding",
    "server_encoding",
    "proxy_options",
    "published_applications",
    "published_applications_no_submenus",
    "logger",
    "control_backend",
    "terminal_backend",
    "proxy_backend",
    "profiles_backend",
    "settings_backend",
    "printing_backend",
    // _X2GO_SESSION_PARAMS (its `'faulty' 'client_instance'` lacks a comma; both are listed)
    "use_sshproxy",
    "sshproxy_reuse_authinfo",
    "session_name",
    "auto_start_or_resume",
    "auto_connect",
    "printing",
    "allow_mimebox",
    "mimebox_extensions",
    "mimebox_action",
    "allow_share_local_folders",
    "share_local_folders",
    "restore_shared_local_folders",
    "info_backend",
    "list_backend",
    "client_rootdir",
    "sessions_rootdir",
    "ssh_rootdir",
    "keep_controlsession_alive",
    "add_to_known_hosts",
    "known_hosts",
    "forward_sshagent",
    "connected",
    "virgin",
    "running",
    "suspended",
    "terminated",
    "faulty",
    "client_instance",
    // X2GoTerminalSession.__init__ only
    "session_instance",
];

/// What x2god does with a python-x2go session parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonStatus {
    /// A key of [`KEYS`] by the same name.
    Supported(&'static Key),
    /// Refused with `NotSupported`, for this reason.
    NotSupported(&'static Unsupported),
}

/// What x2god does with the python-x2go session parameter `name` in a profile's settings or
/// a session's options; `None` for a name x2god does not know (a test keeps every name of
/// [`PYTHON_SESSION_PARAMS`] known).
pub fn python_status(name: &str) -> Option<PythonStatus> {
    let settings = |k: &&Key| k.accepted_by(CreateProfile) || k.accepted_by(Start);
    if let Some(k) = named(name).find(|k| k.python == Python::Same && settings(k)) {
        return Some(PythonStatus::Supported(k));
    }
    UNSUPPORTED
        .iter()
        .find(|u| u.name == name)
        .map(PythonStatus::NotSupported)
}

const fn secret_count() -> usize {
    let (mut n, mut i) = (0, 0);
    while i < KEYS.len() {
        if KEYS[i].secret {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The secret keys in table order: `password`, `passphrase`, `sshproxy_password`,
/// `sshproxy_passphrase`. They are also the kinds of secret the keyring keeps.
pub const SECRETS: [&str; secret_count()] = {
    let mut out = [""; secret_count()];
    let (mut i, mut j) = (0, 0);
    while i < KEYS.len() {
        if KEYS[i].secret {
            out[j] = KEYS[i].name;
            j += 1;
        }
        i += 1;
    }
    out
};

/// The row of `name` for `call`, if `call` accepts it.
pub fn lookup(call: Call, name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name && k.accepted_by(call))
}

/// Every row of `name` (more than one when it means different things to different calls).
pub fn named(name: &str) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().filter(move |k| k.name == name)
}

/// The keys `call` accepts.
pub fn accepted(call: Call) -> impl Iterator<Item = &'static Key> {
    KEYS.iter().filter(move |k| k.accepted_by(call))
}

/// The entry of `name` if `call` refuses it with `NotSupported`.
pub fn unsupported(call: Call, name: &str) -> Option<&'static Unsupported> {
    UNSUPPORTED
        .iter()
        .find(|u| u.name == name && u.calls.contains(&call))
}

/// The keys of the session dictionaries `Profile.ListSessions` returns, one per line of
/// `x2golistsessions`: python-x2go's session-info names. The X cookie is a credential and is
/// never among them.
pub mod session {
    /// One key of a session dictionary.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct SessionKey {
        /// The key.
        pub name: &'static str,
        /// The D-Bus signature of its value.
        pub signature: &'static str,
        /// What it means, in one line.
        pub doc: &'static str,
    }

    /// Defines the constants and the table [`KEYS`] together.
    macro_rules! session_keys {
        ($( $konst:ident = $name:literal => $signature:literal, $doc:literal; )*) => {
            $(
                #[doc = concat!("`", $name, "` (`", $signature, "`): ", $doc)]
                pub const $konst: &str = $name;
            )*

            /// Every key of a session dictionary, in the order of `x2golistsessions`' fields.
            pub const KEYS: &[SessionKey] = &[
                $( SessionKey { name: $konst, signature: $signature, doc: $doc }, )*
            ];
        };
    }

    session_keys! {
        AGENT_PID = "agent_pid" => "u", "Process id of the session's agent on the server.";
        NAME = "name" => "s", "The session name.";
        DISPLAY = "display" => "u", "X display number on the server.";
        HOSTNAME = "hostname" => "s", "Host name of the server.";
        STATUS = "status" => "s",
            "`R` running, `S` suspended (another letter as the server wrote it).";
        STATE = "state" => "s", "`running`, `suspended` or `unknown`.";
        DATE_CREATED = "date_created" => "s", "Creation time (server local time).";
        CLIENT_IP = "client_ip" => "s", "The client address the server saw last.";
        GRAPHICS_PORT = "graphics_port" => "q", "Graphics port of the agent on the server.";
        SND_PORT = "snd_port" => "q", "Sound port on the server.";
        DATE_SUSPENDED = "date_suspended" => "s",
            "Time of the last state change (server local time).";
        USERNAME = "username" => "s", "The remote user.";
        SSHFS_PORT = "sshfs_port" => "q", "Port for sharing client folders on the server.";
        TEKICTRL_PORT = "tekictrl_port" => "i", "Telekinesis control port (-1: none).";
        TEKIDATA_PORT = "tekidata_port" => "i", "Telekinesis data port (-1: none).";
        SESSION_TYPE = "session_type" => "s", "`desktop`, `application`, `published` or `shadow`.";
        COMMAND = "command" => "s", "The command or desktop the session runs.";
        COLOR_DEPTH = "color_depth" => "u", "Colour depth in bits.";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_the_storable_kinds_in_their_order() {
        assert_eq!(
            SECRETS,
            [PASSWORD, PASSPHRASE, SSHPROXY_PASSWORD, SSHPROXY_PASSPHRASE]
        );
        assert_eq!(crate::names::secret_kind::STORABLE, SECRETS);
        for k in KEYS.iter().filter(|k| k.secret) {
            assert_eq!(k.calls, [Call::Connect], "{}", k.name);
            assert_eq!(k.ty, Type::String, "{}", k.name);
        }
    }

    #[test]
    fn one_row_per_key_and_call() {
        for call in Call::ALL {
            let mut names: Vec<_> = accepted(call).map(|k| k.name).collect();
            assert!(!names.is_empty(), "{call} accepts no key");
            let n = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), n, "{call} has a key twice");
        }
    }

    #[test]
    fn rows_of_one_name_are_sent_alike() {
        // Clients that type values by key alone (x2goctl) rely on this.
        for k in KEYS {
            for other in named(k.name) {
                assert_eq!(k.ty.signature(), other.ty.signature(), "{}", k.name);
            }
        }
    }

    #[test]
    fn types_accept_their_own_signature() {
        for k in KEYS {
            assert!(k.ty.accepts(k.ty.signature()), "{}", k.name);
            assert!(!k.ty.accepts("a{sv}"), "{}", k.name);
            if let Some((min, max)) = k.ty.range() {
                assert!(min <= max, "{}", k.name);
            }
        }
        assert!(Type::Seconds.accepts("u") && Type::Seconds.accepts("d"));
        assert!(Type::Paths.accepts("s") && !Type::Paths.accepts("av"));
        assert!(!Type::String.accepts("u") && Type::IntegerOrString.accepts("u"));
    }

    #[test]
    fn lookups() {
        assert_eq!(
            lookup(Call::Start, DISPLAY).map(|k| k.ty),
            Some(Type::String)
        );
        assert_eq!(
            lookup(Call::ShareDesktop, DISPLAY).map(|k| k.ty),
            Some(Type::IntegerOrString)
        );
        assert!(lookup(Call::CreateProfile, PASSWORD).is_none());
        assert!(lookup(Call::Connect, PASSWORD).is_some_and(|k| k.secret));
        assert_eq!(named(DISPLAY).count(), 2);
        assert!(unsupported(Call::Start, PKEY).is_some());
        assert!(unsupported(Call::PublishedApplications, PKEY).is_none());
        for u in UNSUPPORTED {
            for call in u.calls {
                assert!(
                    lookup(*call, u.name).is_none(),
                    "{} is in both tables",
                    u.name
                );
            }
        }
    }

    #[test]
    fn every_python_session_parameter_is_known() {
        let mut names = PYTHON_SESSION_PARAMS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PYTHON_SESSION_PARAMS.len(), "a name twice");
        for name in PYTHON_SESSION_PARAMS {
            assert!(python_status(name).is_some(), "{name} is unknown");
        }
        for u in UNSUPPORTED {
            assert!(
                u.name.ends_with("pkey") || PYTHON_SESSION_PARAMS.contains(&u.name),
                "{} is refused but no python-x2go session parameter",
                u.name
            );
        }
    }

    #[test]
    fn session_keys_are_unique() {
        let mut names: Vec<_> = session::KEYS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), session::KEYS.len());
    }
}
