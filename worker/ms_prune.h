/*
 * ms_prune.h - the backups of projects gone from the source.
 *
 * In a mirror run with --delete, the top task (the last of the run, after
 * every project's task succeeded) also removes DST/NAME for every folder
 * NAME of the backup's root that is no longer a folder of the source root.
 * The worker lists both roots itself, when the task starts; rsync does the
 * removal, whose deletion never follows a symbolic link: the top task's
 * rsync gets an include rule per gone folder before its exclusion of the
 * root's folders (ms_rsync_where_t.include_from).
 *
 * The guard, like rsync's --max-delete: when more than a quarter of the
 * backup's folders would go (an unmounted or half-restored source), none
 * is removed unless forced, and the task fails naming them.
 *
 * In a snapshot run the same guard is checked against the last complete
 * snapshot: a snapshot that lost more than a quarter of its projects is
 * not completed (and retention, which may remove older ones, never runs).
 *
 * Nothing here logs.
 */
#ifndef MS_PRUNE_H
#define MS_PRUNE_H

#include <stddef.h>

typedef struct {
    char **gone; /* the backup's folders with no folder of that name in the source, sorted */
    size_t n_gone;
    size_t n_backups; /* the backup's folders */
    int refused;      /* more than a quarter, not forced: nothing is to be removed */
    int snapshot;     /* the plan is a snapshot's guard: against the last snapshot */
} ms_prune_t;

/*
 * List the folders (real ones: a symbolic link is not a folder) of the
 * source root src_root and of the backup root dst_root (descriptors of the
 * folders, O_PATH will do) and decide. force: remove even more than a
 * quarter. Returns 0, or -1 with err set (a root cannot be read, memory).
 */
int ms_prune_plan(int src_root, int dst_root, int force, ms_prune_t *p, char *err, size_t errlen);

/*
 * A file (a memfd, close-on-exec, at its start) holding one rsync include
 * pattern per gone folder, "/NAME/" written to match literally, each ended
 * by a NUL (for --from0 --include-from=-, with the file as rsync's stdin). Returns its descriptor,
 * or -1 with err set. p must not be refused and must have n_gone > 0.
 */
int ms_prune_patterns(const ms_prune_t *p, char *err, size_t errlen);

/*
 * What the plan means for the report, into out: "removed the backups of 2
 * projects gone from the source: a, b" or "refusing to remove ...", names
 * cut with "and N more" to fit; "" when nothing is gone.
 */
void ms_prune_describe(const ms_prune_t *p, char *out, size_t outlen);

/* Free what p holds and zero it. */
void ms_prune_free(ms_prune_t *p);

#endif
