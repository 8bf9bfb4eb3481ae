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
#
# Both under two conditions, each a table of its own:
#   warm  the tree and the copies on tmpfs (/dev/shm): no disk at all, so
#         what shows is CPU: our own overhead against rsync's
#   cold  on disk (--out), the page cache dropped before every run, as a
#         nightly backup of a tree bigger than RAM reads it
# and a TINY run: 1,000 projects of two small files, first copy, serial
# rsync -a against multisync (warm), the worst case for one rsync a project.
# Then the goals (README, Benchmarks), each figure a ratio to its baseline:
# nothing changed vs serial rsync (warm <= 0.5, cold <= 0.6), full copy vs
# xargs (warm, wall <= 1.0, CPU <= 1.05), multisync's own CPU during a full
# copy vs its rsyncs' (<= 3 %), tiny projects vs serial rsync (<= 1.5), and
# the control plane's fleet figures from bench/fleet.json (make bench-fleet,
# which make bench runs first).
#
# Usage: bench/bench.sh [--quick] [--files N] [--bytes SIZE] [--projects N]
#                       [--runs N] [--cache warm|cold|both] [--methods LIST]
#                       [--tiny N] [--out DIR] [--warm-out DIR] [--json FILE]
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
  --runs N        repetitions of every method (default 3); figures are medians
  --cache C       warm, cold or both (default both)
  --methods LIST  methods to compare, space-separated (default: serial xargs
                  fpsync multisync multisync-2w; fpsync when installed)
  --tiny N        projects of the tiny run (default 1000; 0: none)
  --out DIR       cold work folder, on disk: tree, copies, logs (default /tmp/multisync-bench)
  --warm-out DIR  warm work folder, on tmpfs (default /dev/shm/multisync-bench)
  --json FILE     where to write the results (default bench/results.json)
  --quick         a small tree (6 projects, 3000 files, 60M), 1 repetition,
                  100 tiny projects: to check the script
EOF
}

die() { echo "bench: FAIL: $*" >&2; exit 1; }
say() { echo "bench: $*"; }

# ---------------------------------------------------------------- options
# Explicit flags win over --quick, whatever their order.
quick=0 opt_files='' opt_bytes='' opt_projects='' opt_runs='' opt_tiny='' out=/tmp/multisync-bench
warm_out=/dev/shm/multisync-bench cache=both opt_methods=''
json=$ROOT/bench/results.json
while (($#)); do
    case $1 in
        --files) opt_files=${2:?--files needs a number}; shift ;;
        --bytes) opt_bytes=${2:?--bytes needs a size}; shift ;;
        --projects) opt_projects=${2:?--projects needs a number}; shift ;;
        --runs) opt_runs=${2:?--runs needs a number}; shift ;;
        --cache) cache=${2:?--cache needs warm, cold or both}; shift ;;
        --methods) opt_methods=${2:?--methods needs a list}; shift ;;
        --tiny) opt_tiny=${2:?--tiny needs a number}; shift ;;
        --out) out=${2:?--out needs a folder}; shift ;;
        --warm-out) warm_out=${2:?--warm-out needs a folder}; shift ;;
        --json) json=${2:?--json needs a file}; shift ;;
        --quick) quick=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
# The default tree is the one of the fast-path issue's figures: 42,670
# files, 400 MB, 12 projects.
if ((quick)); then
    files=3000 bytes_arg=60M projects=6 runs=1 tiny=100
else
    files=42670 bytes_arg=400M projects=12 runs=3 tiny=1000
fi
files=${opt_files:-$files} bytes_arg=${opt_bytes:-$bytes_arg} projects=${opt_projects:-$projects}
runs=${opt_runs:-$runs} tiny=${opt_tiny:-$tiny}
for v in files projects runs; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer, not '${!v}'"
done
[[ $tiny =~ ^[0-9]+$ ]] || die "--tiny must be a number, not '$tiny'"
[[ $cache =~ ^(warm|cold|both)$ ]] || die "--cache must be warm, cold or both, not '$cache'"
bytes=$(numfmt --from=iec "$bytes_arg" 2>/dev/null) || die "--bytes: cannot read '$bytes_arg'"
[[ $json == /* ]] || json=$PWD/$json
mkdir -p "$out"
out=$(cd "$out" && pwd)
[[ $out != / ]] || die "--out must not be /"
if [[ $cache != cold || $tiny != 0 ]]; then
    mkdir -p "$warm_out"
    warm_out=$(cd "$warm_out" && pwd)
    [[ $(df --output=fstype "$warm_out" | tail -1 | tr -d ' ') == tmpfs ]] ||
        die "--warm-out $warm_out is not on tmpfs: a warm run must not touch a disk"
fi
COLD_OUT=$out

# Set per condition (use_condition): SRC, DST, RUNS (logs, GNU time output
# and multisync reports of every run), out, can_drop.
SRC='' DST='' RUNS=''
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
if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then can_cold=1; else can_cold=0; fi
can_drop=0

# use_condition warm|cold: where the tree and copies are, and whether the
# cache is dropped before each run. The embedded mode's state (its catalog:
# what was copied, for skipping what did not change) is the condition's own.
use_condition() {
    if [[ $1 == warm ]]; then out=$warm_out can_drop=0; else out=$COLD_OUT can_drop=$can_cold; fi
    SRC=$out/src DST=$out/dst RUNS=$out/runs
    export XDG_STATE_HOME=$out/state
}

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
            max_task_rss_kb: ([.tasks[].max_rss_kb] | max),
            rsync_cpu_s: ([.tasks[] | .cpu_user_s + .cpu_sys_s] | add),
            unchanged: .totals.unchanged}
            | .lower_bound_s = ([.max_task_s, (if .slots > 0 then .sum_task_s / .slots else 0 end)] | max)
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
    # (a local backup's lock file, .multisync.lock in its root, is ours)
    if [[ $phase == first ]] && ! diff -r -q --no-dereference -x .multisync.lock "$SRC" "$DST" >"$log.diff" 2>&1; then
        head -20 "$log.diff" >&2
        die "$method: after the $phase copy, $DST differs from $SRC (diff -r)"
    fi
    rsync -ani --exclude=/.multisync.lock "$SRC/" "$DST/" >"$log.itemize"
    if [[ -s $log.itemize ]]; then
        head -20 "$log.itemize" >&2
        die "$method: after the $phase copy, rsync -ani $SRC/ $DST/ would still change something"
    fi
}

run_method() {
    local method=$1 rep=$2
    rm -rf "$DST" "$XDG_STATE_HOME"
    # An existing, empty destination: a master locks it (and then knows it
    # for skipping unchanged projects); rsync needs nothing else.
    mkdir -p "$DST"
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
summarize() { # RECORDS
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
        "$1"
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
print_makespan() { # RECORDS
    local row='%-13s %-7s %4s %11s %15s %13s %6s %14s %10s\n'
    echo
    echo "multisync makespan against its lower bound max(longest task, sum of task seconds / slots):"
    printf "$row" method run rep "makespan s" "longest task s" "sum task s" slots "lower bound s" "ratio"
    jq -r 'select(.multisync != null) | .multisync as $m
        | [.method, .phase, .rep, $m.wall_seconds, $m.max_task_s, $m.sum_task_s, $m.slots,
           $m.lower_bound_s, $m.makespan_ratio] | map(tostring) | @tsv' "$1" |
        while IFS=$'\t' read -r m ph rep ws mt st sl lb r; do
            printf "$row" "$m" "$ph" "$rep" "$(num "$ws")" "$(num "$mt")" "$(num "$st")" "$sl" "$(num "$lb")" \
                "$([[ $r == null ]] && echo n/a || awk -v r="$r" 'BEGIN {printf "%.2fx", r}')"
        done
}
num() { awk -v v="$1" 'BEGIN {printf "%.3f", v}'; }

# ---------------------------------------------------------------- conditions
# bench_condition warm|cold: the tree there, every method in turn (rotated
# each repetition), checked; prints the table and leaves
# $RESULTS_DIR/COND.json: {summary, runs, caches_dropped, fs}.
bench_condition() {
    local cond=$1 rep i n order summary m
    use_condition "$cond"
    mkdir -p "$out"
    echo
    echo "=== $cond cache: $(df --output=fstype "$out" | tail -1 | tr -d ' ') under $out, $(
        ((can_drop)) && echo "page cache dropped before every run" || echo "page cache kept (warm)")"
    if [[ $cond == cold && $can_drop == 0 ]]; then
        echo "    (the page cache cannot be dropped here: /proc/sys/vm/drop_caches not writable)"
    fi
    ensure_tree
    rm -rf "$RUNS" "$DST"
    mkdir -p "$RUNS"
    n=${#METHODS[@]}
    for ((rep = 1; rep <= runs; rep++)); do
        order=()
        for ((i = 0; i < n; i++)); do order+=("${METHODS[(i + rep - 1) % n]}"); done
        echo
        echo "$cond, repetition $rep/$runs: ${order[*]}"
        for m in "${order[@]}"; do run_method "$m" "$rep"; done
    done
    summary=$(summarize "$RUNS/records.jsonl")
    print_table "$summary"
    print_makespan "$RUNS/records.jsonl"
    jq -n --argjson summary "$summary" --slurpfile runs "$RUNS/records.jsonl" \
        --argjson dropped "$can_drop" --arg fs "$(df --output=fstype "$out" | tail -1 | tr -d ' ')" \
        --arg path "$out" \
        '{fs: $fs, path: $path, caches_dropped: ($dropped == 1), summary: $summary, runs: $runs}' \
        >"$RESULTS_DIR/$cond.json"
}

# ---------------------------------------------------------------- tiny
# bench_tiny N: N projects of two small files (a home folder each), on
# tmpfs; a first copy by serial rsync -a and by multisync, alternating
# which goes first, $runs times (at least 3); medians and their ratio.
bench_tiny() {
    local n=$1 dir=$warm_out/tiny rep k wall first second
    echo
    echo "=== tiny projects: $n projects of 2 small files, first copy, on tmpfs"
    if [[ ! -f $dir/stamp || $(<"$dir/stamp") != "$n" ]]; then
        rm -rf "$dir"
        mkdir -p "$dir/src"
        (cd "$dir/src" && seq -f 'home%05.0f' 1 "$n" | xargs mkdir &&
            for d in home*; do echo "$d rc" >"$d/.profile" && echo "notes of $d" >"$d/notes.txt"; done)
        echo "$n" >"$dir/stamp"
    fi
    : >"$dir/records.jsonl"
    local reps=$((runs < 3 ? 3 : runs))
    for ((rep = 1; rep <= reps; rep++)); do
        if ((rep % 2)); then first=serial second=multisync; else first=multisync second=serial; fi
        for k in "$first" "$second"; do
            rm -rf "$dir/dst" "$dir/state"
            local t0=$EPOCHREALTIME
            if [[ $k == serial ]]; then
                rsync -a "$dir/src/" "$dir/dst/"
            else
                XDG_STATE_HOME=$dir/state "$BIN/multisync" run --report "$dir/report.json" \
                    "$dir/src" "$dir/dst" >"$dir/out" 2>&1 || die "tiny: multisync failed: $(tail -5 "$dir/out")"
            fi
            wall=$(elapsed "$t0")
            diff -r -q "$dir/src" "$dir/dst" | grep -v "^Only in $dir/dst: .multisync.lock" | grep -q . &&
                die "tiny: $k: the copy differs from the source"
            printf '  %-10s rep %d  wall %6.3f s\n' "$k" "$rep" "$wall"
            jq -nc --arg m "$k" --argjson rep "$rep" --argjson wall "$wall" \
                '{method: $m, rep: $rep, wall_s: $wall}' >>"$dir/records.jsonl"
        done
    done
    jq -s --argjson n "$n" '
      def median: sort | if length % 2 == 1 then .[length / 2 | floor]
                         else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      (map(select(.method == "serial") | .wall_s) | median) as $s
      | (map(select(.method == "multisync") | .wall_s) | median) as $m
      | {projects: $n, serial_wall_s: $s, multisync_wall_s: $m, ratio: ($m / $s), runs: .}' \
        "$dir/records.jsonl" >"$RESULTS_DIR/tiny.json"
    jq -r '"  medians: serial rsync -a \(.serial_wall_s) s, multisync \(.multisync_wall_s) s: \(.ratio * 100 | round / 100)x"' \
        "$RESULTS_DIR/tiny.json"
}

# ---------------------------------------------------------------- goals
# Each goal of the fast-path issue as a ratio to its baseline, from what the
# runs above measured (null: not measured in this invocation).
goals_json() {
    local fleet=$ROOT/bench/fleet.json # make bench-fleet (bench/control.sh --workers 1000)
    jq -n --slurpfile w <(cat "$RESULTS_DIR/warm.json" 2>/dev/null || echo null) \
        --slurpfile c <(cat "$RESULTS_DIR/cold.json" 2>/dev/null || echo null) \
        --slurpfile t <(cat "$RESULTS_DIR/tiny.json" 2>/dev/null || echo null) \
        --slurpfile f <(jq '.' "$fleet" 2>/dev/null || echo null) '
      def med: map(select(. != null)) | sort
        | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
          else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      def m($r; $meth; $ph): $r[0].summary // [] | map(select(.method == $meth)) | .[0][$ph] // null;
      def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
      def goal($name; $v; $max; $base): {figure: $name, value: $v, goal: $max, baseline: $base,
                                          met: (if $v == null then null else $v <= $max end)};
      # master + worker CPU during a full copy: GNU time of the whole embedded
      # run, less what its rsyncs used (the report), against the rsyncs
      ($w[0].runs // [] | map(select(.method == "multisync" and .phase == "first"
          and .cpu_s != null and .multisync.rsync_cpu_s > 0)
        | (.cpu_s - .multisync.rsync_cpu_s) / .multisync.rsync_cpu_s) | med) as $overhead
      | [goal("nothing changed, warm cache: wall vs serial rsync -a";
              m($w; "multisync"; "second").wall_x; 0.5; "serial rsync -a, second run"),
         goal("nothing changed, cold cache: wall vs serial rsync -a";
              m($c; "multisync"; "second").wall_x; 0.6; "serial rsync -a, second run"),
         goal("full copy, warm cache: wall vs xargs -P";
              ratio(m($w; "multisync"; "first").wall_s; m($w; "xargs"; "first").wall_s); 1.0;
              "xargs -P<cores>, one rsync a project"),
         goal("full copy, warm cache: CPU vs xargs -P";
              ratio(m($w; "multisync"; "first").cpu_s; m($w; "xargs"; "first").cpu_s); 1.05;
              "xargs -P<cores>"),
         goal("master + worker CPU during a full copy vs the rsyncs CPU (warm)";
              $overhead; 0.03; "the rsyncs CPU"),
         goal("tiny projects, first copy: wall vs serial rsync -a"; $t[0].ratio; 1.5;
              "serial rsync -a"),
         goal("1,000 workers x 16 slots: 20,000 / tasks per second";
              (if $f[0].tasks_per_second then 20000 / $f[0].tasks_per_second else null end); 1.0;
              "20,000 tasks/s"),
         goal("1,000 workers x 16 slots: status median ms / 100 ms";
              (if $f[0].status_median_ms then $f[0].status_median_ms / 100 else null end); 1.0; "100 ms"),
         goal("1,000 workers x 16 slots: master peak RSS / 128 MiB";
              (if $f[0].master_peak_rss_kb then $f[0].master_peak_rss_kb / 131072 else null end); 1.0;
              "128 MiB")]'
}

print_goals() {
    echo
    echo "goals (each a ratio to its baseline; the goal is the largest allowed):"
    jq -r '.[] | [.figure, (.value | if . == null then "n/a" else (. * 1000 | round / 1000 | tostring) end),
                  (.goal | tostring),
                  (.met | if . == null then "not measured" elif . then "met" else "MISSED" end)] | @tsv' <<<"$1" |
        while IFS=$'\t' read -r f v g met; do printf '  %-66s %8s  <= %-5s %s\n' "$f" "$v" "$g" "$met"; done
}

# ---------------------------------------------------------------- main
main() {
    local machine skipped=() conds=() goals
    machine=$(machine_json)
    echo "machine: $(jq -r '"\(.nproc) cores, \(.cpu_model), \(.mem_total_kb / 1048576 * 10 | round / 10) GiB RAM, kernel \(.kernel)"' <<<"$machine")"
    echo "         $(jq -r .rsync <<<"$machine"), multisync $(jq -r .multisync_commit <<<"$machine")"
    ((have_time)) || echo "cpu: n/a (GNU time not installed: /usr/bin/time; apt-get install time)"

    if [[ -n $opt_methods ]]; then
        read -ra METHODS <<<"$opt_methods"
    else
        METHODS=(serial xargs)
        if command -v fpsync >/dev/null; then METHODS+=(fpsync); else skipped+=(fpsync); echo "skipped: fpsync not installed"; fi
        METHODS+=(multisync multisync-2w)
    fi
    for m in "${METHODS[@]}"; do
        declare -F "m_${m//-/_}" >/dev/null || die "unknown method $m"
    done
    echo "methods: ${METHODS[*]} ($CORES cores: xargs -P $CORES, multisync $CORES slots, multisync-2w 2 workers x $HALF slots)"

    RESULTS_DIR=$(mktemp -d /tmp/multisync-bench-results.XXXXXX)
    case $cache in both) conds=(warm cold) ;; *) conds=("$cache") ;; esac
    for c in "${conds[@]}"; do bench_condition "$c"; done
    ((tiny > 0)) && bench_tiny "$tiny"
    goals=$(goals_json)
    print_goals "$goals"

    mkdir -p "$(dirname "$json")"
    jq -n --argjson machine "$machine" --argjson goals "$goals" \
        --slurpfile warm <(cat "$RESULTS_DIR/warm.json" 2>/dev/null || echo null) \
        --slurpfile cold <(cat "$RESULTS_DIR/cold.json" 2>/dev/null || echo null) \
        --slurpfile tiny <(cat "$RESULTS_DIR/tiny.json" 2>/dev/null || echo null) \
        --arg tree "$TREE_INFO" --argjson projects "$projects" --argjson files "$files" \
        --argjson bytes "$bytes" --argjson seed "$SEED" --argjson reps "$runs" \
        --argjson cpu "$have_time" --arg skipped "${skipped[*]}" \
        --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        '{date: $date, machine: $machine,
          tree: {projects: $projects, files: $files, bytes: $bytes, seed: $seed, generated: $tree},
          repetitions: $reps, cpu_measured: ($cpu == 1),
          skipped: ($skipped | split(" ") | map(select(. != ""))),
          goals: $goals, warm: $warm[0], cold: $cold[0], tiny: $tiny[0]}' >"$json.tmp"
    mv "$json.tmp" "$json"
    rm -rf "$RESULTS_DIR"
    echo
    say "results written to $json"
}

main
