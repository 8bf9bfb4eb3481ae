#!/usr/bin/env bash
# Fault: rsync fails. Transient failures (exit 10, 11, 12, 30, 35, or killed
# by a signal) are retried up to --attempts times with a growing delay;
# permanent ones (exit 1, 2, 3, 4, 23...) are not. A wrapper stands in for
# rsync on the worker (--rsync) and fails on purpose, per project:
#   flaky     exit 12 on its first two calls, then the real rsync: ok, 3 attempts
#   killed    SIGKILLs itself on its first call, then the real rsync: ok, 2 attempts
#   broken    exit 2 (protocol incompatibility) every time: failed, 1 attempt
#   hopeless  exit 12 every time: failed after 3 attempts
# Every other project is copied at the first attempt; the run exits 1.
source "$(dirname "$0")/lib.sh"

for p in flaky killed broken hopeless fine1 fine2; do
    make_file "$T/src/$p/data.bin" 50000
    make_file "$T/src/$p/sub/more.txt" 300
done
make_file "$T/src/top.txt" 100

mkdir -p "$T/calls"
cat >"$T/rsync-wrapper" <<EOF
#!/usr/bin/env bash
# rsync runs in the task's source folder, SRC/PROJECT (SRC itself for the
# top task); the worker's start-up check is rsync --version.
[[ \$1 == --version ]] && exec rsync "\$@"
project=\${PWD##*/}
[[ \$PWD == "$T/src" ]] && project=.
n=\$(( \$(cat "$T/calls/\$project" 2>/dev/null || echo 0) + 1 ))
echo "\$n" >"$T/calls/\$project"
echo "\$(date +%s%3N) \$project \$n" >>"$T/calls.log"
case \$project:\$n in
flaky:1 | flaky:2) echo "rsync: [sender] injected protocol error (call \$n)" >&2; exit 12 ;;
killed:1) kill -KILL \$\$ ;;
broken:*) echo "rsync: injected permanent error" >&2; exit 2 ;;
hopeless:*) echo "rsync: injected transient error (call \$n)" >&2; exit 12 ;;
esac
exec rsync "\$@"
EOF
chmod +x "$T/rsync-wrapper"

note "run with the failing wrapper"
rc=0
"$BIN/multisync" run --slots 3 --attempts 3 --retry-delay-ms 100 --rsync "$T/rsync-wrapper" \
    --report "$T/r.json" "$T/src" "$T/dst" >"$T/out" 2>"$T/err" || rc=$?
cat "$T/out" "$T/err"
[[ $rc == 1 ]] || fail "exit status $rc, expected 1"
task() { jq -c --arg p "$1" '.tasks[] | select(.project == $p) | {status, attempts, exit_code, message}' "$T/r.json"; }
check() { # PROJECT JQ-CONDITION
    jq -e --arg p "$1" ".tasks[] | select(.project == \$p) | $2" "$T/r.json" >/dev/null ||
        fail "task $1 is not ($2): $(task "$1")"
}
check flaky '.status == "ok" and .attempts == 3 and .exit_code == 0'
check killed '.status == "ok" and .attempts == 2 and .exit_code == 0'
check broken '.status == "failed" and .attempts == 1 and .exit_code == 2 and (.message | test("injected permanent error"))'
check hopeless '.status == "failed" and .attempts == 3 and .exit_code == 12 and (.message | test("injected transient error \\(call 3\\)"))'
for p in fine1 fine2 .; do check "$p" '.status == "ok" and .attempts == 1'; done
jq_check "$T/r.json" '.status == "failed" and .totals.failed == 2 and .totals.ok == 5' "totals"
[[ $(cat "$T/calls/flaky") == 3 && $(cat "$T/calls/killed") == 2 && $(cat "$T/calls/broken") == 1 &&
    $(cat "$T/calls/hopeless") == 3 ]] || fail "wrong number of rsync calls: $(grep -r . "$T/calls")"
grep -q "^FAILED broken on " "$T/err" && grep -q "^FAILED hopeless on " "$T/err" ||
    fail "failed tasks not named on stderr"
# The retry delays grow: 100 ms, then 200 ms (hopeless: calls 1, 2, 3).
mapfile -t at < <(awk '$2 == "hopeless" {print $1}' "$T/calls.log")
((at[1] - at[0] >= 100 && at[2] - at[1] >= 200)) ||
    fail "retry delays $((at[1] - at[0])) ms, $((at[2] - at[1])) ms; expected >= 100, >= 200"

for p in flaky killed fine1 fine2; do same_tree "$T/src/$p" "$T/dst/$p"; done
# The worker makes a project's backup folder before rsync starts; the
# stand-in failed before copying anything into it.
[[ -z $(find "$T/dst/broken" "$T/dst/hopeless" -mindepth 1 2>/dev/null) ]] || fail "failed projects left something behind"

note "with the real rsync, the next run completes the backup"
"$BIN/multisync" run --slots 3 --report "$T/r2.json" "$T/src" "$T/dst" >"$T/out2" 2>&1 ||
    fail "clean run failed: $(cat "$T/out2")"
jq_check "$T/r2.json" '.status == "ok" and all(.tasks[]; .attempts == 1 or .status == "unchanged")' \
    "clean run ok"
jq_check "$T/r2.json" '[.tasks[] | select(.project == "broken" or .project == "hopeless")
    | .status == "ok" and .attempts == 1] | length == 2 and all' "the failed projects copied"
same_tree "$T/src" "$T/dst"
echo ok
