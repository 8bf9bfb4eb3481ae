/*
 * ms_promfile.h - `multisync run --metrics-file FILE.prom`: the metrics of
 * ms_metrics.h in a file, for node_exporter's textfile collector, which
 * may read it at any moment: each write goes to a temporary file in the
 * same folder, named ".FILE.prom.XXXXXX" (hidden, and not *.prom: the
 * collector reads only those), made 0644 and renamed over FILE, so a
 * reader sees the old text or the new one, never a part.
 */
#ifndef MS_PROMFILE_H
#define MS_PROMFILE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Write the metrics of status and history (ms_metrics_text) to path as
 * above (ms_file_replace). Returns 0, or -1 with err naming the file (the
 * temporary file is removed).
 */
int ms_promfile_write(const char *path, const json_t *status, const json_t *history, char *err,
                      size_t errlen);

#endif
