#!/usr/bin/env bash
# Installs what is missing, builds whittle, and slims a fixture image shipped in Fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build -c release --product whittle >&2
mkdir -p out
.build/release/whittle slim Fixtures/busybox-app.docker.tar -o out/busybox-app-slim.tar --tag busybox-app:slim
echo "output: $(pwd)/out/busybox-app-slim.tar"
