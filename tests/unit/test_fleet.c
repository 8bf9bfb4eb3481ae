/*
 * test_fleet.c - the master's worker records (ms_fleet.h): lookups, which
 * worker is freest, credit and slots, who is usable, who fell silent, and
 * an add that cannot be made. No socket: peers are made-up routing ids.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ms_fleet.h"

static ms_peer_t peer(unsigned char id)
{
    ms_peer_t p = {.len = 1};
    p.id[0] = id;
    return p;
}

static ms_wrec_t *add(ms_fleet_t *f, unsigned char id, const char *name, unsigned slots,
                      unsigned credit)
{
    ms_peer_t p = peer(id);
    ms_wrec_t *w = ms_fleet_add(f, &p, name, 1000);
    assert_non_null(w);
    w->slots = slots;
    ms_fleet_grant(w, credit);
    return w;
}

static void records_are_found_by_connection_name_and_id(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_wrec_t *a = add(f, 1, "hostA", 4, 0), *b = add(f, 2, "hostB", 2, 0);
    ms_peer_t pa = peer(1), pz = peer(9);
    assert_int_equal(ms_fleet_count(f), 2);
    assert_ptr_equal(ms_fleet_by_peer(f, &pa), a);
    assert_null(ms_fleet_by_peer(f, &pz));
    assert_ptr_equal(ms_fleet_by_name(f, "hostB"), b);
    assert_null(ms_fleet_by_name(f, "hostC"));
    assert_string_equal(a->id, "w1");
    assert_string_equal(b->id, "w2");
    assert_ptr_equal(ms_fleet_by_id(f, "w2"), b);
    assert_int_equal(a->last_seen_ms, 1000);
    ms_fleet_remove(f, a);
    assert_int_equal(ms_fleet_count(f), 1);
    assert_null(ms_fleet_by_name(f, "hostA"));
    /* ids are never reused, so a late message for w1 finds nobody */
    ms_wrec_t *c = add(f, 1, "hostA", 4, 0);
    assert_string_equal(c->id, "w3");
    assert_null(ms_fleet_by_id(f, "w1"));
    ms_fleet_destroy(&f);
    assert_null(f);
    ms_fleet_destroy(&f);
}

static void credit_never_passes_the_free_slots(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_wrec_t *w = add(f, 1, "h", 4, 10);
    assert_int_equal(w->credit, 4);
    w->credit = 0;
    w->running = 3;
    ms_fleet_grant(w, 5);
    assert_int_equal(w->credit, 1);
    ms_fleet_destroy(&f);
}

static void the_freest_is_the_usable_one_with_most_credit_elsewhere_if_asked(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_wrec_t *a = add(f, 1, "hostA", 8, 8), *b = add(f, 2, "hostB", 4, 4);
    ms_wrec_t *c = add(f, 3, "hostC", 2, 2);
    assert_ptr_equal(ms_fleet_freest(f, NULL), a);
    assert_ptr_equal(ms_fleet_freest(f, "hostA"), b);
    a->draining = 1;
    assert_ptr_equal(ms_fleet_freest(f, NULL), b);
    b->unreachable = 1;
    assert_ptr_equal(ms_fleet_freest(f, NULL), c);
    snprintf(c->broken, sizeof c->broken, "its rsync cannot run");
    assert_null(ms_fleet_freest(f, NULL));
    assert_int_equal(ms_fleet_any_usable(f), 0);
    ms_fleet_destroy(&f);
}

static void credit_and_slots_add_up_over_usable_workers(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_wrec_t *a = add(f, 1, "hostA", 8, 3), *b = add(f, 2, "hostB", 4, 4);
    unsigned busy = 0;
    a->running = 5;
    b->running = 1;
    assert_int_equal(ms_fleet_credit(f), 7);
    assert_int_equal(ms_fleet_slots(f, 1, &busy), 12);
    assert_int_equal(busy, 6);
    b->draining = 1;
    assert_int_equal(ms_fleet_credit(f), 3);
    assert_int_equal(ms_fleet_slots(f, 1, NULL), 8);
    assert_int_equal(ms_fleet_slots(f, 0, NULL), 12); /* all, for the diagnosis */
    /* a draining worker's grant is ignored: it takes no more tasks */
    ms_fleet_grant(b, 2);
    assert_int_equal(b->credit, 4);
    ms_fleet_destroy(&f);
}

static void a_worker_silent_past_its_lease_or_unreachable_is_found(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_wrec_t *a = add(f, 1, "hostA", 1, 0), *b = add(f, 2, "hostB", 1, 0);
    a->last_seen_ms = 10000;
    b->last_seen_ms = 7000;
    assert_null(ms_fleet_silent(f, 10000, 3000));
    assert_ptr_equal(ms_fleet_silent(f, 10001, 3000), b);
    assert_null(ms_fleet_unreachable(f));
    a->unreachable = 1;
    assert_ptr_equal(ms_fleet_unreachable(f), a);
    ms_fleet_destroy(&f);
}

static void an_add_that_cannot_be_made_says_so_and_adds_nothing(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_peer_t p = peer(7);
    ms_fleet_set_limit(f, 1);
    add(f, 1, "hostA", 1, 0);
    errno = 0;
    assert_null(ms_fleet_add(f, &p, "hostB", 5));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(ms_fleet_count(f), 1);
    assert_null(ms_fleet_by_name(f, "hostB"));
    ms_fleet_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_are_found_by_connection_name_and_id),
        cmocka_unit_test(credit_never_passes_the_free_slots),
        cmocka_unit_test(the_freest_is_the_usable_one_with_most_credit_elsewhere_if_asked),
        cmocka_unit_test(credit_and_slots_add_up_over_usable_workers),
        cmocka_unit_test(a_worker_silent_past_its_lease_or_unreachable_is_found),
        cmocka_unit_test(an_add_that_cannot_be_made_says_so_and_adds_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
