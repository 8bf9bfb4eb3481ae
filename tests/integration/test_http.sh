#!/usr/bin/env bash
# The master's HTTP API: /api/status, /api/history and /api/report/ID|last
# give what `multisync status/history/report --json` give, during and after
# a real run (real worker, real rsync), while malformed requests come in;
# a listener off loopback is refused at start without TLS and a password;
# with them, https and the admin's password work, and nothing else does;
# the connection limit holds.
source "$(dirname "$0")/lib.sh"
HOSTILE_HTTP=${MS_TOOLS:-$ROOT/build/tools}/hostile_http
[[ -x $HOSTILE_HTTP ]] || fail "build the tools first (make test builds $HOSTILE_HTTP)"
for tool in curl openssl jq; do command -v $tool >/dev/null || fail "$tool missing (deploy/install-deps.sh)"; done

mkdir -p "$T/src"/{p1,p2,p3,p4}
for p in p1 p2 p3 p4; do make_file "$T/src/$p/data" 2000000; done
HPORT=$(free_port)
URL=http://127.0.0.1:$HPORT
CTL=ipc://$T/c.sock
cat >"$T/master.ini" <<EOF
[master]
listen = ipc://$T/w.sock
control = $CTL
catalog = $T/cat.db
heartbeat_ms = 200
http_listen = 127.0.0.1:$HPORT
EOF
start_bg "$T/master.log" "$BIN/multisync-master" -c "$T/master.ini"
MASTER_PID=$LAST_PID
# 500 KB/s per rsync, 2 slots: the run takes about 8 s.
start_bg "$T/worker.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
    --heartbeat-ms 200 --rsync-opt=--bwlimit=500 --name httphost
wait_workers "$CTL" 1

# get PATH FILE : the body of GET PATH into FILE; its HTTP code on stdout.
get() { curl -s -o "$2" -w '%{http_code}' "$URL$1"; }
# same FILE1 FILE2 JQ WHAT : JQ gives the same on both files.
same() {
    [[ $(jq -S "$3" "$1") == "$(jq -S "$3" "$2")" ]] ||
        fail "$4 differs: $(diff <(jq -S "$3" "$1") <(jq -S "$3" "$2") | head -20)"
}

note "loopback, plain: the API answers before any run"
[[ $(get /api/status "$T/h0.json") == 200 ]] || fail "/api/status before a run"
"$BIN/multisync" status --master "$CTL" --json >"$T/c0.json"
same "$T/h0.json" "$T/c0.json" 'del(.workers[].last_seen_s, .workers[].cpu_percent, .workers[].cores, .workers[].load1, .workers[].mem_used_percent)' "status before a run"
[[ $(get /api/report/last "$T/e.json") == 404 ]] || fail "report/last without runs is not 404"
jq_check "$T/e.json" '.error | test("no runs")' "a JSON error says there are no runs"

note "during a run: the same JSON as the CLI, while malformed requests come in"
"$BIN/multisync" run --master "$CTL" --report "$T/r.json" "$T/src" "$T/dst" >"$T/run.out" 2>&1 &
RUN_PID=$!
running() { [[ $(get /api/status "$T/h1.json") == 200 ]] && jq -e '.run.tasks.running == 2' "$T/h1.json" >/dev/null; }
wait_until 20 "two tasks running, seen over HTTP" running
"$BIN/multisync" status --master "$CTL" --json >"$T/c1.json"
same "$T/h1.json" "$T/c1.json" '{id: .run.id, state: .run.state, set: .run.set, runs: [.runs[].id], workers: [.workers[] | {host, slots, id}], keys: keys, run_keys: (.run | keys)}' \
    "status during the run"
[[ $(get /api/report/1 "$T/hr1.json") == 200 ]] || fail "/api/report/1 during the run"
"$BIN/multisync" report 1 --master "$CTL" --json >"$T/cr1.json" || true
same "$T/hr1.json" "$T/cr1.json" '{run_id, source, destination, keys: keys, projects: ([.tasks[].project] | sort)}' \
    "the report of the running run"
note "/metrics during the run: Prometheus text that promtool accepts, the run's tasks in it"
[[ $(get /metrics "$T/m1.prom") == 200 ]] || fail "/metrics during the run"
promtool check metrics <"$T/m1.prom" || fail "promtool refuses /metrics during the run"
grep -q '^multisync_run_tasks{state="running"} 2$' "$T/m1.prom" || fail "no 2 running tasks in /metrics: $(grep run_tasks "$T/m1.prom")"
grep -q '^multisync_worker_up{worker="httphost"} 1$' "$T/m1.prom" || fail "httphost is not up in /metrics"
"$HOSTILE_HTTP" bad 127.0.0.1 "$HPORT" 127.0.0.2 >"$T/bad.out" || fail "hostile_http failed"
cat "$T/bad.out"
for want in "post: 405" "dotdot: 404" "nul-escape: 404" "long-url: 414" "no-version: 400" "good: 200"; do
    grep -qx "$want" "$T/bad.out" || fail "malformed HTTP: expected '$want'"
done
grep -q "silent" "$T/bad.out" && fail "a malformed request got no answer and no close"
"$BIN/multisync" status --master "$CTL" --json >/dev/null || fail "control status after malformed HTTP"
[[ $(get /api/status "$T/h2.json") == 200 ]] || fail "/api/status after malformed HTTP"
wait_exit 120 "$RUN_PID" "the run"
((RC == 0)) || fail "the run failed ($RC): $(cat "$T/run.out")"
same_tree "$T/src" "$T/dst"

note "after the run: history and reports are the CLI's, key for key"
[[ $(get "/api/history?n=30" "$T/hh.json") == 200 ]] || fail "/api/history"
"$BIN/multisync" history --master "$CTL" -n 30 --json >"$T/ch.json"
same "$T/hh.json" "$T/ch.json" . "history"
[[ $(get /api/history "$T/hh2.json") == 200 ]] && same "$T/hh2.json" "$T/ch.json" . "history (default n)"
get /api/report/1 "$T/hr.json" >/dev/null
"$BIN/multisync" report 1 --master "$CTL" --json >"$T/cr.json"
same "$T/hr.json" "$T/cr.json" . "report 1"
same "$T/hr.json" "$T/r.json" . "report 1 and the run's own --report"
get /api/report/last "$T/hl.json" >/dev/null
same "$T/hl.json" "$T/cr.json" . "report last"
get /api/status "$T/hs.json" >/dev/null
"$BIN/multisync" status --master "$CTL" --json >"$T/cs.json"
same "$T/hs.json" "$T/cs.json" '{run, runs, last_run, running, queued}' "status after the run"

note "/metrics after the run: the success is there for an alert on its age; / is the page"
# /metrics re-reads the whole history at most every 10 s: the run shows within that.
counted() { curl -s -D "$T/mh" -o "$T/m2.prom" "$URL/metrics" && grep -q '^multisync_runs_total{status="ok"} 1$' "$T/m2.prom"; }
wait_until 30 "the run counted in /metrics" counted
promtool check metrics <"$T/m2.prom" || fail "promtool refuses /metrics after the run"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/mh" || fail "/metrics content type: $(cat "$T/mh")"
grep -q '^multisync_last_success_timestamp_seconds{set=".*"} [0-9]' "$T/m2.prom" ||
    fail "no last success in /metrics: $(grep last_success "$T/m2.prom")"
grep -q '^multisync_runs_total{status="ok"} 1$' "$T/m2.prom" || fail "the run is not counted: $(grep runs_total "$T/m2.prom")"
curl -s -D "$T/ph" -o "$T/page.html" "$URL/"
grep -qi '^content-type: text/html' "$T/ph" || fail "/ is not HTML: $(cat "$T/ph")"
grep -qi "^content-security-policy: .*script-src 'sha256-" "$T/ph" || fail "/ has no script policy: $(cat "$T/ph")"
cmp -s "$T/page.html" "$ROOT/master/page/index.html" || fail "/ is not master/page/index.html"

note "errors are small JSON, with the right codes"
check_code() { # PATH CODE [CURL ARGS]
    local code
    code=$(curl -s -o "$T/err.json" -w '%{http_code}' "${@:3}" "$URL$1")
    [[ $code == "$2" ]] || fail "$1 ${*:3}: $code, expected $2"
    jq -e '.error | type == "string"' "$T/err.json" >/dev/null || fail "$1: no JSON error"
}
check_code /nowhere 404
check_code /api/report/99 404
check_code /api/report/abc 400
check_code "/api/history?n=0" 400
check_code /api/status 405 -X POST -d x
check_code /api/status 405 -X DELETE
curl -s -I "$URL/api/status" >"$T/head.txt" || fail "HEAD failed"
grep -qi "^content-type: application/json" "$T/head.txt" || fail "HEAD: no JSON content type"
head -1 "$T/head.txt" | grep -q " 200" || fail "HEAD: not 200: $(cat "$T/head.txt")"
kill -0 "$MASTER_PID" || fail "the master died"

note "the connection limit holds: 9 addresses x 8 connections, at most 64 taken at once"
fds() { find "/proc/$MASTER_PID/fd" -mindepth 1 | wc -l; }
base=$(fds)
pids=()
for i in 2 3 4 5 6 7 8 9 10; do
    "$HOSTILE_HTTP" hold 127.0.0.1 "$HPORT" "127.0.0.$i" 8 40 >"$T/hold$i.out" &
    pids+=($!)
done
most=0
for _ in $(seq 1 30); do
    n=$(($(fds) - base))
    ((n > most)) && most=$n
    sleep 0.2
done
echo "connections the master held at most: $most"
((most <= 64)) || fail "the master held $most connections, over its limit of 64"
((most >= 56)) || fail "the master held only $most of 72 connections: the test did not reach the limit"
for p in "${pids[@]}"; do wait "$p" || fail "hostile_http hold failed"; done
cat "$T"/hold*.out | grep "^still open" | grep -vqx "still open: 0" && fail "slow clients were never closed"
[[ $(get /api/status "$T/h3.json") == 200 ]] || fail "/api/status after the slow clients"
kill "$MASTER_PID"
wait "$MASTER_PID" 2>/dev/null || true

note "off loopback without TLS and a password: refused at start (exit 2)"
CPORT=$(free_port)
refused_with() { # MESSAGE ARGS... : the master exits 2 saying MESSAGE, before its catalog
    local rc=0
    "$BIN/multisync-master" --listen "ipc://$T/w2.sock" --control "ipc://$T/c2.sock" \
        --catalog "$T/cat2.db" "${@:2}" >"$T/refused.out" 2>&1 || rc=$?
    ((rc == 2)) || fail "master with ${*:2}: exit $rc, not 2: $(cat "$T/refused.out")"
    grep -q "$1" "$T/refused.out" || fail "no '$1' in: $(cat "$T/refused.out")"
    [[ ! -e $T/cat2.db ]] || fail "the catalog was opened before the refusal"
}
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
    -subj /CN=multisync-test -addext subjectAltName=IP:127.0.0.1 2>/dev/null || fail "openssl req"
chmod 600 "$T/key.pem"
printf 'correct horse\n' >"$T/pw"
chmod 600 "$T/pw"
refused_with "not a loopback address" --http-listen "0.0.0.0:$CPORT"
refused_with "not a loopback address" --http-listen "0.0.0.0:$CPORT" --http-cert "$T/cert.pem" --http-key "$T/key.pem"
refused_with "not a loopback address" --http-listen "0.0.0.0:$CPORT" --http-password-file "$T/pw"
refused_with "is not ADDR:PORT" --http-listen "localhost"
refused_with "need --http-listen" --http-password-file "$T/pw"
chmod 644 "$T/pw"
refused_with "too open" --http-listen "0.0.0.0:$CPORT" --http-cert "$T/cert.pem" --http-key "$T/key.pem" --http-password-file "$T/pw"
chmod 600 "$T/pw"

note "with TLS and the password: https with it works, without it 401, plain http fails"
start_bg "$T/master3.log" "$BIN/multisync-master" --listen "ipc://$T/w3.sock" --control "ipc://$T/c3.sock" \
    --catalog "$T/cat3.db" --http-listen "0.0.0.0:$CPORT" --http-cert "$T/cert.pem" --http-key "$T/key.pem" \
    --http-password-file "$T/pw"
MASTER_PID=$LAST_PID
S=https://127.0.0.1:$CPORT
tls_up() { curl -s -o /dev/null --cacert "$T/cert.pem" "$S/api/status"; }
wait_until 10 "the TLS listener answers" tls_up
code=$(curl -s -o "$T/t1.json" -w '%{http_code}' --cacert "$T/cert.pem" -u "admin:correct horse" "$S/api/status")
[[ $code == 200 ]] || fail "https with the password: $code"
jq_check "$T/t1.json" 'has("workers") and has("run")' "the status over https"
code=$(curl -s -D "$T/t2.h" -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" "$S/api/status")
[[ $code == 401 ]] || fail "https without the password: $code, not 401"
grep -qi '^www-authenticate: basic' "$T/t2.h" || fail "401 without WWW-Authenticate: Basic"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" -u "admin:wrong" "$S/api/status")
[[ $code == 401 ]] || fail "https with a wrong password: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" -u "root:correct horse" "$S/api/status")
[[ $code == 401 ]] || fail "https as another user: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:correct horse" "http://127.0.0.1:$CPORT/api/status") &&
    fail "plain http to the TLS listener answered $code"
"$HOSTILE_HTTP" bad 127.0.0.1 "$CPORT" 127.0.0.2 >"$T/badtls.out" || fail "hostile_http (TLS) failed"
grep -qv ": closed$" "$T/badtls.out" && fail "the TLS listener answered plain text: $(cat "$T/badtls.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/cert.pem" -u "admin:correct horse" "$S/api/history")
[[ $code == 200 ]] || fail "https after plain-text garbage: $code"
grep -q "request(s) without the admin's password" "$T/master3.log" || fail "failed logins not logged"
echo ok
