/*
 * ms_sched.c - the master's queue and dispatch.
 *
 * Ready tasks wait in a heap, longest expected first (retries of tasks a
 * lost worker held go first of all); tasks that failed transiently wait in
 * a delayed list until their backoff ends. Dispatch assigns ready tasks to the workers with the most
 * free credit, preferring for a retry a worker on another host than the one
 * it failed on, persists every assignment, and only then sends the TASKs:
 * a task is in the catalog before any worker can start it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_report.h"

static int queue_grow(ms_master_t *m)
{
    size_t ncap = m->q_cap ? m->q_cap * 2 : 64;
    ms_trec_t **nq = realloc(m->queue, ncap * sizeof *nq);
    if (!nq)
        return -1;
    m->queue = nq;
    m->q_cap = ncap;
    return 0;
}

/* Whether a goes before b: retries first, then tasks never seen before by
 * their cost from the walk, then the others by their duration last time
 * (longest first: a long task started last would set the run's end), and
 * among equals the first queued. */
static double queue_key(const ms_trec_t *t)
{
    return t->qclass == 2 ? 0 : t->expected_known ? t->expected_seconds : t->cost;
}

static int goes_before(const ms_trec_t *a, const ms_trec_t *b)
{
    if (a->qclass != b->qclass)
        return a->qclass > b->qclass;
    double ka = queue_key(a), kb = queue_key(b);
    if (ka != kb)
        return ka > kb;
    return a->qseq < b->qseq;
}

static void sift_up(ms_master_t *m, size_t i)
{
    ms_trec_t **q = m->queue;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!goes_before(q[i], q[p]))
            break;
        ms_trec_t *x = q[i];
        q[i] = q[p];
        q[p] = x;
        i = p;
    }
}

static void sift_down(ms_master_t *m, size_t i)
{
    ms_trec_t **q = m->queue;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < m->q_len && goes_before(q[l], q[best]))
            best = l;
        if (r < m->q_len && goes_before(q[r], q[best]))
            best = r;
        if (best == i)
            return;
        ms_trec_t *x = q[i];
        q[i] = q[best];
        q[best] = x;
        i = best;
    }
}

int ms_sched_push(ms_master_t *m, ms_trec_t *t, int front)
{
    if (m->q_len == m->q_cap && queue_grow(m) != 0) {
        ms_error("out of memory queueing a task");
        return -1;
    }
    t->qclass = front ? 2 : t->expected_known ? 0 : 1;
    t->qseq = m->q_seq++;
    m->queue[m->q_len++] = t;
    sift_up(m, m->q_len - 1);
    t->state = MS_TS_QUEUED;
    return 0;
}

/* Take the first task out. */
static ms_trec_t *queue_pop(ms_master_t *m)
{
    ms_trec_t *t = m->queue[0];
    m->queue[0] = m->queue[--m->q_len];
    if (m->q_len)
        sift_down(m, 0);
    return t;
}

void ms_sched_delay(ms_master_t *m, ms_trec_t *t, int64_t until_ms)
{
    if (m->n_delayed == m->cap_delayed) {
        size_t ncap = m->cap_delayed ? m->cap_delayed * 2 : 16;
        ms_trec_t **nd = realloc(m->delayed, ncap * sizeof *nd);
        if (!nd) {
            ms_error("out of memory delaying a retry: retrying at once");
            ms_sched_push(m, t, 0);
            return;
        }
        m->delayed = nd;
        m->cap_delayed = ncap;
    }
    t->state = MS_TS_QUEUED;
    t->not_before_ms = until_ms;
    m->delayed[m->n_delayed++] = t;
}

void ms_sched_release_due(ms_master_t *m)
{
    int64_t now = ms_now_ms();
    size_t kept = 0;
    for (size_t i = 0; i < m->n_delayed; i++) {
        ms_trec_t *t = m->delayed[i];
        if (t->not_before_ms <= now)
            ms_sched_push(m, t, 1);
        else
            m->delayed[kept++] = t;
    }
    m->n_delayed = kept;
}

void ms_sched_remove_run(ms_master_t *m, const ms_runrec_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->q_len; i++)
        if (m->queue[i]->run != r)
            m->queue[kept++] = m->queue[i];
    m->q_len = kept;
    for (size_t i = m->q_len / 2; i-- > 0;)
        sift_down(m, i);
    kept = 0;
    for (size_t i = 0; i < m->n_delayed; i++)
        if (m->delayed[i]->run != r)
            m->delayed[kept++] = m->delayed[i];
    m->n_delayed = kept;
}

void ms_sched_requeue(ms_master_t *m, ms_trec_t *t, const char *why)
{
    char name[512];
    ms_warn("run %llu: %s requeued: %s", (unsigned long long)t->run->id,
            ms_report_task_log(t, name, sizeof name), why);
    t->orphan = 0;
    ms_sched_push(m, t, 1);
    ms_cat_task(m, t);
}

/* --- dispatch ------------------------------------------------------------ */

static ms_wrec_t *freest(const ms_master_t *m, const char *avoid_host)
{
    ms_wrec_t *best = NULL;
    for (size_t i = 0; i < m->n_workers; i++) {
        ms_wrec_t *w = m->workers[i];
        if (w->credit == 0 || !ms_worker_usable(w) ||
            (avoid_host && strcmp(w->name, avoid_host) == 0))
            continue;
        if (!best || w->credit > best->credit)
            best = w;
    }
    return best;
}

/* The worker for t: another host than the one it failed on, if one is free. */
static ms_wrec_t *pick_worker(const ms_master_t *m, const ms_trec_t *t)
{
    ms_wrec_t *w = t->failed_on[0] ? freest(m, t->failed_on) : NULL;
    return w ? w : freest(m, NULL);
}

static void assign(ms_master_t *m, ms_wrec_t *w, ms_trec_t *t)
{
    t->attempts++;
    t->state = MS_TS_RUNNING;
    t->started_ms = ms_now_ms();
    snprintf(t->worker_id, sizeof t->worker_id, "%s", w->id);
    t->host = ms_run_intern(t->run, w->name);
    w->credit--;
    w->running++;
    if (ms_run_note_worker(t->run, w->id, w->name, w->slots, w->unconfined) != 0)
        ms_error("out of memory noting worker %s", w->id);
    ms_cat_task(m, t);
}

/* Undo assign() for a task that could not be made durable or sent. */
static void unassign(ms_master_t *m, ms_wrec_t *w, ms_trec_t *t)
{
    t->attempts--;
    if (w) {
        w->credit++;
        w->running--;
    }
    /* Nor did the host get it: its count in the run's report goes back. */
    ms_run_worker_t *rw = ms_run_worker(t->run, t->host);
    if (rw && rw->tasks > 0) {
        rw->tasks--;
        t->run->workers_dirty = 1;
    }
    ms_sched_push(m, t, 1);
    ms_cat_task(m, t);
}

static int send_task(ms_master_t *m, ms_wrec_t *w, ms_trec_t *t)
{
    char err[256];
    ms_runrec_t *run = t->run;
    ms_msg_t msg = {.cmd = MS_CMD_TASK};
    uint32_t flags = t->flags | ((run->flags & MS_RUN_DELETE) ? MS_TASK_DELETE : 0);
    /* The top task runs last: once every project's copy succeeded, it also
     * removes the backups of projects gone from the source (ms_prune.h). */
    if ((t->flags & MS_TASK_TOP) && (run->flags & MS_RUN_DELETE) && run->n_failed == 0)
        flags |= MS_TASK_PRUNE | ((run->flags & MS_RUN_FORCE_DELETE) ? MS_TASK_FORCE : 0);
    msg.u.task = (ms_task_t){.run_id = run->id, .task_id = t->id, .attempt = t->attempts,
                             .flags = flags, .project = t->project, .source = run->source,
                             .dest = run->dest, .timeout_s = m->opts.task_timeout_s,
                             .sub = t->sub ? t->sub : "", .items = t->items,
                             .n_items = t->n_items, .excl = t->excl, .n_excl = t->n_excl,
                             .match = t->match, .n_match = t->n_match, .xmatch = t->xmatch,
                             .n_xmatch = t->n_xmatch};
    if (ms_wire_send(m->wsock, &w->peer, &msg, err, sizeof err) != 0) {
        ms_warn("worker %s (%s): %s", w->id, w->name, err);
        return -1;
    }
    return 0;
}

/* Tasks the workers may be sent now: their free credit. */
static size_t total_credit(const ms_master_t *m)
{
    size_t credit = 0;
    for (size_t i = 0; i < m->n_workers; i++) {
        const ms_wrec_t *w = m->workers[i];
        if (ms_worker_usable(w))
            credit += w->credit;
    }
    return credit;
}

void ms_sched_dispatch(ms_master_t *m)
{
    if (m->stopping)
        return;
    ms_sched_release_due(m);
    size_t n = 0, credit = total_credit(m);
    size_t cap = m->q_len < credit ? m->q_len : credit;
    if (cap == 0)
        return; /* the common turn: nothing to hand out, nothing to allocate */
    ms_trec_t **batch = malloc(cap * sizeof *batch);
    if (!batch)
        return;
    /* Assign first, in queue order, while any worker has credit. */
    while (m->q_len > 0 && n < cap) {
        ms_wrec_t *w = pick_worker(m, m->queue[0]);
        if (!w)
            break;
        ms_trec_t *t = queue_pop(m);
        assign(m, w, t);
        batch[n++] = t;
    }
    /* Durable before sent: if the catalog cannot take it, send nothing. */
    int durable = ms_cat_flush(m) == 0;
    for (size_t i = n; i-- > 0;) {
        ms_trec_t *t = batch[i];
        ms_wrec_t *w = ms_worker_by_id(m, t->worker_id);
        if (!durable || !w || w->unreachable) {
            unassign(m, w, t);
        } else if (send_task(m, w, t) != 0) {
            unassign(m, w, t);
            w->unreachable = 1; /* dropped with its tasks by ms_workers_drop_unreachable */
        }
    }
    free(batch);
}
