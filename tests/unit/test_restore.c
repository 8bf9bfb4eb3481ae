/*
 * test_restore.c - what a restore copies and into where (ms_restore.h),
 * on real folders under /tmp: PROJECT[/PATH] split and checked, the
 * snapshot (or mirror) read and what must be in it, the folder restored
 * into kept apart from the backup (also through a link), made, and empty
 * unless forced; DIR made absolute; and the run's one task, with no top
 * task even once a split adds chunks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "ms_proto.h"
#include "ms_restore.h"
#include "ms_test.h"

#define S1 "2026-12-06T021500Z"
#define S2 "2026-12-07T021500Z"

typedef struct {
    char root[PATH_MAX];
    char backup[PATH_MAX + 64];
    char err[1024];
} fx_t;

static void mkdirs_at(fx_t *fx, const char *rel)
{
    char path[PATH_MAX * 2], *p;
    snprintf(path, sizeof path, "%s/%s", fx->root, rel);
    for (p = path + strlen(fx->root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void put(fx_t *fx, const char *rel)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", fx->root, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static void symlink_at(fx_t *fx, const char *target, const char *rel)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", fx->root, rel);
    assert_int_equal(symlink(target, path), 0);
}

static int exists(fx_t *fx, const char *rel)
{
    char path[PATH_MAX * 2];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", fx->root, rel);
    return lstat(path, &st) == 0;
}

/* A snapshot destination "b": two snapshots, latest on the second. */
static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->root, sizeof fx->root, "restore");
    snprintf(fx->backup, sizeof fx->backup, "%s/b", fx->root);
    mkdirs_at(fx, "b/" S1 "/alpha/a/b");
    put(fx, "b/" S1 "/alpha/a/b/gone");
    mkdirs_at(fx, "b/" S2 "/alpha/a/b");
    mkdirs_at(fx, "b/" S2 "/alpha/real");
    put(fx, "b/" S2 "/alpha/a/b/file");
    put(fx, "b/" S2 "/alpha/real/x");
    put(fx, "b/" S2 "/loose");
    symlink_at(fx, "real", "b/" S2 "/alpha/via-link");
    symlink_at(fx, "alpha", "b/" S2 "/link-project");
    symlink_at(fx, S2, "b/latest");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    ms_test_rmtree(fx->root);
    free(fx);
    return 0;
}

static void test_a_path_is_split_into_its_project_its_folder_and_its_name(void **state)
{
    (void)state;
    char err[512];
    ms_restore_t rs;
    assert_int_equal(ms_restore_split("alpha", &rs, err, sizeof err), 0);
    assert_string_equal(rs.project, "alpha");
    assert_null(rs.sub);
    assert_null(rs.item);
    ms_restore_free(&rs);
    assert_int_equal(ms_restore_split("alpha//", &rs, err, sizeof err), 0);
    assert_string_equal(rs.project, "alpha");
    assert_null(rs.item);
    ms_restore_free(&rs);
    assert_int_equal(ms_restore_split("alpha/f", &rs, err, sizeof err), 0);
    assert_string_equal(rs.sub, "");
    assert_string_equal(rs.item, "f");
    ms_restore_free(&rs);
    assert_int_equal(ms_restore_split("alpha/a/b c/-d/", &rs, err, sizeof err), 0);
    assert_string_equal(rs.project, "alpha");
    assert_string_equal(rs.sub, "a/b c");
    assert_string_equal(rs.item, "-d");
    ms_restore_free(&rs);
    ms_restore_free(&rs); /* idempotent */
}

static void test_a_path_that_could_leave_its_project_is_refused(void **state)
{
    (void)state;
    char err[512], longpath[MS_MAX_PATH + 8];
    ms_restore_t rs;
    const char *bad[] = {"",     "/", "/alpha",    "alpha//x", "alpha/../beta",
                         "../x", ".", "alpha/./x", "./alpha",  "alpha/.."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(ms_restore_split(bad[i], &rs, err, sizeof err), -1);
        assert_null(rs.project);
        assert_non_null(strstr(err, "the path to restore"));
    }
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(ms_restore_split(longpath, &rs, err, sizeof err), -1);
}

static void test_a_snapshot_destination_is_read_from_latest_or_the_snapshot_named(void **state)
{
    fx_t *fx = *state;
    ms_restore_t rs;
    char want[PATH_MAX * 2];
    assert_int_equal(
        ms_restore_resolve(fx->backup, NULL, "alpha/a/b/file", &rs, fx->err, sizeof fx->err), 0);
    snprintf(want, sizeof want, "%s/%s", fx->backup, S2);
    assert_string_equal(rs.source, want);
    assert_string_equal(rs.snapshot, S2);
    assert_string_equal(rs.sub, "a/b");
    assert_string_equal(rs.item, "file");
    ms_restore_free(&rs);
    assert_int_equal(
        ms_restore_resolve(fx->backup, S1, "alpha/a/b/gone", &rs, fx->err, sizeof fx->err), 0);
    assert_string_equal(rs.snapshot, S1);
    ms_restore_free(&rs);
    /* A link is an entry to restore; a whole project too. */
    assert_int_equal(
        ms_restore_resolve(fx->backup, "latest", "alpha/via-link", &rs, fx->err, sizeof fx->err),
        0);
    ms_restore_free(&rs);
    assert_int_equal(ms_restore_resolve(fx->backup, NULL, "alpha", &rs, fx->err, sizeof fx->err),
                     0);
    assert_null(rs.item);
    ms_restore_free(&rs);
}

/* resolve fails saying what (a part of its message). */
static void refused(fx_t *fx, const char *snapshot, const char *path, const char *what)
{
    ms_restore_t rs;
    assert_int_equal(ms_restore_resolve(fx->backup, snapshot, path, &rs, fx->err, sizeof fx->err),
                     -1);
    assert_null(rs.source);
    if (!strstr(fx->err, what))
        fail_msg("'%s' does not say '%s'", fx->err, what);
}

static void test_what_is_not_in_the_snapshot_is_a_clear_error(void **state)
{
    fx_t *fx = *state;
    refused(fx, "2001-01-01T000000Z", "alpha", "there is no snapshot 2001-01-01T000000Z");
    refused(fx, S1 ".partial", "alpha", "is not the name of a complete snapshot");
    refused(fx, NULL, "beta", "snapshot " S2 " has no project beta");
    refused(fx, NULL, "loose", "loose is a file, not a project's folder");
    refused(fx, NULL, "link-project", "a symbolic link, not a project's folder");
    refused(fx, NULL, "alpha/a/b/gone", "snapshot " S2 " has no alpha/a/b/gone");
    refused(fx, S1, "alpha/a/nope/x", "snapshot " S1 " has no alpha/a/nope");
    /* Never through a link on the way, even to a folder of the snapshot. */
    refused(fx, NULL, "alpha/via-link/x", "alpha/via-link is a symbolic link, not a folder");
    refused(fx, NULL, "alpha/../x", "the path to restore");
    char remote[] = "host:/backup";
    ms_restore_t rs;
    assert_int_equal(ms_restore_resolve(remote, NULL, "alpha", &rs, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "absolute path"));
}

static void test_a_mirror_is_read_itself_and_has_no_snapshot_to_name(void **state)
{
    fx_t *fx = *state;
    ms_restore_t rs;
    snprintf(fx->backup, sizeof fx->backup, "%s/b/%s", fx->root, S2); /* holds no snapshots */
    assert_int_equal(
        ms_restore_resolve(fx->backup, NULL, "alpha/real/x", &rs, fx->err, sizeof fx->err), 0);
    assert_string_equal(rs.source, fx->backup);
    assert_null(rs.snapshot);
    ms_restore_free(&rs);
    refused(fx, "latest", "alpha", "holds no snapshots (a mirror)");
}

/* ms_restore_target(backup, root/rel) fails saying what, and makes nothing. */
static void target_refused(fx_t *fx, const char *rel, const char *what)
{
    char dir[PATH_MAX * 2];
    snprintf(dir, sizeof dir, "%s%s%s", fx->root, rel[0] ? "/" : "", rel);
    assert_int_equal(ms_restore_target(fx->backup, dir, fx->err, sizeof fx->err), -1);
    if (!strstr(fx->err, what))
        fail_msg("'%s' does not say '%s'", fx->err, what);
}

static void test_the_folder_restored_into_is_never_in_the_backup_nor_holds_it(void **state)
{
    fx_t *fx = *state;
    target_refused(fx, "b", "is inside the backup");
    target_refused(fx, "b/" S1 "/alpha", "is inside the backup");
    target_refused(fx, "b/new/deeper", "is inside the backup");
    assert_false(exists(fx, "b/new"));
    symlink_at(fx, fx->backup, "to-backup");
    target_refused(fx, "to-backup/x", "is inside the backup");
    assert_false(exists(fx, "b/x"));
    target_refused(fx, "", "is inside");
    target_refused(fx, "b/../elsewhere", "without");
    assert_int_equal(ms_restore_target(fx->backup, "relative/dir", fx->err, sizeof fx->err), -1);
    /* Apart from it: made. */
    char dir[PATH_MAX * 2];
    snprintf(dir, sizeof dir, "%s/out/one", fx->root);
    assert_int_equal(ms_restore_target(fx->backup, dir, fx->err, sizeof fx->err), 0);
    assert_true(exists(fx, "out/one"));
    /* A folder next to the backup whose name starts the same is apart. */
    snprintf(dir, sizeof dir, "%s/b2", fx->root);
    assert_int_equal(ms_restore_target(fx->backup, dir, fx->err, sizeof fx->err), 0);
}

static void test_the_folder_must_be_empty_but_for_its_lock_unless_forced(void **state)
{
    fx_t *fx = *state;
    char dir[PATH_MAX * 2];
    mkdirs_at(fx, "out");
    snprintf(dir, sizeof dir, "%s/out", fx->root);
    assert_int_equal(ms_restore_check_empty(dir, 0, fx->err, sizeof fx->err), 0);
    put(fx, "out/" MS_DEST_LOCK);
    assert_int_equal(ms_restore_check_empty(dir, 0, fx->err, sizeof fx->err), 0);
    put(fx, "out/mine");
    assert_int_equal(ms_restore_check_empty(dir, 0, fx->err, sizeof fx->err), -1);
    assert_non_null(strstr(fx->err, "is not empty (it holds mine)"));
    assert_non_null(strstr(fx->err, "--force"));
    assert_int_equal(ms_restore_check_empty(dir, 1, fx->err, sizeof fx->err), 0);
}

static void test_the_folder_is_made_absolute_with_its_existing_part_resolved(void **state)
{
    fx_t *fx = *state;
    char out[PATH_MAX], want[PATH_MAX * 2], real[PATH_MAX], cwd[PATH_MAX], in[PATH_MAX * 2];
    assert_non_null(realpath(fx->root, real));
    mkdirs_at(fx, "x/y");
    symlink_at(fx, "x/y", "ly");
    snprintf(in, sizeof in, "%s/ly/new/deeper/", fx->root);
    assert_int_equal(ms_restore_abspath(in, out, sizeof out, fx->err, sizeof fx->err), 0);
    snprintf(want, sizeof want, "%s/x/y/new/deeper", real);
    assert_string_equal(out, want);
    snprintf(in, sizeof in, "%s/x/../x/y", fx->root);
    assert_int_equal(ms_restore_abspath(in, out, sizeof out, fx->err, sizeof fx->err), 0);
    snprintf(want, sizeof want, "%s/x/y", real);
    assert_string_equal(out, want);
    snprintf(in, sizeof in, "%s/missing/../x", fx->root);
    assert_int_equal(ms_restore_abspath(in, out, sizeof out, fx->err, sizeof fx->err), -1);
    /* Relative: from the working folder. */
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(fx->root), 0);
    assert_int_equal(ms_restore_abspath("x/new", out, sizeof out, fx->err, sizeof fx->err), 0);
    assert_int_equal(chdir(cwd), 0);
    snprintf(want, sizeof want, "%s/x/new", real);
    assert_string_equal(out, want);
    assert_int_equal(ms_restore_abspath("/", out, sizeof out, fx->err, sizeof fx->err), 0);
    assert_string_equal(out, "/");
}

static void test_a_restore_run_has_its_one_task_and_never_a_top_task(void **state)
{
    fx_t *fx = *state;
    ms_restore_t rs;
    assert_int_equal(
        ms_restore_resolve(fx->backup, NULL, "alpha/a/b/file", &rs, fx->err, sizeof fx->err), 0);
    ms_runrec_t *r = ms_run_new(1, rs.source, "/restore", NULL);
    assert_int_equal(ms_restore_add_tasks(r, &rs), 0);
    ms_restore_free(&rs);
    assert_int_equal(r->n_tasks, 1);
    ms_trec_t *t = ms_run_at(r, 0);
    assert_int_equal(t->state, MS_TS_QUEUED);
    assert_string_equal(t->project, "alpha");
    assert_string_equal(t->sub, "a/b");
    assert_int_equal(t->n_items, 1);
    assert_string_equal(t->items[0], "file");
    assert_null(ms_run_top(r));
    ms_run_destroy(&r);

    /* A whole project: walked; split later, its rest released once. */
    assert_int_equal(ms_restore_resolve(fx->backup, NULL, "alpha", &rs, fx->err, sizeof fx->err),
                     0);
    r = ms_run_new(2, rs.source, "/restore", NULL);
    assert_int_equal(ms_restore_add_tasks(r, &rs), 0);
    ms_restore_free(&rs);
    ms_trec_t *rest = ms_run_at(r, 0);
    assert_int_equal(rest->state, MS_TS_SCANNING);
    ms_trec_t *c1 = ms_run_add_task(r, "alpha", 0), *c2 = ms_run_add_task(r, "alpha", 0);
    rest = ms_run_at(r, 0);
    c1->parent = c2->parent = rest->id;
    rest->n_chunks = rest->pending = 2;
    ms_run_set_state(rest, MS_TS_HELD);
    assert_null(ms_run_top(r));
    ms_trec_t *rel[2];
    assert_int_equal(ms_run_task_final(r, c1, rel), 0);
    assert_int_equal(ms_run_task_final(r, c2, rel), 1);
    assert_ptr_equal(rel[0], rest);
    ms_run_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_path_is_split_into_its_project_its_folder_and_its_name),
        cmocka_unit_test(test_a_path_that_could_leave_its_project_is_refused),
        cmocka_unit_test_setup_teardown(
            test_a_snapshot_destination_is_read_from_latest_or_the_snapshot_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_is_not_in_the_snapshot_is_a_clear_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_mirror_is_read_itself_and_has_no_snapshot_to_name,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_the_folder_restored_into_is_never_in_the_backup_nor_holds_it, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_the_folder_must_be_empty_but_for_its_lock_unless_forced, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_the_folder_is_made_absolute_with_its_existing_part_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_restore_run_has_its_one_task_and_never_a_top_task,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
