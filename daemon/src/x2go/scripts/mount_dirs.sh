# shellcheck shell=sh
# Shares one client folder into session $1 through the reverse forward (doc §2.12):
#   $1 session, $2 agent pid, $3 the client's local user name, $4 the folder with its marker
#   and __REVERSESSH_PORT__<port>.
# The key bundle (the throw-away private key, the separator, the embedded server's host key)
# comes on standard input, never on a command line (`ps` shows those to every user), and goes
# into a file that is private from its first byte: umask first, and noclobber, so an old file
# (python-x2go leaves them 0644) is never reused with its mode. x2gomountdirs reads the file,
# mounts, and the file goes at once whatever happened.
umask 077
k="$HOME/.x2go/ssh/key.z$2"
mkdir -p "$HOME/.x2go/ssh" || exit 1
rm -f "$k" "$k.ident"
set -C
cat >"$k" || { rm -f "$k"; exit 1; }
set +C
x2gomountdirs dir "$1" "$3" "$k" "$4"
rc=$?
rm -f "$k" "$k.ident"
exit "$rc"
