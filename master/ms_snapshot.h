/*
 * ms_snapshot.h - the master's side of a snapshot run: its folder in the
 * destination at the start, and at the end the switch to it.
 *
 * The destination must be a folder the master and the workers see at the
 * same path (a local disk, or a shared mount): the master makes the
 * snapshot's folder, renames it and switches `latest`; the workers write
 * below it. An rsync-remote destination is refused.
 *
 * Begin: a destination holding anything but snapshots (a mirror) is
 * refused. The newest unfinished snapshot (NAME.partial, left by a run that
 * failed or was killed) is taken over: renamed to this run's time and
 * written on, so what it holds is not copied again; else a new folder is
 * made. Either way its tasks link to the newest complete snapshot.
 *
 * Complete (every task succeeded): NAME.partial becomes NAME, `latest`
 * points at it, and DST/.multisync/NAME.json keeps the run's totals.
 *
 * Nothing here sees the master; errors come back in err.
 */
#ifndef MS_SNAPSHOT_H
#define MS_SNAPSHOT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "ms_keep.h"
#include "ms_run.h"

/* Begin r's snapshot at time now: r->snap set (name, link, keep). The
 * destination is made when missing. 0, or -1 with err. */
int ms_snapshot_begin(ms_runrec_t *r, time_t now, const ms_keep_t *keep, char *err, size_t errlen);

/* A mirror run's local destination must hold no snapshots (its --delete
 * would remove them): 0, or -1 with err. A missing one is fine. */
int ms_snapshot_check_mirror(const char *dest, char *err, size_t errlen);

/*
 * A verify run r (`multisync verify`): which backup it compares with. A
 * destination holding snapshots is compared in its complete snapshot want
 * names ("NAME", or NULL or "latest": where `latest` points): r->snap set
 * to it, complete, linking to nothing. A mirror is compared as it is (no
 * r->snap), and want is then an error. A destination that is missing or
 * that the master cannot see is refused (a verify must know which it is),
 * but for an rsync remote, which is a mirror. Nothing is written. 0, or -1
 * with err.
 */
int ms_snapshot_verify(ms_runrec_t *r, const char *want, char *err, size_t errlen);

/*
 * A dry run r (`multisync run -n`): what its backup would compare with,
 * writing nothing. A snapshot run's (MS_RUN_SNAPSHOT) is the newest
 * complete snapshot (r->snap, complete: the folder its new one would link
 * to), or, in a destination with none (or no destination yet), the name
 * the new one would take (r->snap, not complete: a folder that is not
 * there, so everything would be copied). A destination holding anything but
 * snapshots, or an rsync remote, is refused as the run would refuse it. A
 * mirror's (no r->snap) is refused when it holds snapshots; a missing one
 * is fine. 0, or -1 with err.
 */
int ms_snapshot_dry_run(ms_runrec_t *r, time_t now, char *err, size_t errlen);

/* Complete r's snapshot; notes: what DST/.multisync/NAME.json keeps (JSON
 * text). Sets r->snap->complete, or r->snap->error and returns -1. */
int ms_snapshot_complete(ms_runrec_t *r, const char *notes, char *err, size_t errlen);

/*
 * Retention, once r's snapshot is complete: the complete snapshots its keep
 * rules do not keep (ms_keep.h; never r's own, never a partial one) are
 * renamed NAME.pruning, and with them any NAME.pruning an earlier run left.
 * Each folder of each such snapshot is handed to add(arg, "NAME.pruning",
 * FOLDER): the caller makes it a removal task for the workers
 * (MS_TASK_REMOVE); add returns 0, or -1 when it could not (the snapshot is
 * then left to the next run). A snapshot's last removal, of what is left
 * of it once its folders are gone (loose files, the folder itself), is
 * add(arg, "NAME.pruning", ""): handed out here for a snapshot without
 * folders, by the caller once the others succeeded. Returns how many
 * removals were handed out, or -1 with err. The removals are the workers':
 * the master (another user, read-only elsewhere) removes nothing itself.
 */
typedef int (*ms_snapshot_add_fn)(void *arg, const char *folder, const char *project);
int ms_snapshot_retain(ms_runrec_t *r, ms_snapshot_add_fn add, void *arg, char *err, size_t errlen);

/* The last removal of folder ("NAME.pruning") succeeded: NAME is pushed
 * to r->snap->pruned. 0, or -1 on out of memory. */
int ms_snapshot_pruned(ms_runrec_t *r, const char *folder);

/* A reader's hold on snapshot name of backup (ms_snap_hold): retention
 * keeps it while the descriptor is open. -1: none could be taken. */
int ms_snapshot_hold(const char *backup, const char *name);

/* The folder r's tasks write in: "NAME.partial" (out: MS_SNAP_NAME_MAX). */
void ms_snapshot_folder(const ms_runrec_t *r, char *out, size_t outlen);

/* The snapshots in the local folder dest, as ms_snap_describe lists them
 * (`multisync snapshots`): a new reference, an empty array when it holds
 * none; NULL with err when dest is remote, missing or unreadable. */
json_t *ms_snapshot_list(const char *dest, char *err, size_t errlen);

#endif
