/*
 * test_journal.c - the master's writes to its catalog (ms_journal.h): a
 * run and its tasks' changes reach the catalog at the commit, the group
 * commit's deadline, a write that fails while another connection holds
 * the catalog (nothing lost: the next flush that works stores it again),
 * and a journal without a catalog. A real SQLite catalog in a temporary
 * folder; no socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ms_clock.h"
#include "ms_journal.h"
#include "ms_test.h"

typedef struct {
    char dir[64];
    char path[128];
    ms_journal_t *j;
    ms_runrec_t *r;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    char err[512];
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "journal");
    snprintf(fx->path, sizeof fx->path, "%s/catalog.db", fx->dir);
    ms_catalog_t *cat = ms_catalog_open(fx->path, err, sizeof err);
    assert_non_null(cat);
    fx->j = ms_journal_new(cat, fx->path);
    assert_non_null(fx->j);
    fx->r = ms_run_new(1, "/src", "/dst", NULL);
    const char *names[] = {"alpha", "beta"};
    assert_int_equal(ms_run_add_projects(fx->r, (char *const *)names, 2, MS_TS_QUEUED), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    ms_journal_destroy(&fx->j);
    assert_null(fx->j);
    ms_journal_destroy(&fx->j);
    ms_run_destroy(&fx->r);
    assert_int_equal(ms_test_rmtree(fx->dir), 0);
    free(fx);
    return 0;
}

/* One number from the catalog, as another connection reads it now (a
 * reader does not wait for the journal's open transaction). */
static long long stored_int(fx_t *fx, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;
    assert_int_equal(sqlite3_open_v2(fx->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static ms_task_state_t stored_state(fx_t *fx, size_t task)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT state FROM tasks WHERE run_id = 1 AND task_id = %zu", task);
    return (ms_task_state_t)stored_int(fx, sql);
}

/* Task i of the fixture's run, made to run on hostA as attempt 1. */
static ms_trec_t *hand_out(fx_t *fx, size_t i)
{
    ms_trec_t *t = ms_run_at(fx->r, i);
    t->attempts = 1;
    snprintf(t->worker_id, sizeof t->worker_id, "w1");
    t->host = ms_run_intern(fx->r, "hostA");
    ms_run_set_state(t, MS_TS_RUNNING);
    assert_int_equal(ms_run_note_worker(fx->r, "w1", "hostA", 2, 0), 0);
    return t;
}

static void a_new_run_and_a_task_s_change_are_in_the_catalog_after_the_commit(void **state)
{
    fx_t *fx = *state;
    char err[512];
    assert_int_equal(ms_journal_new_run(fx->j, fx->r, err, sizeof err), 0);
    assert_int_equal(stored_state(fx, 0), MS_TS_QUEUED);
    ms_trec_t *t = hand_out(fx, 0);
    ms_journal_task(fx->j, t);
    assert_int_equal(stored_state(fx, 0), MS_TS_QUEUED); /* not committed yet */
    assert_int_equal(ms_journal_flush(fx->j, 0), 0);
    assert_int_equal(stored_state(fx, 0), MS_TS_RUNNING);
    /* the hand-out's worker count, stored at the commit */
    assert_int_equal(stored_int(fx, "SELECT tasks FROM run_workers WHERE run_id = 1"), 1);
}

static void the_commit_is_due_a_moment_after_the_first_change(void **state)
{
    fx_t *fx = *state;
    char err[512];
    assert_int_equal(ms_journal_new_run(fx->j, fx->r, err, sizeof err), 0);
    assert_int_equal(ms_journal_commit_due(fx->j), INT64_MAX);
    int64_t before = ms_now_ms();
    ms_journal_task(fx->j, hand_out(fx, 1));
    int64_t due = ms_journal_commit_due(fx->j);
    assert_true(due >= before && due <= ms_now_ms() + 10);
    assert_int_equal(ms_journal_flush(fx->j, 0), 0);
    assert_int_equal(ms_journal_commit_due(fx->j), INT64_MAX);
}

/* While another connection holds the catalog's write lock, a change cannot
 * be written (after SQLite's 5 s busy wait): the flush says so, and tries
 * again at most once a second; once the lock is gone, a flush stores the
 * run again, whole, and commits: nothing was lost. */
static void a_write_that_fails_is_stored_again_once_the_catalog_works(void **state)
{
    fx_t *fx = *state;
    char err[512];
    sqlite3 *other;
    assert_int_equal(ms_journal_new_run(fx->j, fx->r, err, sizeof err), 0);
    assert_int_equal(sqlite3_open(fx->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ms_trec_t *t = hand_out(fx, 0);
    ms_journal_task(fx->j, t); /* waits out the busy timeout, then fails */
    assert_int_equal(ms_journal_flush(fx->j, 0), -1);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(ms_journal_flush(fx->j, 0), -1); /* not again within a second */
    assert_int_equal(stored_state(fx, 0), MS_TS_QUEUED);
    assert_int_equal(ms_journal_flush(fx->j, 1), 0); /* forced: now */
    assert_int_equal(stored_state(fx, 0), MS_TS_RUNNING);
}

static void a_forgotten_run_is_not_stored_again(void **state)
{
    fx_t *fx = *state;
    char err[512];
    assert_int_equal(ms_journal_new_run(fx->j, fx->r, err, sizeof err), 0);
    ms_journal_task(fx->j, hand_out(fx, 0));
    ms_journal_forget_run(fx->j, fx->r);
    ms_run_destroy(&fx->r); /* what the master does with a run it drops */
    assert_int_equal(ms_journal_flush(fx->j, 0), 0);
}

static void without_a_catalog_everything_succeeds_and_does_nothing(void **state)
{
    (void)state;
    char err[64];
    ms_journal_t *j = ms_journal_new(NULL, NULL);
    ms_runrec_t *r = ms_run_new(3, "/s", "/d", NULL);
    assert_non_null(j);
    assert_null(ms_journal_catalog(j));
    assert_non_null(ms_run_add_task(r, "p", 0));
    assert_int_equal(ms_journal_new_run(j, r, err, sizeof err), 0);
    ms_journal_task(j, ms_run_at(r, 0));
    ms_journal_workers(j, r);
    assert_int_equal(ms_journal_commit_due(j), INT64_MAX);
    assert_int_equal(ms_journal_flush(j, 0), 0);
    ms_journal_checkpoint(j, 0);
    ms_journal_destroy(&j);
    ms_run_destroy(&r);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_new_run_and_a_task_s_change_are_in_the_catalog_after_the_commit),
        T(the_commit_is_due_a_moment_after_the_first_change),
        T(a_write_that_fails_is_stored_again_once_the_catalog_works),
        T(a_forgotten_run_is_not_stored_again),
        cmocka_unit_test(without_a_catalog_everything_succeeds_and_does_nothing),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
