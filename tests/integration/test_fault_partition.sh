#!/usr/bin/env bash
# Fault: the network link of one worker's host goes down for longer than
# the liveness window (3 heartbeats), then comes back. The master requeues
# the partitioned worker's tasks and they run elsewhere; the partitioned
# worker, no longer acknowledged, gives up its lease and stops its rsyncs
# before the master hands them out; once the link is back it reconnects. The
# run completes and the backup is exact (no leftovers of the stopped rsyncs).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_setup

# 8 projects of 1.5 MB at 500 KiB/s: ~3 s each.
gen_projects "$T/src" p 8 1500000
make_file "$T/src/top.txt" 1000
make_host hA "$NET.11/24"
make_host hB "$NET.12/24"
start_master
start_worker hA 2 --rsync-opt=--bwlimit=500
start_worker hB 2 --rsync-opt=--bwlimit=500
wait_hosts 2

note "run, then cut hB's link while it copies"
start_bg "$T/client.log" "$BIN/multisync" run --master "$CTL" "${CLIENT_OPTS[@]}" \
    --report "$T/r.json" "$T/src" "$T/dst"
CLIENT=$LAST_PID
held() { [[ -n $(running_on hB) ]]; }
wait_until 15 "hB runs tasks" held
sleep 1
mapfile -t HELD < <(running_on hB)
((${#HELD[@]} > 0)) || fail "hB holds no task any more"
note "hB holds: ${HELD[*]}"
link_down hB
down_at=$SECONDS

requeued() { grep -q "run [0-9]*: ${HELD[0]} requeued" "$T/master.log"; }
wait_until 3 "the master to requeue ${HELD[0]}" requeued
lease_lost() { grep -q "lease lost" "$T/hB.log"; }
wait_until 3 "hB to give up its lease" lease_lost
# hB stopped its rsyncs on its own: only the worker is left in its host.
only_worker() { [[ -z $(host_pids hB | grep -vx "${WPID[hB]}") ]]; }
wait_until 3 "hB's rsyncs to stop" only_worker
sleep $((3 - (SECONDS - down_at) > 0 ? 3 - (SECONDS - down_at) : 0)) # down for ~3 s in all
link_up hB
# The point of the lease: the worker stops its copies before the master can
# give them to another worker, never after (both logs use the same clock;
# 100 ms leaves room for the 1/2-heartbeat ticks of either side).
lost_ms=$(log_ms "$T/hB.log" "lease lost")
requeue_ms=$(log_ms "$T/master.log" "requeued")
# (Reported at the end, so that one run also shows what the late stop did.)
lease_late=""
if ((lost_ms > requeue_ms + 100)); then
    lease_late="hB stopped its rsyncs $((lost_ms - requeue_ms)) ms after the master requeued them:
$(grep -h "(hB) left\|requeued" "$T/master.log" | head -4)
$(grep -h "reconnecting\|lease lost" "$T/hB.log" | head -3)"
    echo "FAIL (reported at the end): $lease_late" >&2
fi

note "hB comes back; the run completes"
wait_exit 30 "$CLIENT" "the run (client $CLIENT)"
rc=$RC
cat "$T/client.log"
[[ $rc == 0 ]] || fail "run exited $rc: $(tail -20 "$T/master.log")"
jq_check "$T/r.json" '.status == "ok" and .totals.ok == .totals.tasks' "run ok"
grep -q "worker w[0-9]* (hB) left: silent for" "$T/master.log" || fail "the master did not declare hB dead"
for p in "${HELD[@]}"; do
    grep -q "run [0-9]*: $p requeued" "$T/master.log" || fail "the master did not requeue $p"
    jq -e --arg p "$p" '.tasks[] | select(.project == $p) | .attempts >= 2 and .status == "ok"' \
        "$T/r.json" >/dev/null || fail "task $p: $(jq -c --arg p "$p" '.tasks[] | select(.project == $p)' "$T/r.json")"
done
kill -0 "${WPID[hB]}" || fail "worker hB died"
wait_hosts 2 # hB reconnected
grep -q "worker w[0-9]* (hB) joined" <(grep -A1000 "(hB) left" "$T/master.log") ||
    fail "hB did not rejoin: $(tail -5 "$T/hB.log")"
same_tree "$T/src" "$T/dst"
[[ -z $lease_late ]] || fail "$lease_late"
echo ok
