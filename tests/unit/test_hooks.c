/*
 * The hooks' processes (ms_hooks.h), without a master: a hook's exit, its
 * environment and argv as given, its output in the log, a program that
 * cannot run, a hook killed at its timeout or stopped, with its children.
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
#include <unistd.h>

#include "ms_clock.h"
#include "ms_hooks.h"
#include "ms_log.h"
#include "ms_test.h"

typedef struct {
    int n;
    uint64_t run_id;
    ms_hook_kind_t kind;
    ms_hook_result_t res;
} seen_t;

static void on_done(void *arg, uint64_t run_id, ms_hook_kind_t kind, const ms_hook_result_t *res)
{
    seen_t *s = arg;
    s->n++;
    s->run_id = run_id;
    s->kind = kind;
    s->res = *res;
}

/* Poll h as the master's loop would until a hook ended or limit_ms went. */
static void wait_done(ms_hooks_t *h, seen_t *s, int limit_ms)
{
    int64_t end = ms_now_ms() + limit_ms;
    while (s->n == 0 && ms_now_ms() < end) {
        zmq_pollitem_t items[4];
        size_t n = ms_hooks_poll_items(h, items, 4);
        int64_t due = ms_hooks_next_due(h) - ms_now_ms();
        zmq_poll(items, (int)n, due < 0 ? 0 : due > 200 ? 200 : (long)due);
        ms_hooks_handle(h, items, n);
    }
    if (s->n == 0)
        fail_msg("no hook ended within %d ms", limit_ms);
}

static void run_sh(const char *script, char *const *env, unsigned timeout_s, seen_t *s,
                   int limit_ms)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, "hook", NULL};
    char err[256];
    ms_hooks_t *h = ms_hooks_new(on_done, s);
    assert_non_null(h);
    assert_int_equal(ms_hooks_start(h, 7, MS_HOOK_POST_RUN, argv, env, timeout_s, err, sizeof err),
                     0);
    wait_done(h, s, limit_ms);
    ms_hooks_destroy(&h);
    assert_null(h);
}

static void a_hook_that_exits_0_is_ok_and_one_that_exits_3_is_not(void **state)
{
    seen_t s = {0};
    (void)state;
    run_sh("exit 0", NULL, 10, &s, 10000);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.run_id, 7);
    assert_int_equal(s.kind, MS_HOOK_POST_RUN);
    assert_true(s.res.ok);
    memset(&s, 0, sizeof s);
    run_sh("exit 3", NULL, 10, &s, 10000);
    assert_false(s.res.ok);
    assert_int_equal(s.res.exit_code, 3);
    assert_string_equal(s.res.why, "exited with status 3");
}

static void a_hook_gets_its_argv_and_env_and_nothing_else_open(void **state)
{
    char dir[128], script[1024], path[256], got[4096];
    char *env[] = {"MULTISYNC_RUN_ID=7", "MULTISYNC_HOOK=post_run", "HOME=/override", NULL};
    seen_t s = {0};
    (void)state;
    ms_test_tmpdir(dir, sizeof dir, "hooks");
    snprintf(path, sizeof path, "%s/out", dir);
    setenv("MS_TEST_INHERITED", "yes", 1);
    snprintf(script, sizeof script,
             "{ echo \"$0|$MULTISYNC_RUN_ID|$MULTISYNC_HOOK|$HOME|$MS_TEST_INHERITED|$(pwd)\"; "
             "ls /proc/self/fd | wc -l; read x; echo \"stdin:$?\"; } > %s",
             path);
    run_sh(script, env, 10, &s, 10000);
    assert_true(s.res.ok);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    /* ls sees 0, 1, 2 and its own /proc/self/fd: 4; stdin is /dev/null (EOF) */
    assert_string_equal(got, "hook|7|post_run|/override|yes|/\n4\nstdin:1\n");
    ms_test_rmtree(dir);
}

static void a_program_that_cannot_run_ends_failed_saying_why(void **state)
{
    char *argv[] = {"/nonexistent/hook", NULL};
    char err[256];
    seen_t s = {0};
    (void)state;
    ms_hooks_t *h = ms_hooks_new(on_done, &s);
    assert_int_equal(ms_hooks_start(h, 1, MS_HOOK_PRE_RUN, argv, NULL, 10, err, sizeof err), 0);
    assert_int_equal(s.n, 0); /* told by the loop, not from inside start */
    wait_done(h, &s, 5000);
    assert_false(s.res.ok);
    assert_string_equal(s.res.why, "cannot run /nonexistent/hook: No such file or directory");
    ms_hooks_destroy(&h);
}

static void a_hook_past_its_timeout_is_killed_with_its_children(void **state)
{
    char dir[128], script[512], pidfile[256];
    seen_t s = {0};
    (void)state;
    ms_test_tmpdir(dir, sizeof dir, "hooks");
    snprintf(pidfile, sizeof pidfile, "%s/child", dir);
    /* a child that ignores nothing, and a parent that ignores SIGTERM */
    snprintf(script, sizeof script, "sleep 300 & echo $! > %s; trap '' TERM; wait; sleep 300",
             pidfile);
    int64_t t0 = ms_now_ms();
    run_sh(script, NULL, 1, &s, 20000);
    assert_false(s.res.ok);
    assert_true(s.res.timed_out);
    assert_string_equal(s.res.why, "killed after its timeout of 1 s");
    assert_true(ms_now_ms() - t0 < 1000 + MS_HOOK_KILL_GRACE_MS + 3000);
    FILE *f = fopen(pidfile, "r");
    int child = 0;
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &child), 1);
    fclose(f);
    /* its group went with it (once reaped by whoever inherited it) */
    for (int64_t end = ms_now_ms() + 10000; kill(child, 0) == 0 && ms_now_ms() < end;)
        usleep(10 * 1000);
    assert_int_equal(kill(child, 0), -1);
    ms_test_rmtree(dir);
}

static void a_stopped_hook_ends_stopped_and_is_told(void **state)
{
    char *argv[] = {"/bin/sleep", "300", NULL};
    char err[256];
    double elapsed = -1;
    seen_t s = {0};
    (void)state;
    ms_hooks_t *h = ms_hooks_new(on_done, &s);
    assert_int_equal(ms_hooks_start(h, 9, MS_HOOK_PRE_RUN, argv, NULL, 600, err, sizeof err), 0);
    assert_string_equal(ms_hooks_running(h, 9, &elapsed), "pre_run");
    assert_true(elapsed >= 0);
    assert_null(ms_hooks_running(h, 8, &elapsed));
    assert_int_equal(ms_hooks_stop(h, 9), 1);
    assert_int_equal(ms_hooks_stop(h, 8), 0);
    wait_done(h, &s, 10000);
    assert_true(s.res.stopped);
    assert_false(s.res.ok);
    assert_int_equal(s.res.term_signal, SIGTERM);
    assert_null(ms_hooks_running(h, 9, &elapsed));
    ms_hooks_destroy(&h);
}

static void destroying_the_hooks_stops_those_still_running(void **state)
{
    char *argv[] = {"/bin/sleep", "300", NULL};
    char err[256];
    seen_t s = {0};
    (void)state;
    ms_hooks_t *h = ms_hooks_new(on_done, &s);
    assert_int_equal(ms_hooks_start(h, 9, MS_HOOK_PRE_RUN, argv, NULL, 600, err, sizeof err), 0);
    int64_t t0 = ms_now_ms();
    ms_hooks_destroy(&h);
    assert_true(ms_now_ms() - t0 < 3000);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_hook_that_exits_0_is_ok_and_one_that_exits_3_is_not),
        cmocka_unit_test(a_hook_gets_its_argv_and_env_and_nothing_else_open),
        cmocka_unit_test(a_program_that_cannot_run_ends_failed_saying_why),
        cmocka_unit_test(a_hook_past_its_timeout_is_killed_with_its_children),
        cmocka_unit_test(a_stopped_hook_ends_stopped_and_is_told),
        cmocka_unit_test(destroying_the_hooks_stops_those_still_running),
    };
    ms_log_init("test_hooks", MS_LOG_WARN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
