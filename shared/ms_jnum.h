/*
 * ms_jnum.h - JSON numbers rounded to what they mean: a percent to 0.1, a
 * duration to the millisecond, a rate or a count of bytes to a whole
 * number, so that scripts and people read 0.46, not 0.46000000000000002.
 *
 * Rounding alone is not enough: jansson writes a real with 17 significant
 * digits, and 0.46 has no exact binary form. Every dump of JSON that holds
 * reals uses MS_JNUM_DUMP, 15 significant digits: enough for any rounded
 * figure here (a duration of years to the ms), few enough that a rounded
 * value prints as it was rounded.
 */
#ifndef MS_JNUM_H
#define MS_JNUM_H

#include <jansson.h>

#define MS_JNUM_DUMP JSON_REAL_PRECISION(15)

/* v rounded to 0.1 (a percent). */
double ms_jnum_pct(double v);

/* v rounded to 0.001 (seconds to the millisecond; a share of 0 to 1 to
 * 0.1 %). */
double ms_jnum_ms(double v);

/* v rounded to 0.01 (a load average). */
double ms_jnum_cents(double v);

/* v rounded to a whole number (bytes per second). */
json_int_t ms_jnum_whole(double v);

#endif
