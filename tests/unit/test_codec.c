/*
 * test_codec.c - the message codec: round trips of every command, and the
 * ways a peer can send bad bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ms_codec.h"
#include "ms_keep.h"
#include "ms_proto.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------- */
/* Helpers                                                                */

static void assert_zeroed(const ms_msg_t *m)
{
    ms_msg_t zero;

    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(m, &zero, sizeof(zero));
}

/* Decode from an exact-size heap copy, so that ASan sees any over-read. */
static int decode_copy(int cmd, const void *buf, size_t len, ms_msg_t *m, char *err, size_t errlen)
{
    void *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, buf, len);
    rc = ms_msg_decode(cmd, copy, len, m, err, errlen);
    free(copy);
    return rc;
}

/* Decoding must fail, leave m zeroed and, if why is given, say it. */
static void expect_reject(int cmd, const void *buf, size_t len, const char *why)
{
    ms_msg_t m;
    char err[256] = "";

    memset(&m, 0xa5, sizeof(m));
    assert_int_equal(decode_copy(cmd, buf, len, &m, err, sizeof(err)), -1);
    assert_zeroed(&m);
    assert_true(err[0] != '\0');
    if (why != NULL && strstr(err, why) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, why);
}

static void expect_accept(int cmd, const void *buf, size_t len, ms_msg_t *m)
{
    char err[256] = "";

    if (decode_copy(cmd, buf, len, m, err, sizeof(err)) != 0)
        fail_msg("decode of %s failed: %s", ms_cmd_name(cmd), err);
    assert_int_equal(m->cmd, cmd);
}

static void encode_ok(const ms_msg_t *in, char **buf, size_t *len)
{
    char err[256] = "";

    if (ms_msg_encode(in, buf, len, err, sizeof(err)) != 0)
        fail_msg("encode of %s failed: %s", ms_cmd_name(in->cmd), err);
}

/* Encode then decode; the caller clears the result. */
static void round_trip(const ms_msg_t *in, ms_msg_t *out)
{
    char *buf;
    size_t len;

    encode_ok(in, &buf, &len);
    expect_accept(in->cmd, buf, len, out);
    free(buf);
}

static void expect_encode_fails(const ms_msg_t *in, const char *why)
{
    char *buf = (char *)1;
    size_t len = 1;
    char err[256] = "";

    assert_int_equal(ms_msg_encode(in, &buf, &len, err, sizeof(err)), -1);
    assert_null(buf);
    if (strstr(err, why) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, why);
}

/* A body written by hand, field by field, the way a hostile peer could. */
typedef enum { V_UINT, V_INT, V_DBL, V_F32, V_BIN, V_STR, V_NIL, V_BOOL, V_ARRAY, V_RAW } vkind_t;

typedef struct {
    const char *key;
    vkind_t kind;
    uint64_t u;
    int64_t i;
    double d;
    const char *s;
} kv_t;

/* clang-format off */
#define KU(k, v) {k, V_UINT, v, 0, 0, NULL}
#define KI(k, v) {k, V_INT, 0, v, 0, NULL}
#define KD(k, v) {k, V_DBL, 0, 0, v, NULL}
#define KF(k, v) {k, V_F32, 0, 0, v, NULL}
#define KB(k, v) {k, V_BIN, 0, 0, 0, v}
#define KS(k, v) {k, V_STR, 0, 0, 0, v}
#define KNIL(k) {k, V_NIL, 0, 0, 0, NULL}
#define KBOOL(k) {k, V_BOOL, 0, 0, 0, NULL}
#define KARR(k) {k, V_ARRAY, 0, 0, 0, NULL}
#define KRAW(k, sb) {k, V_RAW, (sb).size, 0, 0, (sb).data} /* msgpack bytes, as they are */
/* clang-format on */

static void pack_value(msgpack_packer *pk, const kv_t *kv)
{
    size_t n = kv->kind == V_RAW ? (size_t)kv->u : kv->s != NULL ? strlen(kv->s) : 0;

    switch (kv->kind) {
    case V_UINT:
        msgpack_pack_uint64(pk, kv->u);
        break;
    case V_INT:
        msgpack_pack_int64(pk, kv->i);
        break;
    case V_DBL:
        msgpack_pack_double(pk, kv->d);
        break;
    case V_F32:
        msgpack_pack_float(pk, (float)kv->d);
        break;
    case V_BIN:
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, kv->s, n);
        break;
    case V_STR:
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, kv->s, n);
        break;
    case V_NIL:
        msgpack_pack_nil(pk);
        break;
    case V_BOOL:
        msgpack_pack_true(pk);
        break;
    case V_ARRAY:
        msgpack_pack_array(pk, 1);
        msgpack_pack_nil(pk);
        break;
    case V_RAW:
        pk->callback(pk->data, kv->s, n);
        break;
    }
}

/* sb = a msgpack array of the n strings v, as bin; a NULL entry is packed as nil. */
static void pack_strs(msgpack_sbuffer *sb, const char *const *v, size_t n)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL) {
            msgpack_pack_nil(&pk);
            continue;
        }
        msgpack_pack_bin(&pk, strlen(v[i]));
        msgpack_pack_bin_body(&pk, v[i], strlen(v[i]));
    }
}

/*
 * Pack kvs as a map, leaving out the key omit and packing *swap in place of
 * the entry with the same key (or appending it when no entry has that key).
 */
static void pack_map(msgpack_sbuffer *sb, const kv_t *kvs, size_t n, const char *omit,
                     const kv_t *swap)
{
    msgpack_packer pk;
    size_t count = 0;
    int swapped = 0;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (size_t i = 0; i < n; i++) {
        count += omit == NULL || strcmp(kvs[i].key, omit) != 0;
        swapped |= swap != NULL && strcmp(kvs[i].key, swap->key) == 0;
    }
    msgpack_pack_map(&pk, count + (swap != NULL && !swapped));
    for (size_t i = 0; i < n; i++) {
        const kv_t *kv = &kvs[i];
        if (omit != NULL && strcmp(kv->key, omit) == 0)
            continue;
        if (swap != NULL && strcmp(kv->key, swap->key) == 0)
            kv = swap;
        msgpack_pack_str(&pk, strlen(kv->key));
        msgpack_pack_str_body(&pk, kv->key, strlen(kv->key));
        pack_value(&pk, kv);
    }
    if (swap != NULL && !swapped) {
        msgpack_pack_str(&pk, strlen(swap->key));
        msgpack_pack_str_body(&pk, swap->key, strlen(swap->key));
        pack_value(&pk, swap);
    }
}

/* A valid body for each command that has fields. */
static const kv_t hello_kvs[] = {KB("name", "w1"), KU("slots", 4)};
static const kv_t ready_kvs[] = {KU("credit", 2)};
/* clang-format off */
static const kv_t task_kvs[] = {
    KU("run", 7),          KU("task", 42),          KU("attempt", 1),         KU("flags", 0),
    KB("project", "alpha"), KB("source", "/data/prod"), KB("dest", "backup:/srv/prod"),
};
/* clang-format on */
/* clang-format off */
static const kv_t result_kvs[] = {
    KU("run", 7),     KU("task", 42),     KU("attempt", 1),    KI("exit", 0),
    KI("signal", 0),  KD("secs", 1.5),    KU("files", 10),     KU("btotal", 1000),
    KU("bxfer", 500), KD("cpu_u", 0.5),   KD("cpu_s", 0.25),   KU("rss", 2048),
    KU("rd", 4096),   KU("wr", 8192),     KB("msg", "rsync: some files vanished"),
};
/* clang-format on */
static const kv_t text_kvs[] = {KB("message", "shutting down")};
static const kv_t runref_kvs[] = {KU("run", 3)};
static const kv_t run_done_kvs[] = {KU("run", 3), KB("report", "{\"tasks\":12}")};
static const kv_t json_kvs[] = {KB("json", "{\"workers\":[]}")};

typedef struct {
    int cmd;
    const kv_t *kvs;
    size_t n;
} valid_body_t;

/* clang-format off */
#define VB(cmd, kvs) {cmd, kvs, ARRAY_LEN(kvs)}
/* clang-format on */

static const valid_body_t valid_bodies[] = {
    VB(MS_CMD_HELLO, hello_kvs),        VB(MS_CMD_READY, ready_kvs),
    VB(MS_CMD_TASK, task_kvs),          VB(MS_CMD_RESULT, result_kvs),
    VB(MS_CMD_BYE, text_kvs),           VB(MS_CMD_ERROR, text_kvs),
    VB(MS_CMD_RUN_STARTED, runref_kvs), VB(MS_CMD_RUN_DONE, run_done_kvs),
    VB(MS_CMD_STATUS_REPLY, json_kvs),  VB(MS_CMD_WAIT, runref_kvs),
    VB(MS_CMD_CANCEL_RUN, runref_kvs),
};

static const valid_body_t *valid_body(int cmd)
{
    for (size_t i = 0; i < ARRAY_LEN(valid_bodies); i++) {
        if (valid_bodies[i].cmd == cmd)
            return &valid_bodies[i];
    }
    fail_msg("no valid body for %s", ms_cmd_name(cmd));
    return NULL;
}

/* Decode cmd's valid body with one field swapped for *swap. */
static void expect_swap_rejected(int cmd, const kv_t *swap, const char *why)
{
    const valid_body_t *vb = valid_body(cmd);
    msgpack_sbuffer sb;

    pack_map(&sb, vb->kvs, vb->n, NULL, swap);
    expect_reject(cmd, sb.data, sb.size, why);
    msgpack_sbuffer_destroy(&sb);
}

static void accept_swap(int cmd, const kv_t *swap, ms_msg_t *m)
{
    const valid_body_t *vb = valid_body(cmd);
    msgpack_sbuffer sb;

    pack_map(&sb, vb->kvs, vb->n, NULL, swap);
    expect_accept(cmd, sb.data, sb.size, m);
    msgpack_sbuffer_destroy(&sb);
}

static ms_msg_t sample_task(const char *project)
{
    ms_msg_t m = {.cmd = MS_CMD_TASK};

    m.u.task.run_id = 7;
    m.u.task.task_id = UINT64_MAX;
    m.u.task.attempt = 3;
    m.u.task.flags = MS_TASK_TOP;
    m.u.task.project = (char *)project;
    m.u.task.source = "/data/prod";
    m.u.task.dest = "backup@nas:/srv/backup/prod";
    return m;
}

static ms_msg_t sample_result(void)
{
    ms_msg_t m = {.cmd = MS_CMD_RESULT};
    ms_result_t *r = &m.u.result;

    r->run_id = 7;
    r->task_id = 42;
    r->attempt = 2;
    r->exit_code = -1;
    r->term_signal = 9;
    r->seconds = 3725.25;
    r->files = 1234567;
    r->bytes_total = UINT64_MAX;
    r->bytes_transferred = 1ull << 40;
    r->cpu_user_s = 12.5;
    r->cpu_sys_s = 0.125;
    r->max_rss_kb = 65536;
    r->read_bytes = 5000000000ull;
    r->write_bytes = 0;
    r->message = "rsync: [sender] link_stat \"/data/prod/x\" failed: No such file (2)";
    return m;
}

/* ---------------------------------------------------------------------- */
/* Round trips                                                            */

static void test_hello_round_trips(void **state)
{
    ms_msg_t in = {.cmd = MS_CMD_HELLO}, out;

    (void)state;
    in.u.hello.name = "node-07.example.org";
    in.u.hello.slots = 4096;
    round_trip(&in, &out);
    assert_string_equal(out.u.hello.name, "node-07.example.org");
    assert_int_equal(out.u.hello.slots, 4096);
    assert_null(out.u.hello.rsync); /* an older worker says neither */
    assert_int_equal(out.u.hello.unconfined, 0);
    ms_msg_clear(&out);
    assert_zeroed(&out);
    in.u.hello.rsync = "rsync  version 3.2.7  protocol version 31";
    in.u.hello.unconfined = MS_UNCONFINED_SOURCE | MS_UNCONFINED_DEST;
    round_trip(&in, &out);
    assert_string_equal(out.u.hello.rsync, "rsync  version 3.2.7  protocol version 31");
    assert_int_equal(out.u.hello.unconfined, 3);
    ms_msg_clear(&out);
    in.u.hello.unconfined = 4;
    expect_encode_fails(&in, "unconfined");
}

static void test_ready_round_trips(void **state)
{
    ms_msg_t in = {.cmd = MS_CMD_READY}, out;

    (void)state;
    in.u.ready.credit = 1;
    round_trip(&in, &out);
    assert_int_equal(out.u.ready.credit, 1);
    ms_msg_clear(&out);
}

static void test_task_round_trips_with_awkward_project_names(void **state)
{
    static const char *names[] = {
        "my project", "-rf", "--delete", "Ünïcødé 日本", "bad\xff byte", "\xc3\x28", "",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        ms_msg_t in = sample_task(names[i]), out;
        round_trip(&in, &out);
        assert_int_equal(out.u.task.run_id, 7);
        assert_true(out.u.task.task_id == UINT64_MAX);
        assert_int_equal(out.u.task.attempt, 3);
        assert_int_equal(out.u.task.flags, MS_TASK_TOP);
        assert_string_equal(out.u.task.project, names[i]);
        assert_string_equal(out.u.task.source, in.u.task.source);
        assert_string_equal(out.u.task.dest, in.u.task.dest);
        ms_msg_clear(&out);
    }
}

static void test_result_round_trips_with_every_counter(void **state)
{
    ms_msg_t in = sample_result(), out;
    const ms_result_t *a = &in.u.result, *b = &out.u.result;

    (void)state;
    round_trip(&in, &out);
    assert_true(b->run_id == a->run_id && b->task_id == a->task_id);
    assert_int_equal(b->attempt, a->attempt);
    assert_int_equal(b->exit_code, -1);
    assert_int_equal(b->term_signal, 9);
    assert_true(b->seconds == a->seconds);
    assert_true(b->files == a->files && b->bytes_total == a->bytes_total);
    assert_true(b->bytes_transferred == a->bytes_transferred);
    assert_true(b->cpu_user_s == a->cpu_user_s && b->cpu_sys_s == a->cpu_sys_s);
    assert_true(b->max_rss_kb == a->max_rss_kb);
    assert_true(b->read_bytes == a->read_bytes && b->write_bytes == a->write_bytes);
    assert_string_equal(b->message, a->message);
    ms_msg_clear(&out);
}

static void test_result_without_message_arrives_with_empty_message(void **state)
{
    ms_msg_t in = sample_result(), out;
    const valid_body_t *vb = valid_body(MS_CMD_RESULT);
    msgpack_sbuffer sb;

    (void)state;
    in.u.result.message = NULL;
    round_trip(&in, &out);
    assert_string_equal(out.u.result.message, "");
    ms_msg_clear(&out);

    pack_map(&sb, vb->kvs, vb->n, "msg", NULL);
    expect_accept(MS_CMD_RESULT, sb.data, sb.size, &out);
    assert_string_equal(out.u.result.message, "");
    ms_msg_clear(&out);
    msgpack_sbuffer_destroy(&sb);
}

static void test_heartbeat_and_status_are_empty_maps(void **state)
{
    static const int cmds[] = {MS_CMD_HEARTBEAT, MS_CMD_STATUS, MS_CMD_DRAIN};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
        ms_msg_t in = {.cmd = cmds[i]}, out;
        char *buf;
        size_t len;
        encode_ok(&in, &buf, &len);
        assert_int_equal(len, 1);
        assert_int_equal((unsigned char)buf[0], 0x80);
        expect_accept(cmds[i], buf, len, &out);
        ms_msg_clear(&out);
        free(buf);
    }
}

static void test_heartbeat_round_trips_its_clock_ack_and_ttl(void **state)
{
    ms_msg_t in = {.cmd = MS_CMD_HEARTBEAT}, out;

    (void)state;
    in.u.heartbeat = (ms_heartbeat_t){.t = 123456789012ull, .ack = 42, .ttl_ms = 3000};
    round_trip(&in, &out);
    assert_int_equal(out.u.heartbeat.t, 123456789012ull);
    assert_int_equal(out.u.heartbeat.ack, 42);
    assert_int_equal(out.u.heartbeat.ttl_ms, 3000);
    ms_msg_clear(&out);
}

static void test_hold_and_cancel_round_trip_the_task_attempt(void **state)
{
    static const int cmds[] = {MS_CMD_HOLD, MS_CMD_CANCEL};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
        ms_msg_t in = {.cmd = cmds[i]}, out;
        in.u.taskref = (ms_taskref_t){.run_id = 9, .task_id = 4, .attempt = 2};
        round_trip(&in, &out);
        assert_int_equal(out.u.taskref.run_id, 9);
        assert_int_equal(out.u.taskref.task_id, 4);
        assert_int_equal(out.u.taskref.attempt, 2);
        ms_msg_clear(&out);
        in.u.taskref.attempt = 0; /* attempts start at 1 */
        expect_encode_fails(&in, "attempt");
    }
}

static void test_optional_numbers_round_trip_and_default_to_zero(void **state)
{
    ms_msg_t task = sample_task("p"), out;
    ms_msg_t bye = {.cmd = MS_CMD_BYE}, run = {.cmd = MS_CMD_RUN};

    (void)state;
    round_trip(&task, &out);
    assert_int_equal(out.u.task.timeout_s, 0);
    assert_string_equal(out.u.task.snap, ""); /* a mirror's task */
    assert_string_equal(out.u.task.link, "");
    ms_msg_clear(&out);
    task.u.task.timeout_s = 3600;
    task.u.task.snap = "2026-12-07T021500Z.partial";
    task.u.task.link = "2026-12-06T021500Z";
    round_trip(&task, &out);
    assert_int_equal(out.u.task.timeout_s, 3600);
    assert_string_equal(out.u.task.snap, "2026-12-07T021500Z.partial");
    assert_string_equal(out.u.task.link, "2026-12-06T021500Z");
    ms_msg_clear(&out);
    bye.u.text.message = "restarting";
    bye.u.text.reconnect = 1;
    round_trip(&bye, &out);
    assert_int_equal(out.u.text.reconnect, 1);
    ms_msg_clear(&out);
    run.u.run.set = "nightly";
    run.u.run.flags = MS_RUN_DELETE | MS_RUN_FORCE_DELETE;
    run.u.run.wait_s = 900;
    round_trip(&run, &out);
    assert_int_equal(out.u.run.flags, 3);
    assert_int_equal(out.u.run.wait_s, 900);
    ms_msg_clear(&out);
    run.u.run.flags = MS_RUN_SNAPSHOT;
    run.u.run.keep_daily = 7;
    run.u.run.keep_monthly = 12;
    round_trip(&run, &out);
    assert_int_equal(out.u.run.flags, MS_RUN_SNAPSHOT);
    assert_int_equal(out.u.run.keep_daily, 7);
    assert_int_equal(out.u.run.keep_monthly, 12);
    assert_int_equal(out.u.run.keep_last, 0);
    ms_msg_clear(&out);
    run.u.run.keep_yearly = MS_KEEP_MAX + 1;
    expect_encode_fails(&run, "keep_yearly");
    run.u.run.keep_yearly = 0;
    run.u.run.flags = MS_RUN_RESTORE | MS_RUN_FORCE;
    run.u.run.snapshot = "latest";
    run.u.run.path = "alpha/sub dir/file";
    round_trip(&run, &out);
    assert_string_equal(out.u.run.snapshot, "latest");
    assert_string_equal(out.u.run.path, "alpha/sub dir/file");
    ms_msg_clear(&out);
    ms_msg_t list = {.cmd = MS_CMD_SNAPSHOTS};
    list.u.setref.set = "nightly";
    round_trip(&list, &out);
    assert_string_equal(out.u.setref.set, "nightly");
    ms_msg_clear(&out);
    run.u.run.flags = 0x100; /* unknown run flags are refused */
    expect_encode_fails(&run, "flags");
    run.u.run.flags = 1;
    run.u.run.wait_s = MS_WORKER_WAIT_MAX_S + 1;
    expect_encode_fails(&run, "wait");
}

static void test_bye_and_error_round_trip_their_message(void **state)
{
    static const int cmds[] = {MS_CMD_BYE, MS_CMD_ERROR};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
        ms_msg_t in = {.cmd = cmds[i]}, out;
        in.u.text.message = "protocol version 2 not supported (this master speaks 1)";
        round_trip(&in, &out);
        assert_string_equal(out.u.text.message, in.u.text.message);
        ms_msg_clear(&out);
    }
}

static void test_run_round_trips_only_the_fields_given(void **state)
{
    ms_msg_t in = {.cmd = MS_CMD_RUN}, out;
    char *buf;
    size_t len;

    (void)state;
    in.u.run.set = "prod";
    encode_ok(&in, &buf, &len);
    assert_int_equal((unsigned char)buf[0], 0x81); /* a map of one key */
    expect_accept(MS_CMD_RUN, buf, len, &out);
    free(buf);
    assert_string_equal(out.u.run.set, "prod");
    assert_null(out.u.run.source);
    assert_null(out.u.run.dest);
    ms_msg_clear(&out);

    in.u.run.set = NULL;
    in.u.run.source = "/data/my prod";
    in.u.run.dest = "/mnt/backup/-prod";
    round_trip(&in, &out);
    assert_null(out.u.run.set);
    assert_string_equal(out.u.run.source, "/data/my prod");
    assert_string_equal(out.u.run.dest, "/mnt/backup/-prod");
    ms_msg_clear(&out);
}

static void test_run_started_wait_and_cancel_run_round_trip_the_run_id(void **state)
{
    static const int cmds[] = {MS_CMD_RUN_STARTED, MS_CMD_WAIT, MS_CMD_CANCEL_RUN};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cmds); i++) {
        ms_msg_t in = {.cmd = cmds[i]}, out;
        in.u.runref.run_id = 0xfedcba9876543210ull;
        round_trip(&in, &out);
        assert_true(out.u.runref.run_id == in.u.runref.run_id);
        assert_null(out.u.runref.report);
        ms_msg_clear(&out);
    }
}

static void test_run_done_and_status_reply_round_trip_their_json(void **state)
{
    const char *json = "{\"run\":3,\"tasks\":[{\"project\":\"caf\\u00e9\",\"secs\":1.5}]}";
    ms_msg_t done = {.cmd = MS_CMD_RUN_DONE}, reply = {.cmd = MS_CMD_STATUS_REPLY}, out;

    (void)state;
    done.u.runref.run_id = 3;
    done.u.runref.report = (char *)json;
    round_trip(&done, &out);
    assert_int_equal(out.u.runref.run_id, 3);
    assert_string_equal(out.u.runref.report, json);
    ms_msg_clear(&out);

    reply.u.json.json = (char *)json;
    round_trip(&reply, &out);
    assert_string_equal(out.u.json.json, json);
    ms_msg_clear(&out);
}

static void test_strings_travel_as_bin_and_keys_as_str(void **state)
{
    static const unsigned char want[] = {
        0x82, 0xa4, 'n', 'a', 'm', 'e', 0xc4, 0x02, 'w', '1', 0xa5, 's', 'l', 'o', 't', 's', 0x04,
    };
    ms_msg_t in = {.cmd = MS_CMD_HELLO};
    char *buf;
    size_t len;

    (void)state;
    in.u.hello.name = "w1";
    in.u.hello.slots = 4;
    encode_ok(&in, &buf, &len);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    free(buf);
}

static void test_string_fields_accept_str_as_well_as_bin(void **state)
{
    const kv_t project = KS("project", "beta gamma");
    ms_msg_t m;

    (void)state;
    accept_swap(MS_CMD_TASK, &project, &m);
    assert_string_equal(m.u.task.project, "beta gamma");
    ms_msg_clear(&m);
}

static void test_float_fields_accept_integers_and_float32(void **state)
{
    const kv_t secs = KU("secs", 3), cpu = KI("cpu_s", -1), f32 = KF("cpu_u", 1.5);
    ms_msg_t m;

    (void)state;
    accept_swap(MS_CMD_RESULT, &secs, &m);
    assert_true(m.u.result.seconds == 3.0);
    ms_msg_clear(&m);
    accept_swap(MS_CMD_RESULT, &cpu, &m);
    assert_true(m.u.result.cpu_sys_s == -1.0);
    ms_msg_clear(&m);
    accept_swap(MS_CMD_RESULT, &f32, &m);
    assert_true(m.u.result.cpu_user_s == 1.5);
    ms_msg_clear(&m);
}

static void test_int_fields_accept_the_whole_int32_range(void **state)
{
    const kv_t lo = KI("exit", INT32_MIN), hi = KU("signal", INT32_MAX);
    ms_msg_t m;

    (void)state;
    accept_swap(MS_CMD_RESULT, &lo, &m);
    assert_int_equal(m.u.result.exit_code, INT32_MIN);
    ms_msg_clear(&m);
    accept_swap(MS_CMD_RESULT, &hi, &m);
    assert_int_equal(m.u.result.term_signal, INT32_MAX);
    ms_msg_clear(&m);
}

static void test_unknown_keys_are_ignored(void **state)
{
    /* {"run": 5, "future": [1, {"a": nil}], "x": 0xc7 ext} as WAIT */
    static const unsigned char body[] = {
        0x83, 0xa3, 'r',  'u',  'n', 0x05, 0xa6, 'f', 'u',  't',  'u',  'r',  'e',
        0x92, 0x01, 0x81, 0xa1, 'a', 0xc0, 0xa1, 'x', 0xc7, 0x01, 0x07, 0xff,
    };
    ms_msg_t m;

    (void)state;
    expect_accept(MS_CMD_WAIT, body, sizeof(body), &m);
    assert_int_equal(m.u.runref.run_id, 5);
    ms_msg_clear(&m);
}

static void test_strings_at_their_limit_pass_and_one_more_byte_fails(void **state)
{
    char *name = malloc(MS_MAX_NAME + 2);
    ms_msg_t in = {.cmd = MS_CMD_HELLO}, out;
    kv_t swap = KB("name", NULL);

    (void)state;
    assert_non_null(name);
    memset(name, 'n', MS_MAX_NAME);
    name[MS_MAX_NAME] = '\0';
    in.u.hello.name = name;
    in.u.hello.slots = 1;
    round_trip(&in, &out);
    assert_int_equal(strlen(out.u.hello.name), MS_MAX_NAME);
    ms_msg_clear(&out);

    strcat(name, "n");
    expect_encode_fails(&in, "HELLO: field 'name' is 256 bytes long");
    swap.s = name;
    expect_swap_rejected(MS_CMD_HELLO, &swap, "HELLO: field 'name' is 256 bytes long");
    free(name);
}

/* ---------------------------------------------------------------------- */
/* Malformed input                                                        */

static void reject_every_prefix(const ms_msg_t *in)
{
    char *buf;
    size_t len;

    encode_ok(in, &buf, &len);
    for (size_t n = 0; n < len; n++)
        expect_reject(in->cmd, buf, n, NULL);
    free(buf);
}

static void test_every_truncation_of_a_task_is_rejected(void **state)
{
    ms_msg_t in = sample_task("my project");

    (void)state;
    reject_every_prefix(&in);
}

static void test_every_truncation_of_a_result_is_rejected(void **state)
{
    ms_msg_t in = sample_result();

    (void)state;
    reject_every_prefix(&in);
}

typedef struct {
    int cmd;
    kv_t swap;
    const char *why;
} bad_field_t;

static void test_fields_of_the_wrong_type_or_range_are_rejected(void **state)
{
    static const bad_field_t cases[] = {
        {MS_CMD_HELLO, KS("slots", "4"), "HELLO: field 'slots' must be an unsigned integer"},
        {MS_CMD_HELLO, KU("slots", 0), "HELLO: field 'slots' is 0, outside 1..4096"},
        {MS_CMD_HELLO, KU("slots", 5000), "HELLO: field 'slots' is 5000, outside 1..4096"},
        {MS_CMD_HELLO, KI("slots", -1), "HELLO: field 'slots' must not be negative"},
        {MS_CMD_HELLO, KU("name", 1), "HELLO: field 'name' must be a string"},
        {MS_CMD_READY, KU("credit", 0), "READY: field 'credit' is 0"},
        {MS_CMD_READY, KU("credit", 4097), "READY: field 'credit' is 4097"},
        {MS_CMD_READY, KD("credit", 1.0), "READY: field 'credit' must be an unsigned integer"},
        {MS_CMD_TASK, KU("project", 3), "TASK: field 'project' must be a string"},
        {MS_CMD_TASK, KI("run", -5), "TASK: field 'run' must not be negative"},
        {MS_CMD_TASK, KI("task", INT64_MIN), "TASK: field 'task' must not be negative"},
        {MS_CMD_TASK, KD("run", 1.0), "TASK: field 'run' must be an unsigned integer"},
        {MS_CMD_TASK, KU("attempt", 0), "TASK: field 'attempt' is 0"},
        {MS_CMD_TASK, KU("attempt", 1ull << 32), "TASK: field 'attempt' is 4294967296"},
        {MS_CMD_TASK, KU("flags", 256), "TASK: field 'flags' has unknown bits 0x100"},
        {MS_CMD_TASK, KNIL("flags"), "TASK: field 'flags' must be an unsigned integer"},
        {MS_CMD_TASK, KARR("source"), "TASK: field 'source' must be a string"},
        {MS_CMD_TASK, KBOOL("dest"), "TASK: field 'dest' must be a string"},
        {MS_CMD_RESULT, KS("exit", "0"), "RESULT: field 'exit' must be an integer"},
        {MS_CMD_RESULT, KU("exit", 1ull << 31), "RESULT: field 'exit' does not fit in 32 bits"},
        {MS_CMD_RESULT, KI("signal", (int64_t)INT32_MIN - 1), "field 'signal' does not fit"},
        {MS_CMD_RESULT, KS("secs", "1.5"), "RESULT: field 'secs' must be a number"},
        {MS_CMD_RESULT, KBOOL("cpu_u"), "RESULT: field 'cpu_u' must be a number"},
        {MS_CMD_RESULT, KD("secs", NAN), "RESULT: field 'secs' is not a finite number"},
        {MS_CMD_RESULT, KD("cpu_s", -INFINITY), "RESULT: field 'cpu_s' is not a finite"},
        {MS_CMD_RESULT, KI("files", -1), "RESULT: field 'files' must not be negative"},
        {MS_CMD_RESULT, KU("msg", 1), "RESULT: field 'msg' must be a string"},
        {MS_CMD_BYE, KNIL("message"), "BYE: field 'message' must be a string"},
        {MS_CMD_RUN_DONE, KU("report", 0), "RUN_DONE: field 'report' must be a string"},
        {MS_CMD_STATUS_REPLY, KD("json", 0), "STATUS_REPLY: field 'json' must be a string"},
        {MS_CMD_WAIT, KS("run", "3"), "WAIT: field 'run' must be an unsigned integer"},
        {MS_CMD_CANCEL_RUN, KI("run", -7), "CANCEL_RUN: field 'run' must not be negative"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        expect_swap_rejected(cases[i].cmd, &cases[i].swap, cases[i].why);
}

static void test_run_fields_of_the_wrong_type_are_rejected(void **state)
{
    static const kv_t kvs[] = {KB("source", "/a"), KU("set", 1)};
    msgpack_sbuffer sb;

    (void)state;
    pack_map(&sb, kvs, ARRAY_LEN(kvs), NULL, NULL);
    expect_reject(MS_CMD_RUN, sb.data, sb.size, "RUN: field 'set' must be a string");
    msgpack_sbuffer_destroy(&sb);
}

static void test_every_missing_required_field_is_named(void **state)
{
    char why[128];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid_bodies); i++) {
        const valid_body_t *vb = &valid_bodies[i];
        for (size_t k = 0; k < vb->n; k++) {
            msgpack_sbuffer sb;
            if (vb->cmd == MS_CMD_RESULT && strcmp(vb->kvs[k].key, "msg") == 0)
                continue; /* optional */
            snprintf(why, sizeof(why), "%s: field '%s' missing", ms_cmd_name(vb->cmd),
                     vb->kvs[k].key);
            pack_map(&sb, vb->kvs, vb->n, vb->kvs[k].key, NULL);
            expect_reject(vb->cmd, sb.data, sb.size, why);
            msgpack_sbuffer_destroy(&sb);
        }
    }
}

static void test_a_repeated_key_is_rejected(void **state)
{
    const valid_body_t *vb = valid_body(MS_CMD_TASK);
    kv_t kvs[ARRAY_LEN(task_kvs) + 1];
    msgpack_sbuffer sb;

    (void)state;
    memcpy(kvs, vb->kvs, sizeof(task_kvs));
    kvs[ARRAY_LEN(task_kvs)] = (kv_t)KB("project", "../../etc");
    pack_map(&sb, kvs, ARRAY_LEN(kvs), NULL, NULL);
    expect_reject(MS_CMD_TASK, sb.data, sb.size, "TASK: field 'project' repeated");
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_string_with_a_nul_byte_is_rejected(void **state)
{
    /* {"name": "w\0x"} as bin, then as str */
    unsigned char body[] = {0x82, 0xa4, 'n',  'a', 'm', 'e', 0xc4, 0x03, 'w',
                            0x00, 'x',  0xa5, 's', 'l', 'o', 't',  's',  0x01};

    (void)state;
    expect_reject(MS_CMD_HELLO, body, sizeof(body), "HELLO: field 'name' contains a NUL byte");
    body[6] = 0xd9; /* str8 */
    expect_reject(MS_CMD_HELLO, body, sizeof(body), "HELLO: field 'name' contains a NUL byte");
}

static void test_a_key_that_is_not_a_string_is_rejected(void **state)
{
    static const unsigned char int_key[] = {0x81, 0x01, 0x02};
    static const unsigned char bin_key[] = {0x81, 0xc4, 0x03, 'r', 'u', 'n', 0x02};

    (void)state;
    expect_reject(MS_CMD_WAIT, int_key, sizeof(int_key), "WAIT: key 0 is not a string");
    expect_reject(MS_CMD_WAIT, bin_key, sizeof(bin_key), "WAIT: key 0 is not a string");
}

static void test_a_body_that_is_not_a_map_is_rejected(void **state)
{
    static const unsigned char array[] = {0x91, 0x01}, number[] = {0x05}, nil[] = {0xc0};
    static const unsigned char str[] = {0xa3, 'r', 'u', 'n'};

    (void)state;
    expect_reject(MS_CMD_HEARTBEAT, array, sizeof(array), "HEARTBEAT: body must be a map");
    expect_reject(MS_CMD_HEARTBEAT, number, sizeof(number), "body must be a map");
    expect_reject(MS_CMD_STATUS, nil, sizeof(nil), "body must be a map");
    expect_reject(MS_CMD_WAIT, str, sizeof(str), "body must be a map");
    expect_reject(MS_CMD_HEARTBEAT, "", 0, "HEARTBEAT: truncated at offset 0");
}

static void test_trailing_bytes_after_a_valid_map_are_rejected(void **state)
{
    static const unsigned char two_maps[] = {0x80, 0x80}, junk[] = {0x81, 0xa1, 'x', 0x01, 0x00};

    (void)state;
    expect_reject(MS_CMD_HEARTBEAT, two_maps, sizeof(two_maps), "1 trailing bytes");
    expect_reject(MS_CMD_STATUS, junk, sizeof(junk), "1 trailing bytes");
}

static void test_huge_counts_are_rejected_before_msgpack_allocates(void **state)
{
    static const unsigned char array32[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char str32[] = {0x81, 0xa1, 'x', 0xdb, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char bin32[] = {0x81, 0xa1, 'x', 0xc6, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char ext32[] = {0x81, 0xa1, 'x', 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
    /* the dangerous one: an array32 hiding under a key the decoder ignores */
    static const unsigned char inner[] = {0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    /* a map needs two bytes per entry: 2 entries cannot fit in 3 bytes */
    static const unsigned char map16[] = {0xde, 0x00, 0x02, 0xa1, 'x', 0x01};

    (void)state;
    expect_reject(MS_CMD_HEARTBEAT, array32, sizeof(array32), "count 4294967295 at offset 0");
    expect_reject(MS_CMD_HEARTBEAT, map32, sizeof(map32), "count 4294967295 at offset 0");
    expect_reject(MS_CMD_HEARTBEAT, str32, sizeof(str32), "count 4294967295 at offset 3");
    expect_reject(MS_CMD_HEARTBEAT, bin32, sizeof(bin32), "count 4294967295 at offset 3");
    expect_reject(MS_CMD_HEARTBEAT, ext32, sizeof(ext32), "count 4294967295 at offset 3");
    expect_reject(MS_CMD_HEARTBEAT, inner, sizeof(inner), "exceeds the 1 bytes left");
    expect_reject(MS_CMD_HEARTBEAT, map16, sizeof(map16), "count 2 at offset 0");
}

/* {"x": [[...[1]...]]}: the map plus `arrays` arrays. */
static size_t nested_body(unsigned char *buf, size_t arrays)
{
    size_t n = 0;

    buf[n++] = 0x81;
    buf[n++] = 0xa1;
    buf[n++] = 'x';
    for (size_t i = 0; i < arrays; i++)
        buf[n++] = 0x91;
    buf[n++] = 0x01;
    return n;
}

static void test_nesting_deeper_than_the_limit_is_rejected(void **state)
{
    unsigned char buf[64];
    size_t len;
    ms_msg_t m;

    (void)state;
    len = nested_body(buf, MS_MP_MAX_DEPTH - 1); /* exactly at the limit */
    expect_accept(MS_CMD_HEARTBEAT, buf, len, &m);
    ms_msg_clear(&m);
    len = nested_body(buf, MS_MP_MAX_DEPTH);
    expect_reject(MS_CMD_HEARTBEAT, buf, len, "nesting deeper than 8");
    len = nested_body(buf, 40); /* deeper than msgpack-c's own stack */
    expect_reject(MS_CMD_HEARTBEAT, buf, len, "nesting deeper than 8");
}

static void test_byte_0xc1_is_rejected(void **state)
{
    static const unsigned char top[] = {0xc1}, inner[] = {0x81, 0xa1, 'x', 0xc1};

    (void)state;
    expect_reject(MS_CMD_HEARTBEAT, top, sizeof(top), "invalid byte 0xc1 at offset 0");
    expect_reject(MS_CMD_HEARTBEAT, inner, sizeof(inner), "invalid byte 0xc1 at offset 3");
}

static void test_an_unknown_command_is_rejected(void **state)
{
    static const unsigned char empty[] = {0x80};
    ms_msg_t m = {.cmd = 0x7f};

    (void)state;
    expect_reject(0x7f, empty, sizeof(empty), "unknown command 127");
    expect_reject(0, empty, sizeof(empty), "unknown command 0");
    expect_encode_fails(&m, "unknown command 127");
}

/* ---------------------------------------------------------------------- */
/* The walker alone                                                       */

/* An array16 holding one item of every msgpack format. */
/* clang-format off */
static const unsigned char every_format[] = {
    0xdc, 0x00, 36,
    0x05, 0xe0, 0xc0, 0xc2, 0xc3,                                     /* fixints, nil, bools */
    0xc4, 1, 'a', 0xc5, 0, 1, 'a', 0xc6, 0, 0, 0, 1, 'a',             /* bin8/16/32 */
    0xc7, 1, 5, 'a', 0xc8, 0, 1, 5, 'a', 0xc9, 0, 0, 0, 1, 5, 'a',    /* ext8/16/32 */
    0xca, 0x3f, 0xc0, 0, 0, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,       /* float32/64 */
    0xcc, 1, 0xcd, 0, 1, 0xce, 0, 0, 0, 1, 0xcf, 0, 0, 0, 0, 0, 0, 0, 1,
    0xd0, 0xff, 0xd1, 0xff, 0xff, 0xd2, 0xff, 0xff, 0xff, 0xff,
    0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xd4, 1, 0, 0xd5, 1, 0, 0, 0xd6, 1, 0, 0, 0, 0,                   /* fixext1/2/4 */
    0xd7, 1, 0, 0, 0, 0, 0, 0, 0, 0,                                  /* fixext8 */
    0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,          /* fixext16 */
    0xa1, 'a', 0xd9, 1, 'a', 0xda, 0, 1, 'a', 0xdb, 0, 0, 0, 1, 'a',  /* str */
    0x91, 0x01, 0xdc, 0, 1, 0x01, 0xdd, 0, 0, 0, 1, 0x01,             /* arrays */
    0x81, 0xa1, 'k', 0x01, 0xde, 0, 1, 0xa1, 'k', 0x01,               /* maps */
    0xdf, 0, 0, 0, 1, 0xa1, 'k', 0x01,
};
/* clang-format on */

static void test_walker_accepts_every_format_as_msgpack_c_does(void **state)
{
    msgpack_unpacked up;
    size_t off = 0;
    char err[128] = "";

    (void)state;
    if (ms_mp_check(every_format, sizeof(every_format), 2, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    msgpack_unpacked_init(&up);
    assert_int_equal(
        msgpack_unpack_next(&up, (const char *)every_format, sizeof(every_format), &off),
        MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sizeof(every_format));
    assert_int_equal(up.data.via.array.size, 36);
    msgpack_unpacked_destroy(&up);
}

static void test_walker_rejects_every_truncation_of_every_format(void **state)
{
    (void)state;
    for (size_t n = 0; n < sizeof(every_format); n++) {
        unsigned char *copy = malloc(n + 1);
        assert_non_null(copy);
        memcpy(copy, every_format, n);
        assert_int_equal(ms_mp_check(copy, n, 2, NULL, 0), -1);
        free(copy);
    }
}

static void test_walker_counts_depth_by_containers(void **state)
{
    static const unsigned char scalar[] = {0x01}, one[] = {0x90}, two[] = {0x91, 0x80};

    (void)state;
    assert_int_equal(ms_mp_check(scalar, sizeof(scalar), 0, NULL, 0), 0);
    assert_int_equal(ms_mp_check(one, sizeof(one), 0, NULL, 0), -1);
    assert_int_equal(ms_mp_check(one, sizeof(one), 1, NULL, 0), 0);
    assert_int_equal(ms_mp_check(two, sizeof(two), 1, NULL, 0), -1);
    assert_int_equal(ms_mp_check(two, sizeof(two), 2, NULL, 0), 0);
    assert_int_equal(ms_mp_check(scalar, sizeof(scalar), -1, NULL, 0), -1);
    assert_int_equal(ms_mp_check(scalar, sizeof(scalar), 1000, NULL, 0), -1);
}

/* ---------------------------------------------------------------------- */
/* A split project's fields: sub, items, excl, match, xmatch              */

static const char *const list_keys[] = {"items", "excl", "match", "xmatch"};

/* The list of t named key; *n points to its count. */
static char ***task_list(ms_task_t *t, const char *key, uint32_t **n)
{
    char **const lists[] = {(char **)&t->items, (char **)&t->excl, (char **)&t->match,
                            (char **)&t->xmatch};
    uint32_t *const counts[] = {&t->n_items, &t->n_excl, &t->n_match, &t->n_xmatch};

    for (size_t i = 0; i < ARRAY_LEN(list_keys); i++)
        if (strcmp(key, list_keys[i]) == 0) {
            *n = counts[i];
            return (char ***)lists[i];
        }
    fail_msg("no list %s", key);
    return NULL;
}

/* Every list of t decoded as absent: NULL with a count of 0. */
static void assert_no_lists(ms_task_t *t)
{
    uint32_t *n;

    for (size_t i = 0; i < ARRAY_LEN(list_keys); i++)
        if (*task_list(t, list_keys[i], &n) != NULL || *n != 0)
            fail_msg("list %s is present", list_keys[i]);
}

/*
 * Encode and decode the TASK in: sub and every list arrive as sent (an
 * empty list as none at all), and no prefix of the encoding decodes.
 */
static void task_round_trips(ms_msg_t *in)
{
    ms_msg_t out;
    uint32_t *n_got, *n_want;

    round_trip(in, &out);
    assert_string_equal(out.u.task.sub, in->u.task.sub != NULL ? in->u.task.sub : "");
    for (size_t i = 0; i < ARRAY_LEN(list_keys); i++) {
        char **got = *task_list(&out.u.task, list_keys[i], &n_got);
        char **want = *task_list(&in->u.task, list_keys[i], &n_want);
        assert_int_equal(*n_got, *n_want);
        if (*n_want == 0)
            assert_null(got);
        for (uint32_t k = 0; k < *n_want; k++)
            assert_string_equal(got[k], want[k]);
    }
    ms_msg_clear(&out);
    reject_every_prefix(in);
}

/*
 * Names with any byte but NUL; and patterns as the master writes them: a
 * prefix with each of *?[\ escaped, a range of escaped bytes, a star; an
 * exact name with its last byte in brackets.
 */
static void test_chunks_and_rests_round_trip_with_awkward_names_and_patterns(void **state)
{
    static char *items[] = {"-rf", "a*b", "[x]", "new\nline", "back\\slash", " ", "\xff\xfe", ""};
    static char *excl[] = {"a/b c/*", "x\\y/[z]?", "\xc3\x28/--delete"};
    static char *match[] = {"IMG_0[\\0-\\4]*",          "ab[\\c]",      "[\\\x80-\\\xff]*",
                            "a\\*\\?\\[\\\\[\\]-\\^]*", "\xc3[\\\xa9]", "[\\--\\!]*"};
    static char *xmatch[] = {"flat/[\\a-\\f]*", "s\\[1]/\xff x/[\\\x01-\\\xfe]*"};
    ms_msg_t chunk = sample_task("my project"), rest = sample_task("my project");

    (void)state;
    chunk.u.task.sub = "sub dir/\xff/new\nline";
    chunk.u.task.items = items;
    chunk.u.task.n_items = ARRAY_LEN(items);
    task_round_trips(&chunk);
    chunk.u.task.items = NULL; /* a chunk by names instead */
    chunk.u.task.n_items = 0;
    chunk.u.task.match = match;
    chunk.u.task.n_match = ARRAY_LEN(match);
    task_round_trips(&chunk);

    rest.u.task.excl = excl;
    rest.u.task.n_excl = ARRAY_LEN(excl);
    task_round_trips(&rest);
    rest.u.task.xmatch = xmatch; /* a rest may exclude paths and patterns */
    rest.u.task.n_xmatch = ARRAY_LEN(xmatch);
    task_round_trips(&rest);
    rest.u.task.n_excl = 0;
    task_round_trips(&rest);
}

static void test_a_whole_project_task_encodes_as_before(void **state)
{
    ms_msg_t in = {.cmd = MS_CMD_TASK}, out;
    ms_task_t *t = &in.u.task;
    msgpack_sbuffer old, empty_lists;
    const kv_t empties[] = {KB("sub", ""), KARR("items"), KARR("excl"), KARR("match"),
                            KARR("xmatch")};
    char *buf;
    size_t len;

    (void)state;
    /* the same fields as task_kvs, which is what an older encoder sent */
    *t = (ms_task_t){.run_id = 7,
                     .task_id = 42,
                     .attempt = 1,
                     .project = "alpha",
                     .source = "/data/prod",
                     .dest = "backup:/srv/prod"};
    pack_map(&old, task_kvs, ARRAY_LEN(task_kvs), NULL, NULL);
    for (int with_empty_sub = 0; with_empty_sub <= 1; with_empty_sub++) {
        t->sub = with_empty_sub ? "" : NULL;
        encode_ok(&in, &buf, &len);
        assert_int_equal(len, old.size);
        assert_memory_equal(buf, old.data, len);
        free(buf);
    }
    expect_accept(MS_CMD_TASK, old.data, old.size, &out);
    assert_non_null(out.u.task.sub);
    assert_string_equal(out.u.task.sub, "");
    assert_no_lists(&out.u.task);
    ms_msg_clear(&out);
    msgpack_sbuffer_destroy(&old);

    /* an empty sub and empty arrays, sent explicitly, mean the same */
    for (size_t i = 0; i < ARRAY_LEN(empties); i++) {
        if (empties[i].kind == V_ARRAY) { /* KARR is [nil]: make it [] */
            pack_strs(&empty_lists, NULL, 0);
            kv_t swap = KRAW(empties[i].key, empty_lists);
            accept_swap(MS_CMD_TASK, &swap, &out);
            msgpack_sbuffer_destroy(&empty_lists);
        } else {
            accept_swap(MS_CMD_TASK, &empties[i], &out);
        }
        assert_string_equal(out.u.task.sub, "");
        assert_no_lists(&out.u.task);
        ms_msg_clear(&out);
    }
}

static void test_a_list_of_more_than_max_items_is_rejected(void **state)
{
    const char **v = malloc((MS_MAX_ITEMS + 1) * sizeof(*v));
    msgpack_sbuffer at_limit, over;
    char why[64];
    uint32_t *n;

    (void)state;
    assert_non_null(v);
    for (size_t i = 0; i <= MS_MAX_ITEMS; i++)
        v[i] = "x";
    pack_strs(&at_limit, v, MS_MAX_ITEMS);
    pack_strs(&over, v, MS_MAX_ITEMS + 1);
    for (size_t k = 0; k < ARRAY_LEN(list_keys); k++) {
        ms_msg_t in = sample_task("p"), out;
        kv_t swap = KRAW(list_keys[k], at_limit);
        char **got;

        accept_swap(MS_CMD_TASK, &swap, &out);
        got = *task_list(&out.u.task, list_keys[k], &n);
        assert_int_equal(*n, MS_MAX_ITEMS);
        assert_string_equal(got[MS_MAX_ITEMS - 1], "x");
        ms_msg_clear(&out);

        snprintf(why, sizeof(why), "TASK: field '%s' has 4097 entries, over 4096", list_keys[k]);
        swap = (kv_t)KRAW(list_keys[k], over);
        expect_swap_rejected(MS_CMD_TASK, &swap, why);
        *task_list(&in.u.task, list_keys[k], &n) = (char **)v;
        *n = MS_MAX_ITEMS + 1;
        expect_encode_fails(&in, why);
    }
    msgpack_sbuffer_destroy(&at_limit);
    msgpack_sbuffer_destroy(&over);
    free(v);
}

static void test_a_list_entry_that_is_not_a_clean_string_is_rejected(void **state)
{
    /* ["a", "b\0c"], with the entries as bin */
    static const unsigned char nul[] = {0x92, 0xc4, 0x01, 'a', 0xc4, 0x03, 'b', 0x00, 'c'};
    static const unsigned char nested[] = {0x91, 0x91, 0xa1, 'a'}; /* [["a"]] */
    static const char *const late_nil[] = {"ok", "fine", NULL};
    msgpack_sbuffer with_nul = {.size = sizeof(nul), .data = (char *)nul};
    msgpack_sbuffer in_list = {.size = sizeof(nested), .data = (char *)nested};
    msgpack_sbuffer nil_third, too_long;
    char *long_entry = malloc(MS_MAX_PATH + 2), why[64];

    (void)state;
    assert_non_null(long_entry);
    memset(long_entry, 'x', MS_MAX_PATH + 1);
    long_entry[MS_MAX_PATH + 1] = '\0';
    const char *const long_list[] = {"ok", long_entry};
    /* strings decoded before the bad entry are freed (ASan, valgrind) */
    pack_strs(&nil_third, late_nil, ARRAY_LEN(late_nil));
    pack_strs(&too_long, long_list, ARRAY_LEN(long_list));
    for (size_t k = 0; k < ARRAY_LEN(list_keys); k++) {
        const struct {
            msgpack_sbuffer *list;
            const char *why; /* after "TASK: field 'KEY' " */
        } cases[] = {
            {&with_nul, "contains a NUL byte"},
            {&in_list, "entry 0 must be a string"},
            {&nil_third, "entry 2 must be a string"},
            {&too_long, "is 4097 bytes long, over 4096"},
        };
        for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
            kv_t swap = KRAW(list_keys[k], *cases[i].list);
            snprintf(why, sizeof(why), "TASK: field '%s' %s", list_keys[k], cases[i].why);
            expect_swap_rejected(MS_CMD_TASK, &swap, why);
        }
    }
    msgpack_sbuffer_destroy(&nil_third);
    msgpack_sbuffer_destroy(&too_long);
    free(long_entry);
}

static void test_split_fields_of_the_wrong_type_are_rejected(void **state)
{
    static const bad_field_t cases[] = {
        {MS_CMD_TASK, KB("items", "a"), "TASK: field 'items' must be an array of strings"},
        {MS_CMD_TASK, KU("excl", 1), "TASK: field 'excl' must be an array of strings"},
        {MS_CMD_TASK, KNIL("items"), "TASK: field 'items' must be an array of strings"},
        {MS_CMD_TASK, KARR("items"), "TASK: field 'items' entry 0 must be a string"},
        {MS_CMD_TASK, KB("match", "[\\a-\\z]*"), "TASK: field 'match' must be an array of strings"},
        {MS_CMD_TASK, KU("xmatch", 1), "TASK: field 'xmatch' must be an array of strings"},
        {MS_CMD_TASK, KNIL("xmatch"), "TASK: field 'xmatch' must be an array of strings"},
        {MS_CMD_TASK, KARR("match"), "TASK: field 'match' entry 0 must be a string"},
        {MS_CMD_TASK, KARR("xmatch"), "TASK: field 'xmatch' entry 0 must be a string"},
        {MS_CMD_TASK, KARR("sub"), "TASK: field 'sub' must be a string"},
        {MS_CMD_TASK, KU("sub", 0), "TASK: field 'sub' must be a string"},
    };
    const valid_body_t *vb = valid_body(MS_CMD_TASK);
    kv_t kvs[ARRAY_LEN(task_kvs) + 2];
    msgpack_sbuffer sb, list;
    static const char *const one[] = {"a"};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        expect_swap_rejected(cases[i].cmd, &cases[i].swap, cases[i].why);
    /* a map is not an array either, and a list may not come twice */
    msgpack_sbuffer_init(&list);
    msgpack_sbuffer_write(&list, "\x81\xa1k\xa1v", 5);
    kv_t map = KRAW("excl", list);
    expect_swap_rejected(MS_CMD_TASK, &map, "TASK: field 'excl' must be an array of strings");
    map = (kv_t)KRAW("match", list);
    expect_swap_rejected(MS_CMD_TASK, &map, "TASK: field 'match' must be an array of strings");
    msgpack_sbuffer_destroy(&list);
    pack_strs(&list, one, 1);
    memcpy(kvs, vb->kvs, sizeof(task_kvs));
    kvs[ARRAY_LEN(task_kvs)] = (kv_t)KRAW("items", list);
    kvs[ARRAY_LEN(task_kvs) + 1] = (kv_t)KRAW("items", list);
    pack_map(&sb, kvs, ARRAY_LEN(kvs), NULL, NULL);
    expect_reject(MS_CMD_TASK, sb.data, sb.size, "TASK: field 'items' repeated");
    msgpack_sbuffer_destroy(&sb);
    kvs[ARRAY_LEN(task_kvs)] = (kv_t)KRAW("xmatch", list);
    kvs[ARRAY_LEN(task_kvs) + 1] = (kv_t)KRAW("xmatch", list);
    pack_map(&sb, kvs, ARRAY_LEN(kvs), NULL, NULL);
    expect_reject(MS_CMD_TASK, sb.data, sb.size, "TASK: field 'xmatch' repeated");
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&list);
}

static void test_encoder_refuses_a_list_with_a_missing_entry(void **state)
{
    static char *with_null[] = {"a", NULL};
    ms_msg_t in = sample_task("p");

    (void)state;
    in.u.task.items = with_null;
    in.u.task.n_items = 2;
    expect_encode_fails(&in, "TASK: field 'items' entry 1 missing");
    in.u.task.items = NULL;
    expect_encode_fails(&in, "TASK: field 'items' entry 0 missing");
}

/* ---------------------------------------------------------------------- */
/* Encoder checks and clearing                                            */

static void test_encoder_refuses_what_the_decoder_would_refuse(void **state)
{
    ms_msg_t hello = {.cmd = MS_CMD_HELLO}, task = sample_task("alpha");
    ms_msg_t result = sample_result(), done = {.cmd = MS_CMD_RUN_DONE};

    (void)state;
    hello.u.hello.name = "w1";
    expect_encode_fails(&hello, "HELLO: field 'slots' is 0, outside 1..4096");
    hello.u.hello.slots = 5000;
    expect_encode_fails(&hello, "HELLO: field 'slots' is 5000");
    task.u.task.attempt = 0;
    expect_encode_fails(&task, "TASK: field 'attempt' is 0");
    task.u.task.attempt = 1;
    task.u.task.flags = 0x100;
    expect_encode_fails(&task, "TASK: field 'flags' has unknown bits 0x100");
    task.u.task.flags = 0;
    task.u.task.project = NULL;
    expect_encode_fails(&task, "TASK: field 'project' missing");
    result.u.result.seconds = NAN;
    expect_encode_fails(&result, "RESULT: field 'secs' is not a finite number");
    done.u.runref.run_id = 1;
    expect_encode_fails(&done, "RUN_DONE: field 'report' missing");
}

static void test_encoder_refuses_a_path_over_the_limit(void **state)
{
    char *path = malloc(MS_MAX_PATH + 2);
    ms_msg_t run = {.cmd = MS_CMD_RUN};

    (void)state;
    assert_non_null(path);
    memset(path, '/', MS_MAX_PATH + 1);
    path[MS_MAX_PATH + 1] = '\0';
    run.u.run.dest = path;
    expect_encode_fails(&run, "RUN: field 'dest' is 4097 bytes long, over 4096");
    free(path);
}

static void test_clear_accepts_null_and_zeroed_messages(void **state)
{
    ms_msg_t m;

    (void)state;
    ms_msg_clear(NULL);
    memset(&m, 0, sizeof(m));
    ms_msg_clear(&m);
    assert_zeroed(&m);
    m.cmd = MS_CMD_RUN_STARTED;
    m.u.runref.report = malloc(4); /* freed even where the wire has no report */
    ms_msg_clear(&m);
    assert_zeroed(&m);
}

/* ---------------------------------------------------------------------- */
/* BATCH: several messages in one                                         */

/* The body b holds, decoded as the command it goes as. */
static int decode_batch_body(ms_batch_buf_t *b, ms_msg_t *out, int *cmd)
{
    size_t len;
    char err[256] = "";
    const char *body = ms_batch_body(b, cmd, &len);
    assert_true(len <= MS_MAX_FRAME_BYTES);
    if (decode_copy(*cmd, body, len, out, err, sizeof(err)) != 0)
        fail_msg("decode of the batch failed: %s", err);
    return 0;
}

static void test_batch_carries_its_messages_in_order(void **state)
{
    ms_batch_buf_t b = {0};
    ms_msg_t task = sample_task("alpha"), result = sample_result(), ready = {.cmd = MS_CMD_READY};
    ms_msg_t out;
    char err[256];
    int cmd;

    (void)state;
    ready.u.ready.credit = 5;
    assert_int_equal(ms_batch_add(&b, &task, err, sizeof err), 0);
    assert_int_equal(ms_batch_add(&b, &result, err, sizeof err), 0);
    assert_int_equal(ms_batch_add(&b, &ready, err, sizeof err), 0);
    decode_batch_body(&b, &out, &cmd);
    assert_int_equal(cmd, MS_CMD_BATCH);
    assert_int_equal(out.u.batch.n, 3);
    assert_int_equal(out.u.batch.msgs[0].cmd, MS_CMD_TASK);
    assert_string_equal(out.u.batch.msgs[0].u.task.project, "alpha");
    assert_true(out.u.batch.msgs[0].u.task.task_id == UINT64_MAX);
    assert_int_equal(out.u.batch.msgs[1].cmd, MS_CMD_RESULT);
    assert_int_equal(out.u.batch.msgs[1].u.result.term_signal, 9);
    assert_string_equal(out.u.batch.msgs[1].u.result.message, result.u.result.message);
    assert_int_equal(out.u.batch.msgs[2].cmd, MS_CMD_READY);
    assert_int_equal(out.u.batch.msgs[2].u.ready.credit, 5);
    /* What the decoder made encodes to the same bytes. */
    size_t len;
    const char *body = ms_batch_body(&b, &cmd, &len);
    char *again;
    size_t alen;
    encode_ok(&out, &again, &alen);
    assert_int_equal(alen, len);
    assert_memory_equal(again, body, len);
    free(again);
    ms_msg_clear(&out);
    /* Emptied, it starts anew: one message goes as itself. */
    ms_batch_reset(&b);
    assert_int_equal(ms_batch_add(&b, &ready, err, sizeof err), 0);
    decode_batch_body(&b, &out, &cmd);
    assert_int_equal(cmd, MS_CMD_READY);
    assert_int_equal(out.u.ready.credit, 5);
    ms_msg_clear(&out);
    ms_batch_free(&b);
}

static void test_batch_is_full_at_its_count_and_at_a_frame(void **state)
{
    ms_batch_buf_t b = {0};
    ms_msg_t ready = {.cmd = MS_CMD_READY}, out;
    char err[256];
    int cmd;

    (void)state;
    ready.u.ready.credit = 1;
    for (int i = 0; i < MS_MAX_BATCH; i++)
        assert_int_equal(ms_batch_add(&b, &ready, err, sizeof err), 0);
    assert_int_equal(ms_batch_add(&b, &ready, err, sizeof err), 1);
    decode_batch_body(&b, &out, &cmd);
    assert_int_equal(out.u.batch.n, MS_MAX_BATCH);
    ms_msg_clear(&out);
    ms_batch_reset(&b);

    /* Tasks of long lists: the frame fills before the count. */
    enum { N_ITEMS = 1000 };
    static char name[200];
    char *items[N_ITEMS];
    memset(name, 'x', sizeof name - 1);
    for (int i = 0; i < N_ITEMS; i++)
        items[i] = name;
    ms_msg_t task = sample_task("big");
    task.u.task.items = items;
    task.u.task.n_items = N_ITEMS;
    uint32_t n = 0;
    while (ms_batch_add(&b, &task, err, sizeof err) == 0)
        n++;
    assert_true(n > 1 && n < MS_MAX_BATCH);
    size_t len;
    ms_batch_body(&b, &cmd, &len); /* one more of the same would not fit */
    assert_true(len <= MS_MAX_FRAME_BYTES && len + len / n > MS_MAX_FRAME_BYTES);
    decode_batch_body(&b, &out, &cmd);
    assert_int_equal(out.u.batch.n, n);
    assert_int_equal(out.u.batch.msgs[n - 1].u.task.n_items, N_ITEMS);
    ms_msg_clear(&out);
    ms_batch_free(&b);
}

static void test_batch_refuses_what_it_cannot_carry(void **state)
{
    ms_batch_buf_t b = {0};
    ms_msg_t hello = {.cmd = MS_CMD_HELLO}, bad = sample_task(NULL);
    char err[256] = "";

    (void)state;
    hello.u.hello.name = "w";
    hello.u.hello.slots = 1;
    assert_int_equal(ms_batch_add(&b, &hello, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot travel in a batch"));
    assert_int_equal(ms_batch_add(&b, &bad, err, sizeof err), -1); /* project missing */
    assert_int_equal(b.n, 0);
    ms_batch_free(&b);
}

/* A BATCH body packed by hand: count elements, the first nvalid of them a
 * valid TASK each, then what tail packs. */
typedef void (*tail_fn)(msgpack_packer *pk);

static void pack_batch_body(msgpack_sbuffer *sb, uint32_t count, uint32_t nvalid, tail_fn tail)
{
    msgpack_packer pk;
    msgpack_sbuffer task;
    const valid_body_t *vb = valid_body(MS_CMD_TASK);

    pack_map(&task, vb->kvs, vb->n, NULL, NULL);
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, count);
    for (uint32_t i = 0; i < nvalid; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint32(&pk, MS_CMD_TASK);
        msgpack_sbuffer_write(sb, task.data, task.size);
    }
    if (tail)
        tail(&pk);
    msgpack_sbuffer_destroy(&task);
}

static void tail_hello(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint32(pk, MS_CMD_HELLO);
    msgpack_pack_map(pk, 0);
}

static void tail_nested(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint32(pk, MS_CMD_BATCH);
    msgpack_pack_array(pk, 0);
}

static void tail_lone_command(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint32(pk, MS_CMD_READY);
}

static void tail_bad_ready(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint32(pk, MS_CMD_READY);
    msgpack_pack_map(pk, 0); /* credit missing */
}

static void tail_ready(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint32(pk, MS_CMD_READY);
    msgpack_pack_map(pk, 1);
    msgpack_pack_str(pk, 6);
    msgpack_pack_str_body(pk, "credit", 6);
    msgpack_pack_uint32(pk, 1);
}

static void test_batch_decoder_refuses_bad_bodies(void **state)
{
    msgpack_sbuffer sb;
    ms_msg_t m;
    static const struct {
        uint32_t count, nvalid;
        tail_fn tail;
        const char *why;
    } cases[] = {
        {0, 0, NULL, "0 messages"},
        {2, 1, tail_hello, "message 1 is not [command, body]"},
        {2, 1, tail_nested, "message 1 is not [command, body]"},
        {1, 0, tail_lone_command, "message 0 is not [command, body]"},
        /* strings of the first task decoded, then the second fails: no leak */
        {3, 2, tail_bad_ready, "message 2: READY: field 'credit' missing"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pack_batch_body(&sb, cases[i].count, cases[i].nvalid, cases[i].tail);
        expect_reject(MS_CMD_BATCH, sb.data, sb.size, cases[i].why);
        msgpack_sbuffer_destroy(&sb);
    }
    /* A map is not a batch; more than MS_MAX_BATCH is refused. */
    pack_map(&sb, valid_body(MS_CMD_READY)->kvs, valid_body(MS_CMD_READY)->n, NULL, NULL);
    expect_reject(MS_CMD_BATCH, sb.data, sb.size, "body must be an array");
    msgpack_sbuffer_destroy(&sb);
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, MS_MAX_BATCH + 1);
    for (int i = 0; i < MS_MAX_BATCH + 1; i++)
        tail_ready(&pk);
    expect_reject(MS_CMD_BATCH, sb.data, sb.size, "257 messages");
    msgpack_sbuffer_destroy(&sb);
    /* And the valid ones are taken. */
    pack_batch_body(&sb, 2, 1, tail_ready);
    expect_accept(MS_CMD_BATCH, sb.data, sb.size, &m);
    assert_int_equal(m.u.batch.n, 2);
    ms_msg_clear(&m);
    msgpack_sbuffer_destroy(&sb);
}

/* ---------------------------------------------------------------------- */
/* Protocol frame and names                                               */

static void test_proto_check_accepts_this_version(void **state)
{
    unsigned char frame[] = {'M', 'S', 'Y', 'N', 'C', MS_PROTO_VERSION};
    int version = -1;

    (void)state;
    assert_int_equal(ms_proto_check(frame, sizeof(frame), &version), 0);
    assert_int_equal(version, -1);
}

static void test_proto_check_rejects_another_protocol(void **state)
{
    unsigned char frame[] = {'M', 'S', 'Y', 'N', 'c', MS_PROTO_VERSION};
    int version = -1;

    (void)state;
    assert_int_equal(ms_proto_check(frame, sizeof(frame), &version), -1);
    assert_int_equal(ms_proto_check(NULL, 6, &version), -1);
    assert_int_equal(version, -1);
}

static void test_proto_check_reports_another_version(void **state)
{
    unsigned char frame[] = {'M', 'S', 'Y', 'N', 'C', 7};
    int version = -1;

    (void)state;
    assert_int_equal(ms_proto_check(frame, sizeof(frame), &version), -2);
    assert_int_equal(version, 7);
    assert_int_equal(ms_proto_check(frame, sizeof(frame), NULL), -2);
}

static void test_proto_check_rejects_a_frame_of_the_wrong_length(void **state)
{
    unsigned char frame[] = {'M', 'S', 'Y', 'N', 'C', MS_PROTO_VERSION, 0};
    int version = -1;

    (void)state;
    assert_int_equal(ms_proto_check(frame, sizeof(frame), &version), -1);
    assert_int_equal(ms_proto_check(frame, MS_PROTO_FRAME_LEN - 1, &version), -1);
    assert_int_equal(ms_proto_check(frame, 0, &version), -1);
}

static void test_every_command_has_a_name(void **state)
{
    (void)state;
    assert_string_equal(ms_cmd_name(MS_CMD_HELLO), "HELLO");
    assert_string_equal(ms_cmd_name(MS_CMD_RESULT), "RESULT");
    assert_string_equal(ms_cmd_name(MS_CMD_STATUS_REPLY), "STATUS_REPLY");
    assert_string_equal(ms_cmd_name(MS_CMD_WAIT), "WAIT");
    assert_string_equal(ms_cmd_name(0), "UNKNOWN");
    assert_string_equal(ms_cmd_name(-1), "UNKNOWN");
    assert_string_equal(ms_cmd_name(MS_CMD_REPORT), "REPORT");
    assert_string_equal(ms_cmd_name(MS_CMD_SNAPSHOTS), "SNAPSHOTS");
    assert_string_equal(ms_cmd_name(MS_CMD_CANCEL_RUN), "CANCEL_RUN");
    assert_string_equal(ms_cmd_name(MS_CMD_BATCH), "BATCH");
    assert_string_equal(ms_cmd_name(0x1a), "UNKNOWN");
}

static void test_heartbeat_carries_host_counters_and_cores_without_nul(void **state)
{
    ms_msg_t in = {.cmd = MS_CMD_HEARTBEAT}, out;
    char cores[3] = {1, 101, 0}; /* 0 % and 100 %, as percent + 1 */

    (void)state;
    in.u.heartbeat = (ms_heartbeat_t){.t = 5,
                                      .busy = 2,
                                      .cpu_percent = 37.5,
                                      .n_cpus = 2,
                                      .cores = cores,
                                      .load1 = 1.25,
                                      .mem_total = 1u << 30,
                                      .disk_write_bytes = 123456789,
                                      .disk_busy_percent = 12.5,
                                      .net_recv_bytes = 42};
    round_trip(&in, &out);
    assert_int_equal(out.u.heartbeat.busy, 2);
    assert_true(out.u.heartbeat.cpu_percent == 37.5);
    assert_string_equal(out.u.heartbeat.cores, cores);
    assert_true(out.u.heartbeat.load1 == 1.25);
    assert_int_equal(out.u.heartbeat.disk_write_bytes, 123456789);
    assert_int_equal(out.u.heartbeat.net_recv_bytes, 42);
    assert_int_equal(out.u.heartbeat.net_sent_bytes, 0); /* absent: 0 */
    ms_msg_clear(&out);
}

static void test_progress_and_history_round_trip(void **state)
{
    ms_msg_t p = {.cmd = MS_CMD_PROGRESS}, h = {.cmd = MS_CMD_HISTORY}, out;

    (void)state;
    p.u.progress = (ms_progress_t){3, 4, 1, 1ull << 40};
    round_trip(&p, &out);
    assert_int_equal(out.u.progress.bytes_done, 1ull << 40);
    ms_msg_clear(&out);
    h.u.history.n = 10;
    round_trip(&h, &out);
    assert_int_equal(out.u.history.n, 10);
    ms_msg_clear(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hello_round_trips),
        cmocka_unit_test(test_ready_round_trips),
        cmocka_unit_test(test_task_round_trips_with_awkward_project_names),
        cmocka_unit_test(test_result_round_trips_with_every_counter),
        cmocka_unit_test(test_result_without_message_arrives_with_empty_message),
        cmocka_unit_test(test_heartbeat_and_status_are_empty_maps),
        cmocka_unit_test(test_heartbeat_round_trips_its_clock_ack_and_ttl),
        cmocka_unit_test(test_hold_and_cancel_round_trip_the_task_attempt),
        cmocka_unit_test(test_heartbeat_carries_host_counters_and_cores_without_nul),
        cmocka_unit_test(test_progress_and_history_round_trip),
        cmocka_unit_test(test_optional_numbers_round_trip_and_default_to_zero),
        cmocka_unit_test(test_bye_and_error_round_trip_their_message),
        cmocka_unit_test(test_run_round_trips_only_the_fields_given),
        cmocka_unit_test(test_run_started_wait_and_cancel_run_round_trip_the_run_id),
        cmocka_unit_test(test_run_done_and_status_reply_round_trip_their_json),
        cmocka_unit_test(test_strings_travel_as_bin_and_keys_as_str),
        cmocka_unit_test(test_string_fields_accept_str_as_well_as_bin),
        cmocka_unit_test(test_float_fields_accept_integers_and_float32),
        cmocka_unit_test(test_int_fields_accept_the_whole_int32_range),
        cmocka_unit_test(test_unknown_keys_are_ignored),
        cmocka_unit_test(test_strings_at_their_limit_pass_and_one_more_byte_fails),
        cmocka_unit_test(test_every_truncation_of_a_task_is_rejected),
        cmocka_unit_test(test_every_truncation_of_a_result_is_rejected),
        cmocka_unit_test(test_fields_of_the_wrong_type_or_range_are_rejected),
        cmocka_unit_test(test_run_fields_of_the_wrong_type_are_rejected),
        cmocka_unit_test(test_every_missing_required_field_is_named),
        cmocka_unit_test(test_a_repeated_key_is_rejected),
        cmocka_unit_test(test_a_string_with_a_nul_byte_is_rejected),
        cmocka_unit_test(test_a_key_that_is_not_a_string_is_rejected),
        cmocka_unit_test(test_a_body_that_is_not_a_map_is_rejected),
        cmocka_unit_test(test_trailing_bytes_after_a_valid_map_are_rejected),
        cmocka_unit_test(test_huge_counts_are_rejected_before_msgpack_allocates),
        cmocka_unit_test(test_nesting_deeper_than_the_limit_is_rejected),
        cmocka_unit_test(test_byte_0xc1_is_rejected),
        cmocka_unit_test(test_an_unknown_command_is_rejected),
        cmocka_unit_test(test_walker_accepts_every_format_as_msgpack_c_does),
        cmocka_unit_test(test_walker_rejects_every_truncation_of_every_format),
        cmocka_unit_test(test_walker_counts_depth_by_containers),
        cmocka_unit_test(test_chunks_and_rests_round_trip_with_awkward_names_and_patterns),
        cmocka_unit_test(test_a_whole_project_task_encodes_as_before),
        cmocka_unit_test(test_a_list_of_more_than_max_items_is_rejected),
        cmocka_unit_test(test_a_list_entry_that_is_not_a_clean_string_is_rejected),
        cmocka_unit_test(test_split_fields_of_the_wrong_type_are_rejected),
        cmocka_unit_test(test_encoder_refuses_a_list_with_a_missing_entry),
        cmocka_unit_test(test_encoder_refuses_what_the_decoder_would_refuse),
        cmocka_unit_test(test_encoder_refuses_a_path_over_the_limit),
        cmocka_unit_test(test_clear_accepts_null_and_zeroed_messages),
        cmocka_unit_test(test_batch_carries_its_messages_in_order),
        cmocka_unit_test(test_batch_is_full_at_its_count_and_at_a_frame),
        cmocka_unit_test(test_batch_refuses_what_it_cannot_carry),
        cmocka_unit_test(test_batch_decoder_refuses_bad_bodies),
        cmocka_unit_test(test_proto_check_accepts_this_version),
        cmocka_unit_test(test_proto_check_rejects_another_protocol),
        cmocka_unit_test(test_proto_check_reports_another_version),
        cmocka_unit_test(test_proto_check_rejects_a_frame_of_the_wrong_length),
        cmocka_unit_test(test_every_command_has_a_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
