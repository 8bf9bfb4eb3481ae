#!/usr/bin/env bash
# Workers that would make a run hang or mislead:
#   - a run with no worker that can take its tasks fails after worker_wait
#     (--worker-wait, or the set's worker_wait) with a clear message;
#   - a second agent with the name of a live one is refused, on both sides,
#     instead of the two evicting each other; it takes over once the first
#     is gone;
#   - a worker whose rsync cannot run does not start; one whose rsync breaks
#     later gets no more tasks, and they go to the others; status shows each
#     worker's rsync version;
#   - a worker without allow_source/allow_dest is shown unconfined in status
#     and in each run's report.
source "$(dirname "$0")/lib.sh"

CTL=ipc://$T/control.sock WEP=ipc://$T/workers.sock
gen_projects "$T/src" p 6 5000
cat >"$T/master.ini" <<INI
[master]
listen = $WEP
control = $CTL
catalog = $T/catalog.db
[set waiting]
source = $T/src
destination = $T/dst-set
worker_wait = 2
INI
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini" --heartbeat-ms 300
MASTER_PID=$LAST_PID
wait_until 10 "the master's control socket" test -S "$T/control.sock"
status_json() { "$BIN/multisync" status --master "$CTL" --json; }

note "no worker at all: the run fails after --worker-wait, and names why"
t0=$SECONDS
RC=0
"$BIN/multisync" run --master "$CTL" --worker-wait 2 --report "$T/r0.json" "$T/src" "$T/dst" \
    >"$T/out0" 2>"$T/err0" || RC=$?
cat "$T/err0"
((RC == 4)) || fail "exit status $RC, expected 4 (no worker)"
((SECONDS - t0 <= 8)) || fail "the run took $((SECONDS - t0)) s to give up"
grep -q "no worker could take it for 2 s (worker_wait)" "$T/err0" || fail "the failure does not say why"
jq_check "$T/r0.json" '.status == "failed" and (.tasks | all(.status == "failed")) and (.refused | test("no worker"))' "every task failed, the run refused"
note "the same from a set's worker_wait"
RC=0
"$BIN/multisync" run --master "$CTL" waiting >"$T/out1" 2>"$T/err1" || RC=$?
((RC == 4)) && grep -q "for 2 s (worker_wait)" "$T/err1" || fail "the set's worker_wait: rc $RC $(cat "$T/err1")"

note "a worker whose rsync cannot run does not start"
RC=0
timeout 10 "$BIN/multisync-worker" --master "$WEP" --name nope --rsync "$T/no-such-rsync" \
    >"$T/nope.log" 2>&1 || RC=$?
((RC == 1)) || fail "exit status $RC, expected 1"
grep -q "rsync program '$T/no-such-rsync' does not work" "$T/nope.log" || fail "unclear: $(cat "$T/nope.log")"

note "two agents with one name: the second is refused, the first keeps working"
start_bg "$T/w1.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name twin --heartbeat-ms 300
W1=$LAST_PID
wait_workers "$CTL" 1
start_bg "$T/w2.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name twin --heartbeat-ms 300
W2=$LAST_PID
wait_until 10 "the second agent to be told" grep -q "refused this worker: another worker named 'twin'" "$T/w2.log"
sleep 2
status_json | jq -e '.workers | length == 1' >/dev/null || fail "not one worker"
grep -q "another worker named 'twin' is connected and alive" "$T/master.log" || fail "the master does not say it"
if grep -q "left: reconnected" "$T/master.log"; then fail "the two evicted each other"; fi
(($(grep -c "another worker named 'twin'" "$T/master.log") <= 2)) || fail "the master repeats itself"
note "the first one gone, the second takes over"
kill -9 "$W1"
twin_joined() { (($(grep -c "(twin) joined" "$T/master.log") >= 2)); }
wait_until 60 "the second agent to take over" twin_joined
wait_workers "$CTL" 1
"$BIN/multisync" run --master "$CTL" "$T/src" "$T/dst" >/dev/null 2>"$T/err2" || fail "run failed: $(cat "$T/err2")"
same_tree "$T/src" "$T/dst"
kill "$W2"

note "a worker whose rsync breaks gets no more tasks; the others do them"
cat >"$T/rsync-ok" <<'SH'
#!/bin/bash
exec rsync "$@"
SH
chmod +x "$T/rsync-ok"
start_bg "$T/wa.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA --heartbeat-ms 300 \
    --rsync "$T/rsync-ok"
start_bg "$T/wb.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostB --heartbeat-ms 300 \
    --allow-source "$T/src" --allow-dest "$T"
wait_workers "$CTL" 2
chmod -x "$T/rsync-ok" # hostA's rsync cannot run any more
rm -rf "$T/dst"
"$BIN/multisync" run --master "$CTL" --report "$T/r3.json" "$T/src" "$T/dst" >"$T/out3" 2>"$T/err3" ||
    fail "the run failed although hostB could do it all: $(cat "$T/err3")"
cat "$T/out3"
same_tree "$T/src" "$T/dst"
jq_check "$T/r3.json" '.status == "ok" and (.tasks | all(.status == "ok" and .host == "hostB"))' "hostB did it all"
status_json >"$T/st.json"
jq_check "$T/st.json" '.workers[] | select(.host == "hostA") | .broken | test("rsync cannot run \\(exit 127\\)")' \
    "status says hostA's rsync is broken"
jq_check "$T/st.json" '.workers[] | select(.host == "hostB") | .broken == null and (.rsync | test("^rsync +version "))' \
    "status shows hostB's rsync version"

note "an unconfined worker is shown so in status and in the run's report"
jq_check "$T/st.json" '.workers[] | select(.host == "hostA") | .unconfined == ["source", "dest"]' "hostA unconfined"
jq_check "$T/st.json" '.workers[] | select(.host == "hostB") | .unconfined == []' "hostB confined"
"$BIN/multisync" status --master "$CTL" >"$T/st.txt"
grep -q "^WARNING: hostA is unconfined (no allow_source, no allow_dest)" "$T/st.txt" || fail "status text: $(cat "$T/st.txt")"
grep -q "^WARNING: hostA gets no tasks: its rsync cannot run" "$T/st.txt" || fail "status text: broken"
grep -q "WARNING: hostB" "$T/st.txt" && fail "hostB is shown unconfined"
chmod +x "$T/rsync-ok"
kill "$LAST_PID" # hostB: only hostA (unconfined) is left, and it is broken until it connects again
"$BIN/multisync-worker" --master "$WEP" --slots 1 --name hostC --heartbeat-ms 300 >"$T/wc.log" 2>&1 &
BG_PIDS+=($!)
rm -rf "$T/dst"
"$BIN/multisync" run --master "$CTL" --report "$T/r4.json" "$T/src" "$T/dst" >"$T/out4" 2>"$T/err4" ||
    fail "run failed: $(cat "$T/err4")"
jq_check "$T/r4.json" '.workers[] | select(.host == "hostC") | .unconfined == ["source", "dest"]' \
    "the report shows hostC unconfined"
grep -q "^WARNING: hostC ran unconfined (no allow_source, no allow_dest)" "$T/out4" || fail "run text: $(cat "$T/out4")"
echo ok
