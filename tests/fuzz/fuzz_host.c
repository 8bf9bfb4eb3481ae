/*
 * fuzz_host.c - libFuzzer harness for the host counter parsers: the text of
 * /proc/stat, /proc/diskstats, /proc/net/dev, /proc/meminfo and
 * /proc/loadavg. The kernel writes these, but a parser that trusts them is
 * one kernel change (or one bind-mounted fake /proc) away from a crash. The
 * first byte picks the parser; the rest is the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small array, so that texts with more lines than it holds are common. */
#define FUZZ_CAP 4

static void diskstats(const char *text)
{
    ms_host_disk_t d[FUZZ_CAP];
    size_t n;

    ms_host_parse_diskstats(text, d, FUZZ_CAP, &n);
    for (size_t i = 0; i < n && i < FUZZ_CAP; i++)
        if (strlen(d[i].name) >= MS_HOST_NAME_MAX)
            abort();
}

static void netdev(const char *text)
{
    ms_host_netif_t ifs[FUZZ_CAP];
    size_t n;

    ms_host_parse_netdev(text, ifs, FUZZ_CAP, &n);
    for (size_t i = 0; i < n && i < FUZZ_CAP; i++)
        if (strlen(ifs[i].name) >= MS_HOST_NAME_MAX)
            abort();
}

static void stat_text(const char *text)
{
    static ms_host_stat_t st; /* ~90 KiB: not on the stack */

    ms_host_parse_stat(text, &st);
    if (st.n_cpus > MS_HOST_MAX_CPUS)
        abort();
}

static void meminfo(const char *text)
{
    ms_host_mem_t mem;

    if (ms_host_parse_meminfo(text, &mem) == 0 && mem.available > mem.total)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double load[3];

    if (size < 1)
        return 0;
    char *text = malloc(size); /* NUL-terminated copy of the rest */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        stat_text(text);
        break;
    case 1:
        diskstats(text);
        break;
    case 2:
        netdev(text);
        break;
    case 3:
        meminfo(text);
        break;
    default:
        ms_host_parse_loadavg(text, load);
    }
    free(text);
    return 0;
}
