#!/usr/bin/env bash
# Makes sure the ordinary user `whittle-rootless` exists with subordinate UID and GID ranges.
#
# CI traces as this user to test rootless tracing (Tests/WhittleAcceptanceTests/SandboxIsolationTests.swift):
# without root, the sandbox maps the app's users onto the user's subordinate ranges through
# newuidmap/newgidmap (package uidmap, which the CI script installs; this script installs
# nothing). Run as root. Idempotent: a user that exists keeps its settings, and a range is
# added only when the user has none. Prints one line saying what it did.
set -euo pipefail

user=whittle-rootless
first=231072
count=65536

if [ "$(id -u)" -ne 0 ]; then
    echo "$0: must run as root (it adds a user and writes /etc/subuid and /etc/subgid)" >&2
    exit 1
fi

done_list=()

if ! id -u "$user" >/dev/null 2>&1; then
    # No home directory; SUB_*_COUNT=0 stops useradd from picking ranges itself, so the
    # user gets exactly the ranges below.
    useradd -M -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$user"
    done_list+=("created user $user (uid $(id -u "$user"))")
fi

# Appends USER:FIRST:COUNT to FILE unless the user already has a range there.
add_range() {
    local file=$1
    if [ -f "$file" ] && grep -q "^$user:" "$file"; then
        return 0
    fi
    echo "$user:$first:$count" >>"$file"
    done_list+=("added $user:$first:$count to $file")
}
add_range /etc/subuid
add_range /etc/subgid

if [ ${#done_list[@]} -eq 0 ]; then
    echo "rootless-user.sh: nothing to do: $user exists with ranges in /etc/subuid and /etc/subgid"
else
    summary=$(printf '%s; ' "${done_list[@]}")
    echo "rootless-user.sh: ${summary%; }"
fi
