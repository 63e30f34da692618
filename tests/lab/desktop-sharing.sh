#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Run x2godesktopsharing (the X2Go desktop sharing applet, Qt5) headless for a
# lab user's desktop, so that other users' shadow requests for it are answered
# automatically, without anybody clicking.
#
#   tests/lab/desktop-sharing.sh -u USER -d DISPLAY --grant|--deny
#   tests/lab/desktop-sharing.sh -u USER -d DISPLAY --stop
#
# DISPLAY is the agent display of USER's X2Go session, with or without ':'
# (e.g. the second word printed by start-desktop.sh). Start prints the applet's
# pid on stdout. Stop with --stop (or `kill -TERM PID` as USER or root); SIGTERM
# makes it remove its socket and lock file. `x2goterminate-session` of USER's
# session on that display also stops it (x2goterminate-desktopsharing), and
# teardown.sh stops any applet this script started.
#
# How it works (all verified in the lab):
# * QT_QPA_PLATFORM=offscreen: no X connection at all, so no tray or dialog is
#   needed. DISPLAY is still set: the applet names its socket after it,
#   /tmp/x2godesktopsharing_@USER@:N (srw-rw---- USER:x2godesktopsharing), and
#   that file is what x2golistdesktops reports to other members of the group.
# * --activate-desktop-sharing: listen from the start (else sharing is off).
# * ~USER/.x2godesktopsharing/settings (INI, [General] whitelist/blacklist/
#   group): a requesting user on the whitelist is granted at once (the applet
#   runs `x2gostartagent ... S <mode>XSHAD<USER>XSHAD:N <requester>` as USER
#   and hands its 7 lines back); one on the blacklist is denied at once
#   ("DENY access denied user" -> the requester's x2gostartagent prints
#   `ACCESS DENIED` on stderr, nothing on stdout, exit 8). --grant whitelists
#   and --deny blacklists every other lab user. A requester on neither list
#   would get a dialog; unanswered, the requester gives up after ~30 s (exit 8).
# * The shadowed display must serve X clients: a session that no client has
#   ever attached to (state STARTING) does not (see start-desktop.sh --prime).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

usage() { die "usage: $0 -u USER -d DISPLAY --grant|--deny|--stop"; }
user="" dnum="" mode=""
while (($#)); do
    case "$1" in
        -u) [[ $# -ge 2 ]] || usage; user="$2"; shift 2 ;;
        -d) [[ $# -ge 2 ]] || usage; dnum="${2#:}"; shift 2 ;;
        --grant | --deny | --stop) [[ -z "$mode" ]] || usage; mode="${1#--}"; shift ;;
        *) usage ;;
    esac
done
[[ -n "$user" && -n "$mode" && "$dnum" =~ ^[0-9]+$ ]] || usage
[[ "$user" =~ ^[a-z_][a-z0-9_-]*$ ]] || die "bad user name '$user'"

# Per-display pid file in the user's own settings dir (no root needed; the
# remote commands run as USER over the lab sshd, like start-session.sh).
# shellcheck disable=SC2016  # \$HOME is expanded by the remote shell
SDIR='$HOME/.x2godesktopsharing'
PIDFILE="$SDIR/lab-applet-$dnum.pid"
LOGFILE="$SDIR/lab-applet-$dnum.log"
SOCK="/tmp/x2godesktopsharing_@$user@:$dnum"

# stop_remote: SIGTERM the applet recorded for this display (cmdline-checked),
# wait up to 5 s for it to go. Prints nothing; succeeds when none is left.
# shellcheck disable=SC2016  # expanded by the remote shell
stop_remote='f='"$PIDFILE"'; [ -r "$f" ] || exit 0; read -r p <"$f" || exit 0
if tr "\0" " " <"/proc/$p/cmdline" 2>/dev/null | grep -q "^x2godesktopsharing --activate-desktop-sharing"; then
    kill -TERM "$p"; i=0
    while [ -d "/proc/$p" ] && ! grep -q "^State:.*Z" "/proc/$p/status" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
fi
rm -f "$f"'

"$HERE/ssh.sh" -u "$user" "$stop_remote" || die "could not stop the previous applet of $user on :$dnum"
if [[ "$mode" == stop ]]; then
    log "desktop sharing of $user@:$dnum stopped"
    exit 0
fi

others=()
for u in "${LAB_USERS[@]}"; do [[ "$u" == "$user" ]] || others+=("$u"); done
list="$(IFS=,; echo "${others[*]}")"
list="${list//,/, }"   # QSettings INI string list: "a, b"
if [[ "$mode" == grant ]]; then white="$list" black=""; else white="" black="$list"; fi

# A socket file without a listener (applet killed hard) would make the new
# applet fail to listen; one with a listener belongs to somebody else.
if [[ -S "$SOCK" ]]; then
    if ss -xlH 2>/dev/null | grep -qF " $SOCK "; then
        die "an x2godesktopsharing not started by this script already serves $user@:$dnum ($SOCK)"
    fi
fi

# shellcheck disable=SC2016  # expanded by the remote shell
start_remote='set -e; umask 022; d='"$SDIR"'; mkdir -p "$d"
rm -f '"'$SOCK'"' "/tmp/x2godesktopsharing.lock_'"$user@:$dnum"'" 2>/dev/null || true
printf "[General]\nblacklist=%s\ngroup='"$LAB_SHARING_GROUP"'\nwhitelist=%s\n" '"'$black' '$white'"' >"$d/settings"
cd "$HOME"
QT_QPA_PLATFORM=offscreen DISPLAY=:'"$dnum"' setsid x2godesktopsharing --activate-desktop-sharing </dev/null >'"$LOGFILE"' 2>&1 &
echo $! >'"$PIDFILE"'
echo $!'
pid="$("$HERE/ssh.sh" -u "$user" "$start_remote")" || die "could not start x2godesktopsharing as $user"
[[ "$pid" =~ ^[0-9]+$ ]] || die "unexpected pid '$pid'"

# Ready when the socket exists and the applet listens on it.
for ((i = 0; i < 100; i++)); do
    if [[ -S "$SOCK" ]] && ss -xlH 2>/dev/null | grep -qF " $SOCK "; then
        log "x2godesktopsharing for $user@:$dnum listening on $SOCK (pid $pid, mode $mode: ${list:-nobody})"
        printf '%s\n' "$pid"
        exit 0
    fi
    [[ -d "/proc/$pid" ]] || break
    sleep 0.05
done
"$HERE/ssh.sh" -u "$user" "cat $LOGFILE" >&2 || true
die "x2godesktopsharing (pid $pid) did not start listening on $SOCK"
