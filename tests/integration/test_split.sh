#!/usr/bin/env bash
# A big project split into chunks: the backup is exactly what one rsync -a
# of the whole tree gives (contents, links, folders' times and modes), with
# deletions mirrored, and the report still shows one row per project.
# Names that rsync's filter rules would read as wildcards are chunked too,
# next to siblings an unescaped pattern would match. A folder of more files
# than a chunk may list is cut by ranges of names (rsync patterns).
source "$(dirname "$0")/lib.sh"

s=$T/src
names=("plain" "sp ace" "star*" "br[a]ck" "-dash" 'back\slash' $'new\nline' $'\xff\xfe' "q?mark")
for n in "${names[@]}"; do
    make_file "$s/big/$n/data.bin" 1500000
    make_file "$s/big/$n/inner/x" 1000
done
make_file "$s/big/starX/data.bin" 1000 # matched by an unescaped star*
make_file "$s/big/brack/f" 100         # matched by an unescaped br[a]ck
make_file "$s/big/qXmark/f" 100        # matched by an unescaped q?mark
make_file "$s/big/deep/level/one/blob" 1500000
make_file "$s/big/deep/level/two/blob" 1500000
make_file "$s/big/top-file" 2000
# 5,000 files directly in one folder: too many to list, cut by name ranges.
mkdir -p "$s/big/many"
(cd "$s/big/many" && seq -f "f%05g" 1 5000 | xargs truncate -s 300 &&
    truncate -s 300 -- '[odd]' 'a*' 'b\c' $'\xff' '-x' f f0)
ln -s plain "$s/big/link-to-plain"
mkdir -p "$s/big/empty"
# A project with hard links: never split, so that rsync -H keeps them.
for i in 1 2 3 4; do make_file "$s/linked/d$i/blob" 2000000; done
ln "$s/linked/d1/blob" "$s/linked/d2/same-as-d1"
gen_projects "$s" small 3 100000
make_file "$s/loose" 10
set_times() {
    chmod 700 "$s/big/deep"
    chmod 750 "$s/big/sp ace"
    touch -d '2019-05-06 07:08:09' "$s/big/deep/level" "$s/big/deep" "$s/big/sp ace" \
        "$s/big/star*" "$s/big/empty" "$s/big"
}
set_times
nproj=$(find "$s" -mindepth 1 -maxdepth 1 -type d | wc -l)

# The reference: one rsync of the whole tree.
rsync -aH "$s/" "$T/ref/"

note "first run: big is split"
"$BIN/multisync" run -v --slots 4 --split-min-mb 1 --rsync-opt=-H --report "$T/r1.json" \
    "$s" "$T/dst" >"$T/out1" 2>"$T/err1" || fail "first run exited $?: $(tail -20 "$T/err1")"
grep -q "big .*split into" "$T/err1" || fail "big was not split: $(grep -i split "$T/err1")"
grep -q "linked .*split into" "$T/err1" && fail "linked (hard links) was split"
same_tree "$T/ref" "$T/dst"
same_tree "$s" "$T/dst"
[[ $(stat -c %i "$T/dst/linked/d1/blob") == $(stat -c %i "$T/dst/linked/d2/same-as-d1") ]] ||
    fail "the hard link in linked was not kept"
jq_check "$T/r1.json" '.status == "ok"' "run status is ok"
jq_check "$T/r1.json" ".tasks | length == $nproj + 1" "one row per project (chunks folded in) plus the top"
jq_check "$T/r1.json" '(.tasks[] | select(.project == "big") | .chunks) >= 4' "big ran as chunks"
jq_check "$T/r1.json" '(.tasks[] | select(.project == "linked") | has("chunks")) | not' "linked ran whole"
jq_check "$T/r1.json" "(.tasks[] | select(.project == \"big\") | .bytes_transferred) > 15000000" \
    "big's chunks' bytes add up in its row"
jq_check "$T/r1.json" '.workers[0].tasks > '$((nproj + 1)) "the worker ran more tasks than projects"
grep -q "started big \[many/.*\[" "$T/err1" || fail "big/many was not cut by name ranges"

note "second run, nothing changed: nothing is sent"
"$BIN/multisync" run --slots 4 --split-min-mb 1 --rsync-opt=-H --report "$T/r2.json" \
    "$s" "$T/dst" >/dev/null 2>"$T/err2" || fail "second run exited $?: $(tail -5 "$T/err2")"
jq_check "$T/r2.json" '.totals.bytes_transferred == 0' "second run transfers nothing"
same_tree "$T/ref" "$T/dst"

note "deletions inside chunks, of whole chunks and in the rest are mirrored"
rm "$s/big/plain/data.bin" "$s/big/starX/data.bin" "$s/big/top-file"
rm -r "$s/big/-dash" "$s/big/deep/level/two"
rm "$s/big/many/f00007" "$s/big/many/f04999" "$s/big/many/[odd]"
echo stray >"$T/dst/big/many/f00007x"
echo stray >"$T/dst/big/many/zzz"
truncate -s 300 "$s/big/many/f02500b"
make_file "$s/big/br[a]ck/new" 5000
make_file "$s/big/qXmark/new" 5000
echo stray >"$T/dst/big/sp ace/stray"
echo stray >"$T/dst/big/stray-top"
echo stray >"$T/dst/big/deep/level/one/stray"
set_times
rsync -aH --delete "$s/" "$T/ref/"
"$BIN/multisync" run -v --delete --slots 4 --split-min-mb 1 --rsync-opt=-H --report "$T/r3.json" \
    "$s" "$T/dst" >/dev/null 2>"$T/err3" || fail "third run exited $?: $(tail -20 "$T/err3")"
grep -q "big .*split into" "$T/err3" || fail "big was not split in the third run"
jq_check "$T/r3.json" '.status == "ok"' "third run ok"
same_tree "$T/ref" "$T/dst"
same_tree "$s" "$T/dst"
[[ ! -e $T/dst/big/-dash && ! -e $T/dst/big/stray-top && ! -e "$T/dst/big/sp ace/stray" ]] ||
    fail "deletions were not mirrored"
[[ -e "$T/dst/big/br[a]ck/new" && -e $T/dst/big/qXmark/new ]] || fail "new files were not copied"
echo "ok"
