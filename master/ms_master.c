/*
 * ms_master.c - the master's lifecycle and loop, its runs, resuming them
 * from the catalog, and the glue that keeps the catalog in step.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "ms_diag.h"
#include "ms_err.h"
#include "ms_path.h"
#include "ms_ipc.h"
#include "ms_keys.h"
#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_report.h"
#include "ms_scan.h"
#include "ms_walk.h"
#include "ms_secure.h"

#define CAT_WARN_EVERY_MS 10000
#define CAT_RETRY_MS 1000

/* --- catalog glue: every state change is written; a commit per turn or few --- */

/* A catalog operation failed. lost: a write's effect may be missing (half
 * there, or SQLite rolled the whole transaction back): the next flush
 * stores everything again before it commits. A commit that failed with
 * its transaction still open loses nothing: the next flush commits again. */
static void cat_failed(ms_master_t *m, const char *err, int lost)
{
    int64_t now = ms_now_ms();
    m->cat_lost |= lost;
    m->cat_failing = 1;
    if (now - m->cat_warned_ms >= CAT_WARN_EVERY_MS || m->cat_warned_ms == 0) {
        ms_error("catalog write failed, tasks are held back until it works again: %s", err);
        m->cat_warned_ms = now;
    }
}

/* SQLite rolls a transaction back by itself on some failures: what it held
 * is lost, and writes must not go on in autocommit mode. */
static void cat_sync_txn(ms_master_t *m)
{
    if (m->in_txn && !ms_catalog_in_txn(m->cat)) {
        m->in_txn = 0;
        m->cat_lost = 1;
    }
}

static int cat_begin(ms_master_t *m)
{
    char err[512];
    if (!m->cat)
        return 0;
    cat_sync_txn(m);
    if (m->in_txn)
        return 0;
    if (ms_catalog_begin(m->cat, err, sizeof err) != 0) {
        cat_failed(m, err, 1); /* the writes that wanted it are not done */
        return -1;
    }
    m->in_txn = 1;
    m->txn_since_ms = ms_now_ms();
    return 0;
}

void ms_cat_task(ms_master_t *m, const ms_trec_t *t)
{
    char err[512];
    if (!m->cat || cat_begin(m) != 0)
        return;
    t->run->cat_dirty = 1;
    /* Handing out changes a worker's task count: stored once per commit. */
    if (t->state == MS_TS_RUNNING)
        t->run->workers_dirty = 1;
    if (ms_catalog_update_task(m->cat, t, err, sizeof err) != 0)
        cat_failed(m, err, 1);
}

void ms_cat_task_whole(ms_master_t *m, const ms_trec_t *t)
{
    char err[512];
    if (m->cat)
        t->run->cat_dirty = 1;
    if (m->cat && cat_begin(m) == 0 && ms_catalog_save_task(m->cat, t, err, sizeof err) != 0)
        cat_failed(m, err, 1);
}

void ms_cat_run_end(ms_master_t *m, ms_runrec_t *r)
{
    char err[512];
    if (m->cat)
        r->cat_dirty = 1;
    if (m->cat && cat_begin(m) == 0 && ms_catalog_save_run_end(m->cat, r, err, sizeof err) != 0)
        cat_failed(m, err, 1);
}

void ms_cat_ntasks(ms_master_t *m, ms_runrec_t *r)
{
    char err[512];
    if (m->cat)
        r->cat_dirty = 1;
    if (m->cat && cat_begin(m) == 0 && ms_catalog_save_ntasks(m->cat, r, err, sizeof err) != 0)
        cat_failed(m, err, 1);
}

/* Store again, whole, every run written since the last commit, after
 * writes were lost (a run the catalog already holds as it is, such as a
 * finished one, is left alone: a restore stalls the loop). */
static int cat_restore(ms_master_t *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < m->n_runs; i++) {
        ms_runrec_t *r = m->runs[i];
        if (!r->cat_dirty)
            continue;
        if (ms_catalog_save_run(m->cat, r, err, errlen) != 0 ||
            (r->finished && ms_catalog_save_run_end(m->cat, r, err, errlen) != 0))
            return -1;
        r->workers_dirty = 0;
    }
    return 0;
}

static int cat_flush(ms_master_t *m, int force)
{
    char err[512] = "";
    if (!m->cat)
        return 0;
    cat_sync_txn(m);
    if (!m->in_txn && !m->cat_lost)
        return 0;
    /* Storing runs again is heavy, and BEGIN may wait for a lock: once a
     * second while it fails (unless the master is about to exit). */
    if (m->cat_lost && m->cat_failing && !force && ms_now_ms() < m->cat_retry_ms)
        return -1;
    if (cat_begin(m) != 0) {
        m->cat_retry_ms = ms_now_ms() + CAT_RETRY_MS;
        return -1;
    }
    if (m->cat_lost && cat_restore(m, err, sizeof err) != 0)
        goto fail;
    for (size_t i = 0; i < m->n_runs; i++) {
        ms_runrec_t *r = m->runs[i];
        if (r->workers_dirty && ms_catalog_save_workers(m->cat, r, err, sizeof err) != 0)
            goto fail;
    }
    if (ms_catalog_commit(m->cat, err, sizeof err) != 0) {
        /* Still open: nothing lost, commit again next time. */
        cat_failed(m, err, !ms_catalog_in_txn(m->cat));
        goto out;
    }
    if (m->cat_failing)
        ms_info("catalog writes work again: it holds every change");
    m->in_txn = 0;
    m->cat_lost = 0;
    m->cat_failing = 0;
    for (size_t i = 0; i < m->n_runs; i++)
        m->runs[i]->workers_dirty = m->runs[i]->cat_dirty = 0;
    return 0;
fail:
    cat_failed(m, err, 1);
out:
    m->cat_retry_ms = ms_now_ms() + CAT_RETRY_MS;
    if (!ms_catalog_in_txn(m->cat))
        m->in_txn = 0;
    return -1; /* what is open stays open; the next flush tries again */
}

int ms_cat_flush(ms_master_t *m)
{
    return cat_flush(m, 0);
}

/* --- runs ----------------------------------------------------------------------- */

ms_runrec_t *ms_master_find_run(const ms_master_t *m, uint64_t run_id)
{
    for (size_t i = 0; i < m->n_runs; i++)
        if (m->runs[i]->id == run_id)
            return m->runs[i];
    return NULL;
}

/* Forget the oldest finished runs once too many are kept in memory (the
 * catalog still has them). */
static void trim_runs(ms_master_t *m)
{
    size_t finished = 0;
    for (size_t i = 0; i < m->n_runs; i++)
        finished += m->runs[i]->finished;
    for (size_t i = 0; i < m->n_runs && finished > MS_KEEP_FINISHED_RUNS;) {
        if (!m->runs[i]->finished) {
            i++;
            continue;
        }
        ms_sched_remove_run(m, m->runs[i]);
        ms_run_destroy(&m->runs[i]);
        memmove(&m->runs[i], &m->runs[i + 1], (m->n_runs - i - 1) * sizeof *m->runs);
        m->n_runs--;
        finished--;
    }
}

static int add_run(ms_master_t *m, ms_runrec_t *r)
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
static void queue_run(ms_master_t *m, ms_runrec_t *r)
{
    for (size_t i = 0; i < r->n_tasks; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if (t->state == MS_TS_QUEUED ||
            (t->state == MS_TS_HELD && !ms_run_task_waits(r, t)))
            ms_sched_push(m, t, 0);
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
static unsigned worker_wait_of(const ms_master_t *m, const char *set, unsigned asked)
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

/*
 * A destination lock left by a master that died (not released: its line is
 * still in the file) whose workers may still be writing: they stop their
 * rsyncs within one lease of the master's last heartbeat answer. The lock
 * file is touched every tick, so its age says about when that was.
 */
static int check_dead_holder(ms_runrec_t *r, char *err, size_t errlen)
{
    double age = 0;
    const char *prev = ms_lock_previous(r->dest_lock, &age);
    const char *lease = strstr(prev, "workers' lease ");
    unsigned lease_ms = 0;
    if (!lease || sscanf(lease, "workers' lease %u ms", &lease_ms) != 1 ||
        age * 1000 >= lease_ms)
        return 0;
    ms_errf(err, errlen, "destination %s was in use by %s, which ended %.1f s ago without "
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
static int lock_dest(ms_master_t *m, ms_runrec_t *r, char *err, size_t errlen)
{
    char path[PATH_MAX + 32], what[PATH_MAX + 32], holder[PATH_MAX + 128];
    for (size_t i = 0; i < m->n_runs; i++)
        if (!m->runs[i]->finished && m->runs[i] != r && same_dest(m->runs[i]->dest, r->dest))
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
        snprintf(holder + n, sizeof holder - (size_t)n, ", workers' lease %d ms",
                 m->heartbeat_ms * MS_HEARTBEAT_LIVENESS);
    if ((r->dest_lock = ms_lock_take(path, what, holder, err, errlen)) != NULL)
        return check_dead_holder(r, err, errlen);
    if (errno == EWOULDBLOCK)
        return -1;
    ms_warn("run %llu: %s: only this master's own runs are kept out of %s", (unsigned long long)r->id,
            err, r->dest);
    err[0] = '\0';
    return 0;
}

int ms_master_start_run(ms_master_t *m, const ms_run_req_t *req, uint64_t *run_id, char *err,
                        size_t errlen)
{
    const char *source = req->source, *dest = req->dest, *set = req->set;
    uint32_t flags = req->flags;
    ms_scan_t scan;
    err[0] = '\0';
    if (ms_scan_root(source, &scan, err, errlen) != 0)
        return -1;
    if (check_source(source, &scan, err, errlen) != 0) {
        ms_scan_free(&scan);
        return -1;
    }
    ms_runrec_t *r = ms_run_new(m->next_run + 1, source, dest, set);
    int added = r ? ms_run_add_projects(r, scan.projects, scan.n_projects, MS_TS_SCANNING) : -1;
    ms_scan_free(&scan);
    if (added != 0) {
        snprintf(err, errlen, "out of memory starting a run");
        ms_run_destroy(&r);
        return -1;
    }
    if (lock_dest(m, r, err, errlen) != 0 || add_run(m, r) != 0) {
        if (!err[0])
            snprintf(err, errlen, "out of memory starting a run");
        ms_run_destroy(&r);
        return -1;
    }
    m->next_run++;
    r->flags = flags;
    r->worker_wait_s = worker_wait_of(m, set, req->worker_wait_s);
    r->cat_dirty = 1;
    if (m->cat && (cat_begin(m) != 0 || ms_catalog_save_run(m->cat, r, err, errlen) != 0 ||
                   ms_cat_flush(m) != 0)) {
        m->n_runs--;
        ms_run_destroy(&r);
        /* The refused run's rows must not be committed later: undo the
         * whole transaction, and store every other run again. */
        ms_catalog_rollback(m->cat);
        m->in_txn = 0;
        m->cat_lost = 1;
        if (!err[0])
            snprintf(err, errlen, "cannot record the run in the catalog");
        return -1;
    }
    if (m->cat && ms_catalog_prior_sizes(m->cat, r, err, errlen) != 0)
        ms_warn("run %llu: no sizes from earlier runs: %s", (unsigned long long)r->id, err);
    /* Queue first: a project the walk's start already runs whole (no
     * walker) is pushed by ms_chunks_start itself, and must be pushed once. */
    queue_run(m, r);
    ms_chunks_start(m, r);
    trim_runs(m);
    *run_id = r->id;
    ms_info("run %llu started: %s -> %s, %zu tasks%s%s", (unsigned long long)r->id, source, dest,
            r->n_tasks, (flags & MS_RUN_DELETE) ? ", mirroring deletions" : "",
            (flags & MS_RUN_FORCE_DELETE) ? " (forced)" : "");
    ms_sched_dispatch(m);
    return 0;
}

static void log_done(const ms_trec_t *t)
{
    char name[512], msg[2048];
    ms_report_task_log(t, name, sizeof name);
    ms_log_safe(t->result.message ? t->result.message : "", msg, sizeof msg);
    if (t->state == MS_TS_OK)
        ms_info("run %llu: %s ok on %s in %.1f s (attempt %u)%s", (unsigned long long)t->run->id,
                name, t->host, t->result.seconds, t->attempts,
                t->result.exit_code == 24 ? " (some source files vanished meanwhile)" : "");
    else
        ms_warn("run %llu: %s failed on %s after %u attempt(s) (exit %d): %s",
                (unsigned long long)t->run->id, name, t->host, t->attempts,
                t->result.exit_code, msg);
}

void ms_master_task_done(ms_master_t *m, ms_trec_t *t)
{
    ms_runrec_t *run = t->run;
    ms_trec_t *rel[2];
    int n_rel = ms_run_task_final(run, t, rel);
    log_done(t);
    ms_cat_task(m, t);
    for (int i = 0; i < n_rel; i++) {
        ms_sched_push(m, rel[i], 0);
        ms_cat_task(m, rel[i]);
    }
    if (run->finished) {
        ms_lock_release(&run->dest_lock);
        if (ms_diag_freeze(run) != 0)
            ms_error("out of memory keeping the diagnosis of run %llu", (unsigned long long)run->id);
        ms_cat_run_end(m, run);
        if (ms_cat_flush(m) != 0)
            ms_error("run %llu finished but its end could not be recorded",
                     (unsigned long long)run->id);
        ms_info("run %llu finished: %zu tasks, %zu failed", (unsigned long long)run->id,
                run->n_tasks, run->n_failed);
        ms_control_run_done(m, run);
    }
}

void ms_master_fail_unfinished(ms_master_t *m, ms_runrec_t *r, const char *why, int running_too)
{
    ms_chunks_cancel(r);
    ms_sched_remove_run(m, r);
    for (size_t i = 0; i < r->n_tasks && !r->finished; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if (t->state != MS_TS_QUEUED && t->state != MS_TS_HELD && t->state != MS_TS_SCANNING &&
            !(running_too && t->state == MS_TS_RUNNING))
            continue;
        ms_result_t res = {.run_id = r->id, .task_id = t->id, .attempt = t->attempts,
                           .exit_code = MS_EXIT_REFUSED, .message = strdup(why)};
        r->n_scanning -= t->state == MS_TS_SCANNING;
        ms_run_set_result(t, &res);
        ms_master_task_done(m, t);
    }
    ms_sched_remove_run(m, r); /* what those releases queued */
}

int ms_master_run_lock_fd(const ms_master_t *m, uint64_t run_id)
{
    const ms_runrec_t *r = ms_master_find_run(m, run_id);
    return r ? ms_lock_fd(r->dest_lock) : -1;
}

int ms_master_run_finished(const ms_master_t *m, uint64_t run_id)
{
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    return r ? r->finished : -1;
}

json_t *ms_master_report(ms_master_t *m, uint64_t run_id)
{
    return ms_master_report_page(m, run_id, 0, SIZE_MAX);
}

json_t *ms_master_report_page(ms_master_t *m, uint64_t run_id, size_t from, size_t count)
{
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    if (r)
        return ms_report_json_page(r, from, count, 0);
    if (!m->cat)
        return NULL;
    /* An older run, from the catalog: kept while its pages are asked for. */
    if (!m->old_run || m->old_run->id != run_id) {
        char err[256];
        ms_run_destroy(&m->old_run);
        m->old_run = ms_catalog_load_run(m->cat, run_id, err, sizeof err);
    }
    return m->old_run ? ms_report_json_page(m->old_run, from, count, 0) : NULL;
}

/* --- resume ------------------------------------------------------------------------ */

/* Tasks stored RUNNING: their workers may still run them and claim them
 * with HOLD within a lease; after that they run again. The worker ids they
 * name were the last master's: this one numbers its workers afresh. */
static void adopt_or_requeue_later(ms_master_t *m, ms_runrec_t *r)
{
    for (size_t i = 0; i < r->n_tasks; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if (t->state != MS_TS_RUNNING)
            continue;
        t->worker_id[0] = '\0';
        ms_workers_make_orphan(m, t);
    }
}

/* The newest finished run, so that status can tell about it after a restart. */
static void load_last_finished(ms_master_t *m)
{
    ms_runrec_t **runs = NULL;
    size_t n = 0;
    char err[256];
    if (ms_catalog_load_runs(m->cat, 0, 1, &runs, &n, err, sizeof err) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!runs[i]->finished || ms_master_find_run(m, runs[i]->id) || add_run(m, runs[i]) != 0)
            ms_run_destroy(&runs[i]);
    }
    free(runs);
}

/* A resumed run takes its destination's lock again; another run holds it
 * now (started while this master was down): this one gives up, whole. */
static int resume_lock(ms_master_t *m, ms_runrec_t *r)
{
    char err[PATH_MAX + 512], why[sizeof err + 64];
    if (lock_dest(m, r, err, sizeof err) == 0)
        return 0;
    snprintf(why, sizeof why, "not resumed: %s", err);
    ms_error("run %llu %s", (unsigned long long)r->id, why);
    ms_master_fail_unfinished(m, r, why, 1);
    return -1;
}

static int resume(ms_master_t *m, char *err, size_t errlen)
{
    ms_runrec_t **runs = NULL;
    size_t n = 0;
    load_last_finished(m);
    if (ms_catalog_last_run_id(m->cat, &m->next_run, err, errlen) != 0 ||
        ms_catalog_load_runs(m->cat, 1, 0, &runs, &n, err, errlen) != 0)
        return -1;
    for (size_t i = n; i-- > 0;) { /* oldest first */
        if (add_run(m, runs[i]) != 0) {
            snprintf(err, errlen, "out of memory resuming runs");
            for (size_t j = 0; j <= i; j++)
                ms_run_destroy(&runs[j]);
            free(runs);
            return -1;
        }
        if (ms_catalog_prior_sizes(m->cat, runs[i], err, errlen) != 0)
            err[0] = '\0'; /* sizes are only for the order and the ETA */
        runs[i]->worker_wait_s = worker_wait_of(m, runs[i]->set, 0);
        if (resume_lock(m, runs[i]) != 0)
            continue;
        queue_run(m, runs[i]);
        ms_chunks_resume(m, runs[i]); /* after: it pushes the projects it runs whole */
        adopt_or_requeue_later(m, runs[i]);
        ms_info("run %llu resumed: %zu of %zu tasks finished", (unsigned long long)runs[i]->id,
                runs[i]->n_finished, runs[i]->n_tasks);
    }
    free(runs);
    return 0;
}

/* --- security ---------------------------------------------------------------------- */

int ms_master_log_once(ms_master_t *m, const ms_peer_t *peer, const char *kind)
{
    char key[128], pid[40];
    snprintf(key, sizeof key, "%s/%s", ms_peer_str(peer, pid, sizeof pid), kind);
    return !m->recent || ms_recent_first(m->recent, key, ms_now_ms(), NULL);
}

int ms_master_peer_allowed(ms_master_t *m, const ms_peer_t *peer, const char *domain)
{
    int curve = strcmp(domain, "workers") == 0 ? m->curve_workers : m->curve_control;
    if (!curve)
        return 1;
    if (ms_zap_allows_name(m->zap, domain, peer->user_id))
        return 1;
    if (ms_master_log_once(m, peer, "revoked"))
        ms_warn("refusing messages from '%s' on the %s socket: its key is no longer authorized",
                peer->user_id, domain);
    return 0;
}

static void on_zap_warning(void *arg, const char *domain, const char *message)
{
    (void)arg;
    ms_warn("%s keys: %s", domain, message);
}

static void on_zap_denied(void *arg, const ms_zap_denial_t *d)
{
    ms_master_t *m = arg;
    char key[256];
    snprintf(key, sizeof key, "zap/%s/%s/%s", d->domain, d->address, d->key);
    if (!m->recent || ms_recent_first(m->recent, key, ms_now_ms(), NULL))
        ms_warn("refused a %s connection from %s: %s (key %s)", d->domain,
                d->address[0] ? d->address : "a local peer", d->reason,
                d->key[0] ? d->key : "none");
}

static void on_handshake_failed(void *arg, const ms_monitor_event_t *ev)
{
    (void)arg;
    ms_warn("handshake failed on %s: %s%s", ev->address, ev->what,
            ev->suppressed ? " (and more like it)" : "");
}

/* Which sockets need CURVE, and is everything there for it? */
static int security_plan(ms_master_t *m, const ms_master_opts_t *o, char *err, size_t errlen)
{
    int net_w = ms_endpoint_is_network(o->listen);
    int net_c = o->control && ms_endpoint_is_network(o->control);
    if (!net_w && !net_c)
        return 0;
    if (!o->key) {
        if (o->insecure) {
            ms_warn("INSECURE: network endpoints without CURVE: anyone who reaches them can "
                    "take tasks, send results and start runs");
            return 0;
        }
        snprintf(err, errlen, "network endpoints need --key MASTER.key and --authorized DIR "
                              "(CURVE), or --insecure for plaintext");
        return -1;
    }
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq was built without CURVE: cannot secure %s",
                 net_w ? o->listen : o->control);
        return -1;
    }
    if (net_w && !o->authorized) {
        snprintf(err, errlen, "%s needs --authorized DIR (the workers' .pub files)", o->listen);
        return -1;
    }
    if (net_c && !o->admin_keys) {
        snprintf(err, errlen, "%s needs --admin-keys DIR (the admins' .pub files), or use an "
                              "ipc:// control endpoint", o->control);
        return -1;
    }
    m->curve_workers = net_w;
    m->curve_control = net_c;
    return 0;
}

/* The ZAP handler, bound before any CURVE server socket. */
static int start_zap(ms_master_t *m, const ms_master_opts_t *o, char *err, size_t errlen)
{
    if (!m->curve_workers && !m->curve_control)
        return 0;
    if (!(m->zap = ms_zap_new(m->ctx, err, errlen)))
        return -1;
    ms_zap_set_hooks(m->zap, on_zap_warning, on_zap_denied, m);
    if (m->curve_workers && ms_zap_allow_dir(m->zap, "workers", o->authorized, err, errlen) != 0)
        return -1;
    if (m->curve_control && ms_zap_allow_dir(m->zap, "control", o->admin_keys, err, errlen) != 0)
        return -1;
    ms_info("CURVE on: %zu worker key(s), %zu admin key(s)",
            ms_zap_key_count(m->zap, "workers"), ms_zap_key_count(m->zap, "control"));
    return 0;
}

int ms_master_reload(ms_master_t *m, char *err, size_t errlen)
{
    if (!m->zap) {
        snprintf(err, errlen, "no keys to reload: CURVE is off");
        return -1;
    }
    if (ms_zap_reload(m->zap, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < m->n_workers;) {
        ms_wrec_t *w = m->workers[i];
        if (m->curve_workers && !ms_zap_allows_name(m->zap, "workers", w->peer.user_id)) {
            ms_worker_remove(m, w, "its key was revoked", 0);
            continue;
        }
        i++;
    }
    ms_info("keys reloaded: %zu worker key(s), %zu admin key(s)",
            ms_zap_key_count(m->zap, "workers"), ms_zap_key_count(m->zap, "control"));
    return 0;
}

/* --- lifecycle and loop ---------------------------------------------------------------- */

/* mode: of an ipc:// socket file (ms_ipc_bind). */
static void *bind_router(ms_master_t *m, const char *ep, mode_t mode, int curve,
                         const ms_keypair_t *kp, const char *domain, ms_monitor_t **mon, char *err,
                         size_t errlen)
{
    void *s = zmq_socket(m->ctx, ZMQ_ROUTER);
    if (!s || ms_wire_setup(s, 100) != 0 || (curve && ms_curve_server(s, kp, domain) != 0)) {
        snprintf(err, errlen, "cannot set up a socket for %s: %s", ep, zmq_strerror(errno));
        goto fail;
    }
    if (ms_endpoint_is_network(ep) && !(*mon = ms_monitor_new(m->ctx, s, err, errlen)))
        goto fail;
    if (ms_ipc_bind(s, ep, mode, err, errlen) != 0)
        goto fail;
    return s;
fail:
    if (s)
        zmq_close(s);
    return NULL;
}

static void set_defaults(ms_master_t *m, const ms_master_opts_t *o)
{
    m->opts = *o;
    m->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : MS_HEARTBEAT_MS;
    m->attempts = o->attempts > 0 ? o->attempts : 3;
    m->retry_delay_ms = o->retry_delay_ms > 0 ? o->retry_delay_ms : 1000;
    m->recent = ms_recent_new(512, 60000);
}

static int bind_all(ms_master_t *m, const ms_master_opts_t *o, char *err, size_t errlen)
{
    ms_keypair_t *kp = NULL;
    int rc = -1;
    if ((m->curve_workers || m->curve_control) &&
        !(kp = ms_keypair_load(o->key, err, errlen)))
        return -1;
    /* Only workers need the worker socket; the control socket's group may
     * start runs and read status. */
    m->wsock =
        bind_router(m, o->listen, 0600, m->curve_workers, kp, "workers", &m->wmon, err, errlen);
    if (!m->wsock)
        goto out;
    if (o->control && !(m->csock = bind_router(m, o->control, 0660, m->curve_control, kp, "control",
                                               &m->cmon, err, errlen)))
        goto out;
    rc = 0;
out:
    ms_keypair_destroy(&kp); /* libzmq keeps its own copy */
    return rc;
}

/* Who holds the master's locks, for whoever is refused them. */
static void describe(const ms_master_opts_t *o, char *out, size_t outlen)
{
    snprintf(out, outlen, "pid %d %s, catalog %s, workers %s, control %s", (int)getpid(),
             program_invocation_short_name, o->catalog ? o->catalog : "none", o->listen,
             o->control ? o->control : "none");
}

/* A second master on the same catalog would resume this one's runs and
 * start the same rsyncs into the same backups, and number its runs alike. */
static int lock_catalog(ms_master_t *m, const char *catalog, const char *holder, char *err,
                        size_t errlen)
{
    char path[PATH_MAX], what[PATH_MAX + 16];
    if ((size_t)snprintf(path, sizeof path, "%s.lock", catalog) >= sizeof path) {
        snprintf(err, errlen, "catalog %s: path too long", catalog);
        return -1;
    }
    snprintf(what, sizeof what, "catalog %s", catalog);
    m->cat_lock = ms_lock_take(path, what, holder, err, errlen);
    return m->cat_lock ? 0 : -1;
}

/* Every lock first, so that a second master is refused before it opens
 * or resumes anything; the sockets are bound last, once all is ready. */
static int lock_all(ms_master_t *m, const ms_master_opts_t *o, char *err, size_t errlen)
{
    char holder[3 * PATH_MAX];
    describe(o, holder, sizeof holder);
    if (o->catalog && lock_catalog(m, o->catalog, holder, err, errlen) != 0)
        return -1;
    if (ms_ipc_claim(o->listen, holder, &m->wsock_lock, err, errlen) != 0)
        return -1;
    if (o->control && ms_ipc_claim(o->control, holder, &m->csock_lock, err, errlen) != 0)
        return -1;
    return 0;
}

ms_master_t *ms_master_new(const ms_master_opts_t *o, char *err, size_t errlen)
{
    ms_master_t *m = calloc(1, sizeof *m);
    if (!m || !(m->ctx = zmq_ctx_new())) {
        snprintf(err, errlen, "out of memory");
        free(m);
        return NULL;
    }
    set_defaults(m, o);
    if (security_plan(m, o, err, errlen) != 0 || start_zap(m, o, err, errlen) != 0)
        goto fail;
    if (lock_all(m, o, err, errlen) != 0)
        goto fail;
    if (o->catalog && (!(m->cat = ms_catalog_open(o->catalog, err, errlen)) ||
                       resume(m, err, errlen) != 0))
        goto fail;
    if (bind_all(m, o, err, errlen) != 0)
        goto fail;
    return m;
fail:
    ms_master_destroy(&m);
    return NULL;
}

static void send_bye_all(ms_master_t *m, const char *reason, int reconnect)
{
    char err[256];
    ms_msg_t bye = {.cmd = MS_CMD_BYE};
    bye.u.text.message = (char *)reason;
    bye.u.text.reconnect = (uint32_t)reconnect;
    for (size_t i = 0; i < m->n_workers; i++)
        (void)ms_wire_send(m->wsock, &m->workers[i]->peer, &bye, err, sizeof err);
}

void ms_master_interrupt(ms_master_t *m, const char *reason)
{
    m->stopping = 1;
    send_bye_all(m, reason, 0);
}

void ms_master_dismiss_workers(ms_master_t *m, const char *reason)
{
    send_bye_all(m, reason, 0);
    ms_master_forget_workers(m, reason);
}

void ms_master_forget_workers(ms_master_t *m, const char *reason)
{
    while (m->n_workers > 0)
        ms_worker_remove(m, m->workers[m->n_workers - 1], reason, 1);
    cat_flush(m, 1); /* last chance: no throttle */
}

void ms_master_shutdown(ms_master_t *m)
{
    send_bye_all(m, "master restarting", 1);
    cat_flush(m, 1); /* last chance: no throttle */
}

void ms_master_destroy(ms_master_t **mp)
{
    if (!mp || !*mp)
        return;
    ms_master_t *m = *mp;
    cat_flush(m, 1); /* last chance: no throttle */
    ms_monitor_destroy(&m->wmon);
    ms_monitor_destroy(&m->cmon);
    if (m->wsock)
        zmq_close(m->wsock);
    if (m->csock)
        zmq_close(m->csock);
    ms_zap_destroy(&m->zap);
    if (m->ctx)
        zmq_ctx_term(m->ctx);
    ms_recent_destroy(&m->recent);
    ms_catalog_close(&m->cat);
    /* Last: the next master may start once the catalog is closed and the
     * sockets are gone. */
    ms_lock_release(&m->cat_lock);
    ms_lock_release(&m->wsock_lock);
    ms_lock_release(&m->csock_lock);
    for (size_t i = 0; i < m->n_runs; i++)
        ms_run_destroy(&m->runs[i]);
    for (size_t i = 0; i < m->n_workers; i++) {
        free(m->workers[i]->host.cores);
        free(m->workers[i]);
    }
    ms_run_destroy(&m->old_run);
    free(m->runs);
    free(m->workers);
    free(m->queue);
    free(m->delayed);
    free(m->waiters);
    free(m);
    *mp = NULL;
}

unsigned ms_master_workers(const ms_master_t *m)
{
    return (unsigned)m->n_workers;
}

/* Size of the catalog's write-ahead log after which it is checkpointed even
 * during a run. */
#define CHECKPOINT_WAL_BYTES (256LL * 1024 * 1024)

static long long wal_bytes(const ms_master_t *m)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s-wal", m->opts.catalog);
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Checkpoint the catalog when no run is going (a checkpoint stalls the
 * loop for a while), or when the log has grown too large to wait. */
static void maybe_checkpoint(ms_master_t *m)
{
    char err[256];
    int busy = 0;
    if (!m->cat || m->in_txn || ms_now_ms() < m->next_checkpoint_ms)
        return;
    m->next_checkpoint_ms = ms_now_ms() + 10000;
    for (size_t i = 0; i < m->n_runs && !busy; i++)
        busy = !m->runs[i]->finished;
    if (busy && wal_bytes(m) < CHECKPOINT_WAL_BYTES)
        return;
    if (ms_catalog_checkpoint(m->cat, NULL, err, sizeof err) != 0)
        ms_warn("%s", err);
}

/*
 * Group commit. Results that come within GROUP_COMMIT_MS of the first
 * change not yet committed share its commit, and so its fsync: a flood of
 * small tasks costs one fsync per few milliseconds instead of one per few
 * results. Tasks are handed out after the commit (durable before sent), so
 * a free slot waits at most this long for its next task.
 */
#define GROUP_COMMIT_MS 2

static int64_t commit_due_ms(const ms_master_t *m)
{
    return m->txn_since_ms + GROUP_COMMIT_MS;
}

/* Whether a task waiting for its retry may go now. */
static int retry_due(const ms_master_t *m)
{
    int64_t now = ms_now_ms();
    for (size_t i = 0; i < m->n_delayed; i++)
        if (m->delayed[i]->not_before_ms <= now)
            return 1;
    return 0;
}

/* How long the loop may sleep: until the next tick, the next retry, or
 * the open transaction's commit. */
static int poll_timeout(const ms_master_t *m, int timeout_ms)
{
    int64_t now = ms_now_ms(), until = m->next_tick_ms - now;
    for (size_t i = 0; i < m->n_delayed; i++)
        if (m->delayed[i]->not_before_ms - now < until)
            until = m->delayed[i]->not_before_ms - now;
    /* Only a commit still ahead: one that failed is retried next turn, not
     * in a busy loop. */
    if (m->in_txn && commit_due_ms(m) > now && commit_due_ms(m) - now < until)
        until = commit_due_ms(m) - now;
    if (until < 0)
        until = 0;
    return timeout_ms < 0 || timeout_ms > until ? (int)until : timeout_ms;
}

/* The sockets to poll: workers, control, ZAP, monitors (absent ones are
 * left out; their slot stays NULL and is skipped). */
static int poll_items(ms_master_t *m, zmq_pollitem_t *items, void **which)
{
    void *socks[5] = {m->wsock, m->csock, m->zap ? ms_zap_socket(m->zap) : NULL,
                      m->wmon ? ms_monitor_socket(m->wmon) : NULL,
                      m->cmon ? ms_monitor_socket(m->cmon) : NULL};
    int n = 0;
    for (int i = 0; i < 5; i++) {
        if (!socks[i])
            continue;
        items[n] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
        which[n++] = socks[i];
    }
    return n;
}

/* The walks going on, after the sockets: at most MAX_WALKS of them (more
 * runs at once are looked at every tick). */
#define MAX_WALKS 8

static int walk_items(ms_master_t *m, zmq_pollitem_t *items, ms_runrec_t **runs)
{
    int n = 0;
    for (size_t i = 0; i < m->n_runs && n < MAX_WALKS; i++)
        if (m->runs[i]->walker) {
            items[n] = (zmq_pollitem_t){NULL, ms_walker_fd(m->runs[i]->walker), ZMQ_POLLIN, 0};
            runs[n++] = m->runs[i];
        }
    return n;
}

int ms_master_poll(ms_master_t *m, int timeout_ms)
{
    zmq_pollitem_t items[5 + MAX_WALKS];
    void *which[5];
    ms_runrec_t *walking[MAX_WALKS];
    int n = poll_items(m, items, which);
    int n_walks = walk_items(m, items + n, walking);
    int more = 0;
    if (zmq_poll(items, n + n_walks, poll_timeout(m, timeout_ms)) < 0)
        return -1;
    for (int i = 0; i < n_walks; i++)
        if (items[n + i].revents & ZMQ_POLLIN)
            ms_chunks_update(m, walking[i]);
    for (int i = 0; i < n; i++) {
        if (!(items[i].revents & ZMQ_POLLIN))
            continue;
        if (which[i] == m->wsock)
            more = ms_workers_read(m);
        else if (which[i] == m->csock)
            ms_control_handle(m);
        else if (m->zap && which[i] == ms_zap_socket(m->zap))
            ms_zap_handle(m->zap);
        else if (m->wmon && which[i] == ms_monitor_socket(m->wmon))
            ms_monitor_handle(m->wmon, on_handshake_failed, m);
        else if (m->cmon && which[i] == ms_monitor_socket(m->cmon))
            ms_monitor_handle(m->cmon, on_handshake_failed, m);
    }
    if (ms_now_ms() >= m->next_tick_ms) {
        m->next_tick_ms = ms_now_ms() + m->heartbeat_ms / 2;
        ms_workers_tick(m);
        for (size_t i = 0; i < m->n_runs; i++) {
            if (m->runs[i]->walker)
                ms_chunks_update(m, m->runs[i]);
            /* The lock's age tells a later taker when this master was alive. */
            if (m->runs[i]->dest_lock)
                ms_lock_touch(m->runs[i]->dest_lock);
        }
        maybe_checkpoint(m);
    }
    /* Big projects wait for the total and for slots: a worker that just
     * joined lets them be split now, not a tick later. */
    for (size_t i = 0; i < m->n_runs; i++)
        if (m->runs[i]->n_waiting)
            ms_chunks_update(m, m->runs[i]);
    /* Gather more results into the open transaction until its commit is
     * due, unless a full batch is already waiting, or a retry is due (the
     * loop would not sleep meanwhile). */
    if (m->in_txn && !more && !m->stopping && ms_now_ms() < commit_due_ms(m) && !retry_due(m))
        return 0;
    ms_sched_dispatch(m);
    ms_cat_flush(m);
    return 0;
}
