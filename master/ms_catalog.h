/*
 * ms_catalog.h - the master's persistent catalog: runs, tasks, attempts and
 * the workers that took part, in SQLite (WAL mode, synchronous=FULL).
 *
 * The master writes a task's attempt before it hands the task out and its
 * result when it arrives, grouping the writes of one loop turn in one
 * transaction (ms_catalog_begin/commit) so that a busy master pays one fsync
 * per turn, not per task. After a crash, ms_catalog_load_runs() rebuilds the
 * unfinished runs exactly as the last commit left them, so the master
 * resumes without copying finished projects again.
 *
 * Bytes in names (project, host, paths) are stored as BLOBs: they need not
 * be UTF-8. Times are stored as integer nanoseconds since the epoch.
 *
 * The catalog never logs; errors come back as -1 and a message.
 */
#ifndef MS_CATALOG_H
#define MS_CATALOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_fp.h"
#include "ms_run.h"

typedef struct ms_catalog ms_catalog_t;

/*
 * Open (creating if needed) the catalog at path. The parent directory must
 * exist. Refuses a file whose schema version is newer than this program's.
 * Returns NULL with err set.
 */
ms_catalog_t *ms_catalog_open(const char *path, char *err, size_t errlen);

/* Commit nothing pending (a begun transaction is rolled back), close, free.
 * NULL-safe; sets *c to NULL. */
void ms_catalog_close(ms_catalog_t **c);

/* Group the following writes in one transaction. Nested begin is an error. */
int ms_catalog_begin(ms_catalog_t *c, char *err, size_t errlen);
int ms_catalog_commit(ms_catalog_t *c, char *err, size_t errlen);
/* Whether a transaction is open. SQLite may roll one back by itself when a
 * statement fails (disk full, I/O error): what it held is then lost. */
int ms_catalog_in_txn(const ms_catalog_t *c);
/* Undo the open transaction, if any. */
void ms_catalog_rollback(ms_catalog_t *c);

/* A catalog shared by processes (the embedded mode's: several runs at a
 * time, to other destinations): a new run's id, its row reserved (empty,
 * no tasks) in a transaction of its own. 0, or -1 with err. */
int ms_catalog_reserve_run_id(ms_catalog_t *c, uint64_t *id, char *err, size_t errlen);

/* Drop a reserved row that never got its run (it has no tasks). */
int ms_catalog_drop_run(ms_catalog_t *c, uint64_t id, char *err, size_t errlen);

/* Set *id to the highest run id ever stored (0 when none): new runs take
 * the next one. Returns 0, or -1 with err set (never a guess: a wrong 0
 * would let a new run overwrite run 1). */
int ms_catalog_last_run_id(ms_catalog_t *c, uint64_t *id, char *err, size_t errlen);

/*
 * Copy the write-ahead log into the database (a PASSIVE checkpoint). The
 * catalog never does it on its own (it would stall a loop turn): call it
 * when idle, and when the log grows large. Sets *wal_pages (may be NULL) to
 * the pages still in the log afterwards. Returns 0, or -1 with err set.
 */
int ms_catalog_checkpoint(ms_catalog_t *c, int *wal_pages, char *err, size_t errlen);

/* Store a new run with all its tasks (as they are now). */
int ms_catalog_save_run(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen);

/* Record r's task count after tasks were added to it (a project split into
 * chunks); the new tasks are saved with ms_catalog_save_task. */
int ms_catalog_save_ntasks(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen);

/*
 * Store a task as it is now: its state, attempts, worker, host and last
 * result; and the row of its current attempt (t->attempts) in the attempts
 * table: worker, host, when handed out, and, once the task has a result for
 * that attempt (state OK or FAILED, or any state after a failed attempt),
 * that result.
 */
int ms_catalog_save_task(ms_catalog_t *c, const ms_trec_t *t, char *err, size_t errlen);

/*
 * Store what a task's life changes (state, attempts, worker, host, result,
 * and the row of its current attempt), as ms_catalog_save_task does, but
 * not its name, parent or spec, nor its run's workers[]: the cheap save for
 * each hand-out and result. A task never stored is stored whole. Inside a
 * transaction it takes no savepoint of its own: when it fails, what it
 * wrote may be half there, and the caller must store the task again.
 */
int ms_catalog_update_task(ms_catalog_t *c, const ms_trec_t *t, char *err, size_t errlen);

/* Store r's workers[] (who ran its tasks, with their task counts). */
int ms_catalog_save_workers(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen);

/* Store a run's end: finished time, status, and its workers[]. */
int ms_catalog_save_run_end(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen);

/*
 * Rebuild runs from the catalog, newest first: with unfinished_only, every
 * run not yet finished; otherwise at most limit runs (0: no limit). Task
 * states are as stored (a task stored RUNNING comes back RUNNING, with its
 * worker_id and host). On success returns 0, sets *runs (malloc'd array of
 * runs from ms_run_new-compatible allocation; free each with
 * ms_run_destroy and the array with free) and *n. Returns -1 with err set.
 */
int ms_catalog_load_runs(ms_catalog_t *c, int unfinished_only, size_t limit, ms_runrec_t ***runs,
                         size_t *n, char *err, size_t errlen);

/*
 * Set each task's expected_bytes and expected_seconds to its project's size
 * and duration in the newest finished run with the same source and
 * destination and of the same kind (a verify after a verify, a copy after a
 * copy: a verify reads every byte), and expected_known (left 0 for a
 * project that was not there). Returns 0, or -1 with err set.
 */
int ms_catalog_prior_sizes(ms_catalog_t *c, ms_runrec_t *r, char *err, size_t errlen);

/* Rebuild one run, or NULL (err set; "no run N" when it does not exist). */
ms_runrec_t *ms_catalog_load_run(ms_catalog_t *c, uint64_t run_id, char *err, size_t errlen);

/*
 * Past runs, newest first, at most n (0: all): a JSON array of
 * {run_id, kind (ms_run_kind), set, source, destination, started, finished, status,
 *  wall_seconds, tasks, failed, bytes_total, bytes_transferred}
 * (names as ms_report_json_page writes them). Returns a new reference or NULL.
 */
json_t *ms_catalog_history(ms_catalog_t *c, size_t n, char *err, size_t errlen);

/* All attempts of one task, oldest first: JSON array of
 * {attempt, worker, host, exit_code, signal, seconds, message}. */
json_t *ms_catalog_attempts(ms_catalog_t *c, uint64_t run_id, uint64_t task_id, char *err,
                            size_t errlen);

/*
 * What a project (or one part of a split one: part is its key, "" for the
 * whole project) looked like at its last successful copy from source to
 * dest: its fingerprint (ms_fp.h), the worker's rsync options and version
 * (opts, a hash), the snapshot it was copied into (NULL: a mirror), that
 * run, and the walk's files and bytes. Strings are the catalog's, valid
 * until the next call.
 */
typedef struct {
    const char *project, *part, *opts, *snap;
    ms_fp_t fp;
    uint64_t run_id, files, bytes;
} ms_catalog_fp_t;

int ms_catalog_fp_put(ms_catalog_t *c, const char *source, const char *dest,
                      const ms_catalog_fp_t *rec, char *err, size_t errlen);

/* Call fn for each record of (source, dest); fn returns non-0 to stop (the
 * call then returns -1). 0, or -1 with err. */
int ms_catalog_fp_each(ms_catalog_t *c, const char *source, const char *dest,
                       int (*fn)(void *arg, const ms_catalog_fp_t *rec), void *arg, char *err,
                       size_t errlen);

/* How many backups of source to dest finished since the last full one
 * (MS_RUN_FULL; all of them when there was none). 0, or -1 with err. */
int ms_catalog_since_full(ms_catalog_t *c, const char *source, const char *dest, uint64_t *n,
                          char *err, size_t errlen);

/* FULL (every commit synced) or NORMAL (the last commits may be lost on a
 * power cut, the catalog stays whole): the embedded mode's state only
 * saves work, and its commits must not cost a quiet night. */
int ms_catalog_set_sync(ms_catalog_t *c, int full, char *err, size_t errlen);

#endif
