#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Start a real X2Go desktop (type D) session running xterm on the lab server,
# with server commands only (x2gostartagent ... D xterm + x2goruncommand ... D),
# exactly as python-x2go 0.6.1.3 sends them. No desktop environment is
# installed: x2goruncommand runs xterm through /etc/x2go/Xsession.
#
#   tests/lab/start-desktop.sh [-u USER] [--prime]
#
# Prints "SESSION_NAME DISPLAY" (e.g. "x2gotest-50-1795640037_stDxterm_dp24 50")
# on one line on stdout; diagnostics go to stderr. Clean up with
# `tests/lab/ssh.sh -u USER x2goterminate-session SESSION_NAME` (this also stops
# an x2godesktopsharing started for that display by desktop-sharing.sh).
#
# Without --prime the agent state is STARTING (no client has ever connected),
# and then nxagent does NOT serve X clients yet: `xwininfo -root -display :N`
# hangs, x2golistdesktops does not list USER@:N and a shadow agent for :N
# aborts ("Failed to connect to display"). --prime (root only: it needs the
# Xvfb cookie) attaches nxproxy once through an ssh -L forward (lab-recipe.md
# §8), waits for RUNNING, suspends the session again and stops the forward.
# A SUSPENDED agent keeps serving X clients, so the desktop is then listed by
# x2golistdesktops and can be shadowed, with no client process left behind.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

usage() { die "usage: $0 [-u USER] [--prime]"; }
user_args=()
prime=0
while (($#)); do
    case "$1" in
        -u) [[ $# -ge 2 ]] || usage; user_args=(-u "$2"); shift 2 ;;
        --prime) prime=1; shift ;;
        *) usage ;;
    esac
done

LAB="$(lab_resolve_dir "")"
[[ -r "$LAB/lab.env" ]] || die "no lab at $LAB (run tests/lab/setup.sh first)"
# shellcheck source=/dev/null
. "$LAB/lab.env"

out="$("$HERE/ssh.sh" "${user_args[@]}" \
    'X2GO_XINERAMA=false x2gostartagent 800x600 lan 16m-jpeg-9 unix-kde-depth_24 null auto 1 D xterm both')" ||
    die "x2gostartagent failed: $out"
mapfile -t lines <<<"$out"
if ((${#lines[@]} < 7)) || ! [[ "${lines[0]}" =~ ^[0-9]+$ && "${lines[2]}" =~ ^[0-9]+$ && "${lines[4]}" =~ ^[0-9]+$ && "${lines[5]}" =~ ^[0-9]+$ ]]; then
    die "unexpected x2gostartagent output: $out"
fi
display="${lines[0]}" cookie="${lines[1]}" agent_pid="${lines[2]}" session="${lines[3]}"
gr_port="${lines[4]}" snd_port="${lines[5]}"
[[ "$session" =~ ^[A-Za-z0-9_.-]+$ ]] || die "unexpected session name '$session'"
log "desktop agent started: session=$session display=$display agent_pid=$agent_pid gr_port=$gr_port"

# setsid + redirects + '& exit': the command must not keep the SSH channel open.
"$HERE/ssh.sh" "${user_args[@]}" \
    "setsid x2goruncommand $display $agent_pid $session $snd_port xterm none D 1>/dev/null 2>/dev/null & exit" ||
    die "x2goruncommand failed for $session"

agent_state() { "$HERE/ssh.sh" "${user_args[@]}" "/usr/lib/x2go/x2gogetagentstate $session" 2>/dev/null || true; }

if ((prime)); then
    [[ "$(id -u)" -eq 0 ]] || die "--prime needs root (reads the Xvfb cookie $XAUTHORITY)"
    lport=""
    for p in $(seq 42000 42999); do port_listening "$p" || { lport="$p"; break; }; done
    [[ -n "$lport" ]] || die "no free local port for the forward"
    croot="$(mktemp -d "$LAB/run/prime.XXXXXX")"
    # Own session (setsid): a CI job killing our process group leaves them alone;
    # both are stopped by pid below.
    setsid "$HERE/ssh.sh" "${user_args[@]}" -N -o ExitOnForwardFailure=yes \
        -L "127.0.0.1:$lport:127.0.0.1:$gr_port" </dev/null >"$croot/forward.log" 2>&1 &
    fwd_pid=$!
    nx_pid=""
    # shellcheck disable=SC2317  # invoked by the EXIT trap
    cleanup_prime() {
        [[ -n "$nx_pid" ]] && pid_matches "$nx_pid" nxproxy && kill -TERM "$nx_pid" 2>/dev/null
        pid_matches "$fwd_pid" "$lport:127.0.0.1:$gr_port" && kill -TERM "$fwd_pid" 2>/dev/null
        rm -rf "$croot"
    }
    trap cleanup_prime EXIT
    for ((i = 0; i < 100; i++)); do port_listening "$lport" && break; sleep 0.05; done
    port_listening "$lport" || die "ssh -L forward to $gr_port did not come up: $(cat "$croot/forward.log")"
    install -d "$croot/S-$session"
    DISPLAY="$X_DISPLAY" XAUTHORITY="$XAUTHORITY" NX_CLIENT=/bin/true NX_ROOT="$croot" setsid /usr/bin/nxproxy -S \
        "nx/nx,retry=5,composite=1,connect=127.0.0.1,clipboard=1,cookie=$cookie,port=$lport,errors=$croot/S-$session/session.err:$display" \
        </dev/null >"$croot/S-$session/session.log" 2>&1 &
    nx_pid=$!
    for ((i = 0; i < 100; i++)); do [[ "$(agent_state)" == RUNNING ]] && break; sleep 0.1; done
    [[ "$(agent_state)" == RUNNING ]] || die "agent of $session did not reach RUNNING (state $(agent_state))"
    "$HERE/ssh.sh" "${user_args[@]}" "x2gosuspend-session $session" >/dev/null ||
        die "x2gosuspend-session $session failed"
    for ((i = 0; i < 100; i++)); do [[ "$(agent_state)" == SUSPENDED ]] && break; sleep 0.1; done
    [[ "$(agent_state)" == SUSPENDED ]] || die "agent of $session did not reach SUSPENDED (state $(agent_state))"
    log "primed $session: attached once, now SUSPENDED (serves X clients on :$display)"
fi

# The row is inserted by x2gostartagent, so it should be listed at once; allow
# a short grace period anyway.
for ((i = 0; i < 20; i++)); do
    if "$HERE/ssh.sh" "${user_args[@]}" x2golistsessions | cut -d'|' -f2 | grep -qxF "$session"; then
        printf '%s %s\n' "$session" "$display"
        exit 0
    fi
    sleep 0.25
done
die "session $session not listed by x2golistsessions"
