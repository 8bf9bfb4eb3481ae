#!/usr/bin/env bash
# Prometheus metrics: the text ms_metrics_text makes of a real master's
# `status --json` and `history --json`, during a run and after it, passes
# `promtool check metrics` and says what happened (the run going, then its
# set's last success and the counters, which never go down); promtool does
# fail on malformed text; the embedded `run --metrics-file` writes the same
# figures while the run goes and when it ends, atomically, mode 0644.
source "$(dirname "$0")/lib.sh"
METRICS=${MS_TOOLS:-$ROOT/build/tools}/metrics
command -v promtool >/dev/null || fail "promtool is missing (Debian's prometheus: deploy/install-deps.sh)"
[[ -x $METRICS ]] || fail "$METRICS is missing (make build/tools/metrics)"

# check_prom FILE : promtool accepts it (lint included: counters *_total...).
check_prom() {
    promtool check metrics <"$1" >"$T/promtool.out" 2>&1 ||
        fail "promtool check metrics $1: $(cat "$T/promtool.out")
$(head -c 3000 "$1")"
}
# value FILE SERIES : the value of the sample SERIES (name and labels as written).
value() {
    awk -v s="$2" 'index($0, s " ") == 1 { print substr($0, length(s) + 2); found = 1 } END { exit !found }' "$1" ||
        fail "no sample $2 in $1"
}

mkdir -p "$T/src"/{p1,p2,p3,p4}
for p in p1 p2 p3 p4; do make_file "$T/src/$p/data" 2000000; done
cat >"$T/master.ini" <<INI
[master]
listen  = ipc://$T/w.sock
control = ipc://$T/c.sock
catalog = $T/catalog.db

[set nightly]
source      = $T/src
destination = $T/dst
INI
CTL=ipc://$T/c.sock
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini" --heartbeat-ms 200
MASTER_PID=$LAST_PID
# 1000 KB/s per rsync: the run lasts about 4 s.
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
    --heartbeat-ms 200 --rsync-opt=--bwlimit=1000 --name hostA
wait_workers "$CTL" 1

note "a master's figures during a run pass promtool"
"$BIN/multisync" run --master "$CTL" nightly >"$T/run.out" 2>&1 &
RUN_PID=$!
status_is() { "$BIN/multisync" status --master "$CTL" --json >"$1" 2>/dev/null && jq -e "$2" "$1" >/dev/null; }
wait_until 20 "two tasks running with bytes copied" \
    status_is "$T/s1.json" '.run.tasks.running == 2 and ([.running[].bytes_done] | add) > 0'
"$BIN/multisync" history --master "$CTL" --json >"$T/h1.json"
"$METRICS" "$T/s1.json" "$T/h1.json" >"$T/during.prom" || fail "metrics tool failed"
check_prom "$T/during.prom"
[[ $(value "$T/during.prom" multisync_runs_active) == 1 ]] || fail "no run active during the run"
[[ $(value "$T/during.prom" 'multisync_run_tasks{state="running"}') == 2 ]] || fail "not 2 tasks running"
(($(value "$T/during.prom" 'multisync_run_bytes{kind="done"}') > 0)) || fail "no bytes done"
[[ $(value "$T/during.prom" 'multisync_worker_up{worker="hostA"}') == 1 ]] || fail "hostA not up"
[[ $(value "$T/during.prom" 'multisync_worker_slots{worker="hostA",state="busy"}') == 2 ]] ||
    fail "hostA's slots not both busy"
(($(value "$T/during.prom" 'multisync_worker_disk_written_bytes_total{worker="hostA"}') > 0)) ||
    fail "no disk byte counter for hostA"
grep -q '^multisync_last_success_timestamp_seconds' "$T/during.prom" &&
    fail "a last success before any run ended"
bytes_during=$(value "$T/during.prom" multisync_bytes_transferred_total)
wait "$RUN_PID" || fail "the run failed: $(cat "$T/run.out")"

note "after the run: the set's last success, its duration, the counters"
"$BIN/multisync" status --master "$CTL" --json >"$T/s2.json"
"$BIN/multisync" history --master "$CTL" --json >"$T/h2.json"
"$METRICS" "$T/s2.json" "$T/h2.json" >"$T/after.prom" || fail "metrics tool failed"
check_prom "$T/after.prom"
finished=$(date -d "$(jq -r '.[0].finished' "$T/h2.json")" +%s)
[[ $(value "$T/after.prom" 'multisync_last_success_timestamp_seconds{set="nightly"}') == "$finished" ]] ||
    fail "the last success is not when run 1 finished ($finished)"
[[ $(value "$T/after.prom" 'multisync_last_run_success{set="nightly"}') == 1 ]] || fail "last run not ok"
[[ $(value "$T/after.prom" multisync_runs_active) == 0 ]] || fail "a run still active"
bytes_after=$(value "$T/after.prom" multisync_bytes_transferred_total)
((bytes_after >= 8000000 && bytes_after >= bytes_during)) ||
    fail "bytes transferred: $bytes_during during, $bytes_after after (8 MB copied)"
[[ $(value "$T/after.prom" 'multisync_tasks_total{status="ok"}') == 5 ]] || fail "not 5 tasks ok"

note "the README's alert rule: silent at 25 hours, firing at 27"
awk '/^## Metrics/ { m = 1 } m && /^```yaml/ { y = 1; next } y && /^```/ { exit } y' \
    "$ROOT/README.md" >"$T/rules.yml"
grep -q MultisyncBackupTooOld "$T/rules.yml" || fail "no alert rule in the README's Metrics section"
cat >"$T/rules-test.yml" <<'YML'
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1h
    input_series:
      - series: 'multisync_last_success_timestamp_seconds{set="nightly"}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 25h
        alertname: MultisyncBackupTooOld
        exp_alerts: []
      - eval_time: 27h
        alertname: MultisyncBackupTooOld
        exp_alerts:
          - exp_labels: {severity: critical, set: nightly}
            exp_annotations: {summary: "backup nightly last succeeded 1d 3h 0m 0s ago"}
      - eval_time: 27h
        alertname: MultisyncBackupNeverSucceeded
        exp_alerts: []
YML
(cd "$T" && promtool test rules rules-test.yml) >"$T/rules.out" 2>&1 ||
    fail "promtool test rules: $(cat "$T/rules.out")"

note "promtool fails on malformed text (the check above can fail)"
broken() { # NAME SED-EXPRESSION : after.prom edited; promtool must refuse it
    sed "$2" "$T/after.prom" >"$T/bad-$1.prom"
    cmp -s "$T/after.prom" "$T/bad-$1.prom" && fail "$1: the edit changed nothing"
    promtool check metrics <"$T/bad-$1.prom" >/dev/null 2>&1 && fail "promtool accepted $1"
    return 0
}
broken "an unescaped quote" 's/set="nightly"/set="night"ly"/'
broken "an invalid escape" 's/set="nightly"/set="night\\ly"/'
broken "invalid UTF-8" 's/set="nightly"/set="night\xffly"/'
broken "a second TYPE line" '0,/^# TYPE multisync_info gauge$/s//&\n# TYPE multisync_info gauge/'
broken "a value that is not a number" 's/^multisync_runs_active 0$/multisync_runs_active zero/'

note "embedded run --metrics-file: while the run goes, and when it ends"
mkdir -p "$T/prom"
"$BIN/multisync" run --master "$CTL" --metrics-file "$T/prom/ms.prom" nightly >"$T/out" 2>&1 &&
    fail "--metrics-file with --master was accepted"
grep -q "serves the same metrics itself, at /metrics" "$T/out" || fail "the error does not say why: $(cat "$T/out")"
[[ ! -e $T/prom/ms.prom ]] || fail "a refused run wrote metrics"
rc=0
"$BIN/multisync" run --metrics-file "$T/no-such-dir/ms.prom" "$T/src" "$T/dst-x" >"$T/out" 2>&1 || rc=$?
[[ $rc == 2 ]] && grep -q "its folder $T/no-such-dir: No such file or directory" "$T/out" ||
    fail "a missing folder: exit $rc: $(cat "$T/out")"
[[ ! -e $T/dst-x ]] || fail "the run started although its metrics folder is missing"
rc=0
"$BIN/multisync" verify --metrics-file "$T/prom/ms.prom" "$T/src" "$T/dst" >"$T/out" 2>&1 || rc=$?
[[ $rc == 2 ]] && grep -q -- "--metrics-file does not go with verify" "$T/out" ||
    fail "verify --metrics-file: exit $rc: $(cat "$T/out")"
umask 077 # the file is 0644 all the same: node_exporter runs as another user
"$BIN/multisync" run --rsync-opt=--bwlimit=1000 --slots 2 --metrics-file "$T/prom/ms.prom" \
    "$T/src" "$T/dst-embedded" >"$T/emb.out" 2>&1 &
RUN_PID=$!
running_file() { [[ -e $T/prom/ms.prom ]] && grep -qx 'multisync_runs_active 1' "$T/prom/ms.prom"; }
wait_until 20 "the metrics file to show the run going" running_file
cp "$T/prom/ms.prom" "$T/emb-during.prom"
check_prom "$T/emb-during.prom"
grep -q '^multisync_run_tasks{state="total"} ' "$T/emb-during.prom" || fail "no task figures while running"
wait "$RUN_PID" || fail "the embedded run failed: $(cat "$T/emb.out")"
check_prom "$T/prom/ms.prom"
[[ $(stat -c %a "$T/prom/ms.prom") == 644 ]] || fail "mode $(stat -c %a "$T/prom/ms.prom"), not 644"
[[ $(ls -A "$T/prom") == ms.prom ]] || fail "left in the folder: $(ls -A "$T/prom")"
emb="$T/src -> $T/dst-embedded"
[[ $(value "$T/prom/ms.prom" 'multisync_last_run_success{set="'"$emb"'"}') == 1 ]] ||
    fail "the embedded run's success, labelled by its paths, is not in the final file"
[[ $(value "$T/prom/ms.prom" multisync_runs_active) == 0 ]] || fail "the final file shows a run going"
(($(value "$T/prom/ms.prom" multisync_bytes_transferred_total) >= 8000000)) ||
    fail "the final file's counters lack the run that ended"
umask 022
echo "metrics: ok"
