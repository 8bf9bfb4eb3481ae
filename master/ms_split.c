#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_proto.h"
#include "ms_split.h"

typedef struct {
    const ms_walk_t *w;
    size_t *first, *kids; /* children of node i: kids[first[i] .. first[i+1]) */
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

static int budget_left(const plan_ctx_t *c, uint32_t items)
{
    return c->out->n < MS_SPLIT_MAX_CHUNKS && c->out->n_items + items <= MS_MAX_ITEMS;
}

/* Make a chunk of sub's entries idx[0..n). */
static void add_chunk(plan_ctx_t *c, const char *sub, const size_t *idx, uint32_t n, double cost)
{
    ms_plan_t *p = c->out;
    if (!budget_left(c, n))
        return;
    if (p->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 8;
        ms_chunk_t *nc = realloc(p->chunks, ncap * sizeof *nc);
        if (!nc) {
            c->oom = 1;
            return;
        }
        p->chunks = nc;
        c->cap = ncap;
    }
    ms_chunk_t *ch = &p->chunks[p->n];
    memset(ch, 0, sizeof *ch);
    ch->sub = strdup(sub);
    ch->items = calloc(n, sizeof *ch->items);
    for (uint32_t i = 0; ch->sub && ch->items && i < n; i++)
        if (!(ch->items[i] = strdup(c->w->nodes[idx[i]].name)))
            c->oom = 1;
    ch->n_items = n;
    ch->cost = cost;
    p->n++; /* counted even when incomplete, so that ms_split_free frees it */
    if (!ch->sub || !ch->items)
        c->oom = 1;
    p->n_items += n;
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
        while (b < n_bins && (bins[b].cost + cost > c->target || bins[b].n >= MS_SPLIT_CHUNK_ITEMS ||
                              bins[b].name_bytes + name > MS_SPLIT_CHUNK_NAMES))
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
        else if (e->is_dir && e->kept && c->first[kids[i] + 1] > c->first[kids[i]])
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
    if (w->hardlinks || w->incomplete || w->n_nodes < 2 || target < min_chunk)
        return 0;
    plan_ctx_t c = {.w = w, .target = target, .min_chunk = min_chunk, .out = out};
    c.first = calloc(w->n_nodes + 1, sizeof *c.first);
    c.kids = malloc(w->n_nodes * sizeof *c.kids);
    size_t *fill = calloc(w->n_nodes, sizeof *fill);
    if (!c.first || !c.kids || !fill) {
        c.oom = 1;
        goto out;
    }
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
    free(fill);
    if (c.oom) {
        ms_split_free(out);
        return -1;
    }
    for (size_t i = 0; i < out->n; i++)
        out->rest_cost -= out->chunks[i].cost;
    if (out->rest_cost < 0)
        out->rest_cost = 0;
    return 0;
}

void ms_split_free(ms_plan_t *p)
{
    for (size_t i = 0; p && i < p->n; i++) {
        free(p->chunks[i].sub);
        for (uint32_t j = 0; p->chunks[i].items && j < p->chunks[i].n_items; j++)
            free(p->chunks[i].items[j]);
        free(p->chunks[i].items);
    }
    if (p) {
        free(p->chunks);
        memset(p, 0, sizeof *p);
    }
}
