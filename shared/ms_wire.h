/*
 * ms_wire.h - multisync messages on ZeroMQ sockets.
 *
 * Frames: [routing id, ROUTER only] [protocol] [command] [body] (see
 * ms_proto.h). Receiving checks the frame count (at most MS_MAX_FRAMES,
 * extra frames are drained and the message refused), the protocol frame, the
 * command frame's size, and decodes the body with ms_msg_decode.
 */
#ifndef MS_WIRE_H
#define MS_WIRE_H

#include <stddef.h>

#include "ms_codec.h"

#define MS_PEER_ID_MAX 255

typedef struct {
    unsigned char id[MS_PEER_ID_MAX]; /* ROUTER routing id */
    size_t len;                       /* 0 when unknown / DEALER side */
    char user_id[64];                 /* who ZAP authenticated (the key's name); "" when none */
    /* libzmq's "Peer-Address" of the connection: the IP address of a tcp://
     * peer; for an ipc:// peer "HOST:UID:GID:PID", the kernel's word on the
     * process at the other end (SO_PEERCRED; ms_peer_ipc_cred). "" when
     * unknown. */
    char address[80];
} ms_peer_t;

/* Receive results. */
#define MS_WIRE_OK 1
#define MS_WIRE_NONE 0       /* nothing to read (EAGAIN) */
#define MS_WIRE_BAD (-1)     /* malformed: err says why; *peer is set if known */
#define MS_WIRE_VERSION (-2) /* another protocol version: err says which */
#define MS_WIRE_FAIL (-3)    /* the socket failed (errno set, e.g. ETERM) */

/*
 * Set the options every multisync socket gets: LINGER (ms), MAXMSGSIZE
 * (MS_MAX_FRAME_BYTES), and for ROUTER sockets ROUTER_MANDATORY so a send to
 * a vanished peer fails instead of disappearing. Returns 0 or -1 (errno).
 */
int ms_wire_setup(void *sock, int linger_ms);

/*
 * Send m, prefixed by peer's routing id when peer is not NULL (ROUTER
 * side). Never blocks (ZMQ_DONTWAIT). Returns 0, or -1 with errno set and a
 * reason in err (e.g. EHOSTUNREACH: peer gone; EAGAIN: peer's queue full).
 */
int ms_wire_send(void *sock, const ms_peer_t *peer, const ms_msg_t *m, char *err, size_t errlen);

/*
 * Send what b holds (nothing when it is empty) as one message: a BATCH, or
 * its one message as itself; b is emptied either way. Returns 0, or -1 with
 * err filled when the socket refused it.
 */
int ms_wire_send_batch(void *sock, const ms_peer_t *peer, ms_batch_buf_t *b, char *err,
                       size_t errlen);

/*
 * Receive one message without blocking. router: the socket is a ROUTER and
 * the first frame is a routing id, stored in *peer. On MS_WIRE_OK *m owns
 * its strings (ms_msg_clear). On MS_WIRE_BAD and MS_WIRE_VERSION the whole
 * message was consumed and *m is cleared.
 */
int ms_wire_recv(void *sock, int router, ms_peer_t *peer, ms_msg_t *m, char *err, size_t errlen);

/* Send MS_CMD_ERROR {message} to peer (NULL on the DEALER side). Best effort. */
void ms_wire_send_error(void *sock, const ms_peer_t *peer, const char *message);
/* The same, saying which exit status (MS_RC_*) the client should end with:
 * a request refused now (a destination in use) is not a usage error. */
void ms_wire_send_refusal(void *sock, const ms_peer_t *peer, const char *message, unsigned rc);

/* Printable hex of a routing id, for logs (at most 16 bytes shown). */
const char *ms_peer_str(const ms_peer_t *peer, char *out, size_t outlen);

/*
 * The uid, gid and pid of the process at the other end of an ipc://
 * connection, from peer->address. Returns 0, or -1 when it holds none.
 * Only for a peer of an ipc:// socket: a tcp:// IPv6 address looks alike.
 */
int ms_peer_ipc_cred(const ms_peer_t *peer, unsigned long *uid, unsigned long *gid,
                     unsigned long *pid);

/* Whether two peers have the same routing id. */
int ms_peer_eq(const ms_peer_t *a, const ms_peer_t *b);

#endif
