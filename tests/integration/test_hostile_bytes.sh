#!/usr/bin/env bash
# Hostile bytes: a peer sends the master's sockets and a worker's socket
# truncated frames, random bytes, huge msgpack headers, wrong types, wrong
# versions, a million frames, and the other conversation's commands. Both
# processes stay up, stay within a memory bound, and back up afterwards.
source "$(dirname "$0")/lib.sh"
HOSTILE=${MS_TOOLS:-$ROOT/build/tools}/hostile
[[ -x $HOSTILE ]] || fail "build the tools first (make test builds $HOSTILE)"
RSS_LIMIT_KB=$((200 * 1024))

rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }

gen_tree "$T/src"
make_keys "$T/keys" master good admin stranger
mkdir -p "$T/auth" "$T/admins"
cp "$T/keys/good.pub" "$T/auth/"
cp "$T/keys/admin.pub" "$T/admins/"
wport=$(free_port); cport=$(free_port)
WEP=tcp://127.0.0.1:$wport CTL=tcp://127.0.0.1:$cport
ADMIN=(--key "$T/keys/admin.key" --master-key "$T/keys/master.pub")

start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" --catalog "$T/c.db" \
    --key "$T/keys/master.key" --authorized "$T/auth" --admin-keys "$T/admins"
MASTER_PID=$LAST_PID

note "an authorised worker key sends garbage to the worker socket"
"$HOSTILE" client "$WEP" "$T/keys/good.key" "$T/keys/master.pub" || fail "hostile client failed"
note "an admin key sends garbage to the control socket"
"$HOSTILE" client "$CTL" "$T/keys/admin.key" "$T/keys/master.pub" || fail "hostile client failed"
note "unauthenticated garbage: a stranger's key and plaintext"
"$HOSTILE" client "$WEP" "$T/keys/stranger.key" "$T/keys/master.pub" || true
"$HOSTILE" client "$CTL" || true
sleep 1
kill -0 "$MASTER_PID" || fail "the master died: $(tail -5 "$T/master.log")"
rss=$(rss_kb "$MASTER_PID")
echo "master RSS after the barrage: $rss kB"
((rss < RSS_LIMIT_KB)) || fail "master RSS $rss kB over the bound"
lines=$(wc -l <"$T/master.log")
((lines < 200)) || fail "the master logged $lines lines: misbehaving peers must be logged once"

note "a worker whose master is hostile"
start_bg "$T/fake.log" "$HOSTILE" master "ipc://$T/fake.sock"
FAKE_PID=$LAST_PID
start_bg "$T/victim.log" "$BIN/multisync-worker" --master "ipc://$T/fake.sock" --slots 2 --name victim
VICTIM_PID=$LAST_PID
wait "$FAKE_PID" || fail "the hostile master failed: $(cat "$T/fake.log")"
sleep 1
kill -0 "$VICTIM_PID" || fail "the worker died: $(tail -5 "$T/victim.log")"
rss=$(rss_kb "$VICTIM_PID")
echo "worker RSS after the barrage: $rss kB"
((rss < RSS_LIMIT_KB)) || fail "worker RSS $rss kB over the bound"

note "both still work: a real master on the worker's endpoint, a run on the first master"
start_bg "$T/master2.log" "$BIN/multisync-master" --listen "ipc://$T/fake.sock" --control "ipc://$T/c2.sock" \
    --catalog "$T/c2.db"
wait_workers "ipc://$T/c2.sock" 1
"$BIN/multisync" run --master "ipc://$T/c2.sock" --report "$T/r2.json" "$T/src" "$T/dst2" >/dev/null 2>"$T/e2" ||
    fail "run through the attacked worker failed: $(cat "$T/e2")"
same_tree "$T/src" "$T/dst2"
start_bg "$T/good.log" "$BIN/multisync-worker" --master "$WEP" --key "$T/keys/good.key" \
    --master-key "$T/keys/master.pub" --slots 2
wait_workers "$CTL" 1 "${ADMIN[@]}"
"$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" --report "$T/r1.json" "$T/src" "$T/dst1" >/dev/null 2>"$T/e1" ||
    fail "run on the attacked master failed: $(cat "$T/e1")"
same_tree "$T/src" "$T/dst1"
echo ok
