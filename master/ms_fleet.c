/*
 * ms_fleet.c - the master's worker records (see ms_fleet.h).
 *
 * Records are in an array (ms_fleet_at's order: a removal moves the last
 * one into the gap) and in three hash maps. The usable ones with credit
 * are also in a binary max-heap ordered by credit, then by place in the
 * array (the first wins a tie, as a scan of the array would choose).
 */
#include "ms_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_hmap.h"

#define NOWHERE ((size_t)-1)

/* A record and where the fleet keeps it. */
typedef struct {
    ms_wrec_t w;      /* first: a record's address is its wrapper's */
    size_t at;        /* index in f->w */
    size_t heap;      /* index in f->heap; NOWHERE when not usable with credit */
    unsigned counted; /* its share of f->credit: its credit while usable, else 0 */
} rec_t;

struct ms_fleet {
    rec_t **w;
    size_t n, cap;
    rec_t **heap; /* room for cap */
    size_t n_heap;
    size_t credit; /* the usable workers' credit, summed */
    ms_hmap_t *by_peer, *by_name, *by_id;
    unsigned next_id;
    size_t limit; /* 0: none */
};

static rec_t *rec_of(ms_wrec_t *w)
{
    return (rec_t *)w;
}

ms_fleet_t *ms_fleet_new(void)
{
    ms_fleet_t *f = calloc(1, sizeof *f);
    if (f && (!(f->by_peer = ms_hmap_new()) || !(f->by_name = ms_hmap_new()) ||
              !(f->by_id = ms_hmap_new())))
        ms_fleet_destroy(&f);
    return f;
}

static void free_rec(rec_t *r)
{
    free(r->w.host.cores);
    free(r);
}

void ms_fleet_destroy(ms_fleet_t **fp)
{
    if (!fp || !*fp)
        return;
    for (size_t i = 0; i < (*fp)->n; i++)
        free_rec((*fp)->w[i]);
    free((*fp)->w);
    free((*fp)->heap);
    ms_hmap_destroy(&(*fp)->by_peer);
    ms_hmap_destroy(&(*fp)->by_name);
    ms_hmap_destroy(&(*fp)->by_id);
    free(*fp);
    *fp = NULL;
}

void ms_fleet_set_limit(ms_fleet_t *f, size_t max)
{
    f->limit = max;
}

/* --- the heap of the usable workers with credit ---------------------------- */

/* Whether a goes before b: more credit, or as much and earlier in f->w. */
static int before(const rec_t *a, const rec_t *b)
{
    return a->w.credit > b->w.credit || (a->w.credit == b->w.credit && a->at < b->at);
}

static void heap_set(ms_fleet_t *f, size_t i, rec_t *r)
{
    f->heap[i] = r;
    r->heap = i;
}

static void sift_up(ms_fleet_t *f, size_t i)
{
    rec_t *r = f->heap[i];
    while (i > 0 && before(r, f->heap[(i - 1) / 2])) {
        heap_set(f, i, f->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(f, i, r);
}

static void sift_down(ms_fleet_t *f, size_t i)
{
    rec_t *r = f->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= f->n_heap)
            break;
        if (c + 1 < f->n_heap && before(f->heap[c + 1], f->heap[c]))
            c++;
        if (!before(f->heap[c], r))
            break;
        heap_set(f, i, f->heap[c]);
        i = c;
    }
    heap_set(f, i, r);
}

static void heap_remove(ms_fleet_t *f, rec_t *r)
{
    size_t i = r->heap;
    r->heap = NOWHERE;
    if (i == --f->n_heap)
        return;
    rec_t *moved = f->heap[f->n_heap]; /* the last one fills the gap */
    heap_set(f, i, moved);
    sift_up(f, i);
    sift_down(f, moved->heap);
}

/* r's credit, usability or place changed: its share of the credit and its
 * place in the heap follow. */
static void reindex(ms_fleet_t *f, rec_t *r)
{
    unsigned counted = ms_worker_usable(&r->w) ? r->w.credit : 0;
    f->credit = f->credit - r->counted + counted;
    r->counted = counted;
    if (counted == 0) {
        if (r->heap != NOWHERE)
            heap_remove(f, r);
        return;
    }
    if (r->heap == NOWHERE)
        heap_set(f, f->n_heap++, r);
    sift_up(f, r->heap);
    sift_down(f, r->heap);
}

/* --- records ---------------------------------------------------------------- */

static int make_room(ms_fleet_t *f)
{
    if (f->limit && f->n >= f->limit)
        return -1;
    if (f->n < f->cap)
        return 0;
    size_t ncap = f->cap ? f->cap * 2 : 8;
    rec_t **nw = realloc(f->w, ncap * sizeof *nw);
    if (!nw)
        return -1;
    f->w = nw;
    rec_t **nh = realloc(f->heap, ncap * sizeof *nh);
    if (!nh)
        return -1;
    f->heap = nh;
    f->cap = ncap;
    return 0;
}

static void unmap(ms_fleet_t *f, const ms_wrec_t *w)
{
    ms_hmap_del(f->by_peer, w->peer.id, w->peer.len);
    ms_hmap_del(f->by_name, w->name, strlen(w->name));
    ms_hmap_del(f->by_id, w->id, strlen(w->id));
}

static int map(ms_fleet_t *f, rec_t *r)
{
    ms_wrec_t *w = &r->w;
    if (ms_hmap_put(f->by_peer, w->peer.id, w->peer.len, r) != 0 ||
        ms_hmap_put(f->by_name, w->name, strlen(w->name), r) != 0 ||
        ms_hmap_put(f->by_id, w->id, strlen(w->id), r) != 0) {
        unmap(f, w);
        return -1;
    }
    return 0;
}

ms_wrec_t *ms_fleet_add(ms_fleet_t *f, const ms_peer_t *peer, const char *name, int64_t now_ms)
{
    if (ms_fleet_by_peer(f, peer) || ms_fleet_by_name(f, name)) {
        errno = EEXIST;
        return NULL;
    }
    rec_t *r = make_room(f) == 0 ? calloc(1, sizeof *r) : NULL;
    ms_wrec_t *w = r ? &r->w : NULL;
    if (r) {
        w->peer = *peer;
        snprintf(w->id, sizeof w->id, "w%u", f->next_id + 1);
        snprintf(w->name, sizeof w->name, "%s", name);
        w->last_seen_ms = now_ms;
        r->heap = NOWHERE;
    }
    if (!r || map(f, r) != 0) {
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    f->next_id++;
    r->at = f->n;
    f->w[f->n++] = r;
    return w;
}

void ms_fleet_remove(ms_fleet_t *f, ms_wrec_t *w)
{
    rec_t *r = rec_of(w);
    if (r->at >= f->n || f->w[r->at] != r)
        return; /* not one of ours */
    unmap(f, w);
    r->w.credit = 0;
    reindex(f, r); /* out of the heap and the credit */
    rec_t *last = f->w[--f->n];
    if (last != r) {
        f->w[r->at] = last;
        last->at = r->at;
        reindex(f, last); /* earlier now: it may win more ties */
    }
    free_rec(r);
}

size_t ms_fleet_count(const ms_fleet_t *f)
{
    return f->n;
}

ms_wrec_t *ms_fleet_at(const ms_fleet_t *f, size_t i)
{
    return i < f->n ? &f->w[i]->w : NULL;
}

ms_wrec_t *ms_fleet_by_peer(const ms_fleet_t *f, const ms_peer_t *peer)
{
    return ms_hmap_get(f->by_peer, peer->id, peer->len);
}

ms_wrec_t *ms_fleet_by_name(const ms_fleet_t *f, const char *name)
{
    return ms_hmap_get(f->by_name, name, strlen(name));
}

ms_wrec_t *ms_fleet_by_id(const ms_fleet_t *f, const char *id)
{
    return ms_hmap_get(f->by_id, id, strlen(id));
}

/* --- credit and state ------------------------------------------------------- */

int ms_worker_usable(const ms_wrec_t *w)
{
    return !w->draining && !w->unreachable && !w->broken[0];
}

void ms_fleet_grant(ms_fleet_t *f, ms_wrec_t *w, unsigned credit)
{
    unsigned free_slots = w->slots > w->running ? w->slots - w->running : 0;
    if (!ms_worker_usable(w))
        return;
    w->credit += credit;
    if (w->credit > free_slots)
        w->credit = free_slots;
    reindex(f, rec_of(w));
}

void ms_fleet_take(ms_fleet_t *f, ms_wrec_t *w)
{
    w->credit--;
    w->running++;
    reindex(f, rec_of(w));
}

void ms_fleet_untake(ms_fleet_t *f, ms_wrec_t *w)
{
    w->credit++;
    w->running--;
    reindex(f, rec_of(w));
}

void ms_fleet_task_ended(ms_fleet_t *f, ms_wrec_t *w)
{
    (void)f;
    if (w->running > 0)
        w->running--;
}

void ms_fleet_task_adopted(ms_fleet_t *f, ms_wrec_t *w)
{
    (void)f;
    w->running++;
}

void ms_fleet_set_draining(ms_fleet_t *f, ms_wrec_t *w)
{
    w->draining = 1;
    w->credit = 0;
    reindex(f, rec_of(w));
}

void ms_fleet_set_unreachable(ms_fleet_t *f, ms_wrec_t *w)
{
    w->unreachable = 1;
    reindex(f, rec_of(w));
}

void ms_fleet_set_broken(ms_fleet_t *f, ms_wrec_t *w, const char *why)
{
    snprintf(w->broken, sizeof w->broken, "%s", why && *why ? why : "broken");
    w->credit = 0;
    reindex(f, rec_of(w));
}

/* --- questions -------------------------------------------------------------- */

ms_wrec_t *ms_fleet_freest(const ms_fleet_t *f, const char *avoid_host)
{
    if (f->n_heap == 0)
        return NULL;
    rec_t *top = f->heap[0];
    if (!avoid_host || strcmp(top->w.name, avoid_host) != 0)
        return &top->w;
    /* Names are unique: only the top is on that host, and the best of the
     * rest is one of its two children. */
    rec_t *a = f->n_heap > 1 ? f->heap[1] : NULL, *b = f->n_heap > 2 ? f->heap[2] : NULL;
    rec_t *best = b && (!a || before(b, a)) ? b : a;
    return best ? &best->w : NULL;
}

size_t ms_fleet_credit(const ms_fleet_t *f)
{
    return f->credit;
}

unsigned ms_fleet_slots(const ms_fleet_t *f, int usable_only, unsigned *busy)
{
    unsigned slots = 0, running = 0;
    for (size_t i = 0; i < f->n; i++) {
        const ms_wrec_t *w = &f->w[i]->w;
        running += w->running;
        if (!usable_only || ms_worker_usable(w))
            slots += w->slots;
    }
    if (busy)
        *busy = running;
    return slots;
}

int ms_fleet_any_usable(const ms_fleet_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (ms_worker_usable(&f->w[i]->w))
            return 1;
    return 0;
}

ms_wrec_t *ms_fleet_silent(const ms_fleet_t *f, int64_t now_ms, int64_t ttl_ms)
{
    for (size_t i = 0; i < f->n; i++)
        if (now_ms - f->w[i]->w.last_seen_ms > ttl_ms)
            return &f->w[i]->w;
    return NULL;
}

void ms_fleet_excuse(ms_fleet_t *f, int64_t ms, int64_t now_ms)
{
    for (size_t i = 0; i < f->n; i++) {
        ms_wrec_t *w = &f->w[i]->w;
        w->last_seen_ms = now_ms - w->last_seen_ms > ms ? w->last_seen_ms + ms : now_ms;
    }
}

ms_wrec_t *ms_fleet_unreachable(const ms_fleet_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->w[i]->w.unreachable)
            return &f->w[i]->w;
    return NULL;
}
