#!/usr/bin/env bash
# Sets up and runs x2god, and shows it working through busctl.
#
#   sudo tests/lab/demo.sh                 # against the loopback lab (installs and starts it)
#   tests/lab/demo.sh HOST [PORT [USER]]   # against a real X2Go server (agent or ~/.ssh keys)
#
# The daemon runs on a private bus so it never disturbs a desktop session; the busctl lines it
# prints work the same with `busctl --user` against an x2god on your session bus.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

work=$(mktemp -d /tmp/x2god-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ $# -eq 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "the lab needs root: sudo $0" >&2; exit 2; }
  "$here/setup.sh"
  # shellcheck source=/dev/null
  . "${X2GOD_LAB_DIR:-/tmp/x2god-lab}/lab.env"
  host=127.0.0.1 port=$SSH_PORT user=$SSH_USER
  home="$work/home"
  install -d -m 700 "$home/.ssh"
  cp "$KNOWN_HOSTS" "$home/.ssh/known_hosts"
  settings=(5 hostname s "$host" port q "$port" username s "$user" key_filename s "$SSH_KEY" add_to_known_hosts b false)
  echo "== starting a session on the lab server with its own commands"
  "$here/start-session.sh" -u "$user"
else
  host=$1 port=${2:-22} user=${3:-$(id -un)}
  home=$HOME
  settings=(5 hostname s "$host" port q "$port" username s "$user" allow_agent b true look_for_keys b true)
fi

echo "== building x2god"
(cd "$top" && cargo build -q -p x2god)

echo "== starting a private D-Bus and x2god"
dbus-daemon --session --fork --address="unix:path=$work/bus" --print-address=3 --print-pid=4 \
  3>"$work/bus.addr" 4>"$work/bus.pid"
pids+=("$(cat "$work/bus.pid")")
addr=$(head -n1 "$work/bus.addr")
HOME=$home XDG_CONFIG_HOME="$work/config" DBUS_SESSION_BUS_ADDRESS=$addr RUST_LOG=x2god=info \
  "$top/target/debug/x2god" 2>"$work/x2god.log" &
pids+=("$!")
B=(busctl --address="$addr")
for _ in $(seq 100); do
  "${B[@]}" status org.x2go.Control1 >/dev/null 2>&1 && break
  sleep 0.1
done

P=/org/x2go/Control1/profile/demo
run() { echo "\$ busctl ${*:2}"; "${B[@]}" "${@:2}"; }
run busctl call org.x2go.Control1 /org/x2go/Control1 org.x2go.Control1.Manager CreateProfile 'sa{sv}' demo "${settings[@]}"
run busctl call org.x2go.Control1 $P org.x2go.Control1.Profile Connect 'a{sv}' 0
run busctl get-property org.x2go.Control1 $P org.x2go.Control1.Profile State
run busctl --json=pretty call org.x2go.Control1 $P org.x2go.Control1.Profile ListSessions
run busctl call org.x2go.Control1 $P org.x2go.Control1.Profile ServerVersions b false
echo "== x2god's log"
cat "$work/x2god.log"
