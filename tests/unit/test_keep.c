/*
 * test_keep.c - what a retention policy keeps (ms_keep.h), as a table of
 * dates: several snapshots a day, month ends, leap days, ISO weeks across a
 * new year, rules sharing snapshots, the oldest kept when a rule runs short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ms_keep.h"

#define MAX_SNAPS 32

typedef struct {
    const char *what;
    ms_keep_t keep;
    const char *snaps[MAX_SNAPS]; /* "YYYY-MM-DD HH:MM", any order */
    const char *kept[MAX_SNAPS];  /* "YYYY-MM-DD HH:MM rule" for each kept one */
} case_t;

static time_t utc(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    assert_non_null(strptime(s, "%Y-%m-%d %H:%M", &tm));
    return timegm(&tm);
}

static const case_t CASES[] = {
    {"several a day: the newest of each day",
     {.daily = 3},
     {"2026-12-07 02:00", "2026-12-07 14:00", "2026-12-06 02:00", "2026-12-05 23:59",
      "2026-12-05 00:01", "2026-12-04 02:00"},
     {"2026-12-07 14:00 daily", "2026-12-06 02:00 daily", "2026-12-05 23:59 daily"}},
    {"last 1: the newest only",
     {.last = 1},
     {"2026-12-05 02:00", "2026-12-07 02:00", "2026-12-06 02:00"},
     {"2026-12-07 02:00 last"}},
    {"month ends and a leap day",
     {.monthly = 3},
     {"2024-02-29 23:00", "2024-02-28 01:00", "2024-03-01 00:00", "2024-01-31 23:59",
      "2023-12-31 12:00"},
     {"2024-03-01 00:00 monthly", "2024-02-29 23:00 monthly", "2024-01-31 23:59 monthly"}},
    {"ISO weeks across a new year (2025-12-29 to 2026-01-04 is 2026-W01)",
     {.weekly = 2},
     {"2026-01-04 02:00", "2026-01-01 02:00", "2025-12-29 02:00", "2025-12-28 02:00",
      "2025-12-22 02:00"},
     {"2026-01-04 02:00 weekly", "2025-12-28 02:00 weekly"}},
    {"a year of 53 ISO weeks (2020-12-28 to 2021-01-03 is 2020-W53)",
     {.weekly = 2},
     {"2021-01-03 02:00", "2020-12-28 02:00", "2020-12-27 02:00"},
     {"2021-01-03 02:00 weekly", "2020-12-27 02:00 weekly"}},
    {"hours",
     {.hourly = 2},
     {"2026-12-07 10:59", "2026-12-07 10:00", "2026-12-07 09:30", "2026-12-07 08:00"},
     {"2026-12-07 10:59 hourly", "2026-12-07 09:30 hourly"}},
    {"years",
     {.yearly = 2},
     {"2024-12-31 02:00", "2025-01-01 02:00", "2025-06-01 02:00", "2026-01-01 02:00"},
     {"2026-01-01 02:00 yearly", "2025-06-01 02:00 yearly"}},
    {"a rule short of snapshots keeps the oldest too",
     {.daily = 7},
     {"2026-12-07 02:00", "2026-12-06 02:00", "2026-12-06 01:00"},
     {"2026-12-07 02:00 daily", "2026-12-06 02:00 daily", "2026-12-06 01:00 daily[oldest]"}},
    {"rules share: what one keeps ends the period for the next, uncounted",
     {.daily = 2, .weekly = 2, .monthly = 2},
     {"2026-12-07 02:00", "2026-12-06 02:00", "2026-12-05 02:00", "2026-12-04 02:00",
      "2026-12-03 02:00", "2026-12-02 02:00", "2026-12-01 02:00", "2026-11-30 02:00",
      "2026-11-29 02:00", "2026-11-28 02:00", "2026-11-27 02:00", "2026-11-26 02:00",
      "2026-11-25 02:00", "2026-11-24 02:00", "2026-11-23 02:00", "2026-11-22 02:00",
      "2026-11-21 02:00", "2026-11-20 02:00"},
     {"2026-12-07 02:00 daily", "2026-12-06 02:00 daily", "2026-11-29 02:00 weekly",
      "2026-11-22 02:00 weekly", "2026-11-30 02:00 monthly", "2026-11-20 02:00 monthly[oldest]"}},
    {"no rule: nothing is removed",
     {0},
     {"2026-12-07 02:00", "2020-01-01 00:00"},
     {"2026-12-07 02:00 no rule", "2020-01-01 00:00 no rule"}},
    {"two snapshots of the same minute are two",
     {.last = 1},
     {"2026-12-07 02:00", "2026-12-07 02:00"},
     {"2026-12-07 02:00 last"}},
};

static size_t count(const char *const *list)
{
    size_t n = 0;
    while (n < MAX_SNAPS && list[n])
        n++;
    return n;
}

static void run_case(const case_t *c)
{
    size_t n = count(c->snaps);
    time_t t[MAX_SNAPS];
    const char *why[MAX_SNAPS];
    for (size_t i = 0; i < n; i++)
        t[i] = utc(c->snaps[i]);
    int kept = ms_keep_select(&c->keep, t, n, why);
    print_message("case: %s\n", c->what);
    assert_int_equal(kept, count(c->kept));
    int found[MAX_SNAPS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!why[i])
            continue;
        char line[64];
        snprintf(line, sizeof line, "%s %s", c->snaps[i], why[i]);
        size_t k = 0;
        while (k < count(c->kept) && (found[k] || strcmp(c->kept[k], line) != 0))
            k++;
        if (k == count(c->kept))
            fail_msg("%s: kept %s, not expected", c->what, line);
        found[k] = 1;
    }
}

static void each_case_keeps_exactly_what_its_rules_say(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        run_case(&CASES[i]);
}

static void any_rule_is_a_policy_and_none_is_not(void **state)
{
    (void)state;
    ms_keep_t none = {0}, monthly = {.monthly = 1};
    assert_false(ms_keep_any(&none));
    assert_true(ms_keep_any(&monthly));
    const char *why[1];
    assert_int_equal(ms_keep_select(&monthly, NULL, 0, why), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_case_keeps_exactly_what_its_rules_say),
        cmocka_unit_test(any_rule_is_a_policy_and_none_is_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
