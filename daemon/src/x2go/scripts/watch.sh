#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# The session watcher (x2go/watch.rs), run as
#   bash -c <this> x2god-watch <poll seconds> <heartbeat polls> [<X2Go state directory>]
#
# bash rather than POSIX sh because dash has no `read -t`, the only builtin way to sleep; every
# X2Go server has bash (its scripts need it).
set -u
. ./tokens.sh
. ./any_shadow_dir.sh
poll=$1 beat=$2 d=${3:-}
if [ -z "$d" ]; then
  . ./x2go_tmp_dir.sh
  [ -n "$u" ] || exit 1
  # The daemon polls instead (see x2go_tmp_dir.sh).
  if [ -n "$foreign" ]; then echo "$foreign is not owned by $u: not watched" >&2; exit 1; fi
fi
dir=$d
tmp=$(mktemp -d "${TMPDIR:-/tmp}/x2god-watch.XXXXXXXX") || exit 1
fwd='' ring='' bell=''
trap 'kill $fwd $bell 2>/dev/null; rm -rf -- "$tmp"' EXIT
trap 'exit 0' HUP INT TERM PIPE
old=$tmp/a new=$tmp/b slow=$tmp/c slownew=$tmp/d n=0 had='' all=1
names=()
# Input, on FIFO fd 3: the daemon's lines, copied from stdin by cat, and the doorbell's.
mkfifo "$tmp/in" && exec 3<>"$tmp/in" || exit 1
cat <&0 >&3 &
fwd=$!
# The doorbell: one empty line per burst of output of the tail below, rung once the burst has
# been quiet for 20 ms, so that a state file caught truncated is looked at again once written.
if command -v tail >/dev/null 2>&1; then
  exec 5> >(while IFS= read -r -N 1 _; do read -r -t 0.02 -d '' _; echo; done >&3 3>&-)
  ring=1
fi
# (Re)starts tail on the named sessions' state files: inotify wakes it on every write.
ring_on() {
  local f=() s
  [ -n "$bell" ] && kill "$bell" 2>/dev/null
  bell=
  [ -n "$ring" ] && [ "${#names[@]}" -gt 0 ] || return 0
  for s in "${names[@]}"; do f+=("$dir/C-$s/state"); done
  tail -q -n 0 -F -s 30 --pid=$$ -- "${f[@]}" </dev/null >&5 2>&5 3>&- &
  bell=$!
}
# Whether any of the files "$2"… exists and is not older than the reference file "$1".
# `[ a -nt b ]` in bash compares nanoseconds, but the kernel stamps files from a coarse clock
# (ticks of a few ms), so a change in the same tick as the reference refresh gets an *equal*
# mtime: the test is therefore "not older than the reference" (`! [ ref -nt f ]`), which may
# report a change twice but never loses one.
touched() {
  local ref=$1 f
  shift
  for f; do [ -e "$f" ] && ! [ "$ref" -nt "$f" ] && return 0; done
  return 1
}
# Runs listing command "$1", its output ended by a newline, its stderr added to $tmp/err.
run_listing() {
  local out rc
  out=$("$1" </dev/null 2>>"$tmp/err" 3>&- 5>&-)
  rc=$?
  [ -n "$out" ] && printf '%s\n' "$out"
  return "$rc"
}
[ -e "$dir" ] && had=1
: > "$old" && : > "$slow" || exit 1
echo "$x2god_alive" || exit 0
while :; do
  words=()
  read -r -t "$poll" -u 3 -a words
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -le 128 ]; then exit 0; fi
  # stdin reached its end: the daemon is gone.
  kill -0 "$fwd" 2>/dev/null || exit 0
  case ${words[0]:-} in
  "$x2god_watch")
    names=("${words[@]:1}")
    all=
    ring_on ;;
  "$x2god_list")
    id=${words[1]:-}
    case $id in *[!0-9]* | '') id=0 ;; esac
    echo "$x2god_list_begin $id" || exit 0
    : >"$tmp/err"
    run_listing x2golistsessions
    rc=$?
    if [ "$rc" -eq 0 ] && [ "${words[2]:-}" = "$x2god_list_shadow" ] &&
      command -v x2golistshadowsessions >/dev/null 2>&1 && any_shadow_dir "$dir"; then
      run_listing x2golistshadowsessions
      rc=$?
    fi
    while IFS= read -r l || [ -n "$l" ]; do echo "$x2god_list_err $l"; done <"$tmp/err"
    echo "$x2god_list_end $id $rc" || exit 0 ;;
  esac
  # The reference is refreshed before the check and compared against the previous one (two
  # files, swapped), so a change between check and refresh is caught by the next round.
  : > "$new" || exit 1
  changed='' now=''
  n=$((n + 1))
  [ -e "$dir" ] && now=1
  if [ "$now" != "$had" ]; then
    changed=1
  elif [ -n "$now" ] && ! [ "$old" -nt "$dir" ]; then
    changed=1
  elif [ -n "$all" ]; then
    touched "$old" "$dir"/C-*/state && changed=1
  else
    for s in ${names[@]+"${names[@]}"}; do
      f=$dir/C-$s/state
      if [[ -e $f && ! $old -nt $f ]]; then
        changed=1 st=
        read -r st <"$f" 2>/dev/null
        lp=
        if [ "$st" = RESUMING ]; then
          o=
          read -r o 2>/dev/null <"$dir/C-$s/options"
          case $o in *,listen=[0-9]*) lp=${o#*,listen=} lp=" ${lp%%[!0-9]*}" ;; esac
        fi
        echo "$x2god_state $s $st$lp" || exit 0
      fi
    done
    if [ -z "$changed" ] && [ -n "$now" ] && [ "$n" -ge "$beat" ]; then
      : > "$slownew" || exit 1
      touched "$slow" "$dir"/C-*/state && changed=1
      t=$slow slow=$slownew slownew=$t
    fi
  fi
  had=$now t=$old old=$new new=$t
  if [ -n "$changed" ]; then
    echo "$x2god_changed" || exit 0
    n=0
  elif [ "$n" -ge "$beat" ]; then
    echo "$x2god_alive" || exit 0
    n=0
  fi
done
