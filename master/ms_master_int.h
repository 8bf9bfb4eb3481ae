/*
 * ms_master_int.h - the master's internal state, shared by its modules
 * (ms_master.c: loop, workers and dispatch; ms_control.c: the control
 * service). Not for use outside master/.
 */
#ifndef MS_MASTER_INT_H
#define MS_MASTER_INT_H

#include "ms_master.h"
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
    uint64_t done;
    int64_t last_seen_ms;
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
    int64_t next_heartbeat_ms;

    ms_wrec_t **workers;
    size_t n_workers;
    unsigned next_worker;

    ms_runrec_t **runs;
    size_t n_runs;
    uint64_t next_run;

    ms_trec_t **queue; /* ring buffer of queued tasks */
    size_t q_head, q_len, q_cap;

    ms_waiter_t *waiters;
    size_t n_waiters;
};

ms_runrec_t *ms_master_find_run(const ms_master_t *m, uint64_t run_id);

/* Control service (ms_control.c). */
void ms_control_handle(ms_master_t *m);
void ms_control_run_done(ms_master_t *m, ms_runrec_t *r);

#endif
