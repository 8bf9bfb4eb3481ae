/*
 * ms_strv.c - a growing vector of strings (see ms_strv.h).
 */
#include "ms_strv.h"

#include <stdlib.h>
#include <string.h>

int ms_strv_push(ms_strv_t *s, const char *str)
{
    if (s->n + 1 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof *v);

        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    char *copy = strdup(str);
    if (copy == NULL)
        return -1;
    s->v[s->n++] = copy;
    s->v[s->n] = NULL;
    return 0;
}

char **ms_strv_detach(ms_strv_t *s)
{
    char **v = s->v;

    s->v = NULL;
    s->n = s->cap = 0;
    return v;
}

void ms_strv_clear(ms_strv_t *s)
{
    ms_strv_free(s->v, s->n);
    s->v = NULL;
    s->n = s->cap = 0;
}

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ms_strv_sort(char **v, size_t n)
{
    if (n > 1) /* qsort(NULL, 0) is undefined */
        qsort(v, n, sizeof *v, cmp_strings);
}

long ms_strv_find(char *const *v, size_t n, const char *key)
{
    char *const *hit = n ? bsearch(&key, v, n, sizeof *v, cmp_strings) : NULL;
    return hit ? (long)(hit - v) : -1;
}

void ms_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}
