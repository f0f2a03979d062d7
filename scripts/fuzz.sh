#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/, with address sanitizer) and runs each for a fixed
# time on a copy of its seed corpus; the committed corpus is never written. Fails on any
# crash, leak or timeout, and says where the input that caused it was written.
#
#   scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]      # default: 60 s, every harness
#   scripts/fuzz.sh 300 FuzzLayer                            # one harness, five minutes
#
# Two harnesses run at a time (FUZZ_JOBS to change). The build goes to .build/fuzz-CONFIGURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(FuzzImageDocuments FuzzLayer FuzzELF FuzzProfile FuzzTrace FuzzPackages)
jobs=${FUZZ_JOBS:-2}
root=$PWD

# Debug by default: a fresh release build of the dependencies (BoringSSL above all) takes
# minutes longer than the fuzzing itself. FUZZ_CONFIGURATION=release for long local runs.
configuration=${FUZZ_CONFIGURATION:-debug}
build=(swift build --scratch-path ".build/fuzz-$configuration" -c "$configuration"
       -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
started=$SECONDS
for harness in "${harnesses[@]}"; do
    if ! output=$("${build[@]}" --product "$harness" 2>&1); then
        echo "$output" >&2
        echo "fuzz: building $harness failed" >&2
        exit 1
    fi
done
bin=$("${build[@]}" --show-bin-path)
echo "fuzz: built ${#harnesses[@]} harnesses in $((SECONDS - started)) s" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/whittle-fuzz.XXXXXX")
export LSAN_OPTIONS="suppressions=$root/Fuzz/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64}"

# One harness: new units go to a copy of the corpus, findings to $work/HARNESS-findings/.
run() {
    local harness=$1
    mkdir -p "$work/$harness-corpus" "$work/$harness-findings"
    cp -R "Fuzz/corpus/$harness/." "$work/$harness-corpus/"
    (cd "$work" && "$bin/$harness" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 \
        -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$work/$harness-findings/" \
        "$work/$harness-corpus") >"$work/$harness.log" 2>&1
}

failed=()
pids=()
names=()
report() {
    local index=$1 status=0
    wait "${pids[$index]}" || status=$?
    local harness=${names[$index]} log="$work/${names[$index]}.log"
    local runs
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo "?")
    if [ "$status" -eq 0 ]; then
        echo "fuzz: $harness: no finding in $seconds s ($runs inputs)" >&2
    else
        failed+=("$harness")
        echo "fuzz: $harness FAILED (exit $status). End of its log ($log):" >&2
        grep -E 'ERROR|SUMMARY|Fatal error|Precondition|panic|Test unit written' "$log" | head -20 >&2 || tail -30 "$log" >&2
        for finding in "$work/$harness-findings"/*; do
            [ -e "$finding" ] && echo "fuzz: input written to $finding (replay: swift run $harness $finding)" >&2
        done
    fi
}
for harness in "${harnesses[@]}"; do
    [ -d "Fuzz/corpus/$harness" ] || { echo "fuzz: no seed corpus Fuzz/corpus/$harness" >&2; exit 1; }
    if [ ${#pids[@]} -ge "$jobs" ]; then
        report 0
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
    run "$harness" &
    pids+=($!)
    names+=("$harness")
done
while [ ${#pids[@]} -gt 0 ]; do
    report 0
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} harness(es) failed: ${failed[*]}; logs and inputs kept in $work" >&2
    exit 1
fi
rm -rf "$work"
echo "fuzz: every harness ran $seconds s without a finding (total $((SECONDS - started)) s)" >&2
