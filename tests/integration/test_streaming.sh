#!/usr/bin/env bash
# The walk streams: small projects start while a large tree is still being
# walked. a1..a5 are small (5 MB: not tiny, which would wait to share a
# pack) and walked first; zz holds 100,000 entries, whose walk takes a
# while. The worker must start a1 before the master logs that the source
# was walked; the backup is exact all the same.
source "$(dirname "$0")/lib.sh"

# On a tmpfs: creating and copying 100,000 files on this VM's disk takes
# 15 s, in memory 3 s.
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root to mount a tmpfs"; exit 77; }
mkdir -p "$T/fs"
mount -t tmpfs -o size=256m,mode=0755 "ms-test-$$" "$T/fs" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
at_exit "umount -l '$T/fs'"
S=$T/fs/src D=$T/fs/dst
for i in 1 2 3 4 5; do make_file "$S/a$i/f" 5000000; done
mkdir -p "$S/zz/flat"
(cd "$S/zz/flat" && seq -f "%06g" 1 100000 | xargs touch)

CTL=ipc://$T/c.sock
start_bg "$T/master.log" "$BIN/multisync-master" --listen "ipc://$T/w.sock" --control "$CTL" \
    --catalog "$T/cat.db"
MASTER_PID=$LAST_PID
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2
wait_workers "$CTL" 1

note "run"
"$BIN/multisync" run --master "$CTL" --report "$T/r.json" "$S" "$D" >"$T/out" 2>&1 ||
    fail "run exited $?: $(tail -5 "$T/out")"
started=$(log_ms "$T/worker.log" "run 1: started a1 ")
walked=$(log_ms "$T/master.log" "run 1: source walked")
note "a1 started at +0 ms, the walk ended at +$((walked - started)) ms"
((started < walked)) || fail "a1 started only after the whole source was walked"
jq_check "$T/r.json" '.status == "ok" and (.tasks | length) == 7' "run ok, every project"
same_tree "$S" "$D"
echo ok
