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

/* Set by SIGHUP once ms_signal_install_reload ran; the loop clears it. */
extern volatile sig_atomic_t ms_reload_signal;

/* Install the handler for SIGTERM and SIGINT, and ignore SIGPIPE. Returns 0 or -1. */
int ms_signal_install(void);

/* Make SIGHUP set ms_reload_signal (re-read keys) instead of ending the process. */
int ms_signal_install_reload(void);

#endif
