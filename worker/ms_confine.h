/*
 * ms_confine.h - the paths a worker agrees to read and write.
 *
 * The master sends a task as fields (source root, project, destination
 * root); the worker checks them here against roots from its own config
 * before it builds any rsync argv:
 *
 *   [worker]
 *   allow_source = /data/prod        ; repeatable
 *   allow_dest   = /backup           ; repeatable; local directory ...
 *   allow_dest   = backup@vault:/srv/backup   ; ... or remote prefix
 *
 * Local roots are resolved with realpath(3) when added (they must exist and
 * be directories), and task paths are resolved at check time, so ".." and
 * symbolic links are judged by where they lead: a link out of a root is
 * refused. "Inside" compares whole components: /data/prod2 is not inside
 * /data/prod.
 *
 * The paths checked are source_root/project/sub and dest_root/project/sub
 * (no sub but for a chunk of a split project; no project for the top task).
 *
 * Source: that path must exist, be a directory, and resolve to an allowed
 * source root or below.
 *
 * Destination: a remote one (rsync's rule: a ':' before any '/', or
 * "rsync://...") is allowed only when an allow_dest entry that is itself
 * remote is a prefix of it ending at a '/' (or the entry ends with '/' or
 * ':'), and it has no ".." component; "host:/x" and "user@host:/x" are
 * different strings. A local one may not exist yet: the longest existing
 * prefix is resolved with realpath and the missing rest appended; the rest
 * may not contain ".." and no part of it may be a dangling symbolic link
 * (rsync would follow it). The result must be inside an allowed local
 * destination root.
 *
 * A chunk (a task with items) is given to rsync as source/project/sub/ITEM,
 * a match chunk (a task with match) as source/project/sub/, and rsync
 * follows any symbolic link on the way there, where a whole project is
 * judged once by where source/project leads. So for a chunk of either kind,
 * below the roots, project and each component of sub must be real
 * directories (lstat: not a symbolic link, not anything else) in the
 * source, and, for a local destination, those of dest/project/sub that
 * exist (rsync --mkpath makes the missing tail). The roots themselves may
 * be links; they are the operator's.
 *
 * Empty lists: with no allow_source, sources are not restricted; with no
 * allow_dest, destinations are not restricted. That keeps existing
 * deployments working; the owner should log a warning at start when
 * ms_confine_restricts_sources/_dests is 0. The project and sub names, and
 * a chunk's real directories, are checked in any case.
 *
 * Limits: the check sees the file system at check time. Someone who can
 * write inside an allowed root can swap a directory for a symbolic link
 * between the check and rsync's start; roots should be writable only by
 * trusted users.
 *
 * Nothing here logs. Functions return 0 or -1 with a message in err.
 */
#ifndef MS_CONFINE_H
#define MS_CONFINE_H

#include <stddef.h>

#include "ms_codec.h"

typedef struct ms_confine ms_confine_t;

/* An empty set of roots (no restriction). NULL when out of memory. */
ms_confine_t *ms_confine_new(void);

/* Add an allowed source root: an existing directory, stored resolved.
 * Returns 0, or -1 with err set ("allow_source /x: No such file or
 * directory"). */
int ms_confine_allow_source(ms_confine_t *c, const char *path, char *err, size_t errlen);

/* Add an allowed destination root: an existing local directory (stored
 * resolved) or a remote prefix (stored as written, must not contain "..").
 * Returns 0, or -1 with err set. */
int ms_confine_allow_dest(ms_confine_t *c, const char *path, char *err, size_t errlen);

/* Whether any allow_source / allow_dest was added (0: anything goes). */
int ms_confine_restricts_sources(const ms_confine_t *c);
int ms_confine_restricts_dests(const ms_confine_t *c);

/*
 * Check the paths of task t: t->source and t->dest are the roots;
 * t->project is "" (the top task: loose files of the source root) or one
 * path component (no '/', not "." or ".."); t->sub (NULL taken as "") is ""
 * or a relative path of names; t->n_items > 0 or t->n_match > 0 makes it a
 * chunk. c may be NULL: no roots, the other checks still apply. Returns 0
 * when the task may run, or -1 with err set, e.g.
 *   "source /data/x/../../etc is outside the allowed source roots
 *    (/data/prod): it resolves to /etc"
 *   "source /data/prod/alpha/lib is a symbolic link: a chunk is copied
 *    only through real folders"
 */
int ms_confine_check_task(const ms_confine_t *c, const ms_task_t *t, char *err, size_t errlen);

/* Free *cp and set it to NULL. Accepts NULL and *cp == NULL. */
void ms_confine_destroy(ms_confine_t **cp);

#endif
