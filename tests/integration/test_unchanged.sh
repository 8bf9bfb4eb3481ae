#!/usr/bin/env bash
# A project whose tree did not change since its last successful copy is
# skipped (`unchanged`, no rsync started); every change rsync -a would carry
# over makes the next run copy it, and the backup is then exact:
#   - a table of changes (content with a new mtime, size, mtime, mode, owner,
#     group, rename, added and removed file and folder, empty folder, a
#     symlink's target, a hard link with -H, an xattr with -X, an ACL with
#     -A, the project folder's own mode, a change in one chunk of a split
#     project and in its rest), each made in turn, each run checked: the
#     changed project copied, the other one skipped without an rsync;
#   - other rsync options, --full, and every --full-every'th run copy all;
#   - what the skip assumes: a change made by hand in the backup stays
#     until a full pass repairs it.
source "$(dirname "$0")/lib.sh"

S=$T/src D=$T/dst
mkdir -p "$S"
# p: the project changed row by row; q: never changed, always skipped;
# big: split into chunks (several folders of ~3 MB against --split-min-mb 1).
make_file "$S/p/f1" 5000
make_file "$S/p/f2" 3000
make_file "$S/p/sub/f3" 2000
mkdir -p "$S/p/emptydir"
ln -s f1 "$S/p/link"
make_file "$S/q/file" 4000
for i in 1 2 3 4 5 6; do make_file "$S/big/d$i/blob" 3000000; done
make_file "$S/big/loose" 1000

cat >"$T/rsync-log" <<SH
#!/bin/bash
# The real rsync, each copy logged with its folder and arguments.
[[ \$1 == --version ]] || echo "\$PWD \$*" >>"$T/rsync.log"
exec rsync "\$@"
SH
chmod +x "$T/rsync-log"

OPTS=(--slots 2 --split-min-mb 1 --full-every 100000 --rsync "$T/rsync-log"
    --rsync-opt -H --rsync-opt -X --rsync-opt -A --delete)
run() { # run [ARGS...] : a run, its report in $T/r.json, its rsyncs in $T/rsync.log
    : >"$T/rsync.log"
    RC=0
    "$BIN/multisync" run "${OPTS[@]}" --report "$T/r.json" "$@" "$S" "$D" >"$T/out" 2>"$T/err" || RC=$?
    ((RC == 0)) || fail "run exited $RC: $(cat "$T/out" "$T/err")"
}
status_of() { jq -r --arg p "$1" '[.tasks[] | select(.project == $p) | .status] | unique | join(",")' "$T/r.json"; }
started() { grep -c "^$S/$1 " "$T/rsync.log" || true; } # rsyncs run in project $1's folder
exact() {                                             # the backup is the source, by rsync's own check with -HXA
    local out
    out=$(rsync -aHXAni --no-motd --exclude=/.multisync.lock "$S/" "$D/") || fail "rsync -ani failed"
    [[ -z $out ]] || fail "$1: the backup differs from the source:
$out"
}

note "the first run copies everything; the second skips everything"
run
exact "first run"
run
jq_check "$T/r.json" '.status == "ok" and .full == false and all(.tasks[]; .status == "unchanged")' \
    "nothing changed: every task unchanged"
jq_check "$T/r.json" '.totals.unchanged == (.tasks | length) and .totals.failed == 0' "totals"
[[ ! -s $T/rsync.log ]] || fail "rsync started on a night where nothing changed: $(cat "$T/rsync.log")"
"$BIN/multisync" history >"$T/hist"
grep -q "^[0-9]* *mirror *ok .* 4  " "$T/hist" || fail "history does not show 4 unchanged: $(cat "$T/hist")"
grep -q "unchanged since their last copy: no rsync" "$T/out" || fail "the report does not say what was skipped"
jq_check "$T/r.json" '.tasks[] | select(.project == "q") | .files == 2 and .bytes_total == 4000' \
    "an unchanged project's files and bytes come from the walk"

# Each row: a name and a change in $S (or, for xattr/ACL, metadata only).
have_xattr=1 have_acl=1
setfattr -n user.probe -v 1 "$S/q/file" 2>/dev/null && setfattr -x user.probe "$S/q/file" || have_xattr=0
setfacl -m u:1234:r "$S/q/file" 2>/dev/null && setfacl -b "$S/q/file" || have_acl=0
# (probing touched q's ctime: one run to settle it)
run
changes=(
    "content, new mtime|echo more >>'$S/p/f1'"
    "size, same mtime|t=\$(stat -c %y '$S/p/f2'); truncate -s 10 '$S/p/f2'; touch -d \"\$t\" '$S/p/f2'"
    "mtime only|touch -d '2021-05-06 07:08:09' '$S/p/f2'"
    "mode|chmod 600 '$S/p/sub/f3'"
    "owner|chown 1234 '$S/p/sub/f3'"
    "group|chgrp 4321 '$S/p/sub/f3'"
    "rename|mv '$S/p/sub/f3' '$S/p/sub/f3-renamed'"
    "added file|make_file '$S/p/new' 100"
    "removed file|rm '$S/p/new'"
    "added folder|mkdir -p '$S/p/d/e' && make_file '$S/p/d/e/x' 10"
    "removed folder|rm -r '$S/p/d'"
    "empty folder|mkdir '$S/p/emptydir/empty2'"
    "symlink target|ln -sfn f2 '$S/p/link'"
    "hard link (-H)|ln '$S/p/f1' '$S/p/sub/f1-hardlink'"
    "project folder mode|chmod 700 '$S/p'"
    "a chunk of a split project|echo x >>'$S/big/d3/blob'"
    "the rest of a split project|echo y >>'$S/big/loose'"
)
((have_xattr)) && changes+=("xattr (-X)|setfattr -n user.k -v v '$S/p/f1'")
((have_acl)) && changes+=("ACL (-A)|setfacl -m u:1234:rw '$S/p/f2'")
for row in "${changes[@]}"; do
    name=${row%%|*}
    note "change: $name"
    eval "${row#*|}"
    run
    exact "$name"
    if [[ $name == *split* ]]; then
        [[ $(status_of big) == ok ]] || fail "$name: big not copied ($(status_of big))"
        # one rsync: the part that changed (the chunk with d3, or the rest),
        # the other parts skipped
        (($(started big) == 1)) || fail "$name: not one rsync of big: $(cat "$T/rsync.log")"
        if [[ $name == *chunk* ]]; then want="-- ./d3 "; else want="--exclude=/d1 "; fi
        grep -q -- "$want" "$T/rsync.log" || fail "$name: not the part that changed: $(cat "$T/rsync.log")"
        [[ $(status_of p) == unchanged ]] || fail "$name: p copied though unchanged"
    else
        [[ $(status_of p) == ok ]] || fail "$name: p not copied ($(status_of p))"
        (($(started p) >= 1)) || fail "$name: no rsync of p: $(cat "$T/rsync.log")"
        [[ $(status_of big) == unchanged ]] || fail "$name: big copied though unchanged"
    fi
    [[ $(status_of q) == unchanged ]] || fail "$name: q copied though unchanged ($(status_of q))"
    (($(started q) == 0)) || fail "$name: an rsync of q started: $(cat "$T/rsync.log")"
done
((have_xattr)) || echo "note: no user xattrs on this file system: the xattr row was not run"
((have_acl)) || echo "note: no ACLs here (setfacl): the ACL row was not run"
grep -q . "$T/rsync.log" || fail "the last row started no rsync"
[[ $(stat -c %i "$D/p/f1") == $(stat -c %i "$D/p/sub/f1-hardlink") ]] ||
    fail "the hard link was not kept as one (rsync -H)"

note "a copy made without --delete does not count for a run with it"
# (a file deleted from the source while runs went without --delete is
# still in the backup: the next run with --delete must copy, and remove it)
rm "$S/q/file" && make_file "$S/q/other" 10 # q changed ...
WITH_DELETE=("${OPTS[@]}")
OPTS=()
for o in "${WITH_DELETE[@]}"; do [[ $o == --delete ]] || OPTS+=("$o"); done
run # ... and copied without --delete: q/file stays in the backup
[[ -e $D/q/file ]] || fail "a run without --delete deleted"
OPTS=("${WITH_DELETE[@]}")
run
[[ $(status_of q) == ok && ! -e $D/q/file ]] || fail "the run with --delete skipped q ($(status_of q))"
exact "--delete after a run without"

note "a backup removed and made anew: every project is copied"
rm -rf "$D"
run
jq_check "$T/r.json" 'all(.tasks[]; .status == "ok")' "a new destination: every project copied"
exact "a new destination"

note "other rsync options: nothing skipped"
OPTS+=(--rsync-opt --no-perms)
run
jq_check "$T/r.json" 'all(.tasks[]; .status == "ok")' "other options: every project copied"
run
jq_check "$T/r.json" 'all(.tasks[]; .status == "unchanged")' "the same options again: skipped"

note "what the skip assumes: a change made by hand in the backup stays until a full pass"
echo "made by hand" >"$D/q/file"
run
[[ $(status_of q) == unchanged ]] || fail "q copied though its source did not change"
grep -q "made by hand" "$D/q/file" || fail "the hand-made change was repaired without a full pass"
run --full
jq_check "$T/r.json" '.full == true and all(.tasks[]; .status == "ok")' "--full: every project copied"
grep -q "a full pass" "$T/out" || fail "the report does not say it was a full pass"
exact "after --full"

note "every --full-every'th run is a full pass"
OPTS=("${OPTS[@]/100000/3}")
fulls=""
for i in 1 2 3 4 5 6; do
    run
    fulls+=$(jq -r 'if .full then "F" else "." end' "$T/r.json")
done
# The last full pass was --full, above: runs 3 and 6 after it are full.
[[ $fulls == "..F..F" ]] || fail "full passes at $fulls, expected ..F..F"
"$BIN/multisync" history --json >"$T/h.json"
jq_check "$T/h.json" '.[0].unchanged == 0 and .[0].full and .[1].unchanged > 0 and (.[1].full | not)' \
    "history shows the unchanged counts and the full passes"
echo ok
