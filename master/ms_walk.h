/*
 * ms_walk.h - walk the projects' trees in threads of their own, while the
 * master's loop goes on, and hand each project's sizes back as soon as its
 * walk ends: the master splits big projects into chunks (ms_split.h) and
 * starts the small ones before the whole source has been walked.
 *
 * The threads share the work by folder (ms_wtree.h), not by project: one
 * huge project is walked by all of them, and a thread with nothing left of
 * the projects under way starts the next one. A walk is the same whatever
 * the number of threads and the order they read folders in.
 *
 * What a walk keeps of a tree: the project's total bytes (regular files'
 * sizes) and entries, whether a regular file has more than one link (such
 * a project is never split, so that rsync -H would see every link), and a
 * node per folder whose size reaches keep_min, with its entries: folders,
 * and files too when the folder's own files reach keep_min and are at most
 * MS_WALK_MAX_FILES. A folder with more entries than that, and big enough,
 * keeps them instead as a name list, sorted, each with its size (a chunk of
 * such a folder is a range of names, ms_split.h). Nothing smaller is kept,
 * so a tree of millions of small files costs memory only for its big
 * folders.
 *
 * It also fingerprints every entry (ms_fp.h: its path relative to the
 * project's folder, "sub/dir/file", its lstat and a link's target) and adds
 * them up: the project's, each node's subtree and each listed entry's. Two
 * walks of a tree that `rsync -a` would find nothing to copy in give the
 * same fingerprints; an atime is not part of them.
 *
 * The walk never follows a symbolic link. Like rsync -a it goes on below
 * mount points, so the sizes count what rsync will copy. A folder it cannot
 * read makes the project "incomplete" and "unread": its sizes are a lower
 * bound, its fingerprint misses what was not read, and it is not split.
 */
#ifndef MS_WALK_H
#define MS_WALK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_fp.h"

#define MS_WALK_MAX_FILES 4096    /* file entries kept per folder as nodes */
#define MS_WALK_MAX_LIST 2000000  /* entries of one folder kept as a name list */
#define MS_WALK_MAX_NODES 1000000 /* per project: beyond, it is not split */

typedef struct {
    char *name;      /* one path component; "" for the project itself */
    uint32_t parent; /* its folder's index; the project's own is 0 */
    uint8_t is_dir;  /* a real folder (not a link to one) */
    uint8_t kept;    /* a folder whose entries are kept as nodes */
    uint64_t bytes;  /* regular files' sizes, the whole subtree */
    uint64_t files;  /* entries, the whole subtree, itself included */
    ms_fp_t fp;      /* the whole subtree's fingerprint, itself included */
} ms_wnode_t;

typedef struct {
    char *name;     /* one path component */
    uint64_t bytes; /* its size; a folder's: its whole subtree */
    uint64_t files; /* 1; a folder's: its entries, itself included */
    ms_fp_t fp;     /* its fingerprint; a folder's: its whole subtree's */
} ms_wentry_t;

typedef struct {
    size_t node;    /* the folder */
    ms_wentry_t *e; /* its entries, by name (byte order) */
    size_t n;
} ms_wlist_t;

typedef struct ms_walk {
    uint64_t task_id;
    uint64_t bytes, files; /* the whole project */
    ms_fp_t fp;            /* the whole project's fingerprint, its own folder included */
    int hardlinks;         /* two paths in the project are one regular file */
    int incomplete;        /* some folder could not be read, or too many nodes */
    int unread;            /* some folder, entry or link could not be read: fp misses it */
    ms_wnode_t *nodes;     /* nodes[0] is the project; parents come before children */
    size_t n_nodes;
    ms_wlist_t *lists; /* folders with too many entries for nodes */
    size_t n_lists;
} ms_walk_t;

typedef struct ms_walker ms_walker_t;

/* Walk one project tree now, in this thread.
 * Returns NULL when out of memory or stop became non-zero. A project that
 * cannot be opened gives an incomplete walk of size 0. */
ms_walk_t *ms_walk_project(const char *source, const char *project, uint64_t task_id,
                           uint64_t keep_min, const atomic_int *stop);
void ms_walk_free(ms_walk_t **w);

/* The walk's threads when not told: the cores online, at most 8. */
unsigned ms_walk_threads_default(void);

/*
 * Start walking source/projects[i] (task ids ids[i]), started in this order,
 * in threads new threads (0: ms_walk_threads_default()). Walks are handed
 * over as they end, not in this order. Names are copied. Returns NULL with
 * err set on failure.
 */
ms_walker_t *ms_walker_start(const char *source, char *const *projects, const uint64_t *ids,
                             size_t n, uint64_t keep_min, unsigned threads, char *err,
                             size_t errlen);

/* A file descriptor that polls readable while walks are waiting. */
int ms_walker_fd(const ms_walker_t *wk);

/* Take the walks finished so far (an array the caller frees, with each walk);
 * *n is their number, *done is set once every project was handed over. */
ms_walk_t **ms_walker_take(ms_walker_t *wk, size_t *n, int *done);

/* Stop the walk (if it still goes on), join the thread, free everything. */
void ms_walker_stop(ms_walker_t **wk);

#endif
