#include "ms_rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ms_clock.h"
#include "ms_err.h"

#define LOCK_NEW MS_RUNDIR_LOCK ".new"
#define NAME_RANDOM 6    /* mkdtemp's XXXXXX */
#define LOCK_RETRY_MS 20 /* how often a sweep tries a stopping worker's lock */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

const char *ms_rundir_base(void)
{
    const char *base = getenv("XDG_RUNTIME_DIR");
    if (!base || access(base, W_OK) != 0)
        base = getenv("TMPDIR");
    if (!base || access(base, W_OK) != 0)
        base = "/tmp";
    return base;
}

/* A new lock file in the folder, locked; -1 on failure. */
static int new_lock(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0)
        close_fd(&fd);
    return fd;
}

/* The worker lock, then the run lock under a name a sweep does not accept,
 * renamed once locked: no sweep ever finds the locks of a live run free. */
static int lock_both(ms_rundir_t *d)
{
    if ((d->worker_lock_fd = new_lock(d->dir_fd, MS_RUNDIR_WORKER_LOCK)) < 0 ||
        (d->lock_fd = new_lock(d->dir_fd, LOCK_NEW)) < 0 ||
        renameat(d->dir_fd, LOCK_NEW, d->dir_fd, MS_RUNDIR_LOCK) != 0)
        return -1;
    return 0;
}

int ms_rundir_create(ms_rundir_t *d, const char *base, char *err, size_t errlen)
{
    d->dir_fd = d->lock_fd = d->worker_lock_fd = -1;
    if ((size_t)snprintf(d->path, sizeof d->path, "%s/" MS_RUNDIR_PREFIX "XXXXXX", base) >=
        sizeof d->path) {
        ms_errf(err, errlen, "cannot create a private directory in %s: name too long", base);
        d->path[0] = '\0';
        return -1;
    }
    if (!mkdtemp(d->path)) { /* mkdtemp makes it 0700 */
        ms_errf(err, errlen, "cannot create a private directory in %s: %s", base, strerror(errno));
        d->path[0] = '\0';
        return -1;
    }
    d->dir_fd = open(d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d->dir_fd < 0 || lock_both(d) != 0) {
        ms_errf(err, errlen, "cannot lock the private directory %s: %s", d->path, strerror(errno));
        if (d->dir_fd >= 0)
            unlinkat(d->dir_fd, LOCK_NEW, 0);
        ms_rundir_remove(d);
        return -1;
    }
    return 0;
}

void ms_rundir_inherit(const ms_rundir_t *d)
{
    if (d->worker_lock_fd >= 0)
        fcntl(d->worker_lock_fd, F_SETFD, 0);
}

void ms_rundir_handed_over(ms_rundir_t *d)
{
    close_fd(&d->worker_lock_fd);
}

void ms_rundir_remove(ms_rundir_t *d)
{
    if (d->dir_fd >= 0) {
        unlinkat(d->dir_fd, MS_RUNDIR_SOCKET, 0);
        unlinkat(d->dir_fd, MS_RUNDIR_SOCKET_LOCK, 0);
        unlinkat(d->dir_fd, MS_RUNDIR_WORKER_LOCK, 0);
        unlinkat(d->dir_fd, MS_RUNDIR_LOCK, 0);
    }
    if (d->path[0])
        rmdir(d->path);
    /* Unlocked only now: until the folder is gone, a sweep leaves it alone. */
    close_fd(&d->lock_fd);
    close_fd(&d->worker_lock_fd);
    close_fd(&d->dir_fd);
    d->path[0] = '\0';
}

/* ---- the sweep ------------------------------------------------------------ */

/* "multisync." and six letters or digits, as mkdtemp makes them. */
static int is_rundir_name(const char *name)
{
    size_t n = strlen(MS_RUNDIR_PREFIX);
    if (strncmp(name, MS_RUNDIR_PREFIX, n) != 0 || strlen(name) != n + NAME_RANDOM)
        return 0;
    for (const char *p = name + n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

/* Ours and closed to everybody else, as mkdtemp makes it. */
static int private_dir(const struct stat *st)
{
    return S_ISDIR(st->st_mode) && st->st_uid == geteuid() && (st->st_mode & 077) == 0;
}

/* What may be in a runtime folder: 1 known and of its type, 0 not. */
static int known_entry(const char *name, const struct stat *st)
{
    if (st->st_uid != geteuid())
        return 0;
    if (strcmp(name, MS_RUNDIR_LOCK) == 0 || strcmp(name, MS_RUNDIR_WORKER_LOCK) == 0 ||
        strcmp(name, MS_RUNDIR_SOCKET_LOCK) == 0)
        return S_ISREG(st->st_mode);
    return strcmp(name, MS_RUNDIR_SOCKET) == 0 && S_ISSOCK(st->st_mode);
}

/* 1 when the folder holds a run lock and nothing but the known files
 * (lstat: a symbolic link is something unexpected). */
static int only_known_files(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    int ok = 1, has_lock = 0;
    struct dirent *de;
    if (!dir) {
        close_fd(&fd);
        return 0;
    }
    while (ok && (de = readdir(dir)) != NULL) {
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        ok =
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && known_entry(de->d_name, &st);
        has_lock |= ok && strcmp(de->d_name, MS_RUNDIR_LOCK) == 0;
    }
    closedir(dir);
    return ok && has_lock;
}

/* flock(LOCK_EX), tried until deadline (ms_now_ms). */
static int lock_until(int fd, int64_t deadline)
{
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK || ms_now_ms() >= deadline)
            return -1;
        nanosleep(&(struct timespec){0, LOCK_RETRY_MS * 1000000L}, NULL);
    }
    return 0;
}

/*
 * The lock file name in the folder, taken, trying for up to wait_ms. -1
 * when its holder lives on, it is not a plain file of ours, or another
 * sweep removed it first; errno is then ENOENT only when it is not there.
 */
static int take_lock(int dfd, const char *name, int wait_ms)
{
    struct stat st;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        lock_until(fd, ms_now_ms() + wait_ms) != 0 || fstat(fd, &st) != 0 || st.st_nlink == 0) {
        close_fd(&fd);
        errno = EWOULDBLOCK;
    }
    return fd;
}

/* A dead run's files, then its folder if base/name still is that folder.
 * rmdir removes only an empty folder: nothing else can go. */
static int remove_dead(int bfd, const char *name, int dfd, const struct stat *dir_st)
{
    struct stat now;
    if ((unlinkat(dfd, MS_RUNDIR_SOCKET, 0) != 0 && errno != ENOENT) ||
        (unlinkat(dfd, MS_RUNDIR_SOCKET_LOCK, 0) != 0 && errno != ENOENT) ||
        (unlinkat(dfd, MS_RUNDIR_WORKER_LOCK, 0) != 0 && errno != ENOENT) ||
        unlinkat(dfd, MS_RUNDIR_LOCK, 0) != 0)
        return 0;
    if (fstatat(bfd, name, &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_dev != dir_st->st_dev ||
        now.st_ino != dir_st->st_ino)
        return 0;
    return unlinkat(bfd, name, AT_REMOVEDIR) == 0;
}

/* 1 when base/name was a dead run's folder and is now removed. */
static int sweep_one(int bfd, const char *name, int wait_ms)
{
    struct stat st, opened;
    int removed = 0;
    if (fstatat(bfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !private_dir(&st))
        return 0;
    int dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    if (fstat(dfd, &opened) == 0 && opened.st_dev == st.st_dev && opened.st_ino == st.st_ino &&
        only_known_files(dfd)) {
        int lfd = take_lock(dfd, MS_RUNDIR_LOCK, 0);
        if (lfd >= 0) { /* the run is dead; its worker may still be stopping */
            int wfd = take_lock(dfd, MS_RUNDIR_WORKER_LOCK, wait_ms);
            if (wfd >= 0 || errno == ENOENT)
                removed = remove_dead(bfd, name, dfd, &st);
            close_fd(&wfd);
            close(lfd); /* held until the folder is gone: other sweeps skip it */
        }
    }
    close(dfd);
    return removed;
}

int ms_rundir_sweep(const char *base, int wait_ms)
{
    int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = bfd < 0 ? -1 : openat(bfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *de;
    int n = 0;
    if (!dir) {
        close_fd(&fd);
        close_fd(&bfd);
        return -1;
    }
    while ((de = readdir(dir)) != NULL)
        if (is_rundir_name(de->d_name))
            n += sweep_one(bfd, de->d_name, wait_ms);
    closedir(dir);
    close(bfd);
    return n;
}
