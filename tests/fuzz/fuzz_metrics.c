/*
 * fuzz_metrics.c - libFuzzer harness for the metrics writer: any bytes
 * read as JSON (NULs in strings allowed), split into a status and a
 * history, through ms_metrics_text. What it makes must be whole lines,
 * each a comment or a sample: a name that broke a line would let a peer
 * forge samples.
 *
 * The split: {"status": S, "history": H} gives S and H; [S, H] too; any
 * other document is given as both (each reader skips what it does not
 * know).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lines(const char *text, size_t len)
{
    if (strlen(text) != len || (len > 0 && text[len - 1] != '\n'))
        abort();
    for (const char *p = text; *p; p = strchr(p, '\n') + 1)
        if (*p != '#' && strncmp(p, "multisync_", 10) != 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    size_t len;
    json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!root)
        return 0;
    const json_t *status = root, *history = root;
    if (json_is_object(root) && json_object_get(root, "status")) {
        status = json_object_get(root, "status");
        history = json_object_get(root, "history");
    } else if (json_is_array(root) && json_array_size(root) == 2) {
        status = json_array_get(root, 0);
        history = json_array_get(root, 1);
    }
    char *text = ms_metrics_text(status, history, &len, err, sizeof err);
    if (text)
        check_lines(text, len);
    free(text);
    json_decref(root);
    return 0;
}
