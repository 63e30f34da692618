#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Run OpenSSH against the lab server the reference way (key auth, strict host
# key checking against $LAB/known_hosts, no user/system ssh config involved).
#
#   tests/lab/ssh.sh [-u USER] [ssh options...] CMD...
#
# USER defaults to $SSH_USER (x2gotest); the lab key id_ed25519 is authorized
# for both lab users. Options after -u are passed to ssh after the destination
# (OpenSSH parses options there too), e.g. `ssh.sh -N -L 127.0.0.1:P:127.0.0.1:G`.
# The lab is found via $X2GOD_LAB_DIR (default /tmp/x2god-lab).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
. "$HERE/common.sh"

LAB="$(lab_resolve_dir "")"
[[ -r "$LAB/lab.env" ]] || die "no lab at $LAB (run tests/lab/setup.sh first)"
# shellcheck source=/dev/null
. "$LAB/lab.env"

user="$SSH_USER"
if [[ "${1:-}" == -u ]]; then
    [[ $# -ge 2 ]] || die "usage: $0 [-u USER] CMD..."
    user="$2"
    shift 2
fi

exec ssh -F /dev/null -i "$SSH_KEY" -p "$SSH_PORT" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" \
    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10 \
    "$user@$SSH_HOST" "$@"
