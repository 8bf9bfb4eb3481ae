/*
 * metrics - the Prometheus text ms_metrics_text makes of a status and a
 * history, as the CLI prints them, on stdout: what a master's /metrics
 * serves, for tests that check it with promtool.
 *
 *   metrics STATUS.json [HISTORY.json]      ("-" for none: no status)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_metrics.h"

static json_t *load(const char *path)
{
    json_error_t jerr;
    if (strcmp(path, "-") == 0)
        return NULL;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) {
        fprintf(stderr, "metrics: %s: %s (line %d)\n", path, jerr.text, jerr.line);
        exit(2);
    }
    return j;
}

int main(int argc, char **argv)
{
    char err[256];
    size_t len;
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: metrics STATUS.json [HISTORY.json]\n");
        return 2;
    }
    json_t *status = load(argv[1]), *history = argc == 3 ? load(argv[2]) : NULL;
    char *text = ms_metrics_text(status, history, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "metrics: %s\n", err);
        return 1;
    }
    int rc = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
    free(text);
    json_decref(status);
    json_decref(history);
    return rc;
}
