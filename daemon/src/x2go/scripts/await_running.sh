# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Waits until the agent of session "$1" is RUNNING (or ending), looking at most "$2" times,
# and prints its last state.
. ./await_agent.sh
agent_settled() {
  case $1 in RUNNING | TERMINATING | TERMINATED) return 0 ;; esac
  return 1
}
await_agent "$1" "$2"
