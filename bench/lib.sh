# bench/lib.sh - what bench.sh and scale.sh share: a master and workers on
# this machine over ipc://, and timing. Sourced; the caller defines die and
# BIN.

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}'; }

# start_cluster WORKERS SLOTS LOG [WORKER OPTION...]: a master and WORKERS
# workers of SLOTS slots each, in a short private folder $IPC (a socket path
# must fit in 108 bytes); returns once all have joined, so that only the run
# is timed.
IPC='' MASTER_PID='' WORKER_PIDS=()
start_cluster() {
    local n=$1 slots=$2 log=$3 i
    shift 3
    IPC=$(mktemp -d /tmp/msbench.XXXXXX)
    export IPC # methods run in a child bash
    "$BIN/multisync-master" --listen "ipc://$IPC/w" --control "ipc://$IPC/c" \
        --catalog "$IPC/cat.db" >"$log.master.log" 2>&1 &
    MASTER_PID=$!
    for ((i = 1; i <= n; i++)); do
        "$BIN/multisync-worker" --master "ipc://$IPC/w" --slots "$slots" --name "bench-w$i" "$@" \
            >"$log.worker$i.log" 2>&1 &
        WORKER_PIDS+=($!)
    done
    for i in $(seq 100); do
        "$BIN/multisync" status --master "ipc://$IPC/c" --json 2>/dev/null |
            jq -e --argjson n "$n" '.workers | length == $n' >/dev/null 2>&1 && return
        kill -0 "$MASTER_PID" 2>/dev/null || die "the master died at start-up: $(tail -5 "$log.master.log")"
        sleep 0.2
    done
    die "$n workers did not join the master within 20 s (see $log.*.log)"
}

# SIGTERM drains a worker (it is idle: it exits at once); then the master.
stop_cluster() {
    local pid
    for pid in "${WORKER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${WORKER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -n $MASTER_PID ]]; then
        kill "$MASTER_PID" 2>/dev/null || true
        wait "$MASTER_PID" 2>/dev/null || true
    fi
    [[ -n $IPC ]] && rm -rf "$IPC"
    IPC='' MASTER_PID='' WORKER_PIDS=()
}
