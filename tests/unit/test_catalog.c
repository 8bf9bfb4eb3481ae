/*
 * The catalog: runs and tasks saved, closed, reopened and rebuilt field for
 * field; uncommitted writes lost on a crash; history and attempts as JSON;
 * files that are not a catalog refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_catalog.h"
#include "ms_test.h"

/* 1: save tasks as the master does on each hand-out and result
 * (ms_catalog_update_task), not whole. */
static int cheap_saves;

typedef struct {
    char dir[64];
    char path[128];
    char err[512];
} fx_t;

static uint64_t last_id(ms_catalog_t *c)
{
    uint64_t id = 99;
    char err[256];
    assert_int_equal(ms_catalog_last_run_id(c, &id, err, sizeof err), 0);
    return id;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "catalog");
    snprintf(fx->path, sizeof fx->path, "%s/catalog.db", fx->dir);
    cheap_saves = 0;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(ms_test_rmtree(fx->dir), 0);
    free(fx);
    return 0;
}

static ms_catalog_t *open_ok(fx_t *fx)
{
    ms_catalog_t *c = ms_catalog_open(fx->path, fx->err, sizeof fx->err);
    if (!c)
        fail_msg("open: %s", fx->err);
    return c;
}

static ms_catalog_t *reopen(fx_t *fx, ms_catalog_t **c)
{
    ms_catalog_close(c);
    return open_ok(fx);
}

/* A run over the given projects (NULL-terminated), started at a fixed
 * wall-clock time with nanoseconds so that rounding would show. */
static ms_runrec_t *new_run(uint64_t id, const char *set, const char *const *projects)
{
    size_t n = 0;
    while (projects[n])
        n++;
    ms_runrec_t *r = ms_run_new(id, "/data/src", "/backup/dst", set);
    assert_non_null(r);
    assert_int_equal(ms_run_add_projects(r, (char *const *)projects, n, MS_TS_QUEUED), 0);
    r->started_rt =
        (struct timespec){.tv_sec = 1700000000 + (time_t)id * 100, .tv_nsec = 123456789};
    return r;
}

static void save_task(ms_catalog_t *c, ms_trec_t *t)
{
    char err[512];
    int rc = cheap_saves ? ms_catalog_update_task(c, t, err, sizeof err)
                         : ms_catalog_save_task(c, t, err, sizeof err);
    if (rc != 0)
        fail_msg("save_task: %s", err);
}

/* Hand attempt t->attempts + 1 to worker w on host h, as the master does,
 * at a wall-clock time of its own (ns that rounding would lose). */
static void dispatch(ms_catalog_t *c, ms_trec_t *t, const char *w, const char *h)
{
    t->attempts++;
    t->state = MS_TS_RUNNING;
    t->handed_ns = (int64_t)t->run->started_rt.tv_sec * 1000000000 + 987654321 +
                   (int64_t)(t->id * 10 + t->attempts) * 1500000001;
    snprintf(t->worker_id, sizeof t->worker_id, "%s", w);
    t->host = ms_run_intern(t->run, h);
    assert_int_equal(ms_run_note_worker(t->run, w, h, 4, 0), 0);
    save_task(c, t);
}

/* A result for the current attempt, with counters that differ per task. */
static ms_result_t result_for(const ms_trec_t *t, int exit_code, const char *msg)
{
    uint64_t k = t->id * 1000 + t->attempts;
    return (ms_result_t){.run_id = t->run->id,
                         .task_id = t->id,
                         .attempt = t->attempts,
                         .exit_code = exit_code,
                         .seconds = 1.25 + (double)k,
                         .files = k + 1,
                         .bytes_total = k * 1000000 + 7,
                         .bytes_transferred = k * 1000 + 3,
                         .cpu_user_s = 0.5 + (double)k,
                         .cpu_sys_s = 0.125,
                         .max_rss_kb = 4096 + k,
                         .read_bytes = k * 11,
                         .write_bytes = k * 13,
                         .message = strdup(msg)};
}

static void finish(ms_catalog_t *c, ms_trec_t *t, int exit_code, const char *msg)
{
    ms_result_t res = result_for(t, exit_code, msg);
    ms_run_set_result(t, &res);
    ms_trec_t *rel[2];
    ms_run_task_final(t->run, t, rel);
    save_task(c, t);
}

/* A failed attempt that will be retried elsewhere: the master requeues it. */
static void fail_and_requeue(ms_catalog_t *c, ms_trec_t *t, int exit_code, const char *msg)
{
    ms_result_t res = result_for(t, exit_code, msg);
    ms_run_set_result(t, &res);
    t->failed_on = ms_run_intern(t->run, t->host);
    t->state = MS_TS_QUEUED;
    save_task(c, t);
}

static void assert_results_equal(const ms_result_t *a, const ms_result_t *b)
{
    assert_int_equal(a->run_id, b->run_id);
    assert_int_equal(a->task_id, b->task_id);
    assert_int_equal(a->attempt, b->attempt);
    assert_int_equal(a->exit_code, b->exit_code);
    assert_int_equal(a->term_signal, b->term_signal);
    assert_true(a->seconds == b->seconds);
    assert_int_equal(a->files, b->files);
    assert_int_equal(a->bytes_total, b->bytes_total);
    assert_int_equal(a->bytes_transferred, b->bytes_transferred);
    assert_true(a->cpu_user_s == b->cpu_user_s);
    assert_true(a->cpu_sys_s == b->cpu_sys_s);
    assert_int_equal(a->max_rss_kb, b->max_rss_kb);
    assert_int_equal(a->read_bytes, b->read_bytes);
    assert_int_equal(a->write_bytes, b->write_bytes);
    if (!a->message || !b->message)
        assert_ptr_equal(a->message, b->message);
    else
        assert_string_equal(a->message, b->message);
}

static void assert_tasks_equal(const ms_trec_t *a, const ms_trec_t *b)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->project, b->project);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->attempts, b->attempts);
    assert_int_equal(a->handed_ns, b->handed_ns); /* the report's start_s */
    assert_string_equal(a->worker_id, b->worker_id);
    assert_string_equal(a->host, b->host);
    assert_string_equal(a->failed_on, b->failed_on);
    assert_results_equal(&a->result, &b->result);
    assert_int_equal(a->parent, b->parent);
    assert_int_equal(a->n_chunks, b->n_chunks);
    assert_int_equal(a->pending, b->pending);
    assert_string_equal(a->sub ? a->sub : "", b->sub ? b->sub : "");
    assert_int_equal(a->n_items, b->n_items);
    for (uint32_t i = 0; i < a->n_items; i++)
        assert_string_equal(a->items[i], b->items[i]);
    assert_int_equal(a->n_excl, b->n_excl);
    for (uint32_t i = 0; i < a->n_excl; i++)
        assert_string_equal(a->excl[i], b->excl[i]);
    assert_int_equal(a->n_match, b->n_match);
    for (uint32_t i = 0; i < a->n_match; i++)
        assert_string_equal(a->match[i], b->match[i]);
    assert_int_equal(a->n_xmatch, b->n_xmatch);
    for (uint32_t i = 0; i < a->n_xmatch; i++)
        assert_string_equal(a->xmatch[i], b->xmatch[i]);
}

static int near(double a, double b)
{
    double d = a > b ? a - b : b - a, m = a > 0 ? a : -a;
    return d <= 1e-9 * (1 + m);
}

static void assert_runs_equal(const ms_runrec_t *a, const ms_runrec_t *b)
{
    assert_int_equal(a->id, b->id);
    assert_string_equal(a->source, b->source);
    assert_string_equal(a->dest, b->dest);
    if (!a->set || !b->set)
        assert_ptr_equal(a->set, b->set);
    else
        assert_string_equal(a->set, b->set);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->started_rt.tv_sec, b->started_rt.tv_sec);
    assert_int_equal(a->started_rt.tv_nsec, b->started_rt.tv_nsec);
    assert_int_equal(a->finished_rt.tv_sec, b->finished_rt.tv_sec);
    assert_int_equal(a->finished_rt.tv_nsec, b->finished_rt.tv_nsec);
    assert_int_equal(a->finished, b->finished);
    assert_int_equal(a->n_finished, b->n_finished);
    assert_int_equal(a->n_failed, b->n_failed);
    assert_int_equal(a->n_tasks, b->n_tasks);
    for (size_t i = 0; i < a->n_tasks; i++) {
        assert_ptr_equal(ms_run_at(b, i)->run, b);
        assert_tasks_equal(ms_run_at(a, i), ms_run_at(b, i));
    }
    assert_int_equal(a->n_workers, b->n_workers);
    for (size_t i = 0; i < a->n_workers; i++) {
        assert_string_equal(a->workers[i].id, b->workers[i].id);
        assert_string_equal(a->workers[i].host, b->workers[i].host);
        assert_int_equal(a->workers[i].slots, b->workers[i].slots);
        assert_int_equal(a->workers[i].tasks, b->workers[i].tasks);
        /* What the diagnosis reads: every result the host sent, summed as
         * they came in memory and by SQL from the attempts when loaded. */
        assert_true(near(a->workers[i].task_cpu_s, b->workers[i].task_cpu_s));
        assert_true(near(a->workers[i].task_secs, b->workers[i].task_secs));
    }
}

/* Run id, all its tasks finished ok (top task included), end saved. */
static void save_finished_run(ms_catalog_t *c, uint64_t id, const char *set, int fail_one)
{
    char err[512];
    const char *projects[] = {"a", "b", NULL};
    ms_runrec_t *r = new_run(id, set, projects);
    assert_int_equal(ms_catalog_save_run(c, r, err, sizeof err), 0);
    for (size_t i = 0; i < r->n_tasks; i++) {
        dispatch(c, ms_run_at(r, i), "w1", "h1");
        finish(c, ms_run_at(r, i), fail_one && i == 0 ? 23 : 0, fail_one && i == 0 ? "boom" : "");
    }
    r->finished_rt = (struct timespec){.tv_sec = r->started_rt.tv_sec + 12, .tv_nsec = 623456789};
    assert_int_equal(ms_catalog_save_run_end(c, r, err, sizeof err), 0);
    ms_run_destroy(&r);
}

static void test_a_finished_run_comes_back_field_for_field_after_reopening(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    const char *projects[] = {"alpha", "\xff\xfe", NULL};
    ms_runrec_t *r = new_run(7, "prod", projects);
    r->flags = MS_RUN_DELETE;
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0); /* harmless */

    dispatch(c, ms_run_at(r, 0), "w1", "host-one");
    dispatch(c, ms_run_at(r, 1), "w2", "h\xc3\x28st");
    finish(c, ms_run_at(r, 0), 0, "");
    fail_and_requeue(c, ms_run_at(r, 1), 23, "rsync: send_files failed: Permission denied (13)\n");
    dispatch(c, ms_run_at(r, 1), "w1", "host-one");
    finish(c, ms_run_at(r, 1), 23, "rsync error: some files could not be transferred (code 23)");
    ms_run_at(r, 2)->state = MS_TS_QUEUED;
    dispatch(c, ms_run_at(r, 2), "w2", "h\xc3\x28st");
    finish(c, ms_run_at(r, 2), 24, "file has vanished: \"/data/src/x\"");
    assert_int_equal(r->finished, 1);
    r->finished_rt.tv_nsec = 999999999;
    assert_int_equal(ms_catalog_save_run_end(c, r, fx->err, sizeof fx->err), 0);

    c = reopen(fx, &c);
    ms_runrec_t *back = ms_catalog_load_run(c, 7, fx->err, sizeof fx->err);
    assert_non_null(back);
    assert_runs_equal(r, back);
    assert_int_equal(back->n_finished, 3);
    assert_int_equal(back->n_failed, 1);
    assert_int_equal(ms_run_at(back, 2)->flags, MS_TASK_TOP);
    assert_int_equal(ms_run_at(back, 1)->orphan, 0);
    ms_run_destroy(&back);
    ms_run_destroy(&r);
    ms_catalog_close(&c);
}

static void test_only_unfinished_runs_come_back_with_their_tasks_as_stored(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    save_finished_run(c, 1, "prod", 0);
    const char *projects[] = {"a", "b", "c", NULL};
    ms_runrec_t *r = new_run(2, NULL, projects);
    assert_int_equal(ms_catalog_begin(c, fx->err, sizeof fx->err), 0);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    dispatch(c, ms_run_at(r, 0), "w1", "h1");
    dispatch(c, ms_run_at(r, 1), "w1", "h1");
    assert_int_equal(ms_catalog_commit(c, fx->err, sizeof fx->err), 0);
    finish(c, ms_run_at(r, 0), 0, "");
    fail_and_requeue(c, ms_run_at(r, 1), 12, "protocol error");
    dispatch(c, ms_run_at(r, 1), "w3", "h3");

    c = reopen(fx, &c);
    ms_runrec_t **runs = NULL;
    size_t n = 0;
    assert_int_equal(ms_catalog_load_runs(c, 1, 0, &runs, &n, fx->err, sizeof fx->err), 0);
    assert_int_equal(n, 1);
    ms_runrec_t *b = runs[0];
    assert_runs_equal(r, b);
    assert_int_equal(ms_run_at(b, 0)->state, MS_TS_OK);
    assert_int_equal(ms_run_at(b, 1)->state, MS_TS_RUNNING);
    assert_int_equal(ms_run_at(b, 1)->attempts, 2);
    assert_string_equal(ms_run_at(b, 1)->worker_id, "w3");
    assert_string_equal(ms_run_at(b, 1)->host, "h3");
    assert_string_equal(ms_run_at(b, 1)->failed_on, "h1");
    assert_int_equal(ms_run_at(b, 2)->state, MS_TS_QUEUED);
    assert_int_equal(ms_run_at(b, 3)->state, MS_TS_HELD);
    assert_int_equal(b->n_finished, 1);
    assert_int_equal(b->n_failed, 0);
    assert_int_equal(b->finished, 0);
    for (size_t i = 0; i < n; i++)
        ms_run_destroy(&runs[i]);
    free(runs);
    ms_run_destroy(&r);
    ms_catalog_close(&c);
}

static void test_load_runs_without_unfinished_only_returns_the_newest_up_to_limit(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    for (uint64_t id = 1; id <= 3; id++)
        save_finished_run(c, id, "prod", 0);
    ms_runrec_t **runs = NULL;
    size_t n = 0;
    assert_int_equal(ms_catalog_load_runs(c, 1, 0, &runs, &n, fx->err, sizeof fx->err), 0);
    assert_int_equal(n, 0);
    free(runs);
    assert_int_equal(ms_catalog_load_runs(c, 0, 2, &runs, &n, fx->err, sizeof fx->err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0]->id, 3);
    assert_int_equal(runs[1]->id, 2);
    assert_int_equal(runs[1]->finished, 1);
    for (size_t i = 0; i < n; i++)
        ms_run_destroy(&runs[i]);
    free(runs);
    assert_null(ms_catalog_load_run(c, 9, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "no run 9"));
    ms_catalog_close(&c);
}

/* Run 1 saved and committed; task a of run 1 left QUEUED with 0 attempts. */
static void assert_only_run_1_untouched(fx_t *fx)
{
    ms_catalog_t *c = open_ok(fx);
    assert_int_equal(last_id(c), 1);
    assert_null(ms_catalog_load_run(c, 2, fx->err, sizeof fx->err));
    ms_runrec_t *b = ms_catalog_load_run(c, 1, fx->err, sizeof fx->err);
    assert_non_null(b);
    assert_int_equal(ms_run_at(b, 0)->state, MS_TS_QUEUED);
    assert_int_equal(ms_run_at(b, 0)->attempts, 0);
    ms_run_destroy(&b);
    json_t *a = ms_catalog_attempts(c, 1, 0, fx->err, sizeof fx->err);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), 0);
    json_decref(a);
    ms_catalog_close(&c);
}

/* Begin, change run 1 and add run 2, and never commit. */
static int uncommitted_writes(const char *path, ms_catalog_t **out)
{
    char err[512];
    const char *projects[] = {"a", NULL};
    ms_catalog_t *c = ms_catalog_open(path, err, sizeof err);
    if (!c || ms_catalog_begin(c, err, sizeof err) != 0)
        return -1;
    ms_runrec_t *r1 = ms_catalog_load_run(c, 1, err, sizeof err);
    ms_runrec_t *r2 = new_run(2, NULL, projects);
    int rc = !r1 || ms_catalog_save_run(c, r2, err, sizeof err) != 0 ? -1 : 0;
    if (rc == 0) {
        ms_run_at(r1, 0)->attempts = 1;
        ms_run_at(r1, 0)->state = MS_TS_RUNNING;
        rc = ms_catalog_save_task(c, ms_run_at(r1, 0), err, sizeof err);
    }
    ms_run_destroy(&r1);
    ms_run_destroy(&r2);
    *out = c;
    return rc;
}

static void save_run_1(fx_t *fx)
{
    const char *projects[] = {"a", NULL};
    ms_catalog_t *c = open_ok(fx);
    ms_runrec_t *r = new_run(1, NULL, projects);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    ms_run_destroy(&r);
    ms_catalog_close(&c);
}

static void test_closing_without_commit_loses_the_writes_since_begin(void **state)
{
    fx_t *fx = *state;
    save_run_1(fx);
    ms_catalog_t *c = NULL;
    assert_int_equal(uncommitted_writes(fx->path, &c), 0);
    ms_catalog_close(&c);
    assert_only_run_1_untouched(fx);
}

static void test_a_crash_before_commit_loses_only_the_uncommitted_writes(void **state)
{
    fx_t *fx = *state;
    save_run_1(fx);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Die mid-transaction: no commit, no close, no exit handlers (and no
         * leak report from valgrind, which _exit would still get). */
        ms_catalog_t *c = NULL;
        if (uncommitted_writes(fx->path, &c) == 0)
            kill(getpid(), SIGKILL);
        _exit(3);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_only_run_1_untouched(fx);
}

static void test_nested_begin_and_commit_without_begin_are_errors(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    assert_int_equal(ms_catalog_commit(c, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "catalog: commit"));
    assert_int_equal(ms_catalog_begin(c, fx->err, sizeof fx->err), 0);
    assert_int_equal(ms_catalog_begin(c, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "already open"));
    assert_int_equal(ms_catalog_commit(c, fx->err, sizeof fx->err), 0);
    assert_int_equal(ms_catalog_begin(c, fx->err, sizeof fx->err), 0);
    assert_int_equal(ms_catalog_commit(c, fx->err, sizeof fx->err), 0);
    ms_catalog_close(&c);
}

static void test_saving_the_end_of_an_unknown_run_is_an_error(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    const char *projects[] = {NULL};
    ms_runrec_t *r = new_run(5, NULL, projects);
    assert_int_equal(ms_catalog_save_run_end(c, r, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "no run 5"));
    ms_run_destroy(&r);
    ms_catalog_close(&c);
}

static void test_last_run_id_is_the_highest_run_stored(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    assert_int_equal(last_id(c), 0);
    save_finished_run(c, 1, "prod", 0);
    save_finished_run(c, 5, "prod", 0);
    save_finished_run(c, 3, "prod", 0);
    assert_int_equal(last_id(c), 5);
    c = reopen(fx, &c);
    assert_int_equal(last_id(c), 5);
    ms_catalog_close(&c);
}

static void assert_history_keys(const json_t *e)
{
    static const char *keys[] = {
        "run_id",  "kind",      "set",    "source",       "destination",
        "started", "finished",  "status", "wall_seconds", "tasks",
        "failed",  "unchanged", "full",   "bytes_total",  "bytes_transferred"};
    assert_int_equal(json_object_size(e), sizeof keys / sizeof keys[0]);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(e, keys[i]))
            fail_msg("history entry lacks key %s", keys[i]);
}

static json_int_t jint(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

static void test_history_lists_runs_newest_first_with_the_documented_keys(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    save_finished_run(c, 1, "prod", 0);
    save_finished_run(c, 2, "n\xe9ght", 1);
    const char *projects[] = {"x", NULL};
    ms_runrec_t *r = new_run(3, NULL, projects);
    r->flags = MS_RUN_VERIFY;
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    ms_run_destroy(&r);

    json_t *h = ms_catalog_history(c, 0, fx->err, sizeof fx->err);
    assert_non_null(h);
    assert_int_equal(json_array_size(h), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_history_keys(json_array_get(h, i));
        assert_int_equal(jint(json_array_get(h, i), "run_id"), 3 - (json_int_t)i);
    }
    json_t *run3 = json_array_get(h, 0), *run2 = json_array_get(h, 1), *run1 = json_array_get(h, 2);
    assert_string_equal(jstr(run3, "status"), "running");
    assert_string_equal(jstr(run3, "kind"), "verify");
    assert_string_equal(jstr(run1, "kind"), "mirror");
    assert_true(json_is_null(json_object_get(run3, "finished")));
    assert_true(json_is_null(json_object_get(run3, "set")));
    assert_string_equal(jstr(run2, "status"), "failed");
    assert_string_equal(jstr(run2, "set"), "n\\xe9ght");
    assert_int_equal(jint(run2, "failed"), 1);
    assert_string_equal(jstr(run1, "status"), "ok");
    assert_string_equal(jstr(run1, "set"), "prod");
    assert_string_equal(jstr(run1, "source"), "/data/src");
    assert_string_equal(jstr(run1, "destination"), "/backup/dst");
    assert_string_equal(jstr(run1, "started"), "2023-11-14T22:15:00Z");
    assert_string_equal(jstr(run1, "finished"), "2023-11-14T22:15:12Z");
    assert_true(json_real_value(json_object_get(run1, "wall_seconds")) == 12.5);
    assert_int_equal(jint(run1, "tasks"), 3);
    assert_int_equal(jint(run1, "failed"), 0);
    /* tasks 0..2, attempt 1: bytes_total = k * 1000000 + 7, k = id * 1000 + 1 */
    assert_int_equal(jint(run1, "bytes_total"), (1 + 1001 + 2001) * 1000000LL + 21);
    assert_int_equal(jint(run1, "bytes_transferred"), (1 + 1001 + 2001) * 1000LL + 9);
    json_decref(h);

    h = ms_catalog_history(c, 2, fx->err, sizeof fx->err);
    assert_non_null(h);
    assert_int_equal(json_array_size(h), 2);
    assert_int_equal(jint(json_array_get(h, 1), "run_id"), 2);
    json_decref(h);
    ms_catalog_close(&c);
}

static void test_attempts_of_a_retried_task_are_listed_oldest_first(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    const char *projects[] = {"p", NULL};
    ms_runrec_t *r = new_run(4, NULL, projects);
    ms_trec_t *t = ms_run_at(r, 0);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    dispatch(c, t, "w1", "h1");
    fail_and_requeue(c, t, 23, "bad \xff byte");
    dispatch(c, t, "w2", "h2");
    t->state = MS_TS_QUEUED; /* w2 went silent: requeued without a result */
    save_task(c, t);
    dispatch(c, t, "w3", "h3");
    finish(c, t, 0, "");

    json_t *a = ms_catalog_attempts(c, 4, 0, fx->err, sizeof fx->err);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), 3);
    json_t *a1 = json_array_get(a, 0), *a2 = json_array_get(a, 1), *a3 = json_array_get(a, 2);
    assert_int_equal(json_object_size(a1), 7);
    assert_int_equal(jint(a1, "attempt"), 1);
    assert_string_equal(jstr(a1, "worker"), "w1");
    assert_string_equal(jstr(a1, "host"), "h1");
    assert_int_equal(jint(a1, "exit_code"), 23);
    assert_int_equal(jint(a1, "signal"), 0);
    assert_true(json_real_value(json_object_get(a1, "seconds")) == 1.25 + 1);
    assert_string_equal(jstr(a1, "message"), "bad \\xff byte");
    assert_int_equal(jint(a2, "attempt"), 2);
    assert_string_equal(jstr(a2, "worker"), "w2");
    assert_true(json_is_null(json_object_get(a2, "exit_code")));
    assert_true(json_is_null(json_object_get(a2, "message")));
    assert_int_equal(jint(a3, "attempt"), 3);
    assert_string_equal(jstr(a3, "host"), "h3");
    assert_int_equal(jint(a3, "exit_code"), 0);
    assert_string_equal(jstr(a3, "message"), "");
    json_decref(a);
    ms_run_destroy(&r);
    ms_catalog_close(&c);
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_a_file_that_is_not_a_catalog_is_refused_with_a_message(void **state)
{
    fx_t *fx = *state;
    unsigned char junk[8192];
    srand(42);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rand();
    write_file(fx->path, junk, sizeof junk);
    assert_null(ms_catalog_open(fx->path, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "catalog: "));
    assert_non_null(strstr(fx->err, "not a database"));

    sqlite3 *db = NULL;
    assert_int_equal(unlink(fx->path), 0);
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE other (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(ms_catalog_open(fx->path, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "not a multisync catalog"));
}

static void test_a_newer_schema_version_is_refused_with_a_message(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    ms_catalog_close(&c);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_null(ms_catalog_open(fx->path, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, "schema version 99"));
    assert_non_null(strstr(fx->err, "newer"));
}

static char **strv(const char *const *v, uint32_t n)
{
    char **out = calloc(n, sizeof *out);
    assert_non_null(out);
    for (uint32_t i = 0; i < n; i++)
        assert_non_null(out[i] = strdup(v[i]));
    return out;
}

/* Project "big" split into two chunks plus its rest, the way ms_chunks.c
 * does it: the rest waits (HELD) for its chunks. */
static ms_runrec_t *split_run(ms_catalog_t *c, fx_t *fx)
{
    const char *projects[] = {"big", "small", NULL};
    ms_runrec_t *r = new_run(3, NULL, projects);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    ms_trec_t *rest = ms_run_at(r, 0);
    const char *items1[] = {"a", "b c\xff*?["}, *excl[] = {"x/a", "x/b c\xff*?["};
    const char *match[] = {"[\\a-\\f]*", "g[\\\xff]"};
    const char *xmatch[] = {"fl\\*at/[\\a-\\f]*", "fl\\*at/g[\\\xff]"};
    ms_trec_t *c1 = ms_run_add_task(r, "big", 0), *c2 = ms_run_add_task(r, "big", 0);
    assert_non_null(c1);
    assert_non_null(c2);
    c1->parent = c2->parent = rest->id;
    c1->sub = strdup("x");
    c1->items = strv(items1, 2);
    c1->n_items = 2;
    c2->sub = strdup("fl*at"); /* a chunk of a folder with very many entries */
    c2->match = strv(match, 2);
    c2->n_match = 2;
    rest->excl = strv(excl, 2);
    rest->n_excl = 2;
    rest->xmatch = strv(xmatch, 2);
    rest->n_xmatch = 2;
    rest->n_chunks = rest->pending = 2;
    rest->state = MS_TS_HELD;
    save_task(c, rest);
    save_task(c, c1);
    save_task(c, c2);
    assert_int_equal(ms_catalog_save_ntasks(c, r, fx->err, sizeof fx->err), 0);
    return r;
}

static void test_a_split_project_comes_back_with_its_chunks_and_their_paths(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    ms_runrec_t *r = split_run(c, fx);
    dispatch(c, ms_run_at(r, 3), "w1", "h1");
    finish(c, ms_run_at(r, 3), 0, "");
    assert_int_equal(ms_run_at(r, 0)->pending, 1);

    /* "small" was still being walked when the master stopped. */
    ms_run_at(r, 1)->state = MS_TS_SCANNING;
    save_task(c, ms_run_at(r, 1));

    c = reopen(fx, &c);
    ms_runrec_t *back = ms_catalog_load_run(c, 3, fx->err, sizeof fx->err);
    if (!back)
        fail_msg("load: %s", fx->err);
    assert_int_equal(back->n_tasks, 5);
    assert_int_equal(back->n_scanning, 1);
    /* History counts projects, as the report does: big (its chunks in it),
     * small and the top task. */
    json_t *h = ms_catalog_history(c, 1, fx->err, sizeof fx->err);
    assert_non_null(h);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(h, 0), "tasks")), 3);
    json_decref(h);
    assert_int_equal(back->top, 2);
    assert_runs_equal(r, back);
    /* The rest is released only by its last chunk. */
    ms_trec_t *rel[2];
    assert_int_equal(ms_run_task_waits(back, ms_run_at(back, 0)), 1);
    ms_run_at(back, 4)->result.exit_code = 0;
    assert_int_equal(ms_run_task_final(back, ms_run_at(back, 4), rel), 1);
    assert_ptr_equal(rel[0], ms_run_at(back, 0));
    ms_run_destroy(&back);
    ms_run_destroy(&r);
    ms_catalog_close(&c);
}

static int count_fp(void *arg, const ms_catalog_fp_t *rec)
{
    int *n = arg;
    if (strcmp(rec->project, "alpha") == 0) {
        assert_string_equal(rec->part, "");
        assert_string_equal(rec->opts, "o2");
        assert_null(rec->snap);
        assert_int_equal(rec->run_id, 9);
        assert_int_equal(rec->fp.a, 11);
        assert_int_equal(rec->fp.b, 12);
    } else {
        assert_string_equal(rec->snap, "2026-12-07T021500Z");
        assert_int_equal(rec->files, 3);
    }
    ++*n;
    return 0;
}

static void test_fingerprints_are_kept_per_project_and_full_runs_are_counted(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    ms_catalog_fp_t a = {"alpha", "", "o1", NULL, {1, 2}, 8, 5, 500};
    ms_catalog_fp_t b = {"beta", "k1", "o1", "2026-12-07T021500Z", {3, 4}, 8, 3, 300};
    assert_int_equal(ms_catalog_fp_put(c, "/data/src", "/backup/dst", &a, fx->err, sizeof fx->err),
                     0);
    assert_int_equal(ms_catalog_fp_put(c, "/data/src", "/backup/dst", &b, fx->err, sizeof fx->err),
                     0);
    a = (ms_catalog_fp_t){"alpha", "", "o2", NULL, {11, 12}, 9, 5, 500}; /* the next copy */
    assert_int_equal(ms_catalog_fp_put(c, "/data/src", "/backup/dst", &a, fx->err, sizeof fx->err),
                     0);
    assert_int_equal(ms_catalog_fp_put(c, "/other", "/backup/dst", &a, fx->err, sizeof fx->err), 0);
    int n = 0;
    assert_int_equal(
        ms_catalog_fp_each(c, "/data/src", "/backup/dst", count_fp, &n, fx->err, sizeof fx->err),
        0);
    assert_int_equal(n, 2);
    /* Backups since the last full one: a verify does not count, nor does a
     * dry run, not even of a full pass (it repaired nothing). */
    const char *projects[] = {"alpha", NULL};
    uint32_t flags[] = {MS_RUN_FULL,
                        0,
                        MS_RUN_VERIFY,
                        0,
                        MS_RUN_VERIFY | MS_RUN_DRY_RUN | MS_RUN_FULL,
                        MS_RUN_VERIFY | MS_RUN_DRY_RUN};
    for (int i = 0; i < 6; i++) {
        ms_runrec_t *r = new_run(20 + i, NULL, projects);
        r->flags = flags[i];
        r->finished = 1;
        assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
        ms_run_destroy(&r);
    }
    uint64_t since = 99;
    assert_int_equal(
        ms_catalog_since_full(c, "/data/src", "/backup/dst", &since, fx->err, sizeof fx->err), 0);
    assert_int_equal(since, 2);
    ms_catalog_close(&c);
}

static void test_a_snapshot_run_keeps_its_snapshot_and_a_schema_2_catalog_is_upgraded(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    const char *projects[] = {"alpha", NULL};
    ms_runrec_t *mirror = new_run(6, "prod", projects);
    assert_int_equal(ms_catalog_save_run(c, mirror, fx->err, sizeof fx->err), 0);
    ms_catalog_close(&c);
    sqlite3 *db = NULL; /* a catalog of before snapshots: its runs are mirrors */
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE runs DROP COLUMN snap;"
                                  "DROP TABLE fingerprints;"
                                  "UPDATE meta SET value = 2 WHERE key = 'schema_version'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    c = open_ok(fx);
    ms_runrec_t *back = ms_catalog_load_run(c, 6, fx->err, sizeof fx->err);
    assert_non_null(back);
    assert_null(back->snap);
    ms_run_destroy(&back);

    ms_runrec_t *r = new_run(7, "prod", projects);
    ms_keep_t keep = {.daily = 7, .monthly = 12};
    assert_int_equal(ms_run_set_snap(r, "2026-12-07T021500Z", "2026-12-06T021500Z", &keep), 0);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    r->snap->complete = 1;
    assert_int_equal(ms_strv_push(&r->snap->pruned, "2026-11-01T021500Z"), 0);
    assert_int_equal(ms_catalog_save_run_end(c, r, fx->err, sizeof fx->err), 0);
    back = ms_catalog_load_run(c, 7, fx->err, sizeof fx->err);
    if (!back)
        fail_msg("load: %s", fx->err);
    assert_non_null(back->snap);
    assert_string_equal(back->snap->name, "2026-12-07T021500Z");
    assert_string_equal(back->snap->link, "2026-12-06T021500Z");
    assert_int_equal(back->snap->keep.daily, 7);
    assert_int_equal(back->snap->keep.monthly, 12);
    assert_int_equal(back->snap->keep.last, 0);
    assert_true(back->snap->complete);
    assert_null(back->snap->error);
    assert_int_equal(back->snap->pruned.n, 1);
    assert_string_equal(back->snap->pruned.v[0], "2026-11-01T021500Z");
    ms_run_destroy(&back);
    ms_run_destroy(&r);
    ms_run_destroy(&mirror);
    ms_catalog_close(&c);
}

static void test_a_catalog_of_schema_1_is_upgraded_and_keeps_its_runs(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    const char *projects[] = {"alpha", NULL};
    ms_runrec_t *r = new_run(5, "prod", projects);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    ms_catalog_close(&c);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE tasks DROP COLUMN spec;"
                                  "ALTER TABLE tasks DROP COLUMN parent;"
                                  "ALTER TABLE runs DROP COLUMN snap;"
                                  "DROP TABLE fingerprints;"
                                  "UPDATE meta SET value = 1 WHERE key = 'schema_version'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    c = open_ok(fx);
    ms_runrec_t *back = ms_catalog_load_run(c, 5, fx->err, sizeof fx->err);
    if (!back)
        fail_msg("load: %s", fx->err);
    assert_runs_equal(r, back);
    assert_int_equal(ms_run_at(back, 0)->parent, MS_NO_TASK);
    ms_run_destroy(&back);
    ms_run_destroy(&r);
    ms_catalog_close(&c);
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 4);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/*
 * The master saves a task on each hand-out and result with the cheap
 * update (its state, worker, result and attempt row; not its name or spec)
 * and a run's workers once per commit. Inside a transaction, and in
 * autocommit mode, a run comes back as if every save had been whole; a
 * task never stored before (a chunk) is stored whole by the update.
 */
static void test_cheap_task_updates_store_what_whole_saves_store(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    const char *projects[] = {"alpha", "beta", NULL};
    ms_runrec_t *r = new_run(9, "prod", projects);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    cheap_saves = 1;
    ms_trec_t *a = ms_run_at(r, 0), *b = ms_run_at(r, 1);
    assert_int_equal(ms_catalog_begin(c, fx->err, sizeof fx->err), 0);
    dispatch(c, a, "w1", "h1");
    dispatch(c, b, "w2", "h2");
    finish(c, a, 0, "");
    fail_and_requeue(c, b, 23, "Permission denied (13)");
    dispatch(c, b, "w1", "h1");
    assert_int_equal(ms_catalog_commit(c, fx->err, sizeof fx->err), 0);
    /* Autocommit: each update is its own transaction. */
    finish(c, b, 24, "file has vanished");
    ms_trec_t *chunk = ms_run_add_task(r, "alpha", 0);
    assert_non_null(chunk);
    const char *items[] = {"x", "y z"};
    chunk->parent = a->id;
    chunk->sub = strdup("deep/er");
    assert_non_null(chunk->sub);
    chunk->items = strv(items, 2);
    chunk->n_items = 2;
    ms_run_recount(r); /* a's chunk count, as loading computes it */
    dispatch(c, chunk, "w2", "h2");
    assert_int_equal(ms_catalog_save_ntasks(c, r, fx->err, sizeof fx->err), 0);
    assert_int_equal(ms_catalog_save_workers(c, r, fx->err, sizeof fx->err), 0);

    c = reopen(fx, &c);
    ms_runrec_t *back = ms_catalog_load_run(c, 9, fx->err, sizeof fx->err);
    assert_non_null(back);
    assert_runs_equal(r, back);
    assert_int_equal(back->workers[0].tasks + back->workers[1].tasks, 4);
    json_t *att = ms_catalog_attempts(c, 9, b->id, fx->err, sizeof fx->err);
    assert_int_equal(json_array_size(att), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(att, 0), "exit_code")), 23);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(att, 1), "exit_code")), 24);
    json_decref(att);
    ms_run_destroy(&back);
    ms_run_destroy(&r);
    ms_catalog_close(&c);
}

/* Run id of kind flags, its projects "a" and "b" finished ok at attempt
 * attempts (a verify's figures then differ from a copy's: result_for),
 * saved. */
static void save_run_of_kind(ms_catalog_t *c, uint64_t id, uint32_t flags, uint32_t attempts)
{
    char err[512];
    const char *projects[] = {"a", "b", NULL};
    ms_runrec_t *r = new_run(id, NULL, projects);
    r->flags = flags;
    assert_int_equal(ms_catalog_save_run(c, r, err, sizeof err), 0);
    for (size_t i = 0; i < r->n_tasks; i++) {
        ms_run_at(r, i)->attempts = attempts - 1;
        dispatch(c, ms_run_at(r, i), "w1", "h1");
        finish(c, ms_run_at(r, i), 0, "");
    }
    assert_int_equal(ms_catalog_save_run_end(c, r, err, sizeof err), 0);
    ms_run_destroy(&r);
}

/* The expected seconds of project "a" (task 0) in a new run of kind flags:
 * 1.25 + attempts of the run they come from (result_for). */
static double expected_a(fx_t *fx, ms_catalog_t *c, uint64_t id, uint32_t flags, int *known)
{
    const char *projects[] = {"a", NULL};
    ms_runrec_t *r = new_run(id, NULL, projects);
    r->flags = flags;
    assert_int_equal(ms_catalog_prior_sizes(c, r, fx->err, sizeof fx->err), 0);
    *known = ms_run_at(r, 0)->expected_known;
    double secs = ms_run_at(r, 0)->expected_seconds;
    ms_run_destroy(&r);
    return secs;
}

static void test_sizes_come_from_the_last_run_of_the_same_kind(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    int known = 0;
    save_run_of_kind(c, 1, MS_RUN_VERIFY, 2);
    expected_a(fx, c, 2, 0, &known);
    assert_false(known); /* a copy does not expect what a verify took */
    assert_true(expected_a(fx, c, 3, MS_RUN_VERIFY, &known) == 1.25 + 2);
    assert_true(known);
    save_run_of_kind(c, 4, MS_RUN_SNAPSHOT, 1);
    assert_true(expected_a(fx, c, 5, MS_RUN_DELETE, &known) == 1.25 + 1);
    assert_true(known); /* a mirror's after a snapshot's: both copies */
    /* the verify of run 1, not the copy of run 4 */
    assert_true(expected_a(fx, c, 6, MS_RUN_VERIFY, &known) == 1.25 + 2);
    ms_catalog_close(&c);
}

/*
 * A run cancelled while a task ran: the mark is stored when the cancel
 * happens (a master that restarts then must not resume it), history says
 * cancelled, its cancelled tasks are no failures, and the next run does
 * not take its sizes (most of its projects were never copied).
 */
static void test_a_cancelled_run_is_stored_so_and_shown_cancelled(void **state)
{
    fx_t *fx = *state;
    ms_catalog_t *c = open_ok(fx);
    ms_runrec_t **runs = NULL;
    size_t n = 0;
    int known = 0;
    save_run_of_kind(c, 1, 0, 2);
    const char *projects[] = {"a", "b", NULL};
    ms_runrec_t *r = new_run(2, NULL, projects);
    assert_int_equal(ms_catalog_save_run(c, r, fx->err, sizeof fx->err), 0);
    dispatch(c, ms_run_at(r, 0), "w1", "h1");
    finish(c, ms_run_at(r, 0), 0, ""); /* done before the cancel */
    dispatch(c, ms_run_at(r, 1), "w1", "h1");
    r->flags |= MS_RUN_CANCELLED;
    assert_int_equal(ms_catalog_save_run_end(c, r, fx->err, sizeof fx->err), 0);
    c = reopen(fx, &c);
    assert_int_equal(ms_catalog_load_runs(c, 1, 0, &runs, &n, fx->err, sizeof fx->err), 0);
    assert_int_equal(n, 1);
    assert_true(runs[0]->flags & MS_RUN_CANCELLED);
    ms_run_destroy(&runs[0]);
    free(runs);
    finish(c, ms_run_at(r, 1), MS_EXIT_CANCELLED, "cancelled while it ran");
    finish(c, ms_run_at(r, 2), MS_EXIT_CANCELLED, "cancelled before it ran");
    assert_int_equal(ms_catalog_save_run_end(c, r, fx->err, sizeof fx->err), 0);
    ms_run_destroy(&r);
    json_t *h = ms_catalog_history(c, 1, fx->err, sizeof fx->err);
    assert_string_equal(jstr(json_array_get(h, 0), "status"), "cancelled");
    assert_int_equal(jint(json_array_get(h, 0), "failed"), 0);
    json_decref(h);
    assert_true(expected_a(fx, c, 3, 0, &known) == 1.25 + 2); /* run 1's, not run 2's */
    ms_catalog_close(&c);
}

static void test_closing_null_or_twice_is_harmless(void **state)
{
    fx_t *fx = *state;
    ms_catalog_close(NULL);
    ms_catalog_t *c = NULL;
    ms_catalog_close(&c);
    c = open_ok(fx);
    ms_catalog_close(&c);
    assert_null(c);
    ms_catalog_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_finished_run_comes_back_field_for_field_after_reopening, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_only_unfinished_runs_come_back_with_their_tasks_as_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_load_runs_without_unfinished_only_returns_the_newest_up_to_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closing_without_commit_loses_the_writes_since_begin,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_crash_before_commit_loses_only_the_uncommitted_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes_come_from_the_last_run_of_the_same_kind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_cancelled_run_is_stored_so_and_shown_cancelled,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_begin_and_commit_without_begin_are_errors,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_saving_the_end_of_an_unknown_run_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_last_run_id_is_the_highest_run_stored, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_history_lists_runs_newest_first_with_the_documented_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attempts_of_a_retried_task_are_listed_oldest_first,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_file_that_is_not_a_catalog_is_refused_with_a_message,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_newer_schema_version_is_refused_with_a_message,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_closing_null_or_twice_is_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cheap_task_updates_store_what_whole_saves_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_a_split_project_comes_back_with_its_chunks_and_their_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_catalog_of_schema_1_is_upgraded_and_keeps_its_runs,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_snapshot_run_keeps_its_snapshot_and_a_schema_2_catalog_is_upgraded, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_fingerprints_are_kept_per_project_and_full_runs_are_counted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
