/*
 * ms_state.h - the embedded mode's state: a catalog of its own, which
 * `multisync run` (without --master) writes and `history` and `report`
 * (without --master) read.
 *
 * It lives in $XDG_STATE_HOME/multisync/catalog.db, by default
 * ~/.local/state/multisync/catalog.db, or where --catalog says. It keeps
 * every run, task and attempt like a master's catalog, and what each
 * project looked like at its last copy, so that the next run skips what
 * did not change (ms_unchanged.h). Several runs may share it at once (to
 * different destinations): it is not locked, and its commits are not
 * synced (a power cut may lose the last ones; the next run then copies
 * what it would have skipped).
 */
#ifndef MS_STATE_H
#define MS_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The catalog's path into out: given when not NULL, else the XDG one. With
 * make, its folder is made (0700) when missing. 0, or -1 with err (no
 * $HOME and no $XDG_STATE_HOME, or the folder cannot be made). */
int ms_state_catalog(const char *given, int make, char *out, size_t outlen, char *err,
                     size_t errlen);

/* The last n runs in the catalog, as `history --json` prints them; an
 * empty array when there is no catalog yet. NULL with err. */
json_t *ms_state_history(const char *catalog, size_t n, char *err, size_t errlen);

/* Run id's report, as `report --json` prints it. NULL with err (no such
 * run, no catalog). */
json_t *ms_state_report(const char *catalog, uint64_t id, char *err, size_t errlen);

#endif
