#!/usr/bin/env bash
# Fault: the destination filesystem is full. DST is a 3 MB tmpfs, the source
# holds 4.6 MB: small projects a1..a3 and large z1..z3 (1.5 MB each, started
# first: longest first), so not all of them fit; which ones do depends on
# the race for the space. The tasks that do not fit fail with rsync's "No
# space left on device" (exit 11, retried, then failed), the master and
# workers stay up, the run exits 1 and names the failed projects; what was
# copied is exact and nothing half-written is left. Once there is room, a
# new run completes the backup.
source "$(dirname "$0")/lib.sh"

[[ $(id -u) == 0 ]] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
mkdir -p "$T/dst"
mount -t tmpfs -o size=3m,mode=0755 "ms-test-$$" "$T/dst" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
at_exit "umount -l '$T/dst'"

for i in 1 2 3; do
    make_file "$T/src/a$i/f.bin" 50000
    make_file "$T/src/z$i/part1.bin" 750000
    make_file "$T/src/z$i/sub/part2.bin" 750000
done
make_file "$T/src/top.txt" 100

# ipc:// endpoints: one machine, no keys needed (the folder's mode guards them).
WEP=ipc://$T/workers.sock
CTL=ipc://$T/control.sock
start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" \
    --catalog "$T/catalog.db" --retry-delay-ms 100
MASTER_PID=$LAST_PID
start_bg "$T/wA.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA
WA=$LAST_PID
start_bg "$T/wB.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostB
WB=$LAST_PID
wait_workers "$CTL" 2

note "run into a destination that is too small"
rc=0
timeout 60 "$BIN/multisync" run --master "$CTL" --report "$T/r.json" "$T/src" "$T/dst" >"$T/out" 2>"$T/err" || rc=$?
cat "$T/out" "$T/err"
[[ $rc == 1 ]] || fail "exit status $rc, expected 1"
mapfile -t FAILED < <(jq -r '.tasks[] | select(.status == "failed") | .project' "$T/r.json")
mapfile -t OK < <(jq -r '.tasks[] | select(.status == "ok") | .project' "$T/r.json")
note "failed: ${FAILED[*]}; ok: ${OK[*]}"
((${#FAILED[@]} >= 1)) || fail "4.6 MB fit in 3 MB: nothing failed"
jq_check "$T/r.json" '.status == "failed" and .totals.failed >= 1 and .totals.ok + .totals.failed == .totals.tasks' "totals"
jq_check "$T/r.json" '[.tasks[] | select(.status == "failed")]
    | all(.exit_code != 0 and (.message | test("No space left on device")))' \
    "failed tasks carry rsync's 'No space left on device'"
for p in "${FAILED[@]}"; do
    grep -q "^FAILED $p on host[AB] (exit " "$T/err" || fail "stderr does not name failed project $p"
done

note "master and workers stay up"
kill -0 "$MASTER_PID" && kill -0 "$WA" && kill -0 "$WB" || fail "a daemon died"
"$BIN/multisync" status --master "$CTL" --json | jq -e '.workers | length == 2' >/dev/null ||
    fail "the master does not answer with both workers"

note "what was copied is exact, nothing half-written is left"
for p in "${OK[@]}"; do
    [[ $p == . ]] && continue
    same_tree "$T/src/$p" "$T/dst/$p"
done
for p in "${FAILED[@]}"; do
    [[ -d $T/dst/$p ]] || continue
    while IFS= read -r -d '' f; do
        rel=${f#"$T/dst/$p/"}
        cmp -s "$f" "$T/src/$p/$rel" || fail "half-written file in the backup: $f ($(stat -c %s "$f") bytes)"
    done < <(find "$T/dst/$p" -type f -print0)
done

note "with room, a new run completes the backup"
mount -o remount,size=20m "$T/dst" || fail "cannot grow the tmpfs"
timeout 60 "$BIN/multisync" run --master "$CTL" --report "$T/r2.json" "$T/src" "$T/dst" >"$T/out2" 2>&1 ||
    fail "run with room failed: $(cat "$T/out2")"
jq_check "$T/r2.json" '.status == "ok"' "run with room ok"
same_tree "$T/src" "$T/dst"
echo ok
