/*
 * test_clock.c - the monotonic clock: its readings never go back, a
 * duration measured from an ms_mono_now start is the time that passed
 * (across a second boundary too), and its three forms agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>

#include "ms_clock.h"

static void readings_never_go_back(void **state)
{
    (void)state;
    struct timespec a = ms_mono_now();
    double s = ms_mono_seconds();
    int64_t ms = ms_now_ms();
    struct timespec b = ms_mono_now();
    assert_true(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec));
    assert_true(a.tv_nsec >= 0 && a.tv_nsec < 1000000000);
    assert_true(ms_mono_seconds() >= s);
    assert_true(ms_now_ms() >= ms);
}

static void seconds_since_a_start_is_the_time_that_passed(void **state)
{
    (void)state;
    struct timespec t0 = ms_mono_now();
    nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    double s = ms_seconds_since(&t0);
    assert_true(s >= 0.05);
    assert_true(s < 5.0); /* a loaded machine may be slow, never that slow */
}

/* A start whose nanoseconds are past the current reading's: the seconds
 * borrow one, and the result is neither a second off nor negative. */
static void seconds_since_borrows_across_a_second(void **state)
{
    (void)state;
    struct timespec t0 = ms_mono_now();
    t0.tv_sec -= 2;
    t0.tv_nsec = 999999999;
    double s = ms_seconds_since(&t0);
    assert_true(s >= 1.0);
    assert_true(s < 2.5);
}

static void milliseconds_and_seconds_read_the_same_clock(void **state)
{
    (void)state;
    double s = ms_mono_seconds();
    double ms = (double)ms_now_ms() / 1000.0;
    assert_true(ms - s > -0.1 && ms - s < 0.1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readings_never_go_back),
        cmocka_unit_test(seconds_since_a_start_is_the_time_that_passed),
        cmocka_unit_test(seconds_since_borrows_across_a_second),
        cmocka_unit_test(milliseconds_and_seconds_read_the_same_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
