/*
 * ms_resume.c - a restarted master picks its runs up from the catalog:
 * each unfinished run takes its destination's lock again and goes on, its
 * tasks that were running left one lease for their workers to claim (HOLD);
 * a run cancelled, or waiting for its pre_run hook, is ended instead. With
 * a shared catalog, the runs a killed process left unfinished are closed.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_path.h"

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
    if (ms_catalog_load_runs(ms_journal_catalog(m->journal), 0, 1, &runs, &n, err, sizeof err) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!runs[i]->finished || ms_master_find_run(m, runs[i]->id) ||
            ms_master_add_run(m, runs[i]) != 0)
            ms_run_destroy(&runs[i]);
    }
    free(runs);
}

/* A resumed run takes its destination's lock again; another run holds it
 * now (started while this master was down): this one gives up, whole. */
static int resume_lock(ms_master_t *m, ms_runrec_t *r)
{
    char err[PATH_MAX + 512], why[sizeof err + 64];
    if (ms_master_lock_dest(m, r, err, sizeof err) == 0)
        return 0;
    snprintf(why, sizeof why, "not resumed: %s", err);
    ms_error("run %llu %s", (unsigned long long)r->id, why);
    ms_master_fail_unfinished(m, r, why, 1);
    return -1;
}

/*
 * A shared catalog's runs left unfinished by a process that is gone (a
 * killed `multisync run`): one whose destination's lock is free again is
 * closed, its unfinished tasks failed. One still locked is another live
 * process's, and left alone; so is one whose destination cannot be locked
 * here (a remote one: it stays "running" in history). The lock is only
 * looked at: its file is put back as it was, so that the run about to
 * start still sees who left it (a master whose workers may still write).
 */
int ms_master_close_dead_runs(ms_master_t *m)
{
    char err[PATH_MAX + 256], path[PATH_MAX + 32];
    ms_runrec_t **runs = NULL;
    size_t n = 0;
    if (ms_catalog_load_runs(ms_journal_catalog(m->journal), 1, 0, &runs, &n, err, sizeof err) != 0)
        return 0; /* history only: the run goes on */
    for (size_t i = 0; i < n; i++) {
        ms_runrec_t *r = runs[i];
        ms_lock_t *look = NULL;
        snprintf(path, sizeof path, "%s/%s", r->dest, MS_DEST_LOCK);
        if (ms_path_is_remote(r->dest) ||
            !(look = ms_lock_take(path, "destination", "closing a killed run", err, sizeof err)) ||
            ms_master_add_run(m, r) != 0) {
            ms_lock_put_back(&look);
            ms_run_destroy(&runs[i]);
            continue;
        }
        ms_master_fail_unfinished(m, r, "interrupted: the multisync run that ran it was killed", 1);
        ms_lock_put_back(&look);
    }
    free(runs);
    return 0;
}

/* A resumed run's packs are undone (which projects each held is not
 * stored): their projects not done yet run one by one. */
static void unpack(ms_runrec_t *r)
{
    for (size_t i = 0; i < r->n_tasks; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if ((t->flags & MS_TASK_PACK) && t->state != MS_TS_OK && t->state != MS_TS_FAILED) {
            ms_strv_free(t->items, t->n_items);
            t->items = NULL;
            t->n_items = 0;
        }
        if ((t->flags & MS_TASK_PACKED) && t->state == MS_TS_HELD)
            ms_run_set_state(t, MS_TS_QUEUED);
        if (t->state != MS_TS_OK && t->state != MS_TS_FAILED)
            t->flags &= ~(uint32_t)(MS_TASK_PACK | MS_TASK_PACKED);
    }
}

/*
 * A run cancelled before this master stopped is not resumed: what waited
 * ends cancelled; a task that was running waits one lease for its worker,
 * which is told to stop it when it claims it (HOLD), and ends cancelled
 * when it reports it or when no worker claimed it within the lease.
 */
static void finish_cancelled(ms_master_t *m, ms_runrec_t *r)
{
    size_t stopped, dropped;
    adopt_or_requeue_later(m, r);
    ms_master_cancel(m, r, &stopped, &dropped);
    ms_info("run %llu was cancelled: not resumed (%zu task(s) dropped, %zu still running until "
            "their workers stop them)",
            (unsigned long long)r->id, dropped, stopped);
}

/* A run whose pre_run hook was running when the master stopped (the hook
 * was stopped with it): not run without it. Its tasks fail, or end
 * cancelled if it was cancelled; post_run and on_failure follow. */
static void fail_pre_run(ms_master_t *m, ms_runrec_t *r)
{
    r->flags &= ~(uint32_t)MS_RUN_PRE_RUN;
    ms_journal_run_end(m->journal, r);
    ms_warn("run %llu was waiting for its pre_run hook when the master stopped: not resumed",
            (unsigned long long)r->id);
    if (r->flags & MS_RUN_CANCELLED)
        ms_master_end_cancelled(m, r);
    else
        ms_master_fail_unfinished(m, r, "not copied: the master stopped while its pre_run hook ran",
                                  1);
}

int ms_master_resume(ms_master_t *m, char *err, size_t errlen)
{
    ms_runrec_t **runs = NULL;
    size_t n = 0;
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    load_last_finished(m);
    if (ms_catalog_last_run_id(cat, &m->next_run, err, errlen) != 0 ||
        ms_catalog_load_runs(cat, 1, 0, &runs, &n, err, errlen) != 0)
        return -1;
    for (size_t i = n; i-- > 0;) { /* oldest first */
        if (ms_master_add_run(m, runs[i]) != 0) {
            snprintf(err, errlen, "out of memory resuming runs");
            for (size_t j = 0; j <= i; j++)
                ms_run_destroy(&runs[j]);
            free(runs);
            return -1;
        }
        if (ms_catalog_prior_sizes(cat, runs[i], err, errlen) != 0)
            err[0] = '\0'; /* sizes are only for the order and the ETA */
        runs[i]->worker_wait_s = ms_master_worker_wait_of(m, runs[i]->set, 0);
        if (resume_lock(m, runs[i]) != 0)
            continue;
        unpack(runs[i]);
        if (runs[i]->flags & MS_RUN_PRE_RUN) {
            fail_pre_run(m, runs[i]);
            continue;
        }
        if (runs[i]->flags & MS_RUN_CANCELLED) {
            finish_cancelled(m, runs[i]);
            continue;
        }
        ms_master_queue_run(m, runs[i]);
        ms_planner_resume(m->planner, runs[i]); /* after: it queues the projects run whole */
        adopt_or_requeue_later(m, runs[i]);
        ms_info("run %llu resumed: %zu of %zu tasks finished", (unsigned long long)runs[i]->id,
                runs[i]->n_finished, runs[i]->n_tasks);
    }
    free(runs);
    return 0;
}
