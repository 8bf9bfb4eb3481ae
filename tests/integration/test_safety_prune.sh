#!/usr/bin/env bash
# Projects that leave the source:
#   - with --delete, the backup of a project deleted from the source is
#     removed once every copy succeeded (never following a link in it);
#     without --delete it stays; a run that would remove more than a
#     quarter of the backup's projects removes none and fails naming them,
#     unless --force-delete; a run with a failed copy removes nothing;
#   - a project that vanishes (or becomes a symlink) between the walk and
#     its task is reported `vanished`, creates nothing in the backup, copies
#     nothing from outside SRC, and does not fail the run.
source "$(dirname "$0")/lib.sh"

S=$T/src D=$T/dst
gen_projects "$S" p 8 2000
mkdir -p "$T/outside"
echo keep >"$T/outside/keep"
tree_fingerprint "$T/outside" >"$T/fp-outside"
run() { # run ARGS... : embedded; status in RC, output in $T/out, $T/err
    RC=0
    "$BIN/multisync" run --report "$T/r.json" "$@" "$S" "$D" >"$T/out" 2>"$T/err" || RC=$?
}

run --delete
((RC == 0)) || fail "first run exited $RC: $(cat "$T/err")"
same_tree "$S" "$D"

note "a project deleted from the source: its backup goes, a link in it is not followed"
rm -r "$S/p3"
ln -s "$T/outside" "$D/p3/link-out"
ln -s "$T/outside" "$D/p3/sub/link-out"
run --delete
cat "$T/out"
((RC == 0)) || fail "run exited $RC: $(cat "$T/err")"
[[ ! -e $D/p3 ]] || fail "the backup of p3 is still there"
tree_fingerprint "$T/outside" | diff "$T/fp-outside" - >&2 || fail "outside was touched"
grep -q "^NOTE \.: removed the backup of 1 project gone from the source: p3" "$T/out" ||
    fail "the report does not say p3's backup was removed"
jq_check "$T/r.json" '.tasks[] | select(.project == ".") | .status == "ok" and
    (.message | test("removed the backup of 1 project gone from the source: p3"))' "the top row says it"
same_tree "$S" "$D"

note "without --delete, the backup of a deleted project stays"
rm -r "$S/p4"
run
((RC == 0)) || fail "run exited $RC: $(cat "$T/err")"
[[ -d $D/p4 ]] || fail "p4's backup was removed without --delete"

note "more than a quarter gone: nothing removed, the run fails naming them"
rm -r "$S/p5" "$S/p6" "$S/p7"
echo changed >"$S/p1/new-file"
tree_fingerprint "$D/p5" >"$T/fp-p5"
run --delete
cat "$T/out" "$T/err"
((RC == 4)) || fail "exit status $RC, expected 4 (refused by the guard)"
for p in p4 p5 p6 p7; do [[ -d $D/$p ]] || fail "$p's backup was removed"; done
tree_fingerprint "$D/p5" | diff "$T/fp-p5" - >&2 || fail "p5's backup was changed"
grep -q "^FAILED \. .*(exit 25,.*refusing to remove the backups of 4 of 7 projects.*: p4, p5, p6, p7" \
    "$T/err" || fail "the refusal does not name them"
[[ -f $D/p1/new-file ]] || fail "the copies were not made"

note "--force-delete removes them"
run --delete --force-delete
((RC == 0)) || fail "forced run exited $RC: $(cat "$T/err")"
for p in p4 p5 p6 p7; do [[ ! -e $D/$p ]] || fail "$p's backup is still there"; done
same_tree "$S" "$D"

note "a run with a failed copy removes nothing"
rm -r "$S/p8"
gen_projects "$S" r 3 100 # 1 of 6 projects gone: below the guard's quarter
cat >"$T/rsync-p2-fails" <<SH
#!/bin/bash
[[ \$PWD == */p2 ]] && { echo "p2: made to fail" >&2; exit 23; }
exec rsync "\$@"
SH
chmod +x "$T/rsync-p2-fails"
echo changed >"$S/p2/changed" # not skipped as unchanged
run --delete --rsync "$T/rsync-p2-fails"
((RC == 1)) || fail "exit status $RC, expected 1 (p2 fails)"
jq_check "$T/r.json" '.tasks[] | select(.project == "p2") | .status == "failed"' "p2 failed"
[[ -d $D/p8 ]] || fail "p8's backup was removed although a copy failed"

note "through a master and a worker, the same"
gen_projects "$S" q 5 1000 # the backup counts its folders after this run's copies
CTL=ipc://$T/control.sock WEP=ipc://$T/workers.sock
start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" --catalog "$T/cat.db"
MASTER_PID=$LAST_PID
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA
wait_workers "$CTL" 1
RC=0
"$BIN/multisync" run --master "$CTL" --delete --report "$T/rm.json" "$S" "$D" >"$T/out" 2>"$T/err" || RC=$?
((RC == 0)) || fail "master run exited $RC: $(cat "$T/err")"
[[ ! -e $D/p8 ]] || fail "p8's backup is still there"
same_tree "$S" "$D"

note "a project that vanishes, or becomes a link, after the walk"
# One slot; the biggest project goes first and holds the slot while the
# test removes one project and swaps another for a link to outside.
make_file "$S/big/blob" 3000000
mkdir -p "$S/vanishing" "$S/swapped"
echo x >"$S/vanishing/f"
echo y >"$S/swapped/f"
cat >"$T/rsync-slow" <<SH
#!/bin/bash
if [[ \$PWD == */big || "\$*" == */big/* ]]; then touch "$T/big-started"; sleep 2; fi
exec rsync "\$@"
SH
chmod +x "$T/rsync-slow"
rm -rf "$T/dst2"
"$BIN/multisync" run --slots 1 --rsync "$T/rsync-slow" --report "$T/rv.json" "$S" "$T/dst2" \
    >"$T/out" 2>"$T/err" &
pid=$!
wait_until 20 "the big project's rsync" test -e "$T/big-started"
rm -r "$S/vanishing" "$S/swapped"
ln -s "$T/outside" "$S/swapped"
wait_exit 60 $pid "the run"
cat "$T/out" "$T/err"
((RC == 0)) || fail "exit status $RC: a vanished project must not fail the run"
jq_check "$T/rv.json" '.tasks[] | select(.project == "vanishing") | .status == "vanished"' "vanishing is vanished"
jq_check "$T/rv.json" '.tasks[] | select(.project == "swapped") | .status == "vanished"' "swapped is vanished"
jq_check "$T/rv.json" '.status == "ok" and .totals.vanished == 2 and .totals.failed == 0' "totals"
grep -q "^VANISHED vanishing: source .*/vanishing is gone since the walk" "$T/out" ||
    fail "the output does not say vanishing vanished"
[[ ! -e $T/dst2/vanishing ]] || fail "an empty backup of vanishing was made"
# The top task copies the link itself, as rsync -a of the whole tree would.
[[ -L $T/dst2/swapped || ! -e $T/dst2/swapped ]] || fail "a tree from outside SRC was copied"
tree_fingerprint "$T/outside" | diff "$T/fp-outside" - >&2 || fail "outside was touched"
echo ok
