#!/usr/bin/env bash
# Hostile bytes: a peer sends the master's sockets and a worker's socket
# truncated frames, random bytes, huge msgpack headers, wrong types, wrong
# versions, a million frames, and the other conversation's commands; and
# its HTTP listener malformed requests (garbage, an enormous header, no
# version, a POST, .., %00, a long URL) and slow clients that never finish.
# Both processes stay up, stay within a memory bound, and back up
# afterwards; the master keeps answering over its control socket and HTTP.
source "$(dirname "$0")/lib.sh"
HOSTILE=${MS_TOOLS:-$ROOT/build/tools}/hostile
HOSTILE_HTTP=${MS_TOOLS:-$ROOT/build/tools}/hostile_http
[[ -x $HOSTILE && -x $HOSTILE_HTTP ]] || fail "build the tools first (make test builds $HOSTILE)"
RSS_LIMIT_KB=$((200 * 1024))

rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }

gen_tree "$T/src"
make_keys "$T/keys" master good admin stranger
mkdir -p "$T/auth" "$T/admins"
cp "$T/keys/good.pub" "$T/auth/"
cp "$T/keys/admin.pub" "$T/admins/"
wport=$(free_port); cport=$(free_port); hport=$(free_port)
WEP=tcp://127.0.0.1:$wport CTL=tcp://127.0.0.1:$cport
ADMIN=(--key "$T/keys/admin.key" --master-key "$T/keys/master.pub")

start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" --catalog "$T/c.db" \
    --key "$T/keys/master.key" --authorized "$T/auth" --admin-keys "$T/admins" \
    --http-listen "127.0.0.1:$hport"
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
note "malformed HTTP requests, from 127.0.0.2"
"$HOSTILE_HTTP" bad 127.0.0.1 "$hport" 127.0.0.2 >"$T/http-bad.out" || fail "hostile_http failed"
grep -q silent "$T/http-bad.out" && fail "a malformed request was neither answered nor closed"
note "40 slow clients that never finish, from 127.0.0.2: 8 taken, closed after 10 s of silence"
"$HOSTILE_HTTP" hold 127.0.0.1 "$hport" 127.0.0.2 40 30 >"$T/http-hold.out" &
HOLD_PID=$!
http_ok() { [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/api/status") == 200 ]]; }
wait_until 10 "HTTP status from 127.0.0.1 while the slow clients hold" http_ok
"$BIN/multisync" status --master "$CTL" "${ADMIN[@]}" --json >/dev/null || fail "control status while held"
wait "$HOLD_PID" || fail "hostile_http hold failed"
cat "$T/http-hold.out"
grep -qx "refused at once: 32 of 40" "$T/http-hold.out" || fail "the per-address limit (8) did not hold"
grep -qx "still open: 0" "$T/http-hold.out" || fail "slow clients were not closed"
held=$(sed -n 's/^last closed after: \([0-9]*\) ms/\1/p' "$T/http-hold.out")
((held >= 9000 && held <= 25000)) || fail "slow clients closed after $held ms, not after about 10 s"
wait_until 10 "HTTP status after the slow clients" http_ok
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
http_ok || fail "HTTP status after the run on the attacked master"
echo ok
