/*
 * ms_planner.h - from the walk of a run's projects to its tasks: each
 * project runs whole, or is split into chunks plus its rest (ms_run.h,
 * ms_split.h) when it costs much more than its fair share of the run,
 * total / slots across the usable workers.
 *
 * Projects too small to be worth an rsync of their own (a few MB-equivalent
 * of data and entries) are packed, up to about a chunk or
 * PLAN_PACK_MAX projects, into one task that copies them all in one rsync
 * (MS_TASK_PACK); the report keeps a row per project. Not in a verify or a
 * restore, nor with no_split (one rsync per project, as asked).
 *
 * The walk streams: a project too small to ever be split is ready as soon
 * as its walk ends (a tiny one once its pack is full, the walk is over, or
 * it waited PLAN_PACK_WAIT_MS and a tick). A big one waits until the run's
 * total is known, from the walk's end or from the previous run of the same
 * source in the catalog (r->prior_cost), and until some worker is connected
 * (slots are then known).
 *
 * The planner keeps each run's walk (its thread, the walks waiting for the
 * total) itself, and never queues or records anything: it tells the
 * master through its hooks what it decided, and the master does the rest.
 * It changes only what a decision means for the run's tasks: the chunks it
 * adds and the rest's state (held until its chunks are done).
 */
#ifndef MS_PLANNER_H
#define MS_PLANNER_H

#include <stddef.h>
#include <zmq.h>

#include "ms_run.h"

typedef struct {
    /* t (a project of its run) is to run whole now: queue it. */
    void (*whole)(void *arg, ms_trec_t *t);
    /* rest was cut into chunks, tasks first..first+n-1 of its run, new:
     * record rest and them, and queue the chunks (rest is held for them). */
    void (*split)(void *arg, ms_trec_t *rest, size_t first, size_t n);
    /* leader carries a pack of tiny projects (MS_TASK_PACK; its members
     * held, MS_TASK_PACKED): record them, queue it. */
    void (*pack)(void *arg, ms_trec_t *leader);
    /* Whether t (walked, fingerprinted) will likely need no rsync: it is
     * then not packed, so that it may be skipped alone (ms_unchanged.h). */
    int (*unchanged)(void *arg, const ms_trec_t *t);
    void *arg;
} ms_planner_hooks_t;

typedef struct ms_planner ms_planner_t;

/* split_min_mb: the smallest chunk (0: MS_SPLIT_MIN_CHUNK); no_split: every
 * project runs whole; walk_threads: the threads of each run's walk (0: one
 * per core, ms_walk.h). Returns NULL when out of memory. */
ms_planner_t *ms_planner_new(unsigned split_min_mb, int no_split, unsigned walk_threads,
                             const ms_planner_hooks_t *hooks);

/* Stop every walk, free. NULL-safe; sets *p NULL. */
void ms_planner_destroy(ms_planner_t **p);

/* Walk r's projects that are SCANNING, in threads of their own; when that
 * cannot start, they run whole (hooks). */
void ms_planner_start(ms_planner_t *p, ms_runrec_t *r);

/* A resumed run's projects that were being walked: they run whole (a walk
 * cut by a restart is not redone). */
void ms_planner_resume(ms_planner_t *p, ms_runrec_t *r);

/* Take r's walks that ended and decide what can be decided now, with the
 * workers' usable slots. */
void ms_planner_update(ms_planner_t *p, ms_runrec_t *r, unsigned slots);

/* Whether r's walk still goes on: projects not sized yet. */
int ms_planner_walking(const ms_planner_t *p, const ms_runrec_t *r);

/* Whether r has big projects waiting for the total or for slots. */
int ms_planner_waits(const ms_planner_t *p, const ms_runrec_t *r);

/* Stop r's walk and forget what the planner keeps of r (r is given up, or
 * about to be freed). */
void ms_planner_forget(ms_planner_t *p, const ms_runrec_t *r);

/* The walks going on: a poll item per run still walking (at most max),
 * with the run in runs[i]. Returns how many. */
size_t ms_planner_poll_items(const ms_planner_t *p, zmq_pollitem_t *items, ms_runrec_t **runs,
                             size_t max);

#endif
