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
mkdir -p "$work/fuzz_codec" "$work/fuzz_text" "$work/fuzz_host" "$work/fuzz_metrics" "$work/fuzz_argv" "$work/fuzz_route"
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
# A real master's status (no run, running, after) with its history.
for f in tests/fixtures/metrics/status-*.json; do
    jq -c --slurpfile h tests/fixtures/metrics/history.json '{status: ., history: $h[0]}' "$f" \
        >"$work/fuzz_metrics/$(basename "$f")" || exit 1
done
# Names that need escaping, where each kind of name goes.
cat >"$work/fuzz_metrics/hostile" <<'JSON'
{"status": {"workers": [{"host": "a\"b\\c\nd\u00ff", "slots": 2, "busy": 1, "broken": "x"}],
 "run": {"tasks": {"total": 1}, "diagnosis": {"hosts": {"h\n\"": {"verdict": "io-bound"}},
 "run": {"verdict": "balanced"}}}, "last_run": {"run_id": 9, "status": "ok",
 "finished": "2024-01-01T00:00:00.5+01:00", "workers": [{"host": "gone\\"}]}},
 "history": [{"set": "s\n\"\\", "kind": "snapshot", "status": "failed",
 "finished": "2024-02-29T23:59:60Z", "bytes_transferred": 5, "tasks": 3, "failed": 1}]}
JSON
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
