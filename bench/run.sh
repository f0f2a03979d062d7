#!/usr/bin/env bash
# Run the whittle benchmark. Two sections, both on the same flask-naive.tar:
#   compare   whittle vs oci-squash (flatten) and whittle gzip vs pigz (compress)
#   profiles  whittle slim with removal profiles vs the multi-stage image
#             (bench/profiles.sh; results in WORKDIR/results-profiles.md)
#   trace     whittle trace + slim --trace on the web app and a batch job
#             (bench/trace.sh; results in WORKDIR/results-trace.md)
#
# usage: bench/run.sh [--only compare|profiles|trace] [--runs N] [--squash-runs N]
#                     [--gzip-runs N] [--profile-runs N] [--timeout SECONDS]
#                     [--no-docker] [--workdir DIR]
#   --only S         run one section (default: all three)
#   --runs N         runs per tool in `compare` (default 5); --squash-runs /
#                    --gzip-runs override it for one pair
#   --profile-runs N timed runs in `profiles` (default 3)
#   --no-docker      skip the docker load / run checks (and the engine)
# Environment: WHITTLE=path/to/whittle (default .build/release/whittle)
# Results: printed, and written to WORKDIR/results.md, WORKDIR/results-profiles.md
# and WORKDIR/results-trace.md (default WORKDIR bench/work).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKDIR=$BENCH_DIR/work
PYARGS=()       # bench.py (compare)
PROFARGS=()     # profiles.sh
TRACEARGS=()    # trace.sh
NO_DOCKER=0
ONLY=all
while [ $# -gt 0 ]; do
    case "$1" in
        --runs|--squash-runs|--gzip-runs) PYARGS+=("$1" "$2"); shift 2 ;;
        --timeout) PYARGS+=("$1" "$2"); PROFARGS+=("$1" "$2"); shift 2 ;;
        --profile-runs) PROFARGS+=(--runs "$2"); shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --no-docker) NO_DOCKER=1; PYARGS+=("$1"); PROFARGS+=("$1"); TRACEARGS+=("$1"); shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
case "$ONLY" in all|compare|profiles|trace) ;; *) die "--only takes compare, profiles or trace, not $ONLY" ;; esac
want() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)

# ---- prerequisites of `compare` (installed on demand) ----
if want compare; then
    if [ ! -x /usr/bin/time ]; then
        log "installing GNU time (apt)"
        apt-get update -qq && apt-get install -y -qq time >/dev/null
    fi
    command -v pigz >/dev/null || { log "installing pigz (apt)"; apt-get install -y -qq pigz >/dev/null; }
    VENV=$WORKDIR/venv
    if [ ! -x "$VENV/bin/oci-squash" ]; then
        log "installing oci-squash into $VENV (pip)"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q oci-squash
    fi
    log "oci-squash $("$VENV/bin/pip" show oci-squash 2>/dev/null | sed -n 's/^Version: //p')"
fi

# ---- inputs (cached) ----
"$BENCH_DIR/build-image.sh" "$WORKDIR"

# ---- whittle ----
if prepare_whittle "$WORKDIR"; then
    PYARGS+=(--whittle "$BENCH_WHITTLE_BIN" --whittle-desc "$BENCH_WHITTLE_DESC")
else
    log "WARNING: no whittle binary at ${WHITTLE:-$REPO_DIR/.build/release/whittle} (build: swift build -c release); timing the other tools only"
fi

# ---- engine for the load / health checks (started before timing; idle) ----
if [ "$NO_DOCKER" = 0 ]; then
    trap engine_stop EXIT
    engine_start
    export BENCH_ENGINE_SHARED=1    # profiles.sh uses this engine
fi

rc=0
if want compare; then
    python3 "$BENCH_DIR/bench.py" --workdir "$WORKDIR" --oci-squash "$VENV/bin/oci-squash" "${PYARGS[@]}" || rc=$?
fi
if want profiles; then
    if [ -n "${BENCH_WHITTLE_BIN:-}" ]; then
        "$BENCH_DIR/profiles.sh" --workdir "$WORKDIR" "${PROFARGS[@]}" || rc=$?
    else
        log "profiles section skipped: it needs a whittle binary"
        [ "$ONLY" = profiles ] && rc=1
    fi
fi
if want trace; then
    if [ -n "${BENCH_WHITTLE_BIN:-}" ]; then
        "$BENCH_DIR/trace.sh" --workdir "$WORKDIR" "${TRACEARGS[@]}" || rc=$?
    else
        log "trace section skipped: it needs a whittle binary"
        [ "$ONLY" = trace ] && rc=1
    fi
fi
exit $rc
