/*
 * ms_planner.c - from the walk of a run's projects to its tasks (see
 * ms_planner.h).
 */
#include "ms_planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_clock.h"
#include "ms_log.h"
#include "ms_path.h"
#include "ms_split.h"
#include "ms_strv.h"
#include "ms_walk.h"

/* A project above this many fair shares is split... */
#define SPLIT_ABOVE 1.0
/* ... into chunks of about this share of a fair share. */
#define CHUNK_SHARE (1.0 / 3.0)
/* A pack of tiny projects costs about this share of the smallest chunk... */
#define PACK_SHARE 1.0
/* ... and a project below this share of a pack is tiny. */
#define TINY_SHARE 0.125
#define PLAN_PACK_MAX 512 /* projects in one pack at most */
/* Fewer tiny projects than this run one by one: an rsync each costs a few
 * tens of ms, which matters only when there are many of them. */
#define PLAN_PACK_MIN 16
/* A tiny project waits at most about this long (and a tick) for others to
 * share its pack: a big tree still being walked must not hold it back. */
#define PLAN_PACK_WAIT_MS 200

/* What the planner keeps of a run while it plans it. */
typedef struct {
    ms_runrec_t *r;
    ms_walker_t *walker; /* the walk of the projects' trees, while it goes on */
    int walk_done;       /* every project was walked: the total is known */
    double walked_cost;  /* what the walk found so far (ms_split_cost) */
    ms_walk_t **waiting; /* walks of big projects, split once the total is known */
    size_t n_waiting;
    ms_trec_t **pack; /* tiny projects walked, not decided yet: the open pack */
    size_t n_pack;
    double pack_cost;
    int64_t pack_since_ms; /* when its first project joined */
} plan_run_t;

struct ms_planner {
    double min_chunk; /* the smallest chunk worth an rsync of its own (cost units) */
    int no_split;
    unsigned walk_threads; /* 0: ms_walk_threads_default() */
    ms_planner_hooks_t hooks;
    plan_run_t **runs;
    size_t n_runs;
};

ms_planner_t *ms_planner_new(unsigned split_min_mb, int no_split, unsigned walk_threads,
                             const ms_planner_hooks_t *hooks)
{
    ms_planner_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->min_chunk = split_min_mb ? (double)split_min_mb * 1024 * 1024 : MS_SPLIT_MIN_CHUNK;
    p->no_split = no_split;
    p->walk_threads = walk_threads;
    p->hooks = *hooks;
    return p;
}

static void free_plan_run(plan_run_t *pr)
{
    free(pr->pack);
    ms_walker_stop(&pr->walker);
    for (size_t i = 0; i < pr->n_waiting; i++)
        ms_walk_free(&pr->waiting[i]);
    free(pr->waiting);
    free(pr);
}

void ms_planner_destroy(ms_planner_t **pp)
{
    if (!pp || !*pp)
        return;
    for (size_t i = 0; i < (*pp)->n_runs; i++)
        free_plan_run((*pp)->runs[i]);
    free((*pp)->runs);
    free(*pp);
    *pp = NULL;
}

static plan_run_t *find(const ms_planner_t *p, const ms_runrec_t *r)
{
    for (size_t i = 0; i < p->n_runs; i++)
        if (p->runs[i]->r == r)
            return p->runs[i];
    return NULL;
}

/* What the planner keeps of r, made when missing; NULL when out of memory. */
static plan_run_t *plan_of(ms_planner_t *p, ms_runrec_t *r)
{
    plan_run_t *pr = find(p, r);
    if (pr)
        return pr;
    plan_run_t **nr = realloc(p->runs, (p->n_runs + 1) * sizeof *nr);
    if (!nr || !(pr = calloc(1, sizeof *pr))) {
        if (nr)
            p->runs = nr;
        return NULL;
    }
    p->runs = nr;
    pr->r = r;
    p->runs[p->n_runs++] = pr;
    return pr;
}

void ms_planner_forget(ms_planner_t *p, const ms_runrec_t *r)
{
    for (size_t i = 0; p && i < p->n_runs; i++)
        if (p->runs[i]->r == r) {
            free_plan_run(p->runs[i]);
            p->runs[i] = p->runs[--p->n_runs];
            return;
        }
}

int ms_planner_walking(const ms_planner_t *p, const ms_runrec_t *r)
{
    const plan_run_t *pr = find(p, r);
    return pr && pr->walker;
}

int ms_planner_waits(const ms_planner_t *p, const ms_runrec_t *r)
{
    const plan_run_t *pr = find(p, r);
    return pr && pr->n_waiting > 0;
}

/* Not saved: a project the catalog has as SCANNING runs whole after a
 * restart anyway (ms_planner_resume), and a run of 100,000 projects saves
 * 100,000 rows fewer. */
static void run_whole(ms_planner_t *p, ms_trec_t *t)
{
    p->hooks.whole(p->hooks.arg, t);
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
static int apply_split(ms_planner_t *pl, ms_runrec_t *r, ms_trec_t *t, ms_plan_t *p, double cost)
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
        ms_strv_sort(ch->items, ch->n_items); /* same cut, same part keys */
        c->parent = t->id;
        c->sub = ch->sub;
        c->items = ch->items;
        c->n_items = ch->n_items;
        c->match = ch->match;
        c->n_match = ch->n_match;
        c->cost = ch->cost;
        c->fp = ch->fp;
        c->fp_known = t->fp_known;
        ch->sub = NULL;
        ch->items = ch->match = NULL;
        ch->n_items = ch->n_match = 0;
        expect_part(c, t, cost > 0 ? c->cost / cost : 0);
    }
    /* In byte order: the same tree cut the same way gives the same part
     * keys (ms_unchanged_part), whatever the order of costs. */
    ms_strv_sort(excl, p->n_items);
    ms_strv_sort(xmatch, p->n_match);
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
    ms_run_set_state(t, MS_TS_HELD);
    t->cost = p->rest_cost;
    t->fp = p->rest_fp;
    expect_part(t, t, cost > 0 ? p->rest_cost / cost : 0);
    pl->hooks.split(pl->hooks.arg, t, first, r->n_tasks - first);
    return 0;
}

/* What w's project costs against its fair share, or 0 when it runs whole
 * in any case (no split, hard links, an incomplete walk, too small, a
 * remote backup). */
static int may_split(const ms_planner_t *p, const ms_runrec_t *r, const ms_walk_t *w, double cost)
{
    /* A remote backup is never split: a chunk's path there (DST/P/sub/)
     * could hold a symlink the last run copied from the source, which the
     * remote rsync would follow; a worker can open only a local path. */
    return !p->no_split && !w->hardlinks && !w->incomplete && cost >= 2 * p->min_chunk &&
           !ms_path_is_remote(r->dest);
}

/* Cut t into chunks of about target (plan from walk w); 0, or -1 when it
 * cannot be split after all (it runs whole then). */
static int split(ms_planner_t *p, ms_runrec_t *r, ms_trec_t *t, ms_walk_t *w, double cost,
                 double fair, unsigned slots)
{
    double target = fair * CHUNK_SHARE < p->min_chunk ? p->min_chunk : fair * CHUNK_SHARE;
    ms_plan_t plan;
    char name[512];
    ms_log_safe(t->project, name, sizeof name);
    if (ms_split_plan(w, target, p->min_chunk, &plan) != 0 || plan.n == 0 ||
        apply_split(p, r, t, &plan, cost) != 0) {
        if (plan.n == 0)
            ms_info("run %llu: %s (%.0f MB-equivalent, fair share %.0f) has no folders to split "
                    "it by: it runs whole",
                    (unsigned long long)r->id, name, cost / 1e6, fair / 1e6);
        ms_split_free(&plan);
        return -1;
    }
    ms_info("run %llu: %s (%.0f MB-equivalent, fair share %.0f over %u slots) split into %zu "
            "chunks and a rest of %.0f",
            (unsigned long long)r->id, name, cost / 1e6, fair / 1e6, slots, plan.n,
            plan.rest_cost / 1e6);
    ms_split_free(&plan);
    return 0;
}

/* The open pack, decided: its projects in one task (fewer than
 * PLAN_PACK_MIN, or out of memory: each runs whole). */
static void flush_pack(ms_planner_t *p, plan_run_t *pr)
{
    size_t n = pr->n_pack;
    ms_trec_t *lead = n ? pr->pack[0] : NULL;
    pr->n_pack = 0;
    pr->pack_cost = 0;
    if (n < PLAN_PACK_MIN) {
        for (size_t i = 0; i < n; i++)
            run_whole(p, pr->pack[i]);
        return;
    }
    char **items = calloc(n - 1, sizeof *items);
    uint64_t *ids = calloc(n - 1, sizeof *ids);
    int ok = items && ids;
    for (size_t i = 1; ok && i < n; i++)
        ok = (items[i - 1] = strdup(pr->pack[i]->project)) != NULL;
    if (!ok) {
        ms_strv_free(items, n - 1);
        free(ids);
        for (size_t i = 0; i < n; i++)
            run_whole(p, pr->pack[i]);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        ids[i - 1] = pr->pack[i]->id;
        pr->pack[i]->flags |= MS_TASK_PACKED;
        ms_run_set_state(pr->pack[i], MS_TS_HELD);
    }
    lead->flags |= MS_TASK_PACK;
    lead->items = items;
    lead->n_items = (uint32_t)(n - 1);
    lead->members = ids;
    p->hooks.pack(p->hooks.arg, lead);
}

/* Whether t (walked, cost cost) joins the open pack rather than run alone. */
static int packable(const ms_planner_t *p, const ms_runrec_t *r, const ms_trec_t *t, double cost)
{
    return !p->no_split && cost < p->min_chunk * PACK_SHARE * TINY_SHARE &&
           !(r->flags & (MS_RUN_VERIFY | MS_RUN_RESTORE)) && !(t->flags & MS_TASK_TOP) &&
           !(p->hooks.unchanged && p->hooks.unchanged(p->hooks.arg, t));
}

/* t joins the open pack, which goes once about a chunk, or full. */
static void add_to_pack(ms_planner_t *p, plan_run_t *pr, ms_trec_t *t, double cost)
{
    ms_trec_t **np = pr->n_pack % 64 ? pr->pack : realloc(pr->pack, (pr->n_pack + 64) * sizeof *np);
    if (!np) {
        run_whole(p, t);
        return;
    }
    pr->pack = np;
    if (pr->n_pack == 0)
        pr->pack_since_ms = ms_now_ms();
    pr->pack[pr->n_pack++] = t;
    pr->pack_cost += cost;
    if (pr->pack_cost >= p->min_chunk * PACK_SHARE || pr->n_pack >= PLAN_PACK_MAX)
        flush_pack(p, pr);
}

/* Decide walk w's project. Returns 0 when decided, 1 when it must wait. */
static int decide(ms_planner_t *p, plan_run_t *pr, ms_walk_t *w, unsigned slots)
{
    ms_runrec_t *r = pr->r;
    ms_trec_t *t = ms_run_task(r, w->task_id);
    if (!t || t->state != MS_TS_SCANNING)
        return 0;
    double cost = ms_split_cost(w->bytes, w->files);
    t->cost = cost;
    t->walk_files = w->files;
    t->walk_bytes = w->bytes;
    t->walked = 1;
    t->fp = w->fp;
    t->fp_known = !w->unread; /* what could not be read might have changed */
    if (packable(p, r, t, cost)) {
        add_to_pack(p, pr, t, cost);
        return 0;
    }
    if (!may_split(p, r, w, cost)) {
        run_whole(p, t);
        return 0;
    }
    double total =
        pr->walk_done ? pr->walked_cost : (r->prior_cost > pr->walked_cost ? r->prior_cost : 0);
    if (slots == 0 || total <= 0)
        return 1;
    double fair = total / slots;
    if (cost <= fair * SPLIT_ABOVE || split(p, r, t, w, cost, fair, slots) != 0)
        run_whole(p, t);
    return 0;
}

static void keep_waiting(plan_run_t *pr, ms_walk_t *w)
{
    ms_walk_t **nw = realloc(pr->waiting, (pr->n_waiting + 1) * sizeof *nw);
    if (!nw) {
        ms_walk_free(&w); /* out of memory: the project runs whole at the walk's end */
        return;
    }
    pr->waiting = nw;
    pr->waiting[pr->n_waiting++] = w;
}

/* Decide the waiting walks that can be now. */
static void decide_waiting(ms_planner_t *p, plan_run_t *pr, unsigned slots)
{
    size_t kept = 0;
    for (size_t i = 0; i < pr->n_waiting; i++) {
        if (decide(p, pr, pr->waiting[i], slots) == 0)
            ms_walk_free(&pr->waiting[i]);
        else
            pr->waiting[kept++] = pr->waiting[i];
    }
    pr->n_waiting = kept;
}

/* Projects still SCANNING once their walk is over (it was stopped, or a
 * walk was lost to memory): they run whole. */
static void run_unwalked(ms_planner_t *p, ms_runrec_t *r, const plan_run_t *pr)
{
    size_t n_waiting = pr ? pr->n_waiting : 0;
    for (size_t i = 0; i < r->n_tasks && r->n_scanning > n_waiting; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        int waits = 0;
        for (size_t j = 0; j < n_waiting && !waits; j++)
            waits = pr->waiting[j]->task_id == t->id;
        if (t->state == MS_TS_SCANNING && !waits)
            run_whole(p, t);
    }
}

/* The walks that ended since the last call, decided or kept waiting. */
static void take_walks(ms_planner_t *p, plan_run_t *pr, unsigned slots)
{
    size_t n = 0;
    int done = 0;
    ms_walk_t **walks = ms_walker_take(pr->walker, &n, &done);
    for (size_t i = 0; i < n; i++)
        pr->walked_cost += ms_split_cost(walks[i]->bytes, walks[i]->files);
    for (size_t i = 0; i < n; i++) {
        if (decide(p, pr, walks[i], slots) == 0)
            ms_walk_free(&walks[i]);
        else
            keep_waiting(pr, walks[i]);
    }
    free(walks);
    if (done) {
        flush_pack(p, pr);
        ms_walker_stop(&pr->walker);
        pr->walk_done = 1;
        ms_info("run %llu: source walked: %.0f MB-equivalent in %zu tasks",
                (unsigned long long)pr->r->id, pr->walked_cost / 1e6, pr->r->n_tasks);
    }
}

void ms_planner_update(ms_planner_t *p, ms_runrec_t *r, unsigned slots)
{
    plan_run_t *pr = find(p, r);
    if (!pr)
        return;
    if (pr->walker)
        take_walks(p, pr, slots);
    if (pr->n_pack && ms_now_ms() - pr->pack_since_ms >= PLAN_PACK_WAIT_MS)
        flush_pack(p, pr);
    if (pr->n_waiting)
        decide_waiting(p, pr, slots);
    if (pr->walk_done && r->n_scanning > pr->n_waiting)
        run_unwalked(p, r, pr);
    if (pr->walk_done && pr->n_waiting == 0)
        ms_planner_forget(p, r); /* every project decided: nothing left to keep */
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

/* The walk of r's SCANNING projects, never seen first, then the longest
 * last time: the big ones are decided first. NULL (err set) when it
 * cannot start. */
static ms_walker_t *start_walker(const ms_planner_t *p, ms_runrec_t *r, char *err, size_t errlen)
{
    size_t cap = r->n_tasks ? r->n_tasks : 1, n = 0;
    ms_trec_t **order = malloc(cap * sizeof *order);
    char **names = malloc(cap * sizeof *names);
    uint64_t *ids = malloc(cap * sizeof *ids);
    ms_walker_t *wk = NULL;
    snprintf(err, errlen, "out of memory");
    for (size_t i = 0; order && i < r->n_tasks; i++)
        if (ms_run_at(r, i)->state == MS_TS_SCANNING)
            order[n++] = ms_run_at(r, i);
    if (order && names && ids) {
        qsort(order, n, sizeof *order, cmp_walk_order);
        for (size_t i = 0; i < n; i++) {
            names[i] = order[i]->project;
            ids[i] = order[i]->id;
        }
        wk = ms_walker_start(r->source, names, ids, n, (uint64_t)p->min_chunk, p->walk_threads, err,
                             errlen);
    }
    free(order);
    free(names);
    free(ids);
    return wk;
}

void ms_planner_start(ms_planner_t *p, ms_runrec_t *r)
{
    char err[256];
    plan_run_t *pr = plan_of(p, r);
    if (pr && !(pr->walker = start_walker(p, r, err, sizeof err)))
        ms_warn("run %llu: %s: projects run whole", (unsigned long long)r->id, err);
    if (!pr || !pr->walker) {
        run_unwalked(p, r, NULL);
        ms_planner_forget(p, r);
    }
}

void ms_planner_resume(ms_planner_t *p, ms_runrec_t *r)
{
    run_unwalked(p, r, NULL); /* a walk cut by a restart is not redone: they run whole */
}

size_t ms_planner_poll_items(const ms_planner_t *p, zmq_pollitem_t *items, ms_runrec_t **runs,
                             size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_runs && n < max; i++)
        if (p->runs[i]->walker) {
            items[n] = (zmq_pollitem_t){NULL, ms_walker_fd(p->runs[i]->walker), ZMQ_POLLIN, 0};
            runs[n++] = p->runs[i]->r;
        }
    return n;
}
