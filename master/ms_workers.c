/*
 * ms_workers.c - the master's view of its workers.
 *
 * A worker is known from its HELLO until it says BYE, cannot be sent to, or
 * stays silent for MS_HEARTBEAT_LIVENESS heartbeat intervals (the lease
 * time-to-live); then every task it held goes back to the queue. Each
 * worker heartbeat is answered at once with an ack of the worker's own
 * clock and the ttl, which is what lets the worker stop its rsyncs before
 * the master can hand them to someone else (see ms_codec.h).
 *
 * A worker that reconnects (new connection, same name) announces the tasks
 * it still runs with HOLD; the master adopts those it has not given away
 * and answers CANCEL for the others. Results are accepted once, for the
 * attempt in flight, from whichever connection brings them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_diag.h"
#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_label.h"

static int64_t ttl_ms(const ms_master_t *m)
{
    return (int64_t)m->heartbeat_ms * MS_HEARTBEAT_LIVENESS;
}

/* Apply fn to every task in flight on worker id. */
static void each_task_of(ms_master_t *m, const char *id,
                         void (*fn)(ms_master_t *, ms_trec_t *, const char *), const char *why)
{
    for (size_t r = 0; r < m->n_runs; r++) {
        ms_runrec_t *run = m->runs[r];
        for (size_t i = 0; i < run->n_tasks && !run->finished; i++) {
            ms_trec_t *t = ms_run_at(run, i);
            if (t->state == MS_TS_RUNNING && strcmp(t->worker_id, id) == 0)
                fn(m, t, why);
        }
    }
}

/* Each orphan waits one lease of its own; orphan_deadline_ms is the
 * earliest of them (a flaky host making orphans again and again must not
 * hold back the orphans of another). */
void ms_workers_make_orphan(ms_master_t *m, ms_trec_t *t)
{
    t->orphan = 1;
    t->not_before_ms = ms_now_ms() + ttl_ms(m);
    if (m->orphan_deadline_ms == 0 || t->not_before_ms < m->orphan_deadline_ms)
        m->orphan_deadline_ms = t->not_before_ms;
}

static void make_orphan(ms_master_t *m, ms_trec_t *t, const char *why)
{
    (void)why;
    ms_workers_make_orphan(m, t);
}

void ms_worker_remove(ms_master_t *m, ms_wrec_t *w, const char *why, int requeue)
{
    ms_info("worker %s (%s) left: %s", w->id, w->name, why);
    requeue = requeue && !m->stopping;
    each_task_of(m, w->id, requeue ? ms_sched_requeue : make_orphan, why);
    ms_fleet_remove(m->fleet, w);
}

/* --- messages -------------------------------------------------------------- */

/* Whether w was heard lately: it beats at least every heartbeat_ms, so two
 * intervals of silence mean it may be gone (and may be taken over). */
static int heard_lately(const ms_master_t *m, const ms_wrec_t *w)
{
    return ms_now_ms() - w->last_seen_ms <= 2 * (int64_t)m->heartbeat_ms;
}

/*
 * A newcomer with the name of a worker that is alive (two agents on one
 * host, a cloned machine): refused, or the two would evict each other at
 * every HELLO. It may take over once the first falls silent.
 */
static int refuse_twin(ms_master_t *m, const ms_peer_t *peer, const ms_wrec_t *old)
{
    char text[512];
    snprintf(text, sizeof text,
             "another worker named '%s' is connected and alive (%s, heard %.1f s ago): refusing "
             "this one; give each agent its own name (or key), or stop the other one",
             old->name, old->id, (double)(ms_now_ms() - old->last_seen_ms) / 1000.0);
    if (ms_guard_log_once(m->guard, peer, "twin"))
        ms_warn("%s", text);
    ms_wire_send_error(m->wsock, peer, text);
    return 1;
}

/* What a worker says of itself, kept, and logged when it matters. */
static void take_hello(ms_wrec_t *w, const ms_hello_t *h)
{
    char ver[MS_MAX_NAME + 1];
    w->slots = h->slots;
    w->unconfined = h->unconfined;
    snprintf(w->rsync, sizeof w->rsync, "%s",
             h->rsync ? ms_log_safe(h->rsync, ver, sizeof ver) : "");
    ms_fp_t ignored; /* only a well-formed hash is kept: it is compared, never shown */
    snprintf(w->opts, sizeof w->opts, "%s",
             h->opts && ms_fp_parse(h->opts, &ignored) == 0 ? h->opts : "");
    ms_info("worker %s (%s) joined with %u slots%s%s", w->id, w->name, w->slots,
            w->rsync[0] ? ", " : "", w->rsync);
    if (w->unconfined)
        ms_warn("worker %s (%s) is unconfined: no %s%s%s; it reads and writes wherever a run "
                "says",
                w->id, w->name, (w->unconfined & MS_UNCONFINED_SOURCE) ? "allow_source" : "",
                w->unconfined == (MS_UNCONFINED_SOURCE | MS_UNCONFINED_DEST) ? ", no " : "",
                (w->unconfined & MS_UNCONFINED_DEST) ? "allow_dest" : "");
}

static void on_hello(ms_master_t *m, const ms_peer_t *peer, const ms_hello_t *h)
{
    ms_wrec_t *old = ms_fleet_by_peer(m->fleet, peer);
    char name[MS_MAX_NAME + 1], claimed[MS_MAX_NAME + 1];
    /* Authenticated: the key's name is who it is, whatever it says. */
    ms_log_safe(peer->user_id[0] ? peer->user_id : h->name, name, sizeof name);
    if (peer->user_id[0] && strcmp(peer->user_id, h->name) != 0)
        ms_info("worker with key '%s' calls itself '%s': known as '%s'", peer->user_id,
                ms_log_safe(h->name, claimed, sizeof claimed), name);
    /* Its rsyncs may still run: they stay its own if it claims them (HOLD),
     * and go to another worker only once its lease is surely over. */
    if (old)
        ms_worker_remove(m, old, "announced itself again", 0);
    /* The same host on a new connection: its tasks may be adopted (HOLD). */
    if ((old = ms_fleet_by_name(m->fleet, name)) != NULL && heard_lately(m, old) &&
        refuse_twin(m, peer, old))
        return;
    if (old)
        ms_worker_remove(m, old, "reconnected", 0);
    ms_wrec_t *w = ms_fleet_add(m->fleet, peer, name, ms_now_ms());
    if (!w) { /* ENOMEM, or EEXIST: the records above were just removed */
        ms_error("cannot accept worker %s: %s", name, strerror(errno));
        ms_wire_send_error(m->wsock, peer, "the master is out of memory: try again later");
        return;
    }
    take_hello(w, h);
}

static ms_trec_t *find_task(const ms_master_t *m, uint64_t run_id, uint64_t task_id)
{
    ms_runrec_t *run = ms_master_find_run(m, run_id);
    return run ? ms_run_task(run, task_id) : NULL;
}

static void send_cancel(ms_master_t *m, ms_wrec_t *w, const ms_taskref_t *ref)
{
    char err[256];
    ms_msg_t c = {.cmd = MS_CMD_CANCEL};
    c.u.taskref = *ref;
    if (ms_wire_send(m->wsock, &w->peer, &c, err, sizeof err) != 0)
        ms_warn("worker %s: %s", w->id, err);
}

void ms_workers_stop_task(ms_master_t *m, const ms_trec_t *t)
{
    ms_wrec_t *w = t->orphan ? NULL : ms_fleet_by_id(m->fleet, t->worker_id);
    ms_taskref_t ref = {t->run->id, t->id, t->attempts};
    if (w)
        send_cancel(m, w, &ref);
}

static void on_hold(ms_master_t *m, ms_wrec_t *w, const ms_taskref_t *ref)
{
    ms_trec_t *t = find_task(m, ref->run_id, ref->task_id);
    char name[512];
    if (!t || t->state != MS_TS_RUNNING || t->attempts != ref->attempt ||
        (!t->orphan && strcmp(t->worker_id, w->id) != 0 &&
         ms_fleet_by_id(m->fleet, t->worker_id))) {
        ms_info("worker %s (%s) still runs run %llu task %llu attempt %u, which is no longer "
                "its: cancelled",
                w->id, w->name, (unsigned long long)ref->run_id, (unsigned long long)ref->task_id,
                ref->attempt);
        send_cancel(m, w, ref);
        return;
    }
    /* An orphan's worker is gone (or was the last master's): w takes it on. */
    if (t->orphan || strcmp(t->worker_id, w->id) != 0)
        ms_fleet_task_adopted(m->fleet, w);
    t->orphan = 0;
    snprintf(t->worker_id, sizeof t->worker_id, "%s", w->id);
    t->host = ms_run_intern(t->run, w->name);
    ms_journal_task(m->journal, t);
    ms_info("run %llu: %s adopted from worker %s (%s)%s", (unsigned long long)t->run->id,
            ms_label_task_log(t, name, sizeof name), w->id, w->name,
            (t->run->flags & MS_RUN_CANCELLED) ? ", which is told to stop it: its run was cancelled"
                                               : "");
    if (t->run->flags & MS_RUN_CANCELLED)
        send_cancel(m, w, ref);
}

static void on_progress(ms_master_t *m, const ms_progress_t *p)
{
    ms_trec_t *t = find_task(m, p->run_id, p->task_id);
    if (t && t->state == MS_TS_RUNNING && t->attempts == p->attempt)
        t->bytes_done = p->bytes_done;
}

/* A counter's growth; 0 when it went backwards (reboot, device gone). */
static uint64_t grew(uint64_t now, uint64_t before)
{
    return now >= before ? now - before : 0;
}

/* Rates since the previous sample, and the sample into every active run. */
static void take_host_sample(ms_master_t *m, ms_wrec_t *w, ms_heartbeat_t *hb)
{
    int64_t now = ms_now_ms();
    double secs = w->host_ms ? (double)(now - w->host_ms) / 1000.0 : 0.0;
    ms_diag_sample_t d = {.slots = w->slots, .busy = hb->busy, .cpu_percent = hb->cpu_percent};
    if (secs > 0) {
        d.disk_read_bytes = grew(hb->disk_read_bytes, w->host.disk_read_bytes);
        d.disk_write_bytes = grew(hb->disk_write_bytes, w->host.disk_write_bytes);
        d.net_sent_bytes = grew(hb->net_sent_bytes, w->host.net_sent_bytes);
        d.net_recv_bytes = grew(hb->net_recv_bytes, w->host.net_recv_bytes);
        d.disk_busy_percent = hb->disk_busy_percent;
        d.net_bps = (double)(d.net_sent_bytes + d.net_recv_bytes) / secs;
        w->disk_read_bps = (double)d.disk_read_bytes / secs;
        w->disk_write_bps = (double)d.disk_write_bytes / secs;
        w->net_sent_bps = (double)d.net_sent_bytes / secs;
        w->net_recv_bps = (double)d.net_recv_bytes / secs;
        w->disk_busy_percent = d.disk_busy_percent;
        for (size_t r = 0; r < m->n_runs; r++)
            ms_diag_sample(m->diag, m->runs[r], w->name, &d);
    }
    free(w->host.cores);
    w->host = *hb;
    hb->cores = NULL; /* taken over */
    w->host_ms = now;
}

static void on_heartbeat(ms_master_t *m, ms_wrec_t *w, ms_heartbeat_t *hb)
{
    if (hb->n_cpus > 0 || hb->mem_total > 0)
        take_host_sample(m, w, hb);
    char err[256];
    ms_msg_t ack = {.cmd = MS_CMD_HEARTBEAT};
    ack.u.heartbeat.ack = hb->t;
    ack.u.heartbeat.ttl_ms = (uint32_t)ttl_ms(m);
    if (ms_wire_send(m->wsock, &w->peer, &ack, err, sizeof err) != 0 && errno == EHOSTUNREACH)
        ms_fleet_set_unreachable(m->fleet, w); /* what it sent before it went may still be queued */
}

/* Whether a result counts: the attempt in flight, once. */
static int accept_result(const ms_trec_t *t, const ms_result_t *res)
{
    return t && t->state == MS_TS_RUNNING && t->attempts == res->attempt;
}

static int64_t backoff_ms(const ms_master_t *m, uint32_t attempts)
{
    int64_t d = m->retry_delay_ms;
    for (uint32_t i = 1; i < attempts && d < 60000; i++)
        d *= 2;
    return d < 60000 ? d : 60000;
}

/* rsync could not be run at all on w (exit 126/127: missing, not executable,
 * the worker could not set it up): w gets no more tasks; they go elsewhere. */
static void note_broken(ms_master_t *m, ms_wrec_t *w, const ms_result_t *res)
{
    char msg[200], why[sizeof w->broken];
    if (res->term_signal != 0 || (res->exit_code != 126 && res->exit_code != 127) || w->broken[0])
        return;
    snprintf(why, sizeof why, "its rsync cannot run (exit %d): %s", res->exit_code,
             ms_log_safe(res->message ? res->message : "", msg, sizeof msg));
    ms_fleet_set_broken(m->fleet, w, why);
    ms_error("worker %s (%s): %s; it gets no more tasks until it connects again", w->id, w->name,
             w->broken);
}

static void on_result(ms_master_t *m, ms_wrec_t *w, ms_result_t *res)
{
    ms_trec_t *t = find_task(m, res->run_id, res->task_id);
    char name[512], msg[1024];
    if (!accept_result(t, res)) {
        ms_debug("ignoring result for run %llu task %llu attempt %u from %s: not in flight",
                 (unsigned long long)res->run_id, (unsigned long long)res->task_id, res->attempt,
                 w->id);
        return;
    }
    ms_wrec_t *holder = ms_fleet_by_id(m->fleet, t->worker_id);
    if (holder)
        ms_fleet_task_ended(m->fleet, holder);
    t->orphan = 0; /* its worker reported it: nothing left to adopt */
    w->done++;
    note_broken(m, w, res);
    ms_outcome_t out = ms_result_outcome(res);
    ms_run_set_result(t, res);
    /* A task of a cancelled run is never retried: it ends cancelled. */
    if (out == MS_OUTCOME_TRANSIENT && t->attempts < m->attempts && !m->stopping &&
        !(t->run->flags & MS_RUN_CANCELLED)) {
        int64_t delay = backoff_ms(m, t->attempts);
        t->failed_on = ms_run_intern(t->run, w->name);
        ms_warn("run %llu: %s failed on %s (attempt %u, %s), retrying in %.1f s",
                (unsigned long long)t->run->id, ms_label_task_log(t, name, sizeof name), w->name,
                t->attempts, ms_log_safe(t->result.message, msg, sizeof msg), delay / 1000.0);
        ms_sched_delay(m, t, ms_now_ms() + delay);
        ms_journal_task(m->journal, t);
        return;
    }
    ms_master_task_done(m, t);
}

static void on_worker_cmd(ms_master_t *m, ms_wrec_t *w, ms_msg_t *msg);

static void on_worker_msg(ms_master_t *m, const ms_peer_t *peer, ms_msg_t *msg)
{
    char pid[40];
    if (!ms_guard_allowed(m->guard, peer, "workers")) {
        ms_wrec_t *gone = ms_fleet_by_peer(m->fleet, peer);
        if (gone)
            ms_worker_remove(m, gone, "its key was revoked", 0); /* see ms_worker_remove */
        return;
    }
    if (msg->cmd == MS_CMD_HELLO) {
        on_hello(m, peer, &msg->u.hello);
        return;
    }
    ms_wrec_t *w = ms_fleet_by_peer(m->fleet, peer);
    if (!w) {
        ms_debug("%s from unknown peer %s: asking it to HELLO", ms_cmd_name(msg->cmd),
                 ms_peer_str(peer, pid, sizeof pid));
        ms_wire_send_error(m->wsock, peer, "unknown worker: send HELLO first");
        return;
    }
    w->last_seen_ms = ms_now_ms();
    if (msg->cmd != MS_CMD_BATCH) {
        on_worker_cmd(m, w, msg);
        return;
    }
    /* In order, as if each had come alone; a handler may drop w. */
    for (uint32_t i = 0; i < msg->u.batch.n && w; i++) {
        on_worker_cmd(m, w, &msg->u.batch.msgs[i]);
        w = ms_fleet_by_peer(m->fleet, peer);
    }
}

/* One message of a known worker w (alone, or in a BATCH). */
static void on_worker_cmd(ms_master_t *m, ms_wrec_t *w, ms_msg_t *msg)
{
    switch (msg->cmd) {
    case MS_CMD_READY:
        ms_fleet_grant(m->fleet, w, msg->u.ready.credit);
        break;
    case MS_CMD_HOLD:
        on_hold(m, w, &msg->u.taskref);
        break;
    case MS_CMD_RESULT:
        on_result(m, w, &msg->u.result);
        break;
    case MS_CMD_HEARTBEAT:
        on_heartbeat(m, w, &msg->u.heartbeat);
        break;
    case MS_CMD_PROGRESS:
        on_progress(m, &msg->u.progress);
        break;
    case MS_CMD_DRAIN:
        ms_info("worker %s (%s) is draining: no more tasks for it", w->id, w->name);
        ms_fleet_set_draining(m->fleet, w);
        break;
    case MS_CMD_BYE:
        ms_worker_remove(m, w, msg->u.text.message, 1);
        break;
    default:
        if (ms_guard_log_once(m->guard, &w->peer, "cmd"))
            ms_warn("worker %s (%s) sent %s, which a worker may not send", w->id, w->name,
                    ms_cmd_name(msg->cmd));
        ms_wire_send_error(m->wsock, &w->peer, "command not allowed from a worker");
    }
}

/* Drop every worker a send failed to (its tasks become orphans): once its
 * queued messages are read, and on every tick. */
static void drop_unreachable(ms_master_t *m)
{
    ms_wrec_t *w;
    while ((w = ms_fleet_unreachable(m->fleet)) != NULL)
        ms_worker_remove(m, w, "disconnected", 0); /* its rsyncs may still run */
}

/* At most this many worker messages per loop turn (each of a BATCH counts):
 * a flood of results from a big run must not keep the control socket
 * (status) waiting. */
#define READ_BATCH 256

int ms_workers_read(ms_master_t *m)
{
    for (int n = 0; n < READ_BATCH;) {
        ms_peer_t peer;
        ms_msg_t msg;
        char err[512], pid[40];
        int rc = ms_wire_recv(m->wsock, 1, &peer, &msg, err, sizeof err);
        if (rc == MS_WIRE_NONE || rc == MS_WIRE_FAIL) {
            drop_unreachable(m);
            return 0;
        }
        n += rc == MS_WIRE_OK && msg.cmd == MS_CMD_BATCH ? (int)msg.u.batch.n : 1;
        if (rc == MS_WIRE_OK) {
            on_worker_msg(m, &peer, &msg);
        } else {
            if (ms_guard_log_once(m->guard, &peer, "bad"))
                ms_warn("bad message from worker peer %s%s%s: %s (further ones for a minute "
                        "not logged)",
                        ms_peer_str(&peer, pid, sizeof pid), peer.user_id[0] ? " key " : "",
                        peer.user_id, err);
            if (peer.len > 0)
                ms_wire_send_error(m->wsock, &peer, err);
        }
        ms_msg_clear(&msg);
    }
    drop_unreachable(m);
    return 1;
}

/* --- liveness ------------------------------------------------------------------ */

/* Requeue the orphans whose lease is over; note when the next one is. */
static void requeue_orphans(ms_master_t *m, int64_t now)
{
    m->orphan_deadline_ms = 0;
    for (size_t r = 0; r < m->n_runs; r++) {
        ms_runrec_t *run = m->runs[r];
        for (size_t i = 0; i < run->n_tasks && !run->finished; i++) {
            ms_trec_t *t = ms_run_at(run, i);
            if (!t->orphan)
                continue;
            if (t->state != MS_TS_RUNNING) {
                t->orphan = 0;
            } else if (t->not_before_ms <= now) {
                ms_sched_requeue(m, t, "no worker claimed it within a lease");
            } else if (m->orphan_deadline_ms == 0 || t->not_before_ms < m->orphan_deadline_ms) {
                m->orphan_deadline_ms = t->not_before_ms;
            }
        }
    }
}

/* Per active run: tasks queued, slots busy and free, tasks running. */
static void diag_tick(ms_master_t *m)
{
    unsigned busy = 0, slots = ms_fleet_slots(m->fleet, 0, &busy);
    for (size_t r = 0; r < m->n_runs; r++) {
        ms_runrec_t *run = m->runs[r];
        ms_diag_tick(m->diag, run, run->n_in[MS_TS_QUEUED], busy, slots, run->n_in[MS_TS_RUNNING]);
    }
}

/* Whether r has tasks that wait for a worker (not running, not final). */
static int has_waiting(const ms_runrec_t *r)
{
    return ms_run_waiting(r) + r->n_in[MS_TS_SCANNING] > 0;
}

/*
 * A run whose tasks no connected worker can take (none connected, all
 * draining or broken) for its worker_wait fails what waits, with a clear
 * reason: the nightly service must not wait for ever for a worker.
 */
static void check_worker_wait(ms_master_t *m, int64_t now)
{
    int usable = ms_fleet_any_usable(m->fleet);
    for (size_t i = 0; i < m->n_runs; i++) {
        ms_runrec_t *r = m->runs[i];
        char why[256];
        /* (a run waiting for its pre_run hook needs no worker yet) */
        if (r->finished || usable || !has_waiting(r) || (r->flags & MS_RUN_PRE_RUN)) {
            r->no_worker_since_ms = 0;
            continue;
        }
        if (r->no_worker_since_ms == 0)
            r->no_worker_since_ms = now;
        if (now - r->no_worker_since_ms < (int64_t)r->worker_wait_s * 1000)
            continue;
        snprintf(why, sizeof why,
                 "no worker could take it for %u s (worker_wait): is a worker "
                 "running, connected and able to run rsync?",
                 r->worker_wait_s);
        ms_error("run %llu: %s", (unsigned long long)r->id, why);
        r->no_worker = 1;
        ms_master_fail_unfinished(m, r, why, 0);
    }
}

/*
 * The loop's own absence is not its workers' silence: while it was busy
 * elsewhere (a big report folded, a slow disk) their heartbeats waited
 * unread in the socket, and its first turn back reads only READ_BATCH of
 * them. Time between two checks beyond a heartbeat (they come every half
 * one) is added to every worker's last word before the silent are found:
 * a worker that really died meanwhile goes that much later, which only
 * delays the requeue of its tasks (its lease has run out on its side).
 */
static void excuse_stall(ms_master_t *m, int64_t now)
{
    int64_t away = m->last_tick_ms ? now - m->last_tick_ms - (int64_t)m->heartbeat_ms : 0;
    m->last_tick_ms = now;
    if (away <= 0)
        return;
    ms_fleet_excuse(m->fleet, away, now);
    if (away >= (int64_t)m->heartbeat_ms)
        ms_warn("the master did not read its workers for %.1f s (its loop was busy): that time "
                "is not counted as their silence",
                (double)(away + (int64_t)m->heartbeat_ms) / 1000.0);
}

void ms_workers_tick(ms_master_t *m)
{
    int64_t now = ms_now_ms();
    excuse_stall(m, now);
    drop_unreachable(m);
    ms_wrec_t *w;
    while ((w = ms_fleet_silent(m->fleet, now, ttl_ms(m))) != NULL) {
        char why[96];
        snprintf(why, sizeof why, "silent for %.1f s (heartbeat expired)",
                 (now - w->last_seen_ms) / 1000.0);
        ms_worker_remove(m, w, why, 1);
    }
    if (m->orphan_deadline_ms && now >= m->orphan_deadline_ms)
        requeue_orphans(m, now);
    diag_tick(m);
    check_worker_wait(m, now);
}
