/*
 * ms_master.h - the master: one zmq_poll loop that owns the worker socket
 * (ROUTER), the control socket (ROUTER), the runs and the task queue.
 *
 * Workers announce themselves (HELLO with their slot count) and then grant
 * credit (READY n); a task goes out only against credit, to the worker with
 * the most free slots, so no worker ever holds more tasks than it has slots.
 * Each task in flight is recorded against its worker; when a worker leaves
 * (BYE) or falls silent for MS_HEARTBEAT_LIVENESS heartbeats, its tasks go
 * back to the front of the queue. A result is accepted once, for the
 * attempt that is in flight; any other copy is ignored.
 *
 * The same object serves the daemon (multisync-master: runs come from the
 * control socket) and the embedded mode of `multisync run` (the caller
 * starts the run directly and polls until it is finished).
 */
#ifndef MS_MASTER_H
#define MS_MASTER_H

#include <jansson.h>
#include <stdint.h>

#include "ms_config.h"
#include "ms_keep.h"

#define MS_FULL_EVERY_DEFAULT 7

typedef struct ms_master ms_master_t;

typedef struct {
    const char *listen;        /* endpoint the workers connect to (bound) */
    const char *control;       /* control endpoint (bound), or NULL */
    const ms_config_t *config; /* backup sets, or NULL; must outlive the master */
    int heartbeat_ms;          /* 0: MS_HEARTBEAT_MS */
    unsigned attempts;         /* attempts per task before it fails; 0: 3 */
    int retry_delay_ms;        /* backoff before the first retry, doubling; 0: 1000 */
    unsigned task_timeout_s;   /* a task running longer is killed (transient); 0: none */
    unsigned split_min_mb;     /* chunks of a split project are at least this big; 0: 32 */
    unsigned walk_threads;     /* threads walking a run's source; 0: one per core, at most 8 */
    unsigned worker_wait_s;    /* a run without a usable worker for this long fails; 0: 600 */
    int make_dest;             /* create a missing local destination to lock it (embedded: the
                                * destination is this host's); else only lock one that exists */
    size_t queue_limit;        /* tests: at most this many ready tasks; a task past it fails
                                * as when memory runs out (ms_queue_set_limit); 0: none */
    int no_split;              /* never split a project */
    unsigned full_every;       /* every Nth backup of a source and destination is a full
                                * pass (no project skipped as unchanged); 0: 7 */
    const char *catalog;       /* SQLite catalog file; NULL: none (nothing survives) */
    int shared_catalog;        /* the embedded mode's: other processes' runs share it (no
                                * lock, no resume; a killed run is closed when its
                                * destination is free again), commits not synced */
    /* Security of network (tcp://) endpoints: CURVE with the key pair in
     * key, workers' public keys in authorized/, admins' in admin_keys/.
     * Without key, network endpoints are refused unless insecure. */
    const char *key;
    const char *authorized;
    const char *admin_keys;
    int insecure;
} ms_master_opts_t;

/*
 * Open the catalog (resuming its unfinished runs: finished tasks are kept,
 * tasks that were in flight wait one lease for their workers to claim them,
 * then run again) and bind the sockets. Returns NULL with err set (e.g.
 * endpoint in use, catalog unreadable).
 */
ms_master_t *ms_master_new(const ms_master_opts_t *o, char *err, size_t errlen);

/* Close sockets and the catalog, free everything. Workers are not told:
 * call ms_master_dismiss_workers or ms_master_shutdown first. NULL-safe. */
void ms_master_destroy(ms_master_t **m);

/*
 * An orderly stop of the daemon: persist, and tell every worker the master
 * is restarting (BYE with reconnect), so they keep running their tasks and
 * reconnect; tasks stay in flight in the catalog for the next start to
 * adopt.
 */
void ms_master_shutdown(ms_master_t *m);

/* What a run is asked for. */
typedef struct {
    const char *source;     /* a path the workers see */
    const char *dest;       /* a path the workers see, or an rsync remote */
    const char *set;        /* the backup set's name, or NULL */
    uint32_t flags;         /* MS_RUN_*: mirror deletions, remove gone projects' backups */
    unsigned worker_wait_s; /* fail the run when no worker can take its tasks for this
                             * long; 0: the set's, else the master's, else 600 */
    ms_keep_t keep;         /* MS_RUN_SNAPSHOT: retention once the snapshot is complete */
    /* MS_RUN_RESTORE (ms_restore.h): source is the backup, dest the folder
     * restored into. MS_RUN_RESTORE and MS_RUN_VERIFY: which snapshot
     * ("NAME", "latest"; NULL: latest, or none for a mirror). */
    const char *snapshot;
    const char *path; /* MS_RUN_RESTORE: "PROJECT" or "PROJECT/PATH" */
} ms_run_req_t;

/*
 * Start a run: scan source and queue one task per project. Returns 0 and
 * sets *run_id, or with err set the exit status the asker should end with:
 * MS_RC_USAGE for a request that is wrong (source missing or not a folder,
 * a destination inside the source, an unknown snapshot), MS_RC_REFUSED for
 * one refused now (the destination in use, the source empty — an unmounted
 * filesystem must not look like a source with nothing in it — the catalog
 * not writable).
 * A restore (MS_RUN_RESTORE) queues the one project or path asked for
 * from the backup, once its folder is ready (ms_restore.h).
 */
int ms_master_start_run(ms_master_t *m, const ms_run_req_t *req, uint64_t *run_id, char *err,
                        size_t errlen);

/*
 * Wait up to timeout_ms for socket traffic and handle it, send heartbeats,
 * expire silent workers and hand out tasks. Returns 0, or -1 when the
 * context was terminated or polling failed (errno; EINTR for a signal).
 */
int ms_master_poll(ms_master_t *m, int timeout_ms);

/*
 * Cancel run run_id (CANCEL_RUN from a client; SIGINT in embedded mode): its
 * tasks that wait end cancelled at once (never started); its workers are
 * told to stop its running ones (SIGTERM to their rsyncs), which end
 * cancelled when reported, never retried nor handed to another worker. The
 * run then ends "cancelled": its waiters get the report, its destination is
 * released, its snapshot stays .partial (as a failed one's) and no
 * retention runs. The mark is in the catalog before this returns, so a
 * restart does not resume the run. A run being cancelled may be cancelled
 * again. Returns 0 with *stopped (running tasks told to stop) and *dropped
 * (waiting tasks ended); -1 when no such run is going, err saying "no run N
 * on this master" or "run N already ended: STATUS".
 */
int ms_master_cancel_run(ms_master_t *m, uint64_t run_id, size_t *stopped, size_t *dropped,
                         char *err, size_t errlen);

/* The descriptor of the run's lock on its destination, or -1 (none, or
 * unknown run): for a child that must hold it as long as it may write there. */
int ms_master_run_lock_fd(const ms_master_t *m, uint64_t run_id);

/* 1 when the run is finished, 0 while it goes on, -1 when it is unknown. */
int ms_master_run_finished(const ms_master_t *m, uint64_t run_id);

/* The report of a run (new reference), or NULL when it is unknown. */
json_t *ms_master_report(ms_master_t *m, uint64_t run_id);

/* The same with only task rows from..from+count-1 (ms_report_json_page). */
json_t *ms_master_report_page(ms_master_t *m, uint64_t run_id, size_t from, size_t count);

/*
 * Re-read the authorized and admin key folders (SIGHUP). Workers whose key
 * is no longer listed are dropped (their tasks requeued) and refused from
 * then on. Returns 0, or -1 with err set (the old lists stay in force).
 */
int ms_master_reload(ms_master_t *m, char *err, size_t errlen);

/*
 * What `multisync status --json` shows (README "Status"): the current run
 * with its progress, bytes, rate, ETA and live diagnosis; every run still
 * going; each worker's host counters; each running task. New reference.
 */
json_t *ms_master_status(const ms_master_t *m);

/*
 * The last n runs, newest first: what `multisync history --json` prints
 * (new reference); NULL with err set (a master without a catalog, a
 * catalog that cannot be read).
 */
json_t *ms_master_history(const ms_master_t *m, unsigned n, char *err, size_t errlen);

/*
 * Another source of work for the master's loop, served in its turns (the
 * HTTP listener, ms_http.h): fd is polled for input with the sockets, the
 * loop sleeps no longer than timeout_ms(arg) (-1: no limit), and run(arg)
 * is called on every turn, ready or not (libmicrohttpd must also see the
 * turns where nothing is ready: it puts its listening socket back in its
 * epoll set only then, once a full connection table has room again). One
 * at most: a later call replaces it; run NULL removes it. run must do a
 * bounded piece of work and return, cheaply when nothing is ready.
 */
typedef struct {
    int fd;
    long (*timeout_ms)(void *arg);
    void (*run)(void *arg);
    void *arg;
} ms_master_extra_t;

void ms_master_set_extra(ms_master_t *m, const ms_master_extra_t *x);

/* How many workers are connected now. */
unsigned ms_master_workers(const ms_master_t *m);

/*
 * Stop the run short (SIGINT in embedded mode): hand out nothing more, take
 * every result as final (an interrupted task is not retried), and tell the
 * workers to leave: they stop their rsyncs and report them before BYE.
 * Keep polling until the workers are gone.
 */
void ms_master_interrupt(ms_master_t *m, const char *reason);

/* Tell every worker to leave (BYE), requeue what they held, forget them. */
void ms_master_dismiss_workers(ms_master_t *m, const char *reason);

/* Put every task in flight back in the queue (e.g. the embedded worker
 * died) and forget every worker without telling them. */
void ms_master_forget_workers(ms_master_t *m, const char *reason);

#endif
