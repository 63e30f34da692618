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

# ---------------------------------------------------------------------------
# Desktop sharing and FUSE (setup.sh section "13a", teardown.sh section
# "0"/"7", desktop-sharing.sh). Kept together so apply and restore stay in sync.

# x2godesktopsharing's hard-coded default group (x2goserver-desktopsharing's
# postinst creates it). Members may connect to other users' sharing sockets
# /tmp/x2godesktopsharing_@<user>@:<display> (srw-rw---- <user>:<group>), which
# is also what makes x2golistdesktops list <user>@:<display> to them.
# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_SHARING_GROUP=x2godesktopsharing
# sshfs is usable by the first user and denied to the second (ACL u:USER:--- on
# /dev/fuse and on fusermount3, so `which fusermount`, python-x2go's
# is_sshfs_available(), fails for that user as well).
# shellcheck disable=SC2034
LAB_SSHFS_ALLOWED_USER=x2gotest
LAB_SSHFS_DENIED_USER=x2gotest2

# lab_fuse_files: the files whose mode/ACL the lab changes (existing ones only).
lab_fuse_files() {
    local fm
    [[ -c /dev/fuse ]] && printf '%s\n' /dev/fuse
    if fm="$(command -v fusermount3 2>/dev/null)" && fm="$(readlink -f -- "$fm")" && [[ -f "$fm" ]]; then
        printf '%s\n' "$fm"
    fi
    return 0
}

# lab_fuse_restore LAB: put back the mode/owner/ACL saved by lab_fuse_apply
# (getfacl/setfacl --restore also restore the setuid flag) and forget the save.
lab_fuse_restore() {
    local save="$1/run/fuse-acl.orig"
    [[ -s "$save" ]] || { rm -f "$save"; return 0; }
    if setfacl --restore="$save" 2>/dev/null; then
        log "restored mode/ACL of /dev/fuse and fusermount3"
        rm -f "$save"
    else
        log "WARNING: could not restore /dev/fuse/fusermount3 from $save (kept for a retry)"
    fi
}

# lab_fuse_apply LAB: /dev/fuse 0666 (what udev does on a normal Debian) and
# ACL u:<denied>:--- on /dev/fuse and fusermount3. The original state is saved
# once; a save left by an earlier run is the true original and is kept.
lab_fuse_apply() {
    local lab="$1" save="$1/run/fuse-acl.orig" files
    mapfile -t files < <(lab_fuse_files)
    ((${#files[@]} == 2)) || { log "no /dev/fuse or no fusermount3: sshfs unavailable to all users"; return 1; }
    if [[ ! -s "$save" ]]; then
        getfacl -p --absolute-names -- "${files[@]}" >"$save.tmp" 2>/dev/null && mv -f "$save.tmp" "$save"
    fi
    chmod 0666 /dev/fuse
    setfacl -m "u:$LAB_SSHFS_DENIED_USER:---" -- "${files[@]}"
}
