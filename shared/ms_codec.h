/*
 * ms_codec.h - encode and decode message bodies (msgpack maps).
 *
 * Each command's body is a msgpack map with short string keys. Encoders
 * never fail on valid structs except for memory; decoders accept bytes from
 * the network and so check everything:
 *
 *   - before msgpack-c sees the body, ms_mp_check() walks it without
 *     allocating and rejects any array/map/str/bin/ext count larger than
 *     the bytes left (msgpack-c's unpacker would otherwise allocate
 *     count x 24 bytes up front), nesting deeper than MS_MP_MAX_DEPTH,
 *     and any trailing bytes after the one top-level object;
 *   - the top-level object must be a map; every known key must carry the
 *     expected type and lie within the bounds of ms_proto.h; required keys
 *     must be present; unknown keys are ignored (forward compatibility);
 *   - strings must not contain NUL bytes (they become C strings and paths).
 *     They need not be UTF-8: project names are bytes. They travel as msgpack
 *     bin; a decoder accepts str or bin for a string field;
 *   - a list ([str]) is a msgpack array of such strings, each within the
 *     field's length limit, at most MS_MAX_ITEMS of them. An empty list is
 *     not sent (nor an empty sub), so a task that is not split encodes as it
 *     did before these fields; an absent or empty list decodes as NULL with
 *     a count of 0.
 *
 * Body keys, per command (R = required, O = optional with the default shown):
 *   HELLO        name:str R, slots:uint R (1..MS_MAX_SLOTS), rsync:str O (its rsync's
 *                version line), unconfined:uint O (MS_UNCONFINED_* bits)
 *   READY        credit:uint R (1..MS_MAX_SLOTS)
 *   TASK         run:uint R, task:uint R, attempt:uint R (>=1), flags:uint R,
 *                project:str R, source:str R, dest:str R, timeout:uint O (0: none),
 *                sub:str O (""), items:[str] O ([]), excl:[str] O ([]),
 *                match:[str] O ([]), xmatch:[str] O ([])
 *                (at most MS_MAX_ITEMS entries in each list)
 *   RESULT       run, task, attempt:uint R, exit:int R, signal:int R,
 *                secs:float R, files, btotal, bxfer:uint R, cpu_u, cpu_s:float R,
 *                rss, rd, wr:uint R, msg:str O ("")
 *   HEARTBEAT    t:uint O, ack:uint O, ttl:uint O (all 0 when absent); from a
 *                worker also its host's counters, all O: busy, cpu, iowait,
 *                ncpu, cores, load1, mem_total, mem_avail, disk_r, disk_w,
 *                disk_busy, net_s, net_r (see ms_heartbeat_t)
 *   PROGRESS     run, task, attempt, bytes:uint R
 *   REPORT       run:uint R, from:uint O (0), count:uint O (0: a page); answered by
 *                RUN_DONE with the run's report so far, its task rows from..from+count-1
 *                (see ms_report_json_page: "tasks_from", "tasks_total")
 *   HISTORY      n:uint O (0: all); answered by STATUS_REPLY
 *   HOLD, CANCEL run:uint R, task:uint R, attempt:uint R
 *   DRAIN        (empty map)
 *   BYE, ERROR   message:str R, reconnect:uint O (0 or 1), rc:uint O (0..255: the exit
 *                status a client ends with, MS_RC_*; 0: not said)
 *   RUN          source:str O, dest:str O, set:str O  (set, or both paths),
 *                flags:uint O (MS_RUN_* bits), wait:uint O (worker_wait in s; 0: the
 *                set's or the master's)
 *   RUN_STARTED  run:uint R
 *   RUN_DONE     run:uint R, report:str R (JSON)
 *   STATUS       (empty map)
 *   STATUS_REPLY json:str R
 *   WAIT         run:uint R
 *   CANCEL_RUN   run:uint R; answered by STATUS_REPLY {"run_id", "running": tasks told to
 *                stop, "queued": tasks dropped}, or ERROR (no such run, or it ended)
 *   BATCH        not a map: an array of 2..MS_MAX_BATCH messages, each [cmd:uint, body],
 *                body as that command's alone; cmd one of READY, TASK, RESULT, PROGRESS,
 *                HOLD, CANCEL (ms_batchable). The receiver handles them in order, as
 *                if each had come alone. One frame, one CURVE box, one wake-up of the
 *                peer's I/O thread for what would have been many: the master hands a
 *                worker its tasks of a dispatch in one, a worker its results, credit
 *                and progress of a turn.
 * Floats are encoded as float64; a decoder also accepts integers there.
 * Integer fields reject negative values where the type is uint.
 */
#ifndef MS_CODEC_H
#define MS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "ms_proto.h"

#define MS_MP_MAX_DEPTH 8

typedef struct {
    char *name;
    uint32_t slots;
    char *rsync;         /* "rsync  version 3.2.7  protocol version 31"; NULL: not said */
    uint32_t unconfined; /* MS_UNCONFINED_* */
    char *opts;          /* its rsync's version and extra options, hashed (ms_fp_opts); NULL */
} ms_hello_t;

typedef struct {
    uint32_t credit;
} ms_ready_t;

typedef struct {
    uint64_t run_id;
    uint64_t task_id;
    uint32_t attempt;
    uint32_t flags;     /* MS_TASK_* */
    char *project;      /* folder name under source; "" for an MS_TASK_TOP task */
    char *source;       /* source root as the worker sees it */
    char *dest;         /* destination root: a path or an rsync remote */
    uint32_t timeout_s; /* kill the task after this long; 0: no limit */
    /* A chunk of a split project (n_items > 0): copy the entries items[] of
     * the folder sub (relative to the project, "" = the project itself),
     * each one path component, into the same folder of the backup. */
    char *sub;    /* never NULL after decoding; "" when absent */
    char **items; /* decoded: NULL when n_items is 0 */
    uint32_t n_items;
    /* The rest of a split project (n_excl > 0, sub "" and no items): the
     * whole project but these paths (relative to the project), which its
     * chunks copy; excluded paths are neither copied nor deleted. */
    char **excl; /* decoded: NULL when n_excl is 0 */
    uint32_t n_excl;
    /* A chunk of a folder with very many entries (n_match > 0, no items):
     * the entries of sub whose names match one of these rsync patterns,
     * and everything below them. Each pattern is one path component, built
     * by the master so that it holds a wildcard ('[' at least), so rsync
     * reads backslashes in it as escapes. */
    char **match; /* decoded: NULL when n_match is 0 */
    uint32_t n_match;
    /* The rest of a project with such chunks: rsync patterns relative to
     * the project ("sub/[a-f]*", sub escaped), each excluded like excl. */
    char **xmatch; /* decoded: NULL when n_xmatch is 0 */
    uint32_t n_xmatch;
    /* A snapshot run (ms_snap.h): the task works in the folder snap of the
     * destination root ("2026-12-07T021500Z.partial") and hard-links the
     * files it finds unchanged in the same place of the complete snapshot
     * link ("2026-12-06T021500Z"; "": none). Never NULL after decoding. */
    char *snap;
    char *link;
} ms_task_t;

typedef struct {
    uint64_t run_id;
    uint64_t task_id;
    uint32_t attempt;
    int32_t exit_code;          /* rsync's exit status; -1 when it did not exit */
    int32_t term_signal;        /* signal that ended rsync, 0 when none */
    double seconds;             /* wall time of the task */
    uint64_t files;             /* rsync "Number of files" */
    uint64_t bytes_total;       /* rsync "Total file size" */
    uint64_t bytes_transferred; /* rsync "Total transferred file size" */
    double cpu_user_s;          /* rsync and its children, from wait4 */
    double cpu_sys_s;
    uint64_t max_rss_kb;
    uint64_t read_bytes;  /* /proc/<pid>/io read_bytes */
    uint64_t write_bytes; /* /proc/<pid>/io write_bytes */
    char *message;        /* why it failed (rsync's stderr tail); "" if none */
} ms_result_t;

typedef struct {
    char *message;
    uint32_t reconnect; /* BYE from the master: 1 = it restarts, keep tasks */
    uint32_t rc;        /* ERROR to a client: its exit status (MS_RC_*); 0: not said */
} ms_text_t;            /* BYE, ERROR */

/*
 * HEARTBEAT. A worker's heartbeat carries t, its own monotonic clock in ms
 * when sent. The master answers each one at once, with ack = that t and
 * ttl = how long it waits for a silent worker before it requeues the
 * worker's tasks. A worker therefore knows that the master heard it at
 * (its own) time ack, and must stop its tasks before ack + ttl: the lease.
 */
typedef struct {
    uint64_t t;
    uint64_t ack;
    uint32_t ttl_ms;
    /* A worker's host, sampled from /proc about once a second (0: unknown).
     * Counters are cumulative since the host booted: the master computes
     * rates from the difference of two heartbeats, so a lost one costs
     * nothing. */
    uint32_t busy;      /* slots running a task */
    double cpu_percent; /* whole host, over the last interval */
    double iowait_percent;
    uint32_t n_cpus;
    char *cores; /* per core: one byte each, percent + 1 (so never NUL) */
    double load1;
    uint64_t mem_total, mem_available;
    uint64_t disk_read_bytes, disk_write_bytes; /* whole disks */
    double disk_busy_percent;                   /* whole disks, over the last interval */
    uint64_t net_sent_bytes, net_recv_bytes;    /* all but lo */
} ms_heartbeat_t;

typedef struct {
    uint64_t run_id;
    uint64_t task_id;
    uint32_t attempt;
    uint64_t bytes_done; /* what its rsync has read so far (/proc/PID/io) */
} ms_progress_t;

typedef struct {
    uint32_t n; /* at most this many runs; 0: all */
} ms_history_t;

typedef struct {
    uint64_t run_id;
    uint64_t task_id;
    uint32_t attempt;
} ms_taskref_t; /* HOLD (worker still runs it), CANCEL (stop it) */

typedef struct {
    char *source; /* NULL when absent */
    char *dest;
    char *set;
    uint32_t flags;  /* MS_RUN_* */
    uint32_t wait_s; /* give up after this long without a worker; 0: configured */
    /* MS_RUN_SNAPSHOT: retention once the snapshot is complete (ms_keep.h);
     * all 0: the set's, else keep everything. */
    uint32_t keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
    /* MS_RUN_VERIFY, MS_RUN_RESTORE: the snapshot, "NAME" or "latest";
     * NULL: latest (verify of a mirror: none). */
    char *snapshot;
    /* MS_RUN_RESTORE: "PROJECT" or "PROJECT/PATH" in the snapshot. */
    char *path;
} ms_run_t;

typedef struct {
    char *set; /* SNAPSHOTS: the set whose destination is listed */
} ms_setref_t;

typedef struct {
    uint64_t run_id;
    char *report;   /* RUN_DONE only: JSON text; NULL for RUN_STARTED and WAIT */
    uint64_t from;  /* REPORT: the first task row wanted (0: from the first) */
    uint32_t count; /* REPORT: rows wanted (0: a page of the master's size) */
} ms_runref_t;      /* RUN_STARTED, RUN_DONE, WAIT, REPORT, CANCEL_RUN */

typedef struct {
    char *json;
} ms_json_t; /* STATUS_REPLY */

typedef struct ms_msg ms_msg_t;

typedef struct {
    ms_msg_t *msgs; /* decoded: each owns its strings; never a BATCH */
    uint32_t n;
} ms_batch_t;

struct ms_msg {
    int cmd; /* ms_cmd_t */
    union {
        ms_hello_t hello;
        ms_ready_t ready;
        ms_task_t task;
        ms_result_t result;
        ms_text_t text;
        ms_heartbeat_t heartbeat;
        ms_taskref_t taskref;
        ms_progress_t progress;
        ms_history_t history;
        ms_run_t run;
        ms_setref_t setref;
        ms_runref_t runref;
        ms_json_t json;
        ms_batch_t batch;
    } u;
};

/*
 * Walk one msgpack object in buf[0..len) without allocating. Returns 0 when
 * buf holds exactly one well-formed object whose every count fits in the
 * bytes left and whose nesting is at most max_depth; -1 otherwise, with a
 * reason in err.
 */
int ms_mp_check(const void *buf, size_t len, int max_depth, char *err, size_t errlen);

/*
 * Encode m's body. On success returns 0 and sets *out (malloc'd, the caller
 * frees it) and *outlen. Returns -1 with err filled for an unknown command
 * or a field out of bounds (e.g. a string longer than its limit).
 */
int ms_msg_encode(const ms_msg_t *m, char **out, size_t *outlen, char *err, size_t errlen);

/*
 * Decode the body of command cmd. On success returns 0 and fills *m, which
 * then owns heap strings: release them with ms_msg_clear(). On failure
 * returns -1, leaves *m cleared (safe to ms_msg_clear) and says why in err
 * (e.g. "TASK: field 'project' must be a string").
 */
int ms_msg_decode(int cmd, const void *body, size_t len, ms_msg_t *m, char *err, size_t errlen);

/* Free the strings m owns and zero it. Accepts a zeroed or NULL m. */
void ms_msg_clear(ms_msg_t *m);

/* Whether a command may travel inside a BATCH. */
int ms_batchable(int cmd);

/*
 * A BATCH being built: messages encoded one by one as they are added,
 * sent with ms_wire_send_batch (a single message goes as itself).
 * Zero-initialise; ms_batch_free releases it.
 */
typedef struct {
    char *buf; /* the elements, each [cmd, body], after room for the array header */
    size_t len, cap;
    uint32_t n;
    int cmd0;     /* the first element's command */
    size_t body0; /* where its body starts in buf */
} ms_batch_buf_t;

/* Room kept in front of the elements for the array header. */
#define MS_BATCH_HEAD 5

/*
 * Add m (a batchable command) to b. Returns 0 when added; 1 when b is full
 * (MS_MAX_BATCH messages, or the frame would pass MS_MAX_FRAME_BYTES):
 * send b and add again; -1 with err filled when m does not encode (see
 * ms_msg_encode). One message larger than a frame alone is added: it goes
 * alone, and the peer refuses it as it would have.
 */
int ms_batch_add(ms_batch_buf_t *b, const ms_msg_t *m, char *err, size_t errlen);

/*
 * The body to send for b (n > 0): with n == 1 the first message's own
 * (*cmd its command), else the BATCH (*cmd MS_CMD_BATCH), whose array header
 * is written into the room in front. Points into b until b changes.
 */
const char *ms_batch_body(ms_batch_buf_t *b, int *cmd, size_t *len);

/* Empty b, keeping its buffer. */
void ms_batch_reset(ms_batch_buf_t *b);
void ms_batch_free(ms_batch_buf_t *b);

/*
 * Check a protocol frame. Returns 0 when it is MS_PROTO_ID at
 * MS_PROTO_VERSION; -1 when it is not a multisync frame at all; -2 when it
 * is multisync at another version, with *version set to that version.
 */
int ms_proto_check(const void *frame, size_t len, int *version);

#endif
