/*
 * test_ipc.c - ms_ipc_make_folder: the folder of an ipc:// socket is made
 * 0750 when missing and said, an existing one is left for ms_ipc_claim to
 * judge (a folder others may write to is still refused), and endpoints
 * without a socket file make nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ms_ipc.h"
#include "ms_test.h"

typedef struct {
    char dir[64];
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "ipc");
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

static void a_missing_socket_folder_is_made_0750(void **state)
{
    fx_t *fx = *state;
    char ep[256], want[256], made[256], err[512];
    struct stat st;
    snprintf(ep, sizeof ep, "ipc://%s/run/multisync/control.sock", fx->dir);
    snprintf(want, sizeof want, "%s/run/multisync", fx->dir);
    assert_int_equal(ms_ipc_make_folder(ep, made, sizeof made, err, sizeof err), 0);
    assert_string_equal(made, want);
    assert_int_equal(stat(want, &st), 0);
    assert_int_equal(st.st_mode & 07777, MS_IPC_FOLDER_MODE);
    assert_int_equal(MS_IPC_FOLDER_MODE & S_IWOTH, 0);
    /* Again: it is there, nothing is made. */
    assert_int_equal(ms_ipc_make_folder(ep, made, sizeof made, err, sizeof err), 0);
    assert_string_equal(made, "");
}

static void an_existing_open_folder_is_left_and_still_refused(void **state)
{
    fx_t *fx = *state;
    char dir[128], ep[256], made[256], err[512];
    struct stat st;
    ms_lock_t *lock = NULL;
    snprintf(dir, sizeof dir, "%s/ww", fx->dir);
    assert_int_equal(mkdir(dir, 0777), 0);
    assert_int_equal(chmod(dir, 01777), 0);
    snprintf(ep, sizeof ep, "ipc://%s/c.sock", dir);
    assert_int_equal(ms_ipc_make_folder(ep, made, sizeof made, err, sizeof err), 0);
    assert_string_equal(made, "");
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 01777);
    assert_int_equal(ms_ipc_claim(ep, "test", &lock, err, sizeof err), -1);
    assert_null(lock);
    assert_non_null(strstr(err, "is writable by others"));
}

static void endpoints_without_a_file_make_nothing(void **state)
{
    (void)state;
    char made[256] = "x", err[512];
    assert_int_equal(ms_ipc_make_folder("tcp://0.0.0.0:5555", made, sizeof made, err, sizeof err),
                     0);
    assert_string_equal(made, "");
    assert_int_equal(ms_ipc_make_folder("ipc://@abstract", made, sizeof made, err, sizeof err), 0);
    assert_string_equal(made, "");
}

static void a_file_in_the_way_names_the_endpoint(void **state)
{
    fx_t *fx = *state;
    char file[128], ep[256], made[256], err[512];
    snprintf(file, sizeof file, "%s/plain", fx->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(ep, sizeof ep, "ipc://%s/sub/c.sock", file);
    assert_int_equal(ms_ipc_make_folder(ep, made, sizeof made, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot bind ipc://"));
    assert_non_null(strstr(err, "plain exists and is not a folder"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_missing_socket_folder_is_made_0750, setup, teardown),
        cmocka_unit_test_setup_teardown(an_existing_open_folder_is_left_and_still_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(endpoints_without_a_file_make_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_file_in_the_way_names_the_endpoint, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
