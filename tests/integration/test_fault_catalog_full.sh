#!/usr/bin/env bash
# Fault: the catalog's own filesystem fills up in the middle of a run.
# Results keep coming back from the workers while no write reaches the
# catalog (SQLite may roll the whole open transaction back by itself).
# The master stays up, answers status, hands out nothing it cannot record,
# and once there is room again it stores everything it missed: the run
# ends ok, and a master restarted with `kill -9` from that catalog shows
# every task as it ended, not as it was when the disk filled.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
mkdir -p "$T/cat"
mount -t tmpfs -o size=4m,mode=0700 "ms-test-$$" "$T/cat" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
at_exit "umount -l '$T/cat'"

# b1..b2: 1 MB at 400 KiB/s, about 2.5 s each, being copied when the disk
# fills; a1..a6 small: some go before them (a first run has no durations),
# the others wait for a slot.
gen_projects "$T/src" b 2 1000000
gen_projects "$T/src" a 6 20000

WEP=ipc://$T/workers.sock
CTL=ipc://$T/control.sock
start_master() {
    start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" \
        --catalog "$T/cat/catalog.db" --heartbeat-ms 500
    MASTER_PID=$LAST_PID
}
start_master
start_bg "$T/w.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA \
    --rsync-opt=--bwlimit=400
wait_workers "$CTL" 1

note "run; fill the catalog's filesystem while b1 and b2 are being copied"
start_bg "$T/client.log" "$BIN/multisync" run --master "$CTL" --report "$T/r.json" "$T/src" "$T/dst"
CLIENT=$LAST_PID
both_b() { grep -q "started b1 (attempt" "$T/w.log" && grep -q "started b2 (attempt" "$T/w.log"; }
wait_until 10 "b1 and b2 started" both_b
dd if=/dev/zero of="$T/cat/filler" bs=64k 2>/dev/null || true # until ENOSPC
started=$(grep -c "run 1: started" "$T/w.log")
b_done() { [[ $(grep -c "run 1: b[12] ok on hostA" "$T/master.log") == 2 ]]; }
wait_until 15 "the results of b1 and b2" b_done
wait_until 10 "the catalog write failure logged" grep -q "catalog write failed" "$T/master.log"
sleep 1 # free slots, a* queued: nothing may go out

note "while full: the master answers, and hands out nothing it cannot record"
kill -0 "$MASTER_PID" || fail "the master died: $(tail -5 "$T/master.log")"
"$BIN/multisync" status --master "$CTL" --json >"$T/st.json" || fail "no status while the catalog is full"
jq_check "$T/st.json" '.run.state == "running" and .run.tasks.queued >= 1 and .run.tasks.running == 0' "the run goes on, tasks queued"
now=$(grep -c "run 1: started" "$T/w.log")
[[ $now == "$started" ]] || fail "$((now - started)) task(s) handed out while nothing could be recorded"

note "room again: the run ends ok"
rm -f "$T/cat/filler"
wait_exit 30 "$CLIENT" "the run"
[[ $RC == 0 ]] || fail "the run exited $RC: $(cat "$T/client.log")"
grep -q "catalog writes work again" "$T/master.log" || fail "no recovery logged"
jq_check "$T/r.json" '.status == "ok" and .totals.tasks == 9 and .totals.ok == 9' "run ok"
same_tree "$T/src" "$T/dst"

note "a master restarted from that catalog sees the run as it ended"
kill -KILL "$MASTER_PID"
wait "$MASTER_PID" 2>/dev/null || true
start_master
answers() { "$BIN/multisync" status --master "$CTL" >/dev/null 2>&1; }
wait_until 10 "the restarted master answers" answers
"$BIN/multisync" report 1 --master "$CTL" --json >"$T/r1.json" || fail "no report of run 1"
jq_check "$T/r1.json" '.status == "ok" and .totals.ok == 9' "run 1 ok in the catalog"
jq_check "$T/r1.json" '[.tasks[] | select(.project | startswith("b"))] | length == 2 and
    all(.status == "ok" and .attempts == 1 and .host == "hostA" and .bytes_total > 0)' \
    "b1 and b2, done while the catalog was full, stored with their results"
jq_check "$T/r1.json" '[.workers[] | .tasks] | add == 9' "the worker's task count stored"
if grep -q "run 1 resumed" "$T/master.log"; then fail "run 1 resumed: the catalog missed its end"; fi
echo ok
