#ifndef MS_RC_H
#define MS_RC_H

/* The exit status of every multisync program and command, the same
 * everywhere (the man pages list them). Scripts branch on these: a failed
 * task (1) is retried tomorrow, an unreachable master (3) pages someone. */
enum {
    MS_RC_OK = 0,            /* all asked was done, every task succeeded */
    MS_RC_FAILED = 1,        /* the run ended and some tasks failed */
    MS_RC_USAGE = 2,         /* usage or configuration error */
    MS_RC_UNREACHABLE = 3,   /* the master is unreachable or refused us */
    MS_RC_REFUSED = 4,       /* the run was refused: a lock, the guard, no worker */
    MS_RC_INTERRUPTED = 130, /* SIGINT or SIGTERM (128 + SIGINT) */
};

#endif
