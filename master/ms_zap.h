/*
 * ms_zap.h - the master's ZAP handler (ZeroMQ RFC 27): which CURVE keys may
 * connect, per ZAP domain.
 *
 * libzmq asks the socket bound on inproc://zeromq.zap.01 in the server's
 * context whether each CURVE client may connect. This module is that socket (a
 * REP), driven by the owner's zmq_poll loop: no thread.
 *
 * Allow-lists: each ZAP domain (the ZMQ_ZAP_DOMAIN of a server socket, see
 * ms_curve_server) has one directory of public key files. Every NAME.pub in
 * it admits the key it holds, with User-Id NAME (read on the server with
 * zmq_msg_gets(msg, "User-Id")): identify a worker by that, never by what
 * its messages claim. A file is skipped, with a warning, when it is not a
 * valid key (ms_pubkey_load), is writable by others, is not a regular file,
 * has a name that is empty, hidden (".x.pub") or not made of
 * [A-Za-z0-9._@+-], or holds a key an earlier name (alphabetical order)
 * already holds. A directory with no key is allowed (with a warning): then
 * nobody gets in.
 *
 * Answers: version "1.0"; mechanism "CURVE" with a 32-byte key listed for
 * the request's domain -> 200 and User-Id NAME; unknown key, unknown domain,
 * another mechanism -> 400, a denial (counted, reported to the denied hook,
 * kept as the last denial); a malformed request -> 500. Never asserts on a
 * request.
 *
 * Lifecycle, in one context:
 *
 *   z = ms_zap_new(ctx, err, sizeof err);          // before any CURVE bind
 *   ms_zap_set_hooks(z, on_warning, on_denied, arg);
 *   ms_zap_allow_dir(z, "workers", dir, err, sizeof err);
 *   ... ms_curve_server(sock, kp, "workers"); zmq_bind(sock, ...) ...
 *   poll ms_zap_socket(z) for ZMQ_POLLIN -> ms_zap_handle(z);
 *   on SIGHUP: ms_zap_reload(z, err, sizeof err);
 *   ms_zap_destroy(&z);                           // before zmq_ctx_term
 *
 * While nobody calls ms_zap_handle, handshakes wait (up to the server's
 * ZMQ_HANDSHAKE_IVL); once the handler is destroyed, servers with
 * ZMQ_ZAP_ENFORCE_DOMAIN refuse everyone. Nothing here logs.
 */
#ifndef MS_ZAP_H
#define MS_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "ms_keys.h"

#define MS_ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct ms_zap ms_zap_t;

/* One 400 answer. Strings are NUL-terminated, bounded, with unprintable
 * bytes replaced by '?': safe to log as they are. */
typedef struct {
    char domain[64];           /* the server socket's ZAP domain */
    char address[64];          /* the peer's IP address; "" over ipc:// */
    char mechanism[16];        /* "CURVE", "NULL", "PLAIN" */
    char key[MS_KEY_Z85_SIZE]; /* the client's public key, Z85; "" if not CURVE */
    const char *reason;        /* static text: "key not allowed", ... */
} ms_zap_denial_t;

typedef struct {
    uint64_t allowed;   /* 200 answers */
    uint64_t denied;    /* 400 answers */
    uint64_t malformed; /* 500 answers */
} ms_zap_stats_t;

/* Hooks: called synchronously from ms_zap_allow_dir / ms_zap_reload
 * (warning: a .pub file skipped, or an empty directory; message names the
 * file) and from ms_zap_handle (denied: every 400, once). Either may be NULL.
 * Pointers are valid during the call only. */
typedef void ms_zap_warning_fn(void *arg, const char *domain, const char *message);
typedef void ms_zap_denied_fn(void *arg, const ms_zap_denial_t *d);

/*
 * Bind the handler on inproc://zeromq.zap.01 in zmq_ctx. Call it before any
 * CURVE server socket of that context binds. Returns the handler, owned by
 * the caller, or NULL with err set (e.g. another handler is bound there).
 */
ms_zap_t *ms_zap_new(void *zmq_ctx, char *err, size_t errlen);

/* Set the hooks (and their argument). Set them before ms_zap_allow_dir to
 * hear about skipped files. */
void ms_zap_set_hooks(ms_zap_t *z, ms_zap_warning_fn *warning, ms_zap_denied_fn *denied, void *arg);

/*
 * Make the *.pub files of dir the allow-list of domain (non-empty, at most
 * 63 bytes), replacing that domain's previous directory and list. The
 * directory is remembered for ms_zap_reload. Bad files are skipped (warning
 * hook). Returns 0, or -1 with err set when dir cannot be read (the old
 * list, if any, is kept).
 */
int ms_zap_allow_dir(ms_zap_t *z, const char *domain, const char *dir, char *err, size_t errlen);

/*
 * Re-read the directories of every domain (for SIGHUP). All or nothing: if
 * any directory cannot be read, every domain keeps its old list and -1 is
 * returned with err set; else 0. Requests already answered are not revisited:
 * a removed key stays connected until it disconnects.
 */
int ms_zap_reload(ms_zap_t *z, char *err, size_t errlen);

/*
 * Whether the key called name (its file name without .pub, the User-Id of
 * its connections) is in domain's current list. A key removed by
 * ms_zap_reload keeps its open connections: the owner checks this on every
 * message to revoke them. Returns 1 or 0.
 */
int ms_zap_allows_name(const ms_zap_t *z, const char *domain, const char *name);

/* Number of keys currently allowed in domain (0 for an unknown domain). */
size_t ms_zap_key_count(const ms_zap_t *z, const char *domain);

/* The REP socket, for the owner's zmq_poll (ZMQ_POLLIN). Owned by z. */
void *ms_zap_socket(ms_zap_t *z);

/*
 * Answer every pending request without blocking. Returns the number of
 * requests answered (0 if none was pending), or -1 when the socket failed
 * (errno; ETERM when the context is being terminated).
 */
int ms_zap_handle(ms_zap_t *z);

/* Counters since ms_zap_new (zeros for a NULL z). */
void ms_zap_stats(const ms_zap_t *z, ms_zap_stats_t *out);

/* The most recent denial, or NULL if none yet; valid until the next
 * ms_zap_handle. */
const ms_zap_denial_t *ms_zap_last_denial(const ms_zap_t *z);

/* Close the socket, free *zp and set it to NULL. Accepts NULL and
 * *zp == NULL. Call before zmq_ctx_term (which waits for open sockets). */
void ms_zap_destroy(ms_zap_t **zp);

#endif
