/*
 * test_snapshot.c - the master's side of a snapshot run (ms_snapshot.h) on
 * real folders: where a run writes, the take-over of a partial snapshot,
 * names that never collide, the switch at the end, and what retention
 * hands to the workers. No socket, no worker.
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

#include "ms_snap.h"
#include "ms_snapshot.h"
#include "ms_strv.h"
#include "ms_test.h"

#define T0 1796609700 /* 2026-12-07T021500Z */

typedef struct {
    char root[PATH_MAX];
    int fd;
    ms_runrec_t *r;
    ms_strv_t handed; /* "FOLDER PROJECT" per removal handed out */
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->root, sizeof fx->root, "snapshot");
    fx->fd = open(fx->root, O_RDONLY | O_DIRECTORY);
    fx->r = ms_run_new(1, "/src", fx->root, NULL);
    assert_non_null(fx->r);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    close(fx->fd);
    ms_run_destroy(&fx->r);
    ms_strv_clear(&fx->handed);
    ms_test_rmtree(fx->root);
    free(fx);
    return 0;
}

static void mk(fx_t *fx, const char *rel)
{
    assert_int_equal(mkdirat(fx->fd, rel, 0755), 0);
}

static int is_dir(fx_t *fx, const char *rel)
{
    struct stat st;
    return fstatat(fx->fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static void begin_ok(fx_t *fx, time_t now, const ms_keep_t *keep)
{
    char err[512];
    if (ms_snapshot_begin(fx->r, now, keep, err, sizeof err) != 0)
        fail_msg("begin: %s", err);
}

static void a_first_run_makes_its_partial_folder_and_links_to_nothing(void **state)
{
    fx_t *fx = *state;
    char folder[64];
    begin_ok(fx, T0, NULL);
    assert_string_equal(fx->r->snap->name, "2026-12-07T021500Z");
    assert_null(fx->r->snap->link);
    ms_snapshot_folder(fx->r, folder, sizeof folder);
    assert_string_equal(folder, "2026-12-07T021500Z.partial");
    assert_true(is_dir(fx, folder));
}

static void a_partial_one_is_taken_over_and_the_newest_complete_one_linked(void **state)
{
    fx_t *fx = *state;
    mk(fx, "2026-12-05T021500Z");
    mk(fx, "2026-12-06T021500Z");
    mk(fx, "2026-12-06T120000Z.partial");
    mk(fx, "2026-12-06T120000Z.partial/alpha"); /* what the killed run copied */
    begin_ok(fx, T0, NULL);
    assert_string_equal(fx->r->snap->link, "2026-12-06T021500Z");
    assert_true(is_dir(fx, "2026-12-07T021500Z.partial/alpha"));
    assert_false(is_dir(fx, "2026-12-06T120000Z.partial"));
}

static void a_snapshot_of_the_same_second_moves_the_name_on(void **state)
{
    fx_t *fx = *state;
    mk(fx, "2026-12-07T021500Z");
    mk(fx, "2026-12-07T021501Z.pruning");
    begin_ok(fx, T0, NULL);
    assert_string_equal(fx->r->snap->name, "2026-12-07T021502Z");
}

static void a_destination_with_other_things_is_refused_and_left_alone(void **state)
{
    fx_t *fx = *state;
    char err[512];
    mk(fx, "alpha"); /* a mirror's project */
    assert_int_equal(ms_snapshot_begin(fx->r, T0, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "holds alpha, which is not a snapshot"));
    assert_false(is_dir(fx, "2026-12-07T021500Z.partial"));
    assert_int_equal(ms_snapshot_check_mirror(fx->root, err, sizeof err), 0);
    rmdir(strcat(strcpy(err, fx->root), "/alpha"));
    mk(fx, "2026-12-06T021500Z");
    assert_int_equal(ms_snapshot_check_mirror(fx->root, err, sizeof err), -1);
    assert_non_null(strstr(err, "holds snapshots"));
}

static void complete_renames_and_switches_latest(void **state)
{
    fx_t *fx = *state;
    char err[512], target[64];
    begin_ok(fx, T0, NULL);
    assert_int_equal(ms_snapshot_complete(fx->r, "{\"run_id\": 1}", err, sizeof err), 0);
    assert_true(fx->r->snap->complete);
    assert_true(is_dir(fx, "2026-12-07T021500Z"));
    assert_false(is_dir(fx, "2026-12-07T021500Z.partial"));
    ssize_t n = readlinkat(fx->fd, "latest", target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "2026-12-07T021500Z");
    /* Its folder gone from under it: not complete, and the run says why. */
    ms_run_destroy(&fx->r);
    fx->r = ms_run_new(2, "/src", fx->root, NULL);
    begin_ok(fx, T0 + 60, NULL);
    assert_int_equal(unlinkat(fx->fd, "2026-12-07T021600Z.partial", AT_REMOVEDIR), 0);
    assert_int_equal(ms_snapshot_complete(fx->r, NULL, err, sizeof err), -1);
    assert_false(fx->r->snap->complete);
    assert_non_null(fx->r->snap->error);
}

static int hand(void *arg, const char *folder, const char *project)
{
    fx_t *fx = arg;
    char line[128];
    snprintf(line, sizeof line, "%s %s", folder, project);
    return ms_strv_push(&fx->handed, line);
}

static int handed(fx_t *fx, const char *line)
{
    for (size_t i = 0; i < fx->handed.n; i++)
        if (strcmp(fx->handed.v[i], line) == 0)
            return 1;
    return 0;
}

static void retention_hands_out_what_the_rules_let_go_and_keeps_the_rest(void **state)
{
    fx_t *fx = *state;
    char err[512];
    ms_keep_t keep = {.daily = 2};
    mk(fx, "2026-12-04T021500Z"); /* goes: 2 folders */
    mk(fx, "2026-12-04T021500Z/a");
    mk(fx, "2026-12-04T021500Z/b");
    mk(fx, "2026-12-05T021500Z");         /* goes: no folder, its last removal at once */
    mk(fx, "2026-12-06T021500Z");         /* kept: daily 2 with the new one */
    mk(fx, "2026-12-01T021500Z.pruning"); /* left by an earlier run: finished now */
    mk(fx, "2026-12-01T021500Z.pruning/c");
    begin_ok(fx, T0, &keep);
    mk(fx, "2026-12-07T021500Z.partial/x"); /* never handed out: the new one */
    assert_int_equal(ms_snapshot_complete(fx->r, NULL, err, sizeof err), 0);
    int n = ms_snapshot_retain(fx->r, hand, fx, err, sizeof err);
    assert_int_equal(n, 4);
    assert_true(handed(fx, "2026-12-04T021500Z.pruning a"));
    assert_true(handed(fx, "2026-12-04T021500Z.pruning b"));
    assert_true(handed(fx, "2026-12-05T021500Z.pruning "));
    assert_true(handed(fx, "2026-12-01T021500Z.pruning c"));
    assert_true(is_dir(fx, "2026-12-04T021500Z.pruning"));
    assert_true(is_dir(fx, "2026-12-06T021500Z"));
    assert_true(is_dir(fx, "2026-12-07T021500Z"));
    assert_int_equal(ms_snapshot_pruned(fx->r, "2026-12-05T021500Z.pruning"), 0);
    assert_string_equal(fx->r->snap->pruned.v[0], "2026-12-05T021500Z");
}

static void a_snapshot_being_read_is_kept_while_it_is(void **state)
{
    fx_t *fx = *state;
    char err[512];
    ms_keep_t keep = {.last = 1};
    mk(fx, "2026-12-05T021500Z");
    mk(fx, "2026-12-05T021500Z/a");
    mk(fx, "2026-12-06T021500Z");
    int hold = ms_snapshot_hold(fx->root, "2026-12-05T021500Z"); /* a restore reads it */
    assert_true(hold >= 0);
    begin_ok(fx, T0, &keep);
    assert_int_equal(ms_snapshot_complete(fx->r, NULL, err, sizeof err), 0);
    assert_int_equal(ms_snapshot_retain(fx->r, hand, fx, err, sizeof err), 1);
    assert_true(handed(fx, "2026-12-06T021500Z.pruning "));
    assert_true(is_dir(fx, "2026-12-05T021500Z")); /* kept this time */
    close(hold);                                   /* the restore ended */
    ms_strv_clear(&fx->handed);
    fx->r->snap->retained = 0;
    assert_int_equal(ms_snapshot_retain(fx->r, hand, fx, err, sizeof err), 2);
    assert_true(handed(fx, "2026-12-05T021500Z.pruning a"));
}

static void without_a_rule_nothing_goes(void **state)
{
    fx_t *fx = *state;
    char err[512];
    mk(fx, "2020-01-01T000000Z");
    begin_ok(fx, T0, NULL);
    assert_int_equal(ms_snapshot_complete(fx->r, NULL, err, sizeof err), 0);
    assert_int_equal(ms_snapshot_retain(fx->r, hand, fx, err, sizeof err), 0);
    assert_int_equal(fx->handed.n, 0);
    assert_true(is_dir(fx, "2020-01-01T000000Z"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_first_run_makes_its_partial_folder_and_links_to_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_partial_one_is_taken_over_and_the_newest_complete_one_linked, setup, teardown),
        cmocka_unit_test_setup_teardown(a_snapshot_of_the_same_second_moves_the_name_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_destination_with_other_things_is_refused_and_left_alone,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(complete_renames_and_switches_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(
            retention_hands_out_what_the_rules_let_go_and_keeps_the_rest, setup, teardown),
        cmocka_unit_test_setup_teardown(a_snapshot_being_read_is_kept_while_it_is, setup, teardown),
        cmocka_unit_test_setup_teardown(without_a_rule_nothing_goes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
