/*
 * test_snap.c - a snapshot destination on disk (ms_snap.h), on real
 * folders under /tmp: names and their times, the listing and `latest`,
 * what does not belong in such a destination, the atomic switch of
 * `latest`, renames that never replace, the run's notes, and a tree's
 * removal that never follows a link out of it.
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
#include "ms_test.h"

typedef struct {
    char root[PATH_MAX];
    int fd;
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->root, sizeof fx->root, "snap");
    fx->fd = open(fx->root, O_RDONLY | O_DIRECTORY);
    assert_true(fx->fd >= 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    close(fx->fd);
    ms_test_rmtree(fx->root);
    free(fx);
    return 0;
}

static void mk(fx_t *fx, const char *rel)
{
    assert_int_equal(mkdirat(fx->fd, rel, 0755), 0);
}

static void put(fx_t *fx, const char *rel, const char *text)
{
    int fd = openat(fx->fd, rel, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static int exists(int dir, const char *rel)
{
    struct stat st;
    return fstatat(dir, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void names_are_utc_times_and_only_real_dates(void **state)
{
    (void)state;
    char name[32];
    time_t t;
    ms_snap_kind_t kind;
    ms_snap_format(1796609700, name, sizeof name); /* 2026-12-07 02:15:00 UTC */
    assert_string_equal(name, "2026-12-07T021500Z");
    assert_int_equal(ms_snap_parse("2026-12-07T021500Z", &t, &kind), 0);
    assert_int_equal(t, 1796609700);
    assert_int_equal(kind, MS_SNAP_COMPLETE);
    assert_int_equal(ms_snap_parse("2026-12-07T021500Z.partial", &t, &kind), 0);
    assert_int_equal(kind, MS_SNAP_PARTIAL_KIND);
    assert_int_equal(ms_snap_parse("2026-12-07T021500Z.pruning", &t, &kind), 0);
    assert_int_equal(kind, MS_SNAP_PRUNING_KIND);
    assert_int_equal(ms_snap_parse("2024-02-29T000000Z", &t, &kind), 0); /* a leap day */
    static const char *bad[] = {"2026-02-29T000000Z",
                                "2026-12-07T021500Z.old",
                                "2026-12-07T021500",
                                "2026-12-07T241500Z",
                                "2026-12-07 021500Z",
                                "latest",
                                "alpha",
                                ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ms_snap_parse(bad[i], &t, &kind), -1);
}

static void the_listing_is_oldest_first_with_latest_marked(void **state)
{
    fx_t *fx = *state;
    mk(fx, "2026-12-07T021500Z.partial");
    mk(fx, "2026-12-06T021500Z");
    mk(fx, "2026-12-05T021500Z");
    mk(fx, "2026-11-01T021500Z.pruning");
    assert_int_equal(symlinkat("/etc", fx->fd, "2026-12-08T021500Z"), 0); /* a link: no */
    put(fx, "2026-12-09T021500Z", "a file: no");
    assert_int_equal(symlinkat("2026-12-05T021500Z", fx->fd, "latest"), 0);
    ms_snap_t *s;
    size_t n;
    char err[256];
    assert_int_equal(ms_snap_list(fx->fd, &s, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_string_equal(s[0].name, "2026-11-01T021500Z.pruning");
    assert_string_equal(s[1].name, "2026-12-05T021500Z");
    assert_true(s[1].latest);
    assert_string_equal(s[3].name, "2026-12-07T021500Z.partial");
    assert_false(s[2].latest);
    assert_string_equal(ms_snap_newest(s, n, MS_SNAP_COMPLETE)->name, "2026-12-06T021500Z");
    assert_string_equal(ms_snap_newest(s, n, MS_SNAP_PARTIAL_KIND)->name,
                        "2026-12-07T021500Z.partial");
    free(s);
    char what[64];
    assert_int_equal(ms_snap_foreign(fx->fd, what, sizeof what, err, sizeof err), 1);
    assert_true(strncmp(what, "2026-12-0", 9) == 0); /* the link or the file */
    assert_int_equal(ms_snap_present(fx->fd, err, sizeof err), 1);
}

static void a_mirror_is_foreign_and_an_empty_folder_holds_no_snapshots(void **state)
{
    fx_t *fx = *state;
    char what[64], err[256];
    assert_int_equal(ms_snap_present(fx->fd, err, sizeof err), 0);
    assert_int_equal(ms_snap_foreign(fx->fd, what, sizeof what, err, sizeof err), 0);
    mk(fx, "lost+found");
    put(fx, ".multisync.lock", "");
    mk(fx, "2026-12-06T021500Z");
    assert_int_equal(ms_snap_foreign(fx->fd, what, sizeof what, err, sizeof err), 0);
    mk(fx, "alpha");
    assert_int_equal(ms_snap_foreign(fx->fd, what, sizeof what, err, sizeof err), 1);
    assert_string_equal(what, "alpha");
}

static void latest_switches_to_a_relative_link(void **state)
{
    fx_t *fx = *state;
    char err[256], target[64];
    mk(fx, "2026-12-06T021500Z");
    mk(fx, "2026-12-07T021500Z");
    assert_int_equal(ms_snap_set_latest(fx->fd, "2026-12-06T021500Z", err, sizeof err), 0);
    assert_int_equal(ms_snap_set_latest(fx->fd, "2026-12-07T021500Z", err, sizeof err), 0);
    ssize_t n = readlinkat(fx->fd, "latest", target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "2026-12-07T021500Z");
    char what[64];
    assert_int_equal(ms_snap_foreign(fx->fd, what, sizeof what, err, sizeof err), 0);
}

static void a_rename_never_replaces(void **state)
{
    fx_t *fx = *state;
    char err[256];
    mk(fx, "2026-12-07T021500Z.partial");
    mk(fx, "2026-12-07T021500Z");
    assert_int_equal(
        ms_snap_rename(fx->fd, "2026-12-07T021500Z.partial", "2026-12-07T021500Z", err, sizeof err),
        -1);
    assert_non_null(strstr(err, "cannot rename"));
    assert_true(exists(fx->fd, "2026-12-07T021500Z.partial"));
    assert_int_equal(
        ms_snap_rename(fx->fd, "2026-12-07T021500Z.partial", "2026-12-08T021500Z", err, sizeof err),
        0);
    assert_true(exists(fx->fd, "2026-12-08T021500Z"));
}

static void the_notes_of_a_run_are_kept_beside_its_snapshot(void **state)
{
    fx_t *fx = *state;
    char err[256];
    assert_null(ms_snap_read_meta(fx->fd, "2026-12-07T021500Z"));
    assert_int_equal(
        ms_snap_write_meta(fx->fd, "2026-12-07T021500Z", "{\"run\":1}", err, sizeof err), 0);
    assert_int_equal(
        ms_snap_write_meta(fx->fd, "2026-12-07T021500Z", "{\"run\":2}", err, sizeof err), 0);
    char *text = ms_snap_read_meta(fx->fd, "2026-12-07T021500Z");
    assert_non_null(text);
    assert_string_equal(text, "{\"run\":2}");
    free(text);
    assert_true(exists(fx->fd, ".multisync/2026-12-07T021500Z.json"));
}

static void a_tree_is_removed_without_following_a_link_out_of_it(void **state)
{
    fx_t *fx = *state;
    char err[256];
    mk(fx, "outside");
    put(fx, "outside/secret", "keep me");
    mk(fx, "snap");
    mk(fx, "snap/alpha");
    mk(fx, "snap/alpha/deep");
    mk(fx, "snap/alpha/deep/er");
    put(fx, "snap/alpha/deep/er/f", "x");
    put(fx, "snap/alpha/f", "x");
    assert_int_equal(symlinkat("../../outside", fx->fd, "snap/alpha/out"), 0);
    assert_int_equal(symlinkat("../../outside", fx->fd, "snap/alpha/deep/out"), 0);
    mk(fx, "snap/alpha/ro");
    put(fx, "snap/alpha/ro/f", "x");
    assert_int_equal(fchmodat(fx->fd, "snap/alpha/ro", 0555, 0), 0); /* root removes it anyway */
    int snap = openat(fx->fd, "snap", O_RDONLY | O_DIRECTORY);
    assert_true(snap >= 0);
    uint64_t removed = 0;
    assert_int_equal(ms_snap_rmtree(snap, "alpha", &removed, err, sizeof err), 0);
    assert_int_equal(removed, 9);
    assert_false(exists(snap, "alpha"));
    assert_true(exists(fx->fd, "outside/secret"));
    assert_int_equal(ms_snap_rmtree(snap, "alpha", &removed, err, sizeof err), 0); /* gone: fine */
    assert_int_equal(removed, 0);
    close(snap);
}

static void a_name_or_latest_resolves_to_a_complete_snapshot_and_the_listing_says_all(void **state)
{
    fx_t *fx = *state;
    char name[64], err[256];
    assert_int_equal(ms_snap_resolve(fx->fd, NULL, name, sizeof name, err, sizeof err), -1);
    assert_non_null(strstr(err, "no complete snapshot"));
    mk(fx, "2026-12-06T021500Z");
    mk(fx, "2026-12-06T021500Z/alpha");
    mk(fx, "2026-12-06T021500Z/beta");
    put(fx, "2026-12-06T021500Z/loose", "x");
    mk(fx, "2026-12-07T021500Z.partial");
    assert_int_equal(ms_snap_set_latest(fx->fd, "2026-12-06T021500Z", err, sizeof err), 0);
    assert_int_equal(ms_snap_write_meta(fx->fd, "2026-12-06T021500Z",
                                        "{\"run_id\": 4, \"totals\": {\"files\": 9, "
                                        "\"bytes_total\": 900, \"bytes_transferred\": 90}}",
                                        err, sizeof err),
                     0);
    assert_int_equal(ms_snap_resolve(fx->fd, "latest", name, sizeof name, err, sizeof err), 0);
    assert_string_equal(name, "2026-12-06T021500Z");
    assert_int_equal(
        ms_snap_resolve(fx->fd, "2026-12-06T021500Z", name, sizeof name, err, sizeof err), 0);
    assert_int_equal(
        ms_snap_resolve(fx->fd, "2026-12-07T021500Z.partial", name, sizeof name, err, sizeof err),
        -1);
    assert_int_equal(
        ms_snap_resolve(fx->fd, "2026-12-05T021500Z", name, sizeof name, err, sizeof err), -1);
    assert_non_null(strstr(err, "there is no snapshot 2026-12-05T021500Z"));
    assert_int_equal(ms_snap_resolve(fx->fd, "../etc", name, sizeof name, err, sizeof err), -1);
    json_t *list = ms_snap_describe(fx->fd, err, sizeof err);
    assert_non_null(list);
    assert_int_equal(json_array_size(list), 2);
    json_t *a = json_array_get(list, 0), *b = json_array_get(list, 1);
    assert_string_equal(json_string_value(json_object_get(a, "state")), "complete");
    assert_true(json_is_true(json_object_get(a, "latest")));
    assert_int_equal(json_integer_value(json_object_get(a, "projects")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "files")), 9);
    assert_int_equal(json_integer_value(json_object_get(a, "bytes_transferred")), 90);
    assert_string_equal(json_string_value(json_object_get(a, "time")), "2026-12-06T02:15:00Z");
    assert_string_equal(json_string_value(json_object_get(b, "state")), "partial");
    assert_null(json_object_get(b, "files"));
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_are_utc_times_and_only_real_dates),
        cmocka_unit_test_setup_teardown(the_listing_is_oldest_first_with_latest_marked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_mirror_is_foreign_and_an_empty_folder_holds_no_snapshots,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(latest_switches_to_a_relative_link, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rename_never_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(the_notes_of_a_run_are_kept_beside_its_snapshot, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_tree_is_removed_without_following_a_link_out_of_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            a_name_or_latest_resolves_to_a_complete_snapshot_and_the_listing_says_all, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
