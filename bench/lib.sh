# Shared helpers for the bench scripts (sourced, not executed).
# Private docker engine: never touches a system dockerd, never uses bridge
# networking or iptables. Socket path must stay < 108 bytes, hence /tmp.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ENGINE_DIR=""
ENGINE_SCRIPT="$REPO_DIR/scripts/docker-engine.sh"

# engine_start: starts dockerd in a fresh mktemp dir, exports DOCKER_HOST.
# Uses scripts/docker-engine.sh when the repo has it, else the same inline.
engine_start() {
    command -v dockerd >/dev/null || die "dockerd not found"
    ENGINE_DIR=$(mktemp -d /tmp/wb.XXXX)
    log "starting private dockerd in $ENGINE_DIR"
    if [ -x "$ENGINE_SCRIPT" ] || [ -f "$ENGINE_SCRIPT" ]; then
        DOCKER_HOST=$(bash "$ENGINE_SCRIPT" start "$ENGINE_DIR") || die "dockerd did not come up"
        export DOCKER_HOST
        log "dockerd ready ($DOCKER_HOST)"
        return 0
    fi
    dockerd --iptables=false --bridge=none --storage-driver=vfs \
        --data-root "$ENGINE_DIR/root" --exec-root "$ENGINE_DIR/exec" \
        --pidfile "$ENGINE_DIR/pid" -H "unix://$ENGINE_DIR/sock" \
        >"$ENGINE_DIR/log" 2>&1 </dev/null &
    echo $! >"$ENGINE_DIR/launcher.pid"
    export DOCKER_HOST="unix://$ENGINE_DIR/sock"
    local i
    for i in $(seq 1 60); do
        if docker info >/dev/null 2>&1; then
            log "dockerd ready (pid $(cat "$ENGINE_DIR/launcher.pid"))"
            return 0
        fi
        sleep 1
    done
    tail -20 "$ENGINE_DIR/log" >&2
    die "dockerd did not come up"
}

# engine_stop: stops the dockerd we started (by its pid only) and removes its dir.
engine_stop() {
    [ -n "$ENGINE_DIR" ] && [ -d "$ENGINE_DIR" ] || return 0
    if [ -f "$ENGINE_SCRIPT" ]; then
        log "stopping dockerd in $ENGINE_DIR"
        bash "$ENGINE_SCRIPT" stop "$ENGINE_DIR" || true
        ENGINE_DIR=""
        return 0
    fi
    local pid=""
    [ -f "$ENGINE_DIR/pid" ] && pid=$(cat "$ENGINE_DIR/pid")
    [ -z "$pid" ] && [ -f "$ENGINE_DIR/launcher.pid" ] && pid=$(cat "$ENGINE_DIR/launcher.pid")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        log "stopping dockerd pid $pid"
        kill "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    local m
    for m in $(awk -v d="$ENGINE_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$ENGINE_DIR" || log "could not remove $ENGINE_DIR"
    ENGINE_DIR=""
}

# prepare_whittle WORKDIR: copies the whittle binary ($WHITTLE, default
# .build/release/whittle) to WORKDIR/whittle.bin, so a rebuild during the run
# cannot swap it, and exports BENCH_WHITTLE_BIN and BENCH_WHITTLE_DESC (where it
# came from, for the reports). Returns 1, setting nothing, when there is no binary.
prepare_whittle() {
    local workdir=$1 src=${WHITTLE:-$REPO_DIR/.build/release/whittle}
    [ -x "$src" ] || return 1
    cp "$src" "$workdir/whittle.bin"
    BENCH_WHITTLE_BIN=$workdir/whittle.bin
    BENCH_WHITTLE_DESC="$src, version $("$BENCH_WHITTLE_BIN" --version 2>/dev/null || echo '?'), built $(date -r "$src" '+%F %T'), work tree at $(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo '?')"
    export BENCH_WHITTLE_BIN BENCH_WHITTLE_DESC
    log "whittle: $BENCH_WHITTLE_DESC"
}
