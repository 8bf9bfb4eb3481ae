#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "ms_agent.h"
#include "ms_log.h"
#include "ms_pool.h"
#include "ms_wire.h"

#define AGENT_STOP_GRACE_MS 5000

typedef struct {
    const ms_agent_opts_t *o;
    void *ctx;
    void *sock;
    ms_pool_t *pool;
    struct pollfd *fds;     /* the pool's descriptors, 1 + 2 x slots */
    zmq_pollitem_t *items;  /* the socket, then fds */
    size_t max_fds;
    int heartbeat_ms;
    int64_t next_heartbeat_ms;
    int64_t last_announce_ms;
    int done;      /* leave the loop */
    int exit_code;
} agent_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_msg(agent_t *a, ms_msg_t *m)
{
    char err[256];
    if (ms_wire_send(a->sock, NULL, m, err, sizeof err) != 0) {
        ms_warn("%s", err);
        return -1;
    }
    return 0;
}

static void send_ready(agent_t *a, unsigned credit)
{
    ms_msg_t m = {.cmd = MS_CMD_READY};
    m.u.ready.credit = credit;
    if (credit > 0)
        send_msg(a, &m);
}

/* HELLO, then all free slots as credit. Also used when the master does not
 * know us (it restarted). */
static void announce(agent_t *a)
{
    ms_msg_t m = {.cmd = MS_CMD_HELLO};
    m.u.hello.name = (char *)a->o->name;
    m.u.hello.slots = a->o->slots;
    a->last_announce_ms = now_ms();
    if (send_msg(a, &m) == 0)
        send_ready(a, ms_pool_slots(a->pool) - ms_pool_busy(a->pool));
}

static void send_result(agent_t *a, ms_result_t *r)
{
    ms_msg_t m = {.cmd = MS_CMD_RESULT};
    m.u.result = *r;
    if (r->message == NULL)
        m.u.result.message = "";
    send_msg(a, &m);
}

static void refuse_task(agent_t *a, const ms_task_t *t, const char *why)
{
    ms_result_t r = {.run_id = t->run_id, .task_id = t->task_id, .attempt = t->attempt,
                     .exit_code = -1, .message = (char *)why};
    char name[512];
    ms_warn("task %s of run %llu refused: %s", ms_log_safe(t->project, name, sizeof name),
            (unsigned long long)t->run_id, why);
    send_result(a, &r);
    send_ready(a, 1);
}

static void on_task(agent_t *a, const ms_task_t *t)
{
    char err[512], name[512];
    if (ms_pool_start(a->pool, t, err, sizeof err) != 0) {
        refuse_task(a, t, err);
        return;
    }
    ms_info("run %llu: started %s (attempt %u)", (unsigned long long)t->run_id,
            t->flags & MS_TASK_TOP ? "." : ms_log_safe(t->project, name, sizeof name), t->attempt);
}

static void on_master_msg(agent_t *a, ms_msg_t *m)
{
    switch (m->cmd) {
    case MS_CMD_TASK:
        on_task(a, &m->u.task);
        break;
    case MS_CMD_HEARTBEAT:
        break;
    case MS_CMD_BYE:
        ms_info("master says goodbye: %s", m->u.text.message);
        a->done = 1;
        break;
    case MS_CMD_ERROR:
        ms_warn("master refused a message: %s", m->u.text.message);
        if (strstr(m->u.text.message, "unknown worker") &&
            now_ms() - a->last_announce_ms >= a->heartbeat_ms)
            announce(a);
        break;
    default:
        ms_warn("master sent %s, which a worker does not take", ms_cmd_name(m->cmd));
    }
}

static void read_master(agent_t *a)
{
    for (;;) {
        ms_msg_t m;
        char err[512];
        int rc = ms_wire_recv(a->sock, 0, NULL, &m, err, sizeof err);
        if (rc == MS_WIRE_NONE || rc == MS_WIRE_FAIL)
            return;
        if (rc == MS_WIRE_VERSION) {
            ms_error("cannot work with this master: %s", err);
            a->done = 1;
            a->exit_code = 2;
            return;
        }
        if (rc == MS_WIRE_OK)
            on_master_msg(a, &m);
        else
            ms_warn("bad message from master: %s", err);
        ms_msg_clear(&m);
    }
}

static void collect_results(agent_t *a)
{
    char err[256], name[512];
    ms_result_t r;
    if (ms_pool_handle(a->pool, err, sizeof err) != 0)
        ms_warn("pool: %s", err);
    while (ms_pool_next_result(a->pool, &r) == 1) {
        if (r.exit_code == 0)
            ms_info("run %llu task %llu: done in %.1f s", (unsigned long long)r.run_id,
                    (unsigned long long)r.task_id, r.seconds);
        else
            ms_warn("run %llu task %llu: rsync exit %d: %s", (unsigned long long)r.run_id,
                    (unsigned long long)r.task_id, r.exit_code,
                    ms_log_safe(r.message ? r.message : "", name, sizeof name));
        send_result(a, &r);
        free(r.message);
        send_ready(a, 1);
    }
}

static void heartbeat(agent_t *a)
{
    int64_t now = now_ms();
    if (now < a->next_heartbeat_ms)
        return;
    a->next_heartbeat_ms = now + a->heartbeat_ms;
    ms_msg_t m = {.cmd = MS_CMD_HEARTBEAT};
    send_msg(a, &m);
}

/* One turn of the loop: wait for the master, the children or the clock. */
static int turn(agent_t *a, int timeout_ms)
{
    size_t n = ms_pool_pollfds(a->pool, a->fds, a->max_fds);
    a->items[0] = (zmq_pollitem_t){a->sock, 0, ZMQ_POLLIN, 0};
    for (size_t i = 0; i < n; i++)
        a->items[1 + i] = (zmq_pollitem_t){NULL, a->fds[i].fd, ZMQ_POLLIN, 0};
    if (zmq_poll(a->items, (int)(n + 1), timeout_ms) < 0)
        return errno == EINTR ? 0 : -1;
    if (a->items[0].revents & ZMQ_POLLIN)
        read_master(a);
    collect_results(a);
    return 0;
}

/* Ask running rsyncs to stop, report what they became, and say BYE. */
static void stop_tasks(agent_t *a, const char *why)
{
    if (ms_pool_busy(a->pool) > 0) {
        ms_info("stopping %u running task(s): %s", ms_pool_busy(a->pool), why);
        ms_pool_signal_all(a->pool, SIGTERM);
        int64_t deadline = now_ms() + AGENT_STOP_GRACE_MS;
        while (ms_pool_busy(a->pool) > 0 && now_ms() < deadline)
            turn(a, 100);
        ms_pool_signal_all(a->pool, SIGKILL);
        while (ms_pool_busy(a->pool) > 0 && turn(a, 100) == 0)
            ;
    }
    ms_msg_t bye = {.cmd = MS_CMD_BYE};
    bye.u.text.message = (char *)why;
    send_msg(a, &bye);
}

static int setup(agent_t *a, char *err, size_t errlen)
{
    a->pool = ms_pool_new(a->o->rsync, a->o->rsync_opts, a->o->n_rsync_opts, a->o->slots, err,
                          errlen);
    if (!a->pool)
        return -1;
    a->max_fds = 1 + 2 * (size_t)a->o->slots;
    a->fds = calloc(a->max_fds, sizeof *a->fds);
    a->items = calloc(a->max_fds + 1, sizeof *a->items);
    if (!a->fds || !a->items) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    a->ctx = zmq_ctx_new();
    a->sock = a->ctx ? zmq_socket(a->ctx, ZMQ_DEALER) : NULL;
    int ivl = MS_RECONNECT_MIN_MS, ivl_max = MS_RECONNECT_MAX_MS;
    if (!a->sock || ms_wire_setup(a->sock, 1000) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_connect(a->sock, a->o->master) != 0) {
        snprintf(err, errlen, "cannot connect to master %s: %s", a->o->master,
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int ms_agent_run(const ms_agent_opts_t *o, volatile sig_atomic_t *stop)
{
    agent_t a = {.o = o, .exit_code = 0};
    char err[512];
    a.heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : MS_HEARTBEAT_MS;
    if (setup(&a, err, sizeof err) != 0) {
        ms_error("%s", err);
        a.exit_code = 1;
        goto out;
    }
    ms_info("worker %s with %u slots, master %s", o->name, o->slots, o->master);
    announce(&a);
    while (!a.done && !*stop) {
        heartbeat(&a);
        if (turn(&a, a.heartbeat_ms) != 0) {
            ms_error("poll failed: %s", zmq_strerror(errno));
            a.exit_code = 1;
            break;
        }
    }
    stop_tasks(&a, *stop ? "worker stopped by a signal" : "worker leaving");
out:
    ms_pool_destroy(&a.pool);
    free(a.fds);
    free(a.items);
    if (a.sock)
        zmq_close(a.sock);
    if (a.ctx)
        zmq_ctx_term(a.ctx);
    return a.exit_code;
}
