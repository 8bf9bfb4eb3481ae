/*
 * ms_master_int.h - the master's loop and its handlers, and the handles
 * they share. Every other piece of state has an owner of its own, reached
 * through functions (DESIGN.md, "Who owns what in the master"):
 *   ms_queue    the tasks waiting for a worker (ready heap, delayed list)
 *   ms_fleet    the workers' records, credit, slots, silence
 *   ms_journal  the catalog's transactions, group commit, restore
 *   ms_guard    CURVE, ZAP, handshake monitors, the peer log's rate limit
 *   ms_planner  each run's walk and split decisions
 *   ms_diag     each run's samples and ticks, the diagnosis's figures
 *   ms_report   the report JSON, and the rows of the last finished run asked for
 *   ms_unchanged  each run's records of its last copies: what needs no rsync
 *   ms_run      a run's tasks and their state (ms_run_set_state)
 * The files that include this header (the loop and its handlers):
 *   ms_master.c   lifecycle, the poll loop and its tick, a run's tasks' ends,
 *                 giving a run up or cancelling it
 *   ms_start.c    starting a run: checks, destination lock, catalog row, queueing
 *   ms_resume.c   a restarted master picks its runs up from the catalog
 *   ms_workers.c  worker messages: HELLO/HOLD/READY/RESULT/HEARTBEAT/DRAIN/BYE,
 *                 liveness, leases, orphans
 *   ms_sched.c    tasks into the queue (never lost), dispatch against credit
 *   ms_control.c  the control service (runs, waits, status, reports)
 *   ms_hookrun.c  a set's hooks around its runs (the processes: ms_hooks)
 * Not for use outside these seven.
 */
#ifndef MS_MASTER_INT_H
#define MS_MASTER_INT_H

#include "ms_diag.h"
#include "ms_fleet.h"
#include "ms_guard.h"
#include "ms_hooks.h"
#include "ms_journal.h"
#include "ms_lock.h"
#include "ms_master.h"
#include "ms_planner.h"
#include "ms_queue.h"
#include "ms_report.h"
#include "ms_unchanged.h"
#include "ms_run.h"
#include "ms_wire.h"

#define MS_KEEP_FINISHED_RUNS 32
#define MS_HOOK_REPORTS_KEPT 100 /* reports/run-ID.json written for hooks: the newest kept */

typedef struct {
    ms_peer_t peer;
    uint64_t run_id;
} ms_waiter_t;

struct ms_master {
    void *ctx;
    void *wsock; /* ROUTER for workers */
    void *csock; /* ROUTER for control clients, or NULL */
    ms_master_opts_t opts;
    int busy; /* the last start was refused for now (a lock, an empty source): MS_RC_REFUSED */
    int heartbeat_ms;
    int64_t next_tick_ms;
    int64_t last_tick_ms; /* when the workers' silence was last checked (ms_workers_tick) */
    unsigned attempts;    /* failed attempts after which a task fails */
    int retry_delay_ms;   /* first backoff; doubles per failure */
    int stopping;         /* no new dispatch; every result is final */

    ms_runrec_t **runs;
    size_t n_runs;
    uint64_t next_run;
    ms_runrec_t *old_run;       /* the last run loaded from the catalog for a report */
    int64_t orphan_deadline_ms; /* the earliest orphan's lease end; 0: none */

    ms_waiter_t *waiters;
    size_t n_waiters;

    ms_queue_t *queue;
    ms_fleet_t *fleet;
    ms_journal_t *journal;
    ms_guard_t *guard;
    ms_planner_t *planner;
    ms_diag_t *diag;           /* the live runs' samples and ticks */
    ms_report_t *report;       /* the rows of the last finished run reported; reads diag */
    ms_unchanged_t *unchanged; /* each run's records of its last copies */
    ms_hooks_t *hooks;         /* the sets' hooks running now */
    ms_runrec_t *giving_up;    /* the run ms_master_fail_unfinished is ending, or NULL */
    /* Held for the master's life: one master per catalog and per ipc://
     * socket file (NULL: none, or not an ipc:// file). */
    ms_lock_t *cat_lock, *wsock_lock, *csock_lock;
    /* "catalog DEV:INO": written in the destination locks of its runs, so
     * that a restart of this master knows its own runs' locks; "": none. */
    char cat_ident[64];
    ms_master_extra_t extra; /* polled with the sockets (the HTTP listener); run NULL: none */
};

/* ms_master.c */
ms_runrec_t *ms_master_find_run(const ms_master_t *m, uint64_t run_id);
/* A task reached its final state (ok, or failed for good). */
void ms_master_task_done(ms_master_t *m, ms_trec_t *t);
/* Fail t now with why (it never ran, or cannot go on), as its final result. */
void ms_master_fail_task(ms_master_t *m, ms_trec_t *t, const char *why);
/* End t now, cancelled (MS_EXIT_CANCELLED) with why, as its final result. */
void ms_master_cancel_task(ms_master_t *m, ms_trec_t *t, const char *why);
/* Fail every task of r that waits for a worker (queued, held, being
 * walked) with why; running_too: the running ones too (for a run resumed
 * before any worker connected: a worker that claims one is told to stop
 * it); else they go on. */
void ms_master_fail_unfinished(ms_master_t *m, ms_runrec_t *r, const char *why, int running_too);
/* Cancel r: marked; its pre_run stopped, else its running tasks told to stop, the rest ended. */
void ms_master_cancel(ms_master_t *m, ms_runrec_t *r, size_t *stopped, size_t *dropped);

/* r, cancelled while its pre_run ran, ends now: every task cancelled. */
void ms_master_end_cancelled(ms_master_t *m, ms_runrec_t *r);
/* r ended and so did its hooks: its destination is free, its waiters told. */
void ms_master_run_closed(ms_master_t *m, ms_runrec_t *r);

/* ms_start.c */
/* Keep r among m's runs; -1: out of memory (r stays the caller's). */
int ms_master_add_run(ms_master_t *m, ms_runrec_t *r);
/* Queue r's tasks that are ready, and those whose awaited tasks are all final. */
void ms_master_queue_run(ms_master_t *m, ms_runrec_t *r);
/* The worker_wait of a run: asked for, else its set's, else the master's. */
unsigned ms_master_worker_wait_of(const ms_master_t *m, const char *set, unsigned asked);
/* Keep r's destination for r alone (a lock file where it can); -1 with err (m->busy: in use). */
int ms_master_lock_dest(ms_master_t *m, ms_runrec_t *r, char *err, size_t errlen);
/* pre_run succeeded: r's tasks are queued and its walk begins. */
void ms_master_release_run(ms_master_t *m, ms_runrec_t *r);

/* ms_resume.c */
/* Take up the catalog's unfinished runs (a restart) and its last finished one; -1 with err. */
int ms_master_resume(ms_master_t *m, char *err, size_t errlen);
/* Close the runs that killed processes left unfinished in a shared catalog; returns 0. */
int ms_master_close_dead_runs(ms_master_t *m);

/* ms_hookrun.c */
/* A new run of a set with a pre_run: marked MS_RUN_PRE_RUN (before it is
 * recorded). */
void ms_hookrun_mark(const ms_master_t *m, ms_runrec_t *r);
/* r was recorded: its pre_run starts if it is marked. Returns 1 when r
 * must not be queued nor walked now (its pre_run runs, or could not start
 * and r failed), else 0. */
int ms_hookrun_pre(ms_master_t *m, ms_runrec_t *r);
/* r ended: its report written for its hooks, its post_run (or on_failure)
 * started. Returns 1 when one runs: ms_master_run_closed follows its end. */
int ms_hookrun_post(ms_master_t *m, ms_runrec_t *r);
/* Whether a hook of r runs now. */
int ms_hookrun_waits(const ms_master_t *m, const ms_runrec_t *r);
/* ms_hooks' done callback (arg: the master). */
void ms_hookrun_done(void *arg, uint64_t run_id, ms_hook_kind_t kind, const ms_hook_result_t *res);

/* ms_sched.c */
/* Put t in the queue (front: a retry or a requeue); a task the queue cannot
 * take (memory) fails, it is never lost. */
void ms_sched_enqueue(ms_master_t *m, ms_trec_t *t, int front);
/* t waits until until_ms, then goes at the front. */
void ms_sched_delay(ms_master_t *m, ms_trec_t *t, int64_t until_ms);
void ms_sched_dispatch(ms_master_t *m);
/* Put a task that was in flight back in the queue (its worker is gone). */
void ms_sched_requeue(ms_master_t *m, ms_trec_t *t, const char *why);

/* ms_workers.c */
/* Read what the workers sent, up to a batch; 1 when the batch was full
 * (more may be waiting). */
int ms_workers_read(ms_master_t *m);
void ms_workers_tick(ms_master_t *m);
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
/* Tell t's worker to stop t (CANCEL: it SIGTERMs the rsync and reports it);
 * nothing when t has no worker now (an orphan: it is told when it claims t). */
void ms_workers_stop_task(ms_master_t *m, const ms_trec_t *t);

/* ms_control.c */
void ms_control_handle(ms_master_t *m);
void ms_control_run_done(ms_master_t *m, ms_runrec_t *r);

#endif
