# shellcheck shell=bash
# Sound in the x2god lab: the "local" PulseAudio a client's sessions play into,
# as /work/shared/recipes/session-features.md section 1 did it. setup.sh
# (section 13c) calls lab_pulse_up, teardown.sh (section 7c) lab_pulse_down.
# Sourced after common.sh, never executed; sourcing only defines variables and
# functions.
#
# One pulseaudio, run as root (the uid the tests and x2god run as, so that the
# daemon's relay is "the desktop user" of the recipe's section 1.6) with a
# private HOME and XDG_RUNTIME_DIR under $LAB/pulse, so nothing of root's own
# sound setup is touched. It has a null sink `x2gonull` (48 kHz stereo, what
# the sound benchmark plays) whose monitor the tests record with parec, the
# native protocol on a unix socket (what x2god's relay connects to), and on
# 127.0.0.1:4713 over TCP (python-x2go's fixed local sound port, for
# pyhoca-cli and x2god's `snd_port` option). The cookie is created by
# pulseaudio in $LAB/pulse/.config/pulse/cookie.

# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_PULSE_PACKAGES=(pulseaudio pulseaudio-utils sox libsox-fmt-base)
LAB_PULSE_SINK=x2gonull
LAB_PULSE_TCP_PORT=4713
LAB_PULSE_BIN=/usr/bin/pulseaudio
# The pulseaudio the lab starts is identified by this in /proc/<pid>/cmdline.
LAB_PULSE_NEEDLE="$LAB_PULSE_BIN -n -F"

# lab_pulse_env LAB: the environment that reaches the lab's pulseaudio (for
# pactl, parec, paplay run as root), one NAME=VALUE per line.
lab_pulse_env() {
    printf '%s\n' "HOME=$1/pulse" "XDG_RUNTIME_DIR=$1/pulse/run" \
        "PULSE_SERVER=unix:$1/pulse/run/pulse/native" \
        "PULSE_COOKIE=$1/pulse/.config/pulse/cookie"
}

# lab_pulse_ctl LAB ARGS...: pactl against the lab's pulseaudio.
lab_pulse_ctl() {
    local lab="$1"
    shift
    local -a envs
    mapfile -t envs < <(lab_pulse_env "$lab")
    env -i PATH=/usr/bin:/bin "${envs[@]}" timeout 10 pactl "$@"
}

lab_pulse_ready() {
    lab_pulse_ctl "$1" list short sinks 2>/dev/null | grep -q "$LAB_PULSE_SINK"
}

# lab_pulse_up LAB: start the lab's pulseaudio unless the recorded one runs.
lab_pulse_up() {
    local lab="$1" pid
    lab_pulse_player_install
    if pid="$(recorded_alive "$lab" pulseaudio)" && lab_pulse_ready "$lab"; then
        log "pulseaudio already running (pid $pid)"
        return 0
    fi
    if port_listening "$LAB_PULSE_TCP_PORT"; then
        die "TCP port $LAB_PULSE_TCP_PORT (python-x2go's local sound port) is taken by another program"
    fi
    install -d -m 700 "$lab/pulse" "$lab/pulse/run"
    cat >"$lab/pulse/lab.pa" <<EOF
load-module module-null-sink sink_name=$LAB_PULSE_SINK rate=48000 channels=2
set-default-sink $LAB_PULSE_SINK
load-module module-native-protocol-unix
load-module module-native-protocol-tcp port=$LAB_PULSE_TCP_PORT listen=127.0.0.1
EOF
    local -a envs
    mapfile -t envs < <(lab_pulse_env "$lab")
    rm -f "$lab/run/pulseaudio.pid"
    # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$lab/run/pulseaudio.pid" \
        env -i PATH=/usr/bin:/bin "${envs[@]:0:2}" \
        "$LAB_PULSE_BIN" -n -F "$lab/pulse/lab.pa" --daemonize=no --exit-idle-time=-1 \
        --log-target=stderr --log-level=info \
        </dev/null >>"$lab/logs/pulseaudio.log" 2>&1 &
    local deadline=$((SECONDS + 15))
    until lab_pulse_ready "$lab"; do
        if ((SECONDS >= deadline)); then
            tail -n 20 "$lab/logs/pulseaudio.log" >&2 || true
            die "pulseaudio did not answer within 15 s"
        fi
        sleep 0.1
    done
    if ! pid="$(read_pid "$lab/run/pulseaudio.pid")" || ! pid_matches "$pid" "$LAB_PULSE_NEEDLE"; then
        die "a sound server answers, but not the pulseaudio the lab started"
    fi
    record_pid "$lab" pulseaudio "$pid" "$LAB_PULSE_NEEDLE"
    log "started pulseaudio (pid $pid, sink $LAB_PULSE_SINK, tcp 127.0.0.1:$LAB_PULSE_TCP_PORT)"
}

# lab_pulse_down LAB: stop the recorded pulseaudio; print what is left.
lab_pulse_down() {
    local lab="$1" pid i
    if pid="$(recorded_alive "$lab" pulseaudio)"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            pid_matches "$pid" "$LAB_PULSE_NEEDLE" || break
            sleep 0.05
        done
        pid_matches "$pid" "$LAB_PULSE_NEEDLE" && kill -KILL "$pid" 2>/dev/null
        sleep 0.1
    fi
    rm -f "$LAB_PULSE_PLAYER"
    if pid="$(recorded_alive "$lab" pulseaudio)"; then
        printf 'pulseaudio pid %s\n' "$pid"
    else
        rm -f "$lab/run/pids/pulseaudio" "$lab/run/pulseaudio.pid"
        rm -rf "$lab/pulse"
    fi
}

# The session-side test player (installed by lab_pulse_up, removed by
# lab_pulse_down): a session command that plays $HOME/.x2god-snd/<session>/<n>.wav
# whenever <n>.play appears there, writing paplay's exit status to <n>.done.
# It runs inside the session, so it has the session's PULSE_CLIENTCONFIG. At its
# start it plays $HOME/.x2god-snd/autoplay.wav if there is one (the sound
# benchmark's tone: from the start of the session), status in autoplay.done.
LAB_PULSE_PLAYER=/usr/local/bin/x2god-sndloop

lab_pulse_player_install() {
    cat >"$LAB_PULSE_PLAYER.tmp" <<'EOS'
#!/bin/sh
# x2god lab: plays what the tests ask for, inside an X2Go session.
d="$HOME/.x2god-snd/${X2GO_SESSION:-none}"
mkdir -p "$d"
env | grep -e '^PULSE' -e '^X2GO' >"$d/env"
if [ -e "$HOME/.x2god-snd/autoplay.wav" ]; then
    paplay "$HOME/.x2god-snd/autoplay.wav" >"$d/autoplay.log" 2>&1
    echo "$?" >"$d/autoplay.done"
fi
while :; do
    for f in "$d"/*.play; do
        [ -e "$f" ] || continue
        n="${f%.play}"
        rm -f "$f"
        paplay "$n.wav" >"$n.log" 2>&1
        echo "$?" >"$n.done"
    done
    sleep 0.05
done
EOS
    chmod 755 "$LAB_PULSE_PLAYER.tmp"
    mv -f "$LAB_PULSE_PLAYER.tmp" "$LAB_PULSE_PLAYER"
}
