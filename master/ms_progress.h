/*
 * ms_progress.h - how far a run is, for `status` and the progress line:
 * its tasks by state, what its walk has sized, and the bytes of work done
 * and left, the rate and the ETA (ms_eta.h).
 *
 * A task's size is what this run's walk found (a split project's chunks
 * and rest get their share of it), else its size last time (the catalog),
 * else it is not known. A task that ended unchanged, or that will (its
 * tree is as at its last copy: ms_unchanged.h), is no work: its bytes are
 * `bytes_unchanged`, not progress.
 */
#ifndef MS_PROGRESS_H
#define MS_PROGRESS_H

#include <jansson.h>

#include "ms_run.h"
#include "ms_unchanged.h"

/*
 * r's progress as the keys of a `status` run object: `tasks` {`total`,
 * `queued`, `running`, `done`, `failed`, `unchanged`, `scanning`},
 * `walk` {`done`, `projects`, `files`, `bytes`}, `bytes_done`,
 * `bytes_expected` (null: not known), `bytes_unchanged`, `percent`,
 * `rate_bps`, `eta_s` (null: not known). u: r's records of its last
 * copies (NULL: none); walking: r's walk still goes on; now_ms: the
 * monotonic clock (ms_now_ms); elapsed_s: since r started. NULL when out
 * of memory.
 */
json_t *ms_progress_json(const ms_runrec_t *r, const ms_unchanged_t *u, int walking, int64_t now_ms,
                         double elapsed_s);

#endif
