#!/usr/bin/env bash
# Build the benchmark input images and save them with `docker save`:
#   OUTDIR/flask-naive.tar       naive Dockerfile (one RUN per step, recommends,
#                                pip cache) -> ~1 GB docker-archive, many layers
#   OUTDIR/flask-multistage.tar  hand-written multi-stage equivalent
# Both start from the same Debian 12 (bookworm) minbase root made with
# mmdebstrap from this machine's apt sources and loaded with `docker import`.
#
# usage: bench/build-image.sh [--force] [--batch] [OUTDIR]  (OUTDIR default bench/work)
# Outputs that already exist are reused unless --force is given.
# --batch builds only OUTDIR/batch-naive.tar (image/Dockerfile.batch: python3,
# pip, pandas + scikit-learn, a job training a small model on a CSV; for the
# trace section), leaving the two flask images alone; with --force it
# rebuilds only that one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
BATCH=0
OUTDIR=""
for a in "$@"; do
    case "$a" in
        --force) FORCE=1 ;;
        --batch) BATCH=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) die "unknown option $a" ;;
        *) OUTDIR=$a ;;
    esac
done
OUTDIR=${OUTDIR:-$BENCH_DIR/work}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

BASE_TAR=$OUTDIR/bookworm-base.tar
NAIVE_TAR=$OUTDIR/flask-naive.tar
MULTI_TAR=$OUTDIR/flask-multistage.tar
BASE_REF=whittle-bench/bookworm-base:latest
NAIVE_REF=whittle-bench/flask-naive:latest
MULTI_REF=whittle-bench/flask-multistage:latest
BATCH_TAR=$OUTDIR/batch-naive.tar
BATCH_REF=whittle-bench/batch-naive:latest

if [ "$BATCH" = 1 ]; then
    if [ "$FORCE" = 0 ] && [ -s "$BATCH_TAR" ]; then
        log "cached: $BATCH_TAR exists (use --force --batch to rebuild)"
        ls -l "$BATCH_TAR"
        exit 0
    fi
    rm -f "$BATCH_TAR"
    FORCE=0    # --force --batch rebuilds the batch image only
else

if [ "$FORCE" = 0 ] && [ -s "$NAIVE_TAR" ] && [ -s "$MULTI_TAR" ]; then
    log "cached: $NAIVE_TAR and $MULTI_TAR exist (use --force to rebuild)"
    ls -l "$NAIVE_TAR" "$MULTI_TAR"
    exit 0
fi
[ "$FORCE" = 1 ] && rm -f "$BASE_TAR" "$NAIVE_TAR" "$MULTI_TAR"
fi

CTX=""
cleanup() {
    [ -n "$CTX" ] && rm -rf "$CTX"
    engine_stop || true
}
trap cleanup EXIT

# ---- 1. Debian 12 minbase root with mmdebstrap, host apt sources/settings ----
if [ ! -s "$BASE_TAR" ]; then
    command -v mmdebstrap >/dev/null || die "mmdebstrap not installed (apt-get install mmdebstrap)"
    # Host apt sources (mirror settings must be this machine's). Only Debian
    # archives are taken; disabled third-party lists are not globbed anyway.
    SOURCES=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -s "$f" ] || continue
        grep -Eqi '^[^#]*(debian)' "$f" || continue
        SOURCES+=("$f")
    done
    [ ${#SOURCES[@]} -gt 0 ] || die "no Debian apt sources found under /etc/apt"
    # Host apt options that matter for fetching (Acquire::*), e.g. a
    # snapshot mirror needing Check-Valid-Until false. Files with dpkg
    # hooks or Dir:: overrides are left out: they would interfere with
    # mmdebstrap's own package cache.
    APTOPTS=()
    for f in /etc/apt/apt.conf.d/*; do
        [ -f "$f" ] || continue
        grep -q 'Acquire::' "$f" || continue
        grep -Eq 'Invoke|Dir::' "$f" && continue
        APTOPTS+=("--aptopt=$f")
    done
    log "mmdebstrap bookworm minbase (sources: ${SOURCES[*]})"
    mmdebstrap --variant=minbase --mode=root --format=tar "${APTOPTS[@]}" \
        bookworm "$BASE_TAR.partial" "${SOURCES[@]}" 2>&1 | tail -5
    mv "$BASE_TAR.partial" "$BASE_TAR"
fi
log "base rootfs: $(du -h "$BASE_TAR" | cut -f1)"

# ---- 2. private docker engine ----
engine_start

log "docker import $BASE_TAR -> $BASE_REF"
docker import "$BASE_TAR" "$BASE_REF" >/dev/null

# ---- 3. build context outside the repo, with this machine's settings ----
CTX=$(mktemp -d /tmp/wb-ctx.XXXX)
cp "$BENCH_DIR/image/app.py" "$BENCH_DIR/image/Dockerfile.naive" \
   "$BENCH_DIR/image/Dockerfile.multistage" "$BENCH_DIR/image/Dockerfile.batch" \
   "$BENCH_DIR/image/make_data.py" "$BENCH_DIR/image/batch.py" "$CTX/"
mkdir -p "$CTX/host/apt.conf.d"
cp /etc/apt/apt.conf.d/* "$CTX/host/apt.conf.d/" 2>/dev/null || true
[ -s /etc/ssl/certs/ca-certificates.crt ] || die "no /etc/ssl/certs/ca-certificates.crt"
cp /etc/ssl/certs/ca-certificates.crt "$CTX/host/ca-bundle.crt"

# pip settings: the CA bundle always; index settings only if the host's pip
# uses a custom index (pip config files or PIP_* environment).
{
    echo "[global]"
    echo "cert = /usr/local/share/whittle-bench/ca-bundle.crt"
    python3 -m pip config list 2>/dev/null \
      | sed -nE "s/^[^.]*\.(index-url|extra-index-url|trusted-host)='(.*)'$/\1 = \2/p" \
      | sort -u
    [ -n "${PIP_INDEX_URL:-}" ] && echo "index-url = $PIP_INDEX_URL"
    [ -n "${PIP_EXTRA_INDEX_URL:-}" ] && echo "extra-index-url = $PIP_EXTRA_INDEX_URL"
    [ -n "${PIP_TRUSTED_HOST:-}" ] && echo "trusted-host = $PIP_TRUSTED_HOST"
    true
} | awk '!seen[$1]++' >"$CTX/host/pip.conf"
log "pip.conf for the image:"; sed 's/^/    /' "$CTX/host/pip.conf" >&2

build() { # dockerfile ref log
    log "docker build $2 (log: $3)"
    if ! DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$BASE_REF" \
            -f "$CTX/$1" -t "$2" "$CTX" >"$3" 2>&1; then
        tail -30 "$3" >&2
        die "build of $2 failed"
    fi
}

# ---- 4b. batch-job image (--batch only) ----
if [ "$BATCH" = 1 ]; then
    build Dockerfile.batch "$BATCH_REF" "$OUTDIR/build-batch.log"
    docker history "$BATCH_REF" >"$OUTDIR/history-batch.txt"
    log "docker save $BATCH_REF -> $BATCH_TAR"
    docker save -o "$BATCH_TAR.partial" "$BATCH_REF"
    mv "$BATCH_TAR.partial" "$BATCH_TAR"
    ls -l "$BATCH_TAR"
    exit 0
fi

# ---- 4. naive image ----
if [ ! -s "$NAIVE_TAR" ]; then
    build Dockerfile.naive "$NAIVE_REF" "$OUTDIR/build-naive.log"
    docker history "$NAIVE_REF" >"$OUTDIR/history-naive.txt"
    log "docker save $NAIVE_REF -> $NAIVE_TAR"
    docker save -o "$NAIVE_TAR.partial" "$NAIVE_REF"
    mv "$NAIVE_TAR.partial" "$NAIVE_TAR"
fi

# ---- 5. multi-stage comparison ----
if [ ! -s "$MULTI_TAR" ]; then
    build Dockerfile.multistage "$MULTI_REF" "$OUTDIR/build-multistage.log"
    docker history "$MULTI_REF" >"$OUTDIR/history-multistage.txt"
    log "docker save $MULTI_REF -> $MULTI_TAR"
    docker save -o "$MULTI_TAR.partial" "$MULTI_REF"
    mv "$MULTI_TAR.partial" "$MULTI_TAR"
fi

ls -l "$NAIVE_TAR" "$MULTI_TAR"
