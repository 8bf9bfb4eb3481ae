/*
 * ms_embedded.h - `multisync run SRC DST` on one machine: an embedded master
 * and one local worker process, talking ZeroMQ over an ipc:// endpoint in a
 * private 0700 directory that is removed afterwards.
 */
#ifndef MS_EMBEDDED_H
#define MS_EMBEDDED_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
    const char *source;        /* absolute */
    const char *dest;          /* absolute path or rsync remote */
    unsigned slots;            /* 0: number of cores */
    const char *rsync;         /* NULL: rsync */
    char *const *rsync_opts;
    size_t n_rsync_opts;
    int verbose;               /* show the daemons' info logs */
} ms_embedded_opts_t;

/*
 * Run the backup. Returns the report (new reference), which may describe a
 * run cut short by a signal (its status is then not "ok"), or NULL with err
 * set when the run could not start (bad source, worker would not start...).
 */
json_t *ms_embedded_run(const ms_embedded_opts_t *o, char *err, size_t errlen);

#endif
