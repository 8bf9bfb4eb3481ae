/*
 * ms_fleet.c - the master's worker records (see ms_fleet.h).
 */
#include "ms_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ms_fleet {
    ms_wrec_t **w;
    size_t n, cap;
    unsigned next_id;
    size_t limit; /* 0: none */
};

ms_fleet_t *ms_fleet_new(void)
{
    return calloc(1, sizeof(ms_fleet_t));
}

static void free_rec(ms_wrec_t *w)
{
    free(w->host.cores);
    free(w);
}

void ms_fleet_destroy(ms_fleet_t **fp)
{
    if (!fp || !*fp)
        return;
    for (size_t i = 0; i < (*fp)->n; i++)
        free_rec((*fp)->w[i]);
    free((*fp)->w);
    free(*fp);
    *fp = NULL;
}

void ms_fleet_set_limit(ms_fleet_t *f, size_t max)
{
    f->limit = max;
}

static int make_room(ms_fleet_t *f)
{
    if (f->limit && f->n >= f->limit)
        return -1;
    if (f->n < f->cap)
        return 0;
    size_t ncap = f->cap ? f->cap * 2 : 8;
    ms_wrec_t **nw = realloc(f->w, ncap * sizeof *nw);
    if (!nw)
        return -1;
    f->w = nw;
    f->cap = ncap;
    return 0;
}

ms_wrec_t *ms_fleet_add(ms_fleet_t *f, const ms_peer_t *peer, const char *name, int64_t now_ms)
{
    ms_wrec_t *w = make_room(f) == 0 ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    w->peer = *peer;
    snprintf(w->id, sizeof w->id, "w%u", ++f->next_id);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->last_seen_ms = now_ms;
    f->w[f->n++] = w;
    return w;
}

void ms_fleet_remove(ms_fleet_t *f, ms_wrec_t *w)
{
    for (size_t i = 0; i < f->n; i++) {
        if (f->w[i] == w) {
            f->w[i] = f->w[--f->n];
            free_rec(w);
            return;
        }
    }
}

size_t ms_fleet_count(const ms_fleet_t *f)
{
    return f->n;
}

ms_wrec_t *ms_fleet_at(const ms_fleet_t *f, size_t i)
{
    return i < f->n ? f->w[i] : NULL;
}

ms_wrec_t *ms_fleet_by_peer(const ms_fleet_t *f, const ms_peer_t *peer)
{
    for (size_t i = 0; i < f->n; i++)
        if (ms_peer_eq(&f->w[i]->peer, peer))
            return f->w[i];
    return NULL;
}

ms_wrec_t *ms_fleet_by_name(const ms_fleet_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->w[i]->name, name) == 0)
            return f->w[i];
    return NULL;
}

ms_wrec_t *ms_fleet_by_id(const ms_fleet_t *f, const char *id)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->w[i]->id, id) == 0)
            return f->w[i];
    return NULL;
}

int ms_worker_usable(const ms_wrec_t *w)
{
    return !w->draining && !w->unreachable && !w->broken[0];
}

void ms_fleet_grant(ms_wrec_t *w, unsigned credit)
{
    unsigned free_slots = w->slots > w->running ? w->slots - w->running : 0;
    if (!ms_worker_usable(w))
        return;
    w->credit += credit;
    if (w->credit > free_slots)
        w->credit = free_slots;
}

ms_wrec_t *ms_fleet_freest(const ms_fleet_t *f, const char *avoid_host)
{
    ms_wrec_t *best = NULL;
    for (size_t i = 0; i < f->n; i++) {
        ms_wrec_t *w = f->w[i];
        if (w->credit == 0 || !ms_worker_usable(w) ||
            (avoid_host && strcmp(w->name, avoid_host) == 0))
            continue;
        if (!best || w->credit > best->credit)
            best = w;
    }
    return best;
}

size_t ms_fleet_credit(const ms_fleet_t *f)
{
    size_t credit = 0;
    for (size_t i = 0; i < f->n; i++)
        if (ms_worker_usable(f->w[i]))
            credit += f->w[i]->credit;
    return credit;
}

unsigned ms_fleet_slots(const ms_fleet_t *f, int usable_only, unsigned *busy)
{
    unsigned slots = 0, running = 0;
    for (size_t i = 0; i < f->n; i++) {
        running += f->w[i]->running;
        if (!usable_only || ms_worker_usable(f->w[i]))
            slots += f->w[i]->slots;
    }
    if (busy)
        *busy = running;
    return slots;
}

int ms_fleet_any_usable(const ms_fleet_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (ms_worker_usable(f->w[i]))
            return 1;
    return 0;
}

ms_wrec_t *ms_fleet_silent(const ms_fleet_t *f, int64_t now_ms, int64_t ttl_ms)
{
    for (size_t i = 0; i < f->n; i++)
        if (now_ms - f->w[i]->last_seen_ms > ttl_ms)
            return f->w[i];
    return NULL;
}

ms_wrec_t *ms_fleet_unreachable(const ms_fleet_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->w[i]->unreachable)
            return f->w[i];
    return NULL;
}
