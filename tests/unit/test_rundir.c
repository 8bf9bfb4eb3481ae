/*
 * The private runtime folder of `multisync run`: made 0700 and locked; a
 * sweep removes the folders of dead runs (after their worker exits) and
 * nothing else: not a live run's folder, not a folder with anything
 * unexpected in it, never through a symbolic link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_clock.h"
#include "ms_rundir.h"
#include "ms_test.h"

typedef struct {
    char base[64];
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->base, sizeof fx->base, "rundir");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    ms_test_rmtree(fx->base);
    free(fx);
    return 0;
}

/* out = dir/name, which must fit. */
static void join(char *out, size_t len, const char *dir, const char *name)
{
    if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
        fail_msg("path too long");
}

static int exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat st;
    join(p, sizeof p, dir, name);
    return lstat(p, &st) == 0;
}

/* A bound (then closed) AF_UNIX socket, as the master leaves it. */
static void make_socket(const char *dir)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/" MS_RUNDIR_SOCKET, dir);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
}

/* What a kill -9 leaves: the folder, its files, no lock held. */
static void make_dead(const char *base, ms_rundir_t *d)
{
    char err[256];
    assert_int_equal(ms_rundir_create(d, base, err, sizeof err), 0);
    make_socket(d->path);
    close(d->lock_fd);
    close(d->worker_lock_fd);
    close(d->dir_fd);
}

static void touch(const char *dir, const char *name)
{
    char p[PATH_MAX];
    join(p, sizeof p, dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
}

static void create_makes_a_private_locked_folder_and_remove_takes_it_all(void **state)
{
    fx_t *fx = *state;
    ms_rundir_t d;
    char err[256];
    struct stat st;
    assert_int_equal(ms_rundir_create(&d, fx->base, err, sizeof err), 0);
    assert_int_equal(strncmp(d.path, fx->base, strlen(fx->base)), 0);
    assert_int_equal(lstat(d.path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_true(exists(d.path, MS_RUNDIR_LOCK));
    assert_true(exists(d.path, MS_RUNDIR_WORKER_LOCK));
    assert_false(exists(d.path, MS_RUNDIR_LOCK ".new"));
    make_socket(d.path);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", d.path);
    ms_rundir_remove(&d);
    assert_int_equal(lstat(path, &st), -1);
    assert_int_equal(d.lock_fd, -1);
    assert_int_equal(d.worker_lock_fd, -1);
}

static void sweep_removes_a_dead_run_and_leaves_a_live_one(void **state)
{
    fx_t *fx = *state;
    ms_rundir_t dead, live;
    char err[256];
    struct stat st;
    make_dead(fx->base, &dead);
    assert_int_equal(ms_rundir_create(&live, fx->base, err, sizeof err), 0);
    make_socket(live.path);
    assert_int_equal(ms_rundir_sweep(fx->base, 0), 1);
    assert_int_equal(lstat(dead.path, &st), -1);
    assert_true(exists(live.path, MS_RUNDIR_SOCKET));
    assert_true(exists(live.path, MS_RUNDIR_LOCK));
    /* Its worker gone, the run itself still holds it. */
    ms_rundir_handed_over(&live);
    assert_int_equal(ms_rundir_sweep(fx->base, 0), 0);
    assert_int_equal(lstat(live.path, &st), 0);
    ms_rundir_remove(&live);
}

/* A run killed while its worker still stops its rsyncs: the sweep waits for
 * the worker, and without the time to wait it leaves the folder alone. */
static void sweep_waits_for_the_worker_of_a_dead_run(void **state)
{
    fx_t *fx = *state;
    ms_rundir_t d;
    char err[256];
    struct stat st;
    int ready[2];
    char c;
    assert_int_equal(ms_rundir_create(&d, fx->base, err, sizeof err), 0);
    assert_int_equal(pipe(ready), 0);
    pid_t worker = fork();
    assert_true(worker >= 0);
    if (worker == 0) { /* holds the inherited worker lock for 500 ms */
        close(d.lock_fd);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        usleep(500 * 1000);
        _exit(0);
    }
    assert_int_equal(read(ready[0], &c, 1), 1); /* the run lock is ours alone */
    close(ready[0]);
    close(ready[1]);
    ms_rundir_handed_over(&d);
    close(d.lock_fd); /* the run dies */
    close(d.dir_fd);
    assert_int_equal(ms_rundir_sweep(fx->base, 0), 0);
    assert_int_equal(lstat(d.path, &st), 0);
    int64_t t0 = ms_now_ms();
    assert_int_equal(ms_rundir_sweep(fx->base, 5000), 1);
    int64_t waited = ms_now_ms() - t0;
    assert_true(waited >= 300 && waited < 3000);
    assert_int_equal(lstat(d.path, &st), -1);
    assert_int_equal(waitpid(worker, NULL, 0), worker);
}

/* A dead run's folder with something else in it (a file, a symbolic link
 * in place of the lock, a folder) is not touched, nor what the link names. */
static void sweep_leaves_a_folder_with_anything_unexpected(void **state)
{
    fx_t *fx = *state;
    ms_rundir_t extra, link, sub, newlock;
    char p[PATH_MAX], target[PATH_MAX];
    make_dead(fx->base, &extra);
    touch(extra.path, "precious");
    make_dead(fx->base, &link);
    join(target, sizeof target, fx->base, "target");
    touch(fx->base, "target");
    join(p, sizeof p, link.path, MS_RUNDIR_LOCK);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink(target, p), 0);
    make_dead(fx->base, &sub);
    join(p, sizeof p, sub.path, "dir");
    assert_int_equal(mkdir(p, 0700), 0);
    make_dead(fx->base, &newlock); /* died between creating and naming its lock */
    join(p, sizeof p, newlock.path, MS_RUNDIR_LOCK);
    char q[PATH_MAX];
    join(q, sizeof q, newlock.path, MS_RUNDIR_LOCK ".new");
    assert_int_equal(rename(p, q), 0);
    assert_int_equal(ms_rundir_sweep(fx->base, 0), 0);
    assert_true(exists(extra.path, "precious"));
    assert_true(exists(extra.path, MS_RUNDIR_LOCK));
    assert_true(exists(link.path, MS_RUNDIR_LOCK));
    assert_true(exists(fx->base, "target"));
    assert_true(exists(sub.path, "dir"));
    assert_true(exists(newlock.path, MS_RUNDIR_LOCK ".new"));
}

/* Only "multisync." + 6 letters or digits, a real folder, 0700: a symbolic
 * link to a dead run's folder, another name, an open folder stay. */
static void sweep_takes_only_private_folders_of_its_own_name(void **state)
{
    fx_t *fx = *state;
    char other[64], p[PATH_MAX], q[PATH_MAX];
    ms_rundir_t elsewhere, renamed, open_mode;
    ms_test_tmpdir(other, sizeof other, "rundir-other");
    make_dead(other, &elsewhere);
    join(p, sizeof p, fx->base, MS_RUNDIR_PREFIX "Sym123");
    assert_int_equal(symlink(elsewhere.path, p), 0);
    make_dead(fx->base, &renamed);
    join(q, sizeof q, fx->base, MS_RUNDIR_PREFIX "toolong1");
    assert_int_equal(rename(renamed.path, q), 0);
    make_dead(fx->base, &open_mode);
    assert_int_equal(chmod(open_mode.path, 0755), 0);
    assert_int_equal(ms_rundir_sweep(fx->base, 0), 0);
    assert_true(exists(elsewhere.path, MS_RUNDIR_LOCK));
    assert_true(exists(q, MS_RUNDIR_LOCK));
    assert_true(exists(open_mode.path, MS_RUNDIR_LOCK));
    assert_int_equal(ms_rundir_sweep(other, 0), 1); /* the target itself was a dead run's */
    ms_test_rmtree(other);
}

static void sweep_of_a_missing_base_fails(void **state)
{
    fx_t *fx = *state;
    char p[PATH_MAX];
    join(p, sizeof p, fx->base, "none");
    assert_int_equal(ms_rundir_sweep(p, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            create_makes_a_private_locked_folder_and_remove_takes_it_all, setup, teardown),
        cmocka_unit_test_setup_teardown(sweep_removes_a_dead_run_and_leaves_a_live_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sweep_waits_for_the_worker_of_a_dead_run, setup, teardown),
        cmocka_unit_test_setup_teardown(sweep_leaves_a_folder_with_anything_unexpected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sweep_takes_only_private_folders_of_its_own_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sweep_of_a_missing_base_fails, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
