#!/usr/bin/env bash
# Regenerates every committed fixture in Fixtures/ from real tools, on a private Docker engine
# that this script starts and stops itself (scripts/docker-engine.sh). Needs root, dockerd,
# docker, skopeo, python3 and a static busybox (/bin/busybox, or $BUSYBOX). No registry is used:
# every image is built FROM scratch or crafted by Fixtures/make_fixtures.py.
#
#   Fixtures/make-fixtures.sh            # writes the fixtures into Fixtures/
#   Fixtures/make-fixtures.sh OUTDIR     # writes them elsewhere
#   Fixtures/make-fixtures.sh --check    # only checks the fixtures in Fixtures/ (changes nothing)
#
# Everything is made in a temp directory and checked (docker load, create, export, compare)
# before it is moved into place, so a failed run leaves the old fixtures alone. --check runs
# the same checks on the committed files, and also that the expected-* files still match what
# Docker makes of them and that corners.docker.tar and corners.docker25.tar are rebuilt byte
# for byte.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
repo=$(dirname "$here")
mode=generate
if [ "${1:-}" = "--check" ]; then
    mode=check
    shift
fi
out=${1:-$here}
BUSYBOX=${BUSYBOX:-/bin/busybox}
DOCKER=${DOCKER:-docker}
PY=${PYTHON:-python3}
engine="$repo/scripts/docker-engine.sh"
compare="$repo/scripts/compare_exports.py"
helper="$here/make_fixtures.py"

BB_REF=whittle-fixture/busybox-app:1
CORNERS_REF=whittle-fixture/corners:1

for tool in dockerd "$DOCKER" skopeo "$PY"; do
    command -v "$tool" >/dev/null || { echo "make-fixtures: $tool is not installed" >&2; exit 1; }
done
if [ "$mode" = generate ]; then
    [ -x "$BUSYBOX" ] || { echo "make-fixtures: no static busybox at $BUSYBOX" >&2; exit 1; }
    [ "$(head -c 4 "$BUSYBOX" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] ||
        { echo "make-fixtures: $BUSYBOX is not an ELF binary" >&2; exit 1; }
fi

engine_dir=$(mktemp -d /tmp/wd.XXXX)
work=$(mktemp -d /tmp/wf.XXXX)
cleanup() {
    "$engine" stop "$engine_dir" || echo "make-fixtures: could not stop the engine in $engine_dir" >&2
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n==> %s\n' "$*" >&2; }
docker() { command "$DOCKER" "$@"; }

DOCKER_HOST=$("$engine" start "$engine_dir")
export DOCKER_HOST
export DOCKER_BUILDKIT=0
mkdir -p "$work/new" "$work/check"
new="$work/new"

if [ "$mode" = generate ]; then
# ---------------------------------------------------------------------------------------------
step "busybox-app: docker build FROM scratch"
mkdir "$work/ctx"
cp "$here/busybox-app/Dockerfile" "$here/busybox-app/run.sh" "$work/ctx/"
cp "$BUSYBOX" "$work/ctx/busybox"
chmod 0755 "$work/ctx/busybox"
chmod 0644 "$work/ctx/run.sh" "$work/ctx/Dockerfile"
docker build --network host --no-cache -t "$BB_REF" "$work/ctx" >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; exit 1; }

step "busybox-app: docker save (Docker 20.10 layout)"
docker save -o "$new/busybox-app.docker.tar" "$BB_REF"

step "busybox-app: skopeo copy to an oci-archive with gzip layers"
skopeo copy -q --dest-compress-format gzip \
    "docker-archive:$new/busybox-app.docker.tar" "oci-archive:$new/busybox-app.oci-gzip.tar:$BB_REF"

# ---------------------------------------------------------------------------------------------
step "corners: crafted layers as a docker save archive"
"$PY" "$helper" corners "$new/corners.docker.tar"

step "corners: the Docker 25+ layout (oci-layout, index.json, blobs/, manifest.json)"
"$PY" "$helper" docker25 "$new/corners.docker.tar" "$new/corners.docker25.tar"

step "corners: skopeo copy to oci-archives (gzip, zstd, Docker media types)"
skopeo copy -q \
    "docker-archive:$new/corners.docker.tar" "oci-archive:$new/corners.oci.tar:$CORNERS_REF"
skopeo copy -q --dest-compress-format zstd \
    "docker-archive:$new/corners.docker.tar" "oci-archive:$new/corners.oci-zstd.tar:$CORNERS_REF"
skopeo copy -q --format v2s2 \
    "docker-archive:$new/corners.docker.tar" "oci-archive:$new/corners.oci-v2s2.tar:$CORNERS_REF"

# ---------------------------------------------------------------------------------------------
step "demo-app: generated layers as a docker save archive (gzip layers)"
"$PY" "$helper" demo "$BUSYBOX" "$new/demo-app.docker.tar"

else
    # --check: the committed fixtures are the ones to check; expected files go to $new for cmp.
    step "check mode: corners.docker.tar and corners.docker25.tar are reproducible"
    "$PY" "$helper" corners "$work/check/corners.docker.tar"
    cmp "$work/check/corners.docker.tar" "$here/corners.docker.tar" ||
        { echo "make-fixtures: make_fixtures.py corners no longer gives corners.docker.tar" >&2; exit 1; }
    "$PY" "$helper" docker25 "$here/corners.docker.tar" "$work/check/corners.docker25.tar"
    cmp "$work/check/corners.docker25.tar" "$here/corners.docker25.tar" ||
        { echo "make-fixtures: make_fixtures.py docker25 no longer gives corners.docker25.tar" >&2; exit 1; }
    fixtures="$here"
fi
fixtures=${fixtures:-$new}

# ---------------------------------------------------------------------------------------------
# Checks: every fixture loads, and every layout of an image gives the same tree in Docker.

image_id() { docker image inspect --format '{{.Id}}' "$1"; }

# export IMAGE FILE: docker create (never started) + docker export.
export_image() {
    local id
    id=$(docker create --network none "$1" /x)
    docker export -o "$2" "$id"
    docker rm "$id" >/dev/null
}

# docker load FILE, printing the loaded reference.
load() {
    docker load -i "$1" | sed -n 's/^Loaded image: //p; s/^Loaded image ID: //p' | tail -n 1
}

# An oci-archive cannot be loaded by Docker 20.10: copy it to a docker-archive first (through a
# gzip oci-archive, since skopeo will not put zstd layers into a docker-archive).
load_oci() {
    local base
    base="$work/check/$(basename "$1" .tar)"
    skopeo copy -q --dest-compress-format gzip "oci-archive:$1" "oci-archive:$base.gzip.tar:$2"
    skopeo copy -q "oci-archive:$base.gzip.tar" "docker-archive:$base.as-docker.tar:$2"
    load "$base.as-docker.tar"
}

check_same_tree() { # name reference-export other-image
    export_image "$3" "$work/check/$1.export.tar"
    "$PY" "$compare" "$2" "$work/check/$1.export.tar" >"$work/check/$1.compare" ||
        { cat "$work/check/$1.compare" >&2; echo "make-fixtures: $1 differs" >&2; exit 1; }
    echo "   $1: $(tail -n 1 "$work/check/$1.compare")" >&2
}

step "check: busybox-app"
if [ "$mode" = generate ]; then
    bb_id=$(image_id "$BB_REF")
    docker rmi -f "$BB_REF" >/dev/null
fi
[ "$(load "$fixtures/busybox-app.docker.tar")" = "$BB_REF" ] || { echo "make-fixtures: load failed" >&2; exit 1; }
if [ "$mode" = check ]; then
    bb_id=$(image_id "$BB_REF")
    manifest_config=$(tar -xOf "$fixtures/busybox-app.docker.tar" manifest.json |
        "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["Config"].split(".")[0])')
    [ "$bb_id" = "sha256:$manifest_config" ] || { echo "make-fixtures: busybox-app: unexpected image ID $bb_id" >&2; exit 1; }
fi
[ "$(image_id "$BB_REF")" = "$bb_id" ] || { echo "make-fixtures: busybox-app.docker.tar: other image ID" >&2; exit 1; }
docker run --rm --network none "$BB_REF" >"$new/busybox-app.expected-output.txt"
export_image "$BB_REF" "$work/check/bb.export.tar"
"$PY" "$compare" --dump "$work/check/bb.export.tar" >"$new/busybox-app.expected.json"
check_same_tree busybox-app.docker.tar "$work/check/bb.export.tar" "$BB_REF"

load_oci "$fixtures/busybox-app.oci-gzip.tar" whittle-check/bb-oci:1 >/dev/null
check_same_tree busybox-app.oci-gzip.tar "$work/check/bb.export.tar" whittle-check/bb-oci:1
out_oci=$(docker run --rm --network none whittle-check/bb-oci:1)
[ "$out_oci" = "$(cat "$new/busybox-app.expected-output.txt")" ] ||
    { echo "make-fixtures: busybox-app.oci-gzip.tar prints other output" >&2; exit 1; }

step "check: corners"
[ "$(load "$fixtures/corners.docker.tar")" = "$CORNERS_REF" ] || { echo "make-fixtures: load failed" >&2; exit 1; }
corners_id=$(image_id "$CORNERS_REF")
corners_config=$(tar -xOf "$fixtures/corners.docker.tar" manifest.json |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["Config"].split(".")[0])')
[ "$corners_id" = "sha256:$corners_config" ] || { echo "make-fixtures: corners: unexpected image ID $corners_id" >&2; exit 1; }
export_image "$CORNERS_REF" "$work/check/corners.export.tar"
"$PY" "$compare" --dump "$work/check/corners.export.tar" >"$new/corners.expected.json"

docker rmi -f "$CORNERS_REF" >/dev/null
[ "$(load "$fixtures/corners.docker25.tar")" = "$CORNERS_REF" ] || { echo "make-fixtures: load failed" >&2; exit 1; }
[ "$(image_id "$CORNERS_REF")" = "$corners_id" ] || { echo "make-fixtures: corners.docker25.tar: other image ID" >&2; exit 1; }
check_same_tree corners.docker25.tar "$work/check/corners.export.tar" "$CORNERS_REF"

for variant in oci oci-zstd oci-v2s2; do
    load_oci "$fixtures/corners.$variant.tar" "whittle-check/corners-$variant:1" >/dev/null
    check_same_tree "corners.$variant.tar" "$work/check/corners.export.tar" "whittle-check/corners-$variant:1"
done

step "check: demo-app loads and runs"
[ "$(load "$fixtures/demo-app.docker.tar")" = whittle-fixture/demo-app:1 ] ||
    { echo "make-fixtures: demo-app.docker.tar: load failed" >&2; exit 1; }
[ "$(docker run --rm --network none whittle-fixture/demo-app:1)" = "demo-app: serving /app/site (3 pages)" ] ||
    { echo "make-fixtures: demo-app.docker.tar prints other output" >&2; exit 1; }

step "check: compare_exports.py tells different trees apart"
if "$PY" "$compare" "$work/check/bb.export.tar" "$work/check/corners.export.tar" >"$work/check/diff.txt"; then
    echo "make-fixtures: compare_exports.py found no difference between two different images" >&2
    exit 1
fi
echo "   busybox-app vs corners: $(tail -n 1 "$work/check/diff.txt")" >&2

# ---------------------------------------------------------------------------------------------
if [ "$mode" = check ]; then
    step "check: expected files"
    for f in busybox-app.expected-output.txt busybox-app.expected.json corners.expected.json; do
        if ! cmp -s "$new/$f" "$here/$f"; then
            diff -u "$here/$f" "$new/$f" | head -n 40 >&2
            echo "make-fixtures: Fixtures/$f does not match what Docker makes of the fixtures" >&2
            exit 1
        fi
        echo "   $f: matches" >&2
    done
    echo "make-fixtures: all fixtures check out" >&2
    exit 0
fi

step "install into $out"
mkdir -p "$out"
for f in "$new"/*; do
    chmod 0644 "$f"
    mv -f "$f" "$out/"
done
ls -l "$out" >&2
du -sh "$out" >&2
