# shellcheck shell=bash
# Printing in the x2god lab: CUPS with the cups-x2go backend and its queue, as
# /work/shared/recipes/session-features.md section 2 did it. setup.sh (section
# 13b) calls lab_cups_up, teardown.sh (section 7b) lab_cups_down. Sourced after
# common.sh, never executed; sourcing only defines variables and functions.
#
# How a job travels (local mode: CUPS and the X2Go server are one host): lp ->
# cupsd -> filters -> the cups-x2go backend (root, mode 0700) converts the
# PostScript to PDF with ps2pdf=, runs `su <job user> -c x2golistsessions`,
# and hands the PDF to x2goprint for every R session of that user on this
# host; x2goprint moves it into the session's sshfs-mounted client spool
# /tmp/.x2go-<user>/spool/C-<S> (a PDF plus a .ready file). Without a running
# session the job is dropped; without the spool mount x2goprint drops it.
#
# Everything the lab changes is recorded in $LAB/run and undone by
# lab_cups_down: the cupsd it started (pids/cupsd; a cupsd that ran before is
# used and left alone), /run/cups when it made it (cups-run-dir), the queue
# when it created it (cups-queue) and the original cups-x2go.conf
# (cups-x2go.conf.orig, or cups-x2go.conf.absent).

# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_CUPS_PACKAGES=(cups cups-x2go x2goserver-printing cups-client ghostscript poppler-utils)
LAB_CUPS_QUEUE=X2GO
LAB_CUPS_URI=cups-x2go:/
LAB_CUPS_PPD=/usr/share/ppd/cups-x2go/CUPS-X2GO.ppd
LAB_CUPS_X2GO_CONF=/etc/cups/cups-x2go.conf
# shellcheck disable=SC2034
LAB_CUPS_ERROR_LOG=/var/log/cups/error_log
LAB_CUPSD=/usr/sbin/cupsd
# The cupsd the lab starts is identified by this in /proc/<pid>/cmdline.
LAB_CUPSD_NEEDLE="$LAB_CUPSD -f"

# The backend's built-in ps2pdf ends in `-c .setpdfwrite -f`, which Ghostscript
# 10 rejects (`/undefined in .setpdfwrite`, every job fails). No blank after
# `=`: the backend keeps it, and parse_line(" ", ...) then yields an empty
# first word, i.e. an empty command. No `#` either: the backend cuts lines there.
LAB_CUPS_PS2PDF='/usr/bin/gs -q -dCompatibilityLevel=1.4 -dNOPAUSE -dBATCH -dSAFER -sDEVICE=pdfwrite -sOutputFile=- -dAutoRotatePages=/PageByPage -dAutoFilterColorImages=false -dColorImageFilter=/FlateEncode -dPDFSETTINGS=/prepress -dDoNumCopies -f "%s"'

# lab_cups_until SECONDS CMD...: poll CMD every 0.05 s; false on timeout.
lab_cups_until() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# lab_cups_scheduler_up: some cupsd answers on the default server (lpstat
# exits 0 also when it is not running, so the text decides).
lab_cups_scheduler_up() {
    [[ "$(timeout 10 lpstat -r 2>/dev/null)" == "scheduler is running" ]]
}

# lab_cups_queue_exists: the queue is known to the running scheduler.
lab_cups_queue_exists() {
    timeout 10 lpstat -v "$LAB_CUPS_QUEUE" >/dev/null 2>&1
}

# lab_cupsd_start LAB: /run/cups (elsewhere systemd-tmpfiles makes it), then
# cupsd in the foreground of its own session (no systemd here; -f keeps it the
# process whose pid is recorded), with a clean environment.
lab_cupsd_start() {
    local lab="$1" pid
    if [[ ! -d /run/cups ]]; then
        install -d -m 755 -o root -g lp /run/cups
        : >"$lab/run/cups-run-dir"
    fi
    rm -f "$lab/run/cupsd.pid"
    # The bash -c wrapper writes its own pid and execs cupsd (as Xvfb in setup.sh).
    # shellcheck disable=SC2016  # $$ and $@ are for the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$lab/run/cupsd.pid" \
        env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$LAB_CUPSD" -f \
        </dev/null >>"$lab/logs/cupsd.out" 2>&1 &
    lab_cups_until 15 lab_cups_scheduler_up || {
        tail -n 20 "$lab/logs/cupsd.out" "$LAB_CUPS_ERROR_LOG" >&2 2>/dev/null || true
        die "cupsd did not answer within 15 s (lpstat -r)"
    }
    if ! pid="$(read_pid "$lab/run/cupsd.pid")" || ! pid_matches "$pid" "$LAB_CUPSD_NEEDLE"; then
        die "the scheduler answers, but not the cupsd the lab started"
    fi
    record_pid "$lab" cupsd "$pid" "$LAB_CUPSD_NEEDLE"
    log "started cupsd (pid $pid)"
}

lab_cupsd_gone() { ! pid_matches "$1" "$LAB_CUPSD_NEEDLE"; }

# lab_cupsd_any: print the pids of live cupsd processes (any, not only the
# lab's; a stopped one can stay a zombie for a while here, which does not count).
lab_cupsd_any() { pgrep -x -r D,R,S,T cupsd; }

# lab_cupsd_stop LAB: SIGTERM to the recorded cupsd only, SIGKILL after 10 s;
# then /run/cups if the lab made it and no scheduler uses it.
lab_cupsd_stop() {
    local lab="$1" pid
    if pid="$(recorded_alive "$lab" cupsd)"; then
        kill -TERM "$pid" 2>/dev/null || true
        if lab_cups_until 10 lab_cupsd_gone "$pid"; then
            log "stopped cupsd (pid $pid)"
        else
            kill -KILL "$pid" 2>/dev/null || true
            lab_cups_until 5 lab_cupsd_gone "$pid" || true
            log "killed cupsd (pid $pid) after SIGTERM timeout"
        fi
    fi
    # The record stays while the process lives, so lab_cups_down reports it.
    recorded_alive "$lab" cupsd >/dev/null || rm -f "$lab/run/pids/cupsd" "$lab/run/cupsd.pid"
    if [[ -e "$lab/run/cups-run-dir" ]] && ! lab_cupsd_any >/dev/null; then
        rm -rf /run/cups
        rm -f "$lab/run/cups-run-dir"
    fi
}

# lab_cups_conf_apply LAB: the original cups-x2go.conf (saved once: a save left
# by an earlier run is the true original and is kept) without active ps2pdf=/
# loglevel= lines, plus the lab's. The backend reads the file for every job.
lab_cups_conf_apply() {
    local lab="$1" save="$1/run/cups-x2go.conf.orig" absent="$1/run/cups-x2go.conf.absent"
    if [[ ! -e "$save" && ! -e "$absent" ]]; then
        if [[ -e "$LAB_CUPS_X2GO_CONF" ]]; then
            cp -p -- "$LAB_CUPS_X2GO_CONF" "$save.tmp" && mv -f "$save.tmp" "$save"
        else
            : >"$absent"
        fi
    fi
    {
        [[ ! -e "$save" ]] || grep -Ev '^[[:space:]]*(ps2pdf|loglevel)[[:space:]]*=' "$save" || true
        printf '%s\n' '' '## x2god lab (tests/lab/cups.sh; teardown.sh restores the original)' \
            "ps2pdf=$LAB_CUPS_PS2PDF" 'loglevel=debug'
    } >"$LAB_CUPS_X2GO_CONF.tmp"
    chmod 644 "$LAB_CUPS_X2GO_CONF.tmp"
    mv -f "$LAB_CUPS_X2GO_CONF.tmp" "$LAB_CUPS_X2GO_CONF"
}

# lab_cups_conf_restore LAB: put the saved original back and forget the save.
lab_cups_conf_restore() {
    local lab="$1" save="$1/run/cups-x2go.conf.orig" absent="$1/run/cups-x2go.conf.absent"
    if [[ -e "$save" ]]; then
        cp -p -- "$save" "$LAB_CUPS_X2GO_CONF"
        rm -f "$save"
        log "restored $LAB_CUPS_X2GO_CONF"
    elif [[ -e "$absent" ]]; then
        rm -f "$LAB_CUPS_X2GO_CONF" "$absent"
    fi
}

# lab_cups_expect WHAT GLOB CMD...: CMD succeeds and its output matches GLOB, or die.
lab_cups_expect() {
    local what="$1" glob="$2" out
    shift 2
    # shellcheck disable=SC2053  # GLOB is a pattern on purpose
    if ! out="$(timeout 10 "$@" 2>&1)" || [[ "$out" != $glob ]]; then
        die "CUPS: expected $what; \`$*\` said: $out"
    fi
}

# lab_cups_job_done QUEUE JOB-ID: the job is finished (completed, or aborted).
lab_cups_job_done() { lpstat -W completed -o "$1" 2>/dev/null | grep -q "^$2 "; }

# lab_cups_job_errors OFFSET JOB-ID: cupsd's warnings and errors about the job
# logged after byte OFFSET of its error log (a failing backend ends the job as
# well, aborted; exit status 2 even holds it for authentication forever).
lab_cups_job_errors() {
    tail -c "+$(($1 + 1))" "$LAB_CUPS_ERROR_LOG" 2>/dev/null | grep -E "^[WE] .*\[Job ${2##*-}\] "
}

lab_cups_job_settled() { lab_cups_job_done "$LAB_CUPS_QUEUE" "$2" || lab_cups_job_errors "$1" "$2"; }

# lab_cups_selftest LAB: what the server side can check without a client.
# The scheduler answers, the queue is enabled, accepts jobs and uses the
# backend; a job printed by root (who never has an X2Go session, so the backend
# converts it and then finds nobody to deliver to) completes: that runs the
# filters, ps2pdf= (Ghostscript) and the backend's session query.
lab_cups_selftest() {
    local lab="$1" q="$LAB_CUPS_QUEUE" out id size
    lab_cups_scheduler_up || die "CUPS: scheduler not running (lpstat -r)"
    lab_cups_expect "queue $q enabled" '*enabled*' lpstat -p "$q"
    lab_cups_expect "queue $q accepting" '*accepting requests*' lpstat -a "$q"
    lab_cups_expect "queue $q on $LAB_CUPS_URI" "*: $LAB_CUPS_URI" lpstat -v "$q"
    size="$(stat -c %s "$LAB_CUPS_ERROR_LOG" 2>/dev/null || echo 0)"
    printf 'x2god lab CUPS self-test\n' >"$lab/run/cups-selftest.txt"
    out="$(lp -d "$q" -t x2god-lab-selftest "$lab/run/cups-selftest.txt" 2>&1)" ||
        die "CUPS: lp -d $q failed: $out"
    [[ "$out" =~ request\ id\ is\ ($q-[0-9]+) ]] || die "CUPS: no job id in: $out"
    id="${BASH_REMATCH[1]}"
    lab_cups_until 30 lab_cups_job_settled "$size" "$id" || true
    if out="$(lab_cups_job_errors "$size" "$id")"; then
        cancel -x "$id" 2>/dev/null || true
        die "CUPS: job $id failed (see $LAB_CUPS_ERROR_LOG and syslog): $out"
    fi
    if ! lab_cups_job_done "$q" "$id"; then
        cancel -x "$id" 2>/dev/null || true
        die "CUPS: job $id did not complete within 30 s"
    fi
    lab_cups_expect "queue $q still enabled after job $id" '*enabled*' lpstat -p "$q"
    rm -f "$lab/run/cups-selftest.txt"
}

# lab_cups_up LAB: cupsd (or the one already running), cups-x2go.conf, the queue,
# the self-test. Dies on any failure.
lab_cups_up() {
    local lab="$1" other
    install -d -m 755 "$lab/logs"
    if recorded_alive "$lab" cupsd >/dev/null; then
        : # still ours (setup.sh normally tears a running lab down first)
    elif lab_cups_scheduler_up; then
        log "a cupsd not started by the lab is running: using it, and leaving it alone"
    elif other="$(lab_cupsd_any)"; then
        die "cupsd (pid ${other//$'\n'/ }) runs but does not answer lpstat -r: not starting a second one"
    else
        lab_cupsd_start "$lab"
    fi
    lab_cups_conf_apply "$lab"
    [[ -r "$LAB_CUPS_PPD" ]] || die "CUPS: $LAB_CUPS_PPD missing (package cups-x2go)"
    if lab_cups_queue_exists && [[ ! -e "$lab/run/cups-queue" ]]; then
        log "CUPS queue $LAB_CUPS_QUEUE existed before the lab: using it, teardown leaves it"
    else
        : >"$lab/run/cups-queue"
        # abort-job: a failing job must not leave the queue stopped (stop-printer)
        # or be retried for minutes (Debian's retry-job) under every later test.
        # lpadmin warns that printer drivers are deprecated; it works.
        lpadmin -p "$LAB_CUPS_QUEUE" -v "$LAB_CUPS_URI" -P "$LAB_CUPS_PPD" -D "Virtual X2Go printer (x2god lab)" \
            -o printer-error-policy=abort-job -E 2>&1 | grep -v 'drivers are deprecated' >&2 || true
        lab_cups_queue_exists || die "CUPS: lpadmin did not create the queue $LAB_CUPS_QUEUE"
    fi
    lab_cups_selftest "$lab"
}

# lab_cups_down LAB: the lab's queue (with its jobs), the lab's cupsd, /run/cups
# if the lab made it, the original cups-x2go.conf. If the lab's cupsd died
# while its queue exists, a cupsd is started just to remove the queue. Prints
# what is left behind (nothing when clean).
lab_cups_down() {
    local lab="$1" pid
    if [[ -e "$lab/run/cups-queue" ]]; then
        if ! lab_cups_scheduler_up && ! lab_cupsd_any >/dev/null; then
            log "the lab's CUPS queue may still be configured and no cupsd runs: starting one to remove it"
            # A subshell: its die must not skip the restores below.
            (lab_cupsd_start "$lab") || log "WARNING: could not start cupsd to remove the queue"
        fi
        if lab_cups_queue_exists; then
            cancel -a -x "$LAB_CUPS_QUEUE" 2>/dev/null || true   # also purges the job files
            if lpadmin -x "$LAB_CUPS_QUEUE"; then log "removed CUPS queue $LAB_CUPS_QUEUE"; fi
        fi
        lab_cups_queue_exists || rm -f "$lab/run/cups-queue"
    fi
    lab_cupsd_stop "$lab"
    lab_cups_conf_restore "$lab"
    [[ ! -e "$lab/run/cups-queue" ]] || printf 'CUPS queue %s\n' "$LAB_CUPS_QUEUE"
    if pid="$(recorded_alive "$lab" cupsd)"; then printf 'cupsd pid %s\n' "$pid"; fi
    return 0
}
