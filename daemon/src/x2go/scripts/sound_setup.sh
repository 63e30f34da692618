# shellcheck shell=sh
# shellcheck source-path=SCRIPTDIR
# Points session $1's PulseAudio clients at its sound port $2 with a new cookie (on standard
# input): after a resume, the session's programs keep PULSE_CLIENTCONFIG, and each new pulse
# client reads the file again.
. ./pulse_config.sh
