#!/usr/bin/env bash
# Listing snapshots and restoring from them: `multisync snapshots` shows
# both snapshots with latest marked (a table, and JSON); `multisync restore`
# brings back a file deleted since the first snapshot (old bytes, mode and
# time), a whole split project equal to the snapshot's copy, a project of a
# mirror; it refuses a folder that is not empty (unless --force), a folder
# in the backup or one holding it (the backup untouched), and unknown
# snapshots, projects and paths, each with a clear error. The same through
# a master and a worker, whose allow_source / allow_dest apply.
source "$(dirname "$0")/lib.sh"

s=$T/src d=$T/dst
for i in 1 2 3 4 5 6; do make_file "$s/big/d$i/data.bin" 1200000; done
make_file "$s/big/d1/keep.txt" 3000
make_file "$s/alpha/path/to/deleted-file" 40000
make_file "$s/alpha/path/to/modified" 30000
make_file "$s/alpha/other" 1000
ln -s other "$s/alpha/link"
chmod 640 "$s/alpha/path/to/deleted-file"
touch -d '2020-05-06 07:08:09' "$s/alpha/path/to/deleted-file"
make_file "$s/beta/b" 5000
make_file "$s/loose" 100

snap_run() {
    "$BIN/multisync" run --snapshot --slots 4 --split-min-mb 1 "$s" "$d" >"$T/snap.out" 2>&1 ||
        fail "snapshot run failed: $(tail -5 "$T/snap.out")"
}
restore() { # restore OUT ARGS... : multisync restore ARGS, exit status in RC
    local out=$1
    shift
    RC=0
    "$BIN/multisync" restore "$@" >"$T/$out.out" 2>"$T/$out.err" || RC=$?
}
refused() { # refused OUT WHAT ARGS... : restore ARGS exits 2 saying WHAT
    local out=$1 what=$2
    shift 2
    restore "$out" "$@"
    ((RC == 2)) || fail "restore $* exited $RC, not 2: $(cat "$T/$out.err")"
    grep -q -- "$what" "$T/$out.err" || fail "unclear refusal of restore $*: $(cat "$T/$out.err")"
}
complete() { find "$d" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9-]*T[0-9]*Z' -printf '%f\n' | sort; }
stamp() { stat -c '%a %Y %s' "$1"; }

note "two snapshots: a file deleted and a file modified in between"
snap_run
S1=$(complete)
cp -a "$s" "$T/was"
sleep 1.1
rm "$s/alpha/path/to/deleted-file"
head -c 30000 /dev/urandom >"$s/alpha/path/to/modified"
snap_run
S2=$(complete | tail -1)
[[ -n $S1 && $S2 != "$S1" && $(complete | wc -l) == 2 ]] || fail "not two snapshots: $(complete)"

note "snapshots DST: both listed, latest marked"
"$BIN/multisync" snapshots "$d" >"$T/list.out" 2>&1 || fail "snapshots failed: $(cat "$T/list.out")"
cat "$T/list.out"
grep -q "^  $S1 *complete " "$T/list.out" || fail "the first snapshot is not listed, unmarked"
grep -q "^\* $S2 *complete " "$T/list.out" || fail "the second snapshot is not marked latest"
"$BIN/multisync" snapshots --json "$d" >"$T/list.json" || fail "snapshots --json failed"
jq_check "$T/list.json" "length == 2 and .[0].name == \"$S1\" and .[1].name == \"$S2\"" "JSON lists both"
jq_check "$T/list.json" '(.[0].latest | not) and .[1].latest and all(.[]; .state == "complete")' \
    "JSON marks latest"
jq_check "$T/list.json" 'all(.[]; .projects == 3 and .files > 0 and .bytes_transferred > 0)' \
    "JSON lacks the runs' figures"
jq_check "$T/list.json" '.[1].bytes_transferred < .[0].bytes_transferred' \
    "the second snapshot copied no less than the first"
mkdir "$T/empty"
out=$("$BIN/multisync" snapshots "$T/empty") || fail "snapshots of an empty folder failed"
[[ $out == "no snapshots in $T/empty" ]] || fail "an empty folder says: $out"
RC=0
"$BIN/multisync" snapshots "$T/missing" >/dev/null 2>"$T/miss.err" || RC=$?
((RC == 2)) && grep -q "No such file" "$T/miss.err" || fail "a missing DST: exit $RC, $(cat "$T/miss.err")"

note "a file deleted since the first snapshot comes back from it: bytes, mode and time"
f=alpha/path/to/deleted-file
restore r1 "$d" --snapshot "$S1" "$f" --to "$T/r1"
((RC == 0)) || fail "restore of $f exited $RC: $(cat "$T/r1.err")"
grep -q "^restored $f from $d/$S1 into $T/r1" "$T/r1.out" || fail "no restored line: $(cat "$T/r1.out")"
cmp "$T/was/$f" "$T/r1/$f" || fail "the restored file differs from the first snapshot's"
[[ $(stamp "$T/r1/$f") == $(stamp "$T/was/$f") ]] ||
    fail "mode or time not restored: $(stamp "$T/r1/$f"), was $(stamp "$T/was/$f")"
[[ $(cd "$T/r1" && find . -type f ! -name .multisync.lock) == "./$f" ]] ||
    fail "more than the file was restored: $(cd "$T/r1" && find .)"
note "the modified file: the old bytes from the first, the new from latest"
restore r1b "$d" --snapshot "$S1" alpha/path/to/modified --to "$T/r1b"
restore r1c "$d" alpha/path/to/modified --to "$T/r1c"
cmp "$T/was/alpha/path/to/modified" "$T/r1b/alpha/path/to/modified" || fail "not the old bytes"
cmp "$s/alpha/path/to/modified" "$T/r1c/alpha/path/to/modified" || fail "not the new bytes"
note "a folder and a link inside a project"
restore r1d "$d" --snapshot "$S1" alpha/path --to "$T/r1d"
same_tree "$d/$S1/alpha/path" "$T/r1d/alpha/path"
restore r1e "$d" alpha/link --to "$T/r1e"
[[ $(readlink "$T/r1e/alpha/link") == other && ! -e $T/r1e/alpha/other ]] || fail "the link was not restored as a link"

note "a whole split project equals the snapshot's copy"
restore r2 --slots 4 --split-min-mb 1 --report "$T/r2.json" "$d" big --to "$T/r2"
((RC == 0)) || fail "restore of big exited $RC: $(cat "$T/r2.err")"
jq_check "$T/r2.json" '.status == "ok" and (.tasks | length) == 1 and .tasks[0].project == "big"' \
    "the report is not one row for big"
jq_check "$T/r2.json" '.tasks[0].chunks > 1' "big was not restored in chunks"
jq_check "$T/r2.json" "(.source == \"$d/$S2\") and (.destination == \"$T/r2\")" "source or destination"
same_tree "$d/$S2/big" "$T/r2/big"
[[ $(ls -A "$T/r2") == $'.multisync.lock\nbig' ]] || fail "more than big restored: $(ls -A "$T/r2")"
restore r3 "$d" --snapshot "$S1" alpha/ --to "$T/r3"
same_tree "$d/$S1/alpha" "$T/r3/alpha"
same_tree "$T/was/alpha" "$T/r3/alpha"

note "a folder that is not empty: refused, then written with --force"
mkdir "$T/r4"
echo mine >"$T/r4/mine"
refused r4 "is not empty (it holds mine)" "$d" alpha --to "$T/r4"
[[ ! -e $T/r4/alpha ]] || fail "the refused restore wrote into $T/r4"
restore r4f --force "$d" alpha --to "$T/r4"
((RC == 0)) || fail "restore --force exited $RC: $(cat "$T/r4f.err")"
same_tree "$d/$S2/alpha" "$T/r4/alpha"
[[ $(cat "$T/r4/mine") == mine ]] || fail "--force lost what was in the folder"

note "never into the backup: DST, a folder inside it, through a link, or a folder holding it"
before=$(tree_fingerprint "$d")
refused r5 "is inside the backup" "$d" alpha --to "$d"
refused r5 "is inside the backup" "$d" alpha --to "$d/$S1/alpha"
refused r5 "is inside the backup" --force "$d" alpha --to "$d/new/folder"
ln -s "$d/$S1" "$T/link-to-snapshot"
refused r5 "is inside the backup" --force "$d" alpha --to "$T/link-to-snapshot/x"
refused r5 "the backup $d is inside $T" --force "$d" alpha --to "$T"
[[ $(tree_fingerprint "$d") == "$before" ]] || fail "a refused restore changed the backup"

note "unknown snapshot, project or path: clear errors, exit 2, nothing made"
refused r6 "there is no snapshot 2001-01-01T000000Z" "$d" --snapshot 2001-01-01T000000Z alpha --to "$T/r6"
refused r6 "is not the name of a complete snapshot" "$d" --snapshot "$S1.partial" alpha --to "$T/r6"
refused r6 "snapshot $S2 has no project nope" "$d" nope --to "$T/r6"
refused r6 "snapshot $S2 has no alpha/path/to/deleted-file" "$d" "$f" --to "$T/r6"
refused r6 "snapshot $S1 has no alpha/nope" "$d" --snapshot "$S1" alpha/nope/x --to "$T/r6"
refused r6 "must not be empty" "$d" alpha/../beta --to "$T/r6"
refused r6 "needs DST" "$d" alpha
[[ ! -e $T/r6 ]] || fail "a refused restore made its folder"

note "a mirror: restored from without --snapshot; with it, refused"
"$BIN/multisync" run "$s" "$T/mirror" >/dev/null 2>&1 || fail "mirror run failed"
restore r7 "$T/mirror" beta --to "$T/r7"
((RC == 0)) || fail "restore from a mirror exited $RC: $(cat "$T/r7.err")"
same_tree "$s/beta" "$T/r7/beta"
refused r7b "holds no snapshots (a mirror)" "$T/mirror" --snapshot latest beta --to "$T/r7b"

note "through a master and a worker"
CTL=ipc://$T/control.sock
cat >"$T/master.ini" <<INI
[master]
listen = ipc://$T/workers.sock
control = $CTL
catalog = $T/catalog.db
split_min_mb = 1

[set snaps]
source = $s
destination = $d
snapshots = yes

[set mirror]
source = $s
destination = $T/mirror
INI
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini"
MASTER_PID=$LAST_PID
wait_until 10 "the master to answer" "$BIN/multisync" status --master "$CTL" --json >/dev/null 2>&1
mkdir -p "$T/restored"
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/workers.sock" --slots 3 \
    --name hostA --allow-source "$d" --allow-source "$T/mirror" --allow-dest "$T/restored"
wait_workers "$CTL" 1
M=(--master "$CTL")

"$BIN/multisync" snapshots "${M[@]}" snaps >"$T/mlist.out" 2>&1 || fail "snapshots --master: $(cat "$T/mlist.out")"
grep -q "^\* $S2 " "$T/mlist.out" && grep -q "^  $S1 " "$T/mlist.out" ||
    fail "the master's listing: $(cat "$T/mlist.out")"
"$BIN/multisync" snapshots "${M[@]}" --json snaps >"$T/mlist.json" || fail "snapshots --master --json"
cmp "$T/list.json" "$T/mlist.json" || fail "the master lists other snapshots than DST holds"
for bad in "mirror:takes no snapshots" "nope:no backup set named 'nope'"; do
    RC=0
    "$BIN/multisync" snapshots "${M[@]}" "${bad%%:*}" >/dev/null 2>"$T/mbad.err" || RC=$?
    ((RC == 2)) && grep -q "${bad#*:}" "$T/mbad.err" || fail "snapshots of set ${bad%%:*}: exit $RC, $(cat "$T/mbad.err")"
done

restore m1 "${M[@]}" snaps --snapshot "$S1" "$f" --to "$T/restored/one"
((RC == 0)) || fail "restore --master of $f exited $RC: $(cat "$T/m1.err")"
cmp "$T/was/$f" "$T/restored/one/$f" || fail "restored through the master: not the first snapshot's file"
[[ $(stamp "$T/restored/one/$f") == $(stamp "$T/was/$f") ]] || fail "mode or time lost through the master"
restore m2 "${M[@]}" --report "$T/m2.json" snaps big --to "$T/restored/big"
((RC == 0)) || fail "restore --master of big exited $RC: $(cat "$T/m2.err")"
jq_check "$T/m2.json" '.tasks[0].chunks > 1 and .tasks[0].host == "hostA" and .set == "snaps"' \
    "big not restored in chunks by hostA"
same_tree "$d/$S2/big" "$T/restored/big/big"
restore m3 "${M[@]}" mirror beta --to "$T/restored/beta"
((RC == 0)) || fail "restore --master from a mirror exited $RC: $(cat "$T/m3.err")"
same_tree "$s/beta" "$T/restored/beta/beta"
restore m4 "${M[@]}" "$d" alpha --to "$T/restored/by-path"
((RC == 0)) || fail "restore --master from a DST path exited $RC: $(cat "$T/m4.err")"
same_tree "$d/$S2/alpha" "$T/restored/by-path/alpha"

note "through a master: the worker's allow_dest applies; DST refused; errors exit 2"
restore m5 "${M[@]}" snaps alpha --to "$T/elsewhere"
((RC == 1)) || fail "a restore outside the worker's allow_dest exited $RC"
grep -q "allow" "$T/m5.err" || fail "the refusal does not say why: $(cat "$T/m5.err")"
[[ -z $(find "$T/elsewhere" -mindepth 1 ! -name .multisync.lock) ]] || fail "the worker wrote outside its allow_dest"
before=$(tree_fingerprint "$d")
RC=0
"$BIN/multisync" restore "${M[@]}" snaps alpha --to "$d/$S1" >/dev/null 2>"$T/m6.err" || RC=$?
((RC == 2)) && grep -q "is inside the backup" "$T/m6.err" || fail "restore into DST through the master: exit $RC, $(cat "$T/m6.err")"
RC=0 # a link the master resolves itself, by inode
"$BIN/multisync" restore "${M[@]}" snaps alpha --to "$T/link-to-snapshot/y" >/dev/null 2>"$T/m6.err" || RC=$?
((RC == 2)) && grep -q "is inside the backup" "$T/m6.err" || fail "restore through a link into DST: exit $RC, $(cat "$T/m6.err")"
[[ $(tree_fingerprint "$d") == "$before" ]] || fail "a refused restore changed the backup"
RC=0
"$BIN/multisync" restore "${M[@]}" snaps nope --to "$T/restored/nope" >/dev/null 2>"$T/m7.err" || RC=$?
((RC == 2)) && grep -q "has no project nope" "$T/m7.err" || fail "unknown project through the master: exit $RC, $(cat "$T/m7.err")"
RC=0
"$BIN/multisync" restore "${M[@]}" snaps alpha --to restored/rel >/dev/null 2>"$T/m8.err" || RC=$?
((RC == 2)) && grep -q "must be absolute" "$T/m8.err" || fail "a relative --to with --master: exit $RC, $(cat "$T/m8.err")"
echo ok
