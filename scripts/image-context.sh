#!/usr/bin/env bash
# Prepares the build context of whittle's own image (the Dockerfile at the repository's root)
# from a whittle already built on this machine, since the image does not compile Swift:
#
#   swift build -c release
#   scripts/image-context.sh .build/release/whittle /tmp/whittle-image
#   docker build -t whittle:latest /tmp/whittle-image
#   docker run --rm -v "$PWD:/work" -w /work whittle:latest slim app.tar -o app-slim.tar --profile safe
#
# OUTDIR (new, empty, or an earlier context, which is replaced) gets:
#   Dockerfile    a copy of the repository's
#   rootfs/       what the image adds to its base:
#     usr/local/bin/whittle             the binary without its debug sections (its symbols
#                                       stay, so a crash report still names functions)
#     usr/local/share/whittle/profiles  the shipped Profiles/, where whittle looks beside its binary
#     PATH                              each shared library the binary loads from outside the
#                                       system's library directories (the Swift runtime), at the
#                                       path it was found at, which the binary's RUNPATH names
#   apt.conf.d/   this machine's apt settings for fetching (Acquire::, e.g. a mirror that needs
#                 Check-Valid-Until false), for the image's apt-get
#
# The system libraries (libarchive, zlib, zstd, libseccomp) come from the base's own packages,
# installed by the Dockerfile: the binary must be built on the base's Debian release (or older).
set -euo pipefail

usage() {
    echo "usage: $0 BINARY OUTDIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
binary=$1
outdir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$binary" ] || { echo "$0: $binary is not an executable" >&2; exit 1; }

# An earlier context is replaced; anything else in OUTDIR is not ours to delete.
if [ -e "$outdir" ] && [ -n "$(ls -A "$outdir")" ] &&
    [ "$(ls -A "$outdir" | sort | tr '\n' ' ')" != "Dockerfile apt.conf.d rootfs " ]; then
    echo "$0: $outdir holds more than a build context; give a new or empty directory" >&2
    exit 1
fi
# Made beside OUTDIR and moved into place at the end, so that a failure leaves no half context.
final=$outdir
outdir=$(mktemp -d "${final%/}.partial.XXXX")
trap 'rm -rf "$outdir"' EXIT
mkdir -p "$outdir/rootfs/usr/local/bin" "$outdir/rootfs/usr/local/share/whittle" "$outdir/apt.conf.d"
cp "$root/Dockerfile" "$outdir/Dockerfile"
objcopy --strip-debug "$binary" "$outdir/rootfs/usr/local/bin/whittle"
cp -r "$root/Profiles" "$outdir/rootfs/usr/local/share/whittle/profiles"

# ldd prints "name => /path (address)" for every library of the closure; a missing one is
# "not found", which must stop the build rather than make an image that cannot start.
libraries=$(ldd "$binary")
if grep -q 'not found' <<<"$libraries"; then
    echo "$0: $binary needs libraries this machine does not have:" >&2
    grep 'not found' <<<"$libraries" >&2
    exit 1
fi
while read -r library; do
    case "$library" in
        /lib/* | /lib64/* | /usr/lib/* | /usr/lib64/*) ;; # the base's packages provide these
        *)
            mkdir -p "$outdir/rootfs$(dirname "$library")"
            cp -L "$library" "$outdir/rootfs$library"
            ;;
    esac
done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$libraries")

# Only what fetching needs: hooks (Invoke) and directory overrides (Dir::) belong to this
# machine's own apt, not to the image's.
for file in /etc/apt/apt.conf.d/*; do
    [ -f "$file" ] || continue
    grep -q 'Acquire::' "$file" || continue
    grep -Eq 'Invoke|Dir::' "$file" && continue
    cp "$file" "$outdir/apt.conf.d/"
done
chmod 0755 "$outdir"
rm -rf "$final"
mv "$outdir" "$final"
trap - EXIT
echo "$final: $(du -sh "$final/rootfs" | cut -f1) for the image, $(find "$final/rootfs" -name '*.so*' | wc -l) libraries" >&2
