#!/usr/bin/env bash
# Fault: `kill -9` of an embedded `multisync run` while its rsyncs copy.
# Everything it started (the local worker, every rsync) dies with it within
# about a second instead of writing on; a rerun started right away exits 0
# with an exact backup; the killed run's private runtime folder is removed
# by that rerun, while the folder of a run that is still alive is left alone.
# A rerun started the moment the killed run is reaped waits for its worker
# and leaves no trace of the race (folder times, temporary files).
# Every failed assertion is listed before the test fails.
source "$(dirname "$0")/lib.sh"

# The private runtime folders go here, where the test can see them.
RT=$T/rt
mkdir -m 700 "$RT"
export XDG_RUNTIME_DIR=$RT TMPDIR=$RT

# 4 projects of 3 MB at 500 KiB/s over 2 slots: each rsync copies ~6 s.
gen_projects "$T/src" p 4 3000000
make_file "$T/src/top.txt" 1000
FAILS=()
bad() {
    echo "FAIL: $*" >&2
    FAILS+=("$*")
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The rsyncs of this test, by their working folder (lib.sh).
test_rsyncs() { rsyncs_under "$T"; }
# The embedded worker's argv names its private folder, under $RT.
test_workers() { pgrep -f "multisync-worker.*$RT/" || true; }
all_gone() { [[ -z $(test_workers) && -z $(test_rsyncs) ]]; }
copying() { [[ -n $(find "$T/dst" -name '.*' -type f -size +0 2>/dev/null) ]]; }

note "a slow embedded run, killed with -9 while its rsyncs copy"
"$BIN/multisync" run --slots 2 --rsync-opt=--bwlimit=500 "$T/src" "$T/dst" \
    >"$T/killed.out" 2>"$T/killed.err" &
CLI=$!
wait_until 15 "the rsyncs write into the backup" copying
sleep 0.5
mapfile -t RUNDIRS < <(compgen -G "$RT/multisync.*" || true)
((${#RUNDIRS[@]} == 1)) || fail "expected one private folder in $RT, saw: ${RUNDIRS[*]}"
KILLED_DIR=${RUNDIRS[0]}
WORKER=$(test_workers)
RSYNCS=$(test_rsyncs | tr '\n' ' ')
[[ -n $WORKER ]] || fail "no worker found for the run (argv naming $RT)"
[[ -n $RSYNCS ]] || fail "no rsync of this test runs"
note "cli $CLI, worker $WORKER, rsyncs $RSYNCS, folder $KILLED_DIR"
t0=$(now_ms)
kill -KILL "$CLI"
wait "$CLI" 2>/dev/null || true

note "the worker and every rsync die with it"
until all_gone || (($(now_ms) - t0 > 10000)); do sleep 0.05; done
gone_ms=$(($(now_ms) - t0))
if all_gone; then
    note "worker and rsyncs gone ${gone_ms} ms after kill -9"
    ((gone_ms <= 1500)) || bad "worker and rsyncs took ${gone_ms} ms to exit (want about 1 s)"
else
    bad "after 10 s still running: worker '$(test_workers | tr '\n' ' ')' rsyncs '$(test_rsyncs | tr '\n' ' ')'"
fi
[[ -d $KILLED_DIR ]] && note "left behind: $(ls -A "$KILLED_DIR" | tr '\n' ' ')"

note "a live run elsewhere keeps its folder"
mkdir -p "$T/src2/q"
make_file "$T/src2/q/f.bin" 2000000
"$BIN/multisync" run --slots 1 --rsync-opt=--bwlimit=500 "$T/src2" "$T/dst2" \
    >"$T/live.out" 2>"$T/live.err" &
LIVE=$!
live_copying() { [[ -n $(find "$T/dst2" -name '.*' -type f 2>/dev/null) ]]; }
wait_until 15 "the live run copies" live_copying
mapfile -t LIVE_DIRS < <(compgen -G "$RT/multisync.*" | grep -vxF "$KILLED_DIR" || true)
((${#LIVE_DIRS[@]} == 1)) || fail "expected one folder of the live run, saw: ${LIVE_DIRS[*]}"

note "a rerun right away"
t1=$(now_ms)
rc=0
"$BIN/multisync" run --slots 2 --report "$T/r.json" "$T/src" "$T/dst" >"$T/rerun.out" \
    2>"$T/rerun.err" || rc=$?
note "rerun: exit $rc in $(($(now_ms) - t1)) ms"
[[ $rc == 0 ]] || bad "the rerun exited $rc: $(tail -5 "$T/rerun.err")"
[[ ! -e $KILLED_DIR ]] || bad "the killed run's folder is still there: $(ls -lA "$KILLED_DIR")"
[[ -d ${LIVE_DIRS[0]} ]] || bad "the rerun removed the live run's folder ${LIVE_DIRS[0]}"
kill -0 "$LIVE" 2>/dev/null || bad "the live run ended before the rerun did (test too fast?)"
sleep 1 # anything the killed run left running would write on meanwhile
(same_tree "$T/src" "$T/dst") || bad "the backup differs from the source after the rerun"
leftovers=$(find "$T/dst" -name '.*' -type f ! -path "$T/dst/.multisync.lock")
[[ -z $leftovers ]] || bad "rsync temporary files left in the backup: $leftovers"

note "the live run ends ok and removes its own folder"
wait_exit 30 "$LIVE" "the live run"
[[ $RC == 0 ]] || bad "the live run exited $RC: $(tail -5 "$T/live.err")"
(same_tree "$T/src2" "$T/dst2") || bad "the live run's backup differs"

note "killed again, and rerun without waiting: the rerun waits for the dying worker"
"$BIN/multisync" run --slots 2 --rsync-opt=--bwlimit=500 "$T/src" "$T/dst3" \
    >"$T/killed2.out" 2>"$T/killed2.err" &
CLI=$!
copying3() { [[ -n $(find "$T/dst3" -name '.*' -type f -size +0 2>/dev/null) ]]; }
wait_until 15 "the rsyncs write into the second backup" copying3
sleep 0.5
kill -KILL "$CLI"
wait "$CLI" 2>/dev/null || true
rc=0
"$BIN/multisync" run --slots 2 "$T/src" "$T/dst3" >"$T/rerun2.out" 2>"$T/rerun2.err" || rc=$?
[[ $rc == 0 ]] || bad "the immediate rerun exited $rc: $(tail -5 "$T/rerun2.err")"
[[ -z $(test_workers) && -z $(test_rsyncs) ]] || bad "the killed run still copies after the rerun"
sleep 1 # what the killed run would still do, it would do now
(same_tree "$T/src" "$T/dst3") || bad "the immediate rerun's backup differs from the source"
leftovers=$(find "$T/dst3" -name '.*' -type f ! -path "$T/dst3/.multisync.lock")
[[ -z $leftovers ]] || bad "rsync temporary files left in the second backup: $leftovers"
left=$(compgen -G "$RT/multisync.*" || true)
[[ -z $left ]] || bad "private folders left in $RT: $left"

if ((${#FAILS[@]} > 0)); then
    printf '  - %s\n' "${FAILS[@]}" >&2
    fail "${#FAILS[@]} assertion(s) failed"
fi
echo ok
