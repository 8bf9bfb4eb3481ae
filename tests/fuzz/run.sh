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
mkdir -p "$work/fuzz_codec" "$work/fuzz_text" "$work/fuzz_host" "$work/fuzz_route"
"$seeds" "$work/fuzz_codec" || exit 1
cp tests/fixtures/rsync-stats-*.txt "$work/fuzz_text/" 2>/dev/null
for f in tests/fixtures/rsync-stats-*.txt; do { printf '\0'; cat "$f"; } >"$work/fuzz_text/s-$(basename "$f")"; done
{ printf '\1'; cat tests/fixtures/proc-io-*.txt; } >"$work/fuzz_text/proc-io"
{ printf '\2'; cat deploy/master.ini.example; } >"$work/fuzz_text/master-ini"
{ printf '\2'; cat deploy/worker.ini.example; } >"$work/fuzz_text/worker-ini"
i=0
for f in stat diskstats net/dev meminfo loadavg; do
    { printf "\\$(printf %03o $i)"; cat "tests/fixtures/host/a/proc/$f"; } >"$work/fuzz_host/seed$i"
    i=$((i + 1))
done
# fuzz_route: \0 METHOD \0 URI (the router), \1 HEADER (the password check).
i=0
for req in 'GET /api/status' 'HEAD /api/history?n=30' 'GET /api/report/42' 'GET /api/report/last' \
    'POST /api/status' 'GET /api/../api/status%00?x=1&n=5#f'; do
    printf '\0%s\0%s' "${req%% *}" "${req#* }" >"$work/fuzz_route/route$i"
    i=$((i + 1))
done
printf '\1Basic YWRtaW46cHc=' >"$work/fuzz_route/auth0"
printf '\1basic   YWRtaW46eA==' >"$work/fuzz_route/auth1"
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
