/*
 * hostile - a misbehaving peer for the tests: sends multisync sockets every
 * kind of malformed input a network can deliver.
 *
 *   hostile client EP [KEY.key MASTER.pub]   a DEALER against a master's ROUTER
 *   hostile master EP                        a ROUTER a worker connects to: it
 *                                            waits for the worker's HELLO, then
 *                                            sends the same garbage back
 *   hostile control EP                       a master's control socket that
 *                                            answers one request with a
 *                                            STATUS_REPLY carrying a terminal
 *                                            escape sequence
 *
 * Exits 0 once everything was sent (the test then checks that the target is
 * still up, within its memory bound, and still works).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "ms_codec.h"
#include "ms_proto.h"
#include "ms_secure.h"
#include "ms_wire.h"

#define MILLION 1000000

static unsigned char proto[MS_PROTO_FRAME_LEN] = {'M', 'S', 'Y', 'N', 'C', MS_PROTO_VERSION};
static unsigned char idbuf[256];
static size_t idlen; /* routing id of the worker (master mode) */
static int refused;  /* a send timed out: nobody takes our bytes (not authenticated) */

static int send_parts(void *s, const void *const *parts, const size_t *lens, int n)
{
    if (refused || (idlen && zmq_send(s, idbuf, idlen, ZMQ_SNDMORE) < 0))
        goto fail;
    for (int i = 0; i < n; i++)
        if (zmq_send(s, parts[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
            goto fail;
    return 0;
fail:
    refused = 1;
    return -1;
}

/* [proto][cmd][body] with the given pieces. */
static void send3(void *s, const void *p, size_t plen, int cmd, const void *body, size_t blen)
{
    unsigned char c = (unsigned char)cmd;
    const void *parts[3] = {p, &c, body};
    size_t lens[3] = {plen, 1, blen};
    send_parts(s, parts, lens, 3);
}

static void huge_headers(void *s)
{
    static const unsigned char bodies[][8] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},                  /* array32 of 2^32-1 */
        {0xdf, 0xff, 0xff, 0xff, 0xff},                  /* map32 */
        {0x81, 0xdb, 0xff, 0xff, 0xff, 0xff},            /* str32 key */
        {0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff}, /* bin32 value */
        {0x81, 0xa1, 'x', 0xc9, 0xff, 0xff, 0xff, 0xff}, /* ext32 value */
        {0xde, 0xff, 0xff},                              /* map16 of 65535 */
    };
    for (int cmd = 0; cmd < 32; cmd++)
        for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
            send3(s, proto, sizeof proto, cmd, bodies[i], sizeof bodies[i]);
}

static void wrong_types_and_versions(void *s)
{
    /* HELLO {name: 5, slots: "many"}, TASK {project: []}, RESULT {} */
    static const unsigned char hello[] = {0x82, 0xa4, 'n', 'a', 'm',  'e', 0x05, 0xa5, 's',
                                          'l',  'o',  't', 's', 0xa4, 'm', 'a',  'n',  'y'};
    static const unsigned char task[] = {0x81, 0xa7, 'p', 'r', 'o', 'j', 'e', 'c', 't', 0x90};
    unsigned char v9[MS_PROTO_FRAME_LEN] = {'M', 'S', 'Y', 'N', 'C', 9};
    send3(s, proto, sizeof proto, MS_CMD_HELLO, hello, sizeof hello);
    send3(s, proto, sizeof proto, MS_CMD_TASK, task, sizeof task);
    send3(s, proto, sizeof proto, MS_CMD_RESULT, "\x80", 1);
    send3(s, v9, sizeof v9, MS_CMD_HELLO, "\x80", 1);
    send3(s, "HTTP/1", 6, MS_CMD_HELLO, "\x80", 1);
    send3(s, proto, sizeof proto, 0xff, "\x80", 1);
    /* Commands of the other conversation: a control RUN on a worker socket,
     * a TASK to a master, an unsolicited RUN_DONE. */
    static const unsigned char run[] = {0x81, 0xa3, 's', 'e', 't', 0xa1, 'x'};
    send3(s, proto, sizeof proto, MS_CMD_RUN, run, sizeof run);
    send3(s, proto, sizeof proto, MS_CMD_RUN_DONE, "\x80", 1);
}

static void truncated_and_random(void *s)
{
    const void *one[1] = {proto};
    size_t onelen[1] = {sizeof proto};
    send_parts(s, one, onelen, 1);
    unsigned char c = MS_CMD_HELLO;
    const void *two[2] = {proto, &c};
    size_t twolen[2] = {sizeof proto, 1};
    send_parts(s, two, twolen, 2);
    srand(42);
    for (int i = 0; i < 2000; i++) {
        unsigned char buf[512];
        size_t len = (size_t)(rand() % (int)sizeof buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (unsigned char)rand();
        int frames = 1 + rand() % 5;
        const void *parts[5] = {buf, buf, buf, buf, buf};
        size_t lens[5] = {len, len / 2, 1, len / 3, len};
        if (i % 3 == 0) { /* a real header, a random body */
            parts[0] = proto;
            lens[0] = sizeof proto;
        }
        send_parts(s, parts, lens, frames);
    }
}

static void a_million_frames(void *s)
{
    if (refused || (idlen && zmq_send(s, idbuf, idlen, ZMQ_SNDMORE) < 0))
        return;
    for (int i = 0; i < MILLION; i++)
        if (zmq_send(s, "x", 1, i + 1 < MILLION ? ZMQ_SNDMORE : 0) < 0)
            break;
}

static void barrage(void *s)
{
    truncated_and_random(s);
    huge_headers(s);
    wrong_types_and_versions(s);
    a_million_frames(s);
    huge_headers(s); /* and once more after it */
}

static int as_client(void *ctx, const char *ep, const char *key, const char *pub)
{
    char err[512];
    int curve = 0, timeout = 2000;
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    if (ms_secure_client(s, ep, key, pub, 1, &curve, err, sizeof err) != 0 ||
        zmq_connect(s, ep) != 0) {
        fprintf(stderr, "hostile: %s\n", err);
        return 1;
    }
    barrage(s);
    zmq_close(s);
    if (refused)
        printf("hostile: the peer took nothing (not authenticated)\n");
    return 0;
}

static int as_master(void *ctx, const char *ep)
{
    int timeout = 20000;
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    if (zmq_bind(s, ep) != 0) {
        fprintf(stderr, "hostile: bind %s: %s\n", ep, zmq_strerror(zmq_errno()));
        return 1;
    }
    int n = zmq_recv(s, idbuf, sizeof idbuf, 0); /* the worker's routing id */
    if (n <= 0) {
        fprintf(stderr, "hostile: no worker came\n");
        return 1;
    }
    idlen = (size_t)n;
    barrage(s);
    zmq_close(s);
    return 0;
}

static int as_control(void *ctx, const char *ep)
{
    int timeout = 20000;
    char err[256];
    ms_peer_t peer;
    ms_msg_t req = {0};
    void *s = zmq_socket(ctx, ZMQ_ROUTER);
    zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
    if (zmq_bind(s, ep) != 0 || zmq_poll(&item, 1, timeout) != 1 ||
        ms_wire_recv(s, 1, &peer, &req, err, sizeof err) != MS_WIRE_OK) {
        fprintf(stderr, "hostile: no request on %s\n", ep);
        zmq_close(s);
        return 1;
    }
    ms_msg_clear(&req);
    /* Starts like JSON; ESC [2J would clear the terminal it is printed on. */
    ms_msg_t ans = {.cmd = MS_CMD_STATUS_REPLY};
    ans.u.json.json = "{\"run\": \"\x1b[2Jcleared\"}";
    int rc = ms_wire_send(s, &peer, &ans, err, sizeof err) == 0 ? 0 : 1;
    zmq_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: hostile client EP [KEY PUB] | hostile master EP | hostile control EP\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_BLOCKY, 0); /* sockets close with linger 0 */
    int rc = strcmp(argv[1], "master") == 0 ? as_master(ctx, argv[2])
             : strcmp(argv[1], "control") == 0
                 ? as_control(ctx, argv[2])
                 : as_client(ctx, argv[2], argc > 4 ? argv[3] : NULL, argc > 4 ? argv[4] : NULL);
    zmq_ctx_term(ctx);
    return rc;
}
