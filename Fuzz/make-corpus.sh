#!/usr/bin/env bash
# Rewrites Fuzz/corpus/ (the committed seed corpus of every harness) from the fixtures, the
# profiles and a Debian root; see make_corpus.py. Builds the plain FuzzImageDocuments and
# FuzzPackages first, which write the seeds that only they can make.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build --product FuzzImageDocuments >&2
swift build --product FuzzPackages >&2
bin=$(swift build --show-bin-path)
python3 Fuzz/make_corpus.py "$bin/FuzzImageDocuments" "$bin/FuzzPackages"
