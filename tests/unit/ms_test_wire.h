/*
 * ms_test_wire.h - receiving as a peer does in the unit tests: the
 * messages of a BATCH one by one, as if each had come alone.
 */
#ifndef MS_TEST_WIRE_H
#define MS_TEST_WIRE_H

#include <string.h>

#include "ms_wire.h"

/* A BATCH being handed out (zero-initialise). */
typedef struct {
    ms_msg_t held;
    uint32_t next;
} ms_test_inbox_t;

static inline void ms_test_inbox_clear(ms_test_inbox_t *in)
{
    ms_msg_clear(&in->held);
    in->next = 0;
}

/* ms_wire_recv, but a BATCH comes out a message at a time (from in first). */
static inline int ms_test_recv(void *sock, int router, ms_peer_t *peer, ms_test_inbox_t *in,
                               ms_msg_t *m, char *err, size_t errlen)
{
    for (;;) {
        if (in->held.cmd == MS_CMD_BATCH && in->next < in->held.u.batch.n) {
            *m = in->held.u.batch.msgs[in->next];
            memset(&in->held.u.batch.msgs[in->next++], 0, sizeof *m);
            return MS_WIRE_OK;
        }
        ms_test_inbox_clear(in);
        int rc = ms_wire_recv(sock, router, peer, m, err, errlen);
        if (rc != MS_WIRE_OK || m->cmd != MS_CMD_BATCH)
            return rc;
        in->held = *m;
        memset(m, 0, sizeof *m);
    }
}

#endif
