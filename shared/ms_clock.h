/*
 * ms_clock.h - the monotonic clock every loop measures time with.
 */
#ifndef MS_CLOCK_H
#define MS_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (not the wall clock: immune to clock changes). */
int64_t ms_now_ms(void);

#endif
