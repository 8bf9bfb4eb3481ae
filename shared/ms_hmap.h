/*
 * ms_hmap.h - a hash map from byte strings to pointers: the master's
 * lookups by name, connection or id that must stay cheap with a thousand
 * workers (a worker's record by its routing id on every message).
 *
 *   ms_hmap_t *m = ms_hmap_new();
 *   if (ms_hmap_put(m, name, strlen(name), rec) != 0) ... out of memory ...
 *   rec = ms_hmap_get(m, name, strlen(name));   // NULL: not there
 *   ms_hmap_del(m, name, strlen(name));
 *   ms_hmap_destroy(&m);
 *
 * The map copies each key; it never owns nor frees the values. Keys may
 * hold any byte (a routing id) and be empty. Keys come from the network
 * (worker names, routing ids): the hash is SipHash keyed at random per
 * map, so nobody can choose names that collide. Open addressing, linear
 * probing, at most half full; a removal moves later entries back (no
 * tombstones), so lookups stay short however many keys come and go.
 * Nothing here logs.
 */
#ifndef MS_HMAP_H
#define MS_HMAP_H

#include <stddef.h>

typedef struct ms_hmap ms_hmap_t;

/* An empty map, or NULL when out of memory. */
ms_hmap_t *ms_hmap_new(void);

/* Free the map and its keys (not the values). Accepts NULL and *m == NULL;
 * sets *m NULL. */
void ms_hmap_destroy(ms_hmap_t **m);

/* Map key (len bytes, copied) to value, replacing what it mapped to.
 * value must not be NULL. Returns 0, or -1 when out of memory (the map is
 * unchanged). */
int ms_hmap_put(ms_hmap_t *m, const void *key, size_t len, void *value)
    __attribute__((warn_unused_result));

/* What key maps to, or NULL. */
void *ms_hmap_get(const ms_hmap_t *m, const void *key, size_t len);

/* Forget key. Returns what it mapped to, or NULL when it was not there. */
void *ms_hmap_del(ms_hmap_t *m, const void *key, size_t len);

/* How many keys are mapped. */
size_t ms_hmap_count(const ms_hmap_t *m);

#endif
