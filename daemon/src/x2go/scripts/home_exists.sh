# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Whether $HOME is a directory. The home path is expanded here, never interpolated by the
# daemon.
. ./tokens.sh
if test -d "$HOME"; then echo "$x2god_home_exists"; else echo "$x2god_home_missing"; fi
