#!/usr/bin/env bash
# bench/bench.sh - how much sooner does multisync finish a backup than the
# usual alternatives, and at what CPU and memory cost?
#
# On one generated tree and one machine it times, per repetition and in a
# rotated order (so no method always gets the warm or the cold slot):
#   serial        rsync -a SRC/ DST/
#   xargs         one rsync per project folder, <cores> at a time, then one
#                 rsync for the loose top-level entries
#   fpsync        fpsync -n <cores> SRC/ DST/            (only if installed)
#   multisync     bin/multisync run SRC DST              (embedded)
#   multisync-2w  a multisync-master and two workers of <cores/2> slots each
# each twice: a FIRST full copy into an empty destination, then a SECOND run
# with nothing changed (the common nightly case: what does a no-op cost?).
# Every first copy is checked against the source (diff -r and rsync -ani).
# Before them, bench/overhead.sh measures the CPU master and worker use
# beside their rsyncs during a full copy (the JSON's "overhead").
#
# Usage: bench/bench.sh [--quick] [--files N] [--bytes SIZE] [--projects N]
#                       [--runs N] [--out DIR] [--json FILE]
# `make bench` runs it (BENCH_ARGS="--quick" for a small tree).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${MS_BIN:-$ROOT/bin} # make bench passes the bin/ it built (bin-san with SANITIZE=1)
SEED=42
source "$ROOT/bench/lib.sh"

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --files N       regular files in the tree (default 60000)
  --bytes SIZE    their total size, e.g. 200M, 1.2G (default 1200M; K/M/G = 1024^n)
  --projects N    project folders, project k holding ~1/k of the data (default 12)
  --runs N        repetitions of every method (default 1); figures are medians
  --out DIR       work folder: tree, copies, logs (default /tmp/multisync-bench)
  --json FILE     where to write the results (default bench/results.json)
  --quick         a small tree (6 projects, 3000 files, 60M) to check the script
EOF
}

die() { echo "bench: FAIL: $*" >&2; exit 1; }
say() { echo "bench: $*"; }

# ---------------------------------------------------------------- options
# Explicit flags win over --quick, whatever their order.
quick=0 opt_files='' opt_bytes='' opt_projects='' runs=1 out=/tmp/multisync-bench
json=$ROOT/bench/results.json
while (($#)); do
    case $1 in
        --files) opt_files=${2:?--files needs a number}; shift ;;
        --bytes) opt_bytes=${2:?--bytes needs a size}; shift ;;
        --projects) opt_projects=${2:?--projects needs a number}; shift ;;
        --runs) runs=${2:?--runs needs a number}; shift ;;
        --out) out=${2:?--out needs a folder}; shift ;;
        --json) json=${2:?--json needs a file}; shift ;;
        --quick) quick=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
if ((quick)); then files=3000 bytes_arg=60M projects=6; else files=60000 bytes_arg=1200M projects=12; fi
files=${opt_files:-$files} bytes_arg=${opt_bytes:-$bytes_arg} projects=${opt_projects:-$projects}
for v in files projects runs; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer, not '${!v}'"
done
bytes=$(numfmt --from=iec "$bytes_arg" 2>/dev/null) || die "--bytes: cannot read '$bytes_arg'"
[[ $json == /* ]] || json=$PWD/$json
mkdir -p "$out"
out=$(cd "$out" && pwd)
[[ $out != / ]] || die "--out must not be /"

SRC=$out/src
DST=$out/dst
RUNS=$out/runs # logs, GNU time output and multisync reports of every run
CORES=$(nproc)
HALF=$(((CORES + 1) / 2)) # slots of each of the two workers of multisync-2w
CLK_TCK=$(getconf CLK_TCK)

for p in multisync multisync-master multisync-worker; do
    [[ -x $BIN/$p ]] || die "$BIN/$p missing: run make first"
done
for t in rsync jq diff cc numfmt; do command -v "$t" >/dev/null || die "$t is not installed"; done

# ---------------------------------------------------------------- machine
# GNU time gives user+sys CPU and max RSS of the whole waited-for process
# tree; without it we measure wall time only.
if /usr/bin/time -f '%e' -o /dev/null true 2>/dev/null; then have_time=1; else have_time=0; fi

# Dropping the page cache before every timed run makes each one read from the
# disk, as a nightly backup of a tree bigger than RAM does. Only root can.
drop_caches() {
    sync
    ((can_drop)) && echo 3 >/proc/sys/vm/drop_caches
    return 0
}
if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then can_drop=1; else can_drop=0; fi

machine_json() {
    jq -n --argjson nproc "$CORES" \
        --arg model "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
        --argjson mem_kb "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
        --arg fs "$(df --output=fstype "$out" | tail -1 | tr -d ' ')" \
        --arg dev "$(df --output=source "$out" | tail -1 | tr -d ' ')" \
        --arg kernel "$(uname -r)" \
        --arg rsync "$(rsync --version | head -1)" \
        --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo -dirty)" \
        '{nproc: $nproc, cpu_model: $model, mem_total_kb: $mem_kb, out_fstype: $fs,
          out_device: $dev, kernel: $kernel, rsync: $rsync, multisync_commit: $commit}'
}

# ---------------------------------------------------------------- the tree
# bench/gen.c writes it: same arguments, same bytes (see its header). It is
# kept between invocations and rebuilt only when the arguments or gen.c
# change, or when its file count or size no longer match.
ensure_tree() {
    cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -o "$out/gen" "$ROOT/bench/gen.c"
    local want info have
    want="projects=$projects files=$files bytes=$bytes seed=$SEED gen=$(sha256sum "$ROOT/bench/gen.c" | cut -c1-16)"
    if [[ -d $SRC && -f $out/tree.stamp && $(sed -n 1p "$out/tree.stamp") == "$want" ]]; then
        have=$(find "$SRC" -type f -printf '%s\n' | awk '{n++; b += $1} END {printf "%d %d", n, b}')
        if [[ $have == "$files $bytes" ]]; then
            TREE_INFO=$(sed -n 2p "$out/tree.stamp")
            say "reusing the tree in $SRC ($TREE_INFO)"
            return
        fi
    fi
    rm -rf "$SRC" "$out/tree.stamp"
    say "generating $projects projects, $files files, $bytes_arg in $SRC"
    local t0=$EPOCHREALTIME
    info=$("$out/gen" "$SRC" "$projects" "$files" "$bytes" "$SEED")
    printf '%s\n%s\n' "$want" "$info" >"$out/tree.stamp"
    TREE_INFO=$info
    say "generated in $(elapsed "$t0") s: $info"
}


# ---------------------------------------------------------------- methods
# Each runs in its own `bash -c` under GNU time, so the CPU and RSS counted
# are those of that process tree. $1 = SRC, $2 = DST, $3 = a report file.
m_serial() { rsync -a "$1/" "$2/"; }

# The classic shell answer: `ls SRC | xargs -P`. find lists folders only
# (NUL-separated, so any name is safe); everything else directly in SRC goes
# in one more rsync that skips the top folders, run last because it also sets
# DST's own times, which creating the project folders changed.
m_xargs() {
    mkdir -p "$2" # else the first rsyncs race to create it, and all but one fail
    find "$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\0' |
        xargs -0 -r -P "$CORES" -I{} rsync -a "$1/{}" "$2/"
    rsync -a --exclude='/*/' "$1/" "$2/"
}

m_fpsync() { fpsync -n "$CORES" "$1/" "$2/"; }
m_multisync() { "$BIN/multisync" run --report "$3" "$1" "$2"; }
m_multisync_2w() { "$BIN/multisync" run --master "ipc://$IPC/c" --report "$3" "$1" "$2"; }
export -f m_serial m_xargs m_fpsync m_multisync m_multisync_2w
export CORES BIN

# ---------------------------------------------------------------- cluster
# multisync-2w: a master and two workers on this machine (bench/lib.sh).
trap stop_cluster EXIT

# CPU ticks of a process and of the children it has reaped (the workers reap
# their rsyncs): fields 14-17 of /proc/PID/stat, counted after the ") ".
proc_ticks() {
    local stat rest f
    stat=$(<"/proc/$1/stat")
    rest=${stat##*) }
    read -ra f <<<"$rest"
    echo $((f[11] + f[12] + f[13] + f[14]))
}
cluster_ticks() {
    local pid sum=0
    for pid in "$MASTER_PID" "${WORKER_PIDS[@]}"; do sum=$((sum + $(proc_ticks "$pid"))); done
    echo "$sum"
}
vm_hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# Reset a process's peak RSS, so VmHWM is that of the next run only.
reset_hwm() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }

# ---------------------------------------------------------------- one run
# timed_run METHOD PHASE REP: runs one method, checks it succeeded, appends
# a record to $RUNS/records.jsonl and prints one line.
timed_run() {
    local method=$1 phase=$2 rep=$3 fn=m_${1//-/_}
    local log=$RUNS/r$rep-$method-$phase rc=0 t0 wall cpu=null rss=null
    local extra_ticks=0 master_hwm=null workers_hwm=null task_rss=null pid
    local report=null user sys
    rm -f "$log".*
    drop_caches
    if [[ $method == multisync-2w ]]; then
        for pid in "$MASTER_PID" "${WORKER_PIDS[@]}"; do reset_hwm "$pid"; done
        extra_ticks=$(cluster_ticks)
    fi
    t0=$EPOCHREALTIME
    if ((have_time)); then
        /usr/bin/time -f '%e %U %S %M' -o "$log.time" \
            bash -c "set -euo pipefail; $fn"' "$@"' _ "$SRC" "$DST" "$log.report.json" >"$log.out" 2>&1 || rc=$?
    else
        bash -c "set -euo pipefail; $fn"' "$@"' _ "$SRC" "$DST" "$log.report.json" >"$log.out" 2>&1 || rc=$?
    fi
    wall=$(elapsed "$t0")
    if ((rc != 0)); then
        tail -20 "$log.out" >&2
        die "$method ($phase copy, repetition $rep) exited with status $rc (log: $log.out)"
    fi
    if ((have_time)); then
        # GNU time: last line (an earlier one says so when the status was not 0).
        read -r _ user sys rss < <(tail -1 "$log.time")
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
    fi
    if [[ $method == multisync-2w ]]; then
        # The rsyncs are the workers' children, not the client's: add what
        # master and workers (with their reaped rsyncs) used meanwhile.
        extra_ticks=$(($(cluster_ticks) - extra_ticks))
        if [[ $cpu != null ]]; then
            cpu=$(awk -v c="$cpu" -v t="$extra_ticks" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", c + t / hz}')
        fi
        master_hwm=$(vm_hwm "$MASTER_PID")
        workers_hwm=0
        for pid in "${WORKER_PIDS[@]}"; do
            local h; h=$(vm_hwm "$pid")
            ((h > workers_hwm)) && workers_hwm=$h
        done
    fi
    if [[ -s $log.report.json ]]; then
        jq -e '.status == "ok"' "$log.report.json" >/dev/null ||
            die "$method ($phase): the report's status is not ok: $log.report.json"
        # A split project's row adds up its chunks' seconds, which no single
        # task took: only whole projects bound the makespan from below.
        report=$(jq -c '{wall_seconds, slots: .totals.slots, tasks: (.tasks | length),
            bytes_transferred: .totals.bytes_transferred,
            max_task_s: ([.tasks[] | select(has("chunks") | not) | .seconds] | max), sum_task_s: ([.tasks[].seconds] | add),
            max_task_rss_kb: ([.tasks[].max_rss_kb] | max)}
            | .lower_bound_s = ([.max_task_s, .sum_task_s / .slots] | max)
            | .makespan_ratio = (if .lower_bound_s > 0 then .wall_seconds / .lower_bound_s else null end)' \
            "$log.report.json")
        task_rss=$(jq '.max_task_rss_kb' <<<"$report")
    fi
    if [[ $method == multisync-2w && $rss != null ]]; then
        # Peak RSS = the largest single process: client, master, worker or rsync.
        rss=$(printf '%s\n' "$rss" "$master_hwm" "$workers_hwm" "${task_rss/null/0}" | sort -n | tail -1)
    fi
    jq -nc --arg method "$method" --arg phase "$phase" --argjson rep "$rep" \
        --argjson wall "$wall" --argjson cpu "$cpu" --argjson rss "$rss" \
        --argjson master_hwm "$master_hwm" --argjson workers_hwm "$workers_hwm" \
        --argjson report "$report" \
        '{method: $method, phase: $phase, rep: $rep, wall_s: $wall, cpu_s: $cpu, max_rss_kb: $rss,
          master_vmhwm_kb: $master_hwm, worker_vmhwm_kb: $workers_hwm, multisync: $report}' \
        >>"$RUNS/records.jsonl"
    printf '  %-13s %-6s wall %8.2f s   cpu %8s   peak rss %8s%s\n' "$method" "$phase" "$wall" \
        "$([[ $cpu == null ]] && echo n/a || echo "$cpu s")" \
        "$([[ $rss == null ]] && echo n/a || echo "$((rss / 1024)) MiB")" \
        "$([[ $master_hwm == null ]] && echo || echo "   master VmHWM $((master_hwm / 1024)) MiB")"
}

# The backup must be the source: content (diff -r, links compared as links)
# and metadata (rsync -ani lists anything it would change: times, modes...).
verify() {
    local method=$1 phase=$2 log=$RUNS/r$3-$1-$2
    if [[ $phase == first ]] && ! diff -r -q --no-dereference "$SRC" "$DST" >"$log.diff" 2>&1; then
        head -20 "$log.diff" >&2
        die "$method: after the $phase copy, $DST differs from $SRC (diff -r)"
    fi
    rsync -ani "$SRC/" "$DST/" >"$log.itemize"
    if [[ -s $log.itemize ]]; then
        head -20 "$log.itemize" >&2
        die "$method: after the $phase copy, rsync -ani $SRC/ $DST/ would still change something"
    fi
}

run_method() {
    local method=$1 rep=$2
    rm -rf "$DST"
    [[ $method == multisync-2w ]] && start_cluster 2 "$HALF" "$RUNS/r$rep-$method"
    timed_run "$method" first "$rep"
    verify "$method" first "$rep"
    timed_run "$method" second "$rep"
    verify "$method" second "$rep"
    [[ $method == multisync-2w ]] && stop_cluster
    rm -rf "$DST"
}

# ---------------------------------------------------------------- report
# Medians over repetitions, and each as a ratio to serial rsync's median.
summarize() {
    jq -s '
      def median: map(select(. != null)) | sort
        | if length == 0 then null
          elif length % 2 == 1 then .[length / 2 | floor]
          else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
      def stats: {wall_s: (map(.wall_s) | median), cpu_s: (map(.cpu_s) | median),
                  max_rss_kb: (map(.max_rss_kb) | median)};
      (map(select(.method == "serial")) | {first: (map(select(.phase == "first")) | stats),
                                           second: (map(select(.phase == "second")) | stats)}) as $ser
      | group_by(.method)
      | map(. as $r | ["first", "second"] | map(. as $ph | $r | map(select(.phase == $ph)) | stats
              | .wall_x = ratio(.wall_s; $ser[$ph].wall_s) | .cpu_x = ratio(.cpu_s; $ser[$ph].cpu_s)
              | .rss_x = ratio(.max_rss_kb; $ser[$ph].max_rss_kb)
              | {key: $ph, value: .}) | from_entries
            | {method: $r[0].method, runs: ($r | map(.rep) | unique | length)} + .)
      | sort_by(.method as $m | ["serial", "xargs", "fpsync", "multisync", "multisync-2w"] | index($m))' \
        "$RUNS/records.jsonl"
    # (sort_by above keeps the order the methods are described in)
}

print_table() {
    local summary=$1 row='%-13s  %-14s %-14s %-14s   %-14s %-14s\n'
    echo
    printf '%-13s  %-44s   %s\n' "" "first copy, into an empty DST" "second run, nothing changed"
    printf "$row" method "wall s" "cpu s" "peak RSS MiB" "wall s" "cpu s"
    jq -r '.[] | [.method,
        (.first.wall_s, .first.wall_x, .first.cpu_s, .first.cpu_x, .first.max_rss_kb, .first.rss_x,
         .second.wall_s, .second.wall_x, .second.cpu_s, .second.cpu_x) | tostring] | @tsv' <<<"$summary" |
        while IFS=$'\t' read -r m fw fwx fc fcx fr frx sw swx sc scx; do
            printf "$row" "$m" "$(fig "$fw" "$fwx")" "$(fig "$fc" "$fcx")" "$(fig "$fr" "$frx" mib)" \
                "$(fig "$sw" "$swx")" "$(fig "$sc" "$scx")"
        done
    echo "(medians over repetitions; (Nx) = ratio to serial rsync; peak RSS = the largest single process)"
}

# fig VALUE RATIO [mib] -> "12.34 (0.52x)", or n/a
fig() {
    [[ $1 == null ]] && { echo n/a; return; }
    awk -v v="$1" -v x="$2" -v unit="${3:-}" 'BEGIN {
        if (unit == "mib") v = v / 1024
        s = sprintf(v >= 100 ? "%.0f" : "%.2f", v)
        if (x != "null") s = s sprintf(" (%.2fx)", x)
        print s }'
}

# Makespan = the report's wall_seconds; no schedule of these tasks on these
# slots can beat max(longest task, sum of task seconds / slots).
print_makespan() {
    local row='%-13s %-7s %4s %11s %15s %13s %6s %14s %10s\n'
    echo
    echo "multisync makespan against its lower bound max(longest task, sum of task seconds / slots):"
    printf "$row" method run rep "makespan s" "longest task s" "sum task s" slots "lower bound s" "ratio"
    jq -r 'select(.multisync != null) | .multisync as $m
        | [.method, .phase, .rep, $m.wall_seconds, $m.max_task_s, $m.sum_task_s, $m.slots,
           $m.lower_bound_s, $m.makespan_ratio] | map(tostring) | @tsv' "$RUNS/records.jsonl" |
        while IFS=$'\t' read -r m ph rep ws mt st sl lb r; do
            printf "$row" "$m" "$ph" "$rep" "$(num "$ws")" "$(num "$mt")" "$(num "$st")" "$sl" "$(num "$lb")" \
                "$([[ $r == null ]] && echo n/a || awk -v r="$r" 'BEGIN {printf "%.2fx", r}')"
        done
}
num() { awk -v v="$1" 'BEGIN {printf "%.3f", v}'; }

# ---------------------------------------------------------------- main
main() {
    local machine methods=() skipped=() rep i n order summary
    machine=$(machine_json)
    echo "machine: $(jq -r '"\(.nproc) cores, \(.cpu_model), \(.mem_total_kb / 1048576 * 10 | round / 10) GiB RAM, \(.out_fstype) (\(.out_device)) under '"$out"'"' <<<"$machine")"
    echo "         kernel $(jq -r .kernel <<<"$machine"), $(jq -r .rsync <<<"$machine"), multisync $(jq -r .multisync_commit <<<"$machine")"
    if ((can_drop)); then echo "page cache: dropped before every run"; else echo "page cache: NOT dropped (/proc/sys/vm/drop_caches not writable): runs after the first read a warm cache"; fi
    ((have_time)) || echo "cpu: n/a (GNU time not installed: /usr/bin/time; apt-get install time)"

    ensure_tree
    rm -rf "$RUNS" "$DST"
    mkdir -p "$RUNS"
    # What multisync itself costs beside its rsyncs (goal: at most 3 %).
    echo
    MS_BIN=$BIN "$ROOT/bench/overhead.sh" --runs "$runs" --json "$RUNS/overhead.json" "$SRC" "$DST"

    methods=(serial xargs)
    if command -v fpsync >/dev/null; then methods+=(fpsync); else skipped+=(fpsync); echo "skipped: fpsync not installed"; fi
    methods+=(multisync multisync-2w)
    echo "methods: ${methods[*]} ($CORES cores: xargs -P $CORES, multisync $CORES slots, multisync-2w 2 workers x $HALF slots)"

    n=${#methods[@]}
    for ((rep = 1; rep <= runs; rep++)); do
        order=()
        for ((i = 0; i < n; i++)); do order+=("${methods[(i + rep - 1) % n]}"); done
        echo
        echo "repetition $rep/$runs: ${order[*]}"
        for m in "${order[@]}"; do run_method "$m" "$rep"; done
    done

    summary=$(summarize)
    print_table "$summary"
    print_makespan

    mkdir -p "$(dirname "$json")"
    jq -n --argjson machine "$machine" --argjson summary "$summary" \
        --slurpfile runs "$RUNS/records.jsonl" --slurpfile overhead "$RUNS/overhead.json" \
        --arg tree "$TREE_INFO" --argjson projects "$projects" --argjson files "$files" \
        --argjson bytes "$bytes" --argjson seed "$SEED" --argjson reps "$runs" \
        --argjson dropped "$can_drop" --argjson cpu "$have_time" \
        --arg skipped "${skipped[*]}" --arg out "$out" \
        --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        '{date: $date, machine: $machine,
          tree: {projects: $projects, files: $files, bytes: $bytes, seed: $seed, generated: $tree, path: ($out + "/src")},
          repetitions: $reps, caches_dropped: ($dropped == 1), cpu_measured: ($cpu == 1),
          skipped: ($skipped | split(" ") | map(select(. != ""))),
          summary: $summary, overhead: $overhead[0], runs: $runs}' >"$json.tmp"
    mv "$json.tmp" "$json"
    echo
    say "results written to $json (logs in $RUNS)"
}

main
