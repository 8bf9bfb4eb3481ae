#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_err.h"
#include "ms_path.h"

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
