#!/usr/bin/env bash
# A real systemd user manager for one test user, contained in a private pid + mount namespace,
# for tests/systemd.rs (the x2god user unit as a desktop would run it). As root:
#
#   tests/systemd/usermgr.sh up    DIR   start it; DIR keeps pids and the namespace's log
#   tests/systemd/usermgr.sh run   DIR CMD...   run CMD in there as the test user, with the
#                                              login environment (XDG_RUNTIME_DIR, session bus)
#   tests/systemd/usermgr.sh root  DIR CMD...   run CMD in there as root
#   tests/systemd/usermgr.sh down  DIR   stop it and remove what `up` made on the host
#
# The test user is $X2GOD_SD_USER (default x2godsd), created when missing.
#
# Why a namespace (../shared/recipes/desktop-infra.md §1): `systemd --user` only runs where
# /run/systemd/system exists (sd_booted), which must not be created on the host (every tool
# would then think systemd is init); it cannot be PID 1 itself; and it needs a delegated
# cgroup subtree. So a private pid + mount namespace gets /run/systemd (tmpfs), a private
# journald (its own /var/log/journal, /dev/log and journald.conf) and, as a child of its PID 1,
# the user manager in a delegated cgroup. Host init, host mounts and the network are not
# touched; the cgroup directories and /run/user/UID are created on the host and removed by
# `down`, and a time-to-live ends the namespace should `down` never run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
user=${X2GOD_SD_USER:-x2godsd}

die() {
  echo "usermgr.sh: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root"

# The cgroup v2 hierarchy systemd uses, and the v1 name=systemd one of hybrid mode (if any).
cgroup_roots() {
  if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
    echo /sys/fs/cgroup
    return
  fi
  [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] && echo /sys/fs/cgroup/unified
  [ -d /sys/fs/cgroup/systemd ] && echo /sys/fs/cgroup/systemd
  return 0
}

# The manager's cgroup. The `<slice>/user-UID.slice/user@UID.service` shape matters: journald
# derives _SYSTEMD_USER_UNIT from it, without which `journalctl --user -u x2god` is empty.
cgroup_path() {
  echo "/x2god-sd.slice/user-$1.slice/user@$1.service"
}

user_ids() {
  uid=$(id -u "$user")
  gid=$(id -g "$user")
  home=$(getent passwd "$user" | cut -d: -f6)
}

ensure_user() {
  if ! getent passwd "$user" >/dev/null; then
    useradd --create-home --shell /bin/bash "$user"
  fi
  user_ids
  # Debian's global default.target.wants starts pulseaudio for every user manager; not ours.
  local units=$home/.config/systemd/user
  runuser -u "$user" -- mkdir -p "$units"
  for u in pulseaudio.service pulseaudio.socket; do
    runuser -u "$user" -- ln -sfn /dev/null "$units/$u"
  done
}

# PID 1 of the namespace: the private journald, then the user manager as its child.
ns_init() {
  local dir=$1 cg jpid sdpid h
  user_ids
  cg=$(cgroup_path "$uid")
  # /run is a plain directory on some machines: options implying MountAPIVFS= would then put
  # an empty tmpfs over it inside units (and hide the bus socket), unless it is a mount point.
  mount --bind /run /run
  # >16 MiB free or `daemon-reload` refuses ("safety buffer").
  mount -t tmpfs -o mode=0755,size=64m tmpfs /run/systemd
  mkdir -p /run/systemd/system /run/systemd/journal /run/systemd/unit-root /run/systemd/inaccessible
  # What PID 1 creates at boot and sandboxed units bind over the paths they hide.
  (
    cd /run/systemd/inaccessible
    touch reg
    mkdir -p dir
    mknod chr c 0 0
    mknod blk b 0 0
    mkfifo fifo
    python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")'
    chmod 0000 reg dir chr blk fifo sock
  )
  mount -t tmpfs -o mode=2755,size=64m tmpfs /var/log/journal
  chgrp systemd-journal /var/log/journal 2>/dev/null || true
  touch /run/systemd/journal/flushed
  mount --bind "$here/journald.conf" /etc/systemd/journald.conf
  /lib/systemd/systemd-journald &
  jpid=$!
  for _ in $(seq 100); do
    [ -S /run/systemd/journal/dev-log ] && break
    sleep 0.05
  done
  mount --bind /run/systemd/journal/dev-log /dev/log
  while read -r h; do
    mkdir -p "$h$cg"
    chown -R "$uid:$gid" "$h$cg"
  done < <(cgroup_roots)
  mkdir -p "/run/user/$uid"
  chown "$uid:$gid" "/run/user/$uid"
  chmod 700 "/run/user/$uid"
  (
    while read -r h; do
      echo "$BASHPID" >"$h$cg/cgroup.procs"
    done < <(cgroup_roots)
    cd /
    exec setpriv --reuid="$uid" --regid="$gid" --init-groups \
      env -i HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash \
      PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 XDG_RUNTIME_DIR="/run/user/$uid" \
      SYSTEMD_LOG_TARGET=journal /lib/systemd/systemd --user
  ) &
  sdpid=$!
  echo "ns-init: journald=$jpid systemd-user=$sdpid" >&2
  trap 'kill -TERM $sdpid 2>/dev/null; wait $sdpid; kill -TERM $jpid 2>/dev/null; wait $jpid; exit 0' TERM INT
  wait "$sdpid" || true
  echo "ns-init: the user manager exited" >&2
  kill -TERM "$jpid" 2>/dev/null || true
  wait "$jpid" || true
}

ns_pid() {
  local pid
  pid=$(cat "$1/nsinit.pid" 2>/dev/null) || die "not running (no $1/nsinit.pid)"
  kill -0 "$pid" 2>/dev/null || die "not running (pid $pid is gone)"
  echo "$pid"
}

run_as_user() {
  local dir=$1 pid
  shift
  pid=$(ns_pid "$dir")
  user_ids
  exec nsenter -t "$pid" -m -p -- setpriv --reuid="$uid" --regid="$gid" --init-groups \
    env -i HOME="$home" USER="$user" LOGNAME="$user" PATH="$home/.local/bin:/usr/local/bin:/usr/bin:/bin" \
    LANG=C.UTF-8 XDG_RUNTIME_DIR="/run/user/$uid" \
    DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@"
}

up() {
  local dir=$1 tpid upid nspid=""
  ensure_user
  mkdir -p "$dir"
  [ -z "$(ns_inits "$dir")" ] || die "already up in $dir (usermgr.sh down $dir)"
  # setsid: a CI job killing its process group must not take the namespace down half-way;
  # the time-to-live ends it should `down` never come.
  setsid timeout --signal=TERM --kill-after=10 "${X2GOD_SD_TTL:-1800}" \
    unshare --pid --fork --mount --mount-proc --propagation private \
    "$here/usermgr.sh" ns-init "$dir" >"$dir/ns.log" 2>&1 </dev/null &
  tpid=$!
  echo "$tpid" >"$dir/timeout.pid"
  # The namespace's PID 1 is the child of unshare, the child of timeout.
  for _ in $(seq 100); do
    # ps fails while there is no such child yet.
    upid=$(ps -o pid= --ppid "$tpid" | tr -d ' ') || true
    if [ -n "$upid" ]; then nspid=$(ps -o pid= --ppid "$upid" | tr -d ' ') || true; fi
    [ -n "$nspid" ] && break
    sleep 0.05
  done
  [ -n "$nspid" ] || die "the namespace did not start: $(cat "$dir/ns.log")"
  echo "$nspid" >"$dir/nsinit.pid"
  # Up = the manager answers and the session bus socket is there.
  for _ in $(seq 200); do
    if (run_as_user "$dir" systemctl --user is-system-running) >/dev/null 2>&1 &&
      [ -S "/run/user/$uid/bus" ]; then
      echo "user manager for $user up (namespace pid $nspid)"
      return 0
    fi
    sleep 0.05
  done
  (run_as_user "$dir" systemctl --user is-system-running) || true
  die "the user manager did not come up: $(cat "$dir/ns.log")"
}

# Host pids of the namespace's PID 1 for DIR: found by command line, so that a run whose pid
# files were lost (an aborted test) is still stopped.
ns_inits() {
  pgrep -f -x "/bin/bash $here/usermgr.sh ns-init $1|bash $here/usermgr.sh ns-init $1" || true
}

down() {
  local dir=$1 pid
  user_ids
  # TERM stops the user manager and journald; when PID 1 exits, the kernel kills whatever is
  # left in its pid namespace.
  for pid in $(ns_inits "$dir"); do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 100); do
    [ -z "$(ns_inits "$dir")" ] && break
    sleep 0.1
  done
  for pid in $(ns_inits "$dir"); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # A cgroup goes only once its last process has been reaped, which may take a moment after
  # the namespace's PID 1 is gone.
  local left=""
  for _ in $(seq 100); do
    left=""
    while read -r h; do
      [ -d "$h/x2god-sd.slice" ] || continue
      find "$h/x2god-sd.slice" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$h/x2god-sd.slice" ] && left="$left $h/x2god-sd.slice"
    done < <(cgroup_roots)
    [ -z "$left" ] && break
    sleep 0.1
  done
  rm -rf "/run/user/$uid"
  rm -f "$dir/nsinit.pid" "$dir/timeout.pid"
  [ -z "$left" ] || die "cgroups left behind:$left"
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: usermgr.sh up|down|run|root DIR [CMD...]"
dir=$2
shift 2
case $cmd in
  up) up "$dir" ;;
  down) down "$dir" ;;
  run) run_as_user "$dir" "$@" ;;
  root) exec nsenter -t "$(ns_pid "$dir")" -m -p -- "$@" ;;
  ns-init) ns_init "$dir" ;;
  *) die "unknown command $cmd" ;;
esac
