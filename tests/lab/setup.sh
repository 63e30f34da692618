#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build (or rebuild) the x2god loopback X2Go server lab.
#
#   tests/lab/setup.sh [LAB_DIR]     (default: ${X2GOD_LAB_DIR:-/tmp/x2god-lab})
#
# Result: a private sshd on 127.0.0.1:<port> (never the system one) in front of
# the distribution's X2Go server scripts, two test users with known passwords
# and keys, x2gocleansessions, an Xvfb client display with a cookie, and
# $LAB/lab.env describing all of it. Follows /work/shared/lab-recipe.md.
# Also (sections 7b/7c, /work/shared/test-infra.md sections 3 and 4): a jump
# host and a target, each with its own sshd in a network namespace, the target
# reachable only through the jump; and a keyboard-interactive sshd on loopback
# asking for the password and then a TOTP verification code.
# Also (section 13b, cups.sh; /work/shared/recipes/session-features.md section
# 2): CUPS with the cups-x2go backend and the queue X2GO, checked with a job.
# Idempotent: a running lab in LAB_DIR is torn down (teardown.sh) and rebuilt;
# apt is skipped when every package is already installed.
#
# One lab per machine at a time: the test users, their authorized_keys, the
# X2Go session DB and x2gocleansessions are machine-wide, so a second LAB_DIR
# would revoke the first one's client keys and share its sessions.
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

START_NS="$(date +%s%N)"
LAB="$(lab_resolve_dir "${1:-}")"
[[ "$(id -u)" -eq 0 ]] || die "must run as root (creates users, binds /dev/log, starts sshd)"

# Debian's python3 is needed for python3-x2go; a pyenv/venv python on PATH does
# not see those modules, so always call /usr/bin/python3 explicitly.
PY=/usr/bin/python3
SSHD=/usr/sbin/sshd   # absolute: sshd refuses to re-exec when started via PATH
X2GO_DB=/var/lib/x2go/x2go_sessions

# ---------------------------------------------------------------------------
# 1. Packages. dpkg-query first, so a warm run never touches the network/apt.
PACKAGES=(openssh-server openssh-client x2goserver x2goserver-xsession
    x2goserver-x2goagent nxproxy xvfb xauth x11-utils xterm sqlite3 iproute2
    x11-xkb-utils x11-xserver-utils    # setxkbmap, xrandr in sessions (tests/options.rs)
    util-linux procps dbus dbus-bin python3 pyhoca-cli python3-x2go
    x2godesktopsharing x2goserver-desktopsharing sshfs fuse3 acl    # this line: section 13a
    gnome-keyring libsecret-tools oathtool libpam-google-authenticator sshpass expect   # keyring/TOTP tests, 7c
    systemd man-db    # systemd-analyze verify and its man: lookups (tests/install.rs)
    dbus-user-session   # the user manager's socket-activated session bus (tests/user_unit.rs)
    "${LAB_CUPS_PACKAGES[@]}"
    "${LAB_PULSE_PACKAGES[@]}")   # section 13b: printing (cups.sh; x2goserver-printing among them)
# One dpkg-query for all packages (one call per package cost ~0.2 s); it exits
# non-zero when some package is unknown, which just means "missing".
declare -A installed=()
while read -r name st; do
    if [[ "$st" == installed ]]; then installed["$name"]=1; fi
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for p in "${PACKAGES[@]}"; do
    [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing missing packages: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

# ---------------------------------------------------------------------------
# 2. A previous lab in the same folder is stopped first, so ports, displays and
# pids are all fresh and recorded by this run.
torn_down=0
if [[ -d "$LAB/run/pids" ]]; then
    for f in "$LAB"/run/pids/*; do
        [[ -e "$f" ]] || continue
        if recorded_alive "$LAB" "$(basename "$f")" >/dev/null; then
            log "previous lab in $LAB is running: tearing it down first"
            "$HERE/teardown.sh" "$LAB"
            torn_down=1
            break
        fi
    done
fi
# Leftovers of a crashed run (namespaces, veth, guard route, PAM file): machine-
# wide names, so they are cleaned up whatever lab folder created them.
if ((!torn_down)) && leftovers="$(lab_net_leftovers)" && [[ -n "$leftovers" ]]; then
    log "leftovers of an earlier lab found (${leftovers//$'\n'/, }): tearing down first"
    lab_net_guard_add   # lab addresses may still exist: keep them off the real network
    "$HERE/teardown.sh" "$LAB"
fi

# Remember the previous port/display so lab.env stays stable across runs when
# they are still free (consumers that cached them keep working).
PREV_PORT="$(read_pid "$LAB/run/port" 2>/dev/null || true)"
PREV_DISPLAY="$(read_pid "$LAB/run/display" 2>/dev/null || true)"
PREV_KBD_PORT="$(read_pid "$LAB/run/kbd-port" 2>/dev/null || true)"

install -d -m 755 "$LAB"
install -d -m 700 "$LAB/run" "$LAB/keys" "$LAB/hostkeys" "$LAB/hostkeys/jump" \
    "$LAB/hostkeys/target" "$LAB/hostkeys/kbd" "$LAB/jump" "$LAB/target" "$LAB/kbd"
install -d -m 755 "$LAB/logs"
rm -rf "$LAB/run/pids"

# ---------------------------------------------------------------------------
# 3. Hostname. x2golistsessions dies ("Hostname of X2Go Server is not set-up
# correctly") and x2gogetfreeport refuses on localhost/(none)/empty.
HN="$(hostname 2>/dev/null || true)"
case "$HN" in
    "" | localhost | "(none)")
        hostname x2golab
        log "hostname was '${HN}', which X2Go rejects: set it to 'x2golab' (runtime only)"
        HN="$(hostname)"
        ;;
esac

# ---------------------------------------------------------------------------
# 4. Test users. chpasswd every run so the passwords are always the documented ones.
declare -A PASSWORDS=([x2gotest]=x2gotest-pw [x2gotest2]=x2gotest2-pw)
for u in "${LAB_USERS[@]}"; do
    if ! getent passwd "$u" >/dev/null; then
        useradd --create-home --shell /bin/bash "$u"
        log "created user $u"
    fi
    [[ "$(getent passwd "$u" | cut -d: -f7)" == /bin/bash ]] || usermod -s /bin/bash "$u"
    home="$(getent passwd "$u" | cut -d: -f6)"
    [[ -d "$home" ]] || install -d -m 755 -o "$u" -g "$u" "$home"
    printf '%s:%s\n' "$u" "${PASSWORDS[$u]}" | chpasswd
done

# ---------------------------------------------------------------------------
# 5. Client keys: fresh every run, so no test can depend on a stale key.
rm -f "$LAB"/keys/id_*
ssh-keygen -q -t ed25519 -N '' -C x2god-lab-ed25519 -f "$LAB/keys/id_ed25519"
ssh-keygen -q -t ed25519 -N 'lab-passphrase' -C x2god-lab-ed25519-enc -f "$LAB/keys/id_ed25519_enc"
ssh-keygen -q -t rsa -b 3072 -N '' -C x2god-lab-rsa -f "$LAB/keys/id_rsa"
ssh-keygen -q -t ecdsa -b 256 -N '' -C x2god-lab-ecdsa -f "$LAB/keys/id_ecdsa"
chown root:root "$LAB"/keys/id_*
chmod 600 "$LAB"/keys/id_*
chmod 644 "$LAB"/keys/id_*.pub

# authorized_keys rewritten every run (old lab keys must stop working).
write_authorized_keys() {
    local u="$1" home
    shift
    home="$(getent passwd "$u" | cut -d: -f6)"
    install -d -m 700 -o "$u" -g "$u" "$home/.ssh"
    cat "$@" >"$home/.ssh/authorized_keys"
    chown "$u:$u" "$home/.ssh/authorized_keys"
    chmod 600 "$home/.ssh/authorized_keys"
}
write_authorized_keys x2gotest "$LAB"/keys/id_ed25519.pub "$LAB"/keys/id_ed25519_enc.pub \
    "$LAB"/keys/id_rsa.pub "$LAB"/keys/id_ecdsa.pub
write_authorized_keys x2gotest2 "$LAB"/keys/id_ed25519.pub

# ---------------------------------------------------------------------------
# 6. Host keys: kept across runs so known_hosts copies held by tests stay valid.
for t in ed25519 rsa; do
    k="$LAB/hostkeys/ssh_host_${t}_key"
    if [[ ! -s "$k" || ! -s "$k.pub" ]]; then
        rm -f "$k" "$k.pub"
        if [[ "$t" == rsa ]]; then
            ssh-keygen -q -t rsa -b 3072 -N '' -C x2god-lab-host -f "$k"
        else
            ssh-keygen -q -t "$t" -N '' -C x2god-lab-host -f "$k"
        fi
    fi
    chmod 600 "$k"
done
# The jump, target and kbd sshds each have their own ed25519 host key (distinct
# from the main one and from each other), also kept across runs.
for h in jump target kbd; do
    k="$LAB/hostkeys/$h/ssh_host_ed25519_key"
    if [[ ! -s "$k" || ! -s "$k.pub" ]]; then
        rm -f "$k" "$k.pub"
        ssh-keygen -q -t ed25519 -N '' -C "x2god-lab-$h-host" -f "$k"
    fi
    chmod 600 "$k"
done

# ---------------------------------------------------------------------------
# 7. Private sshd on a free loopback port.
pick_port() { # pick_port [PREVIOUS_PORT]
    local p
    # Prefer the previous port; the sandbox may already have unrelated sshds
    # (e.g. on 2222), so scan a high range and check LISTEN on any address.
    for p in ${1:+"$1"} $(seq 22220 22999); do
        port_listening "$p" || { printf '%s\n' "$p"; return 0; }
    done
    die "no free TCP port in 22220-22999"
}
PORT="$(pick_port "$PREV_PORT")"
printf '%s\n' "$PORT" >"$LAB/run/port"

# Comments are on their own lines: sshd -t accepts trailing ones, but this is
# friendlier to readers and other parsers.
cat >"$LAB/sshd_config" <<EOF
# x2god test lab sshd (generated by tests/lab/setup.sh; do not edit)
ListenAddress 127.0.0.1
Port $PORT
AddressFamily inet
HostKey $LAB/hostkeys/ssh_host_ed25519_key
HostKey $LAB/hostkeys/ssh_host_rsa_key
# teardown.sh stops exactly this pid
PidFile $LAB/run/sshd.pid
AllowUsers x2gotest x2gotest2
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
# stock /etc/pam.d/sshd works for key and password logins
UsePAM yes
# the X2Go graphics port is reached through an SSH -L forward
AllowTcpForwarding yes
X11Forwarding no
UseDNS no
# every connection, auth, exec and sftp channel ends up in the -E log
LogLevel VERBOSE
# pyhoca-cli/python-x2go open an SFTP channel; session start fails without it
Subsystem sftp /usr/lib/openssh/sftp-server
# MaxSessions is deliberately NOT set: tests rely on OpenSSH's default of 10.
EOF
chmod 644 "$LAB/sshd_config"

install -d -m 755 /run/sshd   # privilege separation dir; normally made by systemd
"$SSHD" -t -f "$LAB/sshd_config"
rm -f "$LAB/run/sshd.pid"
: >"$LAB/logs/sshd.log"
"$SSHD" -f "$LAB/sshd_config" -E "$LAB/logs/sshd.log"   # daemonises (own session)

wait_for() { # wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.05 s
    local deadline=$((SECONDS + $1)) what="$2"
    shift 2
    until "$@" >/dev/null; do
        ((SECONDS < deadline)) || die "timed out waiting for $what"
        sleep 0.05
    done
}
sshd_ready() {
    local pid
    pid="$(read_pid "$LAB/run/sshd.pid")" || return 1
    [[ -n "$(ss -ltnH "src 127.0.0.1 and sport = :$PORT" 2>/dev/null)" ]] || return 1
    [[ -d "/proc/$pid" ]]
}
wait_for 10 "sshd pid file and LISTEN on 127.0.0.1:$PORT" sshd_ready
SSHD_PID="$(read_pid "$LAB/run/sshd.pid")"
record_pid "$LAB" sshd "$SSHD_PID" "$LAB/sshd_config"

# ---------------------------------------------------------------------------
# 7a. Helpers for the extra sshds of sections 7b and 7c. Each one has its own
# folder $LAB/<name> (sshd_config), host key $LAB/hostkeys/<name>/, PidFile
# $LAB/run/<name>-sshd.pid, log $LAB/logs/<name>-sshd.log and pid record
# <name>-sshd. Otherwise they are configured like the main sshd above.
[[ "$LAB" != *[[:space:]]* ]] || die "LAB_DIR must not contain whitespace (sshd_config, PAM arguments): $LAB"
# write_extra_sshd_config NAME ADDRESS PORT USERS AUTH_LINES...
write_extra_sshd_config() {
    local name="$1" addr="$2" port="$3" users="$4"
    shift 4
    {
        cat <<EOF
# x2god test lab $name sshd (generated by tests/lab/setup.sh; do not edit)
ListenAddress $addr
Port $port
AddressFamily inet
HostKey $LAB/hostkeys/$name/ssh_host_ed25519_key
# teardown.sh stops exactly this pid
PidFile $LAB/run/$name-sshd.pid
AllowUsers $users
PermitRootLogin no
UsePAM yes
AllowTcpForwarding yes
AllowAgentForwarding yes
X11Forwarding no
UseDNS no
LogLevel VERBOSE
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
        printf '%s\n' "$@"
    } >"$LAB/$name/sshd_config"
    chmod 644 "$LAB/$name/sshd_config"
}
# start_extra_sshd NAME NETNS|"" BINARY: check the config, then start it
# (inside NETNS when given). sshd daemonises; it stays in that namespace.
start_extra_sshd() {
    local name="$1" ns="$2" bin="$3" cfg="$LAB/$1/sshd_config"
    local -a nsexec=()
    [[ -z "$ns" ]] || nsexec=(ip netns exec "$ns")
    "$bin" -t -f "$cfg"
    rm -f "$LAB/run/$name-sshd.pid"
    : >"$LAB/logs/$name-sshd.log"
    "${nsexec[@]}" "$bin" -f "$cfg" -E "$LAB/logs/$name-sshd.log"
}
# extra_sshd_ready NAME NETNS|"" ADDRESS PORT: pid file, live pid, LISTEN.
extra_sshd_ready() {
    local name="$1" ns="$2" addr="$3" port="$4" pid
    local -a ssns=()
    [[ -z "$ns" ]] || ssns=(-N "$ns")
    pid="$(read_pid "$LAB/run/$name-sshd.pid")" || return 1
    [[ -n "$(ss "${ssns[@]}" -ltnH "src $addr and sport = :$port" 2>/dev/null)" ]] || return 1
    [[ -d "/proc/$pid" ]]
}
# finish_extra_sshd NAME NETNS|"" ADDRESS PORT: wait until ready, record the pid.
finish_extra_sshd() {
    local name="$1" pid
    wait_for 10 "$name sshd pid file and LISTEN on $3:$4" extra_sshd_ready "$@"
    pid="$(read_pid "$LAB/run/$name-sshd.pid")"
    record_pid "$LAB" "$name-sshd" "$pid" "$LAB/$name/sshd_config"
    printf '%s\n' "$pid"
}
NET_AUTH_LINES=("PubkeyAuthentication yes" "PasswordAuthentication yes" "KbdInteractiveAuthentication no")

# ---------------------------------------------------------------------------
# 7b. Jump topology (net.sh): x2god-jump (sshd on 10.231.2.2:22, reachable from
# the root namespace) and x2god-target (sshd on 10.231.3.2:22, reachable only
# from the jump). The guard route comes first, before any lab address exists,
# so no packet for 10.231.0.0/16 can ever leave the machine. Both sshds serve
# the same users, keys and X2Go installation (same file system and session DB);
# an x2goagent started through the target listens inside x2god-target.
lab_net_guard_add
lab_net_up
write_extra_sshd_config jump "$LAB_JUMP_ADDR" 22 "x2gotest x2gotest2" "${NET_AUTH_LINES[@]}"
write_extra_sshd_config target "$LAB_TARGET_ADDR" 22 "x2gotest x2gotest2" "${NET_AUTH_LINES[@]}"
start_extra_sshd jump "$LAB_NS_JUMP" "$SSHD"
start_extra_sshd target "$LAB_NS_TARGET" "$SSHD"

# ---------------------------------------------------------------------------
# 7c. Keyboard-interactive sshd on 127.0.0.1:<free port> with two PAM prompts:
# "Password: " (pam_unix) then "Verification code: " (pam_google_authenticator,
# TOTP). Its own PAM service: OpenSSH takes the service name from argv[0], so it
# runs through the symlink $LAB/kbd/x2god-kbd (absolute path: sshd must re-exec
# itself) and /etc/pam.d/sshd stays untouched. account/session/password come
# from the stock sshd stack, so logins behave like on the main sshd.
KBD_PORT="$(pick_port "$PREV_KBD_PORT")"
printf '%s\n' "$KBD_PORT" >"$LAB/run/kbd-port"
KBD_SSHD="$LAB/kbd/$LAB_KBD_PAM_SERVICE"
ln -sfn "$SSHD" "$KBD_SSHD"
cat >"$LAB_KBD_PAM_FILE" <<EOF
# x2god test lab keyboard-interactive sshd (written by tests/lab/setup.sh,
# removed by tests/lab/teardown.sh). Password, then a TOTP code. nodelay: a
# wrong answer fails at once instead of after pam_unix's 2 s delay.
auth      requisite  pam_unix.so nodelay
auth      required   pam_google_authenticator.so secret=$LAB/kbd/ga-\${USER} user=root
account   include    sshd
session   include    sshd
password  include    sshd
EOF
chmod 644 "$LAB_KBD_PAM_FILE"
# Secret file read as root (user=root), so root-owned 0600. No DISALLOW_REUSE:
# tests may use the same code several times within its window.
printf '%s\n' "$LAB_KBD_TOTP_SECRET" '" TOTP_AUTH' '" WINDOW_SIZE 3' >"$LAB/kbd/ga-x2gotest.tmp"
chmod 600 "$LAB/kbd/ga-x2gotest.tmp"
mv -f "$LAB/kbd/ga-x2gotest.tmp" "$LAB/kbd/ga-x2gotest"
write_extra_sshd_config kbd 127.0.0.1 "$KBD_PORT" x2gotest \
    "KbdInteractiveAuthentication yes" "PasswordAuthentication no" "PubkeyAuthentication no" \
    "AuthenticationMethods keyboard-interactive"
start_extra_sshd kbd "" "$KBD_SSHD"

JUMP_SSHD_PID="$(finish_extra_sshd jump "$LAB_NS_JUMP" "$LAB_JUMP_ADDR" 22)"
TARGET_SSHD_PID="$(finish_extra_sshd target "$LAB_NS_TARGET" "$LAB_TARGET_ADDR" 22)"
KBD_SSHD_PID="$(finish_extra_sshd kbd "" 127.0.0.1 "$KBD_PORT")"

# ---------------------------------------------------------------------------
# 8. /dev/log sink. The X2Go scripts log via syslog; without /dev/log all of it
# (the main server-side diagnostic) is silently lost. Only if nobody provides it.
SYSLOG_LOG=""
if [[ ! -e /dev/log ]]; then
    cat >"$LAB/run/devlog-sink.py" <<'EOF'
# Minimal syslog sink for the x2god lab: appends every datagram sent to
# /dev/log to the file in argv[1]; removes its socket on SIGTERM/SIGINT.
import os, signal, socket, sys, time
PATH = "/dev/log"
out = open(sys.argv[1], "ab", buffering=0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(PATH)
os.chmod(PATH, 0o666)
ino = os.stat(PATH).st_ino
def stop(*_):
    try:
        if os.stat(PATH).st_ino == ino:   # only our own socket, never a successor's
            os.unlink(PATH)
    except OSError:
        pass
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
while True:
    data = s.recv(65536)
    out.write(time.strftime("%Y-%m-%dT%H:%M:%S ").encode() + data.rstrip(b"\0\n") + b"\n")
EOF
    SYSLOG_LOG="$LAB/logs/syslog.log"
    : >"$SYSLOG_LOG"   # fresh per lab run, like sshd.log, so tests can grep it
    # setsid: own session, so a CI job killing our process group leaves it alone.
    setsid "$PY" "$LAB/run/devlog-sink.py" "$SYSLOG_LOG" </dev/null >>"$LAB/logs/devlog-sink.err" 2>&1 &
    SINK_PID=$!
    wait_for 5 "/dev/log sink" test -S /dev/log
    record_pid "$LAB" devlog-sink "$SINK_PID" "$LAB/run/devlog-sink.py"
fi

# ---------------------------------------------------------------------------
# 9. Session DB. x2godbadmin --createdb unlinks and recreates the file (wipes all
# sessions), so only when the DB is missing or unreadable; else --updatedb.
grep -Eq '^[[:space:]]*backend[[:space:]]*=[[:space:]]*sqlite[[:space:]]*$' /etc/x2go/x2gosql/sql ||
    die "/etc/x2go/x2gosql/sql must say backend=sqlite"
if sqlite3 "$X2GO_DB" 'select count(*) from sessions' >/dev/null 2>&1; then
    x2godbadmin --updatedb >/dev/null
else
    log "session DB $X2GO_DB missing or unreadable: creating it"
    x2godbadmin --createdb
fi

# ---------------------------------------------------------------------------
# 10. x2gocleansessions (what x2goserver.service would run). It forks without
# setsid(), so run it under setsid -w or a job runner's group kill takes it down.
cleansessions_pid() {
    local pid
    pid="$(read_pid /run/x2goserver.pid 2>/dev/null)" || return 1
    pid_matches "$pid" x2gocleansessions || return 1
    printf '%s\n' "$pid"
}
if CS_PID="$(cleansessions_pid)"; then
    log "x2gocleansessions already running (pid $CS_PID, not started by the lab): leaving it alone"
else
    setsid -w /usr/sbin/x2gocleansessions </dev/null >/dev/null 2>&1
    wait_for 10 "x2gocleansessions pid file" cleansessions_pid
    CS_PID="$(cleansessions_pid)"
    record_pid "$LAB" x2gocleansessions "$CS_PID" x2gocleansessions
fi

# ---------------------------------------------------------------------------
# 10b. Published applications (x2gogetapps). The script lists the *.desktop
# files in every subdirectory (and ".") of /etc/x2go/applications, which Debian
# ships as a symlink to /usr/share/applications; the lab's entries live in their
# own subdirectory so teardown can remove exactly them. Icons are generated PNGs
# in /usr/share/pixmaps (one of x2gogetapps' icon dirs), all named x2god-lab-*,
# and referenced three ways (absolute path, bare name, name.png) to cover every
# lookup branch of the script. The NoDisplay entry must never be listed.
APPS_ROOT=/etc/x2go/applications
APPS_DIR="$APPS_ROOT/x2god-lab"
ICON_DIR=/usr/share/pixmaps
[[ -d "$APPS_ROOT" ]] || install -d -m 755 "$APPS_ROOT"
rm -rf "$APPS_DIR"
install -d -m 755 "$APPS_DIR" "$ICON_DIR"
"$PY" - "$ICON_DIR" calc:d03030 notes:30a030 browser:3030d0 term:808080 hidden:000000 <<'EOF'
# Writes a 16x16 solid-colour RGB PNG per NAME:RRGGBB argument to DIR/x2god-lab-NAME.png.
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
for arg in sys.argv[2:]:
    name, colour = arg.split(":")
    row = b"\0" + bytes.fromhex(colour) * 16
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(row * 16, 9)) + chunk(b"IEND", b""))
    with open(f"{sys.argv[1]}/x2god-lab-{name}.png", "wb") as f:
        f.write(png)
EOF
chmod 644 "$ICON_DIR"/x2god-lab-*.png
# write_app NAME LINES...: $APPS_DIR/NAME.desktop with a [Desktop Entry] group.
write_app() {
    local name="$1"
    shift
    printf '%s\n' '[Desktop Entry]' 'Type=Application' "$@" >"$APPS_DIR/$name.desktop"
    chmod 644 "$APPS_DIR/$name.desktop"
}
write_app x2god-lab-calc 'Name=x2god-lab-calc' 'Name[de]=x2god-lab-Rechner' \
    'Comment=x2god lab calculator' 'Comment[de]=Rechner für das x2god-Labor' \
    "Exec=xterm -T x2god-lab-calc -e sh -c 'echo calc; sleep 600'" \
    "Icon=$ICON_DIR/x2god-lab-calc.png" 'Terminal=false' 'Categories=Utility;Calculator;'
# Exec with '=' (python-x2go truncates it) and a field code to strip.
write_app x2god-lab-notes 'Name=x2god-lab-notes' 'Comment=x2god lab notes' \
    "Exec=env X2GOD_LAB_APP=notes xterm -T x2god-lab-notes -e sh -c 'echo notes; sleep 600' %F" \
    'Icon=x2god-lab-notes' 'Terminal=false' 'Categories=Utility;TextEditor;'
write_app x2god-lab-browser 'Name=x2god-lab-browser' 'Comment=x2god lab browser' \
    "Exec=xterm -T x2god-lab-browser -e sh -c 'echo browser; sleep 600' %U" \
    'Icon=x2god-lab-browser.png' 'Terminal=false' 'Categories=Network;WebBrowser;'
# Terminal=true: the client decides how to wrap it in a terminal emulator.
write_app x2god-lab-term 'Name=x2god-lab-term' 'Comment=x2god lab terminal app' \
    "Exec=sh -c 'echo term; sleep 600'" \
    'Icon=x2god-lab-term' 'Terminal=true' 'Categories=Utility;ConsoleOnly;'
# NoDisplay last: x2gogetapps must drop the lines it already collected.
write_app x2god-lab-hidden 'Name=x2god-lab-hidden' \
    "Exec=xterm -T x2god-lab-hidden -e sh -c 'echo hidden; sleep 600'" \
    'Icon=x2god-lab-hidden' 'Categories=Utility;' 'NoDisplay=true'

# ---------------------------------------------------------------------------
# 11. Client display: Xvfb with a cookie. Without -auth the server-side user
# could open it and x2golistdesktops would list it as shareable.
display_free() {
    local n="$1"
    [[ ! -e "/tmp/.X$n-lock" && ! -e "/tmp/.X11-unix/X$n" ]] || return 1
    # Xvfb also binds the abstract socket @/tmp/.X11-unix/X<n>.
    ! ss -xlH 2>/dev/null | grep -q "/tmp/.X11-unix/X$n "
}
DNUM=""
for n in ${PREV_DISPLAY:+"$PREV_DISPLAY"} $(seq 70 199); do
    ((n >= 70)) || continue
    if display_free "$n"; then DNUM="$n"; break; fi
done
[[ -n "$DNUM" ]] || die "no free X display number in 70-199"
printf '%s\n' "$DNUM" >"$LAB/run/display"
XAUTH_FILE="$LAB/run/xvfb.xauth"
rm -f "$XAUTH_FILE"
touch "$XAUTH_FILE"
chmod 600 "$XAUTH_FILE"
xauth -q -f "$XAUTH_FILE" add ":$DNUM" MIT-MAGIC-COOKIE-1 "$(mcookie)"
rm -f "$LAB/run/xvfb.pid"
# The bash -c wrapper writes its own pid and execs Xvfb, so the file holds Xvfb's pid.
# shellcheck disable=SC2016  # $$ and $@ are for the inner shell
setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$LAB/run/xvfb.pid" \
    Xvfb ":$DNUM" -screen 0 1280x1024x24 -nolisten tcp -noreset -auth "$XAUTH_FILE" \
    </dev/null >"$LAB/logs/xvfb.log" 2>&1 &
xvfb_ready() { DISPLAY=":$DNUM" XAUTHORITY="$XAUTH_FILE" xdpyinfo >/dev/null 2>&1; }
wait_for 15 "Xvfb :$DNUM" xvfb_ready
XVFB_PID="$(read_pid "$LAB/run/xvfb.pid")"
record_pid "$LAB" xvfb "$XVFB_PID" "Xvfb :$DNUM "

# ---------------------------------------------------------------------------
# 12. known_hosts as a client would have it (non-default port => [host]:port).
: >"$LAB/known_hosts"
for t in ed25519 rsa; do
    read -r ktype kb64 _ <"$LAB/hostkeys/ssh_host_${t}_key.pub"
    printf '[127.0.0.1]:%s %s %s\n' "$PORT" "$ktype" "$kb64" >>"$LAB/known_hosts"
done
chmod 644 "$LAB/known_hosts"

# 12b. The extra sshds are NOT in $LAB/known_hosts (tests expect it to name the
# main sshd only); tests build theirs from the *_HOSTKEY_PUB files in lab.env.
# Setup's own smoke test (section 14) uses this file and ssh config, which are
# also handy by hand: ssh -F $LAB/run/net_ssh_config lab-target x2golistsessions
: >"$LAB/run/net_known_hosts"
for h in "jump $LAB_JUMP_ADDR" "target $LAB_TARGET_ADDR" "kbd [127.0.0.1]:$KBD_PORT"; do
    read -r name hostpat <<<"$h"
    read -r ktype kb64 _ <"$LAB/hostkeys/$name/ssh_host_ed25519_key.pub"
    printf '%s %s %s\n' "$hostpat" "$ktype" "$kb64" >>"$LAB/run/net_known_hosts"
done
cat >"$LAB/run/net_ssh_config" <<EOF
# x2god lab: jump topology (generated by tests/lab/setup.sh)
Host lab-jump
  HostName $LAB_JUMP_ADDR
  Port 22
Host lab-target
  HostName $LAB_TARGET_ADDR
  Port 22
  ProxyJump lab-jump
Host *
  User x2gotest
  IdentityFile $LAB/keys/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $LAB/run/net_known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
EOF

# ---------------------------------------------------------------------------
# 13a. Desktop sharing and sshfs/FUSE (helpers in common.sh; tests/lab/
# start-desktop.sh and desktop-sharing.sh use this).
# * Both lab users join x2godesktopsharing's group (x2goserver-desktopsharing's
#   postinst creates it; the applet's hard-coded default), so each may connect
#   to the other's sharing socket and sees it in x2golistdesktops.
# * sshfs: /dev/fuse is crw------- root here and udev is absent; 0666 is what
#   udev gives it on a normal Debian. An ACL u:<denied>:--- on /dev/fuse and on
#   fusermount3 makes sshfs fail ("fuse: failed to open /dev/fuse: Permission
#   denied") and `which fusermount` (python-x2go's check) empty for the denied
#   user only. teardown.sh restores the saved original mode/ACL.
getent group "$LAB_SHARING_GROUP" >/dev/null || groupadd --system "$LAB_SHARING_GROUP"
for u in "${LAB_USERS[@]}"; do
    id -nG "$u" | tr ' ' '\n' | grep -qxF "$LAB_SHARING_GROUP" || usermod -aG "$LAB_SHARING_GROUP" "$u"
done
SSHFS_AVAILABLE_USER="" SSHFS_DENIED_USER=""
if lab_fuse_apply "$LAB"; then
    if runuser -u "$LAB_SSHFS_ALLOWED_USER" -- test -r /dev/fuse -a -w /dev/fuse -a -x "$(command -v fusermount)" &&
        ! runuser -u "$LAB_SSHFS_DENIED_USER" -- test -r /dev/fuse -a -w /dev/fuse; then
        SSHFS_AVAILABLE_USER="$LAB_SSHFS_ALLOWED_USER" SSHFS_DENIED_USER="$LAB_SSHFS_DENIED_USER"
    else
        log "WARNING: /dev/fuse permissions did not take effect as intended; sshfs split not available"
    fi
fi

# ---------------------------------------------------------------------------
# 13b. Printing (cups.sh): cupsd started by hand (no systemd; apt starts no
# daemons here) unless one runs already (then it is used and left alone), the
# Ghostscript 10 ps2pdf= line and loglevel=debug in cups-x2go.conf (original
# saved for teardown), the queue X2GO on cups-x2go:/ with the package's PPD,
# then lpstat checks and a job printed by root, which must complete (root has
# no X2Go session: the backend converts the job and has nobody to deliver to).
# The backend logs to syslog ($SYSLOG_LOG when the lab provides /dev/log).
lab_cups_up "$LAB"

# ---------------------------------------------------------------------------
# 13c. Sound (pulse.sh): the "local" pulseaudio with the null sink x2gonull,
# the native protocol on a unix socket and on 127.0.0.1:4713.
lab_pulse_up "$LAB"

# ---------------------------------------------------------------------------
# 13. lab.env: KEY=VALUE, sourceable by sh/bash and trivially parseable elsewhere.
# Values are bare when they only hold safe characters, else single-quoted.
env_line() {
    local k="$1" v="$2"
    if [[ "$v" =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
        printf '%s=%s\n' "$k" "$v"
    else
        printf "%s='%s'\n" "$k" "${v//\'/\'\\\'\'}"
    fi
}
{
    echo "# x2god lab description, generated by tests/lab/setup.sh at $(date -u +%FT%TZ)"
    env_line LAB_DIR "$LAB"
    env_line SSH_HOST 127.0.0.1
    env_line SSH_PORT "$PORT"
    env_line SSH_USER x2gotest
    env_line SSH_PASSWORD x2gotest-pw
    env_line SSH_USER2 x2gotest2
    env_line SSH_PASSWORD2 x2gotest2-pw
    env_line SSH_KEY "$LAB/keys/id_ed25519"
    env_line SSH_KEY_ENC "$LAB/keys/id_ed25519_enc"
    env_line SSH_KEY_PASSPHRASE lab-passphrase
    env_line SSH_KEY_RSA "$LAB/keys/id_rsa"
    env_line SSH_KEY_ECDSA "$LAB/keys/id_ecdsa"
    env_line HOSTKEY_ED25519_PUB "$LAB/hostkeys/ssh_host_ed25519_key.pub"
    env_line HOSTKEY_RSA_PUB "$LAB/hostkeys/ssh_host_rsa_key.pub"
    env_line KNOWN_HOSTS "$LAB/known_hosts"
    env_line SSHD_CONFIG "$LAB/sshd_config"
    env_line SSHD_LOG "$LAB/logs/sshd.log"
    env_line SSHD_PID_FILE "$LAB/run/sshd.pid"
    env_line X_DISPLAY ":$DNUM"
    env_line XAUTHORITY "$XAUTH_FILE"
    env_line XVFB_PID_FILE "$LAB/run/xvfb.pid"
    env_line SERVER_HOSTNAME "$HN"
    env_line X2GO_SESSION_DB "$X2GO_DB"
    # Section 13a: users for whom sshfs (FUSE) works / is denied; empty if unusable.
    env_line SSHFS_AVAILABLE_USER "$SSHFS_AVAILABLE_USER"
    env_line SSHFS_DENIED_USER "$SSHFS_DENIED_USER"
    env_line DESKTOP_SHARING_GROUP "$LAB_SHARING_GROUP"
    # Section 13b: `lp -d $CUPS_QUEUE file` as a session user prints into that
    # user's running sessions (client spool, sshfs); without one the job is dropped.
    env_line CUPS_QUEUE "$LAB_CUPS_QUEUE"
    env_line CUPS_ERROR_LOG "$LAB_CUPS_ERROR_LOG"
    env_line CUPS_X2GO_CONF "$LAB_CUPS_X2GO_CONF"
    # Section 13c: the local sound server (root's, private HOME under $LAB/pulse):
    # PULSE_SERVER/PULSE_COOKIE reach it; its null sink's monitor is recorded.
    env_line PULSE_HOME "$LAB/pulse"
    env_line PULSE_RUNTIME_DIR "$LAB/pulse/run"
    env_line PULSE_SERVER "unix:$LAB/pulse/run/pulse/native"
    env_line PULSE_COOKIE "$LAB/pulse/.config/pulse/cookie"
    env_line PULSE_SINK "$LAB_PULSE_SINK"
    env_line PULSE_TCP_PORT "$LAB_PULSE_TCP_PORT"
    # Lab .desktop files (x2god-lab-*; x2god-lab-hidden is NoDisplay) listed by x2gogetapps.
    env_line APPS_DIR "$APPS_DIR"
    # Empty when the machine already had a /dev/log (then syslog goes there).
    env_line SYSLOG_LOG "$SYSLOG_LOG"
    # Sections 7b/7c: jump topology (target only reachable through the jump,
    # ProxyJump / ssh -J) and the keyboard-interactive sshd (password + TOTP).
    env_line NET_RANGE "$LAB_NET_RANGE"
    env_line JUMP_HOST "$LAB_JUMP_ADDR"
    env_line JUMP_PORT 22
    env_line JUMP_HOSTKEY_PUB "$LAB/hostkeys/jump/ssh_host_ed25519_key.pub"
    env_line JUMP_SSHD_LOG "$LAB/logs/jump-sshd.log"
    env_line TARGET_HOST "$LAB_TARGET_ADDR"
    env_line TARGET_PORT 22
    env_line TARGET_HOSTKEY_PUB "$LAB/hostkeys/target/ssh_host_ed25519_key.pub"
    env_line TARGET_SSHD_LOG "$LAB/logs/target-sshd.log"
    env_line KBD_HOST 127.0.0.1
    env_line KBD_PORT "$KBD_PORT"
    env_line KBD_USER x2gotest
    env_line KBD_PASSWORD x2gotest-pw
    env_line KBD_TOTP_SECRET "$LAB_KBD_TOTP_SECRET"
    env_line KBD_HOSTKEY_PUB "$LAB/hostkeys/kbd/ssh_host_ed25519_key.pub"
    env_line KBD_SSHD_LOG "$LAB/logs/kbd-sshd.log"
} >"$LAB/lab.env.tmp"
mv -f "$LAB/lab.env.tmp" "$LAB/lab.env"
chmod 644 "$LAB/lab.env"
bash "$HERE/soak.sh" "$LAB"   # the soak tests' own user (SOAK_USER in lab.env)
# 13d. Extra sshds of the host key tests (ed25519-only, host certificates): HK_* in lab.env.
"$HERE/hostkeys.sh" up "$LAB"
# The hostile sshd (issue 17, output caps): its own script, adds HOSTILE_* to lab.env.
bash "$HERE/hostile.sh" "$LAB"
bash "$HERE/tinyproxy.sh" "$LAB"   # HTTP CONNECT proxies (sshproxy_type=http): HTTP_PROXY_* in lab.env

# ---------------------------------------------------------------------------
# 14. Smoke test the reference way: OpenSSH, key auth, strict host key check.
# The target (through the jump) and the kbd sshd are checked at the same time
# in the background; x2golistsessions proves X2Go works through each of them.
ssh -F "$LAB/run/net_ssh_config" lab-target x2golistsessions >"$LAB/run/smoke-target.out" 2>&1 &
SMOKE_TARGET_PID=$!
expect -f "$HERE/kbd-ssh.exp" 127.0.0.1 "$KBD_PORT" x2gotest x2gotest-pw \
    "$(oathtool --totp -b "$LAB_KBD_TOTP_SECRET")" "$LAB/run/net_known_hosts" x2golistsessions \
    >"$LAB/run/smoke-kbd.out" 2>&1 &
SMOKE_KBD_PID=$!
if ! out="$(ssh -F /dev/null -i "$LAB/keys/id_ed25519" -p "$PORT" -o IdentitiesOnly=yes \
    -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$LAB/known_hosts" \
    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
    x2gotest@127.0.0.1 x2golistsessions 2>&1)"; then
    printf '%s\n' "$out" >&2
    tail -n 20 "$LAB/logs/sshd.log" >&2 || true
    die "smoke test (ssh x2gotest@127.0.0.1 x2golistsessions) failed"
fi
if ! wait "$SMOKE_TARGET_PID"; then
    cat "$LAB/run/smoke-target.out" >&2
    tail -n 10 "$LAB/logs/jump-sshd.log" "$LAB/logs/target-sshd.log" >&2 || true
    die "smoke test (ssh -F $LAB/run/net_ssh_config lab-target x2golistsessions) failed"
fi
if ! wait "$SMOKE_KBD_PID"; then
    cat "$LAB/run/smoke-kbd.out" >&2
    tail -n 20 "$LAB/logs/kbd-sshd.log" >&2 || true
    die "smoke test (keyboard-interactive login on 127.0.0.1:$KBD_PORT, tests/lab/kbd-ssh.exp) failed"
fi
# The target must not be reachable from the root namespace: with the guard
# route the connect fails at once (No route to host); a timeout would mean
# packets go somewhere.
rc=0
timeout 3 bash -c ": >/dev/tcp/$LAB_TARGET_ADDR/22" 2>/dev/null || rc=$?
((rc != 0)) || die "target sshd $LAB_TARGET_ADDR:22 is reachable directly from the root namespace"
((rc != 124)) || die "connect to $LAB_TARGET_ADDR:22 hung instead of failing: guard route not effective?"

ELAPSED_MS=$((($(date +%s%N) - START_NS) / 1000000))
printf 'x2god lab ready: %s sshd=127.0.0.1:%s (pid %s) jump=%s:22 (pid %s) target=%s:22 (pid %s) kbd=127.0.0.1:%s (pid %s) display=:%s (Xvfb pid %s) cleansessions=%s printer=%s (cupsd %s) hostname=%s env=%s/lab.env (%d.%03ds)\n' \
    "$LAB" "$PORT" "$SSHD_PID" "$LAB_JUMP_ADDR" "$JUMP_SSHD_PID" "$LAB_TARGET_ADDR" "$TARGET_SSHD_PID" \
    "$KBD_PORT" "$KBD_SSHD_PID" "$DNUM" "$XVFB_PID" "$CS_PID" "$LAB_CUPS_QUEUE" \
    "$(if p="$(recorded_alive "$LAB" cupsd)"; then echo "pid $p"; else echo "not the lab's"; fi)" "$HN" "$LAB" \
    $((ELAPSED_MS / 1000)) $((ELAPSED_MS % 1000))
