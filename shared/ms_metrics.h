/*
 * ms_metrics.h - what a master knows, as Prometheus metrics: the text
 * exposition format 0.0.4 (`# HELP`, `# TYPE`, one sample a line), made
 * from the two JSON documents the CLI prints, so that /metrics on a master
 * and `multisync run --metrics-file` (node_exporter's textfile collector)
 * say the same thing.
 *
 * Inputs (either may be NULL, and anything in them may be missing or of
 * the wrong type: such a figure is left out, never guessed):
 *   status   what `multisync status --json` prints (ms_master_status): the
 *            run going now, the workers with their host samples, the last
 *            run's summary when none goes.
 *   history  what `multisync history --json` prints: an array of runs,
 *            newest first. The counters (`*_total`) are sums over its
 *            finished runs, so give all of the catalog's runs (n = 0): a
 *            master never deletes a finished run from its catalog, so the
 *            sums only grow while it runs. Without history there are no
 *            counters (a sum over less would go down when a run left it).
 *
 * What is read where (README "Metrics" lists every metric):
 *   - `set` labels: a run's set name, or "SOURCE -> DESTINATION" for a run
 *     without one (every embedded run). Only backups (kind mirror or
 *     snapshot) count for the per-set figures: a verify, a dry run or a
 *     restore that succeeded says nothing about the age of the backup.
 *   - Counters sum the finished runs that copy (mirror, snapshot,
 *     restore): bytes transferred, tasks ok / unchanged / failed (a
 *     cancelled run's tasks count only when they failed or were
 *     unchanged: the others may not have run), runs by status.
 *   - The current run's gauges come from status.run; workers from
 *     status.workers, plus a 0 for `up` of each host the shown diagnosis
 *     or the last run names that is not connected now.
 *   - Label values are made valid UTF-8 (ms_utf8_clean: an invalid byte
 *     becomes the text "\xNN") and then escaped as the format wants:
 *     backslash, double quote and newline. Series are sorted by label and
 *     each appears once.
 */
#ifndef MS_METRICS_H
#define MS_METRICS_H

#include <jansson.h>
#include <stddef.h>

/* The Content-Type a scrape answer carries. */
#define MS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * The metrics text (malloc'd, NUL-terminated, *len bytes without the NUL;
 * the caller frees it). NULL with err set only when memory runs out: bad
 * input gives fewer samples, not an error. Pure: no I/O, no logging, no
 * clock (every time in it comes from the input).
 */
char *ms_metrics_text(const json_t *status, const json_t *history, size_t *len, char *err,
                      size_t errlen);

/*
 * An RFC 3339 date-time ("2024-03-01T02:00:07Z", "…T03:00:07.25+01:00";
 * 't', 'z' and a space for the 'T' accepted, as the RFC allows) as seconds
 * since the epoch into *out. 0, or -1 for anything else (a field out of
 * range, 30 February, trailing bytes).
 */
int ms_metrics_rfc3339(const char *s, double *out);

#endif
