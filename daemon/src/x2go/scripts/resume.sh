# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Runs x2goresume-session "$@" once the agent of session "$1" no longer says SUSPENDING,
# looking every 50 ms for at most 3 s. A resume right after a suspend finds the agent there
# until nxproxy has gone (some ms), and x2goresume-session would then sleep a whole second
# before it looks again. The state file is read with the read builtin, not x2gogetagentstate
# (a Perl start-up per look); where the file is elsewhere (shadow sessions), nothing is waited
# for here and x2goresume-session waits as before.
. ./x2go_tmp_dir.sh
n=0
while [ "$n" -lt 60 ]; do
  s=
  { read -r s || :; } 2>/dev/null <"$d/C-$1/state"
  [ "$s" = SUSPENDING ] || break
  n=$((n + 1))
  sleep 0.05
done
exec x2goresume-session "$@"
