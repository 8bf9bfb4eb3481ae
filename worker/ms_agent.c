#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ms_agent.h"
#include "ms_clock.h"
#include "ms_confine.h"
#include "ms_err.h"
#include "ms_host.h"
#include "ms_log.h"
#include "ms_monitor.h"
#include "ms_pool.h"
#include "ms_rsync.h"
#include "ms_secure.h"
#include "ms_wire.h"

/* The shortest heartbeat interval, whatever lease a master announces. */
#define MIN_BEAT_MS 10

#define KILL_GRACE_MS 5000
/* The grace when the process that started us is gone: nobody waits for a
 * clean end, and whatever still copies races the next run. On SIGTERM rsync
 * sleeps 400 ms (for ssh's sake), then removes its temporary file. */
#define EXIT_NOW_GRACE_MS 1000
#define LINGER_MS 2000
#define PROGRESS_EVERY_MS 2000

/* A result sent and not yet known to have reached the master. */
typedef struct {
    ms_result_t r;    /* owns r.message */
    uint64_t sent_at; /* our clock when last sent */
} outbox_t;

/* What the agents of one process share (many agents: the bench's simulated
 * workers): the ZeroMQ context, the host's counters, the stop flag. */
typedef struct {
    void *ctx;
    ms_host_t *host;         /* /proc sampler for the heartbeats; NULL if it failed */
    ms_host_sample_t sample; /* the last one taken */
    int have_sample;
    int64_t sampled_ms;
    int64_t reuse_ms;            /* a sample this young is sent again: one host, many agents */
    volatile sig_atomic_t *stop; /* the caller's flag: the stop signal's number */
    pid_t parent;                /* getppid() at start, for exit_with_parent */
} common_t;

typedef struct proc proc_t;

typedef struct {
    const ms_agent_opts_t *o;
    proc_t *p;
    common_t *c;
    void *sock;
    ms_monitor_t *mon;  /* handshake failures of sock (CURVE, one agent only) */
    ms_pool_t *pool;    /* NULL with the no-op executor */
    struct pollfd *fds; /* the pool's descriptors, 1 + 2 x slots; revents after a poll */
    size_t n_fds;       /* how many fds holds */
    size_t fd_item;     /* where they start in the process's poll items */
    size_t max_fds;
    size_t item; /* its socket's index in the process's poll items */
    int hb_ms;   /* our heartbeat interval (--heartbeat-ms) */
    int beat_ms; /* the one used: shorter when the master's lease asks */
    int64_t next_hb_ms;
    int64_t next_progress_ms;
    int64_t last_heard_ms; /* anything from the master */
    int64_t acked_ms;      /* the master heard us at this time of ours */
    int64_t ttl_ms;        /* the master's patience, from its acks */
    int64_t reconnect_at_ms;
    int reconnect_ivl_ms;
    int lease_lost;      /* tasks were killed for lack of acks */
    int accepted;        /* the master answered us on this connection */
    int was_accepted;    /* ... on some connection before */
    int refused_ivl_ms;  /* refused as a twin: next HELLO after this long; 0: not refused */
    int version_logged;  /* said once that the master speaks another version */
    unsigned bad_logged; /* malformed messages logged on this connection */
    outbox_t *outbox;
    size_t n_out, cap_out;
    /* What goes to the master at the end of this turn, in one message:
     * results, progress, and the credit they give back (credit_due). */
    ms_batch_buf_t out;
    unsigned credit_due;
    int draining;
    int done;                 /* leave the loop */
    char *own_name, *own_key; /* many agents: this one's name and key file */
} agent_t;

/* The agents of this process and what they poll. */
struct proc {
    common_t c;
    agent_t *a;
    size_t n;
    ms_agent_opts_t *opts; /* each agent's: its own name and key */
    zmq_pollitem_t *items;
    size_t max_items;
    int exit_code;
};

/* m into this turn's batch; a full batch goes first. */
static int queue_msg(agent_t *a, const ms_msg_t *m)
{
    char err[256];
    int rc = ms_batch_add(&a->out, m, err, sizeof err);
    if (rc == 1) {
        if (ms_wire_send_batch(a->sock, NULL, &a->out, err, sizeof err) != 0)
            ms_debug("%s", err);
        rc = ms_batch_add(&a->out, m, err, sizeof err);
    }
    if (rc != 0)
        ms_debug("%s", err);
    return rc == 0 ? 0 : -1;
}

/* Send what this turn gathered: its results and progress, then the credit
 * they give back, as one READY. */
static void flush_out(agent_t *a)
{
    char err[256];
    if (a->credit_due > 0 && !a->draining) {
        ms_msg_t r = {.cmd = MS_CMD_READY};
        r.u.ready.credit = a->credit_due;
        queue_msg(a, &r);
    }
    a->credit_due = 0;
    if (ms_wire_send_batch(a->sock, NULL, &a->out, err, sizeof err) != 0)
        ms_debug("%s", err);
}

/* Results, credit, progress and holds wait for the end of the turn (or the
 * next other message: order is kept); the rest goes at once. */
static int send_msg(agent_t *a, ms_msg_t *m)
{
    char err[256];
    if (ms_batchable(m->cmd))
        return queue_msg(a, m);
    flush_out(a);
    if (ms_wire_send(a->sock, NULL, m, err, sizeof err) != 0) {
        ms_debug("%s", err);
        return -1;
    }
    return 0;
}

/* Tasks running: none without a pool (the no-op executor ends each at once). */
static unsigned busy(const agent_t *a)
{
    return a->pool ? ms_pool_busy(a->pool) : 0;
}

static unsigned free_slots(const agent_t *a)
{
    return a->pool ? ms_pool_slots(a->pool) - ms_pool_busy(a->pool) : a->o->slots;
}

/* Credit is given back once a turn, all of it in one READY (flush_out). */
static void send_ready(agent_t *a, unsigned credit)
{
    if (!a->draining)
        a->credit_due += credit;
}

/* The host's counters, sampled now (or reused while younger than reuse_ms);
 * NULL when there are none. */
static const ms_host_sample_t *host_sample(common_t *c)
{
    char err[256];
    int64_t now = ms_now_ms();
    if (c->have_sample && now - c->sampled_ms < c->reuse_ms)
        return &c->sample;
    if (!c->host || ms_host_sample(c->host, &c->sample, err, sizeof err) != 0)
        return NULL;
    c->have_sample = 1;
    c->sampled_ms = now;
    return &c->sample;
}

/* The host's counters into a heartbeat (cores into buf). */
static void add_host_counters(agent_t *a, ms_heartbeat_t *hb, char *buf, size_t buflen)
{
    hb->busy = busy(a);
    const ms_host_sample_t *s = host_sample(a->c);
    if (!s)
        return;
    size_t n = s->n_cpus < buflen - 1 ? s->n_cpus : buflen - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(s->core_percent[i] + 1); /* never NUL */
    buf[n] = '\0';
    hb->cores = buf;
    hb->cpu_percent = s->cpu_percent;
    hb->iowait_percent = s->iowait_percent;
    hb->n_cpus = s->n_cpus;
    hb->load1 = s->load1;
    hb->mem_total = s->mem_total;
    hb->mem_available = s->mem_available;
    hb->disk_read_bytes = s->disk_read_bytes;
    hb->disk_write_bytes = s->disk_write_bytes;
    hb->disk_busy_percent = s->disk_busy_percent;
    hb->net_sent_bytes = s->net_sent_bytes;
    hb->net_recv_bytes = s->net_recv_bytes;
}

static void send_heartbeat(agent_t *a)
{
    ms_msg_t m = {.cmd = MS_CMD_HEARTBEAT};
    char cores[MS_HOST_MAX_CPUS + 1];
    m.u.heartbeat.t = (uint64_t)ms_now_ms();
    add_host_counters(a, &m.u.heartbeat, cores, sizeof cores);
    a->next_hb_ms = ms_now_ms() + a->beat_ms;
    send_msg(a, &m);
}

/* Every few seconds, how far each running task got. */
static void send_progress(agent_t *a)
{
    ms_progress_t p[64];
    if (!a->pool || ms_now_ms() < a->next_progress_ms)
        return;
    a->next_progress_ms = ms_now_ms() + PROGRESS_EVERY_MS;
    size_t n = ms_pool_progress(a->pool, p, sizeof p / sizeof p[0]);
    for (size_t i = 0; i < n; i++) {
        ms_msg_t m = {.cmd = MS_CMD_PROGRESS};
        m.u.progress = p[i];
        send_msg(a, &m);
    }
}

/* --- results: kept until the master has them ------------------------------- */

static void send_result(agent_t *a, outbox_t *ob)
{
    ms_msg_t m = {.cmd = MS_CMD_RESULT};
    m.u.result = ob->r;
    ob->sent_at = (uint64_t)ms_now_ms();
    send_msg(a, &m);
}

static int outbox_add(agent_t *a, ms_result_t *r)
{
    if (a->n_out == a->cap_out) {
        size_t ncap = a->cap_out ? a->cap_out * 2 : 8;
        outbox_t *n = realloc(a->outbox, ncap * sizeof *n);
        if (!n)
            return -1;
        a->outbox = n;
        a->cap_out = ncap;
    }
    outbox_t *ob = &a->outbox[a->n_out++];
    ob->r = *r;
    if (!ob->r.message)
        ob->r.message = strdup("");
    send_result(a, ob);
    return 0;
}

/* The master answered a heartbeat sent at `ack`: on one connection
 * messages arrive in order, so every result sent before it arrived too. */
static void outbox_acked(agent_t *a, uint64_t ack)
{
    size_t kept = 0;
    for (size_t i = 0; i < a->n_out; i++) {
        if (a->outbox[i].sent_at < ack) /* one sent in the same ms may follow it */
            free(a->outbox[i].r.message);
        else
            a->outbox[kept++] = a->outbox[i];
    }
    a->n_out = kept;
}

/* --- (re)connecting ---------------------------------------------------------- */

static void close_socket(agent_t *a)
{
    /* Unsent: the results stay in the outbox, the credit is in the next
     * HELLO, progress is sent anew. */
    ms_batch_reset(&a->out);
    a->credit_due = 0;
    ms_monitor_destroy(&a->mon);
    if (a->sock)
        zmq_close(a->sock);
    a->sock = NULL;
}

static int open_socket(agent_t *a, char *err, size_t errlen)
{
    int ivl = MS_RECONNECT_MIN_MS, ivl_max = MS_RECONNECT_MAX_MS, curve = 0;
    close_socket(a);
    a->accepted = 0;
    a->version_logged = 0;
    a->bad_logged = 0;
    a->sock = zmq_socket(a->c->ctx, ZMQ_DEALER);
    if (!a->sock || ms_wire_setup(a->sock, 0) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(a->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0)
        return ms_errf(err, errlen, "cannot make a socket: %s", zmq_strerror(errno));
    if (ms_secure_client(a->sock, a->o->master, a->o->key, a->o->master_key, a->o->insecure, &curve,
                         err, errlen) != 0)
        return -1;
    /* Many agents in one process (simulated workers) watch no handshake:
     * a monitor each would double the sockets polled. */
    if (curve && a->p->n == 1 && !(a->mon = ms_monitor_new(a->c->ctx, a->sock, err, errlen)))
        return -1;
    if (zmq_connect(a->sock, a->o->master) != 0)
        return ms_errf(err, errlen, "cannot connect to master %s: %s", a->o->master,
                       zmq_strerror(errno));
    return 0;
}

static void on_handshake_failed(void *arg, const ms_monitor_event_t *ev)
{
    const agent_t *a = arg;
    ms_error("cannot authenticate with the master at %s: %s (is --master-key the master's "
             "public key, and is our key in its authorized folder?)",
             a->o->master, ev->what);
}

/* HELLO, HOLD for each task still running, the results the master may not
 * have, then the free slots as credit. */
static void announce(agent_t *a)
{
    ms_msg_t m = {.cmd = MS_CMD_HELLO};
    ms_taskref_t held[MS_MAX_SLOTS];
    m.u.hello.name = (char *)a->o->name;
    m.u.hello.slots = a->o->slots;
    m.u.hello.rsync = (char *)a->o->rsync_version;
    m.u.hello.unconfined = a->o->unconfined;
    m.u.hello.opts = (char *)a->o->opts;
    send_msg(a, &m); /* acked_ms moves only on an answer: a HELLO proves nothing */
    size_t n = a->pool ? ms_pool_running(a->pool, held, sizeof held / sizeof held[0]) : 0;
    for (size_t i = 0; i < n; i++) {
        ms_msg_t h = {.cmd = MS_CMD_HOLD};
        h.u.taskref = held[i];
        send_msg(a, &h);
    }
    for (size_t i = 0; i < a->n_out; i++)
        send_result(a, &a->outbox[i]);
    if (a->draining) {
        ms_msg_t d = {.cmd = MS_CMD_DRAIN};
        send_msg(a, &d);
    }
    send_ready(a, free_slots(a));
    send_heartbeat(a);
}

static void reconnect(agent_t *a)
{
    char err[512];
    ms_warn("no answer from master %s for %.1f s: reconnecting (%u task(s) still running)",
            a->o->master, (ms_now_ms() - a->last_heard_ms) / 1000.0, busy(a));
    if (open_socket(a, err, sizeof err) != 0) {
        ms_error("%s", err);
    } else {
        announce(a);
    }
    a->reconnect_at_ms = ms_now_ms() + a->reconnect_ivl_ms;
    if (a->reconnect_ivl_ms < MS_RECONNECT_MAX_MS)
        a->reconnect_ivl_ms *= 2;
}

/* --- lease ---------------------------------------------------------------------- */

/*
 * The master requeues our tasks once it has not heard from us for ttl; it
 * last heard us at acked_ms (our clock). A margin before that, the rsyncs
 * get SIGTERM: from then on an rsync writes nothing more into the backup,
 * it only removes its temporary file and exits, so the task's next copy
 * cannot race it. The pool sends SIGKILL if it has not exited after a
 * grace (MS_POOL_KILL_GRACE_S).
 */
static void check_lease(agent_t *a)
{
    static const char why[] = "stopped: this worker lost contact with the master";
    int64_t margin = a->beat_ms / 2 < a->ttl_ms / 4 ? a->beat_ms / 2 : a->ttl_ms / 4;
    int64_t deadline = a->acked_ms + a->ttl_ms, now = ms_now_ms();
    if (busy(a) == 0 || now < deadline - margin)
        return;
    if (!a->lease_lost)
        ms_warn("lease lost: the master has not acknowledged us for %.1f s; stopping %u "
                "task(s) before it gives them to another worker",
                (now - a->acked_ms) / 1000.0, busy(a));
    a->lease_lost = 1;
    ms_pool_kill_all(a->pool, SIGTERM, why);
}

/* --- messages from the master ------------------------------------------------------ */

static void refuse_task(agent_t *a, const ms_task_t *t, int code, const char *why)
{
    ms_result_t r = {.run_id = t->run_id,
                     .task_id = t->task_id,
                     .attempt = t->attempt,
                     .exit_code = code,
                     .message = strdup(why)};
    char name[512], reason[2048]; /* why may name paths, which may hold any byte */
    ms_warn("task %s of run %llu %s: %s", ms_log_safe(t->project, name, sizeof name),
            (unsigned long long)t->run_id,
            code == MS_EXIT_VANISHED  ? "vanished"
            : code == MS_EXIT_DIFFERS ? "differs from its backup"
                                      : "refused",
            ms_log_safe(why, reason, sizeof reason));
    if (outbox_add(a, &r) != 0)
        free(r.message);
    send_ready(a, 1);
}

static void on_task(agent_t *a, const ms_task_t *t)
{
    char err[MS_MAX_PATH + 256], name[512];
    if (a->draining) {
        refuse_task(a, t, MS_EXIT_BUSY, "worker draining: not started");
        return;
    }
    if (a->o->noop) {
        ms_result_t r = {.run_id = t->run_id, .task_id = t->task_id, .attempt = t->attempt};
        outbox_add(a, &r);
        send_ready(a, 1);
        return;
    }
    /* The task's shape (ms_rsync.c's rules) before any of its bytes reach
     * realpath or lstat in the confinement check. */
    if (ms_rsync_check_task(t, err, sizeof err) != 0 ||
        ms_confine_check_task(a->o->confine, t, err, sizeof err) != 0) {
        refuse_task(a, t, MS_EXIT_REFUSED, err);
        return;
    }
    int started = ms_pool_start(a->pool, t, err, sizeof err);
    if (started != 0) {
        refuse_task(a, t,
                    started == MS_POOL_VANISHED  ? MS_EXIT_VANISHED
                    : started == MS_POOL_DIFFERS ? MS_EXIT_DIFFERS
                                                 : MS_EXIT_REFUSED,
                    err);
        return;
    }
    /* Which part of a split project: "[sub/first-entry +N]", "[rest]". */
    char part[600], safe[600];
    ms_log_safe(ms_rsync_task_part(t, part, sizeof part), safe, sizeof safe);
    ms_info("run %llu: started %s%s%s%s (attempt %u)", (unsigned long long)t->run_id,
            t->flags & MS_TASK_TOP ? "." : ms_log_safe(t->project, name, sizeof name),
            *safe ? " [" : "", safe, *safe ? "]" : "", t->attempt);
}

/* The master has another live worker of our name: say so, ask again later. */
static void on_refused(agent_t *a, const char *text)
{
    char safe[1024];
    a->refused_ivl_ms = a->refused_ivl_ms ? a->refused_ivl_ms * 2 : MS_RECONNECT_MIN_MS;
    if (a->refused_ivl_ms > MS_RECONNECT_MAX_MS)
        a->refused_ivl_ms = MS_RECONNECT_MAX_MS;
    a->reconnect_at_ms = ms_now_ms() + a->refused_ivl_ms;
    ms_error("the master refused this worker: %s (asking again in %d s)",
             ms_log_safe(text, safe, sizeof safe), a->refused_ivl_ms / 1000);
}

static void on_error(agent_t *a, const char *message)
{
    char text[1024];
    if (strstr(message, "is connected and alive")) {
        on_refused(a, message);
        return;
    }
    int unknown = strstr(message, "unknown worker") != NULL;
    if (!unknown || !a->refused_ivl_ms) /* while refused, every beat is answered so */
        ms_warn("master refused a message: %s", ms_log_safe(message, text, sizeof text));
    if (unknown && ms_now_ms() >= a->reconnect_at_ms) {
        /* The master dropped us (we were silent past our lease: stopped,
         * cut off) and is up: HELLO again on this connection. Its first
         * ack then says "reconnected", as after a new connection. */
        if (a->accepted)
            ms_warn("master %s no longer knows this worker: announcing it again (%u task(s) "
                    "still running)",
                    a->o->master, busy(a));
        a->accepted = 0;
        a->reconnect_at_ms = ms_now_ms() + a->hb_ms;
        announce(a);
    }
}

/*
 * The first ack on a connection: the master took our HELLO (it answers an
 * unknown peer's beat with an error, and a CURVE handshake it refused
 * brings nothing at all). Said at info, so that an operator sees that the
 * worker is in, and when it is back after losing the master.
 */
static void on_accepted(agent_t *a)
{
    char text[64] = "";
    a->accepted = 1;
    if (a->was_accepted)
        snprintf(text, sizeof text, ", %u task(s) still running", busy(a));
    ms_log(a->p->n > 1 ? MS_LOG_DEBUG : MS_LOG_INFO, "%s to %s as %s (%u slot%s%s)",
           a->was_accepted ? "reconnected" : "connected", a->o->master, a->o->name, a->o->slots,
           a->o->slots == 1 ? "" : "s", text);
    a->was_accepted = 1;
}

static void on_heartbeat(agent_t *a, const ms_heartbeat_t *hb)
{
    if (hb->ack > 0 && !a->accepted)
        on_accepted(a);
    if (hb->ack > 0)
        a->refused_ivl_ms = 0; /* it answers our beats: we are its worker */
    if (hb->ack > 0 && (int64_t)hb->ack > a->acked_ms) {
        a->acked_ms = (int64_t)hb->ack;
        outbox_acked(a, hb->ack);
    }
    if (hb->ttl_ms > 0) {
        a->ttl_ms = hb->ttl_ms;
        /* A master whose lease is shorter than our heartbeats allow (it was
         * given a shorter --heartbeat-ms): beat often enough for it. */
        int64_t beat = a->ttl_ms / MS_HEARTBEAT_LIVENESS;
        if (beat < MIN_BEAT_MS) /* what --heartbeat-ms allows: no busy loop */
            beat = MIN_BEAT_MS;
        a->beat_ms = beat < a->hb_ms ? (int)beat : a->hb_ms;
        if (a->next_hb_ms > ms_now_ms() + a->beat_ms)
            a->next_hb_ms = ms_now_ms() + a->beat_ms;
    }
    a->lease_lost = 0;
}

/* One message from the master (alone, or in a BATCH). */
static void on_master_cmd(agent_t *a, ms_msg_t *m)
{
    char text[1024];
    switch (m->cmd) {
    case MS_CMD_TASK:
        on_task(a, &m->u.task);
        break;
    case MS_CMD_HEARTBEAT:
        on_heartbeat(a, &m->u.heartbeat);
        break;
    case MS_CMD_CANCEL:
        ms_warn("master cancelled run %llu task %llu attempt %u: stopping it",
                (unsigned long long)m->u.taskref.run_id, (unsigned long long)m->u.taskref.task_id,
                m->u.taskref.attempt);
        if (a->pool)
            ms_pool_kill(a->pool, &m->u.taskref, SIGTERM, "cancelled by the master");
        break;
    case MS_CMD_BYE:
        ms_info("master says goodbye: %s", ms_log_safe(m->u.text.message, text, sizeof text));
        if (m->u.text.reconnect)
            a->last_heard_ms = ms_now_ms() - 2 * (int64_t)a->hb_ms; /* reconnect at once */
        else
            a->done = 1;
        break;
    case MS_CMD_ERROR:
        on_error(a, m->u.text.message);
        break;
    default:
        ms_warn("master sent %s, which a worker does not take", ms_cmd_name(m->cmd));
    }
}

static void on_master_msg(agent_t *a, ms_msg_t *m)
{
    if (m->cmd != MS_CMD_BATCH) {
        on_master_cmd(a, m);
        return;
    }
    for (uint32_t i = 0; i < m->u.batch.n; i++) /* in order, as if each came alone */
        on_master_cmd(a, &m->u.batch.msgs[i]);
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
            /* Not a master we can work with: say so once per connection and
             * keep looking (an upgrade of the master needs no worker restart). */
            if (!a->version_logged)
                ms_error("cannot work with the master at %s: %s", a->o->master, err);
            a->version_logged = 1;
            continue;
        }
        a->last_heard_ms = ms_now_ms();
        a->reconnect_ivl_ms = MS_RECONNECT_MIN_MS;
        if (rc == MS_WIRE_OK)
            on_master_msg(a, &m);
        else if (a->bad_logged++ < 3)
            ms_warn("bad message from master: %s%s", err,
                    a->bad_logged == 3 ? " (further ones not logged)" : "");
        ms_msg_clear(&m);
    }
}

/* --- the pool --------------------------------------------------------------------------- */

static void collect_results(agent_t *a)
{
    char err[256], msg[1024];
    ms_result_t r;
    if (!a->pool)
        return;
    if (ms_pool_handle(a->pool, a->fds, a->n_fds, err, sizeof err) != 0)
        ms_warn("pool: %s", err);
    while (ms_pool_next_result(a->pool, &r) == 1) {
        if (r.exit_code == 0)
            ms_info("run %llu task %llu: done in %.1f s", (unsigned long long)r.run_id,
                    (unsigned long long)r.task_id, r.seconds);
        else
            ms_warn("run %llu task %llu: rsync exit %d: %s", (unsigned long long)r.run_id,
                    (unsigned long long)r.task_id, r.exit_code,
                    ms_log_safe(r.message ? r.message : "", msg, sizeof msg));
        if (outbox_add(a, &r) != 0) {
            ms_error("out of memory keeping a result");
            free(r.message);
        }
        send_ready(a, 1);
    }
}

/* Housekeeping on the clock: heartbeat, lease, reconnect. */
static void tick(agent_t *a)
{
    int64_t now = ms_now_ms();
    if (now >= a->next_hb_ms)
        send_heartbeat(a);
    send_progress(a);
    check_lease(a);
    if (now - a->last_heard_ms > 2 * (int64_t)a->beat_ms && now >= a->reconnect_at_ms)
        reconnect(a);
}

/* The process's poll items: each agent's socket, its monitor, its pool's
 * descriptors (a->item: where its own start). Returns how many; shortens
 * *timeout_ms to a pool's next task timeout. */
static size_t fill_items(proc_t *p, int *timeout_ms)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        agent_t *a = &p->a[i];
        a->item = k;
        p->items[k++] = (zmq_pollitem_t){a->sock, 0, ZMQ_POLLIN, 0};
        if (a->mon)
            p->items[k++] = (zmq_pollitem_t){ms_monitor_socket(a->mon), 0, ZMQ_POLLIN, 0};
        if (!a->pool)
            continue;
        size_t n = a->n_fds = ms_pool_pollfds(a->pool, a->fds, a->max_fds);
        a->fd_item = k;
        double next_timeout = ms_pool_expire(a->pool);
        if (next_timeout >= 0 && next_timeout * 1000 < *timeout_ms)
            *timeout_ms = (int)(next_timeout * 1000) + 1;
        for (size_t j = 0; j < n; j++)
            p->items[k++] = (zmq_pollitem_t){NULL, a->fds[j].fd, ZMQ_POLLIN, 0};
    }
    return k;
}

/* One turn of the loop: wait for the master, the children or the clock. */
static int turn(proc_t *p, int timeout_ms)
{
    size_t total = fill_items(p, &timeout_ms);
    if (zmq_poll(p->items, (int)total, timeout_ms) < 0) {
        for (size_t i = 0; i < p->n; i++)
            p->a[i].n_fds = 0; /* nothing known ready: the pools read only what is due */
        return errno == EINTR ? 0 : -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        agent_t *a = &p->a[i];
        for (size_t j = 0; a->pool && j < a->n_fds; j++)
            a->fds[j].revents = p->items[a->fd_item + j].revents;
        if (p->items[a->item].revents & ZMQ_POLLIN)
            read_master(a);
        if (a->mon && (p->items[a->item + 1].revents & ZMQ_POLLIN))
            ms_monitor_handle(a->mon, on_handshake_failed, a);
        collect_results(a);
        flush_out(a);
    }
    return 0;
}

/* --- stopping ------------------------------------------------------------------------------ */

/* exit_with_parent and the process that started us died: its death signal
 * (SIGTERM) came, or getppid() changed (a signal that never came). SIGTERM
 * may come before getppid() changes: the parent's other threads may still
 * be dying. */
static int orphaned(const agent_t *a)
{
    return a->o->exit_with_parent && (*a->c->stop == SIGTERM || getppid() != a->c->parent);
}

/* Run the loop until no task runs, the deadline, or (if stop_on_bye) a BYE
 * or the parent's death. */
static void wait_tasks(agent_t *a, int64_t deadline, int stop_on_bye)
{
    while (busy(a) > 0 && ms_now_ms() < deadline && !(stop_on_bye && (a->done || orphaned(a)))) {
        tick(a);
        if (turn(a->p, 100) != 0)
            break;
    }
}

/* SIGTERM first: rsync then removes its temporary file; SIGKILL whatever
 * is still there after the grace. */
static void stop_all(agent_t *a, const char *why, int grace_ms)
{
    if (busy(a) == 0)
        return;
    ms_pool_kill_all(a->pool, SIGTERM, why);
    wait_tasks(a, ms_now_ms() + grace_ms, 0);
    ms_pool_kill_all(a->pool, SIGKILL, why);
    wait_tasks(a, ms_now_ms() + grace_ms, 0);
}

/* SIGTERM: no new tasks, let running ones finish up to the drain timeout,
 * then stop them; they are reported as interrupted (and retried elsewhere). */
static void drain(agent_t *a)
{
    unsigned limit = a->o->drain_timeout_s ? a->o->drain_timeout_s : 60;
    ms_msg_t d = {.cmd = MS_CMD_DRAIN};
    a->draining = 1;
    send_msg(a, &d);
    if (busy(a) > 0)
        ms_info("draining: waiting up to %u s for %u running task%s", limit, busy(a),
                busy(a) == 1 ? "" : "s");
    wait_tasks(a, ms_now_ms() + (int64_t)limit * 1000, 1);
    if (busy(a) > 0 && !a->done && !orphaned(a)) { /* an orphan: leave_now */
        ms_warn("drain timeout: interrupting %u task(s)", busy(a));
        stop_all(a, "interrupted: the worker was stopped", KILL_GRACE_MS);
    }
}

static void leave(agent_t *a, const char *why)
{
    ms_msg_t bye = {.cmd = MS_CMD_BYE};
    stop_all(a, "interrupted: the worker left", KILL_GRACE_MS);
    bye.u.text.message = (char *)why;
    send_msg(a, &bye);
}

/*
 * exit_with_parent and the parent died: the embedded master lived in it, so
 * nobody waits for a drain and every second spent copying races the next
 * run into the same backup. Stop the rsyncs at once and go.
 */
static void leave_now(agent_t *a)
{
    ms_msg_t bye = {.cmd = MS_CMD_BYE};
    if (busy(a) > 0)
        ms_warn("the process that started this worker exited: stopping %u task(s) at once",
                busy(a));
    stop_all(a, "interrupted: the worker was stopped", EXIT_NOW_GRACE_MS);
    bye.u.text.message = "worker stopped";
    send_msg(a, &bye);
}

/*
 * After the loop: BYE, after a drain on a stop signal. An orphan does not
 * drain. SIGINT with exit_with_parent (Ctrl-C on the terminal, which the
 * parent gets too) drains as before: the parent cancels the tasks and
 * reports them, unless it dies meanwhile.
 */
static void finish(agent_t *a)
{
    if (*a->c->stop && !a->done && !orphaned(a))
        drain(a);
    if (!a->done && orphaned(a))
        leave_now(a);
    else
        leave(a, *a->c->stop ? "worker stopped" : "worker leaving");
}

/* --- setup ------------------------------------------------------------------------------------ */

/* Agent i's (from 1) name and key when a process runs many: NAME-i, and
 * KEY-i.key for --key KEY.key (KEY-i for a key file named otherwise). */
static int name_agent(agent_t *a, ms_agent_opts_t *ao, size_t i, char *err, size_t errlen)
{
    const char *key = ao->key;
    size_t len = key ? strlen(key) : 0;
    size_t base = len >= 4 && strcmp(key + len - 4, ".key") == 0 ? len - 4 : len;
    if (asprintf(&a->own_name, "%s-%zu", ao->name, i) < 0) {
        a->own_name = NULL; /* asprintf leaves it undefined */
        return ms_errf(err, errlen, "out of memory");
    }
    if (key &&
        asprintf(&a->own_key, "%.*s-%zu%s", (int)base, key, i, base < len ? ".key" : "") < 0) {
        a->own_key = NULL;
        return ms_errf(err, errlen, "out of memory");
    }
    if (strlen(a->own_name) > MS_MAX_NAME)
        return ms_errf(err, errlen, "the agents' names (%s) are longer than %d bytes", a->own_name,
                       MS_MAX_NAME);
    ao->name = a->own_name;
    ao->key = a->own_key;
    return 0;
}

/* One agent's pool (none with the no-op executor), clock and socket. */
static int setup_agent(agent_t *a, char *err, size_t errlen)
{
    const ms_agent_opts_t *o = a->o;
    a->hb_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : MS_HEARTBEAT_MS;
    a->beat_ms = a->hb_ms;
    a->ttl_ms = (int64_t)a->hb_ms * MS_HEARTBEAT_LIVENESS;
    a->reconnect_ivl_ms = MS_RECONNECT_MIN_MS;
    if (!o->noop) {
        a->pool = ms_pool_new(o->rsync, o->rsync_opts, o->n_rsync_opts, o->slots, err, errlen);
        if (!a->pool)
            return -1;
        a->max_fds = 1 + 2 * (size_t)o->slots;
        if (!(a->fds = calloc(a->max_fds, sizeof *a->fds)))
            return ms_errf(err, errlen, "out of memory");
    }
    a->p->max_items += 2 + a->max_fds;
    return open_socket(a, err, errlen);
}

/* What the agents share, then each agent. n > 1 only with the no-op
 * executor: pools of real rsyncs would share the process's SIGCHLD. */
static int setup(proc_t *p, const ms_agent_opts_t *o, size_t n, char *err, size_t errlen)
{
    common_t *c = &p->c;
    char herr[256];
    if (n > 1 && !o->noop)
        return ms_errf(err, errlen, "several agents in one process need the no-op executor");
    p->a = calloc(n, sizeof *p->a);
    p->opts = calloc(n, sizeof *p->opts);
    c->ctx = zmq_ctx_new();
    if (!p->a || !p->opts || !c->ctx)
        return ms_errf(err, errlen, "out of memory");
    p->n = n;
    for (size_t i = 0; i < n; i++)
        p->a[i] = (agent_t){.o = &p->opts[i], .p = p, .c = c};
    /* Each socket counts, and so does libzmq's own (the reaper, monitors). */
    if (n > 1 && zmq_ctx_set(c->ctx, ZMQ_MAX_SOCKETS, (int)n + 64) != 0)
        return ms_errf(err, errlen, "cannot allow %zu sockets: %s", n, zmq_strerror(errno));
    if (!(c->host = ms_host_new("/proc", "/sys/block", herr, sizeof herr)))
        ms_warn("no host counters: %s", herr);
    for (size_t i = 0; i < n; i++) {
        p->opts[i] = *o;
        if ((n > 1 && name_agent(&p->a[i], &p->opts[i], i + 1, err, errlen) != 0) ||
            setup_agent(&p->a[i], err, errlen) != 0)
            return -1;
    }
    /* Many agents on one host: one sample serves the beats of a quarter beat. */
    c->reuse_ms = n > 1 ? p->a[0].hb_ms / 4 : 0;
    if (!(p->items = calloc(p->max_items, sizeof *p->items)))
        return ms_errf(err, errlen, "out of memory");
    return 0;
}

static void teardown_agent(agent_t *a)
{
    /* The last results and the BYE may still sit in the socket's queue:
     * give them a moment to leave (a reconnect, by contrast, drops them),
     * unless the master died with our parent: nobody is left to read. */
    int linger = orphaned(a) ? 0 : LINGER_MS;
    if (a->sock)
        zmq_setsockopt(a->sock, ZMQ_LINGER, &linger, sizeof linger);
    ms_pool_destroy(&a->pool);
    for (size_t i = 0; i < a->n_out; i++)
        free(a->outbox[i].r.message);
    free(a->outbox);
    free(a->fds);
    close_socket(a);
    ms_batch_free(&a->out);
    free(a->own_name);
    free(a->own_key);
}

static void teardown(proc_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        teardown_agent(&p->a[i]);
    ms_host_destroy(&p->c.host);
    free(p->items);
    free(p->a);
    free(p->opts);
    if (p->c.ctx)
        zmq_ctx_term(p->c.ctx);
}

/* --- the loop --------------------------------------------------------------------------------- */

/* Every agent announces itself; the second heartbeats are spread over one
 * interval, as a fleet's would be. */
static void start(proc_t *p)
{
    const ms_agent_opts_t *o = p->a[0].o;
    if (p->n == 1)
        ms_info("worker %s with %u slot%s, master %s", o->name, o->slots, o->slots == 1 ? "" : "s",
                o->master);
    else
        ms_info("%zu simulated workers %s..%s (no-op executor) with %u slots each, master %s", p->n,
                o->name, p->a[p->n - 1].o->name, o->slots, o->master);
    for (size_t i = 0; i < p->n; i++) {
        agent_t *a = &p->a[i];
        a->last_heard_ms = ms_now_ms();
        a->acked_ms = ms_now_ms(); /* no task is held before the master answers */
        announce(a);
        a->next_hb_ms += (int64_t)a->hb_ms * (int64_t)i / (int64_t)p->n;
    }
}

/* Whether an agent still serves: not told BYE, its parent (with
 * exit_with_parent) still there. */
static int any_live(const proc_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (!p->a[i].done && !orphaned(&p->a[i]))
            return 1;
    return 0;
}

/* How long to wait: until the next heartbeat is due (never less than
 * MIN_BEAT_MS: many agents' beats go a few at once), at most half a beat. */
static int wait_ms(const proc_t *p)
{
    int64_t now = ms_now_ms(), until = INT_MAX;
    for (size_t i = 0; i < p->n; i++) {
        const agent_t *a = &p->a[i];
        if (a->done)
            continue;
        int64_t due = a->next_hb_ms - now;
        if (due > a->beat_ms / 2)
            due = a->beat_ms / 2;
        if (due < until)
            until = due;
    }
    return until < MIN_BEAT_MS ? MIN_BEAT_MS : (int)until;
}

static void serve(proc_t *p)
{
    while (!*p->c.stop && any_live(p)) {
        for (size_t i = 0; i < p->n; i++)
            if (!p->a[i].done)
                tick(&p->a[i]);
        if (turn(p, wait_ms(p)) != 0) {
            ms_error("poll failed: %s", zmq_strerror(errno));
            p->exit_code = 1;
            break;
        }
    }
}

int ms_agent_run(const ms_agent_opts_t *o, volatile sig_atomic_t *stop)
{
    proc_t p = {.c = {.stop = stop, .parent = getppid()}};
    char err[512];
    if (setup(&p, o, o->agents > 1 ? o->agents : 1, err, sizeof err) != 0) {
        ms_error("%s", err);
        teardown(&p);
        return 1;
    }
    start(&p);
    serve(&p);
    for (size_t i = 0; i < p.n; i++)
        finish(&p.a[i]);
    teardown(&p);
    return p.exit_code;
}
