#!/usr/bin/env bash
# Project names are data, and a worker only touches the roots it allows.
source "$(dirname "$0")/lib.sh"

S=$T/src
mkdir -p "$S"
names=("-e touch x" "--delete" "\$(touch $T/pwned1)" "a;b" "\`touch $T/pwned2\`" $'new\nline'
       $'\xff\xfe invalid utf8' "*" "..." " leading space" "'quoted\"")
for n in "${names[@]}"; do
    mkdir -p "$S/$n"
    printf 'data of %s\n' "$n" >"$S/$n/file"
done
mkdir -p "$T/other/secret" "$T/dst" && echo secret >"$T/other/secret/f"
ln -s "$T/other" "$T/src-link-out"

start_bg "$T/master.log" "$BIN/multisync-master" --listen "ipc://$T/w.sock" --control "ipc://$T/c.sock" \
    --catalog "$T/catalog.db" --attempts 1
MASTER_PID=$LAST_PID
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
    --allow-source "$S" --allow-dest "$T/dst"
wait_workers "ipc://$T/c.sock" 1

note "hostile names are copied byte for byte and nothing runs"
cd "$T" # a relative "x" created by '-e touch x' would land here
"$BIN/multisync" run --master "ipc://$T/c.sock" --report "$T/r.json" "$S" "$T/dst" >"$T/out" 2>"$T/err" ||
    fail "run failed: $(cat "$T/err")"
same_tree "$S" "$T/dst"
for f in "$T/pwned1" "$T/pwned2" "$T/x" "$T/dst/x"; do [[ ! -e $f ]] || fail "$f exists: a name was executed"; done
jq_check "$T/r.json" ".tasks | length == ${#names[@]} + 1" "one task per hostile name"
jq_check "$T/r.json" '[.tasks[].project] | index("\\xff\\xfe invalid utf8") != null' \
    "invalid UTF-8 shown as \\xNN in the JSON"
jq_check "$T/r.json" '[.tasks[].project] | index("--delete") != null and index("new\nline") != null' \
    "names kept as they are"
grep -qF 'new\x0aline' "$T/out" || fail "a newline in a name reached the table unescaped"

note "a source outside the allowed roots is refused by the worker"
rc=0; "$BIN/multisync" run --master "ipc://$T/c.sock" --report "$T/r2.json" "$T/other" "$T/dst/o" \
    >/dev/null 2>"$T/e2" || rc=$?
[[ $rc == 1 ]] || fail "exit $rc for a source outside the roots"
jq_check "$T/r2.json" 'all(.tasks[]; .status == "failed" and (.message | test("outside the allowed source roots")))' \
    "every task refused with the reason"
[[ ! -e $T/dst/o ]] || fail "something was written for a refused run"

note "through .. and through a symlink"
rc=0; "$BIN/multisync" run --master "ipc://$T/c.sock" --report "$T/r3.json" "$S/../other" "$T/dst/o" \
    >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] && jq -e 'all(.tasks[]; .status == "failed")' "$T/r3.json" >/dev/null || fail "'..' not refused"
rc=0; "$BIN/multisync" run --master "ipc://$T/c.sock" --report "$T/r4.json" "$T/src-link-out" "$T/dst/o" \
    >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] && jq -e 'all(.tasks[]; .status == "failed")' "$T/r4.json" >/dev/null || fail "symlink escape not refused"
ln -s "$T/other" "$S/escape"   # a link inside the allowed root pointing out of it
rc=0; "$BIN/multisync" run --master "ipc://$T/c.sock" --report "$T/r5.json" "$S/escape" "$T/dst/o" \
    >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "a link inside the root leading out was followed"
rm "$S/escape"

note "a destination outside the allowed roots is refused"
rc=0; "$BIN/multisync" run --master "ipc://$T/c.sock" --report "$T/r6.json" "$S" "$T/elsewhere" \
    >/dev/null 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "exit $rc for a destination outside the roots"
jq_check "$T/r6.json" 'all(.tasks[]; .status == "failed" and (.message | test("allowed destination")))' \
    "destination refusals say why"
[[ ! -e $T/elsewhere ]] || fail "the refused destination was created"
[[ ! -e $T/dst/o/secret ]] || fail "the secret was copied"
kill -0 "$MASTER_PID" || fail "the master died"
echo ok
