#!/usr/bin/env bash
# Where the time went: a run made CPU-bound, one made I/O-bound and one
# held up by a single huge project are each diagnosed as such, with the
# task's own CPU and write counters in the report.
source "$(dirname "$0")/lib.sh"
RUN=("$BIN/multisync" run --slots 2 --heartbeat-ms 200)
# The host's CPU is the average over all its cores: to make it CPU-bound,
# burn as many at once as it has.
CORES=$(nproc)

note "CPU-bound: every task burns CPU (a fixed amount of work) before its rsync"
# Work, not time: on a loaded machine the task still burns what it must.
cat >"$T/burn-rsync" <<'SH'
#!/bin/bash
for ((i = 0; i < 2000000; i++)); do :; done
exec rsync "$@"
SH
chmod +x "$T/burn-rsync"
for i in $(seq 1 $((3 * CORES))); do make_file "$T/cpu/p$i/f" 1000; done
"${RUN[@]}" --slots "$CORES" --rsync "$T/burn-rsync" --report "$T/cpu.json" "$T/cpu" "$T/cpu-dst" >/dev/null 2>&1 ||
    fail "cpu run failed"
jq -c '.diagnosis' "$T/cpu.json"
jq_check "$T/cpu.json" '.diagnosis.run.verdict == "cpu-bound"' "the run is cpu-bound"
jq_check "$T/cpu.json" '[.diagnosis.hosts[]][0].verdict == "cpu-bound"' "the host is cpu-bound"
jq_check "$T/cpu.json" 'all(.tasks[]; .cpu_user_s + .cpu_sys_s >= 0.5)' \
    "each task reports the CPU seconds it burnt"
jq_check "$T/cpu.json" '.workers[0].cpu_percent_avg >= 60' "the worker's average CPU is high"

note "I/O-bound: rsyncs limited to 300 KB/s, cores idle"
for i in 1 2 3 4 5 6; do make_file "$T/io/p$i/f" 600000; done
"${RUN[@]}" --rsync-opt=--bwlimit=300 --report "$T/io.json" "$T/io" "$T/io-dst" >/dev/null 2>&1 ||
    fail "io run failed"
jq -c '.diagnosis' "$T/io.json"
jq_check "$T/io.json" '.diagnosis.run.verdict == "io-bound"' "the run is io-bound"
jq_check "$T/io.json" '[.diagnosis.hosts[]][0].verdict == "io-bound"' "the host is io-bound"
jq_check "$T/io.json" '.diagnosis.run.suggestion | length > 0' "with a suggestion"

note "one huge project holds the run up"
make_file "$T/long/huge/f" 3000000
for i in 1 2 3 4 5; do make_file "$T/long/small$i/f" 1000; done
"${RUN[@]}" --rsync-opt=--bwlimit=600 --report "$T/long.json" "$T/long" "$T/long-dst" >/dev/null 2>&1 ||
    fail "long run failed"
jq -c '.diagnosis.run' "$T/long.json"
jq_check "$T/long.json" '.diagnosis.run.verdict == "long-task" and (.diagnosis.run.evidence | startswith("huge"))' \
    "the run was limited by project huge"
jq_check "$T/long.json" '.diagnosis.run.suggestion | test("huge was not split")' "says why it was not split"

note "a task that writes 50 MB reports it"
make_file "$T/big/p/f" 52428800
"$BIN/multisync" run --report "$T/big.json" "$T/big" "$T/big-dst" >/dev/null 2>&1 || fail "big run failed"
jq_check "$T/big.json" '(.tasks[] | select(.project == "p") | .write_bytes) >= 52428800' \
    "write_bytes of the 50 MB task"
jq_check "$T/big.json" '.workers[0] | has("disk_write_bytes") and has("net_sent_bytes")' "worker figures"
echo ok
