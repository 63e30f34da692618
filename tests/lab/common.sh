# shellcheck shell=bash
# Shared helpers for the x2god loopback X2Go lab scripts (setup.sh, teardown.sh,
# ssh.sh, start-session.sh). Sourced, never executed: it only defines variables
# and functions, so sourcing it has no side effects.

# Users the lab owns. They exist only for the lab, so teardown may end their sessions.
# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_USERS=(x2gotest x2gotest2)

# The lab lives in one folder; scripts take it as first argument or from the env.
lab_resolve_dir() {
    local dir="${1:-${X2GOD_LAB_DIR:-/tmp/x2god-lab}}"
    # Absolute and canonical, because the path ends up in sshd_config, pid-file
    # checks (/proc/<pid>/cmdline) and lab.env consumers running in other cwds.
    realpath -m -- "$dir"
}

log() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# pid_matches PID NEEDLE: true if PID is alive and its cmdline contains NEEDLE.
# Used before every kill, so a recycled pid never hits an unrelated process.
pid_matches() {
    local pid="$1" needle="$2" cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$needle"* ]]
}

# read_pid FILE: print the first line of FILE if it is a number.
read_pid() {
    local f="$1" pid=""
    [[ -r "$f" ]] || return 1
    read -r pid <"$f" || true
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$pid"
}

# Lab pid records: $LAB/run/pids/<name> holds "PID" on line 1 and the cmdline
# needle that identifies the process on line 2.
record_pid() {
    local lab="$1" name="$2" pid="$3" needle="$4"
    install -d -m 700 "$lab/run/pids"
    printf '%s\n%s\n' "$pid" "$needle" >"$lab/run/pids/$name"
}

# recorded_alive LAB NAME: print the pid if the recorded process still runs.
recorded_alive() {
    local f="$1/run/pids/$2" pid needle
    [[ -r "$f" ]] || return 1
    { read -r pid; read -r needle; } <"$f" || true
    pid_matches "$pid" "${needle:-}" || return 1
    printf '%s\n' "$pid"
}

# port_listening PORT: something LISTENs on TCP PORT (any address).
port_listening() {
    [[ -n "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]]
}
