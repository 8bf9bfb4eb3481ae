/*
 * test_eta.c - the progress arithmetic: a first run sized by its walk,
 * unchanged tasks that are no work, a long task that holds the end back,
 * no rate yet, and a run that is done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ms_eta.h"

#define MB (1024 * 1024ull)

static ms_eta_task_t pending(uint64_t size)
{
    return (ms_eta_task_t){.state = MS_ETA_PENDING, .size_known = 1, .size = size};
}

static ms_eta_task_t running(uint64_t size, uint64_t done, double elapsed, double expected)
{
    return (ms_eta_task_t){.state = MS_ETA_RUNNING,
                           .size_known = 1,
                           .size = size,
                           .done = done,
                           .elapsed_s = elapsed,
                           .expected_s = expected};
}

static ms_eta_task_t finished(uint64_t bytes)
{
    return (ms_eta_task_t){.state = MS_ETA_DONE, .size_known = 1, .size = bytes, .done = bytes};
}

static ms_eta_task_t skipped(uint64_t bytes)
{
    return (ms_eta_task_t){.state = MS_ETA_SKIPPED, .size_known = 1, .size = bytes};
}

static void add(ms_eta_t *e, ms_eta_task_t t)
{
    ms_eta_add(e, &t);
}

/* A first run: no past, but the walk sized every project. */
static void a_first_run_has_a_total_from_its_walk(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    add(&e, finished(100 * MB));
    add(&e, running(100 * MB, 50 * MB, 5, 0));
    add(&e, pending(150 * MB));
    assert_int_equal(e.total, 350 * MB);
    assert_int_equal(e.done, 150 * MB);
    assert_float_equal(ms_eta_percent(&e), 100.0 * 150 / 350, 0.001);
    assert_float_equal(ms_eta_rate(&e, 10), 15.0 * MB, 1);
    /* 200 MB left at 15 MB/s; the running one needs 5 s at its own 10 MB/s */
    assert_float_equal(ms_eta_seconds(&e, 10), 200.0 / 15, 0.001);
}

/* A project that is neither walked nor known from last time: no total,
 * no ETA, rather than a wrong one. */
static void an_unsized_task_leaves_the_eta_unknown(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    add(&e, finished(10 * MB));
    add(&e, (ms_eta_task_t){.state = MS_ETA_PENDING});
    assert_false(e.total_known);
    assert_true(ms_eta_percent(&e) < 0);
    assert_true(ms_eta_seconds(&e, 2) < 0);
}

/* A quiet night: 8 unchanged projects of 1 GB, one changed of 80 MB that
 * has done 10 MB in 1 s. The unchanged are not progress: 12.5 %, 7 s. */
static void unchanged_tasks_are_neither_work_nor_rate(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    for (int i = 0; i < 8; i++)
        add(&e, skipped(1024 * MB));
    add(&e, running(80 * MB, 10 * MB, 1, 0));
    assert_int_equal(e.total, 80 * MB);
    assert_int_equal(e.done, 10 * MB);
    assert_int_equal(e.skipped, 8 * 1024 * MB);
    assert_float_equal(ms_eta_percent(&e), 12.5, 0.001);
    assert_float_equal(ms_eta_rate(&e, 1), 10.0 * MB, 1);
    assert_float_equal(ms_eta_seconds(&e, 1), 7.0, 0.001);
}

/* Small tasks went fast, one long task runs on: its past says 60 s, it
 * has run 10 s; the bytes alone would say 1 s. */
static void a_long_running_task_holds_the_eta_up(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    for (int i = 0; i < 20; i++)
        add(&e, finished(50 * MB));
    add(&e, running(100 * MB, 90 * MB, 10, 60));
    assert_float_equal(e.floor_s, 50.0, 0.001);
    assert_float_equal(ms_eta_seconds(&e, 10), 50.0, 0.001);
    /* With no past, its own rate: 10 MB in 10 s, 90 MB left: 90 s. */
    ms_eta_init(&e);
    add(&e, finished(1000 * MB));
    add(&e, running(100 * MB, 10 * MB, 10, 0));
    assert_float_equal(ms_eta_seconds(&e, 10), 90.0, 0.001);
}

/* Two seconds in, a task's bytes are those of its first report: its own
 * rate would say minutes for what takes seconds. The run's rate decides. */
static void a_task_just_started_is_not_judged_by_its_own_rate(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    add(&e, finished(6 * MB));
    add(&e, running(3 * MB, 64 * 1024, 2, 0));
    assert_float_equal(e.floor_s, 0, 0);
    double left = 3.0 * MB - 64 * 1024, rate = (6.0 * MB + 64 * 1024) / 2;
    assert_float_equal(ms_eta_seconds(&e, 2), left / rate, 0.001);
}

/* Nothing done yet: no rate, so no ETA, and no division by zero. */
static void no_rate_yet_gives_no_eta(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    add(&e, running(100 * MB, 0, 3, 0));
    add(&e, pending(100 * MB));
    assert_float_equal(ms_eta_rate(&e, 3), 0, 0);
    assert_float_equal(ms_eta_rate(&e, 0), 0, 0);
    assert_true(ms_eta_seconds(&e, 3) < 0);
    assert_true(ms_eta_seconds(&e, 0) < 0);
    assert_float_equal(ms_eta_percent(&e), 0, 0);
}

/* Everything ended (or was unchanged): 100 %, ETA 0. */
static void a_finished_run_is_at_100_percent_and_eta_0(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    add(&e, finished(10 * MB));
    add(&e, skipped(90 * MB));
    assert_float_equal(ms_eta_percent(&e), 100, 0);
    assert_float_equal(ms_eta_seconds(&e, 4), 0, 0);
    ms_eta_init(&e); /* only unchanged: no work at all */
    add(&e, skipped(90 * MB));
    assert_float_equal(ms_eta_percent(&e), 100, 0);
    assert_float_equal(ms_eta_seconds(&e, 0), 0, 0);
}

/* A running task that did more than it was expected to (the tree grew):
 * the total grows with it, the percent stays at most 100. */
static void a_task_bigger_than_expected_grows_the_total(void **state)
{
    (void)state;
    ms_eta_t e;
    ms_eta_init(&e);
    add(&e, running(10 * MB, 30 * MB, 3, 0));
    assert_int_equal(e.total, 30 * MB);
    assert_true(ms_eta_percent(&e) <= 100);
    assert_float_equal(ms_eta_seconds(&e, 3), 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_first_run_has_a_total_from_its_walk),
        cmocka_unit_test(an_unsized_task_leaves_the_eta_unknown),
        cmocka_unit_test(unchanged_tasks_are_neither_work_nor_rate),
        cmocka_unit_test(a_long_running_task_holds_the_eta_up),
        cmocka_unit_test(a_task_just_started_is_not_judged_by_its_own_rate),
        cmocka_unit_test(no_rate_yet_gives_no_eta),
        cmocka_unit_test(a_finished_run_is_at_100_percent_and_eta_0),
        cmocka_unit_test(a_task_bigger_than_expected_grows_the_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
