/*
 * test_report.c - the report of a run as JSON (what `--report FILE.json`
 * writes and the client prints): one row per project, a split project's
 * chunks folded into its row, names that are not UTF-8 escaped, and a big
 * report's pages saying which rows they hold. The printers of that JSON are
 * tested in test_print.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_report.h"

/* t ends with exit code and files, as a worker's RESULT would say. */
static void finish(ms_runrec_t *r, ms_trec_t *t, int exit_code, uint64_t files, const char *msg)
{
    ms_trec_t *released[2];
    ms_result_t res = {.exit_code = exit_code, .files = files, .message = strdup(msg)};
    assert_non_null(res.message);
    ms_run_set_result(t, &res);
    ms_run_task_final(r, t, released);
}

static const json_t *row(const json_t *rep, size_t i)
{
    const json_t *t = json_array_get(json_object_get(rep, "tasks"), i);
    assert_non_null(t);
    return t;
}

static json_int_t int_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *str_at(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

static void a_split_project_is_one_row_with_its_chunks_counters_and_worst_state(void **state)
{
    (void)state;
    ms_runrec_t *r = ms_run_new(7, "/src", "/dst", NULL);
    assert_non_null(r);
    ms_trec_t *rest = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c1 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c2 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *beta = ms_run_add_task(r, "beta", 0);
    assert_true(rest && c1 && c2 && beta);
    rest->n_chunks = 2;
    c1->parent = c2->parent = rest->id;
    finish(r, c1, 0, 10, "");
    finish(r, c2, 23, 5, "some files could not be transferred");
    finish(r, rest, 0, 1, "");
    finish(r, beta, 0, 3, "");
    assert_true(r->finished);

    json_t *rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_non_null(rep);
    assert_int_equal(json_array_size(json_object_get(rep, "tasks")), 2);
    const json_t *alpha = row(rep, 0);
    assert_string_equal(str_at(alpha, "project"), "alpha");
    assert_string_equal(str_at(alpha, "status"), "failed");
    assert_int_equal(int_at(alpha, "exit_code"), 23);
    assert_string_equal(str_at(alpha, "message"), "some files could not be transferred");
    assert_int_equal(int_at(alpha, "files"), 16);
    assert_int_equal(int_at(alpha, "chunks"), 2);
    assert_string_equal(str_at(row(rep, 1), "status"), "ok");
    const json_t *tot = json_object_get(rep, "totals");
    assert_int_equal(int_at(tot, "tasks"), 2);
    assert_int_equal(int_at(tot, "ok"), 1);
    assert_int_equal(int_at(tot, "failed"), 1);
    assert_int_equal(int_at(tot, "files"), 19);
    assert_string_equal(str_at(rep, "status"), "failed");
    assert_int_equal(int_at(rep, "run_id"), 7);
    assert_null(json_object_get(rep, "tasks_from"));
    json_decref(rep);
    ms_run_destroy(&r);
}

static void names_that_are_not_utf8_are_escaped_in_the_json(void **state)
{
    (void)state;
    ms_runrec_t *r = ms_run_new(1, "/src\xfe", "/dst", "night\xff");
    assert_non_null(r);
    ms_trec_t *t = ms_run_add_task(r, "caf\xc3\xa9-\xff", 0);
    ms_trec_t *top = ms_run_add_task(r, "", MS_TASK_TOP);
    assert_true(t && top);
    finish(r, t, 0, 1, "");
    finish(r, top, 0, 0, "");
    json_t *rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_non_null(rep);
    assert_string_equal(str_at(rep, "source"), "/src\\xfe");
    assert_string_equal(str_at(rep, "set"), "night\\xff");
    assert_string_equal(str_at(row(rep, 0), "project"), "caf\xc3\xa9-\\xff");
    assert_string_equal(str_at(row(rep, 1), "project"), ".");
    json_decref(rep);
    ms_run_destroy(&r);
}

static void a_page_holds_its_rows_and_says_which_they_are(void **state)
{
    (void)state;
    static const char *names[] = {"p0", "p1", "p2", "p3", "p4"};
    ms_runrec_t *r = ms_run_new(2, "/src", "/dst", NULL);
    assert_non_null(r);
    for (size_t i = 0; i < 5; i++)
        assert_non_null(ms_run_add_task(r, names[i], 0));
    for (size_t i = 0; i < 5; i++)
        finish(r, ms_run_at(r, i), i % 2 ? 23 : 0, 1, "");

    json_t *page = ms_report_json_page(NULL, r, 1, 2, 0);
    assert_non_null(page);
    assert_int_equal(json_array_size(json_object_get(page, "tasks")), 2);
    assert_string_equal(str_at(row(page, 0), "project"), "p1");
    assert_string_equal(str_at(row(page, 1), "project"), "p2");
    assert_int_equal(int_at(page, "tasks_from"), 1);
    assert_int_equal(int_at(page, "tasks_total"), 5);
    assert_int_equal(int_at(json_object_get(page, "totals"), "tasks"), 5); /* all of them */
    json_decref(page);

    json_t *failed = ms_report_json_page(NULL, r, 1, SIZE_MAX, 1);
    assert_non_null(failed);
    assert_int_equal(json_array_size(json_object_get(failed, "tasks")), 1);
    assert_string_equal(str_at(row(failed, 0), "project"), "p3");
    assert_int_equal(int_at(failed, "tasks_from"), 1);
    assert_int_equal(int_at(failed, "tasks_total"), 2);
    json_decref(failed);
    ms_run_destroy(&r);
}

/* A run of n tasks named prefix0..; the first done ones finished (odd ones
 * failed). */
static ms_runrec_t *run_of(uint64_t id, const char *prefix, size_t n, size_t done)
{
    ms_runrec_t *r = ms_run_new(id, "/src", "/dst", NULL);
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s%zu", prefix, i);
        assert_non_null(ms_run_add_task(r, name, 0));
    }
    for (size_t i = 0; i < done; i++)
        finish(r, ms_run_at(r, i), i % 2 ? 23 : 0, 1, "");
    return r;
}

static void pages_from_the_kept_rows_are_the_pages_made_afresh(void **state)
{
    (void)state;
    ms_report_t *rep = ms_report_new(NULL);
    assert_non_null(rep);
    ms_runrec_t *r = run_of(3, "p", 6, 5);
    /* Running: its rows change, so none are kept. */
    json_t *before = ms_report_json_page(rep, r, 0, SIZE_MAX, 0);
    assert_string_equal(str_at(row(before, 5), "status"), "queued");
    finish(r, ms_run_at(r, 5), 0, 1, "");
    assert_true(r->finished);
    json_t *after = ms_report_json_page(rep, r, 0, SIZE_MAX, 0);
    assert_string_equal(str_at(row(after, 5), "status"), "ok");
    for (size_t from = 0; from < 6; from += 2) {
        for (int failed_only = 0; failed_only < 2; failed_only++) {
            json_t *kept = ms_report_json_page(rep, r, from, 2, failed_only);
            json_t *fresh = ms_report_json_page(NULL, r, from, 2, failed_only);
            assert_non_null(kept);
            assert_non_null(fresh);
            json_object_del(kept, "wall_seconds"); /* the only field that may differ */
            json_object_del(fresh, "wall_seconds");
            assert_true(json_equal(kept, fresh));
            json_decref(kept);
            json_decref(fresh);
        }
    }
    json_decref(before);
    json_decref(after);
    ms_run_destroy(&r);
    ms_report_destroy(&rep);
    assert_null(rep);
}

static void a_forgotten_run_leaves_nothing_behind_for_the_next(void **state)
{
    (void)state;
    ms_report_t *rep = ms_report_new(NULL);
    assert_non_null(rep);
    ms_runrec_t *a = run_of(4, "a", 3, 3);
    /* b: project b0 split into its rest and one chunk, and b1. */
    ms_runrec_t *b = ms_run_new(5, "/src", "/dst", NULL);
    assert_non_null(b);
    ms_trec_t *rest = ms_run_add_task(b, "b0", 0);
    ms_trec_t *chunk = ms_run_add_task(b, "b0", 0);
    ms_trec_t *b1 = ms_run_add_task(b, "b1", 0);
    assert_true(rest && chunk && b1);
    rest->n_chunks = 1;
    chunk->parent = rest->id;
    finish(b, chunk, 0, 1, "");
    finish(b, rest, 0, 1, "");
    finish(b, b1, 0, 1, "");
    assert_true(b->finished);
    json_decref(ms_report_json_page(rep, a, 0, SIZE_MAX, 0)); /* a's rows kept */
    ms_report_forget(rep, b); /* not the kept one: nothing happens */
    json_t *pb = ms_report_json_page(rep, b, 0, SIZE_MAX, 0); /* b's replace a's */
    assert_string_equal(str_at(row(pb, 0), "project"), "b0");
    assert_int_equal(int_at(row(pb, 0), "files"), 2); /* the rest's and the chunk's */
    json_decref(pb);
    /* What the master does before it frees a run: forget it. Whatever is
     * at that address next (here: b, changed) is reported afresh. */
    ms_report_forget(rep, b);
    chunk->result.files = 41;
    pb = ms_report_json_page(rep, b, 0, SIZE_MAX, 0);
    assert_int_equal(int_at(row(pb, 0), "files"), 42);
    json_decref(pb);
    json_t *pa = ms_report_json_page(rep, a, 0, SIZE_MAX, 0);
    assert_string_equal(str_at(row(pa, 2), "project"), "a2");
    json_decref(pa);
    ms_report_destroy(&rep); /* frees the kept rows of a */
    ms_run_destroy(&a);
    ms_run_destroy(&b);
}

/* A verify: alpha split in a rest and two chunks (both chunks differ),
 * beta differs whole, gamma is the same, delta's rsync failed, and delta2
 * has a chunk that differs and one that failed. */
static void a_verify_says_what_differs_per_project_and_in_all(void **state)
{
    (void)state;
    ms_runrec_t *r = ms_run_new(9, "/src", "/dst", NULL);
    assert_non_null(r);
    r->flags = MS_RUN_VERIFY;
    assert_int_equal(ms_run_set_snap(r, "2026-12-07T021500Z", NULL, NULL), 0);
    ms_trec_t *rest = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c1 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c2 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *beta = ms_run_add_task(r, "beta", 0);
    ms_trec_t *gamma = ms_run_add_task(r, "gamma", 0);
    ms_trec_t *delta = ms_run_add_task(r, "delta", 0);
    ms_trec_t *rest2 = ms_run_add_task(r, "delta2", 0);
    ms_trec_t *d1 = ms_run_add_task(r, "delta2", 0);
    ms_trec_t *d2 = ms_run_add_task(r, "delta2", 0);
    rest->n_chunks = rest2->n_chunks = 2;
    c1->parent = c2->parent = rest->id;
    d1->parent = d2->parent = rest2->id;
    finish(r, c1, MS_EXIT_DIFFERS, 3, "1 path differs:\n>fc........ alpha/a/x\n");
    finish(r, c2, MS_EXIT_DIFFERS, 3,
           "102 paths differ:\n>fc........ alpha/b/y\n... and 101 more\n");
    finish(r, rest, 0, 1, "");
    finish(r, beta, MS_EXIT_DIFFERS, 2, "1 path differs:\nbeta/: missing from the backup");
    finish(r, gamma, 0, 2, "");
    finish(r, delta, 23, 2, "permission denied");
    finish(r, d1, MS_EXIT_DIFFERS, 1,
           "2 paths differ:\n*deleting   delta2/x\n>f+++++++++ delta2/y\n");
    finish(r, d2, 23, 1, "cannot read");
    finish(r, rest2, 0, 1, "");
    assert_true(r->finished);
    assert_true(ms_result_outcome(&c1->result) == MS_OUTCOME_PERMANENT);

    json_t *rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_non_null(rep);
    const json_t *alpha = row(rep, 0);
    assert_string_equal(str_at(alpha, "status"), "differs");
    assert_int_equal(int_at(alpha, "paths"), 103);
    assert_string_equal(str_at(alpha, "message"), "103 paths differ:\n>fc........ alpha/a/x\n"
                                                  ">fc........ alpha/b/y\n... and 101 more\n");
    assert_string_equal(str_at(row(rep, 1), "status"), "differs");
    assert_int_equal(int_at(row(rep, 1), "paths"), 1);
    assert_string_equal(str_at(row(rep, 2), "status"), "ok");
    assert_null(json_object_get(row(rep, 2), "paths"));
    assert_string_equal(str_at(row(rep, 3), "status"), "failed");
    assert_string_equal(str_at(row(rep, 3), "message"), "permission denied");
    /* a failure outranks a difference, whose paths still count */
    assert_string_equal(str_at(row(rep, 4), "status"), "failed");
    assert_string_equal(str_at(row(rep, 4), "message"), "cannot read");
    assert_int_equal(int_at(row(rep, 4), "paths"), 2);

    assert_string_equal(str_at(rep, "status"), "failed");
    assert_string_equal(str_at(rep, "kind"), "verify");
    assert_null(json_object_get(rep, "snapshot"));
    const json_t *v = json_object_get(rep, "verify"), *tot = json_object_get(rep, "totals");
    assert_string_equal(str_at(v, "snapshot"), "2026-12-07T021500Z");
    assert_int_equal(int_at(v, "differs"), 2);
    assert_int_equal(int_at(v, "paths"), 106);
    assert_int_equal(int_at(tot, "failed"), 2);
    assert_int_equal(int_at(tot, "ok"), 1);
    assert_int_equal(int_at(tot, "bytes_read"), int_at(tot, "read_bytes"));
    json_decref(rep);
    ms_run_destroy(&r);
}

static void a_verify_of_a_mirror_that_matches_is_ok(void **state)
{
    (void)state;
    ms_runrec_t *r = ms_run_new(10, "/src", "/dst", NULL);
    assert_non_null(r);
    r->flags = MS_RUN_VERIFY;
    ms_trec_t *a = ms_run_add_task(r, "a", 0);
    ms_trec_t *top = ms_run_add_task(r, "", MS_TASK_TOP);
    finish(r, a, 0, 1, "");
    a->result.read_bytes = 4000;
    finish(r, top, 0, 1, "");
    json_t *rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_string_equal(str_at(rep, "status"), "ok");
    const json_t *v = json_object_get(rep, "verify");
    assert_true(json_is_null(json_object_get(v, "snapshot")));
    assert_int_equal(int_at(v, "differs"), 0);
    assert_int_equal(int_at(v, "paths"), 0);
    assert_int_equal(int_at(json_object_get(rep, "totals"), "bytes_read"), 4000);
    json_decref(rep);
    /* a copy run has no verify, no bytes_read */
    r->flags = 0;
    rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_string_equal(str_at(rep, "kind"), "mirror");
    assert_null(json_object_get(rep, "verify"));
    assert_null(json_object_get(json_object_get(rep, "totals"), "bytes_read"));
    json_decref(rep);
    ms_run_destroy(&r);
}

/* A dry run: alpha split in a rest and two chunks (one would change),
 * beta would change whole, gamma unchanged (the fast path), delta failed.
 * Changes are no failure: only delta is. */
static void a_dry_run_says_what_would_change_and_changes_are_no_failure(void **state)
{
    (void)state;
    ms_runrec_t *r = ms_run_new(11, "/src", "/dst", NULL);
    assert_non_null(r);
    r->flags = MS_RUN_VERIFY | MS_RUN_DRY_RUN | MS_RUN_DELETE;
    ms_trec_t *rest = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c1 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c2 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *beta = ms_run_add_task(r, "beta", 0);
    ms_trec_t *gamma = ms_run_add_task(r, "gamma", 0);
    ms_trec_t *top = ms_run_add_task(r, "", MS_TASK_TOP);
    rest->n_chunks = 2;
    c1->parent = c2->parent = rest->id;
    finish(r, c1, 0, 3, "");
    finish(r, c2, MS_EXIT_WOULD_CHANGE, 3,
           "2 paths would change:\n>f.st...... alpha/b/y\n*deleting   alpha/b/old\n");
    finish(r, rest, 0, 1, "");
    finish(r, beta, MS_EXIT_WOULD_CHANGE, 2, "1 path would change:\n>f+++++++++ beta/new\n");
    finish(r, gamma, MS_EXIT_UNCHANGED, 2, "unchanged since run 3");
    finish(r, top, 0, 1, "");
    assert_true(r->finished);
    assert_int_equal(r->n_failed, 0);

    json_t *rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_non_null(rep);
    const json_t *alpha = row(rep, 0);
    assert_string_equal(str_at(alpha, "status"), "would-change");
    assert_int_equal(int_at(alpha, "paths"), 2);
    assert_string_equal(str_at(alpha, "message"),
                        "2 paths would change:\n>f.st...... alpha/b/y\n*deleting   alpha/b/old\n");
    assert_string_equal(str_at(row(rep, 1), "status"), "would-change");
    assert_int_equal(int_at(row(rep, 1), "paths"), 1);
    assert_string_equal(str_at(row(rep, 2), "status"), "unchanged");
    assert_string_equal(str_at(row(rep, 3), "status"), "ok");
    assert_null(json_object_get(row(rep, 3), "paths"));

    assert_string_equal(str_at(rep, "status"), "ok");
    assert_string_equal(str_at(rep, "kind"), "dry-run");
    assert_true(json_is_false(json_object_get(rep, "full")));
    assert_null(json_object_get(rep, "verify"));
    const json_t *d = json_object_get(rep, "dry_run"), *tot = json_object_get(rep, "totals");
    assert_true(json_is_null(json_object_get(d, "snapshot")));
    assert_int_equal(int_at(d, "changes"), 2);
    assert_int_equal(int_at(d, "paths"), 3);
    assert_int_equal(int_at(tot, "failed"), 0);
    assert_int_equal(int_at(tot, "ok"), 4);
    assert_int_equal(int_at(tot, "unchanged"), 1);
    json_decref(rep);
    /* a failed task fails the dry run */
    ms_trec_t *delta = ms_run_add_task(r, "delta", 0);
    r->finished = 0;
    finish(r, delta, 23, 0, "permission denied");
    rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_string_equal(str_at(rep, "status"), "failed");
    json_decref(rep);
    ms_run_destroy(&r);
}

static double real_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* t handed out at `at` seconds after its run started, ending after secs
 * with exit code (as the master stamps a hand-out: ms_wall_ns). */
static void ran(ms_runrec_t *r, ms_trec_t *t, double at, double secs, int exit_code)
{
    ms_trec_t *released[2];
    int64_t start = (int64_t)r->started_rt.tv_sec * 1000000000 + r->started_rt.tv_nsec;
    t->attempts = 1;
    t->handed_ns = start + (int64_t)(at * 1e9);
    ms_result_t res = {.exit_code = exit_code, .seconds = secs, .message = strdup("")};
    assert_non_null(res.message);
    ms_run_set_result(t, &res);
    ms_run_task_final(r, t, released);
}

static void each_row_says_when_it_started_and_a_split_one_when_its_last_part_ended(void **state)
{
    (void)state;
    ms_runrec_t *r = ms_run_new(9, "/src", "/dst", NULL);
    assert_non_null(r);
    r->started_rt = (struct timespec){.tv_sec = 1700000000, .tv_nsec = 900000000};
    ms_trec_t *rest = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c1 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *c2 = ms_run_add_task(r, "alpha", 0);
    ms_trec_t *beta = ms_run_add_task(r, "beta", 0);
    ms_trec_t *gamma = ms_run_add_task(r, "gamma", 0);
    assert_true(rest && c1 && c2 && beta && gamma);
    rest->n_chunks = 2;
    c1->parent = c2->parent = rest->id;
    ran(r, c1, 1.5, 2.0, 0);  /* ends at 3.5 */
    ran(r, c2, 0.25, 5.0, 0); /* the first part to start; ends at 5.25 */
    ran(r, beta, 0.125, 1.0, 23);
    ran(r, rest, 6.0, 0.5, 0); /* the last part: ends at 6.5 */
    ms_trec_t *released[2];    /* gamma: cancelled before it was handed out */
    ms_result_t res = {.exit_code = MS_EXIT_CANCELLED, .message = strdup("")};
    ms_run_set_result(gamma, &res);
    ms_run_task_final(r, gamma, released);

    json_t *rep = ms_report_json_page(NULL, r, 0, SIZE_MAX, 0);
    assert_non_null(rep);
    const json_t *alpha = row(rep, 0), *b = row(rep, 1), *g = row(rep, 2);
    assert_true(real_at(alpha, "start_s") == 0.25);
    assert_true(real_at(alpha, "end_s") == 6.5);
    assert_true(real_at(alpha, "seconds") == 7.5); /* the work of its parts, added */
    assert_true(real_at(b, "start_s") == 0.125);
    assert_null(json_object_get(b, "end_s")); /* start_s + seconds */
    assert_string_equal(str_at(g, "status"), "cancelled");
    assert_true(json_is_null(json_object_get(g, "start_s")));
    json_decref(rep);
    ms_run_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_split_project_is_one_row_with_its_chunks_counters_and_worst_state),
        cmocka_unit_test(names_that_are_not_utf8_are_escaped_in_the_json),
        cmocka_unit_test(a_page_holds_its_rows_and_says_which_they_are),
        cmocka_unit_test(pages_from_the_kept_rows_are_the_pages_made_afresh),
        cmocka_unit_test(a_forgotten_run_leaves_nothing_behind_for_the_next),
        cmocka_unit_test(a_verify_says_what_differs_per_project_and_in_all),
        cmocka_unit_test(a_verify_of_a_mirror_that_matches_is_ok),
        cmocka_unit_test(a_dry_run_says_what_would_change_and_changes_are_no_failure),
        cmocka_unit_test(each_row_says_when_it_started_and_a_split_one_when_its_last_part_ended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
