#!/usr/bin/env bash
# Retention through a master: a [set] with snapshots = yes takes a snapshot
# a night; `--keep-last 1` then removes every older snapshot, each of its
# project folders a removal task on the workers (never following a link out
# of the snapshot), and the report and history say what went. A run whose
# snapshot is not completed (the source lost most of its projects) removes
# nothing, whatever the rules say.
source "$(dirname "$0")/lib.sh"

s=$T/src d=$T/dst CTL=ipc://$T/control.sock WEP=ipc://$T/workers.sock
gen_projects "$s" p 6 40000
make_file "$s/loose" 10
cat >"$T/master.ini" <<INI
[master]
listen = $WEP
control = $CTL
catalog = $T/catalog.db
[set nightly]
source = $s
destination = $d
snapshots = yes
INI
mkdir -p "$d"
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini"
for h in hostA hostB; do
    start_bg "$T/$h.log" "$BIN/multisync-worker" --master "$WEP" --slots 2 --name "$h" \
        --allow-source "$s" --allow-dest "$d"
done
wait_workers "$CTL" 2
night() { # night N [options...]: run the set, its report in r$N.json
    local n=$1
    shift
    "$BIN/multisync" run --master "$CTL" --report "$T/r$n.json" "$@" nightly >"$T/out$n" 2>"$T/err$n"
}
complete() { find "$d" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9-]*T[0-9]*Z' -printf '%f\n' | sort; }

note "three nights, three snapshots"
for n in 1 2 3; do
    night $n || fail "night $n failed: $(cat "$T/err$n")"
    make_file "$s/p1/night$n" 1000
    sleep 1.1
done
[[ $(complete | wc -l) == 3 ]] || fail "not three snapshots: $(complete)"
jq_check "$T/r3.json" '.snapshot.complete and .set == "nightly"' "the set's run made no snapshot"
# A link in an old snapshot that points out of the backup: removal must not follow it.
mkdir -p "$T/outside" && echo keep >"$T/outside/secret"
first=$(complete | head -1)
ln -s "$T/outside" "$d/$first/p2/escape"
ln -s "$T/outside" "$d/$first/escape-top"

note "a snapshot that is not completed prunes nothing"
mkdir "$T/away" && mv "$s/p2" "$s/p3" "$s/p4" "$s/p5" "$T/away/"
night 4 --keep-last 1 && fail "a source that lost 4 of 6 projects gave a complete snapshot"
grep -q "refusing to complete the snapshot" "$T/out4" "$T/err4" ||
    fail "no word of the refusal: $(cat "$T/out4" "$T/err4")"
[[ $(complete | wc -l) == 3 ]] || fail "retention ran after a refused snapshot: $(complete)"
jq_check "$T/r4.json" '.snapshot.complete == false and .status == "failed"' "the refused snapshot looks complete"
mv "$T/away/"* "$s/"
sleep 1.1

note "--keep-last 1: every older snapshot goes, through the workers"
night 5 --keep-last 1 || fail "night 5 failed: $(cat "$T/err5")"
last=$(complete)
[[ $(wc -l <<<"$last") == 1 && $(readlink "$d/latest") == "$last" ]] ||
    fail "not only the newest left: $(ls -a "$d")"
[[ -z $(find "$d" -mindepth 1 -maxdepth 1 -name '*.pruning' -o -mindepth 1 -maxdepth 1 -name '*.partial') ]] ||
    fail "leftovers: $(ls -a "$d")"
same_tree "$s" "$d/$last"
[[ $(cat "$T/outside/secret") == keep ]] || fail "a removal followed a link out of the snapshot"
jq_check "$T/r5.json" '.snapshot.pruned | length == 3' "the report does not name the three removed snapshots"
# One removal per project folder of each, then one of what is left (".").
jq_check "$T/r5.json" '[.tasks[] | select(.removed_from)] | length == 21 and all(.status == "removed")' \
    "not one removal task per project of each removed snapshot, and one of the rest"
jq_check "$T/r5.json" '[.tasks[] | select(.removed_from and .project == ".")] | length == 3' \
    "not one last removal per snapshot"
jq_check "$T/r5.json" '[.tasks[] | select(.removed_from) | .host] | unique | sort == ["hostA", "hostB"]' \
    "the removals did not run on both workers"
grep -q "retention removed snapshot $first" "$T/out5" || fail "the table does not say what was removed"
"$BIN/multisync" history --master "$CTL" --json >"$T/h.json"
jq_check "$T/h.json" ".[0].snapshot.name == \"$last\" and (.[0].snapshot.pruned | index(\"$first\") != null)" \
    "history does not say what was pruned"
"$BIN/multisync" history --master "$CTL" | grep -q "removed: $first" || fail "history table says nothing of the pruning"
echo ok
