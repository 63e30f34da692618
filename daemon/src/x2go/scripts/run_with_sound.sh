# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Starts session $1's program with PulseAudio (doc §2.6, §3.6): its client config first (the
# cookie on standard input), then `x2goruncommand <display> <agent pid> <session> <sound port>
# <command> pulse <type>` with PULSE_CLIENTCONFIG naming it, detached as every session's
# program is. $1 session, $2 sound port, $3 display, $4 agent pid, $5 command, $6 type.
. ./pulse_config.sh
PULSE_CLIENTCONFIG="$conf" setsid x2goruncommand "$3" "$4" "$1" "$2" "$5" pulse "$6" </dev/null >/dev/null 2>&1 &
