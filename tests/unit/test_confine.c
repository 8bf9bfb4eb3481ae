/*
 * test_confine.c - the roots a worker reads from and writes to, on a real
 * tree of directories and symbolic links under a temporary directory.
 *
 *   T/data/prod/{alpha,beta}  allowed source root
 *   T/data/prod/evil -> T/etc          (escapes)
 *   T/data/prod/inner -> T/data/prod/alpha  (stays inside)
 *   T/data/prod2/x            a sibling whose name extends the root
 *   T/etc/                    outside everything
 *   T/backup/prod             allowed destination root
 *   T/backup/prod/evil -> T/etc
 *   T/backup/prod/dangling -> T/nowhere/x
 *   T/backup/prod2            sibling of the destination root
 * and, for the chunks of a split project (what lies below the roots is
 * ms_anchor's: test_anchor.c):
 *   T/data/prod/alpha/lib/deep/        real folders
 *   T/data/prod/alpha/link -> T/data/prod/alpha/lib  (a link that stays inside)
 *   T/data/prod/alpha/file             a file
 *   T/backup/prod/alpha/lib/           real folders of the backup
 *   T/backup/prod/bad/alpha/lib -> T/etc   a link in a backup
 *   T/backup/prod/worse/alpha/lib      a file in a backup
 *   T/backup/link -> T/backup/prod     a destination root that is a link
 */
#include <errno.h>
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

#include "ms_confine.h"

static char g_root[PATH_MAX];

/* Whether check_chunk makes match chunks (names by pattern) rather than
 * chunks of items: the chunk tests run once for each kind (see main). */
static int g_match_chunks;

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
    if (mkdir(at(p, "%s", rel), 0755) != 0)
        fail_msg("mkdir %s: %s", p, strerror(errno));
}

static void make_link(const char *target_rel, const char *link_rel)
{
    char t[PATH_MAX], l[PATH_MAX];
    if (symlink(at(t, "%s", target_rel), at(l, "%s", link_rel)) != 0)
        fail_msg("symlink %s: %s", l, strerror(errno));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup_tree(void **state)
{
    char tmpl[] = "/tmp/test_confine.XXXXXX";
    (void)state;
    if (!mkdtemp(tmpl) || !realpath(tmpl, g_root))
        return -1;
    const char *dirs[] = {"data",
                          "data/prod",
                          "data/prod/alpha",
                          "data/prod/alpha/lib",
                          "data/prod/alpha/lib/deep",
                          "data/prod/beta",
                          "data/prod2",
                          "data/prod2/x",
                          "etc",
                          "backup",
                          "backup/prod",
                          "backup/prod/alpha",
                          "backup/prod/alpha/lib",
                          "backup/prod/bad",
                          "backup/prod/bad/alpha",
                          "backup/prod/worse",
                          "backup/prod/worse/alpha",
                          "backup/prod2"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        make_dir(dirs[i]);
    make_link("etc", "data/prod/evil");
    make_link("data/prod/alpha", "data/prod/inner");
    make_link("etc", "backup/prod/evil");
    make_link("nowhere/x", "backup/prod/dangling");
    make_link("data/prod/alpha/lib", "data/prod/alpha/link");
    make_link("etc", "backup/prod/bad/alpha/lib");
    make_link("backup/prod", "backup/link");
    const char *files[] = {"data/prod/file", "data/prod/alpha/file", "backup/prod/worse/alpha/lib"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char f[PATH_MAX];
        FILE *fp = fopen(at(f, "%s", files[i]), "w");
        if (!fp)
            return -1;
        fclose(fp);
    }
    return 0;
}

static int teardown_tree(void **state)
{
    (void)state;
    return nftw(g_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A confinement to T/data/prod and T/backup/prod, plus remote vault prefixes. */
static int setup_confine(void **state)
{
    char p[PATH_MAX], err[256];
    ms_confine_t *c = ms_confine_new();

    if (!c || ms_confine_allow_source(c, at(p, "data/prod"), err, sizeof err) != 0 ||
        ms_confine_allow_dest(c, at(p, "backup/prod"), err, sizeof err) != 0 ||
        ms_confine_allow_dest(c, "vault:/srv/backup", err, sizeof err) != 0 ||
        ms_confine_allow_dest(c, "rsync://vault/module/", err, sizeof err) != 0 ||
        ms_confine_allow_dest(c, "home:", err, sizeof err) != 0)
        return -1;
    *state = c;
    return 0;
}

static int teardown_confine(void **state)
{
    ms_confine_t *c = *state;
    ms_confine_destroy(&c);
    g_match_chunks = 0;
    return 0;
}

static int setup_match_chunks(void **state)
{
    g_match_chunks = 1;
    *state = NULL;
    return 0;
}

static int setup_confine_match_chunks(void **state)
{
    g_match_chunks = 1;
    return setup_confine(state);
}

/* check_task on a whole-project task with these roots, as they are. */
static int check_abs(const ms_confine_t *c, const char *source, const char *project,
                     const char *dest, char *err, size_t errlen)
{
    ms_task_t t = {
        .attempt = 1, .project = (char *)project, .source = (char *)source, .dest = (char *)dest};
    err[0] = '\0';
    return ms_confine_check_task(c, &t, err, errlen);
}

/* check_task with paths relative to T (remote dests are passed as they are). */
static int check(ms_confine_t *c, const char *src_rel, const char *project, const char *dst,
                 char *err, size_t errlen)
{
    char s[PATH_MAX], d[PATH_MAX];
    const char *dest = strchr(dst, ':') ? dst : at(d, "%s", dst);
    return check_abs(c, at(s, "%s", src_rel), project, dest, err, errlen);
}

/* check_task on a chunk of T/data/prod/project/sub (one item or one
 * pattern) into dst (as check's). */
static int check_chunk(const ms_confine_t *c, const char *project, const char *sub, const char *dst,
                       char *err, size_t errlen)
{
    char s[PATH_MAX], d[PATH_MAX], *names[] = {"x"}, *match[] = {"[\\a-\\z]*"};
    ms_task_t t = {.attempt = 1,
                   .project = (char *)project,
                   .source = (char *)at(s, "data/prod"),
                   .dest = (char *)(strchr(dst, ':') ? dst : at(d, "%s", dst)),
                   .sub = (char *)sub};
    if (g_match_chunks) {
        t.match = match;
        t.n_match = 1;
    } else {
        t.items = names;
        t.n_items = 1;
    }
    err[0] = '\0';
    return ms_confine_check_task(c, &t, err, errlen);
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                               \
    } while (0)

/* --- sources -------------------------------------------------------------------- */

static void test_a_project_under_an_allowed_source_root_is_allowed(void **state)
{
    char err[512];
    assert_int_equal(check(*state, "data/prod", "alpha", "backup/prod", err, sizeof err), 0);
    assert_int_equal(check(*state, "data/prod/", "beta", "backup/prod/", err, sizeof err), 0);
}

static void test_the_top_task_checks_the_source_root_itself(void **state)
{
    char err[512];
    assert_int_equal(check(*state, "data/prod", "", "backup/prod", err, sizeof err), 0);
    assert_int_equal(check(*state, "data", "", "backup/prod", err, sizeof err), -1);
    assert_contains(err, "is outside the allowed source roots");
}

static void test_a_source_outside_the_roots_is_refused_naming_the_roots(void **state)
{
    char err[1024], want[PATH_MAX + 128], p[PATH_MAX], r[PATH_MAX];
    assert_int_equal(check(*state, "etc", "", "backup/prod", err, sizeof err), -1);
    snprintf(want, sizeof want, "source %s is outside the allowed source roots (%s)", at(p, "etc"),
             at(r, "data/prod"));
    assert_string_equal(err, want);
}

static void test_dot_dot_in_the_source_is_judged_by_where_it_leads(void **state)
{
    char err[1024], want[2 * PATH_MAX], p[PATH_MAX], r[PATH_MAX], e[PATH_MAX];
    assert_int_equal(
        check(*state, "data/prod/alpha/../../../etc", "", "backup/prod", err, sizeof err), -1);
    snprintf(want, sizeof want,
             "source %s is outside the allowed source roots (%s): it resolves to %s",
             at(p, "data/prod/alpha/../../../etc"), at(r, "data/prod"), at(e, "etc"));
    assert_string_equal(err, want);
    /* A detour that comes back inside is fine. */
    assert_int_equal(check(*state, "data/prod/alpha/..", "beta", "backup/prod", err, sizeof err),
                     0);
}

static void test_a_project_that_is_not_one_name_is_refused(void **state)
{
    const char *bad[] = {"..", ".", "alpha/..", "../etc", "a/b", "/alpha"};
    char err[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(*state, "data/prod", bad[i], "backup/prod", err, sizeof err), -1);
        assert_contains(err, "is not a single directory name");
    }
}

/* Below the root nothing is resolved: the worker never follows a link
 * there (ms_anchor.h: a project that is a link has vanished), so the task
 * goes where root/project names, inside the root. */
static void test_a_symlinked_project_is_judged_by_the_root_it_is_in(void **state)
{
    char err[1024];
    assert_int_equal(check(*state, "data/prod", "evil", "backup/prod", err, sizeof err), 0);
    assert_int_equal(check(*state, "data/prod", "alpha", "backup/prod/alpha", err, sizeof err), 0);
}

static void test_a_symlink_that_stays_inside_the_source_root_is_allowed(void **state)
{
    char err[512];
    assert_int_equal(check(*state, "data/prod", "inner", "backup/prod", err, sizeof err), 0);
}

static void test_a_sibling_whose_name_extends_the_root_is_outside(void **state)
{
    char err[1024];
    assert_int_equal(check(*state, "data/prod2", "x", "backup/prod", err, sizeof err), -1);
    assert_contains(err, "is outside the allowed source roots");
    assert_int_equal(check(*state, "data/prod", "alpha", "backup/prod2", err, sizeof err), -1);
    assert_contains(err, "is outside the allowed destination roots");
}

static void test_a_missing_source_root_or_a_file_is_refused(void **state)
{
    char err[1024];
    assert_int_equal(check(*state, "data/gamma", "x", "backup/prod", err, sizeof err), -1);
    assert_contains(err, "No such file or directory");
    assert_int_equal(check(*state, "data/prod/alpha/file", "x", "backup/prod", err, sizeof err),
                     -1);
    assert_contains(err, "is not a directory");
}

/* --- local destinations ---------------------------------------------------------- */

static void test_a_destination_that_does_not_exist_yet_inside_a_root_is_allowed(void **state)
{
    char err[512];
    assert_int_equal(check(*state, "data/prod", "alpha", "backup/prod/new", err, sizeof err), 0);
    assert_int_equal(check(*state, "data/prod", "alpha", "backup/prod/a/./b", err, sizeof err), 0);
}

static void test_a_missing_destination_outside_the_roots_is_refused(void **state)
{
    char err[1024];
    assert_int_equal(check(*state, "data/prod", "alpha", "elsewhere/new", err, sizeof err), -1);
    assert_contains(err, "is outside the allowed destination roots");
}

static void test_a_destination_symlink_that_leaves_the_root_is_refused(void **state)
{
    char err[1024], e[PATH_MAX];
    assert_int_equal(check(*state, "data/prod", "alpha", "backup/prod/evil", err, sizeof err), -1);
    assert_contains(err, "is outside the allowed destination roots");
    assert_contains(err, at(e, "etc/alpha"));
    /* also when the project itself is the link */
    assert_int_equal(check(*state, "data/prod", "", "backup/prod/evil", err, sizeof err), -1);
}

static void test_dot_dot_after_a_missing_directory_is_refused(void **state)
{
    char err[1024];
    assert_int_equal(
        check(*state, "data/prod", "alpha", "backup/prod/missing/../../../etc", err, sizeof err),
        -1);
    assert_contains(err, "'..' after a missing directory");
}

static void test_dot_dot_in_the_existing_part_is_judged_by_where_it_leads(void **state)
{
    char err[1024];
    assert_int_equal(check(*state, "data/prod", "alpha", "backup/prod/../../etc", err, sizeof err),
                     -1);
    assert_contains(err, "is outside the allowed destination roots");
    assert_int_equal(
        check(*state, "data/prod", "alpha", "backup/prod2/../prod/new", err, sizeof err), 0);
}

static void test_a_dangling_symlink_in_the_destination_is_refused(void **state)
{
    char err[1024];
    assert_int_equal(check(*state, "data/prod", "", "backup/prod/dangling", err, sizeof err), -1);
    assert_contains(err, "symbolic link to nowhere");
    assert_int_equal(check(*state, "data/prod", "x", "backup/prod/dangling", err, sizeof err), -1);
}

/* --- remote destinations ------------------------------------------------------- */

static void test_a_remote_destination_under_an_allowed_prefix_is_allowed(void **state)
{
    char err[512];
    assert_int_equal(check(*state, "data/prod", "alpha", "vault:/srv/backup", err, sizeof err), 0);
    assert_int_equal(check(*state, "data/prod", "alpha", "vault:/srv/backup/prod", err, sizeof err),
                     0);
    assert_int_equal(check(*state, "data/prod", "", "rsync://vault/module/x", err, sizeof err), 0);
    assert_int_equal(check(*state, "data/prod", "alpha", "home:", err, sizeof err), 0);
}

static void test_a_remote_destination_outside_the_prefixes_is_refused(void **state)
{
    const char *bad[] = {"vault:/srv/backup2",
                         "vault:/srv",
                         "other:/srv/backup",
                         "user@vault:/srv/backup",
                         "vault:/srv/backup/../../etc",
                         "rsync://vault/module2/x",
                         "vault::module/x"};
    char err[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check(*state, "data/prod", "alpha", bad[i], err, sizeof err) != -1)
            fail_msg("%s was allowed", bad[i]);
        assert_contains(err, bad[i]);
    }
}

static void test_a_remote_destination_needs_a_remote_entry(void **state)
{
    char p[PATH_MAX], err[1024];
    ms_confine_t *c = ms_confine_new();
    (void)state;
    assert_int_equal(ms_confine_allow_dest(c, at(p, "backup/prod"), err, sizeof err), 0);
    assert_int_equal(
        check_abs(c, at(p, "data/prod"), "alpha", "vault:/srv/backup", err, sizeof err), -1);
    assert_contains(err, "is remote and no allowed remote destination matches it");
    ms_confine_destroy(&c);
}

/* --- chunks of a split project ----------------------------------------------------- */

static void test_a_chunk_through_real_folders_is_allowed(void **state)
{
    char err[1024];
    assert_int_equal(check_chunk(*state, "alpha", "", "backup/prod", err, sizeof err), 0);
    assert_int_equal(check_chunk(*state, "alpha", "lib", "backup/prod", err, sizeof err), 0);
    assert_int_equal(check_chunk(*state, "alpha", "lib/deep", "backup/prod/", err, sizeof err), 0);
    /* the missing tail of the destination is made by rsync --mkpath */
    assert_int_equal(check_chunk(*state, "alpha", "lib/deep", "backup/prod/new", err, sizeof err),
                     0);
    assert_int_equal(check_chunk(*state, "beta", "", "backup/prod", err, sizeof err), 0);
    assert_int_equal(check_chunk(*state, "alpha", "lib", "vault:/srv/backup", err, sizeof err), 0);
}

static void test_a_sub_that_is_not_a_relative_path_of_names_is_refused(void **state)
{
    const char *bad[] = {"..", "../etc", "lib/../..", "/lib", "lib/", "lib//deep", ".", "lib/./x"};
    char err[1024];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (check_chunk(*state, "alpha", bad[i], "backup/prod", err, sizeof err) != -1)
            fail_msg("sub %s was allowed", bad[i]);
        assert_contains(err, "sub");
        assert_int_equal(check_chunk(NULL, "alpha", bad[i], "backup/prod", err, sizeof err), -1);
    }
}

static void test_the_roots_judge_a_chunk_by_its_whole_folder(void **state)
{
    char p[PATH_MAX], err[1024];
    ms_confine_t *c = ms_confine_new();
    (void)state;
    assert_int_equal(ms_confine_allow_source(c, at(p, "data/prod/alpha/lib"), err, sizeof err), 0);
    assert_int_equal(ms_confine_allow_dest(c, at(p, "backup/prod/alpha/lib"), err, sizeof err), 0);
    assert_int_equal(ms_confine_allow_dest(c, "vault:/srv/backup/alpha/lib", err, sizeof err), 0);
    /* inside the roots only with the sub: T/data/prod/alpha/lib, T/backup/prod/alpha/lib */
    assert_int_equal(check_chunk(c, "alpha", "lib", "vault:/srv/backup", err, sizeof err), 0);
    assert_int_equal(check_chunk(c, "alpha", "lib", "backup/prod", err, sizeof err), 0);
    assert_int_equal(check_chunk(c, "alpha", "lib", "backup/prod/new", err, sizeof err), -1);
    assert_contains(err, "is outside the allowed destination roots");
    assert_int_equal(check_chunk(c, "alpha", "lib/deep", "vault:/srv/backup", err, sizeof err), 0);
    assert_int_equal(check_chunk(c, "alpha", "", "vault:/srv/backup", err, sizeof err), -1);
    assert_contains(err, "is outside the allowed source roots");
    assert_int_equal(check_chunk(c, "alpha", "lib", "vault:/srv/other", err, sizeof err), -1);
    assert_contains(err, "vault:/srv/other/alpha/lib");
    assert_int_equal(check(c, "data/prod", "alpha", "vault:/srv/backup", err, sizeof err), -1);
    ms_confine_destroy(&c);
}

/* --- configuration --------------------------------------------------------------- */

static void test_no_roots_means_no_restriction_but_the_project_is_still_checked(void **state)
{
    char p[PATH_MAX], err[512];
    ms_confine_t *c = ms_confine_new();
    (void)state;
    assert_int_equal(ms_confine_restricts_sources(c), 0);
    assert_int_equal(ms_confine_restricts_dests(c), 0);
    assert_int_equal(check_abs(c, "/etc", "", "/anywhere/at/all", err, sizeof err), 0);
    assert_int_equal(check_abs(c, "/", "x", "vault:/", err, sizeof err), 0);
    assert_int_equal(check_abs(c, "/etc", "..", "/tmp", err, sizeof err), -1);
    /* sources restricted, destinations free */
    assert_int_equal(ms_confine_allow_source(c, at(p, "data/prod"), err, sizeof err), 0);
    assert_int_equal(ms_confine_restricts_sources(c), 1);
    assert_int_equal(check_abs(c, at(p, "data/prod"), "alpha", "/x/y", err, sizeof err), 0);
    assert_int_equal(check_abs(c, at(p, "etc"), "", "/x/y", err, sizeof err), -1);
    ms_confine_destroy(&c);
}

static void test_allowed_roots_must_exist_and_remote_ones_have_no_dot_dot(void **state)
{
    char p[PATH_MAX], err[512];
    ms_confine_t *c = ms_confine_new();
    (void)state;
    assert_int_equal(ms_confine_allow_source(c, at(p, "nope"), err, sizeof err), -1);
    assert_contains(err, "allow_source");
    assert_contains(err, "No such file or directory");
    assert_int_equal(ms_confine_allow_source(c, at(p, "data/prod/file"), err, sizeof err), -1);
    assert_int_equal(ms_confine_allow_dest(c, at(p, "nope"), err, sizeof err), -1);
    assert_int_equal(ms_confine_allow_dest(c, "vault:/srv/../etc", err, sizeof err), -1);
    assert_int_equal(ms_confine_allow_dest(c, "", err, sizeof err), -1);
    assert_int_equal(ms_confine_restricts_sources(c), 0);
    assert_int_equal(ms_confine_restricts_dests(c), 0);
    ms_confine_destroy(&c);
}

static void test_a_root_of_slash_allows_everything_below_it(void **state)
{
    char p[PATH_MAX], err[512];
    ms_confine_t *c = ms_confine_new();
    (void)state;
    assert_int_equal(ms_confine_allow_source(c, "/", err, sizeof err), 0);
    assert_int_equal(ms_confine_allow_dest(c, "/", err, sizeof err), 0);
    assert_int_equal(check_abs(c, at(p, "data"), "prod", "/new/dir", err, sizeof err), 0);
    ms_confine_destroy(&c);
}

static void test_destroy_accepts_null_and_is_idempotent(void **state)
{
    ms_confine_t *c = ms_confine_new();
    (void)state;
    ms_confine_destroy(&c);
    assert_null(c);
    ms_confine_destroy(&c);
    ms_confine_destroy(NULL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup_confine, teardown_confine)
/* clang-format off */
#define M(name, setup) {"match chunk: " #name, name, setup, teardown_confine, NULL}
    /* clang-format on */
    const struct CMUnitTest tests[] = {
        T(test_a_project_under_an_allowed_source_root_is_allowed),
        T(test_the_top_task_checks_the_source_root_itself),
        T(test_a_source_outside_the_roots_is_refused_naming_the_roots),
        T(test_dot_dot_in_the_source_is_judged_by_where_it_leads),
        T(test_a_project_that_is_not_one_name_is_refused),
        T(test_a_symlinked_project_is_judged_by_the_root_it_is_in),
        T(test_a_symlink_that_stays_inside_the_source_root_is_allowed),
        T(test_a_sibling_whose_name_extends_the_root_is_outside),
        T(test_a_missing_source_root_or_a_file_is_refused),
        T(test_a_destination_that_does_not_exist_yet_inside_a_root_is_allowed),
        T(test_a_missing_destination_outside_the_roots_is_refused),
        T(test_a_destination_symlink_that_leaves_the_root_is_refused),
        T(test_dot_dot_after_a_missing_directory_is_refused),
        T(test_dot_dot_in_the_existing_part_is_judged_by_where_it_leads),
        T(test_a_dangling_symlink_in_the_destination_is_refused),
        T(test_a_remote_destination_under_an_allowed_prefix_is_allowed),
        T(test_a_remote_destination_outside_the_prefixes_is_refused),
        T(test_a_chunk_through_real_folders_is_allowed),
        T(test_a_sub_that_is_not_a_relative_path_of_names_is_refused),
        cmocka_unit_test(test_the_roots_judge_a_chunk_by_its_whole_folder),
        /* the same for a match chunk, given to rsync as its folder, source/project/sub/ */
        M(test_a_chunk_through_real_folders_is_allowed, setup_confine_match_chunks),
        M(test_a_sub_that_is_not_a_relative_path_of_names_is_refused, setup_confine_match_chunks),
        M(test_the_roots_judge_a_chunk_by_its_whole_folder, setup_match_chunks),
        cmocka_unit_test(test_a_remote_destination_needs_a_remote_entry),
        cmocka_unit_test(test_no_roots_means_no_restriction_but_the_project_is_still_checked),
        cmocka_unit_test(test_allowed_roots_must_exist_and_remote_ones_have_no_dot_dot),
        cmocka_unit_test(test_a_root_of_slash_allows_everything_below_it),
        cmocka_unit_test(test_destroy_accepts_null_and_is_idempotent),
    };
#undef T
#undef M
    return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
