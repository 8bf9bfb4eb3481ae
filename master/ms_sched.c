/*
 * ms_sched.c - what the loop does with the queue (ms_queue.h): tasks go in
 * (a task the queue cannot take fails, it is never lost), and dispatch
 * hands ready tasks to the workers with the most free credit, preferring
 * for a retry a worker on another host than the one it failed on, persists
 * every assignment, and only then sends the TASKs: a task is in the
 * catalog before any worker can start it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_label.h"
#include "ms_queue.h"
#include "ms_report.h"
#include "ms_snap.h"
#include "ms_snapshot.h"

/* t could not be queued (out of memory): it fails now, with why, rather
 * than sit in no queue and keep its run from ending. */
static void fail_unqueued(ms_master_t *m, ms_trec_t *t)
{
    char name[512];
    ms_error("run %llu: %s could not be queued: out of memory", (unsigned long long)t->run->id,
             ms_label_task_log(t, name, sizeof name));
    ms_master_fail_task(m, t, "the master ran out of memory queueing it");
}

void ms_sched_enqueue(ms_master_t *m, ms_trec_t *t, int front)
{
    if (ms_queue_push(m->queue, t, front) != 0) {
        fail_unqueued(m, t);
        return;
    }
    ms_run_set_state(t, MS_TS_QUEUED);
}

void ms_sched_delay(ms_master_t *m, ms_trec_t *t, int64_t until_ms)
{
    if (ms_queue_delay(m->queue, t, until_ms) != 0) {
        ms_error("out of memory delaying a retry: retrying at once");
        ms_sched_enqueue(m, t, 1);
        return;
    }
    ms_run_set_state(t, MS_TS_QUEUED);
}

/* Its run cancelled, a task whose worker is gone (its rsync stopped, or
 * its lease over) is not run again: it ends cancelled. */
void ms_sched_requeue(ms_master_t *m, ms_trec_t *t, const char *why)
{
    char name[512], msg[512];
    if (t->run->flags & MS_RUN_CANCELLED) {
        snprintf(msg, sizeof msg, "cancelled while it ran (its worker: %s)", why);
        ms_master_cancel_task(m, t, msg);
        return;
    }
    ms_warn("run %llu: %s requeued: %s", (unsigned long long)t->run->id,
            ms_label_task_log(t, name, sizeof name), why);
    t->orphan = 0;
    ms_sched_enqueue(m, t, 1);
    ms_journal_task(m->journal, t);
}

/* --- dispatch ------------------------------------------------------------ */

/* The worker for t: another host than the one it failed on, if one is free. */
static ms_wrec_t *pick_worker(const ms_master_t *m, const ms_trec_t *t)
{
    ms_wrec_t *w = t->failed_on[0] ? ms_fleet_freest(m->fleet, t->failed_on) : NULL;
    return w ? w : ms_fleet_freest(m->fleet, NULL);
}

static void assign(ms_master_t *m, ms_wrec_t *w, ms_trec_t *t)
{
    t->attempts++;
    ms_run_set_state(t, MS_TS_RUNNING);
    t->started_ms = ms_now_ms();
    t->handed_ns = ms_wall_ns();
    snprintf(t->worker_id, sizeof t->worker_id, "%s", w->id);
    t->host = ms_run_intern(t->run, w->name);
    t->opts = ms_run_intern(t->run, w->opts);
    ms_fleet_take(m->fleet, w);
    if (ms_run_note_worker(t->run, w->id, w->name, w->slots, w->unconfined) != 0)
        ms_error("out of memory noting worker %s", w->id);
    ms_journal_task(m->journal, t);
}

/* Undo assign() for a task that could not be made durable or sent. */
static void unassign(ms_master_t *m, ms_wrec_t *w, ms_trec_t *t)
{
    t->attempts--;
    t->handed_ns = 0; /* the attempt before (if any) started earlier: not known here */
    if (w)
        ms_fleet_untake(m->fleet, w);
    /* Nor did the host get it: its count in the run's report goes back. */
    ms_run_worker_t *rw = ms_run_worker(t->run, t->host);
    if (rw && rw->tasks > 0) {
        rw->tasks--;
        ms_journal_workers(m->journal, t->run);
    }
    ms_sched_enqueue(m, t, 1);
    ms_journal_task(m->journal, t);
}

/* A dry run's task: rsync -n as its copy would run, with the copy's
 * --delete (a snapshot is exact) and, on the top task, its guard's
 * --force-delete, to list what the copy would delete. */
static uint32_t dry_run_flags(const ms_runrec_t *run, const ms_trec_t *t)
{
    if (!(run->flags & MS_RUN_DRY_RUN))
        return 0;
    int exact = (run->flags & (MS_RUN_DELETE | MS_RUN_SNAPSHOT)) != 0;
    int force = exact && (t->flags & MS_TASK_TOP) && (run->flags & MS_RUN_FORCE_DELETE);
    return MS_TASK_DRY_RUN | (exact ? MS_TASK_DELETE : 0) | (force ? MS_TASK_FORCE : 0);
}

/*
 * What t does in its run: its flags, the snapshot folder it works in (snap,
 * "" for a mirror) and the one it links to (*link, "" for none). A verify
 * (a dry run too) compares with the complete snapshot itself and writes,
 * deletes and links nothing.
 */
static uint32_t task_place(const ms_runrec_t *run, const ms_trec_t *t, char *snap, size_t snaplen,
                           char **link)
{
    snap[0] = '\0';
    *link = run->snap && run->snap->link ? run->snap->link : "";
    if (run->flags & MS_RUN_VERIFY) {
        snprintf(snap, snaplen, "%s", run->snap ? run->snap->name : "");
        *link = "";
        return t->flags | MS_TASK_VERIFY | dry_run_flags(run, t);
    }
    /* A snapshot is exact: what a taken-over partial one holds that the
     * source does not goes too. */
    int exact = (run->flags & MS_RUN_DELETE) || run->snap;
    uint32_t flags = t->flags | (exact ? MS_TASK_DELETE : 0);
    /* The top task runs last: once every project's copy succeeded, it also
     * removes the backups of projects gone from the source (ms_prune.h); in
     * a snapshot it checks the source against the last snapshot first. */
    if ((t->flags & MS_TASK_TOP) && exact && run->n_failed == 0)
        flags |= MS_TASK_PRUNE | ((run->flags & MS_RUN_FORCE_DELETE) ? MS_TASK_FORCE : 0);
    if (t->flags & MS_TASK_REMOVE) { /* no rsync: its folder of t->sub goes; project "": all
                                      * that is left of it */
        snprintf(snap, snaplen, "%s", t->sub ? t->sub : "");
        *link = "";
        return MS_TASK_REMOVE | (t->project[0] ? 0 : MS_TASK_TOP);
    }
    if (run->snap)
        ms_snapshot_folder(run, snap, snaplen);
    return flags;
}

/* t's TASK into b: 0, 1 when b is full (send it first), -1 (err). */
static int add_task(ms_master_t *m, ms_batch_buf_t *b, ms_trec_t *t, char *err, size_t errlen)
{
    ms_runrec_t *run = t->run;
    ms_msg_t msg = {.cmd = MS_CMD_TASK};
    char snap[2 * MS_SNAP_NAME_MAX];
    char *link;
    uint32_t flags = task_place(run, t, snap, sizeof snap, &link);
    msg.u.task = (ms_task_t){.run_id = run->id,
                             .task_id = t->id,
                             .attempt = t->attempts,
                             .flags = flags,
                             .project = t->project,
                             .source = run->source,
                             .dest = run->dest,
                             .timeout_s = m->opts.task_timeout_s,
                             .sub = t->sub && !(flags & MS_TASK_REMOVE) ? t->sub : "",
                             .items = t->items,
                             .n_items = t->n_items,
                             .excl = t->excl,
                             .n_excl = t->n_excl,
                             .match = t->match,
                             .n_match = t->n_match,
                             .xmatch = t->xmatch,
                             .n_xmatch = t->n_xmatch,
                             .snap = snap,
                             .link = link};
    return ms_batch_add(b, &msg, err, errlen);
}

/* A task of a dispatch and the worker it went to. */
typedef struct {
    ms_wrec_t *w;
    size_t i; /* its place in the dispatch */
} handout_t;

static int by_worker(const void *a, const void *b)
{
    const handout_t *x = a, *y = b;
    if (x->w != y->w)
        return (uintptr_t)x->w < (uintptr_t)y->w ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Send b to w; on failure w is unreachable (dropped with its tasks once
 * read) and the tasks of b are not sent: sent[] of them stays 0. */
static int flush_to(ms_master_t *m, ms_wrec_t *w, ms_batch_buf_t *b, const handout_t *h,
                    size_t from, size_t to, unsigned char *sent)
{
    char err[256];
    if (ms_wire_send_batch(m->wsock, &w->peer, b, err, sizeof err) != 0) {
        ms_warn("worker %s (%s): %s", w->id, w->name, err);
        ms_fleet_set_unreachable(m->fleet, w);
        return -1;
    }
    for (size_t k = from; k < to; k++)
        sent[h[k].i] = 1;
    return 0;
}

/* One worker's tasks h[from..to) of a dispatch, in as few messages as fit. */
static void send_to(ms_master_t *m, ms_batch_buf_t *b, const handout_t *h, size_t from, size_t to,
                    ms_trec_t **batch, unsigned char *sent)
{
    char err[256];
    ms_wrec_t *w = h[from].w;
    size_t first = from; /* the first task of what b holds */
    for (size_t k = from; k < to && !w->unreachable; k++) {
        int rc = add_task(m, b, batch[h[k].i], err, sizeof err);
        if (rc == 1) { /* full: send what it holds, then this one anew */
            if (flush_to(m, w, b, h, first, k, sent) != 0)
                break;
            first = k;
            rc = add_task(m, b, batch[h[k].i], err, sizeof err);
        }
        if (rc != 0) {
            ms_warn("worker %s (%s): %s", w->id, w->name, err);
            ms_fleet_set_unreachable(m->fleet, w);
        }
    }
    if (!w->unreachable)
        flush_to(m, w, b, h, first, to, sent);
    ms_batch_reset(b);
}

/* Hand batch[0..n) to their workers, each worker's in one message (or a
 * few, for very many or very long tasks); sent[i] says which went. */
static void send_tasks(ms_master_t *m, ms_trec_t **batch, size_t n, unsigned char *sent)
{
    handout_t *h = malloc(n * sizeof *h);
    ms_batch_buf_t b = {0};
    size_t k = 0;
    if (!h)
        return; /* nothing sent: every task goes back to the queue */
    for (size_t i = 0; i < n; i++) {
        ms_wrec_t *w = ms_fleet_by_id(m->fleet, batch[i]->worker_id);
        if (w && !w->unreachable)
            h[k++] = (handout_t){w, i};
    }
    qsort(h, k, sizeof *h, by_worker);
    for (size_t from = 0, to; from < k; from = to) {
        for (to = from + 1; to < k && h[to].w == h[from].w; to++)
            ;
        send_to(m, &b, h, from, to, batch, sent);
    }
    ms_batch_free(&b);
    free(h);
}

/* Whether a snapshot's task t, with its record rec, is carried over from
 * snapshot link (by hard links, not from the source): its tree is as that
 * snapshot took it. */
static int carries(const ms_trec_t *t, const ms_catalog_fp_t *rec, const char *link)
{
    return rec && rec->snap && link && strcmp(rec->snap, link) == 0 && !(t->flags & MS_TASK_TOP);
}

/* A dry run skips what its backup would: into a mirror, what the fast
 * path finds unchanged; into snapshots, what the new one would carry over
 * from the latest (the one compared with). */
static int dry_run_skips(const ms_runrec_t *run, const ms_trec_t *t, const ms_catalog_fp_t *rec)
{
    if (run->snap)
        return run->snap->complete && carries(t, rec, run->snap->name);
    return rec && !rec->snap && !(run->flags & MS_RUN_SNAPSHOT);
}

/*
 * t, about to go to w, needs no rsync: its tree is as it was at its last
 * copy to this mirror with w's rsync and options (ms_unchanged.h). It ends
 * `unchanged` here, without a worker. Not in a full pass, a snapshot (its
 * new folder needs the files: it is carried over), a verify or a restore;
 * in a dry run, what its backup would skip or carry over.
 */
static int skip_unchanged(ms_master_t *m, const ms_wrec_t *w, ms_trec_t *t)
{
    const ms_runrec_t *run = t->run;
    if ((t->flags & MS_TASK_PACK) || (run->flags & MS_RUN_FULL) || !ms_run_backs_up(run->flags))
        return 0;
    const ms_catalog_fp_t *rec = ms_unchanged_find(m->unchanged, t, w->opts);
    if (run->flags & MS_RUN_DRY_RUN) {
        if (!dry_run_skips(run, t, rec))
            return 0;
    } else if (run->snap) { /* the link snapshot has it as it is: links, not the source */
        t->flags &= ~(uint32_t)MS_TASK_CARRY; /* a retry, on another worker, decides anew */
        if (carries(t, rec, run->snap->link))
            t->flags |= MS_TASK_CARRY;
        return 0;
    } else if (!rec || rec->snap || (run->flags & MS_RUN_SNAPSHOT)) {
        return 0; /* (a snapshot without its record) */
    }
    char msg[160];
    if (run->snap)
        snprintf(msg, sizeof msg, "unchanged since run %llu: carried over from snapshot %s",
                 (unsigned long long)rec->run_id, run->snap->name);
    else
        snprintf(msg, sizeof msg, "unchanged since run %llu", (unsigned long long)rec->run_id);
    /* A whole project's figures are this walk's; a part's, its last copy's */
    int whole = t->parent == MS_NO_TASK && !t->n_chunks && t->walk_files;
    ms_result_t res = {.run_id = run->id,
                       .task_id = t->id,
                       .attempt = t->attempts,
                       .exit_code = MS_EXIT_UNCHANGED,
                       .files = whole ? t->walk_files : rec->files,
                       .bytes_total = whole ? t->walk_bytes : rec->bytes,
                       .message = strdup(msg)};
    ms_run_set_result(t, &res);
    ms_master_task_done(m, t);
    return 1;
}

/* Assign ready tasks in queue order while any worker has credit, into
 * batch (room for cap). Returns how many. */
static size_t assign_batch(ms_master_t *m, ms_trec_t **batch, size_t cap)
{
    size_t n = 0;
    while (n < cap && ms_queue_peek(m->queue)) {
        ms_wrec_t *w = pick_worker(m, ms_queue_peek(m->queue));
        if (!w)
            break;
        ms_trec_t *t = ms_queue_pop(m->queue);
        if (skip_unchanged(m, w, t))
            continue;
        assign(m, w, t);
        batch[n++] = t;
    }
    return n;
}

void ms_sched_dispatch(ms_master_t *m)
{
    if (m->stopping)
        return;
    ms_queue_release_due(m->queue, ms_now_ms());
    size_t credit = ms_fleet_credit(m->fleet), ready = ms_queue_ready(m->queue);
    size_t cap = ready < credit ? ready : credit;
    if (cap == 0)
        return; /* the common turn: nothing to hand out, nothing to allocate */
    ms_trec_t **batch = malloc(cap * sizeof *batch);
    unsigned char *sent = calloc(cap, 1);
    if (!batch || !sent) {
        free(batch);
        free(sent);
        return;
    }
    size_t n = assign_batch(m, batch, cap);
    /* Durable before sent: if the catalog cannot take it, send nothing. */
    if (ms_journal_flush(m->journal, 0) == 0)
        send_tasks(m, batch, n, sent);
    /* What did not go returns to the front of the queue, in its order. */
    for (size_t i = n; i-- > 0;)
        if (!sent[i])
            unassign(m, ms_fleet_by_id(m->fleet, batch[i]->worker_id), batch[i]);
    free(sent);
    free(batch);
}
