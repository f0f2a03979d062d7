#!/usr/bin/env bash
# Build the benchmark input images and save them with `docker save`:
#   OUTDIR/flask-naive.tar       naive Dockerfile (one RUN per step, recommends,
#                                pip cache) -> ~800 MB docker-archive, many layers
#   OUTDIR/flask-multistage.tar  hand-written multi-stage equivalent
#   OUTDIR/batch-naive.tar       image/Dockerfile.batch: a full Python-style base
#                                (compilers, -dev libraries), pandas + scikit-learn
#                                and a job that trains small models on a CSV and
#                                prints predictions (~1.5 GB); with it
#   OUTDIR/batch-naive.expected-stdout, what `docker run` of that image prints
# All start from the same Debian 12 (bookworm) minbase root made with
# mmdebstrap from this machine's apt sources and loaded with `docker import`.
#
# usage: bench/build-image.sh [--force] [--batch | --images LIST] [OUTDIR]
#   OUTDIR        default bench/work
#   --images LIST which images, comma-separated from flask-naive,
#                 flask-multistage, batch-naive (default: the two flask ones)
#   --batch       the same as --images batch-naive
#   --force       rebuild the listed images even if they exist
# Images that already exist are reused unless --force is given. The test suite's
# trace acceptance tests use flask-naive and batch-naive (scripts/test.sh builds
# them under CI=true).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
IMAGES=flask-naive,flask-multistage
OUTDIR=""
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --batch) IMAGES=batch-naive ;;
        --images) [ $# -ge 2 ] || die "--images needs a list"; IMAGES=$2; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) OUTDIR=$1 ;;
    esac
    shift
done
for name in ${IMAGES//,/ }; do
    case "$name" in
        flask-naive|flask-multistage|batch-naive) ;;
        *) die "unknown image '$name' (choose from flask-naive, flask-multistage, batch-naive)" ;;
    esac
done
OUTDIR=${OUTDIR:-$BENCH_DIR/work}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

BASE_TAR=$OUTDIR/bookworm-base.tar
BASE_REF=whittle-bench/bookworm-base:latest
BATCH_STDOUT=$OUTDIR/batch-naive.expected-stdout

# What to build: listed images that are missing (or all listed ones with --force).
# A batch image saved without its reference output (older runs) only needs running.
TODO=()
REFERENCE_ONLY=0
for name in flask-naive flask-multistage batch-naive; do
    [[ ",$IMAGES," == *",$name,"* ]] || continue
    if [ "$FORCE" = 1 ] || [ ! -s "$OUTDIR/$name.tar" ]; then
        TODO+=("$name")
        continue
    fi
    log "cached: $OUTDIR/$name.tar (use --force to rebuild)"
    if [ "$name" = batch-naive ] && [ ! -s "$BATCH_STDOUT" ]; then REFERENCE_ONLY=1; fi
done
if [ ${#TODO[@]} -eq 0 ] && [ "$REFERENCE_ONLY" = 0 ]; then
    exit 0
fi

CTX=""
cleanup() {
    [ -n "$CTX" ] && rm -rf "$CTX"
    engine_stop || true
}
trap cleanup EXIT

# record_batch_output: what Docker itself prints when it runs the batch image.
record_batch_output() {
    log "docker run whittle-bench/batch-naive:latest -> $BATCH_STDOUT"
    docker run --rm --network none whittle-bench/batch-naive:latest >"$BATCH_STDOUT.partial"
    mv "$BATCH_STDOUT.partial" "$BATCH_STDOUT"
}
load_and_record_batch_output() {
    log "docker load $OUTDIR/batch-naive.tar (for its reference output only)"
    docker load -q -i "$OUTDIR/batch-naive.tar" >/dev/null
    record_batch_output
}
if [ ${#TODO[@]} -eq 0 ]; then    # only the reference output: no base or build context needed
    engine_start
    load_and_record_batch_output
    exit 0
fi

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
    local attempt
    for attempt in 1 2; do
        log "docker build $2 (log: $3, attempt $attempt)"
        if DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$BASE_REF" \
                -f "$CTX/$1" -t "$2" "$CTX" >"$3" 2>&1; then
            return 0
        fi
        tail -30 "$3" >&2
        # A second attempt resumes from the engine's build cache: it only helps when a
        # download from the Debian mirror or PyPI failed on the way.
    done
    die "build of $2 failed twice"
}

# save REF NAME: docker save REF to OUTDIR/NAME.tar, atomically.
save() {
    docker history "$1" >"$OUTDIR/history-$2.txt"
    log "docker save $1 -> $OUTDIR/$2.tar"
    docker save -o "$OUTDIR/$2.tar.partial" "$1"
    mv "$OUTDIR/$2.tar.partial" "$OUTDIR/$2.tar"
    ls -l "$OUTDIR/$2.tar" >&2
}

for name in "${TODO[@]}"; do
    rm -f "$OUTDIR/$name.tar"
    [ "$name" != batch-naive ] || rm -f "$BATCH_STDOUT"
    case "$name" in
        flask-naive) build Dockerfile.naive whittle-bench/flask-naive:latest "$OUTDIR/build-naive.log" ;;
        flask-multistage) build Dockerfile.multistage whittle-bench/flask-multistage:latest "$OUTDIR/build-multistage.log" ;;
        batch-naive)
            build Dockerfile.batch whittle-bench/batch-naive:latest "$OUTDIR/build-batch.log"
            record_batch_output
            ;;
    esac
    save "whittle-bench/$name:latest" "$name"
done
[ "$REFERENCE_ONLY" = 0 ] || load_and_record_batch_output
