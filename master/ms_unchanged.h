/*
 * ms_unchanged.h - which tasks of a run need no rsync: those whose tree
 * has the fingerprint (ms_fp.h) it had at its last successful copy to the
 * same destination, made with the same rsync and options.
 *
 * At a run's start the records of its source and destination are read
 * from the catalog (ms_catalog_fp_each); a task whose walk gave it a
 * fingerprint (t->fp_known) is looked up by its project and part (a split
 * project's chunk or rest: a key of its paths; "" for a whole project)
 * when it is about to be handed to a worker, with that worker's options
 * (ms_fp_opts). A match means rsync would find nothing to do: the task
 * ends `unchanged`, no worker sees it. A mirror only: a snapshot's new
 * folder is empty, it needs its copy (or links) whatever the source did.
 *
 * Only where the master sees and locks the destination (r->dest_id): a
 * remote one, or one it cannot open, may have been removed; it is copied.
 *
 * What it assumes: nothing but multisync writes into the destination. A
 * full pass (MS_RUN_FULL: --full, or every full_every-th run) skips
 * nothing, and so repairs what someone changed there by hand.
 *
 * The records are the run's (kept here, per run, until ms_unchanged_forget);
 * nothing here logs or writes.
 */
#ifndef MS_UNCHANGED_H
#define MS_UNCHANGED_H

#include <stddef.h>

#include "ms_catalog.h"
#include "ms_fp.h"
#include "ms_run.h"

typedef struct ms_unchanged ms_unchanged_t;

ms_unchanged_t *ms_unchanged_new(void);
void ms_unchanged_destroy(ms_unchanged_t **u);

/* Read r's records from cat. 0, or -1 with err (r then skips nothing). */
int ms_unchanged_load(ms_unchanged_t *u, const ms_runrec_t *r, ms_catalog_t *cat, char *err,
                      size_t errlen);

/* Forget r's records (before r is freed). */
void ms_unchanged_forget(ms_unchanged_t *u, const ms_runrec_t *r);

/* The record that makes t unchanged on a worker with options opts (NULL:
 * any options, a guess made before a worker is chosen), or NULL: t must
 * run. The record's key (ms_unchanged_key) must be this run's. */
const ms_catalog_fp_t *ms_unchanged_find(const ms_unchanged_t *u, const ms_trec_t *t,
                                         const char *opts);

/* What a copy depends on besides the tree: the worker's rsync and options
 * (opts, ms_fp_opts) and whether the run mirrors deletions (a copy without
 * --delete leaves files a run with it would remove), and which destination
 * folder it went to (r->dest_id: one removed and made anew is another).
 * out: MS_UNCHANGED_KEY bytes. */
#define MS_UNCHANGED_KEY 128
void ms_unchanged_key(const char *opts, const ms_runrec_t *r, char *out);

/* The key of t's part of its project: "" for a whole project, else 32 hex
 * digits of its paths (out: MS_FP_HEX bytes). */
void ms_unchanged_part(const ms_trec_t *t, char *out);

#endif
