/*
 * fuzz_codec.c - libFuzzer harness for the message codec.
 *
 * The first byte is the command (any value: unknown ones must be refused),
 * the rest is that command's body. The
 * harness aborts (a finding) when:
 *   - ms_mp_check accepts bytes that msgpack-c then fails to unpack whole;
 *   - a body decodes but its message does not encode, or the encoding does
 *     not decode again, or re-encodes to different bytes;
 *   - a TASK (alone or in a BATCH) passes ms_rsync_check_task, as a worker
 *     checks it, but no rsync argv can be built from it.
 *
 *   make build-fuzz/fuzz_codec   (clang, libFuzzer + ASan + UBSan, with the shared
 *                                sources and worker/ms_rsync.c compiled in)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ms_codec.h"
#include "ms_rsync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The walker guards msgpack-c: it must never pass what msgpack-c cannot read. */
static void check_walker_agrees(const uint8_t *body, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpack_return rc;
    size_t off = 0;

    if (ms_mp_check(body, len, MS_MP_MAX_DEPTH, NULL, 0) != 0)
        return;
    msgpack_unpacked_init(&up);
    rc = msgpack_unpack_next(&up, (const char *)body, len, &off);
    msgpack_unpacked_destroy(&up);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != len)
        abort();
}

/* Encode m, decode the result as m's command into *out; abort on failure. */
static void reencode(const ms_msg_t *m, char **enc, size_t *len, ms_msg_t *out)
{
    char err[256];

    if (ms_msg_encode(m, enc, len, err, sizeof(err)) != 0)
        abort();
    if (ms_msg_decode(m->cmd, *enc, *len, out, err, sizeof(err)) != 0)
        abort();
}

/* What a worker does with a TASK from the network: check it, build its argv. */
static void check_task(const ms_msg_t *m)
{
    char err[256], **argv;

    if (m->cmd != MS_CMD_TASK || ms_rsync_check_task(&m->u.task, err, sizeof(err)) != 0)
        return;
    argv = ms_rsync_argv("rsync", NULL, 0, &m->u.task, NULL, err, sizeof(err));
    if (argv == NULL)
        abort();
    ms_rsync_argv_free(argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_msg_t m, again, third;
    char err[256], *enc1 = NULL, *enc2 = NULL;
    size_t len1 = 0, len2 = 0;

    if (size < 1)
        return 0;
    check_walker_agrees(data + 1, size - 1);
    if (ms_msg_decode(data[0], data + 1, size - 1, &m, err, sizeof(err)) != 0) {
        ms_msg_clear(&m);
        return 0;
    }
    check_task(&m);
    for (uint32_t i = 0; m.cmd == MS_CMD_BATCH && i < m.u.batch.n; i++)
        check_task(&m.u.batch.msgs[i]);
    reencode(&m, &enc1, &len1, &again);
    reencode(&again, &enc2, &len2, &third);
    if (len1 != len2 || memcmp(enc1, enc2, len1) != 0)
        abort();
    free(enc1);
    free(enc2);
    ms_msg_clear(&m);
    ms_msg_clear(&again);
    ms_msg_clear(&third);
    return 0;
}
