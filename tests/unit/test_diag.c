/*
 * test_diag.c - where a run's time went (ms_diag.h): host samples and
 * master ticks give the verdicts ms_diag.h documents (cpu-bound, io-bound,
 * long-task, under-provisioned, balanced); the figures are the
 * diagnosis's own, per run and host: a sample for a host the run has no
 * worker entry for is ignored, a forgotten run reads as new, and the
 * frozen diagnosis is what a finished run's report shows. No socket, no
 * file: runs made in memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ms_diag.h"
#include "ms_report.h"

typedef struct {
    ms_diag_t *d;
    ms_runrec_t *r;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->d = ms_diag_new();
    fx->r = ms_run_new(1, "/src", "/dst", NULL);
    assert_non_null(fx->d);
    assert_non_null(fx->r);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    ms_diag_destroy(&fx->d);
    assert_null(fx->d);
    ms_diag_destroy(&fx->d); /* twice is harmless */
    ms_run_destroy(&fx->r);
    free(fx);
    return 0;
}

/* r's entry for host (slots), whose finished tasks kept a core busy
 * task_cpu of their wall time (< 0: none finished yet). */
static ms_run_worker_t *worker(ms_runrec_t *r, const char *id, const char *host, unsigned slots,
                               double task_cpu)
{
    assert_int_equal(ms_run_note_worker(r, id, host, slots, 0), 0);
    ms_run_worker_t *w = ms_run_worker(r, host);
    assert_non_null(w);
    if (task_cpu >= 0) {
        w->task_secs = 10;
        w->task_cpu_s = 10 * task_cpu;
    }
    return w;
}

/* n samples of host, every slot busy or one free, at cpu % and disk busy %. */
static void samples(fx_t *fx, const char *host, unsigned n, int full, double cpu, double disk)
{
    ms_diag_sample_t s = {.slots = 2,
                          .busy = full ? 2 : 1,
                          .cpu_percent = cpu,
                          .disk_busy_percent = disk,
                          .net_bps = 1e6,
                          .disk_read_bytes = 100,
                          .disk_write_bytes = 200,
                          .net_sent_bytes = 300,
                          .net_recv_bytes = 400};
    for (unsigned i = 0; i < n; i++)
        ms_diag_sample(fx->d, fx->r, host, &s);
}

/* n ticks of the run: tasks waiting for a busy fleet of 2 slots, or the
 * queue empty with a slot free while a task still runs (the tail). */
static void ticks(fx_t *fx, unsigned n, int waiting)
{
    for (unsigned i = 0; i < n; i++) {
        if (waiting)
            ms_diag_tick(fx->d, fx->r, 5, 2, 2, 2);
        else
            ms_diag_tick(fx->d, fx->r, 0, 1, 2, 1);
    }
}

/* key ("verdict", "evidence", "suggestion") of the run's diagnosis, or
 * with host of that host's. */
static const char *field_of(const json_t *diag, const char *host, const char *key)
{
    const json_t *o =
        host ? json_object_get(json_object_get(diag, "hosts"), host) : json_object_get(diag, "run");
    const char *v = json_string_value(json_object_get(o, key));
    assert_non_null(v);
    return v;
}

static const char *verdict_of(const json_t *diag, const char *host)
{
    return field_of(diag, host, "verdict");
}

static const char *evidence_of(const json_t *diag, const char *host)
{
    return field_of(diag, host, "evidence");
}

static void full_slots_and_busy_cores_are_cpu_bound(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.9);
    samples(fx, "alpha", 8, 1, 90, 10);
    samples(fx, "alpha", 2, 0, 40, 10);
    ticks(fx, 10, 1);
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_non_null(diag);
    assert_string_equal(verdict_of(diag, "alpha"), "cpu-bound");
    assert_string_equal(verdict_of(diag, NULL), "cpu-bound");
    assert_non_null(strstr(evidence_of(diag, "alpha"), "in 80% of 10 samples; meanwhile CPU 90%"));
    assert_non_null(strstr(evidence_of(diag, NULL), "waited for a free slot 100% of the run"));
    /* The same figures as numbers, for the text report's one line a host */
    json_t *f =
        json_object_get(json_object_get(json_object_get(diag, "hosts"), "alpha"), "figures");
    assert_int_equal(json_integer_value(json_object_get(f, "slots")), 2);
    assert_float_equal(json_real_value(json_object_get(f, "slots_full_percent")), 80.0, 0.01);
    assert_float_equal(json_real_value(json_object_get(f, "cpu_percent")), 90.0, 0.01);
    assert_float_equal(json_real_value(json_object_get(f, "disk_busy_percent")), 10.0, 0.01);
    assert_float_equal(json_real_value(json_object_get(f, "rsync_cpu_percent")), 90.0, 0.01);
    json_decref(diag);
}

/* One slot, one sample: said in the singular. */
static void one_slot_is_not_slots(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 1, -1);
    samples(fx, "alpha", 1, 1, 20, 10);
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_non_null(strstr(evidence_of(diag, "alpha"), "its 1 slot busy in 100% of 1 sample;"));
    assert_non_null(strstr(evidence_of(diag, NULL), "of 1 host cpu-bound"));
    json_t *f =
        json_object_get(json_object_get(json_object_get(diag, "hosts"), "alpha"), "figures");
    assert_true(json_is_null(json_object_get(f, "rsync_cpu_percent"))); /* none finished */
    json_decref(diag);
}

static void full_slots_and_idle_cores_are_io_bound(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.1);
    samples(fx, "alpha", 10, 1, 20, 90);
    ticks(fx, 10, 1);
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_string_equal(verdict_of(diag, "alpha"), "io-bound");
    assert_string_equal(verdict_of(diag, NULL), "io-bound");
    /* disk busy 90 % */
    assert_non_null(strstr(field_of(diag, "alpha", "suggestion"), "disks are saturated"));
    json_decref(diag);
}

static void one_task_holding_up_the_run_is_named(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.5);
    ms_trec_t *huge = ms_run_add_task(fx->r, "huge", 0);
    ms_trec_t *small = ms_run_add_task(fx->r, "small", 0);
    assert_true(huge && small);
    fx->r->started_rt.tv_sec -= 10; /* a run of about 10 s */
    huge->result.seconds = 9;
    small->result.seconds = 1;
    ticks(fx, 3, 1);
    ticks(fx, 7, 0); /* 70 % of the run on huge's tail */
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_string_equal(verdict_of(diag, NULL), "long-task");
    const char *ev = evidence_of(diag, NULL);
    assert_true(strncmp(ev, "huge took 9.0 s of the ", 23) == 0);
    assert_non_null(strstr(ev, "for 70% of the run slots were free"));
    json_decref(diag);
}

static void tasks_waiting_while_hosts_have_room_is_under_provisioned(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.4);
    worker(fx->r, "w2", "beta", 2, 0.4);
    samples(fx, "alpha", 10, 1, 60, 10); /* full, cores 60 %: neither bound */
    samples(fx, "beta", 10, 0, 30, 10);  /* never full */
    ticks(fx, 6, 1);
    ticks(fx, 4, 0);
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_string_equal(verdict_of(diag, "alpha"), "balanced");
    assert_string_equal(verdict_of(diag, "beta"), "balanced");
    assert_string_equal(verdict_of(diag, NULL), "under-provisioned");
    json_decref(diag);
}

static void no_figures_read_as_zeros_and_balanced(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.9);
    json_t *none = ms_diag_json(NULL, fx->r);   /* no diagnosis at all */
    json_t *fresh = ms_diag_json(fx->d, fx->r); /* one that saw nothing of r */
    assert_true(json_equal(none, fresh));
    assert_string_equal(verdict_of(none, "alpha"), "balanced");
    assert_string_equal(verdict_of(none, NULL), "balanced");
    assert_non_null(strstr(evidence_of(none, "alpha"), "in 0% of 0 samples"));
    json_t *w = ms_diag_worker_json(NULL, fx->r, &fx->r->workers[0]);
    assert_true(json_real_value(json_object_get(w, "cpu_percent_avg")) == 0.0);
    assert_int_equal(json_integer_value(json_object_get(w, "disk_write_bytes")), 0);
    json_decref(none);
    json_decref(fresh);
    json_decref(w);
}

static void a_sample_of_a_host_the_run_never_used_is_ignored(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.9);
    samples(fx, "ghost", 10, 1, 90, 10);
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_null(json_object_get(json_object_get(diag, "hosts"), "ghost"));
    assert_int_equal(json_object_size(json_object_get(diag, "hosts")), 1);
    assert_non_null(strstr(evidence_of(diag, "alpha"), "of 0 samples"));
    json_decref(diag);
}

static void the_worker_fields_sum_the_hosts_samples_apart(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, -1);
    worker(fx->r, "w2", "beta", 2, -1); /* moves the entries: take them after */
    const ms_run_worker_t *a = &fx->r->workers[0];
    samples(fx, "alpha", 2, 1, 90, 0);
    samples(fx, "alpha", 2, 0, 10, 0);
    samples(fx, "beta", 1, 0, 30, 0);
    json_t *w = ms_diag_worker_json(fx->d, fx->r, a);
    assert_true(json_real_value(json_object_get(w, "cpu_percent_avg")) == 50.0);
    assert_int_equal(json_integer_value(json_object_get(w, "disk_read_bytes")), 400);
    assert_int_equal(json_integer_value(json_object_get(w, "disk_write_bytes")), 800);
    assert_int_equal(json_integer_value(json_object_get(w, "net_sent_bytes")), 1200);
    assert_int_equal(json_integer_value(json_object_get(w, "net_recv_bytes")), 1600);
    assert_int_equal(json_array_size(json_object_get(w, "unconfined")), 0);
    json_decref(w);
    w = ms_diag_worker_json(fx->d, fx->r, &fx->r->workers[1]);
    assert_true(json_real_value(json_object_get(w, "cpu_percent_avg")) == 30.0);
    assert_int_equal(json_integer_value(json_object_get(w, "disk_read_bytes")), 100);
    json_decref(w);
}

static void two_runs_on_one_host_keep_their_own_figures(void **state)
{
    fx_t *fx = *state;
    ms_runrec_t *other = ms_run_new(2, "/src2", "/dst2", NULL);
    assert_non_null(other);
    worker(fx->r, "w1", "alpha", 2, 0.9);
    worker(other, "w1", "alpha", 2, 0.9);
    samples(fx, "alpha", 10, 1, 90, 0);
    ticks(fx, 10, 1);
    json_t *mine = ms_diag_json(fx->d, fx->r);
    json_t *theirs = ms_diag_json(fx->d, other);
    assert_string_equal(verdict_of(mine, NULL), "cpu-bound");
    assert_string_equal(verdict_of(theirs, NULL), "balanced");
    assert_non_null(strstr(evidence_of(theirs, "alpha"), "of 0 samples"));
    json_decref(theirs);
    ms_diag_forget(fx->d, other); /* one it never kept figures of: nothing happens */
    json_t *again = ms_diag_json(fx->d, fx->r);
    assert_true(json_equal(mine, again));
    json_decref(mine);
    json_decref(again);
    ms_run_destroy(&other);
}

static void a_forgotten_run_reads_as_new(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.9);
    samples(fx, "alpha", 10, 1, 90, 0);
    ticks(fx, 10, 1);
    /* What the master does before it frees a run: whatever run is at that
     * address next starts with no samples and no ticks. */
    ms_diag_forget(fx->d, fx->r);
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_string_equal(verdict_of(diag, "alpha"), "balanced");
    assert_non_null(strstr(evidence_of(diag, "alpha"), "of 0 samples"));
    assert_non_null(strstr(evidence_of(diag, NULL), "waited for a free slot 0% of the run"));
    json_decref(diag);
    samples(fx, "alpha", 1, 1, 90, 0); /* and its figures start again */
    diag = ms_diag_json(fx->d, fx->r);
    assert_non_null(strstr(evidence_of(diag, "alpha"), "in 100% of 1 sample;"));
    json_decref(diag);
}

static void a_finished_run_takes_no_more_samples_or_ticks(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.9);
    fx->r->finished = 1;
    fx->r->finished_rt = fx->r->started_rt;
    samples(fx, "alpha", 10, 1, 90, 0);
    ticks(fx, 10, 1);
    json_t *diag = ms_diag_json(fx->d, fx->r);
    assert_string_equal(verdict_of(diag, NULL), "balanced");
    assert_non_null(strstr(evidence_of(diag, "alpha"), "of 0 samples"));
    json_decref(diag);
}

static void the_frozen_diagnosis_outlives_the_figures(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.9);
    samples(fx, "alpha", 10, 1, 90, 0);
    ticks(fx, 10, 1);
    fx->r->finished = 1;
    clock_gettime(CLOCK_REALTIME, &fx->r->finished_rt);
    json_t *live = ms_diag_json(fx->d, fx->r);
    json_t *live_w = ms_diag_worker_json(fx->d, fx->r, &fx->r->workers[0]);
    assert_int_equal(ms_diag_freeze(fx->d, fx->r), 0);
    json_t *x = json_loads(fx->r->extra_json, 0, NULL);
    assert_non_null(x);
    assert_true(json_equal(json_object_get(x, "diagnosis"), live));
    assert_true(json_equal(json_object_get(json_object_get(x, "workers"), "w1"), live_w));
    /* As the master does: once frozen, the figures are let go, and the
     * report of the finished run shows what was frozen. */
    ms_diag_forget(fx->d, fx->r);
    ms_report_t *rep = ms_report_new(fx->d);
    assert_non_null(rep);
    json_t *page = ms_report_json_page(rep, fx->r, 0, SIZE_MAX, 0);
    assert_non_null(page);
    assert_true(json_equal(json_object_get(page, "diagnosis"), live));
    json_t *row = json_array_get(json_object_get(page, "workers"), 0);
    assert_string_equal(json_string_value(json_object_get(row, "host")), "alpha");
    assert_true(json_equal(json_object_get(row, "cpu_percent_avg"),
                           json_object_get(live_w, "cpu_percent_avg")));
    assert_int_equal(json_integer_value(json_object_get(row, "disk_write_bytes")), 2000);
    json_decref(page);
    ms_report_destroy(&rep);
    json_decref(x);
    json_decref(live);
    json_decref(live_w);
}

static void a_live_runs_report_reads_the_figures_it_was_given(void **state)
{
    fx_t *fx = *state;
    worker(fx->r, "w1", "alpha", 2, 0.9);
    samples(fx, "alpha", 10, 1, 90, 0);
    ticks(fx, 10, 1);
    ms_report_t *rep = ms_report_new(fx->d);
    assert_non_null(rep);
    json_t *page = ms_report_json_page(rep, fx->r, 0, SIZE_MAX, 0);
    json_t *bare = ms_report_json_page(NULL, fx->r, 0, SIZE_MAX, 0); /* no figures */
    assert_true(page && bare);
    assert_string_equal(verdict_of(json_object_get(page, "diagnosis"), "alpha"), "cpu-bound");
    assert_string_equal(verdict_of(json_object_get(bare, "diagnosis"), "alpha"), "balanced");
    json_t *row = json_array_get(json_object_get(page, "workers"), 0);
    assert_int_equal(json_integer_value(json_object_get(row, "net_recv_bytes")), 4000);
    json_decref(page);
    json_decref(bare);
    ms_report_destroy(&rep);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(full_slots_and_busy_cores_are_cpu_bound),
        T(one_slot_is_not_slots),
        T(full_slots_and_idle_cores_are_io_bound),
        T(one_task_holding_up_the_run_is_named),
        T(tasks_waiting_while_hosts_have_room_is_under_provisioned),
        T(no_figures_read_as_zeros_and_balanced),
        T(a_sample_of_a_host_the_run_never_used_is_ignored),
        T(the_worker_fields_sum_the_hosts_samples_apart),
        T(two_runs_on_one_host_keep_their_own_figures),
        T(a_forgotten_run_reads_as_new),
        T(a_finished_run_takes_no_more_samples_or_ticks),
        T(the_frozen_diagnosis_outlives_the_figures),
        T(a_live_runs_report_reads_the_figures_it_was_given),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
