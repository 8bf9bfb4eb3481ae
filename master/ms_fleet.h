/*
 * ms_fleet.h - the workers the master knows: one record per connected
 * worker, found by its connection, its name or its id, and the questions
 * dispatch asks of all of them (which is freest, how much credit and how
 * many slots are there, who has fallen silent).
 *
 * A worker is usable (may be handed tasks) while it is not draining, a
 * send to it has not failed, and its rsync runs. Credit is what a worker
 * granted (READY) and was not handed yet, never more than its free slots.
 *
 * With a thousand workers every lookup is hashed (by connection, name and
 * id), and the usable workers with credit are kept in a heap by credit:
 * the freest is found in O(1) and each change of credit costs O(log n).
 * So a record's credit, running, draining, unreachable and broken change
 * only through the functions below, which keep that heap; its other
 * fields are the caller's to fill (what the worker says of itself, its
 * host sample, its counters).
 *
 * The fleet owns its records: ms_fleet_remove frees one, and pointers to
 * it are then stale. Names and connections are unique in a fleet. It
 * knows nothing of runs or tasks (the master moves a removed worker's
 * tasks). Nothing here logs.
 */
#ifndef MS_FLEET_H
#define MS_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "ms_codec.h"
#include "ms_fp.h"
#include "ms_wire.h"

typedef struct {
    ms_peer_t peer;
    char id[32]; /* "w<N>": stable for the fleet's lifetime */
    char name[MS_MAX_NAME + 1];
    unsigned slots;
    unsigned credit;             /* tasks it may still be sent */
    unsigned running;            /* tasks in flight on it */
    int draining;                /* asked for no more tasks */
    int unreachable;             /* a send to it failed: dropped once its messages are read */
    unsigned unconfined;         /* MS_UNCONFINED_*, from its HELLO */
    char rsync[MS_MAX_NAME + 1]; /* its rsync's version line, from its HELLO; "" */
    char opts[MS_FP_HEX];        /* its rsync and options, hashed (ms_fp_opts); "": not said */
    char broken[256];            /* why its rsync cannot run (exit 126/127); "" */
    uint64_t done;
    int64_t last_seen_ms;
    /* Its host, from the last heartbeat with counters, and rates over the
     * interval before it. */
    ms_heartbeat_t host; /* host.cores is owned (malloc'd) */
    int64_t host_ms;     /* when host was taken; 0: never */
    double disk_read_bps, disk_write_bps, disk_busy_percent, net_sent_bps, net_recv_bps;
} ms_wrec_t;

typedef struct ms_fleet ms_fleet_t;

/* An empty fleet, or NULL when out of memory. */
ms_fleet_t *ms_fleet_new(void);

/* Free every record and the fleet. Accepts NULL and *f == NULL; sets *f NULL. */
void ms_fleet_destroy(ms_fleet_t **f);

/* At most max records (0: no limit): adds past it fail as when memory runs
 * out. For tests of what callers do then. */
void ms_fleet_set_limit(ms_fleet_t *f, size_t max);

/* A new record for the worker on connection peer, known as name, heard now
 * (now_ms), with a fresh id. Returns it, or NULL: errno ENOMEM, or EEXIST
 * when a record of that name or connection is there already (remove it
 * first). */
ms_wrec_t *ms_fleet_add(ms_fleet_t *f, const ms_peer_t *peer, const char *name, int64_t now_ms)
    __attribute__((warn_unused_result));

/* Forget w and free it (its host sample too). */
void ms_fleet_remove(ms_fleet_t *f, ms_wrec_t *w);

size_t ms_fleet_count(const ms_fleet_t *f);
/* Record i (< count), in no particular order (a removal moves the last one). */
ms_wrec_t *ms_fleet_at(const ms_fleet_t *f, size_t i);

/* The record of a connection, a name or an id; NULL when none. */
ms_wrec_t *ms_fleet_by_peer(const ms_fleet_t *f, const ms_peer_t *peer);
ms_wrec_t *ms_fleet_by_name(const ms_fleet_t *f, const char *name);
ms_wrec_t *ms_fleet_by_id(const ms_fleet_t *f, const char *id);

/* Whether w may be handed tasks (not draining, reachable, its rsync runs). */
int ms_worker_usable(const ms_wrec_t *w);

/* READY: w grants credit more tasks, never past its free slots; an
 * unusable worker's grant is ignored. */
void ms_fleet_grant(ms_fleet_t *f, ms_wrec_t *w, unsigned credit);

/* A task is handed to w (one credit spent, one more running), or taken
 * back before it was sent (the reverse). */
void ms_fleet_take(ms_fleet_t *f, ms_wrec_t *w);
void ms_fleet_untake(ms_fleet_t *f, ms_wrec_t *w);

/* A task of w's ended (its result came): one fewer running. A task w
 * claims (HOLD after a reconnect): one more. */
void ms_fleet_task_ended(ms_fleet_t *f, ms_wrec_t *w);
void ms_fleet_task_adopted(ms_fleet_t *f, ms_wrec_t *w);

/* w takes no more tasks: it drains (DRAIN), a send to it failed, or its
 * rsync cannot run (why, kept for status). Draining or broken, its credit
 * goes too. */
void ms_fleet_set_draining(ms_fleet_t *f, ms_wrec_t *w);
void ms_fleet_set_unreachable(ms_fleet_t *f, ms_wrec_t *w);
void ms_fleet_set_broken(ms_fleet_t *f, ms_wrec_t *w, const char *why);

/* The usable worker with the most credit, not on host avoid_host (NULL:
 * any); among equals the first in ms_fleet_at's order. NULL when none
 * has credit. O(1). */
ms_wrec_t *ms_fleet_freest(const ms_fleet_t *f, const char *avoid_host);

/* The credit of the usable workers, summed. O(1). */
size_t ms_fleet_credit(const ms_fleet_t *f);

/* The slots of the usable workers (usable_only) or of all, summed; *busy
 * (when not NULL): tasks in flight on every worker. */
unsigned ms_fleet_slots(const ms_fleet_t *f, int usable_only, unsigned *busy);

/* Whether any worker is usable. */
int ms_fleet_any_usable(const ms_fleet_t *f);

/* A worker not heard for more than ttl_ms at now_ms (its lease is over), or
 * one a send failed to (unreachable); NULL when none. */
ms_wrec_t *ms_fleet_silent(const ms_fleet_t *f, int64_t now_ms, int64_t ttl_ms);
ms_wrec_t *ms_fleet_unreachable(const ms_fleet_t *f);

/* The master was away ms (its loop busy elsewhere): what each worker sent
 * meanwhile waits unread, so add ms to every worker's last_seen_ms (never
 * past now_ms). */
void ms_fleet_excuse(ms_fleet_t *f, int64_t ms, int64_t now_ms);

#endif
