#!/usr/bin/env bash
# SIGINT on an embedded `multisync run`: the run is cancelled, the rsyncs
# stop, the report says what finished and what did not, the exit status is
# 130, and nothing keeps running behind the user's back. The state catalog
# says cancelled, and the next run neither resumes it nor closes it again.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/src/small" "$T/src/slow1" "$T/src/slow2"
echo tiny >"$T/src/small/f"
make_file "$T/src/slow1/f" 3000000
make_file "$T/src/slow2/f" 3000000

# The private runtime folder under $T, so that the worker's argv names $T.
mkdir -p "$T/rt"
export TMPDIR=$T/rt XDG_RUNTIME_DIR=$T/rt
# 500 KB/s per rsync: the slow projects take ~6 s, the small one a moment.
"$BIN/multisync" run --slots 3 --rsync-opt=--bwlimit=500 --report "$T/r.json" "$T/src" "$T/dst" \
    >"$T/out" 2>"$T/err" &
pid=$!
for i in $(seq 1 50); do [[ -f $T/dst/small/f ]] && break; sleep 0.1; done
sleep 0.5
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
cat "$T/out" "$T/err"
[[ $rc == 130 ]] || fail "exit status $rc, expected 130"
jq_check "$T/r.json" '.status == "cancelled"' "report says cancelled"
jq_check "$T/r.json" '(.tasks[] | select(.project == "small") | .status) == "ok"' "the small project finished"
jq_check "$T/r.json" '[.tasks[] | select(.project | startswith("slow")) | .status] | all(. == "cancelled")' \
    "the slow ones are reported cancelled"
jq_check "$T/r.json" '.totals.cancelled >= 2 and .totals.failed == 0' "cancelled rows counted apart"
grep -q "CANCELLED slow1" "$T/err" || fail "stderr does not say the slow tasks were cancelled"
sleep 0.5
[[ -z $(rsyncs_under "$T/src") ]] || fail "rsync still running after the interrupt"
if pgrep -f "multisync-worker.*$T/rt/" >/dev/null; then fail "worker still running"; fi
diff -r "$T/src/small" "$T/dst/small" || fail "the finished project is not intact"
[[ ! -e $T/dst/slow1/f ]] || cmp -s "$T/src/slow1/f" "$T/dst/slow1/f" ||
    fail "a partial file was left in place of the backup"
leftovers=$(find "$T/dst" -name '.*' -type f ! -path "$T/dst/.multisync.lock")
[[ -z $leftovers ]] || fail "rsync temporary files left behind: $leftovers"

"$BIN/multisync" history --json >"$T/h.json" || fail "history failed"
jq_check "$T/h.json" '.[0].run_id == 1 and .[0].status == "cancelled" and .[0].failed == 0' \
    "history says run 1 was cancelled"
"$BIN/multisync" history | grep -q "^1 .*cancelled" || fail "history table: $(cat "$T/h.json")"

note "the next run copies what was left; run 1 stays cancelled"
"$BIN/multisync" run --report "$T/r2.json" "$T/src" "$T/dst" >"$T/out2" 2>&1 ||
    fail "second run: $(cat "$T/out2")"
jq_check "$T/r2.json" '.run_id == 2 and .status == "ok"' "second run ok"
"$BIN/multisync" history --json >"$T/h.json"
jq_check "$T/h.json" '[.[] | select(.run_id == 1)][0].status == "cancelled"' "run 1 still cancelled"
same_tree "$T/src" "$T/dst"
echo ok
