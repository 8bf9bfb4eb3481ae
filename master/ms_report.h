/*
 * ms_report.h - the report of a run: JSON (the stable, documented form that
 * `--report FILE.json` writes and scripts read) and the table a person reads,
 * printed from that same JSON so the two never disagree.
 *
 * Strings in the JSON are UTF-8: in a project or host name that is not,
 * each invalid byte is written as the four characters "\xNN" (ms_utf8_clean;
 * the backup itself is byte-exact, only the report escapes).
 */
#ifndef MS_REPORT_H
#define MS_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "ms_run.h"

/*
 * The report of r (finished or not), with only some rows in "tasks" (the
 * totals count them all): rows from..from+max-1 (SIZE_MAX: all), among all
 * rows or, with failed_only, the failed ones.
 * When that is not every row, "tasks_from" and "tasks_total" (rows selected
 * in all) say which part this is. A big run's report travels in pages: the
 * master's memory then holds one page of JSON, not 100,000 rows. Returns a
 * new reference, or NULL on out of memory.
 */
json_t *ms_report_json_page(const ms_runrec_t *r, size_t from, size_t max, int failed_only);

/*
 * Print the table and totals for a report to out, and one line per failed
 * task to err (which project, which host, what rsync said). Returns the
 * number of failed tasks, or -1 when the JSON lacks the expected keys.
 */
int ms_report_print(const json_t *report, FILE *out, FILE *err);

/*
 * One line of live progress for a terminal, from a run object of `status
 * --json` ("run"): "\r3/12 done, 2 running, 1.2 GiB of 3.4 GiB, 45 MiB/s,
 * ETA 0:51" and a clear-to-end-of-line. Does nothing for a NULL run.
 */
void ms_report_progress(FILE *out, const json_t *run);

/* Print `status --json` for a person. */
void ms_report_print_status(const json_t *status, FILE *out);

/* Print `history --json` (an array) for a person. */
void ms_report_print_history(const json_t *history, FILE *out);

#endif
