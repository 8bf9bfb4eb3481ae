/*
 * ms_eta.c - how far a run is and when it will end (see ms_eta.h).
 */
#include "ms_eta.h"

void ms_eta_init(ms_eta_t *e)
{
    *e = (ms_eta_t){.total_known = 1};
}

/*
 * What running task t still needs, in seconds: what its last run took
 * beyond what it has run, and its bytes left at its own rate once that
 * means something; the larger of the two (a wrong guess on the short side
 * is the one that hurts).
 */
static double still_needs(const ms_eta_task_t *t)
{
    double need = 0;
    if (t->expected_s > t->elapsed_s)
        need = t->expected_s - t->elapsed_s;
    if (t->size_known && t->done > 0 && t->size > t->done && t->elapsed_s >= MS_ETA_OWN_RATE_S) {
        double own_rate = (double)t->done / t->elapsed_s;
        double by_bytes = (double)(t->size - t->done) / own_rate;
        need = by_bytes > need ? by_bytes : need;
    }
    return need;
}

void ms_eta_add(ms_eta_t *e, const ms_eta_task_t *t)
{
    switch (t->state) {
    case MS_ETA_SKIPPED:
        e->skipped += t->size;
        return;
    case MS_ETA_DONE:
        e->total += t->done;
        e->done += t->done;
        return;
    case MS_ETA_RUNNING: {
        double need = still_needs(t);
        e->floor_s = need > e->floor_s ? need : e->floor_s;
        e->done += t->done;
        e->total += t->size > t->done ? t->size : t->done;
        break;
    }
    case MS_ETA_PENDING:
        e->total += t->size;
        break;
    }
    e->open++;
    if (!t->size_known)
        e->total_known = 0;
}

double ms_eta_rate(const ms_eta_t *e, double work_s)
{
    return work_s > 0 ? (double)e->done / work_s : 0;
}

double ms_eta_percent(const ms_eta_t *e)
{
    if (!e->total_known)
        return -1;
    if (e->total == 0)
        return e->open ? 0 : 100;
    double p = 100.0 * (double)e->done / (double)e->total;
    return p > 100 ? 100 : p;
}

double ms_eta_seconds(const ms_eta_t *e, double work_s)
{
    if (!e->total_known)
        return -1;
    uint64_t left = e->total > e->done ? e->total - e->done : 0;
    if (left == 0)
        return e->floor_s;
    double rate = ms_eta_rate(e, work_s);
    if (rate <= 0)
        return -1;
    double eta = (double)left / rate;
    return eta > e->floor_s ? eta : e->floor_s;
}
