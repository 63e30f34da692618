# shellcheck shell=sh
# shellcheck disable=SC2034  # d is for the script that includes this fragment
# Sets d to the user's X2Go state directory on the server, where x2gostartagent puts
# C-<session>/state: /tmp/.x2go-<user>, or its polyinstantiated twin under /tmp-inst.
# Sets u to the user name.
u=${USER:-}
[ -n "$u" ] || u=$(id -un) || u=
d=/tmp/.x2go-$u
[ -d "/tmp-inst/$u/.x2go-$u" ] && d=/tmp-inst/$u/.x2go-$u
