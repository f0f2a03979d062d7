#!/usr/bin/env bash
# Installs what is missing, builds whittle, slims the demo image shipped in Fixtures/, prints
# the report, and runs the slimmed image to show it still works: with Docker when a Docker
# daemon answers, otherwise in whittle's own sandbox (trace the original, verify the slimmed
# image against the trace; needs root), otherwise it says what it could not check.
#
#   scripts/demo.sh                       # Docker if it answers, else the sandbox
#   WHITTLE_DEMO_RUN=sandbox scripts/demo.sh   # force one way: docker, sandbox or none
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build -c release --product whittle >&2
whittle=.build/release/whittle
input=Fixtures/demo-app.docker.tar
mkdir -p out
output=out/demo-app-slim.tar

echo "\$ whittle slim $input -o $output --profile all --tag demo-app:slim" >&2
"$whittle" slim "$input" -o "$output" --profile all --tag demo-app:slim

how=${WHITTLE_DEMO_RUN:-}
if [ -z "$how" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        how=docker
    elif [ "$(id -u)" -eq 0 ]; then
        how=sandbox
    else
        how=none
    fi
fi

echo >&2
case "$how" in
docker)
    echo "Running the original and the slimmed image with Docker:" >&2
    docker load -q -i "$input" >/dev/null
    docker load -q -i "$output" >/dev/null
    before=$(docker run --rm --network none whittle-fixture/demo-app:1)
    after=$(docker run --rm --network none demo-app:slim)
    echo "  original: $before" >&2
    echo "  slimmed:  $after" >&2
    [ "$before" = "$after" ] || { echo "demo: the slimmed image answers differently" >&2; exit 1; }
    echo "The slimmed image runs and prints the same." >&2
    ;;
sandbox)
    echo "No Docker daemon: running both in whittle's own sandbox (trace, then verify):" >&2
    "$whittle" trace "$input" -o out/demo-app.trace.json --network none --timeout 30 --quiet
    echo "  the original printed: $(cat out/demo-app.trace.log)" >&2
    "$whittle" verify "$output" --trace out/demo-app.trace.json
    echo "The slimmed image runs and prints the same (verify compares its exit code and output)." >&2
    ;;
*)
    echo "Not run: no Docker daemon answers, and whittle's sandbox needs root." >&2
    echo "Run it with: docker load -i $output && docker run --rm demo-app:slim" >&2
    echo "         or: sudo $whittle trace $input -o out/demo-app.trace.json --network none &&" >&2
    echo "             sudo $whittle verify $output --trace out/demo-app.trace.json" >&2
    ;;
esac
echo "output: $(pwd)/$output"
