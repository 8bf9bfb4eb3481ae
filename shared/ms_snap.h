/*
 * ms_snap.h - a snapshot destination on disk: the folders of point-in-time
 * backups, their names, `latest`, and what a run leaves about each.
 *
 *   DST/2026-12-06T021500Z/alpha/...   a complete snapshot (its UTC time)
 *   DST/2026-12-07T021500Z.partial/    a snapshot being written, or left by
 *                                      a run that failed or was killed
 *   DST/2026-11-01T021500Z.pruning/    a snapshot being removed (retention)
 *   DST/latest -> 2026-12-06T021500Z   relative symlink to the newest complete
 *   DST/.multisync/2026-12-06T021500Z.json   what the run that wrote it did
 *   DST/.multisync.lock                one run per destination (ms_lock.h)
 *
 * A snapshot destination holds nothing else (lost+found aside): a mirror
 * and snapshots never share one, because a mirror's run deletes what its
 * source does not have. Every function works on a descriptor of DST and
 * never follows a symbolic link below it. Nothing here logs.
 */
#ifndef MS_SNAP_H
#define MS_SNAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define MS_SNAP_LATEST "latest"
#define MS_SNAP_META ".multisync"
#define MS_SNAP_PARTIAL ".partial"
#define MS_SNAP_PRUNING ".pruning"
#define MS_SNAP_NAME_MAX 32 /* a folder name with its suffix, and its NUL */

typedef enum { MS_SNAP_COMPLETE, MS_SNAP_PARTIAL_KIND, MS_SNAP_PRUNING_KIND } ms_snap_kind_t;

typedef struct {
    char name[MS_SNAP_NAME_MAX]; /* the folder's name in DST */
    time_t time;
    ms_snap_kind_t kind;
    int latest; /* `latest` points at it */
} ms_snap_t;

/* "2026-12-07T021500Z" for t (UTC) into out (at least 19 bytes). */
void ms_snap_format(time_t t, char *out, size_t outlen);

/* Whether a folder name is a snapshot's: its time and kind. 0, or -1. */
int ms_snap_parse(const char *name, time_t *t, ms_snap_kind_t *kind);

/* The snapshots in DST (dir: a descriptor of it), oldest first, into *out
 * (malloc'd; free it), *n of them. 0, or -1 with err. */
int ms_snap_list(int dir, ms_snap_t **out, size_t *n, char *err, size_t errlen);

/* The newest of kind among s[0..n-1] (sorted, as ms_snap_list gives), or
 * NULL. */
const ms_snap_t *ms_snap_newest(const ms_snap_t *s, size_t n, ms_snap_kind_t kind);

/* The complete snapshot want names ("NAME", or NULL or "latest": the one
 * `latest` points at) into out. 0, or -1 with err saying what there is. */
int ms_snap_resolve(int dir, const char *want, char *out, size_t outlen, char *err, size_t errlen);

/* What `multisync snapshots` shows, oldest first: [{"name", "state"
 * ("complete", "partial", "pruning"), "time" (RFC 3339), "latest",
 * "projects" (its folders), and from its run's notes when there are some:
 * "run_id", "files", "bytes_total", "bytes_transferred"}]. NULL with err. */
json_t *ms_snap_describe(int dir, char *err, size_t errlen);

/* An entry of DST that has no place in a snapshot destination: its name in
 * out and 1; 0 when there is none; -1 with err. */
int ms_snap_foreign(int dir, char *out, size_t outlen, char *err, size_t errlen);

/* Whether DST holds snapshots (a snapshot folder or `latest`): 1, 0; -1. */
int ms_snap_present(int dir, char *err, size_t errlen);

/* Point `latest` at name, atomically: a new link, renamed over the old
 * one, and DST synced. 0, or -1 with err. */
int ms_snap_set_latest(int dir, const char *name, char *err, size_t errlen);

/* Rename folder from to to in DST (never replacing an entry) and sync DST.
 * 0, or -1 with err. */
int ms_snap_rename(int dir, const char *from, const char *to, char *err, size_t errlen);

/* Write text as DST/.multisync/NAME.json (the folder made when missing),
 * through a temporary file and a rename. 0, or -1 with err. */
int ms_snap_write_meta(int dir, const char *name, const char *text, char *err, size_t errlen);

/* A reader's hold on complete snapshot name (a restore or a verify reads
 * it): a shared flock on DST/.multisync/NAME.readers, released when the
 * descriptor it returns is closed (or the process dies). -1 when it cannot
 * be taken (a destination this process may not write): the reader goes on
 * without. */
int ms_snap_hold(int dir, const char *name);

/* Whether a reader holds name now (retention then keeps it this time). */
int ms_snap_held(int dir, const char *name);

/* That file's text (malloc'd), or NULL when there is none or it cannot be
 * read. */
char *ms_snap_read_meta(int dir, const char *name);

/* Remove the tree at name in folder dir, never following a symbolic link:
 * every entry is unlinked by its folder's descriptor (unlinkat), never by
 * a path. *removed (when not NULL) counts the entries removed. A tree that
 * is not there is no error. 0, or -1 with err (what is left stays). */
int ms_snap_rmtree(int dir, const char *name, uint64_t *removed, char *err, size_t errlen);

#endif
