#!/usr/bin/env bash
# Fault: `kill -9` of the master in the middle of a run (some projects done,
# others being copied), then a restart with the same catalog at once. The new master
# resumes the run: finished projects are not copied again, those in flight
# are adopted from the workers when they reconnect (or run again). The
# `multisync run --master` started before the crash keeps waiting, prints
# the report and exits 0. The backup is exact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_setup

# b1..b4, 2 MB each at 500 KiB/s: ~4 s, go first (longest first) and are in
# flight when the master dies; a1..a3 are small and finish at once in the
# two slots left, then the third.
gen_projects "$T/src" a 3 20000
gen_projects "$T/src" b 4 2000000
make_file "$T/src/top.txt" 1000
mkdir "$T/dst" # there before the run: the run locks it (.multisync.lock)
make_host hA "$NET.11/24"
make_host hB "$NET.12/24"
start_master
start_worker hA 3 --rsync-opt=--bwlimit=500
start_worker hB 3 --rsync-opt=--bwlimit=500
wait_hosts 2
for h in hA hB; do
    wait_until 10 "$h logs that it is connected" grep -qF "connected to $WORKER_EP as $h (3 slots)" "$T/$h.log"
done

note "run; kill -9 the master once a* are done and b* are being copied"
start_bg "$T/client.log" "$BIN/multisync" run --master "$CTL" "${CLIENT_OPTS[@]}" \
    --report "$T/r.json" "$T/src" "$T/dst"
CLIENT=$LAST_PID
midway() {
    [[ $(done_in_log 1 | grep -c '^a') == 3 && $(running_tasks | grep -c '^b') -ge 2 ]]
}
wait_until 10 "a* done and b* running" midway
sleep 0.5
mapfile -t DONE < <(done_in_log 1)
mapfile -t FLYING < <(running_tasks | cut -f1)
note "done: ${DONE[*]}; in flight: ${FLYING[*]}"
# Inode and mtime of every file of the finished projects: a copy made again
# would replace them (rsync writes a new file and renames it).
for p in "${DONE[@]}"; do (cd "$T/dst" && find "$p" -type f -printf '%p %i %T@\n'); done | sort >"$T/done-before"
kill -KILL "$MASTER_PID"
echo "--- master killed" >>"$T/master.log"
sleep 0.1
kill -0 "$CLIENT" 2>/dev/null || fail "the client gave up when the master died: $(cat "$T/client.log")"

# At once, within the workers' lease: the destination's lock still names
# the dead master, whose workers are this master's too; its run goes on.
note "restart the master with the same catalog"
start_master
grep -q "run 1 resumed: ${#DONE[@]} of 8 tasks finished" "$T/master.log" ||
    fail "run 1 not resumed as expected: $(grep resumed "$T/master.log")"

for h in hA hB; do
    wait_until 10 "$h logs that it is back with the new master" \
        grep -q "reconnected to $WORKER_EP as $h (3 slots, [0-9]* task(s) still running)" "$T/$h.log"
done

wait_exit 30 "$CLIENT" "the run (client $CLIENT)"
rc=$RC
cat "$T/client.log"
[[ $rc == 0 ]] || fail "the client exited $rc: $(cat "$T/client.log") / master: $(tail -20 "$T/master.log")"
grep -q "^run 1: ok" "$T/client.log" || fail "the client did not print the report"
jq_check "$T/r.json" '.status == "ok" and .totals.ok == .totals.tasks and .totals.tasks == 8' "run ok"
for p in "${DONE[@]}"; do
    jq -e --arg p "$p" '.tasks[] | select(.project == $p) | .attempts == 1 and .status == "ok"' \
        "$T/r.json" >/dev/null || fail "finished task $p: $(jq -c --arg p "$p" '.tasks[] | select(.project == $p)' "$T/r.json")"
    n=$(cat "$T"/hA.log "$T"/hB.log | grep -c "run 1: started $p (attempt")
    [[ $n == 1 ]] || fail "$p was started $n times"
done
for p in "${DONE[@]}"; do (cd "$T/dst" && find "$p" -type f -printf '%p %i %T@\n'); done | sort >"$T/done-after"
diff "$T/done-before" "$T/done-after" || fail "files of projects finished before the crash were rewritten"
# In-flight tasks were adopted from their workers, or ran again (requeued
# when unclaimed, or retried when their worker reported it had stopped them).
for p in "${FLYING[@]}"; do
    sed -n '/^--- master killed/,$p' "$T/master.log" |
        grep -q "run 1: $p adopted from worker\|run 1: $p requeued\|run 1: $p failed on .*retrying" ||
        fail "the new master did not take over $p: $(sed -n '/^--- master killed/,$p' "$T/master.log")"
done
same_tree "$T/src" "$T/dst"
echo ok
