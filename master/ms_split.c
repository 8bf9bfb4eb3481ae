#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_proto.h"
#include "ms_run.h"
#include "ms_split.h"

typedef struct {
    const ms_walk_t *w;
    size_t *first, *kids; /* children of node i: kids[first[i] .. first[i+1]) */
    size_t *list_of;      /* node i's name list in w->lists, or SIZE_MAX */
    double target, min_chunk;
    ms_plan_t *out;
    size_t cap;
    int oom;
} plan_ctx_t;

typedef struct {
    size_t *idx; /* nodes */
    uint32_t n;
    size_t name_bytes;
    double cost;
} bin_t;

char *ms_split_join(const char *sub, const char *item)
{
    size_t ls = strlen(sub), li = strlen(item);
    char *p = malloc(ls + 1 + li + 1);
    if (!p)
        return NULL;
    memcpy(p, sub, ls);
    if (ls)
        p[ls++] = '/';
    memcpy(p + ls, item, li + 1);
    return p;
}

static double node_cost(const ms_wnode_t *n)
{
    return ms_split_cost(n->bytes, n->files);
}

static int cmp_cost_desc(const void *a, const void *b, void *arg)
{
    const ms_wnode_t *nodes = arg;
    double x = node_cost(&nodes[*(const size_t *)a]);
    double y = node_cost(&nodes[*(const size_t *)b]);
    if (x != y)
        return x < y ? 1 : -1;
    return strcmp(nodes[*(const size_t *)a].name, nodes[*(const size_t *)b].name);
}

/* Whether a chunk with items entries, whose exclusions in the rest take
 * bytes, still fits the plan's bounds. */
static int budget_left(const plan_ctx_t *c, uint32_t items, size_t bytes)
{
    return c->out->n < MS_SPLIT_MAX_CHUNKS && c->out->n_items + items <= MS_MAX_ITEMS &&
           c->out->rest_bytes + bytes <= MS_SPLIT_REST_BYTES;
}

/* A new chunk at the end of the plan (counted, so that ms_split_free frees
 * it); NULL when out of memory. */
static ms_chunk_t *new_chunk(plan_ctx_t *c, const char *sub, double cost)
{
    ms_plan_t *p = c->out;
    if (p->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        ms_chunk_t *nc = realloc(p->chunks, ncap * sizeof *nc);
        if (!nc) {
            c->oom = 1;
            return NULL;
        }
        p->chunks = nc;
        c->cap = ncap;
    }
    ms_chunk_t *ch = &p->chunks[p->n++];
    memset(ch, 0, sizeof *ch);
    ch->cost = cost;
    if (!(ch->sub = strdup(sub)))
        c->oom = 1;
    return ch;
}

/* Make a chunk of sub's entries idx[0..n). */
static void add_chunk(plan_ctx_t *c, const char *sub, const size_t *idx, uint32_t n, double cost)
{
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += strlen(sub) + strlen(c->w->nodes[idx[i]].name) + 2;
    if (!budget_left(c, n, bytes))
        return;
    c->out->rest_bytes += bytes;
    ms_chunk_t *ch = new_chunk(c, sub, cost);
    if (!ch)
        return;
    if (!(ch->items = calloc(n, sizeof *ch->items))) {
        c->oom = 1;
        return;
    }
    ch->n_items = n;
    c->out->n_items += n;
    for (uint32_t i = 0; i < n; i++) {
        ms_fp_add(&ch->fp, c->w->nodes[idx[i]].fp);
        if (!(ch->items[i] = strdup(c->w->nodes[idx[i]].name)))
            c->oom = 1;
    }
}

/* --- a folder with very many entries: ranges of names ------------------- */

char *ms_split_escape(const char *s)
{
    char *out = malloc(2 * strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        if (strchr("*?[\\", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

typedef struct {
    char *pat;
    double cost;
    ms_fp_t fp;
} unit_t;

typedef struct {
    unit_t *u;
    size_t n, cap;
} units_t;

static double entry_cost(const ms_wentry_t *e)
{
    return ms_split_cost(e->bytes, e->files);
}

/*
 * The pattern of the names that start with name's first d bytes followed by
 * a byte from lo to hi (then anything, with star): the prefix escaped, the
 * bytes in brackets, each escaped too ("IMG_0[\\0-\\4]*"). A name of d + 1
 * bytes alone, without star: "ab[\\c]". Every pattern holds a '[', so rsync
 * reads it as a wildcard pattern and its backslashes as escapes.
 */
static char *range_pattern(const char *name, size_t d, unsigned char lo, unsigned char hi, int star)
{
    char *prefix = strndup(name, d), *esc = prefix ? ms_split_escape(prefix) : NULL, *pat = NULL;
    size_t len = esc ? strlen(esc) + 10 : 0;
    if (esc && (pat = malloc(len))) {
        if (lo == hi)
            snprintf(pat, len, "%s[\\%c]%s", esc, lo, star ? "*" : "");
        else
            snprintf(pat, len, "%s[\\%c-\\%c]%s", esc, lo, hi, star ? "*" : "");
    }
    free(prefix);
    free(esc);
    return pat;
}

/* The entries e[lo..hi), their fingerprints summed. */
static ms_fp_t entries_fp(const ms_wentry_t *e, size_t lo, size_t hi)
{
    ms_fp_t sum = {0, 0};
    for (size_t i = lo; i < hi; i++)
        ms_fp_add(&sum, e[i].fp);
    return sum;
}

/* A unit of pattern pat, covering the entries e[lo..hi) of cost cost. */
static void add_unit(plan_ctx_t *c, units_t *us, char *pat, double cost, const ms_wentry_t *e,
                     size_t lo, size_t hi)
{
    if (!pat) {
        c->oom = 1;
        return;
    }
    if (us->n == us->cap) {
        size_t ncap = us->cap ? us->cap * 2 : 64;
        unit_t *nu = realloc(us->u, ncap * sizeof *nu);
        if (!nu) {
            free(pat);
            c->oom = 1;
            return;
        }
        us->u = nu;
        us->cap = ncap;
    }
    us->u[us->n++] = (unit_t){pat, cost, entries_fp(e, lo, hi)};
}

/*
 * Cut the entries e[lo..hi), which share their first d bytes and are sorted,
 * into units of at most the target cost: runs of next bytes, and a byte whose
 * names alone weigh more is cut one byte further.
 */
static void partition(plan_ctx_t *c, units_t *us, const ms_wentry_t *e, size_t lo, size_t hi,
                      size_t d)
{
    size_t i = lo;
    while (i < hi && !c->oom) {
        size_t start = i;
        unsigned char first = (unsigned char)e[i].name[d], last = first;
        double run = 0;
        while (i < hi) {
            unsigned char b = (unsigned char)e[i].name[d];
            size_t j = i;
            double g = 0;
            while (j < hi && (unsigned char)e[j].name[d] == b)
                g += entry_cost(&e[j++]);
            if (g > c->target && i == start) {
                /* Too big alone: one name (indivisible), or one byte further.
                 * The name of exactly d + 1 bytes sorts first: its own unit. */
                size_t k = i;
                if (strlen(e[k].name) == d + 1 && j - k > 1) {
                    add_unit(c, us, range_pattern(e[k].name, d, b, b, 0), entry_cost(&e[k]), e, k,
                             k + 1);
                    k++;
                }
                if (j - k == 1 || d + 1 >= MS_SPLIT_MAX_DEPTH) {
                    double gk = 0;
                    for (size_t x = k; x < j; x++)
                        gk += entry_cost(&e[x]);
                    add_unit(c, us, range_pattern(e[k].name, d, b, b, 1), gk, e, k, j);
                } else {
                    partition(c, us, e, k, j, d + 1);
                }
                i = j;
                start = i;
                break;
            }
            if (i > start && run + g > c->target)
                break;
            run += g;
            last = b;
            i = j;
        }
        if (i > start)
            add_unit(c, us, range_pattern(e[start].name, d, first, last, 1), run, e, start, i);
    }
}

/* Cut the listed folder (path sub) by ranges of names, then pack the units,
 * in name order, into chunks of about the target: a chunk takes units up to
 * the target, and past it while it is below the smallest chunk (else, with
 * a target near the smallest chunk, units of a bit more than half of it
 * would each be a chunk too small to keep, and nothing would be split). */
static void plan_ranges(plan_ctx_t *c, const ms_wlist_t *l, const char *sub)
{
    units_t us = {0};
    partition(c, &us, l->e, 0, l->n, 0);
    size_t i = 0;
    while (i < us.n && !c->oom) {
        size_t j = i;
        double cost = 0;
        while (j < us.n && j - i < MS_SPLIT_CHUNK_PATTERNS &&
               (j == i || cost < c->min_chunk || cost + us.u[j].cost <= c->target))
            cost += us.u[j++].cost;
        uint32_t n = (uint32_t)(j - i);
        size_t bytes = 0;
        for (size_t k = i; k < j; k++)
            bytes += 2 * strlen(sub) + strlen(us.u[k].pat) + 2;
        if (cost >= c->min_chunk && c->out->n < MS_SPLIT_MAX_CHUNKS &&
            c->out->n_match + n <= MS_MAX_ITEMS &&
            c->out->rest_bytes + bytes <= MS_SPLIT_REST_BYTES) {
            c->out->rest_bytes += bytes;
            ms_chunk_t *ch = new_chunk(c, sub, cost);
            if (ch && (ch->match = calloc(n, sizeof *ch->match))) {
                for (uint32_t k = 0; k < n; k++) {
                    ms_fp_add(&ch->fp, us.u[i + k].fp);
                    ch->match[k] = us.u[i + k].pat;
                    us.u[i + k].pat = NULL;
                }
                ch->n_match = n;
                c->out->n_match += n;
            } else {
                c->oom = 1;
            }
        }
        i = j;
    }
    for (size_t k = 0; k < us.n; k++)
        free(us.u[k].pat);
    free(us.u);
}

static void plan_folder(plan_ctx_t *c, size_t k, const char *sub);

/* Descend into folder node d of sub, if its path stays short enough. */
static void descend(plan_ctx_t *c, size_t d, const char *sub)
{
    const char *name = c->w->nodes[d].name;
    if (strlen(sub) + 1 + strlen(name) + 1 > MS_SPLIT_MAX_SUB)
        return;
    char *path = ms_split_join(sub, name);
    if (!path) {
        c->oom = 1;
        return;
    }
    plan_folder(c, d, path);
    free(path);
}

/* Whether bin b takes one more entry of cost and name bytes: when it fits
 * the target, or when the bin is still below the smallest chunk (entries
 * a little over half the target would else sit one to a bin, each too
 * small to be a chunk, and the project would not be split at all). */
static int bin_takes(const plan_ctx_t *c, const bin_t *b, double cost, size_t name)
{
    return b->n < MS_SPLIT_CHUNK_ITEMS && b->name_bytes + name <= MS_SPLIT_CHUNK_NAMES &&
           (b->cost < c->min_chunk || b->cost + cost <= c->target);
}

/* Pack the entries idx[0..n) of sub (all at most target) into bins,
 * first fit in decreasing cost, and make chunks of the bins worth one. */
static void pack(plan_ctx_t *c, const char *sub, const size_t *idx, size_t n)
{
    bin_t *bins = calloc(n ? n : 1, sizeof *bins);
    size_t n_bins = 0;
    if (!bins) {
        c->oom = 1;
        return;
    }
    for (size_t i = 0; i < n && !c->oom; i++) {
        const ms_wnode_t *e = &c->w->nodes[idx[i]];
        double cost = node_cost(e);
        size_t name = strlen(e->name) + 1;
        size_t b = 0;
        while (b < n_bins && !bin_takes(c, &bins[b], cost, name))
            b++;
        if (b == n_bins && !(bins[n_bins++].idx = malloc(MS_SPLIT_CHUNK_ITEMS * sizeof(size_t))))
            c->oom = 1;
        if (c->oom)
            break;
        bins[b].idx[bins[b].n++] = idx[i];
        bins[b].cost += cost;
        bins[b].name_bytes += name;
    }
    for (size_t b = 0; b < n_bins; b++) {
        if (!c->oom && bins[b].cost >= c->min_chunk)
            add_chunk(c, sub, bins[b].idx, bins[b].n, bins[b].cost);
        free(bins[b].idx);
    }
    free(bins);
}

/* Plan folder node k (path sub): its big subfolders are planned in turn,
 * its other entries packed. */
static void plan_folder(plan_ctx_t *c, size_t k, const char *sub)
{
    const ms_wnode_t *nodes = c->w->nodes;
    if (c->list_of[k] != SIZE_MAX) {
        plan_ranges(c, &c->w->lists[c->list_of[k]], sub);
        return;
    }
    size_t n = c->first[k + 1] - c->first[k];
    size_t *kids = c->kids + c->first[k];
    size_t *small = malloc((n ? n : 1) * sizeof *small);
    size_t n_small = 0;
    if (!small) {
        c->oom = 1;
        return;
    }
    qsort_r(kids, n, sizeof *kids, cmp_cost_desc, (void *)nodes);
    for (size_t i = 0; i < n && !c->oom; i++) {
        const ms_wnode_t *e = &nodes[kids[i]];
        double cost = node_cost(e);
        if (cost <= c->target)
            small[n_small++] = kids[i];
        else if (e->is_dir && e->kept &&
                 (c->first[kids[i] + 1] > c->first[kids[i]] || c->list_of[kids[i]] != SIZE_MAX))
            descend(c, kids[i], sub);
        else
            add_chunk(c, sub, &kids[i], 1, cost);
    }
    pack(c, sub, small, n_small);
    free(small);
}

int ms_split_plan(const ms_walk_t *w, double target, double min_chunk, ms_plan_t *out)
{
    memset(out, 0, sizeof *out);
    out->rest_cost = ms_split_cost(w->bytes, w->files);
    out->rest_fp = w->fp;
    if (w->hardlinks || w->incomplete || (w->n_nodes < 2 && w->n_lists == 0) || target < min_chunk)
        return 0;
    plan_ctx_t c = {.w = w, .target = target, .min_chunk = min_chunk, .out = out};
    c.first = calloc(w->n_nodes + 1, sizeof *c.first);
    c.kids = malloc(w->n_nodes * sizeof *c.kids);
    c.list_of = malloc(w->n_nodes * sizeof *c.list_of);
    size_t *fill = calloc(w->n_nodes, sizeof *fill);
    if (!c.first || !c.kids || !c.list_of || !fill) {
        c.oom = 1;
        goto out;
    }
    for (size_t i = 0; i < w->n_nodes; i++)
        c.list_of[i] = SIZE_MAX;
    for (size_t i = 0; i < w->n_lists; i++)
        if (w->lists[i].node < w->n_nodes)
            c.list_of[w->lists[i].node] = i;
    /* Children lists: count, prefix sums, place (parents precede children). */
    for (size_t i = 1; i < w->n_nodes; i++)
        c.first[w->nodes[i].parent + 1]++;
    for (size_t i = 0; i < w->n_nodes; i++)
        c.first[i + 1] += c.first[i];
    for (size_t i = 1; i < w->n_nodes; i++) {
        size_t p = w->nodes[i].parent;
        c.kids[c.first[p] + fill[p]++] = i;
    }
    plan_folder(&c, 0, "");
out:
    free(c.first);
    free(c.kids);
    free(c.list_of);
    free(fill);
    if (c.oom) {
        ms_split_free(out);
        return -1;
    }
    for (size_t i = 0; i < out->n; i++) {
        out->rest_cost -= out->chunks[i].cost;
        ms_fp_sub(&out->rest_fp, out->chunks[i].fp);
    }
    if (out->rest_cost < 0)
        out->rest_cost = 0;
    return 0;
}

void ms_split_free(ms_plan_t *p)
{
    for (size_t i = 0; p && i < p->n; i++) {
        free(p->chunks[i].sub);
        ms_strv_free(p->chunks[i].items, p->chunks[i].n_items);
        ms_strv_free(p->chunks[i].match, p->chunks[i].n_match);
    }
    if (p) {
        free(p->chunks);
        memset(p, 0, sizeof *p);
    }
}
