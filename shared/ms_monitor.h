/*
 * ms_monitor.h - report failed security handshakes on a server socket, once
 * per address and kind of failure per minute.
 *
 * A CURVE server drops a failed handshake silently: a worker with the wrong
 * server key, a client without CURVE, or a denied key just never gets in.
 * The monitor makes that visible. It attaches a libzmq socket monitor
 * (zmq_socket_monitor on a private inproc endpoint, read through a PAIR
 * socket) for the three handshake-failure events:
 *
 *   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL  value: an errno
 *   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL   value: ZMQ_PROTOCOL_ERROR_*
 *   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH       value: ZAP status (300/400/500)
 *
 * The address is what libzmq puts in the event's second frame. Note: for a
 * *bound* socket libzmq 4.3.4 reports the local endpoint of the connection
 * (e.g. "tcp://10.0.0.1:5555"), not the peer's address, so the rate limit
 * is per listening endpoint and kind. A peer that fails ZAP is named by
 * ms_zap's denial report, which does carry the peer's IP address; AUTH
 * events here duplicate those denials and may be ignored when ms_zap's are
 * logged.
 *
 * Rate limit: the callback gets the first failure of a kind from an
 * address, then at most one per minute, with the count of those swallowed
 * in between. (libzmq 4.3.4 does not reconnect a client after a failed
 * handshake, so one misconfigured client makes one event; the limit is for
 * many clients, restarts in a loop, or a scanner.) The table is bounded (64
 * entries, the oldest evicted).
 *
 * Usage in a single-threaded poll loop:
 *
 *   m = ms_monitor_new(ctx, server_sock, err, sizeof err);  // before bind
 *   ... add ms_monitor_socket(m) to zmq_poll (ZMQ_POLLIN) ...
 *   if (revents) ms_monitor_handle(m, on_failure, arg);
 *   ms_monitor_destroy(&m);                   // before or after zmq_close(server_sock)
 *
 * Nothing here logs; the callback decides.
 */
#ifndef MS_MONITOR_H
#define MS_MONITOR_H

#include <stddef.h>
#include <stdint.h>

/* --- a bounded "seen recently" table -------------------------------------- */

typedef struct ms_recent ms_recent_t;

/* A table remembering at most capacity keys (> 0) for window_ms (> 0).
 * Returns NULL when out of memory or for a zero argument. */
ms_recent_t *ms_recent_new(size_t capacity, int64_t window_ms);

/*
 * Whether key should be reported now: 1 when it was not reported in the
 * window before now_ms (it is then remembered as reported at now_ms, and
 * *suppressed, if not NULL, gets how many times it came up unreported since
 * its previous report), 0 when it was (the count goes up). Keys are compared
 * on their first 127 bytes. A full table forgets its oldest report. Use it
 * to rate limit ms_zap denials too (key: address + key + domain).
 */
int ms_recent_first(ms_recent_t *r, const char *key, int64_t now_ms, unsigned *suppressed);

/* Free *rp and set it to NULL. Accepts NULL and *rp == NULL. */
void ms_recent_destroy(ms_recent_t **rp);

/* --- the monitor ------------------------------------------------------------ */

typedef struct ms_monitor ms_monitor_t;

typedef struct {
    int event;           /* ZMQ_EVENT_HANDSHAKE_FAILED_* */
    uint32_t value;      /* the event's value, see above */
    const char *address; /* printable, as libzmq reports it */
    const char *what;    /* "security mechanism mismatch (a client without CURVE?)" */
    unsigned suppressed; /* failures of this kind from address not reported before this one */
} ms_monitor_event_t;

/* Called by ms_monitor_handle for each failure to report; ev and its strings
 * are valid during the call only. */
typedef void ms_monitor_fn(void *arg, const ms_monitor_event_t *ev);

/*
 * Start monitoring sock (a socket of ctx) for handshake failures. Attach
 * before zmq_bind so no early failure is missed. Returns the monitor, owned
 * by the caller, or NULL with err set.
 */
ms_monitor_t *ms_monitor_new(void *ctx, void *sock, char *err, size_t errlen);

/* The PAIR socket to poll for ZMQ_POLLIN. Owned by the monitor. */
void *ms_monitor_socket(ms_monitor_t *m);

/*
 * Read every pending event without blocking and call fn (may be NULL) for
 * each one the rate limit lets through. Returns the number of calls, or -1
 * when the socket failed (errno, e.g. ETERM).
 */
int ms_monitor_handle(ms_monitor_t *m, ms_monitor_fn *fn, void *arg);

/* Handshake failures read so far, reported or not. */
unsigned long ms_monitor_failures(const ms_monitor_t *m);

/*
 * Close the PAIR socket and free *mp; set it to NULL. Never touches the
 * monitored socket, so it may be called before or after that socket is
 * closed: libzmq drops events nobody reads (its monitor socket has linger 0)
 * and removes the monitor when the socket closes. Accepts NULL and
 * *mp == NULL.
 */
void ms_monitor_destroy(ms_monitor_t **mp);

#endif
