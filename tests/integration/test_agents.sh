#!/usr/bin/env bash
# One worker process, several simulated workers (--noop-executor --agents,
# the control-plane bench's fleet): each agent is a worker of its own for
# the master, with its own key (KEY-i.key), CURVE handshake, name, slots
# and tasks, and a run over them all completes.
source "$(dirname "$0")/lib.sh"

note "--agents needs the no-op executor (its pools would share the process's children)"
if "$BIN/multisync-worker" --master tcp://127.0.0.1:9 --insecure --agents 3 2>"$T/e.agents"; then
    fail "several agents with real rsyncs were started"
fi
grep -q -- "--agents needs --noop-executor" "$T/e.agents" || fail "unclear: $(cat "$T/e.agents")"

make_keys "$T/keys" master fleet-1 fleet-2 fleet-3
mkdir -p "$T/authorized"
cp "$T/keys"/fleet-?.pub "$T/authorized/"
wport=$(free_port)
WEP=tcp://127.0.0.1:$wport CTL=ipc://$T/ctl
start_bg "$T/master.log" "$BIN/multisync-master" --listen "$WEP" --control "$CTL" \
    --catalog "$T/catalog.db" --key "$T/keys/master.key" --authorized "$T/authorized" \
    --heartbeat-ms 300 --no-split
MASTER_PID=$LAST_PID
# fleet.key itself does not exist: agent i reads fleet-i.key.
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "$WEP" --master-key "$T/keys/master.pub" \
    --key "$T/keys/fleet.key" --noop-executor --agents 3 --slots 2 --heartbeat-ms 300
WORKER_PID=$LAST_PID
wait_workers "$CTL" 3

note "the master sees three workers, named by their keys, each with its slots"
"$BIN/multisync" status --master "$CTL" --json >"$T/st.json"
jq_check "$T/st.json" '[.workers[].host] | sort == ["fleet-1", "fleet-2", "fleet-3"]' \
    "one worker per agent, named by its key"
jq_check "$T/st.json" '[.workers[].id] | unique | length == 3' "three records of their own"
jq_check "$T/st.json" 'all(.workers[]; .slots == 2)' "each agent announced its own slots"
[[ $(pgrep -c -P "$WORKER_PID" || true) == 0 ]] || fail "the no-op agents started children"

note "a run over the three completes, each agent taking tasks"
mkdir -p "$T/src"
for i in $(seq 1 30); do mkdir "$T/src/p$i"; done
"$BIN/multisync" run --master "$CTL" --report "$T/r.json" "$T/src" "$T/dst" >"$T/run.out" 2>&1 ||
    fail "the run failed: $(tail -5 "$T/run.out")"
jq_check "$T/r.json" '.totals.ok == (.tasks | length) and (.tasks | length) == 31' "every task ok"
jq_check "$T/r.json" '([.tasks[].host] | unique) == ["fleet-1", "fleet-2", "fleet-3"]' \
    "tasks ran on all three agents"

note "the agents stay one connection each: none left or was refused meanwhile"
grep -q "left:\|is connected and alive" "$T/master.log" && fail "$(grep -m3 "left:\|alive" "$T/master.log")"
kill -0 "$WORKER_PID" || fail "the worker process died: $(tail -5 "$T/worker.log")"
echo "ok"
