#!/usr/bin/env bash
# Run the whittle benchmark: whittle vs oci-squash (flatten) and whittle gzip
# vs pigz (compress), on the same flask-naive.tar, in the same run.
#
# usage: bench/run.sh [--runs N] [--squash-runs N] [--gzip-runs N]
#                     [--timeout SECONDS] [--no-docker] [--workdir DIR]
#   --runs N         runs per tool (default 5); --squash-runs / --gzip-runs
#                    override it for one pair
#   --no-docker      skip the docker load / health checks (and the engine)
# Environment: WHITTLE=path/to/whittle (default .build/release/whittle)
# Results: printed, and written to WORKDIR/results.md (default bench/work).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKDIR=$BENCH_DIR/work
PYARGS=()
NO_DOCKER=0
while [ $# -gt 0 ]; do
    case "$1" in
        --runs|--squash-runs|--gzip-runs|--timeout) PYARGS+=("$1" "$2"); shift 2 ;;
        --no-docker) NO_DOCKER=1; PYARGS+=("$1"); shift ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)

# ---- prerequisites (installed on demand) ----
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

# ---- inputs (cached) ----
"$BENCH_DIR/build-image.sh" "$WORKDIR"

# ---- whittle ----
WHITTLE=${WHITTLE:-$REPO_DIR/.build/release/whittle}
if [ -x "$WHITTLE" ]; then
    # Time a private copy, so a rebuild during the run cannot swap the binary.
    cp "$WHITTLE" "$WORKDIR/whittle.bin"
    WDESC="$WHITTLE, version $("$WORKDIR/whittle.bin" --version 2>/dev/null || echo '?'), built $(date -r "$WHITTLE" '+%F %T'), work tree at $(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo '?')"
    log "whittle: $WDESC"
    PYARGS+=(--whittle "$WORKDIR/whittle.bin" --whittle-desc "$WDESC")
else
    log "WARNING: no whittle binary at $WHITTLE (build: swift build -c release); timing the other tools only"
fi

# ---- engine for the load / health checks (started before timing; idle) ----
if [ "$NO_DOCKER" = 0 ]; then
    trap engine_stop EXIT
    engine_start
fi

python3 "$BENCH_DIR/bench.py" --workdir "$WORKDIR" --oci-squash "$VENV/bin/oci-squash" "${PYARGS[@]}"
