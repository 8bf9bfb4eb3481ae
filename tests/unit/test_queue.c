/*
 * test_queue.c - the tasks waiting for a worker (ms_queue.h): the order
 * they go in, the delayed retries, and what a push that cannot be made
 * does (nothing: the caller is told, and a delayed task is never lost).
 * No socket, no file: tasks of a run made in memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ms_queue.h"

typedef struct {
    ms_runrec_t *r, *other;
    ms_queue_t *q;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx->r = ms_run_new(1, "/src", "/dst", NULL);
    fx->other = ms_run_new(2, "/src2", "/dst2", NULL);
    fx->q = ms_queue_new();
    assert_non_null(fx->r);
    assert_non_null(fx->q);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    ms_queue_destroy(&fx->q);
    assert_null(fx->q);
    ms_queue_destroy(&fx->q); /* twice is harmless */
    ms_run_destroy(&fx->r);
    ms_run_destroy(&fx->other);
    free(fx);
    return 0;
}

/* A task of r: never seen before with cost, or known to take seconds. */
static ms_trec_t *task(ms_runrec_t *r, const char *name, double cost, double seconds)
{
    ms_trec_t *t = ms_run_add_task(r, name, 0);
    assert_non_null(t);
    t->cost = cost;
    if (seconds > 0) {
        t->expected_known = 1;
        t->expected_seconds = seconds;
    }
    return t;
}

static void push(ms_queue_t *q, ms_trec_t *t, int front)
{
    assert_int_equal(ms_queue_push(q, t, front), 0);
}

static void the_first_to_go_is_a_retry_then_the_new_by_cost_then_the_longest(void **state)
{
    fx_t *fx = *state;
    ms_trec_t *known_short = task(fx->r, "ks", 0, 5), *known_long = task(fx->r, "kl", 0, 50);
    ms_trec_t *new_small = task(fx->r, "ns", 10, 0), *new_big = task(fx->r, "nb", 1000, 0);
    ms_trec_t *retry = task(fx->r, "re", 1, 1);
    push(fx->q, known_short, 0);
    push(fx->q, new_small, 0);
    push(fx->q, known_long, 0);
    push(fx->q, new_big, 0);
    push(fx->q, retry, 1);
    assert_int_equal(ms_queue_ready(fx->q), 5);
    assert_ptr_equal(ms_queue_peek(fx->q), retry);
    ms_trec_t *want[] = {retry, new_big, new_small, known_long, known_short};
    for (size_t i = 0; i < 5; i++)
        assert_ptr_equal(ms_queue_pop(fx->q), want[i]);
    assert_null(ms_queue_pop(fx->q));
    assert_null(ms_queue_peek(fx->q));
}

static void equals_go_in_the_order_they_came(void **state)
{
    fx_t *fx = *state;
    ms_trec_t *t[20];
    for (int i = 0; i < 20; i++)
        push(fx->q, t[i] = task(fx->r, "same", 7, 0), 0);
    for (int i = 0; i < 20; i++)
        assert_ptr_equal(ms_queue_pop(fx->q), t[i]);
}

static void a_delayed_task_becomes_ready_at_the_front_when_due(void **state)
{
    fx_t *fx = *state;
    ms_trec_t *big = task(fx->r, "big", 1e9, 0), *later = task(fx->r, "later", 1, 0);
    push(fx->q, big, 0);
    assert_int_equal(ms_queue_delay(fx->q, later, 1000), 0);
    assert_int_equal(ms_queue_delayed(fx->q), 1);
    assert_int_equal(ms_queue_next_due(fx->q), 1000);
    assert_int_equal(ms_queue_release_due(fx->q, 999), 0);
    assert_int_equal(ms_queue_ready(fx->q), 1);
    assert_int_equal(ms_queue_release_due(fx->q, 1000), 1);
    assert_int_equal(ms_queue_delayed(fx->q), 0);
    assert_int_equal(ms_queue_next_due(fx->q), INT64_MAX);
    assert_ptr_equal(ms_queue_pop(fx->q), later); /* a retry goes first */
    assert_ptr_equal(ms_queue_pop(fx->q), big);
}

static void a_run_s_tasks_leave_it_and_no_other(void **state)
{
    fx_t *fx = *state;
    ms_trec_t *keep[3];
    for (int i = 0; i < 6; i++) {
        ms_trec_t *t = task(i % 2 ? fx->other : fx->r, "x", i, 0);
        if (i % 2)
            keep[i / 2] = t;
        push(fx->q, t, 0);
    }
    assert_int_equal(ms_queue_delay(fx->q, task(fx->r, "d", 1, 0), 5), 0);
    assert_int_equal(ms_queue_delay(fx->q, task(fx->other, "d2", 1, 0), 5), 0);
    ms_queue_remove_run(fx->q, fx->r);
    assert_int_equal(ms_queue_ready(fx->q), 3);
    assert_int_equal(ms_queue_delayed(fx->q), 1);
    /* the heap still orders what is left: costs 5, 3, 1 */
    assert_ptr_equal(ms_queue_pop(fx->q), keep[2]);
    assert_ptr_equal(ms_queue_pop(fx->q), keep[1]);
    assert_ptr_equal(ms_queue_pop(fx->q), keep[0]);
}

/* A push that cannot be made leaves the queue as it was and says so: the
 * caller must fail the task, or it would be lost. */
static void a_push_past_the_limit_fails_and_changes_nothing(void **state)
{
    fx_t *fx = *state;
    ms_queue_set_limit(fx->q, 2);
    push(fx->q, task(fx->r, "a", 1, 0), 0);
    push(fx->q, task(fx->r, "b", 2, 0), 0);
    errno = 0;
    assert_int_equal(ms_queue_push(fx->q, task(fx->r, "c", 3, 0), 1), -1);
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(ms_queue_ready(fx->q), 2);
    assert_string_equal(ms_queue_pop(fx->q)->project, "b");
    assert_string_equal(ms_queue_pop(fx->q)->project, "a");
    assert_null(ms_queue_pop(fx->q));
}

/* The bug this queue fixes: a due retry that could not go back into the
 * heap was dropped (already marked queued), and its run never ended. It
 * now stays delayed until a later release can move it. */
static void a_due_task_that_cannot_be_moved_stays_delayed_never_lost(void **state)
{
    fx_t *fx = *state;
    ms_trec_t *retry = task(fx->r, "retry", 1, 0);
    ms_queue_set_limit(fx->q, 1);
    push(fx->q, task(fx->r, "a", 1, 0), 0); /* the heap is full */
    assert_int_equal(ms_queue_delay(fx->q, retry, 10), 0);
    assert_int_equal(ms_queue_release_due(fx->q, 20), 0);
    assert_int_equal(ms_queue_delayed(fx->q), 1); /* kept, not dropped */
    assert_int_equal(ms_queue_next_due(fx->q), 10);
    assert_string_equal(ms_queue_pop(fx->q)->project, "a"); /* room again */
    assert_int_equal(ms_queue_release_due(fx->q, 20), 1);
    assert_ptr_equal(ms_queue_pop(fx->q), retry);
    assert_int_equal(ms_queue_delayed(fx->q), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(the_first_to_go_is_a_retry_then_the_new_by_cost_then_the_longest),
        T(equals_go_in_the_order_they_came),
        T(a_delayed_task_becomes_ready_at_the_front_when_due),
        T(a_run_s_tasks_leave_it_and_no_other),
        T(a_push_past_the_limit_fails_and_changes_nothing),
        T(a_due_task_that_cannot_be_moved_stays_delayed_never_lost),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
