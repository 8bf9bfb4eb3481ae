#include "ms_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"

int ms_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* "DIR/.BASE.XXXXXX" for path DIR/BASE; -1 when too long. */
static int temp_name(const char *path, char *out, size_t outlen)
{
    char d[PATH_MAX], b[PATH_MAX];
    if (snprintf(d, sizeof d, "%s", path) >= (int)sizeof d ||
        snprintf(b, sizeof b, "%s", path) >= (int)sizeof b)
        return -1;
    int n = snprintf(out, outlen, "%s/.%s.XXXXXX", dirname(d), basename(b));
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int ms_file_replace(const char *path, const char *text, size_t len, mode_t mode, char *err,
                    size_t errlen)
{
    char tmp[PATH_MAX];
    if (temp_name(path, tmp, sizeof tmp) != 0)
        return ms_errf(err, errlen, "cannot write %s: path too long", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int rc = fd >= 0 && fchmod(fd, mode) == 0 && ms_write_all(fd, text, len) == 0 && fsync(fd) == 0
                 ? 0
                 : -1;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -1, saved = errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1, saved = errno;
    if (rc != 0 && fd >= 0)
        unlink(tmp);
    return rc == 0 ? 0 : ms_errf(err, errlen, "cannot write %s: %s", path, strerror(saved));
}
