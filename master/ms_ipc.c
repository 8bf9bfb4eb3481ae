/*
 * ms_ipc.c - the checks and the lock around binding an ipc:// socket (see
 * ms_ipc.h). Errors go into err; the caller logs.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "ms_err.h"
#include "ms_ipc.h"
#include "ms_path.h"

const char *ms_ipc_file(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) != 0 || ep[6] == '@' || ep[6] == '\0')
        return NULL;
    return ep + 6;
}

/* The folder of ep's socket file path, in copy (PATH_MAX); NULL with err
 * set when the path is too long. */
static const char *folder_of(const char *ep, const char *path, char *copy, char *err, size_t errlen)
{
    if ((size_t)snprintf(copy, PATH_MAX, "%s", path) >= PATH_MAX) {
        errno = ENAMETOOLONG;
        ms_errf(err, errlen, "cannot bind %s: path too long", ep);
        return NULL;
    }
    return dirname(copy);
}

int ms_ipc_make_folder(const char *ep, char *made, size_t madelen, char *err, size_t errlen)
{
    const char *path = ms_ipc_file(ep), *dir;
    char copy[PATH_MAX];
    int created = 0;
    made[0] = '\0';
    if (!path)
        return 0;
    if (!(dir = folder_of(ep, path, copy, err, errlen)))
        return -1;
    char why[PATH_MAX + 128];
    if (ms_path_make_folder(dir, MS_IPC_FOLDER_MODE, &created, why, sizeof why) != 0)
        return ms_errf(err, errlen, "cannot bind %s: %s", ep, why);
    if (created)
        snprintf(made, madelen, "%s", dir);
    return 0;
}

/* Whoever may write the socket's folder may replace the socket (or its
 * lock file) with their own: clients would then talk to them. */
static int check_folder(const char *ep, const char *path, char *err, size_t errlen)
{
    char copy[PATH_MAX];
    struct stat st;
    const char *dir = folder_of(ep, path, copy, err, errlen);
    if (!dir)
        return -1;
    if (stat(dir, &st) != 0)
        return ms_errf(err, errlen, "cannot bind %s: folder %s: %s", ep, dir, strerror(errno));
    if (st.st_mode & S_IWOTH) {
        errno = EPERM;
        return ms_errf(err, errlen,
                       "refusing to bind %s: its folder %s is writable by others (mode %04o): "
                       "anyone could replace the socket; use a folder only the master's user "
                       "(and group) may write, such as /run/multisync",
                       ep, dir, (unsigned)(st.st_mode & 07777));
    }
    return 0;
}

int ms_ipc_claim(const char *ep, const char *holder, ms_lock_t **lock, char *err, size_t errlen)
{
    const char *path = ms_ipc_file(ep);
    char lpath[PATH_MAX];
    *lock = NULL;
    if (!path)
        return 0;
    if (check_folder(ep, path, err, errlen) != 0)
        return -1;
    if ((size_t)snprintf(lpath, sizeof lpath, "%s.lock", path) >= sizeof lpath) {
        errno = ENAMETOOLONG;
        return ms_errf(err, errlen, "cannot bind %s: path too long", ep);
    }
    *lock = ms_lock_take(lpath, ep, holder, err, errlen);
    return *lock ? 0 : -1;
}

/* What connecting to the socket file at path says: 0 (something accepts:
 * in use), or the errno (ECONNREFUSED: a stale socket nobody listens on). */
static int probe(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return ENAMETOOLONG; /* libzmq cannot bind it either */
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* Non-blocking: a listener whose backlog is full answers EAGAIN at once. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int e = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : errno;
    close(fd);
    return e == EAGAIN || e == EINPROGRESS ? 0 : e;
}

/* libzmq unlinks whatever is at path before it binds: only nothing, or a
 * stale socket, may be there. Our lock keeps other masters away; this
 * finds processes that do not take it. */
static int check_free(const char *ep, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0
                               : ms_errf(err, errlen, "cannot bind %s: %s", ep, strerror(errno));
    if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        return ms_errf(err, errlen,
                       "refusing to bind %s: %s exists and is not a socket (binding would delete "
                       "it)",
                       ep, path);
    }
    int e = probe(path);
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    errno = e ? e : EADDRINUSE;
    if (e == 0)
        return ms_errf(err, errlen, "%s is in use by another process", ep);
    return ms_errf(err, errlen,
                   "refusing to bind %s: cannot tell whether another process uses %s (%s)", ep,
                   path, strerror(e));
}

/* libzmq creates the socket file in zmq_bind's own call path (this
 * thread: it unlinks, then binds): a umask set around the call gives the
 * file its final mode from the start. chmod then makes sure of it. */
static int bind_file(void *sock, const char *ep, const char *path, mode_t mode, char *err,
                     size_t errlen)
{
    mode_t old = umask(0777 & ~mode);
    int rc = zmq_bind(sock, ep);
    int e = errno;
    umask(old);
    if (rc != 0) {
        errno = e;
        return ms_errf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(e));
    }
    if (chmod(path, mode) != 0)
        return ms_errf(err, errlen, "cannot set mode %04o on %s: %s", (unsigned)mode, path,
                       strerror(errno));
    return 0;
}

int ms_ipc_bind(void *sock, const char *ep, mode_t mode, char *err, size_t errlen)
{
    const char *path = ms_ipc_file(ep);
    if (!path) {
        if (zmq_bind(sock, ep) == 0)
            return 0;
        return ms_errf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(errno));
    }
    if (check_free(ep, path, err, errlen) != 0)
        return -1;
    return bind_file(sock, ep, path, mode, err, errlen);
}
