/*
 * seeds - write valid encoded messages, at least one per command, into DIR
 * as the seed corpus of fuzz_codec (first byte: the command, then the
 * body), each in a file of its own: COMMAND-N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_codec.h"

static int write_seed(const char *dir, const ms_msg_t *m, size_t i)
{
    char *body, err[256], path[4096];
    size_t len;
    if (ms_msg_encode(m, &body, &len, err, sizeof err) != 0) {
        fprintf(stderr, "seeds: %s\n", err);
        return -1;
    }
    snprintf(path, sizeof path, "%s/%s-%zu", dir, ms_cmd_name(m->cmd), i);
    FILE *f = fopen(path, "wb");
    unsigned char cmd = (unsigned char)m->cmd;
    int rc = f && fwrite(&cmd, 1, 1, f) == 1 && fwrite(body, 1, len, f) == len ? 0 : -1;
    if (f)
        fclose(f);
    free(body);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR\n");
        return 2;
    }
    ms_msg_t m[48];
    size_t n = 0;
    memset(m, 0, sizeof m);
    m[n].cmd = MS_CMD_HELLO,
    m[n++].u.hello = (ms_hello_t){"hostA", 8, "rsync  version 3.2.7  protocol version 31", 3,
                                  "0123456789abcdef0123456789abcdef"};
    m[n].cmd = MS_CMD_READY, m[n++].u.ready.credit = 2;
    /* every TASK field, the lists too (a real task has items or match, or
     * excl and xmatch, never a mix) */
    static char *items[] = {"lib", "-rf"}, *excl[] = {"big/a*b"};
    static char *match[] = {"IMG_0[\\0-\\4]*", "ab[\\c]"}, *xmatch[] = {"f/[\\\x80-\\\xff]*"};
    m[n].cmd = MS_CMD_TASK, m[n++].u.task = (ms_task_t){.run_id = 1,
                                                        .task_id = 2,
                                                        .attempt = 1,
                                                        .flags = MS_TASK_DELETE,
                                                        .project = "-e x\xff",
                                                        .source = "/data/prod",
                                                        .dest = "host:/backup",
                                                        .timeout_s = 3600,
                                                        .sub = "src/x",
                                                        .items = items,
                                                        .n_items = 2,
                                                        .excl = excl,
                                                        .n_excl = 1,
                                                        .match = match,
                                                        .n_match = 2,
                                                        .xmatch = xmatch,
                                                        .n_xmatch = 1};
    /* a snapshot's task, and a retention removal */
    m[n].cmd = MS_CMD_TASK, m[n++].u.task = (ms_task_t){.run_id = 1,
                                                        .task_id = 5,
                                                        .attempt = 1,
                                                        .flags = MS_TASK_DELETE,
                                                        .project = "p",
                                                        .source = "/data",
                                                        .dest = "/backup",
                                                        .snap = "2026-12-07T021500Z.partial",
                                                        .link = "2026-12-06T021500Z"};
    m[n].cmd = MS_CMD_TASK, m[n++].u.task = (ms_task_t){.run_id = 1,
                                                        .task_id = 6,
                                                        .attempt = 1,
                                                        .flags = MS_TASK_REMOVE,
                                                        .project = "p",
                                                        .source = "/data",
                                                        .dest = "/backup",
                                                        .snap = "2026-11-01T021500Z.pruning"};
    /* a match chunk and a rest as a worker accepts them (ms_rsync_check_task) */
    m[n].cmd = MS_CMD_TASK, m[n++].u.task = (ms_task_t){.run_id = 1,
                                                        .task_id = 3,
                                                        .attempt = 1,
                                                        .flags = MS_TASK_DELETE,
                                                        .project = "p",
                                                        .source = "/data",
                                                        .dest = "/backup",
                                                        .sub = "flat",
                                                        .match = match,
                                                        .n_match = 2};
    m[n].cmd = MS_CMD_TASK, m[n++].u.task = (ms_task_t){.run_id = 1,
                                                        .task_id = 4,
                                                        .attempt = 1,
                                                        .project = "p",
                                                        .source = "/data",
                                                        .dest = "/backup",
                                                        .excl = excl,
                                                        .n_excl = 1,
                                                        .xmatch = xmatch,
                                                        .n_xmatch = 1};
    m[n].cmd = MS_CMD_RESULT, m[n++].u.result = (ms_result_t){.run_id = 1,
                                                              .task_id = 2,
                                                              .attempt = 1,
                                                              .exit_code = 23,
                                                              .seconds = 1.5,
                                                              .files = 9,
                                                              .message = "rsync: failed"};
    m[n].cmd = MS_CMD_HEARTBEAT,
    m[n++].u.heartbeat = (ms_heartbeat_t){.t = 123, .ack = 120, .ttl_ms = 3000};
    m[n].cmd = MS_CMD_HOLD, m[n++].u.taskref = (ms_taskref_t){1, 2, 3};
    m[n].cmd = MS_CMD_CANCEL, m[n++].u.taskref = (ms_taskref_t){1, 2, 3};
    m[n++].cmd = MS_CMD_DRAIN;
    m[n].cmd = MS_CMD_BYE, m[n++].u.text = (ms_text_t){.message = "restarting", .reconnect = 1};
    m[n].cmd = MS_CMD_ERROR, m[n++].u.text.message = "bad";
    m[n].cmd = MS_CMD_ERROR, m[n++].u.text = (ms_text_t){.message = "in use", .rc = 4};
    m[n].cmd = MS_CMD_RUN,
    m[n++].u.run =
        (ms_run_t){.source = "/src", .dest = "/dst", .set = "nightly", .flags = 3, .wait_s = 600};
    m[n].cmd = MS_CMD_RUN,
    m[n++].u.run =
        (ms_run_t){.dest = "/dst", .flags = MS_RUN_SNAPSHOT, .keep_daily = 7, .keep_monthly = 12};
    m[n].cmd = MS_CMD_RUN, m[n++].u.run = (ms_run_t){.dest = "/restore",
                                                     .set = "nightly",
                                                     .flags = MS_RUN_RESTORE | MS_RUN_FORCE,
                                                     .snapshot = "latest",
                                                     .path = "alpha/sub/file"};
    m[n].cmd = MS_CMD_SNAPSHOTS, m[n++].u.setref.set = "nightly";
    m[n].cmd = MS_CMD_RUN_STARTED, m[n++].u.runref.run_id = 7;
    m[n].cmd = MS_CMD_RUN_DONE,
    m[n++].u.runref = (ms_runref_t){.run_id = 7, .report = "{\"run_id\": 7}"};
    m[n++].cmd = MS_CMD_STATUS;
    m[n].cmd = MS_CMD_STATUS_REPLY, m[n++].u.json.json = "{\"workers\": []}";
    m[n].cmd = MS_CMD_WAIT, m[n++].u.runref.run_id = 7;
    m[n].cmd = MS_CMD_CANCEL_RUN, m[n++].u.runref.run_id = 7;
    m[n].cmd = MS_CMD_REPORT, m[n++].u.runref.run_id = 7;
    m[n].cmd = MS_CMD_REPORT,
    m[n++].u.runref = (ms_runref_t){.run_id = 7, .from = 2000, .count = 500};
    m[n].cmd = MS_CMD_HISTORY, m[n++].u.history.n = 10;
    m[n].cmd = MS_CMD_PROGRESS, m[n++].u.progress = (ms_progress_t){1, 2, 1, 4096};
    m[n].cmd = MS_CMD_HEARTBEAT, m[n++].u.heartbeat = (ms_heartbeat_t){.t = 9,
                                                                       .busy = 1,
                                                                       .cpu_percent = 50,
                                                                       .n_cpus = 2,
                                                                       .cores = "\x33\x65",
                                                                       .disk_read_bytes = 4096};
    /* A worker's turn: a result, its progress, the credit given back; and
     * a master's dispatch: two tasks (copies of ones above). */
    ms_msg_t turn[3] = {m[7], m[n - 2], {.cmd = MS_CMD_READY, .u.ready.credit = 1}};
    ms_msg_t handout[2] = {m[2], m[3]};
    m[n].cmd = MS_CMD_BATCH, m[n++].u.batch = (ms_batch_t){turn, 3};
    m[n].cmd = MS_CMD_BATCH, m[n++].u.batch = (ms_batch_t){handout, 2};
    for (size_t i = 0; i < n; i++)
        if (write_seed(argv[1], &m[i], i) != 0)
            return 1;
    return 0;
}
