#!/usr/bin/env bash
# Installs what is missing and runs every test, the Docker end-to-end test included
# (it starts its own private dockerd; under CI=true it must run, not skip).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build --build-tests
# Serial: the trace tests check that no mount or temporary directory is left behind,
# which other tests running at the same time would blur.
swift test --no-parallel
