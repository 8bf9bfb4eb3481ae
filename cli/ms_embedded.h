/*
 * ms_embedded.h - `multisync run SRC DST` (and `multisync restore`) on one
 * machine: an embedded master and one local worker process, talking ZeroMQ
 * over an ipc:// endpoint in a private 0700 directory that is removed
 * afterwards.
 */
#ifndef MS_EMBEDDED_H
#define MS_EMBEDDED_H

#include "ms_keep.h"
#include <jansson.h>
#include <stdio.h>
#include <stddef.h>

typedef struct {
    const char *source;  /* absolute */
    const char *dest;    /* absolute path or rsync remote */
    const char *catalog; /* its state (ms_state.h); NULL: none, every project copied */
    unsigned slots;      /* 0: number of cores */
    const char *rsync;   /* NULL: rsync */
    char *const *rsync_opts;
    size_t n_rsync_opts;
    int verbose;             /* show the daemons' info logs */
    int delete;              /* mirror deletions (rsync --delete-delay) */
    int force_delete;        /* remove gone projects' backups even above a quarter */
    int snapshot;            /* a point-in-time snapshot (ms_snap.h), not a mirror */
    int full;                /* a full pass: no project skipped as unchanged */
    ms_keep_t keep;          /* with snapshot: retention once it is complete */
    unsigned worker_wait_s;  /* 0: 600 */
    unsigned attempts;       /* 0: 3 */
    int retry_delay_ms;      /* 0: 1000 */
    unsigned task_timeout_s; /* 0: none */
    unsigned split_min_mb;   /* 0: 32 */
    unsigned full_every;     /* every Nth run a full pass; 0: 7 (MS_FULL_EVERY_DEFAULT) */
    unsigned walk_threads;   /* 0: one per core, at most 8 */
    int no_split;
    int heartbeat_ms; /* 0: MS_HEARTBEAT_MS */
    FILE *progress;   /* a terminal for the live progress line, or NULL */
    /* Prometheus metrics (ms_promfile.h) written every few seconds while
     * the run goes and once at the end; NULL: none. */
    const char *metrics_file;
    /* A restore (ms_restore.h) instead of a backup: source is the backup,
     * dest the folder restored into; what ("PROJECT" or "PROJECT/PATH"),
     * from which snapshot ("NAME", "latest"; NULL: latest, or a mirror), and
     * whether into a folder that is not empty. */
    const char *restore_path;
    const char *restore_snapshot;
    int force;
    /* Verify instead: compare SRC with the backup in DST, writing nothing;
     * in a destination of snapshots, the one verify_snapshot names ("NAME"
     * or "latest"; NULL: latest). */
    int verify;
    const char *verify_snapshot;
    /* A dry run of the backup the options above describe: what it would
     * copy and delete, nothing written in DST (MS_RUN_DRY_RUN). */
    int dry_run;
} ms_embedded_opts_t;

/*
 * Run the backup (or verify it). Returns the report (new reference), which
 * may describe a run cut short by SIGINT/SIGTERM (its status is then
 * "cancelled": the worker stopped its rsyncs, finished tasks are listed as
 * done; "interrupted" when the worker did not say so in time), or NULL
 * with err set when the run could not start or its worker died, and *rc
 * the exit status to end with: MS_RC_USAGE, or MS_RC_REFUSED for a run
 * refused now (ms_master_start_run).
 */
json_t *ms_embedded_run(const ms_embedded_opts_t *o, int *rc, char *err, size_t errlen);

#endif
