#!/usr/bin/env bash
# The status page (master/page/index.html; the master serves it at /) in a
# real browser, headless Chromium, over what a real master says during real
# runs: the workers by name with their verdicts, the run's progress (a
# percent and done/total), the running tasks, the history chart (one mark
# per run), the last run's timeline (lanes per host), a failed run, no run
# yet, a fetch error, a fleet of hundreds of workers, and a project named
# like markup shown as text. Keeps a screenshot: build/artifacts/status-page.png.
source "$(dirname "$0")/lib.sh"

# Where the browser finds the page, with api/status, api/history and
# api/report/ID beside it: PAGE_URL, the master's own listener (each master
# gets --http-listen 127.0.0.1:PORT, http_opt): every look is at a live
# master. PAGE_LIVE=0 instead serves the page and the JSON captured from
# the real masters below (`status --json`, `history --json`, `report last
# --json`) with a minimal HTTP server: how the page was first developed.
# That server also shows the page a master it cannot read (no api/ there).
LIVE=${PAGE_LIVE:-1}
HTTP_PORT=$(free_port)
STATIC_PORT=$(free_port)
FLEET_HTTP_PORT=$(free_port)
PAGE_URL=http://127.0.0.1:$HTTP_PORT
HOSTILE="<img src=x onerror=alert(1)> \"quoted\" 'single'"
# http_opt PORT : a master's options for its HTTP listener (LIVE=1 only).
http_opt() { ((LIVE)) && echo "--http-listen=127.0.0.1:$1" || true; }

command -v chromium >/dev/null || fail "chromium is not installed (deploy/install-deps.sh installs it)"
WWW=$T/www
mkdir -p "$WWW/api/report" "$T/chrome"

# chrome ARG... : headless Chromium with everything it writes in $T (its
# profile, and the config and cache it keeps under HOME), fetching nothing
# of its own; at most 2 minutes.
chrome() {
    HOME=$T/chrome XDG_CONFIG_HOME=$T/chrome/config XDG_CACHE_HOME=$T/chrome/cache \
        timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$T/chrome/profile" \
        --no-first-run --disable-extensions --disable-background-networking --disable-sync \
        --disable-component-update --disable-default-apps --disable-breakpad --hide-scrollbars \
        --window-size=1280,900 --virtual-time-budget=9000 "$@"
}
cp "$ROOT/master/page/index.html" "$WWW/index.html"
start_bg "$T/http.log" python3 -m http.server "$STATIC_PORT" --bind 127.0.0.1 --directory "$WWW"
wait_until 20 "the test's HTTP server" bash -c "exec 2>/dev/null 3<>/dev/tcp/127.0.0.1/$STATIC_PORT"
((LIVE)) || PAGE_URL=http://127.0.0.1:$STATIC_PORT

# capture CTL : what the master at control endpoint CTL says now, as the
# page's api/ would answer (static mode only). No run yet: no report.
capture() {
    ((LIVE)) && return 0
    "$BIN/multisync" status --master "$1" --json >"$WWW/api/status.tmp" || fail "status --json"
    "$BIN/multisync" history --master "$1" --json -n 30 >"$WWW/api/history.tmp" || fail "history --json"
    rm -f "$WWW/api/report/last"
    if [[ $(jq length "$WWW/api/history.tmp") -gt 0 ]]; then
        # (it exits 1 for a run that failed: its JSON is what counts)
        "$BIN/multisync" report last --master "$1" --json >"$WWW/api/report/last" || true
        jq -e .run_id "$WWW/api/report/last" >/dev/null || fail "report last --json"
    fi
    mv "$WWW/api/status.tmp" "$WWW/api/status"
    mv "$WWW/api/history.tmp" "$WWW/api/history"
}

# look NAME [chromium options...] : the page as Chromium leaves it once its
# script ran (a few refreshes of virtual time), into $T/NAME.html; its
# facts (dom_facts) into $T/NAME.json; the JSON it read, into $T/api-NAME.
look() {
    local name=$1
    shift
    ((LIVE)) || cp -r "$WWW/api" "$T/api-$name" # what it was shown, for KEEP_TMP=1
    chrome "$@" --dump-dom "$PAGE_URL/" >"$T/$name.html" 2>"$T/chromium-$name.log" ||
        fail "chromium could not render the page ($name): $(tail -5 "$T/chromium-$name.log")"
    dom_facts <"$T/$name.html" >"$T/$name.json" || fail "the DOM of $name does not parse"
}

# dom_facts : what the page shows, read from its DOM (stdin) as JSON: the
# texts of the elements with an id, the hosts of the workers' rows, the
# projects of the running rows, the history's marks, the timeline's hosts
# and task bars, every text node, and how many <img> elements there are.
dom_facts() {
    python3 -c '
import html.parser, json, sys
class P(html.parser.HTMLParser):
    def __init__(s):
        super().__init__(); s.stack = []; s.f = {"ids": {}, "workers": [], "running": [], "history": [],
            "lanes": [], "idle": [], "tasks": 0, "history_status": [], "task_classes": [], "texts": [], "img": 0, "error_on": False}
    def handle_starttag(s, tag, attrs):
        a = dict(attrs); c = (a.get("class") or "").split()
        if tag == "img": s.f["img"] += 1
        if a.get("id") == "error": s.f["error_on"] = "on" in c
        if tag == "g" and "hist-run" in c: s.f["history"].append(int(a["data-run-id"]))
        if tag == "rect" and "dur" in c: s.f["history_status"] += [x for x in c if x.startswith("s-")]
        if tag == "g" and "lane-host" in c:
            s.f["lanes"].append(a["data-host"])
            if "idle" in c: s.f["idle"].append(a["data-host"])
        if tag == "rect" and "task" in c: s.f["tasks"] += 1; s.f["task_classes"] += [x for x in c if x.startswith("s-")]
        if tag not in ("meta", "br", "input", "img", "path", "line", "circle") or not tag:
            s.stack.append((tag, a.get("id"), c))
    def handle_endtag(s, tag):
        while s.stack:
            t = s.stack.pop()
            if t[0] == tag: break
    def handle_data(s, d):
        if not d.strip(): return
        s.f["texts"].append(d)
        ids = [t[1] for t in s.stack if t[1]]
        for i in ids: s.f["ids"][i] = s.f["ids"].get(i, "") + d
        cls = s.stack[-1][2] if s.stack else []
        if "workers-body" in ids and "host" in cls: s.f["workers"].append(d)
        if "running-body" in ids and "project" in cls: s.f["running"].append(d)
p = P(); p.feed(sys.stdin.read()); print(json.dumps(p.f))'
}

# facts NAME JQ MESSAGE : the page's facts in look NAME satisfy JQ ($hostile
# in JQ is the hostile project's name).
facts() { jq -e --arg hostile "$HOSTILE" "$2" "$T/$1.json" >/dev/null || fail "page ($1): $3 (jq: $2)"; }

note "the master cannot be read: the page says so, and keeps trying"
PAGE_URL_LIVE=$PAGE_URL
PAGE_URL=http://127.0.0.1:$STATIC_PORT # the page, and no api/ beside it
look unreachable
PAGE_URL=$PAGE_URL_LIVE
facts unreachable '.error_on and (.ids.error | test("Cannot read the master: api/status: HTTP 404")) and (.ids.error | test("Retrying"))' \
    "an error banner naming what failed"

mkdir -p "$T/src"
for p in alpha beta gamma delta epsilon zeta "$HOSTILE"; do make_file "$T/src/$p/data.bin" 2500000; done
make_file "$T/src/tiny/a" 100
M=(--listen "ipc://$T/w.sock" --control "ipc://$T/c.sock" --catalog "$T/cat.db" --heartbeat-ms 200 --attempts 1
    $(http_opt "$HTTP_PORT"))
CTL=ipc://$T/c.sock
start_bg "$T/master.log" "$BIN/multisync-master" "${M[@]}"
MASTER_PID=$LAST_PID
WORKER_PIDS=()
# 800 KB/s per rsync: a project takes about 3 s, a run of seven on 4 slots 6 s.
for w in page-a page-b; do
    start_bg "$T/worker-$w.log" "$BIN/multisync-worker" --master "ipc://$T/w.sock" --slots 2 \
        --heartbeat-ms 200 --rsync-opt=--bwlimit=800 --name "$w"
    WORKER_PIDS+=("$LAST_PID")
done
wait_workers "$CTL" 2

note "no run yet"
capture "$CTL"
look none
facts none '(.ids["run-title"] | test("No run yet")) and (.ids["history-chart"] | test("no run yet")) and (.history | length) == 0' \
    "no run yet, no history"
facts none '(.workers | sort) == ["page-a", "page-b"] and (.error_on | not)' "both workers listed"

# status_is FILE JQ : a status into FILE; true when JQ holds on it ($hostile
# in JQ: the hostile name).
status_is() {
    "$BIN/multisync" status --master "$CTL" --json >"$1" 2>/dev/null &&
        jq -e --arg hostile "$HOSTILE" "$2" "$1" >/dev/null
}

note "a run going: progress, workers, running tasks, its timeline so far"
"$BIN/multisync" run --master "$CTL" "$T/src" "$T/dst" >"$T/run1.out" 2>&1 &
RUN=$!
# Once the project named like markup runs: its name is in the running table.
wait_until 30 "run 1 going with a percent, the hostile project among its running tasks" status_is "$T/s1.json" \
    '.run.state == "running" and (.run.percent | type) == "number" and .run.tasks.running >= 2 and any(.running[]; .project == $hostile)'
capture "$CTL"
look going
facts going '(.ids["run-title"] | test("^Run 1: running for ")) and (.ids["progress-tasks"] | test("^[0-9]+/9 tasks"))' \
    "run 1 with done/total tasks"
facts going '(.ids["progress-percent"] | test("^[0-9]+(\\.[0-9])?%$")) and (.ids["progress-eta"] | length > 0)' "a percent and an ETA"
facts going '(.workers | sort) == ["page-a", "page-b"]' "the workers by name"
facts going '(.running | length) >= 2 and all(.running[]; IN("alpha", "beta", "gamma", "delta", "epsilon", "zeta", $hostile))' \
    "the running tasks by project"
facts going '.running | index($hostile)' "the project named like markup shown as its name, in a table cell"
facts going '.img == 0' "no <img> element made from a name"
grep -qF '<td class="name project" title="&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; '"'single'"'">&lt;img src=x onerror=alert(1)&gt; "quoted" '"'single'"'</td>' "$T/going.html" ||
    fail "the hostile name is not escaped text in the DOM"
facts going '.history == [1] and (.tasks >= 2) and (.task_classes | index("s-running"))' \
    "one history mark, the running tasks on the timeline"
wait "$RUN" || fail "run 1 failed: $(cat "$T/run1.out")"
same_tree "$T/src" "$T/dst"

note "run 2 fails: in the backup of beta, a folder where the source has a file"
rm "$T/dst/beta/data.bin"
mkdir -p "$T/dst/beta/data.bin/in-the-way"
echo more >>"$T/src/alpha/data.bin"
"$BIN/multisync" run --master "$CTL" "$T/src" "$T/dst" >"$T/run2.out" 2>&1 && fail "run 2 should fail"
grep -q "FAILED beta" "$T/run2.out" || fail "run 2 did not fail on beta: $(cat "$T/run2.out")"

note "a third run going into a new destination: the screenshot"
"$BIN/multisync" run --master "$CTL" "$T/src" "$T/dst2" >"$T/run3.out" 2>&1 &
RUN=$!
# Once some tasks ended and others run: the timeline has both.
wait_until 60 "run 3 going with tasks done and tasks running" status_is "$T/s3.json" \
    '.run.id == 3 and (.run.percent | type) == "number" and .run.tasks.done >= 4 and .run.tasks.running >= 1'
capture "$CTL"
look third
facts third '.history == [1, 2, 3] and (.ids["run-title"] | test("^Run 3: running"))' "three marks, run 3 going"
mkdir -p "$ROOT/build/artifacts"
chrome --screenshot="$T/status-page.png" "$PAGE_URL/" >"$T/chromium-shot.log" 2>&1 ||
    fail "no screenshot: $(tail -5 "$T/chromium-shot.log")"
[[ $(head -c 8 "$T/status-page.png" | od -An -tx1 | tr -d ' ') == 89504e470d0a1a0a ]] || fail "the screenshot is not a PNG"
(($(stat -c %s "$T/status-page.png") > 20000)) || fail "the screenshot is nearly empty"
cp "$T/status-page.png" "$ROOT/build/artifacts/status-page.png"
wait "$RUN" || fail "run 3 failed: $(cat "$T/run3.out")"

note "run 3 ended: its timeline names each task in its tooltip"
capture "$CTL"
look ended
facts ended '(.ids["run-title"] | test("the last one, run 3, ok")) and .tasks == 9 and (.task_classes | unique) == ["s-ok"]' \
    "every task of run 3 on the timeline"
facts ended '([.texts[] | select(startswith($hostile + "\n"))] | length == 1) and .img == 0' \
    "the hostile name as text in its bar's tooltip"

note "a failed run: one project cannot be copied, the others unchanged"
# Run 2 recorded what each project looked like: run 4 finds them unchanged
# (no rsync: no start on the timeline), but beta.
"$BIN/multisync" run --master "$CTL" "$T/src" "$T/dst" >"$T/run4.out" 2>&1 && fail "run 4 should fail"
capture "$CTL"
look failed
facts failed '(.ids["run-title"] | test("the last one, run 4.*failed")) and .history == [1, 2, 3, 4]' "run 4 failed, four marks"
facts failed '.task_classes == ["s-failed"] and (.ids["timeline-note"] | test("1 task on .*; 8 not shown \\(unchanged"))' \
    "the timeline shows the failed task, and says the unchanged ones are not drawn"
facts failed '(.lanes | sort) == ["page-a", "page-b"] and (.idle == ["page-a"] or .idle == ["page-b"])' \
    "a group of lanes per host, the one that took no task idle"

note "a cancelled run"
"$BIN/multisync" run --master "$CTL" "$T/src" "$T/dst3" >"$T/run5.out" 2>&1 &
RUN=$!
wait_until 30 "run 5 going with two tasks running" status_is "$T/s5.json" '.run.id == 5 and .run.tasks.running >= 2'
"$BIN/multisync" cancel 5 --master "$CTL" >/dev/null || fail "cancel 5"
wait_exit 60 "$RUN" "the cancelled run's client"
capture "$CTL"
look cancelled
facts cancelled '(.ids["run-title"] | test("the last one, run 5, cancelled")) and .history == [1, 2, 3, 4, 5]' "run 5 cancelled"
facts cancelled '.history_status == ["s-ok", "s-failed", "s-ok", "s-failed", "s-cancelled"]' "each mark in its run's colour"
facts cancelled '.task_classes | index("s-cancelled")' "the cancelled tasks on the timeline"

note "a fleet: hundreds of workers"
# (the two real workers and their master are done: less load meanwhile)
kill "${WORKER_PIDS[@]}" "$MASTER_PID"
FM=(--listen "ipc://$T/fw.sock" --control "ipc://$T/fc.sock" --catalog "$T/fcat.db" --no-split
    $(http_opt "$FLEET_HTTP_PORT"))
if ((LIVE)); then PAGE_URL=http://127.0.0.1:$FLEET_HTTP_PORT; fi
start_bg "$T/fleet-master.log" "$BIN/multisync-master" "${FM[@]}"
MASTER_PID=$LAST_PID
start_bg "$T/fleet-workers.log" "$BIN/multisync-worker" --master "ipc://$T/fw.sock" --noop-executor \
    --agents 300 --slots 4 --name fleet -q
wait_until 120 "300 simulated workers" bash -c \
    "[[ \$('$BIN/multisync' status --master ipc://$T/fc.sock --json 2>/dev/null | jq '.workers | length') == 300 ]]"
mkdir -p "$T/fsrc"
seq -f "$T/fsrc/p%04.0f" 1 1500 | xargs mkdir
"$BIN/multisync" run --master "ipc://$T/fc.sock" "$T/fsrc" "$T/fdst-unused" >/dev/null 2>&1 ||
    fail "the fleet's run failed"
capture "ipc://$T/fc.sock"
look fleet
facts fleet '(.workers | length) == 300 and (.workers | unique | length) == 300' "300 worker rows"
facts fleet '(.lanes | length) >= 300 and .tasks >= 1000 and .history == [1]' "a timeline over hundreds of hosts"
echo ok
