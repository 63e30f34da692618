#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The soak user of the x2god lab (tests/soak.rs, tests/concurrency in sessions.rs):
# an account of its own, so that the soak's random starts, suspends, resumes and
# terminations by x2god and by plain ssh can be compared with x2golistsessions
# without the other tests' sessions in between, and theirs never see the soak's.
#
#   tests/lab/soak.sh [LAB_DIR]          create/refresh (setup.sh calls it last)
#   tests/lab/soak.sh --down [LAB_DIR]   end the soak user's sessions (teardown.sh)
#
# Up: user x2gosoak (key login with the lab's id_ed25519 only, no password),
# added to the lab sshd's AllowUsers (sshd re-reads its config on SIGHUP; open
# connections are not touched) and SOAK_USER=x2gosoak appended to lab.env.
# Idempotent; the user is kept by --down like the other lab users.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

SOAK_USER=x2gosoak
down=0
if [[ "${1:-}" == --down ]]; then
    down=1
    shift
fi
LAB="$(lab_resolve_dir "${1:-}")"
[[ "$(id -u)" -eq 0 ]] || die "must run as root"

# as_soak CMD...: an X2Go server command as the soak user, as an SSH login runs it.
as_soak() {
    local home
    home="$(getent passwd "$SOAK_USER" | cut -d: -f6)"
    (cd / && runuser -u "$SOAK_USER" -- env -i HOME="$home" USER="$SOAK_USER" LOGNAME="$SOAK_USER" \
        SHELL=/bin/bash PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 SSH_CLIENT="127.0.0.1 0 0" "$@")
}

if ((down)); then
    getent passwd "$SOAK_USER" >/dev/null || exit 0
    sessions="$(as_soak x2golistsessions 2>/dev/null | cut -d'|' -f2 || true)"
    for s in $sessions; do
        [[ "$s" == "$SOAK_USER"-* ]] || continue
        as_soak x2goterminate-session "$s" >/dev/null 2>&1 || log "x2goterminate-session $s failed (ignored)"
    done
    exit 0
fi

[[ -r "$LAB/lab.env" && -r "$LAB/sshd_config" && -r "$LAB/keys/id_ed25519.pub" ]] ||
    die "no lab in $LAB: run tests/lab/setup.sh first"

if ! getent passwd "$SOAK_USER" >/dev/null; then
    useradd --create-home --shell /bin/bash "$SOAK_USER"
    log "created user $SOAK_USER"
fi
home="$(getent passwd "$SOAK_USER" | cut -d: -f6)"
install -d -m 700 -o "$SOAK_USER" -g "$SOAK_USER" "$home/.ssh"
install -m 600 -o "$SOAK_USER" -g "$SOAK_USER" "$LAB/keys/id_ed25519.pub" "$home/.ssh/authorized_keys"

if ! grep -qE "^AllowUsers .*\\b$SOAK_USER\\b" "$LAB/sshd_config"; then
    sed -i -E "s/^(AllowUsers .*)$/\\1 $SOAK_USER/" "$LAB/sshd_config"
    /usr/sbin/sshd -t -f "$LAB/sshd_config"
    pid="$(read_pid "$LAB/run/sshd.pid")" || die "the lab sshd is not running"
    pid_matches "$pid" "$LAB/sshd_config" || die "pid $pid in $LAB/run/sshd.pid is no sshd"
    kill -HUP "$pid"
    # Re-exec: wait until it listens again.
    port="$(sed -n 's/^SSH_PORT=//p' "$LAB/lab.env")"
    for ((i = 0; i < 100; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
    log "the lab sshd lets $SOAK_USER in"
fi

grep -q "^SOAK_USER=" "$LAB/lab.env" || {
    echo "# tests/lab/soak.sh: the soak tests' own account (key: SSH_KEY)"
    echo "SOAK_USER=$SOAK_USER"
} >>"$LAB/lab.env"

out="$(ssh -F /dev/null -i "$LAB/keys/id_ed25519" -p "$(sed -n 's/^SSH_PORT=//p' "$LAB/lab.env")" \
    -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$LAB/known_hosts" -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
    "$SOAK_USER@127.0.0.1" x2golistsessions 2>&1)" || die "ssh $SOAK_USER@127.0.0.1 x2golistsessions failed: $out"
log "soak user $SOAK_USER ready"
