#!/usr/bin/env bash
# --task-timeout: a task that runs longer is stopped (SIGTERM to its process
# group, SIGKILL after a grace), counts as transient, is retried, and fails
# after its attempts with "timed out" in the report; the other projects
# are backed up, the run exits 1, no rsync is left behind, and the stopped
# copy leaves no half-written file under its own name in the backup.
source "$(dirname "$0")/lib.sh"

# slow: 2 MB at 200 KiB/s would take 10 s an attempt; fast1..2 are small.
make_file "$T/src/slow/big.bin" 2000000
make_file "$T/src/fast1/f.bin" 20000
make_file "$T/src/fast2/sub/g.bin" 20000

note "run with --task-timeout 1 and 2 attempts"
start=$SECONDS
rc=0
timeout 60 "$BIN/multisync" run --task-timeout 1 --attempts 2 --retry-delay-ms 100 \
    --rsync-opt=--bwlimit=200 --slots 2 --report "$T/r.json" "$T/src" "$T/dst" >"$T/out" 2>"$T/err" || rc=$?
took=$((SECONDS - start))
cat "$T/out" "$T/err"
[[ $rc == 1 ]] || fail "exit status $rc, expected 1 (a task failed)"
((took < 9)) || fail "the run took $took s: the slow task was not stopped at 1 s"
jq_check "$T/r.json" '.tasks[] | select(.project == "slow") | .status == "failed" and .attempts == 2
    and (.message | test("timed out after 1 s"))' "slow failed after 2 attempts, each timed out"
jq_check "$T/r.json" '[.tasks[] | select(.project | startswith("fast"))] | length == 2 and
    all(.status == "ok" and .attempts == 1)' "the fast projects are backed up"
grep -q "^FAILED slow" "$T/err" || fail "stderr does not name the failed project"
same_tree "$T/src/fast1" "$T/dst/fast1"
same_tree "$T/src/fast2" "$T/dst/fast2"

note "no rsync left, no half-written file under its own name"
[[ -z $(rsyncs_under "$T/src/slow") ]] || fail "an rsync of slow still runs: $(rsyncs_under "$T/src/slow")"
[[ ! -e $T/dst/slow/big.bin ]] || fail "a partial big.bin ($(stat -c %s "$T/dst/slow/big.bin") bytes) is in the backup"
echo ok
