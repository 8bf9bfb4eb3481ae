#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_diag.h"
#include "ms_hmap.h"
#include "ms_jnum.h"
#include "ms_label.h"
#include "ms_utf8.h"

#define FULL_SHARE 0.5      /* slots full at least this share of samples */
#define CPU_BOUND 75.0      /* % busy cores while full */
#define TASK_CPU_BOUND 0.5  /* the rsyncs' own CPU seconds per wall second */
#define TASK_CPU_IDLE 0.25  /* below this the rsyncs mostly waited */
#define IO_BOUND 50.0       /* % below which cores idle while full */
#define TAIL_SHARE 0.3      /* share of the run spent on the tail */
#define LONG_TASK_SHARE 0.5 /* the longest task, share of the wall time */
#define WAIT_SHARE 0.5      /* tasks waiting for slots, share of the run */

/* A host's sums over the run's samples (one per heartbeat with counters). */
typedef struct {
    char host[MS_MAX_NAME + 1];     /* as the run's worker entry names it */
    unsigned samples, full_samples; /* all / with every slot busy */
    double cpu_sum, full_cpu_sum;   /* cpu % summed over those samples */
    double full_disk_busy_sum;      /* disk busy % summed while full */
    double full_net_bps_sum;        /* network bytes/s summed while full */
    uint64_t disk_read_bytes, disk_write_bytes, net_sent_bytes, net_recv_bytes;
} host_sums_t;

/* A run's figures: its master ticks and its hosts' sums. */
typedef struct {
    const ms_runrec_t *run;
    unsigned ticks;
    unsigned ticks_waiting; /* tasks queued while every slot was busy */
    unsigned ticks_tail;    /* queue empty, slots free, a task still running */
    host_sums_t *hosts;
    size_t n_hosts;
    ms_hmap_t *by_host; /* host -> index in hosts + 1 (a thousand hosts); NULL: scan */
} run_figs_t;

struct ms_diag {
    run_figs_t *runs;
    size_t n_runs;
};

/* What a run or host with no figures reads as. */
static const run_figs_t no_figs;
static const host_sums_t no_sums;

ms_diag_t *ms_diag_new(void)
{
    return calloc(1, sizeof(ms_diag_t));
}

void ms_diag_forget(ms_diag_t *d, const ms_runrec_t *r)
{
    for (size_t i = 0; d && i < d->n_runs; i++) {
        if (d->runs[i].run != r)
            continue;
        free(d->runs[i].hosts);
        ms_hmap_destroy(&d->runs[i].by_host);
        d->runs[i] = d->runs[--d->n_runs]; /* order does not matter */
        return;
    }
}

void ms_diag_destroy(ms_diag_t **d)
{
    if (!d || !*d)
        return;
    for (size_t i = 0; i < (*d)->n_runs; i++) {
        free((*d)->runs[i].hosts);
        ms_hmap_destroy(&(*d)->runs[i].by_host);
    }
    free((*d)->runs);
    free(*d);
    *d = NULL;
}

/* r's figures in d, or NULL. */
static const run_figs_t *figs_find(const ms_diag_t *d, const ms_runrec_t *r)
{
    for (size_t i = 0; d && i < d->n_runs; i++)
        if (d->runs[i].run == r)
            return &d->runs[i];
    return NULL;
}

/* r's figures, or no_figs. */
static const run_figs_t *figs_or_none(const ms_diag_t *d, const ms_runrec_t *r)
{
    const run_figs_t *f = figs_find(d, r);
    return f ? f : &no_figs;
}

/* The sums of host in f, or no_sums. */
/* The index of host's sums in f, or -1. */
static ptrdiff_t sums_at(const run_figs_t *f, const char *host)
{
    if (f->by_host)
        return (ptrdiff_t)(uintptr_t)ms_hmap_get(f->by_host, host, strlen(host)) - 1;
    for (size_t i = 0; i < f->n_hosts; i++)
        if (strcmp(f->hosts[i].host, host) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static const host_sums_t *sums_of(const run_figs_t *f, const char *host)
{
    ptrdiff_t i = sums_at(f, host);
    return i >= 0 ? &f->hosts[i] : &no_sums;
}

/* r's figures, made when it has none yet; NULL when out of memory. */
static run_figs_t *figs_make(ms_diag_t *d, const ms_runrec_t *r)
{
    const run_figs_t *known = figs_find(d, r);
    if (known)
        return &d->runs[known - d->runs];
    run_figs_t *nr = realloc(d->runs, (d->n_runs + 1) * sizeof *nr);
    if (!nr)
        return NULL;
    d->runs = nr;
    nr[d->n_runs] = (run_figs_t){.run = r};
    return &nr[d->n_runs++];
}

/* The sums of host (a name of w) in f, made when it has none yet; NULL
 * when out of memory. */
static host_sums_t *sums_make(run_figs_t *f, const ms_run_worker_t *w)
{
    ptrdiff_t at = sums_at(f, w->host);
    if (at >= 0)
        return &f->hosts[at];
    if (f->n_hosts == 0 && !f->by_host)
        f->by_host = ms_hmap_new(); /* NULL: scan */
    host_sums_t *nh = realloc(f->hosts, (f->n_hosts + 1) * sizeof *nh);
    if (!nh)
        return NULL;
    f->hosts = nh;
    nh[f->n_hosts] = no_sums;
    snprintf(nh[f->n_hosts].host, sizeof nh->host, "%s", w->host);
    if (f->by_host && ms_hmap_put(f->by_host, nh[f->n_hosts].host, strlen(nh[f->n_hosts].host),
                                  (void *)(uintptr_t)(f->n_hosts + 1)) != 0)
        ms_hmap_destroy(&f->by_host); /* out of memory: scan from now on */
    return &nh[f->n_hosts++];
}

/* r's worker entry for host, or NULL. */
static const ms_run_worker_t *worker_of(const ms_runrec_t *r, const char *host)
{
    return ms_run_worker(r, host); /* hashed */
}

void ms_diag_sample(ms_diag_t *d, const ms_runrec_t *r, const char *host, const ms_diag_sample_t *s)
{
    const ms_run_worker_t *w = worker_of(r, host);
    run_figs_t *f = d && w && !r->finished ? figs_make(d, r) : NULL;
    host_sums_t *h = f ? sums_make(f, w) : NULL;
    if (!h)
        return; /* not a host of the run, or out of memory: the sample is lost */
    h->samples++;
    h->cpu_sum += s->cpu_percent;
    if (s->slots > 0 && s->busy >= s->slots) {
        h->full_samples++;
        h->full_cpu_sum += s->cpu_percent;
        h->full_disk_busy_sum += s->disk_busy_percent;
        h->full_net_bps_sum += s->net_bps;
    }
    h->disk_read_bytes += s->disk_read_bytes;
    h->disk_write_bytes += s->disk_write_bytes;
    h->net_sent_bytes += s->net_sent_bytes;
    h->net_recv_bytes += s->net_recv_bytes;
}

void ms_diag_tick(ms_diag_t *d, const ms_runrec_t *r, size_t queued, unsigned busy, unsigned slots,
                  size_t running)
{
    run_figs_t *f = d && !r->finished ? figs_make(d, r) : NULL;
    if (!f)
        return; /* out of memory: the tick is lost */
    f->ticks++;
    if (queued > 0 && slots > 0 && busy >= slots)
        f->ticks_waiting++;
    if (queued == 0 && busy < slots && running > 0)
        f->ticks_tail++;
}

static double share(unsigned part, unsigned whole)
{
    return whole ? (double)part / whole : 0.0;
}

static json_t *verdict(const char *v, const char *evidence, const char *suggestion)
{
    return json_pack("{s:s, s:s, s:s}", "verdict", v, "evidence", evidence, "suggestion",
                     suggestion);
}

/*
 * How busy its own rsyncs kept a core, on average: CPU seconds over wall
 * seconds of the tasks that ran on the host (every result it sent, summed
 * as they came: a status query costs nothing per task). It tells a
 * throttled or I/O-waiting rsync (near 0) from a CPU-bound one (near 1)
 * even when other programs load the host. -1 when no task finished there
 * yet.
 */
static double task_cpu_share(const ms_run_worker_t *w)
{
    return w->task_secs > 0 ? w->task_cpu_s / w->task_secs : -1;
}

static const char *host_verdict(const ms_run_worker_t *w, const host_sums_t *h, double *cpu_full,
                                double *task_cpu)
{
    double full = share(h->full_samples, h->samples);
    *cpu_full = h->full_samples ? h->full_cpu_sum / h->full_samples : 0.0;
    *task_cpu = task_cpu_share(w);
    if (h->samples == 0 || full < FULL_SHARE)
        return "balanced";
    if (*cpu_full >= CPU_BOUND && *task_cpu != -1 && *task_cpu >= TASK_CPU_BOUND)
        return "cpu-bound";
    if (*cpu_full < IO_BOUND || (*task_cpu != -1 && *task_cpu < TASK_CPU_IDLE))
        return "io-bound";
    return "balanced";
}

static json_t *host_json(const ms_run_worker_t *w, const host_sums_t *h)
{
    char ev[512], sug[2048], host[4 * MS_MAX_NAME + 8];
    double cpu_full, task_cpu, full = share(h->full_samples, h->samples);
    const char *v = host_verdict(w, h, &cpu_full, &task_cpu);
    double disk = h->full_samples ? h->full_disk_busy_sum / h->full_samples : 0.0;
    double net = h->full_samples ? h->full_net_bps_sum / h->full_samples / 1e6 : 0.0;
    ms_utf8_clean(w->host, host, sizeof host);
    snprintf(ev, sizeof ev,
             "%s %u slot%s busy in %.0f%% of %u sample%s; meanwhile CPU %.0f%%, disk busy "
             "%.0f%%, network %.1f MB/s; each rsync kept a core %.0f%% busy",
             w->slots == 1 ? "its" : "all", w->slots, w->slots == 1 ? "" : "s", 100 * full,
             h->samples, h->samples == 1 ? "" : "s", cpu_full, disk, net,
             task_cpu < 0 ? 0.0 : 100 * task_cpu);
    if (strcmp(v, "cpu-bound") == 0)
        snprintf(sug, sizeof sug,
                 "%s has no CPU to spare: more slots there would not help; add "
                 "hosts or faster cores",
                 host);
    else if (strcmp(v, "io-bound") == 0)
        snprintf(sug, sizeof sug, "%s waits on I/O with idle cores: %s", host,
                 disk >= 70 ? "its disks are saturated, spread the backups over more disks or "
                              "hosts"
                            : "raise --slots on it (more rsyncs in parallel), or lift the "
                              "bandwidth limit");
    else
        snprintf(sug, sizeof sug, "nothing to change on %s", host);
    json_t *o = verdict(v, ev, sug);
    json_t *figs = json_pack("{s:i, s:f, s:f, s:f, s:I, s:o}", "slots", (int)w->slots,
                             "slots_full_percent", ms_jnum_pct(100 * full), "cpu_percent",
                             ms_jnum_pct(cpu_full), "disk_busy_percent", ms_jnum_pct(disk),
                             "net_bps", ms_jnum_whole(net * 1e6), "rsync_cpu_percent",
                             task_cpu < 0 ? json_null() : json_real(ms_jnum_pct(100 * task_cpu)));
    if (o && figs)
        json_object_set_new(o, "figures", figs);
    else
        json_decref(figs);
    return o;
}

/* The task that took longest, and its duration. */
static const ms_trec_t *longest(const ms_runrec_t *r, double *secs)
{
    const ms_trec_t *best = NULL;
    *secs = 0;
    for (size_t i = 0; i < r->n_tasks; i++) {
        double s = ms_run_at(r, i)->result.seconds;
        if (ms_run_at(r, i)->state == MS_TS_RUNNING && ms_run_at(r, i)->started_ms)
            s = (double)(ms_now_ms() - ms_run_at(r, i)->started_ms) / 1000.0;
        if (!best || s > *secs) {
            best = ms_run_at(r, i);
            *secs = s;
        }
    }
    return best;
}

static double wall_seconds(const ms_runrec_t *r)
{
    struct timespec end = r->finished_rt;
    if (!r->finished)
        clock_gettime(CLOCK_REALTIME, &end);
    return (double)(end.tv_sec - r->started_rt.tv_sec) +
           (double)(end.tv_nsec - r->started_rt.tv_nsec) / 1e9;
}

/* How many hosts have each verdict. */
static void count_hosts(const ms_runrec_t *r, const run_figs_t *f, unsigned *cpu, unsigned *io)
{
    double unused, unused2;
    *cpu = *io = 0;
    for (size_t i = 0; i < r->n_workers; i++) {
        const ms_run_worker_t *w = &r->workers[i];
        const char *v = host_verdict(w, sums_of(f, w->host), &unused, &unused2);
        *cpu += strcmp(v, "cpu-bound") == 0;
        *io += strcmp(v, "io-bound") == 0;
    }
}

static json_t *long_task_json(const run_figs_t *f, const ms_trec_t *t, double secs, double wall)
{
    char ev[2048], sug[2048], name[4 * MS_MAX_NAME + 8];
    char task[4 * MS_MAX_PATH];
    ms_utf8_clean(ms_label_task(t, task, sizeof task), name, sizeof name);
    snprintf(ev, sizeof ev,
             "%s took %.1f s of the %.1f s run; for %.0f%% of the run slots were free with "
             "nothing queued while it ran",
             name, secs, wall, 100 * share(f->ticks_tail, f->ticks));
    if (t->n_items || t->n_chunks)
        snprintf(sug, sizeof sug,
                 "%s is part of a split project and still too big: lower split_min_mb, or give "
                 "the folder more, smaller subfolders to cut it by",
                 name);
    else
        snprintf(sug, sizeof sug,
                 "%s was not split: a project is cut into chunks only when it costs more than a "
                 "fair share of the run, has no hard links, and has folders or big files to cut "
                 "it by; give it subfolders, or lower split_min_mb",
                 name);
    return verdict("long-task", ev, sug);
}

static json_t *run_json(const ms_runrec_t *r, const run_figs_t *f)
{
    char ev[512], sug[512];
    double secs, wall = wall_seconds(r);
    const ms_trec_t *t = longest(r, &secs);
    unsigned cpu, io, n = (unsigned)r->n_workers;
    double waiting = share(f->ticks_waiting, f->ticks);
    if (t && share(f->ticks_tail, f->ticks) >= TAIL_SHARE && secs >= LONG_TASK_SHARE * wall)
        return long_task_json(f, t, secs, wall);
    count_hosts(r, f, &cpu, &io);
    snprintf(ev, sizeof ev,
             "tasks waited for a free slot %.0f%% of the run; %u of %u host%s cpu-bound, %u "
             "io-bound",
             100 * waiting, cpu, n, n == 1 ? "" : "s", io);
    if (cpu * 2 > n)
        return verdict("cpu-bound", ev, "the hosts' cores are the limit: add hosts");
    if (io * 2 > n)
        return verdict("io-bound", ev,
                       "the rsyncs wait on I/O: add slots where disks are idle, or add disks "
                       "and hosts where they are saturated");
    if (waiting < WAIT_SHARE)
        return verdict("balanced", ev, "nothing limits the run in particular");
    snprintf(sug, sizeof sug,
             "tasks queue up while CPUs and disks have room: raise --slots on the workers or "
             "add hosts");
    return verdict("under-provisioned", ev, sug);
}

json_t *ms_diag_json(const ms_diag_t *d, const ms_runrec_t *r)
{
    const run_figs_t *f = figs_or_none(d, r);
    json_t *hosts = json_object();
    char host[4 * MS_MAX_NAME + 8];
    for (size_t i = 0; hosts && i < r->n_workers; i++) {
        const ms_run_worker_t *w = &r->workers[i];
        json_object_set_new(hosts, ms_utf8_clean(w->host, host, sizeof host),
                            host_json(w, sums_of(f, w->host)));
    }
    return json_pack("{s:o, s:o}", "run", run_json(r, f), "hosts", hosts);
}

json_t *ms_diag_unconfined_json(unsigned unconfined)
{
    json_t *a = json_array();
    if (a && (unconfined & MS_UNCONFINED_SOURCE))
        json_array_append_new(a, json_string("source"));
    if (a && (unconfined & MS_UNCONFINED_DEST))
        json_array_append_new(a, json_string("dest"));
    return a;
}

json_t *ms_diag_worker_json(const ms_diag_t *d, const ms_runrec_t *r, const ms_run_worker_t *w)
{
    const host_sums_t *h = sums_of(figs_or_none(d, r), w->host);
    return json_pack("{s:f, s:I, s:I, s:I, s:I, s:o}", "cpu_percent_avg",
                     ms_jnum_pct(h->samples ? h->cpu_sum / h->samples : 0.0), "disk_read_bytes",
                     (json_int_t)h->disk_read_bytes, "disk_write_bytes",
                     (json_int_t)h->disk_write_bytes, "net_sent_bytes",
                     (json_int_t)h->net_sent_bytes, "net_recv_bytes", (json_int_t)h->net_recv_bytes,
                     "unconfined", ms_diag_unconfined_json(w->unconfined));
}

int ms_diag_freeze(const ms_diag_t *d, ms_runrec_t *r)
{
    json_t *workers = json_object();
    for (size_t i = 0; workers && i < r->n_workers; i++)
        json_object_set_new(workers, r->workers[i].id, ms_diag_worker_json(d, r, &r->workers[i]));
    json_t *x = json_pack("{s:o, s:o}", "diagnosis", ms_diag_json(d, r), "workers", workers);
    char *text = x ? json_dumps(x, JSON_COMPACT | MS_JNUM_DUMP) : NULL;
    json_decref(x);
    if (!text)
        return -1;
    free(r->extra_json);
    r->extra_json = text;
    return 0;
}
