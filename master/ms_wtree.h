/*
 * ms_wtree.h - one project's walk, folder by folder: what the walker's
 * threads share (ms_walk.h). Each folder is read on its own, by any thread:
 * its entries lstat'ed and fingerprinted, its subfolders handed back as
 * more folders to read. A folder is complete when its subfolders are: its
 * sizes and fingerprint are then summed up, and a subtree too small to keep
 * (ms_walk.h) is freed at once, so memory follows the big folders only
 * (and the folders read but not complete yet, as a walk in one thread
 * holds the folders on its path). When the project's folder is complete,
 * the tree becomes an ms_walk_t, the same whatever the threads and the
 * order: nodes in each folder's readdir order, parents before children,
 * each subtree right after its folder; lists in the order their folders
 * complete in one thread, each sorted.
 *
 * Threads may read different folders of one tree at the same time; the
 * caller keeps the folders to read (ms_wdir_push/pop: a stack that links
 * the folders themselves, so keeping one never fails) and never gives one
 * folder twice. The tree owns its folders, read or not.
 */
#ifndef MS_WTREE_H
#define MS_WTREE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_walk.h"

typedef struct ms_wtree ms_wtree_t;
typedef struct ms_wdir ms_wdir_t; /* a folder to read; the tree owns it */

/* The walk of source/project, whose first folder to read is *root (the
 * project's own). NULL when out of memory. */
ms_wtree_t *ms_wtree_new(const char *source, const char *project, uint64_t task_id,
                         uint64_t keep_min, ms_wdir_t **root);

/* The tree folder d belongs to. */
ms_wtree_t *ms_wdir_tree(const ms_wdir_t *d);

/* The task id the tree's walk will carry. */
uint64_t ms_wtree_task_id(const ms_wtree_t *t);

/*
 * Read folder d. Its subfolders, to read next, are in *subs (a chain:
 * push it with ms_wdir_push), or NULL. Returns 1 when reading d completed
 * the project (call ms_wtree_finish), 0 otherwise, or -1 when stop became
 * non-zero (d is left unread; destroy its tree once no thread reads it).
 * Out of memory, the walk goes on and ends in a NULL walk.
 */
int ms_wtree_read(ms_wdir_t *d, const atomic_int *stop, ms_wdir_t **subs);

/* Put the chain subs (from ms_wtree_read) on top of *stack. */
void ms_wdir_push(ms_wdir_t **stack, ms_wdir_t *subs);

/* Take the folder on top of *stack; NULL when it is empty. */
ms_wdir_t *ms_wdir_pop(ms_wdir_t **stack);

/* The walk of a completed tree (NULL when memory ran out); frees the tree
 * and sets *t NULL. */
ms_walk_t *ms_wtree_finish(ms_wtree_t **t);

/* Free a tree, complete or not, once no thread reads it; a stack that
 * holds its folders must be dropped too. NULL-safe; sets *t NULL. */
void ms_wtree_destroy(ms_wtree_t **t);

#endif
