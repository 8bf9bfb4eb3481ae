/*
 * test_lock.c - ms_lock: one holder at a time, across open file
 * descriptions and processes; the refusal names the holder; a symlink is
 * never followed; a forked child that inherited the descriptor keeps the
 * lock held. No sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ms_lock.h"
#include "ms_test.h"

typedef struct {
    char dir[64];
    char path[128];
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "lock");
    snprintf(fx->path, sizeof fx->path, "%s/thing.lock", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(ms_test_rmtree(fx->dir), 0);
    free(fx);
    return 0;
}

static void read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, len - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    close(fd);
}

/* Whether a take of fx->path fails now because someone holds it, and the
 * refusal names them (holder_pid). */
static void assert_held_by(const fx_t *fx, pid_t holder_pid)
{
    char err[512] = "", want[128];
    errno = 0;
    ms_lock_t *l = ms_lock_take(fx->path, "thing /x", "pid 1 intruder", err, sizeof err);
    int e = errno;
    if (l)
        ms_lock_release(&l);
    assert_null(l);
    assert_int_equal(e, EWOULDBLOCK);
    if (holder_pid == 0) /* the one that wrote its name released it, emptying the file */
        snprintf(want, sizeof want, "thing /x is in use by another process (it holds ");
    else
        snprintf(want, sizeof want, "thing /x is in use by pid %d ", (int)holder_pid);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("refusal '%s' does not start with '%s'", err, want);
    assert_null(strchr(err, '\n'));
}

static ms_lock_t *take_as_self(const fx_t *fx, const char *who)
{
    char err[256] = "", holder[128];
    snprintf(holder, sizeof holder, "pid %d %s, catalog /x.db", (int)getpid(), who);
    ms_lock_t *l = ms_lock_take(fx->path, "thing /x", holder, err, sizeof err);
    if (!l)
        fail_msg("take failed: %s", err);
    return l;
}

static void test_a_lock_writes_its_holder_and_a_second_take_is_refused(void **state)
{
    fx_t *fx = *state;
    char text[256], want[128];
    struct stat st;
    mode_t old = umask(077); /* the file is 0644 whatever the umask: anyone may read whose it is */
    ms_lock_t *l = take_as_self(fx, "test");
    umask(old);
    assert_true(ms_lock_fd(l) >= 0);
    read_file(fx->path, text, sizeof text);
    snprintf(want, sizeof want, "pid %d test, catalog /x.db\n", (int)getpid());
    assert_string_equal(text, want);
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    /* The same process, another open file description: refused. */
    assert_held_by(fx, getpid());
    read_file(fx->path, text, sizeof text);
    assert_string_equal(text, want); /* the refused taker wrote nothing */
    ms_lock_release(&l);
    assert_null(l);
    ms_lock_release(&l); /* idempotent */
    ms_lock_release(NULL);
    assert_int_equal(access(fx->path, F_OK), 0); /* never unlinked */
    read_file(fx->path, text, sizeof text);
    assert_string_equal(text, ""); /* emptied: released, not left by a crash */
    l = take_as_self(fx, "next");
    assert_string_equal(ms_lock_previous(l, NULL), "");
    ms_lock_release(&l);
}

/* A child takes the lock as "pid 42 dead, lease 3000 ms" and dies
 * holding it. */
static void die_holding(const fx_t *fx)
{
    int status;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256];
        ms_lock_t *l =
            ms_lock_take(fx->path, "thing /x", "pid 42 dead, lease 3000 ms", err, sizeof err);
        _exit(l && ms_lock_touch(l) == 0 ? 0 : 1); /* dies holding it */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A holder that dies without releasing leaves its line: the next taker
 * reads it, and how long ago it was last touched. */
static void test_what_a_dead_holder_left_is_told_to_the_next(void **state)
{
    fx_t *fx = *state;
    double age = -1;
    die_holding(fx);
    ms_lock_t *l = take_as_self(fx, "after");
    assert_string_equal(ms_lock_previous(l, &age), "pid 42 dead, lease 3000 ms");
    assert_true(age >= 0 && age < 5);
    ms_lock_release(&l);
}

/* A look (taken, then put back) leaves what a dead holder wrote, and when,
 * for the next taker: a run closing a killed one must not hide that a
 * master died there with workers that may still write. */
static void test_a_lock_put_back_keeps_what_the_dead_holder_left(void **state)
{
    fx_t *fx = *state;
    double age = -1;
    struct stat before, after;
    char text[256];
    die_holding(fx);
    assert_int_equal(stat(fx->path, &before), 0);
    usleep(20000);
    ms_lock_t *look = take_as_self(fx, "closing a killed run");
    ms_lock_put_back(&look);
    assert_null(look);
    ms_lock_put_back(&look); /* NULL-safe */
    read_file(fx->path, text, sizeof text);
    assert_string_equal(text, "pid 42 dead, lease 3000 ms\n");
    assert_int_equal(stat(fx->path, &after), 0);
    assert_true(after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
                after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    ms_lock_t *l = take_as_self(fx, "after");
    assert_string_equal(ms_lock_previous(l, &age), "pid 42 dead, lease 3000 ms");
    assert_true(age >= 0.02 && age < 5);
    ms_lock_release(&l);
    /* released: a look puts back an empty file */
    look = take_as_self(fx, "closing a killed run");
    ms_lock_put_back(&look);
    read_file(fx->path, text, sizeof text);
    assert_string_equal(text, "");
}

/* A child takes the lock, says so on ready[1], and holds it until go[0]
 * is closed. */
static pid_t child_holding(const fx_t *fx, int ready[2], int go[2])
{
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[256], holder[64], c;
        close(ready[0]);
        close(go[1]);
        snprintf(holder, sizeof holder, "pid %d child", (int)getpid());
        ms_lock_t *l = ms_lock_take(fx->path, "thing /x", holder, err, sizeof err);
        if (!l || write(ready[1], "x", 1) != 1)
            _exit(1);
        while (read(go[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    close(ready[1]);
    close(go[0]);
    return pid;
}

static void test_a_child_holding_the_lock_blocks_the_parent_until_it_exits(void **state)
{
    fx_t *fx = *state;
    int ready[2], go[2], status;
    char c;
    pid_t pid = child_holding(fx, ready, go);
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_held_by(fx, pid);
    close(go[1]); /* the child exits: its lock goes with it */
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    ms_lock_t *l = take_as_self(fx, "parent");
    ms_lock_release(&l);
}

static void test_a_forked_child_with_the_inherited_descriptor_keeps_it_held(void **state)
{
    fx_t *fx = *state;
    int go[2], status;
    char c;
    ms_lock_t *l = take_as_self(fx, "parent");
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* holds the inherited descriptor, without a word */
        close(go[1]);
        while (read(go[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    close(go[0]);
    ms_lock_release(&l);
    assert_held_by(fx, 0); /* the child still holds the parent's lock */
    close(go[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    l = take_as_self(fx, "again");
    ms_lock_release(&l);
}

static void assert_refused_symlink(const fx_t *fx, const char *target)
{
    char err[512] = "";
    assert_int_equal(symlink(target, fx->path), 0);
    errno = 0;
    ms_lock_t *l = ms_lock_take(fx->path, "thing /x", "pid 1 test", err, sizeof err);
    int e = errno;
    if (l)
        ms_lock_release(&l);
    assert_null(l);
    assert_int_equal(e, ELOOP);
    if (!strstr(err, fx->path) || !strstr(err, "symbolic link"))
        fail_msg("unclear refusal: '%s'", err);
    assert_int_equal(unlink(fx->path), 0);
}

static void test_a_symlink_at_the_path_is_never_followed(void **state)
{
    fx_t *fx = *state;
    char target[192], text[64];
    snprintf(target, sizeof target, "%s/victim", fx->dir);
    assert_refused_symlink(fx, target); /* dangling: nothing is created there */
    assert_int_equal(access(target, F_OK), -1);
    int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "precious", 8), 8);
    close(fd);
    assert_refused_symlink(fx, target); /* to a file: it is neither locked nor truncated */
    read_file(target, text, sizeof text);
    assert_string_equal(text, "precious");
}

static void test_other_failures_say_why(void **state)
{
    fx_t *fx = *state;
    char err[512] = "", path[192];
    snprintf(path, sizeof path, "%s/missing/thing.lock", fx->dir);
    errno = 0;
    ms_lock_t *l = ms_lock_take(path, "thing /x", "pid 1 test", err, sizeof err);
    assert_null(l);
    assert_int_equal(errno, ENOENT);
    if (!strstr(err, path))
        fail_msg("the error does not name the file: '%s'", err);
    assert_int_equal(mkdir(fx->path, 0700), 0); /* a folder where the file should be */
    l = ms_lock_take(fx->path, "thing /x", "pid 1 test", err, sizeof err);
    assert_null(l);
    if (!strstr(err, fx->path))
        fail_msg("the error does not name the file: '%s'", err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_lock_writes_its_holder_and_a_second_take_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_child_holding_the_lock_blocks_the_parent_until_it_exits, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_forked_child_with_the_inherited_descriptor_keeps_it_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_a_dead_holder_left_is_told_to_the_next, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_lock_put_back_keeps_what_the_dead_holder_left, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_symlink_at_the_path_is_never_followed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_other_failures_say_why, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
