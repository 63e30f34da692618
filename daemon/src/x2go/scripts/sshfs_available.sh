# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Whether the user can mount client folders: sshfs, fusermount (or fusermount3) and a
# readable, writable /dev/fuse, which is what x2gomountdirs needs.
. ./tokens.sh
if command -v sshfs >/dev/null 2>&1 &&
  { command -v fusermount || command -v fusermount3; } >/dev/null 2>&1 &&
  test -r /dev/fuse && test -w /dev/fuse; then
  echo "$x2god_sshfs_yes"
else
  echo "$x2god_sshfs_no"
fi
