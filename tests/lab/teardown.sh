#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stop the x2god loopback X2Go lab.
#
#   tests/lab/teardown.sh [LAB_DIR]     (default: ${X2GOD_LAB_DIR:-/tmp/x2god-lab})
#
# 1. terminates every X2Go session of the lab users (x2goterminate-session as
#    that user), so no agent/xterm outlives the lab;
# 2. stops exactly the processes setup.sh recorded in $LAB/run/pids, each
#    checked against /proc/<pid>/cmdline first (never kills by name: the machine
#    may run other sshd/Xvfb instances);
# 3. removes stale X locks of the lab's own display and the lab's /dev/log socket;
# 4. removes the published-application .desktop files and icons setup installed.
# 5. stops x2godesktopsharing applets started by desktop-sharing.sh and restores
#    /dev/fuse and fusermount3 to their saved mode/ACL (setup.sh section 13a).
# 6. removes the lab's CUPS queue X2GO (with its jobs), stops the cupsd the lab
#    started (never one that ran before) and restores cups-x2go.conf (setup.sh
#    section 13b, cups.sh).
# 7. stops the jump, target and keyboard-interactive sshds (setup.sh 7b/7c),
#    deletes the lab network namespaces and veths, the guard route and the
#    kbd PAM service file, and fails if any of that is still there.
# Keeps keys, host keys, logs and lab.env in LAB_DIR (logs help post-mortems).
# Safe to run any number of times, also when everything is already gone.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"
# shellcheck source=net.sh
. "$HERE/net.sh"
# shellcheck source=cups.sh
. "$HERE/cups.sh"
# shellcheck source=pulse.sh
. "$HERE/pulse.sh"

LAB="$(lab_resolve_dir "${1:-}")"
[[ "$(id -u)" -eq 0 ]] || die "must run as root"

# as_user USER CMD...: run an X2Go server command as USER with the environment an
# SSH login would give (HOME matters: session state lives in ~/.x2go). Works
# without the lab sshd, so teardown also cleans up after a crashed sshd.
as_user() {
    local u="$1" home
    shift
    home="$(getent passwd "$u" | cut -d: -f6)"
    (cd / && runuser -u "$u" -- env -i HOME="$home" USER="$u" LOGNAME="$u" SHELL=/bin/bash \
        PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 SSH_CLIENT="127.0.0.1 0 0" "$@")
}

# stop_pid PID NEEDLE NAME: SIGTERM, wait up to 5 s, then SIGKILL. Re-checks the
# cmdline before each signal so a recycled pid is never touched.
stop_pid() {
    local pid="$1" needle="$2" name="$3" i
    pid_matches "$pid" "$needle" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        pid_matches "$pid" "$needle" || { log "stopped $name (pid $pid)"; return 0; }
        sleep 0.05
    done
    if pid_matches "$pid" "$needle"; then
        kill -KILL "$pid" 2>/dev/null || true
        log "killed $name (pid $pid) after SIGTERM timeout"
    fi
}

stop_recorded() { # stop_recorded NAME
    local f="$LAB/run/pids/$1" pid needle
    [[ -r "$f" ]] || return 0
    { read -r pid; read -r needle; } <"$f" || true
    [[ -n "${pid:-}" && -n "${needle:-}" ]] && stop_pid "$pid" "$needle" "$1"
    rm -f "$f"
}

# ---------------------------------------------------------------------------
# 1. X2Go sessions of the lab users. x2golistsessions omits F rows; R and S
# sessions are terminated (x2goterminate-session kills the agent and the
# x2goruncommand process group and marks the row F).
for u in "${LAB_USERS[@]}"; do
    getent passwd "$u" >/dev/null || continue
    sessions="$(as_user "$u" x2golistsessions 2>/dev/null | cut -d'|' -f2 || true)"
    for s in $sessions; do
        [[ "$s" == "$u"-* ]] || continue
        log "terminating X2Go session $s of $u"
        as_user "$u" x2goterminate-session "$s" >/dev/null 2>&1 || log "x2goterminate-session $s failed (ignored)"
    done
done

bash "$HERE/soak.sh" --down "$LAB" || log "ending the soak user's sessions failed (ignored)"

# Wait (bounded) until the agents of the lab users are gone, while
# x2gocleansessions is still up to purge their DB rows.
users_csv="$(IFS=,; echo "${LAB_USERS[*]}")"
for ((i = 0; i < 100; i++)); do
    pgrep -u "$users_csv" -f x2goagent >/dev/null 2>&1 || break
    sleep 0.05
done

# ---------------------------------------------------------------------------
# 2. The lab sshd: first the per-connection children of the listener (open test
# connections would otherwise keep running after the listener is gone), then
# the listener itself. The pid file can vanish briefly on SIGHUP, hence the
# recorded copy in run/pids/sshd.
# descendants PID: every process below PID (one ps snapshot).
descendants() {
    ps -eo pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { for (p in parent) { q = p
                  while ((q in parent) && q != root && q > 1) q = parent[q]
                  if (q == root && p != root) print p } }'
}
# stop_sshd RECORD PIDFILE CONFIG; remembers what it stopped in STOPPED_SSHDS
# ("PID CONFIG") for the final check in section 8. Besides the per-connection
# sshd children, the commands run over open connections (e.g. `sleep 600` of a
# test) get SIGTERM too: without a tty they would outlive their connection.
STOPPED_SSHDS=()
stop_sshd() {
    local rec="$1" pidfile="$2" cfg="$3" sshd_pid="" f p child kids
    if f="$(recorded_alive "$LAB" "$rec")"; then
        sshd_pid="$f"
    elif p="$(read_pid "$pidfile" 2>/dev/null)" && pid_matches "$p" "$cfg"; then
        sshd_pid="$p"
    fi
    if [[ -n "$sshd_pid" ]]; then
        kids="$(descendants "$sshd_pid")"
        kill -TERM "$sshd_pid" 2>/dev/null || true   # listener first: no new connections
        for child in $kids; do kill -TERM "$child" 2>/dev/null || true; done
        stop_pid "$sshd_pid" "$cfg" "$rec"
        STOPPED_SSHDS+=("$sshd_pid $cfg")
        log "stopped $rec (pid $sshd_pid) and its connections"
    fi
    rm -f "$LAB/run/pids/$rec" "$pidfile"
}
stop_sshd sshd "$LAB/run/sshd.pid" "$LAB/sshd_config"
# Setup sections 7b/7c: the jump and target sshds (in their namespaces; pids
# are global, so the same way works) and the keyboard-interactive one.
for name in jump target kbd; do
    stop_sshd "$name-sshd" "$LAB/run/$name-sshd.pid" "$LAB/$name/sshd_config"
done
# The host key tests' sshds (setup.sh 13d).
"$HERE/hostkeys.sh" down "$LAB"
bash "$HERE/hostile.sh" "$LAB" stop
bash "$HERE/tinyproxy.sh" "$LAB" stop

# ---------------------------------------------------------------------------
# 3. x2gocleansessions, only when this lab started it (record exists). It
# removes /run/x2goserver.pid itself on SIGTERM.
stop_recorded x2gocleansessions

# ---------------------------------------------------------------------------
# 4. Xvfb and the stale locks of its own display (only when no live process
# owns them; never the lock of a running server).
dnum="$(read_pid "$LAB/run/display" 2>/dev/null || true)"
stop_recorded xvfb
if [[ -n "$dnum" ]]; then
    lock="/tmp/.X$dnum-lock"
    if [[ -e "$lock" ]]; then
        owner="$(tr -dc '0-9' <"$lock" 2>/dev/null || true)"
        if [[ -z "$owner" || ! -d "/proc/$owner" ]]; then
            rm -f "$lock" "/tmp/.X11-unix/X$dnum"
            log "removed stale X lock of :$dnum"
        fi
    elif [[ -S "/tmp/.X11-unix/X$dnum" ]] && ! ss -xlH 2>/dev/null | grep -q "/tmp/.X11-unix/X$dnum "; then
        rm -f "/tmp/.X11-unix/X$dnum"
    fi
fi
rm -f "$LAB/run/xvfb.pid"

# ---------------------------------------------------------------------------
# 5. /dev/log sink (it unlinks its own socket on SIGTERM). If it died hard, a
# dead socket would stay at /dev/log and swallow syslog output: remove it, but
# only when this lab created the sink and nobody listens on it anymore.
had_sink=0
[[ -e "$LAB/run/pids/devlog-sink" ]] && had_sink=1
stop_recorded devlog-sink
if ((had_sink)) && [[ -S /dev/log ]] && ! ss -xlH 2>/dev/null | grep -q ' /dev/log '; then
    rm -f /dev/log
    log "removed dead /dev/log socket left by the lab sink"
fi

# ---------------------------------------------------------------------------
# 6. Published applications installed by setup.sh (its step 10b): the lab's own
# subdirectory of /etc/x2go/applications and the generated x2god-lab-* icons.
rm -rf /etc/x2go/applications/x2god-lab
rm -f /usr/share/pixmaps/x2god-lab-*.png

# ---------------------------------------------------------------------------
# 7. Desktop sharing and FUSE (setup.sh section 13a, desktop-sharing.sh).
# Applets are found by the pid files desktop-sharing.sh writes in each lab
# user's ~/.x2godesktopsharing (cmdline-checked); SIGTERM makes them remove
# their socket and lock file. Sockets of lab users left by a hard kill (no
# listener) would still be listed by x2golistdesktops: remove them.
for u in "${LAB_USERS[@]}"; do
    home="$(getent passwd "$u" | cut -d: -f6)" || continue
    for f in "$home"/.x2godesktopsharing/lab-applet-*.pid; do
        [[ -e "$f" ]] || continue
        if pid="$(read_pid "$f")"; then
            stop_pid "$pid" "x2godesktopsharing --activate-desktop-sharing" "x2godesktopsharing of $u"
        fi
        rm -f "$f"
    done
    for sock in /tmp/x2godesktopsharing_@"$u"@:*; do
        [[ -S "$sock" ]] || continue
        ss -xlH 2>/dev/null | grep -qF " $sock " && continue
        rm -f "$sock" "/tmp/x2godesktopsharing.lock_${sock#/tmp/x2godesktopsharing_@}"
        log "removed stale desktop sharing socket $sock"
    done
done
lab_fuse_restore "$LAB"

# ---------------------------------------------------------------------------
# 7b. Printing (setup.sh section 13b, cups.sh). What is left is reported by the
# final check below.
mapfile -t cups_leftovers < <(lab_cups_down "$LAB")

# 7c. Sound (setup.sh section 13c, pulse.sh).
mapfile -t pulse_leftovers < <(lab_pulse_down "$LAB")

# ---------------------------------------------------------------------------
# 8. Jump topology and kbd sshd (setup.sh 7b/7c, names in net.sh). Whatever is
# still inside a lab namespace (an sshd of a crashed run, a leftover agent) is
# stopped by pid; then veths and namespaces go, the guard route last (nothing
# in 10.231.0.0/16 exists anymore by then). Works without $LAB as well, so it
# also clears what a crashed run in another lab folder left behind.
lab_net_down || log "WARNING: veth $LAB_VETH_ROOT still present after deleting the lab namespaces"
lab_net_guard_del
rm -f "$LAB_KBD_PAM_FILE"
mapfile -t leftovers < <(lab_net_leftovers)
leftovers+=("${cups_leftovers[@]}" "${pulse_leftovers[@]}")
for entry in "${STOPPED_SSHDS[@]}"; do
    read -r pid cfg <<<"$entry"
    if pid_matches "$pid" "$cfg"; then leftovers+=("sshd pid $pid ($cfg)"); fi
done
if ((${#leftovers[@]})); then
    die "teardown incomplete, still present: $(IFS=,; echo "${leftovers[*]}")"
fi

rm -f "$LAB/run/sshd.pid"
rmdir "$LAB/run/pids" 2>/dev/null || true
log "lab in $LAB is down"
