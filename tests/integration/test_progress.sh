#!/usr/bin/env bash
# The progress line on a terminal, embedded and through a master: done/total
# tasks, a percent, the walk's total (on the first run too), a rate and an
# ETA; on a quiet night the unchanged projects are not counted as progress.
# The text report says the diagnosis. No JSON number has more digits than
# it means.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "SKIP: no script(1) (util-linux)"; exit 77; }

# Four projects of 3,000,000 bytes (11.4 MiB in all); rsyncs limited to
# 1000 KB/s, two at a time: a run takes about 6 s, the progress line is
# drawn every 0.5 s (every 1 s through a master).
for p in p1 p2 p3 p4; do make_file "$T/src/$p/data" 3000000; done
LIMIT=--rsync-opt=--bwlimit=1000

# progress_lines LOG : the progress lines a terminal got, one a line.
progress_lines() { tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep -E '^[0-9]+/[0-9]+ tasks?' || true; }

# in_bytes N UNIT : N UNIT (human_bytes) in bytes.
in_bytes() { awk -v n="$1" -v u="$2" 'BEGIN { m["B"]=1; m["KiB"]=1024; m["MiB"]=1048576; m["GiB"]=1073741824; printf "%.0f\n", n * m[u] }'; }

# check_first_run LOG : a line with all of it, and every sized line sized
# by the walk: 11.4 MiB, never "of unknown" once the walk is done.
check_first_run() {
    local lines
    lines=$(progress_lines "$1")
    echo "$lines" | head -20
    echo "$lines" | grep -qE '^[0-9]+/5 tasks  [0-9.]+%  [0-9.]+ [KMG]?i?B of 11\.4 MiB  [0-9.]+ [KMG]?i?B/s  ETA [0-9]+:[0-9]{2}$' ||
        fail "no progress line with tasks, percent, the 11.4 MiB total, rate and ETA in $1"
    echo "$lines" | grep -q "of unknown" && fail "the first run says 'of unknown' although walked"
    echo "$lines" | grep -E ' of ' | grep -vq ' of 11\.4 MiB' && fail "a total other than the walk's 11.4 MiB"
    return 0
}

# check_quiet_night LOG : p1 changed, p2..p4 unchanged: the work is p1's
# 2.9 MiB; what is shown done never counts the others' 8.6 MiB.
check_quiet_night() {
    local lines done_b
    lines=$(progress_lines "$1")
    echo "$lines" | head -20
    echo "$lines" | grep -qE '\(([34]) unchanged\)  [0-9.]+%  [0-9.]+ [KMG]?i?B of 2\.9 MiB .* ETA [0-9]+:[0-9]{2}$' ||
        fail "no line with the unchanged counted apart and the 2.9 MiB of work in $1"
    while read -r n u; do
        done_b=$(in_bytes "$n" "$u")
        ((done_b <= 3100000)) || fail "$n $u shown done: the unchanged projects counted as progress"
    done < <(echo "$lines" | sed -E 's/.*tasks?(, [0-9]+ failed)?( \([0-9]+ unchanged\))?  ([0-9.]+%  )?([0-9.]+) ([KMG]?i?B).*/\4 \5/')
}

# no_long_floats FILE : JSON numbers rounded: none with more than 3 decimals.
no_long_floats() {
    if grep -qE '[0-9]\.[0-9]{4,}' "$1"; then
        fail "a number with more digits than it means in $1: $(grep -oE '"[a-z_]+": ?-?[0-9]+\.[0-9]{4,}' "$1" | head -3)"
    fi
}

note "embedded, first run on a terminal: the walk's total, percent, rate, ETA"
RUN=("$BIN/multisync" run --slots 2 --catalog "$T/cat.db" "$LIMIT")
script -qfec "${RUN[*]} $T/src $T/dst" "$T/tty1.log" >/dev/null 2>&1 ||
    fail "the run failed: $(tail -5 "$T/tty1.log")"
check_first_run "$T/tty1.log"
grep -qE '^diagnosis: run (cpu-bound|io-bound|balanced|long-task|under-provisioned): ' "$T/tty1.log" ||
    fail "no run diagnosis in the text report"
grep -qE "^diagnosis: $(hostname) [a-z-]+ \(cpu [0-9]+%, disk [0-9]+% busy, .* busy [0-9]+% of the time" "$T/tty1.log" ||
    fail "no diagnosis line for the host: $(grep diagnosis "$T/tty1.log")"
grep -q "of 2 slots" "$T/tty1.log" || fail "no 'of 2 slots'"

note "embedded, a quiet night: one project changed, three unchanged"
make_file "$T/src/p1/data" 3000000
script -qfec "${RUN[*]} $T/src $T/dst" "$T/tty2.log" >/dev/null 2>&1 ||
    fail "the second run failed: $(tail -5 "$T/tty2.log")"
check_quiet_night "$T/tty2.log"
same_tree "$T/src" "$T/dst"

note "no progress line when stdout is not a terminal"
"${RUN[@]}" "$T/src" "$T/dst" >"$T/plain.out" 2>&1 || fail "a run to a file failed"
grep -qE '[0-9]+/[0-9]+ tasks? ' "$T/plain.out" && fail "a progress line written to a file"
grep -q "run 3: ok  5 tasks, 5 ok" "$T/plain.out" || fail "no report: $(cat "$T/plain.out")"

note "through a master and a worker: the same"
M=(--listen "ipc://$T/w.sock" --control "ipc://$T/c.sock" --catalog "$T/mcat.db" --heartbeat-ms 200)
CTL=ipc://$T/c.sock
start_bg "$T/master.log" "$BIN/multisync-master" "${M[@]}"
MASTER_PID=$LAST_PID
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
    --heartbeat-ms 200 "$LIMIT" --name progresshost
wait_workers "$CTL" 1
grep -q "with 2 slots" "$T/worker.log" || fail "the worker's log: $(head -3 "$T/worker.log")"
mkdir -p "$T/dst2" # the master locks what exists: the next run may skip what is unchanged
for p in p1 p2 p3 p4; do make_file "$T/src2/$p/data" 3000000; done
script -qfec "$BIN/multisync run --master $CTL $T/src2 $T/dst2" "$T/tty3.log" >/dev/null 2>&1 ||
    fail "the run through the master failed: $(tail -5 "$T/tty3.log")"
check_first_run "$T/tty3.log"
grep -qE "^diagnosis: progresshost [a-z-]+ \(cpu " "$T/tty3.log" || fail "no host diagnosis in run --master"

note "a quiet night through the master, watched with status --json meanwhile"
make_file "$T/src2/p1/data" 3000000
script -qfec "$BIN/multisync run --master $CTL $T/src2 $T/dst2" "$T/tty4.log" >/dev/null 2>&1 &
RUN_PID=$!
status_is() { "$BIN/multisync" status --master "$CTL" --json >"$1" 2>/dev/null && jq -e "$2" "$1" >/dev/null; }
wait_until 20 "the quiet night's run going with its unchanged projects apart" status_is "$T/st.json" \
    '.run.walk.done and .run.walk.bytes == 12000000 and .run.bytes_unchanged >= 9000000 and .run.bytes_expected <= 3100000'
jq -c '.run | del(.diagnosis)' "$T/st.json"
jq_check "$T/st.json" '.run.bytes_done <= .run.bytes_expected and (.run.tasks.total == 5)' \
    "status: done within the work, 5 tasks"
no_long_floats "$T/st.json"
wait "$RUN_PID" || fail "the quiet night through the master failed: $(tail -5 "$T/tty4.log")"
check_quiet_night "$T/tty4.log"

note "report RUN_ID says the diagnosis; status, report and history JSON are rounded"
"$BIN/multisync" report 2 --master "$CTL" >"$T/rep.txt" || fail "report 2"
grep -qE '^diagnosis: run [a-z-]+: ' "$T/rep.txt" || fail "no run diagnosis in report: $(tail -5 "$T/rep.txt")"
grep -qE '^diagnosis: progresshost [a-z-]+ \(cpu [0-9]+%' "$T/rep.txt" || fail "no host diagnosis in report"
"$BIN/multisync" status --master "$CTL" --json >"$T/st2.json"
"$BIN/multisync" report 1 --master "$CTL" --json >"$T/rep1.json"
"$BIN/multisync" history --master "$CTL" --json >"$T/hist.json"
for f in st2 rep1 hist; do no_long_floats "$T/$f.json"; done
grep -qE '"wall_seconds": ?[0-9]+(\.[0-9]{1,3})?[,}]' "$T/rep1.json" || fail "wall_seconds not to the ms"
jq_check "$T/st2.json" 'all(.workers[]; (.disk_read_bps | . == floor) and (.net_recv_bps | . == floor))' \
    "rates in whole bytes"
grep -qE '"cpu_percent": ?[0-9]+(\.[0-9])?[,}]' "$T/st2.json" || fail "cpu_percent not to 0.1"
echo ok
