#!/usr/bin/env bash
# Start or stop a private, throw-away Docker engine.
#
#   scripts/docker-engine.sh start DIR   # prints the host, e.g. unix:///tmp/wd.AbCd/sock
#   scripts/docker-engine.sh stop DIR    # stops it and removes DIR
#
# DIR should be short (the socket path must stay under 108 bytes), for example
#   DIR=$(mktemp -d /tmp/wd.XXXX)
#
# The engine has no bridge and touches no iptables rules, so containers must run with
# `--network none` or `--network host`, and builds need `docker build --network host`
# (with DOCKER_BUILDKIT=0). It stores everything under DIR with the vfs driver.
#
# Environment: DOCKERD (default: dockerd), DOCKER (default: docker),
#              WHITTLE_ENGINE_TIMEOUT (seconds to wait for the engine, default 60).
set -euo pipefail

DOCKERD=${DOCKERD:-dockerd}
DOCKER=${DOCKER:-docker}
TIMEOUT=${WHITTLE_ENGINE_TIMEOUT:-60}

usage() {
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

# True while process $1 exists and is not a zombie.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || echo X)
    [ "$state" != Z ] && [ "$state" != X ]
}

log_tail() {
    if [ -f "$dir/log" ]; then
        echo "---- last lines of $dir/log ----" >&2
        tail -n 40 "$dir/log" >&2
        echo "--------------------------------" >&2
    fi
}

start() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    local sock="$dir/sock"
    if [ ${#sock} -ge 104 ]; then
        echo "$0: socket path $sock is too long (${#sock} bytes); use a short DIR such as \$(mktemp -d /tmp/wd.XXXX)" >&2
        exit 1
    fi
    if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "$0: an engine is already running from $dir (pid $(cat "$dir/pid"))" >&2
        exit 1
    fi
    mkdir -p "$dir/root" "$dir/exec"
    # The engine outlives this script, so it must not inherit any descriptor but its log:
    # a caller's pipe held open by dockerd would make that caller wait for ever.
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
        done
        exec "$DOCKERD" \
            --iptables=false --bridge=none \
            --storage-driver=vfs \
            --data-root "$dir/root" \
            --exec-root "$dir/exec" \
            --pidfile "$dir/pid" \
            -H "unix://$sock"
    ) >"$dir/log" 2>&1 </dev/null &
    local launched=$!
    echo "$launched" >"$dir/launcher.pid"

    local waited=0
    while :; do
        if "$DOCKER" -H "unix://$sock" info >/dev/null 2>&1; then
            break
        fi
        if ! alive "$launched"; then
            echo "$0: dockerd exited during start-up" >&2
            log_tail
            exit 1
        fi
        if [ "$waited" -ge $((TIMEOUT * 4)) ]; then
            echo "$0: dockerd did not answer on unix://$sock within ${TIMEOUT}s" >&2
            log_tail
            stop_engine || true
            exit 1
        fi
        sleep 0.25
        waited=$((waited + 1))
    done
    echo "unix://$sock"
}

# Stops the engine (by the pid it wrote, or the pid we launched), waiting for it to exit.
stop_engine() {
    local pid=""
    if [ -f "$dir/pid" ]; then
        pid=$(cat "$dir/pid")
    elif [ -f "$dir/launcher.pid" ]; then
        pid=$(cat "$dir/launcher.pid")
    fi
    [ -n "$pid" ] || return 0
    alive "$pid" || return 0
    # Only signal the process if it really is a dockerd using this directory.
    if ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--data-root $dir/root"; then
        echo "$0: pid $pid is not the engine of $dir; not signalling it" >&2
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 120); do   # up to 30 s for a clean shutdown
        alive "$pid" || return 0
        sleep 0.25
    done
    echo "$0: dockerd (pid $pid) did not stop after 30s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
        alive "$pid" || return 0
        sleep 0.25
    done
    echo "$0: dockerd (pid $pid) is still alive" >&2
    return 1
}

stop() {
    if [ ! -d "$dir" ]; then
        return 0
    fi
    dir=$(cd "$dir" && pwd -P)
    stop_engine
    # Unmount anything still mounted below DIR, deepest first.
    local m
    for m in $(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$dir"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
