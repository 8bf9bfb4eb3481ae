#!/usr/bin/env bash
# Run the unit tests (cmocka binaries), then the integration tests
# (tests/integration/test_*.sh: real rsync, real sockets, real trees), and
# print one closing line: "tests: N passed, N failed, N skipped". A test
# that exits 77 could not run here (it says why on a line starting SKIP:):
# it is counted as skipped, not passed.
#   tests/run-tests.sh [--unit-only] BUILD_DIR UNIT_BIN...
set -u
unit_only=0
if [[ ${1:-} == --unit-only ]]; then unit_only=1; shift; fi
build=$1; shift
cd "$(dirname "$0")/.." || exit 2

passed=0 failed=0 skipped=0 failures=()
run_one() { # name command...
    local name=$1; shift
    local log; log=$(mktemp)
    local start=$SECONDS
    local rc=0
    timeout 600 "$@" >"$log" 2>&1 || rc=$?
    if ((rc == 0)); then
        passed=$((passed + 1)); printf 'PASS %-40s %3ds\n' "$name" $((SECONDS - start))
    elif ((rc == 77)); then
        skipped=$((skipped + 1))
        printf 'SKIP %-40s %3ds  %s\n' "$name" $((SECONDS - start)) "$(grep -m1 '^SKIP:' "$log" | cut -c7-)"
    else
        failed=$((failed + 1)); failures+=("$name")
        printf 'FAIL %-40s %3ds\n' "$name" $((SECONDS - start))
        sed 's/^/    | /' "$log" | tail -n 60
    fi
    rm -f "$log"
}

for t in "$@"; do run_one "unit/$(basename "$t")" "$t"; done
if ((!unit_only)); then
    for t in tests/integration/test_*.sh; do
        run_one "integration/$(basename "$t" .sh)" bash "$t"
    done
    # MS_FUZZ="SECONDS SEEDS FUZZER..." (set by make test): a short fuzz run.
    if [[ -n ${MS_FUZZ:-} ]]; then
        # shellcheck disable=SC2086
        run_one "fuzz" tests/fuzz/run.sh $MS_FUZZ
    fi
fi
echo
((failed)) && printf 'failed: %s\n' "${failures[*]}"
echo "tests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
