/*
 * ms_rundir.h - the private runtime folder of one `multisync run`:
 * BASE/multisync.XXXXXX (0700), holding the worker's socket, the master's
 * lock on that socket (MS_RUNDIR_SOCKET_LOCK) and two lock files of its
 * own: MS_RUNDIR_LOCK, locked (flock LOCK_EX) by the run for its whole
 * life, and MS_RUNDIR_WORKER_LOCK, locked for the worker to inherit and
 * hold for its own life.
 *
 * A run killed with -9 cannot remove its folder. The locks say who is
 * alive: the kernel drops a lock with its holder. So each run first sweeps
 * BASE: a folder of its own uid whose run lock it can take belonged to a
 * dead run. Its worker may still be stopping its rsyncs (they must not race
 * the new run in the same backup): the sweep waits for the worker lock,
 * then removes the known files (the locks, the socket) and the folder.
 * Nothing else is ever removed, no symbolic link is followed, and a folder
 * with anything unexpected is left alone.
 *
 * The run lock is created and locked under another name (MS_RUNDIR_LOCK
 * ".new"), after the worker lock, and then renamed: a sweep never finds a
 * live run's locks free. Never logs.
 */
#ifndef MS_RUNDIR_H
#define MS_RUNDIR_H

#include <limits.h>
#include <stddef.h>

#define MS_RUNDIR_PREFIX "multisync."
#define MS_RUNDIR_LOCK "lock"
#define MS_RUNDIR_WORKER_LOCK "worker.lock"
#define MS_RUNDIR_SOCKET "worker.sock"
#define MS_RUNDIR_SOCKET_LOCK "worker.sock.lock" /* the master's hold on its socket (ms_ipc.h) */

typedef struct {
    char path[PATH_MAX - 64]; /* room for "/worker.sock" and "ipc://" */
    int dir_fd;               /* the folder; -1: none */
    int lock_fd;              /* the run lock, locked; -1: none */
    int worker_lock_fd;       /* the worker lock until handed over; -1: none */
} ms_rundir_t;

/* The folder runtime folders go in: $XDG_RUNTIME_DIR, else $TMPDIR, else
 * /tmp (the first that is set and writable). */
const char *ms_rundir_base(void);

/*
 * Create a new runtime folder in base and lock it. Returns 0, or -1 with err
 * set (nothing is left behind then).
 */
int ms_rundir_create(ms_rundir_t *d, const char *base, char *err, size_t errlen);

/* In the forked worker, before exec: keep the worker lock across exec
 * (async-signal-safe). */
void ms_rundir_inherit(const ms_rundir_t *d);

/* In the parent once the worker is forked (or could not be): the worker
 * holds the lock now, close our descriptor. */
void ms_rundir_handed_over(ms_rundir_t *d);

/* Remove the folder made by ms_rundir_create (the socket, the lock file,
 * the folder) and drop the lock. Safe on a folder never created. */
void ms_rundir_remove(ms_rundir_t *d);

/*
 * Remove the runtime folders in base left behind by dead runs of this
 * user, as described above, waiting up to wait_ms for each one's worker to
 * exit (one that does not is left for a later sweep). Returns how many were
 * removed, or -1 when base cannot be read.
 */
int ms_rundir_sweep(const char *base, int wait_ms);

#endif
