#!/usr/bin/env bash
# SIGTERM to a worker drains it: the master hands it nothing more, its
# running rsync gets --drain-timeout to finish, then it is interrupted and
# run again on another worker; the drained worker exits 0, the run ends ok
# and the backup is exact.
source "$(dirname "$0")/lib.sh"

# slow: 1 MB at 300 KiB/s, about 3.5 s: still running when hostA is told
# to stop; a1..a4 small.
make_file "$T/src/slow/big.bin" 1000000
for i in 1 2 3 4; do make_file "$T/src/a$i/f.bin" 20000; done

WEP=ipc://$T/workers.sock
CTL=ipc://$T/control.sock
start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" \
    --catalog "$T/catalog.db" --retry-delay-ms 100
MASTER_PID=$LAST_PID
start_bg "$T/wA.log" "$BIN/multisync-worker" --master "$WEP" --slots 1 --name hostA \
    --drain-timeout 1 --rsync-opt=--bwlimit=300
WA=$LAST_PID
wait_workers "$CTL" 1

note "run; once hostA copies slow, a second worker joins and hostA gets SIGTERM"
start_bg "$T/client.log" "$BIN/multisync" run --master "$CTL" --report "$T/r.json" "$T/src" "$T/dst"
CLIENT=$LAST_PID
wait_until 15 "hostA copying slow" grep -q "run 1: started slow (attempt 1)" "$T/wA.log"
start_bg "$T/wB.log" "$BIN/multisync-worker" --master "$WEP" --slots 1 --name hostB \
    --rsync-opt=--bwlimit=300
wait_workers "$CTL" 2
kill -TERM "$WA"
wait_exit 10 "$WA" "the draining worker"
[[ $RC == 0 ]] || fail "the drained worker exited $RC: $(tail -5 "$T/wA.log")"
grep -q "draining: waiting up to 1 s for 1 running task" "$T/wA.log" || fail "hostA did not drain: $(tail -5 "$T/wA.log")"
grep -q "worker w[0-9]* (hostA) is draining" "$T/master.log" || fail "the master did not see hostA drain"
n=$(grep -c "run 1: started" "$T/wA.log")
drain_line=$(grep -n "draining: waiting" "$T/wA.log" | cut -d: -f1)
late=$(tail -n +"$drain_line" "$T/wA.log" | grep -c "run 1: started" || true)
[[ $late == 0 ]] || fail "hostA was handed $late task(s) while draining"

note "slow runs again on hostB; the run ends ok"
wait_exit 30 "$CLIENT" "the run"
[[ $RC == 0 ]] || fail "the run exited $RC: $(cat "$T/client.log")"
jq_check "$T/r.json" '.tasks[] | select(.project == "slow") | .status == "ok" and .attempts == 2
    and .host == "hostB"' "slow interrupted on hostA, then copied by hostB"
jq_check "$T/r.json" '.status == "ok" and .totals.ok == .totals.tasks' "run ok"
grep -q "slow failed on hostA (attempt 1, interrupted: the worker was stopped" "$T/master.log" ||
    fail "the master did not log the interruption: $(grep slow "$T/master.log")"
note "hostA ran $n task(s) before it drained"
same_tree "$T/src" "$T/dst"
echo ok
