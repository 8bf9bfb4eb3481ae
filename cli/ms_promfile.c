#include "ms_promfile.h"

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
#include "ms_metrics.h"

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

/* All of text into fd; 0, or -1 with errno. */
static int write_all(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

int ms_promfile_write(const char *path, const json_t *status, const json_t *history, char *err,
                      size_t errlen)
{
    char tmp[PATH_MAX], merr[256];
    size_t len;
    if (temp_name(path, tmp, sizeof tmp) != 0)
        return ms_errf(err, errlen, "metrics file %s: path too long", path);
    char *text = ms_metrics_text(status, history, &len, merr, sizeof merr);
    if (!text)
        return ms_errf(err, errlen, "metrics file %s: %s", path, merr);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int rc = fd >= 0 && fchmod(fd, 0644) == 0 && write_all(fd, text, len) == 0 ? 0 : -1;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -1, saved = errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1, saved = errno;
    if (rc != 0 && fd >= 0)
        unlink(tmp);
    free(text);
    return rc == 0
               ? 0
               : ms_errf(err, errlen, "cannot write metrics file %s: %s", path, strerror(saved));
}
