#!/usr/bin/env bash
# Nothing outside the backup is ever written, deleted or read through a
# symbolic link on the way to a task's folders:
#   - a project folder of DST that is a symlink (the project was one at the
#     last backup, or someone planted it) is replaced by a folder, as
#     `rsync -a SRC/ DST/` of the whole tree would do; with --delete the
#     link's target is untouched (absolute and relative links, a local and a
#     remote destination, a chunk's folder of a split project);
#   - the race: the folders are swapped for symlinks after the worker's
#     checks, right before rsync starts (an rsync wrapper does the swap):
#     rsync still writes into and reads from the folders the worker opened.
source "$(dirname "$0")/lib.sh"

run() { # run ARGS... : an embedded run; its status in RC, output in $T/out, $T/err
    RC=0
    "$BIN/multisync" run "$@" >"$T/out" 2>"$T/err" || RC=$?
}

# outside: what no task may touch. Its fingerprint is checked after every run.
mkdir -p "$T/outside/sub"
echo keep >"$T/outside/keep"
echo secret >"$T/outside/secret"
echo deep >"$T/outside/sub/deep"
tree_fingerprint "$T/outside" >"$T/fp-outside"
outside_untouched() {
    tree_fingerprint "$T/outside" | diff "$T/fp-outside" - >&2 || fail "$1: $T/outside was changed"
}

note "a project that was a symlink at the last backup is a folder now (the issue's reproduction)"
S=$T/s1 D=$T/d1
mkdir -p "$S/o"
make_file "$S/o/f" 100
ln -s "$T/outside" "$S/p"
run --delete "$S" "$D"
((RC == 0)) || fail "first run exited $RC: $(cat "$T/err")"
[[ -L $D/p ]] || fail "the link p was not backed up as a link"
rm "$S/p"
mkdir "$S/p"
echo new >"$S/p/n"
run --delete "$S" "$D"
((RC == 0)) || fail "second run exited $RC: $(cat "$T/err")"
outside_untouched "absolute link, --delete"
[[ -d $D/p && ! -L $D/p ]] || fail "DST/p is still a link"
same_tree "$S" "$D"

note "a relative link (current -> v1) in the backup does not wipe the backup of v1"
S=$T/s2 D=$T/d2
make_file "$S/v1/data" 3000
make_file "$S/v1/more/x" 100
ln -s v1 "$S/current"
run --delete "$S" "$D"
((RC == 0)) || fail "first run exited $RC: $(cat "$T/err")"
tree_fingerprint "$D/v1" >"$T/fp-v1"
rm "$S/current"
make_file "$S/current/other" 10
run --delete "$S" "$D"
((RC == 0)) || fail "second run exited $RC: $(cat "$T/err")"
tree_fingerprint "$D/v1" | diff "$T/fp-v1" - >&2 || fail "the backup of v1 was changed through the link current"
same_tree "$S" "$D"

note "without --delete the link is replaced too, and nothing is written through it"
S=$T/s3 D=$T/d3
make_file "$S/a/f" 100
mkdir -p "$D"
ln -s "$T/outside" "$D/p"
make_file "$S/p/new-file" 100
run "$S" "$D"
((RC == 0)) || fail "run exited $RC: $(cat "$T/err")"
outside_untouched "planted link, no --delete"
[[ -d $D/p && ! -L $D/p ]] || fail "DST/p is still a link"
same_tree "$S" "$D"

note "a planted link in a split project's folder is replaced, not followed"
S=$T/s4 D=$T/d4
for i in 1 2 3 4; do make_file "$S/big/part$i/blob" 1500000; done
make_file "$S/small/f" 10
mkdir -p "$D/big"
ln -s "$T/outside" "$D/big/part2"
run -v --delete --slots 2 --split-min-mb 1 "$S" "$D"
((RC == 0)) || fail "run exited $RC: $(tail -5 "$T/err")"
grep -q "big .*split into" "$T/err" || fail "big was not split"
outside_untouched "planted link in a chunk's folder"
same_tree "$S" "$D"

note "the race: DST/p swapped for a symlink after the worker's checks, before rsync runs"
# The wrapper stands for anything that swaps the folder in that window.
cat >"$T/rsync-swap" <<'SH'
#!/bin/bash
[[ $1 == --version ]] && exec rsync "$@" # the worker's check at start
if [[ -n ${SWAP:-} && -d $SWAP && ! -L $SWAP ]]; then
    mv "$SWAP" "$SWAP.moved" && ln -s "$SWAP_TO" "$SWAP"
fi
exec rsync "$@"
SH
chmod +x "$T/rsync-swap"
S=$T/s5 D=$T/d5
make_file "$S/p/f" 100
run --delete "$S" "$D"
((RC == 0)) || fail "first run exited $RC: $(cat "$T/err")"
echo changed >"$S/p/f2"
SWAP=$D/p SWAP_TO=$T/outside run --slots 1 --delete --rsync "$T/rsync-swap" "$S" "$D"
cat "$T/err"
[[ -d $D/p.moved ]] || fail "the wrapper did not swap DST/p"
outside_untouched "DST/p swapped during the task"
[[ -f $D/p.moved/f2 ]] || fail "rsync did not write into the folder the worker opened"

note "the race: SRC/p swapped for a symlink to a folder outside SRC before rsync runs"
S=$T/s6 D=$T/d6
make_file "$S/p/f" 100
SWAP=$S/p SWAP_TO=$T/outside run --slots 1 --rsync "$T/rsync-swap" "$S" "$D"
cat "$T/err"
[[ -L $S/p ]] || fail "the wrapper did not swap SRC/p"
[[ ! -e $D/p/secret && ! -e $D/p/sub ]] || fail "a tree from outside SRC was copied into the backup"
outside_untouched "SRC/p swapped during the task"

note "a remote destination: the receiving rsync replaces the link too"
mkdir -p "$T/module"
port=$(free_port)
cat >"$T/rsyncd.conf" <<CONF
pid file = $T/rsyncd.pid
use chroot = true
[backup]
path = $T/module
read only = false
uid = root
gid = root
CONF
start_bg "$T/rsyncd.log" rsync --daemon --no-detach --config "$T/rsyncd.conf" --port "$port" --address 127.0.0.1
for i in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
S=$T/s7
make_file "$S/v1/data" 3000
ln -s v1 "$S/current"
run --delete "$S" "rsync://127.0.0.1:$port/backup/prod"
((RC == 0)) || fail "first remote run exited $RC: $(cat "$T/err")"
tree_fingerprint "$T/module/prod/v1" >"$T/fp-rv1"
rm "$S/current"
make_file "$S/current/other" 10
run --delete "$S" "rsync://127.0.0.1:$port/backup/prod"
((RC == 0)) || fail "second remote run exited $RC: $(cat "$T/err")"
tree_fingerprint "$T/module/prod/v1" | diff "$T/fp-rv1" - >&2 ||
    fail "the remote backup of v1 was changed through the link current"
same_tree "$S" "$T/module/prod"
echo ok
