#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "ms_clock.h"
#include "ms_err.h"
#include "ms_monitor.h"

#define RECENT_KEY_SIZE 128
#define MONITOR_TABLE 64
#define MONITOR_WINDOW_MS 60000
#define MONITOR_EVENTS                                                                             \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |                  \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

/* --- ms_recent ------------------------------------------------------------------- */

typedef struct {
    char key[RECENT_KEY_SIZE]; /* "" when the slot is free */
    int64_t at;                /* when it was last reported */
    unsigned suppressed;       /* times it came up since, unreported */
} recent_entry_t;

struct ms_recent {
    recent_entry_t *e;
    size_t cap;
    int64_t window_ms;
};

ms_recent_t *ms_recent_new(size_t capacity, int64_t window_ms)
{
    if (capacity == 0 || window_ms <= 0)
        return NULL;
    ms_recent_t *r = calloc(1, sizeof *r);
    if (!r || !(r->e = calloc(capacity, sizeof *r->e))) {
        free(r);
        return NULL;
    }
    r->cap = capacity;
    r->window_ms = window_ms;
    return r;
}

/* The entry for key, else a free one, else the one reported longest ago. */
static recent_entry_t *recent_slot(ms_recent_t *r, const char *key, int *found)
{
    recent_entry_t *pick = NULL;

    *found = 0;
    for (size_t i = 0; i < r->cap; i++) {
        recent_entry_t *e = &r->e[i];
        if (e->key[0] && strcmp(e->key, key) == 0) {
            *found = 1;
            return e;
        }
        if (!pick || (pick->key[0] && (!e->key[0] || e->at < pick->at)))
            pick = e;
    }
    return pick;
}

int ms_recent_first(ms_recent_t *r, const char *key, int64_t now_ms, unsigned *suppressed)
{
    char k[RECENT_KEY_SIZE];
    int found;

    /* "" marks a free slot: store every key with a prefix byte. */
    snprintf(k, sizeof k, "=%s", key ? key : "");
    recent_entry_t *e = recent_slot(r, k, &found);
    if (!e) /* no slot at all: report everything */
        return 1;
    if (found && now_ms - e->at < r->window_ms) {
        e->suppressed++;
        return 0;
    }
    if (suppressed)
        *suppressed = found ? e->suppressed : 0;
    memcpy(e->key, k, sizeof k);
    e->at = now_ms;
    e->suppressed = 0;
    return 1;
}

void ms_recent_destroy(ms_recent_t **rp)
{
    if (!rp || !*rp)
        return;
    free((*rp)->e);
    free(*rp);
    *rp = NULL;
}

/* --- the monitor ------------------------------------------------------------------ */

struct ms_monitor {
    void *pair; /* connected to the monitor endpoint of the watched socket */
    ms_recent_t *recent;
    unsigned long failures;
    char address[112]; /* an ipc path is at most 107 bytes */
    char what[160];
};

ms_monitor_t *ms_monitor_new(void *ctx, void *sock, char *err, size_t errlen)
{
    static atomic_uint serial;
    char endpoint[96];
    int linger = 0;
    ms_monitor_t *m = calloc(1, sizeof *m);

    if (!m || !(m->recent = ms_recent_new(MONITOR_TABLE, MONITOR_WINDOW_MS))) {
        ms_errf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(endpoint, sizeof endpoint, "inproc://ms-monitor-%p-%u", sock,
             atomic_fetch_add(&serial, 1));
    if (zmq_socket_monitor(sock, endpoint, MONITOR_EVENTS) != 0) {
        ms_errf(err, errlen, "cannot monitor the socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if (!(m->pair = zmq_socket(ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(m->pair, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(m->pair, endpoint) != 0) {
        ms_errf(err, errlen, "cannot connect to the socket monitor: %s", zmq_strerror(errno));
        zmq_socket_monitor(sock, NULL, 0);
        goto fail;
    }
    return m;
fail:
    ms_monitor_destroy(&m);
    return NULL;
}

void *ms_monitor_socket(ms_monitor_t *m)
{
    return m ? m->pair : NULL;
}

unsigned long ms_monitor_failures(const ms_monitor_t *m)
{
    return m ? m->failures : 0;
}

void ms_monitor_destroy(ms_monitor_t **mp)
{
    if (!mp || !*mp)
        return;
    if ((*mp)->pair)
        zmq_close((*mp)->pair);
    ms_recent_destroy(&(*mp)->recent);
    free(*mp);
    *mp = NULL;
}

static const char *protocol_error(uint32_t value)
{
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "security mechanism mismatch (a client without CURVE?)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        return "cryptographic error (a client with the wrong server key?)";
    case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
        return "key exchange failed";
    default:
        if ((value & 0xf0000000u) == ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED)
            return "bad reply from the ZAP handler";
        return "ZMTP protocol error";
    }
}

static void describe(ms_monitor_t *m, int event, uint32_t value)
{
    switch (event) {
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        snprintf(m->what, sizeof m->what, "handshake failed: %s (0x%08x)", protocol_error(value),
                 (unsigned)value);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        snprintf(m->what, sizeof m->what, "handshake failed: refused by the ZAP handler (%u)",
                 (unsigned)value);
        break;
    default:
        snprintf(m->what, sizeof m->what, "handshake failed: %s%s", strerror((int)value),
                 value == EFAULT ? " (no ZAP handler answered?)" : "");
        break;
    }
}

/* Close f and read and drop the rest of its message. Returns 0 or -1. */
static int drain(void *s, zmq_msg_t *f)
{
    int more = zmq_msg_more(f);

    zmq_msg_close(f);
    while (more) {
        zmq_msg_init(f);
        if (zmq_msg_recv(f, s, 0) < 0) {
            zmq_msg_close(f);
            return -1;
        }
        more = zmq_msg_more(f);
        zmq_msg_close(f);
    }
    return 0;
}

static void copy_printable(char *dst, size_t size, const unsigned char *p, size_t len)
{
    if (len > size - 1)
        len = size - 1;
    for (size_t i = 0; i < len; i++)
        dst[i] = (char)(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
    dst[len] = '\0';
}

/* Read one event (libzmq 4.3: [u16 event, u32 value] [address]): 1 with
 * *event, *value and m->address set, 0 when none is pending, 2 for a
 * malformed one (consumed), -1 when the socket failed. */
static int read_event(ms_monitor_t *m, int *event, uint32_t *value)
{
    zmq_msg_t f;
    uint16_t ev;

    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, m->pair, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f);
        return errno == EAGAIN ? 0 : -1;
    }
    if (zmq_msg_size(&f) != 6 || !zmq_msg_more(&f))
        return drain(m->pair, &f) == 0 ? 2 : -1;
    memcpy(&ev, zmq_msg_data(&f), sizeof ev);
    memcpy(value, (unsigned char *)zmq_msg_data(&f) + 2, sizeof *value);
    *event = ev;
    zmq_msg_close(&f);
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, m->pair, 0) < 0) {
        zmq_msg_close(&f);
        return -1;
    }
    copy_printable(m->address, sizeof m->address, zmq_msg_data(&f), zmq_msg_size(&f));
    int single = !zmq_msg_more(&f);
    if (drain(m->pair, &f) != 0)
        return -1;
    return single ? 1 : 2;
}

int ms_monitor_handle(ms_monitor_t *m, ms_monitor_fn *fn, void *arg)
{
    char key[RECENT_KEY_SIZE];
    int calls = 0, event, rc;
    uint32_t value;

    while ((rc = read_event(m, &event, &value)) != 0) {
        if (rc < 0)
            return -1;
        if (rc != 1 || !(event & MONITOR_EVENTS))
            continue;
        m->failures++;
        ms_monitor_event_t ev = {event, value, m->address, m->what, 0};
        snprintf(key, sizeof key, "%04x %s", (unsigned)event, m->address);
        if (!ms_recent_first(m->recent, key, ms_now_ms(), &ev.suppressed))
            continue;
        describe(m, event, value);
        if (fn)
            fn(arg, &ev);
        calls++;
    }
    return calls;
}
