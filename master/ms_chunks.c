/*
 * ms_chunks.c - from the walk of a run's projects to its tasks: each
 * project runs whole, or is split into chunks plus its rest (ms_run.h,
 * ms_split.h) when it costs much more than its fair share of the run,
 * total / slots across the connected workers.
 *
 * The walk streams: a project too small to ever be split is queued as soon
 * as its walk ends. A big one waits until the run's total is known, from
 * the walk's end or from the previous run of the same source in the
 * catalog, and until some worker is connected (slots are then known).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_log.h"
#include "ms_path.h"
#include "ms_master_int.h"
#include "ms_report.h"
#include "ms_split.h"
#include "ms_walk.h"

/* A project above this many fair shares is split... */
#define SPLIT_ABOVE 1.0
/* ... into chunks of about this share of a fair share. */
#define CHUNK_SHARE (1.0 / 3.0)

/* The smallest chunk worth an rsync of its own (cost units). */
static double min_chunk(const ms_master_t *m)
{
    return m->opts.split_min_mb ? (double)m->opts.split_min_mb * 1024 * 1024 : MS_SPLIT_MIN_CHUNK;
}

static unsigned total_slots(const ms_master_t *m)
{
    unsigned slots = 0;
    for (size_t i = 0; i < m->n_workers; i++)
        if (ms_worker_usable(m->workers[i]))
            slots += m->workers[i]->slots;
    return slots;
}

/* Not saved: a project the catalog has as SCANNING runs whole after a
 * restart anyway (ms_chunks_resume), and a run of 100,000 projects saves
 * 100,000 rows fewer. */
static void run_whole(ms_master_t *m, ms_runrec_t *r, ms_trec_t *t)
{
    t->state = MS_TS_QUEUED;
    r->n_scanning--;
    ms_sched_push(m, t, 0);
}

/* The rest's literal exclusions: every chunk entry, "sub/item". */
static char **exclusions(const ms_plan_t *p)
{
    char **excl = calloc(p->n_items ? p->n_items : 1, sizeof *excl);
    size_t k = 0;
    for (size_t i = 0; excl && i < p->n; i++)
        for (uint32_t j = 0; j < p->chunks[i].n_items; j++, k++)
            if (!(excl[k] = ms_split_join(p->chunks[i].sub, p->chunks[i].items[j]))) {
                ms_strv_free(excl, k);
                return NULL;
            }
    return excl;
}

/* The rest's pattern exclusions: every chunk pattern under its folder,
 * the folder escaped ("big\\*dir/[\\a-\\f]*"). */
static char **pattern_exclusions(const ms_plan_t *p)
{
    char **x = calloc(p->n_match ? p->n_match : 1, sizeof *x);
    size_t k = 0;
    for (size_t i = 0; x && i < p->n; i++) {
        char *sub = p->chunks[i].n_match ? ms_split_escape(p->chunks[i].sub) : NULL;
        for (uint32_t j = 0; j < p->chunks[i].n_match; j++, k++)
            if (!sub || !(x[k] = ms_split_join(sub, p->chunks[i].match[j]))) {
                free(sub);
                ms_strv_free(x, k);
                return NULL;
            }
        free(sub);
    }
    return x;
}

/* Scale what the catalog expects of the whole project down to a part. */
static void expect_part(ms_trec_t *part, const ms_trec_t *whole, double share)
{
    part->expected_known = whole->expected_known;
    part->expected_bytes = (uint64_t)((double)whole->expected_bytes * share);
    part->expected_seconds = whole->expected_seconds * share;
}

/* Add p's chunks to the run and make t their rest. Returns 0, or -1 (out
 * of memory, nothing changed). */
static int apply_split(ms_master_t *m, ms_runrec_t *r, ms_trec_t *t, ms_plan_t *p, double cost)
{
    size_t first = r->n_tasks;
    char **excl = exclusions(p), **xmatch = pattern_exclusions(p);
    if (!excl || !xmatch) {
        ms_strv_free(excl, p->n_items);
        ms_strv_free(xmatch, p->n_match);
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        ms_trec_t *c = ms_run_add_task(r, t->project, 0);
        if (!c) {
            ms_run_drop_from(r, first);
            ms_strv_free(excl, p->n_items);
            ms_strv_free(xmatch, p->n_match);
            return -1;
        }
        ms_chunk_t *ch = &p->chunks[i];
        c->parent = t->id;
        c->sub = ch->sub;
        c->items = ch->items;
        c->n_items = ch->n_items;
        c->match = ch->match;
        c->n_match = ch->n_match;
        c->cost = ch->cost;
        ch->sub = NULL;
        ch->items = ch->match = NULL;
        ch->n_items = ch->n_match = 0;
        expect_part(c, t, cost > 0 ? c->cost / cost : 0);
    }
    if (p->n_items) {
        t->excl = excl;
        t->n_excl = p->n_items;
    } else {
        free(excl);
    }
    if (p->n_match) {
        t->xmatch = xmatch;
        t->n_xmatch = p->n_match;
    } else {
        free(xmatch);
    }
    t->n_chunks = t->pending = (uint32_t)p->n;
    t->state = MS_TS_HELD;
    t->cost = p->rest_cost;
    expect_part(t, t, cost > 0 ? p->rest_cost / cost : 0);
    r->n_scanning--;
    ms_cat_task_whole(m, t);
    for (size_t i = first; i < r->n_tasks; i++) {
        ms_trec_t *c = ms_run_at(r, i);
        ms_sched_push(m, c, 0);
        ms_cat_task_whole(m, c);
    }
    ms_cat_ntasks(m, r);
    return 0;
}

/* Decide walk w's project. Returns 0 when decided, 1 when it must wait. */
static int decide(ms_master_t *m, ms_runrec_t *r, ms_walk_t *w)
{
    ms_trec_t *t = ms_run_task(r, w->task_id);
    if (!t || t->state != MS_TS_SCANNING)
        return 0;
    double cost = ms_split_cost(w->bytes, w->files);
    t->cost = cost;
    double min = min_chunk(m);
    /* A remote backup is never split: a chunk's path there (DST/P/sub/)
     * could hold a symlink the last run copied from the source, which the
     * remote rsync would follow; a worker can check only a local path. */
    if (m->opts.no_split || w->hardlinks || w->incomplete || cost < 2 * min ||
        ms_path_is_remote(r->dest)) {
        run_whole(m, r, t);
        return 0;
    }
    unsigned slots = total_slots(m);
    double total = r->walk_done ? r->walked_cost
                                : (r->prior_cost > r->walked_cost ? r->prior_cost : 0);
    if (slots == 0 || total <= 0)
        return 1;
    double fair = total / slots;
    if (cost <= fair * SPLIT_ABOVE) {
        run_whole(m, r, t);
        return 0;
    }
    double target = fair * CHUNK_SHARE;
    if (target < min)
        target = min;
    ms_plan_t plan;
    char name[512];
    ms_log_safe(t->project, name, sizeof name);
    if (ms_split_plan(w, target, min, &plan) != 0 || plan.n == 0 ||
        apply_split(m, r, t, &plan, cost) != 0) {
        if (plan.n == 0)
            ms_info("run %llu: %s (%.0f MB-equivalent, fair share %.0f) has no folders to split "
                    "it by: it runs whole", (unsigned long long)r->id, name, cost / 1e6,
                    fair / 1e6);
        ms_split_free(&plan);
        run_whole(m, r, t);
        return 0;
    }
    ms_info("run %llu: %s (%.0f MB-equivalent, fair share %.0f over %u slots) split into %zu "
            "chunks and a rest of %.0f", (unsigned long long)r->id, name, cost / 1e6, fair / 1e6,
            slots, plan.n, plan.rest_cost / 1e6);
    ms_split_free(&plan);
    return 0;
}

static void keep_waiting(ms_runrec_t *r, ms_walk_t *w)
{
    ms_walk_t **nw = realloc(r->waiting, (r->n_waiting + 1) * sizeof *nw);
    if (!nw) {
        ms_walk_free(&w); /* out of memory: the project stays SCANNING until the end */
        return;
    }
    r->waiting = nw;
    r->waiting[r->n_waiting++] = w;
}

/* Decide the waiting walks that can be now. */
static void decide_waiting(ms_master_t *m, ms_runrec_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n_waiting; i++) {
        if (decide(m, r, r->waiting[i]) == 0)
            ms_walk_free(&r->waiting[i]);
        else
            r->waiting[kept++] = r->waiting[i];
    }
    r->n_waiting = kept;
}

/* Projects still SCANNING once their walk is over (it was stopped, or a
 * walk was lost to memory): they run whole. */
static void run_unwalked(ms_master_t *m, ms_runrec_t *r)
{
    for (size_t i = 0; i < r->n_tasks && r->n_scanning > r->n_waiting; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        int waits = 0;
        for (size_t j = 0; j < r->n_waiting && !waits; j++)
            waits = r->waiting[j]->task_id == t->id;
        if (t->state == MS_TS_SCANNING && !waits)
            run_whole(m, r, t);
    }
}

void ms_chunks_update(ms_master_t *m, ms_runrec_t *r)
{
    if (r->walker) {
        size_t n = 0;
        int done = 0;
        ms_walk_t **walks = ms_walker_take(r->walker, &n, &done);
        for (size_t i = 0; i < n; i++)
            r->walked_cost += ms_split_cost(walks[i]->bytes, walks[i]->files);
        for (size_t i = 0; i < n; i++) {
            if (decide(m, r, walks[i]) == 0)
                ms_walk_free(&walks[i]);
            else
                keep_waiting(r, walks[i]);
        }
        free(walks);
        if (done) {
            ms_walker_stop(&r->walker);
            r->walk_done = 1;
            ms_info("run %llu: source walked: %.0f MB-equivalent in %zu tasks",
                    (unsigned long long)r->id, r->walked_cost / 1e6, r->n_tasks);
        }
    }
    if (r->n_waiting)
        decide_waiting(m, r);
    if (r->walk_done && r->n_scanning > r->n_waiting)
        run_unwalked(m, r);
}

static int cmp_walk_order(const void *a, const void *b)
{
    const ms_trec_t *x = *(ms_trec_t *const *)a, *y = *(ms_trec_t *const *)b;
    if (x->expected_known != y->expected_known)
        return x->expected_known - y->expected_known;
    if (x->expected_seconds != y->expected_seconds)
        return x->expected_seconds < y->expected_seconds ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void ms_chunks_start(ms_master_t *m, ms_runrec_t *r)
{
    char err[256];
    ms_trec_t **order = malloc((r->n_tasks ? r->n_tasks : 1) * sizeof *order);
    char **names = malloc((r->n_tasks ? r->n_tasks : 1) * sizeof *names);
    uint64_t *ids = malloc((r->n_tasks ? r->n_tasks : 1) * sizeof *ids);
    size_t n = 0;
    for (size_t i = 0; order && i < r->n_tasks; i++)
        if (ms_run_at(r, i)->state == MS_TS_SCANNING)
            order[n++] = ms_run_at(r, i);
    if (order && names && ids) {
        /* Never seen first, then the longest last time: the big ones are
         * decided first. */
        qsort(order, n, sizeof *order, cmp_walk_order);
        for (size_t i = 0; i < n; i++) {
            names[i] = order[i]->project;
            ids[i] = order[i]->id;
        }
        r->walker = ms_walker_start(r->source, names, ids, n, (uint64_t)min_chunk(m), err,
                                    sizeof err);
        if (!r->walker)
            ms_warn("run %llu: %s: projects run whole", (unsigned long long)r->id, err);
    }
    free(order);
    free(names);
    free(ids);
    if (!r->walker) {
        r->walk_done = 1;
        run_unwalked(m, r);
    }
}

void ms_chunks_cancel(ms_runrec_t *r)
{
    ms_walker_stop(&r->walker);
    for (size_t i = 0; i < r->n_waiting; i++)
        ms_walk_free(&r->waiting[i]);
    r->n_waiting = 0;
    r->walk_done = 1;
}

void ms_chunks_resume(ms_master_t *m, ms_runrec_t *r)
{
    r->walk_done = 1; /* a walk cut by a restart is not redone: they run whole */
    run_unwalked(m, r);
}
