#!/usr/bin/env bash
# A [set]'s hooks on a real master and worker (README "Hooks"): pre_run runs
# before the first rsync and post_run after the last, both with their argv
# as written (quotes, spaces) and the run's id, set, paths, status and report
# (the run's JSON, mode 0600) in their environment; on_failure only after a
# run that failed. The client returns once they are done. A pre_run that
# fails fails the run with nothing copied, and post_run and on_failure still
# run; one that hangs is killed at hook_timeout while the master keeps
# answering status (which shows the hook); a run cancelled during its
# pre_run stops it; one whose master stops during its pre_run fails when
# the master is back. Hook output lines are in the master's log.
source "$(dirname "$0")/lib.sh"

H=$T/h
mkdir -p "$H"
cat >"$T/record.sh" <<'SH'
#!/bin/bash
# record.sh DIR MODE WORDS... : a hook that records its argv, environment,
# pid and time, says hello on stdout and stderr, then does MODE.
dir=$1 mode=$2 hook=$MULTISYNC_HOOK run=$MULTISYNC_RUN_ID
printf '%s\n' "$@" >"$dir/$hook-$run.argv"
env | grep '^MULTISYNC_' | LC_ALL=C sort >"$dir/$hook-$run.env"
echo $$ >"$dir/$hook-$run.pid"
echo "$hook $(date +%s%N)" >>"$dir/order"
echo "hello from $hook of run $run"
echo "stderr of $hook" >&2
case $mode in
fail) exit 3 ;;
hang) trap '' TERM; sleep 300 & wait; sleep 300 ;;
slow) sleep 1; touch "$dir/$hook-$run.done" ;;
esac
exit 0
SH
# The worker's rsync: notes when each starts; the project "bad" fails.
cat >"$T/rsync.sh" <<SH
#!/bin/bash
echo "rsync \$(date +%s%N) \$PWD" >>"$H/order"
case \$PWD in */bad | */bad/*) echo "failing on purpose" >&2; exit 23 ;; esac
exec rsync "\$@"
SH
chmod +x "$T/record.sh" "$T/rsync.sh"

gen_projects "$T/src" p 3 20000
gen_projects "$T/src2" q 2 20000
make_file "$T/src2/bad/f" 100
mkdir -p "$T/dst-pre"
make_file "$T/dst-pre/kept/old" 300 # what a backup held before

R="$T/record.sh $H"
cat >"$T/master.ini" <<INI
[master]
listen = ipc://$T/w.sock
control = ipc://$T/c.sock
catalog = $T/db/cat.db
attempts = 1
heartbeat_ms = 200
hook_timeout = 60

[set good]
source = $T/src
destination = $T/dst-good
pre_run = $R ok "two words" 'it"s' a\\ b \$HOME
post_run = $R slow
on_failure = $R ok

[set bad]
source = $T/src2
destination = $T/dst-bad
post_run = $R ok
on_failure = $R ok

[set nopre]
source = $T/src
destination = $T/dst-pre
pre_run = $R fail
post_run = $R ok
on_failure = $R ok

[set hang]
source = $T/src
destination = $T/dst-hang
pre_run = $R hang
post_run = $R ok
hook_timeout = 2

[set slowpre]
source = $T/src
destination = $T/dst-slow
pre_run = $R hang
post_run = $R ok
on_failure = $R ok
INI
CTL=ipc://$T/c.sock
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini"
MASTER_PID=$LAST_PID
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
    --heartbeat-ms 200 --rsync "$T/rsync.sh"
wait_workers "$CTL" 1
diagnose() { tail -30 "$T/master.log" "$T/worker.log"; cat "$H/order" 2>/dev/null; }

# run_set SET ID : run the set through the master; RC its exit status.
run_set() {
    : >"$H/order"
    RC=0
    "$BIN/multisync" run --master "$CTL" --report "$T/r$2.json" "$1" >"$T/out$2" 2>&1 || RC=$?
}
# order : the kinds of lines of the order file, in time order, rsyncs once.
order() { sort -k2,2n "$H/order" | awk '{print $1}' | uniq | paste -sd' '; }
env_of() { grep -x "$2" "$H/$1.env" >/dev/null || fail "$1 lacks $2: $(cat "$H/$1.env")"; }

note "a good run: pre_run, the rsyncs, post_run; no on_failure; the client waits for post_run"
run_set good 1
[[ $RC == 0 ]] || fail "run good exited $RC: $(cat "$T/out1")"
[[ -e $H/post_run-1.done ]] || fail "the client returned before post_run ended"
[[ $(order) == "pre_run rsync post_run" ]] || fail "hooks out of order: $(order)"
[[ ! -e $H/on_failure-1.env ]] || fail "on_failure ran after a run that went well"
printf '%s\n' "$H" ok "two words" 'it"s' "a b" '$HOME' >"$T/want.argv"
diff "$T/want.argv" "$H/pre_run-1.argv" || fail "pre_run's argv is not as written"
env_of pre_run-1 MULTISYNC_RUN_ID=1
env_of pre_run-1 MULTISYNC_SET=good
env_of pre_run-1 "MULTISYNC_SOURCE=$T/src"
env_of pre_run-1 "MULTISYNC_DEST=$T/dst-good"
env_of pre_run-1 MULTISYNC_HOOK=pre_run
! grep -q MULTISYNC_STATUS "$H/pre_run-1.env" || fail "pre_run was given a status"
env_of post_run-1 MULTISYNC_HOOK=post_run
env_of post_run-1 MULTISYNC_STATUS=ok
REP=$(sed -n 's/^MULTISYNC_REPORT=//p' "$H/post_run-1.env")
[[ $REP == "$T/db/reports/run-1.json" ]] || fail "post_run's report is '$REP'"
jq_check "$REP" '.run_id == 1 and .status == "ok" and (.tasks | length) == 4' \
    "the report file is run 1's JSON"
[[ $(stat -c %a "$REP") == 600 ]] || fail "the report file is mode $(stat -c %a "$REP")"
same_tree "$T/src" "$T/dst-good"
grep -q "run 1: pre_run: hello from pre_run of run 1$" "$T/master.log" ||
    fail "pre_run's stdout is not in the master's log"
grep -q "run 1: post_run: stderr of post_run$" "$T/master.log" ||
    fail "post_run's stderr is not in the master's log"

note "a run that fails: post_run, then on_failure, both told it failed"
run_set bad 2
[[ $RC == 1 ]] || fail "run bad exited $RC: $(cat "$T/out2")"
[[ $(order) == "rsync post_run on_failure" ]] || fail "hooks out of order: $(order)"
env_of post_run-2 MULTISYNC_STATUS=failed
env_of on_failure-2 MULTISYNC_STATUS=failed
env_of on_failure-2 MULTISYNC_HOOK=on_failure
jq_check "$T/db/reports/run-2.json" '.run_id == 2 and .status == "failed"' "run 2's report file"

note "a pre_run that fails: nothing copied, every task failed, post_run and on_failure run"
before=$(tree_fingerprint "$T/dst-pre/kept")
run_set nopre 3
[[ $RC == 1 ]] || fail "run nopre exited $RC: $(cat "$T/out3")"
[[ $(order) == "pre_run post_run on_failure" ]] || fail "not as a failed pre_run: $(order)"
[[ $(tree_fingerprint "$T/dst-pre/kept") == "$before" &&
    $(ls -A "$T/dst-pre" | paste -sd' ') == ".multisync.lock kept" ]] ||
    fail "the destination changed though pre_run failed: $(ls -A "$T/dst-pre")"
jq_check "$T/r3.json" '.status == "failed" and ([.tasks[] | select(.status == "ok")] | length) == 0
    and all(.tasks[]; .message | test("the pre_run hook of set nopre exited with status 3"))' \
    "every task failed, naming the pre_run hook and its exit"
env_of on_failure-3 MULTISYNC_STATUS=failed

note "a pre_run that hangs: killed at hook_timeout; status answers meanwhile and shows it"
: >"$H/order"
"$BIN/multisync" run --master "$CTL" --report "$T/r4.json" hang >"$T/out4" 2>&1 &
RUN_PID=$!
wait_until 20 "status to show run 4 waiting on its pre_run" bash -c \
    "'$BIN/multisync' status --master '$CTL' --json | jq -e '.run.id == 4 and .run.hook.name == \"pre_run\"' >/dev/null"
"$BIN/multisync" status --master "$CTL" | grep -q "waiting on its pre_run hook" ||
    fail "status does not say the run waits on its pre_run hook"
[[ -z $(rsyncs_under "$T/src") ]] || fail "an rsync runs while pre_run runs"
wait_exit 30 "$RUN_PID" "the run whose pre_run hangs"
[[ $RC == 1 ]] || fail "run hang exited $RC: $(cat "$T/out4")"
jq_check "$T/r4.json" 'all(.tasks[]; .message | test("killed after its timeout of 2 s"))' \
    "the tasks say pre_run was killed at its timeout"
kill -0 "$(cat "$H/pre_run-4.pid")" 2>/dev/null && fail "the hung pre_run still runs"
[[ -e $H/post_run-4.env ]] || fail "post_run did not run after the pre_run timeout"
[[ ! -e $T/dst-hang/p1 ]] || fail "something was copied though pre_run failed"

note "a run cancelled during its pre_run: the hook stopped, post_run and on_failure told"
: >"$H/order"
"$BIN/multisync" run --master "$CTL" --report "$T/r5.json" slowpre >"$T/out5" 2>&1 &
RUN_PID=$!
wait_until 20 "run 5's pre_run to start" test -e "$H/pre_run-5.pid"
"$BIN/multisync" cancel 5 --master "$CTL" >"$T/c5" 2>&1 || fail "cancel failed: $(cat "$T/c5")"
wait_exit 30 "$RUN_PID" "the cancelled run"
[[ $RC == 130 ]] || fail "the cancelled run's client exited $RC: $(cat "$T/out5")"
kill -0 "$(cat "$H/pre_run-5.pid")" 2>/dev/null && fail "the cancelled run's pre_run still runs"
[[ $(order) == "pre_run post_run on_failure" ]] || fail "not as a cancelled pre_run: $(order)"
env_of post_run-5 MULTISYNC_STATUS=cancelled
env_of on_failure-5 MULTISYNC_STATUS=cancelled
jq_check "$T/r5.json" '.status == "cancelled"' "run 5 ended cancelled"

note "a master stopped during a pre_run: the hook stopped with it, the run failed when it is back"
: >"$H/order"
"$BIN/multisync" run --master "$CTL" --report "$T/r6.json" slowpre >"$T/out6" 2>&1 &
RUN_PID=$!
wait_until 20 "run 6's pre_run to start" test -e "$H/pre_run-6.pid"
kill "$MASTER_PID"
wait_until 20 "the master to stop" bash -c "! kill -0 $MASTER_PID 2>/dev/null"
kill -0 "$(cat "$H/pre_run-6.pid")" 2>/dev/null && fail "the master left its pre_run running"
start_bg "$T/master2.log" "$BIN/multisync-master" -c "$T/master.ini"
MASTER_PID=$LAST_PID
wait_exit 60 "$RUN_PID" "the client of the run whose master restarted"
[[ $RC == 1 ]] || fail "run 6's client exited $RC: $(cat "$T/out6")"
jq_check "$T/r6.json" '.status == "failed" and
    all(.tasks[]; .message | test("the master stopped while its pre_run hook ran"))' \
    "run 6 failed, saying its pre_run was cut short"
[[ -z $(grep rsync "$H/order") ]] || fail "run 6 copied without its pre_run"
env_of post_run-6 MULTISYNC_STATUS=failed
kill -0 "$MASTER_PID" || fail "the master died"
echo "test_hooks: ok"
