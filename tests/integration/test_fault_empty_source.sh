#!/usr/bin/env bash
# Fault: the source is not there (an unmounted filesystem looks like an empty
# folder). With --delete, mirroring it would wipe the backup:
#   - an empty source root is refused with a clear message, the backup is
#     byte-for-byte untouched;
#   - a project whose source folder was emptied is refused ("refusing to
#     mirror deletions") and its backup untouched, while the other projects
#     are mirrored normally, deletions included.
source "$(dirname "$0")/lib.sh"

gen_tree "$T/src"
"$BIN/multisync" run --slots 2 "$T/src" "$T/dst" >/dev/null 2>"$T/err0" || fail "first backup failed: $(cat "$T/err0")"
same_tree "$T/src" "$T/dst"
tree_fingerprint "$T/dst" >"$T/fp-before"

note "an empty source root is refused, embedded"
mkdir "$T/mnt"
rc=0
"$BIN/multisync" run --delete --slots 2 "$T/mnt" "$T/dst" >"$T/out1" 2>"$T/err1" || rc=$?
cat "$T/err1"
[[ $rc == 4 ]] || fail "exit status $rc for an empty source root, expected 4 (refused)"
grep -q "source root $T/mnt is empty: refusing to run" "$T/err1" || fail "unclear message: $(cat "$T/err1")"
tree_fingerprint "$T/dst" | diff "$T/fp-before" - || fail "the backup changed"

note "an empty source root is refused by a master; it stays up"
# ipc:// endpoints: one machine, no keys needed (the folder's mode guards them).
WEP=ipc://$T/workers.sock
CTL=ipc://$T/control.sock
start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" \
    --catalog "$T/catalog.db"
MASTER_PID=$LAST_PID
start_bg "$T/wA.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA
wait_workers "$CTL" 1
rc=0
"$BIN/multisync" run --master "$CTL" --delete "$T/mnt" "$T/dst" >"$T/out2" 2>"$T/err2" || rc=$?
cat "$T/err2"
[[ $rc == 4 ]] || fail "an empty source root: exit status $rc, expected 4 (refused)"
grep -q "is empty: refusing to run" "$T/err2" || fail "unclear message: $(cat "$T/err2")"
tree_fingerprint "$T/dst" | diff "$T/fp-before" - || fail "the backup changed"
"$BIN/multisync" status --master "$CTL" --json | jq -e '.workers | length == 1' >/dev/null ||
    fail "the master does not answer after a refused run"

note "an emptied project is refused, the others are mirrored"
(cd "$T/dst/gamma" && tree_fingerprint .) >"$T/fp-gamma"
(cd "$T/dst/alpha" && tree_fingerprint .) >"$T/fp-alpha"
find "$T/src/gamma" -mindepth 1 -delete                      # gamma's disk vanished
rm "$T/src/beta/d1/sub/f1"                                   # a real deletion in beta
make_file "$T/src/beta/new-file" 999                         # and a new file
for mode in embedded master; do
    rc=0
    if [[ $mode == embedded ]]; then
        "$BIN/multisync" run --delete --slots 2 --report "$T/r-$mode.json" "$T/src" "$T/dst" \
            >"$T/out-$mode" 2>"$T/err-$mode" || rc=$?
    else
        "$BIN/multisync" run --master "$CTL" --delete --report "$T/r-$mode.json" "$T/src" "$T/dst" \
            >"$T/out-$mode" 2>"$T/err-$mode" || rc=$?
    fi
    cat "$T/out-$mode" "$T/err-$mode"
    [[ $rc == 1 ]] || fail "$mode: exit status $rc, expected 1"
    jq_check "$T/r-$mode.json" '.tasks[] | select(.project == "gamma")
        | .status == "failed" and .attempts == 1 and (.message | test("refusing to mirror deletions"))' \
        "$mode: gamma refused"
    jq_check "$T/r-$mode.json" '[.tasks[] | select(.project != "gamma") | .status]
        | all(. == "ok" or . == "unchanged")' "$mode: the other projects ok (or unchanged: no rsync)"
    jq_check "$T/r-$mode.json" '.tasks[] | select(.project == "beta") | .status == "ok"' \
        "$mode: beta, changed, copied"
    grep -q "^FAILED gamma on .*refusing to mirror deletions" "$T/err-$mode" || fail "$mode: gamma not named on stderr"
    (cd "$T/dst/gamma" && tree_fingerprint .) | diff "$T/fp-gamma" - || fail "$mode: gamma's backup changed"
    [[ ! -e $T/dst/beta/d1/sub/f1 && -f $T/dst/beta/new-file ]] || fail "$mode: beta not mirrored"
    for p in alpha beta big "with space" "-starts-with-dash" "ünïcødé" empty-project; do
        same_tree "$T/src/$p" "$T/dst/$p"
    done
    (cd "$T/dst/alpha" && tree_fingerprint .) | diff "$T/fp-alpha" - || fail "$mode: alpha was rewritten"
done
echo ok
