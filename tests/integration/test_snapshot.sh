#!/usr/bin/env bash
# Point-in-time snapshots: two runs with changes in between give two
# complete snapshots, the first still exactly the source as it was, the
# second exactly the source as it is, every unchanged file one inode shared
# by both (a split project's chunks and rest too), and the second costing
# about the size of what changed. A run killed mid-copy leaves a .partial
# that the next run takes over without copying again what it holds.
# Mirrors and snapshots never share a destination.
source "$(dirname "$0")/lib.sh"

s=$T/src d=$T/dst
# big: split into chunks (--split-min-mb 1); small projects whole.
for i in 1 2 3 4 5 6; do make_file "$s/big/d$i/data.bin" 1200000; done
make_file "$s/big/d1/keep.txt" 3000
make_file "$s/big/d2/gone.txt" 3000
make_file "$s/alpha/f1" 50000
make_file "$s/alpha/f2" 60000
make_file "$s/alpha/f3" 70000
make_file "$s/alpha/sub/f4" 80000
ln -s f1 "$s/alpha/link"
gen_projects "$s" still 3 200000
make_file "$s/loose" 100
touch -d '2021-03-04 05:06:07' "$s/alpha/sub" "$s/big/d3"

snap_run() { # snap_run N [options...]: run N, its report in r$N.json
    local n=$1
    shift
    "$BIN/multisync" run -v --snapshot --slots 4 --split-min-mb 1 --report "$T/r$n.json" "$@" \
        "$s" "$d" >"$T/out$n" 2>"$T/err$n" || fail "run $n failed: $(tail -5 "$T/err$n")"
}
complete() { find "$d" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9-]*T[0-9]*Z' -printf '%f\n' | sort; }
partial() { find "$d" -mindepth 1 -maxdepth 1 -type d -name '*.partial' -printf '%f\n'; }

note "first snapshot"
snap_run 1
rsync -a "$s/" "$T/was/" # the source as the first snapshot saw it
S1=$(complete)
[[ $(wc -l <<<"$S1") == 1 && -n $S1 ]] || fail "not one complete snapshot: $(ls -a "$d")"
[[ $(readlink "$d/latest") == "$S1" ]] || fail "latest is $(readlink "$d/latest"), not $S1"
jq_check "$T/r1.json" '.snapshot.complete and .snapshot.link == null' "the report names no complete first snapshot"
jq_check "$T/r1.json" '[.tasks[] | select(.project == "big")][0].chunks > 1' "big was not split"
same_tree "$s" "$d/$S1"

note "changes: modified, deleted, added, a mode, an empty folder, in the split project too"
sleep 1.1 # a new second: a new snapshot name
head -c 50000 /dev/urandom >"$s/alpha/f1"
rm "$s/alpha/f2"
make_file "$s/alpha/new" 40000
chmod 600 "$s/alpha/f3"
mkdir "$s/alpha/empty"
head -c 1200000 /dev/urandom >"$s/big/d1/data.bin"
rm "$s/big/d2/gone.txt"
make_file "$s/big/d3/added" 30000
mkdir "$s/big/d4/empty"
ln -sfn f3 "$s/alpha/link"
changed=$((50000 + 40000 + 1200000 + 30000))

note "second snapshot"
snap_run 2
S2=$(complete | tail -1)
[[ $(complete | wc -l) == 2 && $S2 != "$S1" ]] || fail "not two complete snapshots: $(complete)"
[[ -z $(partial) ]] || fail "a partial snapshot is left: $(partial)"
[[ $(readlink "$d/latest") == "$S2" ]] || fail "latest is not on the second snapshot"
jq_check "$T/r2.json" ".snapshot.complete and .snapshot.link == \"$S1\"" "the second does not link to the first"
same_tree "$T/was" "$d/$S1" # the first is still the source as it was
same_tree "$s" "$d/$S2"     # the second is the source as it is
# Every file unchanged since the first snapshot is the same inode in both.
(cd "$T/was" && find . -type f -printf '%P\n') | sort >"$T/files1"
unchanged=0
while IFS= read -r f; do
    [[ -f $s/$f ]] && cmp -s "$T/was/$f" "$s/$f" &&
        [[ $(stat -c %a.%Y "$T/was/$f") == $(stat -c %a.%Y "$s/$f") ]] || continue
    [[ $(stat -c %i "$d/$S1/$f") == $(stat -c %i "$d/$S2/$f") ]] ||
        fail "unchanged $f is not a hard link shared by both snapshots"
    unchanged=$((unchanged + 1))
done <"$T/files1"
((unchanged >= 12)) || fail "only $unchanged unchanged files checked"
for f in alpha/f1 big/d1/data.bin alpha/f3; do
    [[ $(stat -c %i "$d/$S1/$f") != $(stat -c %i "$d/$S2/$f") ]] || fail "changed $f shares its inode"
done
# What the second costs: du counts an inode once across both.
both=$(du -sb "$d/$S1" "$d/$S2" | awk 'NR == 2 {print $1}')
((both < changed + 200000)) || fail "the second snapshot takes $both bytes for $changed changed"
note "second snapshot: $unchanged unchanged files linked, $both bytes for $changed changed"

note "a run killed mid-copy leaves a partial snapshot; the next takes it over"
sleep 1.1
for i in 1 2 3 4 5 6 7 8; do make_file "$s/grow$i/blob" 1000000; done
"$BIN/multisync" run --snapshot --slots 2 --no-split --rsync-opt=--bwlimit=2000 "$s" "$d" \
    >"$T/out3" 2>"$T/err3" &
RUN_PID=$!
wait_until 30 "some projects of the killed run copied" \
    bash -c "[[ \$(find '$d' -path '*.partial/grow*/blob' -size 1000000c | wc -l) -ge 2 ]]"
kill -9 "$RUN_PID"
wait "$RUN_PID" 2>/dev/null || true
wait_until 10 "the killed run's rsyncs to end" bash -c "[[ -z \$(pgrep -f -- 'bwlimit=200[0]') ]]"
P=$(partial)
[[ -n $P ]] || fail "the killed run left no .partial"
[[ $(readlink "$d/latest") == "$S2" ]] || fail "latest moved after a killed run"
had=$(find "$d/$P" -path '*/grow*/blob' -size 1000000c | wc -l)
sleep 1.1
snap_run 4
S4=$(complete | tail -1)
[[ -z $(partial) ]] || fail "the partial was not taken over: $(partial)"
[[ $(complete | wc -l) == 3 && $S4 != "$S2" ]] || fail "no third complete snapshot"
[[ $(readlink "$d/latest") == "$S4" ]] || fail "latest is not on the completed snapshot"
same_tree "$s" "$d/$S4"
xfer=$(jq '.totals.bytes_transferred' "$T/r4.json")
((xfer <= (8 - had) * 1000000 + 100000)) ||
    fail "the run after the kill copied $xfer bytes again though $had of 8 new files were there"
[[ $(stat -c %i "$d/$S2/still1/part1.bin") == $(stat -c %i "$d/$S4/still1/part1.bin") ]] ||
    fail "the completed snapshot does not link to the last complete one"
note "after the kill: $had of 8 new files were in the partial, $xfer bytes copied"

note "nothing changed: each project is carried over by links, the source not read"
sleep 1.1
cat >"$T/rsync-log" <<SH
#!/bin/bash
[[ \$1 == --version ]] || echo "\$PWD" >>"$T/rsync.log"
exec rsync "\$@"
SH
chmod +x "$T/rsync-log"
: >"$T/rsync.log"
snap_run 5 --rsync "$T/rsync-log"
S5=$(complete | tail -1)
[[ $S5 != "$S4" ]] || fail "no fifth snapshot"
same_tree "$s" "$d/$S5"
jq_check "$T/r5.json" "[.tasks[] | select(.project != \".\")]
    | all(.status == \"unchanged\" and (.message | test(\"carried over from snapshot $S4\")))" \
    "every project carried over from the last snapshot"
grep -q "^$s/" "$T/rsync.log" && fail "a project's rsync read the source: $(grep "^$s/" "$T/rsync.log")"
grep -q "^$d/$S4/still1\$" "$T/rsync.log" || fail "still1 was not carried from $S4: $(cat "$T/rsync.log")"
for f in still1/part1.bin big/d1/data.bin grow3/blob alpha/f3; do
    [[ $(stat -c %i "$d/$S4/$f") == $(stat -c %i "$d/$S5/$f") ]] || fail "carried $f is not a link"
done
echo changed >>"$s/alpha/new"
sleep 1.1
snap_run 6
S6=$(complete | tail -1)
same_tree "$s" "$d/$S6"
jq_check "$T/r6.json" '.tasks[] | select(.project == "alpha") | .status == "ok"' "alpha, changed, copied"
jq_check "$T/r6.json" '.tasks[] | select(.project == "still2") | .status == "unchanged"' "still2 carried"

note "mirrors and snapshots never share a destination"
"$BIN/multisync" run "$s" "$d" >"$T/out5" 2>"$T/err5" && fail "a mirror run into snapshots ran"
grep -q "holds snapshots" "$T/err5" || fail "unclear refusal: $(cat "$T/err5")"
[[ $(complete | wc -l) == 5 ]] || fail "the refused mirror run changed the snapshots"
mkdir -p "$T/mirror"
"$BIN/multisync" run "$s" "$T/mirror" >/dev/null 2>&1 || fail "mirror run failed"
"$BIN/multisync" run --snapshot "$s" "$T/mirror" >"$T/out6" 2>"$T/err6" &&
    fail "a snapshot run into a mirror ran"
grep -q "not a snapshot" "$T/err6" || fail "unclear refusal: $(cat "$T/err6")"
"$BIN/multisync" run --snapshot "$s" "host:/backup" >"$T/out7" 2>"$T/err7" &&
    fail "a snapshot to an rsync remote ran"
grep -q "not the rsync remote" "$T/err7" || fail "unclear refusal: $(cat "$T/err7")"
"$BIN/multisync" run --snapshot --delete "$s" "$d" >"$T/out8" 2>"$T/err8" &&
    fail "--snapshot --delete was taken"
grep -q "always exact" "$T/err8" || fail "unclear refusal: $(cat "$T/err8")"
echo ok
