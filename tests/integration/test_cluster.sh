#!/usr/bin/env bash
# A master daemon and two workers on loopback TCP, CURVE on every socket: a
# run requested with `multisync run --master`, by paths and by a configured
# set; both workers take part and the backup is exact.
source "$(dirname "$0")/lib.sh"

gen_tree "$T/src"
make_keys "$T/keys" master hostA hostB admin
mkdir -p "$T/authorized" "$T/admins"
cp "$T/keys/hostA.pub" "$T/keys/hostB.pub" "$T/authorized/"
cp "$T/keys/admin.pub" "$T/admins/"
wport=$(free_port); cport=$(free_port)
cat >"$T/master.ini" <<INI
[master]
listen  = tcp://127.0.0.1:$wport
control = tcp://127.0.0.1:$cport
catalog = $T/catalog.db
key = $T/keys/master.key
authorized = $T/authorized
admin_keys = $T/admins

[set nightly]
source      = $T/src
destination = $T/dst-set
INI
CTL=tcp://127.0.0.1:$cport

start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini"
MASTER_PID=$LAST_PID
W=(--master "tcp://127.0.0.1:$wport" --master-key "$T/keys/master.pub" --slots 2)
start_bg "$T/wA.log" "$BIN/multisync-worker" "${W[@]}" --key "$T/keys/hostA.key"
start_bg "$T/wB.log" "$BIN/multisync-worker" "${W[@]}" --key "$T/keys/hostB.key"
ADMIN=(--key "$T/keys/admin.key" --master-key "$T/keys/master.pub")
wait_workers "$CTL" 2 "${ADMIN[@]}"

note "run by paths"
"$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" --report "$T/r1.json" "$T/src" "$T/dst" >"$T/out1" 2>"$T/err1" ||
    fail "run exited $?: $(cat "$T/err1") / master: $(tail -5 "$T/master.log")"
cat "$T/out1"
same_tree "$T/src" "$T/dst"
jq_check "$T/r1.json" '.status == "ok"' "run ok"
jq_check "$T/r1.json" '[.workers[].host] | sort == ["hostA", "hostB"]' "both workers listed"
jq_check "$T/r1.json" 'all(.workers[]; .tasks > 0 and .slots == 2)' "both workers did tasks"
jq_check "$T/r1.json" '([.tasks[].host] | unique | sort) == ["hostA", "hostB"]' "tasks ran on both hosts"
jq_check "$T/r1.json" '([.workers[].tasks] | add) == (.tasks | length)' "worker task counts add up"
grep -q hostA "$T/out1" && grep -q hostB "$T/out1" || fail "the table does not show both hosts"

note "run a configured set"
"$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" --report "$T/r2.json" nightly >/dev/null 2>"$T/err2" ||
    fail "set run exited $?: $(cat "$T/err2")"
same_tree "$T/src" "$T/dst-set"
jq_check "$T/r2.json" '.set == "nightly" and .status == "ok"' "set run ok"

note "the nightly script runs every configured set and keeps the reports"
mkdir -p "$T/logs"
PATH=$BIN:$PATH LOGS_DIRECTORY=$T/logs MULTISYNC_OPTS="${ADMIN[*]}" "$ROOT/deploy/nightly.sh" "$T/master.ini" >"$T/nightly.out" 2>&1 ||
    fail "nightly.sh failed: $(cat "$T/nightly.out")"
ls "$T"/logs/nightly-*.json >/dev/null 2>&1 || fail "nightly.sh kept no report"
jq_check "$(ls "$T"/logs/nightly-*.json | head -1)" '.set == "nightly" and .status == "ok"' "nightly report ok"

note "an unknown set is refused clearly"
if "$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" nosuchset 2>"$T/err3"; then fail "unknown set accepted"; fi
grep -q "no backup set named 'nosuchset'" "$T/err3" || fail "unclear error: $(cat "$T/err3")"

note "a missing source is refused clearly, the master stays up"
if "$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" "$T/nope" "$T/dst2" 2>"$T/err4"; then fail "missing source accepted"; fi
grep -q "cannot read source root" "$T/err4" || fail "unclear error: $(cat "$T/err4")"
"$BIN/multisync" status --master "$CTL" --json "${ADMIN[@]}" | jq -e '.workers | length == 2' >/dev/null ||
    fail "master not answering after a refused run"

note "second run transfers nothing"
"$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" --report "$T/r5.json" "$T/src" "$T/dst" >/dev/null 2>&1 || fail "rerun failed"
jq_check "$T/r5.json" '.totals.bytes_transferred == 0' "no bytes on a rerun"
echo ok
