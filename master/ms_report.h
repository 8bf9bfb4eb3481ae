/*
 * ms_report.h - the report of a run as JSON: the stable, documented form
 * that `--report FILE.json` writes and scripts read, and that the client
 * prints as a table (cli/ms_print.h), so that the two never disagree. The
 * last step of one-way reporting: labels (ms_label) -> diagnosis (ms_diag)
 * -> this JSON; the master prints no tables.
 *
 * Strings in the JSON are UTF-8: in a project or host name that is not,
 * each invalid byte is written as the four characters "\xNN" (ms_utf8_clean;
 * the backup itself is byte-exact, only the report escapes).
 */
#ifndef MS_REPORT_H
#define MS_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "ms_diag.h"
#include "ms_run.h"

/* The report's cache: the rows of the last finished run asked for; and the
 * diagnosis's figures, which a run's report reads while the run goes on
 * (a finished run's diagnosis is frozen in it: r->extra_json). */
typedef struct ms_report ms_report_t;

/* diag: the figures of live runs, not owned, outliving the report; NULL:
 * none (a live run's verdicts come from zeros). NULL on out of memory. */
ms_report_t *ms_report_new(const ms_diag_t *diag);
void ms_report_destroy(ms_report_t **rep);

/* Before r is freed: rep keeps nothing of it any more. */
void ms_report_forget(ms_report_t *rep, const ms_runrec_t *r);

/*
 * The report of r (finished or not), with only some rows in "tasks" (the
 * totals count them all): rows from..from+max-1 (SIZE_MAX: all), among all
 * rows or, with failed_only, the failed ones.
 * When that is not every row, "tasks_from" and "tasks_total" (rows selected
 * in all) say which part this is. A big run's report travels in pages: the
 * master's memory then holds one page of JSON, not 100,000 rows. rep may be
 * NULL: no cache and no diagnosis's figures (as ms_report_new(NULL)).
 * Returns a new reference, or NULL on out of memory.
 */
json_t *ms_report_json_page(ms_report_t *rep, const ms_runrec_t *r, size_t from, size_t max,
                            int failed_only);

#endif
