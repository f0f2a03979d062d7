#!/usr/bin/env bash
# Installs what is missing and runs every test, the Docker end-to-end tests included
# (they start their own private dockerd; under CI=true they must run, not skip).
#
# Under CI=true, or with WHITTLE_ACCEPTANCE=1, it also builds the realistic images of the
# trace acceptance tests, in the background while Swift builds, (a naive Flask image, a pandas + scikit-learn batch job, and the
# zoo of six server apps from Debian's packages, all from one Debian 12 root made with
# mmdebstrap: 20–30 minutes the first time) into $WHITTLE_ACCEPTANCE_IMAGES (default
# bench/work, git-ignored, reused when present). Without them those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# The test targets that run one test at a time (Package.swift says why); the rest run in parallel.
SERIAL_TARGETS="WhittleAcceptanceTests|WhittleTraceTests"
# Of those, the suites that run scanners on real images: a second serial stream.
SCANNER_SUITES="PackageScannerTests|PackageRemovalScannerTests|PythonDevProfileTests"
scripts/install-deps.sh
# Formatting first: it takes seconds, and .swift-format says what it checks.
swift-format lint --strict --recursive Sources Tests Fuzz Package.swift
# Under CI the acceptance images build in the background while Swift builds and the
# fuzzers run: the image build waits mostly on apt, pip and the disk, the others on the CPU.
images_pid=""
images_log=""
if [ "${CI:-}" = true ] || [ "${WHITTLE_ACCEPTANCE:-}" = 1 ]; then
    export WHITTLE_ACCEPTANCE_IMAGES=${WHITTLE_ACCEPTANCE_IMAGES:-$PWD/bench/work}
    mkdir -p "$WHITTLE_ACCEPTANCE_IMAGES"
    images_log=$WHITTLE_ACCEPTANCE_IMAGES/build-images.log
    echo "building the trace acceptance images into $WHITTLE_ACCEPTANCE_IMAGES in the background (log: $images_log)" >&2
    bash bench/build-image.sh --images flask-naive,batch-naive,zoo,unprobed "$WHITTLE_ACCEPTANCE_IMAGES" >"$images_log" 2>&1 &
    images_pid=$!
    # A failed build or test step must not leave the image build running.
    trap '[ -n "$images_pid" ] && kill "$images_pid" 2>/dev/null || true' EXIT
fi
swift build --build-tests
# The unit targets first, in parallel: a unit failure shows in minutes, while the images build.
swift test --skip-build --parallel --skip "$SERIAL_TARGETS"
# Under CI, every libFuzzer harness runs for a fixed time on a copy of its seed corpus and
# any crash, leak or timeout fails the run (scripts/fuzz.sh; about 5 minutes with its build).
if [ "${CI:-}" = true ]; then
    scripts/fuzz.sh "${WHITTLE_FUZZ_SECONDS:-60}"
fi
if [ -n "$images_pid" ]; then
    if ! wait "$images_pid"; then
        tail -40 "$images_log" >&2
        echo "building the acceptance images failed (log: $images_log)" >&2
        exit 1
    fi
    images_pid=""
    echo "acceptance images ready ($(grep -c 'docker save' "$images_log" || true) built, the rest reused)" >&2
fi
# Serial within each stream: the trace tests check that no mount or temporary directory is
# left behind, which other tests running at the same time would blur, and the acceptance
# tests each start a private Docker engine and run real apps on the host's ports. The
# scanner suites (syft and dpkg on real images: mostly CPU, no ports, no engine) run as a
# second stream beside them, while the apps mostly wait; its log follows when it is done.
# --ignore-lock: both streams only read the one build.
scanner_log=$(mktemp)
swift test --skip-build --ignore-lock --no-parallel --filter "$SCANNER_SUITES" >"$scanner_log" 2>&1 &
scanners_pid=$!
status=0
swift test --skip-build --ignore-lock --no-parallel --filter "$SERIAL_TARGETS" --skip "$SCANNER_SUITES" || status=$?
wait "$scanners_pid" || status=$?
echo "---- the scanner suites ----"
cat "$scanner_log"
rm -f "$scanner_log"
exit "$status"
