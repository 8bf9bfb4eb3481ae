#!/usr/bin/env bash
# A run of more projects than one report page (2,000 rows): the master sends
# its report in pages, and `run --report`, `report RUN_ID` and `status` still
# give every row, each once, with totals over all of them. The worker runs
# no rsync (--noop-executor): what is tested is the control plane.
source "$(dirname "$0")/lib.sh"

N=4500
mkdir -p "$T/src"
seq -f "$T/src/p%05.0f" 1 "$N" | xargs mkdir
CTL=ipc://$T/c.sock
start_bg "$T/master.log" "$BIN/multisync-master" --listen "ipc://$T/w.sock" --control "$CTL" \
    --catalog "$T/cat.db"
MASTER_PID=$LAST_PID
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 32 \
    --noop-executor
wait_workers "$CTL" 1

note "run $N projects"
"$BIN/multisync" run --master "$CTL" --report "$T/r.json" "$T/src" /tmp/unused-noop-dest \
    >"$T/out" 2>"$T/err" || fail "run exited $?: $(tail -5 "$T/err")"
jq_check "$T/r.json" ".tasks | length == $N + 1" "every row is in the report"
jq_check "$T/r.json" "[.tasks[].project] | unique | length == $N + 1" "each row once"
jq_check "$T/r.json" ".totals.tasks == $N + 1 and .totals.ok == $N + 1" "totals count every row"
jq_check "$T/r.json" 'has("tasks_total") or has("tasks_from") | not' "no paging keys left"
grep -q "^run 1: ok" "$T/out" || fail "the table's summary line is missing"

note "report RUN_ID --json gives the same rows"
"$BIN/multisync" report 1 --master "$CTL" --json >"$T/r2.json" || fail "report 1 failed"
[[ $(jq -c '[.tasks[].project]' "$T/r.json") == "$(jq -c '[.tasks[].project]' "$T/r2.json")" ]] ||
    fail "report 1 lists other rows than the run's report"

note "after a restart, the report comes from the catalog, in pages too"
kill "$MASTER_PID"
wait "$MASTER_PID" 2>/dev/null || true
start_bg "$T/master2.log" "$BIN/multisync-master" --listen "ipc://$T/w.sock" --control "$CTL" \
    --catalog "$T/cat.db"
MASTER_PID=$LAST_PID
answers() { "$BIN/multisync" status --master "$CTL" --json >/dev/null 2>&1; }
wait_until 10 "the restarted master answers" answers
"$BIN/multisync" report 1 --master "$CTL" --json >"$T/r3.json" || fail "report 1 after restart"
jq_check "$T/r3.json" "(.tasks | length) == $N + 1 and .totals.ok == $N + 1" "all rows from the catalog"
"$BIN/multisync" status --master "$CTL" --json >"$T/st.json"
jq_check "$T/st.json" '.last_run.failed_tasks == [] and .last_run.totals.tasks == '$((N + 1)) \
    "status summarises the last run without its rows"
echo ok
