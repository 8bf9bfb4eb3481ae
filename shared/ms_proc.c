/*
 * ms_proc.c - counters read from /proc.
 */
#include "ms_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS_PROC_IO_MAX 4096 /* the file is ~200 bytes */

enum { IO_RCHAR = 1, IO_WCHAR = 2, IO_READ = 4, IO_WRITE = 8, IO_ALL = 15 };

/* Parse the decimal value after "key:" up to the end of line. */
static bool parse_value(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || (*end != '\n' && *end != '\0'))
        return false;
    *out = v;
    return true;
}

/* Store one "key: value" line; returns the IO_* bit it filled, 0 for an
 * unknown key, -1 for a known key with a bad value. */
static int parse_line(const char *line, ms_proc_io_t *out)
{
    static const struct {
        const char *key;
        size_t off;
        int bit;
    } keys[] = {
        {"rchar:", offsetof(ms_proc_io_t, rchar), IO_RCHAR},
        {"wchar:", offsetof(ms_proc_io_t, wchar), IO_WCHAR},
        {"read_bytes:", offsetof(ms_proc_io_t, read_bytes), IO_READ},
        {"write_bytes:", offsetof(ms_proc_io_t, write_bytes), IO_WRITE},
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t klen = strlen(keys[i].key);

        if (strncmp(line, keys[i].key, klen) != 0)
            continue;
        if (!parse_value(line + klen, (uint64_t *)((char *)out + keys[i].off)))
            return -1;
        return keys[i].bit;
    }
    return 0;
}

int ms_proc_parse_io(const char *text, ms_proc_io_t *out)
{
    ms_proc_io_t io = {0};
    int seen = 0;

    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        int bit = parse_line(line, &io);

        if (bit < 0)
            break;
        seen |= bit;
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (seen != IO_ALL) {
        errno = EINVAL;
        return -1;
    }
    *out = io;
    return 0;
}

/* Read the whole (small) file into buf, NUL-terminated. */
static int read_small(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            close(fd);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
    return 0;
}

int ms_proc_read_io(pid_t pid, ms_proc_io_t *out)
{
    char path[64], buf[MS_PROC_IO_MAX];

    snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
    if (read_small(path, buf, sizeof(buf)) < 0)
        return -1;
    return ms_proc_parse_io(buf, out);
}
