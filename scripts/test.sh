#!/usr/bin/env bash
# Installs what is missing and runs every test, the Docker end-to-end tests included
# (they start their own private dockerd; under CI=true they must run, not skip).
#
# Under CI=true, or with WHITTLE_ACCEPTANCE=1, it first builds the realistic images of the
# trace acceptance tests (a naive Flask image, a pandas + scikit-learn batch job, and the
# zoo of six server apps from Debian's packages, all from one Debian 12 root made with
# mmdebstrap: 20–30 minutes the first time) into $WHITTLE_ACCEPTANCE_IMAGES (default
# bench/work, git-ignored, reused when present). Without them those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build --build-tests
if [ "${CI:-}" = true ] || [ "${WHITTLE_ACCEPTANCE:-}" = 1 ]; then
    export WHITTLE_ACCEPTANCE_IMAGES=${WHITTLE_ACCEPTANCE_IMAGES:-$PWD/bench/work}
    echo "building the trace acceptance images into $WHITTLE_ACCEPTANCE_IMAGES (reused when present)" >&2
    bash bench/build-image.sh --images flask-naive,batch-naive,zoo "$WHITTLE_ACCEPTANCE_IMAGES"
fi
# Serial: the trace tests check that no mount or temporary directory is left behind,
# which other tests running at the same time would blur.
swift test --no-parallel
# Under CI, every libFuzzer harness runs for a fixed time on a copy of its seed corpus and
# any crash, leak or timeout fails the run (scripts/fuzz.sh; about 5 minutes with its build).
if [ "${CI:-}" = true ]; then
    scripts/fuzz.sh "${WHITTLE_FUZZ_SECONDS:-60}"
fi
