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

note "verify of a remote backup: clean, then a changed byte named from the backup's root"
"$BIN/multisync" verify --report "$T/v1.json" "$T/src" "$DST" >"$T/vout1" 2>&1 ||
    fail "verify of the remote backup exited $?: $(tail -5 "$T/vout1")"
jq_check "$T/v1.json" '.kind == "verify" and .verify.differs == 0' "the remote verify found differences"
flip_byte "$T/module/prod/alpha/f2.bin" 10
touch -r "$T/src/alpha/f2.bin" "$T/module/prod/alpha/f2.bin"
rc=0
"$BIN/multisync" verify --report "$T/v2.json" "$T/src" "$DST" >"$T/vout2" 2>&1 || rc=$?
((rc == 1)) || fail "verify of a changed remote backup exited $rc"
jq_check "$T/v2.json" '[.tasks[] | select(.status == "differs") | .message] == ["1 path differs:\n<fc........ alpha/f2.bin\n"]' \
    "the remote verify does not name alpha/f2.bin alone: $(jq -c '[.tasks[].message]' "$T/v2.json")"
"$BIN/multisync" verify --snapshot latest "$T/src" "$DST" >"$T/vout3" 2>&1 && fail "--snapshot on a remote was taken"
grep -q "not in the rsync remote" "$T/vout3" || fail "unclear refusal: $(cat "$T/vout3")"
echo ok
