# shellcheck shell=sh
# any_shadow_dir DIR: succeeds when this user may have shadow sessions on this host, so that
# x2golistshadowsessions (a Perl start-up and a database query, ~0.1 s) is worth running. DIR
# is the user's X2Go state directory, <top>/.x2go-<user> (see x2go_tmp_dir.sh).
#
# A shadow session's name starts with the name of the user who asked for it and carries XSHAD
# (what x2golistshadowsessions selects on), and x2gostartagent gives it a directory C-<name>
# in the X2Go state directory of the user whose desktop it shows (the asker's own, or another
# user's who shares theirs), plus a link in that user's ~/.x2go. Nothing removes those when a
# session ends. So the test looks for C-<user>-*XSHAD* in every <top>/.x2go-* directory and in
# ~/.x2go. It fails open: with a polyinstantiated /tmp, or any state directory it cannot read,
# it succeeds. Uses the variables xs_f, xs_top and xs_user, names no script that includes it
# uses.
any_shadow_dir() {
  xs_f=
  xs_top=${1%/*}
  xs_user=${1##*/.x2go-}
  if [ -e /tmp-inst ]; then
    xs_f=1
  else
    for xs_f in "$xs_top"/.x2go-*; do
      { [ -d "$xs_f" ] && ! { [ -r "$xs_f" ] && [ -x "$xs_f" ]; }; } && break
      xs_f=
    done
    [ -n "$xs_f" ] || for xs_f in "${HOME:-/nonexistent}"/.x2go/C-"$xs_user"-*XSHAD* \
      "$xs_top"/.x2go-*/C-"$xs_user"-*XSHAD*; do
      { [ -e "$xs_f" ] || [ -L "$xs_f" ]; } && break
      xs_f=
    done
  fi
  [ -n "$xs_f" ]
}
