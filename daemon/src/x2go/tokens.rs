//! The words the remote scripts print for the daemon to parse, and the words of the daemon's
//! requests to the watcher script. Each is spelled once, in `scripts/tokens.sh`: the scripts
//! that use one include that file, and the constants here are read from it at compile time.

use super::scripts::token;

/// Printed by the watcher when the session set or an agent state may have changed.
pub const WATCH_CHANGED: &str = token("x2god_changed");
/// Printed by the watcher once at start (after the first reference point is taken, so every
/// later change is reported) and then whenever nothing else was printed for about 30 seconds.
pub const WATCH_ALIVE: &str = token("x2god_alive");

/// Starts the line the watcher prints, before [`WATCH_CHANGED`], for each named session whose
/// agent state file changed: `X2GOD-STATE <session> <state>`, the state being the file's first
/// line. For `RESUMING` it goes on with the graphics port the agent now listens on (the
/// `listen=` of its `options` file, which `x2goresume-session` rewrites before it signals the
/// agent): `X2GOD-STATE <session> RESUMING <port>`.
pub const WATCH_STATE: &str = token("x2god_state");

/// First word of the line that tells the watcher which sessions to follow.
pub(super) const WATCH_SESSIONS: &str = token("x2god_watch");
/// First word of the line that asks the watcher for a listing.
pub(super) const LIST_REQUEST: &str = token("x2god_list");
/// Last word of a listing request that wants shadow sessions too.
pub(super) const LIST_SHADOW: &str = token("x2god_list_shadow");
/// First word of the line before a listing the watcher runs on request.
pub(super) const LIST_BEGIN: &str = token("x2god_list_begin");
/// First word of a line the watcher's listing wrote to standard error.
pub(super) const LIST_ERR: &str = token("x2god_list_err");
/// First word of the line after a listing the watcher runs on request.
pub(super) const LIST_END: &str = token("x2god_list_end");

/// Output of `RemoteCommand::home_exists` when `$HOME` is a directory.
pub const HOME_EXISTS_YES: &str = token("x2god_home_exists");
/// Output of `RemoteCommand::home_exists` when it is not.
pub const HOME_EXISTS_NO: &str = token("x2god_home_missing");

/// Output of `RemoteCommand::sshfs_available` when folders can be shared.
pub const SSHFS_YES: &str = token("x2god_sshfs_yes");
/// Output of `RemoteCommand::sshfs_available` otherwise.
pub const SSHFS_NO: &str = token("x2god_sshfs_no");

/// Output of `RemoteCommand::x2go_user` for a user who may run sessions.
pub const X2GO_USER_OK: &str = token("x2god_user_ok");
