/*
 * ms_start.c - starting a run: its checks (a source that is there, apart
 * from its destination), its destination locked (one run per destination,
 * a dead master's workers waited out) and made ready (a snapshot begun, a
 * restore's folder, a dry run's look), its row in the catalog before any
 * task is queued, then its tasks queued and its walk begun (after its
 * pre_run hook, if its set has one: ms_hookrun.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_path.h"
#include "ms_rc.h"
#include "ms_restore.h"
#include "ms_scan.h"
#include "ms_snapshot.h"

/* Free r, after every owner that keeps something of it let it go. */
static void drop_run(ms_master_t *m, ms_runrec_t **r)
{
    ms_queue_remove_run(m->queue, *r);
    ms_planner_forget(m->planner, *r);
    ms_journal_forget_run(m->journal, *r);
    ms_report_forget(m->report, *r);
    ms_diag_forget(m->diag, *r);
    ms_unchanged_forget(m->unchanged, *r);
    ms_run_destroy(r);
}

/* Forget the oldest finished runs once too many are kept in memory (the
 * catalog still has them). */
static void trim_runs(ms_master_t *m)
{
    size_t finished = 0;
    for (size_t i = 0; i < m->n_runs; i++)
        finished += m->runs[i]->finished;
    for (size_t i = 0; i < m->n_runs && finished > MS_KEEP_FINISHED_RUNS;) {
        if (!m->runs[i]->finished || ms_hookrun_waits(m, m->runs[i])) {
            i++;
            continue;
        }
        drop_run(m, &m->runs[i]);
        memmove(&m->runs[i], &m->runs[i + 1], (m->n_runs - i - 1) * sizeof *m->runs);
        m->n_runs--;
        finished--;
    }
}

int ms_master_add_run(ms_master_t *m, ms_runrec_t *r)
{
    ms_runrec_t **nr = realloc(m->runs, (m->n_runs + 1) * sizeof *nr);
    if (!nr)
        return -1;
    m->runs = nr;
    m->runs[m->n_runs++] = r;
    return 0;
}

/* Queue what is ready to run (the queue orders it), and what waited for
 * tasks that are all final now. */
void ms_master_queue_run(ms_master_t *m, ms_runrec_t *r)
{
    for (size_t i = 0; i < r->n_tasks; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if (t->state == MS_TS_QUEUED || (t->state == MS_TS_HELD && !ms_run_task_waits(r, t)))
            ms_sched_enqueue(m, t, 0);
    }
}

static int check_source(const char *source, const ms_scan_t *scan, char *err, size_t errlen)
{
    if (scan->n_projects == 0 && scan->n_loose == 0) {
        snprintf(err, errlen,
                 "source root %s is empty: refusing to run (is its filesystem mounted?)", source);
        return -1;
    }
    return 0;
}

/* The worker_wait of a run: asked for, else its set's, else the master's. */
unsigned ms_master_worker_wait_of(const ms_master_t *m, const char *set, unsigned asked)
{
    const ms_set_t *s = set && m->opts.config ? ms_config_find_set(m->opts.config, set) : NULL;
    if (asked)
        return asked;
    if (s && s->worker_wait_s)
        return s->worker_wait_s;
    return m->opts.worker_wait_s ? m->opts.worker_wait_s : MS_WORKER_WAIT_DEFAULT_S;
}

/* Whether two destinations name the same place (trailing slashes aside). */
static int same_dest(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (lb > 1 && b[lb - 1] == '/')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

/* Whether a lock's holder line is this master's own, for run r: the same
 * catalog (a restart of it) and the same run, whose workers are this
 * master's and are adopted when they come back. */
static int own_holder(const ms_master_t *m, const ms_runrec_t *r, const char *prev)
{
    char run[48];
    snprintf(run, sizeof run, ", run %llu,", (unsigned long long)r->id);
    return m->cat_ident[0] && strstr(prev, m->cat_ident) && strstr(prev, run);
}

/*
 * A destination lock left by a master that died (not released: its line is
 * still in the file) whose workers may still be writing: they stop their
 * rsyncs within one lease of the master's last heartbeat answer. The lock
 * file is touched every tick, so its age says about when that was. This
 * master's own run, resumed, goes on: those workers are its own.
 */
static int check_dead_holder(const ms_master_t *m, ms_runrec_t *r, char *err, size_t errlen)
{
    double age = 0;
    const char *prev = ms_lock_previous(r->dest_lock, &age);
    const char *lease = strstr(prev, "workers' lease ");
    unsigned lease_ms = 0;
    if (!lease || sscanf(lease, "workers' lease %u ms", &lease_ms) != 1 || age * 1000 >= lease_ms ||
        own_holder(m, r, prev))
        return 0;
    ms_errf(err, errlen,
            "destination %s was in use by %s, which ended %.1f s ago without "
            "releasing it: its workers may write there for up to %.1f s more; try again then",
            r->dest, prev, age, (double)lease_ms / 1000 - age);
    ms_lock_release(&r->dest_lock);
    return -1;
}

/*
 * One run per destination. This master keeps its own runs apart; a local
 * destination also gets a lock file (MS_DEST_LOCK, flock) for the run's
 * life, which keeps out any other process's run: an embedded one, another
 * master's. A master that cannot lock there (it cannot see or write the
 * destination: a read-only view, another user) says so, and only its own
 * runs are kept apart.
 */
static void dest_identity(ms_runrec_t *r, int fd, const char *path)
{
    struct statx sx;
    r->dest_id[0] = '\0';
    if (statx(fd, path, path[0] ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH, STATX_INO | STATX_BTIME,
              &sx) != 0)
        return;
    if (sx.stx_mask & STATX_BTIME)
        snprintf(r->dest_id, sizeof r->dest_id, "%llx.%llx.%x", (unsigned long long)sx.stx_ino,
                 (unsigned long long)sx.stx_btime.tv_sec, (unsigned)sx.stx_btime.tv_nsec);
    else
        snprintf(r->dest_id, sizeof r->dest_id, "%llx", (unsigned long long)sx.stx_ino);
}

int ms_master_lock_dest(ms_master_t *m, ms_runrec_t *r, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], what[PATH_MAX + 32], holder[PATH_MAX + 128];
    /* A verify writes nothing: it neither takes the lock nor keeps a
     * backup out (what it reads while one writes may differ, no more). */
    if (r->flags & MS_RUN_VERIFY)
        return 0;
    for (size_t i = 0; i < m->n_runs; i++)
        if ((!m->runs[i]->finished || ms_hookrun_waits(m, m->runs[i])) && m->runs[i] != r &&
            !(m->runs[i]->flags & MS_RUN_VERIFY) && same_dest(m->runs[i]->dest, r->dest) &&
            (m->busy = 1))
            return ms_errf(err, errlen, "destination %s is in use by run %llu of this master",
                           r->dest, (unsigned long long)m->runs[i]->id);
    if (ms_path_is_remote(r->dest) || (m->opts.make_dest && ms_path_mkdirs(r->dest, err, errlen)))
        return ms_path_is_remote(r->dest) ? 0 : -1;
    snprintf(path, sizeof path, "%s/%s", r->dest, MS_DEST_LOCK);
    snprintf(what, sizeof what, "destination %s", r->dest);
    /* A master's workers write for up to a lease after it dies; the embedded
     * worker and its rsyncs die with the process (and hold the lock till then). */
    int n = snprintf(holder, sizeof holder, "pid %d %s, run %llu", (int)getpid(),
                     program_invocation_short_name, (unsigned long long)r->id);
    if (!m->opts.make_dest && n > 0 && (size_t)n < sizeof holder)
        snprintf(holder + n, sizeof holder - (size_t)n, ", workers' lease %d ms%s%s",
                 m->heartbeat_ms * MS_HEARTBEAT_LIVENESS, m->cat_ident[0] ? ", " : "",
                 m->cat_ident);
    if ((r->dest_lock = ms_lock_take(path, what, holder, err, errlen)) != NULL) {
        dest_identity(r, ms_lock_fd(r->dest_lock), "");
        m->busy = check_dead_holder(m, r, err, errlen) != 0;
        return m->busy ? -1 : 0;
    }
    if (errno == EWOULDBLOCK && (m->busy = 1))
        return -1;
    ms_warn("run %llu: %s: only this master's own runs are kept out of %s",
            (unsigned long long)r->id, err, r->dest);
    err[0] = '\0';
    return 0;
}

/* A backup inside its source would be copied into itself, one level
 * deeper every night; a source inside its backup would be mirrored over
 * (and deleted from, with --delete) by its own copy. Both refused. */
static int check_apart(const char *source, const char *dest, char *err, size_t errlen)
{
    int where =
        ms_path_is_remote(dest) ? MS_PATH_APART : ms_path_nesting(source, dest, err, errlen);
    if (where == MS_PATH_INSIDE)
        return ms_errf(err, errlen,
                       "the destination %s is inside the source %s: every run would copy the "
                       "backup into itself; choose a destination outside the source",
                       dest, source);
    if (where == MS_PATH_HOLDS)
        return ms_errf(err, errlen,
                       "the source %s is inside the destination %s: the backup would be "
                       "written over its own source; choose a destination apart from it",
                       source, dest);
    return where < 0 ? -1 : 0;
}

/* A new run of the source's projects (not yet the master's). */
static ms_runrec_t *new_backup(ms_master_t *m, const ms_run_req_t *req, char *err, size_t errlen)
{
    ms_scan_t scan;
    if (ms_scan_root(req->source, &scan, err, errlen) != 0)
        return NULL;
    if (check_apart(req->source, req->dest, err, errlen) != 0) {
        ms_scan_free(&scan);
        return NULL;
    }
    if (check_source(req->source, &scan, err, errlen) != 0) {
        m->busy = 1; /* an unmounted source: try again once it is there */
        ms_scan_free(&scan);
        return NULL;
    }
    ms_runrec_t *r = ms_run_new(m->next_run + 1, req->source, req->dest, req->set);
    int added = r ? ms_run_add_projects(r, scan.projects, scan.n_projects, MS_TS_SCANNING) : -1;
    for (size_t i = 0; added == 0 && i < r->n_tasks; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if (t->flags & MS_TASK_TOP) {
            t->fp = scan.top_fp;
            t->fp_known = (uint8_t)scan.top_fp_known;
        }
    }
    ms_scan_free(&scan);
    if (added != 0) {
        snprintf(err, errlen, "out of memory starting a run");
        ms_run_destroy(&r);
    }
    return r;
}

/* A new restore from the backup req->source: its source root is the
 * snapshot (or the mirror) read, its one task what was asked for. */
static ms_runrec_t *new_restore(ms_master_t *m, const ms_run_req_t *req, char *err, size_t errlen)
{
    ms_restore_t rs;
    if (req->flags & ~(uint32_t)(MS_RUN_RESTORE | MS_RUN_FORCE)) {
        ms_errf(err, errlen, "a restore copies back: it neither deletes nor takes a snapshot");
        return NULL;
    }
    if (ms_restore_resolve(req->source, req->snapshot, req->path ? req->path : "", &rs, err,
                           errlen) != 0)
        return NULL;
    ms_runrec_t *r = ms_run_new(m->next_run + 1, rs.source, req->dest, req->set);
    if (!r || ms_restore_add_tasks(r, &rs) != 0) {
        snprintf(err, errlen, "out of memory starting a restore");
        ms_run_destroy(&r);
    }
    if (r && rs.snapshot) /* retention keeps it while it is read */
        r->snap_read_fd = ms_snapshot_hold(req->source, rs.snapshot);
    ms_restore_free(&rs);
    return r;
}

/* A verify writes nothing: whatever else a set says (delete, snapshots).
 * A dry run (a verify too) keeps what the backup it shows would do. */
static uint32_t flags_of(const ms_run_req_t *req)
{
    const uint32_t backup = MS_RUN_DELETE | MS_RUN_FORCE_DELETE | MS_RUN_SNAPSHOT | MS_RUN_FULL;
    if (req->flags & MS_RUN_DRY_RUN)
        return MS_RUN_VERIFY | MS_RUN_DRY_RUN | (req->flags & backup);
    return (req->flags & MS_RUN_VERIFY) ? MS_RUN_VERIFY : req->flags;
}

static ms_runrec_t *new_run(ms_master_t *m, const ms_run_req_t *req, char *err, size_t errlen)
{
    ms_runrec_t *r = (req->flags & MS_RUN_RESTORE) ? new_restore(m, req, err, errlen)
                                                   : new_backup(m, req, err, errlen);
    if (r) {
        r->flags = flags_of(req);
        r->worker_wait_s = ms_master_worker_wait_of(m, req->set, req->worker_wait_s);
    }
    return r;
}

/* A restore's folder: apart from the backup, made, locked (one run per
 * folder, as for any destination), and empty unless forced. The backup is
 * only read: it is not locked. */
static int prepare_restore(ms_master_t *m, ms_runrec_t *r, const ms_run_req_t *req, char *err,
                           size_t errlen)
{
    if (ms_restore_target(req->source, r->dest, err, errlen) != 0 ||
        ms_master_lock_dest(m, r, err, errlen) != 0)
        return -1;
    return ms_restore_check_empty(r->dest, (r->flags & MS_RUN_FORCE) != 0, err, errlen);
}

/*
 * A dry run's destination is only looked at, as its backup would find it:
 * refused where that backup would be (a mirror's holding snapshots, a
 * snapshot's holding a mirror), compared in its latest complete snapshot
 * (ms_snapshot_dry_run), and known by its lock file when there is one (the
 * fast path's record names it) — never made nor locked.
 */
static int prepare_dry_run(ms_runrec_t *r, const ms_run_req_t *req, char *err, size_t errlen)
{
    char lock[PATH_MAX + 32];
    if (req->snapshot)
        return ms_errf(err, errlen,
                       "a dry run compares with the latest complete snapshot: "
                       "--snapshot NAME is for verify and restore");
    if (!(r->flags & MS_RUN_SNAPSHOT) && ms_keep_any(&req->keep))
        return ms_errf(err, errlen,
                       "retention (keep_*) goes with snapshots: a mirror keeps no "
                       "older versions to remove");
    if (ms_snapshot_dry_run(r, time(NULL), err, errlen) != 0)
        return -1;
    if (!ms_path_is_remote(r->dest)) {
        snprintf(lock, sizeof lock, "%s/%s", r->dest, MS_DEST_LOCK);
        dest_identity(r, AT_FDCWD, lock);
    }
    return 0;
}

/*
 * The destination, ready for the run: a snapshot's made when missing (the
 * master makes its folder there), locked, and its folder begun; a mirror's
 * locked, and refused when it holds snapshots. A verify's is only looked
 * at: which snapshot it compares with, if any.
 */
static int prepare_dest(ms_master_t *m, ms_runrec_t *r, const ms_run_req_t *req, char *err,
                        size_t errlen)
{
    int snapshot = (r->flags & MS_RUN_SNAPSHOT) != 0;
    if (r->flags & MS_RUN_DRY_RUN)
        return prepare_dry_run(r, req, err, errlen);
    if (r->flags & MS_RUN_VERIFY)
        return ms_snapshot_verify(r, req->snapshot, err, errlen);
    if (r->flags & MS_RUN_RESTORE)
        return prepare_restore(m, r, req, err, errlen);
    if (!snapshot && ms_keep_any(&req->keep))
        return ms_errf(err, errlen,
                       "retention (keep_*) goes with snapshots: a mirror keeps no "
                       "older versions to remove");
    if (snapshot && ms_path_is_remote(r->dest))
        return ms_snapshot_begin(r, time(NULL), &req->keep, err, errlen); /* says why not */
    if (snapshot && ms_path_mkdirs(r->dest, err, errlen) != 0)
        return -1;
    if (ms_master_lock_dest(m, r, err, errlen) != 0)
        return -1;
    if (snapshot)
        return ms_snapshot_begin(r, time(NULL), &req->keep, err, errlen);
    return ms_snapshot_check_mirror(r->dest, err, errlen);
}

/* A set's full_every, else the master's, else MS_FULL_EVERY_DEFAULT. */
static unsigned full_every_of(const ms_master_t *m, const char *set)
{
    const ms_set_t *s = set && m->opts.config ? ms_config_find_set(m->opts.config, set) : NULL;
    if (s && s->full_every)
        return s->full_every;
    return m->opts.full_every ? m->opts.full_every : MS_FULL_EVERY_DEFAULT;
}

/* A backup is a full pass (MS_RUN_FULL: no project skipped as unchanged)
 * when asked, and every full_every-th run of its source and destination,
 * so that what someone changed in the backup by hand is repaired on a
 * known schedule. */
static void decide_full(ms_master_t *m, ms_runrec_t *r)
{
    char err[512];
    uint64_t since = 0;
    unsigned every = full_every_of(m, r->set);
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    if (!cat || (r->flags & MS_RUN_FULL) || !ms_run_backs_up(r->flags))
        return;
    if (ms_catalog_since_full(cat, r->source, r->dest, &since, err, sizeof err) != 0)
        ms_warn("run %llu: %s", (unsigned long long)r->id, err);
    else if (since + 1 >= every) {
        r->flags |= MS_RUN_FULL;
        ms_info("run %llu: a full pass, every project copied (%llu runs since the last, "
                "full_every = %u)",
                (unsigned long long)r->id, (unsigned long long)since, every);
    }
}

/* What r's projects looked like at their last copies (ms_unchanged.h). */
static void load_unchanged(ms_master_t *m, ms_runrec_t *r)
{
    char err[512];
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    if (cat && !(r->flags & MS_RUN_FULL) && ms_run_backs_up(r->flags) &&
        ms_unchanged_load(m->unchanged, r, cat, err, sizeof err) != 0)
        ms_warn("run %llu: every project is copied: %s", (unsigned long long)r->id, err);
}

/* A shared catalog's next run id, reserved there (other processes number
 * their runs in it too): 0, or -1 with err. */
static int reserve_id(ms_master_t *m, char *err, size_t errlen)
{
    uint64_t id;
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    if (!cat || !m->opts.shared_catalog)
        return 0;
    if (ms_journal_flush(m->journal, 1) != 0 ||
        ms_catalog_reserve_run_id(cat, &id, err, errlen) != 0)
        return err[0] ? -1 : ms_errf(err, errlen, "the catalog cannot be written");
    m->next_run = id - 1;
    return 0;
}

/* A run that could not start: its reserved row in a shared catalog goes. */
static void unreserve_id(ms_master_t *m)
{
    char err[256];
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    if (cat && m->opts.shared_catalog)
        ms_catalog_drop_run(cat, m->next_run + 1, err, sizeof err);
}

int ms_master_start_run(ms_master_t *m, const ms_run_req_t *req, uint64_t *run_id, char *err,
                        size_t errlen)
{
    err[0] = '\0';
    m->busy = 0;
    if (reserve_id(m, err, errlen) != 0)
        return MS_RC_REFUSED;
    ms_runrec_t *r = new_run(m, req, err, errlen);
    if (!r) {
        unreserve_id(m);
        return m->busy ? MS_RC_REFUSED : MS_RC_USAGE;
    }
    if (prepare_dest(m, r, req, err, errlen) != 0 || ms_master_add_run(m, r) != 0) {
        if (!err[0])
            snprintf(err, errlen, "out of memory starting a run");
        ms_run_destroy(&r);
        unreserve_id(m);
        return m->busy ? MS_RC_REFUSED : MS_RC_USAGE;
    }
    decide_full(m, r);
    ms_hookrun_mark(m, r);
    if (ms_journal_new_run(m->journal, r, err, errlen) != 0) {
        m->n_runs--;
        ms_run_destroy(&r);
        unreserve_id(m);
        return MS_RC_REFUSED;
    }
    m->next_run++;
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    if (cat && ms_catalog_prior_sizes(cat, r, err, errlen) != 0)
        ms_warn("run %llu: no sizes from earlier runs: %s", (unsigned long long)r->id, err);
    load_unchanged(m, r);
    trim_runs(m);
    *run_id = r->id;
    ms_info("run %llu started: %s%s %s %s%s%s, %zu tasks%s%s%s%s", (unsigned long long)r->id,
            (r->flags & MS_RUN_RESTORE) ? "restore from " : "", r->source,
            (r->flags & MS_RUN_DRY_RUN)  ? "dry run against"
            : (r->flags & MS_RUN_VERIFY) ? "verified against"
                                         : "->",
            r->dest, r->snap ? "/" : "", r->snap ? r->snap->name : "", r->n_tasks,
            (r->flags & MS_RUN_DELETE) ? ", mirroring deletions" : "",
            (r->flags & MS_RUN_FORCE_DELETE) ? " (forced)" : "",
            r->snap && r->snap->link ? ", linking to " : "",
            r->snap && r->snap->link ? r->snap->link : "");
    /* Held while its pre_run runs: nothing walked, nothing copied. */
    if (!ms_hookrun_pre(m, r))
        ms_master_release_run(m, r);
    return 0;
}

void ms_master_release_run(ms_master_t *m, ms_runrec_t *r)
{
    /* Queue first: a project the walk's start already runs whole (no
     * walker) is queued by the planner itself, and must be queued once. */
    ms_master_queue_run(m, r);
    ms_planner_start(m->planner, r);
    ms_sched_dispatch(m);
}
