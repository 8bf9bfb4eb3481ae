/*
 * ms_agent.h - the worker agent: connects a DEALER to the master, announces
 * its host name and slots, takes tasks against the credit it grants, runs
 * them in its local pool and reports each result with the task's counters.
 *
 * Faults it survives (Paranoid Pirate, plus leases):
 *   - it heartbeats every heartbeat_ms; the master answers each heartbeat
 *     with an ack of the worker's clock and the time it waits before it
 *     requeues a silent worker's tasks (ttl). A task is a lease: when no
 *     ack newer than (now - ttl + a margin) has come back, the agent kills
 *     its rsyncs, so a cut-off worker never races the worker that gets its
 *     tasks next;
 *   - when the master is silent for 2 heartbeats it reconnects with a new
 *     socket, backing off from 1 s to 32 s, announces itself again with
 *     HOLD for each task it still runs, and re-sends every result the master
 *     has not acknowledged (results are idempotent per task attempt);
 *   - SIGTERM: DRAIN (no more tasks), let running tasks finish for up to
 *     drain_timeout_s, then kill them (reported as interrupted), BYE, exit;
 *   - with exit_with_parent (the worker `multisync run` starts): SIGTERM
 *     (*stop == SIGTERM: the parent's PR_SET_PDEATHSIG), or a parent pid
 *     that changed, means the process that started the worker is gone: no
 *     drain, the rsyncs are stopped at once (SIGTERM, SIGKILL after 1 s),
 *     BYE, exit;
 *   - a master that refuses it because another live worker has its name:
 *     it says so and asks again, 1 s later, then 2, 4... up to 32 s (it may
 *     take over once the other falls silent).
 */
#ifndef MS_AGENT_H
#define MS_AGENT_H

#include <signal.h>
#include <stddef.h>

typedef struct {
    const char *master;      /* endpoint to connect to */
    const char *name;        /* host name shown in reports */
    unsigned slots;          /* tasks at once */
    const char *rsync;       /* rsync program */
    char *const *rsync_opts; /* extra rsync options from config/command line */
    size_t n_rsync_opts;
    int heartbeat_ms;                 /* 0: MS_HEARTBEAT_MS */
    unsigned drain_timeout_s;         /* on SIGTERM, wait this long for running tasks; 0: 60 */
    const char *key;                  /* our CURVE key pair (.key), for a tcp:// master */
    const char *master_key;           /* the master's public key (.pub) */
    int insecure;                     /* allow plaintext to a tcp:// master */
    const struct ms_confine *confine; /* roots tasks may touch; NULL: anywhere */
    const char *rsync_version;        /* its `rsync --version` line, told to the master; NULL */
    unsigned unconfined;              /* MS_UNCONFINED_*: told to the master (status, reports) */
    const char *opts;                 /* ms_fp_opts of its rsync and options: told to the master */
    int noop;                         /* benchmark the control plane: report every task done
                                       * at once, run nothing */
    int exit_with_parent;             /* leave at once, without draining, on SIGTERM (the
                                       * parent's PR_SET_PDEATHSIG) or when getppid() is no
                                       * longer what it was at start */
    unsigned agents;                  /* 0 or 1: one agent. N > 1 (benchmarks, noop only):
                                       * N simulated workers in this process, each its own
                                       * socket, named NAME-1..NAME-N, agent i with the key
                                       * KEY-i.key for key KEY.key */
} ms_agent_opts_t;

/*
 * Serve the master until it says BYE, the process is asked to stop (*stop
 * becomes non-zero, from a signal handler: the signal's number) or a fatal
 * error, or with exit_with_parent its parent is gone (with many agents:
 * until all of them are told BYE). Returns the
 * process exit status: 0 after BYE or a stop, 1 on a fatal error. A master
 * that speaks another protocol version is logged (once per connection) and
 * treated as absent: the agent keeps reconnecting. Logs through ms_log.
 */
int ms_agent_run(const ms_agent_opts_t *o, volatile sig_atomic_t *stop);

#endif
