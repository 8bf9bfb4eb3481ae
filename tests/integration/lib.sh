# Helpers for the integration tests: real trees, real rsync, real daemons.
# Each test sources this file; it gets a private $T directory removed at exit
# and every daemon started with start_bg is killed at exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${MS_BIN:-$ROOT/bin}
T=$(mktemp -d /tmp/multisync-test.XXXXXX)
# The embedded mode's state (its catalog) is the test's own.
export XDG_STATE_HOME=$T/state
BG_PIDS=()
CLEANUP_HOOKS=()
cleanup() {
    local rc=$? pid i
    # A daemon a test stopped with SIGSTOP could not act on SIGTERM.
    for pid in "${BG_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    # Hooks (at_exit, then EXTRA_CLEANUP if a test defines it) undo what the
    # test set up outside $T: namespaces, mounts... They must not fail.
    for ((i = ${#CLEANUP_HOOKS[@]} - 1; i >= 0; i--)); do eval "${CLEANUP_HOOKS[i]}" || true; done
    if declare -F EXTRA_CLEANUP >/dev/null; then EXTRA_CLEANUP || true; fi
    # A sanitizer report in any daemon's log fails the test.
    if grep -ls -d skip "Sanitizer\|runtime error:" "$T"/*; then
        grep -hs -d skip -A30 "Sanitizer\|runtime error:" "$T"/* | head -60 >&2
        rc=1
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "kept $T"; else rm -rf "$T"; fi
    exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# at_exit CMD : run the shell command CMD at exit, after the daemons are
# stopped and before $T is removed (latest registered runs first).
at_exit() { CLEANUP_HOOKS+=("$1"); }
note() { echo "--- $*"; }

# start_bg LOGFILE CMD... : run a daemon in the background, remember its pid.
start_bg() {
    local log=$1; shift
    "$@" >"$log" 2>&1 &
    BG_PIDS+=($!)
    LAST_PID=$!
}

# A free TCP port on 127.0.0.1: below the kernel's ephemeral range (so no
# outgoing connection takes it meanwhile), unused in any state, and not
# handed out before in this test (remembered in a file: callers use $(...)).
free_port() {
    local p
    for p in $(shuf -i 20000-31999 -n 200); do
        grep -qx "$p" "$T/.ports" 2>/dev/null && continue
        if [[ -z $(ss -Htan "sport = :$p" 2>/dev/null) ]]; then
            echo "$p" >>"$T/.ports"
            echo "$p"
            return
        fi
    done
    fail "no free port"
}

# rsyncs_under DIR : the pids of the rsyncs working in DIR or below. A task's
# rsync runs in its source folder with relative paths and writes into
# /proc/self/fd/3, so it is found by its working folder, not by its argv.
rsyncs_under() {
    local p cwd
    for p in /proc/[0-9]*; do
        [[ $(cat "$p/comm" 2>/dev/null) == rsync ]] || continue
        cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
        [[ $cwd == "$1" || $cwd == "$1"/* ]] && echo "${p#/proc/}"
    done
    return 0
}

# make_file PATH SIZE_BYTES : random content of the given size.
make_file() {
    mkdir -p "$(dirname "$1")"
    head -c "$2" /dev/urandom >"$1"
}

# flip_byte FILE OFFSET : change the byte at OFFSET in place (its lowest bit
# flipped: a random file's byte is never left as it was), size kept.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# gen_tree DIR : a source hierarchy with projects of different sizes, names
# that need care (space, leading dash, UTF-8), nested folders, loose files
# and a symlink at the top.
gen_tree() {
    local s=$1 i
    mkdir -p "$s"
    for i in 1 2 3; do make_file "$s/alpha/f$i.bin" $((i * 40000)); done
    for i in $(seq 1 30); do make_file "$s/beta/d$((i % 4))/sub/f$i" $((i * 300)); done
    make_file "$s/big/blob.bin" 3000000
    make_file "$s/big/more/blob2.bin" 1000000
    make_file "$s/with space/file one" 5000
    make_file "$s/-starts-with-dash/x" 777
    make_file "$s/ünïcødé/ファイル" 1234
    make_file "$s/gamma/a/b/c/d/e/deep" 4321
    ln -s ../alpha/f1.bin "$s/gamma/link-to-alpha"
    mkdir -p "$s/empty-project"
    make_file "$s/loose-top-file.txt" 100
    ln -s alpha "$s/link-to-alpha-dir"
    chmod 750 "$s/beta"
    touch -d '2020-01-02 03:04:05' "$s/alpha/f1.bin" "$s/beta"
}

# same_tree SRC DST : nothing differs, by diff and by rsync's own check
# (which also compares times, permissions, links). The destination's lock
# file (.multisync.lock, in the root of a local backup) is not a difference.
same_tree() {
    local out
    out=$(diff -r --no-dereference "$1" "$2" | grep -vx "Only in ${2%/}: .multisync.lock") &&
        fail "diff -r $1 $2 shows differences:
$out"
    out=$(rsync -ani --no-motd --exclude=/.multisync.lock "$1/" "$2/") || fail "rsync -ani failed"
    [[ -z $out ]] || fail "rsync -ani $1/ $2/ has work to do:
$out"
}

# jq_check FILE EXPR MESSAGE : the JSON file satisfies the jq expression.
jq_check() {
    jq -e "$2" "$1" >/dev/null || fail "$3 (jq: $2)"
}

# wait_workers CONTROL_EP N [STATUS_OPTION...] : until the master reports N
# connected workers (options such as --key/--master-key go to `status`).
wait_workers() {
    local ep=$1 want=$2 i n=0
    shift 2
    for i in $(seq 1 100); do
        if [[ -n ${MASTER_PID:-} ]] && ! kill -0 "$MASTER_PID" 2>/dev/null; then
            fail "the master died: $(tail -5 "$T"/master*.log)"
        fi
        n=$("$BIN/multisync" status --master "$ep" --json "$@" 2>/dev/null | jq '.workers | length' || echo 0)
        [[ $n == "$want" ]] && return 0
        sleep 0.1
    done
    fail "the master did not see $want workers (saw $n)"
}

# wait_until SECONDS WHAT CMD... : run CMD every 0.1 s until it succeeds;
# fail saying WHAT did not happen if SECONDS pass first.
wait_until() {
    local secs=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s%N) / 1000000 + secs * 1000))
    until "$@"; do
        (($(date +%s%N) / 1000000 < deadline)) || fail "timed out after ${secs}s waiting for: $what"
        sleep 0.1
    done
}

# tree_fingerprint DIR : one line per entry: path, type, size, mode, mtime
# (ns), inode and, for files, a checksum. Two equal fingerprints mean the
# tree was not touched, not even rewritten with the same bytes.
tree_fingerprint() {
    (cd "$1" && find . -printf '%p %y %s %m %T@ %i\n' | LC_ALL=C sort &&
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# gen_projects DIR PREFIX N BYTES : N projects DIR/PREFIX1..N, each with a
# nested folder and two files of BYTES/2 random bytes.
gen_projects() {
    local d=$1 prefix=$2 n=$3 bytes=$4 i
    for i in $(seq 1 "$n"); do
        make_file "$d/$prefix$i/part1.bin" $((bytes / 2))
        make_file "$d/$prefix$i/sub/part2.bin" $((bytes - bytes / 2))
    done
}

# log_ms FILE REGEX : the time (ms since the epoch) of the first log line of
# FILE matching REGEX (the daemons stamp lines with UTC ms); fails if none.
log_ms() {
    local line
    line=$(grep -m1 -e "$2" "$1") || fail "no line matching '$2' in $1"
    echo $(($(date -u -d "$(cut -c1-23 <<<"$line")" +%s%3N)))
}

# make_keys DIR NAME... : a CURVE key pair per name, in DIR.
make_keys() {
    local dir=$1 name
    shift
    mkdir -p "$dir"
    for name in "$@"; do
        "$BIN/multisync" keygen "$dir/$name" >/dev/null || fail "keygen $name failed"
    done
}

# wait_exit SECONDS PID WHAT : wait for background PID (a child of this
# shell) to exit and put its exit status in RC; fail after SECONDS (a run
# that never ends is a failure, not a test that hangs), printing what the
# test's `diagnose` function says if it has one.
wait_exit() {
    local deadline=$((SECONDS + $1))
    while kill -0 "$2" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            declare -F diagnose >/dev/null && diagnose >&2
            fail "$3 did not end within $1 s"
        fi
        sleep 0.1
    done
    RC=0
    wait "$2" || RC=$?
}
