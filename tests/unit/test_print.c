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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_and_report_printers_escape_control_bytes),
        cmocka_unit_test(
            the_snapshot_listing_marks_latest_and_dashes_what_a_run_left_no_figure_for),
        cmocka_unit_test(a_verify_report_lists_each_project_s_differences_then_a_summary),
        cmocka_unit_test(a_dry_run_report_lists_what_would_change_then_that_nothing_was_written),
        cmocka_unit_test(history_says_each_run_s_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
