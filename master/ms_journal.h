/*
 * ms_journal.h - the master's writes to its catalog: every change of a run
 * or a task goes into an open transaction, and a commit makes a batch of
 * them durable (group commit: results that come within a few ms share one
 * fsync). A task is handed out only once the commit that records it is
 * done (ms_journal_flush before a send).
 *
 * When a write or a commit fails (the catalog's disk is full, SQLite rolled
 * the transaction back by itself), the journal notes that the catalog
 * misses changes, logs it at most every 10 s, and tries again at most once
 * a second: the next flush that works first stores again, whole, every run
 * written since the last commit, then commits. Nothing is lost meanwhile;
 * the caller holds back what must be durable first.
 *
 * It keeps its own list of the runs written since the last commit; a run
 * leaves it with ms_journal_forget_run before it is freed. Without a
 * catalog (embedded mode) every call does nothing and succeeds. It logs
 * (through ms_log): the catalog's health is its business.
 */
#ifndef MS_JOURNAL_H
#define MS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ms_catalog.h"
#include "ms_run.h"

typedef struct ms_journal ms_journal_t;

/* The journal of catalog cat (taken over; NULL: none) at path (its WAL file
 * is path-wal). Returns NULL when out of memory (cat is then closed). */
ms_journal_t *ms_journal_new(ms_catalog_t *cat, const char *path);

/* Commit what is open (a last try, unthrottled), close the catalog, free.
 * Accepts NULL and *j == NULL; sets *j NULL. */
void ms_journal_destroy(ms_journal_t **j);

/* The catalog, for reads (history, a run's report); NULL when none. */
ms_catalog_t *ms_journal_catalog(const ms_journal_t *j);

/* What a task's life changes (state, worker, result); the whole task (new,
 * or cut into chunks); a run's end; its task count; its workers' counts. */
void ms_journal_task(ms_journal_t *j, const ms_trec_t *t);
void ms_journal_task_whole(ms_journal_t *j, const ms_trec_t *t);
void ms_journal_run_end(ms_journal_t *j, ms_runrec_t *r);
void ms_journal_ntasks(ms_journal_t *j, ms_runrec_t *r);
void ms_journal_workers(ms_journal_t *j, ms_runrec_t *r);

/* What t's tree looked like when it was copied (ms_unchanged.h), in its
 * run's transaction. A record that cannot be written costs a copy next
 * time, nothing else: it is not stored again after a failure. */
void ms_journal_fingerprint(ms_journal_t *j, const ms_trec_t *t, const ms_catalog_fp_t *rec);

/*
 * Record a new run, whole, and commit. Returns 0; or -1 with err set, and
 * then nothing of r will ever be committed (the open transaction is rolled
 * back, and the other runs written in it are stored again at the next
 * flush).
 */
int ms_journal_new_run(ms_journal_t *j, ms_runrec_t *r, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * Commit what is open. Returns 0 when every change so far is durable; -1
 * when not (logged), among them while a failure is retried (at most once a
 * second; force: try now, as before an exit).
 */
int ms_journal_flush(ms_journal_t *j, int force) __attribute__((warn_unused_result));

/* r is about to be freed: forget it. */
void ms_journal_forget_run(ms_journal_t *j, const ms_runrec_t *r);

/* When the open transaction should be committed (monotonic ms: its first
 * write plus the group commit's wait), or INT64_MAX when none is open. */
int64_t ms_journal_commit_due(const ms_journal_t *j);

/* Checkpoint the write-ahead log when it is due: every 10 s when no run is
 * going (busy 0), or when the log has grown past 256 MiB anyway. */
void ms_journal_checkpoint(ms_journal_t *j, int busy);

#endif
