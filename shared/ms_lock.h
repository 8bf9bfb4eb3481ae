/*
 * ms_lock.h - an exclusive lock on a file, so that two processes never
 * work on the same thing (a catalog, a socket, a backup destination).
 *
 * flock(2) locks belong to the open file description: the kernel drops the
 * lock when the last descriptor of it is closed, so a crash (kill -9)
 * releases it, and a forked child that inherited the descriptor keeps it
 * held until it closes it too. The file stays after the lock is released:
 * unlinking it would race the next taker (it could lock the old inode
 * while a third process creates and locks a new file at the same path).
 * On NFS, Linux emulates flock with POSIX locks, which do not exclude
 * another open of the same process: keep lock files on a local filesystem.
 */
#ifndef MS_LOCK_H
#define MS_LOCK_H

#include <stddef.h>

/* An exclusive lock on a file (flock LOCK_EX|LOCK_NB), held while the lock is alive; a crash
 * releases it. */
typedef struct ms_lock ms_lock_t;

/*
 * Take the lock on path (created 0644 when missing, O_CLOEXEC, never
 * following a symlink at path: O_NOFOLLOW), without waiting. On success
 * writes `holder` (one line, e.g. "pid 1234 multisync-master, catalog
 * /var/lib/...") into the file (truncate, write, no fsync needed) and
 * returns the lock. When another process holds it: NULL with errno
 * EWOULDBLOCK and err saying whose it is, from what the holder wrote:
 * "<what> is in use by pid 1234 multisync-master, ..." (what: a caller's
 * label such as "catalog /x.db"). Other failures: NULL, errno set, err
 * says why: ELOOP for a symlink at path; EINVAL for a path that is not a
 * regular file; EMLINK for a file with more than one hard link (truncating
 * it would reach the file under its other name); EACCES for a free lock
 * in a file we may not write (a file we may only read is still read, to
 * say who holds it).
 */
ms_lock_t *ms_lock_take(const char *path, const char *what, const char *holder, char *err,
                        size_t errlen) __attribute__((warn_unused_result));

/* Its descriptor (to hand to a child that must hold it too). */
int ms_lock_fd(const ms_lock_t *l);

/* What the file said when l was taken: the holder line of a process that
 * ended without releasing it (a crash); "" when it was released. *age_s
 * (when not NULL): how long before that the holder last wrote or touched
 * it (ms_lock_touch), i.e. about how long it has been gone. */
const char *ms_lock_previous(const ms_lock_t *l, double *age_s);

/* Mark the file as touched now: a holder that does so on its clock tells a
 * later taker when it was last alive. 0, or -1 (errno). */
int ms_lock_touch(ms_lock_t *l);

/* Empty the file (a release, not a crash), close; NULL-safe, idempotent;
 * never unlinks the file (that would race the next taker). */
void ms_lock_release(ms_lock_t **l);

/* Leave the file as it was when l was taken (the previous holder's line
 * and time, ms_lock_previous), then close: a look that must not hide from
 * the next taker that a holder died there. NULL-safe. */
void ms_lock_put_back(ms_lock_t **l);

#endif
