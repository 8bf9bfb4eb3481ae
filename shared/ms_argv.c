/*
 * ms_argv.c - a config file's command line split into words (ms_argv.h).
 */
#include "ms_argv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_err.h"

/* Where a split is: the line, the next byte, the word being built. */
typedef struct {
    const char *line, *p;
    char *word;
    size_t len;
    int in_word; /* a word begun, maybe empty ("") */
} split_t;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* A quoted part, from its opening quote: appended to the word. Returns 0,
 * or -1 with err when the line ends before its closing quote. */
static int quoted(split_t *s, char *err, size_t errlen)
{
    char q = *s->p++;
    size_t col = (size_t)(s->p - s->line);
    for (; *s->p && *s->p != q; s->p++) {
        if (q == '"' && s->p[0] == '\\' && (s->p[1] == '"' || s->p[1] == '\\'))
            s->p++;
        s->word[s->len++] = *s->p;
    }
    if (!*s->p)
        return ms_errf(err, errlen, "unbalanced %s quote (opened at column %zu)",
                       q == '"' ? "double" : "single", col);
    s->p++;
    s->in_word = 1;
    return 0;
}

/* The next character of a word outside quotes. Returns 0, or -1 with err. */
static int plain(split_t *s, char *err, size_t errlen)
{
    if (*s->p == '\\') {
        if (!s->p[1])
            return ms_errf(err, errlen, "a backslash ends the line: it escapes nothing");
        s->p++;
    }
    s->word[s->len++] = *s->p++;
    s->in_word = 1;
    return 0;
}

/* The word built so far goes to out. Returns 0, or -1 (memory). */
static int end_word(split_t *s, ms_strv_t *out, char *err, size_t errlen)
{
    if (!s->in_word)
        return 0;
    s->word[s->len] = '\0';
    s->len = 0;
    s->in_word = 0;
    return ms_strv_push(out, s->word) == 0 ? 0 : ms_errf(err, errlen, "out of memory");
}

static int split(split_t *s, ms_strv_t *out, char *err, size_t errlen)
{
    while (*s->p) {
        int rc = 0;
        if (is_blank(*s->p)) {
            rc = end_word(s, out, err, errlen);
            s->p++;
        } else if (*s->p == '\'' || *s->p == '"') {
            rc = quoted(s, err, errlen);
        } else {
            rc = plain(s, err, errlen);
        }
        if (rc != 0)
            return -1;
    }
    return end_word(s, out, err, errlen);
}

int ms_argv_split(const char *line, ms_strv_t *out, char *err, size_t errlen)
{
    size_t before = out->n;
    split_t s = {.line = line, .p = line, .word = malloc(strlen(line) + 1)};
    if (!s.word)
        return ms_errf(err, errlen, "out of memory");
    int rc = split(&s, out, err, errlen);
    free(s.word);
    if (rc != 0) { /* back to what out held */
        for (size_t i = before; i < out->n; i++)
            free(out->v[i]);
        out->n = before;
        if (out->v)
            out->v[before] = NULL;
    }
    return rc;
}

/* Whether w reads back as itself, unquoted. */
static int needs_no_quotes(const char *w)
{
    if (!*w)
        return 0;
    for (; *w; w++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,@%", *w))
            return 0;
    return 1;
}

/* Append c to out (room for outlen) at *o, leaving room for "...". */
static int put(char *out, size_t outlen, size_t *o, char c)
{
    if (*o + 4 >= outlen)
        return -1;
    out[(*o)++] = c;
    return 0;
}

static int put_word(char *out, size_t outlen, size_t *o, const char *w)
{
    int bare = needs_no_quotes(w);
    if (!bare && put(out, outlen, o, '\'') != 0)
        return -1;
    for (; *w; w++) {
        const char *s = !bare && *w == '\'' ? "'\\''" : NULL;
        for (const char *c = s ? s : w; c < (s ? s + 4 : w + 1); c++)
            if (put(out, outlen, o, *c) != 0)
                return -1;
    }
    return bare ? 0 : put(out, outlen, o, '\'');
}

const char *ms_argv_quote(char *const *argv, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return out;
    for (size_t i = 0; argv && argv[i]; i++) {
        if ((i > 0 && put(out, outlen, &o, ' ') != 0) || put_word(out, outlen, &o, argv[i]) != 0) {
            snprintf(out + o, outlen - o, "...");
            return out;
        }
    }
    out[o] = '\0';
    return out;
}
