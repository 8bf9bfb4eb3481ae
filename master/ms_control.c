/*
 * ms_control.c - the master's control service: runs requested by clients
 * (`multisync run --master`, `multisync restore --master`), waits for their
 * end, cancels, and status queries (status, history, reports, a set's
 * snapshots).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_diag.h"
#include "ms_err.h"
#include "ms_log.h"
#include "ms_rc.h"
#include "ms_master_int.h"
#include "ms_label.h"
#include "ms_path.h"
#include "ms_progress.h"
#include "ms_jnum.h"
#include "ms_report.h"
#include "ms_snapshot.h"
#include "ms_utf8.h"

static void reply(ms_master_t *m, const ms_peer_t *peer, ms_msg_t *msg)
{
    char err[256], pid[40];
    if (ms_wire_send(m->csock, peer, msg, err, sizeof err) != 0)
        ms_warn("control client %s: %s", ms_peer_str(peer, pid, sizeof pid), err);
}

/* Send j (consumed) as JSON text: RUN_DONE for run_id when cmd says so,
 * else STATUS_REPLY. */
static void send_json_as(ms_master_t *m, const ms_peer_t *peer, int cmd, uint64_t run_id, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | MS_JNUM_DUMP) : NULL;
    json_decref(j);
    if (!text || strlen(text) > MS_MAX_JSON) {
        ms_wire_send_error(m->csock, peer, "answer too large or out of memory");
        free(text);
        return;
    }
    ms_msg_t msg = {.cmd = cmd};
    if (cmd == MS_CMD_RUN_DONE) {
        msg.u.runref.run_id = run_id;
        msg.u.runref.report = text;
    } else {
        msg.u.json.json = text;
    }
    reply(m, peer, &msg);
    free(text);
}

static void send_report(ms_master_t *m, const ms_peer_t *peer, uint64_t run_id, json_t *rep)
{
    send_json_as(m, peer, MS_CMD_RUN_DONE, run_id, rep);
}

static void send_json(ms_master_t *m, const ms_peer_t *peer, json_t *j)
{
    send_json_as(m, peer, MS_CMD_STATUS_REPLY, 0, j);
}

/* Task rows in one RUN_DONE: a report holds a page of them; a client asks
 * for the others with REPORT (from, count). */
#define REPORT_PAGE 2000
/* Status lists at most this many running tasks, the longest-running first:
 * a fleet of 1,000 workers of 16 slots runs 16,000 at once, and listing
 * them all made each status a few MB of JSON (running_total counts all). */
#define STATUS_RUNNING_MAX 100

static size_t page_size(uint32_t count)
{
    return count == 0 || count > REPORT_PAGE ? REPORT_PAGE : count;
}

static void send_run_done(ms_master_t *m, const ms_peer_t *peer, ms_runrec_t *r)
{
    send_report(m, peer, r->id, ms_report_json_page(m->report, r, 0, REPORT_PAGE, 0));
}

static int add_waiter(ms_master_t *m, const ms_peer_t *peer, uint64_t run_id)
{
    for (size_t i = 0; i < m->n_waiters; i++)
        if (m->waiters[i].run_id == run_id && ms_peer_eq(&m->waiters[i].peer, peer))
            return 0; /* a client saying WAIT again while it waits */
    ms_waiter_t *nw = realloc(m->waiters, (m->n_waiters + 1) * sizeof *nw);
    if (!nw)
        return -1;
    m->waiters = nw;
    m->waiters[m->n_waiters].peer = *peer;
    m->waiters[m->n_waiters].run_id = run_id;
    m->n_waiters++;
    return 0;
}

void ms_control_run_done(ms_master_t *m, ms_runrec_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->n_waiters; i++) {
        if (m->waiters[i].run_id == r->id)
            send_run_done(m, &m->waiters[i].peer, r);
        else
            m->waiters[kept++] = m->waiters[i];
    }
    m->n_waiters = kept;
}

static const ms_set_t *set_of(const ms_master_t *m, const ms_msg_t *msg)
{
    return msg->u.run.set && m->opts.config ? ms_config_find_set(m->opts.config, msg->u.run.set)
                                            : NULL;
}

/* What a restore names: the backup (a set's destination, or an absolute
 * path), what to restore from it, and the folder to restore into. */
static int resolve_restore(const ms_master_t *m, const ms_msg_t *msg, const char **src,
                           const char **dst, char *err, size_t errlen)
{
    const ms_set_t *s = set_of(m, msg);
    if (msg->u.run.set && !s)
        return ms_errf(err, errlen, "no backup set named '%s' in the master's config",
                       msg->u.run.set);
    *src = s ? s->dest : msg->u.run.source;
    *dst = msg->u.run.dest;
    if (!*src || !*dst || (*dst)[0] != '/' || !msg->u.run.path)
        return ms_errf(err, errlen,
                       "a restore needs a set name or an absolute backup, a PROJECT[/PATH] and "
                       "an absolute folder to restore into");
    return 0;
}

/* Resolve what a RUN names: a configured set, or a source and destination. */
static int resolve_run(const ms_master_t *m, const ms_msg_t *msg, const char **src,
                       const char **dst, char *err, size_t errlen)
{
    const char *set = msg->u.run.set;
    if (msg->u.run.flags & MS_RUN_RESTORE)
        return resolve_restore(m, msg, src, dst, err, errlen);
    if (set) {
        const ms_set_t *s = m->opts.config ? ms_config_find_set(m->opts.config, set) : NULL;
        if (!s) {
            snprintf(err, errlen, "no backup set named '%s' in the master's config", set);
            return -1;
        }
        *src = s->source;
        *dst = s->dest;
        return 0;
    }
    *src = msg->u.run.source;
    *dst = msg->u.run.dest;
    /* A relative destination would be relative to each worker's own working
     * folder: refused here, not only by the multisync client. */
    if (!*src || !*dst || (*src)[0] != '/' || ((*dst)[0] != '/' && !ms_path_is_remote(*dst))) {
        snprintf(err, errlen,
                 "a run needs a set name, or an absolute source and an absolute "
                 "or remote destination");
        return -1;
    }
    return 0;
}

/* Run flags: those the client asked for, or the set's (not for a restore,
 * which only reads the set's backup). */
static int resolve_flags(const ms_master_t *m, const ms_msg_t *msg, uint32_t *flags)
{
    const ms_set_t *s = (msg->u.run.flags & MS_RUN_RESTORE) ? NULL : set_of(m, msg);
    *flags = msg->u.run.flags | (s && s->delete ? MS_RUN_DELETE : 0) |
             (s && s->snapshots ? MS_RUN_SNAPSHOT : 0);
    if ((*flags & MS_RUN_SNAPSHOT) && (*flags & MS_RUN_DELETE))
        *flags &= ~(uint32_t)MS_RUN_DELETE; /* a snapshot is exact anyway */
    return (*flags & ~(uint32_t)MS_RUN_FLAGS_KNOWN) ? -1 : 0;
}

/* Retention: the rules the client sent, else the set's. */
static ms_keep_t resolve_keep(const ms_master_t *m, const ms_msg_t *msg)
{
    const ms_run_t *q = &msg->u.run;
    ms_keep_t k = {q->keep_last,   q->keep_hourly,  q->keep_daily,
                   q->keep_weekly, q->keep_monthly, q->keep_yearly};
    const ms_set_t *s = (q->flags & MS_RUN_RESTORE) ? NULL : set_of(m, msg);
    return !ms_keep_any(&k) && s ? s->keep : k;
}

/* Who sent a request, for the log: the admin key CURVE authenticated, else
 * on an ipc:// socket the uid and pid the kernel gives for the client
 * (SO_PEERCRED), else its address. */
static const char *who(const ms_master_t *m, const ms_peer_t *peer, char *out, size_t outlen)
{
    unsigned long uid, gid, pid;
    char safe[4 * sizeof peer->address];
    int ipc = m->opts.control && strncmp(m->opts.control, "ipc://", 6) == 0;
    if (peer->user_id[0])
        snprintf(out, outlen, "key '%s'", ms_log_safe(peer->user_id, safe, sizeof safe));
    else if (ipc && ms_peer_ipc_cred(peer, &uid, &gid, &pid) == 0)
        snprintf(out, outlen, "uid %lu (pid %lu)", uid, pid);
    else if (peer->address[0])
        snprintf(out, outlen, "%s", ms_log_safe(peer->address, safe, sizeof safe));
    else
        snprintf(out, outlen, "an unknown client");
    return out;
}

static void on_run(ms_master_t *m, const ms_peer_t *peer, const ms_msg_t *msg)
{
    const char *src = NULL, *dst = NULL;
    char err[1024] = "", by[512];
    uint64_t id = 0;
    uint32_t flags = 0;
    int rc = MS_RC_USAGE;
    if (resolve_flags(m, msg, &flags) != 0) {
        ms_wire_send_error(m->csock, peer, "unknown run flags");
        return;
    }
    if (resolve_run(m, msg, &src, &dst, err, sizeof err) == 0) {
        ms_run_req_t req = {src,
                            dst,
                            msg->u.run.set,
                            flags,
                            msg->u.run.wait_s,
                            resolve_keep(m, msg),
                            msg->u.run.snapshot,
                            msg->u.run.path};
        rc = ms_master_start_run(m, &req, &id, err, sizeof err);
        if (rc == 0)
            err[0] = '\0';
        else if (!err[0])
            snprintf(err, sizeof err, "the run could not start");
    }
    if (err[0]) {
        ms_warn("run refused (asked by %s): %s", who(m, peer, by, sizeof by), err);
        ms_wire_send_refusal(m->csock, peer, err, (unsigned)rc);
        return;
    }
    ms_info("run %llu started by %s", (unsigned long long)id, who(m, peer, by, sizeof by));
    ms_msg_t started = {.cmd = MS_CMD_RUN_STARTED};
    started.u.runref.run_id = id;
    reply(m, peer, &started);
    if (add_waiter(m, peer, id) != 0)
        ms_error("out of memory adding a waiter for run %llu", (unsigned long long)id);
}

static void on_wait(ms_master_t *m, const ms_peer_t *peer, uint64_t run_id)
{
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    json_t *rep = r ? NULL : ms_master_report_page(m, run_id, 0, REPORT_PAGE); /* older run */
    if (!r && !rep) {
        char text[128];
        snprintf(text, sizeof text, "no run %llu on this master", (unsigned long long)run_id);
        ms_wire_send_error(m->csock, peer, text);
    } else if (rep) {
        send_report(m, peer, run_id, rep);
    } else if (r->finished && !ms_hookrun_waits(m, r)) {
        send_run_done(m, peer, r);
    } else if (add_waiter(m, peer, run_id) != 0) {
        ms_wire_send_error(m->csock, peer, "out of memory");
    }
}

/* Cancel a run (`multisync cancel`, Ctrl-C on its client): answered by
 * what was done to it, or an ERROR saying why not (unknown, or it ended). */
static void on_cancel(ms_master_t *m, const ms_peer_t *peer, uint64_t run_id)
{
    char err[256], by[512];
    size_t stopped, dropped;
    if (ms_master_cancel_run(m, run_id, &stopped, &dropped, err, sizeof err) != 0) {
        ms_wire_send_error(m->csock, peer, err);
        return;
    }
    ms_info("run %llu cancelled by %s", (unsigned long long)run_id, who(m, peer, by, sizeof by));
    send_json(m, peer,
              json_pack("{s:I, s:I, s:I}", "run_id", (json_int_t)run_id, "running",
                        (json_int_t)stopped, "queued", (json_int_t)dropped));
}

static double percent_used(const ms_heartbeat_t *h)
{
    return h->mem_total ? 100.0 * (double)(h->mem_total - h->mem_available) / h->mem_total : 0.0;
}

static json_t *cores_json(const ms_heartbeat_t *h)
{
    json_t *a = json_array();
    for (const char *c = h->cores; a && c && *c; c++)
        json_array_append_new(a, json_integer((unsigned char)*c - 1));
    return a;
}

static json_t *worker_counters(const ms_wrec_t *w, int64_t now, char *name, size_t namelen)
{
    return json_pack(
        "{s:s, s:s, s:i, s:i, s:b, s:f, s:o, s:f, s:f, s:I, s:I, s:f, s:I, s:I, "
        "s:I, s:f}",
        "id", w->id, "host", ms_utf8_clean(w->name, name, namelen), "slots", (int)w->slots, "busy",
        (int)w->running, "draining", w->draining, "cpu_percent", ms_jnum_pct(w->host.cpu_percent),
        "cores", cores_json(&w->host), "load1", ms_jnum_cents(w->host.load1), "mem_used_percent",
        ms_jnum_pct(percent_used(&w->host)), "disk_read_bps", ms_jnum_whole(w->disk_read_bps),
        "disk_write_bps", ms_jnum_whole(w->disk_write_bps), "disk_busy_percent",
        ms_jnum_pct(w->disk_busy_percent), "net_sent_bps", ms_jnum_whole(w->net_sent_bps),
        "net_recv_bps", ms_jnum_whole(w->net_recv_bps), "tasks_done", (json_int_t)w->done,
        "last_seen_s", ms_jnum_ms((double)(now - w->last_seen_ms) / 1000.0));
}

/* The host's own counters since it booted, as its last sample read them:
 * what a Prometheus counter wants (ms_metrics.h), where the rates above
 * are for a person. */
static void host_totals(json_t *o, const ms_wrec_t *w)
{
    json_object_set_new(o, "disk_read_bytes", json_integer((json_int_t)w->host.disk_read_bytes));
    json_object_set_new(o, "disk_write_bytes", json_integer((json_int_t)w->host.disk_write_bytes));
    json_object_set_new(o, "net_sent_bytes", json_integer((json_int_t)w->host.net_sent_bytes));
    json_object_set_new(o, "net_recv_bytes", json_integer((json_int_t)w->host.net_recv_bytes));
}

static json_t *worker_status(const ms_wrec_t *w, int64_t now)
{
    char name[4 * MS_MAX_NAME + 8], rsync[4 * MS_MAX_NAME + 8], broken[4 * sizeof w->broken];
    json_t *o = worker_counters(w, now, name, sizeof name);
    host_totals(o, w);
    json_object_set_new(o, "rsync", json_string(ms_utf8_clean(w->rsync, rsync, sizeof rsync)));
    json_object_set_new(o, "unconfined", ms_diag_unconfined_json(w->unconfined));
    json_object_set_new(o, "broken",
                        w->broken[0] ? json_string(ms_utf8_clean(w->broken, broken, sizeof broken))
                                     : json_null());
    return o;
}

/* The hook r waits on now ({"name": "pre_run", "elapsed_s": 3.2}), or null. */
static json_t *hook_status(const ms_master_t *m, const ms_runrec_t *r)
{
    double elapsed = 0;
    const char *name = ms_hooks_running(m->hooks, r->id, &elapsed);
    return name ? json_pack("{s:s, s:f}", "name", name, "elapsed_s", ms_jnum_ms(elapsed))
                : json_null();
}

/* Whether r is still going: its tasks, or the hooks after its end. */
static int going(const ms_master_t *m, const ms_runrec_t *r)
{
    return !r->finished || ms_hookrun_waits(m, r);
}

/* A run going on; with its diagnosis (a verdict and figures per host: for
 * 1,000 workers a third of a MB of JSON) when diag. */
static json_t *run_status(const ms_master_t *m, const ms_runrec_t *r, int diag)
{
    struct timespec now;
    char set[4 * MS_MAX_NAME + 8];
    clock_gettime(CLOCK_REALTIME, &now);
    double elapsed = (double)(now.tv_sec - r->started_rt.tv_sec) +
                     (double)(now.tv_nsec - r->started_rt.tv_nsec) / 1e9;
    json_t *o = json_pack("{s:I, s:s?, s:s, s:f}", "id", (json_int_t)r->id, "set",
                          r->set ? ms_utf8_clean(r->set, set, sizeof set) : NULL, "state",
                          ms_run_status(r), "elapsed_s", ms_jnum_ms(elapsed));
    if (o && diag)
        json_object_set_new(o, "diagnosis", ms_diag_json(m->diag, r));
    json_t *p =
        ms_progress_json(r, m->unchanged, ms_planner_walking(m->planner, r), ms_now_ms(), elapsed);
    if (o && p)
        json_object_update(o, p);
    json_decref(p);
    json_object_set_new(o, "hook", hook_status(m, r));
    return o;
}

static json_t *running_json(const ms_trec_t *t, int64_t now)
{
    char name[4 * MS_MAX_PATH], host[4 * MS_MAX_NAME + 8], part[1024], clean[4 * 1024];
    ms_utf8_clean(ms_label_part(t, part, sizeof part), clean, sizeof clean);
    return json_pack(
        "{s:I, s:s, s:s, s:s, s:i, s:f, s:I, s:I}", "run_id", (json_int_t)t->run->id, "project",
        ms_utf8_clean(ms_label_project(t->project), name, sizeof name), "part", clean, "host",
        ms_utf8_clean(t->host, host, sizeof host), "attempt", (int)t->attempts, "elapsed_s",
        ms_jnum_ms(t->started_ms ? (double)(now - t->started_ms) / 1000.0 : 0.0), "bytes_done",
        (json_int_t)t->bytes_done, "bytes_expected", (json_int_t)t->expected_bytes);
}

static int started_first(const void *a, const void *b)
{
    int64_t x = (*(const ms_trec_t *const *)a)->started_ms;
    int64_t y = (*(const ms_trec_t *const *)b)->started_ms;
    return (x > y) - (x < y);
}

/* The running tasks of the runs going on, the longest-running first, at
 * most STATUS_RUNNING_MAX of them; *total: how many run. */
static json_t *running_list(const ms_master_t *m, int64_t now, size_t *total)
{
    json_t *arr = json_array();
    size_t n = 0, cap = 0;
    for (size_t r = 0; r < m->n_runs; r++)
        cap += m->runs[r]->finished ? 0 : m->runs[r]->n_in[MS_TS_RUNNING];
    const ms_trec_t **all = malloc((cap ? cap : 1) * sizeof *all);
    for (size_t r = 0; all && r < m->n_runs; r++) {
        const ms_runrec_t *run = m->runs[r];
        for (size_t i = 0; !run->finished && i < run->n_tasks && n < cap; i++)
            if (ms_run_at(run, i)->state == MS_TS_RUNNING)
                all[n++] = ms_run_at(run, i);
    }
    if (all)
        qsort(all, n, sizeof *all, started_first);
    for (size_t i = 0; i < n && i < STATUS_RUNNING_MAX; i++)
        json_array_append_new(arr, running_json(all[i], now));
    free(all);
    *total = n;
    return arr;
}

/* A finished run's outcome without its (maybe 100,000) task rows: the
 * totals, the diagnosis and the tasks that failed. */
static json_t *last_run_summary(const ms_master_t *m, const ms_runrec_t *r)
{
    json_t *rep = ms_report_json_page(m->report, r, 0, REPORT_PAGE, 1);
    if (rep) {
        json_object_set(rep, "failed_tasks", json_object_get(rep, "tasks"));
        json_object_del(rep, "tasks");
        /* The page's keys name "tasks": say how many failed rows there are. */
        json_t *total = json_object_get(rep, "tasks_total");
        if (total)
            json_object_set(rep, "failed_tasks_total", total);
        json_object_del(rep, "tasks_total");
        json_object_del(rep, "tasks_from");
    }
    return rep;
}

/* The newest run that is still going, else the newest one. */
static const ms_runrec_t *current_run(const ms_master_t *m, int *is_going)
{
    const ms_runrec_t *last = NULL;
    *is_going = 0;
    for (size_t i = 0; i < m->n_runs; i++) {
        if (going(m, m->runs[i])) {
            *is_going = 1;
            return m->runs[i];
        }
        last = m->runs[i];
    }
    return last;
}

json_t *ms_master_status(const ms_master_t *m)
{
    json_t *workers = json_array(), *active = json_array();
    int64_t now = ms_now_ms();
    int is_going;
    size_t n_running;
    for (size_t i = 0; i < ms_fleet_count(m->fleet); i++)
        json_array_append_new(workers, worker_status(ms_fleet_at(m->fleet, i), now));
    const ms_runrec_t *cur = current_run(m, &is_going);
    json_t *run = is_going ? run_status(m, cur, 1) : json_null();
    /* Each run going, without its diagnosis: the current one (the first
     * going) has it in "run", any other in its report. */
    for (size_t i = 0; i < m->n_runs; i++) {
        json_t *r = NULL;
        if (is_going && m->runs[i] == cur && (r = json_copy(run)) != NULL)
            json_object_del(r, "diagnosis");
        else if (going(m, m->runs[i]))
            r = run_status(m, m->runs[i], 0);
        if (r)
            json_array_append_new(active, r);
    }
    json_t *running = running_list(m, now, &n_running);
    json_t *last = !is_going && cur ? last_run_summary(m, cur) : json_null();
    return json_pack("{s:o, s:o, s:o, s:o, s:I, s:o, s:I}", "run", run, "runs", active, "workers",
                     workers, "running", running, "running_total", (json_int_t)n_running,
                     "last_run", last, "queued",
                     (json_int_t)(ms_queue_ready(m->queue) + ms_queue_delayed(m->queue)));
}

static void on_status(ms_master_t *m, const ms_peer_t *peer)
{
    send_json(m, peer, ms_master_status(m));
}

/* The report of any run, finished or not, now. */
static void on_report(ms_master_t *m, const ms_peer_t *peer, const ms_runref_t *ref)
{
    uint64_t run_id = ref->run_id;
    json_t *rep = ms_master_report_page(m, run_id, ref->from, page_size(ref->count));
    if (!rep) {
        char text[128];
        snprintf(text, sizeof text, "no run %llu on this master", (unsigned long long)run_id);
        ms_wire_send_error(m->csock, peer, text);
        return;
    }
    send_report(m, peer, run_id, rep);
}

json_t *ms_master_history(const ms_master_t *m, unsigned n, char *err, size_t errlen)
{
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    if (!cat) {
        ms_errf(err, errlen, "this master keeps no catalog (no history)");
        return NULL;
    }
    return ms_catalog_history(cat, n, err, errlen);
}

static void on_history(ms_master_t *m, const ms_peer_t *peer, uint32_t n)
{
    char err[512];
    json_t *h = ms_master_history(m, n, err, sizeof err);
    if (!h) {
        ms_wire_send_error(m->csock, peer, err);
        return;
    }
    send_json(m, peer, h);
}

/* The snapshots of a set's destination, as the master sees it. */
static void on_snapshots(ms_master_t *m, const ms_peer_t *peer, const char *set)
{
    char err[1024];
    const ms_set_t *s = m->opts.config ? ms_config_find_set(m->opts.config, set) : NULL;
    json_t *list = NULL;
    if (!s)
        snprintf(err, sizeof err, "no backup set named '%s' in the master's config", set);
    else if (!s->snapshots)
        snprintf(err, sizeof err,
                 "set '%s' takes no snapshots (no snapshots = yes in the master's config): its "
                 "destination %s is a mirror",
                 set, s->dest);
    else
        list = ms_snapshot_list(s->dest, err, sizeof err);
    if (!list) {
        ms_wire_send_error(m->csock, peer, err);
        return;
    }
    send_json(m, peer, list);
}

static void on_control_msg(ms_master_t *m, const ms_peer_t *peer, const ms_msg_t *msg)
{
    switch (msg->cmd) {
    case MS_CMD_RUN:
        on_run(m, peer, msg);
        break;
    case MS_CMD_WAIT:
        on_wait(m, peer, msg->u.runref.run_id);
        break;
    case MS_CMD_STATUS:
        on_status(m, peer);
        break;
    case MS_CMD_REPORT:
        on_report(m, peer, &msg->u.runref);
        break;
    case MS_CMD_HISTORY:
        on_history(m, peer, msg->u.history.n);
        break;
    case MS_CMD_SNAPSHOTS:
        on_snapshots(m, peer, msg->u.setref.set);
        break;
    case MS_CMD_CANCEL_RUN:
        on_cancel(m, peer, msg->u.runref.run_id);
        break;
    case MS_CMD_HEARTBEAT:
        break;
    default:
        if (ms_guard_log_once(m->guard, peer, "cmd"))
            ms_warn("control client sent %s, which is not a control command",
                    ms_cmd_name(msg->cmd));
        ms_wire_send_error(m->csock, peer, "not a control command");
    }
}

/* A turn of the loop answers control messages for at most this long (and
 * at least one): a client that keeps requests in flight (`multisync
 * report` asks 4 pages ahead) must not keep the loop from its workers. A
 * report of 200,000 rows took 4 s in pages of about 40 ms each, and 1,000
 * workers went unread that long, past their lease. */
#define CONTROL_SLICE_MS 20

void ms_control_handle(ms_master_t *m)
{
    int64_t until = ms_now_ms() + CONTROL_SLICE_MS;
    for (int n = 0; n == 0 || ms_now_ms() < until; n++) {
        ms_peer_t peer;
        ms_msg_t msg;
        char err[512], pid[40];
        int rc = ms_wire_recv(m->csock, 1, &peer, &msg, err, sizeof err);
        if (rc == MS_WIRE_NONE || rc == MS_WIRE_FAIL)
            return;
        if (rc == MS_WIRE_OK && ms_guard_allowed(m->guard, &peer, "control")) {
            on_control_msg(m, &peer, &msg);
        } else if (rc != MS_WIRE_OK) {
            if (ms_guard_log_once(m->guard, &peer, "bad"))
                ms_warn("bad control message from %s: %s", ms_peer_str(&peer, pid, sizeof pid),
                        err);
            if (peer.len > 0)
                ms_wire_send_error(m->csock, &peer, err);
        }
        ms_msg_clear(&msg);
    }
}
