#!/usr/bin/env bash
# Only authorised hosts take part: CURVE + ZAP allow-lists on loopback TCP.
source "$(dirname "$0")/lib.sh"

mkdir -p "$T/src/p1" "$T/src/p2" "$T/src/p3" "$T/src/p4"
for p in p1 p2 p3 p4; do make_file "$T/src/$p/data" 20000; done

note "keygen writes a 0600 secret and a public key, and refuses to overwrite"
make_keys "$T/keys" master good1 good2 intruder admin
[[ $(stat -c %a "$T/keys/good1.key") == 600 ]] || fail "secret key mode is $(stat -c %a "$T/keys/good1.key")"
[[ $(wc -c <"$T/keys/good1.pub") -ge 40 ]] || fail "public key too short"
if "$BIN/multisync" keygen "$T/keys/good1" 2>"$T/e.keygen"; then fail "keygen overwrote a key"; fi
grep -q "refusing to overwrite" "$T/e.keygen" || fail "keygen refusal unclear: $(cat "$T/e.keygen")"
grep -qF "$(head -c 40 "$T/keys/good1.pub")" "$T/keys/good1.key" && fail "the secret file holds the public key text"
chmod 644 "$T/keys/intruder.key"
if "$BIN/multisync-worker" --master tcp://127.0.0.1:9 --key "$T/keys/intruder.key" \
    --master-key "$T/keys/master.pub" 2>"$T/e.mode"; then fail "a world-readable key was used"; fi
grep -q "too open" "$T/e.mode" || fail "no 'too open' message: $(cat "$T/e.mode")"
chmod 600 "$T/keys/intruder.key"

mkdir -p "$T/authorized" "$T/admins"
cp "$T/keys/good1.pub" "$T/keys/good2.pub" "$T/authorized/"
cp "$T/keys/admin.pub" "$T/admins/"
wport=$(free_port); cport=$(free_port)
WEP=tcp://127.0.0.1:$wport CTL=tcp://127.0.0.1:$cport

note "a network endpoint without keys is refused unless --insecure"
if "$BIN/multisync-master" --listen "$WEP" --control "ipc://$T/ctl" --catalog "$T/x.db" 2>"$T/e.nokey"; then
    fail "master started on tcp without keys"
fi
grep -q -- "--insecure" "$T/e.nokey" || fail "unclear: $(cat "$T/e.nokey")"

start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" \
    --catalog "$T/catalog.db" --key "$T/keys/master.key" --authorized "$T/authorized" \
    --admin-keys "$T/admins" --heartbeat-ms 300
MASTER_PID=$LAST_PID
W=(--master "$WEP" --master-key "$T/keys/master.pub" --slots 2 --heartbeat-ms 300)
ADMIN=(--key "$T/keys/admin.key" --master-key "$T/keys/master.pub")
start_bg "$T/good1.log" "$BIN/multisync-worker" "${W[@]}" --key "$T/keys/good1.key"
start_bg "$T/good2.log" "$BIN/multisync-worker" "${W[@]}" --key "$T/keys/good2.key" --name "claims-to-be-good1"
start_bg "$T/intruder.log" "$BIN/multisync-worker" "${W[@]}" --key "$T/keys/intruder.key" --name good1
start_bg "$T/plain.log" "$BIN/multisync-worker" --master "$WEP" --insecure --slots 2 --name plain
start_bg "$T/wrongmaster.log" "$BIN/multisync-worker" --master "$WEP" --key "$T/keys/good1.key" \
    --master-key "$T/keys/intruder.pub" --slots 2 --name wrongmaster
wait_workers "$CTL" 2 "${ADMIN[@]}"
sleep 1 # give the others every chance to (wrongly) join

note "only the listed keys are workers, named by their key"
"$BIN/multisync" status --master "$CTL" --json "${ADMIN[@]}" >"$T/st.json"
jq_check "$T/st.json" '[.workers[].host] | sort == ["good1", "good2"]' "workers are the two authorised keys"
"$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" --report "$T/r1.json" "$T/src" "$T/dst" >/dev/null 2>"$T/e1" ||
    fail "run failed: $(cat "$T/e1")"
same_tree "$T/src" "$T/dst"
jq_check "$T/r1.json" '[.tasks[].host] | unique - ["good1", "good2"] == []' "tasks ran only on authorised hosts"
grep -q "refused a workers connection" "$T/master.log" || fail "the master did not log the refused key"
grep -q "cannot authenticate with the master" "$T/wrongmaster.log" ||
    fail "the worker with the wrong master key did not say why it cannot work"
grep -qF "connected to $WEP as good1 (2 slots)" "$T/good1.log" ||
    fail "the worker with key good1 did not log that it is connected, under its key's name: $(cat "$T/good1.log")"
for w in intruder plain wrongmaster; do
    if grep -q "connected to" "$T/$w.log"; then fail "$w, refused, logged that it is connected: $(cat "$T/$w.log")"; fi
done

note "the control endpoint takes only admin keys"
if timeout 20 "$BIN/multisync" status --master "$CTL" --key "$T/keys/good1.key" \
    --master-key "$T/keys/master.pub" >/dev/null 2>&1; then fail "a worker key ran status"; fi
if "$BIN/multisync" status --master "$CTL" 2>"$T/e.nokeys"; then fail "status without keys on tcp"; fi
grep -q -- "--key" "$T/e.nokeys" || fail "unclear: $(cat "$T/e.nokeys")"
# cancel too: a worker's key is refused (3); an admin's reaches the master,
# which says run 1 ended (2).
rc=0
timeout 20 "$BIN/multisync" cancel 1 --master "$CTL" --key "$T/keys/good1.key" \
    --master-key "$T/keys/master.pub" >/dev/null 2>&1 || rc=$?
[[ $rc == 3 ]] || fail "a worker key's cancel exited $rc"
rc=0
"$BIN/multisync" cancel 1 --master "$CTL" "${ADMIN[@]}" 2>"$T/e.cancel" || rc=$?
[[ $rc == 2 ]] && grep -q "run 1 already ended: ok" "$T/e.cancel" ||
    fail "an admin's cancel: $rc $(cat "$T/e.cancel")"

note "SIGHUP: a newly listed key gets in, a removed one is dropped"
cp "$T/keys/intruder.pub" "$T/authorized/"
rm "$T/authorized/good2.pub"
kill -HUP "$MASTER_PID"
for i in $(seq 1 100); do
    "$BIN/multisync" status --master "$CTL" --json "${ADMIN[@]}" >"$T/st2.json" 2>/dev/null || true
    jq -e '[.workers[].host] | sort == ["good1", "intruder"]' "$T/st2.json" >/dev/null 2>&1 && break
    sleep 0.2
done
jq_check "$T/st2.json" '[.workers[].host] | sort == ["good1", "intruder"]' "after SIGHUP: good1 and the newly listed key"
grep -q "its key was revoked" "$T/master.log" || fail "no revocation logged"
wait_until 10 "the newly listed worker logs that it is connected" grep -qF "connected to $WEP as good1" "$T/intruder.log"
echo changed >>"$T/src/p1/data"
"$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" --report "$T/r2.json" "$T/src" "$T/dst" >/dev/null 2>&1 ||
    fail "run after SIGHUP failed"
jq_check "$T/r2.json" '[.tasks[].host] | index("good2") == null' "the revoked key did no task"
same_tree "$T/src" "$T/dst"
kill -0 "$MASTER_PID" || fail "the master died"
echo ok
