#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_clock.h"
#include "ms_embedded.h"
#include "ms_err.h"
#include "ms_log.h"
#include "ms_rc.h"
#include "ms_master.h"
#include "ms_print.h"
#include "ms_promfile.h"
#include "ms_proto.h"
#include "ms_rundir.h"
#include "ms_signal.h"
#include "ms_state.h"

#define WORKER_EXIT_WAIT_MS 10000
/* How long a run waits for the worker of a killed run to stop its rsyncs
 * (about 0.5 s, 2 s at most: --exit-with-parent) before it copies into
 * what may be the same backup. */
#define DEAD_WORKER_WAIT_MS 3000
/* --metrics-file: rewritten this often while the run goes (a scrape every
 * 15 s, Prometheus' default, sees figures at most this old). */
#define METRICS_EVERY_MS 5000

/* --metrics-file's state: the history is the catalog's as the run
 * started (its counters move only when a run ends: read again then). */
typedef struct {
    const char *path;
    const char *catalog;
    json_t *history;
    int64_t next_ms;
    int said; /* a failed write was said: not again every 5 s */
} metrics_t;

typedef struct {
    ms_rundir_t dir;
    char endpoint[PATH_MAX];
    pid_t worker;
    metrics_t metrics;
} embedded_t;

/* Our runtime folder, after removing those of runs killed before they
 * could (a kill -9 leaves the folder and its socket behind). */
static int make_private_dir(embedded_t *e, char *err, size_t errlen)
{
    const char *base = ms_rundir_base();
    int swept = ms_rundir_sweep(base, DEAD_WORKER_WAIT_MS);
    if (swept > 0)
        ms_info("removed %d runtime folder(s) left in %s by runs that were killed", swept, base);
    if (ms_rundir_create(&e->dir, base, err, errlen) != 0)
        return -1;
    snprintf(e->endpoint, sizeof e->endpoint, "ipc://%s/" MS_RUNDIR_SOCKET, e->dir.path);
    return 0;
}

/* The worker program installed next to this one. */
static int worker_path(char *out, size_t outlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(out, outlen, "%s/multisync-worker", dirname(self));
    return access(out, X_OK);
}

/* Build the worker's argv (strings point into o and bufs). */
static char **worker_argv(const ms_embedded_opts_t *o, const embedded_t *e, char *prog, char *slots,
                          char *hb)
{
    size_t n = 0, max = 14 + 2 * o->n_rsync_opts;
    char **argv = calloc(max, sizeof *argv);
    if (!argv)
        return NULL;
    argv[n++] = prog;
    argv[n++] = "--master";
    argv[n++] = (char *)e->endpoint;
    argv[n++] = "--slots";
    argv[n++] = slots;
    if (o->rsync) {
        argv[n++] = "--rsync";
        argv[n++] = (char *)o->rsync;
    }
    for (size_t i = 0; i < o->n_rsync_opts; i++) {
        argv[n++] = "--rsync-opt";
        argv[n++] = o->rsync_opts[i];
    }
    argv[n++] = o->verbose ? "--verbose" : "--quiet";
    argv[n++] = "--exit-with-parent"; /* no drain: the master dies with us */
    if (o->heartbeat_ms > 0) {
        argv[n++] = "--heartbeat-ms";
        argv[n++] = hb;
    }
    return argv;
}

/* dest_lock_fd: the run's lock on its destination, or -1; the worker holds
 * it too, so that after a kill -9 the destination stays locked until the
 * worker and its rsyncs are gone. */
static int spawn_worker(const ms_embedded_opts_t *o, embedded_t *e, unsigned slots,
                        int dest_lock_fd, char *err, size_t errlen)
{
    char prog[PATH_MAX], slots_s[16], hb[16];
    pid_t self = getpid();
    if (worker_path(prog, sizeof prog) != 0)
        return ms_errf(err, errlen, "cannot find multisync-worker next to this program");
    snprintf(slots_s, sizeof slots_s, "%u", slots);
    snprintf(hb, sizeof hb, "%d", o->heartbeat_ms);
    char **argv = worker_argv(o, e, prog, slots_s, hb);
    if (!argv || (e->worker = fork()) < 0) {
        ms_errf(err, errlen, "cannot start the local worker: %s", strerror(errno));
        free(argv);
        ms_rundir_handed_over(&e->dir);
        return -1;
    }
    if (e->worker == 0) {
        /* The worker dies with us, also after a kill -9: SIGTERM, so that it
         * stops its rsyncs before it goes (--exit-with-parent). If we died
         * before prctl, that signal will never come: give up now. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != self)
            _exit(127);
        ms_rundir_inherit(&e->dir); /* the worker holds its lock until it exits */
        if (dest_lock_fd >= 0)
            fcntl(dest_lock_fd, F_SETFD, 0);
        execv(prog, argv);
        _exit(127);
    }
    ms_rundir_handed_over(&e->dir);
    free(argv);
    return 0;
}

/* Wait for the worker to exit after BYE; kill it if it does not. It exits
 * within a few ms: looked at every 2 ms (50 ms steps were a quarter of a
 * quiet run of a thousand tiny projects). */
static void reap_worker(embedded_t *e)
{
    int status;
    for (int waited = 0; waited < WORKER_EXIT_WAIT_MS; waited += 2) {
        if (waitpid(e->worker, &status, WNOHANG) == e->worker)
            return;
        usleep(2 * 1000);
    }
    kill(e->worker, SIGKILL);
    waitpid(e->worker, &status, 0);
}

/* 1 when the worker died on its own (err says how), else 0. */
static int worker_died(embedded_t *e, char *err, size_t errlen)
{
    int status;
    if (waitpid(e->worker, &status, WNOHANG) != e->worker)
        return 0;
    if (WIFEXITED(status))
        ms_errf(err, errlen, "the local worker exited with status %d", WEXITSTATUS(status));
    else
        ms_errf(err, errlen, "the local worker was killed by signal %d", WTERMSIG(status));
    e->worker = -1;
    return 1;
}

/*
 * SIGINT or SIGTERM: the run is cancelled (ms_master_cancel_run): the
 * worker stops the rsyncs, and the run ends `cancelled` in the state
 * catalog, where the next run does not take it for one to close. A worker
 * that does not report its rsyncs stopped in time is told to leave, which
 * stops them too; the report then says "interrupted".
 */
static json_t *interrupt(ms_master_t *m, embedded_t *e, uint64_t run_id)
{
    char err[256];
    size_t stopped, dropped;
    int waited = 0;
    ms_warn("interrupted by signal %d: cancelling the run, stopping the rsyncs",
            (int)ms_stop_signal);
    if (ms_master_cancel_run(m, run_id, &stopped, &dropped, err, sizeof err) != 0)
        ms_warn("%s", err);
    for (; waited < WORKER_EXIT_WAIT_MS && ms_master_run_finished(m, run_id) == 0 &&
           !worker_died(e, err, sizeof err);
         waited += 100)
        ms_master_poll(m, 100);
    if (ms_master_run_finished(m, run_id) == 1)
        return ms_master_report(m, run_id);
    ms_master_interrupt(m, "interrupted");
    for (; waited < 2 * WORKER_EXIT_WAIT_MS && !worker_died(e, err, sizeof err); waited += 100)
        ms_master_poll(m, 100);
    json_t *rep = ms_master_report(m, run_id);
    json_object_set_new(rep, "status", json_string("interrupted"));
    return rep;
}

/* The live progress line, twice a second. */
static void progress(ms_master_t *m, FILE *out, int64_t *next)
{
    if (!out || ms_now_ms() < *next)
        return;
    *next = ms_now_ms() + 500;
    json_t *st = ms_master_status(m);
    ms_print_progress(out, json_object_get(st, "run"));
    json_decref(st);
}

/* The metrics file from this status (taken); a failure said once. */
static void write_metrics(metrics_t *mt, json_t *status)
{
    char err[PATH_MAX + 256];
    if (ms_promfile_write(mt->path, status, mt->history, err, sizeof err) != 0 && !mt->said) {
        ms_error("%s", err);
        mt->said = 1;
    }
    json_decref(status);
}

static void metrics_tick(metrics_t *mt, const ms_master_t *m)
{
    if (!mt->path || ms_now_ms() < mt->next_ms)
        return;
    mt->next_ms = ms_now_ms() + METRICS_EVERY_MS;
    write_metrics(mt, ms_master_status(m));
}

/* The catalog's whole history (the counters sum it), or NULL (said). */
static json_t *read_history(const metrics_t *mt)
{
    char err[1024];
    json_t *h = mt->catalog ? ms_state_history(mt->catalog, 0, err, sizeof err) : NULL;
    if (mt->catalog && !h)
        ms_error("metrics file %s: no history: %s", mt->path, err);
    return h;
}

/*
 * The last write, once the master is gone (status: what it said last,
 * taken): the history read again, the finished run in it, now that the
 * master closed the catalog and its last commit is in.
 */
static void final_metrics(metrics_t *mt, json_t *status)
{
    if (!mt->path || !status) {
        json_decref(status);
        return;
    }
    json_decref(mt->history);
    mt->history = read_history(mt);
    write_metrics(mt, status);
}

static json_t *drive(ms_master_t *m, embedded_t *e, const ms_embedded_opts_t *o, uint64_t run_id,
                     char *err, size_t errlen)
{
    int64_t next_progress = 0;
    while (ms_master_run_finished(m, run_id) == 0) {
        progress(m, o->progress, &next_progress);
        metrics_tick(&e->metrics, m);
        if (ms_stop_signal)
            return interrupt(m, e, run_id);
        if (worker_died(e, err, errlen)) {
            ms_master_forget_workers(m, err);
            return NULL;
        }
        if (ms_master_poll(m, 200) != 0 && errno != EINTR) {
            ms_errf(err, errlen, "master poll failed: %s", strerror(errno));
            return NULL;
        }
    }
    return ms_master_report(m, run_id);
}

/* The run o asks for: a backup, a verify, or a restore. */
static ms_run_req_t request(const ms_embedded_opts_t *o)
{
    uint32_t flags = o->restore_path ? MS_RUN_RESTORE | (o->force ? MS_RUN_FORCE : 0)
                     : o->verify
                         ? MS_RUN_VERIFY
                         : (o->dry_run ? MS_RUN_VERIFY | MS_RUN_DRY_RUN : 0) |
                               (o->delete ? MS_RUN_DELETE : 0) |
                               (o->force_delete ? MS_RUN_FORCE_DELETE : 0) |
                               (o->snapshot ? MS_RUN_SNAPSHOT : 0) | (o->full ? MS_RUN_FULL : 0);
    return (ms_run_req_t){.source = o->source,
                          .dest = o->dest,
                          .flags = flags,
                          .worker_wait_s = o->worker_wait_s,
                          .keep = o->keep,
                          .snapshot = o->restore_path ? o->restore_snapshot : o->verify_snapshot,
                          .path = o->restore_path};
}

json_t *ms_embedded_run(const ms_embedded_opts_t *o, int *rc, char *err, size_t errlen)
{
    embedded_t e = {.worker = -1, .metrics = {.path = o->metrics_file, .catalog = o->catalog}};
    ms_master_t *m = NULL;
    json_t *report = NULL, *last_status = NULL;
    uint64_t run_id = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned slots = o->slots ? o->slots : cores > 0 ? (unsigned)cores : 1;

    *rc = MS_RC_USAGE;
    if (make_private_dir(&e, err, errlen) != 0)
        return NULL;
    ms_master_opts_t mo = {.listen = e.endpoint,
                           .attempts = o->attempts,
                           .retry_delay_ms = o->retry_delay_ms,
                           .task_timeout_s = o->task_timeout_s,
                           .split_min_mb = o->split_min_mb,
                           .full_every = o->full_every,
                           .walk_threads = o->walk_threads,
                           .no_split = o->no_split,
                           .heartbeat_ms = o->heartbeat_ms,
                           .catalog = o->catalog,
                           .shared_catalog = 1,
                           .make_dest = 1};
    if (!(m = ms_master_new(&mo, err, errlen)))
        goto out;
    ms_run_req_t req = request(o);
    if ((*rc = ms_master_start_run(m, &req, &run_id, err, errlen)) != 0)
        goto out;
    *rc = MS_RC_USAGE;
    if (e.metrics.path)
        e.metrics.history = read_history(&e.metrics);
    if (spawn_worker(o, &e, slots, ms_master_run_lock_fd(m, run_id), err, errlen) != 0)
        goto out;
    report = drive(m, &e, o, run_id, err, errlen);
    if (o->progress)
        fputc('\n', o->progress);
out:
    if (m)
        ms_master_dismiss_workers(m, ms_stop_signal ? "interrupted" : "run finished");
    if (m && run_id && e.metrics.path) /* its worker gone: up 0, as it is */
        last_status = ms_master_status(m);
    if (e.worker > 0)
        reap_worker(&e);
    ms_master_destroy(&m);
    final_metrics(&e.metrics, last_status);
    json_decref(e.metrics.history);
    ms_rundir_remove(&e.dir);
    return report;
}
