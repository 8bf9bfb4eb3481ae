/*
 * ms_control.c - the master's control service: runs requested by clients
 * (`multisync run --master`), waits for their end, and status queries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_report.h"

static void reply(ms_master_t *m, const ms_peer_t *peer, ms_msg_t *msg)
{
    char err[256], pid[40];
    if (ms_wire_send(m->csock, peer, msg, err, sizeof err) != 0)
        ms_warn("control client %s: %s", ms_peer_str(peer, pid, sizeof pid), err);
}

/* Send RUN_DONE with rep (consumed). */
static void send_report(ms_master_t *m, const ms_peer_t *peer, uint64_t run_id, json_t *rep)
{
    char *text = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
    json_decref(rep);
    if (!text || strlen(text) > MS_MAX_JSON) {
        ms_wire_send_error(m->csock, peer, "report too large or out of memory");
        free(text);
        return;
    }
    ms_msg_t msg = {.cmd = MS_CMD_RUN_DONE};
    msg.u.runref.run_id = run_id;
    msg.u.runref.report = text;
    reply(m, peer, &msg);
    free(text);
}

static void send_run_done(ms_master_t *m, const ms_peer_t *peer, ms_runrec_t *r)
{
    send_report(m, peer, r->id, ms_report_json(r));
}

static int add_waiter(ms_master_t *m, const ms_peer_t *peer, uint64_t run_id)
{
    for (size_t i = 0; i < m->n_waiters; i++)
        if (m->waiters[i].run_id == run_id && ms_peer_eq(&m->waiters[i].peer, peer))
            return 0; /* a client saying WAIT again while it waits */
    ms_waiter_t *nw = realloc(m->waiters, (m->n_waiters + 1) * sizeof *nw);
    if (!nw)
        return -1;
    m->waiters = nw;
    m->waiters[m->n_waiters].peer = *peer;
    m->waiters[m->n_waiters].run_id = run_id;
    m->n_waiters++;
    return 0;
}

void ms_control_run_done(ms_master_t *m, ms_runrec_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < m->n_waiters; i++) {
        if (m->waiters[i].run_id == r->id)
            send_run_done(m, &m->waiters[i].peer, r);
        else
            m->waiters[kept++] = m->waiters[i];
    }
    m->n_waiters = kept;
}

/* Resolve what a RUN names: a configured set, or a source and destination. */
static int resolve_run(const ms_master_t *m, const ms_msg_t *msg, const char **src,
                       const char **dst, char *err, size_t errlen)
{
    const char *set = msg->u.run.set;
    if (set) {
        const ms_set_t *s = m->opts.config ? ms_config_find_set(m->opts.config, set) : NULL;
        if (!s) {
            snprintf(err, errlen, "no backup set named '%s' in the master's config", set);
            return -1;
        }
        *src = s->source;
        *dst = s->dest;
        return 0;
    }
    *src = msg->u.run.source;
    *dst = msg->u.run.dest;
    if (!*src || !*dst || (*src)[0] != '/') {
        snprintf(err, errlen, "a run needs a set name, or an absolute source and a destination");
        return -1;
    }
    return 0;
}

/* Run flags: those the client asked for, or the set's. */
static int resolve_flags(const ms_master_t *m, const ms_msg_t *msg, uint32_t *flags)
{
    const ms_set_t *s = msg->u.run.set && m->opts.config
                            ? ms_config_find_set(m->opts.config, msg->u.run.set)
                            : NULL;
    *flags = msg->u.run.flags | (s && s->delete ? MS_RUN_DELETE : 0);
    return (*flags & ~(uint32_t)MS_RUN_DELETE) ? -1 : 0;
}

static void on_run(ms_master_t *m, const ms_peer_t *peer, const ms_msg_t *msg)
{
    const char *src = NULL, *dst = NULL;
    char err[1024] = "";
    uint64_t id = 0;
    uint32_t flags = 0;
    if (resolve_flags(m, msg, &flags) != 0) {
        ms_wire_send_error(m->csock, peer, "unknown run flags");
        return;
    }
    if (resolve_run(m, msg, &src, &dst, err, sizeof err) != 0 ||
        ms_master_start_run(m, src, dst, msg->u.run.set, flags, &id, err, sizeof err) != 0) {
        ms_warn("run refused: %s", err);
        ms_wire_send_error(m->csock, peer, err);
        return;
    }
    ms_msg_t started = {.cmd = MS_CMD_RUN_STARTED};
    started.u.runref.run_id = id;
    reply(m, peer, &started);
    if (add_waiter(m, peer, id) != 0)
        ms_error("out of memory adding a waiter for run %llu", (unsigned long long)id);
}

static void on_wait(ms_master_t *m, const ms_peer_t *peer, uint64_t run_id)
{
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    json_t *rep = r ? NULL : ms_master_report(m, run_id); /* an older run, from the catalog */
    if (!r && !rep) {
        char text[128];
        snprintf(text, sizeof text, "no run %llu on this master", (unsigned long long)run_id);
        ms_wire_send_error(m->csock, peer, text);
    } else if (rep) {
        send_report(m, peer, run_id, rep);
    } else if (r->finished) {
        send_run_done(m, peer, r);
    } else if (add_waiter(m, peer, run_id) != 0) {
        ms_wire_send_error(m->csock, peer, "out of memory");
    }
}

static json_t *status_json(const ms_master_t *m)
{
    json_t *workers = json_array(), *runs = json_array();
    int64_t now = ms_now_ms();
    char name[4 * MS_MAX_NAME + 8];
    for (size_t i = 0; i < m->n_workers; i++) {
        const ms_wrec_t *w = m->workers[i];
        json_array_append_new(workers,
                              json_pack("{s:s, s:s, s:i, s:i, s:I, s:f}", "id", w->id, "host",
                                        ms_utf8_clean(w->name, name, sizeof name), "slots",
                                        (int)w->slots, "busy", (int)w->running, "tasks_done",
                                        (json_int_t)w->done, "last_seen_s",
                                        (double)(now - w->last_seen_ms) / 1000.0));
    }
    for (size_t i = 0; i < m->n_runs; i++)
        json_array_append_new(runs, ms_report_json(m->runs[i]));
    return json_pack("{s:o, s:o, s:I}", "workers", workers, "runs", runs, "queued",
                     (json_int_t)m->q_len);
}

static void on_status(ms_master_t *m, const ms_peer_t *peer)
{
    json_t *st = status_json(m);
    char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
    json_decref(st);
    if (!text || strlen(text) > MS_MAX_JSON) {
        ms_wire_send_error(m->csock, peer, "status too large or out of memory");
        free(text);
        return;
    }
    ms_msg_t msg = {.cmd = MS_CMD_STATUS_REPLY};
    msg.u.json.json = text;
    reply(m, peer, &msg);
    free(text);
}

static void on_control_msg(ms_master_t *m, const ms_peer_t *peer, const ms_msg_t *msg)
{
    switch (msg->cmd) {
    case MS_CMD_RUN:
        on_run(m, peer, msg);
        break;
    case MS_CMD_WAIT:
        on_wait(m, peer, msg->u.runref.run_id);
        break;
    case MS_CMD_STATUS:
        on_status(m, peer);
        break;
    case MS_CMD_HEARTBEAT:
        break;
    default:
        if (ms_master_log_once(m, peer, "cmd"))
            ms_warn("control client sent %s, which is not a control command",
                    ms_cmd_name(msg->cmd));
        ms_wire_send_error(m->csock, peer, "not a control command");
    }
}

void ms_control_handle(ms_master_t *m)
{
    for (;;) {
        ms_peer_t peer;
        ms_msg_t msg;
        char err[512], pid[40];
        int rc = ms_wire_recv(m->csock, 1, &peer, &msg, err, sizeof err);
        if (rc == MS_WIRE_NONE || rc == MS_WIRE_FAIL)
            return;
        if (rc == MS_WIRE_OK && ms_master_peer_allowed(m, &peer, "control")) {
            on_control_msg(m, &peer, &msg);
        } else if (rc != MS_WIRE_OK) {
            if (ms_master_log_once(m, &peer, "bad"))
                ms_warn("bad control message from %s: %s", ms_peer_str(&peer, pid, sizeof pid),
                        err);
            if (peer.len > 0)
                ms_wire_send_error(m->csock, &peer, err);
        }
        ms_msg_clear(&msg);
    }
}
