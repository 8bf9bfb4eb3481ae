#!/usr/bin/env bash
# Fault: a worker holding tasks is frozen with SIGSTOP. Its connection stays
# open, but it stops heartbeating: the master declares it dead and requeues
# its tasks, which run elsewhere. SIGCONT while the run goes on does no
# harm: the worker reconnects, the tasks it still believes it holds are
# cancelled and the results it finally sends are ignored (each task's result
# is accepted once, for the attempt in flight). The run completes, the
# backup is exact and a second run has nothing to transfer.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_setup

# 8 projects of 1.5 MB at 500 KiB/s: ~3 s each.
gen_projects "$T/src" p 8 1500000
make_file "$T/src/top.txt" 1000
make_host hA "$NET.11/24"
make_host hB "$NET.12/24"
start_master -v # -v: ignored results are logged (debug)
start_worker hA 2 --rsync-opt=--bwlimit=500
start_worker hB 2 --rsync-opt=--bwlimit=500
wait_hosts 2

note "run, then SIGSTOP worker hB while it copies"
start_bg "$T/client.log" "$BIN/multisync" run --master "$CTL" "${CLIENT_OPTS[@]}" \
    --report "$T/r.json" "$T/src" "$T/dst"
CLIENT=$LAST_PID
held() { [[ -n $(running_on hB) ]]; }
wait_until 15 "hB runs tasks" held
sleep 1
mapfile -t HELD < <(running_on hB)
((${#HELD[@]} > 0)) || fail "hB holds no task any more"
note "hB holds: ${HELD[*]}"
kill -STOP "${WPID[hB]}"

requeued() {
    local p
    for p in "${HELD[@]}"; do grep -q "run [0-9]*: $p requeued" "$T/master.log" || return 1; done
}
wait_until 3 "the master to requeue ${HELD[*]}" requeued
grep -q "worker w[0-9]* (hB) left: silent for" "$T/master.log" || fail "hB not declared dead"
st=$(status_json)
jq -e '[.workers[].host] == ["hA"]' <<<"$st" >/dev/null || fail "hB still listed: $st"

# The frozen worker cannot stop its rsyncs; they finish on their own (the
# same bytes the retries copy). Wake it up once they have, run still going.
rsyncs_done() {
    local pid
    for pid in $(host_pids hB | grep -vx "${WPID[hB]}"); do
        [[ $(ps -o stat= -p "$pid" 2>/dev/null) == Z* ]] || return 1
    done
}
wait_until 10 "hB's rsyncs to finish" rsyncs_done
kill -0 "$CLIENT" 2>/dev/null || fail "the run ended before SIGCONT: the test is too slow to show anything"
note "SIGCONT hB"
kill -CONT "${WPID[hB]}"
wait_hosts 2 # it reconnected

wait_exit 30 "$CLIENT" "the run (client $CLIENT)"
rc=$RC
cat "$T/client.log"
[[ $rc == 0 ]] || fail "run exited $rc: $(tail -20 "$T/master.log")"
jq_check "$T/r.json" '.status == "ok" and .totals.ok == .totals.tasks' "run ok"
for p in "${HELD[@]}"; do
    jq -e --arg p "$p" '.tasks[] | select(.project == $p) | .attempts >= 2 and .status == "ok"' \
        "$T/r.json" >/dev/null || fail "task $p: $(jq -c --arg p "$p" '.tasks[] | select(.project == $p)' "$T/r.json")"
done
grep -q "worker w[0-9]* (hB) joined" <(grep -A1000 "(hB) left" "$T/master.log") || fail "hB did not rejoin"
# Woken, hB either finds the master silent past its lease first (a new
# connection: "reconnecting"), or hears first that the master dropped it
# (HELLO again on the same one); both end "reconnected to".
grep -q "reconnected to" "$T/hB.log" || fail "hB did not reconnect: $(cat "$T/hB.log")"
# What hB believed it still held was refused, or what it sent late ignored.
grep -q "which is no longer its: cancelled\|ignoring result for run 1 task .* attempt 1 .*not in flight" \
    "$T/master.log" || fail "the master neither cancelled nor ignored hB's stale tasks:
$(grep -i "hB\|w1" "$T/master.log" | tail -20)"
# The late results changed nothing: each held task was accepted once, for
# its retry, never for the attempt hB ran.
for p in "${HELD[@]}"; do
    oks=$(grep "run 1: $p ok on" "$T/master.log")
    [[ $(grep -c . <<<"$oks") == 1 && $oks != *"(attempt 1)"* ]] ||
        fail "task $p accepted as: $oks"
done
same_tree "$T/src" "$T/dst"

note "a second run has nothing to transfer"
ms_client run --master "$CTL" --report "$T/r2.json" "$T/src" "$T/dst" >"$T/out2" 2>&1 ||
    fail "second run failed: $(cat "$T/out2")"
jq_check "$T/r2.json" '.status == "ok" and .totals.bytes_transferred == 0' "nothing to transfer"
same_tree "$T/src" "$T/dst"
kill -0 "${WPID[hB]}" || fail "worker hB died"
echo ok
