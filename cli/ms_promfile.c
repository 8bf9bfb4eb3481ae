#include "ms_promfile.h"

#include <limits.h>
#include <stdlib.h>

#include "ms_err.h"
#include "ms_file.h"
#include "ms_metrics.h"

int ms_promfile_write(const char *path, const json_t *status, const json_t *history, char *err,
                      size_t errlen)
{
    char merr[256];
    size_t len;
    char *text = ms_metrics_text(status, history, &len, merr, sizeof merr);
    if (!text)
        return ms_errf(err, errlen, "metrics file %s: %s", path, merr);
    char why[PATH_MAX + 256];
    int rc = ms_file_replace(path, text, len, 0644, why, sizeof why);
    if (rc != 0)
        ms_errf(err, errlen, "metrics file: %s", why);
    free(text);
    return rc;
}
