/*
 * ms_jnum.c - JSON numbers rounded to what they mean (see ms_jnum.h).
 */
#include <math.h>

#include "ms_jnum.h"

/* v rounded (half away from zero) to a multiple of 1/per; what is not a
 * number is 0, and a figure too big for a long long stays as it is (no
 * libm: the library links without it). */
static double to(double v, double per)
{
    double x = v * per;
    if (!isfinite(x))
        return 0;
    if (x >= 9e18 || x <= -9e18)
        return v;
    long long n = (long long)(x < 0 ? x - 0.5 : x + 0.5);
    return (double)n / per;
}

double ms_jnum_pct(double v)
{
    return to(v, 10);
}

double ms_jnum_ms(double v)
{
    return to(v, 1000);
}

double ms_jnum_cents(double v)
{
    return to(v, 100);
}

json_int_t ms_jnum_whole(double v)
{
    double x = to(v, 1);
    return x >= 9e18 ? (json_int_t)9e18 : x <= -9e18 ? (json_int_t)-9e18 : (json_int_t)x;
}
