/*
 * fuzz_argv.c - libFuzzer harness for the hooks' command lines (bytes an
 * operator writes in master.ini): any line splits or is refused, never
 * crashes; a line that splits, quoted back as the log shows it, splits
 * into the same words.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_argv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256], *line = malloc(size + 1), *quoted = malloc(4 * size + 64);
    ms_strv_t words = MS_STRV_INIT, again = MS_STRV_INIT;
    if (!line || !quoted)
        goto out;
    memcpy(line, data, size);
    line[size] = '\0'; /* a config value is a C string: it ends at a NUL */
    if (ms_argv_split(line, &words, err, sizeof err) != 0 || words.n == 0)
        goto out;
    ms_argv_quote(words.v, quoted, 4 * size + 64);
    if (ms_argv_split(quoted, &again, err, sizeof err) != 0 || again.n != words.n)
        abort();
    for (size_t i = 0; i < words.n; i++)
        if (strcmp(words.v[i], again.v[i]) != 0)
            abort();
out:
    ms_strv_clear(&words);
    ms_strv_clear(&again);
    free(line);
    free(quoted);
    return 0;
}
