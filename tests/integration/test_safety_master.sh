#!/usr/bin/env bash
# One master per catalog and per ipc:// socket; ipc:// sockets whose mode
# does not follow the umask, in folders others may not write; a log of who
# started each run (README "Security", "When things fail"). A second master
# on the same catalog resumed the first one's runs into the same backups; one
# on the same socket silently took it over (libzmq unlinks the file and binds
# anew). Every case is checked, then the failed ones are listed.
source "$(dirname "$0")/lib.sh"

FAILED=()
# check WHAT CMD... : CMD succeeds, else WHAT is recorded as a failure.
check() {
    local what=$1
    shift
    "$@" || FAILED+=("$what")
}
# refused WHAT TEXT MASTER_ARG... : multisync-master started with these
# arguments exits 1 within 5 s (it must not run) and says TEXT.
refused() {
    local what=$1 text=$2 rc=0
    shift 2
    timeout 5 "$BIN/multisync-master" "$@" >"$T/refused.out" 2>&1 || rc=$?
    echo "    $what: exit $rc: $(tail -c 300 "$T/refused.out")"
    [[ $rc == 1 ]] || FAILED+=("$what: exit status $rc, not 1")
    grep -qF -- "$text" "$T/refused.out" || FAILED+=("$what: no '$text' in: $(cat "$T/refused.out")")
}
# answers EP [STATUS_OPTION...] : the master at EP answers status (in $T/st.json).
answers() {
    local ep=$1
    shift
    timeout 10 "$BIN/multisync" status --master "$ep" --json "$@" >"$T/st.json" 2>"$T/st.err"
}
# soon SECONDS CMD... : CMD succeeds within SECONDS (tried every 0.1 s).
soon() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}
has_workers() { answers "$1" && [[ $(jq '.workers | length' "$T/st.json") == "$2" ]]; }
mode_is() { [[ $(stat -c %a "$1") == "$2" ]] || { echo "    $1: mode $(stat -c %a "$1")"; false; }; }
inode() { stat -c %i "$1"; }
MASTER=("$BIN/multisync-master" --heartbeat-ms 200)
WORKER=("$BIN/multisync-worker" --slots 2 --heartbeat-ms 200)
gen_projects "$T/src" p 4 40000

note "one master per catalog: a second one refuses, naming the first"
mkdir -p "$T/a1" "$T/a2"
start_bg "$T/master-a1.log" "${MASTER[@]}" --listen "ipc://$T/a1/w.sock" \
    --control "ipc://$T/a1/c.sock" --catalog "$T/a.db"
A1_PID=$LAST_PID MASTER_PID=$LAST_PID
start_bg "$T/worker-a1.log" "${WORKER[@]}" --master "ipc://$T/a1/w.sock"
wait_workers "ipc://$T/a1/c.sock" 1
"$BIN/multisync" run --master "ipc://$T/a1/c.sock" "$T/src" "$T/dst-a" >/dev/null 2>"$T/e.a1" &
CLIENT_PID=$!
wait "$CLIENT_PID" || FAILED+=("run 1 through master A1 failed: $(cat "$T/e.a1")")
check "master A1's log names the uid and pid that started run 1" \
    grep -qF "run 1 started by uid $(id -u) (pid $CLIENT_PID)" "$T/master-a1.log"
refused "a second master on the same catalog" \
    "catalog $T/a.db is in use by pid $A1_PID multisync-master" \
    --listen "ipc://$T/a2/w.sock" --control "ipc://$T/a2/c.sock" --catalog "$T/a.db"
check "the refused master bound nothing" test ! -e "$T/a2/c.sock" -a ! -e "$T/a2/w.sock"
"$BIN/multisync" run --master "ipc://$T/a1/c.sock" "$T/src" "$T/dst-a" >/dev/null 2>"$T/e.a2" ||
    FAILED+=("run 2 through master A1, after the refused one, failed: $(cat "$T/e.a2")")
same_tree "$T/src" "$T/dst-a"
timeout 10 "$BIN/multisync" history --master "ipc://$T/a1/c.sock" --json >"$T/h.json" 2>&1 ||
    FAILED+=("history on master A1 failed: $(cat "$T/h.json")")
check "history shows runs 1 and 2 once each ($(jq -c '[.[].run_id]' "$T/h.json" 2>&1))" \
    jq -e '[.[].run_id] | sort == [1, 2]' "$T/h.json"

note "one master per ipc socket: the control socket, then the worker socket"
mkdir -p "$T/b" "$T/b2" "$T/b3"
start_bg "$T/master-b.log" "${MASTER[@]}" --listen "ipc://$T/b/w.sock" \
    --control "ipc://$T/b/c.sock" --catalog "$T/b.db"
B_PID=$LAST_PID
soon 10 answers "ipc://$T/b/c.sock" || fail "master B did not answer: $(cat "$T/master-b.log")"
c_inode=$(inode "$T/b/c.sock") w_inode=$(inode "$T/b/w.sock")
refused "a second master on the same control socket" \
    "ipc://$T/b/c.sock is in use by pid $B_PID multisync-master" \
    --listen "ipc://$T/b2/w.sock" --control "ipc://$T/b/c.sock" --catalog "$T/b2.db"
refused "a second master on the same worker socket" \
    "ipc://$T/b/w.sock is in use by pid $B_PID multisync-master" \
    --listen "ipc://$T/b/w.sock" --control "ipc://$T/b3/c.sock" --catalog "$T/b3.db"
check "master B's sockets are the ones it bound" \
    test "$(inode "$T/b/c.sock") $(inode "$T/b/w.sock")" == "$c_inode $w_inode"
check "master B still answers status" answers "ipc://$T/b/c.sock"
start_bg "$T/worker-b.log" "${WORKER[@]}" --master "ipc://$T/b/w.sock"
check "a worker started now reaches master B" soon 10 has_workers "ipc://$T/b/c.sock" 1

note "a socket another program listens on (it has no lock file)"
mkdir -p "$T/f"
start_bg "$T/foreign.log" python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
open(sys.argv[2], "w").close()
time.sleep(600)' "$T/f/c.sock" "$T/f/ready"
wait_until 10 "the foreign listener" test -e "$T/f/ready"
f_inode=$(inode "$T/f/c.sock")
refused "a master on a socket another program listens on" \
    "ipc://$T/f/c.sock is in use by another process" \
    --listen "ipc://$T/f/w.sock" --control "ipc://$T/f/c.sock" --catalog "$T/f.db"
check "the other program's socket is left alone" test "$(inode "$T/f/c.sock")" == "$f_inode"

note "sockets left by a master killed with -9 are taken over by the next one"
mkdir -p "$T/e"
E=(--listen "ipc://$T/e/w.sock" --control "ipc://$T/e/c.sock" --catalog "$T/e.db")
start_bg "$T/master-e1.log" "${MASTER[@]}" "${E[@]}"
E1_PID=$LAST_PID
soon 10 answers "ipc://$T/e/c.sock" || fail "master E1 did not answer: $(cat "$T/master-e1.log")"
kill -9 "$E1_PID"
wait "$E1_PID" 2>/dev/null || true
[[ -S $T/e/c.sock && -S $T/e/w.sock ]] || fail "the killed master's socket files did not stay"
start_bg "$T/master-e2.log" "${MASTER[@]}" "${E[@]}"
MASTER_PID=$LAST_PID
start_bg "$T/worker-e.log" "${WORKER[@]}" --master "ipc://$T/e/w.sock"
if soon 10 has_workers "ipc://$T/e/c.sock" 1; then
    "$BIN/multisync" run --master "ipc://$T/e/c.sock" "$T/src" "$T/dst-e" >/dev/null 2>"$T/e.e" ||
        FAILED+=("run through master E2 failed: $(cat "$T/e.e")")
    same_tree "$T/src" "$T/dst-e"
else
    FAILED+=("master E2 on the killed master's sockets did not get its worker: $(tail -5 "$T/master-e2.log")")
fi

note "under umask 000 the control socket is 0660, the worker socket 0600"
mkdir -p "$T/u"
start_bg "$T/master-u.log" bash -c 'umask 000 && exec "$@"' umask000 "${MASTER[@]}" \
    --listen "ipc://$T/u/w.sock" --control "ipc://$T/u/c.sock" --catalog "$T/u.db"
soon 10 answers "ipc://$T/u/c.sock" || fail "master U did not answer: $(cat "$T/master-u.log")"
check "the control socket is 0660 under umask 000" mode_is "$T/u/c.sock" 660
check "the worker socket is 0600 under umask 000" mode_is "$T/u/w.sock" 600

note "a socket folder others may write to is refused"
mkdir -p "$T/g" "$T/ww" "$T/sticky"
chmod 0777 "$T/ww"
chmod 1777 "$T/sticky"
refused "a control socket in a world-writable folder" \
    "its folder $T/ww is writable by others" \
    --listen "ipc://$T/g/w.sock" --control "ipc://$T/ww/c.sock" --catalog "$T/g.db"
refused "a worker socket in a world-writable sticky folder" \
    "its folder $T/sticky is writable by others" \
    --listen "ipc://$T/sticky/w.sock" --control "ipc://$T/g/c.sock" --catalog "$T/g.db"
check "nothing was bound in the world-writable folders" \
    test -z "$(find "$T/ww" "$T/sticky" -mindepth 1)"

note "missing state and socket folders are made, under umask 000 too, and said in the log"
start_bg "$T/master-m.log" bash -c 'umask 000 && exec "$@"' umask000 "${MASTER[@]}" \
    --listen "ipc://$T/m/run/w/w.sock" --control "ipc://$T/m/run/c/c.sock" \
    --catalog "$T/m/var/lib/ms/catalog.db"
M_PID=$LAST_PID
soon 10 answers "ipc://$T/m/run/c/c.sock" || fail "master M did not answer: $(cat "$T/master-m.log")"
check "the catalog's folder is 0700" mode_is "$T/m/var/lib/ms" 700
check "the control socket's folder is 0750" mode_is "$T/m/run/c" 750
check "the worker socket's folder is 0750" mode_is "$T/m/run/w" 750
check "missing parents are 0755, not 0777" mode_is "$T/m/var/lib" 755
check "missing parents are 0755, not 0777 (sockets)" mode_is "$T/m/run" 755
check "the folders are the master's user's" \
    test "$(stat -c %u "$T/m/var/lib/ms" "$T/m/run/c" | sort -u)" == "$(id -u)"
check "the master says it made the catalog's folder" \
    grep -qF "created the catalog's folder $T/m/var/lib/ms (mode 0700)" "$T/master-m.log"
check "the master says it made the control socket's folder" \
    grep -qF "created the socket folder $T/m/run/c (mode 0750) for ipc://$T/m/run/c/c.sock" \
    "$T/master-m.log"
kill "$M_PID" && wait "$M_PID" || true

note "existing folders keep their mode: a restart makes and says nothing"
chmod 0710 "$T/m/var/lib/ms"
chmod 0700 "$T/m/run/c"
start_bg "$T/master-m2.log" "${MASTER[@]}" --listen "ipc://$T/m/run/w/w.sock" \
    --control "ipc://$T/m/run/c/c.sock" --catalog "$T/m/var/lib/ms/catalog.db"
M_PID=$LAST_PID
soon 10 answers "ipc://$T/m/run/c/c.sock" || fail "master M2 did not answer: $(cat "$T/master-m2.log")"
check "an existing catalog folder keeps its mode" mode_is "$T/m/var/lib/ms" 710
check "an existing socket folder keeps its mode" mode_is "$T/m/run/c" 700
check "nothing is said made on a restart" bash -c "! grep -q created '$T/master-m2.log'"
kill "$M_PID" && wait "$M_PID" || true

note "a file where a folder should be: a clear error, nothing started"
touch "$T/plain"
refused "a catalog below a file" "catalog $T/plain/ms/catalog.db: cannot create folder $T/plain/ms: $T/plain exists and is not a folder" \
    --listen "ipc://$T/g/w.sock" --control "ipc://$T/g/c.sock" --catalog "$T/plain/ms/catalog.db"
refused "a control socket below a file" "cannot bind ipc://$T/plain/c.sock: cannot create folder $T/plain: $T/plain exists and is not a folder" \
    --listen "ipc://$T/g/w.sock" --control "ipc://$T/plain/c.sock" --catalog "$T/g.db"

note "a run started over CURVE is logged with the admin key's name"
make_keys "$T/keys" master admin
mkdir -p "$T/admins" "$T/h"
cp "$T/keys/admin.pub" "$T/admins/"
CTL=tcp://127.0.0.1:$(free_port)
ADMIN=(--key "$T/keys/admin.key" --master-key "$T/keys/master.pub")
start_bg "$T/master-h.log" "${MASTER[@]}" --listen "ipc://$T/h/w.sock" --control "$CTL" \
    --key "$T/keys/master.key" --admin-keys "$T/admins" --catalog "$T/h.db"
MASTER_PID=$LAST_PID
start_bg "$T/worker-h.log" "${WORKER[@]}" --master "ipc://$T/h/w.sock"
wait_workers "$CTL" 1 "${ADMIN[@]}"
"$BIN/multisync" run --master "$CTL" "${ADMIN[@]}" "$T/src" "$T/dst-h" >/dev/null 2>"$T/e.h" ||
    FAILED+=("run over CURVE failed: $(cat "$T/e.h")")
check "master H's log names the admin key that started run 1" \
    grep -qF "run 1 started by key 'admin'" "$T/master-h.log"

if ((${#FAILED[@]})); then
    printf 'FAIL: %s\n' "${FAILED[@]}" >&2
    fail "${#FAILED[@]} assertion(s) failed"
fi
echo ok
