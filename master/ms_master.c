#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_report.h"
#include "ms_scan.h"

/* --- the queue: a ring of tasks waiting for a slot ----------------------- */

static int queue_grow(ms_master_t *m)
{
    size_t ncap = m->q_cap ? m->q_cap * 2 : 64;
    ms_trec_t **nq = malloc(ncap * sizeof *nq);
    if (!nq)
        return -1;
    for (size_t i = 0; i < m->q_len; i++)
        nq[i] = m->queue[(m->q_head + i) % m->q_cap];
    free(m->queue);
    m->queue = nq;
    m->q_cap = ncap;
    m->q_head = 0;
    return 0;
}

/* Add t at the back (new work) or the front (work a lost worker held). */
static int queue_push(ms_master_t *m, ms_trec_t *t, int front)
{
    if (m->q_len == m->q_cap && queue_grow(m) != 0)
        return -1;
    if (front) {
        m->q_head = (m->q_head + m->q_cap - 1) % m->q_cap;
        m->queue[m->q_head] = t;
    } else {
        m->queue[(m->q_head + m->q_len) % m->q_cap] = t;
    }
    m->q_len++;
    t->state = MS_TS_QUEUED;
    return 0;
}

static ms_trec_t *queue_pop(ms_master_t *m)
{
    if (m->q_len == 0)
        return NULL;
    ms_trec_t *t = m->queue[m->q_head];
    m->q_head = (m->q_head + 1) % m->q_cap;
    m->q_len--;
    return t;
}

/* Drop the queued tasks of a run that is being forgotten. */
static void queue_remove_run(ms_master_t *m, const ms_runrec_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->q_len; i++) {
        ms_trec_t *t = m->queue[(m->q_head + i) % m->q_cap];
        if (t->run != r)
            m->queue[(m->q_head + kept++) % m->q_cap] = t;
    }
    m->q_len = kept;
}

/* --- workers ------------------------------------------------------------ */

static ms_wrec_t *find_worker(const ms_master_t *m, const ms_peer_t *peer)
{
    for (size_t i = 0; i < m->n_workers; i++)
        if (ms_peer_eq(&m->workers[i]->peer, peer))
            return m->workers[i];
    return NULL;
}

unsigned ms_master_workers(const ms_master_t *m)
{
    return (unsigned)m->n_workers;
}

/* Put every task w holds back at the front of the queue. */
static void requeue_tasks_of(ms_master_t *m, const ms_wrec_t *w)
{
    for (size_t r = 0; r < m->n_runs; r++) {
        ms_runrec_t *run = m->runs[r];
        for (size_t i = 0; i < run->n_tasks && !run->finished; i++) {
            ms_trec_t *t = &run->tasks[i];
            if (t->state != MS_TS_RUNNING || strcmp(t->worker_id, w->id) != 0)
                continue;
            char name[512];
            ms_warn("task %s of run %llu requeued: worker %s (%s) is gone",
                    ms_log_safe(ms_report_project_name(t->project), name, sizeof name),
                    (unsigned long long)run->id, w->id, w->name);
            if (queue_push(m, t, 1) != 0)
                ms_error("out of memory requeueing a task");
        }
    }
}

static void remove_worker(ms_master_t *m, ms_wrec_t *w, const char *why)
{
    ms_info("worker %s (%s) left: %s", w->id, w->name, why);
    requeue_tasks_of(m, w);
    for (size_t i = 0; i < m->n_workers; i++) {
        if (m->workers[i] == w) {
            m->workers[i] = m->workers[--m->n_workers];
            break;
        }
    }
    free(w);
}

void ms_master_dismiss_workers(ms_master_t *m, const char *reason)
{
    char err[256];
    ms_msg_t bye = {.cmd = MS_CMD_BYE};
    bye.u.text.message = (char *)reason;
    while (m->n_workers > 0) {
        ms_wrec_t *w = m->workers[m->n_workers - 1];
        (void)ms_wire_send(m->wsock, &w->peer, &bye, err, sizeof err);
        remove_worker(m, w, reason);
    }
}

static void on_hello(ms_master_t *m, const ms_peer_t *peer, ms_hello_t *h)
{
    ms_wrec_t *old = find_worker(m, peer);
    if (old)
        remove_worker(m, old, "announced itself again");
    ms_wrec_t *w = calloc(1, sizeof *w);
    ms_wrec_t **nw = w ? realloc(m->workers, (m->n_workers + 1) * sizeof *nw) : NULL;
    if (!nw) {
        free(w);
        ms_error("out of memory accepting a worker");
        return;
    }
    m->workers = nw;
    w->peer = *peer;
    snprintf(w->id, sizeof w->id, "w%u", ++m->next_worker);
    ms_log_safe(h->name, w->name, sizeof w->name);
    w->slots = h->slots;
    w->last_seen_ms = ms_now_ms();
    m->workers[m->n_workers++] = w;
    ms_info("worker %s (%s) joined with %u slots", w->id, w->name, w->slots);
}

static void on_ready(ms_wrec_t *w, const ms_ready_t *r)
{
    unsigned free_slots = w->slots - w->running;
    w->credit += r->credit;
    if (w->credit > free_slots)
        w->credit = free_slots;
}

/* --- results ------------------------------------------------------------- */

static void log_result(const ms_runrec_t *run, const ms_trec_t *t, const ms_wrec_t *w)
{
    char name[512], msg[2048];
    ms_log_safe(ms_report_project_name(t->project), name, sizeof name);
    ms_log_safe(t->result.message ? t->result.message : "", msg, sizeof msg);
    if (t->state == MS_TS_OK)
        ms_info("run %llu: %s ok on %s in %.1f s%s", (unsigned long long)run->id, name, w->name,
                t->result.seconds,
                t->result.exit_code == 24 ? " (some source files vanished meanwhile)" : "");
    else
        ms_warn("run %llu: %s failed on %s (exit %d): %s", (unsigned long long)run->id, name,
                w->name, t->result.exit_code, msg);
}

static void finish_run(ms_master_t *m, ms_runrec_t *run)
{
    ms_info("run %llu finished: %zu tasks, %zu failed", (unsigned long long)run->id, run->n_tasks,
            run->n_failed);
    ms_control_run_done(m, run);
}

static void on_result(ms_master_t *m, ms_wrec_t *w, ms_result_t *res)
{
    ms_runrec_t *run = ms_master_find_run(m, res->run_id);
    ms_trec_t *t = run ? ms_run_task(run, res->task_id) : NULL;
    if (!t || t->state != MS_TS_RUNNING || t->attempts != res->attempt ||
        strcmp(t->worker_id, w->id) != 0) {
        ms_debug("ignoring result for run %llu task %llu attempt %u from %s: not in flight there",
                 (unsigned long long)res->run_id, (unsigned long long)res->task_id, res->attempt,
                 w->id);
        return;
    }
    if (w->running > 0)
        w->running--;
    w->done++;
    int release_top = ms_run_finish_task(run, t, res);
    log_result(run, t, w);
    if (release_top && queue_push(m, &run->tasks[run->n_tasks - 1], 0) != 0)
        ms_error("out of memory queueing the top task of run %llu", (unsigned long long)run->id);
    if (run->finished)
        finish_run(m, run);
}

/* --- worker messages ------------------------------------------------------ */

static void on_worker_msg(ms_master_t *m, const ms_peer_t *peer, ms_msg_t *msg)
{
    char pid[40];
    if (msg->cmd == MS_CMD_HELLO) {
        on_hello(m, peer, &msg->u.hello);
        return;
    }
    ms_wrec_t *w = find_worker(m, peer);
    if (!w) {
        ms_warn("%s from unknown peer %s refused: it must send HELLO first",
                ms_cmd_name(msg->cmd), ms_peer_str(peer, pid, sizeof pid));
        ms_wire_send_error(m->wsock, peer, "unknown worker: send HELLO first");
        return;
    }
    w->last_seen_ms = ms_now_ms();
    switch (msg->cmd) {
    case MS_CMD_READY:
        on_ready(w, &msg->u.ready);
        break;
    case MS_CMD_RESULT:
        on_result(m, w, &msg->u.result);
        break;
    case MS_CMD_HEARTBEAT:
        break;
    case MS_CMD_BYE:
        remove_worker(m, w, msg->u.text.message);
        break;
    default:
        ms_warn("worker %s (%s) sent %s, which a worker may not send", w->id, w->name,
                ms_cmd_name(msg->cmd));
        ms_wire_send_error(m->wsock, peer, "command not allowed from a worker");
    }
}

static void read_workers(ms_master_t *m)
{
    for (;;) {
        ms_peer_t peer;
        ms_msg_t msg;
        char err[512], pid[40];
        int rc = ms_wire_recv(m->wsock, 1, &peer, &msg, err, sizeof err);
        if (rc == MS_WIRE_NONE || rc == MS_WIRE_FAIL)
            return;
        if (rc == MS_WIRE_OK) {
            on_worker_msg(m, &peer, &msg);
        } else {
            ms_warn("bad message from worker peer %s: %s", ms_peer_str(&peer, pid, sizeof pid),
                    err);
            if (peer.len > 0)
                ms_wire_send_error(m->wsock, &peer, err);
        }
        ms_msg_clear(&msg);
    }
}

/* --- dispatch --------------------------------------------------------------- */

static ms_wrec_t *freest_worker(const ms_master_t *m)
{
    ms_wrec_t *best = NULL;
    for (size_t i = 0; i < m->n_workers; i++) {
        ms_wrec_t *w = m->workers[i];
        if (w->credit > 0 && (!best || w->credit > best->credit))
            best = w;
    }
    return best;
}

static int send_task(ms_master_t *m, ms_wrec_t *w, ms_trec_t *t)
{
    char err[256];
    ms_runrec_t *run = t->run;
    ms_msg_t msg = {.cmd = MS_CMD_TASK};
    msg.u.task = (ms_task_t){.run_id = run->id, .task_id = t->id, .attempt = t->attempts + 1,
                             .flags = t->flags, .project = t->project, .source = run->source,
                             .dest = run->dest};
    if (ms_wire_send(m->wsock, &w->peer, &msg, err, sizeof err) != 0) {
        ms_warn("worker %s (%s): %s", w->id, w->name, err);
        return -1;
    }
    t->attempts++;
    t->state = MS_TS_RUNNING;
    t->started_ms = ms_now_ms();
    snprintf(t->worker_id, sizeof t->worker_id, "%s", w->id);
    snprintf(t->host, sizeof t->host, "%s", w->name);
    w->credit--;
    w->running++;
    if (ms_run_note_worker(run, w->id, w->name, w->slots) != 0)
        ms_error("out of memory noting worker %s in run %llu", w->id, (unsigned long long)run->id);
    return 0;
}

static void dispatch(ms_master_t *m)
{
    ms_wrec_t *w;
    while (m->q_len > 0 && (w = freest_worker(m)) != NULL) {
        ms_trec_t *t = queue_pop(m);
        if (send_task(m, w, t) != 0) {
            queue_push(m, t, 1);
            remove_worker(m, w, "cannot be sent to");
        }
    }
}

/* --- heartbeats ------------------------------------------------------------ */

static void heartbeat(ms_master_t *m)
{
    int64_t now = ms_now_ms();
    if (now < m->next_heartbeat_ms)
        return;
    m->next_heartbeat_ms = now + m->heartbeat_ms;
    int64_t expiry = (int64_t)m->heartbeat_ms * MS_HEARTBEAT_LIVENESS;
    ms_msg_t hb = {.cmd = MS_CMD_HEARTBEAT};
    char err[256];
    for (size_t i = 0; i < m->n_workers;) {
        ms_wrec_t *w = m->workers[i];
        if (now - w->last_seen_ms > expiry) {
            remove_worker(m, w, "silent for too long (heartbeat expired)");
            continue; /* the array shifted */
        }
        if (ms_wire_send(m->wsock, &w->peer, &hb, err, sizeof err) != 0 && errno == EHOSTUNREACH) {
            remove_worker(m, w, "disconnected");
            continue;
        }
        i++;
    }
}

/* --- runs -------------------------------------------------------------------- */

ms_runrec_t *ms_master_find_run(const ms_master_t *m, uint64_t run_id)
{
    for (size_t i = 0; i < m->n_runs; i++)
        if (m->runs[i]->id == run_id)
            return m->runs[i];
    return NULL;
}

/* Forget the oldest finished run once too many are kept. */
static void trim_runs(ms_master_t *m)
{
    size_t finished = 0;
    for (size_t i = 0; i < m->n_runs; i++)
        finished += m->runs[i]->finished;
    for (size_t i = 0; i < m->n_runs && finished > MS_KEEP_FINISHED_RUNS; i++) {
        if (!m->runs[i]->finished)
            continue;
        queue_remove_run(m, m->runs[i]);
        ms_run_destroy(&m->runs[i]);
        memmove(&m->runs[i], &m->runs[i + 1], (m->n_runs - i - 1) * sizeof *m->runs);
        m->n_runs--;
        finished--;
        i--;
    }
}

static int add_run(ms_master_t *m, ms_runrec_t *r)
{
    ms_runrec_t **nr = realloc(m->runs, (m->n_runs + 1) * sizeof *nr);
    if (!nr)
        return -1;
    m->runs = nr;
    m->runs[m->n_runs++] = r;
    for (size_t i = 0; i < r->n_tasks; i++)
        if (r->tasks[i].state == MS_TS_QUEUED && queue_push(m, &r->tasks[i], 0) != 0)
            return -1;
    trim_runs(m);
    return 0;
}

int ms_master_start_run(ms_master_t *m, const char *source, const char *dest, const char *set,
                        uint64_t *run_id, char *err, size_t errlen)
{
    ms_scan_t scan;
    if (ms_scan_root(source, &scan, err, errlen) != 0)
        return -1;
    ms_runrec_t *r = ms_run_new(++m->next_run, source, dest, set, scan.projects, scan.n_projects);
    ms_scan_free(&scan);
    if (!r || add_run(m, r) != 0) {
        snprintf(err, errlen, "out of memory starting a run");
        if (r && ms_master_find_run(m, r->id) == NULL)
            ms_run_destroy(&r);
        return -1;
    }
    /* A source with only the top task still queues it: release it now. */
    if (r->n_tasks == 1)
        queue_push(m, &r->tasks[0], 0);
    *run_id = r->id;
    ms_info("run %llu started: %s -> %s, %zu tasks", (unsigned long long)r->id, source, dest,
            r->n_tasks);
    dispatch(m);
    return 0;
}

int ms_master_run_finished(const ms_master_t *m, uint64_t run_id)
{
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    return r ? r->finished : -1;
}

json_t *ms_master_report(const ms_master_t *m, uint64_t run_id)
{
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    return r ? ms_report_json(r) : NULL;
}

/* --- lifecycle and loop -------------------------------------------------------- */

static void *bind_router(void *ctx, const char *ep, char *err, size_t errlen)
{
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    if (!s || ms_wire_setup(s, 100) != 0 || zmq_bind(s, ep) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(errno));
        if (s)
            zmq_close(s);
        return NULL;
    }
    return s;
}

ms_master_t *ms_master_new(const ms_master_opts_t *o, char *err, size_t errlen)
{
    ms_master_t *m = calloc(1, sizeof *m);
    if (!m || !(m->ctx = zmq_ctx_new())) {
        snprintf(err, errlen, "out of memory");
        free(m);
        return NULL;
    }
    m->opts = *o;
    m->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : MS_HEARTBEAT_MS;
    m->wsock = bind_router(m->ctx, o->listen, err, errlen);
    if (!m->wsock || (o->control && !(m->csock = bind_router(m->ctx, o->control, err, errlen)))) {
        ms_master_destroy(&m);
        return NULL;
    }
    return m;
}

void ms_master_destroy(ms_master_t **mp)
{
    if (!mp || !*mp)
        return;
    ms_master_t *m = *mp;
    if (m->wsock) {
        ms_master_dismiss_workers(m, "master shutting down");
        zmq_close(m->wsock);
    }
    if (m->csock)
        zmq_close(m->csock);
    if (m->ctx)
        zmq_ctx_term(m->ctx);
    for (size_t i = 0; i < m->n_runs; i++)
        ms_run_destroy(&m->runs[i]);
    free(m->runs);
    free(m->workers);
    free(m->queue);
    free(m->waiters);
    free(m);
    *mp = NULL;
}

int ms_master_poll(ms_master_t *m, int timeout_ms)
{
    zmq_pollitem_t items[2] = {{m->wsock, 0, ZMQ_POLLIN, 0}, {m->csock, 0, ZMQ_POLLIN, 0}};
    int n = m->csock ? 2 : 1;
    int64_t until_hb = m->next_heartbeat_ms - ms_now_ms();
    if (until_hb < 0)
        until_hb = 0;
    if (timeout_ms < 0 || timeout_ms > until_hb)
        timeout_ms = (int)until_hb;
    if (zmq_poll(items, n, timeout_ms) < 0)
        return -1;
    if (items[0].revents & ZMQ_POLLIN)
        read_workers(m);
    if (n > 1 && (items[1].revents & ZMQ_POLLIN))
        ms_control_handle(m);
    heartbeat(m);
    dispatch(m);
    return 0;
}
