/*
 * ms_queue.h - the tasks waiting for a worker: ready ones in a heap, first
 * to go on top, and retries waiting for their backoff in a delayed list.
 *
 * Order (the first to go first):
 *   1. front pushes: retries and tasks whose worker was lost;
 *   2. tasks never seen before, by their cost from the walk (ms_split_cost),
 *      biggest first;
 *   3. tasks known from an earlier run, by how long they took then,
 *      longest first (a long task started last would set the run's end);
 * and among equals the first pushed. A task's order is taken when it is
 * pushed.
 *
 * The queue holds pointers to tasks it does not own; a run's tasks leave it
 * with ms_queue_remove_run before the run is freed. It never changes a
 * task: its state is the run's (ms_run_set_state). Every push can fail (out
 * of memory, or past a limit set for tests): the caller must then deal with
 * the task (fail it), or it would be lost. Nothing here logs.
 */
#ifndef MS_QUEUE_H
#define MS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "ms_run.h"

typedef struct ms_queue ms_queue_t;

/* An empty queue, or NULL when out of memory. */
ms_queue_t *ms_queue_new(void);

/* Free the queue (not the tasks). Accepts NULL and *q == NULL; sets *q NULL. */
void ms_queue_destroy(ms_queue_t **q);

/* At most max ready tasks (0: no limit): pushes past it fail as when
 * memory runs out. For tests of what callers do then. */
void ms_queue_set_limit(ms_queue_t *q, size_t max);

/* Make t ready; front: before every task that is not (a retry, a requeue).
 * Returns 0, or -1 (errno ENOMEM) with t not queued. */
int ms_queue_push(ms_queue_t *q, ms_trec_t *t, int front) __attribute__((warn_unused_result));

/* Keep t until until_ms (monotonic, ms_now_ms), then it becomes ready at the
 * front. Returns 0, or -1 (errno ENOMEM) with t not queued. */
int ms_queue_delay(ms_queue_t *q, ms_trec_t *t, int64_t until_ms)
    __attribute__((warn_unused_result));

/* Move the delayed tasks that are due at now into the heap. One that cannot
 * be moved (memory) stays delayed, to be moved by a later call: none is
 * ever lost. Returns how many moved. */
size_t ms_queue_release_due(ms_queue_t *q, int64_t now);

/* The first ready task, or NULL. */
ms_trec_t *ms_queue_peek(const ms_queue_t *q);

/* Take the first ready task out, or NULL. */
ms_trec_t *ms_queue_pop(ms_queue_t *q);

/* Ready tasks; delayed tasks. */
size_t ms_queue_ready(const ms_queue_t *q);
size_t ms_queue_delayed(const ms_queue_t *q);

/* When the first delayed task is due (monotonic ms), or INT64_MAX. */
int64_t ms_queue_next_due(const ms_queue_t *q);

/* Take every task of run r out (ready and delayed). */
void ms_queue_remove_run(ms_queue_t *q, const ms_runrec_t *r);

#endif
