/*
 * ms_signal.h - SIGTERM/SIGINT as a flag a poll loop checks. The handler
 * only sets the flag; it is installed without SA_RESTART so that zmq_poll
 * returns (EINTR) and the loop sees the flag at once.
 */
#ifndef MS_SIGNAL_H
#define MS_SIGNAL_H

#include <signal.h>

/* Set by SIGTERM, SIGINT (and SIGHUP when asked): the signal number. */
extern volatile sig_atomic_t ms_stop_signal;

/* Install the handler for SIGTERM and SIGINT, and ignore SIGPIPE. Returns 0 or -1. */
int ms_signal_install(void);

#endif
