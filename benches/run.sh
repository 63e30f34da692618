#!/usr/bin/env bash
# x2god benchmark: x2god next to pyhoca-cli, python-x2go and plain OpenSSH, in one run.
#
#   sudo benches/run.sh            # everything (about 12 minutes on a 2-core machine, plus a
#                                  # first-time release build of x2god and the bench client)
#
# Environment knobs (all optional):
#   BENCH_ONLY=warm,cold,lifecycle,signal,scale,growth,rtt,share,sound   run only these parts
#                                  rtt: the server behind a 50 ms RTT delay line (namespace
#                                  x2god-far, TUN devices x2god-fr/x2god-ff, 10.231.5.1 <-> 10.231.5.2,
#                                  benches/tundelay.py, its own sshd); needs the lab's guard route
#                                  `unreachable 10.231.0.0/16`; all of it is removed at the end
#   BENCH_RTT_LIFECYCLE=0          rtt without the lifecycle runs (lists only)
#   BENCH_ONLY=share               client folders mounted on the server (sshfs), as the lab's sshfs
#                                  user: x2god (Session.ShareFolder) next to pyhoca-cli -F and plain
#                                  sshfs; part of the default run; about 2.5 minutes
#   BENCH_ONLY=sound               60 s of a 48 kHz stereo tone played in a session through the lab's
#                                  PulseAudio: x2god next to pyhoca-cli --sound pulse (client CPU,
#                                  dropouts, first sample); part of the default run; about 3 minutes
#   BENCH_SHARE_PYHOCA_FULL=1      share: pyhoca-cli's `tar` reads the whole tree (4 min per run)
#                                  instead of a tenth of it, scaled
#   BENCH_QUICK=1                  fewer repetitions (a smoke run)
#   BENCH_SETUP_LAB=auto|1|0       auto (default): run tests/lab/setup.sh only when the lab is not
#                                  up; 1: always (it rebuilds a running lab); 0: never
#   X2GOD_BIN=/path/to/x2god       benchmark that binary instead of building target release
#
# Results: printed as a markdown table, and kept in benches/results/{results.json,results.md}
# with the daemon's debug log of the lifecycle runs (x2god-lifecycle-debug.log).
# See BENCHMARKS.md for what is measured and how.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

die() { printf 'benches/run.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run it as root (sudo benches/run.sh): it reads other users' /proc, uses runuser and may set up the lab"
for tool in busctl dbus-daemon ssh xwininfo Xvfb xauth mcookie nxproxy runuser cargo; do
  command -v "$tool" >/dev/null || die "$tool is missing (the lab setup installs it: tests/lab/setup.sh)"
done
[ -x /usr/bin/pyhoca-cli ] || die "pyhoca-cli is missing (/usr/bin/pyhoca-cli; apt-get install pyhoca-cli, or run tests/lab/setup.sh)"
/usr/bin/python3 -c 'import x2go' 2>/dev/null || die "python-x2go is missing for /usr/bin/python3 (apt-get install python3-x2go)"

export X2GOD_LAB_DIR=${X2GOD_LAB_DIR:-/tmp/x2god-lab}
lab_up() {
  [ -r "$X2GOD_LAB_DIR/lab.env" ] || return 1
  local port
  port=$(sed -n 's/^SSH_PORT=//p' "$X2GOD_LAB_DIR/lab.env")
  [ -n "$port" ] && [ -n "$(ss -ltnH "sport = :$port")" ]
}
# setup.sh rebuilds a running lab (tearing it down first), which would disturb tests sharing it:
# only call it when the lab is not up, or when asked to (BENCH_SETUP_LAB=1).
if [ "${BENCH_SETUP_LAB:-auto}" = 1 ] || { [ "${BENCH_SETUP_LAB:-auto}" = auto ] && ! lab_up; }; then
  echo "[bench] setting up the lab (tests/lab/setup.sh) ..." >&2
  "$top/tests/lab/setup.sh" "$X2GOD_LAB_DIR" >/dev/null 2>"$X2GOD_LAB_DIR.bench-setup.log" ||
    { tail -20 "$X2GOD_LAB_DIR.bench-setup.log" >&2; die "tests/lab/setup.sh failed"; }
fi
lab_up || die "no lab at $X2GOD_LAB_DIR (lab.env missing or its sshd not listening): run tests/lab/setup.sh, or BENCH_SETUP_LAB=1"
# shellcheck source=/dev/null
. "$X2GOD_LAB_DIR/lab.env"

target="$here/target"
if [ -z "${X2GOD_BIN:-}" ]; then
  echo "[bench] building x2god (release) ..." >&2
  cargo build --release --locked -q -p x2god --manifest-path "$top/Cargo.toml" --target-dir "$target" ||
    die "building x2god failed"
  export X2GOD_BIN="$target/release/x2god"
fi
[ -x "$X2GOD_BIN" ] || die "x2god binary $X2GOD_BIN is missing"
echo "[bench] building the bench client ..." >&2
cargo build --release -q --manifest-path "$here/client/Cargo.toml" --target-dir "$target" ||
  die "building benches/client failed"
export X2GOD_BENCH_CLIENT="$target/release/x2god-bench"

echo "[bench] machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), kernel $(uname -r)" >&2
echo "[bench] x2god $("$X2GOD_BIN" --version 2>/dev/null || echo '?'), $(ssh -V 2>&1), python-x2go $(/usr/bin/python3 -c 'import x2go; print(x2go.__VERSION__)')" >&2
start=$(date +%s)
/usr/bin/python3 "$here/bench.py"
echo "[bench] done in $(( $(date +%s) - start )) s (benchmarks only; builds excluded)" >&2
