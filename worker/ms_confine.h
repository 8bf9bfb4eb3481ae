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
 * Source: source_root/project (source_root itself for the top task, project
 * "") must exist, be a directory, and resolve to an allowed source root or
 * below.
 *
 * Destination: a remote one (rsync's rule: a ':' before any '/', or
 * "rsync://...") is allowed only when an allow_dest entry that is itself
 * remote is a prefix of it ending at a '/' (or the entry ends with '/' or
 * ':'), and it has no ".." component; "host:/x" and "user@host:/x" are
 * different strings. A local one, dest_root/project, may not exist yet: the
 * longest existing prefix is resolved with realpath and the missing rest
 * appended; the rest may not contain ".." and no part of it may be a
 * dangling symbolic link (rsync would follow it). The result must be inside
 * an allowed local destination root.
 *
 * Empty lists: with no allow_source, sources are not restricted; with no
 * allow_dest, destinations are not restricted. That keeps existing
 * deployments working; the owner should log a warning at start when
 * ms_confine_restricts_sources/_dests is 0. The project is checked in any
 * case.
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
 * Check one task. project is "" (the top task: loose files of source_root)
 * or one path component (no '/', not "." or ".."). Returns 0 when the task
 * may run, or -1 with err set, e.g.
 *   "source /data/x/../../etc is outside the allowed source roots
 *    (/data/prod): it resolves to /etc"
 */
int ms_confine_check_task(const ms_confine_t *c, const char *source_root, const char *project,
                          const char *dest_root, char *err, size_t errlen);

/* Free *cp and set it to NULL. Accepts NULL and *cp == NULL. */
void ms_confine_destroy(ms_confine_t **cp);

#endif
