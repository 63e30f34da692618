#!/usr/bin/env bash
# Build every x2god fuzz target and fuzz each for an equal share of a time budget.
#
#   fuzz/run.sh [SECONDS_TOTAL]        default 60 (CI); e.g. `fuzz/run.sh 3600` for a long run
#   fuzz/run.sh 600 validate path      only the named targets (the budget is shared among them)
#
# Stable Rust only: cargo-fuzz (installed here when missing) builds with `--sanitizer none`,
# which needs no nightly flag; the instrumentation (SanitizerCoverage, value profiles) and
# libFuzzer itself work on stable. Each target runs in libFuzzer's fork mode with crashes
# ignored, so one finding does not end the target's share: every distinct panic is collected.
#
# Per target it prints executions, coverage, corpus size and the findings (each distinct panic
# location with the message and the input of its smallest reproducer). The exit status is 1
# when any target found a crash, timeout or OOM, 0 otherwise.
#
# Reproduce a finding:   fuzz/target/x86_64-unknown-linux-gnu/release/<target> <artifact file>
# Minimize it:           (cd fuzz && cargo fuzz tmin -O -a -s none <target> <artifact file>)
#
# Environment: FUZZ_JOBS (parallel fuzzing processes per target, default 1), FUZZ_TIMEOUT
# (seconds one input may take before it counts as a hang, default 10).
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$FUZZ_DIR"

TARGETS_ALL=(list envelope start server_info apps validate path options pulse_auth line_framing x2goclient_sessions known_hosts)
TOTAL="${1:-60}"
if ! [[ "$TOTAL" =~ ^[0-9]+$ ]] || ((TOTAL == 0)); then
    echo "usage: $0 [SECONDS_TOTAL] [TARGET...]" >&2
    exit 2
fi
shift || true
if (($#)); then TARGETS=("$@"); else TARGETS=("${TARGETS_ALL[@]}"); fi
for t in "${TARGETS[@]}"; do
    [[ -f "fuzz_targets/$t.rs" ]] || { echo "unknown target $t" >&2; exit 2; }
done
PER=$((TOTAL / ${#TARGETS[@]}))
((PER >= 1)) || PER=1
JOBS="${FUZZ_JOBS:-1}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN="$FUZZ_DIR/target/$TRIPLE/release"
CARGO_FUZZ_VERSION="0.13.2"

log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

log "building ${#TARGETS[@]} target(s) (release, debug assertions, no sanitizer)"
build_start=$SECONDS
# -O release, -a debug assertions (plus overflow checks from Cargo.toml), -s none: stable.
mkdir -p logs artifacts
cargo fuzz build -O -a -s none >logs/build.log 2>&1 || { tail -n 60 logs/build.log >&2; exit 2; }
log "build took $((SECONDS - build_start)) s"

summary=()
failed=0
for t in "${TARGETS[@]}"; do
    corpus="corpus/$t"
    art="artifacts/$t"
    mkdir -p "$corpus" "$art"
    tlog="logs/$t.log"
    find "$art" -type f | sort >"logs/$t.before"
    log "fuzzing $t for ${PER}s"
    rc=0
    "$BIN/$t" "$corpus" \
        -max_total_time="$PER" -timeout="$TIMEOUT" -rss_limit_mb=2048 -max_len=16384 \
        -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -artifact_prefix="$art/" -print_final_stats=1 >"$tlog" 2>&1 || rc=$?
    # The last status line of the fork driver: "#<execs>: cov: C ft: F corp: N exec/s: ...".
    last="$(grep -E '^#[0-9]+: cov:' "$tlog" | tail -n 1 || true)"
    execs="$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$last")"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")"
    corp="$(find "$corpus" -type f | wc -l)"
    # Artifacts of this run: the files that were not there before it.
    mapfile -t new_art < <(find "$art" -type f | sort | comm -13 "logs/$t.before" -)
    line="$(printf '%-12s executions %-10s coverage %-6s corpus %-6s' "$t" "${execs:-?}" "${cov:-?}" "$corp")"
    if ((${#new_art[@]} == 0)) && ((rc == 0)); then
        summary+=("$line findings 0")
        continue
    fi
    if ((${#new_art[@]} == 0)); then
        summary+=("$line ERROR: libFuzzer exited $rc without an artifact (see fuzz/$tlog)")
        failed=1
        continue
    fi
    failed=1
    # Group the crashes by panic location; show the smallest reproducer of each group.
    declare -A example=() count=() message=()
    for a in "${new_art[@]}"; do
        case "$(basename "$a")" in
            crash-*) ;;
            *) key="$(basename "$a" | cut -d- -f1)"
               count[$key]=$((${count[$key]:-0} + 1)); example[$key]="$a"; message[$key]="(hang or OOM)"; continue ;;
        esac
        out="$(timeout 60 "$BIN/$t" "$a" 2>&1 || true)"
        loc="$(grep -m1 -oE 'panicked at [^ ]+' <<<"$out" || echo 'no panic message')"
        msg="$(grep -m1 -A1 'panicked at' <<<"$out" | tail -n 1)"
        count[$loc]=$((${count[$loc]:-0} + 1))
        if [[ -z "${example[$loc]:-}" ]] || (($(stat -c %s "$a") < $(stat -c %s "${example[$loc]}"))); then
            example[$loc]="$a"
            message[$loc]="$msg"
        fi
    done
    summary+=("$line findings ${#count[@]} distinct (${#new_art[@]} artifacts)")
    for loc in "${!count[@]}"; do
        ex="${example[$loc]}"
        summary+=("    $loc  (${count[$loc]}x)")
        summary+=("      message: ${message[$loc]}")
        summary+=("      input:   fuzz/$ex = $(python3 -c 'import sys; print(repr(open(sys.argv[1],"rb").read()[:300]))' "$ex" 2>/dev/null || base64 -w0 "$ex")")
    done
    unset example count message
done

printf '\n== fuzz summary: %s s per target, %s target(s) ==\n' "$PER" "${#TARGETS[@]}"
printf '%s\n' "${summary[@]}"
exit "$failed"
