/*
 * ms_guard.h - who may talk to the master: CURVE on every network socket,
 * the ZAP handler that answers for the authorized keys (bound before any
 * server socket), the monitors that report failed handshakes, and the
 * rate limit that keeps a misbehaving peer from flooding the log.
 *
 * Two domains: "workers" (the socket workers connect to; keys in
 * --authorized) and "control" (the socket clients talk to; keys in
 * --admin-keys). A domain whose socket is an ipc:// one needs no key: the
 * socket file's folder and mode decide (ms_ipc.h).
 *
 * The guard owns the ZAP handler and the monitors; the master owns the
 * sockets, made here (ms_guard_router) so that each gets its security
 * before it binds. It logs what peers did wrong, at most once a minute per
 * peer and kind (it is the master's boundary for them).
 */
#ifndef MS_GUARD_H
#define MS_GUARD_H

#include <stddef.h>
#include <sys/types.h>
#include <zmq.h>

#include "ms_wire.h"

typedef struct {
    const char *listen;     /* the workers' endpoint */
    const char *control;    /* the control endpoint, or NULL */
    const char *key;        /* the master's key pair (.key), or NULL */
    const char *authorized; /* folder of the workers' .pub files */
    const char *admin_keys; /* folder of the admins' .pub files */
    int insecure;           /* allow network endpoints without CURVE */
} ms_guard_opts_t;

typedef struct ms_guard ms_guard_t;

/* Decide which sockets need CURVE (a network endpoint without a key is
 * refused unless insecure) and start the ZAP handler in ctx when any does.
 * Returns NULL with err set. */
ms_guard_t *ms_guard_new(void *ctx, const ms_guard_opts_t *o, char *err, size_t errlen);

/* Stop the ZAP handler and the monitors. Call after the sockets are closed
 * and before the context is terminated. NULL-safe; sets *g NULL. */
void ms_guard_destroy(ms_guard_t **g);

/*
 * A ROUTER bound to ep for domain ("workers" / "control"): a CURVE server
 * when the domain needs one, watched by a monitor when ep is a network
 * endpoint, and an ipc:// socket file created with mode (ms_ipc_bind).
 * Returns the socket (the caller closes it), or NULL with err set.
 */
void *ms_guard_router(ms_guard_t *g, const char *ep, const char *domain, mode_t mode, char *err,
                      size_t errlen);

/* Whether peer may talk on domain's socket now (a key revoked by a reload
 * may not; logged once a minute). */
int ms_guard_allowed(ms_guard_t *g, const ms_peer_t *peer, const char *domain);

/* Whether to log what peer did now (once a minute per peer and kind). */
int ms_guard_log_once(ms_guard_t *g, const ms_peer_t *peer, const char *kind);

/* Re-read the key folders (SIGHUP). Returns 0, or -1 with err set (the old
 * lists stay in force). */
int ms_guard_reload(ms_guard_t *g, char *err, size_t errlen);

/* The guard's sockets to poll (ZAP, monitors) into items (room for max):
 * how many. Then ms_guard_handle with the same items after zmq_poll. */
size_t ms_guard_poll_items(ms_guard_t *g, zmq_pollitem_t *items, size_t max);
void ms_guard_handle(ms_guard_t *g, const zmq_pollitem_t *items, size_t n);

#endif
