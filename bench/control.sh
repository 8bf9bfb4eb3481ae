#!/usr/bin/env bash
# Control-plane benchmark: N tiny tasks through a real master and two real
# workers on loopback TCP with CURVE, the workers' executor a no-op (no
# rsync), so what is measured is dispatch, accounting and the catalog:
# tasks per second, and the master's peak RSS (VmHWM).
#
# With --workers W (more than 2) the workers are simulated: W agents of
# --slots S (16) each, many per process (multisync-worker --noop-executor
# --agents, spread over --procs P processes, 2 by default), each with its
# own connection, name, key and CURVE handshake, its own credit and
# heartbeats: the master sees W real peers. That run prints its figures
# next to the goals of a fleet (>= 20,000 tasks/s, status <= 100 ms, master
# RSS <= 128 MB).
#
# Tasks per second counts from the RUN request (walk of the source, the
# run recorded) to the run's end in the master's log, written once every
# result is committed to the catalog: every task dispatched and accounted.
# The client then fetches the report of N rows (about 380 bytes of JSON
# each) and writes it: that time is reported apart, with the whole
# command's rate.
#   bench/control.sh [--tasks N] [--workers W [--slots S] [--procs P]] [--json FILE] [--insecure]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MS_BIN:-bin} # make bench passes the bin/ it built
N=100000 JSON="" SECURITY=curve WORKERS=2 SLOTS="" PROCS=2
usage() { echo "usage: $0 [--tasks N] [--workers W [--slots S] [--procs P]] [--json FILE] [--insecure]" >&2; exit 2; }
while (($#)); do
    case $1 in
    --tasks) N=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --slots) SLOTS=$2; shift 2 ;;
    --procs) PROCS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --insecure) SECURITY=plaintext; shift ;;
    *) usage ;;
    esac
done
SIM=0
((WORKERS > 2)) && SIM=1
((WORKERS >= 1 && PROCS >= 1)) || usage
((SIM)) || PROCS=$WORKERS
((PROCS <= WORKERS)) || PROCS=$WORKERS
: "${SLOTS:=$( ((SIM)) && echo 16 || echo 64)}"
# A connection is a descriptor in the master, and two in a worker process
# (its socket and libzmq's mailbox): a fleet needs more than the usual 1,024.
if ((SIM)) && (($(ulimit -n) < 2 * WORKERS + 1024)); then
    ulimit -n $((2 * WORKERS + 1024)) 2>/dev/null || {
        echo "control: $WORKERS workers need ulimit -n $((2 * WORKERS + 1024)) (hard limit $(ulimit -Hn))" >&2
        exit 1
    }
fi
W=$(mktemp -d /tmp/multisync-control.XXXXXX)
PIDS=()
# CONTROL_LOGS=DIR keeps the master's and workers' logs there (profiling).
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -z ${CONTROL_LOGS:-} ]] || cp "$W"/*.log "$CONTROL_LOGS"/ 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

if ((SIM)); then
    echo "control: $N empty projects, $WORKERS simulated workers of $SLOTS slots ($PROCS processes, $SECURITY)"
else
    echo "control: $N empty projects, $WORKERS workers of $SLOTS slots ($SECURITY)"
fi
mkdir -p "$W/src"
seq -f "$W/src/p%07.0f" 1 "$N" | xargs mkdir
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60000 -n 1; }
WEP=tcp://127.0.0.1:$(port)
# --no-split: one task per project, as many tasks as projects (empty ones
# would be packed 512 to an rsync, and the figure would count projects).
M=(--listen "$WEP" --control "ipc://$W/c" --catalog "$W/cat.db" --no-split)
WK=(--master "$WEP" --slots "$SLOTS" --noop-executor -q)
# Worker process p: one worker w<p>, or (simulated) agents w<p>-1..w<p>-K,
# whose keys are w<p>-i.key: the master names each by its key's file.
agents_of() { ((SIM)) && echo $(((WORKERS / PROCS) + (($1 <= WORKERS % PROCS) ? 1 : 0))) || echo 1; }
keys=(master)
for p in $(seq 1 "$PROCS"); do
    if ((SIM)); then keys+=($(seq -f "w$p-%.0f" 1 "$(agents_of "$p")")); else keys+=("w$p"); fi
done
if [[ $SECURITY == curve ]]; then
    mkdir "$W/auth"
    printf '%s\n' "${keys[@]}" | xargs -P 2 -I{} "$BIN"/multisync keygen "$W/{}" >/dev/null
    for k in "${keys[@]:1}"; do mv "$W/$k.pub" "$W/auth/"; done
    M+=(--key "$W/master.key" --authorized "$W/auth")
    WK+=(--master-key "$W/master.pub")
else
    M+=(--insecure)
    WK+=(--insecure)
fi
"$BIN"/multisync-master "${M[@]}" 2>"$W/master.log" &
MPID=$!
PIDS+=("$MPID")
joined=$(date +%s.%N)
for p in $(seq 1 "$PROCS"); do
    SIMARGS=()
    ((SIM)) && SIMARGS=(--agents "$(agents_of "$p")")
    if [[ $SECURITY == curve ]]; then
        "$BIN"/multisync-worker "${WK[@]}" "${SIMARGS[@]}" --key "$W/w$p.key" 2>"$W/w$p.log" &
    else
        "$BIN"/multisync-worker "${WK[@]}" "${SIMARGS[@]}" --name "w$p" 2>"$W/w$p.log" &
    fi
    PIDS+=("$!")
done
n=0
for i in $(seq 1 1200); do
    n=$("$BIN"/multisync status --master "ipc://$W/c" --json 2>/dev/null | jq '.workers | length' || echo 0)
    [[ $n == "$WORKERS" ]] && break
    sleep 0.1
done
[[ $n == "$WORKERS" ]] || { echo "control: only $n of $WORKERS workers joined" >&2; exit 1; }
joined=$(echo "$(date +%s.%N) - $joined" | bc -l)
((SIM)) && printf 'control: %d workers joined in %.1f s\n' "$WORKERS" "$joined"
# The master's CPU seconds (user + system, all its threads): less at the
# mercy of what else runs on the machine than the wall time.
cpu_s() { awk '{printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/$MPID/stat"; }
cpu0=$(cpu_s)
start=$(date +%s.%N)
"$BIN"/multisync run --master "ipc://$W/c" --report "$W/r.json" "$W/src" /tmp/unused-noop-dest >/dev/null &
RUN=$!
# How long `status` takes while the run goes on (the master answers from
# its loop, between batches of results). Starting a run of N projects (scan
# and catalog insert) and ending it (the report) are not queries: the polls
# count only answers that show the run going.
worst=0 polls=0 lat=()
while kill -0 "$RUN" 2>/dev/null && ((polls < 20)); do
    t0=$(date +%s%N)
    "$BIN"/multisync status --master "ipc://$W/c" --json >"$W/st.json" 2>/dev/null || break
    ms=$((($(date +%s%N) - t0) / 1000000))
    state=$(jq -r '.run.state // "none"' "$W/st.json")
    [[ $state == running ]] || continue
    ((ms > worst)) && worst=$ms
    lat+=("$ms")
    polls=$((polls + 1))
done
wait "$RUN"
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$MPID/status")
cpu=$(echo "$(cpu_s) - $cpu0" | bc -l)
tasks=$(jq '.tasks | length' "$W/r.json")
ok=$(jq '.totals.ok' "$W/r.json")
line=$(grep -m1 "run 1 finished:" "$W/master.log") || { echo "control: no end of run in the master's log" >&2; exit 1; }
accounted=$(date -u -d "$(cut -c1-23 <<<"$line")" +%s.%N)
wall=$(echo "$accounted - $start" | bc -l)
rate=$(echo "$tasks / $wall" | bc -l)
whole=$(echo "$end - $start" | bc -l)
whole_rate=$(echo "$tasks / $whole" | bc -l)
printf 'control: %d tasks (%d ok) dispatched and accounted in %.2f s = %.0f tasks/s (%s); master peak RSS %d MB\n' \
    "$tasks" "$ok" "$wall" "$rate" "$SECURITY" $((hwm / 1024))
printf 'control: the master used %.1f CPU seconds for the run and its report: %.0f us a task\n' \
    "$cpu" "$(echo "$cpu * 1000000 / $tasks" | bc -l)"
printf 'control: with the report of %d rows fetched and written: %.2f s = %.0f tasks/s\n' \
    "$tasks" "$whole" "$whole_rate"
# The first answers wait for the run's start (100,000 rows inserted in one
# transaction) and its end; the median is what an operator sees meanwhile.
median=$(printf '%s\n' "${lat[@]:-0}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
printf 'control: status during the run: %d queries, median %d ms, slowest %d ms (a whole client process each)\n' \
    "$polls" "$median" "$worst"
[[ $ok == "$tasks" ]] || { echo "control: not every task was accounted" >&2; exit 1; }
# The fleet's goals (issue 14), each figure as a ratio to its goal: at
# least 1 is met for tasks/s, at most 1 for status and RSS.
if ((SIM)); then
    ratio() { echo "$1 / $2" | bc -l; }
    r_rate=$(ratio "$rate" 20000) r_med=$(ratio "$median" 100) r_worst=$(ratio "$worst" 100)
    r_rss=$(ratio "$hwm" $((128 * 1024)))
    met() { (($(echo "$1" | bc -l))) && echo met || echo "NOT MET"; }
    printf 'control: goals, %d workers x %d slots: tasks/s %.0f = %.2f x goal 20000 (%s); status median %d ms = %.2f, slowest %d ms = %.2f x goal 100 ms (%s); master RSS %d MB = %.2f x goal 128 MB (%s)\n' \
        "$WORKERS" "$SLOTS" "$rate" "$r_rate" "$(met "$r_rate >= 1")" "$median" "$r_med" "$worst" "$r_worst" \
        "$(met "$r_med <= 1 && $r_worst <= 1")" $((hwm / 1024)) "$r_rss" "$(met "$r_rss <= 1")"
fi
if [[ -n $JSON ]]; then
    jq -n --argjson tasks "$tasks" --argjson wall "$wall" --argjson rate "$rate" \
        --argjson rss_kb "$hwm" --arg security "$SECURITY" --argjson worst "$worst" --argjson polls "$polls" --argjson median "$median" \
        --argjson whole "$whole" --argjson whole_rate "$whole_rate" --argjson cpu "$cpu" \
        --argjson workers "$WORKERS" --argjson slots "$SLOTS" --argjson procs "$PROCS" --argjson simulated "$SIM" \
        '{tasks: $tasks, workers: $workers, slots: $slots, worker_processes: $procs, simulated: ($simulated == 1), wall_seconds: $wall, tasks_per_second: $rate, wall_seconds_with_report: $whole, tasks_per_second_with_report: $whole_rate, master_peak_rss_kb: $rss_kb, master_cpu_seconds: $cpu, security: $security, status_queries: $polls, status_median_ms: $median, status_slowest_ms: $worst}
         + (if $simulated == 1 then {goal_ratios: {tasks_per_second: ($rate / 20000), status_median_ms: ($median / 100), status_slowest_ms: ($worst / 100), master_peak_rss: ($rss_kb / (128 * 1024))}} else {} end)' >"$JSON"
fi
