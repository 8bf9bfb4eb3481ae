/*
 * ms_restore.h - the master's side of a restore (`multisync restore`): a
 * run that copies one project of a backup, or one path in it, back into a
 * folder DIR.
 *
 * The backup is a folder DST the master sees: a snapshot destination
 * (ms_snap.h), whose restore reads the complete snapshot DST/NAME (the one
 * `latest` points at unless another is named), or a mirror, whose restore
 * reads DST itself (naming a snapshot is then an error). The run's source
 * root is that folder and its destination DIR, so the layout is kept:
 *
 *   PROJECT        -> DIR/PROJECT/...   the project's task, walked like any
 *                                       project and split when big: its
 *                                       chunks run side by side
 *   PROJECT/PATH   -> DIR/PROJECT/PATH  one task shaped as a chunk: sub =
 *                                       PATH's folder, items = {its name};
 *                                       a file, a link or a whole folder
 *
 * No other project, and no top task: the backup root's own files and
 * attributes are not restored. Nothing is deleted, in DIR or elsewhere,
 * and nothing is ever written below DST: DIR may be neither inside DST nor
 * hold it. That is decided by device and inode, walking up from each to /,
 * so a link to DST or a bind mount of it is seen too. DIR is made when
 * missing and must be empty (the run's lock file aside) unless forced.
 *
 * Nothing here sees the master or logs; errors come back in err.
 */
#ifndef MS_RESTORE_H
#define MS_RESTORE_H

#include <stddef.h>

#include "ms_run.h"

/* What a restore copies, and from where. Strings are malloc'd. */
typedef struct {
    char *source;   /* the run's source root: DST/NAME, or DST for a mirror */
    char *snapshot; /* NAME; NULL for a mirror */
    char *project;  /* the project's folder in the source root */
    char *sub;      /* a path: its folder in the project ("": the project's own
                     * entry); NULL for the whole project */
    char *item;     /* a path: its last name; NULL for the whole project */
} ms_restore_t;

/*
 * Split "PROJECT" or "PROJECT/PATH" (trailing slashes dropped) into rs's
 * project, sub and item. Every part must be a name (ms_path_check_relpath:
 * no "", "." or ".."). Returns 0, or -1 with err set (rs then holds
 * nothing).
 */
int ms_restore_split(const char *path, ms_restore_t *rs, char *err, size_t errlen);

/*
 * Where a restore of path from backup (a local folder; snapshot: "NAME",
 * "latest" or NULL) reads: rs filled (source, snapshot, and the split
 * path). PROJECT must be a folder of the source root, and PATH an entry of
 * it reached through folders, never through a symbolic link. Returns 0,
 * or -1 with err saying what is missing (rs then holds nothing).
 */
int ms_restore_resolve(const char *backup, const char *snapshot, const char *path, ms_restore_t *rs,
                       char *err, size_t errlen);

/* Free what rs holds. NULL-safe, idempotent. */
void ms_restore_free(ms_restore_t *rs);

/* Add rs's task to r (no top task): the project SCANNING (the planner
 * walks it), or the path's task QUEUED. 0, or -1 on out of memory. */
int ms_restore_add_tasks(ms_runrec_t *r, const ms_restore_t *rs);

/*
 * Ready DIR (an absolute path with no "." or ".." part) to take a restore
 * from backup: refused when it is, or would be made, inside backup, or
 * when backup is inside it; made when missing, then checked again. The
 * run's lock comes next (DIR/MS_DEST_LOCK). Returns 0, or -1 with err.
 */
int ms_restore_target(const char *backup, const char *dir, char *err, size_t errlen);

/* DIR holds nothing but its lock file (or force): 0; else -1 with err
 * naming an entry it holds. */
int ms_restore_check_empty(const char *dir, int force, char *err, size_t errlen);

/*
 * path as an absolute path without "." or ".." parts, for a folder that
 * may not exist yet: the longest part of it that exists is resolved
 * (realpath: links followed, as mkdir -p would), the rest appended, each
 * part of it a name; a relative path is taken from the working folder.
 * Returns 0, or -1 with err set.
 */
int ms_restore_abspath(const char *path, char *out, size_t outlen, char *err, size_t errlen);

#endif
