# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Whether user "$1" may run X2Go sessions here, by what the server enforces: the account
# exists, has a login shell (sshd runs every command through it) and a home directory
# (x2gostartagent exits when $HOME is missing).
. ./tokens.sh
e=$(getent passwd "$1") || { echo "$x2god_user_unknown"; exit 0; }
home=$(printf %s "$e" | cut -d: -f6)
shell=$(printf %s "$e" | cut -d: -f7)
case $shell in '' | */nologin | */false) echo "$x2god_user_no_login"; exit 0 ;; esac
if test -d "$home"; then echo "$x2god_user_ok"; else echo "$x2god_user_no_home"; fi
