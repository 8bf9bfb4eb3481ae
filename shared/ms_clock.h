/*
 * ms_clock.h - the monotonic clock every loop and every duration is
 * measured with (CLOCK_MONOTONIC: not the wall clock, so immune to clock
 * changes). The wall clock is for what a person reads: report times, log
 * lines, file ages.
 */
#ifndef MS_CLOCK_H
#define MS_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock: deadlines and intervals of a loop. */
int64_t ms_now_ms(void);

/* The monotonic clock now, to the nanosecond: the start of a duration
 * measured later with ms_seconds_since. */
struct timespec ms_mono_now(void);

/* Seconds elapsed since t0 (an ms_mono_now reading), to the nanosecond. */
double ms_seconds_since(const struct timespec *t0);

/* The monotonic clock now in seconds, to the nanosecond: for rates over
 * two readings. */
double ms_mono_seconds(void);

/* The wall clock (CLOCK_REALTIME) now, in ns since the epoch: when a task
 * started, as a report says it and the catalog keeps it. */
int64_t ms_wall_ns(void);

#endif
