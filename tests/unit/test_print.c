/*
 * test_print.c - what the report, status and snapshot printers write to a
 * terminal.
 * Their text comes from a master over the network and holds names anyone
 * who can make a folder chose: no control byte may reach the terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_print.h"

#define HOSTILE "evil\x1b[2J\x1b]0;pwned\x07\rname\nnext"

/* Whether text holds a byte a terminal acts on (newline apart). */
static int has_control(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)text[i] < 0x20 && text[i] != '\n') || text[i] == 0x7f)
            return 1;
    return 0;
}

static void status_and_report_printers_escape_control_bytes(void **state)
{
    (void)state;
    json_t *st = json_pack(
        "{s:{s:I, s:s, s:s, s:f, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:n, s:f, s:n,"
        " s:{s:{s:s, s:s, s:s}, s:{}}}, s:[], s:[], s:[{s:I, s:s, s:s, s:s, s:I, s:f, s:I}],"
        " s:n, s:I}",
        "run", "id", (json_int_t)1, "set", HOSTILE, "state", "running", "elapsed_s", 1.0, "tasks",
        "queued", (json_int_t)1, "running", (json_int_t)1, "done", (json_int_t)0, "failed",
        (json_int_t)0, "scanning", (json_int_t)0, "bytes_done", (json_int_t)0, "bytes_expected",
        "rate_bps", 0.0, "eta_s", "diagnosis", "run", "verdict", HOSTILE, "evidence", HOSTILE,
        "suggestion", HOSTILE, "hosts", "runs", "workers", "running", "run_id", (json_int_t)1,
        "project", HOSTILE, "part", HOSTILE, "host", HOSTILE, "attempt", (json_int_t)1, "elapsed_s",
        1.0, "bytes_done", (json_int_t)0, "last_run", "queued", (json_int_t)0);
    assert_non_null(st);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ms_print_status(st, f);
    fclose(f);
    assert_true(len > 0);
    assert_non_null(strstr(text, "\\x1b"));
    assert_false(has_control(text, len));
    free(text);
    json_decref(st);

    json_t *rep = json_pack(
        "{s:I, s:s, s:s, s:n, s:s, s:n, s:f, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I,"
        " s:I, s:f, s:f, s:i}, s:[{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:I, s:I, s:I, s:f, s:f,"
        " s:I, s:I, s:I, s:s}], s:[], s:n}",
        "run_id", (json_int_t)1, "source", "/s", "destination", "/d", "set", "started", "x",
        "finished", "wall_seconds", 1.0, "status", "failed", "totals", "tasks", (json_int_t)1, "ok",
        (json_int_t)0, "failed", (json_int_t)1, "files", (json_int_t)0, "bytes_total",
        (json_int_t)0, "bytes_transferred", (json_int_t)0, "cpu_user_s", 0.0, "cpu_sys_s", 0.0,
        "read_bytes", (json_int_t)0, "write_bytes", (json_int_t)0, "throughput_bps", 0.0,
        "parallel_efficiency", 0.0, "slots", 1, "tasks", "project", HOSTILE, "worker", "w1", "host",
        HOSTILE, "status", "failed", "exit_code", 23, "attempts", 1, "seconds", 1.0, "files",
        (json_int_t)0, "bytes_total", (json_int_t)0, "bytes_transferred", (json_int_t)0,
        "cpu_user_s", 0.0, "cpu_sys_s", 0.0, "max_rss_kb", (json_int_t)0, "read_bytes",
        (json_int_t)0, "write_bytes", (json_int_t)0, "message", HOSTILE, "workers", "diagnosis");
    assert_non_null(rep);
    char *out = NULL, *err = NULL;
    size_t out_len = 0, err_len = 0;
    FILE *fo = open_memstream(&out, &out_len), *fe = open_memstream(&err, &err_len);
    assert_int_equal(ms_print_report(rep, fo, fe), 1);
    fclose(fo);
    fclose(fe);
    assert_non_null(strstr(err, "FAILED"));
    assert_false(has_control(out, out_len));
    assert_false(has_control(err, err_len));
    free(out);
    free(err);
    json_decref(rep);
}

static void the_snapshot_listing_marks_latest_and_dashes_what_a_run_left_no_figure_for(void **state)
{
    (void)state;
    /* The master's answer: a name it did not make may hold anything. */
    json_t *list = json_pack(
        "[{s:s, s:s, s:s, s:b, s:I, s:I, s:I}, {s:s, s:s, s:s, s:b, s:I},"
        " {s:s, s:s, s:s, s:b, s:I}]",
        "name", "2026-12-06T021500Z", "state", "complete", "time", "2026-12-06T02:15:00Z", "latest",
        1, "projects", (json_int_t)3, "files", (json_int_t)12, "bytes_transferred",
        (json_int_t)2048, "name", "2026-12-07T021500Z.partial", "state", "partial", "time",
        "2026-12-07T02:15:00Z", "latest", 0, "projects", (json_int_t)2, "name", HOSTILE, "state",
        HOSTILE, "time", HOSTILE, "latest", 0, "projects", (json_int_t)0);
    assert_non_null(list);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ms_print_snapshots(list, f);
    fclose(f);
    assert_false(has_control(text, len));
    assert_non_null(strstr(text, "\n* 2026-12-06T021500Z "));
    assert_non_null(strstr(text, "2.0 KiB\n"));
    assert_non_null(strstr(text, "\n  2026-12-07T021500Z.partial partial"));
    assert_non_null(strstr(text, "       2         -          -\n"));
    assert_non_null(strstr(text, "\n* latest\n"));
    free(text);
    json_decref(list);
}

/* ms_print_report of rep into out and err (NUL-terminated); returns it. */
static int print_report(const json_t *rep, char **out, char **err)
{
    size_t out_len = 0, err_len = 0;
    FILE *fo = open_memstream(out, &out_len), *fe = open_memstream(err, &err_len);
    int rc = ms_print_report(rep, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

static void a_verify_report_lists_each_project_s_differences_then_a_summary(void **state)
{
    (void)state;
    json_t *rep = json_loads(
        "{\"run_id\": 4, \"status\": \"failed\", \"kind\": \"verify\", \"wall_seconds\": 2.0,"
        " \"totals\": {\"tasks\": 3, \"ok\": 1, \"failed\": 0, \"bytes_read\": 1288490189},"
        " \"verify\": {\"snapshot\": \"2026-12-07T021500Z\", \"differs\": 2, \"paths\": 3},"
        " \"tasks\": ["
        "  {\"project\": \"alpha\", \"host\": \"h\", \"status\": \"differs\", \"paths\": 2,"
        "   \"message\": \"2 paths differ:\\n>fc........ alpha/a\\u001b[2J\\n*deleting   "
        "alpha/old\\n\"},"
        "  {\"project\": \"beta\", \"host\": \"h\", \"status\": \"differs\", \"paths\": 1,"
        "   \"message\": \"1 path differs:\\nbeta/: missing from the backup\"},"
        "  {\"project\": \"gamma\", \"host\": \"h\", \"status\": \"ok\", \"message\": \"\"}]}",
        0, NULL);
    assert_non_null(rep);
    char *out = NULL, *err = NULL;
    assert_int_equal(print_report(rep, &out, &err), 0); /* differences are no failed task */
    assert_false(has_control(out, strlen(out)));
    assert_non_null(strstr(out, "DIFFERS alpha: 2 paths\n"
                                "  >fc........ alpha/a\\x1b[2J\n"
                                "  *deleting   alpha/old\n"
                                "DIFFERS beta: 1 path\n"
                                "  beta/: missing from the backup\n"));
    assert_non_null(strstr(out, "verify of snapshot 2026-12-07T021500Z: 2 of 3 projects differ "
                                "(3 paths); 1.2 GiB read\n"));
    assert_null(strstr(out, "gamma:"));
    assert_string_equal(err, "");
    free(out);
    free(err);
    json_decref(rep);
}

static void a_dry_run_report_lists_what_would_change_then_that_nothing_was_written(void **state)
{
    (void)state;
    json_t *rep = json_loads(
        "{\"run_id\": 5, \"status\": \"ok\", \"kind\": \"dry-run\", \"wall_seconds\": 1.0,"
        " \"totals\": {\"tasks\": 14, \"ok\": 14, \"failed\": 0, \"unchanged\": 11,"
        "  \"bytes_transferred\": 2048},"
        " \"dry_run\": {\"snapshot\": null, \"changes\": 2, \"paths\": 5},"
        " \"tasks\": ["
        "  {\"project\": \"alpha\", \"host\": \"h\", \"status\": \"would-change\", \"paths\": 3,"
        "   \"message\": \"3 paths would change:\\n>f+++++++++ alpha/new.txt\\n"
        ">f.st...... alpha/a\\n*deleting   alpha/old.txt\\n\"},"
        "  {\"project\": \"beta\", \"host\": \"h\", \"status\": \"would-change\", \"paths\": 2,"
        "   \"message\": \"2 paths would change:\\n.d...p..... beta/\\ncd+++++++++ beta/e/\\n\"},"
        "  {\"project\": \"gamma\", \"host\": \"\", \"status\": \"unchanged\","
        "   \"message\": \"unchanged since run 4\"}]}",
        0, NULL);
    assert_non_null(rep);
    char *out = NULL, *err = NULL;
    assert_int_equal(print_report(rep, &out, &err), 0); /* changes are no failure */
    assert_non_null(strstr(out, "WOULD CHANGE alpha: 3 paths\n"
                                "  >f+++++++++ alpha/new.txt\n"
                                "  >f.st...... alpha/a\n"
                                "  *deleting   alpha/old.txt\n"
                                "WOULD CHANGE beta: 2 paths\n"));
    assert_non_null(strstr(out, "dry run: 2 of 14 projects would change (5 paths, 2.0 KiB to "
                                "transfer); nothing written\n"));
    assert_null(strstr(out, "gamma:"));
    assert_string_equal(err, "");
    free(out);
    free(err);
    json_decref(rep);
}

static void history_says_each_run_s_kind(void **state)
{
    (void)state;
    json_t *h = json_loads("[{\"run_id\": 2, \"kind\": \"verify\", \"status\": \"ok\","
                           " \"source\": \"/src\"},"
                           " {\"run_id\": 3, \"kind\": \"mirror\", \"full\": true,"
                           " \"status\": \"ok\", \"source\": \"/src\"},"
                           " {\"run_id\": 4, \"kind\": \"mirror\", \"full\": false,"
                           " \"status\": \"ok\", \"source\": \"/src\"},"
                           " {\"run_id\": 5, \"kind\": \"dry-run\", \"full\": true,"
                           " \"status\": \"ok\", \"source\": \"/src\"}]",
                           0, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ms_print_history(h, f);
    fclose(f);
    assert_non_null(strstr(text, "KIND"));
    assert_non_null(strstr(text, "2      verify   ok "));
    assert_non_null(strstr(text, "3      full     ok ")); /* a mirror's full pass */
    assert_non_null(strstr(text, "4      mirror   ok "));
    assert_non_null(strstr(text, "5      dry-run  ok ")); /* a dry run, even of a full pass */
    free(text);
    json_decref(h);
}

/* What printer(j, f) writes, NUL-terminated (free it). */
static char *printed(void (*printer)(FILE *, const json_t *), const json_t *j)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    printer(f, j);
    fclose(f);
    return text;
}

static void print_progress(FILE *f, const json_t *j)
{
    ms_print_progress(f, j);
}

static void the_progress_line_shows_tasks_percent_bytes_rate_and_eta(void **state)
{
    (void)state;
    json_t *run = json_loads(
        "{\"tasks\": {\"total\": 120, \"queued\": 70, \"running\": 8, \"done\": 40, \"failed\": 2,"
        " \"unchanged\": 30}, \"walk\": {\"done\": true, \"bytes\": 3650722201},"
        " \"bytes_done\": 1288490189, \"bytes_expected\": 3650722201, \"percent\": 35.2,"
        " \"rate_bps\": 89128960, \"eta_s\": 27.4}",
        0, NULL);
    char *text = printed(print_progress, run);
    assert_string_equal(text, "\r42/120 tasks, 2 failed (30 unchanged)  35.2%  1.2 GiB of 3.4 GiB"
                              "  85.0 MiB/s  ETA 0:27\033[K");
    free(text);
    /* An hour and more; one task. */
    json_object_set_new(run, "eta_s", json_real(3723));
    json_object_set_new(run, "tasks", json_pack("{s:i, s:i}", "total", 1, "done", 0));
    text = printed(print_progress, run);
    assert_non_null(strstr(text, "\r0/1 task  35.2%"));
    assert_non_null(strstr(text, "ETA 1:02:03\033[K"));
    free(text);
    json_decref(run);
}

/* A first run while its walk goes on: what the walk found so far; once
 * sized, no "unknown". */
static void the_progress_line_says_the_walk_is_going_on(void **state)
{
    (void)state;
    json_t *run = json_loads("{\"tasks\": {\"total\": 5}, \"walk\": {\"done\": false, \"bytes\": "
                             "2048}, \"bytes_done\": 0, \"bytes_expected\": null, \"percent\": "
                             "null, \"rate_bps\": 0, \"eta_s\": null}",
                             0, NULL);
    char *text = printed(print_progress, run);
    assert_string_equal(text, "\r0/5 tasks  0 B, walking: 2.0 KiB found  0 B/s  ETA unknown\033[K");
    free(text);
    json_decref(run);
}

static void print_report_to(FILE *f, const json_t *j)
{
    ms_print_report(j, f, f);
}

/* The text report ends with the diagnosis: the run's verdict, then a line
 * per host with its verdict and figures; one slot, one task, one file. */
static void the_report_says_the_diagnosis_and_counts_in_the_singular(void **state)
{
    (void)state;
    json_t *rep = json_loads(
        "{\"run_id\": 7, \"status\": \"ok\", \"wall_seconds\": 2.5,"
        " \"totals\": {\"tasks\": 1, \"ok\": 1, \"failed\": 0, \"files\": 1, \"slots\": 1},"
        " \"tasks\": [{\"project\": \"a\", \"host\": \"hostA\", \"status\": \"ok\"}],"
        " \"diagnosis\": {\"run\": {\"verdict\": \"io-bound\", \"evidence\": \"ev\","
        "   \"suggestion\": \"add slots\"},"
        "  \"hosts\": {\"hostA\": {\"verdict\": \"io-bound\", \"evidence\": \"e\","
        "   \"suggestion\": \"raise --slots\", \"figures\": {\"slots\": 1,"
        "   \"slots_full_percent\": 95.0, \"cpu_percent\": 12.0, \"disk_busy_percent\": 98.0,"
        "   \"net_bps\": 0, \"rsync_cpu_percent\": 3.0}},"
        "  \"hostB\": {\"verdict\": \"cpu-bound\", \"evidence\": \"older \\u001b report\"}}}}",
        0, NULL);
    assert_non_null(rep);
    char *text = printed(print_report_to, rep);
    assert_false(has_control(text, strlen(text)));
    assert_non_null(strstr(text, "run 7: ok  1 task, 1 ok, 0 failed\n"));
    assert_non_null(strstr(text, "wall time 2.50 s, 1 file, "));
    assert_non_null(strstr(text, "parallel efficiency 0% of 1 slot\n"));
    assert_non_null(strstr(text, "diagnosis: run io-bound: ev\n  -> add slots\n"));
    assert_non_null(strstr(text, "diagnosis: hostA io-bound (cpu 12%, disk 98% busy, network 0 B/s,"
                                 " its 1 slot busy 95% of the time, each rsync 3% of a core)\n"
                                 "  -> raise --slots\n"));
    assert_non_null(strstr(text, "diagnosis: hostB cpu-bound (older \\x1b report)\n"));
    assert_null(strstr(text, " 1 slots"));
    assert_null(strstr(text, " 1 tasks"));
    free(text);
    json_decref(rep);
}

static void print_status(FILE *f, const json_t *j)
{
    ms_print_status(j, f);
}

/* status: no "task(s)", "project(s)": the count decides. */
static void status_counts_in_the_singular_and_the_plural(void **state)
{
    (void)state;
    json_t *st = json_loads("{\"run\": null, \"last_run\": {\"run_id\": 3, \"status\": \"ok\","
                            " \"totals\": {\"failed\": 1}}, \"workers\": []}",
                            0, NULL);
    char *text = printed(print_status, st);
    assert_non_null(strstr(text, ": ok, 1 task failed, took"));
    assert_null(strstr(text, "(s)"));
    free(text);
    json_decref(st);
    st = json_loads("{\"run\": {\"id\": 4, \"state\": \"running\", \"tasks\": {\"total\": 3,"
                    " \"scanning\": 1, \"queued\": 2}, \"walk\": {\"done\": false, \"projects\": 2,"
                    " \"files\": 1, \"bytes\": 0}}, \"workers\": []}",
                    0, NULL);
    text = printed(print_status, st);
    assert_non_null(strstr(text, "; 1 project still being walked or split\n"));
    assert_non_null(strstr(text, "  walk: going on, 2 projects, 1 entry, 0 B\n"));
    assert_non_null(
        strstr(text, "  progress: 0/3 tasks, 0 B, walking: 0 B found, 0 B/s, ETA unknown\n"));
    assert_null(strstr(text, "(s)"));
    free(text);
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_and_report_printers_escape_control_bytes),
        cmocka_unit_test(
            the_snapshot_listing_marks_latest_and_dashes_what_a_run_left_no_figure_for),
        cmocka_unit_test(a_verify_report_lists_each_project_s_differences_then_a_summary),
        cmocka_unit_test(a_dry_run_report_lists_what_would_change_then_that_nothing_was_written),
        cmocka_unit_test(history_says_each_run_s_kind),
        cmocka_unit_test(the_progress_line_shows_tasks_percent_bytes_rate_and_eta),
        cmocka_unit_test(the_progress_line_says_the_walk_is_going_on),
        cmocka_unit_test(the_report_says_the_diagnosis_and_counts_in_the_singular),
        cmocka_unit_test(status_counts_in_the_singular_and_the_plural),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
