/*
 * The master's scheduler and protocol handling, driven through its real
 * ROUTER socket by fake workers (DEALER sockets in this test) over ipc://.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/resource.h>
#include <zmq.h>

#include "ms_master.h"
#include "ms_run.h"
#include "ms_wire.h"
#include "ms_test.h"
#include "ms_test_wire.h"

typedef struct {
    char dir[64];
    char ep[128];
    ms_master_t *m;
    void *ctx;
    void *socks[320]; /* fake workers: closed by teardown, also after a failed assert */
    int n_socks;
} fx_t;

static void touch(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
}

/* A source tree with n projects under fx->dir/src. */
static void make_source(fx_t *fx, int n)
{
    char p[256];
    snprintf(p, sizeof p, "%s/src", fx->dir);
    assert_int_equal(mkdir(p, 0755), 0);
    for (int i = 0; i < n; i++) {
        char d[300];
        snprintf(d, sizeof d, "%s/p%d", p, i);
        assert_int_equal(mkdir(d, 0755), 0);
        touch(d, "f");
    }
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "master");
    snprintf(fx->ep, sizeof fx->ep, "ipc://%s/w.sock", fx->dir);
    char err[256];
    ms_master_opts_t o = {.listen = fx->ep, .heartbeat_ms = 100};
    fx->m = ms_master_new(&o, err, sizeof err);
    assert_non_null(fx->m);
    fx->ctx = zmq_ctx_new();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    ms_master_destroy(&fx->m);
    for (int i = 0; i < fx->n_socks; i++)
        zmq_close(fx->socks[i]); /* else zmq_ctx_term waits for them forever */
    zmq_ctx_term(fx->ctx);
    assert_int_equal(ms_test_rmtree(fx->dir), 0);
    free(fx);
    return 0;
}

static void *fake_worker(fx_t *fx)
{
    void *s = zmq_socket(fx->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    assert_int_equal(zmq_connect(s, fx->ep), 0);
    assert_true(fx->n_socks < (int)(sizeof fx->socks / sizeof fx->socks[0]));
    fx->socks[fx->n_socks++] = s;
    return s;
}

static void send_msg(void *s, ms_msg_t *m)
{
    char err[256];
    assert_int_equal(ms_wire_send(s, NULL, m, err, sizeof err), 0);
}

static void hello(void *s, const char *name, unsigned slots)
{
    ms_msg_t m = {.cmd = MS_CMD_HELLO};
    m.u.hello.name = (char *)name;
    m.u.hello.slots = slots;
    send_msg(s, &m);
    m = (ms_msg_t){.cmd = MS_CMD_READY};
    m.u.ready.credit = slots;
    send_msg(s, &m);
}

/* Let the master work for a while (it needs turns to see our messages). */
static void spin(fx_t *fx, int turns)
{
    for (int i = 0; i < turns; i++)
        assert_int_equal(ms_master_poll(fx->m, 10), 0);
}

/* Receive everything pending on s; count TASKs and keep the last ones. */
static int drain_tasks(void *s, ms_task_t *out, int max, int *errors)
{
    int n = 0;
    ms_msg_t m;
    char err[256];
    ms_test_inbox_t in = {0};
    while (ms_test_recv(s, 0, NULL, &in, &m, err, sizeof err) == MS_WIRE_OK) {
        if (m.cmd == MS_CMD_TASK && n < max) {
            out[n] = m.u.task;
            out[n].project = strdup(m.u.task.project);
            out[n].source = out[n].dest = NULL;
            n++;
        } else if (m.cmd == MS_CMD_ERROR && errors) {
            (*errors)++;
        }
        ms_msg_clear(&m);
    }
    return n;
}

static void send_result(void *s, const ms_task_t *t, int exit_code)
{
    ms_msg_t m = {.cmd = MS_CMD_RESULT};
    m.u.result = (ms_result_t){.run_id = t->run_id,
                               .task_id = t->task_id,
                               .attempt = t->attempt,
                               .exit_code = exit_code,
                               .seconds = 0.5,
                               .files = 3,
                               .message = exit_code ? "boom" : ""};
    send_msg(s, &m);
}

static void free_tasks(ms_task_t *t, int n)
{
    for (int i = 0; i < n; i++)
        free(t[i].project);
}

/* Spin until s has received want TASKs (the walk that queues them runs in
 * its own thread: no fixed number of turns is enough on a loaded machine),
 * at most 5 s. Returns how many came. */
static int await_tasks(fx_t *fx, void *s, ms_task_t *out, int max, int want)
{
    int n = 0;
    for (int k = 0; k < 500 && n < want; k++) {
        spin(fx, 1);
        n += drain_tasks(s, out + n, max - n, NULL);
    }
    return n;
}

static uint64_t start_run(fx_t *fx)
{
    char src[128], dst[128], err[256];
    uint64_t id = 0;
    snprintf(src, sizeof src, "%s/src", fx->dir);
    snprintf(dst, sizeof dst, "%s/dst", fx->dir);
    ms_run_req_t req = {.source = src, .dest = dst};
    assert_int_equal(ms_master_start_run(fx->m, &req, &id, err, sizeof err), 0);
    return id;
}

/* A source of n projects, a worker that joined with slots, then a run:
 * the worker's socket, and the run's id in *run. */
static void *worker_and_run(fx_t *fx, int n, const char *name, unsigned slots, uint64_t *run)
{
    make_source(fx, n);
    void *w = fake_worker(fx);
    hello(w, name, slots);
    spin(fx, 5);
    *run = start_run(fx);
    return w;
}

/* The next task handed to w, a worker of one slot (exactly one comes),
 * reported ok and its slot given back. The caller frees it (free_tasks). */
static ms_task_t one_task_done(fx_t *fx, void *w, uint64_t run)
{
    ms_task_t got[2];
    int n = 0;
    for (int k = 0; k < 500 && n == 0; k++) {
        spin(fx, 1);
        n = drain_tasks(w, got, 2, NULL);
    }
    assert_int_equal(n, 1); /* one slot: one task at a time */
    ms_msg_t r = {.cmd = MS_CMD_RESULT};
    r.u.result = (ms_result_t){
        .run_id = run, .task_id = got[0].task_id, .attempt = got[0].attempt, .message = ""};
    send_msg(w, &r);
    ms_msg_t ready = {.cmd = MS_CMD_READY};
    ready.u.ready.credit = 1;
    send_msg(w, &ready);
    return got[0];
}

static void test_tasks_go_out_only_against_credit(void **state)
{
    fx_t *fx = *state;
    uint64_t run;
    void *w = worker_and_run(fx, 5, "hostA", 2, &run);
    ms_task_t got[16];
    int n = await_tasks(fx, w, got, 16, 2);
    spin(fx, 5);
    n += drain_tasks(w, got + n, 16 - n, NULL);
    assert_int_equal(n, 2); /* 5 projects queued, but only 2 slots */
    /* One result gives back one slot; READY 1 grants it. */
    send_result(w, &got[0], 0);
    ms_msg_t ready = {.cmd = MS_CMD_READY};
    ready.u.ready.credit = 1;
    send_msg(w, &ready);
    spin(fx, 5);
    ms_task_t more[16];
    assert_int_equal(drain_tasks(w, more, 16, NULL), 1);
    assert_int_equal(ms_master_run_finished(fx->m, run), 0);
    free_tasks(got, n);
    free_tasks(more, 1);
}

/* The next message w receives, as it came (a BATCH whole); spins up to 5 s. */
static void await_raw(fx_t *fx, void *w, ms_msg_t *m)
{
    char err[256];
    int rc = MS_WIRE_NONE;
    for (int k = 0; k < 500 && rc == MS_WIRE_NONE; k++) {
        spin(fx, 1);
        rc = ms_wire_recv(w, 0, NULL, m, err, sizeof err);
    }
    assert_int_equal(rc, MS_WIRE_OK);
}

/* Report every TASK of the BATCH m done, and give the slots back, in one
 * BATCH as a worker's turn does. */
static void report_batch(void *w, const ms_msg_t *m)
{
    ms_batch_buf_t b = {0};
    char err[256];
    for (uint32_t i = 0; i < m->u.batch.n; i++) {
        const ms_task_t *t = &m->u.batch.msgs[i].u.task;
        ms_msg_t r = {.cmd = MS_CMD_RESULT};
        r.u.result = (ms_result_t){
            .run_id = t->run_id, .task_id = t->task_id, .attempt = t->attempt, .message = ""};
        assert_int_equal(ms_batch_add(&b, &r, err, sizeof err), 0);
    }
    ms_msg_t ready = {.cmd = MS_CMD_READY};
    ready.u.ready.credit = m->u.batch.n;
    assert_int_equal(ms_batch_add(&b, &ready, err, sizeof err), 0);
    assert_int_equal(ms_wire_send_batch(w, NULL, &b, err, sizeof err), 0);
    ms_batch_free(&b);
}

/* The tasks of one dispatch go to a worker in one BATCH; a worker's results
 * and credit in one BATCH are each taken as if they had come alone: the
 * run ends with every task once. */
static void test_tasks_and_results_travel_in_batches(void **state)
{
    fx_t *fx = *state;
    uint64_t run;
    void *w = worker_and_run(fx, 6, "hostA", 4, &run);
    ms_msg_t m;
    uint64_t seen[8];
    int n_seen = 0;
    await_raw(fx, w, &m);
    assert_int_equal(m.cmd, MS_CMD_BATCH);
    assert_int_equal(m.u.batch.n, 4); /* 7 tasks queued, 4 slots: all 4 at once */
    for (int round = 0; round < 7 && ms_master_run_finished(fx->m, run) != 1; round++) {
        if (round > 0)
            await_raw(fx, w, &m);
        ms_msg_t *tasks = m.cmd == MS_CMD_BATCH ? m.u.batch.msgs : &m;
        uint32_t n = m.cmd == MS_CMD_BATCH ? m.u.batch.n : 1;
        for (uint32_t i = 0; i < n; i++) {
            assert_int_equal(tasks[i].cmd, MS_CMD_TASK);
            for (int j = 0; j < n_seen; j++)
                assert_true(seen[j] != tasks[i].u.task.task_id); /* each task once */
            assert_true(n_seen < 8);
            seen[n_seen++] = tasks[i].u.task.task_id;
        }
        if (m.cmd == MS_CMD_BATCH) {
            report_batch(w, &m);
        } else { /* the last one, alone */
            send_result(w, &m.u.task, 0);
            ms_msg_t ready = {.cmd = MS_CMD_READY};
            ready.u.ready.credit = 1;
            send_msg(w, &ready);
        }
        ms_msg_clear(&m);
        if (n_seen == 7)
            spin(fx, 5);
    }
    assert_int_equal(n_seen, 7);
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
}

/* A master whose loop was away longer than a worker's lease (a big report,
 * a slow disk) must not count that time as its workers' silence: their
 * heartbeats wait unread in its socket meanwhile. With more workers than
 * one turn reads messages (256), the first turn after the stall used to
 * expire every worker it had not read yet. */
static void test_a_stalled_master_keeps_the_workers_that_kept_beating(void **state)
{
    fx_t *fx = *state;
    enum { N = 300 };
    void *w[N];
    char err[256];
    /* Two descriptors a worker here, one in the master. */
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4 * N && rl.rlim_max >= 4 * N) {
        rl.rlim_cur = 4 * N;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    for (int i = 0; i < N; i++) {
        char name[16];
        w[i] = fake_worker(fx);
        snprintf(name, sizeof name, "host%d", i);
        hello(w[i], name, 1);
    }
    for (int k = 0; k < 500 && ms_master_workers(fx->m) < N; k++)
        spin(fx, 1);
    assert_int_equal(ms_master_workers(fx->m), N);
    /* The loop away for 6 heartbeats (twice the lease); every worker beats
     * every 50 ms meanwhile. */
    for (int beat = 0; beat < 12; beat++) {
        for (int i = 0; i < N; i++) {
            ms_msg_t hb = {.cmd = MS_CMD_HEARTBEAT};
            hb.u.heartbeat.t = (uint64_t)beat + 1;
            assert_int_equal(ms_wire_send(w[i], NULL, &hb, err, sizeof err), 0);
        }
        usleep(50 * 1000);
    }
    spin(fx, 1);
    assert_int_equal(ms_master_workers(fx->m), N);
    spin(fx, 20);
    assert_int_equal(ms_master_workers(fx->m), N);
}

/* Reports waiting on s now (after up to 50 ms), read and counted. */
static int count_replies(void *s)
{
    int n = 0;
    char err[256];
    ms_msg_t m;
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&it, 1, 50) > 0 &&
           ms_wire_recv(s, 0, NULL, &m, err, sizeof err) == MS_WIRE_OK) {
        n += m.cmd == MS_CMD_RUN_DONE;
        ms_msg_clear(&m);
    }
    return n;
}

/* A client that keeps the control socket busy (a report fetched in pages,
 * several asked ahead) must not keep the loop from its workers: a turn
 * answers a bounded number of requests, the next turns the rest. Once,
 * the 100 pages of a 200,000-row report kept the loop 4 s from its
 * 1,000 workers, past their lease. */
static void test_a_busy_control_client_does_not_hold_the_loop(void **state)
{
    fx_t *fx = *state;
    char err[256], cep[128];
    enum { N = 10 }; /* pages of 2,000 rows: a few ms each, more than the 20 ms slice together */
    ms_master_destroy(&fx->m);
    snprintf(cep, sizeof cep, "ipc://%s/c.sock", fx->dir);
    ms_master_opts_t o = {.listen = fx->ep, .control = cep, .heartbeat_ms = 100};
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));
    void *c = zmq_socket(fx->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(c, ZMQ_LINGER, &linger, sizeof linger);
    fx->socks[fx->n_socks++] = c;
    assert_int_equal(zmq_connect(c, cep), 0);
    make_source(fx, 2000);
    uint64_t run = start_run(fx);
    for (int i = 0; i < N; i++) {
        ms_msg_t rq = {.cmd = MS_CMD_REPORT};
        rq.u.runref = (ms_runref_t){.run_id = run, .count = 2000};
        assert_int_equal(ms_wire_send(c, NULL, &rq, err, sizeof err), 0);
    }
    usleep(200 * 1000); /* all of them in the master's socket */
    assert_int_equal(ms_master_poll(fx->m, 10), 0);
    int first = count_replies(c);
    assert_true(first > 0);
    assert_true(first < N);
    int total = first;
    for (int k = 0; k < 1000 && total < N; k++) {
        spin(fx, 1);
        total += count_replies(c);
    }
    assert_int_equal(total, N); /* none lost */
}

static void test_a_run_finishes_with_every_task_once_and_duplicates_ignored(void **state)
{
    fx_t *fx = *state;
    uint64_t run;
    void *w = worker_and_run(fx, 3, "hostA", 8, &run);
    ms_task_t got[16];
    int total = 0;
    for (int round = 0; round < 200 && ms_master_run_finished(fx->m, run) != 1; round++) {
        spin(fx, 3);
        int n = drain_tasks(w, got, 16, NULL);
        for (int i = 0; i < n; i++) {
            send_result(w, &got[i], 0);
            send_result(w, &got[i], 1); /* a duplicate must not count */
            ms_msg_t ready = {.cmd = MS_CMD_READY};
            ready.u.ready.credit = 1;
            send_msg(w, &ready);
        }
        total += n;
        free_tasks(got, n);
    }
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
    assert_int_equal(total, 4); /* 3 projects + the top task, each once */
    json_t *rep = ms_master_report(fx->m, run);
    assert_string_equal(json_string_value(json_object_get(rep, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rep, "totals"), "ok")), 4);
    json_decref(rep);
}

static void test_a_failed_task_fails_the_run_with_its_message(void **state)
{
    fx_t *fx = *state;
    uint64_t run;
    void *w = worker_and_run(fx, 1, "hostA", 4, &run);
    ms_task_t got[4];
    for (int round = 0; round < 200 && ms_master_run_finished(fx->m, run) != 1; round++) {
        spin(fx, 3);
        int n = drain_tasks(w, got, 4, NULL);
        for (int i = 0; i < n; i++)
            send_result(w, &got[i], got[i].flags & MS_TASK_TOP ? 0 : 23);
        free_tasks(got, n);
    }
    json_t *rep = ms_master_report(fx->m, run);
    assert_string_equal(json_string_value(json_object_get(rep, "status")), "failed");
    json_t *t0 = json_array_get(json_object_get(rep, "tasks"), 0);
    assert_string_equal(json_string_value(json_object_get(t0, "message")), "boom");
    assert_int_equal(json_integer_value(json_object_get(t0, "exit_code")), 23);
    json_decref(rep);
}

static void test_a_silent_worker_loses_its_tasks_to_another(void **state)
{
    fx_t *fx = *state;
    uint64_t run;
    void *a = worker_and_run(fx, 2, "silent", 2, &run);
    ms_task_t got[4];
    int n = await_tasks(fx, a, got, 4, 2);
    assert_int_equal(n, 2);
    free_tasks(got, n);
    /* A second worker joins; the first never speaks again. */
    void *b = fake_worker(fx);
    hello(b, "healthy", 2);
    ms_msg_t hb = {.cmd = MS_CMD_HEARTBEAT};
    int taken = 0;
    for (int i = 0; i < 60 && taken < 2; i++) {
        send_msg(b, &hb);
        spin(fx, 2);
        taken += drain_tasks(b, got + taken, 4 - taken, NULL);
    }
    assert_int_equal(taken, 2); /* both tasks requeued to the healthy worker */
    assert_int_equal(got[0].attempt, 2);
    /* The silent worker's late result is ignored: the run is not finished. */
    send_result(a, &got[0], 0);
    spin(fx, 3);
    assert_int_equal(ms_master_run_finished(fx->m, run), 0);
    free_tasks(got, taken);
}

/*
 * A worker that says HELLO again on its connection (its agent started its
 * session over) still runs its rsyncs: it claims them with HOLD, and they
 * stay its own. None may go to another worker meanwhile: two rsyncs would
 * write one project at once.
 */
static void test_a_worker_announcing_itself_again_keeps_its_tasks(void **state)
{
    fx_t *fx = *state;
    uint64_t run;
    void *a = worker_and_run(fx, 2, "again", 2, &run);
    ms_task_t got[4], other[4];
    int n = await_tasks(fx, a, got, 4, 2);
    assert_int_equal(n, 2);
    void *b = fake_worker(fx);
    hello(b, "idle", 2);
    spin(fx, 3);
    ms_msg_t m = {.cmd = MS_CMD_HELLO};
    m.u.hello.name = "again";
    m.u.hello.slots = 2;
    send_msg(a, &m);
    for (int i = 0; i < n; i++) {
        ms_msg_t h = {.cmd = MS_CMD_HOLD};
        h.u.taskref = (ms_taskref_t){
            .run_id = got[i].run_id, .task_id = got[i].task_id, .attempt = got[i].attempt};
        send_msg(a, &h);
    }
    /* Longer than the lease (3 heartbeats of 100 ms): nothing for b. */
    ms_msg_t hb = {.cmd = MS_CMD_HEARTBEAT};
    int taken = 0;
    for (int i = 0; i < 40; i++) {
        send_msg(a, &hb);
        send_msg(b, &hb);
        spin(fx, 2);
        taken += drain_tasks(b, other + taken, 4 - taken, NULL);
    }
    free_tasks(other, taken);
    assert_int_equal(taken, 0);
    for (int i = 0; i < n; i++)
        send_result(a, &got[i], 0);
    /* Then the top task (the root's own files), to either worker. */
    for (int i = 0; i < 50 && ms_master_run_finished(fx->m, run) != 1; i++) {
        send_msg(a, &hb);
        send_msg(b, &hb);
        spin(fx, 2);
        void *w[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            int got_top = drain_tasks(w[k], other, 4, NULL);
            for (int j = 0; j < got_top; j++)
                send_result(w[k], &other[j], 0);
            free_tasks(other, got_top);
        }
    }
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
    json_t *rep = ms_master_report(fx->m, run);
    json_t *t;
    size_t k;
    json_array_foreach(json_object_get(rep, "tasks"), k, t)
    {
        assert_int_equal(json_integer_value(json_object_get(t, "attempts")), 1);
        assert_string_equal(json_string_value(json_object_get(t, "status")), "ok");
    }
    json_decref(rep);
    free_tasks(got, n);
}

/* The table of "When things fail" in the README: which rsync outcomes are
 * success, which are retried, which fail the task at once. */
static void test_rsync_outcomes_are_classified_as_documented(void **state)
{
    (void)state;
    static const struct {
        int exit_code, term_signal;
        ms_outcome_t want;
    } table[] = {
        {0, 0, MS_OUTCOME_OK},          {24, 0, MS_OUTCOME_OK},
        {10, 0, MS_OUTCOME_TRANSIENT},  {11, 0, MS_OUTCOME_TRANSIENT},
        {12, 0, MS_OUTCOME_TRANSIENT},  {20, 0, MS_OUTCOME_TRANSIENT},
        {30, 0, MS_OUTCOME_TRANSIENT},  {35, 0, MS_OUTCOME_TRANSIENT},
        {-2, 0, MS_OUTCOME_TRANSIENT},  {0, 9, MS_OUTCOME_TRANSIENT},
        {24, 15, MS_OUTCOME_TRANSIENT}, {1, 0, MS_OUTCOME_PERMANENT},
        {2, 0, MS_OUTCOME_PERMANENT},   {3, 0, MS_OUTCOME_PERMANENT},
        {4, 0, MS_OUTCOME_PERMANENT},   {23, 0, MS_OUTCOME_PERMANENT},
        {-1, 0, MS_OUTCOME_PERMANENT},  {5, 0, MS_OUTCOME_PERMANENT},
        {25, 0, MS_OUTCOME_PERMANENT},  {126, 0, MS_OUTCOME_TRANSIENT},
        {127, 0, MS_OUTCOME_TRANSIENT}, {MS_EXIT_VANISHED, 0, MS_OUTCOME_OK},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        ms_result_t r = {.exit_code = table[i].exit_code, .term_signal = table[i].term_signal};
        if (ms_result_outcome(&r) != table[i].want)
            fail_msg("exit %d signal %d: outcome %d, documented %d", table[i].exit_code,
                     table[i].term_signal, (int)ms_result_outcome(&r), (int)table[i].want);
    }
}

/* Finish every task handed to w, saying project pN took seconds[N]. */
static void finish_run_with_durations(fx_t *fx, void *w, uint64_t run, const double *seconds)
{
    ms_task_t got[16];
    for (int round = 0; round < 50 && ms_master_run_finished(fx->m, run) != 1; round++) {
        spin(fx, 2);
        int n = drain_tasks(w, got, 16, NULL);
        for (int i = 0; i < n; i++) {
            ms_msg_t r = {.cmd = MS_CMD_RESULT};
            int idx = got[i].project[0] == 'p' ? atoi(got[i].project + 1) : 0;
            r.u.result = (ms_result_t){.run_id = got[i].run_id,
                                       .task_id = got[i].task_id,
                                       .attempt = got[i].attempt,
                                       .message = "",
                                       .seconds = got[i].project[0] ? seconds[idx] : 0.1};
            send_msg(w, &r);
            ms_msg_t ready = {.cmd = MS_CMD_READY};
            ready.u.ready.credit = 1;
            send_msg(w, &ready);
        }
        free_tasks(got, n);
    }
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
}

static void test_tasks_go_longest_expected_first_and_new_projects_before_known(void **state)
{
    fx_t *fx = *state;
    char err[256], cat[128], p[256];
    static const double took[] = {1.0, 5.0, 9.0};
    /* A master with a catalog, so that it remembers durations. */
    ms_master_destroy(&fx->m);
    snprintf(cat, sizeof cat, "%s/cat.db", fx->dir);
    ms_master_opts_t o = {.listen = fx->ep, .heartbeat_ms = 100, .catalog = cat};
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));
    make_source(fx, 3);
    void *w = fake_worker(fx);
    hello(w, "hostA", 1);
    spin(fx, 5);
    finish_run_with_durations(fx, w, start_run(fx), took);
    snprintf(p, sizeof p, "%s/src/p3", fx->dir); /* a project never seen */
    assert_int_equal(mkdir(p, 0755), 0);
    uint64_t run = start_run(fx);
    const char *want[] = {"p3", "p2", "p1", "p0", ""};
    for (int i = 0; i < 5; i++) {
        ms_task_t t = one_task_done(fx, w, run);
        assert_string_equal(t.project, want[i]);
        free_tasks(&t, 1);
    }
}

static json_int_t queued(const fx_t *fx)
{
    json_t *st = ms_master_status(fx->m);
    json_int_t n = json_integer_value(json_object_get(st, "queued"));
    json_decref(st);
    return n;
}

/* A master stopped after its walk queued the projects (the catalog still
 * has them SCANNING) resumes with each project queued once, and hands each
 * out once: never two rsyncs on one project. */
static void test_a_run_resumed_after_its_walk_queues_each_project_once(void **state)
{
    fx_t *fx = *state;
    char err[256], cat[128];
    ms_master_destroy(&fx->m);
    snprintf(cat, sizeof cat, "%s/cat.db", fx->dir);
    ms_master_opts_t o = {.listen = fx->ep, .heartbeat_ms = 100, .catalog = cat};
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));
    make_source(fx, 3);
    uint64_t run = start_run(fx);
    for (int k = 0; k < 100 && queued(fx) < 3; k++)
        spin(fx, 1);
    assert_int_equal(queued(fx), 3); /* walked, no worker yet */
    ms_master_destroy(&fx->m);
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));
    assert_int_equal(queued(fx), 3);
    void *w = fake_worker(fx);
    hello(w, "hostA", 1);
    int seen[3] = {0};
    for (int i = 0; i < 4; i++) { /* p0..p2, then the top task */
        ms_task_t t = one_task_done(fx, w, run);
        if (t.project[0])
            seen[t.project[1] - '0']++;
        free_tasks(&t, 1);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(seen[i], 1);
    spin(fx, 5);
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
}

static void send_raw(void *s, const void *proto, size_t plen, int cmd, const void *body,
                     size_t blen)
{
    unsigned char c = (unsigned char)cmd;
    zmq_send(s, proto, plen, ZMQ_SNDMORE);
    zmq_send(s, &c, 1, ZMQ_SNDMORE);
    zmq_send(s, body, blen, 0);
}

static int count_errors(fx_t *fx, void *s, char *last, size_t lastlen)
{
    int errors = 0;
    ms_msg_t m;
    char err[256];
    ms_test_inbox_t in = {0};
    spin(fx, 3);
    int rc;
    while ((rc = ms_test_recv(s, 0, NULL, &in, &m, err, sizeof err)) != MS_WIRE_NONE) {
        if (rc == MS_WIRE_OK && m.cmd == MS_CMD_ERROR) {
            errors++;
            snprintf(last, lastlen, "%s", m.u.text.message);
        }
        ms_msg_clear(&m);
    }
    return errors;
}

static void test_bad_messages_get_an_error_and_the_master_keeps_serving(void **state)
{
    fx_t *fx = *state;
    void *s = fake_worker(fx);
    char last[512] = "";
    unsigned char v99[] = {'M', 'S', 'Y', 'N', 'C', 99};
    unsigned char cur[] = {'M', 'S', 'Y', 'N', 'C', MS_PROTO_VERSION};
    unsigned char v1[] = {'M', 'S', 'Y', 'N', 'C', 1}; /* before BATCH */
    unsigned char huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};

    send_raw(s, v99, sizeof v99, MS_CMD_HELLO, "\x80", 1);
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);
    assert_non_null(strstr(last, "version 99"));

    send_raw(s, v1, sizeof v1, MS_CMD_HELLO, "\x80", 1);
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);
    assert_non_null(strstr(last, "version 1, this program speaks 2"));

    send_raw(s, cur, sizeof cur, MS_CMD_HELLO, huge_array, sizeof huge_array);
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);
    assert_non_null(strstr(last, "HELLO"));

    send_raw(s, cur, sizeof cur, 0x7f, "\x80", 1); /* unknown command */
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);
    assert_non_null(strstr(last, "unknown command"));

    /* A BATCH may not carry a HELLO (nor another BATCH). */
    unsigned char batch_hello[] = {0x91, 0x92, MS_CMD_HELLO, 0x80};
    send_raw(s, cur, sizeof cur, MS_CMD_BATCH, batch_hello, sizeof batch_hello);
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);
    assert_non_null(strstr(last, "BATCH: message 0 is not"));

    zmq_send(s, "just one frame", 14, 0);
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);

    for (int i = 0; i < 9; i++) /* too many frames */
        zmq_send(s, "x", 1, i < 8 ? ZMQ_SNDMORE : 0);
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);

    ms_msg_t ready = {.cmd = MS_CMD_READY}; /* READY before HELLO */
    ready.u.ready.credit = 1;
    send_msg(s, &ready);
    assert_int_equal(count_errors(fx, s, last, sizeof last), 1);
    assert_non_null(strstr(last, "HELLO"));

    /* After all that, a proper worker is served. */
    hello(s, "fine", 1);
    spin(fx, 3);
    assert_int_equal(ms_master_workers(fx->m), 1);
}

/* err starts with "<what> is in use by pid <this process> ". */
static void assert_in_use_by_us(const char *err, const char *what)
{
    char want[256];
    snprintf(want, sizeof want, "%s is in use by pid %d ", what, (int)getpid());
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("refusal '%s' does not start with '%s'", err, want);
}

/* A second master on the same catalog would resume the first one's runs
 * into the same backups; one on the same ipc:// socket would take it over.
 * Both are refused, naming the holder (here: this very process), and the
 * first one goes on serving; once it is gone, the next one starts. */
static void test_a_second_master_on_the_same_catalog_or_socket_is_refused(void **state)
{
    fx_t *fx = *state;
    char err[1024] = "", cat[128], what[160], ep2[128], cat2[128];
    ms_master_destroy(&fx->m);
    snprintf(cat, sizeof cat, "%s/cat.db", fx->dir);
    snprintf(cat2, sizeof cat2, "%s/cat2.db", fx->dir);
    snprintf(ep2, sizeof ep2, "ipc://%s/w2.sock", fx->dir);
    ms_master_opts_t o = {.listen = fx->ep, .heartbeat_ms = 100, .catalog = cat};
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));

    ms_master_opts_t same_cat = {.listen = ep2, .heartbeat_ms = 100, .catalog = cat};
    assert_null(ms_master_new(&same_cat, err, sizeof err));
    snprintf(what, sizeof what, "catalog %s", cat);
    assert_in_use_by_us(err, what);
    ms_master_opts_t same_ep = {.listen = fx->ep, .heartbeat_ms = 100, .catalog = cat2};
    assert_null(ms_master_new(&same_ep, err, sizeof err));
    assert_in_use_by_us(err, fx->ep);

    void *w = fake_worker(fx); /* the first master still has its socket */
    hello(w, "hostA", 1);
    spin(fx, 5);
    assert_int_equal(ms_master_workers(fx->m), 1);

    ms_master_destroy(&fx->m);
    ms_master_t *next = ms_master_new(&same_cat, err, sizeof err);
    if (!next)
        fail_msg("the next master on the catalog was refused: %s", err);
    ms_master_destroy(&next);
}

/* libzmq gives the kernel's word on an ipc:// peer (SO_PEERCRED) in its
 * Peer-Address; the master logs who started a run from it. */
static void test_an_ipc_peer_is_known_by_its_uid_and_pid(void **state)
{
    fx_t *fx = *state;
    char err[256], ep[128];
    unsigned long uid = 0, gid = 0, pid = 0;
    snprintf(ep, sizeof ep, "ipc://%s/peer.sock", fx->dir);
    void *router = zmq_socket(fx->ctx, ZMQ_ROUTER);
    assert_int_equal(zmq_bind(router, ep), 0);
    void *dealer = zmq_socket(fx->ctx, ZMQ_DEALER);
    assert_int_equal(zmq_connect(dealer, ep), 0);
    ms_msg_t hb = {.cmd = MS_CMD_HEARTBEAT}, got;
    assert_int_equal(ms_wire_send(dealer, NULL, &hb, err, sizeof err), 0);
    ms_peer_t peer;
    int rc = MS_WIRE_NONE;
    for (int i = 0; i < 500 && rc == MS_WIRE_NONE; i++) {
        zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 10);
        rc = ms_wire_recv(router, 1, &peer, &got, err, sizeof err);
    }
    assert_int_equal(rc, MS_WIRE_OK);
    ms_msg_clear(&got);
    int linger = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(dealer);
    zmq_close(router);
    if (ms_peer_ipc_cred(&peer, &uid, &gid, &pid) != 0)
        fail_msg("no credentials in Peer-Address '%s'", peer.address);
    assert_int_equal(uid, (unsigned long)getuid());
    assert_int_equal(gid, (unsigned long)getgid());
    assert_int_equal(pid, (unsigned long)getpid());

    static const char *not_cred[] = {"",          "127.0.0.1", "::1",  "fe80::1:2",
                                     "host:1:2:", "h:1:x:3",   "1:2:3"};
    for (size_t i = 0; i < sizeof not_cred / sizeof *not_cred; i++) {
        snprintf(peer.address, sizeof peer.address, "%s", not_cred[i]);
        if (ms_peer_ipc_cred(&peer, &uid, &gid, &pid) == 0)
            fail_msg("'%s' read as credentials", not_cred[i]);
    }
    snprintf(peer.address, sizeof peer.address, "localhost:1000:100:4194304");
    assert_int_equal(ms_peer_ipc_cred(&peer, &uid, &gid, &pid), 0);
    assert_true(uid == 1000 && gid == 100 && pid == 4194304);
}

/*
 * A task the queue cannot take (out of memory; here a limit of 2 ready
 * tasks) fails with why; it is never left queued in no queue, so the run
 * still ends (the bug: a push that failed was ignored, the task stayed
 * QUEUED for ever and its run never finished).
 */
static void test_a_task_the_queue_cannot_take_fails_and_the_run_still_ends(void **state)
{
    fx_t *fx = *state;
    char err[256];
    ms_master_destroy(&fx->m);
    ms_master_opts_t o = {.listen = fx->ep, .heartbeat_ms = 100, .queue_limit = 2};
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));
    uint64_t run;
    void *w = worker_and_run(fx, 6, "hostA", 1, &run);
    ms_task_t got[8];
    int done = 0;
    for (int k = 0; k < 20 && ms_master_run_finished(fx->m, run) == 0; k++) {
        int n = await_tasks(fx, w, got, 8, 1);
        for (int i = 0; i < n; i++) {
            send_result(w, &got[i], 0);
            ms_msg_t ready = {.cmd = MS_CMD_READY};
            ready.u.ready.credit = 1; /* the slot is free again */
            send_msg(w, &ready);
        }
        done += n;
        free_tasks(got, n);
        spin(fx, 2);
    }
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
    json_t *rep = ms_master_report(fx->m, run);
    size_t i;
    json_t *t;
    int failed = 0, ok = 0;
    json_array_foreach(json_object_get(rep, "tasks"), i, t)
    {
        const char *status = json_string_value(json_object_get(t, "status"));
        const char *msg = json_string_value(json_object_get(t, "message"));
        if (strcmp(status, "failed") == 0) {
            failed++;
            assert_non_null(strstr(msg, "ran out of memory queueing it"));
        } else {
            assert_string_equal(status, "ok");
            ok++;
        }
    }
    assert_int_equal(ok + failed, 7); /* 6 projects and the top task: each has an end */
    assert_true(failed > 0);
    assert_int_equal(ok, done);
    json_decref(rep);
}

/* The CANCELs w received (their refs in out, at most max); *tasks counts
 * the TASKs among what came. Spins until want came, at most 5 s. */
static int await_cancels(fx_t *fx, void *w, ms_taskref_t *out, int max, int want, int *tasks)
{
    int n = 0;
    ms_msg_t m;
    char err[256];
    ms_test_inbox_t in = {0};
    for (int k = 0; k < 500 && n < want; k++) {
        spin(fx, 1);
        while (ms_test_recv(w, 0, NULL, &in, &m, err, sizeof err) == MS_WIRE_OK) {
            if (m.cmd == MS_CMD_CANCEL && n < max)
                out[n++] = m.u.taskref;
            else if (m.cmd == MS_CMD_TASK)
                (*tasks)++;
            ms_msg_clear(&m);
        }
    }
    return n;
}

static json_t *row_of(json_t *rep, const char *project)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(rep, "tasks"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "project")), project) == 0)
            return t;
    }
    fail_msg("no row for %s", project);
    return NULL;
}

static json_int_t total(json_t *rep, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(rep, "totals"), key));
}

/*
 * A run cancelled while two of its tasks run: those that wait end at once;
 * the worker is told to stop the running ones, whose results (an rsync
 * stopped by SIGTERM exits 20: transient) end them cancelled, never
 * retried; a task that finished in time keeps its result. The run ends
 * cancelled, and cannot be cancelled again.
 */
static void test_a_cancelled_run_ends_its_tasks_and_never_retries_them(void **state)
{
    fx_t *fx = *state;
    uint64_t run;
    char err[256];
    size_t stopped, dropped;
    ms_taskref_t refs[4];
    ms_task_t got[4];
    int tasks = 0;
    void *w = worker_and_run(fx, 4, "hostA", 2, &run);
    assert_int_equal(await_tasks(fx, w, got, 4, 2), 2);
    assert_int_equal(ms_master_cancel_run(fx->m, run, &stopped, &dropped, err, sizeof err), 0);
    assert_int_equal(stopped, 2);
    assert_int_equal(dropped, 3);                            /* two projects and the top task */
    assert_int_equal(ms_master_run_finished(fx->m, run), 0); /* until its rsyncs stopped */
    assert_int_equal(await_cancels(fx, w, refs, 4, 2, &tasks), 2);
    for (int i = 0; i < 2; i++) {
        assert_true(refs[i].task_id == got[0].task_id || refs[i].task_id == got[1].task_id);
        assert_int_equal(refs[i].attempt, 1);
    }
    send_result(w, &got[0], 0);  /* it finished just before */
    send_result(w, &got[1], 20); /* its rsync stopped */
    ms_msg_t ready = {.cmd = MS_CMD_READY};
    ready.u.ready.credit = 2;
    send_msg(w, &ready);
    for (int k = 0; k < 500 && ms_master_run_finished(fx->m, run) != 1; k++)
        spin(fx, 1);
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
    await_cancels(fx, w, refs, 4, 0, &tasks);
    assert_int_equal(tasks, 0); /* nothing retried, nothing more handed out */
    json_t *rep = ms_master_report(fx->m, run);
    assert_string_equal(json_string_value(json_object_get(rep, "status")), "cancelled");
    assert_int_equal(total(rep, "cancelled"), 4);
    assert_int_equal(total(rep, "ok"), 1);
    assert_int_equal(total(rep, "failed"), 0);
    json_t *stopped_row = row_of(rep, got[1].project);
    assert_string_equal(json_string_value(json_object_get(stopped_row, "status")), "cancelled");
    assert_non_null(strstr(json_string_value(json_object_get(stopped_row, "message")),
                           "cancelled while it ran (rsync exit 20)"));
    assert_string_equal(json_string_value(json_object_get(row_of(rep, got[0].project), "status")),
                        "ok");
    json_decref(rep);
    assert_int_equal(ms_master_cancel_run(fx->m, run, &stopped, &dropped, err, sizeof err), -1);
    assert_string_equal(err, "run 1 already ended: cancelled");
    assert_int_equal(ms_master_cancel_run(fx->m, 99, &stopped, &dropped, err, sizeof err), -1);
    assert_string_equal(err, "no run 99 on this master");
    free_tasks(got, 2);
}

/*
 * A master that stops while a cancelled run's rsync still runs does not
 * resume the run when it starts again: nothing is queued, and the worker
 * that claims the task (HOLD) is told to stop it; its result ends the run,
 * cancelled.
 */
static void test_a_cancelled_run_is_not_resumed_by_a_restarted_master(void **state)
{
    fx_t *fx = *state;
    char err[256], cat[128];
    size_t stopped, dropped;
    ms_task_t got[2];
    ms_taskref_t refs[2];
    int tasks = 0;
    ms_master_destroy(&fx->m);
    snprintf(cat, sizeof cat, "%s/cat.db", fx->dir);
    ms_master_opts_t o = {.listen = fx->ep, .heartbeat_ms = 100, .catalog = cat};
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));
    uint64_t run;
    void *w = worker_and_run(fx, 3, "hostA", 1, &run);
    assert_int_equal(await_tasks(fx, w, got, 2, 1), 1);
    assert_int_equal(ms_master_cancel_run(fx->m, run, &stopped, &dropped, err, sizeof err), 0);
    assert_int_equal(stopped, 1);
    ms_master_destroy(&fx->m); /* before the worker reports it */
    assert_non_null(fx->m = ms_master_new(&o, err, sizeof err));
    assert_int_equal(queued(fx), 0);
    assert_int_equal(ms_master_run_finished(fx->m, run), 0);
    void *again = fake_worker(fx);
    hello(again, "hostA", 1);
    ms_msg_t h = {.cmd = MS_CMD_HOLD};
    h.u.taskref = (ms_taskref_t){got[0].run_id, got[0].task_id, got[0].attempt};
    send_msg(again, &h);
    assert_int_equal(await_cancels(fx, again, refs, 2, 1, &tasks), 1);
    assert_true(refs[0].task_id == got[0].task_id);
    send_result(again, &got[0], 20);
    for (int k = 0; k < 500 && ms_master_run_finished(fx->m, run) != 1; k++)
        spin(fx, 1);
    assert_int_equal(ms_master_run_finished(fx->m, run), 1);
    assert_int_equal(tasks, 0);
    json_t *rep = ms_master_report(fx->m, run);
    assert_string_equal(json_string_value(json_object_get(rep, "status")), "cancelled");
    assert_int_equal(total(rep, "cancelled"), 4); /* 3 projects and the top task */
    json_decref(rep);
    free_tasks(got, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tasks_go_out_only_against_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tasks_and_results_travel_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stalled_master_keeps_the_workers_that_kept_beating,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_busy_control_client_does_not_hold_the_loop, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_run_resumed_after_its_walk_queues_each_project_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_run_finishes_with_every_task_once_and_duplicates_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_task_fails_the_run_with_its_message, setup,
                                        teardown),
        cmocka_unit_test(test_rsync_outcomes_are_classified_as_documented),
        cmocka_unit_test_setup_teardown(
            test_a_task_the_queue_cannot_take_fails_and_the_run_still_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_worker_announcing_itself_again_keeps_its_tasks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_silent_worker_loses_its_tasks_to_another, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_messages_get_an_error_and_the_master_keeps_serving,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_tasks_go_longest_expected_first_and_new_projects_before_known, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_second_master_on_the_same_catalog_or_socket_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_ipc_peer_is_known_by_its_uid_and_pid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_cancelled_run_ends_its_tasks_and_never_retries_them,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cancelled_run_is_not_resumed_by_a_restarted_master,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
