#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ms_err.h"
#include "ms_wire.h"

int ms_wire_setup(void *sock, int linger_ms)
{
    int64_t maxmsg = MS_MAX_FRAME_BYTES;
    int type = 0;
    size_t tlen = sizeof type;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms) != 0 ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_getsockopt(sock, ZMQ_TYPE, &type, &tlen) != 0)
        return -1;
    if (type == ZMQ_ROUTER) {
        int one = 1;
        if (zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
            return -1;
    }
    return 0;
}

static int send_frame(void *sock, const void *data, size_t len, int more)
{
    int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);
    return zmq_send(sock, data, len, flags) < 0 ? -1 : 0;
}

/* [routing id] protocol, command, body. */
static int send_body(void *sock, const ms_peer_t *peer, int cmd, const void *body, size_t blen)
{
    unsigned char proto[MS_PROTO_FRAME_LEN];
    memcpy(proto, MS_PROTO_ID, MS_PROTO_ID_LEN);
    proto[MS_PROTO_ID_LEN] = MS_PROTO_VERSION;
    unsigned char c = (unsigned char)cmd;
    if (peer && send_frame(sock, peer->id, peer->len, 1) != 0)
        return -1;
    if (send_frame(sock, proto, sizeof proto, 1) != 0 || send_frame(sock, &c, 1, 1) != 0 ||
        send_frame(sock, body, blen, 0) != 0)
        return -1;
    return 0;
}

int ms_wire_send(void *sock, const ms_peer_t *peer, const ms_msg_t *m, char *err, size_t errlen)
{
    char *body = NULL;
    size_t blen = 0;
    if (ms_msg_encode(m, &body, &blen, err, errlen) != 0) {
        errno = EINVAL;
        return -1;
    }
    int rc = send_body(sock, peer, m->cmd, body, blen);
    if (rc != 0)
        ms_errf(err, errlen, "send %s: %s", ms_cmd_name(m->cmd), zmq_strerror(errno));
    free(body);
    return rc;
}

int ms_wire_send_batch(void *sock, const ms_peer_t *peer, ms_batch_buf_t *b, char *err,
                       size_t errlen)
{
    if (b->n == 0)
        return 0;
    int cmd;
    size_t blen;
    const char *body = ms_batch_body(b, &cmd, &blen);
    int rc = send_body(sock, peer, cmd, body, blen);
    if (rc != 0)
        ms_errf(err, errlen, "send %s of %" PRIu32 ": %s", ms_cmd_name(cmd), b->n,
                zmq_strerror(errno));
    ms_batch_reset(b);
    return rc;
}

/* Read every frame of the next message into frames[] (at most max kept, the
 * rest drained and counted). Returns the total frame count, 0 on EAGAIN,
 * -1 on a socket failure. */
static int recv_frames(void *sock, zmq_msg_t *frames, int max, int *kept)
{
    int total = 0, more = 1;
    *kept = 0;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, sock, total == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&part);
            if (total == 0 && errno == EAGAIN)
                return 0;
            return -1;
        }
        more = zmq_msg_more(&part);
        if (*kept < max)
            frames[(*kept)++] = part;
        else
            zmq_msg_close(&part);
        total++;
    }
    return total;
}

static int parse_frames(zmq_msg_t *f, int n, int router, ms_peer_t *peer, ms_msg_t *m, char *err,
                        size_t errlen)
{
    int i = 0;
    if (router) {
        size_t idlen = zmq_msg_size(&f[0]);
        peer->len = idlen <= MS_PEER_ID_MAX ? idlen : 0;
        memcpy(peer->id, zmq_msg_data(&f[0]), peer->len);
        i = 1;
    }
    /* The authenticated identity travels with every frame of the connection. */
    const char *uid = n > i ? zmq_msg_gets(&f[i], "User-Id") : NULL;
    snprintf(peer->user_id, sizeof peer->user_id, "%s", uid ? uid : "");
    /* And who is at the other end: the master logs who started a run. */
    const char *addr = n > i ? zmq_msg_gets(&f[i], "Peer-Address") : NULL;
    snprintf(peer->address, sizeof peer->address, "%s", addr ? addr : "");
    if (n - i != 3) {
        ms_errf(err, errlen, "expected 3 frames after the routing id, got %d", n - i);
        return MS_WIRE_BAD;
    }
    int version = 0;
    int pc = ms_proto_check(zmq_msg_data(&f[i]), zmq_msg_size(&f[i]), &version);
    if (pc == -2) {
        ms_errf(err, errlen, "peer speaks multisync protocol version %d, this program speaks %d",
                version, MS_PROTO_VERSION);
        return MS_WIRE_VERSION;
    }
    if (pc != 0) {
        ms_errf(err, errlen, "not a multisync message (bad protocol frame)");
        return MS_WIRE_BAD;
    }
    if (zmq_msg_size(&f[i + 1]) != 1) {
        ms_errf(err, errlen, "command frame must be 1 byte, got %zu", zmq_msg_size(&f[i + 1]));
        return MS_WIRE_BAD;
    }
    int cmd = *(const unsigned char *)zmq_msg_data(&f[i + 1]);
    if (ms_msg_decode(cmd, zmq_msg_data(&f[i + 2]), zmq_msg_size(&f[i + 2]), m, err, errlen) != 0)
        return MS_WIRE_BAD;
    return MS_WIRE_OK;
}

int ms_wire_recv(void *sock, int router, ms_peer_t *peer, ms_msg_t *m, char *err, size_t errlen)
{
    zmq_msg_t frames[MS_MAX_FRAMES];
    int kept = 0;
    memset(m, 0, sizeof *m);
    if (peer) {
        peer->len = 0;
        peer->user_id[0] = '\0';
        peer->address[0] = '\0';
    }
    int total = recv_frames(sock, frames, router ? MS_MAX_FRAMES : MS_MAX_FRAMES - 1, &kept);
    if (total <= 0) {
        for (int i = 0; i < kept; i++)
            zmq_msg_close(&frames[i]);
        if (total < 0)
            ms_errf(err, errlen, "receive: %s", zmq_strerror(errno));
        return total == 0 ? MS_WIRE_NONE : MS_WIRE_FAIL;
    }
    int rc;
    if (total > kept) {
        if (router && kept > 0 && peer) {
            size_t idlen = zmq_msg_size(&frames[0]);
            peer->len = idlen <= MS_PEER_ID_MAX ? idlen : 0;
            memcpy(peer->id, zmq_msg_data(&frames[0]), peer->len);
        }
        ms_errf(err, errlen, "message of %d frames refused (at most %d)", total, kept);
        rc = MS_WIRE_BAD;
    } else {
        ms_peer_t scratch;
        rc = parse_frames(frames, kept, router, peer ? peer : &scratch, m, err, errlen);
    }
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&frames[i]);
    return rc;
}

void ms_wire_send_error(void *sock, const ms_peer_t *peer, const char *message)
{
    ms_wire_send_refusal(sock, peer, message, 0);
}

void ms_wire_send_refusal(void *sock, const ms_peer_t *peer, const char *message, unsigned rc)
{
    char err[128];
    ms_msg_t m = {.cmd = MS_CMD_ERROR};
    char text[1024];
    snprintf(text, sizeof text, "%s", message);
    m.u.text.message = text;
    m.u.text.rc = rc;
    (void)ms_wire_send(sock, peer, &m, err, sizeof err);
}

const char *ms_peer_str(const ms_peer_t *peer, char *out, size_t outlen)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < peer->len && i < 16 && o + 3 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", peer->id[i]);
    return out;
}

/* The decimal number that ends s[0..*end), after a ':'; *end moves to
 * that ':'. Returns 0, or -1. */
static int last_field(const char *s, size_t *end, unsigned long *out)
{
    size_t b = *end;
    while (b > 0 && s[b - 1] != ':')
        b--;
    if (b == 0 || b == *end || *end - b > 10)
        return -1;
    unsigned long v = 0;
    for (size_t i = b; i < *end; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *out = v;
    *end = b - 1;
    return 0;
}

int ms_peer_ipc_cred(const ms_peer_t *peer, unsigned long *uid, unsigned long *gid,
                     unsigned long *pid)
{
    size_t end = strnlen(peer->address, sizeof peer->address);
    if (last_field(peer->address, &end, pid) != 0 || last_field(peer->address, &end, gid) != 0 ||
        last_field(peer->address, &end, uid) != 0)
        return -1;
    return 0;
}

int ms_peer_eq(const ms_peer_t *a, const ms_peer_t *b)
{
    return a->len == b->len && memcmp(a->id, b->id, a->len) == 0;
}
