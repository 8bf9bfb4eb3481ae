/*
 * ms_http.h - the master's HTTP listener (README "HTTP API"): read-only
 * JSON at /api/status, /api/history, /api/report/ID and /api/report/last,
 * the same JSON that `multisync status/history/report --json` prints.
 *
 * libmicrohttpd without a thread of its own: its epoll descriptor is
 * polled in the master's loop with the ZeroMQ sockets (ms_master_set_extra)
 * and each turn of the loop serves what is ready, so a handler reads the
 * master's state directly. A report is sent in pages of rows, one page per
 * turn and connection, so that a run of 100,000 tasks never holds the loop.
 *
 * Who may ask (ms_webgate.h): a loopback address may be plain and open; any
 * other needs TLS (libmicrohttpd's GnuTLS) and the admin's password (HTTP
 * Basic, user "admin"); with a password file, every request needs it.
 * Limits, set explicitly: MS_HTTP_CONNECTIONS connections, MS_HTTP_PER_IP
 * from one address, MS_HTTP_TIMEOUT_S of silence closes a connection, a
 * request (line and headers) within MS_HTTP_CONN_MEMORY bytes.
 */
#ifndef MS_HTTP_H
#define MS_HTTP_H

#include <stddef.h>

#include "ms_master.h"

#define MS_HTTP_CONNECTIONS 64
#define MS_HTTP_PER_IP 8
#define MS_HTTP_TIMEOUT_S 10
#define MS_HTTP_CONN_MEMORY (64 * 1024)

typedef struct ms_http ms_http_t;

typedef struct {
    const char *listen;        /* "ADDR:PORT", numeric (ms_webgate_parse) */
    const char *cert;          /* PEM certificate (chain) for TLS, or NULL */
    const char *key;           /* its PEM private key, a secret file, or NULL */
    const char *password_file; /* the admin's password, a secret file, or NULL */
} ms_http_opts_t;

/*
 * Check o against the rule for off-host listeners, read the certificate,
 * key and password, and bind the address. Nothing is served until
 * ms_http_serve. Returns NULL with err set and *rc the exit status:
 * MS_RC_USAGE when the configuration is refused (the rule, a file that
 * cannot be used, no TLS in this libmicrohttpd), MS_RC_FAILED when the
 * address cannot be bound.
 */
ms_http_t *ms_http_new(const ms_http_opts_t *o, int *rc, char *err, size_t errlen);

/* Serve requests in m's loop from now on; m must outlive h, or h be
 * destroyed first. */
void ms_http_serve(ms_http_t *h, ms_master_t *m);

/* Close every connection and the listener, wipe the secrets; takes h out
 * of its master's loop. NULL-safe. */
void ms_http_destroy(ms_http_t **h);

#endif
