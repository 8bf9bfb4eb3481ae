/*
 * ms_codec.c - message bodies to and from msgpack maps.
 *
 * Each command's body is described once, as a table of fields (key, type,
 * bounds, place in ms_msg_t). The encoder, the decoder and the checks they
 * share all walk that table, so the two sides cannot drift apart: anything
 * the encoder accepts, the decoder accepts too.
 */
#include "ms_err.h"
#include "ms_keep.h"
#include "ms_codec.h"
#include "ms_strv.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#define MP_STACK_MAX 64 /* deepest max_depth ms_mp_check accepts */

/* ---------------------------------------------------------------------- */
/* ms_mp_check: a walk over raw msgpack that allocates nothing.          */

typedef enum { MP_SCALAR, MP_BLOB, MP_ARRAY, MP_MAP, MP_BAD } mp_kind_t;

typedef struct {
    unsigned char kind;     /* mp_kind_t */
    unsigned char lenbytes; /* big-endian length or count after the tag */
    unsigned char fixed;    /* bytes always present after that: ext type, number */
} mp_tag_t;

/* Tags 0xc0..0xdf; the other tags carry their length or count inline. */
/* clang-format off */
static const mp_tag_t mp_tags[32] = {
    {MP_SCALAR, 0, 0},  {MP_BAD, 0, 0},     {MP_SCALAR, 0, 0},  {MP_SCALAR, 0, 0},  /* c0-c3 */
    {MP_BLOB, 1, 0},    {MP_BLOB, 2, 0},    {MP_BLOB, 4, 0},                        /* bin */
    {MP_BLOB, 1, 1},    {MP_BLOB, 2, 1},    {MP_BLOB, 4, 1},                        /* ext */
    {MP_SCALAR, 0, 4},  {MP_SCALAR, 0, 8},                                          /* float */
    {MP_SCALAR, 0, 1},  {MP_SCALAR, 0, 2},  {MP_SCALAR, 0, 4},  {MP_SCALAR, 0, 8},  /* uint */
    {MP_SCALAR, 0, 1},  {MP_SCALAR, 0, 2},  {MP_SCALAR, 0, 4},  {MP_SCALAR, 0, 8},  /* int */
    {MP_SCALAR, 0, 2},  {MP_SCALAR, 0, 3},  {MP_SCALAR, 0, 5},  {MP_SCALAR, 0, 9},  /* fixext */
    {MP_SCALAR, 0, 17},                                                             /* fixext16 */
    {MP_BLOB, 1, 0},    {MP_BLOB, 2, 0},    {MP_BLOB, 4, 0},                        /* str */
    {MP_ARRAY, 2, 0},   {MP_ARRAY, 4, 0},   {MP_MAP, 2, 0},     {MP_MAP, 4, 0},     /* dc-df */
};
/* clang-format on */

/* Decode a tag byte; *inl is the length or count the tag carries itself. */
static mp_tag_t mp_tag(uint8_t b, uint64_t *inl)
{
    mp_tag_t t = {MP_SCALAR, 0, 0}; /* positive and negative fixints */

    *inl = 0;
    if (b >= 0xc0 && b <= 0xdf)
        return mp_tags[b - 0xc0];
    if (b >= 0xa0 && b <= 0xbf) {
        t.kind = MP_BLOB; /* fixstr */
        *inl = b & 0x1f;
    } else if (b >= 0x80 && b <= 0x9f) {
        t.kind = b < 0x90 ? MP_MAP : MP_ARRAY;
        *inl = b & 0x0f;
    }
    return t;
}

static uint64_t mp_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * Read the item at buf[pos..len). Sets *used to the bytes it spans (only its
 * header for a container) and *items to its number of children. Returns 1
 * for a container, 0 for anything else, -1 when malformed.
 */
static int mp_item(const uint8_t *buf, size_t len, size_t pos, size_t *used, size_t *items,
                   char *err, size_t errlen)
{
    uint64_t n;
    mp_tag_t t = mp_tag(buf[pos], &n);
    size_t hdr = 1u + t.lenbytes + t.fixed, left;

    if (t.kind == MP_BAD)
        return ms_errf(err, errlen, "invalid byte 0x%02x at offset %zu", buf[pos], pos);
    if (hdr > len - pos)
        return ms_errf(err, errlen, "truncated at offset %zu", pos);
    if (t.lenbytes > 0)
        n = mp_be(buf + pos + 1, t.lenbytes);
    left = len - pos - hdr;
    if (n > left || (t.kind == MP_MAP && n > left / 2))
        return ms_errf(err, errlen, "count %" PRIu64 " at offset %zu exceeds the %zu bytes left", n,
                       pos, left);
    *used = hdr + (t.kind == MP_BLOB ? (size_t)n : 0);
    *items = t.kind == MP_MAP ? 2 * (size_t)n : t.kind == MP_ARRAY ? (size_t)n : 0;
    return t.kind == MP_MAP || t.kind == MP_ARRAY;
}

int ms_mp_check(const void *buf, size_t len, int max_depth, char *err, size_t errlen)
{
    size_t todo[MP_STACK_MAX + 1]; /* children still to read, per open container */
    size_t pos = 0, used = 0, items = 0;
    int depth = 0;

    if (max_depth < 0 || max_depth > MP_STACK_MAX)
        return ms_errf(err, errlen, "max_depth %d outside 0..%d", max_depth, MP_STACK_MAX);
    todo[0] = 1;
    for (;;) {
        while (depth > 0 && todo[depth] == 0)
            depth--;
        if (todo[depth] == 0)
            break;
        todo[depth]--;
        if (pos >= len)
            return ms_errf(err, errlen, "truncated at offset %zu", pos);
        int rc = mp_item(buf, len, pos, &used, &items, err, errlen);
        if (rc < 0)
            return -1;
        if (rc == 1 && depth >= max_depth)
            return ms_errf(err, errlen, "nesting deeper than %d at offset %zu", max_depth, pos);
        pos += used;
        if (rc == 1)
            todo[++depth] = items;
    }
    if (pos != len)
        return ms_errf(err, errlen, "%zu trailing bytes after the object", len - pos);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The body of each command, as a table of fields.                        */

/* F_STRS: an array of at most MS_MAX_ITEMS strings, a char ** and a uint32_t count. */
typedef enum { F_U32, F_U64, F_FLAGS, F_I32, F_F64, F_STR, F_STRS } field_kind_t;

typedef enum {
    F_REQ,       /* required */
    F_OPT_NULL,  /* optional; absent <-> NULL (a list: absent <-> no entries, NULL) */
    F_OPT_EMPTY, /* optional string; absent -> "", NULL is sent as "" */
    F_OPT_BLANK, /* optional string; absent -> "", NULL and "" are not sent */
    F_OPT_ZERO   /* optional number; absent <-> 0 */
} field_need_t;

typedef struct {
    const char *key;
    field_kind_t kind;
    field_need_t need;
    size_t off;   /* offset of the member in ms_msg_t */
    uint64_t min; /* uints: smallest value */
    uint64_t max; /* uints: largest value; flags: known bits; strings: longest length */
    size_t off_n; /* string lists: offset of their uint32_t count in ms_msg_t */
} field_t;

typedef struct {
    int cmd;
    const field_t *fields;
    size_t n;
} cmd_spec_t;

#define OFF(member) offsetof(ms_msg_t, u.member)
/* clang-format off */
#define U32(k, m, lo, hi) {k, F_U32, F_REQ, OFF(m), lo, hi, 0}
#define U64(k, m) {k, F_U64, F_REQ, OFF(m), 0, UINT64_MAX, 0}
#define I32(k, m) {k, F_I32, F_REQ, OFF(m), 0, 0, 0}
#define F64(k, m) {k, F_F64, F_REQ, OFF(m), 0, 0, 0}
#define STR(k, m, maxlen, need) {k, F_STR, need, OFF(m), 0, maxlen, 0}
#define OPT_U32(k, m, hi) {k, F_U32, F_OPT_ZERO, OFF(m), 0, hi, 0}
#define OPT_U64(k, m) {k, F_U64, F_OPT_ZERO, OFF(m), 0, UINT64_MAX, 0}
#define OPT_F64(k, m) {k, F_F64, F_OPT_ZERO, OFF(m), 0, 0, 0}
#define OPT_STR(k, m, maxlen) {k, F_STR, F_OPT_NULL, OFF(m), 0, maxlen, 0}
#define OPT_STRS(k, m, n, maxlen) {k, F_STRS, F_OPT_NULL, OFF(m), 0, maxlen, OFF(n)}
/* clang-format on */

static const field_t hello_fields[] = {
    STR("name", hello.name, MS_MAX_NAME, F_REQ),
    U32("slots", hello.slots, 1, MS_MAX_SLOTS),
    OPT_STR("rsync", hello.rsync, MS_MAX_NAME),
    {"unconfined", F_FLAGS, F_OPT_ZERO, OFF(hello.unconfined), 0,
     MS_UNCONFINED_SOURCE | MS_UNCONFINED_DEST, 0},
    OPT_STR("opts", hello.opts, 64),
};
static const field_t ready_fields[] = {
    U32("credit", ready.credit, 1, MS_MAX_SLOTS),
};
static const field_t task_fields[] = {
    U64("run", task.run_id),
    U64("task", task.task_id),
    U32("attempt", task.attempt, 1, UINT32_MAX),
    {"flags", F_FLAGS, F_REQ, OFF(task.flags), 0, MS_TASK_FLAGS_KNOWN, 0},
    STR("project", task.project, MS_MAX_NAME, F_REQ),
    STR("source", task.source, MS_MAX_PATH, F_REQ),
    STR("dest", task.dest, MS_MAX_PATH, F_REQ),
    OPT_U32("timeout", task.timeout_s, 366u * 24 * 3600),
    STR("sub", task.sub, MS_MAX_PATH, F_OPT_BLANK),
    OPT_STRS("items", task.items, task.n_items, MS_MAX_PATH),
    OPT_STRS("excl", task.excl, task.n_excl, MS_MAX_PATH),
    OPT_STRS("match", task.match, task.n_match, MS_MAX_PATH),
    OPT_STRS("xmatch", task.xmatch, task.n_xmatch, MS_MAX_PATH),
    STR("snap", task.snap, MS_MAX_NAME, F_OPT_BLANK),
    STR("link", task.link, MS_MAX_NAME, F_OPT_BLANK),
};
static const field_t result_fields[] = {
    U64("run", result.run_id),
    U64("task", result.task_id),
    U32("attempt", result.attempt, 1, UINT32_MAX),
    I32("exit", result.exit_code),
    I32("signal", result.term_signal),
    F64("secs", result.seconds),
    U64("files", result.files),
    U64("btotal", result.bytes_total),
    U64("bxfer", result.bytes_transferred),
    F64("cpu_u", result.cpu_user_s),
    F64("cpu_s", result.cpu_sys_s),
    U64("rss", result.max_rss_kb),
    U64("rd", result.read_bytes),
    U64("wr", result.write_bytes),
    STR("msg", result.message, MS_MAX_TEXT, F_OPT_EMPTY),
};
static const field_t text_fields[] = {
    STR("message", text.message, MS_MAX_TEXT, F_REQ),
    OPT_U32("reconnect", text.reconnect, 1),
    OPT_U32("rc", text.rc, 255),
};
static const field_t heartbeat_fields[] = {
    OPT_U64("t", heartbeat.t),
    OPT_U64("ack", heartbeat.ack),
    OPT_U32("ttl", heartbeat.ttl_ms, 24u * 3600 * 1000),
    OPT_U32("busy", heartbeat.busy, MS_MAX_SLOTS),
    OPT_F64("cpu", heartbeat.cpu_percent),
    OPT_F64("iowait", heartbeat.iowait_percent),
    OPT_U32("ncpu", heartbeat.n_cpus, 65536),
    OPT_STR("cores", heartbeat.cores, 65536),
    OPT_F64("load1", heartbeat.load1),
    OPT_U64("mem_total", heartbeat.mem_total),
    OPT_U64("mem_avail", heartbeat.mem_available),
    OPT_U64("disk_r", heartbeat.disk_read_bytes),
    OPT_U64("disk_w", heartbeat.disk_write_bytes),
    OPT_F64("disk_busy", heartbeat.disk_busy_percent),
    OPT_U64("net_s", heartbeat.net_sent_bytes),
    OPT_U64("net_r", heartbeat.net_recv_bytes),
};
static const field_t progress_fields[] = {
    U64("run", progress.run_id),
    U64("task", progress.task_id),
    U32("attempt", progress.attempt, 1, UINT32_MAX),
    U64("bytes", progress.bytes_done),
};
static const field_t history_fields[] = {
    OPT_U32("n", history.n, 100000),
};
static const field_t taskref_fields[] = {
    U64("run", taskref.run_id),
    U64("task", taskref.task_id),
    U32("attempt", taskref.attempt, 1, UINT32_MAX),
};
static const field_t run_fields[] = {
    STR("source", run.source, MS_MAX_PATH, F_OPT_NULL),
    STR("dest", run.dest, MS_MAX_PATH, F_OPT_NULL),
    STR("set", run.set, MS_MAX_NAME, F_OPT_NULL),
    {"flags", F_FLAGS, F_OPT_ZERO, OFF(run.flags), 0, MS_RUN_FLAGS_KNOWN, 0},
    OPT_U32("wait", run.wait_s, MS_WORKER_WAIT_MAX_S),
    OPT_U32("keep_last", run.keep_last, MS_KEEP_MAX),
    OPT_U32("keep_hourly", run.keep_hourly, MS_KEEP_MAX),
    OPT_U32("keep_daily", run.keep_daily, MS_KEEP_MAX),
    OPT_U32("keep_weekly", run.keep_weekly, MS_KEEP_MAX),
    OPT_U32("keep_monthly", run.keep_monthly, MS_KEEP_MAX),
    OPT_U32("keep_yearly", run.keep_yearly, MS_KEEP_MAX),
    STR("snapshot", run.snapshot, MS_MAX_NAME, F_OPT_NULL),
    STR("path", run.path, MS_MAX_PATH, F_OPT_NULL),
};
static const field_t setref_fields[] = {
    STR("set", setref.set, MS_MAX_NAME, F_REQ),
};
static const field_t runref_fields[] = {
    U64("run", runref.run_id),
    OPT_U64("from", runref.from),
    OPT_U32("count", runref.count, UINT32_MAX),
};
static const field_t cancel_run_fields[] = {
    U64("run", runref.run_id),
};
static const field_t run_done_fields[] = {
    U64("run", runref.run_id),
    STR("report", runref.report, MS_MAX_JSON, F_REQ),
};
static const field_t json_fields[] = {
    STR("json", json.json, MS_MAX_JSON, F_REQ),
};

/* clang-format off */
#define SPEC(cmd, f) {cmd, f, sizeof(f) / sizeof((f)[0])}
/* clang-format on */

/* decode_map() marks the fields it has seen in a uint32_t; RESULT has the most. */
_Static_assert(sizeof(result_fields) / sizeof(result_fields[0]) <= 32, "too many fields");
_Static_assert(sizeof(heartbeat_fields) / sizeof(heartbeat_fields[0]) <= 32, "too many fields");
_Static_assert(sizeof(task_fields) / sizeof(task_fields[0]) <= 32, "too many fields");

static const cmd_spec_t specs[] = {
    SPEC(MS_CMD_HELLO, hello_fields),
    SPEC(MS_CMD_READY, ready_fields),
    SPEC(MS_CMD_TASK, task_fields),
    SPEC(MS_CMD_RESULT, result_fields),
    SPEC(MS_CMD_HEARTBEAT, heartbeat_fields),
    SPEC(MS_CMD_HOLD, taskref_fields),
    SPEC(MS_CMD_CANCEL, taskref_fields),
    {MS_CMD_DRAIN, NULL, 0},
    SPEC(MS_CMD_BYE, text_fields),
    SPEC(MS_CMD_ERROR, text_fields),
    SPEC(MS_CMD_RUN, run_fields),
    SPEC(MS_CMD_RUN_STARTED, runref_fields),
    SPEC(MS_CMD_RUN_DONE, run_done_fields),
    {MS_CMD_STATUS, NULL, 0},
    SPEC(MS_CMD_STATUS_REPLY, json_fields),
    SPEC(MS_CMD_WAIT, runref_fields),
    SPEC(MS_CMD_PROGRESS, progress_fields),
    SPEC(MS_CMD_REPORT, runref_fields),
    SPEC(MS_CMD_HISTORY, history_fields),
    SPEC(MS_CMD_SNAPSHOTS, setref_fields),
    SPEC(MS_CMD_CANCEL_RUN, cancel_run_fields),
};

static const cmd_spec_t *find_spec(int cmd)
{
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        if (specs[i].cmd == cmd)
            return &specs[i];
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Checks shared by the encoder and the decoder.                          */

static int check_uint(const char *cmd, const field_t *f, uint64_t v, char *err, size_t errlen)
{
    if (f->kind == F_FLAGS && (v & ~f->max) != 0)
        return ms_errf(err, errlen, "%s: field '%s' has unknown bits 0x%" PRIx64, cmd, f->key,
                       v & ~f->max);
    if (f->kind != F_FLAGS && (v < f->min || v > f->max))
        return ms_errf(err, errlen, "%s: field '%s' is %" PRIu64 ", outside %" PRIu64 "..%" PRIu64,
                       cmd, f->key, v, f->min, f->max);
    return 0;
}

/* NaN and infinities would poison sums and orderings downstream. */
static int check_float(const char *cmd, const field_t *f, double v, char *err, size_t errlen)
{
    if (!isfinite(v))
        return ms_errf(err, errlen, "%s: field '%s' is not a finite number", cmd, f->key);
    return 0;
}

static int check_str(const char *cmd, const field_t *f, const char *s, size_t n, char *err,
                     size_t errlen)
{
    if (n > f->max)
        return ms_errf(err, errlen, "%s: field '%s' is %zu bytes long, over %" PRIu64, cmd, f->key,
                       n, f->max);
    if (n > 0 && memchr(s, '\0', n) != NULL)
        return ms_errf(err, errlen, "%s: field '%s' contains a NUL byte", cmd, f->key);
    return 0;
}

static void *field_ptr(ms_msg_t *m, const field_t *f)
{
    return (char *)m + f->off;
}

static const void *field_cptr(const ms_msg_t *m, const field_t *f)
{
    return (const char *)m + f->off;
}

static uint64_t load_uint(const ms_msg_t *m, const field_t *f)
{
    if (f->kind == F_U64)
        return *(const uint64_t *)field_cptr(m, f);
    return *(const uint32_t *)field_cptr(m, f);
}

/* The number of entries of a string list. */
static uint32_t *list_count(ms_msg_t *m, const field_t *f)
{
    return (uint32_t *)((char *)m + f->off_n);
}

static uint32_t load_count(const ms_msg_t *m, const field_t *f)
{
    return *(const uint32_t *)((const char *)m + f->off_n);
}

/* Each entry of a string list is checked as a string field of its own. */
static int check_strs(const char *cmd, const field_t *f, const ms_msg_t *m, char *err,
                      size_t errlen)
{
    char *const *list = *(char **const *)field_cptr(m, f);
    uint32_t n = load_count(m, f);

    if (n > MS_MAX_ITEMS)
        return ms_errf(err, errlen, "%s: field '%s' has %" PRIu32 " entries, over %d", cmd, f->key,
                       n, MS_MAX_ITEMS);
    for (uint32_t i = 0; i < n; i++) {
        if (list == NULL || list[i] == NULL)
            return ms_errf(err, errlen, "%s: field '%s' entry %" PRIu32 " missing", cmd, f->key, i);
        if (check_str(cmd, f, list[i], strlen(list[i]), err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Decoding.                                                              */

static int decode_uint(const char *cmd, const field_t *f, const msgpack_object *v, ms_msg_t *m,
                       char *err, size_t errlen)
{
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return ms_errf(err, errlen, "%s: field '%s' must not be negative", cmd, f->key);
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ms_errf(err, errlen, "%s: field '%s' must be an unsigned integer", cmd, f->key);
    if (check_uint(cmd, f, v->via.u64, err, errlen) < 0)
        return -1;
    if (f->kind == F_U64)
        *(uint64_t *)field_ptr(m, f) = v->via.u64;
    else
        *(uint32_t *)field_ptr(m, f) = (uint32_t)v->via.u64;
    return 0;
}

static int decode_int(const char *cmd, const field_t *f, const msgpack_object *v, ms_msg_t *m,
                      char *err, size_t errlen)
{
    int64_t x;

    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT32_MAX)
        x = (int64_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && v->via.i64 >= INT32_MIN)
        x = v->via.i64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
             v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return ms_errf(err, errlen, "%s: field '%s' does not fit in 32 bits", cmd, f->key);
    else
        return ms_errf(err, errlen, "%s: field '%s' must be an integer", cmd, f->key);
    *(int32_t *)field_ptr(m, f) = (int32_t)x;
    return 0;
}

static int decode_float(const char *cmd, const field_t *f, const msgpack_object *v, ms_msg_t *m,
                        char *err, size_t errlen)
{
    double x;

    if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
        x = v->via.f64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        x = (double)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        x = (double)v->via.i64;
    else
        return ms_errf(err, errlen, "%s: field '%s' must be a number", cmd, f->key);
    if (check_float(cmd, f, x, err, errlen) < 0)
        return -1;
    *(double *)field_ptr(m, f) = x;
    return 0;
}

static int dup_string(const char *cmd, const char *s, size_t n, char **out, char *err,
                      size_t errlen)
{
    *out = malloc(n + 1);
    if (*out == NULL)
        return ms_errf(err, errlen, "%s: out of memory", cmd);
    if (n > 0)
        memcpy(*out, s, n);
    (*out)[n] = '\0';
    return 0;
}

/* The bytes of a str or bin object; -1 for any other type. */
static int string_of(const msgpack_object *v, const char **s, size_t *n)
{
    if (v->type == MSGPACK_OBJECT_STR) {
        *s = v->via.str.ptr;
        *n = v->via.str.size;
    } else if (v->type == MSGPACK_OBJECT_BIN) {
        *s = v->via.bin.ptr;
        *n = v->via.bin.size;
    } else {
        return -1;
    }
    return 0;
}

static int decode_str(const char *cmd, const field_t *f, const msgpack_object *v, ms_msg_t *m,
                      char *err, size_t errlen)
{
    const char *s;
    size_t n;

    if (string_of(v, &s, &n) < 0)
        return ms_errf(err, errlen, "%s: field '%s' must be a string", cmd, f->key);
    if (check_str(cmd, f, s, n, err, errlen) < 0)
        return -1;
    return dup_string(cmd, s, n, (char **)field_ptr(m, f), err, errlen);
}

/*
 * The list goes into m at once and its count grows with each string copied,
 * so that on any error ms_msg_clear() frees exactly what was decoded. An
 * empty array decodes as no list at all (NULL, 0), as an absent key does.
 */
static int decode_strs(const char *cmd, const field_t *f, const msgpack_object *v, ms_msg_t *m,
                       char *err, size_t errlen)
{
    char ***list = field_ptr(m, f);
    uint32_t *count = list_count(m, f);
    const char *s;
    size_t n;

    if (v->type != MSGPACK_OBJECT_ARRAY)
        return ms_errf(err, errlen, "%s: field '%s' must be an array of strings", cmd, f->key);
    if (v->via.array.size > MS_MAX_ITEMS)
        return ms_errf(err, errlen, "%s: field '%s' has %" PRIu32 " entries, over %d", cmd, f->key,
                       v->via.array.size, MS_MAX_ITEMS);
    if (v->via.array.size == 0)
        return 0;
    if ((*list = calloc(v->via.array.size, sizeof(**list))) == NULL)
        return ms_errf(err, errlen, "%s: out of memory", cmd);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        if (string_of(&v->via.array.ptr[i], &s, &n) < 0)
            return ms_errf(err, errlen, "%s: field '%s' entry %" PRIu32 " must be a string", cmd,
                           f->key, i);
        if (check_str(cmd, f, s, n, err, errlen) < 0 ||
            dup_string(cmd, s, n, &(*list)[i], err, errlen) < 0)
            return -1;
        (*count)++;
    }
    return 0;
}

static int decode_field(const char *cmd, const field_t *f, const msgpack_object *v, ms_msg_t *m,
                        char *err, size_t errlen)
{
    switch (f->kind) {
    case F_U32:
    case F_U64:
    case F_FLAGS:
        return decode_uint(cmd, f, v, m, err, errlen);
    case F_I32:
        return decode_int(cmd, f, v, m, err, errlen);
    case F_F64:
        return decode_float(cmd, f, v, m, err, errlen);
    case F_STR:
        return decode_str(cmd, f, v, m, err, errlen);
    case F_STRS:
        return decode_strs(cmd, f, v, m, err, errlen);
    }
    return ms_errf(err, errlen, "%s: field '%s' has no decoder", cmd, f->key);
}

/* Index of key in cs->fields, cs->n when unknown, -1 when it is not a str. */
static long key_index(const cmd_spec_t *cs, const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return -1;
    for (size_t i = 0; i < cs->n; i++) {
        const char *k = cs->fields[i].key;
        if (strlen(k) == key->via.str.size && memcmp(k, key->via.str.ptr, key->via.str.size) == 0)
            return (long)i;
    }
    return (long)cs->n;
}

/* After the map: required fields present, defaults for the optional ones. */
static int finish_fields(const cmd_spec_t *cs, uint32_t seen, ms_msg_t *m, char *err, size_t errlen)
{
    const char *cmd = ms_cmd_name(cs->cmd);

    for (size_t i = 0; i < cs->n; i++) {
        const field_t *f = &cs->fields[i];
        if (seen & (1u << i))
            continue;
        if (f->need == F_REQ)
            return ms_errf(err, errlen, "%s: field '%s' missing", cmd, f->key);
        if ((f->need == F_OPT_EMPTY || f->need == F_OPT_BLANK) &&
            dup_string(cmd, "", 0, field_ptr(m, f), err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int decode_map(const cmd_spec_t *cs, const msgpack_object *obj, ms_msg_t *m, char *err,
                      size_t errlen)
{
    const char *cmd = ms_cmd_name(cs->cmd);
    uint32_t seen = 0;

    if (obj->type != MSGPACK_OBJECT_MAP)
        return ms_errf(err, errlen, "%s: body must be a map", cmd);
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        long k = key_index(cs, &kv->key);
        if (k < 0)
            return ms_errf(err, errlen, "%s: key %" PRIu32 " is not a string", cmd, i);
        if ((size_t)k == cs->n)
            continue; /* a newer peer's field: ignore it */
        if (seen & (1u << k))
            return ms_errf(err, errlen, "%s: field '%s' repeated", cmd, cs->fields[k].key);
        seen |= 1u << k;
        if (decode_field(cmd, &cs->fields[k], &kv->val, m, err, errlen) < 0)
            return -1;
    }
    return finish_fields(cs, seen, m, err, errlen);
}

int ms_batchable(int cmd)
{
    switch (cmd) {
    case MS_CMD_READY:
    case MS_CMD_TASK:
    case MS_CMD_RESULT:
    case MS_CMD_PROGRESS:
    case MS_CMD_HOLD:
    case MS_CMD_CANCEL:
        return 1;
    default:
        return 0;
    }
}

/* The command of a BATCH element [cmd, body]; 0 when it is not one a batch
 * may carry. */
static int element_cmd(const msgpack_object *e)
{
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2 ||
        e->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        e->via.array.ptr[0].via.u64 > 0xff || !ms_batchable((int)e->via.array.ptr[0].via.u64))
        return 0;
    return (int)e->via.array.ptr[0].via.u64;
}

/* A BATCH: each element decoded as its command alone would be. On failure
 * the caller clears m, and with it the elements decoded so far. */
static int decode_batch(const msgpack_object *obj, ms_msg_t *m, char *err, size_t errlen)
{
    char why[512];
    if (obj->type != MSGPACK_OBJECT_ARRAY)
        return ms_errf(err, errlen, "BATCH: body must be an array");
    uint32_t n = obj->via.array.size;
    if (n < 1 || n > MS_MAX_BATCH)
        return ms_errf(err, errlen, "BATCH: %" PRIu32 " messages (1..%d)", n, MS_MAX_BATCH);
    m->u.batch.msgs = calloc(n, sizeof *m->u.batch.msgs);
    if (m->u.batch.msgs == NULL)
        return ms_errf(err, errlen, "BATCH: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *e = &obj->via.array.ptr[i];
        int cmd = element_cmd(e);
        if (cmd == 0)
            return ms_errf(err, errlen,
                           "BATCH: message %" PRIu32 " is not [command, body] of a command "
                           "a batch may carry",
                           i);
        m->u.batch.n = i + 1;
        m->u.batch.msgs[i].cmd = cmd;
        if (decode_map(find_spec(cmd), &e->via.array.ptr[1], &m->u.batch.msgs[i], why, sizeof why) <
            0)
            return ms_errf(err, errlen, "BATCH: message %" PRIu32 ": %s", i, why);
    }
    return 0;
}

int ms_msg_decode(int cmd, const void *body, size_t len, ms_msg_t *m, char *err, size_t errlen)
{
    const cmd_spec_t *cs = find_spec(cmd);
    msgpack_unpacked up;
    msgpack_unpack_return ur;
    size_t off = 0;
    char why[128];
    int rc = -1;

    if (m == NULL)
        return ms_errf(err, errlen, "%s: no message to fill", ms_cmd_name(cmd));
    memset(m, 0, sizeof(*m));
    if (cs == NULL && cmd != MS_CMD_BATCH)
        return ms_errf(err, errlen, "unknown command %d", cmd);
    if (ms_mp_check(body, len, MS_MP_MAX_DEPTH, why, sizeof(why)) < 0)
        return ms_errf(err, errlen, "%s: %s", ms_cmd_name(cmd), why);
    m->cmd = cmd;
    msgpack_unpacked_init(&up);
    ur = msgpack_unpack_next(&up, body, len, &off);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        ms_errf(err, errlen, "%s: body does not unpack (msgpack error %d)", ms_cmd_name(cmd), ur);
    else if (cmd == MS_CMD_BATCH)
        rc = decode_batch(&up.data, m, err, errlen);
    else
        rc = decode_map(cs, &up.data, m, err, errlen);
    msgpack_unpacked_destroy(&up);
    if (rc < 0)
        ms_msg_clear(m);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Encoding.                                                              */

static int validate_field(const char *cmd, const field_t *f, const ms_msg_t *m, char *err,
                          size_t errlen)
{
    const char *s;

    switch (f->kind) {
    case F_U32:
    case F_U64:
    case F_FLAGS:
        return check_uint(cmd, f, load_uint(m, f), err, errlen);
    case F_F64:
        return check_float(cmd, f, *(const double *)field_cptr(m, f), err, errlen);
    case F_STR:
        s = *(char *const *)field_cptr(m, f);
        if (s == NULL && f->need == F_REQ)
            return ms_errf(err, errlen, "%s: field '%s' missing", cmd, f->key);
        return s == NULL ? 0 : check_str(cmd, f, s, strlen(s), err, errlen);
    case F_STRS:
        return check_strs(cmd, f, m, err, errlen);
    case F_I32:
        break;
    }
    return 0;
}

static int omitted(const field_t *f, const ms_msg_t *m)
{
    const char *s;

    if (f->kind == F_STRS)
        return load_count(m, f) == 0;
    if (f->need == F_OPT_ZERO && f->kind == F_F64)
        return *(const double *)field_cptr(m, f) == 0.0;
    if (f->need == F_OPT_ZERO)
        return load_uint(m, f) == 0;
    if (f->kind != F_STR)
        return 0;
    s = *(char *const *)field_cptr(m, f);
    return (f->need == F_OPT_NULL && s == NULL) ||
           (f->need == F_OPT_BLANK && (s == NULL || s[0] == '\0'));
}

static int pack_bin(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);

    if (msgpack_pack_bin(pk, n) < 0)
        return -1;
    return msgpack_pack_bin_body(pk, s, n);
}

static int pack_strs(msgpack_packer *pk, const field_t *f, const ms_msg_t *m)
{
    char *const *list = *(char **const *)field_cptr(m, f);
    uint32_t n = load_count(m, f);

    if (msgpack_pack_array(pk, n) < 0)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (pack_bin(pk, list[i]) < 0)
            return -1;
    return 0;
}

static int pack_value(msgpack_packer *pk, const field_t *f, const ms_msg_t *m)
{
    const char *s;

    switch (f->kind) {
    case F_U32:
    case F_U64:
    case F_FLAGS:
        return msgpack_pack_uint64(pk, load_uint(m, f));
    case F_I32:
        return msgpack_pack_int32(pk, *(const int32_t *)field_cptr(m, f));
    case F_F64:
        return msgpack_pack_double(pk, *(const double *)field_cptr(m, f));
    case F_STR:
        s = *(char *const *)field_cptr(m, f);
        return pack_bin(pk, s != NULL ? s : "");
    case F_STRS:
        return pack_strs(pk, f, m);
    }
    return -1;
}

static int pack_fields(const cmd_spec_t *cs, const ms_msg_t *m, msgpack_packer *pk)
{
    size_t count = 0;

    for (size_t i = 0; i < cs->n; i++)
        count += !omitted(&cs->fields[i], m);
    if (msgpack_pack_map(pk, count) < 0)
        return -1;
    for (size_t i = 0; i < cs->n; i++) {
        const field_t *f = &cs->fields[i];
        size_t klen = strlen(f->key);
        if (omitted(f, m))
            continue;
        if (msgpack_pack_str(pk, klen) < 0 || msgpack_pack_str_body(pk, f->key, klen) < 0 ||
            pack_value(pk, f, m) < 0)
            return -1;
    }
    return 0;
}

/* Check m's fields against its command's table. */
static int validate_msg(const cmd_spec_t *cs, const ms_msg_t *m, char *err, size_t errlen)
{
    const char *cmd = ms_cmd_name(cs->cmd);
    for (size_t i = 0; i < cs->n; i++) {
        if (!omitted(&cs->fields[i], m) && validate_field(cmd, &cs->fields[i], m, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* A BATCH's array: each element [cmd, body]. */
static int pack_batch(const ms_msg_t *m, msgpack_packer *pk, char *err, size_t errlen)
{
    const ms_batch_t *b = &m->u.batch;
    if (b->n < 1 || b->n > MS_MAX_BATCH)
        return ms_errf(err, errlen, "BATCH: %" PRIu32 " messages (1..%d)", b->n, MS_MAX_BATCH);
    for (uint32_t i = 0; i < b->n; i++) {
        const cmd_spec_t *cs = find_spec(b->msgs[i].cmd);
        if (!ms_batchable(b->msgs[i].cmd))
            return ms_errf(err, errlen, "BATCH: %s cannot travel in a batch",
                           ms_cmd_name(b->msgs[i].cmd));
        if (validate_msg(cs, &b->msgs[i], err, errlen) < 0)
            return -1;
    }
    if (msgpack_pack_array(pk, b->n) < 0)
        return ms_errf(err, errlen, "BATCH: out of memory");
    for (uint32_t i = 0; i < b->n; i++) {
        if (msgpack_pack_array(pk, 2) < 0 ||
            msgpack_pack_uint32(pk, (uint32_t)b->msgs[i].cmd) < 0 ||
            pack_fields(find_spec(b->msgs[i].cmd), &b->msgs[i], pk) < 0)
            return ms_errf(err, errlen, "BATCH: out of memory");
    }
    return 0;
}

int ms_msg_encode(const ms_msg_t *m, char **out, size_t *outlen, char *err, size_t errlen)
{
    const cmd_spec_t *cs = m != NULL ? find_spec(m->cmd) : NULL;
    const char *cmd = m != NULL ? ms_cmd_name(m->cmd) : "?";
    msgpack_sbuffer sb;
    msgpack_packer pk;

    *out = NULL;
    *outlen = 0;
    if (cs == NULL && (m == NULL || m->cmd != MS_CMD_BATCH))
        return ms_errf(err, errlen, "unknown command %d", m != NULL ? m->cmd : -1);
    if (cs != NULL && validate_msg(cs, m, err, errlen) < 0)
        return -1;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (cs == NULL ? pack_batch(m, &pk, err, errlen) < 0 : pack_fields(cs, m, &pk) < 0) {
        msgpack_sbuffer_destroy(&sb);
        if (cs != NULL)
            ms_errf(err, errlen, "%s: out of memory", cmd);
        return -1;
    }
    *outlen = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* A BATCH built message by message.                                      */

static int batch_write(void *data, const char *buf, size_t len)
{
    ms_batch_buf_t *b = data;
    if (b->cap - b->len < len) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap - b->len < len)
            ncap *= 2;
        char *nb = realloc(b->buf, ncap);
        if (nb == NULL)
            return -1;
        b->buf = nb;
        b->cap = ncap;
    }
    memcpy(b->buf + b->len, buf, len);
    b->len += len;
    return 0;
}

int ms_batch_add(ms_batch_buf_t *b, const ms_msg_t *m, char *err, size_t errlen)
{
    const cmd_spec_t *cs = find_spec(m->cmd);
    msgpack_packer pk;
    if (!ms_batchable(m->cmd))
        return ms_errf(err, errlen, "%s cannot travel in a batch", ms_cmd_name(m->cmd));
    if (b->n >= MS_MAX_BATCH)
        return 1;
    if (validate_msg(cs, m, err, errlen) < 0)
        return -1;
    static const char room[MS_BATCH_HEAD]; /* for the header */
    if (b->n == 0) {
        b->len = 0;
        if (batch_write(b, room, sizeof room) < 0)
            return ms_errf(err, errlen, "%s: out of memory", ms_cmd_name(m->cmd));
    }
    size_t before = b->len;
    msgpack_packer_init(&pk, b, batch_write);
    if (msgpack_pack_array(&pk, 2) < 0 || msgpack_pack_uint32(&pk, (uint32_t)m->cmd) < 0) {
        b->len = b->n ? before : 0;
        return ms_errf(err, errlen, "%s: out of memory", ms_cmd_name(m->cmd));
    }
    size_t body = b->len;
    if (pack_fields(cs, m, &pk) < 0) {
        b->len = b->n ? before : 0;
        return ms_errf(err, errlen, "%s: out of memory", ms_cmd_name(m->cmd));
    }
    /* The whole body: the elements and at most 3 bytes of header. */
    if (b->n > 0 && b->len - MS_BATCH_HEAD + 3 > MS_MAX_FRAME_BYTES) {
        b->len = before;
        return 1;
    }
    if (b->n == 0) {
        b->cmd0 = m->cmd;
        b->body0 = body;
    }
    b->n++;
    return 0;
}

const char *ms_batch_body(ms_batch_buf_t *b, int *cmd, size_t *len)
{
    if (b->n == 1) {
        *cmd = b->cmd0;
        *len = b->len - b->body0;
        return b->buf + b->body0;
    }
    /* MS_MAX_BATCH < 65536: a fixarray (1 byte) or an array 16 (3 bytes). */
    unsigned char head[3];
    size_t hlen = 1;
    if (b->n < 16) {
        head[0] = (unsigned char)(0x90 | b->n);
    } else {
        head[0] = 0xdc;
        head[1] = (unsigned char)(b->n >> 8);
        head[2] = (unsigned char)(b->n & 0xff);
        hlen = 3;
    }
    char *start = b->buf + MS_BATCH_HEAD - hlen;
    memcpy(start, head, hlen);
    *cmd = MS_CMD_BATCH;
    *len = b->len - (MS_BATCH_HEAD - hlen);
    return start;
}

void ms_batch_reset(ms_batch_buf_t *b)
{
    b->len = 0;
    b->n = 0;
}

void ms_batch_free(ms_batch_buf_t *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* ---------------------------------------------------------------------- */

static void clear_task(ms_task_t *t)
{
    free(t->project);
    free(t->source);
    free(t->dest);
    free(t->sub);
    free(t->snap);
    free(t->link);
    ms_strv_free(t->items, t->n_items);
    ms_strv_free(t->excl, t->n_excl);
    ms_strv_free(t->match, t->n_match);
    ms_strv_free(t->xmatch, t->n_xmatch);
}

void ms_msg_clear(ms_msg_t *m)
{
    if (m == NULL)
        return;
    switch (m->cmd) {
    case MS_CMD_HELLO:
        free(m->u.hello.name);
        free(m->u.hello.rsync);
        free(m->u.hello.opts);
        break;
    case MS_CMD_TASK:
        clear_task(&m->u.task);
        break;
    case MS_CMD_RESULT:
        free(m->u.result.message);
        break;
    case MS_CMD_BYE:
    case MS_CMD_ERROR:
        free(m->u.text.message);
        break;
    case MS_CMD_RUN:
        free(m->u.run.source);
        free(m->u.run.dest);
        free(m->u.run.set);
        free(m->u.run.snapshot);
        free(m->u.run.path);
        break;
    case MS_CMD_SNAPSHOTS:
        free(m->u.setref.set);
        break;
    case MS_CMD_RUN_STARTED:
    case MS_CMD_RUN_DONE:
    case MS_CMD_WAIT:
    case MS_CMD_REPORT:
    case MS_CMD_CANCEL_RUN:
        free(m->u.runref.report);
        break;
    case MS_CMD_STATUS_REPLY:
        free(m->u.json.json);
        break;
    case MS_CMD_HEARTBEAT:
        free(m->u.heartbeat.cores);
        break;
    case MS_CMD_BATCH:
        for (uint32_t i = 0; m->u.batch.msgs && i < m->u.batch.n; i++)
            ms_msg_clear(&m->u.batch.msgs[i]);
        free(m->u.batch.msgs);
        break;
    default:
        break;
    }
    memset(m, 0, sizeof(*m));
}

int ms_proto_check(const void *frame, size_t len, int *version)
{
    const unsigned char *p = frame;

    if (p == NULL || len != MS_PROTO_FRAME_LEN || memcmp(p, MS_PROTO_ID, MS_PROTO_ID_LEN) != 0)
        return -1;
    if (p[MS_PROTO_ID_LEN] != MS_PROTO_VERSION) {
        if (version != NULL)
            *version = p[MS_PROTO_ID_LEN];
        return -2;
    }
    return 0;
}
