/*
 * ms_rsync.h - how the worker talks to rsync: the argv it builds for a task
 * and the figures it reads back from rsync's --stats output.
 *
 * The argv is built from the task's fields only; no shell is involved, so a
 * project name with spaces, quotes, a leading dash or any non-UTF-8 byte is
 * passed to rsync as one argument and never interpreted.
 */
#ifndef MS_RSYNC_H
#define MS_RSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "ms_codec.h"

typedef struct {
    uint64_t files;             /* "Number of files: N (...)" */
    uint64_t bytes_total;       /* "Total file size: N bytes" */
    uint64_t bytes_transferred; /* "Total transferred file size: N bytes" */
} ms_rsync_stats_t;

/*
 * Parse the figures above from rsync's stdout (--stats). Thousands
 * separators (',' or '.') are accepted. Returns 0 when at least "Number of
 * files" was found, -1 otherwise (fields not found stay 0).
 */
int ms_rsync_parse_stats(const char *text, size_t len, ms_rsync_stats_t *out);

/*
 * The bytes done so far, from the last "--info=progress2" line in text
 * (lines are separated by '\r' or '\n'; a progress line starts with the
 * byte count, with thousands separators, and holds a '%'). Returns 0 and
 * sets *bytes, or -1 when text has no progress line.
 */
int ms_rsync_parse_progress(const char *text, size_t len, uint64_t *bytes);

/*
 * Check that a task names what a worker may copy: a project is one path
 * component (non-empty, no '/', not "." or "..", at most NAME_MAX bytes) or
 * "" with MS_TASK_TOP; source and dest are non-empty; flags are known.
 * Returns 0, or -1 with the reason in err.
 */
int ms_rsync_check_task(const ms_task_t *t, char *err, size_t errlen);

/*
 * For a task with MS_TASK_DELETE: refuse to mirror deletions from a source
 * folder that is missing or empty while its backup is not (an unmounted or
 * wiped source must never empty the backup). A remote destination cannot
 * be looked at, so there an empty or missing source is always refused.
 * Returns 0 when the task may run (always for tasks without the flag), or
 * -1 with the reason in err.
 */
int ms_rsync_check_delete_safe(const ms_task_t *t, char *err, size_t errlen);

/*
 * Build the argv for a task:
 *   rsync -a --stats --info=progress2 --mkpath [--delete-delay] [extra...]
 *         [--exclude=/STAR/] -- SRC DST
 * where for a project   SRC = source/project/  DST = dest/project/
 * and for MS_TASK_TOP   SRC = source/          DST = dest/
 * (STAR being "*": the exclude keeps the top task to the files, links and specials lying
 * directly in the source root). Returns a NULL-terminated, malloc'd vector
 * (free with ms_rsync_argv_free) or NULL with err set. The task must have
 * passed ms_rsync_check_task.
 */
char **ms_rsync_argv(const char *rsync, char *const *extra, size_t n_extra,
                     const ms_task_t *t, char *err, size_t errlen);
void ms_rsync_argv_free(char **argv);

/*
 * Reduce rsync's stderr to the part worth showing an operator: the last
 * lines (at most max bytes), with trailing blank lines removed. Writes a
 * NUL-terminated string into out (size outlen).
 */
void ms_rsync_error_tail(const char *text, size_t len, char *out, size_t outlen);

#endif
