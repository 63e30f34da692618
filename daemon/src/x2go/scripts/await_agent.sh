# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Waiting on the server for an agent state, shared by await_running.sh and
# suspend_and_await.sh: one channel instead of a round trip per check.
lib=$(x2gopath libexec) || exit 1
. ./x2go_tmp_dir.sh

# await_agent SESSION POLLS: the agent state of SESSION every 50 ms, at most POLLS times, until
# agent_settled STATE (which the including script defines) succeeds; prints the last state.
# The state is read from the agent's state file with the read builtin where the user's own
# X2Go directory has it, else asked of x2gogetagentstate (a Perl start-up per look, which
# would compete on a small server with the very agent and nxproxy handshake being waited for;
# it also finds the files of shadow sessions, kept in the shadowed user's directory).
await_agent() {
  f=$d/C-$1/state
  n=0
  while :; do
    s=
    if [ -r "$f" ]; then
      { read -r s || :; } <"$f"
    else
      s=$("$lib/x2gogetagentstate" "$1")
    fi
    agent_settled "$s" && break
    n=$((n + 1))
    [ "$n" -ge "$2" ] && break
    sleep 0.05
  done
  echo "$s"
}
