#!/usr/bin/env bash
# Installs x2god: the binaries (x2god, and x2goctl where the workspace has it), the systemd
# user unit, the D-Bus activation file, the man page and the README. See `./install.sh --help`.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: ./install.sh [OPTIONS]

Builds the binaries (cargo, release profile) and installs them for the current user, so that
the first `busctl --user call org.x2go.Control1 ...` starts x2god by D-Bus activation.

  --prefix DIR    installation prefix (default: ~/.local)
  --destdir DIR   stage everything under DIR, for packages; paths inside the files stay
                  those of --prefix
  --from DIR      install the binaries already built in DIR (e.g. target/release) instead
                  of building: x2god, and x2goctl when DIR has it
  --profile NAME  cargo profile to build (default: release; `debug` means cargo's dev)
  --no-reload     do not tell systemd and the session bus about the new files
  --uninstall     remove what an install with the same options put in place
  -h, --help      this text

Finer control: --bindir, --datadir, --unitdir, --dbusdir, --mandir, --docdir.
Every option can also be given in the environment: PREFIX, DESTDIR, X2GOD_FROM, CARGO_PROFILE,
BINDIR, DATADIR, UNITDIR, DBUSDIR, MANDIR, DOCDIR.

Layout (defaults; DATADIR is $XDG_DATA_HOME when that is set and --prefix is not given):
  BINDIR   $PREFIX/bin                     x2god, x2goctl
  UNITDIR  $DATADIR/systemd/user           x2god.service
  DBUSDIR  $DATADIR/dbus-1/services        org.x2go.Control1.service
  MANDIR   $DATADIR/man                    man1/x2god.1
  DOCDIR   $DATADIR/doc/x2god              README.md
with DATADIR = $PREFIX/share. systemd and the session bus search these directories for
PREFIX ~/.local, /usr/local and /usr.

Examples:
  ./install.sh                                        # for yourself, in ~/.local
  sudo ./install.sh --prefix /usr/local --from target/release
  ./install.sh --prefix /usr --destdir "$pkgdir" --from target/release   # packagers
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

prefix=${PREFIX:-}
destdir=${DESTDIR:-}
from=${X2GOD_FROM:-}
profile=${CARGO_PROFILE:-release}
bindir=${BINDIR:-}
datadir=${DATADIR:-}
unitdir=${UNITDIR:-}
dbusdir=${DBUSDIR:-}
mandir=${MANDIR:-}
docdir=${DOCDIR:-}
reload=1
uninstall=0

while [ $# -gt 0 ]; do
  opt=$1
  case $opt in
    -h | --help) usage; exit 0 ;;
    --no-reload) reload=0; shift; continue ;;
    --uninstall) uninstall=1; shift; continue ;;
    --*=*) set -- "${opt%%=*}" "${opt#*=}" "${@:2}"; continue ;;
  esac
  [ $# -ge 2 ] || die "$opt needs a value (see --help)"
  case $opt in
    --prefix) prefix=$2 ;;
    --destdir) destdir=$2 ;;
    --from) from=$2 ;;
    --profile) profile=$2 ;;
    --bindir) bindir=$2 ;;
    --datadir) datadir=$2 ;;
    --unitdir) unitdir=$2 ;;
    --dbusdir) dbusdir=$2 ;;
    --mandir) mandir=$2 ;;
    --docdir) docdir=$2 ;;
    *) die "unknown option $opt (see --help)" ;;
  esac
  shift 2
done

if [ -z "$prefix" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: give --prefix"
  prefix=$HOME/.local
  # systemd and D-Bus look in $XDG_DATA_HOME, not ~/.local/share, when it is set.
  case ${XDG_DATA_HOME:-} in
    /*) datadir=${datadir:-$XDG_DATA_HOME} ;;
  esac
fi
prefix=${prefix%/}
datadir=${datadir:-$prefix/share}
bindir=${bindir:-$prefix/bin}
unitdir=${unitdir:-$datadir/systemd/user}
dbusdir=${dbusdir:-$datadir/dbus-1/services}
mandir=${mandir:-$datadir/man}
docdir=${docdir:-$datadir/doc/x2god}

# The directories end up verbatim in unit and service files, where spaces, quotes, `%` and `$`
# would need escaping in two different dialects; refuse them rather than escape half-right.
for var in prefix bindir datadir unitdir dbusdir mandir docdir; do
  val=${!var}
  case $val in
    /*) ;;
    *) die "--$var must be an absolute path, not '$val'" ;;
  esac
  [[ $val =~ ^[A-Za-z0-9/._+,:=-]+$ ]] ||
    die "--$var '$val' holds characters unit files would need escaped; use a plainer path"
done
if [ -n "$destdir" ]; then
  case $destdir in
    /*) ;;
    *) destdir=$PWD/$destdir ;;
  esac
  destdir=${destdir%/}
fi

files=(
  "$bindir/x2god"
  "$bindir/x2goctl"
  "$unitdir/x2god.service"
  "$dbusdir/org.x2go.Control1.service"
  "$mandir/man1/x2god.1"
  "$docdir/README.md"
)

# Best effort: systemd and the bus may not run (a build chroot, a login without systemd).
tell_services() {
  if [ -n "$destdir" ] || [ "$reload" = 0 ]; then
    return 0
  fi
  if command -v systemctl >/dev/null && systemctl --user show-environment >/dev/null 2>&1; then
    systemctl --user daemon-reload || true
  fi
  # dbus-daemon notices new service files by itself; dbus-broker only on ReloadConfig.
  if command -v busctl >/dev/null; then
    busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
      ReloadConfig >/dev/null 2>&1 || true
  fi
}

if [ "$uninstall" = 1 ]; then
  if [ -z "$destdir" ] && [ "$reload" = 1 ] && command -v systemctl >/dev/null &&
    systemctl --user show-environment >/dev/null 2>&1; then
    systemctl --user disable --now x2god.service >/dev/null 2>&1 || true
  fi
  for f in "${files[@]}"; do
    if [ -e "$destdir$f" ]; then
      rm -f -- "$destdir$f"
      echo "removed $destdir$f"
    fi
  done
  rmdir -- "$destdir$docdir" 2>/dev/null || true
  tell_services
  exit 0
fi

if [ -z "$from" ]; then
  case $profile in
    debug | dev) profile=dev; outdir=debug ;;
    *) outdir=$profile ;;
  esac
  command -v cargo >/dev/null || die "cargo is not in PATH: install Rust, or give --from"
  # Every binary of the workspace and nothing else (no test crates).
  (cd "$here" && cargo build --locked --profile "$profile" --workspace --bins)
  target=${CARGO_TARGET_DIR:-$here/target}
  case $target in
    /*) ;;
    *) target=$here/$target ;;
  esac
  from=$target/$outdir
fi
if ! [ -f "$from/x2god" ] || ! [ -x "$from/x2god" ]; then
  die "$from/x2god is not an executable file"
fi

work=$(mktemp -d)
trap 'rm -rf -- "$work"' EXIT

# Fills in the templates' @placeholders@; a placeholder left over would reach systemd as a
# literal path, so it is an error here.
render() {
  sed -e "s|@bindir@|$bindir|g" -e "s|@docdir@|$docdir|g" "$1" >"$2"
  if grep -n '@[A-Za-z_]*@' "$2" >&2; then
    die "$1 has a placeholder install.sh does not know"
  fi
}
render "$here/systemd/x2god.service.in" "$work/x2god.service"
render "$here/systemd/org.x2go.Control1.service.in" "$work/org.x2go.Control1.service"

changed=0
# Installs $1 as $2 with mode $3. Unchanged files are left alone, so a second run changes
# nothing (no reload, no new mtime); changed ones are replaced by rename, so a running x2god
# keeps its old executable instead of failing with "text file busy".
put() {
  local src=$1 dest=$destdir$2 mode=$3
  if [ -f "$dest" ] && cmp -s -- "$src" "$dest" && [ "$(stat -c %a -- "$dest")" = "$mode" ]; then
    echo "unchanged $dest"
    return 0
  fi
  mkdir -p -- "$(dirname -- "$dest")"
  local tmp
  tmp=$(dirname -- "$dest")/.$(basename -- "$dest").install-tmp
  cp -- "$src" "$tmp"
  chmod "$mode" -- "$tmp"
  mv -f -- "$tmp" "$dest"
  echo "installed $dest"
  changed=1
}

put "$from/x2god" "$bindir/x2god" 755
# The command-line client is optional: older trees and daemon-only builds lack it.
if [ -f "$from/x2goctl" ] && [ -x "$from/x2goctl" ]; then
  put "$from/x2goctl" "$bindir/x2goctl" 755
fi
put "$work/x2god.service" "$unitdir/x2god.service" 644
put "$work/org.x2go.Control1.service" "$dbusdir/org.x2go.Control1.service" 644
put "$here/systemd/x2god.1" "$mandir/man1/x2god.1" 644
put "$here/README.md" "$docdir/README.md" 644

if [ "$changed" = 1 ]; then
  tell_services
fi
if [ -z "$destdir" ] && [ "$reload" = 1 ]; then
  if command -v systemctl >/dev/null && systemctl --user is-active -q x2god.service 2>/dev/null &&
    [ "$changed" = 1 ]; then
    echo "x2god is running the previous version: systemctl --user restart x2god"
  fi
  cat <<EOF

Try it (the call starts x2god):
  busctl --user call org.x2go.Control1 /org/x2go/Control1 org.x2go.Control1.Manager ListProfiles
  systemctl --user status x2god
  journalctl --user -u x2god
EOF
fi
