/*
 * ms_diag.h - where a run's time went, from the counters: per host and for
 * the whole run, a verdict with the figures behind it and a suggestion.
 *
 * Inputs, gathered while the run goes on:
 *   - per host, every heartbeat with counters (ms_diag_sample): whether all
 *     its slots were busy, its CPU %, disk busy % and bytes, network bytes;
 *   - per master tick (ms_diag_tick): whether tasks of the run were waiting
 *     while every slot was busy, or slots were free with the queue empty
 *     while a task still ran (the tail of a long task).
 *
 * Verdicts (README "Diagnosis" says the same):
 *   host  cpu-bound   its slots were full at least half the time, and its
 *                     cores were at least 75 % busy meanwhile
 *         io-bound    slots full at least half the time, cores under 50 %:
 *                     the rsyncs waited on disk, network or a bandwidth limit
 *         balanced    anything else
 *   run   long-task   for at least 30 % of the run slots were free, the
 *                     queue was empty and one task still ran, and the longest
 *                     task took at least half the wall time: name it
 *         cpu-bound / io-bound
 *                     tasks waited for slots at least half the time and most
 *                     hosts have that verdict
 *         under-provisioned
 *                     tasks waited for slots at least half the time, and
 *                     the hosts had CPU and I/O to spare: more slots or hosts
 *         balanced    anything else
 */
#ifndef MS_DIAG_H
#define MS_DIAG_H

#include <jansson.h>
#include <stdint.h>

#include "ms_run.h"

/* What a host did between two heartbeats. */
typedef struct {
    unsigned slots, busy;
    double cpu_percent;
    double disk_busy_percent;
    double net_bps; /* sent + received */
    uint64_t disk_read_bytes, disk_write_bytes, net_sent_bytes, net_recv_bytes; /* deltas */
} ms_diag_sample_t;

/*
 * The diagnosis's figures: per run, its ticks, and per host of the run the
 * sums of its samples. They are the diagnosis's own (the run holds none of
 * them): a few numbers per run and host, never per task. Keyed by the run's
 * address: the master calls ms_diag_forget before it frees a run. Nothing
 * here logs.
 */
typedef struct ms_diag ms_diag_t;

/* No figures yet, or NULL when out of memory. */
ms_diag_t *ms_diag_new(void);

/* Free every figure and d. Accepts NULL and *d == NULL; sets *d NULL. */
void ms_diag_destroy(ms_diag_t **d);

/* Before r is freed: d keeps nothing of it any more (d may be NULL). Once
 * r is frozen (ms_diag_freeze) its figures are no longer needed either. */
void ms_diag_forget(ms_diag_t *d, const ms_runrec_t *r);

/* Add one sample of host to r's figures, if r has a worker entry for host
 * and is not finished (else it is ignored). When memory runs out the
 * sample is lost: the diagnosis then sees fewer samples, nothing else. */
void ms_diag_sample(ms_diag_t *d, const ms_runrec_t *r, const char *host,
                    const ms_diag_sample_t *s);

/* One master tick of r (ignored once r is finished): tasks queued, slots
 * busy / total (over the workers that are connected), tasks of this run
 * running. When memory runs out the tick is lost, as a sample is. */
void ms_diag_tick(ms_diag_t *d, const ms_runrec_t *r, size_t queued, unsigned busy, unsigned slots,
                  size_t running);

/*
 * The readers below take d NULL (or a run d has no figures of: never
 * sampled, forgotten, loaded from the catalog) as no samples and no ticks:
 * the verdicts come from zeros then.
 */

/* The diagnosis object {"run": {...}, "hosts": {NAME: {...}}}, each with
 * verdict, evidence, suggestion. New reference, or NULL (out of memory). */
json_t *ms_diag_json(const ms_diag_t *d, const ms_runrec_t *r);

/* The workers[] fields of r's worker entry w over the run: cpu_percent_avg,
 * disk_read_bytes, disk_write_bytes, net_sent_bytes, net_recv_bytes, and
 * unconfined (what the host said it may touch anywhere). New reference. */
json_t *ms_diag_worker_json(const ms_diag_t *d, const ms_runrec_t *r, const ms_run_worker_t *w);

/* ["source", "dest"] for the MS_UNCONFINED_* bits set; [] for none. */
json_t *ms_diag_unconfined_json(unsigned unconfined);

/* At the run's end: keep the diagnosis and the workers' fields as
 * r->extra_json, which the catalog stores with the run and reports of a
 * finished run use from then on. Returns 0 or -1 (out of memory: r is
 * unchanged, and its figures are still needed). */
int ms_diag_freeze(const ms_diag_t *d, ms_runrec_t *r);

#endif
