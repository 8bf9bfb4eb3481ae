#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_path.h"
#include "ms_proto.h"

int ms_path_is_remote(const char *dest)
{
    return strncmp(dest, "rsync://", 8) == 0 || dest[strcspn(dest, ":/")] == ':';
}

/* mkdir of dir, one folder of `what` (named in errors; leaf: dir is its
 * last): made (*made = 1), or already a folder. Anything else there is an
 * error. */
static int make_one(const char *what, const char *dir, int leaf, mode_t mode, int *made, char *err,
                    size_t errlen)
{
    struct stat st;
    *made = mkdir(dir, mode) == 0;
    if (*made)
        return 0;
    if (errno != EEXIST && leaf)
        return ms_errf(err, errlen, "cannot create %s: %s", what, strerror(errno));
    if (errno != EEXIST)
        return ms_errf(err, errlen, "cannot create %s: %s: %s", what, dir, strerror(errno));
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    errno = ENOTDIR;
    return ms_errf(err, errlen, "cannot create %s: %s exists and is not a folder", what, dir);
}

/* mkdir -p root: its parents with parent_mode, root itself with leaf_mode
 * (both narrowed by the umask, as mkdir does). *made: root was made now. */
static int make_path(const char *what, const char *root, mode_t parent_mode, mode_t leaf_mode,
                     int *made, char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/') /* "a/b/": its last folder is b */
        len--;
    if (len == 0)
        return ms_errf(err, errlen, "cannot create a folder at an empty path");
    if (len >= sizeof path)
        return ms_errf(err, errlen, "%s: path too long", what);
    memcpy(path, root, len);
    path[len] = '\0';
    for (char *p = path + 1;; p++) {
        char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (make_one(what, path, !c, c ? parent_mode : leaf_mode, made, err, errlen) != 0)
            return -1;
        *p = c;
        if (c == '\0')
            return 0;
    }
}

int ms_path_mkdirs(const char *root, char *err, size_t errlen)
{
    char what[PATH_MAX + 16];
    int made;
    snprintf(what, sizeof what, "destination %s", root);
    return make_path(what, root, 0777, 0777, &made, err, errlen);
}

int ms_path_make_folder(const char *path, mode_t mode, int *created, char *err, size_t errlen)
{
    char what[PATH_MAX + 16];
    snprintf(what, sizeof what, "folder %s", path);
    if (make_path(what, path, 0755, mode, created, err, errlen) != 0)
        return -1;
    if (!*created)
        return 0;
    /* The umask may have narrowed it: set it to mode exactly, on the folder
     * just made (never through a link put in its place meanwhile). */
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fchmod(fd, mode) != 0) {
        ms_errf(err, errlen, "cannot set mode %04o on folder %s: %s", (unsigned)mode, path,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int ms_path_check_name(const char *what, const char *s, size_t n, char *err, size_t errlen)
{
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return ms_errf(err, errlen, "%s must not be empty, \".\" or \"..\"", what);
    if (memchr(s, '/', n) != NULL)
        return ms_errf(err, errlen, "%s must not contain '/'", what);
    if (n > NAME_MAX)
        return ms_errf(err, errlen, "%s longer than %d bytes", what, NAME_MAX);
    return 0;
}

int ms_path_check_relpath(const char *what, const char *path, char *err, size_t errlen)
{
    char part[64];
    size_t len = strlen(path), n;

    if (len >= MS_MAX_PATH)
        return ms_errf(err, errlen, "%s is %zu bytes long, over %d", what, len, MS_MAX_PATH - 1);
    snprintf(part, sizeof(part), "each part of %s", what);
    for (;; path += n + 1) {
        n = strcspn(path, "/");
        if (ms_path_check_name(part, path, n, err, errlen) < 0)
            return -1;
        if (path[n] == '\0')
            return 0;
    }
}

/* --- where two folders lie ------------------------------------------------ */

#define DIR_PATH (O_PATH | O_DIRECTORY | O_CLOEXEC)
#define MAX_DEPTH 4096

/* Whether the folder fd is the folder st names, or below it: up through
 * ".." to / (whose ".." is itself), comparing device and inode. 1, 0, or
 * -1 with errno set. */
static int within(int fd, const struct stat *top)
{
    int cur = fcntl(fd, F_DUPFD_CLOEXEC, 3), found = -1, why = ELOOP;
    for (int depth = 0; cur >= 0 && depth < MAX_DEPTH && found < 0; depth++) {
        struct stat st, up;
        int parent = openat(cur, "..", DIR_PATH);
        if (parent < 0 || fstat(cur, &st) != 0 || fstat(parent, &up) != 0) {
            why = errno;
            if (parent >= 0)
                close(parent);
            break;
        }
        if (st.st_dev == top->st_dev && st.st_ino == top->st_ino)
            found = 1;
        else if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
            found = 0; /* the root */
        close(cur);
        cur = parent;
    }
    if (cur < 0)
        why = errno;
    else
        close(cur);
    if (found < 0)
        errno = why;
    return found;
}

/* The folder dir names, or when it is missing the nearest folder above it:
 * its descriptor, *exists saying which; -1 with err. */
static int nearest(const char *dir, int *exists, char *err, size_t errlen)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s", dir) >= sizeof p)
        return ms_errf(err, errlen, "%s: path too long", dir);
    for (*exists = 1;; *exists = 0) {
        int fd = open(p, DIR_PATH);
        if (fd >= 0)
            return fd;
        if (errno != ENOENT)
            return ms_errf(err, errlen, "%s: %s", p,
                           errno == ENOTDIR ? "not a folder" : strerror(errno));
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
            return ms_errf(err, errlen, "%s: no folder above it exists", dir);
        *slash = '\0';
    }
}

int ms_path_nesting_fd(int afd, const struct stat *ast, const char *b, char *err, size_t errlen)
{
    int exists, fd = nearest(b, &exists, err, errlen);
    struct stat st;
    if (fd < 0)
        return -1;
    int in = within(fd, ast), holds = exists && fstat(fd, &st) == 0 ? within(afd, &st) : 0;
    int why = errno;
    close(fd);
    if (in < 0 || holds < 0)
        return ms_errf(err, errlen, "cannot tell where %s lies: %s", b, strerror(why));
    return in ? MS_PATH_INSIDE : holds ? MS_PATH_HOLDS : MS_PATH_APART;
}

int ms_path_nesting(const char *a, const char *b, char *err, size_t errlen)
{
    struct stat st;
    int afd = open(a, DIR_PATH);
    if (afd < 0 || fstat(afd, &st) != 0) {
        ms_errf(err, errlen, "%s: %s", a, strerror(errno));
        if (afd >= 0)
            close(afd);
        return -1;
    }
    int rc = ms_path_nesting_fd(afd, &st, b, err, errlen);
    close(afd);
    return rc;
}
