/*
 * ms_lock.c - an exclusive flock on a file that says who holds it (see
 * ms_lock.h). Errors go into err, never into a log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_lock.h"

struct ms_lock {
    int fd;
    char previous[256];    /* what the file said when taken: a holder that did not release it */
    double previous_age_s; /* since that holder last wrote or touched it */
    struct timespec previous_mtime;
};

/* O_NONBLOCK: a FIFO put at the path must not hang the open (it is then
 * refused as not a regular file); it changes nothing for a regular file. */
#define OPEN_FLAGS (O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)

/* Open path, creating it when missing, never through a symlink at path.
 * A file we may not write (another user's) is opened read-only, only to
 * tell whose lock it is (*readonly). Returns the fd, or -1 (errno). */
static int open_file(const char *path, int *readonly)
{
    *readonly = 0;
    for (int tries = 0; tries < 3; tries++) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | OPEN_FLAGS, 0644);
        if (fd >= 0) {
            /* 0644 whatever the umask: anyone may read who holds it (if
             * this fails, only that is lost). */
            (void)fchmod(fd, 0644);
            return fd;
        }
        if (errno != EEXIST) /* O_EXCL: also a symlink, dangling or not */
            return -1;
        fd = open(path, O_RDWR | OPEN_FLAGS);
        if (fd < 0 && errno == EACCES) {
            *readonly = 1;
            fd = open(path, O_RDONLY | OPEN_FLAGS);
        }
        if (fd >= 0 || errno != ENOENT)
            return fd;
        /* Removed between the two opens: create it again. */
    }
    return -1;
}

/* Close fd keeping errno; returns NULL for the caller to return. */
static ms_lock_t *drop(int fd)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
    return NULL;
}

static ms_lock_t *open_failed(const char *path, char *err, size_t errlen)
{
    int e = errno;
    if (e == ELOOP)
        ms_errf(err, errlen, "lock file %s is a symbolic link: refusing to follow it", path);
    else
        ms_errf(err, errlen, "cannot open lock file %s: %s", path, strerror(e));
    errno = e;
    return NULL;
}

/* Only a regular file of one name: truncating it must not reach a file
 * someone linked there under another name. */
static int check_file(int fd, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return ms_errf(err, errlen, "cannot stat lock file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        return ms_errf(err, errlen, "lock file %s is not a regular file", path);
    }
    if (st.st_nlink > 1) {
        errno = EMLINK;
        return ms_errf(err, errlen, "lock file %s has %lu hard links: refusing to write into it",
                       path, (unsigned long)st.st_nlink);
    }
    return 0;
}

/* The first line of what the holder wrote, control bytes made '?'. It
 * writes right after it locks: an empty file is read again for a while. */
static void read_holder(int fd, char *out, size_t outlen)
{
    ssize_t n = 0;
    for (int tries = 0; tries < 5 && n <= 0; tries++) {
        if (tries > 0)
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        n = pread(fd, out, outlen - 1, 0);
    }
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void refuse_held(int fd, const char *path, const char *what, char *err, size_t errlen)
{
    char who[512];
    read_holder(fd, who, sizeof who);
    if (who[0])
        ms_errf(err, errlen, "%s is in use by %s", what, who);
    else
        ms_errf(err, errlen, "%s is in use by another process (it holds %s)", what, path);
    errno = EWOULDBLOCK;
}

/* The holder's line, in place of the previous holder's. */
static int write_holder(int fd, const char *path, const char *holder, char *err, size_t errlen)
{
    size_t len = strcspn(holder, "\n");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, holder, len, 0) != (ssize_t)len ||
        pwrite(fd, "\n", 1, (off_t)len) != 1) {
        if (errno == 0)
            errno = EIO; /* a short write */
        return ms_errf(err, errlen, "cannot write lock file %s: %s", path, strerror(errno));
    }
    return 0;
}

ms_lock_t *ms_lock_take(const char *path, const char *what, const char *holder, char *err,
                        size_t errlen)
{
    int readonly;
    int fd = open_file(path, &readonly);
    if (fd < 0)
        return open_failed(path, err, errlen);
    if (check_file(fd, path, err, errlen) != 0)
        return drop(fd);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            refuse_held(fd, path, what, err, errlen);
        else
            ms_errf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        return drop(fd);
    }
    if (readonly) {
        errno = EACCES; /* free, but we could not say it is ours */
        ms_errf(err, errlen, "cannot write lock file %s: %s", path, strerror(errno));
        return drop(fd);
    }
    ms_lock_t *l = malloc(sizeof *l);
    if (!l) {
        errno = ENOMEM;
        ms_errf(err, errlen, "out of memory locking %s", path);
        return drop(fd);
    }
    /* A holder that released it emptied it: a line left is one that died. */
    struct stat st;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int known = fstat(fd, &st) == 0;
    l->previous_age_s = known ? (double)(now.tv_sec - st.st_mtim.tv_sec) +
                                    (double)(now.tv_nsec - st.st_mtim.tv_nsec) / 1e9
                              : 0;
    l->previous_mtime = known ? st.st_mtim : now;
    ssize_t n = pread(fd, l->previous, sizeof l->previous - 1, 0);
    l->previous[n > 0 ? n : 0] = '\0';
    l->previous[strcspn(l->previous, "\n")] = '\0';
    errno = 0;
    if (write_holder(fd, path, holder, err, errlen) != 0) {
        free(l);
        return drop(fd);
    }
    l->fd = fd;
    return l;
}

int ms_lock_fd(const ms_lock_t *l)
{
    return l ? l->fd : -1;
}

const char *ms_lock_previous(const ms_lock_t *l, double *age_s)
{
    if (age_s)
        *age_s = l ? l->previous_age_s : 0;
    return l ? l->previous : "";
}

int ms_lock_touch(ms_lock_t *l)
{
    return l && futimens(l->fd, NULL) == 0 ? 0 : -1;
}

void ms_lock_put_back(ms_lock_t **lp)
{
    if (!lp || !*lp)
        return;
    ms_lock_t *l = *lp;
    size_t n = strlen(l->previous);
    if (ftruncate(l->fd, 0) == 0 && n) {
        l->previous[n] = '\n'; /* as the holder wrote it: one line */
        (void)!pwrite(l->fd, l->previous, n + 1, 0);
    }
    struct timespec times[2] = {{0, UTIME_OMIT}, l->previous_mtime};
    (void)futimens(l->fd, times);
    close(l->fd);
    free(l);
    *lp = NULL;
}

void ms_lock_release(ms_lock_t **lp)
{
    if (!lp || !*lp)
        return;
    /* Emptied: the next taker knows it was released, not left by a crash.
     * Not emptied (a full or read-only disk): the next taker sees our line
     * and waits out a lease for workers that are not there: slower, safe. */
    int emptied = ftruncate((*lp)->fd, 0) == 0;
    (void)emptied;
    close((*lp)->fd); /* the kernel drops the lock with the last descriptor */
    free(*lp);
    *lp = NULL;
}
