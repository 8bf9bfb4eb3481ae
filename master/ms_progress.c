/*
 * ms_progress.c - how far a run is (see ms_progress.h).
 */
#include <stdint.h>

#include "ms_eta.h"
#include "ms_jnum.h"
#include "ms_progress.h"
#include "ms_proto.h"
#include "ms_split.h"

typedef struct {
    json_int_t queued, running, done, failed, unchanged;
    uint64_t walk_bytes, walk_files, walk_projects;
    int64_t first_start_ms; /* the earliest start of a task that did work */
    int start_unknown;      /* one did work before a restart: its start is lost */
    ms_eta_t eta;
} progress_t;

/*
 * t's size in bytes, into *size; 0 when not known. A chunk or a split
 * project's rest gets its project's walk in the share of its cost (the
 * rest keeps the whole project's walk figures, and its own cost).
 */
static int task_size(const ms_runrec_t *r, const ms_trec_t *t, uint64_t *size)
{
    const ms_trec_t *whole = t->parent == MS_NO_TASK  ? t
                             : t->parent < r->n_tasks ? ms_run_at(r, t->parent)
                                                      : NULL;
    *size = 0;
    if (t->flags & MS_TASK_REMOVE)
        return 1; /* retention removes, it copies nothing */
    if (whole && whole->walked) {
        double cost = ms_split_cost(whole->walk_bytes, whole->walk_files);
        if (whole == t && !t->n_chunks)
            *size = t->walk_bytes;
        else if (cost > 0)
            *size = (uint64_t)((double)whole->walk_bytes * (t->cost / cost));
        return 1;
    }
    if (t->expected_known) {
        *size = t->expected_bytes;
        return 1;
    }
    return (t->flags & MS_TASK_TOP) != 0; /* the loose files: small, not walked */
}

/* Whether t waits for a slot but will end unchanged, with no rsync (the
 * same rules as the dispatch's, ms_sched.c, with any worker's options). */
static int will_be_unchanged(const ms_runrec_t *r, const ms_trec_t *t, const ms_unchanged_t *u)
{
    if (!u || (r->flags & (MS_RUN_FULL | MS_RUN_VERIFY | MS_RUN_RESTORE)) ||
        (t->flags & (MS_TASK_PACK | MS_TASK_PACKED | MS_TASK_REMOVE)))
        return 0;
    return ms_unchanged_find(u, t, NULL) != NULL;
}

/* t as the ETA sees it. */
static ms_eta_task_t eta_task(const ms_runrec_t *r, const ms_trec_t *t, const ms_unchanged_t *u,
                              int64_t now_ms)
{
    ms_eta_task_t e = {.state = MS_ETA_PENDING};
    e.size_known = task_size(r, t, &e.size);
    e.expected_s = t->expected_known ? t->expected_seconds : 0;
    switch (t->state) {
    case MS_TS_OK:
    case MS_TS_FAILED:
        e.state =
            t->state == MS_TS_OK && ms_result_unchanged(&t->result) ? MS_ETA_SKIPPED : MS_ETA_DONE;
        e.size = e.done = t->result.bytes_total;
        break;
    case MS_TS_RUNNING:
        e.state = MS_ETA_RUNNING;
        /* The worker's figure is what rsync read: the source's bytes and a
         * little of rsync's protocol. Never more than the task's size. */
        e.done = e.size_known && t->bytes_done > e.size ? e.size : t->bytes_done;
        e.elapsed_s = t->started_ms ? (double)(now_ms - t->started_ms) / 1000.0 : 0;
        break;
    case MS_TS_QUEUED:
    case MS_TS_HELD:
    case MS_TS_SCANNING: /* walked, waiting to be split: it has its fingerprint */
        if (will_be_unchanged(r, t, u))
            e.state = MS_ETA_SKIPPED;
        break;
    }
    return e;
}

static void count_task(const ms_runrec_t *r, const ms_trec_t *t, const ms_unchanged_t *u,
                       int64_t now_ms, progress_t *p)
{
    ms_eta_task_t e = eta_task(r, t, u, now_ms);
    p->queued += t->state == MS_TS_QUEUED || t->state == MS_TS_HELD;
    p->running += t->state == MS_TS_RUNNING;
    p->done += t->state == MS_TS_OK;
    p->failed += t->state == MS_TS_FAILED;
    p->unchanged += t->state == MS_TS_OK && e.state == MS_ETA_SKIPPED;
    if (t->parent == MS_NO_TASK && t->walked) {
        p->walk_projects++;
        p->walk_bytes += t->walk_bytes;
        p->walk_files += t->walk_files;
    }
    if (e.state == MS_ETA_RUNNING || e.state == MS_ETA_DONE) {
        if (!t->started_ms)
            p->start_unknown = 1;
        else if (t->started_ms < p->first_start_ms)
            p->first_start_ms = t->started_ms;
    }
    ms_eta_add(&p->eta, &e);
}

/* Seconds of work so far: since the first task that did work started
 * (not the walk before it), or since the run started. */
static double work_seconds(const progress_t *p, int64_t now_ms, double elapsed_s)
{
    if (p->start_unknown || p->first_start_ms == INT64_MAX)
        return elapsed_s;
    return (double)(now_ms - p->first_start_ms) / 1000.0;
}

static json_t *tasks_json(const ms_runrec_t *r, const progress_t *p)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)r->n_tasks,
                     "queued", p->queued, "running", p->running, "done", p->done, "failed",
                     p->failed, "unchanged", p->unchanged, "scanning", (json_int_t)r->n_scanning);
}

static json_t *walk_json(const progress_t *p, int walking)
{
    return json_pack("{s:b, s:I, s:I, s:I}", "done", !walking, "projects",
                     (json_int_t)p->walk_projects, "files", (json_int_t)p->walk_files, "bytes",
                     (json_int_t)p->walk_bytes);
}

json_t *ms_progress_json(const ms_runrec_t *r, const ms_unchanged_t *u, int walking, int64_t now_ms,
                         double elapsed_s)
{
    progress_t p = {.first_start_ms = INT64_MAX};
    ms_eta_init(&p.eta);
    for (size_t i = 0; i < r->n_tasks; i++)
        count_task(r, ms_run_at(r, i), u, now_ms, &p);
    double work_s = work_seconds(&p, now_ms, elapsed_s);
    double pct = ms_eta_percent(&p.eta), eta = ms_eta_seconds(&p.eta, work_s);
    int known = p.eta.total_known; /* a project neither walked yet nor seen last time: no */
    return json_pack("{s:o, s:o, s:I, s:o, s:I, s:o, s:I, s:o}", "tasks", tasks_json(r, &p), "walk",
                     walk_json(&p, walking), "bytes_done", (json_int_t)p.eta.done, "bytes_expected",
                     known ? json_integer((json_int_t)p.eta.total) : json_null(), "bytes_unchanged",
                     (json_int_t)p.eta.skipped, "percent",
                     known && pct >= 0 ? json_real(ms_jnum_pct(pct)) : json_null(), "rate_bps",
                     ms_jnum_whole(ms_eta_rate(&p.eta, work_s)), "eta_s",
                     known && eta >= 0 ? json_real(ms_jnum_ms(eta)) : json_null());
}
