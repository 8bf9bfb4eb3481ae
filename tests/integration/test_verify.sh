#!/usr/bin/env bash
# multisync verify: a snapshot and a mirror just made verify clean (exit 0),
# a split project's chunks too; a byte changed in the backup with its size
# and time kept, a file deleted from it, a file added to it and a project
# gone from it are each named, and nothing else (exit 1); --snapshot OLDER
# verifies an older snapshot; the backup is byte for byte and inode for
# inode what it was, and a backup's lock is neither taken nor broken; the
# same through a master, by set and by SRC DST; what cannot be verified is
# refused (exit 2).
source "$(dirname "$0")/lib.sh"

s=$T/src d=$T/snap m=$T/mirror
# big: split into chunks (--split-min-mb 1); the other projects whole.
for i in 1 2 3 4; do make_file "$s/big/d$i/data.bin" 1200000; done
make_file "$s/big/d1/keep.txt" 3000
make_file "$s/alpha/f1" 50000
make_file "$s/alpha/sub/f2" 60000
ln -s f1 "$s/alpha/link"
gen_projects "$s" p 3 200000
make_file "$s/loose" 100
src_bytes=$(find "$s" -type f -printf '%s\n' | awk '{n += $1} END {print n}')

# verify NAME [options...] SRC DST: its exit status in RC; $T/NAME.out,
# $T/NAME.err and the report $T/NAME.json.
verify() {
    local name=$1
    shift
    RC=0
    "$BIN/multisync" verify --slots 4 --split-min-mb 1 --report "$T/$name.json" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" || RC=$?
}
# differing NAME: the paths a verify's report lists, sorted, one a line
# (each row's message but its first line, "N paths differ:").
differing() {
    jq -r '.tasks[] | select(.status == "differs") | .message | split("\n")[1:][] | select(. != "")' \
        "$T/$1.json" | LC_ALL=C sort
}
complete() { find "$d" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9-]*T[0-9]*Z' -printf '%f\n' | sort; }

note "a snapshot and a mirror, then a second snapshot after a change"
"$BIN/multisync" run --snapshot --split-min-mb 1 "$s" "$d" >"$T/run1.out" 2>&1 || fail "snapshot run failed"
S1=$(complete)
"$BIN/multisync" run --split-min-mb 1 "$s" "$m" >"$T/run2.out" 2>&1 || fail "mirror run failed"
verify v1 "$s" "$d"
((RC == 0)) || fail "verify of a fresh snapshot exited $RC: $(cat "$T/v1.err" "$T/v1.out")"
jq_check "$T/v1.json" ".kind == \"verify\" and .status == \"ok\" and .verify.snapshot == \"$S1\"" \
    "the verify report does not name the snapshot it compared"
jq_check "$T/v1.json" '.verify.differs == 0 and .verify.paths == 0' "a clean verify counts differences"
jq_check "$T/v1.json" '[.tasks[] | select(.project == "big")][0].chunks > 1' "big was not verified in chunks"
# Both sides read whole for their checksums (from the disk or the page cache).
jq_check "$T/v1.json" ".totals.bytes_read >= 2 * $src_bytes" "the verify read less than both sides"
grep -q "verify of snapshot $S1: 0 of 6 projects differ (0 paths); .* read" "$T/v1.out" ||
    fail "no summary line: $(tail -3 "$T/v1.out")"
verify v2 "$s" "$m"
((RC == 0)) || fail "verify of a fresh mirror exited $RC: $(cat "$T/v2.err" "$T/v2.out")"
jq_check "$T/v2.json" '.verify.snapshot == null and .verify.differs == 0' "a mirror's verify names a snapshot"

sleep 1.1 # a new second: a new snapshot name
head -c 50000 /dev/urandom >"$s/alpha/f1"
"$BIN/multisync" run --snapshot --split-min-mb 1 "$s" "$d" >"$T/run3.out" 2>&1 || fail "second snapshot failed"
"$BIN/multisync" run --split-min-mb 1 "$s" "$m" >"$T/run4.out" 2>&1 || fail "second mirror run failed"
S2=$(complete | tail -1)
[[ $S2 != "$S1" && $(readlink "$d/latest") == "$S2" ]] || fail "no second snapshot"

note "--snapshot OLDER verifies the older snapshot: what changed since"
verify v3 --snapshot "$S1" "$s" "$d"
((RC == 1)) || fail "verify of the older snapshot exited $RC: $(cat "$T/v3.err")"
[[ $(differing v3) == ">fc.t...... alpha/f1" ]] || fail "the older snapshot differs by: $(differing v3)"
jq_check "$T/v3.json" ".verify.snapshot == \"$S1\"" "the report names another snapshot"
verify v4 --snapshot latest "$s" "$d"
((RC == 0)) || fail "verify of latest exited $RC: $(differing v4)"
jq_check "$T/v4.json" ".verify.snapshot == \"$S2\"" "latest is not the second snapshot"

note "the backup changed: a byte (size and time kept), a file gone, a file added, a project gone"
# Each change puts back its folder's time: only the paths changed differ.
tamper() { # tamper ROOT: the changes, in the backup at ROOT
    local r=$1
    flip_byte "$r/big/d2/data.bin" 10
    touch -r "$s/big/d2/data.bin" "$r/big/d2/data.bin"
    rm "$r/alpha/sub/f2"
    touch -r "$s/alpha/sub" "$r/alpha/sub"
    echo extra >"$r/p1/extra"
    touch -r "$s/p1" "$r/p1"
    rm -r "$r/p3"
    touch -r "$s" "$r"
}
tamper "$d/$S2"
tamper "$m"
want=$'*deleting   p1/extra\n>f+++++++++ alpha/sub/f2\n>fc........ big/d2/data.bin\np3/: missing from the backup'
tree_fingerprint "$d" >"$T/snap.before"
tree_fingerprint "$m" >"$T/mirror.before"
# A backup writing into the mirror holds its lock: a verify neither waits
# for it nor takes or breaks it.
start_bg "$T/holder.log" python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
time.sleep(120)' "$m/.multisync.lock"
HOLDER=$LAST_PID
wait_until 5 "the lock to be held" bash -c "! flock -n '$m/.multisync.lock' true"

verify v5 "$s" "$d"
((RC == 1)) || fail "verify of a changed snapshot exited $RC: $(cat "$T/v5.err")"
[[ $(differing v5) == "$want" ]] || fail "the changed snapshot differs by:
$(differing v5)
not:
$want"
jq_check "$T/v5.json" '.status == "failed" and .verify.differs == 4 and .verify.paths == 4' \
    "the report does not count 4 projects and 4 paths"
jq_check "$T/v5.json" '[.tasks[] | select(.status == "differs") | .project] | sort == ["alpha", "big", "p1", "p3"]' \
    "not the projects that differ"
jq_check "$T/v5.json" '.totals.failed == 0' "differences counted as failures"
for p in "alpha/sub/f2" "big/d2/data.bin" "p1/extra" "p3/: missing from the backup"; do
    grep -qF "$p" "$T/v5.out" || fail "the printed report does not name $p"
done
grep -q "DIFFERS big: 1 path" "$T/v5.out" || fail "no DIFFERS line for big: $(cat "$T/v5.out")"
grep -q "verify of snapshot $S2: 4 of 6 projects differ (4 paths)" "$T/v5.out" ||
    fail "no summary line: $(tail -3 "$T/v5.out")"

verify v6 "$s" "$m"
((RC == 1)) || fail "verify of a changed mirror exited $RC: $(cat "$T/v6.err")"
[[ $(differing v6) == "$want" ]] || fail "the changed mirror differs by: $(differing v6)"
flock -n "$m/.multisync.lock" true && fail "the verify broke the backup's lock"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true

note "the backups are byte for byte and inode for inode what they were"
tree_fingerprint "$d" >"$T/snap.after"
tree_fingerprint "$m" >"$T/mirror.after"
cmp -s "$T/snap.before" "$T/snap.after" ||
    fail "verify changed the snapshots: $(diff "$T/snap.before" "$T/snap.after" | head)"
cmp -s "$T/mirror.before" "$T/mirror.after" ||
    fail "verify changed the mirror: $(diff "$T/mirror.before" "$T/mirror.after" | head)"

note "through a master: by set, and by SRC DST"
CTL=ipc://$T/control.sock WEP=ipc://$T/workers.sock
cat >"$T/master.ini" <<INI
[master]
listen = $WEP
control = $CTL
catalog = $T/catalog.db
split_min_mb = 1
[set snaps]
source = $s
destination = $d
snapshots = yes
keep_last = 5
INI
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini"
MASTER_PID=$LAST_PID
wait_until 10 "the master to answer" "$BIN/multisync" status --master "$CTL" --json >/dev/null 2>&1
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA
wait_workers "$CTL" 1
RC=0
"$BIN/multisync" verify --master "$CTL" --report "$T/v7.json" snaps >"$T/v7.out" 2>"$T/v7.err" || RC=$?
((RC == 1)) || fail "verify of the set exited $RC: $(cat "$T/v7.err")"
[[ $(differing v7) == "$want" ]] || fail "the set's snapshot differs by: $(differing v7)"
jq_check "$T/v7.json" ".verify.snapshot == \"$S2\"" "the set's verify is not of the latest snapshot"
RC=0
"$BIN/multisync" verify --master "$CTL" --report "$T/v8.json" --snapshot "$S1" snaps \
    >"$T/v8.out" 2>"$T/v8.err" || RC=$?
((RC == 1)) || fail "verify of the set's older snapshot exited $RC: $(cat "$T/v8.err")"
jq_check "$T/v8.json" ".verify.snapshot == \"$S1\"" "the set's --snapshot was not verified"
RC=0
"$BIN/multisync" verify --master "$CTL" --report "$T/v9.json" "$s" "$m" >"$T/v9.out" 2>"$T/v9.err" || RC=$?
((RC == 1)) || fail "verify of SRC DST through the master exited $RC: $(cat "$T/v9.err")"
[[ $(differing v9) == "$want" ]] || fail "the mirror differs by: $(differing v9)"
"$BIN/multisync" history --master "$CTL" --json | jq -e '.[0].kind == "verify" and .[0].status == "failed"' \
    >/dev/null || fail "history does not say the last run was a failed verify"
"$BIN/multisync" history --master "$CTL" | grep -q "verify" || fail "history does not print the kind"
tree_fingerprint "$d" >"$T/snap.after2"
tree_fingerprint "$m" >"$T/mirror.after2"
cmp -s "$T/snap.before" "$T/snap.after2" || fail "the master's verify changed the snapshots"
cmp -s "$T/mirror.before" "$T/mirror.after2" || fail "the master's verify changed the mirror"
[[ $(complete | wc -l) == 2 ]] || fail "a verify completed or pruned a snapshot: $(complete)"

note "what cannot be verified is refused"
refused() { # refused WHAT ARGS... : verify exits 2 saying WHAT
    RC=0
    "$BIN/multisync" verify "${@:2}" >"$T/rout" 2>"$T/rerr" || RC=$?
    ((RC == 2)) || fail "verify ${*:2} exited $RC, not 2"
    grep -q -- "$1" "$T/rerr" || fail "unclear refusal of verify ${*:2}: $(cat "$T/rerr")"
}
refused "holds no snapshots" --snapshot latest "$s" "$m"
refused "there is no snapshot 2020-01-01T000000Z" --snapshot 2020-01-01T000000Z "$s" "$d"
refused "No such file or directory" "$s" "$T/none"
[[ ! -e $T/none ]] || fail "verify made the destination it was refused"
refused "writes nothing" --delete "$s" "$m"
refused "master says: destination $m holds no snapshots" --master "$CTL" --snapshot latest "$s" "$m"
echo ok
