/*
 * ms_clock.c - the monotonic clock, and the wall clock's ns (see
 * ms_clock.h). clock_gettime fails only for a bad clock id or address:
 * never here.
 */
#include "ms_clock.h"

int64_t ms_now_ms(void)
{
    struct timespec ts = ms_mono_now();
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec ms_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

double ms_seconds_since(const struct timespec *t0)
{
    struct timespec now = ms_mono_now();
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

double ms_mono_seconds(void)
{
    struct timespec now = ms_mono_now();
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

int64_t ms_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
