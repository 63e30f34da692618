# shellcheck shell=sh
# shellcheck disable=SC2034  # used by the scripts that include this file
# The words the scripts print for the daemon to parse, and the words of the daemon's requests
# to the watcher, each spelled here and nowhere else: the scripts that use them include this
# file, and x2go/tokens.rs reads it at compile time. One `name=value` a line, the value a plain
# word of [A-Za-z0-9_-]; the names are lower case so that shellcheck reports a misspelt one.

# watch.sh prints these: something may have changed (re-list), the heartbeat, and an agent's
# new state (`X2GOD-STATE <session> <state>[ <port>]`).
x2god_changed=X2GOD-CHANGED
x2god_alive=X2GOD-ALIVE
x2god_state=X2GOD-STATE
# The lines framing a listing watch.sh runs on request: `… <id>` before it, one `… <line>` per
# line it wrote to stderr, `… <id> <exit status>` after it.
x2god_list_begin=X2GOD-LIST-BEGIN
x2god_list_err=X2GOD-LIST-ERR
x2god_list_end=X2GOD-LIST-END
# The daemon's lines to watch.sh: `… <session>…` names the sessions to follow; `… <id> <kind>`
# asks for a listing, with shadow sessions when the kind is the last word below.
x2god_watch=X2GOD-WATCH
x2god_list=X2GOD-LIST
x2god_list_shadow=shadow

# home_exists.sh: whether $HOME is a directory.
x2god_home_exists=X2GOD_HOME_EXISTS
x2god_home_missing=X2GOD_HOME_MISSING
# sshfs_available.sh: whether client folders can be mounted.
x2god_sshfs_yes=X2GOD_SSHFS_YES
x2god_sshfs_no=X2GOD_SSHFS_NO
# x2go_user.sh: whether a user may run sessions, and if not why.
x2god_user_ok=X2GOD_USER_OK
x2god_user_unknown=X2GOD_USER_UNKNOWN
x2god_user_no_login=X2GOD_USER_NO_LOGIN
x2god_user_no_home=X2GOD_USER_NO_HOME
