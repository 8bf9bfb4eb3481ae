#!/usr/bin/env bash
# Control-plane benchmark: N tiny tasks through a real master and two real
# workers on loopback TCP with CURVE, the workers' executor a no-op (no
# rsync), so what is measured is dispatch, accounting and the catalog:
# tasks per second, and the master's peak RSS (VmHWM).
#
# Tasks per second counts from the RUN request (walk of the source, the
# run recorded) to the run's end in the master's log, written once every
# result is committed to the catalog: every task dispatched and accounted.
# The client then fetches the report of N rows (about 380 bytes of JSON
# each) and writes it: that time is reported apart, with the whole
# command's rate.
#   bench/control.sh [--tasks N] [--json FILE] [--insecure]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${MS_BIN:-bin} # make bench passes the bin/ it built
N=100000 JSON="" SECURITY=curve
while (($#)); do
    case $1 in
    --tasks) N=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --insecure) SECURITY=plaintext; shift ;;
    *) echo "usage: $0 [--tasks N] [--json FILE] [--insecure]" >&2; exit 2 ;;
    esac
done
W=$(mktemp -d /tmp/multisync-control.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

echo "control: $N empty projects"
mkdir -p "$W/src"
seq -f "$W/src/p%07.0f" 1 "$N" | xargs mkdir
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || shuf -i 20000-60000 -n 1; }
WEP=tcp://127.0.0.1:$(port)
M=(--listen "$WEP" --control "ipc://$W/c" --catalog "$W/cat.db")
WK=(--master "$WEP" --slots 64 --noop-executor -q)
if [[ $SECURITY == curve ]]; then
    for k in master w1 w2; do "$BIN"/multisync keygen "$W/$k" >/dev/null; done
    mkdir "$W/auth" && cp "$W/w1.pub" "$W/w2.pub" "$W/auth/"
    M+=(--key "$W/master.key" --authorized "$W/auth")
    WK+=(--master-key "$W/master.pub")
else
    M+=(--insecure)
    WK+=(--insecure)
fi
"$BIN"/multisync-master "${M[@]}" 2>"$W/master.log" &
MPID=$!
PIDS+=("$MPID")
for w in w1 w2; do
    if [[ $SECURITY == curve ]]; then
        "$BIN"/multisync-worker "${WK[@]}" --key "$W/$w.key" 2>"$W/$w.log" &
    else
        "$BIN"/multisync-worker "${WK[@]}" --name "$w" 2>"$W/$w.log" &
    fi
    PIDS+=("$!")
done
for i in $(seq 1 100); do
    n=$("$BIN"/multisync status --master "ipc://$W/c" --json 2>/dev/null | jq '.workers | length' || echo 0)
    [[ $n == 2 ]] && break
    sleep 0.1
done
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
printf 'control: with the report of %d rows fetched and written: %.2f s = %.0f tasks/s\n' \
    "$tasks" "$whole" "$whole_rate"
# The first answers wait for the run's start (100,000 rows inserted in one
# transaction) and its end; the median is what an operator sees meanwhile.
median=$(printf '%s\n' "${lat[@]:-0}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
printf 'control: status during the run: %d queries, median %d ms, slowest %d ms (a whole client process each)\n' \
    "$polls" "$median" "$worst"
[[ $ok == "$tasks" ]] || { echo "control: not every task was accounted" >&2; exit 1; }
if [[ -n $JSON ]]; then
    jq -n --argjson tasks "$tasks" --argjson wall "$wall" --argjson rate "$rate" \
        --argjson rss_kb "$hwm" --arg security "$SECURITY" --argjson worst "$worst" --argjson polls "$polls" --argjson median "$median" \
        --argjson whole "$whole" --argjson whole_rate "$whole_rate" \
        '{tasks: $tasks, wall_seconds: $wall, tasks_per_second: $rate, wall_seconds_with_report: $whole, tasks_per_second_with_report: $whole_rate, master_peak_rss_kb: $rss_kb, security: $security, status_queries: $polls, status_median_ms: $median, status_slowest_ms: $worst}' >"$JSON"
fi
