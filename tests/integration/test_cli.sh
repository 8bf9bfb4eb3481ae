#!/usr/bin/env bash
# The command line an operator scripts against (issue 15): --version on the
# three programs; one exit status per outcome for every command (0 ok, 1 a
# task failed, 2 usage or configuration, 3 master unreachable or refused
# us, 4 run refused); options a command would ignore are errors; a
# destination inside the source (or around it) refused; the --report
# folder checked before the run; `report last`; the default control
# endpoint (MULTISYNC_MASTER, else /run/multisync/control.sock).
source "$(dirname "$0")/lib.sh"
cd "$T" # keygen and friends write here, never in the checkout
MS=$BIN/multisync
FAILED=()
# expect WHAT RC TEXT CMD... : CMD exits RC and says TEXT (fixed string,
# "": anything) on stdout or stderr.
expect() {
    local what=$1 want=$2 text=$3 rc=0
    shift 3
    timeout 60 "$@" >"$T/out" 2>"$T/err" || rc=$?
    echo "    $what: exit $rc: $(head -c 300 "$T/err")"
    [[ $rc == "$want" ]] || FAILED+=("$what: exit status $rc, not $want: $(head -c 300 "$T/err")")
    [[ -z $text ]] || grep -qF -- "$text" "$T/out" "$T/err" ||
        FAILED+=("$what: no '$text' in: $(cat "$T/out" "$T/err" | head -c 600)")
    return 0
}
VERSION=$(sed -n 's/^#define MS_VERSION "\(.*\)"$/\1/p' "$ROOT/shared/ms_version.h")
[[ -n $VERSION ]] || fail "no MS_VERSION in shared/ms_version.h"

note "--version, and usage errors exit 2 on every program"
for p in multisync multisync-master multisync-worker; do
    expect "$p --version" 0 "$p $VERSION (libzmq " "$BIN/$p" --version
    expect "$p -V" 0 "$p $VERSION" "$BIN/$p" -V
    expect "$p --no-such-option" 2 "" "$BIN/$p" --no-such-option
done
expect "multisync version" 0 "multisync $VERSION" "$MS" version
expect "unknown command" 2 "unknown command 'backup'" "$MS" backup /a /b
expect "master without --listen" 2 "both --listen and --control are needed" "$BIN/multisync-master"
echo "[master]" >"$T/bad.ini"
echo "no_such_key = 1" >>"$T/bad.ini"
expect "master, bad config" 2 "no_such_key" "$BIN/multisync-master" -c "$T/bad.ini"

gen_projects "$T/src" p 3 2000
mkdir -p "$T/dst"

note "options a command would ignore are errors"
expect "status --delete" 2 "--delete does not go with status" "$MS" status --delete
expect "history --slots" 2 "--slots does not go with history" "$MS" history --slots 2
expect "run --to" 2 "--to does not go with run" "$MS" run --to /x "$T/src" "$T/dst"
expect "run --key, embedded" 2 "--key is for talking to a master" \
    "$MS" run --key "$T/k.key" "$T/src" "$T/dst"
expect "keygen --json" 2 "--json does not go with keygen" "$MS" keygen --json x

note "a destination inside the source, or around it, is refused; nothing is made"
expect "DST inside SRC" 2 "is inside the source" "$MS" run "$T/src" "$T/src/backup"
[[ ! -e $T/src/backup ]] || FAILED+=("DST inside SRC: $T/src/backup was made")
expect "DST inside SRC, by another path" 2 "is inside the source" "$MS" run "$T/src" "$T/src/p1/../backup"
ln -s "$T/src" "$T/src-link"
expect "DST inside SRC, through a link" 2 "is inside the source" "$MS" run "$T/src-link" "$T/src/b2"
expect "DST = SRC" 2 "is inside the source" "$MS" run "$T/src" "$T/src"
expect "SRC inside DST" 2 "is inside the destination" "$MS" run "$T/src/p1" "$T"
expect "verify, DST inside SRC" 2 "is inside the source" "$MS" verify "$T/src" "$T/src/p2"

note "the --report folder is checked before the run starts"
expect "--report, missing folder" 2 "its folder $T/no-such-dir: No such file or directory" \
    "$MS" run --report "$T/no-such-dir/r.json" "$T/src" "$T/dst-r"
[[ ! -e $T/dst-r ]] || FAILED+=("--report missing folder: the run started anyway")
expect "--report, a folder" 2 "is a folder" "$MS" run --report "$T" "$T/src" "$T/dst-r"

note "0 ok, 1 a task failed, 4 refused (the destination in use), report last"
expect "run ok" 0 "" "$MS" run --report "$T/r1.json" "$T/src" "$T/dst"
jq_check "$T/r1.json" '.status == "ok"' "the first run succeeded"
cat >"$T/rsync-p2-fails" <<SH
#!/bin/bash
[[ \$PWD == */p2 ]] && { echo "p2: made to fail" >&2; exit 23; }
exec rsync "\$@"
SH
chmod +x "$T/rsync-p2-fails"
expect "run, a task fails" 1 "FAILED p2" "$MS" run --full --rsync "$T/rsync-p2-fails" "$T/src" "$T/dst"
expect "report last, failed" 1 "FAILED p2" "$MS" report last
expect "report last --json" 1 "" "$MS" report last --json
jq -e '.status == "failed" and .run_id == 2' "$T/out" >/dev/null ||
    FAILED+=("report last --json: not run 2, failed: $(head -c 300 "$T/out")")
expect "report 1" 0 "" "$MS" report 1
expect "report 99" 2 "" "$MS" report 99
expect "report nonsense" 2 "usage: multisync report RUN_ID|last" "$MS" report first
exec 9>"$T/dst/.multisync.lock"
flock 9
expect "run, destination locked" 4 "in use" "$MS" run "$T/src" "$T/dst"
flock -u 9
exec 9>&-
expect "run --json" 0 "" "$MS" run --json "$T/src" "$T/dst"
jq -e '.status == "ok" and (.tasks | length) == 4' "$T/out" >/dev/null ||
    FAILED+=("run --json: not the report: $(head -c 300 "$T/out")")

note "through a master: the same statuses, and 3 when it cannot be reached"
CTL=ipc://$T/ctl/control.sock WEP=ipc://$T/ctl/workers.sock
mkdir -m 0700 "$T/ctl"
start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" --catalog "$T/m.db"
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA
wait_workers "$CTL" 1
expect "master: DST inside SRC" 2 "is inside the source" "$MS" run --master "$CTL" "$T/src" "$T/src/b"
expect "master: --slots" 2 "--slots does not go with --master" \
    "$MS" run --master "$CTL" --slots 2 "$T/src" "$T/dst2"
expect "master: run ok" 0 "" "$MS" run --master "$CTL" "$T/src" "$T/dst2"
expect "master: report last" 0 "" "$MS" report last --master "$CTL" --json
jq -e '.run_id == 1 and .status == "ok"' "$T/out" >/dev/null || FAILED+=("master: report last is not run 1")
exec 9>"$T/dst2/.multisync.lock"
flock 9
expect "master: destination locked" 4 "in use" "$MS" run --master "$CTL" "$T/src" "$T/dst2"
exec 9>&-
expect "master: unknown set" 2 "" "$MS" run --master "$CTL" no-such-set
expect "master: status is up" 0 "" "$MS" status --master "$CTL"
expect "MULTISYNC_MASTER: status" 0 "" env MULTISYNC_MASTER="$CTL" "$MS" status --json
expect "MULTISYNC_MASTER: history" 0 "" env MULTISYNC_MASTER="$CTL" "$MS" history --json
jq -e 'length == 1' "$T/out" >/dev/null || FAILED+=("MULTISYNC_MASTER: history is not the master's")
expect "MULTISYNC_MASTER: run --slots" 2 "(MULTISYNC_MASTER is set)" \
    env MULTISYNC_MASTER="$CTL" "$MS" run --slots 2 "$T/src" "$T/dst2"
expect "MULTISYNC_MASTER: down" 3 "no master at" \
    env MULTISYNC_MASTER="ipc://$T/none.sock" "$MS" status
expect "no master at all" 3 "no master to ask" env -u MULTISYNC_MASTER "$MS" status

note "the service's socket, /run/multisync/control.sock, is the default (a private /run)"
if unshare -m true 2>/dev/null; then
    cat >"$T/in-ns.sh" <<SH
set -e
mount -t tmpfs tmpfs /run
mkdir -m 0750 /run/multisync
"$BIN/multisync-master" --listen "$WEP-2" --control ipc:///run/multisync/control.sock \
    --catalog "$T/m2.db" >"$T/master2.log" 2>&1 &
pid=\$!
for i in \$(seq 100); do [ -S /run/multisync/control.sock ] && break; sleep 0.1; done
rc=0
env -u MULTISYNC_MASTER "$MS" status --json >"$T/ns-status.json" || rc=\$?
env -u MULTISYNC_MASTER "$MS" history --json >"$T/ns-history.json" || rc=\$?
kill \$pid; wait \$pid || true
exit \$rc
SH
    expect "default socket" 0 "" unshare -m bash "$T/in-ns.sh"
    jq -e '.workers | length == 0' "$T/ns-status.json" >/dev/null ||
        FAILED+=("default socket: status did not come from the master")
else
    echo "    (no mount namespace here: the default socket case is not run)"
fi

if ((${#FAILED[@]})); then
    printf 'FAIL: %s\n' "${FAILED[@]}" >&2
    fail "${#FAILED[@]} assertion(s) failed"
fi
echo ok
