#!/usr/bin/env bash
# bench/scale.sh - does splitting a big project bring the makespan down to
# the lower bound, and do more slots (and workers) finish a bandwidth-bound
# backup proportionally sooner?
#
# Every rsync is given --bwlimit=K (KB/s), so that each task is bound by its
# own bandwidth and not by this machine's few cores: the figures are then
# about scheduling, not about CPU or disk contention.
#   skew   a tree where one project holds half the data in several
#          subfolders, plus a tail of small projects; `multisync run --slots 4`
#          (embedded) with splitting and with --no-split, alternating. Each
#          run's makespan (report .wall_seconds) is compared with the lower
#          bound LB = sum of task seconds / slots. Targets: split <= 1.15 LB,
#          no-split >= 1.6 LB.
#   scale  16 equal projects through a multisync-master over ipc:// with one
#          worker of 1 slot, and with 4 workers of 2 slots; speedup =
#          wall(1 slot) / wall(8 slots), timing `multisync run` only (all
#          workers joined before). Target >= 7x.
# Every copy is checked against its source (diff -r and rsync -ani).
#
# Usage: bench/scale.sh [--quick] [--runs N] [--bwlimit K] [--split-min-mb N]
#                       [--out DIR] [--json FILE]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${MS_BIN:-$ROOT/bin}
SEED=42
source "$ROOT/bench/lib.sh"
FILE=524288 # every data file is 512 KiB

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --runs N          repetitions of every configuration (default 3); figures are medians
  --bwlimit K       rsync --bwlimit of every task, KB/s (default 1000)
  --split-min-mb N  multisync run --split-min-mb in the skew runs (default 1)
  --out DIR         work folder: trees, copies, logs (default /tmp/multisync-scale)
  --json FILE       where to write the results (default bench/scale.json)
  --quick           smaller trees and 1 repetition, to check the script
EOF
}
die() { echo "scale: FAIL: $*" >&2; exit 1; }
say() { echo "scale: $*"; }

quick=0 runs='' bw=1000 split_mb=1 out=/tmp/multisync-scale json=$ROOT/bench/scale.json
while (($#)); do
    case $1 in
        --runs) runs=${2:?--runs needs a number}; shift ;;
        --bwlimit) bw=${2:?--bwlimit needs KB/s}; shift ;;
        --split-min-mb) split_mb=${2:?--split-min-mb needs a number}; shift ;;
        --out) out=${2:?--out needs a folder}; shift ;;
        --json) json=${2:?--json needs a file}; shift ;;
        --quick) quick=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
# Tree shapes, in 512 KiB files. skew: BIG_PARTS subfolders of PART_FILES
# files in project "big", TAILS projects of TAIL_FILES; even: 16 projects.
if ((quick)); then
    runs=${runs:-1} BIG_PARTS=4 PART_FILES=4 TAILS=8 TAIL_FILES=2 EVEN_FILES=2
else
    runs=${runs:-3} BIG_PARTS=8 PART_FILES=6 TAILS=24 TAIL_FILES=2 EVEN_FILES=4
fi
EVEN=16 SLOTS=4
for v in runs bw split_mb; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "${v} must be a positive integer, not '${!v}'"; done
[[ $json == /* ]] || json=$PWD/$json
mkdir -p "$out" && out=$(cd "$out" && pwd)
[[ $out != / ]] || die "--out must not be /"
DST=$out/dst RUNS=$out/runs
for p in multisync multisync-master multisync-worker; do [[ -x $BIN/$p ]] || die "$BIN/$p missing: run make first"; done
for t in rsync jq diff openssl; do command -v "$t" >/dev/null || die "$t is not installed"; done

machine_json() {
    jq -n --argjson nproc "$(nproc)" \
        --arg model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        --argjson mem_kb "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
        --arg fs "$(df --output=fstype "$out" | tail -1 | tr -d ' ')" --arg kernel "$(uname -r)" \
        --arg rsync "$(rsync --version | head -1)" --arg bin "$BIN" \
        --arg sums "$(cd "$BIN" && sha256sum multisync multisync-master multisync-worker | cut -c1-16 | paste -sd' ')" \
        --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo -dirty)" \
        '{nproc: $nproc, cpu_model: $model, mem_total_kb: $mem_kb, out_fstype: $fs, kernel: $kernel,
          rsync: $rsync, multisync_commit: $commit, bin: $bin, bin_sha256_16: ($sums | split(" "))}'
}

# ---------------------------------------------------------------- trees
# File contents are AES-128-CTR of zeros, keyed by SEED, one IV per file
# (incompressible, and the same bytes every time); mtimes are fixed too.
NFILE=0
mkfile() {
    NFILE=$((NFILE + 1))
    head -c "$2" /dev/zero | openssl enc -aes-128-ctr -nosalt -K "$(printf %032x "$SEED")" \
        -iv "$(printf %032x "$NFILE")" >"$1"
    touch -d "@$((1700000000 + NFILE))" "$1"
}
mkproj() { # DIR FILES
    local i; mkdir -p "$1"
    for ((i = 1; i <= $2; i++)); do mkfile "$1/f$i.bin" "$FILE"; done
}
gen_skew() {
    local i
    for ((i = 1; i <= BIG_PARTS; i++)); do mkproj "$1/big/part$(printf %02d "$i")" "$PART_FILES"; done
    mkfile "$1/big/README" 4096 # something for big's rest
    for ((i = 1; i <= TAILS; i++)); do mkproj "$1/tail$(printf %02d "$i")" "$TAIL_FILES"; done
}
gen_even() {
    local i
    for ((i = 1; i <= EVEN; i++)); do mkproj "$1/proj$(printf %02d "$i")" "$EVEN_FILES"; done
}
# ensure_tree NAME: $out/NAME/src, rebuilt when its shape changed.
ensure_tree() {
    local name=$1 src=$out/$1/src want
    want="$name seed=$SEED file=$FILE big=${BIG_PARTS}x$PART_FILES tails=${TAILS}x$TAIL_FILES even=${EVEN}x$EVEN_FILES"
    if ! [[ -d $src && -f $out/$name/stamp && $(<"$out/$name/stamp") == "$want" ]]; then
        rm -rf "$src" "$out/$name/stamp"
        mkdir -p "$src"
        NFILE=0
        "gen_$name" "$src"
        echo "$want" >"$out/$name/stamp"
    fi
}
tree_json() { # SRC: projects with their files and bytes; the largest one's share
    local d
    for d in "$1"/*/; do
        find "$d" -type f -printf '%s\n' |
            jq -s --arg p "$(basename "$d")" '{project: $p, files: length, bytes: add}'
    done | jq -s '{projects: length, files: (map(.files) | add), bytes: (map(.bytes) | add),
                   largest: max_by(.bytes)} | .largest_share = (.largest.bytes / .bytes)'
}

# ---------------------------------------------------------------- checks
verify() { # SRC LOG
    diff -r -q --no-dereference "$1" "$DST" >"$2.diff" 2>&1 || { head "$2.diff" >&2; die "$DST differs from $1 (diff -r; $2.diff)"; }
    rsync -ani "$1/" "$DST/" >"$2.itemize"
    [[ ! -s $2.itemize ]] || { head "$2.itemize" >&2; die "rsync -ani $1/ $DST/ would still change something"; }
}
check_report() { # REPORT LOG
    if ! [[ -s $1 ]] || ! jq -e '.status == "ok"' "$1" >/dev/null; then die "run failed or its report is not ok: $1 (log: $2)"; fi
}

# ---------------------------------------------------------------- part 1: skew
skew_run() { # MODE REP
    local mode=$1 rep=$2 log=$RUNS/skew-$1-r$2 args t0 wall
    args=(--slots "$SLOTS" --rsync-opt="--bwlimit=$bw" -v --report "$log.report.json")
    if [[ $mode == split ]]; then args+=(--split-min-mb "$split_mb"); else args+=(--no-split); fi
    rm -rf "$DST" "$log".*
    t0=$EPOCHREALTIME
    "$BIN/multisync" run "${args[@]}" "$out/skew/src" "$DST" >"$log.out" 2>&1 || { tail "$log.out" >&2; die "skew $mode run $rep failed (log: $log.out)"; }
    wall=$(elapsed "$t0")
    check_report "$log.report.json" "$log.out"
    verify "$out/skew/src" "$log"
    grep -i split "$log.out" | sed 's/^/    log: /' || true
    jq -c --arg mode "$mode" --argjson rep "$rep" --argjson wall "$wall" '
        {part: "skew", mode: $mode, rep: $rep, client_wall_s: $wall, makespan_s: .wall_seconds,
         slots: .totals.slots, rows: (.tasks | length), handed_out: ([.workers[].tasks] | add),
         chunks: ([.tasks[] | select(.chunks != null) | {key: .project, value: .chunks}] | from_entries),
         sum_task_s: ([.tasks[].seconds] | add), largest: (.tasks | max_by(.seconds) | {project, seconds})}
        | .lb_s = .sum_task_s / .slots | .ratio_lb = .makespan_s / .lb_s
        # max(largest project, LB) bounds a schedule of whole projects only
        | .bound_s = (if $mode == "no-split" then [.largest.seconds, .lb_s] | max else null end)
        | .ratio_bound = (if .bound_s then .makespan_s / .bound_s else null end)' \
        "$log.report.json" | tee -a "$RUNS/records.jsonl" |
        jq -r '"  \(.mode)\t rep \(.rep): makespan \(.makespan_s * 100 | round / 100) s, LB \(.lb_s * 100 | round / 100) s (\(.ratio_lb * 100 | round / 100)x), \(.handed_out) tasks handed out, chunks \(.chunks | tojson)"'
}

# ---------------------------------------------------------------- part 2: scale
trap stop_cluster EXIT

scale_run() { # WORKERS SLOTS REP
    local n=$1 slots=$2 rep=$3 log=$RUNS/scale-$1x$2-r$3 t0 wall
    rm -rf "$DST" "$log".*
    start_cluster "$n" "$slots" "$log" --rsync-opt="--bwlimit=$bw"
    t0=$EPOCHREALTIME
    "$BIN/multisync" run --master "ipc://$IPC/c" --report "$log.report.json" "$out/even/src" "$DST" >"$log.out" 2>&1 ||
        { tail "$log.out" >&2; die "scale ${n}x$slots run $rep failed (log: $log.out)"; }
    wall=$(elapsed "$t0")
    stop_cluster
    check_report "$log.report.json" "$log.out"
    verify "$out/even/src" "$log"
    jq -c --arg cfg "${n}x$slots" --argjson rep "$rep" --argjson wall "$wall" '
        {part: "scale", config: $cfg, rep: $rep, wall_s: $wall, report_wall_s: .wall_seconds,
         slots: .totals.slots, rows: (.tasks | length), sum_task_s: ([.tasks[].seconds] | add),
         tasks_per_worker: (.workers | map({key: .id, value: .tasks}) | from_entries)}
        | .lb_s = .sum_task_s / .slots' "$log.report.json" | tee -a "$RUNS/records.jsonl" |
        jq -r '"  \(.config) (\(.slots) slot\(if .slots > 1 then "s" else "" end))\t rep \(.rep): wall \(.wall_s) s (report \(.report_wall_s * 100 | round / 100) s, LB \(.lb_s * 100 | round / 100) s), tasks per worker \(.tasks_per_worker | tojson)"'
}

# ---------------------------------------------------------------- summary
summarize() { # MACHINE SKEW_TREE EVEN_TREE
    jq -s --argjson machine "$1" --argjson skew_tree "$2" --argjson even_tree "$3" \
        --argjson bw "$bw" --argjson runs "$runs" --argjson slots "$SLOTS" --argjson split_mb "$split_mb" \
        --argjson quick "$quick" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg out "$out" '
      def median: map(select(. != null)) | sort
        | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
          else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      def med(f): map(f) | median;
      def target($v; $op; $t): {value: $v, target: $t, op: $op,
        met: (if $v == null then null elif $op == "<=" then $v <= $t else $v >= $t end)};
      (map(select(.part == "skew")) | group_by(.mode) | map({key: .[0].mode, value:
          {runs: length, makespan_s: med(.makespan_s), lb_s: med(.lb_s), bound_s: med(.bound_s),
           ratio_lb: med(.ratio_lb), ratio_bound: med(.ratio_bound), largest_s: med(.largest.seconds),
           handed_out: med(.handed_out)}}) | from_entries) as $sk
      | (map(select(.part == "scale")) | group_by(.config) | map({key: .[0].config, value:
          {runs: length, slots: .[0].slots, wall_s: med(.wall_s), report_wall_s: med(.report_wall_s),
           lb_s: med(.lb_s)}}) | from_entries) as $sc
      | {date: $date, machine: $machine, quick: ($quick == 1), repetitions: $runs, bwlimit_kbps: $bw,
         out: $out, page_cache: "not dropped (bandwidth-bound tasks)",
         skew: {tree: $skew_tree, slots: $slots, split_min_mb: $split_mb, medians: $sk,
                no_split_over_split: (if $sk.split.makespan_s then $sk["no-split"].makespan_s / $sk.split.makespan_s else null end),
                targets: {split_makespan_over_lb: target($sk.split.ratio_lb; "<="; 1.15),
                          no_split_makespan_over_lb: target($sk["no-split"].ratio_lb; ">="; 1.6)}},
         scale: {tree: $even_tree, medians: $sc,
                 speedup: ($sc["1x1"].wall_s / $sc["4x2"].wall_s),
                 speedup_report_wall: ($sc["1x1"].report_wall_s / $sc["4x2"].report_wall_s),
                 targets: {speedup_8_slots_over_1: target($sc["1x1"].wall_s / $sc["4x2"].wall_s; ">="; 7)}},
         runs: .}' "$RUNS/records.jsonl"
}

print_tables() { # SUMMARY
    local row='%-10s %5s %11s %9s %14s %9s %10s %10s\n'
    echo
    echo "skew tree, embedded, $SLOTS slots, --bwlimit=$bw (medians over $runs runs; LB = sum of task seconds / slots):"
    printf "$row" mode runs "makespan s" "LB s" "largest proj s" "bound s" "/ LB" "/ bound"
    jq -r '.skew.medians | to_entries[] | [.key, .value.runs, .value.makespan_s, .value.lb_s, .value.largest_s,
        .value.bound_s, .value.ratio_lb, .value.ratio_bound] | map(tostring) | @tsv' <<<"$1" |
        while IFS=$'\t' read -r m n ms lb lg bd r rb; do
            printf "$row" "$m" "$n" "$(num "$ms")" "$(num "$lb")" "$(num "$lg")" "$(num "$bd")" "$(num "$r" x)" "$(num "$rb" x)"
        done
    echo
    echo "even tree ($EVEN projects), master + workers over ipc://, --bwlimit=$bw (medians):"
    printf '%-10s %6s %12s %16s %9s\n' config slots "wall s" "report wall s" "LB s"
    jq -r '.scale.medians | to_entries[] | [.key, .value.slots, .value.wall_s, .value.report_wall_s, .value.lb_s]
        | map(tostring) | @tsv' <<<"$1" | while IFS=$'\t' read -r c s w rw lb; do
        printf '%-10s %6s %12s %16s %9s\n' "$c" "$s" "$(num "$w")" "$(num "$rw")" "$(num "$lb")"
    done
    echo
    echo "targets:"
    jq -r '(.skew.targets, .scale.targets) | to_entries[]
        | [.key, .value.value, .value.op, .value.target, (.value.met | if . then "met" elif . == false then "NOT met" else "n/a" end)]
        | map(tostring) | @tsv' <<<"$1" | while IFS=$'\t' read -r k v op t met; do
        printf '  %-28s %8s %s %-5s %s\n' "$k" "$(num "$v")" "$op" "$t" "$met"
    done
}
num() { [[ $1 == null ]] && { echo n/a; return; }; awk -v v="$1" -v u="${2:-}" 'BEGIN {printf "%.2f%s", v, u}'; }

# ---------------------------------------------------------------- main
main() {
    local machine skew_tree even_tree rep summary
    machine=$(machine_json)
    echo "machine: $(jq -r '"\(.nproc) cores, \(.cpu_model), \(.rsync), multisync \(.multisync_commit)"' <<<"$machine") (bin: $BIN)"
    ensure_tree skew && ensure_tree even
    skew_tree=$(tree_json "$out/skew/src") even_tree=$(tree_json "$out/even/src")
    say "skew tree: $(jq -r '"\(.projects) projects, \(.files) files, \(.bytes) bytes; largest \(.largest.project) holds \(.largest_share * 1000 | round / 10)%"' <<<"$skew_tree")"
    say "even tree: $(jq -r '"\(.projects) projects, \(.files) files, \(.bytes) bytes"' <<<"$even_tree")"
    rm -rf "$RUNS" "$DST" && mkdir -p "$RUNS"
    for ((rep = 1; rep <= runs; rep++)); do
        echo "repetition $rep/$runs"
        if ((rep % 2)); then skew_run split "$rep"; skew_run no-split "$rep"; else skew_run no-split "$rep"; skew_run split "$rep"; fi
        if ((rep % 2)); then scale_run 1 1 "$rep"; scale_run 4 2 "$rep"; else scale_run 4 2 "$rep"; scale_run 1 1 "$rep"; fi
    done
    rm -rf "$DST"
    summary=$(summarize "$machine" "$skew_tree" "$even_tree")
    print_tables "$summary"
    mkdir -p "$(dirname "$json")"
    jq . <<<"$summary" >"$json.tmp" && mv "$json.tmp" "$json"
    echo
    say "results written to $json (logs in $RUNS)"
}

main
