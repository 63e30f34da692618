# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# x2golistsessions, then x2golistshadowsessions where the server has it and this user may have
# shadow sessions (see any_shadow_dir.sh). One after the other: run side by side they contend
# for the session database (x2golistsessions also writes its repairs there). A failing first
# listing fails the command instead of being masked by the second's status.
x2golistsessions || exit; command -v x2golistshadowsessions >/dev/null 2>&1 || exit 0
. ./x2go_tmp_dir.sh
. ./any_shadow_dir.sh
if any_shadow_dir "$d"; then exec x2golistshadowsessions; fi
