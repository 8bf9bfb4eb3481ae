/*
 * ms_queue.c - the ready heap and the delayed list (see ms_queue.h).
 */
#include "ms_queue.h"

#include <errno.h>
#include <stdlib.h>

/* A ready task and its order, taken when it was pushed. */
typedef struct {
    ms_trec_t *t;
    double key;    /* within a class: bigger goes first */
    uint64_t seq;  /* among equals: the first pushed goes first */
    uint8_t klass; /* 2: front, 1: never seen before, 0: known */
} entry_t;

typedef struct {
    ms_trec_t *t;
    int64_t until_ms;
} delayed_t;

struct ms_queue {
    entry_t *heap;
    size_t len, cap;
    delayed_t *delayed;
    size_t n_delayed, cap_delayed;
    uint64_t seq;
    size_t limit; /* ready tasks at most; 0: no limit */
};

ms_queue_t *ms_queue_new(void)
{
    return calloc(1, sizeof(ms_queue_t));
}

void ms_queue_destroy(ms_queue_t **qp)
{
    if (!qp || !*qp)
        return;
    free((*qp)->heap);
    free((*qp)->delayed);
    free(*qp);
    *qp = NULL;
}

void ms_queue_set_limit(ms_queue_t *q, size_t max)
{
    q->limit = max;
}

/* Room for one more in an array of *cap elements of size sz. */
static int grow(void **v, size_t *cap, size_t len, size_t sz)
{
    if (len < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *nv = realloc(*v, ncap * sz);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

static int full(const ms_queue_t *q)
{
    return q->limit && q->len >= q->limit;
}

static int goes_before(const entry_t *a, const entry_t *b)
{
    if (a->klass != b->klass)
        return a->klass > b->klass;
    if (a->key != b->key)
        return a->key > b->key;
    return a->seq < b->seq;
}

static void swap(entry_t *a, entry_t *b)
{
    entry_t x = *a;
    *a = *b;
    *b = x;
}

static void sift_up(ms_queue_t *q, size_t i)
{
    while (i > 0 && goes_before(&q->heap[i], &q->heap[(i - 1) / 2])) {
        swap(&q->heap[i], &q->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static void sift_down(ms_queue_t *q, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < q->len && goes_before(&q->heap[l], &q->heap[best]))
            best = l;
        if (r < q->len && goes_before(&q->heap[r], &q->heap[best]))
            best = r;
        if (best == i)
            return;
        swap(&q->heap[i], &q->heap[best]);
        i = best;
    }
}

int ms_queue_push(ms_queue_t *q, ms_trec_t *t, int front)
{
    if (full(q) || grow((void **)&q->heap, &q->cap, q->len, sizeof *q->heap) != 0) {
        errno = ENOMEM;
        return -1;
    }
    entry_t e = {.t = t, .seq = q->seq++};
    e.klass = front ? 2 : t->expected_known ? 0 : 1;
    e.key = front ? 0 : t->expected_known ? t->expected_seconds : t->cost;
    q->heap[q->len++] = e;
    sift_up(q, q->len - 1);
    return 0;
}

int ms_queue_delay(ms_queue_t *q, ms_trec_t *t, int64_t until_ms)
{
    if (grow((void **)&q->delayed, &q->cap_delayed, q->n_delayed, sizeof *q->delayed) != 0) {
        errno = ENOMEM;
        return -1;
    }
    q->delayed[q->n_delayed++] = (delayed_t){t, until_ms};
    return 0;
}

size_t ms_queue_release_due(ms_queue_t *q, int64_t now)
{
    size_t kept = 0, moved = 0;
    for (size_t i = 0; i < q->n_delayed; i++) {
        delayed_t d = q->delayed[i];
        /* It leaves the delayed list only once it is in the heap. */
        if (d.until_ms <= now && ms_queue_push(q, d.t, 1) == 0)
            moved++;
        else
            q->delayed[kept++] = d;
    }
    q->n_delayed = kept;
    return moved;
}

ms_trec_t *ms_queue_peek(const ms_queue_t *q)
{
    return q->len ? q->heap[0].t : NULL;
}

ms_trec_t *ms_queue_pop(ms_queue_t *q)
{
    if (q->len == 0)
        return NULL;
    ms_trec_t *t = q->heap[0].t;
    q->heap[0] = q->heap[--q->len];
    if (q->len)
        sift_down(q, 0);
    return t;
}

size_t ms_queue_ready(const ms_queue_t *q)
{
    return q->len;
}

size_t ms_queue_delayed(const ms_queue_t *q)
{
    return q->n_delayed;
}

int64_t ms_queue_next_due(const ms_queue_t *q)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < q->n_delayed; i++)
        if (q->delayed[i].until_ms < next)
            next = q->delayed[i].until_ms;
    return next;
}

void ms_queue_remove_run(ms_queue_t *q, const ms_runrec_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < q->len; i++)
        if (q->heap[i].t->run != r)
            q->heap[kept++] = q->heap[i];
    q->len = kept;
    for (size_t i = q->len / 2; i-- > 0;)
        sift_down(q, i);
    kept = 0;
    for (size_t i = 0; i < q->n_delayed; i++)
        if (q->delayed[i].t->run != r)
            q->delayed[kept++] = q->delayed[i];
    q->n_delayed = kept;
}
