# shellcheck shell=sh
# shellcheck disable=SC2034  # d is for the script that includes this fragment
# Sets d to the user's X2Go state directory on the server, where x2gostartagent puts
# C-<session>/state: /tmp/.x2go-<user>, or its polyinstantiated twin under /tmp-inst.
# Sets u to the user name. A directory there that the user does not own (made by someone else
# on a shared /tmp before the user's first session) holds files its owner writes: then
# foreign names it and d is a path that cannot exist, so nothing in it is ever read.
u=${USER:-}
[ -n "$u" ] || u=$(id -un) || u=
d=/tmp/.x2go-$u
[ -d "/tmp-inst/$u/.x2go-$u" ] && d=/tmp-inst/$u/.x2go-$u
foreign=
if [ -e "$d" ] && ! [ -O "$d" ]; then foreign=$d d=/dev/null/x2god-foreign; fi
