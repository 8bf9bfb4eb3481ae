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
