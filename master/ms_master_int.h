/*
 * ms_master_int.h - the master's internal state, shared by its modules:
 *   ms_master.c   lifecycle, the poll loop, runs, resume, catalog glue
 *   ms_workers.c  worker registry: HELLO/HOLD/READY/RESULT/HEARTBEAT/DRAIN/BYE,
 *                 liveness, leases, requeue
 *   ms_sched.c    the queue, retry backoff, dispatch against credit
 *   ms_control.c  the control service (runs, waits, status)
 * Not for use outside master/.
 */
#ifndef MS_MASTER_INT_H
#define MS_MASTER_INT_H

#include "ms_catalog.h"
#include "ms_lock.h"
#include "ms_master.h"
#include "ms_monitor.h"
#include "ms_zap.h"
#include "ms_run.h"
#include "ms_wire.h"

#define MS_KEEP_FINISHED_RUNS 32

typedef struct {
    ms_peer_t peer;
    char id[32];   /* "w<N>": stable for the master's lifetime */
    char name[MS_MAX_NAME + 1];
    unsigned slots;
    unsigned credit;  /* tasks it may still be sent */
    unsigned running; /* tasks in flight on it */
    int draining;     /* asked for no more tasks */
    int unreachable;  /* a send to it failed: dropped once its queued messages are read */
    unsigned unconfined; /* MS_UNCONFINED_*, from its HELLO */
    char rsync[MS_MAX_NAME + 1]; /* its rsync's version line, from its HELLO; "" */
    char broken[256]; /* why its rsync cannot run (exit 126/127): no more tasks; "" */
    uint64_t done;
    int64_t last_seen_ms;
    /* Its host, from the last heartbeat with counters, and rates over the
     * interval before it. */
    ms_heartbeat_t host;     /* host.cores is owned (malloc'd) */
    int64_t host_ms;         /* when host was taken; 0: never */
    double disk_read_bps, disk_write_bps, disk_busy_percent, net_sent_bps, net_recv_bps;
} ms_wrec_t;

typedef struct {
    ms_peer_t peer;
    uint64_t run_id;
} ms_waiter_t;

struct ms_master {
    void *ctx;
    void *wsock; /* ROUTER for workers */
    void *csock; /* ROUTER for control clients, or NULL */
    ms_master_opts_t opts;
    int heartbeat_ms;
    int64_t next_tick_ms;
    unsigned attempts;      /* failed attempts after which a task fails */
    int retry_delay_ms;     /* first backoff; doubles per failure */

    ms_wrec_t **workers;
    size_t n_workers;
    unsigned next_worker;

    ms_runrec_t **runs;
    size_t n_runs;
    uint64_t next_run;

    ms_trec_t **queue; /* tasks ready to go: a heap, first to go on top (ms_sched.c) */
    size_t q_len, q_cap;
    uint64_t q_seq;
    ms_trec_t **delayed; /* failed tasks waiting for their backoff */
    size_t n_delayed, cap_delayed;
    int64_t orphan_deadline_ms; /* after a restart: adopt until then */

    ms_runrec_t *old_run; /* the last run loaded from the catalog for a report */

    ms_waiter_t *waiters;
    size_t n_waiters;

    int stopping;        /* no new dispatch; every result is final */
    ms_catalog_t *cat;   /* NULL: no catalog (embedded mode) */
    /* Held for the master's life: one master per catalog and per ipc://
     * socket file (NULL: none, or not an ipc:// file). */
    ms_lock_t *cat_lock, *wsock_lock, *csock_lock;

    ms_zap_t *zap;         /* NULL: no CURVE anywhere */
    int curve_workers;     /* the worker socket authenticates by key */
    int curve_control;     /* the control socket authenticates by key */
    ms_monitor_t *wmon, *cmon; /* handshake failures, network sockets only */
    ms_recent_t *recent;   /* log a misbehaving peer once a minute */
    int in_txn;
    int64_t txn_since_ms; /* when the open transaction took its first write */
    int cat_lost;         /* a write failed: the catalog misses changes (ms_cat_flush) */
    int cat_failing;      /* a catalog operation failed since the last commit */
    int64_t cat_retry_ms; /* after a failed flush: not again before then */
    int64_t cat_warned_ms;
    int64_t next_checkpoint_ms;
};

/* ms_master.c */
ms_runrec_t *ms_master_find_run(const ms_master_t *m, uint64_t run_id);
/* Whether to log what peer did now (once a minute per peer and kind). */
int ms_master_log_once(ms_master_t *m, const ms_peer_t *peer, const char *kind);
/* Whether peer may talk on a socket of domain ("workers" / "control"). */
int ms_master_peer_allowed(ms_master_t *m, const ms_peer_t *peer, const char *domain);
/* Persist t / r now (within the turn's transaction): ms_cat_task what a
 * task's life changes (state, worker, result), ms_cat_task_whole all of it
 * (a task new, or cut into chunks). */
void ms_cat_task(ms_master_t *m, const ms_trec_t *t);
void ms_cat_task_whole(ms_master_t *m, const ms_trec_t *t);
void ms_cat_run_end(ms_master_t *m, ms_runrec_t *r);
void ms_cat_ntasks(ms_master_t *m, ms_runrec_t *r);
/* Commit the turn's writes. Returns 0, or -1 (logged) when they could not
 * be made durable. */
int ms_cat_flush(ms_master_t *m);
/* A task reached its final state (ok, or failed for good). */
void ms_master_task_done(ms_master_t *m, ms_trec_t *t);
/* Fail every task of r that waits for a worker (queued, held, being
 * walked) with why; running_too: the running ones too (for a run resumed
 * before any worker connected: a worker that claims one is told to stop
 * it); else they go on. */
void ms_master_fail_unfinished(ms_master_t *m, ms_runrec_t *r, const char *why, int running_too);

/* ms_sched.c */
int ms_sched_push(ms_master_t *m, ms_trec_t *t, int front);
void ms_sched_delay(ms_master_t *m, ms_trec_t *t, int64_t until_ms);
void ms_sched_release_due(ms_master_t *m);
void ms_sched_remove_run(ms_master_t *m, const ms_runrec_t *r);
void ms_sched_dispatch(ms_master_t *m);
/* Put a task that was in flight back in the queue (its worker is gone). */
void ms_sched_requeue(ms_master_t *m, ms_trec_t *t, const char *why);

/* ms_workers.c */
/* Whether w may be handed tasks (connected, not draining, its rsync runs). */
int ms_worker_usable(const ms_wrec_t *w);
/* Read what the workers sent, up to a batch; 1 when the batch was full
 * (more may be waiting). */
int ms_workers_read(ms_master_t *m);
void ms_workers_tick(ms_master_t *m);
/* Drop every worker a send failed to (its tasks become orphans). Called
 * once its queued messages are read, and on every tick. */
void ms_workers_drop_unreachable(ms_master_t *m);
ms_wrec_t *ms_worker_by_id(const ms_master_t *m, const char *id);
/*
 * Forget worker w. Its tasks are requeued at once when its rsyncs are
 * known to be stopped (requeue: it said BYE after stopping them, or its
 * lease is over: heartbeats expired); else (it disconnected, said HELLO
 * again, or its key was revoked: its rsyncs may still run until its lease
 * runs out) they become orphans, which the same host may claim back with
 * HOLD, and which are requeued only one lease later.
 */
void ms_worker_remove(ms_master_t *m, ms_wrec_t *w, const char *why, int requeue);
/* t's worker is gone: it waits one lease for a worker to claim it (HOLD). */
void ms_workers_make_orphan(ms_master_t *m, ms_trec_t *t);

/* ms_chunks.c */
/* Walk r's projects (state SCANNING) in a thread; each then runs whole or
 * split into chunks. */
void ms_chunks_start(ms_master_t *m, ms_runrec_t *r);
/* Take the walks that ended and decide what can be decided now. */
void ms_chunks_update(ms_master_t *m, ms_runrec_t *r);
/* A resumed run's projects that were still being walked: they run whole. */
void ms_chunks_resume(ms_master_t *m, ms_runrec_t *r);
/* Stop r's walk and forget the walks waiting to be split (r is given up). */
void ms_chunks_cancel(ms_runrec_t *r);

/* ms_control.c */
void ms_control_handle(ms_master_t *m);
void ms_control_run_done(ms_master_t *m, ms_runrec_t *r);

#endif
