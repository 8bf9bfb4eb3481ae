/*
 * test_path.c - ms_path_make_folder: a daemon's missing folder is made with
 * exactly its mode whatever the umask, its missing parents 0755 (never
 * 0777), an existing folder is left alone, and a file in the way is a clear
 * error. ms_path_mkdirs keeps making a destination's folders. No sockets.
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

#include "ms_path.h"
#include "ms_test.h"

typedef struct {
    char dir[64];
    mode_t umask_was;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "path");
    fx->umask_was = umask(022);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    umask(fx->umask_was);
    assert_int_equal(ms_test_rmtree(fx->dir), 0);
    free(fx);
    return 0;
}

static unsigned mode_of(const char *dir, const char *rel)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_uid, geteuid());
    return (unsigned)(st.st_mode & 07777);
}

static void a_missing_folder_and_its_parents_are_made(void **state)
{
    fx_t *fx = *state;
    char path[256], err[512];
    int created = 0;
    snprintf(path, sizeof path, "%s/var/lib/multisync", fx->dir);
    assert_int_equal(ms_path_make_folder(path, 0700, &created, err, sizeof err), 0);
    assert_int_equal(created, 1);
    assert_int_equal(mode_of(fx->dir, "var/lib/multisync"), 0700);
    assert_int_equal(mode_of(fx->dir, "var/lib"), 0755);
    assert_int_equal(mode_of(fx->dir, "var"), 0755);
}

static void the_mode_is_exact_whatever_the_umask(void **state)
{
    fx_t *fx = *state;
    char path[256], err[512];
    int created = 0;
    umask(0); /* parents must not come out 0777 */
    snprintf(path, sizeof path, "%s/open/run/multisync/", fx->dir);
    assert_int_equal(ms_path_make_folder(path, 0750, &created, err, sizeof err), 0);
    assert_int_equal(created, 1);
    assert_int_equal(mode_of(fx->dir, "open/run/multisync"), 0750);
    assert_int_equal(mode_of(fx->dir, "open/run"), 0755);
    umask(0277); /* narrower than asked: the folder is still usable by its owner */
    snprintf(path, sizeof path, "%s/narrow", fx->dir);
    assert_int_equal(ms_path_make_folder(path, 0750, &created, err, sizeof err), 0);
    assert_int_equal(mode_of(fx->dir, "narrow"), 0750);
}

static void an_existing_folder_keeps_its_mode(void **state)
{
    fx_t *fx = *state;
    char path[256], err[512];
    int created = 1;
    snprintf(path, sizeof path, "%s/mine", fx->dir);
    assert_int_equal(mkdir(path, 0711), 0);
    assert_int_equal(chmod(path, 0711), 0);
    assert_int_equal(ms_path_make_folder(path, 0700, &created, err, sizeof err), 0);
    assert_int_equal(created, 0);
    assert_int_equal(mode_of(fx->dir, "mine"), 0711);
}

static void a_file_in_the_way_is_a_clear_error(void **state)
{
    fx_t *fx = *state;
    char file[256], path[300], err[512], want[700];
    int created = 1;
    snprintf(file, sizeof file, "%s/plain", fx->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/multisync/state", file);
    assert_int_equal(ms_path_make_folder(path, 0700, &created, err, sizeof err), -1);
    assert_int_equal(errno, ENOTDIR);
    assert_int_equal(created, 0);
    snprintf(want, sizeof want, "cannot create folder %s: %s exists and is not a folder", path,
             file);
    assert_string_equal(err, want);
    assert_int_equal(ms_path_make_folder("", 0700, &created, err, sizeof err), -1);
    assert_string_equal(err, "cannot create a folder at an empty path");
    /* The folder itself a file: the same. */
    assert_int_equal(ms_path_make_folder(file, 0700, &created, err, sizeof err), -1);
    snprintf(want, sizeof want, "cannot create folder %s: %s exists and is not a folder", file,
             file);
    assert_string_equal(err, want);
}

static void a_folder_that_may_not_be_made_says_why(void **state)
{
    (void)state;
    char err[512];
    int created = 1;
    /* /proc takes no new folder, not even root's. */
    assert_int_equal(ms_path_make_folder("/proc/ms-test/x", 0700, &created, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create folder /proc/ms-test/x: /proc/ms-test: "));
}

static void mkdirs_makes_a_destination_and_names_it_in_errors(void **state)
{
    fx_t *fx = *state;
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/backup/prod", fx->dir);
    assert_int_equal(ms_path_mkdirs(path, err, sizeof err), 0);
    assert_int_equal(ms_path_mkdirs(path, err, sizeof err), 0); /* again: nothing to do */
    assert_int_equal(mode_of(fx->dir, "backup/prod"), 0755);
    snprintf(path, sizeof path, "%s/backup/prod/../../plain2", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/plain2/sub", fx->dir);
    assert_int_equal(ms_path_mkdirs(path, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create destination "));
    assert_non_null(strstr(err, "plain2 exists and is not a folder"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_missing_folder_and_its_parents_are_made, setup, teardown),
        cmocka_unit_test_setup_teardown(the_mode_is_exact_whatever_the_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(an_existing_folder_keeps_its_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(a_file_in_the_way_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(a_folder_that_may_not_be_made_says_why, setup, teardown),
        cmocka_unit_test_setup_teardown(mkdirs_makes_a_destination_and_names_it_in_errors, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
