#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_err.h"
#include "ms_path.h"
#include "ms_proto.h"

int ms_path_is_remote(const char *dest)
{
    return strncmp(dest, "rsync://", 8) == 0 || dest[strcspn(dest, ":/")] == ':';
}

int ms_path_mkdirs(const char *root, char *err, size_t errlen)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof path, "%s", root) >= sizeof path)
        return ms_errf(err, errlen, "destination %s: path too long", root);
    for (char *p = path + 1;; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return ms_errf(err, errlen, "cannot create destination %s: %s", path, strerror(errno));
        *p = c;
        if (c == '\0')
            return 0;
    }
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
