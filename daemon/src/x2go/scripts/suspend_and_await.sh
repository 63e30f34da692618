# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Suspends session "$1" and waits until its agent is SUSPENDED (or ending), looking at most
# "$2" times; prints its last state. A failing suspend ends the script with its status.
. ./await_agent.sh
agent_settled() {
  case $1 in SUSPENDED | TERMINATING | TERMINATED) return 0 ;; esac
  return 1
}
x2gosuspend-session "$1" >/dev/null || exit
await_agent "$1" "$2"
