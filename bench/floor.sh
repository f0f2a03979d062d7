#!/usr/bin/env bash
# whittle against the floor, bsdtar concatenating the same layers (bench/floor.py).
#
#   bench/floor.sh [--runs N] [--only bsdtar,hashed,flatten,safe,pipe,pipeout,extract,trace] [--workdir DIR] [IMAGE.tar...]
#
# extract and trace (root only) compare the trace's set-up with bsdtar -x of the same layers.
#
# Without images: flask-naive.tar and batch-naive.tar from the workdir (bench/build-image.sh
# makes them) and a synthetic image of 250,000 small files (bench/make_many_files.py, 1 GiB,
# made once). Figures: WORKDIR/results-floor.md. WHITTLE=path picks the binary (default
# .build/release/whittle), copied first so a rebuild during the run cannot swap it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WORKDIR=$BENCH_DIR/work
ARGS=()
IMAGES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs|--only|--timeout) ARGS+=("$1" "$2"); shift 2 ;;
        --workdir) WORKDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) IMAGES+=("$1"); shift ;;
    esac
done
mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
command -v bsdtar >/dev/null || { log "installing bsdtar (apt)"; apt-get update -qq && apt-get install -y -qq libarchive-tools >/dev/null; }
[ -x /usr/bin/time ] || { log "installing GNU time (apt)"; apt-get install -y -qq time >/dev/null; }
if [ ${#IMAGES[@]} -eq 0 ]; then
    many=$WORKDIR/many-250000-1g.tar
    [ -f "$many" ] || python3 "$BENCH_DIR/make_many_files.py" "$many" --entries 250000 --gib 1
    IMAGES=("$WORKDIR/flask-naive.tar" "$WORKDIR/batch-naive.tar" "$many")
fi
prepare_whittle "$WORKDIR" || die "no whittle binary (swift build -c release)"
python3 "$BENCH_DIR/floor.py" --whittle "$BENCH_WHITTLE_BIN" --workdir "$WORKDIR" "${ARGS[@]}" "${IMAGES[@]}"
