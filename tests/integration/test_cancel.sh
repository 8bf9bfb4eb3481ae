#!/usr/bin/env bash
# Cancelling a run on a master: `multisync cancel RUN_ID` stops its rsyncs
# (SIGTERM: none is left running) and drops its queued tasks; the run ends
# `cancelled` in the report its client prints, in status and in history;
# its destination is free again at once. Ctrl-C on the `run --master`
# client that waits for a run cancels it (exit 130). A cancelled snapshot
# stays .partial, as a failed one, and latest does not move. A master killed right
# after a cancel, before the rsyncs were reported stopped, does not resume
# the run when it comes back. Unknown and ended runs are refused (exit 2).
source "$(dirname "$0")/lib.sh"

# p1..p4, 4 MB each at 300 KB/s per rsync: each takes ~13 s; two run at
# once (two slots), the others wait.
gen_projects "$T/src" p 4 4000000
make_file "$T/src/top.txt" 100
mkdir -p "$T/dst"
CTL=ipc://$T/c.sock
M=(--listen "ipc://$T/w.sock" --control "$CTL" --catalog "$T/cat.db" --heartbeat-ms 200)
start_master() { # LOG
    start_bg "$1" "$BIN/multisync-master" "${M[@]}"
    MASTER_PID=$LAST_PID
}
start_master "$T/master.log"
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
    --heartbeat-ms 200 --rsync-opt=--bwlimit=300 --name cancelhost
WORKER_PID=$LAST_PID
wait_workers "$CTL" 1

diagnose() { tail -20 "$T"/master*.log "$T/worker.log" "$T"/out*; }
# status_is FILE JQ : take a status into FILE; true when JQ holds on it.
status_is() { "$BIN/multisync" status --master "$CTL" --json >"$1" 2>/dev/null && jq -e "$2" "$1" >/dev/null; }
# No rsync of ours left: none working in the source, none a child of the worker.
no_rsync() { [[ -z $(rsyncs_under "$T/src") ]] && ! pgrep -P "$WORKER_PID" >/dev/null; }
history_is() { "$BIN/multisync" history --master "$CTL" --json >"$T/h.json" && jq -e "$1" "$T/h.json" >/dev/null; }
# start_run N : a run --master in the background, once two of its tasks run.
start_run() {
    "$BIN/multisync" run --master "$CTL" --report "$T/r$1.json" "$T/src" "$T/dst" >"$T/out$1" 2>&1 &
    RUN_PID=$!
    wait_until 20 "run $1 with two tasks running" \
        status_is "$T/s.json" ".run.id == $1 and .run.tasks.running == 2"
    [[ -n $(rsyncs_under "$T/src") ]] || fail "no rsync running for run $1"
}

note "cancel a run while two tasks run and three wait"
start_run 1
rc=0
"$BIN/multisync" cancel 1 --master "$CTL" >"$T/c1" 2>&1 || rc=$?
cat "$T/c1"
[[ $rc == 0 ]] || fail "cancel exited $rc: $(cat "$T/c1")"
grep -qx "cancelled run 1 (2 running tasks stopped, 3 queued dropped)" "$T/c1" ||
    fail "cancel said: $(cat "$T/c1")"
wait_until 10 "the worker's rsyncs to stop" no_rsync
grep -q "master cancelled run 1 task" "$T/worker.log" || fail "the worker was not told to stop"
wait_exit 15 "$RUN_PID" "the client of run 1"
cat "$T/out1"
[[ $RC == 130 ]] || fail "the client of the cancelled run exited $RC, not 130"
grep -q "^run 1: cancelled  5 tasks, 0 ok, 0 failed, 5 cancelled" "$T/out1" ||
    fail "the client did not print the cancelled report"
jq_check "$T/r1.json" '.status == "cancelled" and .totals.cancelled == 5 and .totals.failed == 0' \
    "the report says cancelled"
jq_check "$T/r1.json" '[.tasks[].status] | all(. == "cancelled")' "every row cancelled"
jq_check "$T/r1.json" '[.tasks[] | select(.attempts == 1)] | length == 2' \
    "the two running tasks ran once: not retried, not handed elsewhere"
(($(grep -c "run 1: started" "$T/worker.log") == 2)) || fail "tasks of run 1 started again"
history_is '.[0].run_id == 1 and .[0].status == "cancelled" and .[0].failed == 0' ||
    fail "history: $(cat "$T/h.json")"
status_is "$T/s.json" '.run == null and .last_run.status == "cancelled"' ||
    fail "status: $(cat "$T/s.json")"

note "an ended run and an unknown one cannot be cancelled"
rc=0
"$BIN/multisync" cancel 1 --master "$CTL" >"$T/c2" 2>&1 || rc=$?
[[ $rc == 2 ]] && grep -q "run 1 already ended: cancelled" "$T/c2" || fail "cancel of an ended run: $rc $(cat "$T/c2")"
rc=0
"$BIN/multisync" cancel 42 --master "$CTL" >"$T/c3" 2>&1 || rc=$?
[[ $rc == 2 ]] && grep -q "no run 42 on this master" "$T/c3" || fail "cancel of an unknown run: $rc $(cat "$T/c3")"
rc=0
"$BIN/multisync" cancel 1 --master "ipc://$T/none.sock" >"$T/c4" 2>&1 || rc=$?
[[ $rc == 3 ]] || fail "cancel with no master there exited $rc: $(cat "$T/c4")"

note "Ctrl-C on the waiting client cancels its run (the destination is free: it starts)"
start_run 2
kill -INT "$RUN_PID"
wait_exit 20 "$RUN_PID" "the interrupted client of run 2"
cat "$T/out2"
[[ $RC == 130 ]] || fail "the interrupted client exited $RC"
grep -q "cancelling run 2" "$T/out2" || fail "the client did not say it cancels the run"
grep -q "^run 2: cancelled" "$T/out2" || fail "the client did not print the final report"
jq_check "$T/r2.json" '.status == "cancelled"' "run 2's report says cancelled"
wait_until 10 "the worker's rsyncs to stop" no_rsync
history_is '.[0].run_id == 2 and .[0].status == "cancelled"' || fail "history: $(cat "$T/h.json")"

note "a cancelled snapshot stays .partial, as a failed one: latest does not move"
"$BIN/multisync" run --master "$CTL" --snapshot --report "$T/rs.json" "$T/src" "$T/snaps" \
    >"$T/outs" 2>&1 &
RUN_PID=$!
wait_until 20 "the snapshot run with two tasks running" \
    status_is "$T/s.json" '.run.id == 3 and .run.tasks.running == 2'
"$BIN/multisync" cancel 3 --master "$CTL" >/dev/null || fail "cancel of the snapshot run"
wait_exit 20 "$RUN_PID" "the client of the snapshot run"
jq_check "$T/rs.json" '.status == "cancelled" and .snapshot.complete == false' \
    "the snapshot is not complete"
name=$(jq -r .snapshot.name "$T/rs.json")
[[ -d $T/snaps/$name.partial && ! -e $T/snaps/$name && ! -e $T/snaps/latest ]] ||
    fail "snapshot folders after the cancel: $(ls -a "$T/snaps")"
wait_until 10 "the worker's rsyncs to stop" no_rsync

note "a master killed right after a cancel does not resume the run"
start_run 4
started=$(grep -c "run 4: started" "$T/worker.log")
# The worker sleeps through the cancel (its CANCEL waits for it) and the
# master's death: the run is still being cancelled when the master dies.
kill -STOP "$WORKER_PID"
rc=0
"$BIN/multisync" cancel 4 --master "$CTL" >"$T/c5" 2>&1 || rc=$?
[[ $rc == 0 ]] || fail "cancel of run 4 exited $rc: $(cat "$T/c5")"
kill -KILL "$MASTER_PID"
wait "$MASTER_PID" 2>/dev/null || true # (no "Killed" line from bash)
start_master "$T/master2.log"
kill -CONT "$WORKER_PID"
wait_until 10 "the new master to start" status_is "$T/s.json" '.workers | length >= 0'
grep -q "run 4 was cancelled: not resumed" "$T/master2.log" || fail "run 4: $(cat "$T/master2.log")"
wait_until 20 "run 4 to end cancelled" history_is '.[0].run_id == 4 and .[0].status == "cancelled"'
wait_until 10 "the worker's rsyncs to stop" no_rsync
# Its client kept waiting through the restart, and gets the end.
wait_exit 20 "$RUN_PID" "the client of run 4"
[[ $RC == 130 ]] && grep -q "^run 4: cancelled" "$T/out4" || fail "client of run 4: $RC $(cat "$T/out4")"
(($(grep -c "run 4: started" "$T/worker.log") == started)) || fail "tasks of run 4 started again"
status_is "$T/s.json" '.run == null' || fail "a run goes on after the restart: $(cat "$T/s.json")"
history_is '[.[] | select(.status == "cancelled")] | length == 4' || fail "history: $(cat "$T/h.json")"
echo ok
