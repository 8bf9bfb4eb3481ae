/*
 * ms_label.h - how the master names a task to a person: in its log lines,
 * in `status` (which part of a project runs) and in the report and the
 * diagnosis. The first step of the one-way reporting chain (labels ->
 * diagnosis -> report JSON): it reads a task, and calls nothing back.
 *
 * Every function writes into the caller's buffer and returns it.
 */
#ifndef MS_LABEL_H
#define MS_LABEL_H

#include <stddef.h>

#include "ms_run.h"

/* A display name for a project: "." for the top task (project ""). */
const char *ms_label_project(const char *project);

/* Which part of its project task t is: "" for a whole project, "rest" for
 * the rest of a split one (it has chunks), "sub/item" (and " +N" more
 * items) for a chunk (ms_part_label). */
const char *ms_label_part(const ms_trec_t *t, char *out, size_t outlen);

/* A display name for a task: its project, then its part in brackets if it
 * is one ("alpha [big/a +2]"). Raw bytes: clean it for JSON or a log. */
const char *ms_label_task(const ms_trec_t *t, char *out, size_t outlen);

/* The same, made safe for a log line (ms_log_safe). */
const char *ms_label_task_log(const ms_trec_t *t, char *out, size_t outlen);

#endif
