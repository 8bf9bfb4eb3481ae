/*
 * ms_print.h - the master's JSON as a person reads it: the report of a run
 * (master/ms_report.h), `status`, `history`, `snapshots`, and the live
 * progress line.
 *
 * Everything printed comes from a master over the network and holds names
 * anyone who can make a folder chose: control bytes (escape sequences,
 * carriage returns, newlines) are shown as \xNN, never sent to the
 * terminal; UTF-8 stays. Names are cut to their column's width in
 * characters, not bytes. A key missing from the JSON prints as 0 or "".
 */
#ifndef MS_PRINT_H
#define MS_PRINT_H

#include <jansson.h>
#include <stdio.h>

/*
 * Print the table and totals for a report to out, and one line per failed
 * task to err (which project, which host, what rsync said). Returns the
 * number of failed tasks (a task not done counts), or -1 when the JSON
 * lacks "tasks" or "totals".
 */
int ms_print_report(const json_t *report, FILE *out, FILE *err);

/*
 * One line of live progress for a terminal, from a run object of `status
 * --json` ("run"): "\r3/12 done, 0 failed, 2 running | 1.2 GiB of 3.4 GiB |
 * 45.0 MiB/s | ETA 0:00:51" and a clear-to-end-of-line. Does nothing for a
 * NULL run.
 */
void ms_print_progress(FILE *out, const json_t *run);

/* Print `status --json` for a person: the run going on (or the last one),
 * the workers, the tasks running. */
void ms_print_status(const json_t *status, FILE *out);

/* Print `history --json` (an array of runs) for a person. */
void ms_print_history(const json_t *history, FILE *out);

/* Print `snapshots --json` (an array of snapshots, ms_snap_describe) for a
 * person: one row each, oldest first, `*` on the one latest points at; a
 * figure the snapshot's run did not leave shows as "-". */
void ms_print_snapshots(const json_t *snapshots, FILE *out);

#endif
