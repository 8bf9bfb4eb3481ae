#!/usr/bin/env bash
# make demo: generate a small sample project tree and back it up with
# `multisync run`, then print the report. Everything lives under
# ${DEMO_DIR:-/tmp/multisync-demo}; run it again to see a no-change run.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=${DEMO_DIR:-/tmp/multisync-demo}
src=$demo/data/prod
dst=$demo/backup/prod

if [[ ! -d $src ]]; then
    echo "demo: generating a sample tree in $src"
    i=0
    for p in alpha beta gamma delta epsilon kappa "project with spaces"; do
        i=$((i + 1))
        for d in $(seq 1 $((i + 1))); do
            mkdir -p "$src/$p/dir$d/sub"
            for f in $(seq 1 $((i * 3))); do
                head -c $((i * d * 2048)) /dev/urandom >"$src/$p/dir$d/sub/file$f.dat"
            done
        done
    done
    echo "top-level notes" >"$src/README.txt"
fi

echo "demo: multisync run $src $dst"
bin/multisync run --report "$demo/report.json" "$src" "$dst"
echo
echo "demo: JSON report written to $demo/report.json"
echo "demo: run 'make demo' again: the second run transfers nothing"
