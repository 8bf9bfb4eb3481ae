#!/usr/bin/env bash
# One run per destination: a second run into a destination that a run is
# writing is refused at once, whoever starts it (the same set twice, an
# embedded run racing a master's, a master's racing an embedded one); a
# crashed run's lock goes with it (kill -9), but a dead master's workers
# may write for one more lease, and its lock says so; a master that comes
# back to find its run's destination taken gives that run up.
source "$(dirname "$0")/lib.sh"

CTL=ipc://$T/control.sock WEP=ipc://$T/workers.sock
gen_projects "$T/src" p 4 1500000
cat >"$T/master.ini" <<INI
[master]
listen = $WEP
control = $CTL
catalog = $T/catalog.db
[set nightly]
source = $T/src
destination = $T/dst
INI
start_master() {
    start_bg "$T/master$1.log" "$BIN/multisync-master" -c "$T/master.ini"
    MASTER_PID=$LAST_PID
    wait_until 10 "the master to answer" "$BIN/multisync" status --master "$CTL" --json >/dev/null 2>&1
}
start_master 1
# Slow copies: every run below is still going when the next one is tried.
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA \
    --rsync-opt=--bwlimit=1000
WORKER_PID=$LAST_PID
wait_workers "$CTL" 1
running() { "$BIN/multisync" status --master "$CTL" --json | jq -e '.running | length > 0' >/dev/null; }
lock_says() { grep -q "$1" "$T/dst/.multisync.lock" 2>/dev/null; }
refused() { # refused SECONDS WHAT CMD... : CMD fails within SECONDS saying WHAT
    local secs=$1 what=$2 t0=$SECONDS rc=0
    shift 2
    "$@" >"$T/rout" 2>"$T/rerr" || rc=$?
    ((rc != 0)) || fail "not refused: $*"
    ((SECONDS - t0 <= secs)) || fail "refused only after $((SECONDS - t0)) s: $*"
    grep -q -- "$what" "$T/rerr" || fail "unclear refusal of $*: $(cat "$T/rerr")"
}

note "a master's run goes; the same set again is refused at once"
mkdir "$T/dst" # a master locks a destination that exists (it need not see the workers' paths)
"$BIN/multisync" run --master "$CTL" nightly >"$T/out1" 2>"$T/err1" &
RUN1=$!
wait_until 20 "the first run's rsyncs" running
refused 3 "destination $T/dst is in use by run 1 of this master" \
    "$BIN/multisync" run --master "$CTL" nightly
lock_says "multisync-master, run 1" || fail "the destination's lock does not name the run"

note "an embedded run into the same destination is refused at once"
refused 3 "destination $T/dst is in use by pid $MASTER_PID multisync-master, run 1" \
    "$BIN/multisync" run "$T/src" "$T/dst"
wait_exit 120 $RUN1 "the first run"
((RC == 0)) || fail "the first run exited $RC: $(cat "$T/err1")"
same_tree "$T/src" "$T/dst"
[[ ! -s $T/dst/.multisync.lock ]] || fail "the finished run did not release the destination"

note "a master's run while an embedded run goes is refused; kill -9 frees it"
rm -rf "$T/dst"
"$BIN/multisync" run --rsync-opt=--bwlimit=1000 "$T/src" "$T/dst" >"$T/out2" 2>"$T/err2" &
EMB=$!
wait_until 20 "the embedded run's lock" lock_says "multisync, run 1"
refused 3 "destination $T/dst is in use by pid $EMB multisync, run 1" \
    "$BIN/multisync" run --master "$CTL" nightly
kill -9 "$EMB"
# Its worker and rsyncs die with it; the lock goes with the last of them.
accepted() { "$BIN/multisync" run --master "$CTL" nightly >"$T/out3" 2>"$T/err3"; }
wait_until 10 "a run after the embedded one was killed" accepted
same_tree "$T/src" "$T/dst"

note "a master that dies: the next run waits out its workers' lease"
rm -rf "$T/dst"
mkdir "$T/dst"
"$BIN/multisync" run --master "$CTL" nightly >"$T/out4" 2>"$T/err4" &
wait_until 20 "the run's rsyncs" running
kill -9 "$MASTER_PID"
refused 3 "which ended .* without releasing it: its workers may write there for up to" \
    "$BIN/multisync" run "$T/src" "$T/dst"

note "the master comes back after another run took its destination: it gives its run up"
sleep 3.5 # the lease: the worker has stopped its rsyncs
"$BIN/multisync" run --rsync-opt=--bwlimit=1000 "$T/src" "$T/dst" >"$T/out5" 2>"$T/err5" &
EMB=$!
wait_until 20 "the embedded run's lock" lock_says "pid $EMB multisync, run "
start_master 2
"$BIN/multisync" history --master "$CTL" --json >"$T/h.json"
jq_check "$T/h.json" '.[0].status == "failed"' "the resumed run was given up"
grep -q "run [0-9]* not resumed: destination $T/dst is in use by pid $EMB multisync, run [0-9]" "$T/master2.log" ||
    fail "the master does not say why: $(grep -i resum "$T/master2.log")"
wait_exit 120 $EMB "the embedded run"
((RC == 0)) || fail "the embedded run exited $RC: $(cat "$T/err5")"
same_tree "$T/src" "$T/dst"
echo ok
