/*
 * test_metrics.c - the Prometheus text made of a master's status and
 * history: from JSON captured from a real master and worker
 * (tests/fixtures/metrics, see its README.md) and from hand-made edge
 * cases: no run yet, failed and cancelled runs, runs that are not
 * backups, hostile names, missing and mistyped fields. The integration
 * test test_metrics.sh runs promtool on the same text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_metrics.h"

#define FIX "tests/fixtures/metrics/"

static json_t *load_fixture(const char *name)
{
    json_error_t jerr;
    char path[256];
    snprintf(path, sizeof path, FIX "%s", name);
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j)
        fail_msg("%s: %s", path, jerr.text);
    return j;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    if (!text)
        return NULL;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return j;
}

/* The text for status and history (taken: their references are dropped). */
static char *text_of(json_t *status, json_t *history)
{
    char err[128];
    size_t len;
    char *t = ms_metrics_text(status, history, &len, err, sizeof err);
    assert_non_null(t);
    assert_int_equal(strlen(t), len);
    json_decref(status);
    json_decref(history);
    return t;
}

static char *text_from(const char *status, const char *history)
{
    return text_of(parse(status), parse(history));
}

/* Whether text holds line as a whole line. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

#define assert_line(text, line)                                                                    \
    do {                                                                                           \
        if (!has_line(text, line))                                                                 \
            fail_msg("no line \"%s\" in:\n%s", line, text);                                        \
    } while (0)
#define assert_no(text, what)                                                                      \
    do {                                                                                           \
        if (strstr(text, what))                                                                    \
            fail_msg("\"%s\" should not be in:\n%s", what, text);                                  \
    } while (0)

static void rfc3339_reads_utc_offsets_and_fractions(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        double want;
    } ok[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-12-07T21:29:19Z", 1796678959},
        {"2000-02-29T00:00:00Z", 951782400},
        {"2000-02-29T01:00:00+01:00", 951782400},
        {"2000-02-28T23:30:00-00:30", 951782400},
        {"2000-02-29t00:00:00.25z", 951782400.25},
        {"2000-02-29 00:00:00.5Z", 951782400.5},
        {"1969-12-31T23:59:59Z", -1},
        {"2016-12-31T23:59:60Z", 1483228800}, /* a leap second: the next minute */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -12345;
        if (ms_metrics_rfc3339(ok[i].s, &v) != 0 || v != ok[i].want)
            fail_msg("%s: got %.3f, want %.3f", ok[i].s, v, ok[i].want);
    }
}

static void rfc3339_refuses_what_is_not_a_date(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2023-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* nor this one */
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:61Z",
        "2024-01-01T00:00:00",   /* no zone */
        "2024-01-01T00:00:00Zx", /* trailing bytes */
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+01",
        "2024-01-01X00:00:00Z",
        "24-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z",
        "-024-01-01T00:00:00Z",
    };
    double v;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ms_metrics_rfc3339(bad[i], &v) == 0)
            fail_msg("%s was read as %.3f", bad[i], v);
    assert_int_equal(ms_metrics_rfc3339(NULL, &v), -1);
    /* Every prefix of a valid one is refused (and read within its NUL:
     * ASan would say otherwise). */
    const char *full = "2000-02-29T01:00:00.125+01:00";
    for (size_t n = 0; n < strlen(full); n++) {
        char *cut = strndup(full, n);
        assert_int_equal(ms_metrics_rfc3339(cut, &v), -1);
        free(cut);
    }
}

static void a_real_running_run_shows_its_progress_workers_and_verdicts(void **state)
{
    (void)state;
    char *t = text_of(load_fixture("status-running.json"), load_fixture("history.json"));
    assert_true(strncmp(t, "# HELP multisync_info ", 22) == 0);
    assert_line(t, "# TYPE multisync_info gauge");
    assert_line(t, "multisync_info{version=\"0.9.0\"} 1");
    assert_line(t, "multisync_runs_active 1");
    assert_line(t, "multisync_run_tasks{state=\"total\"} 4");
    assert_line(t, "multisync_run_tasks{state=\"running\"} 2");
    assert_line(t, "multisync_run_tasks{state=\"queued\"} 2");
    assert_line(t, "multisync_run_bytes{kind=\"done\"} 2162688");
    assert_line(t, "multisync_run_bytes{kind=\"expected\"} 6000000");
    assert_line(t, "multisync_run_bytes{kind=\"walked\"} 6000000");
    assert_line(t, "multisync_run_progress_ratio 0.36");
    assert_line(t, "multisync_run_eta_seconds 2.894");
    assert_line(t, "multisync_run_elapsed_seconds 1.632");
    assert_line(t, "multisync_worker_up{worker=\"hostA\"} 1");
    assert_line(t, "multisync_worker_slots{worker=\"hostA\",state=\"busy\"} 2");
    assert_line(t, "multisync_worker_slots{worker=\"hostA\",state=\"free\"} 0");
    assert_line(t, "multisync_worker_cpu_percent{worker=\"hostA\"} 62.5");
    assert_line(t, "# TYPE multisync_worker_disk_written_bytes_total counter");
    assert_line(t, "multisync_worker_disk_written_bytes_total{worker=\"hostA\"} 94549266432");
    assert_line(t, "multisync_worker_network_received_bytes_total{worker=\"hostA\"} 203706688");
    assert_line(t, "multisync_worker_disk_write_bytes_per_second{worker=\"hostA\"} 20480");
    assert_line(t, "multisync_diagnosis{worker=\"hostA\",verdict=\"balanced\"} 1");
    assert_line(t, "multisync_diagnosis{worker=\"hostA\",verdict=\"io-bound\"} 0");
    assert_line(t, "multisync_run_diagnosis{verdict=\"under-provisioned\"} 1");
    free(t);
}

static void a_real_history_gives_each_set_its_last_success_and_the_counters(void **state)
{
    (void)state;
    char *t = text_of(load_fixture("status-after.json"), load_fixture("history.json"));
    const char *paths = "/tmp/multisync-fixture/src -> /tmp/multisync-fixture/dst";
    char line[512];
    assert_line(t, "# TYPE multisync_last_success_timestamp_seconds gauge");
    /* run 1, set nightly, ok, finished 2026-12-07T21:29:19Z */
    assert_line(t, "multisync_last_success_timestamp_seconds{set=\"nightly\"} 1796678959");
    assert_line(t,
                "multisync_last_run_timestamp_seconds{set=\"nightly\",status=\"ok\"} 1796678959");
    assert_line(t, "multisync_run_duration_seconds{set=\"nightly\"} 3.997");
    assert_line(t, "multisync_last_run_success{set=\"nightly\"} 1");
    /* run 2, no set: its paths; it failed, so it has no last success */
    snprintf(line, sizeof line,
             "multisync_last_run_timestamp_seconds{set=\"%s\",status=\"failed\"} %s", paths,
             "1796678961");
    assert_line(t, line);
    snprintf(line, sizeof line, "multisync_last_success_timestamp_seconds{set=\"%s\"}", paths);
    assert_no(t, line);
    snprintf(line, sizeof line, "multisync_last_run_success{set=\"%s\"} 0", paths);
    assert_line(t, line);
    assert_line(t, "# TYPE multisync_bytes_transferred_total counter");
    assert_line(t, "multisync_bytes_transferred_total 10000000");
    assert_line(t, "multisync_tasks_total{status=\"ok\"} 7");
    assert_line(t, "multisync_tasks_total{status=\"failed\"} 1");
    assert_line(t, "multisync_runs_total{status=\"failed\"} 1");
    assert_line(t, "multisync_runs_active 0");
    assert_line(t, "multisync_worker_slots{worker=\"hostA\",state=\"free\"} 2");
    assert_line(t, "multisync_run_diagnosis{verdict=\"io-bound\"} 1"); /* the last run's */
    assert_no(t, "multisync_run_tasks");                               /* no run going */
    free(t);
}

static void no_run_yet_says_the_version_and_workers_but_no_age(void **state)
{
    (void)state;
    char *t = text_of(load_fixture("status-no-run.json"), json_array());
    assert_line(t, "multisync_info{version=\"0.9.0\"} 1");
    assert_line(t, "multisync_worker_up{worker=\"hostA\"} 1");
    assert_line(t, "multisync_runs_active 0");
    assert_line(t, "multisync_bytes_transferred_total 0");
    assert_no(t, "last_success");
    assert_no(t, "multisync_diagnosis");
    free(t);
    /* Nothing at all: still valid, the version only. */
    t = text_of(NULL, NULL);
    assert_string_equal(t, "# HELP multisync_info The multisync version that wrote these "
                           "metrics.\n# TYPE multisync_info gauge\n"
                           "multisync_info{version=\"0.9.0\"} 1\n");
    free(t);
}

static void without_history_the_last_run_counts_but_no_counter_is_made_up(void **state)
{
    (void)state;
    char *t = text_of(load_fixture("status-after.json"), NULL);
    assert_line(t, "multisync_last_run_timestamp_seconds{set=\"/tmp/multisync-fixture/src -> "
                   "/tmp/multisync-fixture/dst\",status=\"failed\"} 1796678961");
    assert_no(t, "nightly");
    assert_no(t, "multisync_bytes_transferred_total");
    assert_no(t, "multisync_tasks_total");
    free(t);
}

/* A history entry of set "s" (kind, status, finished, bytes, tasks, failed). */
static json_t *entry(int id, const char *kind, const char *status, const char *finished, int bytes,
                     int tasks, int failed)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s?, s:s, s:f, s:i, s:i, s:i, s:i}", "run_id", id,
                     "kind", kind, "set", "s", "source", "/a", "destination", "/b", "finished",
                     finished, "status", status, "wall_seconds", 10.5, "tasks", tasks, "failed",
                     failed, "unchanged", 1, "bytes_transferred", bytes);
}

static void a_newer_failure_leaves_the_last_success_where_it_was(void **state)
{
    (void)state;
    json_t *h =
        json_pack("[o, o, o, o]", entry(4, "mirror", "failed", "1970-01-01T00:00:40Z", 1, 3, 1),
                  entry(3, "mirror", "cancelled", "1970-01-01T00:00:30Z", 1, 3, 0),
                  entry(2, "snapshot", "ok", "1970-01-01T00:00:20Z", 1, 3, 0),
                  entry(1, "mirror", "ok", "1970-01-01T00:00:10Z", 1, 3, 0));
    char *t = text_of(NULL, h);
    assert_line(t, "multisync_last_success_timestamp_seconds{set=\"s\"} 20");
    assert_line(t, "multisync_last_run_timestamp_seconds{set=\"s\",status=\"ok\"} 20");
    assert_line(t, "multisync_last_run_timestamp_seconds{set=\"s\",status=\"failed\"} 40");
    assert_line(t, "multisync_last_run_timestamp_seconds{set=\"s\",status=\"cancelled\"} 30");
    assert_line(t, "multisync_last_run_success{set=\"s\"} 0");
    assert_line(t, "multisync_run_duration_seconds{set=\"s\"} 10.5");
    /* ok tasks: 3 - 0 - 1 twice, 3 - 1 - 1 once; the cancelled run's
     * unchanged and failed only */
    assert_line(t, "multisync_tasks_total{status=\"ok\"} 5");
    assert_line(t, "multisync_tasks_total{status=\"unchanged\"} 4");
    assert_line(t, "multisync_tasks_total{status=\"failed\"} 1");
    assert_line(t, "multisync_runs_total{status=\"ok\"} 2");
    assert_line(t, "multisync_runs_total{status=\"cancelled\"} 1");
    free(t);
}

static void verify_dry_run_and_restore_say_nothing_of_the_backup_age(void **state)
{
    (void)state;
    json_t *h =
        json_pack("[o, o, o, o]", entry(4, "verify", "ok", "1970-01-01T00:00:40Z", 1000, 3, 0),
                  entry(3, "dry-run", "ok", "1970-01-01T00:00:30Z", 1000, 3, 0),
                  entry(2, "restore", "ok", "1970-01-01T00:00:20Z", 7, 1, 0),
                  entry(1, "mirror", "ok", "1970-01-01T00:00:10Z", 5, 3, 0));
    char *t = text_of(NULL, h);
    assert_line(t, "multisync_last_success_timestamp_seconds{set=\"s\"} 10");
    /* a restore copies: its bytes count; a verify and a dry run wrote nothing */
    assert_line(t, "multisync_bytes_transferred_total 12");
    assert_line(t, "multisync_runs_total{status=\"ok\"} 2");
    free(t);
}

/* The value of the sample on line `prefix VALUE`; -1 when absent. */
static double value_of(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; (p = strstr(p, prefix)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static void counters_do_not_move_while_a_run_goes_and_never_go_down(void **state)
{
    (void)state;
    static const char *const names[] = {
        "multisync_bytes_transferred_total", "multisync_tasks_total{status=\"ok\"}",
        "multisync_tasks_total{status=\"failed\"}", "multisync_runs_total{status=\"ok\"}"};
    json_t *h = json_pack("[o]", entry(1, "mirror", "ok", "1970-01-01T00:00:10Z", 5, 3, 0));
    double before[4], during[4], after[4];
    char *t = text_of(NULL, json_incref(h));
    for (size_t i = 0; i < 4; i++)
        before[i] = value_of(t, names[i]);
    free(t);
    /* run 2 going on: the catalog has part of its figures */
    json_array_insert_new(h, 0,
                          json_pack("{s:i, s:s, s:s, s:n, s:i, s:i, s:i}", "run_id", 2, "status",
                                    "running", "set", "s", "finished", "tasks", 3, "failed", 1,
                                    "bytes_transferred", 4));
    t = text_of(NULL, json_incref(h));
    for (size_t i = 0; i < 4; i++)
        during[i] = value_of(t, names[i]);
    free(t);
    json_array_set_new(h, 0, entry(2, "mirror", "failed", "1970-01-01T00:00:20Z", 9, 3, 1));
    t = text_of(NULL, h);
    for (size_t i = 0; i < 4; i++)
        after[i] = value_of(t, names[i]);
    free(t);
    for (size_t i = 0; i < 4; i++) {
        assert_true(before[i] >= 0);
        assert_true(during[i] == before[i]);
        assert_true(after[i] >= during[i]);
    }
    assert_true(after[0] == 14 && after[2] == 1);
}

static void hostile_names_are_escaped_and_made_utf8(void **state)
{
    (void)state;
    json_t *w = json_pack("{s:i, s:i}", "slots", 4, "busy", 1);
    /* a host name that json_string would refuse: bytes from the network */
    json_object_set_new(w, "host", json_string_nocheck("h\xff\"q\\\nx"));
    json_t *status = json_pack("{s:[o]}", "workers", w);
    json_t *h = json_pack("[{s:s, s:s, s:s, s:s}]", "set", "a\"b\\c\nd\te \xe2\x86\x92", "status",
                          "ok", "kind", "mirror", "finished", "1970-01-01T00:01:00Z");
    char *t = text_of(status, h);
    assert_line(t, "multisync_last_success_timestamp_seconds{set=\"a\\\"b\\\\c\\nd\te "
                   "\xe2\x86\x92\"} 60");
    /* 0xff became the text \xff, whose backslash is escaped */
    assert_line(t, "multisync_worker_up{worker=\"h\\\\xff\\\"q\\\\\\nx\"} 1");
    assert_line(t, "multisync_worker_slots{worker=\"h\\\\xff\\\"q\\\\\\nx\",state=\"free\"} 3");
    /* every line is a comment or a sample: no name broke a line */
    for (const char *p = t; *p; p = strchr(p, '\n') + 1)
        assert_true(*p == '#' || strncmp(p, "multisync_", 10) == 0);
    free(t);
}

static void missing_and_mistyped_fields_are_left_out(void **state)
{
    (void)state;
    char *t =
        text_from("{\"run\": {\"tasks\": \"many\", \"bytes_done\": \"x\", \"percent\": null,"
                  " \"walk\": 3, \"diagnosis\": {\"hosts\": {\"h\": {\"verdict\": 7}},"
                  " \"run\": []}},"
                  " \"runs\": {}, \"workers\": [1, null, {\"slots\": 2}, {\"host\": \"\"},"
                  " {\"host\": \"w\", \"slots\": \"2\", \"busy\": 1, \"broken\": \"x\"}],"
                  " \"queued\": \"3\", \"last_run\": 5}",
                  "[1, {\"status\": \"ok\"}, {\"status\": \"ok\", \"finished\": \"yesterday\"},"
                  " {\"status\": \"weird\", \"finished\": \"1970-01-01T00:00:01Z\"},"
                  " {\"status\": \"ok\", \"finished\": \"1970-01-01T00:00:02Z\","
                  " \"bytes_transferred\": -5, \"tasks\": 1e300}]");
    assert_line(t, "multisync_runs_active 1");
    assert_line(t, "multisync_worker_up{worker=\"w\"} 1");
    assert_line(t, "multisync_worker_broken{worker=\"w\"} 1");
    assert_line(t, "multisync_worker_up{worker=\"h\"} 0"); /* named by the diagnosis only */
    assert_no(t, "multisync_worker_slots");                /* slots not a number */
    assert_no(t, "multisync_run_bytes");
    assert_no(t, "multisync_run_progress_ratio");
    assert_no(t, "multisync_tasks_queued");
    assert_no(t, "multisync_diagnosis");
    /* no set, no paths: "? -> ?"; a negative byte count adds nothing */
    assert_line(t, "multisync_last_success_timestamp_seconds{set=\"? -> ?\"} 2");
    assert_line(t, "multisync_bytes_transferred_total 0");
    assert_line(t, "multisync_tasks_total{status=\"ok\"} 1e+300");
    free(t);
    /* Not objects nor arrays at all. */
    free(text_from("[1, 2]", "{\"a\": 1}"));
    free(text_from("\"status\"", "7"));
}

static void each_worker_appears_once_and_a_gone_one_is_down(void **state)
{
    (void)state;
    char *t = text_from("{\"workers\": [{\"host\": \"b\", \"slots\": 1, \"busy\": 0},"
                        " {\"host\": \"a\", \"slots\": 1, \"busy\": 1},"
                        " {\"host\": \"b\", \"slots\": 9, \"busy\": 0}],"
                        " \"last_run\": {\"workers\": [{\"host\": \"c\"}, {\"host\": \"a\"}],"
                        " \"diagnosis\": {\"hosts\": {\"c\": {\"verdict\": \"io-bound\"}}}}}",
                        NULL);
    const char *a = strstr(t, "multisync_worker_up{worker=\"a\"} 1\n");
    const char *b = strstr(t, "multisync_worker_up{worker=\"b\"} 1\n");
    const char *c = strstr(t, "multisync_worker_up{worker=\"c\"} 0\n");
    assert_true(a && b && c && a < b && b < c); /* sorted */
    assert_ptr_equal(strstr(b + 1, "multisync_worker_up{worker=\"b\"}"), NULL);
    assert_line(t, "multisync_worker_slots{worker=\"b\",state=\"free\"} 1"); /* the first b */
    assert_no(t, "state=\"free\"} 9");
    assert_line(t, "multisync_diagnosis{worker=\"c\",verdict=\"io-bound\"} 1");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_reads_utc_offsets_and_fractions),
        cmocka_unit_test(rfc3339_refuses_what_is_not_a_date),
        cmocka_unit_test(a_real_running_run_shows_its_progress_workers_and_verdicts),
        cmocka_unit_test(a_real_history_gives_each_set_its_last_success_and_the_counters),
        cmocka_unit_test(no_run_yet_says_the_version_and_workers_but_no_age),
        cmocka_unit_test(without_history_the_last_run_counts_but_no_counter_is_made_up),
        cmocka_unit_test(a_newer_failure_leaves_the_last_success_where_it_was),
        cmocka_unit_test(verify_dry_run_and_restore_say_nothing_of_the_backup_age),
        cmocka_unit_test(counters_do_not_move_while_a_run_goes_and_never_go_down),
        cmocka_unit_test(hostile_names_are_escaped_and_made_utf8),
        cmocka_unit_test(missing_and_mistyped_fields_are_left_out),
        cmocka_unit_test(each_worker_appears_once_and_a_gone_one_is_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
