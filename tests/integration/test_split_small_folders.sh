#!/usr/bin/env bash
# A project of many small folders (5,000 of one or two small files each) is
# split like any other, also when its chunks are near the smallest one (8
# slots, --split-min-mb 8: a target of 8.3 MB against folders of ~40 KB,
# cut by ranges of names); the backup is exact, changes in it are carried
# over; walked by 3 threads, then by 1. Issue 14: it ran whole ("has no
# folders to split it by").
source "$(dirname "$0")/lib.sh"

s=$T/src
mkdir -p "$s/many" "$s/other"
(cd "$s/many" && seq -f "d%04g" 0 4999 | xargs mkdir &&
    for d in d*; do echo "$d" >"$d/a"; done &&
    for d in d*[02468]; do echo two >"$d/b"; done)
echo small >"$s/other/f"

note "first run: many is split"
"$BIN/multisync" run -v --slots 8 --split-min-mb 8 --walk-threads 3 --report "$T/r1.json" \
    "$s" "$T/dst" >"$T/out1" 2>"$T/err1" || fail "first run exited $?: $(tail -20 "$T/err1")"
grep -q "many .*split into" "$T/err1" || fail "many was not split: $(grep -i split "$T/err1")"
grep -q "no folders to split it by" "$T/err1" && fail "a project ran whole: $(grep -i split "$T/err1")"
same_tree "$s" "$T/dst"
jq_check "$T/r1.json" '.status == "ok"' "run status is ok"
jq_check "$T/r1.json" '(.tasks[] | select(.project == "many") | .chunks) >= 4' "many ran as chunks"

note "second run after changes in a few folders: carried over"
echo changed >"$s/many/d0007/a"
rm -r "$s/many/d4999"
mkdir "$s/many/d5000" && echo new >"$s/many/d5000/a"
"$BIN/multisync" run --delete --slots 8 --split-min-mb 8 --walk-threads 1 "$s" "$T/dst" \
    >/dev/null 2>"$T/err2" ||
    fail "second run exited $?: $(tail -5 "$T/err2")"
same_tree "$s" "$T/dst"
echo "OK"
