/*
 * test_anchor.c - a task's folders, opened without following a symbolic
 * link below the roots, on a real tree under a temporary directory:
 *
 *   T/src/alpha/lib/deep/      real folders
 *   T/src/alpha/link -> lib    a link inside the project
 *   T/src/alpha/file           a file
 *   T/src/evil -> T/outside    a project that is a link now
 *   T/outside/secret           what no task may read or write
 *   T/dst/                     the backup root
 *   T/rootlink -> T/dst        a backup root that is a link (the operator's)
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "ms_anchor.h"

static char g_root[PATH_MAX];

__attribute__((format(printf, 2, 3))) static const char *at(char *buf, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    if (snprintf(buf, PATH_MAX, "%s/%s", g_root, rel) >= PATH_MAX)
        fail_msg("path too long: %s", rel);
    return buf;
}

static void make_dir(const char *rel)
{
    char p[PATH_MAX];
    if (mkdir(at(p, "%s", rel), 0755) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
}

static void make_link(const char *target, const char *rel)
{
    char p[PATH_MAX];
    if (symlink(target, at(p, "%s", rel)) != 0)
        fail_msg("symlink %s: %s", p, strerror(errno));
}

static void make_file(const char *rel)
{
    char p[PATH_MAX];
    FILE *f = fopen(at(p, "%s", rel), "w");
    assert_non_null(f);
    fputs("data\n", f);
    fclose(f);
}

/* What rel is now: 'd' folder, 'l' link, 'f' file, '-' nothing. */
static char kind(const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    if (lstat(at(p, "%s", rel), &st) != 0)
        return '-';
    return S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f';
}

/* Whether the descriptor fd is the folder at rel (same inode). */
static int is_folder_at(int fd, const char *rel)
{
    char p[PATH_MAX];
    struct stat a, b;
    return fd >= 0 && fstat(fd, &a) == 0 && stat(at(p, "%s", rel), &b) == 0 && S_ISDIR(a.st_mode) &&
           a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/ms-test-anchor-XXXXXX");
    if (!mkdtemp(g_root))
        return -1;
    make_dir("src");
    make_dir("src/alpha");
    make_dir("src/alpha/lib");
    make_dir("src/alpha/lib/deep");
    make_link("lib", "src/alpha/link");
    make_file("src/alpha/file");
    make_dir("outside");
    make_file("outside/secret");
    make_link(at((char[PATH_MAX]){0}, "outside"), "src/evil");
    make_dir("dst");
    make_link(at((char[PATH_MAX]){0}, "dst"), "rootlink");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(g_root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ms_anchor_open of a task on T/src, T/<dst>, project and sub. */
static int open_task(const char *dst, const char *project, const char *sub, ms_anchor_t *a,
                     char *err, size_t errlen)
{
    char s[PATH_MAX], d[PATH_MAX];
    ms_task_t t = {.attempt = 1,
                   .project = (char *)project,
                   .source = (char *)at(s, "src"),
                   .dest = (char *)(strchr(dst, ':') ? dst : at(d, "%s", dst)),
                   .sub = (char *)sub};
    return ms_anchor_open(&t, a, err, errlen);
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                               \
    } while (0)

static void a_project_is_opened_and_its_backup_folder_made(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    assert_int_equal(open_task("dst", "alpha", "", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.src_root, "src"));
    assert_true(is_folder_at(a.src, "src/alpha"));
    assert_true(is_folder_at(a.dst, "dst/alpha"));
    assert_string_equal(a.note, "");
    ms_anchor_close(&a);
    assert_int_equal(a.src, -1);
    ms_anchor_close(&a); /* twice is harmless */
}

static void a_chunk_is_opened_through_real_folders_and_its_path_made(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    assert_int_equal(open_task("dst/new/root", "alpha", "lib/deep", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.src, "src/alpha/lib/deep"));
    assert_true(is_folder_at(a.dst, "dst/new/root/alpha/lib/deep"));
    ms_anchor_close(&a);
}

static void the_top_task_opens_the_roots_which_may_be_links(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    assert_int_equal(open_task("rootlink", "", "", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.src, "src"));
    assert_true(is_folder_at(a.dst, "dst"));
    ms_anchor_close(&a);
}

static void a_project_that_is_a_link_now_vanished_and_nothing_is_made(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    assert_int_equal(open_task("dst", "evil", "", &a, err, sizeof err), MS_ANCHOR_VANISHED);
    assert_contains(err, "/src/evil is a symbolic link since the walk: nothing to copy");
    assert_int_equal(kind("dst/evil"), '-');
    assert_int_equal(a.src, -1);
    assert_int_equal(a.dst, -1);
    assert_int_equal(open_task("dst", "gone", "", &a, err, sizeof err), MS_ANCHOR_VANISHED);
    assert_contains(err, "/src/gone is gone since the walk");
    assert_int_equal(kind("dst/gone"), '-');
}

static void a_chunk_through_a_link_or_a_file_in_the_source_vanished(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    assert_int_equal(open_task("dst", "alpha", "link/deep", &a, err, sizeof err),
                     MS_ANCHOR_VANISHED);
    assert_contains(err, "/src/alpha/link is a symbolic link");
    assert_int_equal(open_task("dst", "alpha", "file", &a, err, sizeof err), MS_ANCHOR_VANISHED);
    assert_contains(err, "/src/alpha/file is a file");
    assert_int_equal(open_task("dst", "alpha", "nope", &a, err, sizeof err), MS_ANCHOR_VANISHED);
    assert_int_equal(kind("dst/alpha/nope"), '-');
}

/* The case: DST/p a link to a folder outside the backup, absolute
 * or relative (current -> v1): replaced by a folder, the target untouched. */
static void a_link_in_the_backup_is_replaced_by_a_folder_never_followed(void **state)
{
    ms_anchor_t a;
    char err[512], p[PATH_MAX];
    (void)state;
    make_link(at(p, "outside"), "dst/alpha");
    make_dir("dst/v1");
    make_file("dst/v1/kept");
    assert_int_equal(open_task("dst", "alpha", "lib", &a, err, sizeof err), 0);
    assert_int_equal(kind("dst/alpha"), 'd');
    assert_true(is_folder_at(a.dst, "dst/alpha/lib"));
    assert_int_equal(kind("outside/secret"), 'f');
    assert_int_equal(kind("outside/lib"), '-');
    assert_contains(a.note, "replaced a symbolic link ");
    assert_contains(a.note, "/dst/alpha by a folder");
    ms_anchor_close(&a);
    /* relative, one level down: dst/alpha/lib -> ../v1 */
    assert_int_equal(rmdir(at(p, "dst/alpha/lib")), 0);
    make_link("../v1", "dst/alpha/lib");
    assert_int_equal(open_task("dst", "alpha", "lib", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.dst, "dst/alpha/lib"));
    assert_int_equal(kind("dst/v1/kept"), 'f');
    ms_anchor_close(&a);
}

static void a_file_or_a_dangling_link_where_a_folder_belongs_is_replaced(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    make_dir("dst/alpha");
    make_file("dst/alpha/lib");
    assert_int_equal(open_task("dst", "alpha", "lib", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.dst, "dst/alpha/lib"));
    assert_contains(a.note, "replaced a file ");
    ms_anchor_close(&a);
    make_link("/nowhere/at/all", "dst/beta");
    make_dir("src/beta");
    assert_int_equal(open_task("dst", "beta", "", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.dst, "dst/beta"));
    ms_anchor_close(&a);
}

/* The race the descriptors close: once opened, a swap of the path changes
 * nothing for the holder; it keeps the folder that was there. */
static void a_swap_after_opening_does_not_move_the_descriptors(void **state)
{
    ms_anchor_t a;
    char err[512], p[PATH_MAX], q[PATH_MAX];
    (void)state;
    assert_int_equal(open_task("dst", "alpha", "", &a, err, sizeof err), 0);
    assert_int_equal(rename(at(p, "dst/alpha"), at(q, "dst/alpha.moved")), 0);
    make_link(at(p, "outside"), "dst/alpha");
    assert_int_equal(rename(at(p, "src/alpha"), at(q, "src/alpha.moved")), 0);
    make_link(at(p, "outside"), "src/alpha");
    assert_true(is_folder_at(a.dst, "dst/alpha.moved"));
    assert_true(is_folder_at(a.src, "src/alpha.moved"));
    ms_anchor_close(&a);
}

static void a_remote_destination_opens_only_the_source(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    assert_int_equal(open_task("vault:/srv/backup", "alpha", "", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.src, "src/alpha"));
    assert_int_equal(a.dst, -1);
    ms_anchor_close(&a);
}

static void a_source_root_that_cannot_be_opened_is_an_error_not_a_vanished_project(void **state)
{
    ms_anchor_t a;
    char err[512], p[PATH_MAX];
    ms_task_t t = {
        .attempt = 1, .project = "x", .source = (char *)at(p, "no-root"), .dest = "/tmp"};
    (void)state;
    assert_int_equal(ms_anchor_open(&t, &a, err, sizeof err), -1);
    assert_contains(err, "No such file or directory");
}

/* ms_anchor_open of a verify task (flags MS_TASK_VERIFY, snap "" or a
 * complete snapshot's folder), or of a dry run's (g_dry_run). */
static int g_dry_run;
static int open_verify(const char *dst, const char *snap, const char *project, const char *sub,
                       ms_anchor_t *a, char *err, size_t errlen)
{
    char s[PATH_MAX], d[PATH_MAX];
    ms_task_t t = {.attempt = 1,
                   .flags = MS_TASK_VERIFY | (project[0] ? 0 : MS_TASK_TOP) |
                            (g_dry_run ? MS_TASK_DRY_RUN | MS_TASK_DELETE : 0),
                   .project = (char *)project,
                   .source = (char *)at(s, "src"),
                   .dest = (char *)at(d, "%s", dst),
                   .sub = (char *)sub,
                   .snap = (char *)snap,
                   .link = ""};
    return ms_anchor_open(&t, a, err, errlen);
}

static void a_verify_opens_the_backup_and_makes_nothing(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    make_dir("dst/alpha");
    make_dir("dst/alpha/lib");
    assert_int_equal(open_verify("dst", "", "alpha", "lib", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.dst, "dst/alpha/lib"));
    ms_anchor_close(&a);
    /* a part of the backup that is not there is a difference: named, not made */
    assert_int_equal(open_verify("dst", "", "alpha", "lib/deep", &a, err, sizeof err),
                     MS_ANCHOR_MISSING);
    assert_string_equal(err, "alpha/lib/deep/: missing from the backup");
    assert_int_equal(kind("dst/alpha/lib/deep"), '-');
    assert_int_equal(a.src, -1);
    assert_int_equal(a.dst, -1);
    /* nor is a missing backup root made: an error */
    assert_int_equal(open_verify("nodst", "", "alpha", "", &a, err, sizeof err), -1);
    assert_contains(err, "No such file or directory");
    assert_int_equal(kind("nodst"), '-');
}

static void a_verify_finds_a_link_or_a_file_in_the_backup_and_leaves_it(void **state)
{
    ms_anchor_t a;
    char err[512], p[PATH_MAX];
    (void)state;
    make_link(at(p, "outside"), "dst/alpha");
    assert_int_equal(open_verify("dst", "", "alpha", "", &a, err, sizeof err), MS_ANCHOR_MISSING);
    assert_string_equal(err, "alpha/: a symbolic link in the backup, not a folder");
    assert_int_equal(kind("dst/alpha"), 'l');
    assert_int_equal(kind("outside/secret"), 'f');
    assert_int_equal(unlink(at(p, "dst/alpha")), 0);
    make_file("dst/alpha");
    assert_int_equal(open_verify("dst", "", "alpha", "lib", &a, err, sizeof err),
                     MS_ANCHOR_MISSING);
    assert_string_equal(err, "alpha/: a file in the backup, not a folder");
    assert_int_equal(kind("dst/alpha"), 'f');
}

static void a_verify_of_a_snapshot_opens_its_folder_never_through_a_link(void **state)
{
    ms_anchor_t a;
    char err[512];
    const char *snap = "2026-12-07T021500Z";
    (void)state;
    make_dir("dst/2026-12-07T021500Z");
    make_dir("dst/2026-12-07T021500Z/alpha");
    assert_int_equal(open_verify("dst", snap, "alpha", "", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.dst, "dst/2026-12-07T021500Z/alpha"));
    ms_anchor_close(&a);
    assert_int_equal(open_verify("dst", snap, "", "", &a, err, sizeof err), 0);
    assert_true(is_folder_at(a.dst, "dst/2026-12-07T021500Z"));
    ms_anchor_close(&a);
    make_link("2026-12-07T021500Z", "dst/2026-12-08T021500Z");
    assert_int_equal(open_verify("dst", "2026-12-08T021500Z", "alpha", "", &a, err, sizeof err),
                     -1);
    assert_contains(err, "a symbolic link");
}

/* A dry run's copy would make what the backup lacks: its rsync compares
 * with nothing (absent), and nothing is made. */
static void a_dry_run_finds_what_its_copy_would_make_and_makes_nothing(void **state)
{
    ms_anchor_t a;
    char err[512];
    (void)state;
    g_dry_run = 1;
    make_dir("dst/alpha");
    assert_int_equal(open_verify("dst", "", "alpha", "lib", &a, err, sizeof err), 0);
    assert_true(a.absent && a.dst == -1 && a.src >= 0);
    assert_string_equal(a.note, ""); /* missing: nothing replaced */
    assert_int_equal(kind("dst/alpha/lib"), '-');
    ms_anchor_close(&a);
    /* a backup root not there yet: every task compares with nothing */
    assert_int_equal(open_verify("nodst", "", "alpha", "", &a, err, sizeof err), 0);
    assert_true(a.absent && a.dst == -1 && a.src >= 0);
    ms_anchor_close(&a);
    assert_int_equal(open_verify("nodst", "", "", "", &a, err, sizeof err), 0);
    assert_true(a.absent);
    ms_anchor_close(&a);
    assert_int_equal(kind("nodst"), '-');
    /* and a snapshot not begun yet */
    assert_int_equal(open_verify("dst", "2026-12-07T021500Z", "alpha", "", &a, err, sizeof err), 0);
    assert_true(a.absent);
    ms_anchor_close(&a);
    assert_int_equal(kind("dst/2026-12-07T021500Z"), '-');
    /* an existing folder is opened, as a verify's */
    assert_int_equal(open_verify("dst", "", "alpha", "", &a, err, sizeof err), 0);
    assert_false(a.absent);
    assert_true(is_folder_at(a.dst, "dst/alpha"));
    ms_anchor_close(&a);
    g_dry_run = 0;
}

static void a_dry_run_notes_a_link_in_the_backup_and_never_follows_it(void **state)
{
    ms_anchor_t a;
    char err[512], p[PATH_MAX];
    (void)state;
    g_dry_run = 1;
    make_link(at(p, "outside"), "dst/alpha");
    assert_int_equal(open_verify("dst", "", "alpha", "lib", &a, err, sizeof err), 0);
    assert_true(a.absent && a.dst == -1);
    assert_string_equal(a.note, "alpha/ is a symbolic link in the backup: the copy would "
                                "replace it by a folder");
    assert_int_equal(kind("dst/alpha"), 'l');
    assert_int_equal(kind("outside/secret"), 'f');
    assert_int_equal(kind("outside/lib"), '-');
    ms_anchor_close(&a);
    g_dry_run = 0;
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_project_is_opened_and_its_backup_folder_made),
        T(a_verify_opens_the_backup_and_makes_nothing),
        T(a_verify_finds_a_link_or_a_file_in_the_backup_and_leaves_it),
        T(a_verify_of_a_snapshot_opens_its_folder_never_through_a_link),
        T(a_dry_run_finds_what_its_copy_would_make_and_makes_nothing),
        T(a_dry_run_notes_a_link_in_the_backup_and_never_follows_it),
        T(a_chunk_is_opened_through_real_folders_and_its_path_made),
        T(the_top_task_opens_the_roots_which_may_be_links),
        T(a_project_that_is_a_link_now_vanished_and_nothing_is_made),
        T(a_chunk_through_a_link_or_a_file_in_the_source_vanished),
        T(a_link_in_the_backup_is_replaced_by_a_folder_never_followed),
        T(a_file_or_a_dangling_link_where_a_folder_belongs_is_replaced),
        T(a_swap_after_opening_does_not_move_the_descriptors),
        T(a_remote_destination_opens_only_the_source),
        T(a_source_root_that_cannot_be_opened_is_an_error_not_a_vanished_project),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
