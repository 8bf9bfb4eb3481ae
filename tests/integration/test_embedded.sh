#!/usr/bin/env bash
# `multisync run SRC DST` on one machine: every project copied exactly, the
# report complete, and a second run transfers nothing.
source "$(dirname "$0")/lib.sh"

gen_tree "$T/src"
nproj=$(find "$T/src" -mindepth 1 -maxdepth 1 -type d | wc -l)

note "first run"
"$BIN/multisync" run --slots 3 --report "$T/r1.json" "$T/src" "$T/dst" >"$T/out1" 2>"$T/err1" ||
    fail "first run exited $?: $(cat "$T/err1")"
cat "$T/out1"
same_tree "$T/src" "$T/dst"

jq_check "$T/r1.json" '.status == "ok"' "run status is ok"
jq_check "$T/r1.json" ".tasks | length == $nproj + 1" "one task per project plus the top task"
jq_check "$T/r1.json" '[.tasks[].project] | sort == (["-starts-with-dash","alpha","beta","big","empty-project","gamma","with space","ünïcødé","."] | sort)' \
    "every project listed exactly once"
jq_check "$T/r1.json" 'all(.tasks[]; .status == "ok" and .exit_code == 0 and .attempts == 1)' "all tasks ok"
jq_check "$T/r1.json" 'all(.tasks[]; .files > 0 and .cpu_user_s + .cpu_sys_s > 0 and .seconds > 0 and .max_rss_kb > 0)' \
    "every task has non-zero counters"
jq_check "$T/r1.json" 'all(.tasks[] | select(.project != "empty-project" and .project != "."); .bytes_total > 0 and .bytes_transferred > 0)' \
    "projects with data report bytes"
jq_check "$T/r1.json" '(.tasks[] | select(.project == "big") | .bytes_total) == 4000000' "big's size is exact"
jq_check "$T/r1.json" '.totals.bytes_total == ([.tasks[].bytes_total] | add)' "totals add up"
jq_check "$T/r1.json" '.workers | length == 1 and .[0].slots == 3 and .[0].tasks == '$((nproj + 1)) "one local worker with 3 slots did all"
jq_check "$T/r1.json" '(.started | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and (.finished | test("Z$"))' "RFC 3339 times"
jq_check "$T/r1.json" 'has("run_id") and has("source") and has("destination") and has("wall_seconds") and (.totals | has("tasks") and has("ok") and has("failed") and has("files") and has("bytes_total") and has("bytes_transferred") and has("cpu_user_s") and has("cpu_sys_s") and has("read_bytes") and has("write_bytes"))' \
    "the documented keys are present"
jq_check "$T/r1.json" 'all(.tasks[]; has("project") and has("worker") and has("host") and has("status") and has("exit_code") and has("attempts") and has("seconds") and has("files") and has("bytes_total") and has("bytes_transferred") and has("cpu_user_s") and has("cpu_sys_s") and has("max_rss_kb") and has("read_bytes") and has("write_bytes"))' \
    "every task has the documented keys"
grep -q "parallel efficiency" "$T/out1" || fail "the table has no totals"
grep -q "with space" "$T/out1" || fail "the table does not list 'with space'"

note "second run over the unchanged tree"
"$BIN/multisync" run --report "$T/r2.json" "$T/src" "$T/dst" >"$T/out2" 2>"$T/err2" ||
    fail "second run exited $?: $(cat "$T/err2")"
jq_check "$T/r2.json" '.status == "ok" and .totals.bytes_transferred == 0' "second run transfers nothing"
jq_check "$T/r2.json" 'all(.tasks[]; .bytes_transferred == 0)' "no task transfers anything"
same_tree "$T/src" "$T/dst"

note "a change is picked up"
echo "changed" >>"$T/src/alpha/f2.bin"
"$BIN/multisync" run --report "$T/r3.json" "$T/src" "$T/dst" >/dev/null 2>&1 || fail "third run failed"
jq_check "$T/r3.json" '(.tasks[] | select(.project == "alpha") | .bytes_transferred) > 0' "alpha re-sent"
same_tree "$T/src" "$T/dst"
echo "ok"
