#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_keep.h"

typedef struct {
    const char *name, *oldest; /* the rule, and the rule keeping its oldest */
    size_t off;                /* its number in ms_keep_t */
} rule_t;

enum { LAST, HOURLY, DAILY, WEEKLY, MONTHLY, YEARLY };

static const rule_t RULES[] = {
    [LAST] = {"last", "last[oldest]", offsetof(ms_keep_t, last)},
    [HOURLY] = {"hourly", "hourly[oldest]", offsetof(ms_keep_t, hourly)},
    [DAILY] = {"daily", "daily[oldest]", offsetof(ms_keep_t, daily)},
    [WEEKLY] = {"weekly", "weekly[oldest]", offsetof(ms_keep_t, weekly)},
    [MONTHLY] = {"monthly", "monthly[oldest]", offsetof(ms_keep_t, monthly)},
    [YEARLY] = {"yearly", "yearly[oldest]", offsetof(ms_keep_t, yearly)},
};
#define N_RULES (sizeof RULES / sizeof RULES[0])

static unsigned count_of(const ms_keep_t *k, size_t rule)
{
    return *(const unsigned *)((const char *)k + RULES[rule].off);
}

unsigned *ms_keep_field(ms_keep_t *k, const char *key)
{
    if (strncmp(key, "keep_", 5) == 0)
        key += 5;
    for (size_t r = 0; r < N_RULES; r++)
        if (strcmp(key, RULES[r].name) == 0)
            return (unsigned *)((char *)k + RULES[r].off);
    return NULL;
}

int ms_keep_any(const ms_keep_t *k)
{
    for (size_t r = 0; r < N_RULES; r++)
        if (count_of(k, r) > 0)
            return 1;
    return 0;
}

/* The period snapshot time t falls in, for a rule: two times share a period
 * when their keys are equal. "last": every snapshot is one of its own. */
static int64_t period_of(size_t rule, time_t t, size_t index)
{
    struct tm tm;
    if (rule == LAST || !gmtime_r(&t, &tm))
        return -(int64_t)index - 1;
    int64_t y = tm.tm_year + 1900;
    switch (rule) {
    case HOURLY:
        return (int64_t)t / 3600;
    case DAILY:
        return (int64_t)t / 86400; /* names are UTC times after 1970 */
    case WEEKLY: {
        /* ISO 8601 week (strftime's %G-%V): the week of the Thursday. */
        int wday = (tm.tm_wday + 6) % 7; /* Monday 0 */
        time_t thursday = t + (time_t)(3 - wday) * 86400;
        struct tm th;
        if (!gmtime_r(&thursday, &th))
            return -(int64_t)index - 1;
        return (int64_t)(th.tm_year + 1900) * 100 + th.tm_yday / 7;
    }
    case MONTHLY:
        return y * 12 + tm.tm_mon;
    default:
        return y;
    }
}

static int newest_first(const void *a, const void *b, void *t)
{
    time_t ta = ((const time_t *)t)[*(const size_t *)a];
    time_t tb = ((const time_t *)t)[*(const size_t *)b];
    if (ta != tb)
        return ta < tb ? 1 : -1;
    /* Equal times: the later index first, so the order is total. */
    return *(const size_t *)a < *(const size_t *)b ? 1 : -1;
}

/* One rule over the snapshots in order[] (newest first). */
static void apply_rule(size_t rule, unsigned want, const time_t *t, const size_t *order, size_t n,
                       const char **why)
{
    unsigned kept = 0;
    int have_last = 0;
    int64_t last = 0;
    size_t i = 0;
    for (; i < n && kept < want; i++) {
        size_t s = order[i];
        int64_t p = period_of(rule, t[s], s);
        if (have_last && p == last)
            continue;
        have_last = 1;
        last = p;
        if (!why[s]) {
            why[s] = RULES[rule].name;
            kept++;
        }
    }
    if (kept < want && n > 0 && !why[order[n - 1]])
        why[order[n - 1]] = RULES[rule].oldest;
}

static int keep_all(size_t n, const char **why, int ret)
{
    for (size_t i = 0; i < n; i++)
        why[i] = "no rule";
    return ret;
}

int ms_keep_select(const ms_keep_t *k, const time_t *t, size_t n, const char **why)
{
    if (!ms_keep_any(k))
        return keep_all(n, why, (int)n);
    for (size_t i = 0; i < n; i++)
        why[i] = NULL;
    if (n == 0)
        return 0;
    size_t *order = malloc(n * sizeof *order);
    if (!order)
        return keep_all(n, why, -1);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, newest_first, (void *)t);
    for (size_t r = 0; r < N_RULES; r++)
        if (count_of(k, r) > 0)
            apply_rule(r, count_of(k, r), t, order, n, why);
    if (!why[order[0]]) /* every rule keeps it first: this is a safety net */
        why[order[0]] = "newest";
    free(order);
    int kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += why[i] != NULL;
    return kept;
}
