/*
 * ms_anchor.h - the folders a task's rsync runs between, opened so that no
 * symbolic link below the roots is ever followed.
 *
 * rsync resolves the paths it is given and follows every symbolic link on
 * the way: `rsync -a SRC/p/ DST/p/` with DST/p a link writes (and with
 * --delete deletes) wherever the link points; with SRC/p swapped for a link
 * after the walk it copies a tree from outside SRC. So the worker opens the
 * task's folders itself, one component at a time with O_NOFOLLOW below the
 * roots (the roots are the operator's and may be links), holds them open,
 * and runs rsync in the source folder (its working directory) into the
 * destination folder by descriptor (/proc/self/fd/N, see ms_pool.c). A swap
 * of any component after that changes nothing: rsync works on the folders
 * that were opened.
 *
 * The task's folder is root/project/sub (root itself for the top task).
 *
 * Source: a component below the root that is missing, a symbolic link or
 * not a folder means the project (or the chunk's folder) is gone since the
 * walk: MS_ANCHOR_VANISHED, and nothing at all is created in the backup.
 *
 * Local destination: the root is created when it is missing (as rsync
 * --mkpath does); below it each component is opened without following a
 * link; a missing one is created; one that is a symbolic link or anything
 * but a folder is removed (never followed) and replaced by a folder, as
 * `rsync -a SRC/ DST/` of the whole tree replaces an entry whose type
 * changed. What was replaced is said in a->note.
 *
 * Verify (MS_TASK_VERIFY): nothing is created or replaced in the backup.
 * The root must exist; below it each component is opened without
 * following a link, and one that is missing, a link or not a folder is a
 * difference, not an error: MS_ANCHOR_MISSING, err naming it from the
 * backup's root ("alpha/: missing from the backup").
 *
 * Dry run (MS_TASK_VERIFY | MS_TASK_DRY_RUN): opened like a verify's, but
 * a folder the backup does not have yet — the root, the snapshot's folder,
 * or a component that is missing, a link or not a folder — is what its
 * copy would make: a->absent, with a->dst -1 (rsync then compares with a
 * path where nothing is, and lists every entry); a link or a file that
 * the copy would replace is said in a->note. Nothing is followed.
 *
 * Snapshot (t->snap set): the task's folders are below DST/SNAP, which
 * must be a real folder (the master made it; a link there is refused,
 * never followed). The same folders in the link snapshot DST/LINK are
 * opened like the source's; a project new since that snapshot has none.
 * A carried-over task (MS_TASK_CARRY) reads its folder in DST/LINK instead
 * of the source (a->src is then that folder), when there is one.
 *
 * Remote destination: nothing there can be opened (dst is -1). rsync then
 * runs in the source root and sends the project as "./PROJECT" with
 * --relative, so that the receiving rsync makes DST/PROJECT itself, as an
 * entry of the transfer: a link there is replaced, not followed. (Remote
 * destinations never get chunks: ms_chunks.c.)
 *
 * Nothing here logs.
 */
#ifndef MS_ANCHOR_H
#define MS_ANCHOR_H

#include <stddef.h>

#include "ms_codec.h"

#define MS_ANCHOR_VANISHED 1
#define MS_ANCHOR_MISSING 2

typedef struct {
    int src_root;   /* the source root (O_PATH) */
    int src;        /* the task's source folder (O_PATH); rsync's working folder
                     * for a local destination */
    int dst;        /* the task's destination folder (O_PATH), or -1: remote */
    int link_root;  /* a snapshot: the link snapshot's folder DST/LINK (O_PATH), or -1 */
    int link;       /* a snapshot: the task's folder in it (O_PATH), or -1: none there */
    int absent;     /* a dry run's folder the backup has not (dst -1, not remote) */
    char note[512]; /* what was replaced in the backup; "" when nothing */
} ms_anchor_t;

/*
 * Open t's folders (t passed ms_rsync_check_task). Returns 0; or
 * MS_ANCHOR_VANISHED with the reason in err (nothing was created); or, for
 * a verify, MS_ANCHOR_MISSING with the difference in err; or -1
 * with err set (a root cannot be opened or made, a folder cannot be
 * replaced, ...). On anything but 0, a holds no descriptor.
 */
int ms_anchor_open(const ms_task_t *t, ms_anchor_t *a, char *err, size_t errlen);

/*
 * A pack of projects (MS_TASK_PACK: t->project and t->items, names in the
 * source root): a->src_root and a->src the source root, where rsync runs;
 * a->dst the destination root (its snapshot's folder; -1 remote), in which
 * each member's folder is made or replaced as above; a->link_root and
 * a->link the link snapshot's root. Every member must be a real folder of
 * the source: MS_ANCHOR_VANISHED names the first that is not (nothing is
 * made then: the master runs the pack's projects one by one).
 */
int ms_anchor_open_pack(const ms_task_t *t, ms_anchor_t *a, char *err, size_t errlen);

/* Close what a holds (safe on a zeroed-and-closed or failed anchor). */
void ms_anchor_close(ms_anchor_t *a);

#endif
