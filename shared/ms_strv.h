/*
 * ms_strv.h - a growing vector of strings (after git's strvec), and the one
 * function that frees an array of strings.
 *
 *   ms_strv_t names = MS_STRV_INIT;
 *   if (ms_strv_push(&names, "alpha") != 0) ... out of memory ...
 *   ... names.v[0 .. names.n-1], names.v[names.n] == NULL ...
 *   ms_strv_clear(&names);
 *
 * The vector owns its strings (copies). v is NULL until the first push, and
 * NULL-terminated after it.
 */
#ifndef MS_STRV_H
#define MS_STRV_H

#include <stddef.h>

typedef struct {
    char **v;
    size_t n;
    size_t cap;
} ms_strv_t;

#define MS_STRV_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Append a copy of s. Returns 0, or -1 when out of memory (s unchanged). */
int ms_strv_push(ms_strv_t *s, const char *str) __attribute__((warn_unused_result));

/* Hand over the array (NULL-terminated, or NULL when empty) and reset s. */
char **ms_strv_detach(ms_strv_t *s);

/* Free every string and the array; s is empty again. */
void ms_strv_clear(ms_strv_t *s);

/* Free the first n strings of v, then v. Accepts NULL. */
void ms_strv_free(char **v, size_t n);

/* Sort the n strings of v bytewise (n may be 0, v NULL); and find key in
 * such a sorted v: its index, or -1. */
void ms_strv_sort(char **v, size_t n);
long ms_strv_find(char *const *v, size_t n, const char *key);

#endif
