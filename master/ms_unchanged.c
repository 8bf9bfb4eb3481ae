/*
 * ms_unchanged.c - the records of each run's last copies, looked up by
 * project and part (see ms_unchanged.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ms_unchanged.h"

typedef struct {
    char *project, *part, *opts, *snap;
    ms_catalog_fp_t rec; /* its strings point at the copies above */
} entry_t;

typedef struct {
    const ms_runrec_t *run;
    entry_t *e; /* sorted by project, then part */
    size_t n, cap;
} table_t;

struct ms_unchanged {
    table_t *t;
    size_t n;
};

ms_unchanged_t *ms_unchanged_new(void)
{
    return calloc(1, sizeof(ms_unchanged_t));
}

static void table_clear(table_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].project);
        free(t->e[i].part);
        free(t->e[i].opts);
        free(t->e[i].snap);
    }
    free(t->e);
}

void ms_unchanged_forget(ms_unchanged_t *u, const ms_runrec_t *r)
{
    for (size_t i = 0; u && i < u->n; i++)
        if (u->t[i].run == r) {
            table_clear(&u->t[i]);
            u->t[i] = u->t[--u->n];
            return;
        }
}

void ms_unchanged_destroy(ms_unchanged_t **u)
{
    if (!*u)
        return;
    while ((*u)->n)
        ms_unchanged_forget(*u, (*u)->t[0].run);
    free((*u)->t);
    free(*u);
    *u = NULL;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    int c = strcmp(x->project, y->project);
    return c ? c : strcmp(x->part, y->part);
}

static int add_record(void *arg, const ms_catalog_fp_t *rec)
{
    table_t *t = arg;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? 2 * t->cap : 64;
        entry_t *ne = realloc(t->e, ncap * sizeof *ne);
        if (!ne)
            return -1;
        t->e = ne;
        t->cap = ncap;
    }
    entry_t *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->project = strdup(rec->project);
    e->part = strdup(rec->part);
    e->opts = strdup(rec->opts);
    e->snap = rec->snap ? strdup(rec->snap) : NULL;
    e->rec = *rec;
    e->rec.project = e->project;
    e->rec.part = e->part;
    e->rec.opts = e->opts;
    e->rec.snap = e->snap;
    t->n++;
    return e->project && e->part && e->opts && (e->snap || !rec->snap) ? 0 : -1;
}

int ms_unchanged_load(ms_unchanged_t *u, const ms_runrec_t *r, ms_catalog_t *cat, char *err,
                      size_t errlen)
{
    table_t t = {.run = r};
    ms_unchanged_forget(u, r);
    table_t *nt = realloc(u->t, (u->n + 1) * sizeof *nt);
    if (!nt)
        return -1;
    u->t = nt;
    if (ms_catalog_fp_each(cat, r->source, r->dest, add_record, &t, err, errlen) != 0) {
        table_clear(&t);
        return -1;
    }
    if (t.n)
        qsort(t.e, t.n, sizeof *t.e, cmp_entry);
    u->t[u->n++] = t;
    return 0;
}

void ms_unchanged_part(const ms_trec_t *t, char *out)
{
    size_t len = 0;
    /* A pack's leader is its own project, whole: its items are others. */
    char *spec = (t->flags & MS_TASK_PACK) ? NULL : ms_run_spec_encode(t, &len);
    if (!spec) { /* a whole project (or out of memory: no record will match) */
        out[0] = '\0';
        return;
    }
    unsigned char sum[16];
    ms_fp_t fp;
    crypto_generichash(sum, sizeof sum, (const unsigned char *)spec, len, NULL, 0);
    memcpy(&fp.a, sum, 8);
    memcpy(&fp.b, sum + 8, 8);
    ms_fp_hex(fp, out);
    free(spec);
}

void ms_unchanged_key(const char *opts, const ms_runrec_t *r, char *out)
{
    snprintf(out, MS_UNCHANGED_KEY, "%.40s%s@%.63s", opts,
             (r->flags & MS_RUN_DELETE) ? "+delete" : "", r->dest_id);
}

const ms_catalog_fp_t *ms_unchanged_find(const ms_unchanged_t *u, const ms_trec_t *t,
                                         const char *opts)
{
    char part[MS_FP_HEX], want[MS_UNCHANGED_KEY];
    if (!u || !t->fp_known || (opts && !opts[0]) || !t->run->dest_id[0])
        return NULL; /* a destination not seen here may be gone: copy */
    if (opts)
        ms_unchanged_key(opts, t->run, want);
    const table_t *tab = NULL;
    for (size_t i = 0; i < u->n && !tab; i++)
        if (u->t[i].run == t->run)
            tab = &u->t[i];
    if (!tab || tab->n == 0)
        return NULL;
    ms_unchanged_part(t, part);
    entry_t key = {.project = t->project, .part = part};
    const entry_t *e = bsearch(&key, tab->e, tab->n, sizeof *tab->e, cmp_entry);
    if (!e || !ms_fp_equal(e->rec.fp, t->fp) || (opts && strcmp(e->rec.opts, want) != 0))
        return NULL;
    return &e->rec;
}
