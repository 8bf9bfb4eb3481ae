#!/usr/bin/env bash
# The client says at once why it cannot talk to the master, instead of "no
# answer from the master" after 10 s: a missing ipc:// socket, a file that
# is not a socket, a stale socket left by a dead master, a socket it may not
# reach, a master that refuses its CURVE key, an invalid endpoint. Each
# failure exits 3 (the master is unreachable or refused us), a bad endpoint
# or option 2. Every case is checked, then the failed ones are listed.
source "$(dirname "$0")/lib.sh"

FAILED=()
# expect WHAT RC TEXT CMD... : CMD (a client) exits with status RC within
# 2 s and says TEXT (a fixed string; "": anything) on stderr.
expect() {
    local what=$1 want=$2 text=$3 start ms rc=0
    shift 3
    start=$(date +%s%N)
    timeout 30 "$@" >"$T/out" 2>"$T/err" || rc=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    echo "    $what: exit $rc in $ms ms: $(head -c 400 "$T/err")"
    [[ $rc == "$want" ]] || FAILED+=("$what: exit status $rc, not $want")
    [[ -z $text ]] || grep -qF -- "$text" "$T/err" || FAILED+=("$what: no '$text' in: $(cat "$T/err")")
    ((ms < 2000)) || FAILED+=("$what: took $ms ms (2000 at most)")
}
MS=$BIN/multisync

make_keys "$T/keys" master admin stranger
mkdir -p "$T/admins" "$T/a" "$T/b" "$T/c" "$T/d"
cp "$T/keys/admin.pub" "$T/admins/"
ADMIN=(--key "$T/keys/admin.key" --master-key "$T/keys/master.pub")

# A: a live master on an ipc:// control socket, B: one that dies by kill -9
# (its socket file stays: stale), C: CURVE on a tcp:// control endpoint,
# D: an abstract ipc:// control socket (no file).
A=ipc://$T/a/control.sock B=ipc://$T/b/control.sock D=ipc://@multisync-test-$$-control
cport=$(free_port)
C=tcp://127.0.0.1:$cport
start_bg "$T/master-a.log" "$BIN/multisync-master" --listen "ipc://$T/a/w.sock" --control "$A" \
    --catalog "$T/a.db" --walk-threads 3
start_bg "$T/master-b.log" "$BIN/multisync-master" --listen "ipc://$T/b/w.sock" --control "$B" \
    --catalog "$T/b.db"
B_PID=$LAST_PID
start_bg "$T/master-c.log" "$BIN/multisync-master" --listen "ipc://$T/c/w.sock" --control "$C" \
    --catalog "$T/c.db" --key "$T/keys/master.key" --admin-keys "$T/admins"
start_bg "$T/master-d.log" "$BIN/multisync-master" --listen "ipc://$T/d/w.sock" --control "$D" \
    --catalog "$T/d.db"
wait_workers "$A" 0
wait_workers "$B" 0
wait_workers "$C" 0 "${ADMIN[@]}"
wait_workers "$D" 0
kill -9 "$B_PID"
wait "$B_PID" 2>/dev/null || true
[[ -S $T/b/control.sock ]] || fail "master B's socket file did not stay after kill -9"

note "the masters that are up still answer, quickly (ipc file, abstract ipc, tcp + CURVE)"
expect "status, live ipc" 0 "" "$MS" status --master "$A"
expect "status, abstract ipc" 0 "" "$MS" status --master "$D"
expect "status, tcp with an admin key" 0 "" "$MS" status --master "$C" "${ADMIN[@]}"

note "ipc://: a missing socket, a file that is not a socket, a stale socket"
NONE=$T/none/control.sock
expect "status, missing socket" 3 \
    "multisync: no master at ipc://$NONE: $NONE does not exist (is multisync-master running, with --control ipc://$NONE?)" \
    "$MS" status --master "ipc://$NONE"
expect "run, missing socket" 3 "no master at ipc://$NONE: $NONE does not exist" \
    "$MS" run --master "ipc://$NONE" nightly
expect "report, missing socket" 3 "no master at ipc://$NONE: $NONE does not exist" \
    "$MS" report 1 --master "ipc://$NONE"
echo not-a-socket >"$T/a/plain"
expect "status, not a socket" 3 "no master at ipc://$T/a/plain: $T/a/plain is not a socket" \
    "$MS" status --master "ipc://$T/a/plain"
expect "status, stale socket" 3 "no master at $B: nothing listens on $T/b/control.sock" \
    "$MS" status --master "$B"
expect "run, stale socket" 3 "no master at $B: nothing listens on $T/b/control.sock" \
    "$MS" run --master "$B" "$T/src" "$T/dst"

note "ipc://: a socket in a folder the client may not enter"
chmod 0711 "$T"      # others may pass through $T (mktemp made it 0700) ...
chmod 0700 "$T/a"    # ... but not into the live master A's folder
if [[ $(id -u) != 0 ]]; then
    chmod 0000 "$T/a" # we own it: lock ourselves out
    at_exit "chmod 0700 '$T/a'"
    AS_OTHER=()
elif command -v setpriv >/dev/null && getent passwd 65534 >/dev/null; then
    AS_OTHER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
    AS_OTHER=(skip)
    note "SKIPPED the permission case: root, and no setpriv or no user 65534 to run the client as"
fi
if [[ ${AS_OTHER[0]:-} != skip ]]; then
    expect "status, no permission" 3 \
        "permission denied on $T/a/control.sock (the folder of the master's socket decides who may talk to it" \
        "${AS_OTHER[@]}" "$MS" status --master "$A"
    chmod 0700 "$T/a"
fi

note "the probe of a live ipc socket leaves no alarm in the master's log"
for i in 1 2 3; do "$MS" status --master "$A" >/dev/null || fail "status on A failed"; done
if grep -E '\[(warn|error)\]' "$T/master-a.log"; then FAILED+=("master A logged a warning or an error"); fi

note "tcp:// with CURVE: a key the master does not list, the wrong master key, no key"
STRANGER=(--key "$T/keys/stranger.key" --master-key "$T/keys/master.pub")
WRONG_MASTER=(--key "$T/keys/admin.key" --master-key "$T/keys/stranger.pub")
REFUSED="multisync: the master at $C refused our key (is our .pub in its --admin-keys folder, and --master-key its public key?)"
expect "status, key not listed" 3 "$REFUSED" "$MS" status --master "$C" "${STRANGER[@]}"
expect "run, key not listed" 3 "$REFUSED" "$MS" run --master "$C" "${STRANGER[@]}" nightly
expect "report, key not listed" 3 "$REFUSED" "$MS" report 7 --master "$C" "${STRANGER[@]}"
expect "status, wrong master key" 3 "$REFUSED" "$MS" status --master "$C" "${WRONG_MASTER[@]}"
expect "status, plaintext to a CURVE master" 3 \
    "multisync: the master at $C refused the connection" "$MS" status --master "$C" --insecure

note "invalid endpoints"
for ep in bogus://x /run/x.sock tcp:// tcp://127.0.0.1 tcp://127.0.0.1:99999 tcp://:5 ipc:// inproc://control; do
    expect "status, '$ep'" 2 \
        "multisync: invalid master endpoint '$ep': use ipc://PATH or tcp://HOST:PORT" \
        "$MS" status --master "$ep"
    expect "status --insecure, '$ep'" 2 "multisync: invalid master endpoint '$ep'" \
        "$MS" status --master "$ep" --insecure
done
expect "run, bogus" 2 "multisync: invalid master endpoint 'bogus://x'" \
    "$MS" run --master bogus://x "${ADMIN[@]}" nightly
expect "report, bogus" 2 "multisync: invalid master endpoint 'bogus://x'" \
    "$MS" report 1 --master bogus://x

note "an option of the embedded mode, given with --master"
expect "run --walk-threads, with a master" 2 "multisync: --walk-threads does not go with --master" \
    "$MS" run --master "$A" --walk-threads 2 "$T/a" "$T/b"
for opt in "--slots 4" "--rsync-opt=-H" "--rsync /bin/rsync" "--attempts 2" "--no-split" "--catalog $T/x.db"; do
    # shellcheck disable=SC2086
    expect "run $opt, with a master" 2 "multisync: ${opt%%[ =]*} does not go with --master" \
        "$MS" run --master "$A" $opt "$T/a" "$T/b"
done
expect "status --slots" 2 "multisync: --slots does not go with status" "$MS" status --master "$A" --slots 3
expect "run --key, embedded" 2 "multisync: --key is for talking to a master" \
    "$MS" run --key "$T/keys/admin.key" "$T/a" "$T/b"

# status --json prints the master's bytes as they came: a raw control byte
# (here a terminal escape) is refused, not printed.
HOSTILE=${MS_TOOLS:-$ROOT/build/tools}/hostile
"$HOSTILE" control "ipc://$T/hostile.sock" &
HPID=$!
wait_until 5 "the hostile control socket" test -S "$T/hostile.sock"
expect "an answer holding an escape sequence" 3 "the master's answer is not JSON" \
    "$MS" status --master "ipc://$T/hostile.sock" --json
grep -q $'\x1b' "$T/out" && FAILED+=("an escape sequence from the network reached stdout")
wait "$HPID" || true

if ((${#FAILED[@]})); then
    printf 'FAIL: %s\n' "${FAILED[@]}" >&2
    fail "${#FAILED[@]} assertion(s) failed"
fi
echo ok
