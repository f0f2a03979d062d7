#!/usr/bin/env bash
# Prints one line per output of a fixed set of whittle runs on the shipped fixtures (and, with
# WHITTLE_ACCEPTANCE_IMAGES, on the acceptance images): the run and the sha256 of what it wrote.
# Run it with two builds and diff the lists to show that a change left every output,
# dry run, report and inspection byte-identical:
#
#   scripts/output-digests.sh OLD/whittle > old.txt; scripts/output-digests.sh NEW/whittle > new.txt
#   diff old.txt new.txt
set -euo pipefail
whittle=${1:?usage: scripts/output-digests.sh WHITTLE}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
images=("$root"/Fixtures/*.tar)
if [ -n "${WHITTLE_ACCEPTANCE_IMAGES:-}" ]; then
    for name in flask-naive batch-naive zoo-nginx; do
        [ -f "$WHITTLE_ACCEPTANCE_IMAGES/$name.tar" ] && images+=("$WHITTLE_ACCEPTANCE_IMAGES/$name.tar")
    done
fi
digest() { sha256sum "$1" | cut -c1-16; }
for image in "${images[@]}"; do
    name=$(basename "$image")
    # Hostile fixtures are refused; their message is part of what must not change.
    for args in "" "--profile safe" "--profile all --compression gzip"; do
        if "$whittle" slim "$image" -o "$work/out.tar" $args --report "$work/report.json" \
            >"$work/stdout" 2>"$work/stderr"; then
            sed "s|$work|WORK|g" "$work/report.json" >"$work/report.norm"
            echo "$name slim $args: tar $(digest "$work/out.tar") report $(digest "$work/report.norm")"
        else
            echo "$name slim $args: refused: $(sed "s|$work|WORK|g" "$work/stderr" | sha256sum | cut -c1-16)"
        fi
        rm -f "$work/out.tar" "$work/report.json"
        for format in text json; do
            if "$whittle" slim "$image" -o "$work/dry.tar" $args --dry-run --format "$format" >"$work/dry" 2>/dev/null; then
                echo "$name dry-run $args --format $format: $(sed "s|$work|WORK|g" "$work/dry" | sha256sum | cut -c1-16)"
            fi
        done
    done
    if "$whittle" inspect "$image" --format json >"$work/inspect" 2>/dev/null; then
        echo "$name inspect: $(digest "$work/inspect")"
    fi
done
