#!/usr/bin/env bash
# bench/overhead.sh - what multisync itself costs beside its rsyncs: the CPU
# the master and the worker use during a full copy, as a share of the CPU of
# the rsyncs they run. The goal (issue 14) is at most 3 %.
#
# Each run is `multisync run --report R SRC DST`, the embedded mode (the
# master in the client, one local worker), into an empty DST with a catalog
# of its own (so nothing is skipped as unchanged). The CPU of the whole
# process tree is the user + system time of the client's reaped children:
# client (master), worker and every rsync, each reaped by its parent. The
# rsyncs' own share is the report's totals (wait4's rusage of each rsync,
# its helper processes included). The rest is multisync's.
#
# Usage: bench/overhead.sh [--runs N] [--json FILE] [--goal PERCENT] SRC DST
# Prints a line per run and the median ratio; with --json writes
#   {runs: [{cpu_s, rsync_cpu_s, multisync_cpu_s, ratio}], ratio, goal, ok}
# (ratio = multisync_cpu_s / rsync_cpu_s, the median over the runs). DST is
# removed before each run and after the last. bench/bench.sh's goals table
# gives the same figure from its warm runs; this measures it alone, on any
# tree (a disk, tmpfs, the worst case of tiny files), as often as asked.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${MS_BIN:-$ROOT/bin}

die() { echo "overhead: FAIL: $*" >&2; exit 1; }

runs=3 json='' goal=3
while (($# > 2)); do
    case $1 in
        --runs) runs=${2:?--runs needs a number}; shift ;;
        --json) json=${2:?--json needs a file}; shift ;;
        --goal) goal=${2:?--goal needs a percentage}; shift ;;
        *) die "unknown option: $1" ;;
    esac
    shift
done
(($# == 2)) || die "usage: bench/overhead.sh [--runs N] [--json FILE] [--goal PERCENT] SRC DST"
SRC=$1 DST=$2
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, not '$runs'"
[[ -d $SRC ]] || die "no source folder $SRC"
[[ -x $BIN/multisync ]] || die "$BIN/multisync missing: run make first"
command -v jq >/dev/null || die "jq is not installed"

work=$(mktemp -d /tmp/msoverhead.XXXXXX)
trap 'rm -rf "$work" "$DST"' EXIT

# cpu_of CMD...: run CMD in a child shell; print the user + system seconds
# of everything it reaped (bash's `times`, second line: "0m1.234s 0m0.567s").
cpu_of() {
    bash -c '"$@" >"'"$work"'/out" 2>&1 || exit; times' _ "$@" |
        awk 'NR == 2 {
            n = split($0, t, /[ ms]+/); s = 0
            for (i = 1; i + 1 <= n; i += 2) s += t[i] * 60 + t[i + 1]
            printf "%.3f\n", s }'
}

# one_run N: a full copy; prints its record as one JSON line.
one_run() {
    local cpu rsync
    rm -rf "$DST" "$work/catalog.db" "$work/report.json"
    cpu=$(cpu_of "$BIN/multisync" run --catalog "$work/catalog.db" --report "$work/report.json" \
        "$SRC" "$DST") || die "run $1: multisync failed: $(tail -5 "$work/out")"
    jq -e '.status == "ok" and .totals.unchanged == 0' "$work/report.json" >/dev/null ||
        die "run $1: not a clean full copy (see $work/report.json)"
    rsync=$(jq '.totals.cpu_user_s + .totals.cpu_sys_s' "$work/report.json")
    jq -nc --argjson cpu "$cpu" --argjson rsync "$rsync" \
        '{cpu_s: $cpu, rsync_cpu_s: $rsync, multisync_cpu_s: ($cpu - $rsync),
          ratio: (if $rsync > 0 then ($cpu - $rsync) / $rsync else null end)}'
}

records=()
for ((i = 1; i <= runs; i++)); do
    rec=$(one_run "$i")
    records+=("$rec")
    jq -r --argjson i "$i" '"overhead: run \($i): rsyncs \(.rsync_cpu_s * 100 | round / 100) s CPU, "
        + "multisync (master + worker) \(.multisync_cpu_s * 100 | round / 100) s: "
        + "\(.ratio * 1000 | round / 10) %"' <<<"$rec"
done
summary=$(printf '%s\n' "${records[@]}" | jq -sc --argjson goal "$goal" '
    (map(.ratio) | sort | if length % 2 == 1 then .[length / 2 | floor]
                          else (.[length / 2 - 1] + .[length / 2]) / 2 end) as $r
    | {runs: ., ratio: $r, goal: ($goal / 100), ok: ($r != null and $r <= $goal / 100)}')
jq -r '"overhead: master + worker CPU / rsyncs CPU during a full copy: "
    + "\(.ratio * 1000 | round / 10) % (median of \(.runs | length); goal <= \(.goal * 100) %: "
    + (if .ok then "met" else "NOT met" end) + ")"' <<<"$summary"
if [[ -n $json ]]; then
    mkdir -p "$(dirname "$json")"
    echo "$summary" >"$json"
fi
