#!/usr/bin/env bash
# Fault: `kill -9` of one of three workers (each on its own host) while it
# holds tasks. The master notices by its silence and requeues its tasks; the
# run completes on the two others; the killed worker's rsyncs die with it
# (PR_SET_PDEATHSIG) instead of copying on as orphans; the tasks it held show
# a second attempt; the backup is exact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_setup

# 9 projects of 1.5 MB at 500 KiB/s: ~3 s each, two waves over 6 slots.
gen_projects "$T/src" p 9 1500000
make_file "$T/src/top.txt" 1000
make_host hA "$NET.11/24"
make_host hB "$NET.12/24"
make_host hC "$NET.13/24"
start_master
for h in hA hB hC; do start_worker "$h" 2 --rsync-opt=--bwlimit=500; done
wait_hosts 3

note "run, then kill -9 worker hB while it copies"
start_bg "$T/client.log" "$BIN/multisync" run --master "$CTL" "${CLIENT_OPTS[@]}" \
    --report "$T/r.json" "$T/src" "$T/dst"
CLIENT=$LAST_PID
held() { [[ -n $(running_on hB) ]]; }
wait_until 15 "hB runs tasks" held
sleep 1 # let its rsyncs write part of their files
mapfile -t HELD < <(running_on hB)
((${#HELD[@]} > 0)) || fail "hB holds no task any more"
# hB's rsyncs: every process in its namespace but the worker itself.
mapfile -t RSYNCS < <(host_pids hB | grep -vx "${WPID[hB]}")
((${#RSYNCS[@]} > 0)) || fail "no rsync runs in host hB"
for pid in "${RSYNCS[@]}"; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == rsync ]] || fail "pid $pid in hB is not rsync: $(ps -o pid,cmd -p "$pid")"
done
note "hB holds: ${HELD[*]} (rsync pids ${RSYNCS[*]})"
kill -KILL "${WPID[hB]}"

note "its rsyncs die with it"
rsyncs_gone() {
    local pid
    for pid in "${RSYNCS[@]}"; do kill -0 "$pid" 2>/dev/null && return 1; done
    [[ -z $(host_pids hB) ]]
}
wait_until 3 "hB's rsyncs to exit after the worker was killed" rsyncs_gone
# Nothing else copies into the held projects from hB: any rsync still
# writing there runs in another host (a retry).
for p in "${HELD[@]}"; do
    for pid in $(pgrep -x rsync || true); do
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$T/dst/$p/"; then
            [[ $(ip netns identify "$pid" 2>/dev/null) != "$(ns_name hB)" ]] ||
                fail "rsync $pid of $p still runs in host hB"
        fi
    done
done

note "the run completes on hA and hC"
wait_exit 30 "$CLIENT" "the run (client $CLIENT)"
rc=$RC
cat "$T/client.log"
[[ $rc == 0 ]] || fail "run exited $rc: $(tail -20 "$T/master.log")"
grep -q "worker w[0-9]* (hB) left: silent for" "$T/master.log" || fail "the master did not declare hB dead"
jq_check "$T/r.json" '.status == "ok" and .totals.ok == .totals.tasks' "run ok"
for p in "${HELD[@]}"; do
    grep -q "run [0-9]*: $p requeued" "$T/master.log" || fail "the master did not requeue $p"
    jq -e --arg p "$p" '.tasks[] | select(.project == $p) | .attempts >= 2 and .host != "hB" and .status == "ok"' \
        "$T/r.json" >/dev/null || fail "task $p: $(jq -c --arg p "$p" '.tasks[] | select(.project == $p)' "$T/r.json")"
done
same_tree "$T/src" "$T/dst"
echo ok
