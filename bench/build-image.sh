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
#   OUTDIR/zoo-NAME.tar          the zoo, NAME one of nginx, postgres, node, java,
#                                php, shell: image/zoo/Dockerfile.NAME, an app
#                                from Debian packages (naive: recommends, apt
#                                lists kept) on its own port of the host network;
#                                with each OUTDIR/zoo-NAME.expected, its answer
#                                to its question in image/zoo/apps.json
#                                (asked with bench/zoo_ask.py)
#   OUTDIR/unprobed-NAME.tar     the unprobed set, NAME one of pystdlib, flask,
#                                express, mariadb, perl, ruby: image/unprobed/Dockerfile.NAME,
#                                an app traced through one question and asked
#                                others its probe never asked; with each
#                                OUTDIR/unprobed-NAME.expected, its answers to
#                                all its questions in image/unprobed/apps.json,
#                                one block per question (zoo_ask.py --all)
# All start from the same Debian 12 (bookworm) minbase root made with
# mmdebstrap from this machine's apt sources and loaded with `docker import`.
#
# usage: bench/build-image.sh [--force] [--batch | --images LIST] [OUTDIR]
#   OUTDIR        default bench/work
#   --images LIST which images, comma-separated from flask-naive,
#                 flask-multistage, batch-naive, zoo-nginx, zoo-postgres,
#                 zoo-node, zoo-java, zoo-php, zoo-shell, zoo for all six
#                 zoo images, unprobed-pystdlib, unprobed-flask,
#                 unprobed-express, unprobed-mariadb, unprobed-perl,
#                 unprobed-ruby, and unprobed for those
#                 six (default: the two flask ones)
#   --batch       the same as --images batch-naive
#   --force       rebuild the listed images even if they exist
# Images that already exist are reused unless --force is given; a reused image
# without its reference output (.expected-stdout, .expected) is only run to
# record it. The test suite's trace acceptance tests use flask-naive and
# batch-naive (scripts/test.sh builds them under CI=true); the zoo and unprobed
# acceptance tests use the zoo and unprobed images.
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
        -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) OUTDIR=$1 ;;
    esac
    shift
done
ZOO_IMAGES="zoo-nginx zoo-postgres zoo-node zoo-java zoo-php zoo-shell"
UNPROBED_IMAGES="unprobed-pystdlib unprobed-flask unprobed-express unprobed-mariadb unprobed-perl unprobed-ruby"
ALL_IMAGES="flask-naive flask-multistage batch-naive $ZOO_IMAGES $UNPROBED_IMAGES"
WANTED=","    # the listed images, groups spelled out, as ",a,b,"
for name in ${IMAGES//,/ }; do
    case " zoo unprobed $ALL_IMAGES " in
        *" $name "*) ;;
        *) die "unknown image '$name' (choose from ${ALL_IMAGES// /, }, zoo, unprobed)" ;;
    esac
    case "$name" in
        zoo) WANTED+="${ZOO_IMAGES// /,}," ;;
        unprobed) WANTED+="${UNPROBED_IMAGES// /,}," ;;
        *) WANTED+="$name," ;;
    esac
done
OUTDIR=${OUTDIR:-$BENCH_DIR/work}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

BASE_TAR=$OUTDIR/bookworm-base.tar
BASE_REF=whittle-bench/bookworm-base:latest
BATCH_STDOUT=$OUTDIR/batch-naive.expected-stdout
ZOO_MANIFEST=$BENCH_DIR/image/zoo/apps.json
UNPROBED_MANIFEST=$BENCH_DIR/image/unprobed/apps.json

# reference_file NAME: where what the original image does is recorded (nothing
# for the flask images, whose checks run the image itself).
reference_file() {
    case "$1" in
        batch-naive) echo "$BATCH_STDOUT" ;;
        zoo-*|unprobed-*) echo "$OUTDIR/$1.expected" ;;
    esac
}

# What to build: listed images that are missing (or all listed ones with --force).
# An image saved without its reference output (older runs, or a run that was
# interrupted after the save) only needs running.
TODO=()
REFERENCE_ONLY=()
for name in $ALL_IMAGES; do
    [[ "$WANTED" == *",$name,"* ]] || continue
    if [ "$FORCE" = 1 ] || [ ! -s "$OUTDIR/$name.tar" ]; then
        TODO+=("$name")
        continue
    fi
    log "cached: $OUTDIR/$name.tar (use --force to rebuild)"
    ref=$(reference_file "$name")
    if [ -n "$ref" ] && [ ! -s "$ref" ]; then REFERENCE_ONLY+=("$name"); fi
done
if [ ${#TODO[@]} -eq 0 ] && [ ${#REFERENCE_ONLY[@]} -eq 0 ]; then
    exit 0
fi

CTX=""
ZOO_CONTAINER=""
cleanup() {
    [ -n "$CTX" ] && rm -rf "$CTX"
    # A zoo app holds its port on the host's network until its container goes.
    [ -n "$ZOO_CONTAINER" ] && docker rm -f "$ZOO_CONTAINER" >/dev/null 2>&1
    engine_stop || true
}
trap cleanup EXIT

# record_batch_output: what Docker itself prints when it runs the batch image.
record_batch_output() {
    log "docker run whittle-bench/batch-naive:latest -> $BATCH_STDOUT"
    docker run --rm --network none whittle-bench/batch-naive:latest >"$BATCH_STDOUT.partial"
    mv "$BATCH_STDOUT.partial" "$BATCH_STDOUT"
}
# record_zoo_answer NAME: what the original zoo image answers to its question in
# the manifest, asked with zoo_ask.py while it runs on the host's network. An
# unprobed-* image is asked all its questions (zoo_ask.py --all: one block each).
record_zoo_answer() {
    local name=$1 expected=$OUTDIR/$1.expected ok=1 manifest=$ZOO_MANIFEST ask=()
    case "$name" in unprobed-*) manifest=$UNPROBED_MANIFEST; ask=(--all) ;; esac
    python3 "$BENCH_DIR/zoo_ask.py" "$manifest" "$name" --check-ports-free \
        || die "cannot record $name's answer while another process holds its port"
    log "docker run -d --network host whittle-bench/$name:latest; zoo_ask.py $name ${ask[*]} -> $expected"
    ZOO_CONTAINER=$(docker run -d --network host "whittle-bench/$name:latest")
    # --expect-ok: a 404 or 500 from the original is a broken image, not an answer.
    # Asked twice: an answer that changes between requests (a time, a pid) could
    # never be compared with a slimmed copy's.
    python3 "$BENCH_DIR/zoo_ask.py" "$manifest" "$name" ${ask[@]+"${ask[@]}"} \
        --docker-container "$ZOO_CONTAINER" --expect-ok >"$expected.partial" || ok=0
    if [ "$ok" = 1 ]; then
        python3 "$BENCH_DIR/zoo_ask.py" "$manifest" "$name" ${ask[@]+"${ask[@]}"} \
            --docker-container "$ZOO_CONTAINER" --expect-ok >"$expected.again" || ok=0
    fi
    if [ "$ok" = 1 ] && ! cmp -s "$expected.partial" "$expected.again"; then
        log "$name answered differently when asked again:"
        diff "$expected.partial" "$expected.again" >&2 || true
        ok=0
    fi
    # The answer must come from this container: were the port taken meanwhile by
    # someone else on the host, the app would have exited and another process answered.
    if [ "$ok" = 1 ] && [ "$(docker inspect -f '{{.State.Running}}' "$ZOO_CONTAINER")" != true ]; then
        log "$name exited although its question was answered (its port taken on this host?)"
        ok=0
    fi
    if [ "$ok" = 0 ]; then
        log "last output of $name:"
        docker logs --tail 30 "$ZOO_CONTAINER" 2>&1 | sed 's/^/    /' >&2 || true
    fi
    docker rm -f "$ZOO_CONTAINER" >/dev/null
    ZOO_CONTAINER=""
    rm -f "$expected.again"
    if [ "$ok" = 0 ]; then
        rm -f "$expected.partial"
        die "no reference answer from $name"
    fi
    mv "$expected.partial" "$expected"
    log "$name answered $(wc -c <"$expected") bytes: $(head -c 100 "$expected" | tr '\n' ' ')"
}

# load_and_record_reference NAME: a cached image's reference output only.
load_and_record_reference() {
    log "docker load $OUTDIR/$1.tar (for its reference output only)"
    docker load -q -i "$OUTDIR/$1.tar" >/dev/null
    case "$1" in
        batch-naive) record_batch_output ;;
        zoo-*|unprobed-*) record_zoo_answer "$1" ;;
    esac
}
if [ ${#TODO[@]} -eq 0 ]; then    # only reference outputs: no base or build context needed
    engine_start
    for name in "${REFERENCE_ONLY[@]}"; do load_and_record_reference "$name"; done
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
cp -r "$BENCH_DIR/image/zoo" "$CTX/zoo"
cp -r "$BENCH_DIR/image/unprobed" "$CTX/unprobed"
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
    local attempt start=$SECONDS
    for attempt in 1 2; do
        log "docker build $2 (log: $3, attempt $attempt)"
        if DOCKER_BUILDKIT=0 docker build --network host --build-arg "BASE=$BASE_REF" \
                -f "$CTX/$1" -t "$2" "$CTX" >"$3" 2>&1; then
            log "built $2 in $((SECONDS - start))s"
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

# build_one NAME: builds one listed image, records its reference answer, and saves it.
build_one() {
    local name=$1 ref
    rm -f "$OUTDIR/$name.tar"
    ref=$(reference_file "$name")
    [ -z "$ref" ] || rm -f "$ref"
    case "$name" in
        flask-naive) build Dockerfile.naive whittle-bench/flask-naive:latest "$OUTDIR/build-naive.log" ;;
        flask-multistage) build Dockerfile.multistage whittle-bench/flask-multistage:latest "$OUTDIR/build-multistage.log" ;;
        batch-naive)
            build Dockerfile.batch whittle-bench/batch-naive:latest "$OUTDIR/build-batch.log"
            record_batch_output
            ;;
        zoo-*)
            # The zoo images share the build cache of this engine up to `apt-get update`.
            build "zoo/Dockerfile.${name#zoo-}" "whittle-bench/$name:latest" "$OUTDIR/build-$name.log"
            record_zoo_answer "$name"
            ;;
        unprobed-*)
            build "unprobed/Dockerfile.${name#unprobed-}" "whittle-bench/$name:latest" "$OUTDIR/build-$name.log"
            record_zoo_answer "$name"
            ;;
    esac
    save "whittle-bench/$name:latest" "$name"
}

# Two lanes, about even: the pip images (Flask and the batch job, which wait mostly on PyPI
# and the disk) in the background, the zoo and unprobed apps (Debian's packages) in the
# foreground. Only the zoo's answers run on the host's network, all in one lane, so no two
# apps ever meet on a port.
PIP_IMAGES=()
APT_IMAGES=()
for name in "${TODO[@]}"; do
    case "$name" in
        flask-*|batch-*) PIP_IMAGES+=("$name") ;;
        *) APT_IMAGES+=("$name") ;;
    esac
done
pip_lane=""
if [ ${#PIP_IMAGES[@]} -gt 0 ]; then
    ( for name in "${PIP_IMAGES[@]}"; do build_one "$name"; done ) &
    pip_lane=$!
fi
for name in ${APT_IMAGES[@]+"${APT_IMAGES[@]}"}; do build_one "$name"; done
if [ -n "$pip_lane" ]; then
    wait "$pip_lane" || die "building the Flask or batch image failed (logs: $OUTDIR/build-*.log)"
fi
for name in ${REFERENCE_ONLY[@]+"${REFERENCE_ONLY[@]}"}; do load_and_record_reference "$name"; done
