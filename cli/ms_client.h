/*
 * ms_client.h - the command-line client's side of the control protocol:
 * a DEALER connected to the master's control endpoint.
 */
#ifndef MS_CLIENT_H
#define MS_CLIENT_H

#include <stddef.h>

#include "ms_codec.h"

typedef struct ms_client ms_client_t;

typedef struct {
    const char *endpoint;
    const char *key;        /* our .key, for a network endpoint (CURVE) */
    const char *master_key; /* the master's .pub */
    int insecure;           /* allow plaintext to a network endpoint */
} ms_client_opts_t;

/*
 * Connect to the endpoint. Returns NULL with err set for an endpoint that is
 * not ipc://PATH or tcp://HOST:PORT ("invalid master endpoint ..."), an
 * ipc:// socket file that is missing, not a socket, not ours to reach
 * (EACCES) or that nobody listens on (checked with a plain connect(2),
 * closed at once; not for abstract ipc://@name), or a network endpoint
 * without keys (see ms_secure_client). Otherwise connecting is lazy in
 * ZeroMQ: a master that is down shows up as time-outs in ms_client_recv.
 * *rc says which kind of failure it was: MS_RC_UNREACHABLE for no master
 * at a good endpoint, MS_RC_USAGE for a bad endpoint or keys.
 */
ms_client_t *ms_client_new(const ms_client_opts_t *o, int *rc, char *err, size_t errlen);
void ms_client_destroy(ms_client_t **c);

int ms_client_send(ms_client_t *c, const ms_msg_t *m, char *err, size_t errlen);

/*
 * Wait up to timeout_ms (-1: forever) for the next message from the master.
 * Returns 1 with *m filled (ms_msg_clear it), 0 on time-out, -1 with err set
 * (a malformed reply, another protocol version, an interrupted wait: errno
 * EINTR, or, on a network endpoint, a master that refused our handshake:
 * our key is not in its --admin-keys, --master-key is not its key, or CURVE
 * on one side only). An MS_CMD_ERROR reply is returned as a message, not as
 * -1.
 */
int ms_client_recv(ms_client_t *c, ms_msg_t *m, int timeout_ms, char *err, size_t errlen);

#endif
