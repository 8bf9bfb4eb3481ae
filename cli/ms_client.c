#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "ms_client.h"
#include "ms_rc.h"
#include "ms_clock.h"
#include "ms_err.h"
#include "ms_monitor.h"
#include "ms_secure.h"
#include "ms_wire.h"

struct ms_client {
    void *ctx;
    void *sock;
    ms_monitor_t *mon;       /* failed handshakes (network endpoints) */
    char *endpoint;          /* for messages */
    int curve;               /* we offered a key */
    int event;               /* ZMQ_EVENT_HANDSHAKE_FAILED_* seen, 0: none */
    unsigned long failures0; /* ms_monitor_failures at the last message */
};

static void say_invalid(const char *ep, char *err, size_t errlen)
{
    ms_errf(err, errlen, "invalid master endpoint '%s': use ipc://PATH or tcp://HOST:PORT", ep);
}

/* ipc://PATH (PATH not empty) or tcp://HOST:PORT (HOST not empty, PORT from
 * 1 to 65535); else -1 with err set. zmq_connect checks the rest. */
static int check_endpoint(const char *ep, char *err, size_t errlen)
{
    const char *colon = strncmp(ep, "tcp://", 6) == 0 ? strrchr(ep + 6, ':') : NULL;
    char *end = NULL;
    unsigned long port = colon && colon > ep + 6 && colon[1] >= '0' && colon[1] <= '9'
                             ? strtoul(colon + 1, &end, 10)
                             : 0;
    if ((strncmp(ep, "ipc://", 6) == 0 && ep[6]) || (port >= 1 && port <= 65535 && !*end))
        return 0;
    say_invalid(ep, err, errlen);
    return -1;
}

/* Connect a plain AF_UNIX stream socket to path and close it at once.
 * Returns 0 when that worked or said nothing useful, else the errno. */
static int probe_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return 0; /* zmq_connect says it is too long */
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : errno;
    close(fd);
    return rc == ECONNREFUSED || rc == EACCES || rc == ENOENT ? rc : 0;
}

/*
 * Before connecting to ipc://PATH: is there a master's socket at PATH? A
 * missing, unreachable or stale socket makes libzmq retry silently for ever.
 * Returns 0, or -1 with err set. An abstract socket (ipc://@name) has no
 * file to look at.
 */
static int check_ipc(const char *ep, char *err, size_t errlen)
{
    const char *path = ep + 6;
    struct stat st;
    if (path[0] == '@')
        return 0;
    int e = stat(path, &st) != 0 ? errno : !S_ISSOCK(st.st_mode) ? ENOTSOCK : probe_unix(path);
    if (e == 0)
        return 0;
    if (e == ENOENT)
        ms_errf(err, errlen,
                "no master at %s: %s does not exist (is multisync-master running, with "
                "--control %s?)",
                ep, path, ep);
    else if (e == EACCES)
        ms_errf(err, errlen,
                "cannot reach the master at %s: permission denied on %s (the folder of the "
                "master's socket decides who may talk to it)",
                ep, path);
    else if (e == ENOTSOCK)
        ms_errf(err, errlen, "no master at %s: %s is not a socket (is it the master's --control?)",
                ep, path);
    else if (e == ECONNREFUSED)
        ms_errf(err, errlen,
                "no master at %s: nothing listens on %s (left by a master that stopped? is "
                "multisync-master running, with --control %s?)",
                ep, path, ep);
    else
        ms_errf(err, errlen, "no master at %s: %s: %s", ep, path, strerror(e));
    return -1;
}

/* The socket, its security and its monitor, connected. */
static int open_socket(ms_client_t *c, const ms_client_opts_t *o, char *err, size_t errlen)
{
    int64_t max_reply = MS_MAX_REPLY_BYTES; /* reports of big runs come from the master */
    if (!(c->endpoint = strdup(o->endpoint)) || !(c->ctx = zmq_ctx_new()) ||
        !(c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) || ms_wire_setup(c->sock, 0) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &max_reply, sizeof max_reply) != 0)
        return ms_errf(err, errlen, "out of memory");
    if (ms_secure_client(c->sock, o->endpoint, o->key, o->master_key, o->insecure, &c->curve, err,
                         errlen) != 0)
        return -1;
    if (ms_endpoint_is_network(o->endpoint) &&
        !(c->mon = ms_monitor_new(c->ctx, c->sock, err, errlen)))
        return -1;
    if (zmq_connect(c->sock, o->endpoint) == 0)
        return 0;
    if (errno == EINVAL || errno == EPROTONOSUPPORT) /* e.g. tcp://HOST:notaport */
        say_invalid(o->endpoint, err, errlen);
    else
        ms_errf(err, errlen, "cannot connect to %s: %s", o->endpoint, zmq_strerror(errno));
    return -1;
}

ms_client_t *ms_client_new(const ms_client_opts_t *o, int *rc, char *err, size_t errlen)
{
    *rc = MS_RC_USAGE;
    if (check_endpoint(o->endpoint, err, errlen) != 0)
        return NULL;
    *rc = MS_RC_UNREACHABLE;
    if (strncmp(o->endpoint, "ipc://", 6) == 0 && check_ipc(o->endpoint, err, errlen) != 0)
        return NULL;
    *rc = MS_RC_USAGE; /* keys, or an endpoint libzmq refuses */
    ms_client_t *c = calloc(1, sizeof *c);
    if (!c) {
        ms_errf(err, errlen, "out of memory");
        return NULL;
    }
    if (open_socket(c, o, err, errlen) != 0)
        ms_client_destroy(&c);
    return c;
}

void ms_client_destroy(ms_client_t **cp)
{
    if (!cp || !*cp)
        return;
    ms_client_t *c = *cp;
    ms_monitor_destroy(&c->mon);
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c->endpoint);
    free(c);
    *cp = NULL;
}

int ms_client_send(ms_client_t *c, const ms_msg_t *m, char *err, size_t errlen)
{
    return ms_wire_send(c->sock, NULL, m, err, errlen);
}

static void on_handshake_failed(void *arg, const ms_monitor_event_t *ev)
{
    ms_client_t *c = arg;
    if (!c->event || ev->event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        c->event = ev->event;
}

/*
 * Whether the master refused our handshake (err set). A ZAP denial (AUTH)
 * or a protocol error says so at once. A CURVE server that cannot decrypt
 * our HELLO (wrong --master-key), or that gets a plaintext client, just
 * drops the connection: libzmq then says NO_DETAIL and reconnects. One such
 * drop may be a master that stopped mid-handshake; two in a row without a
 * message in between are a refusal.
 */
static int handshake_refused(ms_client_t *c, char *err, size_t errlen)
{
    if (ms_monitor_handle(c->mon, on_handshake_failed, c) < 0 || !c->event)
        return 0;
    if (c->event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL &&
        ms_monitor_failures(c->mon) - c->failures0 < 2)
        return 0;
    if (c->curve)
        ms_errf(err, errlen,
                "the master at %s refused our key (is our .pub in its --admin-keys folder, and "
                "--master-key its public key?)",
                c->endpoint);
    else
        ms_errf(err, errlen,
                "the master at %s refused the connection (does it use CURVE? then give --key "
                "and --master-key)",
                c->endpoint);
    return 1;
}

/* One message from the socket: 1, 0 (none after all) or -1 with err set. */
static int read_reply(ms_client_t *c, ms_msg_t *m, char *err, size_t errlen)
{
    int rc = ms_wire_recv(c->sock, 0, NULL, m, err, errlen);
    if (rc == MS_WIRE_OK) {
        c->event = 0; /* the handshake worked: start counting drops again */
        c->failures0 = ms_monitor_failures(c->mon);
        return 1;
    }
    return rc == MS_WIRE_NONE ? 0 : -1;
}

int ms_client_recv(ms_client_t *c, ms_msg_t *m, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = ms_now_ms() + timeout_ms;
    for (;;) {
        zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0},
                                   {ms_monitor_socket(c->mon), 0, ZMQ_POLLIN, 0}};
        int64_t now = ms_now_ms();
        long wait = timeout_ms < 0 ? -1 : deadline > now ? (long)(deadline - now) : 0;
        int n = zmq_poll(items, c->mon ? 2 : 1, wait);
        if (n < 0)
            return ms_errf(err, errlen, "waiting for the master: %s", zmq_strerror(errno));
        if (items[0].revents & ZMQ_POLLIN)
            return read_reply(c, m, err, errlen);
        if (n == 0)
            return 0;
        if (c->mon && (items[1].revents & ZMQ_POLLIN) && handshake_refused(c, err, errlen))
            return -1;
    }
}
