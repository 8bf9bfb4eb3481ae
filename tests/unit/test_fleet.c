/*
 * test_fleet.c - the master's worker records (ms_fleet.h): lookups, which
 * worker is freest, credit and slots, who is usable, who fell silent, and
 * an add that cannot be made or would make a twin, and (against a scan)
 * the freest through thousands of random changes. No socket: peers are made-up routing ids.
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
    ms_fleet_grant(f, w, credit);
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
    for (int i = 0; i < 3; i++)
        ms_fleet_take(f, w);
    assert_int_equal(w->credit, 1);
    assert_int_equal(w->running, 3);
    ms_fleet_grant(f, w, 5);
    assert_int_equal(w->credit, 1);
    ms_fleet_untake(f, w); /* a task taken back before it was sent */
    assert_int_equal(w->credit, 2);
    assert_int_equal(w->running, 2);
    ms_fleet_task_ended(f, w);
    ms_fleet_grant(f, w, 1);
    assert_int_equal(w->credit, 3);
    assert_int_equal(ms_fleet_credit(f), 3);
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
    ms_fleet_set_draining(f, a);
    assert_ptr_equal(ms_fleet_freest(f, NULL), b);
    ms_fleet_set_unreachable(f, b);
    assert_ptr_equal(ms_fleet_freest(f, NULL), c);
    assert_ptr_equal(ms_fleet_freest(f, "hostC"), NULL);
    ms_fleet_set_broken(f, c, "its rsync cannot run");
    assert_string_equal(c->broken, "its rsync cannot run");
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
    for (int i = 0; i < 5; i++)
        ms_fleet_task_adopted(f, a); /* HOLD: its tasks from before a reconnect */
    ms_fleet_task_adopted(f, b);
    assert_int_equal(ms_fleet_credit(f), 7);
    assert_int_equal(ms_fleet_slots(f, 1, &busy), 12);
    assert_int_equal(busy, 6);
    ms_fleet_set_draining(f, b);
    assert_int_equal(ms_fleet_credit(f), 3);
    assert_int_equal(ms_fleet_slots(f, 1, NULL), 8);
    assert_int_equal(ms_fleet_slots(f, 0, NULL), 12); /* all, for the diagnosis */
    /* a draining worker's grant is ignored: it takes no more tasks */
    ms_fleet_grant(f, b, 2);
    assert_int_equal(b->credit, 0);
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
    ms_fleet_set_unreachable(f, a);
    assert_ptr_equal(ms_fleet_unreachable(f), a);
    ms_fleet_destroy(&f);
}

/* The master away 4 s: each worker's last word moves 4 s on, never past
 * now; one silent before the stall stays silent. */
static void a_stall_of_the_master_is_not_counted_as_silence(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_wrec_t *a = add(f, 1, "hostA", 1, 0), *b = add(f, 2, "hostB", 1, 0),
              *c = add(f, 3, "hostC", 1, 0);
    a->last_seen_ms = 10000; /* heard just before the stall */
    b->last_seen_ms = 13500; /* heard during it (a turn read it) */
    c->last_seen_ms = 5000;  /* silent long before */
    ms_fleet_excuse(f, 4000, 14500);
    assert_int_equal(a->last_seen_ms, 14000);
    assert_int_equal(b->last_seen_ms, 14500);
    assert_int_equal(c->last_seen_ms, 9000);
    assert_ptr_equal(ms_fleet_silent(f, 14500, 3000), c);
    c->last_seen_ms = 14500;
    assert_null(ms_fleet_silent(f, 14500, 3000));
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

static void a_second_record_of_a_name_or_connection_is_refused(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    ms_peer_t p1 = peer(1), p2 = peer(2);
    add(f, 1, "hostA", 1, 0);
    errno = 0;
    assert_null(ms_fleet_add(f, &p2, "hostA", 5));
    assert_int_equal(errno, EEXIST);
    errno = 0;
    assert_null(ms_fleet_add(f, &p1, "hostB", 5));
    assert_int_equal(errno, EEXIST);
    assert_int_equal(ms_fleet_count(f), 1);
    ms_fleet_destroy(&f);
}

/* What ms_fleet_freest must answer, by a scan in ms_fleet_at's order. */
static ms_wrec_t *freest_by_scan(const ms_fleet_t *f, const char *avoid, size_t *credit)
{
    ms_wrec_t *best = NULL;
    *credit = 0;
    for (size_t i = 0; i < ms_fleet_count(f); i++) {
        ms_wrec_t *w = ms_fleet_at(f, i);
        if (!ms_worker_usable(w) || w->credit == 0)
            continue;
        *credit += w->credit;
        if ((!avoid || strcmp(w->name, avoid) != 0) && (!best || w->credit > best->credit))
            best = w;
    }
    return best;
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* One random change of credit or state to w; a removal adds a new worker. */
static void random_change(ms_fleet_t *f, ms_wrec_t *w, uint32_t r, unsigned *next)
{
    char name[32];
    switch (r % 16) {
    case 0:
        ms_fleet_set_draining(f, w);
        break;
    case 1:
        ms_fleet_set_broken(f, w, "exit 127");
        break;
    case 2: {
        ms_peer_t p = {.len = sizeof *next};
        memcpy(p.id, next, sizeof *next);
        snprintf(name, sizeof name, "host%u", *next);
        ms_fleet_remove(f, w);
        ms_wrec_t *nw = ms_fleet_add(f, &p, name, 0);
        assert_non_null(nw);
        nw->slots = 1 + r % 16;
        (*next)++;
        break;
    }
    case 3:
    case 4:
        if (w->running > 0)
            ms_fleet_task_ended(f, w);
        break;
    case 5:
    case 6:
        if (w->credit > 0 && w->running > 0) {
            ms_fleet_take(f, w);
            ms_fleet_untake(f, w);
        }
        break;
    case 7:
    case 8:
    case 9:
    case 10:
        if (w->credit > 0)
            ms_fleet_take(f, w);
        break;
    default:
        ms_fleet_grant(f, w, r % 5);
    }
}

static void the_freest_stays_the_one_a_scan_would_choose_through_thousands_of_changes(void **state)
{
    (void)state;
    ms_fleet_t *f = ms_fleet_new();
    uint32_t seed = 88172645u;
    unsigned next = 1000;
    for (unsigned i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof name, "host%u", i);
        ms_peer_t p = {.len = sizeof i};
        memcpy(p.id, &i, sizeof i);
        ms_wrec_t *w = ms_fleet_add(f, &p, name, 0);
        assert_non_null(w);
        w->slots = 1 + i % 16;
    }
    for (int round = 0; round < 40000; round++) {
        ms_wrec_t *w = ms_fleet_at(f, next_rand(&seed) % ms_fleet_count(f));
        random_change(f, w, next_rand(&seed), &next);
        ms_wrec_t *some = ms_fleet_at(f, next_rand(&seed) % ms_fleet_count(f));
        size_t credit;
        assert_ptr_equal(ms_fleet_freest(f, NULL), freest_by_scan(f, NULL, &credit));
        assert_int_equal(ms_fleet_credit(f), credit);
        assert_ptr_equal(ms_fleet_freest(f, some->name), freest_by_scan(f, some->name, &credit));
        assert_true(some->credit <= some->slots);
    }
    assert_int_equal(ms_fleet_count(f), 200);
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
        cmocka_unit_test(a_stall_of_the_master_is_not_counted_as_silence),
        cmocka_unit_test(an_add_that_cannot_be_made_says_so_and_adds_nothing),
        cmocka_unit_test(a_second_record_of_a_name_or_connection_is_refused),
        cmocka_unit_test(the_freest_stays_the_one_a_scan_would_choose_through_thousands_of_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
