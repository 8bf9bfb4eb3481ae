/*
 * The worker agent against a master played by this test on a real ROUTER
 * socket: it announces itself, grants its slots as credit, runs a task with
 * real rsync and reports it, and refuses to work with another protocol
 * version. The agent runs in a child process (it owns signals and children).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "ms_agent.h"
#include "ms_clock.h"
#include "ms_log.h"
#include "ms_wire.h"
#include "ms_test.h"
#include "ms_test_wire.h"

typedef struct {
    char dir[64];
    char ep[128];
    void *ctx, *router;
    pid_t agent;
    pid_t orphan; /* setup_orphan: the agent, a grandchild */
    int release;  /* setup_orphan: a byte here ends its parent, fx->agent */
    ms_peer_t peer;
    ms_test_inbox_t in; /* a BATCH from the agent, handed out a message at a time */
} fx_t;

static volatile sig_atomic_t never_stop = 0;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "agent");
    snprintf(fx->ep, sizeof fx->ep, "ipc://%s/m.sock", fx->dir);
    fx->agent = fork();
    assert_true(fx->agent >= 0);
    if (fx->agent == 0) {
        ms_log_init("test-agent", MS_LOG_ERROR);
        ms_agent_opts_t o = {.master = fx->ep,
                             .name = "agent-under-test",
                             .slots = 2,
                             .rsync = "rsync",
                             .heartbeat_ms = 100};
        _exit(ms_agent_run(&o, &never_stop));
    }
    fx->ctx = zmq_ctx_new();
    fx->router = zmq_socket(fx->ctx, ZMQ_ROUTER);
    assert_int_equal(ms_wire_setup(fx->router, 0), 0);
    assert_int_equal(zmq_bind(fx->router, fx->ep), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->agent > 0) {
        kill(fx->agent, SIGKILL);
        waitpid(fx->agent, NULL, 0);
    }
    ms_test_inbox_clear(&fx->in);
    zmq_close(fx->router);
    zmq_ctx_term(fx->ctx);
    assert_int_equal(ms_test_rmtree(fx->dir), 0);
    free(fx);
    return 0;
}

/* Answer a heartbeat as a master does: ack the worker's clock, so that
 * its lease on running tasks goes on. */
static void ack(fx_t *fx, const ms_heartbeat_t *hb)
{
    char err[256];
    ms_msg_t a = {.cmd = MS_CMD_HEARTBEAT};
    a.u.heartbeat.ack = hb->t;
    a.u.heartbeat.ttl_ms = 300;
    assert_int_equal(ms_wire_send(fx->router, &fx->peer, &a, err, sizeof err), 0);
}

/* Next message of the given command from the agent, alone or in a BATCH
 * (others skipped, heartbeats answered). */
static void expect(fx_t *fx, int cmd, ms_msg_t *m)
{
    char err[256];
    for (int waited = 0; waited < 10000; waited += 10) {
        zmq_pollitem_t it = {fx->router, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 10);
        int rc;
        while ((rc = ms_test_recv(fx->router, 1, &fx->peer, &fx->in, m, err, sizeof err)) !=
               MS_WIRE_NONE) {
            assert_int_equal(rc, MS_WIRE_OK);
            if (m->cmd == cmd)
                return;
            if (m->cmd == MS_CMD_HEARTBEAT && cmd != MS_CMD_HELLO)
                ack(fx, &m->u.heartbeat);
            ms_msg_clear(m);
        }
    }
    fail_msg("no %s from the agent within 10 s", ms_cmd_name(cmd));
}

/* Be the master for about ms milliseconds: answer the agent's heartbeats
 * (its lease), skip the rest. */
static void pump(fx_t *fx, int ms)
{
    char err[256];
    ms_msg_t m;
    zmq_pollitem_t it = {fx->router, 0, ZMQ_POLLIN, 0};
    zmq_poll(&it, 1, ms);
    while (ms_test_recv(fx->router, 1, &fx->peer, &fx->in, &m, err, sizeof err) == MS_WIRE_OK) {
        if (m.cmd == MS_CMD_HEARTBEAT)
            ack(fx, &m.u.heartbeat);
        ms_msg_clear(&m);
    }
}

static void test_agent_announces_and_grants_its_slots(void **state)
{
    fx_t *fx = *state;
    ms_msg_t m;
    expect(fx, MS_CMD_HELLO, &m);
    assert_string_equal(m.u.hello.name, "agent-under-test");
    assert_int_equal(m.u.hello.slots, 2);
    ms_msg_clear(&m);
    expect(fx, MS_CMD_READY, &m);
    assert_int_equal(m.u.ready.credit, 2);
    ms_msg_clear(&m);
}

/* Make the folder src/proj of a task, dst its (missing) destination root. */
static void make_project(const fx_t *fx, char *src, char *dst, size_t size)
{
    char path[256];
    snprintf(src, size, "%s/src", fx->dir);
    snprintf(dst, size, "%s/dst", fx->dir);
    snprintf(path, sizeof path, "%s/proj", src);
    assert_int_equal(mkdir(src, 0755), 0);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void test_agent_runs_a_task_and_reports_its_counters(void **state)
{
    fx_t *fx = *state;
    char src[128], dst[128], path[256], err[256];
    make_project(fx, src, dst, sizeof src);
    snprintf(path, sizeof path, "%s/proj/data", src);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 10000; i++)
        fputs("0123456789", f);
    fclose(f);

    ms_msg_t m;
    expect(fx, MS_CMD_READY, &m);
    ms_msg_clear(&m);
    ms_msg_t task = {.cmd = MS_CMD_TASK};
    task.u.task = (ms_task_t){
        .run_id = 7, .task_id = 3, .attempt = 1, .project = "proj", .source = src, .dest = dst};
    assert_int_equal(ms_wire_send(fx->router, &fx->peer, &task, err, sizeof err), 0);

    expect(fx, MS_CMD_RESULT, &m);
    assert_int_equal(m.u.result.run_id, 7);
    assert_int_equal(m.u.result.task_id, 3);
    assert_int_equal(m.u.result.attempt, 1);
    assert_int_equal(m.u.result.exit_code, 0);
    assert_int_equal(m.u.result.bytes_total, 100000);
    assert_int_equal(m.u.result.bytes_transferred, 100000);
    assert_int_equal(m.u.result.files, 2); /* the folder and its file */
    assert_true(m.u.result.cpu_user_s + m.u.result.cpu_sys_s > 0);
    ms_msg_clear(&m);
    expect(fx, MS_CMD_READY, &m); /* the slot comes back */
    assert_int_equal(m.u.ready.credit, 1);
    ms_msg_clear(&m);
    snprintf(path, sizeof path, "%s/proj/data", dst);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 100000);
}

/* With no allowed roots configured at all (this agent has none), a chunk
 * whose folder is now a symbolic link is not run through it: its folder
 * vanished since the walk, and nothing is created in the backup. */
static void test_agent_never_copies_a_chunk_through_a_symbolic_link(void **state)
{
    fx_t *fx = *state;
    char src[128], dst[128], path[256], target[256], err[256], *items[] = {"x"};
    make_project(fx, src, dst, sizeof src);
    snprintf(path, sizeof path, "%s/proj/link", src);
    snprintf(target, sizeof target, "%s/elsewhere", fx->dir);
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(symlink(target, path), 0);

    ms_msg_t m;
    expect(fx, MS_CMD_READY, &m);
    ms_msg_clear(&m);
    ms_msg_t task = {.cmd = MS_CMD_TASK};
    task.u.task = (ms_task_t){.run_id = 7,
                              .task_id = 4,
                              .attempt = 1,
                              .project = "proj",
                              .source = src,
                              .dest = dst,
                              .sub = "link",
                              .items = items,
                              .n_items = 1};
    assert_int_equal(ms_wire_send(fx->router, &fx->peer, &task, err, sizeof err), 0);

    expect(fx, MS_CMD_RESULT, &m);
    assert_int_equal(m.u.result.task_id, 4);
    assert_int_equal(m.u.result.exit_code, MS_EXIT_VANISHED);
    if (!strstr(m.u.result.message, "/proj/link is a symbolic link since the walk"))
        fail_msg("unexpected answer: %s", m.u.result.message);
    ms_msg_clear(&m);
    snprintf(path, sizeof path, "%s/proj", dst);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
}

static void test_agent_ignores_a_master_of_another_version_and_reconnects(void **state)
{
    fx_t *fx = *state;
    ms_msg_t m;
    expect(fx, MS_CMD_HELLO, &m);
    ms_msg_clear(&m);
    unsigned char v2[] = {'M', 'S', 'Y', 'N', 'C', 2}, cmd = MS_CMD_TASK;
    for (int i = 0; i < 20; i++) { /* whatever it says, in another version */
        zmq_send(fx->router, fx->peer.id, fx->peer.len, ZMQ_SNDMORE);
        zmq_send(fx->router, v2, sizeof v2, ZMQ_SNDMORE);
        zmq_send(fx->router, &cmd, 1, ZMQ_SNDMORE);
        zmq_send(fx->router, "\x80", 1, 0);
    }
    /* It does not count as an answer: the agent reconnects and says HELLO
     * again (after 2 silent heartbeats of 100 ms), and is still alive. */
    expect(fx, MS_CMD_HELLO, &m);
    ms_msg_clear(&m);
    assert_int_equal(waitpid(fx->agent, NULL, WNOHANG), 0);
}

static void test_agent_leaves_when_the_master_says_bye(void **state)
{
    fx_t *fx = *state;
    ms_msg_t m;
    char err[256];
    expect(fx, MS_CMD_HELLO, &m);
    ms_msg_clear(&m);
    ms_msg_t bye = {.cmd = MS_CMD_BYE};
    bye.u.text.message = "run finished";
    assert_int_equal(ms_wire_send(fx->router, &fx->peer, &bye, err, sizeof err), 0);
    int status = -1;
    for (int i = 0; i < 500 && waitpid(fx->agent, &status, WNOHANG) == 0; i++)
        usleep(10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    fx->agent = -1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/*
 * A master whose lease is shorter than three of the worker's heartbeats
 * (it runs with a shorter --heartbeat-ms): the worker beats every ttl/3,
 * else its own lease check would stop its rsyncs between two heartbeats.
 * The agent beats every 100 ms; this master announces a lease of 150 ms.
 */
static void test_agent_beats_as_often_as_the_master_lease_needs(void **state)
{
    fx_t *fx = *state;
    ms_msg_t m;
    char err[256];
    expect(fx, MS_CMD_HELLO, &m);
    ms_msg_clear(&m);
    int64_t t[16];
    int n = 0;
    for (int waited = 0; waited < 5000 && n < 16; waited += 5) {
        zmq_pollitem_t it = {fx->router, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 5);
        while (n < 16 &&
               ms_test_recv(fx->router, 1, &fx->peer, &fx->in, &m, err, sizeof err) == MS_WIRE_OK) {
            if (m.cmd == MS_CMD_HEARTBEAT) {
                t[n++] = (int64_t)m.u.heartbeat.t; /* the agent's own clock */
                ms_msg_t a = {.cmd = MS_CMD_HEARTBEAT};
                a.u.heartbeat.ack = m.u.heartbeat.t;
                a.u.heartbeat.ttl_ms = 150;
                assert_int_equal(ms_wire_send(fx->router, &fx->peer, &a, err, sizeof err), 0);
            }
            ms_msg_clear(&m);
        }
    }
    assert_int_equal(n, 16);
    /* The intervals once the first answer came (the median: a loaded
     * machine may delay one beat). 50 ms expected, 100 ms before. */
    int64_t gaps[14];
    for (int i = 2; i < 16; i++)
        gaps[i - 2] = t[i] - t[i - 1];
    qsort(gaps, 14, sizeof gaps[0], cmp_i64);
    if (gaps[7] >= 80)
        fail_msg("median heartbeat interval %lld ms against a lease of 150 ms", (long long)gaps[7]);
}

/* The agent with exit_with_parent, in a grandchild whose parent (fx->agent)
 * exits once the test writes to fx->release. This process is a subreaper:
 * the orphaned agent becomes its child. */
static int setup_orphan(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    int release[2], pid_pipe[2];
    char c;
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "agent");
    snprintf(fx->ep, sizeof fx->ep, "ipc://%s/m.sock", fx->dir);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    assert_int_equal(pipe(release), 0);
    assert_int_equal(pipe(pid_pipe), 0);
    fx->agent = fork();
    assert_true(fx->agent >= 0);
    if (fx->agent == 0) {
        pid_t g = fork();
        if (g == 0) {
            static char *slow[] = {"--bwlimit=100"};
            ms_log_init("test-agent", MS_LOG_ERROR);
            ms_agent_opts_t o = {.master = fx->ep,
                                 .name = "orphan",
                                 .slots = 1,
                                 .rsync = "rsync",
                                 .rsync_opts = slow,
                                 .n_rsync_opts = 1,
                                 .heartbeat_ms = 100,
                                 .exit_with_parent = 1};
            _exit(ms_agent_run(&o, &never_stop));
        }
        if (write(pid_pipe[1], &g, sizeof g) != sizeof g || read(release[0], &c, 1) < 0)
            _exit(1);
        _exit(0); /* no death signal: the agent sees getppid() change */
    }
    assert_int_equal(read(pid_pipe[0], &fx->orphan, sizeof fx->orphan), sizeof fx->orphan);
    close(pid_pipe[0]);
    close(pid_pipe[1]);
    close(release[0]);
    fx->release = release[1];
    fx->ctx = zmq_ctx_new();
    fx->router = zmq_socket(fx->ctx, ZMQ_ROUTER);
    assert_int_equal(ms_wire_setup(fx->router, 0), 0);
    assert_int_equal(zmq_bind(fx->router, fx->ep), 0);
    *state = fx;
    return 0;
}

static int teardown_orphan(void **state)
{
    fx_t *fx = *state;
    if (fx->orphan > 0) {
        kill(fx->orphan, SIGKILL);
        waitpid(fx->orphan, NULL, 0);
    }
    close(fx->release);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    return teardown(state);
}

/* 1 when the folder holds an rsync temporary file (".name.XXXXXX"). */
static int has_temp_file(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int found = 0;
    while (d && (de = readdir(d)) != NULL)
        found |=
            de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    if (d)
        closedir(d);
    return found;
}

/* exit_with_parent: while a task copies (2 MB at 100 KB/s), the process
 * that started the agent exits. The agent stops the rsync at once (SIGTERM:
 * its temporary file goes) and exits 0, without draining. */
static void test_agent_with_exit_with_parent_stops_when_its_parent_exits(void **state)
{
    fx_t *fx = *state;
    char src[128], dst[128], path[256], err[256];
    make_project(fx, src, dst, sizeof src);
    snprintf(path, sizeof path, "%s/proj/data", src);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 200000; i++)
        fputs("0123456789", f);
    fclose(f);
    ms_msg_t m;
    expect(fx, MS_CMD_READY, &m);
    ms_msg_clear(&m);
    ms_msg_t task = {.cmd = MS_CMD_TASK};
    task.u.task = (ms_task_t){
        .run_id = 7, .task_id = 5, .attempt = 1, .project = "proj", .source = src, .dest = dst};
    assert_int_equal(ms_wire_send(fx->router, &fx->peer, &task, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/proj", dst);
    /* Answer the heartbeats meanwhile: an agent whose master stays silent
     * for its lease stops its rsyncs (its ipc:// connection may have come
     * up only after its start, at its first reconnect). */
    for (int i = 0; i < 500 && !has_temp_file(path); i++)
        pump(fx, 10);
    assert_true(has_temp_file(path));

    assert_int_equal(write(fx->release, "x", 1), 1);
    assert_int_equal(waitpid(fx->agent, NULL, 0), fx->agent);
    fx->agent = -1;
    int64_t t0 = ms_now_ms();
    int status = -1;
    pid_t reaped;
    while ((reaped = waitpid(fx->orphan, &status, WNOHANG)) == 0 && ms_now_ms() - t0 < 10000)
        usleep(10000);
    int64_t took = ms_now_ms() - t0;
    if (reaped == fx->orphan)
        fx->orphan = -1; /* else teardown_orphan kills it */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    if (took > 2000)
        fail_msg("the orphaned agent took %lld ms to exit", (long long)took);
    assert_false(has_temp_file(path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_agent_announces_and_grants_its_slots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_runs_a_task_and_reports_its_counters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_never_copies_a_chunk_through_a_symbolic_link,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_agent_ignores_a_master_of_another_version_and_reconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_leaves_when_the_master_says_bye, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_beats_as_often_as_the_master_lease_needs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_agent_with_exit_with_parent_stops_when_its_parent_exits, setup_orphan,
            teardown_orphan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
