/*
 * ms_err.h - the error buffer every library module fills instead of
 * logging (STYLE.md): `return ms_errf(err, errlen, "cannot open %s", p);`
 */
#ifndef MS_ERR_H
#define MS_ERR_H

#include <stddef.h>

/* Format into err (when err is not NULL and errlen > 0). Returns -1. */
int ms_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
