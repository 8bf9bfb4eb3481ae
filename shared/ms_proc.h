/*
 * ms_proc.h - counters read from /proc.
 */
#ifndef MS_PROC_H
#define MS_PROC_H

#include <stdint.h>
#include <sys/types.h>

typedef struct {
    uint64_t rchar, wchar;            /* bytes passed to read/write calls */
    uint64_t read_bytes, write_bytes; /* bytes that hit the storage layer */
} ms_proc_io_t;

/*
 * Read /proc/<pid>/io. For a zombie that has not been reaped yet (see
 * waitid(..., WNOWAIT)) the figures include the children it reaped itself.
 * Returns 0, or -1 with errno set.
 */
int ms_proc_read_io(pid_t pid, ms_proc_io_t *out);

/* Parse the text of a /proc/<pid>/io file. Returns 0, or -1 (EINVAL). */
int ms_proc_parse_io(const char *text, ms_proc_io_t *out);

#endif
