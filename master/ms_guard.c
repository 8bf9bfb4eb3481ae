/*
 * ms_guard.c - CURVE, ZAP, handshake monitors and the peer log's rate
 * limit (see ms_guard.h).
 */
#include "ms_guard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_clock.h"
#include "ms_ipc.h"
#include "ms_keys.h"
#include "ms_log.h"
#include "ms_monitor.h"
#include "ms_secure.h"
#include "ms_zap.h"

#define MAX_MONITORS 2

struct ms_guard {
    void *ctx;
    const char *key;   /* the key pair file (the options outlive the guard) */
    ms_zap_t *zap;     /* NULL: no CURVE anywhere */
    int curve_workers; /* the worker socket authenticates by key */
    int curve_control; /* the control socket authenticates by key */
    ms_monitor_t *mon[MAX_MONITORS];
    size_t n_mon;
    ms_recent_t *recent; /* log a misbehaving peer once a minute */
};

static void on_zap_warning(void *arg, const char *domain, const char *message)
{
    (void)arg;
    ms_warn("%s keys: %s", domain, message);
}

static void on_zap_denied(void *arg, const ms_zap_denial_t *d)
{
    ms_guard_t *g = arg;
    char key[256];
    snprintf(key, sizeof key, "zap/%s/%s/%s", d->domain, d->address, d->key);
    if (!g->recent || ms_recent_first(g->recent, key, ms_now_ms(), NULL))
        ms_warn("refused a %s connection from %s: %s (key %s)", d->domain,
                d->address[0] ? d->address : "a local peer", d->reason,
                d->key[0] ? d->key : "none");
}

static void on_handshake_failed(void *arg, const ms_monitor_event_t *ev)
{
    (void)arg;
    ms_warn("handshake failed on %s: %s%s", ev->address, ev->what,
            ev->suppressed ? " (and more like it)" : "");
}

/* Which sockets need CURVE, and is everything there for it? */
static int plan(ms_guard_t *g, const ms_guard_opts_t *o, char *err, size_t errlen)
{
    int net_w = ms_endpoint_is_network(o->listen);
    int net_c = o->control && ms_endpoint_is_network(o->control);
    if (!net_w && !net_c)
        return 0;
    if (!o->key) {
        if (o->insecure) {
            ms_warn("INSECURE: network endpoints without CURVE: anyone who reaches them can "
                    "take tasks, send results and start runs");
            return 0;
        }
        snprintf(err, errlen,
                 "network endpoints need --key MASTER.key and --authorized DIR "
                 "(CURVE), or --insecure for plaintext");
        return -1;
    }
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq was built without CURVE: cannot secure %s",
                 net_w ? o->listen : o->control);
        return -1;
    }
    if (net_w && !o->authorized) {
        snprintf(err, errlen, "%s needs --authorized DIR (the workers' .pub files)", o->listen);
        return -1;
    }
    if (net_c && !o->admin_keys) {
        snprintf(err, errlen,
                 "%s needs --admin-keys DIR (the admins' .pub files), or use an "
                 "ipc:// control endpoint",
                 o->control);
        return -1;
    }
    g->curve_workers = net_w;
    g->curve_control = net_c;
    return 0;
}

/* The ZAP handler, bound before any CURVE server socket. */
static int start_zap(ms_guard_t *g, const ms_guard_opts_t *o, char *err, size_t errlen)
{
    if (!g->curve_workers && !g->curve_control)
        return 0;
    if (!(g->zap = ms_zap_new(g->ctx, err, errlen)))
        return -1;
    ms_zap_set_hooks(g->zap, on_zap_warning, on_zap_denied, g);
    if (g->curve_workers && ms_zap_allow_dir(g->zap, "workers", o->authorized, err, errlen) != 0)
        return -1;
    if (g->curve_control && ms_zap_allow_dir(g->zap, "control", o->admin_keys, err, errlen) != 0)
        return -1;
    ms_info("CURVE on: %zu worker key(s), %zu admin key(s)", ms_zap_key_count(g->zap, "workers"),
            ms_zap_key_count(g->zap, "control"));
    return 0;
}

ms_guard_t *ms_guard_new(void *ctx, const ms_guard_opts_t *o, char *err, size_t errlen)
{
    ms_guard_t *g = calloc(1, sizeof *g);
    if (!g || !(g->recent = ms_recent_new(512, 60000))) {
        snprintf(err, errlen, "out of memory");
        free(g);
        return NULL;
    }
    g->ctx = ctx;
    g->key = o->key;
    if (plan(g, o, err, errlen) != 0 || start_zap(g, o, err, errlen) != 0)
        ms_guard_destroy(&g);
    return g;
}

void ms_guard_destroy(ms_guard_t **gp)
{
    if (!gp || !*gp)
        return;
    ms_guard_t *g = *gp;
    for (size_t i = 0; i < g->n_mon; i++)
        ms_monitor_destroy(&g->mon[i]);
    ms_zap_destroy(&g->zap);
    ms_recent_destroy(&g->recent);
    free(g);
    *gp = NULL;
}

static int needs_curve(const ms_guard_t *g, const char *domain)
{
    return strcmp(domain, "workers") == 0 ? g->curve_workers : g->curve_control;
}

/* CURVE server with the master's key pair, loaded for this socket only
 * (libzmq keeps its own copy; ours is wiped at once). */
static int secure(ms_guard_t *g, void *s, const char *domain, char *err, size_t errlen)
{
    ms_keypair_t *kp = ms_keypair_load(g->key, err, errlen);
    int rc = kp && ms_curve_server(s, kp, domain) == 0 ? 0 : -1;
    if (kp && rc != 0)
        snprintf(err, errlen, "cannot set CURVE up: %s", zmq_strerror(errno));
    ms_keypair_destroy(&kp);
    return rc;
}

/* A monitor for the handshakes of s, a network socket. */
static int watch(ms_guard_t *g, void *s, char *err, size_t errlen)
{
    if (g->n_mon == MAX_MONITORS) {
        snprintf(err, errlen, "too many sockets to watch");
        return -1;
    }
    if (!(g->mon[g->n_mon] = ms_monitor_new(g->ctx, s, err, errlen)))
        return -1;
    g->n_mon++;
    return 0;
}

void *ms_guard_router(ms_guard_t *g, const char *ep, const char *domain, mode_t mode, char *err,
                      size_t errlen)
{
    void *s = zmq_socket(g->ctx, ZMQ_ROUTER);
    if (!s || ms_wire_setup(s, 100) != 0) {
        snprintf(err, errlen, "cannot set up a socket for %s: %s", ep, zmq_strerror(errno));
        goto fail;
    }
    if (needs_curve(g, domain) && secure(g, s, domain, err, errlen) != 0)
        goto fail;
    if (ms_endpoint_is_network(ep) && watch(g, s, err, errlen) != 0)
        goto fail;
    if (ms_ipc_bind(s, ep, mode, err, errlen) != 0)
        goto fail;
    return s;
fail:
    if (s)
        zmq_close(s);
    return NULL;
}

int ms_guard_log_once(ms_guard_t *g, const ms_peer_t *peer, const char *kind)
{
    char key[128], pid[40];
    snprintf(key, sizeof key, "%s/%s", ms_peer_str(peer, pid, sizeof pid), kind);
    return ms_recent_first(g->recent, key, ms_now_ms(), NULL);
}

int ms_guard_allowed(ms_guard_t *g, const ms_peer_t *peer, const char *domain)
{
    if (!needs_curve(g, domain) || ms_zap_allows_name(g->zap, domain, peer->user_id))
        return 1;
    if (ms_guard_log_once(g, peer, "revoked"))
        ms_warn("refusing messages from '%s' on the %s socket: its key is no longer authorized",
                peer->user_id, domain);
    return 0;
}

int ms_guard_reload(ms_guard_t *g, char *err, size_t errlen)
{
    if (!g->zap) {
        snprintf(err, errlen, "no keys to reload: CURVE is off");
        return -1;
    }
    if (ms_zap_reload(g->zap, err, errlen) != 0)
        return -1;
    ms_info("keys reloaded: %zu worker key(s), %zu admin key(s)",
            ms_zap_key_count(g->zap, "workers"), ms_zap_key_count(g->zap, "control"));
    return 0;
}

size_t ms_guard_poll_items(ms_guard_t *g, zmq_pollitem_t *items, size_t max)
{
    size_t n = 0;
    if (g->zap && n < max)
        items[n++] = (zmq_pollitem_t){ms_zap_socket(g->zap), 0, ZMQ_POLLIN, 0};
    for (size_t i = 0; i < g->n_mon && n < max; i++)
        items[n++] = (zmq_pollitem_t){ms_monitor_socket(g->mon[i]), 0, ZMQ_POLLIN, 0};
    return n;
}

void ms_guard_handle(ms_guard_t *g, const zmq_pollitem_t *items, size_t n)
{
    size_t k = 0;
    if (g->zap && k < n && (items[k++].revents & ZMQ_POLLIN))
        ms_zap_handle(g->zap);
    for (size_t i = 0; i < g->n_mon && k < n; i++)
        if (items[k++].revents & ZMQ_POLLIN)
            ms_monitor_handle(g->mon[i], on_handshake_failed, g);
}
