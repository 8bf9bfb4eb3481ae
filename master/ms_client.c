#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "ms_client.h"
#include "ms_secure.h"
#include "ms_wire.h"

struct ms_client {
    void *ctx;
    void *sock;
};

ms_client_t *ms_client_new(const ms_client_opts_t *o, char *err, size_t errlen)
{
    int curve = 0;
    int64_t max_reply = MS_MAX_REPLY_BYTES; /* reports of big runs come from the master */
    ms_client_t *c = calloc(1, sizeof *c);
    if (!c || !(c->ctx = zmq_ctx_new()) || !(c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) ||
        ms_wire_setup(c->sock, 0) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &max_reply, sizeof max_reply) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (ms_secure_client(c->sock, o->endpoint, o->key, o->master_key, o->insecure, &curve, err,
                         errlen) != 0)
        goto fail;
    if (zmq_connect(c->sock, o->endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", o->endpoint, zmq_strerror(errno));
        goto fail;
    }
    return c;
fail:
    ms_client_destroy(&c);
    return NULL;
}

void ms_client_destroy(ms_client_t **cp)
{
    if (!cp || !*cp)
        return;
    ms_client_t *c = *cp;
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c);
    *cp = NULL;
}

int ms_client_send(ms_client_t *c, const ms_msg_t *m, char *err, size_t errlen)
{
    return ms_wire_send(c->sock, NULL, m, err, errlen);
}

int ms_client_recv(ms_client_t *c, ms_msg_t *m, int timeout_ms, char *err, size_t errlen)
{
    zmq_pollitem_t item = {c->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0) {
        snprintf(err, errlen, "waiting for the master: %s", zmq_strerror(errno));
        return -1;
    }
    if (n == 0)
        return 0;
    int rc = ms_wire_recv(c->sock, 0, NULL, m, err, errlen);
    if (rc == MS_WIRE_OK)
        return 1;
    if (rc == MS_WIRE_NONE)
        return 0;
    return -1;
}
