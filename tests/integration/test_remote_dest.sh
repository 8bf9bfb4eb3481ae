#!/usr/bin/env bash
# DST as an rsync remote: a real rsync daemon on loopback receives the
# backup (rsync://127.0.0.1:PORT/module/path), created on the fly.
source "$(dirname "$0")/lib.sh"

gen_tree "$T/src"
mkdir -p "$T/module"
port=$(free_port)
cat >"$T/rsyncd.conf" <<CONF
pid file = $T/rsyncd.pid
# chroot (we are root) so that rsyncd keeps symlinks verbatim
use chroot = true
[backup]
path = $T/module
read only = false
uid = root
gid = root
CONF
start_bg "$T/rsyncd.log" rsync --daemon --no-detach --config "$T/rsyncd.conf" --port "$port" --address 127.0.0.1
for i in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

DST=rsync://127.0.0.1:$port/backup/prod
"$BIN/multisync" run --report "$T/r.json" "$T/src" "$DST" >"$T/out" 2>"$T/err" ||
    fail "run to $DST exited $?: $(cat "$T/err")"
same_tree "$T/src" "$T/module/prod"
jq_check "$T/r.json" '.status == "ok" and .destination == "'"$DST"'"' "remote run ok"

"$BIN/multisync" run --report "$T/r2.json" "$T/src" "$DST" >/dev/null 2>&1 || fail "second remote run failed"
jq_check "$T/r2.json" '.totals.bytes_transferred == 0' "nothing transferred the second time"

note "a big project is not split for a remote backup (its paths there cannot be checked)"
for i in 1 2 3 4; do make_file "$T/src/big/part$i/blob" 1500000; done
"$BIN/multisync" run -v --slots 4 --split-min-mb 1 --report "$T/r3.json" "$T/src" "$DST" \
    >/dev/null 2>"$T/err3" || fail "third remote run failed: $(tail -5 "$T/err3")"
grep -q "split into" "$T/err3" && fail "a project was split for a remote destination"
jq_check "$T/r3.json" '.status == "ok" and ([.tasks[] | has("chunks")] | any | not)' "no chunks"
same_tree "$T/src" "$T/module/prod"
echo ok
