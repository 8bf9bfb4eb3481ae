/*
 * ms_run.h - one backup run as the master tracks it: its tasks, their state
 * and results, and the workers that took part.
 *
 * A run owns its tasks (an array indexed by task id). Task ids are the
 * index in that array, so a result (run id, task id, attempt) finds its task
 * in O(1). The top task (loose files and the destination root's attributes)
 * is held back until every project task has finished, because creating the
 * projects' folders changes the destination root's times.
 *
 * What other modules keep about a run is theirs, not the run's: the
 * queue's, the planner's and the journal's, the report's rows, the
 * diagnosis's samples and ticks (ms_diag). Each forgets a run (by its
 * address) before the master frees it.
 */
#ifndef MS_RUN_H
#define MS_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ms_clock.h"
#include "ms_codec.h"
#include "ms_fp.h"
#include "ms_keep.h"
#include "ms_strv.h"

typedef enum {
    MS_TS_HELD, /* waits for other tasks: the top task, the rest of a split project */
    MS_TS_QUEUED,
    MS_TS_RUNNING,
    MS_TS_OK,
    MS_TS_FAILED,
    MS_TS_SCANNING, /* a project whose tree is being walked: split or not? */
} ms_task_state_t;

#define MS_TS_COUNT (MS_TS_SCANNING + 1) /* how many states there are */

#define MS_NO_TASK UINT64_MAX

typedef struct ms_run ms_runrec_t;

/* Fields are ordered by size: a run of 100,000 tasks keeps 100,000 of these. */
typedef struct {
    uint64_t id;
    ms_runrec_t *run;
    char *project; /* "" for the top task */
    /* A split project is its chunks plus its rest: the rest is the project's
     * own task, run once every chunk is final, with the chunks' paths
     * excluded (so it neither copies nor deletes them) and fixing the times
     * of the folders the chunks wrote into. */
    uint64_t parent;         /* a chunk: its project's rest task; else MS_NO_TASK */
    char *sub;               /* a chunk: folder in the project holding its items; NULL: "";
                              * a removal (MS_TASK_REMOVE, retention): the snapshot folder
                              * ("NAME.pruning") its project is removed from */
    char **items;            /* a chunk: entries of sub it copies */
    char **excl;             /* the rest: paths it leaves to its chunks */
    char **match;            /* a chunk of a big folder: rsync patterns of its names */
    char **xmatch;           /* the rest: patterns (under their folder) it leaves */
    double cost;             /* from the walk (bytes + files * MS_FILE_COST); 0: not walked */
    uint64_t qseq;           /* queue order among equals (ms_sched.c) */
    int64_t started_ms;      /* monotonic, when last handed out */
    int64_t handed_ns;       /* wall clock (ns), when last handed out: the report's
                              * start_s, kept in the catalog (attempts.handed_ns); 0: never */
    int64_t not_before_ms;   /* monotonic: a retry waits until then (backoff); an
                              * orphan is requeued then unless its host claims it */
    uint64_t bytes_done;     /* while running: from the worker's progress reports */
    uint64_t expected_bytes; /* its size last time (catalog), if expected_known */
    double expected_seconds; /* its duration last time, if expected_known */
    /* Host names are interned in the run (ms_run_intern): a run of 100,000
     * tasks on a few hosts keeps a few copies, not 100,000. Never NULL. */
    const char *host;      /* host of the current (or last) attempt; "" */
    const char *failed_on; /* host of the last failed attempt: retry elsewhere; "" */
    ms_result_t result;    /* last result; owns result.message */
    uint32_t flags;        /* MS_TASK_* */
    uint32_t pending;      /* the rest: chunks not final yet */
    uint32_t n_chunks;     /* the rest: chunks it was split into */
    uint32_t n_items;
    uint32_t n_excl;
    uint32_t n_match;
    uint32_t n_xmatch;
    ms_task_state_t state;
    uint32_t attempts; /* attempts handed out so far; the current one is this */
    uint8_t qclass;    /* 2: a retry or requeue, 1: never seen before, 0: known */
    uint8_t orphan;    /* RUNNING as loaded from the catalog: awaits adoption */
    uint8_t expected_known;
    uint8_t fp_known; /* fp is its tree's, from the walk (ms_unchanged.h) */
    uint8_t walked;   /* walk_files, walk_bytes are this run's walk's (ms_planner) */
    /* A pack of tiny projects (MS_TASK_PACK): this task carries its own
     * project and items[i], the projects of members[i], held (flag
     * MS_TASK_PACKED) until the pack's one rsync ends. */
    uint64_t *members;
    uint64_t walk_files, walk_bytes; /* what the walk found of its project */
    ms_fp_t fp;         /* its tree's fingerprint: a whole project's, a chunk's, a rest's */
    const char *opts;   /* the options (ms_fp_opts) of the worker of its attempt, interned; "" */
    char worker_id[32]; /* worker of the current (or last) attempt */
} ms_trec_t;

/* A host that took part in a run (ms_run_note_worker). What the host did
 * meanwhile (its samples: CPU, disk, network) is the diagnosis's, kept in
 * ms_diag_t by run and host name, not here. */
typedef struct {
    char id[32];
    char host[MS_MAX_NAME + 1];
    unsigned slots;
    unsigned tasks;
    /* The results of the tasks that ran there: CPU and wall seconds. */
    double task_cpu_s, task_secs;
    unsigned unconfined; /* MS_UNCONFINED_*: the host said it may read or write anywhere */
} ms_run_worker_t;

/* A snapshot run's snapshot (ms_snapshot.h): which, and how it ended. */
typedef struct {
    char *name;        /* "2026-12-07T021500Z": DST/NAME, DST/NAME.partial while written */
    char *link;        /* the complete snapshot its unchanged files link to; NULL: none */
    ms_keep_t keep;    /* retention once it is complete (ms_keep.h) */
    int complete;      /* renamed to NAME, latest points at it */
    char *error;       /* why it could not be completed though every task succeeded; NULL */
    ms_strv_t pruned;  /* snapshots retention removed after it */
    int retained;      /* retention was applied (its removal tasks, if any, are the run's) */
    char *prune_error; /* why retention could not remove what it should have; NULL */
} ms_run_snap_t;

/* Tasks live in segments of this many, so that adding tasks (chunks of a
 * split project) never moves one: the queue holds pointers to them. */
#define MS_RUN_SEG 1024

struct ms_run {
    uint64_t id;
    char *source, *dest, *set;
    uint32_t flags;                          /* MS_RUN_* */
    struct timespec started_rt, finished_rt; /* wall clock: report and durations */
    ms_trec_t **segs;
    size_t n_segs;
    size_t n_tasks;
    size_t top; /* index of the top task; SIZE_MAX while there is none (a restore
                 * has none; n_tasks would name the next chunk added) */
    /* Tasks in each state, kept by ms_run_set_state (the only writer of a
     * task's state), and what they add up to. */
    size_t n_in[MS_TS_COUNT];
    size_t n_scanning; /* projects still being walked or waiting to be split */
    double prior_cost; /* the previous run's total, from the catalog; 0: none */
    size_t n_finished, n_failed;
    int finished;
    struct ms_lock *dest_lock; /* its hold on a local destination (MS_DEST_LOCK), or NULL */
    /* Which destination folder that is: its lock file's inode and birth
     * time, "" when unknown (remote, not seen here). A destination removed
     * and made anew is another one: nothing in it is skipped as unchanged. */
    char dest_id[64];
    unsigned worker_wait_s;     /* fail when no worker can take its tasks for this long */
    int64_t no_worker_since_ms; /* monotonic: since when no worker could; 0: one can */
    int no_worker;              /* its tasks failed for want of a worker (worker_wait) */
    ms_run_worker_t *workers;
    size_t n_workers;
    /* The master's ticks while the run goes on are the diagnosis's
     * (ms_diag_t); at the end it leaves what it found here, which the
     * catalog stores and reports of the finished run read (ms_diag_freeze):
     * {"diagnosis":…, "workers":{id:{…}}}. */
    char *extra_json;
    char **names; /* interned host names, owned */
    /* With a thousand workers, lookups by host are hashed: a name to its
     * interned copy, a host to its index in workers + 1 (ms_run.c). NULL
     * when out of memory: then a scan. */
    struct ms_hmap *name_map, *worker_map;
    ms_run_snap_t *snap; /* a snapshot run's snapshot; NULL: a mirror */
    int snap_read_fd;    /* a restore's hold on the snapshot it reads (ms_snap_hold); -1 */
    size_t n_names;
};

/* A run with no tasks yet. set may be NULL. Returns NULL on out of memory. */
ms_runrec_t *ms_run_new(uint64_t id, const char *source, const char *dest, const char *set);

/* Add a task (project copied; state: HELD for the top task, else QUEUED).
 * Its id is its index. Returns it, or NULL on out of memory. */
ms_trec_t *ms_run_add_task(ms_runrec_t *r, const char *project, uint32_t flags);

/* Drop the tasks from index n on (undo ms_run_add_task). */
void ms_run_drop_from(ms_runrec_t *r, size_t n);

/* Add a task per project, in the state given, then the top task.
 * Returns 0, or -1 on out of memory. */
int ms_run_add_projects(ms_runrec_t *r, char *const *projects, size_t n, ms_task_state_t state);

/* Set t's state, keeping its run's counts (n_in, n_finished, n_failed,
 * n_scanning). The one place a task's state changes. */
void ms_run_set_state(ms_trec_t *t, ms_task_state_t s);

/* Task i (< n_tasks). */
static inline ms_trec_t *ms_run_at(const ms_runrec_t *r, size_t i)
{
    return &r->segs[i / MS_RUN_SEG][i % MS_RUN_SEG];
}

/* Tasks of r that wait for a worker: queued or held. */
static inline size_t ms_run_waiting(const struct ms_run *r)
{
    return r->n_in[MS_TS_QUEUED] + r->n_in[MS_TS_HELD];
}

/* The top task, or NULL. */
ms_trec_t *ms_run_top(const ms_runrec_t *r);

/* After loading tasks from the catalog: find the top task, count the
 * finished ones and each rest's pending chunks. */
void ms_run_recount(ms_runrec_t *r);

void ms_run_destroy(ms_runrec_t **r);

/* A chunk's or a rest's paths (sub, items, excl, match, xmatch) as one
 * blob for the catalog: malloc'd, *len bytes; NULL for a task with none (or
 * out of memory when it has some). */
char *ms_run_spec_encode(const ms_trec_t *t, size_t *len);
/* Set t's paths from such a blob. Returns 0, or -1 when it is malformed or
 * memory runs out (t keeps no paths then). */
int ms_run_spec_decode(ms_trec_t *t, const void *blob, size_t len);

/*
 * The run's copy of name, made once per distinct name and freed with the
 * run; tasks point to it. Returns "" when out of memory (the name is only
 * shown, never decides anything).
 */
const char *ms_run_intern(ms_runrec_t *r, const char *name);

/* Make r a snapshot run writing snapshot name, linking to link (NULL:
 * none), keeping keep. 0, or -1 on out of memory. */
int ms_run_set_snap(ms_runrec_t *r, const char *name, const char *link, const ms_keep_t *keep);

/* r->snap as JSON text for the catalog (malloc'd), NULL for a mirror run
 * (or on out of memory); and back: 0, or -1 when text is not such JSON. */
char *ms_run_snap_json(const ms_runrec_t *r);
int ms_run_snap_from_json(ms_runrec_t *r, const char *text);

/* The task a result names, or NULL when the id is out of range. */
ms_trec_t *ms_run_task(ms_runrec_t *r, uint64_t task_id);

/* Note that worker (id, host, slots, unconfined: MS_UNCONFINED_*) was handed
 * a task of this run. A run has one entry per host: a host that reconnects
 * (new id) keeps its entry. */
int ms_run_note_worker(ms_runrec_t *r, const char *id, const char *host, unsigned slots,
                       unsigned unconfined);

/* The run's entry for host, or NULL. */
ms_run_worker_t *ms_run_worker(const ms_runrec_t *r, const char *host);

/* Keep res as t's last result (taking its message), and count it for the host
 * that ran t (t->host) in the run's worker entry. */
void ms_run_set_result(ms_trec_t *t, ms_result_t *res);

/*
 * t's last result is its final one: mark it ok or failed, count it, and
 * mark the run finished when it was its last task. Returns the tasks it
 * releases (held until now) in rel[0..1]: the rest of t's project when t
 * was its last chunk, the top task when every other task is final.
 * Returns how many (0..2).
 */
int ms_run_task_final(ms_runrec_t *r, ms_trec_t *t, ms_trec_t *rel[2]);

/* Whether t waits for other tasks: a rest with chunks pending, the top task
 * while other tasks are not final. */
int ms_run_task_waits(const ms_runrec_t *r, const ms_trec_t *t);

typedef enum {
    MS_OUTCOME_OK,        /* rsync exit 0, or 24: source files vanished meanwhile, or
                           * MS_EXIT_VANISHED: the whole source folder did */
    MS_OUTCOME_TRANSIENT, /* worth another attempt: 10, 11, 12, 20, 30, 35, killed
                           * (timeout, lost lease, stopped worker), -2 (worker
                           * could not take it now), 126 and 127 (the worker
                           * could not run its rsync: another host may) */
    MS_OUTCOME_PERMANENT, /* 1, 2, 3, 4, 23, refused by the worker (-1), a verify's
                           * differences (MS_EXIT_DIFFERS), and every other
                           * code: another attempt would fail too */
} ms_outcome_t;

ms_outcome_t ms_result_outcome(const ms_result_t *res);

/* Whether an rsync outcome counts as success (a project that vanished from
 * the source since the walk does: nothing to copy; so do a dry run's
 * changes, MS_EXIT_WOULD_CHANGE). */
int ms_result_ok(const ms_result_t *res);

/* Whether the master found the task unchanged since its last copy
 * (MS_EXIT_UNCHANGED: no rsync ran; ms_unchanged.h). */
int ms_result_unchanged(const ms_result_t *res);

/* Whether the worker found the task's source gone (MS_EXIT_VANISHED). */
int ms_result_vanished(const ms_result_t *res);

/* Whether a verify task found its backup different (MS_EXIT_DIFFERS): a
 * failed task, final, whose message lists what differs. */
int ms_result_differs(const ms_result_t *res);

/* Whether the task ended with its run cancelled (MS_EXIT_CANCELLED): it
 * never started, or its rsync was stopped. */
int ms_result_cancelled(const ms_result_t *res);

/*
 * How r stands, as reports, status and history say it: "running";
 * "cancelling" (cancelled, its running tasks being stopped); "cancelled";
 * "failed" (a task failed, or its snapshot could not be completed though
 * every task succeeded: no backup to rely on); "ok".
 */
const char *ms_run_status(const ms_runrec_t *r);

/* Whether a run with these MS_RUN_* flags is a backup, or a dry run of
 * one: its projects are (or would be) copied, so the fast path decides
 * which are unchanged and a full pass comes every full_every-th run. Not a
 * verify, not a restore. */
int ms_run_backs_up(uint32_t flags);

/* Whether a dry-run task found what the copy would change
 * (MS_EXIT_WOULD_CHANGE): a task that succeeded, whose message lists it. */
int ms_result_would_change(const ms_result_t *res);

/* What a run with these MS_RUN_* flags does, as history and reports name
 * it: "dry-run", "verify", "restore", "snapshot" or "mirror". */
const char *ms_run_kind(uint32_t flags);

#endif
