#!/usr/bin/env bash
# Run each libFuzzer harness for SECONDS with its seed corpus, under ASan +
# UBSan and a 256 MB malloc limit. A crash fails the run (and leaves its
# input as crash-* in the working copy: make it a unit test).
#   tests/fuzz/run.sh SECONDS SEEDS_BIN FUZZER...
set -u
secs=$1 seeds=$2
shift 2
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/multisync-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/fuzz_codec" "$work/fuzz_text" "$work/fuzz_host" "$work/fuzz_argv"
"$seeds" "$work/fuzz_codec" || exit 1
cp tests/fixtures/rsync-stats-*.txt "$work/fuzz_text/" 2>/dev/null
for f in tests/fixtures/rsync-stats-*.txt; do { printf '\0'; cat "$f"; } >"$work/fuzz_text/s-$(basename "$f")"; done
{ printf '\1'; cat tests/fixtures/proc-io-*.txt; } >"$work/fuzz_text/proc-io"
{ printf '\2'; cat deploy/master.ini.example; } >"$work/fuzz_text/master-ini"
{ printf '\2'; cat deploy/worker.ini.example; } >"$work/fuzz_text/worker-ini"
# hook command lines, as master.ini.example and the README write them
printf '%s' "/usr/local/bin/dump-db --out '/data/prod/db/dump 1.sql'" >"$work/fuzz_argv/quotes"
printf '%s' '/bin/sh -c "pg_dump db > \"/data/db.sql\"" a\ b '"''"' x"y z"' >"$work/fuzz_argv/mixed"
printf '%s' "/bin/x 'open" >"$work/fuzz_argv/open"
i=0
for f in stat diskstats net/dev meminfo loadavg; do
    { printf "\\$(printf %03o $i)"; cat "tests/fixtures/host/a/proc/$f"; } >"$work/fuzz_host/seed$i"
    i=$((i + 1))
done
status=0
for fz in "$@"; do
    name=$(basename "$fz")
    echo "fuzz: $name for ${secs}s"
    if ! "$fz" -max_total_time="$secs" -malloc_limit_mb=256 -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$PWD/crash-$name-" "$work/$name" >"$work/$name.log" 2>&1; then
        echo "fuzz: $name FOUND A CRASH:"
        tail -n 40 "$work/$name.log"
        status=1
    else
        grep -E "stat::number_of_executed_units|Done" "$work/$name.log" | tail -n 2
    fi
done
exit $status
