/*
 * test_hmap.c - the hash map of byte strings (ms_hmap.h): what goes in
 * comes out, replaced or removed; keys with any byte, and the empty key;
 * and, against a plain array kept alongside, thousands of keys coming and
 * going (the removals that move entries back must keep every other key
 * reachable, wherever the table wraps around).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ms_hmap.h"

static int v1, v2, v3;

static void a_key_maps_to_its_value_until_replaced_or_removed(void **state)
{
    (void)state;
    ms_hmap_t *m = ms_hmap_new();
    assert_non_null(m);
    assert_null(ms_hmap_get(m, "alpha", 5));
    assert_int_equal(ms_hmap_put(m, "alpha", 5, &v1), 0);
    assert_int_equal(ms_hmap_put(m, "beta", 4, &v2), 0);
    assert_ptr_equal(ms_hmap_get(m, "alpha", 5), &v1);
    assert_ptr_equal(ms_hmap_get(m, "beta", 4), &v2);
    assert_null(ms_hmap_get(m, "alph", 4)); /* a prefix is another key */
    assert_int_equal(ms_hmap_put(m, "alpha", 5, &v3), 0);
    assert_ptr_equal(ms_hmap_get(m, "alpha", 5), &v3);
    assert_int_equal(ms_hmap_count(m), 2);
    assert_ptr_equal(ms_hmap_del(m, "alpha", 5), &v3);
    assert_null(ms_hmap_del(m, "alpha", 5));
    assert_null(ms_hmap_get(m, "alpha", 5));
    assert_int_equal(ms_hmap_count(m), 1);
    ms_hmap_destroy(&m);
    assert_null(m);
    ms_hmap_destroy(&m);
    ms_hmap_destroy(NULL);
}

static void keys_are_bytes_copied_with_nuls_and_the_empty_key(void **state)
{
    (void)state;
    ms_hmap_t *m = ms_hmap_new();
    char key[8] = {0, 'a', 0, 'b'};
    assert_int_equal(ms_hmap_put(m, key, 4, &v1), 0);
    assert_int_equal(ms_hmap_put(m, key, 3, &v2), 0);
    assert_int_equal(ms_hmap_put(m, "", 0, &v3), 0);
    key[1] = 'z'; /* the map kept its own copy */
    assert_null(ms_hmap_get(m, key, 4));
    key[1] = 'a';
    assert_ptr_equal(ms_hmap_get(m, key, 4), &v1);
    assert_ptr_equal(ms_hmap_get(m, key, 3), &v2);
    assert_ptr_equal(ms_hmap_get(m, NULL, 0), &v3);
    assert_ptr_equal(ms_hmap_del(m, "", 0), &v3);
    assert_int_equal(ms_hmap_count(m), 2);
    ms_hmap_destroy(&m);
}

/* A small deterministic generator: the operations are the same every run
 * (the map's hash seed is not). */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

#define KEYS 3000

static void thousands_of_keys_come_and_go_and_every_other_stays_found(void **state)
{
    (void)state;
    ms_hmap_t *m = ms_hmap_new();
    static int values[KEYS];
    static int in[KEYS];
    uint32_t seed = 2463534242u;
    size_t count = 0;
    char key[32];
    for (int round = 0; round < 60000; round++) {
        size_t k = next_rand(&seed) % KEYS;
        int len = snprintf(key, sizeof key, "w%zu", k);
        if (in[k] && next_rand(&seed) % 2) {
            assert_ptr_equal(ms_hmap_del(m, key, (size_t)len), &values[k]);
            in[k] = 0;
            count--;
        } else {
            assert_int_equal(ms_hmap_put(m, key, (size_t)len, &values[k]), 0);
            count += !in[k];
            in[k] = 1;
        }
        if (round % 5000 == 0 || round == 59999) {
            for (size_t i = 0; i < KEYS; i++) {
                len = snprintf(key, sizeof key, "w%zu", i);
                assert_ptr_equal(ms_hmap_get(m, key, (size_t)len), in[i] ? &values[i] : NULL);
            }
        }
        assert_int_equal(ms_hmap_count(m), count);
    }
    ms_hmap_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_key_maps_to_its_value_until_replaced_or_removed),
        cmocka_unit_test(keys_are_bytes_copied_with_nuls_and_the_empty_key),
        cmocka_unit_test(thousands_of_keys_come_and_go_and_every_other_stays_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
