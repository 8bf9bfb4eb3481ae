/*
 * fuzz_text.c - libFuzzer harness for the text parsers: rsync's --stats
 * output and stderr tail (bytes a child program writes), /proc/<pid>/io, and
 * config files (bytes an operator writes). The first byte picks the parser.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ms_config.h"
#include "ms_proc.h"
#include "ms_rsync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void config(const uint8_t *data, size_t size)
{
    char path[64], err[512];
    int fd = memfd_create("fuzz-config", 0);
    if (fd < 0)
        return;
    if (write(fd, data, size) == (ssize_t)size) {
        ms_config_t cfg = {0};
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ms_config_load(&cfg, path, err, sizeof err);
        ms_config_free(&cfg);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size); /* NUL-terminated copy of the rest */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: {
        ms_rsync_stats_t st;
        char tail[256];
        ms_rsync_parse_stats(text, size - 1, &st);
        ms_rsync_error_tail(text, size - 1, tail, sizeof tail);
        break;
    }
    case 1: {
        ms_proc_io_t io;
        ms_proc_parse_io(text, &io);
        break;
    }
    default:
        config(data + 1, size - 1);
    }
    free(text);
    return 0;
}
