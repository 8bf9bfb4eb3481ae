/*
 * ms_keep.h - which snapshots a retention policy keeps: borg's --keep-*
 * rules, on the snapshots' times (UTC: a snapshot's name is its UTC time,
 * so a change to or from daylight saving time moves no period).
 *
 * Rules, applied in this order: last, hourly, daily, weekly, monthly,
 * yearly. Each walks the snapshots newest first and keeps the newest one of
 * each period (an hour, a day, an ISO week, a month, a year; for "last",
 * every snapshot is a period of its own) until it has kept its number. A
 * snapshot another rule already kept still ends its period, but does not
 * count for this rule. When a rule runs out of snapshots before its
 * number, it also keeps the oldest one ("daily[oldest]"), as borg does:
 * `--keep-daily 7` on a week-old backup keeps its first snapshot too.
 *
 * The newest snapshot is always kept ("newest"), whatever the rules, and a
 * policy with no rule keeps everything ("no rule"): a snapshot is removed
 * only because a rule said how many to keep. Pure: no file, no clock.
 */
#ifndef MS_KEEP_H
#define MS_KEEP_H

#include <stddef.h>
#include <time.h>

typedef struct {
    unsigned last, hourly, daily, weekly, monthly, yearly; /* 0: rule unused */
} ms_keep_t;

#define MS_KEEP_MAX 100000 /* the most any rule may keep */

/* The rule a key names ("keep_daily", or "daily"), or NULL. */
unsigned *ms_keep_field(ms_keep_t *k, const char *key);

/* Whether any rule is set: without one, nothing is ever removed. */
int ms_keep_any(const ms_keep_t *k);

/*
 * For the snapshots taken at t[0..n-1] (any order; equal times are two
 * snapshots of the same period), set why[i] to the rule that keeps
 * snapshot i ("daily", "weekly[oldest]", "newest", "no rule"), or NULL when
 * no rule keeps it and it may be removed. Returns how many are kept.
 * Returns -1 when memory runs out, every why[i] then "no rule" (keep all).
 */
int ms_keep_select(const ms_keep_t *k, const time_t *t, size_t n, const char **why);

#endif
