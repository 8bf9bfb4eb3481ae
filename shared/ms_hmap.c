/*
 * ms_hmap.c - a hash map from byte strings to pointers (see ms_hmap.h).
 */
#include "ms_hmap.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 16

typedef struct {
    uint64_t hash;
    void *key; /* owned copy; NULL: the slot is free */
    size_t len;
    void *value;
} slot_t;

struct ms_hmap {
    slot_t *s;
    size_t cap; /* a power of two */
    size_t n;
    unsigned char seed[crypto_shorthash_KEYBYTES];
};

ms_hmap_t *ms_hmap_new(void)
{
    if (sodium_init() < 0)
        return NULL;
    ms_hmap_t *m = calloc(1, sizeof *m);
    if (!m || !(m->s = calloc(MIN_SLOTS, sizeof *m->s))) {
        free(m);
        return NULL;
    }
    m->cap = MIN_SLOTS;
    randombytes_buf(m->seed, sizeof m->seed);
    return m;
}

void ms_hmap_destroy(ms_hmap_t **mp)
{
    if (!mp || !*mp)
        return;
    for (size_t i = 0; i < (*mp)->cap; i++)
        free((*mp)->s[i].key);
    free((*mp)->s);
    free(*mp);
    *mp = NULL;
}

static uint64_t hash_of(const ms_hmap_t *m, const void *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, key, len, m->seed);
    memcpy(&h, out, sizeof h);
    return h;
}

/* The slot holding key, or the free slot where it would go. */
static size_t find(const ms_hmap_t *m, uint64_t h, const void *key, size_t len)
{
    size_t i = (size_t)h & (m->cap - 1);
    while (m->s[i].key && !(m->s[i].hash == h && m->s[i].len == len &&
                            (len == 0 || memcmp(m->s[i].key, key, len) == 0)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* Twice the slots, every entry moved to its place there. */
static int grow(ms_hmap_t *m)
{
    slot_t *old = m->s;
    size_t old_cap = m->cap;
    slot_t *ns = calloc(old_cap * 2, sizeof *ns);
    if (!ns)
        return -1;
    m->s = ns;
    m->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            m->s[find(m, old[i].hash, old[i].key, old[i].len)] = old[i];
    free(old);
    return 0;
}

int ms_hmap_put(ms_hmap_t *m, const void *key, size_t len, void *value)
{
    uint64_t h = hash_of(m, key, len);
    size_t i = find(m, h, key, len);
    if (m->s[i].key) {
        m->s[i].value = value;
        return 0;
    }
    if (2 * (m->n + 1) > m->cap) {
        if (grow(m) != 0)
            return -1;
        i = find(m, h, key, len);
    }
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    if (len)
        memcpy(copy, key, len);
    m->s[i] = (slot_t){.hash = h, .key = copy, .len = len, .value = value};
    m->n++;
    return 0;
}

void *ms_hmap_get(const ms_hmap_t *m, const void *key, size_t len)
{
    size_t i = find(m, hash_of(m, key, len), key, len);
    return m->s[i].key ? m->s[i].value : NULL;
}

/* Whether home, the slot an entry hashes to, lies cyclically in (gap, i]:
 * then the entry at i may not move back to gap. */
static int stays(size_t home, size_t gap, size_t i)
{
    return gap <= i ? gap < home && home <= i : gap < home || home <= i;
}

void *ms_hmap_del(ms_hmap_t *m, const void *key, size_t len)
{
    size_t gap = find(m, hash_of(m, key, len), key, len);
    if (!m->s[gap].key)
        return NULL;
    void *value = m->s[gap].value;
    free(m->s[gap].key);
    m->s[gap].key = NULL;
    m->n--;
    /* Move back the entries of the run after gap that may fill it, so that
     * every entry stays reachable from its home slot with no free slot in
     * between. */
    for (size_t i = (gap + 1) & (m->cap - 1); m->s[i].key; i = (i + 1) & (m->cap - 1)) {
        if (stays((size_t)m->s[i].hash & (m->cap - 1), gap, i))
            continue;
        m->s[gap] = m->s[i];
        m->s[i].key = NULL;
        gap = i;
    }
    return value;
}

size_t ms_hmap_count(const ms_hmap_t *m)
{
    return m->n;
}
