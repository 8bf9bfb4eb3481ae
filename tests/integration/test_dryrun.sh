#!/usr/bin/env bash
# multisync run -n / --dry-run: a first dry run into a DST that does not
# exist lists every entry and leaves DST missing; after a real run and
# changes (a file modified, added, deleted, a chmod, a new empty folder, a
# project gone from the source with --delete) it lists exactly those, an
# untouched project is unchanged (no rsync), and the backup, its lock and
# the catalog's fingerprints are what they were (the next real run copies
# the changes); a link planted where a project's folder belongs is neither
# followed nor replaced; into snapshots it compares with the latest one and
# makes none; the same through a master and a worker, by SRC DST and by
# set; the report's kind is dry-run, and history says so.
source "$(dirname "$0")/lib.sh"

s=$T/src d=$T/dst
CATALOG=$XDG_STATE_HOME/multisync/catalog.db
make_file "$s/alpha/a.txt" 3000
make_file "$s/alpha/sub/deep.bin" 20000
make_file "$s/beta/old.txt" 500
make_file "$s/beta/keep.txt" 700
make_file "$s/gamma/g.txt" 900
make_file "$s/delta/d.txt" 100
make_file "$s/epsilon/e.txt" 100
make_file "$s/zeta/z.txt" 100
make_file "$s/loose.txt" 10

# dry NAME ARGS... : multisync run -n ARGS; exit status in RC, $T/NAME.out,
# $T/NAME.err and the report $T/NAME.json.
dry() {
    local name=$1
    shift
    RC=0
    "$BIN/multisync" run -n --report "$T/$name.json" "$@" >"$T/$name.out" 2>"$T/$name.err" || RC=$?
}
# listed NAME: the itemized paths of the report's rows, sorted (each
# would-change row's message but its first line, "N paths would change:").
listed() {
    jq -r '.tasks[] | select(.status == "would-change") | .message | split("\n")[1:][] | select(. != "")' \
        "$T/$1.json" | LC_ALL=C sort
}
# state DIR: every entry's path, mode, size, mtime, owner, group and link
# target, and every file's checksum; "none" when DIR is not there.
state() {
    [[ -e $1 || -L $1 ]] || {
        echo none
        return
    }
    find "$1" -printf '%p %m %s %T@ %u %g %l\n' | LC_ALL=C sort
    find "$1" -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
}
# age DIR: every entry's time set back to 2020, so that what changes after a
# run (now) differs from it by time as well, whatever the clock's grain.
age() { find "$1" -exec touch -h -d '2020-01-02 03:04:05' {} +; }
fingerprints() { sqlite3 "$CATALOG" 'SELECT * FROM fingerprints ORDER BY project, part' 2>/dev/null; }

note "a first dry run into a destination that does not exist lists every entry and makes nothing"
dry d1 --delete "$s" "$d"
((RC == 0)) || fail "the first dry run exited $RC: $(cat "$T/d1.err" "$T/d1.out")"
[[ ! -e $d ]] || fail "the dry run made the destination: $(ls -la "$d")"
want=$(cd "$s" && find . -mindepth 1 -printf '%P\n' | while read -r p; do
    if [[ $p != */* && -d $s/$p ]]; then echo "cd+++++++++ $p/"; # a project's folder
    elif [[ -d $s/$p ]]; then echo "cd+++++++++ $p/";
    else echo ">f+++++++++ $p"; fi
done; echo "cd+++++++++ ./")
want=$(LC_ALL=C sort <<<"$want")
[[ $(listed d1) == "$want" ]] || fail "the first dry run lists:
$(listed d1)
not:
$want"
jq_check "$T/d1.json" '.kind == "dry-run" and .status == "ok" and .full == false' \
    "the report is not an ok dry run"
jq_check "$T/d1.json" '.dry_run.changes == 7 and .dry_run.paths == 17 and .dry_run.snapshot == null' \
    "the report does not count 7 projects and 17 paths"
jq_check "$T/d1.json" '.totals.failed == 0 and ([.tasks[] | select(.status == "would-change") | .paths] | add) == 17' \
    "rows do not carry their paths"
grep -q "^WOULD CHANGE alpha: 4 paths$" "$T/d1.out" || fail "no WOULD CHANGE line: $(cat "$T/d1.out")"
grep -q "^  >f+++++++++ alpha/sub/deep.bin$" "$T/d1.out" || fail "alpha's files are not listed"
grep -q "^dry run: 7 of 7 projects would change (17 paths, .* to transfer); nothing written$" \
    "$T/d1.out" || fail "no summary line: $(tail -3 "$T/d1.out")"
[[ $(fingerprints) == "" ]] || fail "the dry run recorded fingerprints: $(fingerprints)"

note "a real run, then changes: the dry run lists exactly them"
age "$s"
"$BIN/multisync" run --delete "$s" "$d" >"$T/run1.out" 2>&1 || fail "the real run failed: $(cat "$T/run1.out")"
same_tree "$s" "$d"
echo more >>"$s/alpha/a.txt"                # modified: size and time
make_file "$s/alpha/new.txt" 400            # new
rm "$s/beta/old.txt"                        # deleted (--delete)
chmod 600 "$s/gamma/g.txt"                  # a mode
mkdir "$s/delta/empty"                      # a new empty folder
rm -r "$s/epsilon"                          # a project gone (1 of 7: under the guard)
want=$'*deleting   beta/old.txt\n*deleting   epsilon/\n*deleting   epsilon/e.txt\n.d..t...... ./\n.d..t...... alpha/\n.d..t...... beta/\n.d..t...... delta/\n.f...p..... gamma/g.txt\n>f+++++++++ alpha/new.txt\n>f.st...... alpha/a.txt\ncd+++++++++ delta/empty/'
want=$(LC_ALL=C sort <<<"$want")
state "$d" >"$T/before"
fingerprints >"$T/fp.before"
[[ -s $T/fp.before ]] || fail "the real run recorded no fingerprints"
# A backup writing there holds the lock: a dry run neither waits for it nor takes it.
start_bg "$T/holder.log" python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
time.sleep(120)' "$d/.multisync.lock"
HOLDER=$LAST_PID
wait_until 5 "the lock to be held" bash -c "! flock -n '$d/.multisync.lock' true"
dry d2 --delete "$s" "$d"
((RC == 0)) || fail "the dry run exited $RC: $(cat "$T/d2.err" "$T/d2.out")"
[[ $(listed d2) == "$want" ]] || fail "the dry run lists:
$(listed d2)
not:
$want"
jq_check "$T/d2.json" '[.tasks[] | select(.project == "zeta")][0].status == "unchanged"' \
    "an untouched project was not skipped as unchanged"
jq_check "$T/d2.json" '.dry_run.changes == 5 and .dry_run.paths == 11 and .totals.unchanged == 1' \
    "the report does not count 5 projects, 11 paths, 1 unchanged"
flock -n "$d/.multisync.lock" true && fail "the dry run broke the backup's lock"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null || true
state "$d" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the dry run changed the backup: $(diff "$T/before" "$T/after" | head)"
fingerprints >"$T/fp.after"
cmp -s "$T/fp.before" "$T/fp.after" || fail "the dry run changed the catalog's fingerprints"
[[ -d $d/epsilon ]] || fail "the dry run pruned epsilon's backup"
# Without --delete nothing would be deleted: nor is anything listed so.
dry d3 "$s" "$d"
((RC == 0)) || fail "the dry run without --delete exited $RC"
listed d3 | grep -q deleting && fail "a dry run without --delete lists deletions: $(listed d3)"

note "the next real run still copies every change"
"$BIN/multisync" run --delete --report "$T/run2.json" "$s" "$d" >"$T/run2.out" 2>&1 ||
    fail "the real run after the dry run failed: $(cat "$T/run2.out")"
same_tree "$s" "$d"
jq_check "$T/run2.json" '[.tasks[] | select(.status == "ok" and .project != ".") | .project] | sort == ["alpha", "beta", "delta", "gamma"]' \
    "the real run did not copy the changed projects"
dry d4 --delete "$s" "$d"
jq_check "$T/d4.json" '.dry_run.changes == 0 and .dry_run.paths == 0' "a dry run after a copy lists changes"

note "a link planted where a project's folder belongs: nothing followed, nothing replaced"
mkdir -p "$T/outside"
echo secret >"$T/outside/s.txt"
rm -r "$d/gamma"
ln -s "$T/outside" "$d/gamma"
state "$d" >"$T/before"
state "$T/outside" >"$T/outside.before"
# (a change by hand: only a full pass looks, as only a full run would repair it)
dry d5 --full --delete "$s" "$d"
((RC == 0)) || fail "the dry run with a planted link exited $RC: $(cat "$T/d5.err")"
# gamma's files are new (compared with nothing, not with the link's target)
[[ $(listed d5 | grep ' gamma/') == $'>f+++++++++ gamma/g.txt\ncd+++++++++ gamma/' ]] ||
    fail "gamma is not listed as new: $(listed d5)"
listed d5 | grep -q 's.txt' && fail "the link's target was read: $(listed d5)"
grep -q "gamma/ is a symbolic link in the backup" "$T/d5.out" || fail "the link is not said"
state "$d" >"$T/after"
state "$T/outside" >"$T/outside.after"
cmp -s "$T/before" "$T/after" || fail "the dry run changed the backup with the link"
cmp -s "$T/outside.before" "$T/outside.after" || fail "the dry run touched the link's target"
[[ -L $d/gamma ]] || fail "the dry run replaced the link"

note "into snapshots: compared with the latest, nothing made"
n=$T/snaps
dry s1 --snapshot "$s" "$n"
((RC == 0)) || fail "the first snapshot dry run exited $RC: $(cat "$T/s1.err")"
[[ ! -e $n ]] || fail "a snapshot dry run made the destination"
jq_check "$T/s1.json" '.dry_run.changes == 6 and .dry_run.snapshot == null and (.snapshot | not)' \
    "a first snapshot's dry run does not list everything"
age "$s"
"$BIN/multisync" run --snapshot "$s" "$n" >"$T/snap1.out" 2>&1 || fail "the snapshot run failed"
S1=$(readlink "$n/latest")
make_file "$s/alpha/later.txt" 300
state "$n" >"$T/before"
dry s2 --snapshot "$s" "$n"
((RC == 0)) || fail "the snapshot dry run exited $RC: $(cat "$T/s2.err")"
[[ $(listed s2) == $'.d..t...... alpha/\n>f+++++++++ alpha/later.txt' ]] ||
    fail "the snapshot dry run lists: $(listed s2)"
jq_check "$T/s2.json" ".dry_run.snapshot == \"$S1\" and .totals.unchanged >= 4" \
    "not compared with the latest snapshot, or unchanged projects not carried over"
state "$n" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the snapshot dry run changed the destination: $(diff "$T/before" "$T/after" | head)"

note "history says dry-run"
"$BIN/multisync" history --json | jq -e '.[0].kind == "dry-run" and .[0].status == "ok"' >/dev/null ||
    fail "history does not say the last run was a dry run: $("$BIN/multisync" history --json | jq '.[0]')"
"$BIN/multisync" history | grep -q "dry-run" || fail "history does not print the kind"
id=$(jq .run_id "$T/s2.json")
"$BIN/multisync" report "$id" --json | jq -e '.kind == "dry-run" and (.tasks | map(select(.paths)) | length) == 1' \
    >/dev/null || fail "report --json of the dry run is not one"

note "through a master and a worker: by SRC DST and by set"
CTL=ipc://$T/control.sock WEP=ipc://$T/workers.sock
m=$T/mdst
cat >"$T/master.ini" <<INI
[master]
listen = $WEP
control = $CTL
catalog = $T/catalog.db
[set nightly]
source = $s
destination = $m
delete = yes
INI
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini"
MASTER_PID=$LAST_PID
wait_until 10 "the master to answer" "$BIN/multisync" status --master "$CTL" --json >/dev/null 2>&1
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name hostA
wait_workers "$CTL" 1
dry c1 --master "$CTL" --delete "$s" "$m"
((RC == 0)) || fail "the dry run through the master exited $RC: $(cat "$T/c1.err")"
[[ ! -e $m ]] || fail "the master's dry run made the destination"
jq_check "$T/c1.json" '.kind == "dry-run" and .dry_run.changes == 6' "the master's first dry run"
age "$s"
"$BIN/multisync" run --master "$CTL" nightly >"$T/crun.out" 2>&1 || fail "the set's run failed: $(cat "$T/crun.out")"
echo more >>"$s/beta/keep.txt"
make_file "$m/zeta/extra.txt" 50
touch -r "$s/zeta" "$m/zeta"
want=$'*deleting   zeta/extra.txt\n>f.st...... beta/keep.txt'
state "$m" >"$T/before"
dry c2 --master "$CTL" --full nightly # --full: zeta's source did not change
((RC == 0)) || fail "the set's dry run exited $RC: $(cat "$T/c2.err")"
[[ $(listed c2) == "$want" ]] || fail "the set's dry run lists: $(listed c2)"
jq_check "$T/c2.json" '.full == true and .status == "ok"' "the set's dry run is not a full ok one"
state "$m" >"$T/after"
cmp -s "$T/before" "$T/after" || fail "the master's dry run changed the backup"
"$BIN/multisync" history --master "$CTL" --json | jq -e '.[0].kind == "dry-run"' >/dev/null ||
    fail "the master's history does not say dry-run"

note "what a dry run cannot do is refused"
RC=0
"$BIN/multisync" run -n --delete --snapshot "$s" "$n" >/dev/null 2>"$T/rerr" || RC=$?
((RC == 2)) || fail "--delete with --snapshot in a dry run exited $RC"
RC=0
"$BIN/multisync" run -n "$s" "$n" >/dev/null 2>"$T/rerr" || RC=$?
((RC == 2)) && grep -q "holds snapshots" "$T/rerr" || fail "a mirror dry run into snapshots was not refused ($RC): $(cat "$T/rerr")"
echo ok
