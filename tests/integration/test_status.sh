#!/usr/bin/env bash
# Central status: a run in progress shows its running tasks with moving byte
# counts and each worker's host counters; history and report read past runs
# back after a master restart; `run` on a terminal shows a progress line.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/src"/{p1,p2,p3,p4}
for p in p1 p2 p3 p4; do make_file "$T/src/$p/data" 3000000; done
M=(--listen "ipc://$T/w.sock" --control "ipc://$T/c.sock" --catalog "$T/cat.db" --heartbeat-ms 200)
CTL=ipc://$T/c.sock
start_bg "$T/master.log" "$BIN/multisync-master" "${M[@]}"
MASTER_PID=$LAST_PID
# 500 KB/s per rsync: each project takes about 6 s (progress is reported
# every 2 s).
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
    --heartbeat-ms 200 --rsync-opt=--bwlimit=500 --name statushost
wait_workers "$CTL" 1

note "status with no run yet"
"$BIN/multisync" status --master "$CTL" | grep -q "no run yet" || fail "status before any run"

note "status while a run goes on"
"$BIN/multisync" run --master "$CTL" --report "$T/r1.json" "$T/src" "$T/dst" >"$T/out1" 2>&1 &
RUN_PID=$!
# status_is FILE JQ : take a status into FILE; true when JQ holds on it.
status_is() { "$BIN/multisync" status --master "$CTL" --json >"$1" 2>/dev/null && jq -e "$2" "$1" >/dev/null; }
wait_until 10 "two tasks running with bytes copied" \
    status_is "$T/s1.json" '.run.tasks.running == 2 and ([.running[].bytes_done] | add) > 0'
b1=$(jq '[.running[] | select(.project == "p1" or .project == "p2") | .bytes_done] | add' "$T/s1.json")
wait_until 10 "the running byte counts to move" status_is "$T/s2.json" \
    "([.running[] | select(.project == \"p1\" or .project == \"p2\") | .bytes_done] | add) > $b1"
"$BIN/multisync" status --master "$CTL" >"$T/s2.txt"
cat "$T/s2.txt"
jq_check "$T/s1.json" '.run.state == "running" and .run.tasks.running == 2 and .run.tasks.queued >= 1' \
    "two running, the rest queued"
jq_check "$T/s1.json" '.run | has("id") and has("bytes_done") and has("bytes_expected") and has("rate_bps") and has("eta_s")' \
    "run has the documented keys"
jq_check "$T/s1.json" '.running | length == 2 and all(.[]; has("project") and has("host") and has("elapsed_s") and has("bytes_done"))' \
    "running tasks listed"
jq_check "$T/s1.json" '(.run.diagnosis | has("hosts")) and (.runs | length == 1) and .runs[0].id == .run.id and (.runs[0] | has("tasks") and (has("diagnosis") | not))' \
    "the current run's diagnosis once, in run (not again in runs)"
jq_check "$T/s1.json" '.workers[0] | .host == "statushost" and .slots == 2 and .busy == 2 and has("cpu_percent") and has("disk_read_bps") and has("disk_write_bps") and has("net_sent_bps") and has("net_recv_bps") and .last_seen_s < 2' \
    "worker row with host counters"
jq_check "$T/s1.json" '.workers[0].cores | length >= 1' "per-core CPU"
b2=$(jq '[.running[] | select(.project == "p1" or .project == "p2") | .bytes_done] | add' "$T/s2.json")
echo "bytes done by the running tasks: $b1 then $b2"
((b2 > b1)) || fail "running byte counts do not move ($b1 -> $b2)"
grep -q "RUNNING" "$T/s2.txt" && grep -q "statushost" "$T/s2.txt" || fail "the human status lacks rows"
wait "$RUN_PID" || fail "the run failed: $(cat "$T/out1")"
same_tree "$T/src" "$T/dst"

note "the second run knows the sizes: bytes expected and an ETA"
echo x >>"$T/src/p1/data"
"$BIN/multisync" run --master "$CTL" --report "$T/r2.json" "$T/src" "$T/dst" >/dev/null 2>&1 &
RUN_PID=$!
wait_until 10 "the second run going, with an ETA" status_is "$T/s3.json" \
    '.run.state == "running" and (.run.eta_s | type) == "number"'
jq_check "$T/s3.json" '.run.bytes_expected >= 12000000 and (.run.eta_s | type) == "number"' \
    "expected bytes from the first run, and an ETA"
wait "$RUN_PID" || fail "second run failed"

note "history and report survive a master restart"
kill "$MASTER_PID"; wait "$MASTER_PID" 2>/dev/null || true
start_bg "$T/master2.log" "$BIN/multisync-master" "${M[@]}"
MASTER_PID=$LAST_PID
wait_workers "$CTL" 1
"$BIN/multisync" history --master "$CTL" --json >"$T/h.json"
jq_check "$T/h.json" 'length == 2 and .[0].run_id == 2 and .[1].run_id == 1 and all(.[]; .status == "ok")' "two runs in history, newest first"
jq_check "$T/h.json" '.[1] | has("wall_seconds") and has("bytes_total") and has("failed") and has("started")' "history keys"
"$BIN/multisync" history --master "$CTL" -n 1 --json | jq -e 'length == 1' >/dev/null || fail "history -n 1"
"$BIN/multisync" report 1 --master "$CTL" --json >"$T/rep1.json"
jq_check "$T/rep1.json" '.run_id == 1 and .status == "ok" and (.tasks | length) == 5' "report of run 1"
jq_check "$T/rep1.json" '.diagnosis.run.verdict and .diagnosis.hosts.statushost.verdict and (.workers[0] | has("cpu_percent_avg") and has("disk_write_bytes") and has("net_recv_bytes"))' \
    "the report keeps its diagnosis and workers' figures"
jq -S 'del(.wall_seconds)' "$T/r1.json" >"$T/a.json"
jq -S 'del(.wall_seconds)' "$T/rep1.json" >"$T/b.json"
diff "$T/a.json" "$T/b.json" || fail "report 1 from the catalog differs from the run's own report"
"$BIN/multisync" report 1 --master "$CTL" | grep -q "run 1: ok" || fail "human report"
"$BIN/multisync" status --master "$CTL" | grep -q "no run going; the last one, run 2" || fail "status after runs"
# A third run finds nothing changed since the second (the first went to a
# destination that did not exist yet: the master could not lock it).
"$BIN/multisync" run --master "$CTL" "$T/src" "$T/dst" >/dev/null 2>&1 || fail "third run failed"
"$BIN/multisync" status --master "$CTL" | grep -q "run 3, .* 0 tasks failed, 5 unchanged (no rsync)" ||
    fail "status does not say the last run skipped 5 unchanged: $("$BIN/multisync" status --master "$CTL")"
if "$BIN/multisync" report 99 --master "$CTL" 2>"$T/e99"; then fail "report of a missing run"; fi
grep -q "no run 99" "$T/e99" || fail "unclear: $(cat "$T/e99")"

note "on a terminal, run shows a progress line"
mkdir -p "$T/small/one" && make_file "$T/small/one/f" 1500000
script -qec "$BIN/multisync run --master $CTL $T/small $T/dst3" "$T/tty.log" >/dev/null 2>&1 ||
    fail "run under a terminal failed: $(tail -3 "$T/tty.log")"
grep -qE "[0-9]+/[0-9]+ tasks? .* ETA " "$T/tty.log" || fail "no progress line on a terminal: $(head -c 300 "$T/tty.log")"
grep -qE "[0-9]+/[0-9]+ tasks? .* ETA " "$T/out1" && fail "progress line written to a non-terminal"
echo ok
