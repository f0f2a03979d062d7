#!/usr/bin/env bash
# Rewrites Fuzz/corpus/ (the committed seed corpus of every harness) from the fixtures, the
# profiles and a Debian root; see make_corpus.py. Builds the plain FuzzImageDocuments first,
# which writes the documents that name its own blobs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build --product FuzzImageDocuments >&2
python3 Fuzz/make_corpus.py "$(swift build --show-bin-path)/FuzzImageDocuments"
