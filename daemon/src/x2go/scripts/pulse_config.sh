# shellcheck shell=sh
# Fragment: PulseAudio's client config for session $1 (doc §3.6), python-x2go's two lines:
# the server is the session's sound port $2 on this machine's loopback, which the client
# forwards to its own sound server, and the cookie is the one that comes on standard input
# (never on a command line: `ps` shows those to every user). Both files are private from
# their first byte (umask, and noclobber for the cookie, after removing an old one); the
# config is replaced whole, so a pulse client starting meanwhile reads the old or the new.
# Sets $conf to the config's path.
umask 077
d="$HOME/.x2go/C-$1"
[ -d "$d" ] || { echo "no session directory $d" >&2; exit 1; }
c="$d/.pulse-cookie"
conf="$d/.pulse-client.conf"
rm -f "$c" "$conf.new"
set -C
head -c 256 >"$c" || { rm -f "$c"; exit 1; }
set +C
[ "$(wc -c <"$c")" -eq 256 ] || { rm -f "$c"; echo "the sound cookie is incomplete" >&2; exit 1; }
printf 'default-server=127.0.0.1:%s\ncookie-file=%s\n' "$2" "$c" >"$conf.new" || exit 1
mv -f "$conf.new" "$conf" || exit 1
