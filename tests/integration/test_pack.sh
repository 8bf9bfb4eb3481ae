#!/usr/bin/env bash
# Tiny projects (a home folder each) are packed: many go in one rsync
# (rsync -a ./p1 ./p2 ... DST/), yet the report keeps one row per project,
# with its own status, files and bytes. A pack that fails is undone: its
# projects run one by one, each with its own answer (one that vanished
# meanwhile is `vanished`, the others ok). A project worth an rsync of its
# own is never packed; a run of fewer than 16 tiny projects packs none.
source "$(dirname "$0")/lib.sh"

S=$T/src D=$T/dst
for i in $(seq -w 1 40); do
    mkdir -p "$S/home$i"
    echo "profile of $i" >"$S/home$i/.profile"
    echo "notes $i" >"$S/home$i/notes.txt"
done
make_file "$S/big/data" 6000000 # above an eighth of a 32 MB chunk: its own rsync
make_file "$S/loose" 10

cat >"$T/rsync-log" <<SH
#!/bin/bash
# The real rsync; each copy logged (its sources: the arguments after --).
[[ \$1 == --version ]] && exec rsync "\$@"
args=("\$@"); n=\${#args[@]}
for ((i = 0; i < n; i++)); do [[ \${args[i]} == -- ]] && break; done
echo "\$((n - i - 2)) \${args[*]:i+1:n-i-2}" >>"$T/rsync.log"
if [[ -e $T/fail-packs ]] && ((n - i - 2 > 1)); then
    rm -rf "$S/home07" # a member vanishes while its pack is on its way
    echo "rsync: injected failure of a pack" >&2
    exit 23
fi
exec rsync "\$@"
SH
chmod +x "$T/rsync-log"
run() { # run DST [ARGS...]: embedded, its report in $T/r.json
    local dst=$1
    shift
    : >"$T/rsync.log"
    RC=0
    "$BIN/multisync" run -v --slots 2 --rsync "$T/rsync-log" --report "$T/r.json" "$@" "$S" "$dst" \
        >"$T/out" 2>"$T/err" || RC=$?
}
packs() { awk '$1 > 1' "$T/rsync.log" | wc -l; }

note "40 tiny projects and a big one: a few rsyncs, a row each"
run "$D"
((RC == 0)) || fail "run exited $RC: $(tail -5 "$T/err")"
same_tree "$S" "$D"
rsyncs=$(wc -l <"$T/rsync.log")
((rsyncs <= 6)) || fail "$rsyncs rsyncs for 40 tiny projects, a big one and the loose files: $(cat "$T/rsync.log")"
(($(packs) >= 1)) || fail "no pack: $(cat "$T/rsync.log")"
jq_check "$T/r.json" '[.tasks[] | select(.project | startswith("home"))] | length == 40 and
    all(.status == "ok" and .files == 3 and .bytes_total > 20)' "a row each, files and bytes from the walk"
jq_check "$T/r.json" '.totals.tasks == 42 and .totals.ok == 42' "totals count every project"
grep -q "^NOTE home[0-9]*: its rsync also copied [0-9]* other tiny project(s) (a pack)" "$T/out" ||
    fail "the report does not say which row carried the pack: $(cat "$T/out")"
jq_check "$T/r.json" '.tasks[] | select(.project == "big") | .files == 2' "big copied on its own"

note "nothing changed: nothing packed, nothing copied"
run "$D"
((RC == 0)) || fail "second run exited $RC"
jq_check "$T/r.json" 'all(.tasks[]; .status == "unchanged")' "every project unchanged"
[[ ! -s $T/rsync.log ]] || fail "rsyncs ran on a quiet night: $(cat "$T/rsync.log")"

note "a pack that fails is undone: its projects run one by one"
touch "$T/fail-packs"
run "$T/dst2"
cat "$T/out" "$T/err"
((RC == 0)) || fail "exit $RC: a failed pack must not fail the run: $(tail -5 "$T/err")"
(($(packs) >= 1)) || fail "no pack was tried"
grep -q "a pack of [0-9]* projects with .* failed (exit 23): they run one by one" "$T/err" ||
    fail "the log does not say the pack was undone"
jq_check "$T/r.json" '.tasks[] | select(.project == "home07") | .status == "vanished"' \
    "the project that vanished meanwhile is vanished"
jq_check "$T/r.json" '[.tasks[] | select(.project != "home07")] | all(.status == "ok")' \
    "the others, run one by one, ok"
rm -f "$T/fail-packs"
same_tree "$S" "$T/dst2"

note "fewer than 16 tiny projects: none packed"
rm -rf "$S"/home{1,2,3}* # 9 left
run "$T/dst3"
((RC == 0)) || fail "run exited $RC"
(($(packs) == 0)) || fail "a run of 9 tiny projects packed some: $(cat "$T/rsync.log")"
same_tree "$S" "$T/dst3"
echo ok
