/*
 * ms_agent.h - the worker agent: connects a DEALER to the master, announces
 * its host name and slots, takes tasks against the credit it grants, runs
 * them in its local pool and reports each result with the task's counters.
 */
#ifndef MS_AGENT_H
#define MS_AGENT_H

#include <signal.h>
#include <stddef.h>

typedef struct {
    const char *master;       /* endpoint to connect to */
    const char *name;         /* host name shown in reports */
    unsigned slots;           /* tasks at once */
    const char *rsync;        /* rsync program */
    char *const *rsync_opts;  /* extra rsync options from config/command line */
    size_t n_rsync_opts;
    int heartbeat_ms;         /* 0: MS_HEARTBEAT_MS */
} ms_agent_opts_t;

/*
 * Serve the master until it says BYE, the process is asked to stop (*stop
 * becomes non-zero, from a signal handler) or a fatal error. Returns the
 * process exit status: 0 after BYE or a stop, 1 on a fatal error, 2 when the
 * master speaks another protocol version. Logs through ms_log.
 */
int ms_agent_run(const ms_agent_opts_t *o, volatile sig_atomic_t *stop);

#endif
