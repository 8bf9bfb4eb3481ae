/*
 * ms_master.c - the master's lifecycle, its poll loop and tick, and its
 * runs once started (ms_start.c starts them, ms_resume.c takes them up
 * after a restart): a task's end, a run's end (its snapshot completed,
 * retention), giving a run up, cancelling it.
 * What it reaches through owners: the queue and dispatch (ms_sched.c), the
 * workers (ms_workers.c, ms_fleet), the catalog (ms_journal), security
 * (ms_guard), planning (ms_planner).
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
#include "ms_ipc.h"
#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_label.h"
#include "ms_jnum.h"
#include "ms_report.h"
#include "ms_snapshot.h"

/* ZMQ_ZERO_COPY_RECV, a context option libzmq 4.3 keeps among its drafts. */
#define MS_ZMQ_ZERO_COPY_RECV 10

/* --- the planner's decisions ------------------------------------------------------ */

static void on_whole(void *arg, ms_trec_t *t)
{
    ms_sched_enqueue(arg, t, 0);
}

static void on_split(void *arg, ms_trec_t *rest, size_t first, size_t n)
{
    ms_master_t *m = arg;
    ms_runrec_t *r = rest->run;
    ms_journal_task_whole(m->journal, rest);
    for (size_t i = first; i < first + n; i++) {
        ms_trec_t *c = ms_run_at(r, i);
        ms_journal_task_whole(m->journal, c);
        ms_sched_enqueue(m, c, 0);
    }
    ms_journal_ntasks(m->journal, r);
}

static void on_pack(void *arg, ms_trec_t *lead)
{
    ms_master_t *m = arg;
    ms_journal_task_whole(m->journal, lead);
    for (uint32_t i = 0; i < lead->n_items; i++)
        ms_journal_task_whole(m->journal, ms_run_at(lead->run, lead->members[i]));
    ms_sched_enqueue(m, lead, 0);
}

static int on_unchanged(void *arg, const ms_trec_t *t)
{
    ms_master_t *m = arg;
    return ms_unchanged_find(m->unchanged, t, NULL) != NULL; /* a snapshot's: carried over */
}

/* Decide what the walks of r allow now, with the workers' usable slots. */
static void plan(ms_master_t *m, ms_runrec_t *r)
{
    ms_planner_update(m->planner, r, ms_fleet_slots(m->fleet, 1, NULL));
}

/* --- runs ----------------------------------------------------------------------- */

ms_runrec_t *ms_master_find_run(const ms_master_t *m, uint64_t run_id)
{
    for (size_t i = 0; i < m->n_runs; i++)
        if (m->runs[i]->id == run_id)
            return m->runs[i];
    return NULL;
}

static void log_done(const ms_trec_t *t)
{
    char name[512], msg[2048];
    ms_label_task_log(t, name, sizeof name);
    ms_log_safe(t->result.message ? t->result.message : "", msg, sizeof msg);
    if (t->state == MS_TS_OK && ms_result_unchanged(&t->result))
        ms_info("run %llu: %s %s: no rsync", (unsigned long long)t->run->id, name, msg);
    else if (t->state == MS_TS_OK)
        ms_info("run %llu: %s ok on %s in %.1f s (attempt %u)%s", (unsigned long long)t->run->id,
                name, t->host, t->result.seconds, t->attempts,
                t->result.exit_code == 24 ? " (some source files vanished meanwhile)" : "");
    else if (ms_result_cancelled(&t->result) && t->attempts == 0)
        return; /* never ran: the run's cancel says how many */
    else if (ms_result_cancelled(&t->result))
        ms_info("run %llu: %s cancelled on %s: %s", (unsigned long long)t->run->id, name, t->host,
                msg);
    else if (ms_result_differs(&t->result))
        ms_warn("run %llu: %s differs from its backup (verified on %s): %s",
                (unsigned long long)t->run->id, name, t->host, msg);
    else
        ms_warn("run %llu: %s failed on %s after %u attempt(s) (exit %d): %s",
                (unsigned long long)t->run->id, name, t->host, t->attempts, t->result.exit_code,
                msg);
}

/* What DST/.multisync/NAME.json keeps of a snapshot's run: the report's
 * head (no rows). NULL on out of memory. */
static char *snapshot_notes(ms_master_t *m, const ms_runrec_t *run)
{
    (void)m; /* not m->report's cache: the run may go on with retention's tasks */
    json_t *rep = ms_report_json_page(NULL, run, 0, 0, 0);
    json_t *o =
        rep ? json_pack("{s:O, s:O, s:O, s:O, s:O}", "run_id", json_object_get(rep, "run_id"),
                        "source", json_object_get(rep, "source"), "started",
                        json_object_get(rep, "started"), "finished",
                        json_object_get(rep, "finished"), "totals", json_object_get(rep, "totals"))
            : NULL;
    char *text = o ? json_dumps(o, JSON_INDENT(2) | MS_JNUM_DUMP) : NULL;
    json_decref(o);
    json_decref(rep);
    return text;
}

/* A snapshot run whose every task succeeded: its snapshot completed (a
 * verify's or a dry run's snapshot is only read). */
static void complete_snapshot(ms_master_t *m, ms_runrec_t *run)
{
    char err[1024];
    if (!(run->flags & MS_RUN_SNAPSHOT) || (run->flags & MS_RUN_VERIFY) || !run->snap ||
        run->snap->complete || run->n_failed > 0)
        return;
    char *notes = snapshot_notes(m, run);
    if (ms_snapshot_complete(run, notes, err, sizeof err) != 0)
        ms_error("run %llu: snapshot %s not completed: %s", (unsigned long long)run->id,
                 run->snap->name, run->snap->error);
    else
        ms_info("run %llu: snapshot %s complete, latest points at it", (unsigned long long)run->id,
                run->snap->name);
    free(notes);
}

/* One removal task of retention (ms_snapshot_retain). */
static int add_removal(void *arg, const char *folder, const char *project)
{
    ms_trec_t *t = ms_run_add_task(arg, project, MS_TASK_REMOVE);
    if (t && !(t->sub = strdup(folder)))
        ms_run_drop_from(arg, t->id);
    return t && t->sub ? 0 : -1;
}

/* Retention once the snapshot is complete: the run goes on with the
 * removal tasks it hands to the workers. Returns 1 when it does. */
static int start_retention(ms_master_t *m, ms_runrec_t *run)
{
    char err[1024];
    size_t before = run->n_tasks;
    if (!(run->flags & MS_RUN_SNAPSHOT) || (run->flags & MS_RUN_VERIFY) || !run->snap ||
        !run->snap->complete || run->snap->retained)
        return 0; /* (a dry run's snapshot is the last one, compared with: no retention) */
    run->snap->retained = 1;
    int n = ms_snapshot_retain(run, add_removal, run, err, sizeof err);
    if (n < 0) {
        ms_error("run %llu: retention: %s", (unsigned long long)run->id, err);
        run->snap->prune_error = strdup(err);
    }
    if (run->n_tasks == before)
        return 0;
    run->finished = 0;
    ms_report_forget(m->report, run); /* its rows grow */
    for (size_t i = before; i < run->n_tasks; i++) {
        ms_journal_task_whole(m->journal, ms_run_at(run, i));
        ms_sched_enqueue(m, ms_run_at(run, i), 0);
    }
    ms_journal_ntasks(m->journal, run);
    ms_journal_run_end(m->journal, run); /* not finished, retention begun */
    ms_info("run %llu: retention hands %zu folder(s) of snapshots it removes to the workers",
            (unsigned long long)run->id, run->n_tasks - before);
    return 1;
}

/* How the removals of snapshot folder `folder` stand: all its project
 * folders' removals succeeded (*projects_ok), and its last removal (project
 * "", of what is left) exists (*last, or NULL). */
static void removals_of(const ms_runrec_t *run, const char *folder, int *projects_ok,
                        const ms_trec_t **last)
{
    *projects_ok = 1;
    *last = NULL;
    for (size_t k = 0; k < run->n_tasks; k++) {
        const ms_trec_t *o = ms_run_at(run, k);
        if (!(o->flags & MS_TASK_REMOVE) || strcmp(o->sub, folder) != 0)
            continue;
        if (o->project[0])
            *projects_ok &= o->state == MS_TS_OK;
        else
            *last = o;
    }
}

/* One snapshot folder being removed, at the run's end: its last removal
 * handed out once its folders are gone, its name kept once that went.
 * Returns 1 when a task was added. */
static int finish_removal(ms_master_t *m, ms_runrec_t *run, const char *folder)
{
    int projects_ok;
    const ms_trec_t *last;
    unsigned long long id = run->id;
    removals_of(run, folder, &projects_ok, &last);
    if (!projects_ok) {
        ms_warn("run %llu: %s not removed: some of its folders could not be", id, folder);
    } else if (!last) {
        if (add_removal(run, folder, "") == 0) {
            ms_trec_t *t = ms_run_at(run, run->n_tasks - 1);
            ms_journal_task_whole(m->journal, t);
            ms_sched_enqueue(m, t, 0);
            return 1;
        }
        ms_error("run %llu: out of memory removing %s", id, folder);
    } else if (last->state == MS_TS_OK && ms_snapshot_pruned(run, folder) == 0) {
        ms_info("run %llu: retention removed %s", id, folder);
    } else if (last->state != MS_TS_OK) {
        ms_warn("run %llu: %s not removed: %s", id, folder, last->result.message);
    }
    return 0;
}

/* Retention's removal tasks are final: each snapshot whose folders all
 * went gets its last removal (the run goes on: returns 1), each whose last
 * removal went is named in the report; a failed one stays, .pruning, for
 * the next run. */
static int finish_retention(ms_master_t *m, ms_runrec_t *run)
{
    size_t before = run->n_tasks;
    for (size_t i = 0; run->snap && i < before; i++) {
        ms_trec_t *t = ms_run_at(run, i);
        int first = 1;
        if (!(t->flags & MS_TASK_REMOVE))
            continue;
        for (size_t k = 0; k < i && first; k++) {
            const ms_trec_t *o = ms_run_at(run, k);
            first = !(o->flags & MS_TASK_REMOVE) || strcmp(o->sub, t->sub) != 0;
        }
        if (first)
            finish_removal(m, run, t->sub);
    }
    if (run->n_tasks == before)
        return 0;
    run->finished = 0;
    ms_report_forget(m->report, run);
    ms_journal_ntasks(m->journal, run);
    ms_journal_run_end(m->journal, run);
    return 1;
}

/* The run's last task is final: its end recorded, its waiters told. A
 * cancelled run's snapshot stays .partial, as a failed one's, and no
 * retention follows. */
static void run_finished(ms_master_t *m, ms_runrec_t *run)
{
    int cancelled = (run->flags & MS_RUN_CANCELLED) != 0;
    if (!cancelled) {
        complete_snapshot(m, run);
        if (start_retention(m, run) || finish_retention(m, run))
            return;
    }
    if (run->snap_read_fd >= 0) { /* a restore's hold on its snapshot */
        close(run->snap_read_fd);
        run->snap_read_fd = -1;
    }
    /* Frozen, the diagnosis is the run's: reports read it there, and the
     * figures behind it are let go. */
    if (ms_diag_freeze(m->diag, run) != 0)
        ms_error("out of memory keeping the diagnosis of run %llu", (unsigned long long)run->id);
    else
        ms_diag_forget(m->diag, run);
    ms_journal_run_end(m->journal, run);
    if (ms_journal_flush(m->journal, 0) != 0)
        ms_error("run %llu finished but its end could not be recorded yet",
                 (unsigned long long)run->id);
    ms_info("run %llu %s: %zu task%s, %zu %s", (unsigned long long)run->id,
            cancelled ? "cancelled" : "finished", run->n_tasks, run->n_tasks == 1 ? "" : "s",
            run->n_failed, cancelled ? "not done" : "failed");
    if (!ms_hookrun_post(m, run))
        ms_master_run_closed(m, run);
}

void ms_master_run_closed(ms_master_t *m, ms_runrec_t *r)
{
    ms_lock_release(&r->dest_lock);
    ms_control_run_done(m, r);
}

/* A backup's task copied all of its tree (rsync exit 0): what the tree
 * looked like then, for the next run to skip it if it stays so. */
static void note_copied(ms_master_t *m, const ms_trec_t *t)
{
    const ms_runrec_t *run = t->run;
    char part[MS_FP_HEX], key[MS_UNCHANGED_KEY];
    int carried = (t->flags & MS_TASK_CARRY) && ms_result_unchanged(&t->result);
    if (!t->fp_known || !t->opts[0] || !run->dest_id[0] || t->state != MS_TS_OK ||
        (t->result.exit_code != 0 && !carried) || (run->flags & (MS_RUN_VERIFY | MS_RUN_RESTORE)) ||
        (t->flags & MS_TASK_REMOVE))
        return;
    /* A top task that did not prune (a project failed) has work left. */
    if ((t->flags & MS_TASK_TOP) && (run->flags & MS_RUN_DELETE) && run->n_failed)
        return;
    ms_unchanged_part(t, part);
    ms_unchanged_key(t->opts, run, key);
    ms_catalog_fp_t rec = {t->project,
                           part,
                           key,
                           run->snap ? run->snap->name : NULL,
                           t->fp,
                           run->id,
                           t->result.files,
                           t->result.bytes_total};
    ms_journal_fingerprint(m->journal, t, &rec);
}

/* A pack that failed: its projects run one by one, each with its own
 * answer (the pack's was about all of them). */
static void dissolve_pack(ms_master_t *m, ms_trec_t *lead)
{
    char name[512];
    ms_warn("run %llu: a pack of %u projects with %s failed (exit %d): they run one by one",
            (unsigned long long)lead->run->id, lead->n_items + 1,
            ms_log_safe(lead->project, name, sizeof name), lead->result.exit_code);
    for (uint32_t i = 0; i < lead->n_items; i++) {
        ms_trec_t *t = ms_run_at(lead->run, lead->members[i]);
        t->flags &= ~(uint32_t)MS_TASK_PACKED;
        ms_run_set_state(t, MS_TS_QUEUED);
        ms_journal_task_whole(m->journal, t);
        ms_sched_enqueue(m, t, 0);
    }
    ms_strv_free(lead->items, lead->n_items);
    free(lead->members);
    lead->items = NULL;
    lead->members = NULL;
    lead->n_items = 0;
    lead->flags &= ~(uint32_t)MS_TASK_PACK;
    lead->attempts = 0;
    lead->handed_ns = 0;
    ms_run_set_state(lead, MS_TS_QUEUED);
    ms_journal_task_whole(m->journal, lead);
    ms_sched_enqueue(m, lead, 0);
}

/* A pack's rsync ended (ok), or the pack is given up with its run: each of
 * its projects still held ends too, with what the walk found of it; the
 * rsync's own figures (time, CPU, transfer) stay on the row of the
 * project that carried it. */
static void finish_pack(ms_master_t *m, ms_trec_t *lead, int ok)
{
    char msg[600], name[256];
    ms_log_safe(lead->project, name, sizeof name);
    for (uint32_t i = 0; i < lead->n_items; i++) {
        ms_trec_t *t = ms_run_at(lead->run, lead->members[i]), *rel[2];
        if (t->state != MS_TS_HELD)
            continue; /* ended already (its run is given up) */
        if (!ok)
            snprintf(msg, sizeof msg, "not copied: the pack with %s was given up: %s", name,
                     lead->result.message ? lead->result.message : "");
        ms_result_t res = {.run_id = lead->run->id,
                           .task_id = t->id,
                           .attempt = 1,
                           .exit_code = lead->result.exit_code,
                           .files = t->walk_files,
                           .bytes_total = t->walk_bytes,
                           .message = ok ? NULL : strdup(msg)};
        t->attempts = 1;
        t->handed_ns = lead->handed_ns; /* its copy started with the pack's */
        t->host = lead->host;
        t->opts = lead->opts;
        snprintf(t->worker_id, sizeof t->worker_id, "%s", lead->worker_id);
        ms_run_set_result(t, &res);
        int n_rel = ms_run_task_final(lead->run, t, rel);
        ms_journal_task(m->journal, t);
        note_copied(m, t);
        for (int k = 0; k < n_rel; k++) {
            ms_sched_enqueue(m, rel[k], 0);
            ms_journal_task(m->journal, rel[k]);
        }
    }
    lead->result.files = lead->walk_files; /* its own project's, the rest are the members' */
    lead->result.bytes_total = lead->walk_bytes;
    if (ok && (!lead->result.message || !*lead->result.message)) { /* one line a pack */
        snprintf(msg, sizeof msg, "its rsync also copied %u other tiny project(s) (a pack)",
                 lead->n_items);
        free(lead->result.message);
        lead->result.message = strdup(msg);
    }
}

/* A task carried over into a snapshot by links (MS_TASK_CARRY) that went
 * well is unchanged, and says from where. */
static void note_carried(ms_trec_t *t)
{
    char msg[160];
    if (!(t->flags & MS_TASK_CARRY) || t->result.exit_code != 0 || t->result.term_signal)
        return;
    snprintf(msg, sizeof msg,
             "unchanged: carried over from snapshot %s by hard links, "
             "the source not read",
             t->run->snap && t->run->snap->link ? t->run->snap->link : "");
    free(t->result.message);
    t->result.message = strdup(msg);
    t->result.exit_code = MS_EXIT_UNCHANGED;
}

/* A task of a cancelled run whose rsync did not end well (stopped, or
 * failed meanwhile) ends cancelled, saying how its rsync ended; one that
 * finished in time keeps its result, and so does a verify's difference. */
static void note_cancelled(ms_trec_t *t)
{
    ms_result_t *res = &t->result;
    char msg[1024];
    if (!(t->run->flags & MS_RUN_CANCELLED) || ms_result_ok(res) || ms_result_cancelled(res) ||
        ms_result_differs(res))
        return;
    snprintf(msg, sizeof msg, "cancelled while it ran (rsync %s %d)%s%s",
             res->term_signal ? "signal" : "exit",
             res->term_signal ? res->term_signal : res->exit_code,
             res->message && *res->message ? ": " : "", res->message ? res->message : "");
    free(res->message);
    res->message = strdup(msg);
    res->exit_code = MS_EXIT_CANCELLED;
    res->term_signal = 0;
}

void ms_master_task_done(ms_master_t *m, ms_trec_t *t)
{
    ms_runrec_t *run = t->run;
    ms_trec_t *rel[2];
    note_carried(t);
    note_cancelled(t);
    int ok = ms_result_ok(&t->result);
    /* A run given up or cancelled ends a failed pack with its projects. */
    if ((t->flags & MS_TASK_PACK) && !ok && m->giving_up != run &&
        !(run->flags & MS_RUN_CANCELLED)) {
        dissolve_pack(m, t);
        return;
    }
    if (t->flags & MS_TASK_PACK)
        finish_pack(m, t, ok);
    int n_rel = ms_run_task_final(run, t, rel);
    log_done(t);
    ms_journal_task(m->journal, t);
    note_copied(m, t);
    for (int i = 0; i < n_rel; i++) {
        ms_sched_enqueue(m, rel[i], 0);
        ms_journal_task(m->journal, rel[i]);
    }
    if (run->finished)
        run_finished(m, run);
}

/* t ends now with exit_code and why as its final result. */
static void end_task(ms_master_t *m, ms_trec_t *t, int exit_code, const char *why)
{
    ms_result_t res = {.run_id = t->run->id,
                       .task_id = t->id,
                       .attempt = t->attempts,
                       .exit_code = exit_code,
                       .message = strdup(why)};
    t->orphan = 0;
    ms_run_set_result(t, &res);
    ms_master_task_done(m, t);
}

void ms_master_fail_task(ms_master_t *m, ms_trec_t *t, const char *why)
{
    end_task(m, t, MS_EXIT_REFUSED, why);
}

void ms_master_cancel_task(ms_master_t *m, ms_trec_t *t, const char *why)
{
    end_task(m, t, MS_EXIT_CANCELLED, why);
}

/* End every task of r that waits for a worker (and the running ones when
 * running_too) with exit_code and why; returns how many ended. */
static size_t end_unfinished(ms_master_t *m, ms_runrec_t *r, int exit_code, const char *why,
                             int running_too)
{
    size_t before = r->n_finished;
    ms_planner_forget(m->planner, r);
    ms_queue_remove_run(m->queue, r);
    m->giving_up = r; /* a pack failed now ends with its projects, not split up */
    for (size_t i = 0; i < r->n_tasks && !r->finished; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if (t->state == MS_TS_QUEUED || t->state == MS_TS_HELD || t->state == MS_TS_SCANNING ||
            (running_too && t->state == MS_TS_RUNNING))
            end_task(m, t, exit_code, why);
    }
    m->giving_up = NULL;
    ms_queue_remove_run(m->queue, r); /* what those releases queued */
    return r->n_finished - before;
}

void ms_master_fail_unfinished(ms_master_t *m, ms_runrec_t *r, const char *why, int running_too)
{
    end_unfinished(m, r, MS_EXIT_REFUSED, why, running_too);
}

/* Why run_id cannot be cancelled: it is unknown, or it ended (how). */
static int not_going(ms_master_t *m, uint64_t run_id, char *err, size_t errlen)
{
    json_t *rep = ms_master_report_page(m, run_id, 0, 0);
    const char *status = json_string_value(json_object_get(rep, "status"));
    if (status)
        ms_errf(err, errlen, "run %llu already ended: %s", (unsigned long long)run_id, status);
    else
        ms_errf(err, errlen, "no run %llu on this master", (unsigned long long)run_id);
    json_decref(rep);
    return -1;
}

/* Tell the workers of r's running tasks to stop them; returns how many. */
static size_t stop_running(ms_master_t *m, ms_runrec_t *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_tasks && !r->finished; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        if (t->state == MS_TS_RUNNING) {
            ms_workers_stop_task(m, t);
            n++;
        }
    }
    return n;
}

/* r is cancelled: its mark first, in the catalog with the tasks it ends.
 * A run waiting for its pre_run has that hook stopped; its tasks end
 * cancelled once the hook is gone (ms_master_end_cancelled), so that
 * post_run never runs beside it. */
void ms_master_cancel(ms_master_t *m, ms_runrec_t *r, size_t *stopped, size_t *dropped)
{
    if (!(r->flags & MS_RUN_CANCELLED)) {
        r->flags |= MS_RUN_CANCELLED;
        ms_journal_run_end(m->journal, r);
    }
    if ((r->flags & MS_RUN_PRE_RUN) && ms_hooks_stop(m->hooks, r->id)) {
        *stopped = 0;
        *dropped = r->n_tasks - r->n_finished;
        return;
    }
    *stopped = stop_running(m, r);
    *dropped = end_unfinished(m, r, MS_EXIT_CANCELLED, "cancelled before it ran", 0);
}

void ms_master_end_cancelled(ms_master_t *m, ms_runrec_t *r)
{
    size_t stopped, dropped;
    ms_master_cancel(m, r, &stopped, &dropped);
}

int ms_master_cancel_run(ms_master_t *m, uint64_t run_id, size_t *stopped, size_t *dropped,
                         char *err, size_t errlen)
{
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    *stopped = *dropped = 0;
    if (!r || r->finished)
        return not_going(m, run_id, err, errlen);
    ms_master_cancel(m, r, stopped, dropped);
    ms_info("run %llu cancelled: %zu running task(s) being stopped, %zu waiting task(s) dropped",
            (unsigned long long)run_id, *stopped, *dropped);
    if (ms_journal_flush(m->journal, 1) != 0)
        ms_error("run %llu cancelled but the catalog does not say so yet: a restart before it "
                 "does would resume it",
                 (unsigned long long)run_id);
    return 0;
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
        return ms_report_json_page(m->report, r, from, count, 0);
    ms_catalog_t *cat = ms_journal_catalog(m->journal);
    if (!cat)
        return NULL;
    /* An older run, from the catalog: kept while its pages are asked for. */
    if (!m->old_run || m->old_run->id != run_id) {
        char err[256];
        ms_report_forget(m->report, m->old_run);
        ms_diag_forget(m->diag, m->old_run);
        ms_run_destroy(&m->old_run);
        m->old_run = ms_catalog_load_run(cat, run_id, err, sizeof err);
    }
    return m->old_run ? ms_report_json_page(m->report, m->old_run, from, count, 0) : NULL;
}

/* --- lifecycle --------------------------------------------------------------------- */

static void set_defaults(ms_master_t *m, const ms_master_opts_t *o)
{
    m->opts = *o;
    m->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : MS_HEARTBEAT_MS;
    m->attempts = o->attempts > 0 ? o->attempts : 3;
    m->retry_delay_ms = o->retry_delay_ms > 0 ? o->retry_delay_ms : 1000;
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
    if ((size_t)snprintf(path, sizeof path, "%s.lock", catalog) >= sizeof path)
        return ms_errf(err, errlen, "catalog %s: path too long", catalog);
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
    if (o->catalog && !o->shared_catalog && lock_catalog(m, o->catalog, holder, err, errlen) != 0)
        return -1;
    if (ms_ipc_claim(o->listen, holder, &m->wsock_lock, err, errlen) != 0)
        return -1;
    if (o->control && ms_ipc_claim(o->control, holder, &m->csock_lock, err, errlen) != 0)
        return -1;
    return 0;
}

/* The owners of the master's state, each empty. */
static int make_owners(ms_master_t *m, const ms_master_opts_t *o, char *err, size_t errlen)
{
    ms_guard_opts_t go = {o->listen, o->control, o->key, o->authorized, o->admin_keys, o->insecure};
    ms_planner_hooks_t hooks = {on_whole, on_split, on_pack, on_unchanged, m};
    if (!(m->guard = ms_guard_new(m->ctx, &go, err, errlen)))
        return -1;
    m->queue = ms_queue_new();
    m->fleet = ms_fleet_new();
    m->planner = ms_planner_new(o->split_min_mb, o->no_split, o->walk_threads, &hooks);
    m->diag = ms_diag_new();
    m->report = ms_report_new(m->diag);
    m->unchanged = ms_unchanged_new();
    m->hooks = ms_hooks_new(ms_hookrun_done, m);
    if (!m->queue || !m->fleet || !m->planner || !m->diag || !m->report || !m->unchanged ||
        !m->hooks)
        return ms_errf(err, errlen, "out of memory");
    ms_queue_set_limit(m->queue, o->queue_limit);
    return 0;
}

/* The catalog (NULL: none), its journal, and the runs it had going. */
static int open_journal(ms_master_t *m, const char *catalog, char *err, size_t errlen)
{
    ms_catalog_t *cat = NULL;
    struct stat st;
    if (catalog && !(cat = ms_catalog_open(catalog, err, errlen)))
        return -1;
    if (catalog && stat(catalog, &st) == 0)
        snprintf(m->cat_ident, sizeof m->cat_ident, "catalog %lu:%lu", (unsigned long)st.st_dev,
                 (unsigned long)st.st_ino);
    if (!(m->journal = ms_journal_new(cat, catalog)))
        return ms_errf(err, errlen, "out of memory");
    if (cat && m->opts.shared_catalog)
        return ms_catalog_set_sync(cat, 0, err, errlen) == 0 ? ms_master_close_dead_runs(m) : -1;
    return cat ? ms_master_resume(m, err, errlen) : 0;
}

static int bind_all(ms_master_t *m, const ms_master_opts_t *o, char *err, size_t errlen)
{
    /* Only workers need the worker socket; the control socket's group may
     * start runs and read status. */
    if (!(m->wsock = ms_guard_router(m->guard, o->listen, "workers", 0600, err, errlen)))
        return -1;
    if (o->control &&
        !(m->csock = ms_guard_router(m->guard, o->control, "control", 0660, err, errlen)))
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
    /* libzmq hands each received message a share of the 8 KiB buffer it was
     * read into, which lives as long as any of its messages: with a fleet's
     * thousand connections each read is one small message, so every message
     * queued for this loop pinned 8 KiB (heaptrack: 8,200-byte blocks were
     * 364 MB of the master's 456 MB peak with 1,000 workers). Copying each
     * message out costs a memcpy of a few hundred bytes. Draft in 4.3. */
    if (zmq_ctx_set(m->ctx, MS_ZMQ_ZERO_COPY_RECV, 0) != 0)
        ms_debug("libzmq keeps zero-copy receive: %s", zmq_strerror(errno));
    set_defaults(m, o);
    if (make_owners(m, o, err, errlen) != 0 || lock_all(m, o, err, errlen) != 0 ||
        open_journal(m, o->catalog, err, errlen) != 0 || bind_all(m, o, err, errlen) != 0)
        ms_master_destroy(&m);
    return m;
}

static void send_bye_all(ms_master_t *m, const char *reason, int reconnect)
{
    char err[256];
    ms_msg_t bye = {.cmd = MS_CMD_BYE};
    bye.u.text.message = (char *)reason;
    bye.u.text.reconnect = (uint32_t)reconnect;
    for (size_t i = 0; i < ms_fleet_count(m->fleet); i++)
        (void)ms_wire_send(m->wsock, &ms_fleet_at(m->fleet, i)->peer, &bye, err, sizeof err);
}

/* The last chance to make every change durable: no throttle. */
static void last_flush(ms_master_t *m)
{
    if (ms_journal_flush(m->journal, 1) != 0)
        ms_error("the catalog misses the last changes");
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
    while (ms_fleet_count(m->fleet) > 0)
        ms_worker_remove(m, ms_fleet_at(m->fleet, ms_fleet_count(m->fleet) - 1), reason, 1);
    last_flush(m);
}

void ms_master_shutdown(ms_master_t *m)
{
    send_bye_all(m, "master restarting", 1);
    last_flush(m);
}

void ms_master_destroy(ms_master_t **mp)
{
    if (!mp || !*mp)
        return;
    ms_master_t *m = *mp;
    ms_hooks_destroy(&m->hooks);     /* stops those still running */
    ms_journal_destroy(&m->journal); /* commits what is open, closes the catalog */
    if (m->wsock)
        zmq_close(m->wsock);
    if (m->csock)
        zmq_close(m->csock);
    ms_guard_destroy(&m->guard);
    if (m->ctx)
        zmq_ctx_term(m->ctx);
    /* Last: the next master may start once the catalog is closed and the
     * sockets are gone. */
    ms_lock_release(&m->cat_lock);
    ms_lock_release(&m->wsock_lock);
    ms_lock_release(&m->csock_lock);
    ms_planner_destroy(&m->planner);
    for (size_t i = 0; i < m->n_runs; i++)
        ms_run_destroy(&m->runs[i]);
    ms_run_destroy(&m->old_run);
    ms_report_destroy(&m->report);
    ms_unchanged_destroy(&m->unchanged);
    ms_diag_destroy(&m->diag); /* after the report, which reads it */
    ms_fleet_destroy(&m->fleet);
    ms_queue_destroy(&m->queue);
    free(m->runs);
    free(m->waiters);
    free(m);
    *mp = NULL;
}

unsigned ms_master_workers(const ms_master_t *m)
{
    return (unsigned)ms_fleet_count(m->fleet);
}

int ms_master_reload(ms_master_t *m, char *err, size_t errlen)
{
    if (ms_guard_reload(m->guard, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < ms_fleet_count(m->fleet);) {
        ms_wrec_t *w = ms_fleet_at(m->fleet, i);
        if (!ms_guard_allowed(m->guard, &w->peer, "workers")) {
            ms_worker_remove(m, w, "its key was revoked", 0);
            continue; /* the last record moved to i */
        }
        i++;
    }
    return 0;
}

/* --- the loop ------------------------------------------------------------------------- */

/* How long the loop may sleep: until the next tick, the next retry, or
 * the open transaction's commit. */
static int poll_timeout(const ms_master_t *m, int timeout_ms, long extra_ms)
{
    int64_t now = ms_now_ms(), until = m->next_tick_ms - now;
    int64_t retry = ms_queue_next_due(m->queue), commit = ms_journal_commit_due(m->journal);
    int64_t hook = ms_hooks_next_due(m->hooks);
    if (retry - now < until)
        until = retry - now;
    if (hook - now < until)
        until = hook - now;
    if (extra_ms >= 0 && extra_ms < until)
        until = extra_ms;
    /* Only a commit still ahead: one that failed is retried next turn, not
     * in a busy loop. */
    if (commit > now && commit - now < until)
        until = commit - now;
    if (until < 0)
        until = 0;
    return timeout_ms < 0 || timeout_ms > until ? (int)until : timeout_ms;
}

/* What is polled: the workers' and control sockets, the extra source (the
 * HTTP listener; fd -1 when none), the guard's (ZAP, monitors), then the
 * walks going on (at most MAX_WALKS of them: more runs at once are looked
 * at every tick). */
#define MAX_WALKS 8
#define MAX_GUARD 4
#define MAX_HOOKS 8 /* more hooks at once are read every tick */
#define FIRST_GUARD 3

typedef struct {
    zmq_pollitem_t items[FIRST_GUARD + MAX_GUARD + MAX_WALKS + MAX_HOOKS];
    size_t n_guard, n_walks, n_hooks;
    ms_runrec_t *walking[MAX_WALKS];
    long extra_ms; /* the extra source's wait before the poll; -1: none */
} polled_t;

static size_t poll_items(ms_master_t *m, polled_t *p)
{
    const ms_master_extra_t *x = &m->extra;
    p->items[0] = (zmq_pollitem_t){m->wsock, 0, ZMQ_POLLIN, 0};
    /* No control socket (embedded): a slot poll(2) skips (fd -1). */
    p->items[1] =
        m->csock ? (zmq_pollitem_t){m->csock, 0, ZMQ_POLLIN, 0} : (zmq_pollitem_t){NULL, -1, 0, 0};
    p->items[2] = (zmq_pollitem_t){NULL, x->run ? x->fd : -1, ZMQ_POLLIN, 0};
    p->extra_ms = x->run && x->timeout_ms ? x->timeout_ms(x->arg) : -1;
    p->n_guard = ms_guard_poll_items(m->guard, p->items + FIRST_GUARD, MAX_GUARD);
    p->n_walks = ms_planner_poll_items(m->planner, p->items + FIRST_GUARD + p->n_guard, p->walking,
                                       MAX_WALKS);
    p->n_hooks =
        ms_hooks_poll_items(m->hooks, p->items + FIRST_GUARD + p->n_guard + p->n_walks, MAX_HOOKS);
    return FIRST_GUARD + p->n_guard + p->n_walks + p->n_hooks;
}

void ms_master_set_extra(ms_master_t *m, const ms_master_extra_t *x)
{
    m->extra = x ? *x : (ms_master_extra_t){.fd = -1};
}

/* Housekeeping every half heartbeat: workers' leases, walks, locks,
 * checkpoints. */
static void tick(ms_master_t *m)
{
    int busy = 0;
    m->next_tick_ms = ms_now_ms() + m->heartbeat_ms / 2;
    ms_workers_tick(m);
    ms_hooks_tick(m->hooks); /* the hooks whose output did not wake the loop */
    for (size_t i = 0; i < m->n_runs; i++) {
        ms_runrec_t *r = m->runs[i];
        plan(m, r);
        /* The lock's age tells a later taker when this master was alive. */
        if (r->dest_lock)
            ms_lock_touch(r->dest_lock);
        busy |= !r->finished;
    }
    ms_journal_checkpoint(m->journal, busy);
}

int ms_master_poll(ms_master_t *m, int timeout_ms)
{
    polled_t p;
    size_t n = poll_items(m, &p);
    int more = 0;
    if (zmq_poll(p.items, (int)n, poll_timeout(m, timeout_ms, p.extra_ms)) < 0)
        return -1;
    for (size_t i = 0; i < p.n_walks; i++)
        if (p.items[FIRST_GUARD + p.n_guard + i].revents & ZMQ_POLLIN)
            plan(m, p.walking[i]);
    if (p.items[0].revents & ZMQ_POLLIN)
        more = ms_workers_read(m);
    if (p.items[1].revents & ZMQ_POLLIN)
        ms_control_handle(m);
    if (m->extra.run)
        m->extra.run(m->extra.arg);
    ms_guard_handle(m->guard, p.items + FIRST_GUARD, p.n_guard);
    ms_hooks_handle(m->hooks, p.items + FIRST_GUARD + p.n_guard + p.n_walks, p.n_hooks);
    if (ms_now_ms() >= m->next_tick_ms)
        tick(m);
    /* Big projects wait for the total and for slots: a worker that just
     * joined lets them be split now, not a tick later. */
    for (size_t i = 0; i < m->n_runs; i++)
        if (ms_planner_waits(m->planner, m->runs[i]))
            plan(m, m->runs[i]);
    /* Gather more results into the open transaction until its commit is
     * due, unless a full batch is already waiting, or a retry is due (the
     * loop would not sleep meanwhile). */
    int64_t now = ms_now_ms(), commit = ms_journal_commit_due(m->journal);
    if (commit != INT64_MAX && now < commit && !more && !m->stopping &&
        now < ms_queue_next_due(m->queue))
        return 0;
    ms_sched_dispatch(m);
    if (ms_journal_flush(m->journal, 0) != 0) {
        /* logged by the journal; what is not durable yet waits */
    }
    return 0;
}
