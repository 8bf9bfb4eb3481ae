#!/usr/bin/env bash
# A task that fails is reported with the project, the host and rsync's
# message; the other tasks still finish; the exit status is non-zero.
source "$(dirname "$0")/lib.sh"

gen_tree "$T/src"
# In the backup of beta, a full folder where the source has a file: rsync
# (without --delete) cannot make way for the file. (A file where beta's own
# folder belongs would be replaced by the folder, as rsync -a of the whole
# tree does: test_safety_paths.sh.)
mkdir -p "$T/dst/beta/d1/sub/f1"
echo "in the way" >"$T/dst/beta/d1/sub/f1/x"

rc=0
"$BIN/multisync" run --slots 2 --report "$T/r.json" "$T/src" "$T/dst" >"$T/out" 2>"$T/err" || rc=$?
cat "$T/out" "$T/err"
[[ $rc == 1 ]] || fail "exit status $rc, expected 1"
grep -q "^FAILED beta on " "$T/err" || fail "no FAILED line for beta"
grep -q "rsync" "$T/err" || fail "rsync's message is not shown"
jq_check "$T/r.json" '.status == "failed" and .totals.failed == 1' "one failed task"
jq_check "$T/r.json" '.tasks[] | select(.project == "beta") | .status == "failed" and .exit_code != 0 and (.message | length > 0)' \
    "beta failed with a message"
jq_check "$T/r.json" '[.tasks[] | select(.project != "beta") | .status] | all(. == "ok")' "others ok"
[[ $(cat "$T/dst/beta/d1/sub/f1/x") == "in the way" ]] || fail "the folder in the way was changed"
for p in alpha big gamma "with space" "-starts-with-dash" "ünïcødé"; do
    diff -r "$T/src/$p" "$T/dst/$p" || fail "$p not copied"
done

note "usage errors are clear and exit 2"
rc=0; "$BIN/multisync" run "$T/src" 2>"$T/e1" || rc=$?
[[ $rc == 2 ]] && grep -q "needs SRC and DST" "$T/e1" || fail "missing DST: rc=$rc $(cat "$T/e1")"
rc=0; "$BIN/multisync" run "$T/does-not-exist" "$T/d" 2>"$T/e2" || rc=$?
[[ $rc == 2 ]] && grep -q "does-not-exist" "$T/e2" || fail "missing SRC: rc=$rc $(cat "$T/e2")"
rc=0; "$BIN/multisync" run --slots 0 "$T/src" "$T/d" 2>"$T/e3" || rc=$?
[[ $rc == 2 ]] && grep -q "slots" "$T/e3" || fail "bad slots: rc=$rc"
rc=0; "$BIN/multisync" frobnicate 2>"$T/e4" || rc=$?
[[ $rc == 2 ]] || fail "unknown command: rc=$rc"

note "bad config files are refused with the line"
printf '[worker]\nmaster = tcp://127.0.0.1:1\nslotz = 4\n' >"$T/bad.ini"
rc=0; "$BIN/multisync-worker" -c "$T/bad.ini" 2>"$T/e5" || rc=$?
[[ $rc != 0 ]] && grep -q "bad.ini:3: unknown key 'slotz'" "$T/e5" || fail "bad key: $(cat "$T/e5")"
printf '[worker]\nslots = many\n' >"$T/bad2.ini"
rc=0; "$BIN/multisync-worker" -c "$T/bad2.ini" 2>"$T/e6" || rc=$?
[[ $rc != 0 ]] && grep -q "bad2.ini:2: slots must be a number" "$T/e6" || fail "bad slots: $(cat "$T/e6")"
printf '[set x]\nsource = /a\n' >"$T/bad3.ini"
rc=0; "$BIN/multisync-master" -c "$T/bad3.ini" 2>"$T/e7" || rc=$?
[[ $rc != 0 ]] && grep -q "needs both source and destination" "$T/e7" || fail "bad set: $(cat "$T/e7")"
echo ok
