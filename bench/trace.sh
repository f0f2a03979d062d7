#!/usr/bin/env bash
# Trace section of the whittle benchmark: `whittle trace` an image's app, then
# `whittle slim --trace` with the trace, and check the result still works.
#   web    flask-naive.tar: trace with --probe-http /health and /, slim, run the
#          result (--network host -e PORT=<free port>): GET /health and / -> 200;
#          target >= 15x smaller
#   batch  batch-naive.tar (built by `build-image.sh --batch` when missing):
#          trace to exit (--network none), slim, run the result: stdout
#          identical byte for byte to what `docker run` of the original printed
#          (batch-naive.expected-stdout, recorded by build-image.sh); target >= 6x
#
# usage: bench/trace.sh [--cases web,batch] [--timeout S] [--batch-timeout S]
#                       [--no-docker] [--workdir DIR]
#   --cases LIST       which cases (default web,batch)
#   --timeout S        `whittle trace --timeout` of the web case (default 120)
#   --batch-timeout S  the same for the batch case (default 300)
#   --no-docker        skip the engine: no load / run checks (nor the batch
#                      image's build, nor its reference stdout)
# Environment: WHITTLE=path/to/whittle (default .build/release/whittle; it must
# have the `trace` subcommand). Needs root (whittle trace does).
# Results: printed, and written to WORKDIR/results-trace.md (default bench/work).
# Also run by `bench/run.sh --only trace` (and by plain run.sh), sharing its
# binary copy and its engine.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKDIR=$BENCH_DIR/work
PYARGS=()
NO_DOCKER=0
CASES=web,batch
while [ $# -gt 0 ]; do
    case "$1" in
        --cases) CASES=$2; PYARGS+=("$1" "$2"); shift 2 ;;
        --timeout) PYARGS+=(--web-timeout "$2"); shift 2 ;;
        --batch-timeout) PYARGS+=("$1" "$2"); shift 2 ;;
        --no-docker) NO_DOCKER=1; PYARGS+=("$1"); shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
[ "$(id -u)" = 0 ] || die "whittle trace needs root"

# ---- inputs (cached); the batch image only when that case is wanted ----
"$BENCH_DIR/build-image.sh" "$WORKDIR" >&2
if [[ ",$CASES," == *,batch,* ]] && [ "$NO_DOCKER" = 0 ]; then
    "$BENCH_DIR/build-image.sh" --batch "$WORKDIR" >&2 || log "WARNING: batch image build failed; batch case will be reported as not run"
fi

# ---- whittle: run.sh's copy when called from it, else our own copy ----
if [ -z "${BENCH_WHITTLE_BIN:-}" ] || [ ! -x "$BENCH_WHITTLE_BIN" ]; then
    prepare_whittle "$WORKDIR" || die "no whittle binary at ${WHITTLE:-$REPO_DIR/.build/release/whittle} (swift build -c release --product whittle)"
fi
"$BENCH_WHITTLE_BIN" trace --help >/dev/null 2>&1 || die "$BENCH_WHITTLE_BIN has no trace subcommand (rebuild: swift build -c release --product whittle)"

# ---- engine: run.sh's when it exported one, else a private one of our own ----
if [ "$NO_DOCKER" = 0 ] && [ -z "${BENCH_ENGINE_SHARED:-}" ]; then
    trap engine_stop EXIT
    engine_start
fi

python3 "$BENCH_DIR/trace.py" --workdir "$WORKDIR" \
    --whittle "$BENCH_WHITTLE_BIN" --whittle-desc "$BENCH_WHITTLE_DESC" "${PYARGS[@]}"
