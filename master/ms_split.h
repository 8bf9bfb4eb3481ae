/*
 * ms_split.h - how a big project is cut into chunks, the way fpart
 * partitions a tree: by folders where they balance, else by the entries of
 * a folder (its subfolders and, when it keeps them, its big files), packed
 * into chunks of about the target cost. A folder with very many entries is
 * cut by ranges of names instead, each written as rsync patterns ("IMG_0"
 * then a bracket of next bytes, then '*'), so that neither the chunk nor
 * the rest needs a list of files. What no chunk takes stays with the
 * project's rest (see ms_run.h).
 *
 * Cost is rsync's work in bytes: a file's size plus MS_FILE_COST per entry,
 * so that a tree of many small files weighs what it takes to copy, and
 * a run with nothing to copy still balances.
 */
#ifndef MS_SPLIT_H
#define MS_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "ms_walk.h"

#define MS_FILE_COST 16384.0 /* an entry costs rsync about as much as 16 KiB of data */
#define MS_SPLIT_MIN_CHUNK (32.0 * 1024 * 1024) /* smaller is not worth an rsync of its own */
#define MS_SPLIT_MAX_CHUNKS 1024                /* per project */
#define MS_SPLIT_CHUNK_ITEMS 256                /* entries per chunk */
#define MS_SPLIT_CHUNK_NAMES 65536              /* bytes of entry names per chunk (rsync's argv) */
#define MS_SPLIT_MAX_SUB 3000                   /* a chunk's folder path, bytes */

static inline double ms_split_cost(uint64_t bytes, uint64_t files)
{
    return (double)bytes + (double)files * MS_FILE_COST;
}

#define MS_SPLIT_CHUNK_PATTERNS 64 /* name-range patterns per chunk */
#define MS_SPLIT_REST_BYTES                                                                        \
    (1024 * 1024) /* the rest's exclusions, in all: its TASK                                       \
                   * must fit a frame (MS_MAX_FRAME_BYTES) */
#define MS_SPLIT_MAX_DEPTH                                                                         \
    240 /* name bytes a range goes into: patterns stay                                             \
         * under 2 * NAME_MAX bytes, escapes included */

typedef struct {
    char *sub;    /* folder relative to the project, "" for the project */
    char **items; /* entries of sub */
    uint32_t n_items;
    char **match; /* or: rsync patterns of entries of sub (name ranges) */
    uint32_t n_match;
    double cost;
    ms_fp_t fp; /* its entries' fingerprints, summed (ms_fp.h) */
} ms_chunk_t;

typedef struct {
    ms_chunk_t *chunks;
    size_t n;
    uint32_t n_items;  /* over all chunks: the rest's exclusions */
    uint32_t n_match;  /* over all chunks: the rest's pattern exclusions */
    size_t rest_bytes; /* the bytes of all those exclusions */
    double rest_cost;  /* what stays with the rest */
    ms_fp_t rest_fp;   /* the project's fingerprint less the chunks' */
} ms_plan_t;

/* s with each of * ? [ \ preceded by a backslash, for an rsync pattern that
 * holds a wildcard (malloc'd; NULL when out of memory). */
char *ms_split_escape(const char *s);

/*
 * Cut the walked project w into chunks of about target cost (none below
 * min_chunk). A project with hard links or an incomplete walk is never cut.
 * out->n is 0 when it is best left whole. Returns 0, or -1 when out of
 * memory (out is then empty).
 */
int ms_split_plan(const ms_walk_t *w, double target, double min_chunk, ms_plan_t *out);
void ms_split_free(ms_plan_t *p);

/* "sub/item", or item when sub is "" (malloc'd; NULL when out of memory). */
char *ms_split_join(const char *sub, const char *item);

#endif
