/*
 * ms_pool.h - the worker's local pool of rsync children.
 *
 * The pool starts each task as a child rsync (fork/exec, argv from
 * ms_rsync_argv, never a shell), in a process group of its own, with
 * PR_SET_PDEATHSIG so it dies with the worker. It collects the child's
 * stdout (for --stats, progress and a verify's itemize lines) and stderr
 * (for the failure message) through pipes, learns of exits through a
 * signalfd for SIGCHLD, reads /proc/<pid>/io while the child is a zombie
 * (waitid WNOWAIT) and then reaps it with wait4 for its CPU times and peak
 * RSS. A task is finished once the child is reaped and both pipes reached
 * EOF.
 *
 * No work per file: rsync writes a progress line per file, and the pool
 * does not wake for each. A running child's stdout is a big pipe (up to
 * 1 MiB) read on the pool's own clock, often enough that no rsync fills it
 * (8 times a second for 1 MiB), and to its end once the child exited; it
 * is not among the descriptors to poll meanwhile. Children are waited for
 * only after a SIGCHLD. (A pipe the kernel would not grow is polled, as
 * stderr is.)
 *
 * Single-threaded: the owner polls the descriptors from ms_pool_pollfds()
 * in its own loop, with a timeout no later than ms_pool_expire() says, and
 * calls ms_pool_handle() after each poll. The pool never logs; errors come
 * back as -1 and a message.
 *
 * ms_pool_new() blocks SIGCHLD in the calling process (needed for the
 * signalfd); children get an empty signal mask and default dispositions
 * back before exec.
 */
#ifndef MS_POOL_H
#define MS_POOL_H

#include <poll.h>
#include <stddef.h>

#include "ms_codec.h"

typedef struct ms_pool ms_pool_t;

/* A task the pool stopped with SIGTERM gets this long to exit (rsync
 * removes its temporary file) before SIGKILL. */
#define MS_POOL_KILL_GRACE_S 5.0

/*
 * rsync: program to run (looked up in PATH when it has no '/');
 * extra: options added to every rsync (copied; may be NULL when n_extra 0);
 * slots: at most this many children at once.
 * Returns NULL with err set on failure.
 */
ms_pool_t *ms_pool_new(const char *rsync, char *const *extra, size_t n_extra, unsigned slots,
                       char *err, size_t errlen);

/* Kill (SIGKILL to each process group) and reap what still runs, free all.
 * Accepts NULL and *p == NULL; sets *p to NULL. */
void ms_pool_destroy(ms_pool_t **p);

/* Number of tasks started and not yet collected with ms_pool_next_result. */
unsigned ms_pool_busy(const ms_pool_t *p);
unsigned ms_pool_slots(const ms_pool_t *p);

/*
 * Start a task (the pool copies what it needs from t). Its folders are
 * opened first without following a symbolic link below the roots
 * (ms_anchor.h), and rsync runs between those very folders. Returns:
 *   0  started;
 *   MS_POOL_VANISHED  its source folder (or every entry of a chunk) is gone
 *      since the walk: nothing was started or created; err says why;
 *   MS_POOL_DIFFERS  a verify whose folder is missing from the backup (or
 *      a link or a file there): err is the task's message ("1 path
 *      differs:\nalpha/: missing from the backup"), nothing was started;
 *   -1 refused, with the reason in err: ms_rsync_check_task, the deletion
 *      guard for a task with MS_TASK_DELETE (ms_rsync_check_delete_safe),
 *      a folder that cannot be opened or made, the pool is full, or
 *      fork/pipe failed; nothing is started then.
 * A task with MS_TASK_REMOVE runs no rsync: see MS_REMOVE_TREE_ARG.
 * A task with timeout_s is killed by ms_pool_expire once it has run that
 * long. What the worker did besides rsync (a link in the backup replaced by
 * a folder, backups of gone projects removed) starts the result's message;
 * a top task whose removal of such backups was refused (ms_prune.h) fails
 * with MS_EXIT_MAX_DELETE once its rsync succeeded.
 *
 * A verify (MS_TASK_VERIFY) whose rsync succeeded but listed differences
 * ends with MS_EXIT_DIFFERS and a message of what differs
 * (ms_rsync_itemize_text); its read_bytes are every byte rsync read
 * (/proc's rchar: the disk's and the page cache's), the bytes its
 * checksums cost, where a copy's are those that reached the storage.
 * A verify's top task also lists the backup's folders that have no folder
 * in the source.
 *
 * A dry run (MS_TASK_VERIFY | MS_TASK_DRY_RUN) runs the copy's rsync with
 * -n -i (ms_rsync_argv) and ends MS_EXIT_WOULD_CHANGE, a success, listing
 * what the copy would change; a folder the backup does not have yet is
 * compared with a path where nothing is (every entry listed new), never
 * made. Its top task lists the backups of projects gone from the source
 * only with MS_TASK_DELETE, as the copy would remove them.
 */
#define MS_POOL_VANISHED 1
#define MS_POOL_DIFFERS 2

int ms_pool_start(ms_pool_t *p, const ms_task_t *t, char *err, size_t errlen);

/* How the worker's program is asked to remove a tree in its working folder
 * (a task with MS_TASK_REMOVE): `multisync-worker --remove-tree NAME`. It
 * prints "Number of files: N" (the entries removed, in rsync's --stats
 * form) and exits 0, or says why on stderr and exits 1. */
#define MS_REMOVE_TREE_ARG "--remove-tree"

/* That program's work: remove NAME in the working folder (ms_snap_rmtree).
 * Returns its exit status. */
int ms_pool_remove_tree_main(const char *name);

/*
 * Fill fds (room for max entries) with the descriptors to poll for POLLIN.
 * Returns how many were written (at most 1 + 2 x slots).
 */
size_t ms_pool_pollfds(const ms_pool_t *p, struct pollfd *fds, size_t max);

/*
 * After a poll of the descriptors ms_pool_pollfds() gave (fds, n: the
 * same array, in the same order, revents set by poll): reap the children
 * that exited if the signalfd is ready, read the ready pipes, and the
 * clocked ones when they are due; never blocks. fds NULL: check
 * everything (a waitid per child, a read per pipe). Returns 0, or -1 with
 * err set on an unexpected system error (the pool stays usable).
 */
int ms_pool_handle(ms_pool_t *p, const struct pollfd *fds, size_t n, char *err, size_t errlen);

/*
 * Take one finished task's result. Returns 1 and fills *r (which then owns
 * r->message; free with ms_msg_clear on the enclosing message or free()),
 * or 0 when none is finished.
 */
int ms_pool_next_result(ms_pool_t *p, ms_result_t *r);

/* Send sig to the process group of every running task. */
void ms_pool_signal_all(ms_pool_t *p, int sig);

/*
 * Signal the process group of the task ref names and remember why (the
 * result's message starts with it: "cancelled by the master", ...).
 * Returns 0, or -1 when the pool does not run that task.
 */
int ms_pool_kill(ms_pool_t *p, const ms_taskref_t *ref, int sig, const char *why);

/* The same for every running task. */
void ms_pool_kill_all(ms_pool_t *p, int sig, const char *why);

/*
 * Stop (SIGTERM to the group) every task that has run longer than its
 * timeout_s (its result says "timed out after N s"), and SIGKILL every task
 * stopped with SIGTERM more than MS_POOL_KILL_GRACE_S ago. Call it every
 * turn. Returns the seconds until something is due (a timeout, the end of
 * a grace, the next read of the running children's stdout: poll no longer
 * than that), or -1 when nothing is.
 */
double ms_pool_expire(ms_pool_t *p);

/* The bytes done by each running task so far (at most max): what its rsync
 * has read, from /proc/PID/io. Returns how many. */
size_t ms_pool_progress(const ms_pool_t *p, ms_progress_t *out, size_t max);

/* List the tasks still running (at most max). Returns how many. */
size_t ms_pool_running(const ms_pool_t *p, ms_taskref_t *out, size_t max);

#endif
