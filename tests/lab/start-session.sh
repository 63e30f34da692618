#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Start a real X2Go session on the lab server using only server commands over
# OpenSSH (no X2Go client attached), exactly as python-x2go 0.6.1.3 sends them.
#
#   tests/lab/start-session.sh [-u USER]
#
# Prints only the session name on stdout (diagnostics go to stderr). With no
# client attached x2golistsessions shows status R while the agent state is
# STARTING; that is expected.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

user_args=()
if [[ "${1:-}" == -u ]]; then
    [[ $# -ge 2 ]] || die "usage: $0 [-u USER]"
    user_args=(-u "$2")
    shift 2
fi
[[ $# -eq 0 ]] || die "usage: $0 [-u USER]"

# Stdout lines of x2gostartagent: display, cookie, agent pid, session id,
# graphics port, sound port, sshfs port (2 more with telekinesis).
out="$("$HERE/ssh.sh" "${user_args[@]}" \
    'X2GO_XINERAMA=false x2gostartagent 800x600 lan 16m-jpeg-9 unix-kde-depth_24 null auto 1 R xterm both')" ||
    die "x2gostartagent failed: $out"
mapfile -t lines <<<"$out"
if ((${#lines[@]} < 7)) || ! [[ "${lines[0]}" =~ ^[0-9]+$ && "${lines[2]}" =~ ^[0-9]+$ && "${lines[5]}" =~ ^[0-9]+$ ]]; then
    die "unexpected x2gostartagent output: $out"
fi
display="${lines[0]}" agent_pid="${lines[2]}" session="${lines[3]}" snd_port="${lines[5]}"
[[ "$session" =~ ^[A-Za-z0-9_.-]+$ ]] || die "unexpected session name '$session'"
log "agent started: session=$session display=$display agent_pid=$agent_pid gr_port=${lines[4]}"

# setsid + redirects + '& exit': the command must not keep the SSH channel open.
"$HERE/ssh.sh" "${user_args[@]}" \
    "setsid x2goruncommand $display $agent_pid $session $snd_port xterm none R 1>/dev/null 2>/dev/null & exit" ||
    die "x2goruncommand failed for $session"

# The row is inserted by x2gostartagent, so it should be listed at once; allow
# a short grace period anyway.
for ((i = 0; i < 20; i++)); do
    if "$HERE/ssh.sh" "${user_args[@]}" x2golistsessions | cut -d'|' -f2 | grep -qxF "$session"; then
        printf '%s\n' "$session"
        exit 0
    fi
    sleep 0.25
done
die "session $session not listed by x2golistsessions"
