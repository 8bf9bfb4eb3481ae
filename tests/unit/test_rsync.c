/*
 * test_rsync.c - argv building, task checks, --stats parsing and the stderr
 * tail. The stats fixtures were captured from rsync 3.5.0 (LC_ALL=C) on
 * small trees: tests/fixtures/rsync-stats-*.txt.
 */
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

#include "ms_anchor.h"
#include "ms_rsync.h"
#include "ms_test.h"

/* ---- helpers ------------------------------------------------------------ */

/* Read tests/fixtures/<name> (or $MS_FIXTURES/<name>); the caller frees. */
static char *read_fixture(const char *name, size_t *len)
{
    const char *dir = getenv("MS_FIXTURES");
    char path[PATH_MAX];
    char *buf = NULL;
    long size;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : "tests/fixtures", name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open fixture %s (run from the repo root or set MS_FIXTURES)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    buf[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static ms_task_t task(const char *project, uint32_t flags)
{
    ms_task_t t = {.run_id = 7,
                   .task_id = 42,
                   .attempt = 1,
                   .flags = flags,
                   .project = (char *)project,
                   .source = "/data/prod",
                   .dest = "/backup/prod"};
    return t;
}

/* Compare argv with the expected NULL-terminated list. */
static void assert_argv(char **argv, const char *const *want)
{
    size_t i;

    assert_non_null(argv);
    for (i = 0; want[i] != NULL; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
}

/* The argv of t (with these extra options) is want. */
static void assert_task_argv(const ms_task_t *t, char *const *extra, size_t n_extra,
                             const char *const *want)
{
    char err[128];
    char **argv = ms_rsync_argv("rsync", extra, n_extra, t, NULL, err, sizeof(err));

    assert_argv(argv, want);
    ms_rsync_argv_free(argv);
}

static void assert_refused(const ms_task_t *t, const char *reason_part)
{
    char err[256] = "";

    assert_int_equal(ms_rsync_check_task(t, err, sizeof(err)), -1);
    if (strstr(err, reason_part) == NULL)
        fail_msg("reason \"%s\" does not mention \"%s\"", err, reason_part);
}

static ms_rsync_stats_t parse_fixture(const char *name)
{
    ms_rsync_stats_t st;
    size_t len;
    char *text = read_fixture(name, &len);

    assert_int_equal(ms_rsync_parse_stats(text, len, &st), 0);
    free(text);
    return st;
}

/* ---- argv --------------------------------------------------------------- */

static void argv_for_a_project_copies_source_project_into_dest_project(void **state)
{
    ms_task_t t = task("alpha", 0);
    char err[128];
    char **argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));
    const char *const want[] = {
        "rsync", "-a", "--stats", "--mkpath", "--", "/data/prod/alpha/", "/backup/prod/alpha/",
        NULL};

    (void)state;
    assert_argv(argv, want);
    ms_rsync_argv_free(argv);
}

static void argv_for_a_top_task_copies_the_root_without_its_subfolders(void **state)
{
    ms_task_t t = task("", MS_TASK_TOP);
    char err[128];
    char **argv = ms_rsync_argv("/usr/bin/rsync", NULL, 0, &t, NULL, err, sizeof(err));
    const char *const want[] = {
        "/usr/bin/rsync", "-a", "--stats",     "--mkpath",      "--exclude=/.multisync.lock",
        "--exclude=/*/",  "--", "/data/prod/", "/backup/prod/", NULL};

    (void)state;
    assert_argv(argv, want);
    ms_rsync_argv_free(argv);
}

static void argv_puts_extra_options_before_the_exclude_and_the_separator(void **state)
{
    ms_task_t t = task("", MS_TASK_TOP);
    char *extra[] = {"--bwlimit=1000", "-H"};
    char err[128];
    char **argv = ms_rsync_argv("rsync", extra, 2, &t, NULL, err, sizeof(err));
    const char *const want[] = {"rsync",
                                "-a",
                                "--stats",

                                "--mkpath",
                                "--bwlimit=1000",
                                "-H",
                                "--exclude=/.multisync.lock",
                                "--exclude=/*/",
                                "--",
                                "/data/prod/",
                                "/backup/prod/",
                                NULL};

    (void)state;
    assert_argv(argv, want);
    ms_rsync_argv_free(argv);
}

/* The k-th argument after "--" (1: the source), or NULL. The options
 * before it are checked whole elsewhere: here only the paths count. */
static const char *operand(char **argv, int k)
{
    for (int i = 0; argv[i] != NULL; i++)
        if (strcmp(argv[i], "--") == 0)
            return argv[i + k];
    return NULL;
}

static void argv_does_not_double_a_trailing_slash(void **state)
{
    ms_task_t t = task("beta", 0);
    ms_task_t top = task("", MS_TASK_TOP);
    char err[128];
    char **argv;

    (void)state;
    t.source = "/data/prod/";
    t.dest = "/backup//";
    argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));
    assert_string_equal(operand(argv, 1), "/data/prod/beta/");
    assert_string_equal(operand(argv, 2), "/backup/beta/");
    ms_rsync_argv_free(argv);

    top.source = "/";
    top.dest = "/backup/";
    argv = ms_rsync_argv("rsync", NULL, 0, &top, NULL, err, sizeof(err));
    assert_string_equal(operand(argv, 1), "/");
    assert_string_equal(operand(argv, 2), "/backup/");
    ms_rsync_argv_free(argv);
}

static void argv_keeps_a_remote_dest_home_relative(void **state)
{
    ms_task_t t = task("alpha", 0);
    char err[128];
    char **argv;

    (void)state;
    t.dest = "backup-host:";
    argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));
    assert_string_equal(operand(argv, 2), "backup-host:alpha/");
    ms_rsync_argv_free(argv);
}

static void argv_passes_odd_project_names_as_one_argument(void **state)
{
    const char *names[] = {"-rf --delete", "with space", "quote\"'", "\xff\xfe latin1", "*?[]"};
    char err[128];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ms_task_t t = task(names[i], 0);
        char **argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));
        char src[256], dst[256];

        assert_int_equal(ms_rsync_check_task(&t, err, sizeof(err)), 0);
        snprintf(src, sizeof(src), "/data/prod/%s/", names[i]);
        snprintf(dst, sizeof(dst), "/backup/prod/%s/", names[i]);
        assert_string_equal(operand(argv, 1), src);
        assert_string_equal(operand(argv, 2), dst);
        assert_null(operand(argv, 3));
        ms_rsync_argv_free(argv);
    }
}

/* ---- task checks -------------------------------------------------------- */

static void check_task_accepts_a_project_and_a_top_task(void **state)
{
    ms_task_t t = task("alpha", 0), top = task("", MS_TASK_TOP);
    char err[128];

    (void)state;
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&top, err, sizeof(err)), 0);
}

static void check_task_refuses_empty_dot_and_dotdot(void **state)
{
    ms_task_t empty = task("", 0), dot = task(".", 0), dotdot = task("..", 0);

    (void)state;
    assert_refused(&empty, "empty");
    assert_refused(&dot, "\".\"");
    assert_refused(&dotdot, "\"..\"");
}

static void check_task_refuses_a_slash_in_the_project(void **state)
{
    ms_task_t t = task("a/b", 0), lead = task("/etc", 0), trail = task("a/", 0);

    (void)state;
    assert_refused(&t, "'/'");
    assert_refused(&lead, "'/'");
    assert_refused(&trail, "'/'");
}

static void check_task_refuses_a_name_longer_than_NAME_MAX(void **state)
{
    char name[NAME_MAX + 2] = "";
    ms_task_t t = task(name, 0);
    char err[128];

    (void)state;
    memset(name, 'x', NAME_MAX);
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof(err)), 0);
    name[NAME_MAX] = 'x';
    name[NAME_MAX + 1] = '\0';
    assert_refused(&t, "longer");
}

static void check_task_refuses_unknown_flags(void **state)
{
    ms_task_t t = task("alpha", 0x400);

    (void)state;
    assert_refused(&t, "unknown flags 0x400");
}

/* A pack's members are names of projects in the source root, as sent by
 * the master: one that climbs out, goes deeper or is empty is refused, and
 * so is a pack with a part, or that is the top task. */
static void check_task_takes_a_pack_of_plain_project_names_only(void **state)
{
    static char *good[] = {"beta", "-starts-with-dash", "with space"};
    static char *up[] = {"beta", ".."}, *deep[] = {"beta/sub"}, *empty[] = {""};
    char err[256] = "";
    ms_task_t t = task("alpha", MS_TASK_PACK);

    (void)state;
    t.items = good;
    t.n_items = 3;
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof err), 0);
    t.items = up;
    t.n_items = 2;
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof err), -1);
    t.items = deep;
    t.n_items = 1;
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof err), -1);
    t.items = empty;
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof err), -1);
    t.items = good;
    t.n_items = 0;
    assert_refused(&t, "a pack of projects is a project and other projects' names");
    t.n_items = 3;
    t.sub = "lib";
    assert_refused(&t, "a pack of projects is a project and other projects' names");
    t = task("", MS_TASK_PACK | MS_TASK_TOP);
    t.items = good;
    t.n_items = 3;
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof err), -1);
}

/* A carried-over task reads the link snapshot's copy: without one, or as
 * a top task, it is refused. */
static void check_task_refuses_a_carry_without_a_link_snapshot(void **state)
{
    ms_task_t t = task("alpha", MS_TASK_CARRY);

    (void)state;
    assert_refused(&t, "carried-over task needs a link snapshot");
    t.snap = "2026-01-02T030405Z.partial";
    assert_refused(&t, "carried-over task needs a link snapshot");
    t.link = "2026-01-01T030405Z";
    char err[256] = "";
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof err), 0); /* a project, linked: taken */
    t = task("", MS_TASK_TOP | MS_TASK_CARRY);
    t.snap = "2026-01-02T030405Z.partial";
    t.link = "2026-01-01T030405Z";
    assert_refused(&t, "carried-over task needs a link snapshot");
}

static void argv_keeps_the_slash_after_a_local_root_ending_in_a_colon(void **state)
{
    ms_task_t t = task("alpha", 0);
    char err[128];
    char **argv;

    (void)state;
    t.source = "/data/x:";
    t.dest = "/backup/y:";
    argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));
    assert_non_null(argv);
    assert_string_equal(operand(argv, 1), "/data/x:/alpha/");
    assert_string_equal(operand(argv, 2), "/backup/y:/alpha/");
    ms_rsync_argv_free(argv);
}

static void argv_for_a_delete_task_mirrors_deletions_after_the_transfer(void **state)
{
    ms_task_t t = task("alpha", MS_TASK_DELETE);
    char err[128];
    char **argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));
    const char *const want[] = {"rsync",
                                "-a",
                                "--stats",
                                "--mkpath",
                                "--delete-delay",
                                "--",
                                "/data/prod/alpha/",
                                "/backup/prod/alpha/",
                                NULL};

    (void)state;
    assert_argv(argv, want);
    ms_rsync_argv_free(argv);
}

/* A scratch tree: <dir>/src/<proj> and <dir>/dst/<proj>, each with or
 * without a file in it. */
static void scratch(char *dir, size_t len, int src_file, int dst_file, int src_missing)
{
    char cmd[512];

    ms_test_tmpdir(dir, len, "delete");
    snprintf(cmd, sizeof(cmd), "mkdir -p %s/dst/p%s%s%s", dir, src_missing ? "" : " ",
             src_missing ? "" : dir, src_missing ? "" : "/src/p");
    assert_int_equal(system(cmd), 0);
    if (src_file) {
        snprintf(cmd, sizeof(cmd), "echo x > %s/src/p/f", dir);
        assert_int_equal(system(cmd), 0);
    }
    if (dst_file) {
        snprintf(cmd, sizeof(cmd), "echo x > %s/dst/p/f", dir);
        assert_int_equal(system(cmd), 0);
    }
}

static void rm_scratch(const char *dir)
{
    assert_int_equal(ms_test_rmtree(dir), 0);
}

/* The check on dir/src/p and dir/dst/p, opened as the worker opens them
 * (a remote dest_override has no folder: -1). */
static int delete_safe(const char *dir, const char *dest_override, char *err, size_t errlen)
{
    char src[128], dst[128], sp[128], dp[128];
    ms_task_t t = task("p", MS_TASK_DELETE);
    int sfd, dfd = -1, rc;

    snprintf(src, sizeof(src), "%s/src", dir);
    snprintf(dst, sizeof(dst), "%s/dst", dir);
    t.source = src;
    t.dest = dest_override ? (char *)dest_override : dst;
    snprintf(sp, sizeof(sp), "%s/src/p", dir);
    snprintf(dp, sizeof(dp), "%s/dst/p", dir);
    sfd = open(sp, O_PATH | O_DIRECTORY);
    assert_true(sfd >= 0);
    if (!dest_override) {
        mkdir(dp, 0755);
        dfd = open(dp, O_PATH | O_DIRECTORY);
        assert_true(dfd >= 0);
    }
    rc = ms_rsync_check_delete_safe(&t, sfd, dfd, err, errlen);
    close(sfd);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

static void delete_is_refused_when_the_source_is_empty_and_the_backup_is_not(void **state)
{
    char dir[64], err[512];

    (void)state;
    scratch(dir, sizeof(dir), 0, 1, 0);
    assert_int_equal(delete_safe(dir, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "refusing to mirror deletions"));
    assert_non_null(strstr(err, "/src/p/ is empty while its backup"));
    rm_scratch(dir);
}

static void delete_is_allowed_from_a_non_empty_source_or_into_an_empty_backup(void **state)
{
    char dir[64], err[512];

    (void)state;
    scratch(dir, sizeof(dir), 1, 1, 0);
    assert_int_equal(delete_safe(dir, NULL, err, sizeof(err)), 0);
    rm_scratch(dir);
    scratch(dir, sizeof(dir), 0, 0, 0);
    assert_int_equal(delete_safe(dir, NULL, err, sizeof(err)), 0);
    rm_scratch(dir);
}

static void delete_to_a_remote_is_refused_whenever_the_source_is_empty(void **state)
{
    char dir[64], err[512];

    (void)state;
    scratch(dir, sizeof(dir), 0, 0, 0);
    assert_int_equal(delete_safe(dir, "backup-host:/srv", err, sizeof(err)), -1);
    rm_scratch(dir);
    scratch(dir, sizeof(dir), 1, 0, 0);
    assert_int_equal(delete_safe(dir, "rsync://h/m", err, sizeof(err)), 0);
    rm_scratch(dir);
}

static void tasks_without_delete_are_never_checked(void **state)
{
    char err[64];
    ms_task_t t = task("does-not-exist", 0);

    (void)state;
    assert_int_equal(ms_rsync_check_delete_safe(&t, -1, -1, err, sizeof(err)), 0);
}

static void check_task_refuses_empty_roots_and_a_named_top_task(void **state)
{
    ms_task_t nosrc = task("alpha", 0), nodst = task("alpha", 0), top = task("alpha", MS_TASK_TOP);
    ms_task_t noproj = task("alpha", 0);

    (void)state;
    nosrc.source = "";
    nodst.dest = NULL;
    noproj.project = NULL;
    assert_refused(&nosrc, "source");
    assert_refused(&nodst, "dest");
    assert_refused(&top, "top task");
    assert_refused(&noproj, "project");
    assert_refused(NULL, "project");
}

/* ---- split projects: chunks and rests ----------------------------------- */

/* What every argv starts with. */
#define RSYNC_FIXED "rsync", "-a", "--stats", "--mkpath"

typedef enum { ITEMS, EXCL, MATCH, XMATCH } list_t;

/* A task of project alpha with sub and one list of a split project, v[0..n). */
static ms_task_t split(const char *sub, list_t which, char **v, uint32_t n)
{
    ms_task_t t = task("alpha", 0);
    char ***lists[] = {&t.items, &t.excl, &t.match, &t.xmatch};
    uint32_t *counts[] = {&t.n_items, &t.n_excl, &t.n_match, &t.n_xmatch};

    t.sub = (char *)sub;
    *lists[which] = v;
    *counts[which] = n;
    return t;
}

static ms_task_t chunk(const char *sub, char **items, uint32_t n)
{
    return split(sub, ITEMS, items, n);
}

static ms_task_t rest(char **excl, uint32_t n)
{
    return split("", EXCL, excl, n);
}

static ms_task_t match_chunk(const char *sub, char **match, uint32_t n)
{
    return split(sub, MATCH, match, n);
}

static ms_task_t match_rest(char **xmatch, uint32_t n)
{
    return split("", XMATCH, xmatch, n);
}

static void argv_for_a_chunk_copies_each_item_as_itself_into_the_sub_folder(void **state)
{
    char *items[] = {"lib", "-rf", "a b\nc"}, *extra[] = {"-H"};
    ms_task_t t = chunk("src/x y", items, 3);
    const char *const want[] = {
        RSYNC_FIXED,
        "-H",
        "--",
        "/data/prod/alpha/src/x y/lib",
        "/data/prod/alpha/src/x y/-rf",
        "/data/prod/alpha/src/x y/a b\nc",
        "/backup/prod/alpha/src/x y/",
        NULL,
    };

    (void)state;
    assert_task_argv(&t, extra, 1, want);
}

static void argv_for_a_chunk_of_the_project_folder_itself_and_with_delete(void **state)
{
    char *items[] = {"big"};
    ms_task_t t = chunk("", items, 1), nosub = chunk(NULL, items, 1);
    const char *const want[] = {
        RSYNC_FIXED, "--delete-delay", "--", "/data/prod/alpha/big", "/backup/prod/alpha/", NULL,
    };

    (void)state;
    t.flags = MS_TASK_DELETE;
    nosub.flags = MS_TASK_DELETE;
    assert_task_argv(&t, NULL, 0, want);
    assert_task_argv(&nosub, NULL, 0, want);
}

static void argv_refuses_delete_excluded_for_parts_of_a_split_project(void **state)
{
    char *items[] = {"big"}, *excl[] = {"big"}, *extra[] = {"-H", "--delete-excluded"}, err[256];
    ms_task_t c = chunk("sub", items, 1), r = rest(excl, 1), whole = chunk(NULL, items, 1);
    (void)state;
    whole.n_items = 0;
    whole.items = NULL;
    assert_null(ms_rsync_argv("rsync", extra, 2, &c, NULL, err, sizeof err));
    assert_non_null(strstr(err, "--delete-excluded"));
    assert_null(ms_rsync_argv("rsync", extra, 2, &r, NULL, err, sizeof err));
    char **argv = ms_rsync_argv("rsync", extra, 2, &whole, NULL, err, sizeof err);
    assert_non_null(argv); /* a whole project may use it: nothing else copies there */
    ms_rsync_argv_free(argv);
}

static void argv_for_a_rest_excludes_each_path_anchored_at_the_project(void **state)
{
    char *excl[] = {"big", "src/x y/lib", "-dash", "new\nline", "back\\slash"}, *extra[] = {"-H"};
    ms_task_t t = rest(excl, 5);
    const char *const want[] = {
        RSYNC_FIXED,
        "--delete-delay",
        "-H",
        "--exclude=/big",
        "--exclude=/src/x y/lib",
        "--exclude=/-dash",
        "--exclude=/new\nline",
        /* no wildcard: rsync takes the backslash literally */
        "--exclude=/back\\slash",
        "--",
        "/data/prod/alpha/",
        "/backup/prod/alpha/",
        NULL,
    };

    (void)state;
    t.flags = MS_TASK_DELETE;
    assert_task_argv(&t, extra, 1, want);
}

static void argv_escapes_an_excluded_path_with_a_wildcard_character(void **state)
{
    char *excl[] = {"a*b", "a?b", "[a]", "d/x*\\y", "]{}!"};
    ms_task_t t = rest(excl, 5);
    const char *const want[] = {
        RSYNC_FIXED,
        "--exclude=/a\\*b",
        "--exclude=/a\\?b",
        "--exclude=/\\[a]",
        "--exclude=/d/x\\*\\\\y",
        "--exclude=/]{}!",
        "--",
        "/data/prod/alpha/",
        "/backup/prod/alpha/",
        NULL,
    };

    (void)state;
    assert_task_argv(&t, NULL, 0, want);
}

static void argv_for_a_match_chunk_includes_its_patterns_then_excludes_the_rest(void **state)
{
    char *match[] = {"IMG_0[\\0-\\4]*", "ab[\\c]", "\\*x[\\\xff]*"}, *extra[] = {"-H"};
    ms_task_t t = match_chunk("flat/x y", match, 3);
    const char *const want[] = {
        RSYNC_FIXED,
        "--delete-delay",
        "-H",
        "--include=/IMG_0[\\0-\\4]*",
        "--include=/ab[\\c]",
        "--include=/\\*x[\\\xff]*",
        "--exclude=/*",
        "--",
        "/data/prod/alpha/flat/x y/",
        "/backup/prod/alpha/flat/x y/",
        NULL,
    };

    (void)state;
    t.flags = MS_TASK_DELETE;
    assert_task_argv(&t, extra, 1, want);
}

static void argv_for_a_match_chunk_of_the_project_folder_itself(void **state)
{
    char *match[] = {"[\\a-\\m]*"};
    ms_task_t t = match_chunk("", match, 1), nosub = match_chunk(NULL, match, 1);
    const char *const want[] = {
        RSYNC_FIXED,         "--include=/[\\a-\\m]*", "--exclude=/*", "--",
        "/data/prod/alpha/", "/backup/prod/alpha/",   NULL,
    };

    (void)state;
    assert_task_argv(&t, NULL, 0, want);
    assert_task_argv(&nosub, NULL, 0, want);
}

static void argv_for_a_rest_excludes_its_patterns_as_written_after_its_paths(void **state)
{
    char *excl[] = {"big", "a*b"}, *xmatch[] = {"flat/[\\a-\\f]*", "s\\[1]/ab[\\c]"};
    ms_task_t t = match_rest(xmatch, 2), only = match_rest(xmatch, 1);
    const char *const want[] = {
        RSYNC_FIXED,
        "--exclude=/big",
        "--exclude=/a\\*b",
        "--exclude=/flat/[\\a-\\f]*",
        "--exclude=/s\\[1]/ab[\\c]",
        "--",
        "/data/prod/alpha/",
        "/backup/prod/alpha/",
        NULL,
    };
    const char *const want_only[] = {
        RSYNC_FIXED,         "--exclude=/flat/[\\a-\\f]*", "--",
        "/data/prod/alpha/", "/backup/prod/alpha/",        NULL,
    };

    (void)state;
    t.excl = excl;
    t.n_excl = 2;
    assert_task_argv(&t, NULL, 0, want);
    assert_task_argv(&only, NULL, 0, want_only);
}

static void check_task_accepts_chunks_and_rests(void **state)
{
    char *items[] = {"lib", "-rf", "a b"}, *excl[] = {"big", "src/x y/lib"};
    ms_task_t c1 = chunk("", items, 3), c2 = chunk("src/x y", items, 1), c3 = chunk(NULL, items, 1);
    ms_task_t r = rest(excl, 2);
    char err[128];

    (void)state;
    assert_int_equal(ms_rsync_check_task(&c1, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&c2, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&c3, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&r, err, sizeof(err)), 0);
}

/* The worker's log line names the part as the master's does (ms_part_label). */
static void task_part_names_a_chunk_a_match_chunk_a_rest_and_a_whole_project(void **state)
{
    char *items[] = {"lib", "src"}, *match[] = {"[a-m]*"}, *excl[] = {"big"};
    char *xmatch[] = {"many/[a-m]*"};
    ms_task_t c = chunk("big", items, 2), c1 = chunk("", items, 1);
    ms_task_t m = match_chunk("many", match, 1), whole = task("alpha", 0);
    ms_task_t r = rest(excl, 1), xr = match_rest(xmatch, 1);
    char part[64];

    (void)state;
    assert_string_equal(ms_rsync_task_part(&c, part, sizeof(part)), "big/lib +1");
    assert_string_equal(ms_rsync_task_part(&c1, part, sizeof(part)), "lib");
    assert_string_equal(ms_rsync_task_part(&m, part, sizeof(part)), "many/[a-m]*");
    assert_string_equal(ms_rsync_task_part(&r, part, sizeof(part)), "rest");
    assert_string_equal(ms_rsync_task_part(&xr, part, sizeof(part)), "rest");
    assert_string_equal(ms_rsync_task_part(&whole, part, sizeof(part)), "");
}

static void check_task_refuses_a_sub_or_excl_that_is_not_a_relative_path_of_names(void **state)
{
    static const char *bad[] = {"/abs", "trail/", "a//b", "..", "a/../b", ".", "./a", "a/."};
    char long_name[NAME_MAX + 2], err[128], *items[] = {"x"}, *excl[1];
    char *long_path = malloc(MS_MAX_PATH + 1);

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms_task_t c = chunk(bad[i], items, 1), r;
        excl[0] = (char *)bad[i];
        r = rest(excl, 1);
        assert_refused(&c, "each part of sub");
        assert_refused(&r, "each part of excl[0]");
    }
    memset(long_name, 'n', NAME_MAX + 1);
    long_name[NAME_MAX + 1] = '\0';
    ms_task_t c = chunk(long_name, items, 1);
    assert_refused(&c, "longer than 255 bytes");
    assert_non_null(long_path);
    for (size_t i = 0; i < MS_MAX_PATH; i++)
        long_path[i] = i % 200 == 199 ? '/' : 'a'; /* names of 199 bytes */
    long_path[MS_MAX_PATH] = '\0';
    c = chunk(long_path, items, 1);
    assert_refused(&c, "sub is 4096 bytes long, over 4095");
    long_path[MS_MAX_PATH - 1] = '\0';
    assert_int_equal(ms_rsync_check_task(&c, err, sizeof(err)), 0);
    excl[0] = "";
    ms_task_t r = rest(excl, 1);
    assert_refused(&r, "excl[0] must not be empty");
    free(long_path);
}

static void check_task_refuses_an_item_that_is_not_one_name(void **state)
{
    static const char *bad[] = {"", ".", "..", "a/b", "/a", "a/"};
    char *items[2] = {"ok"};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        items[1] = (char *)bad[i];
        ms_task_t c = chunk("", items, 2);
        assert_refused(&c, "items[1]");
    }
    ms_task_t missing = chunk("", NULL, 1);
    assert_refused(&missing, "items[0] is missing");
    ms_task_t many = chunk("", items, MS_MAX_ITEMS + 1);
    assert_refused(&many, "4097 items, over 4096");
}

static void check_task_accepts_match_chunks_and_rests_with_xmatch(void **state)
{
    char *match[] = {"IMG_0[\\0-\\4]*", "ab[\\c]", "[\\.-\\.]*", "\\*[\\!-\\~]*"};
    char *xmatch[] = {"flat/[\\a-\\f]*", "a\\*b/c d/[\\\x80-\\\xff]*", ".x/..y[z]"};
    char *excl[] = {"big"};
    ms_task_t c1 = match_chunk("", match, 4), c2 = match_chunk("flat/x y", match, 1);
    ms_task_t c3 = match_chunk(NULL, match, 2), r1 = match_rest(xmatch, 3), r2 = r1;
    char err[128];

    (void)state;
    r2.excl = excl;
    r2.n_excl = 1;
    assert_int_equal(ms_rsync_check_task(&c1, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&c2, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&c3, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&r1, err, sizeof(err)), 0);
    assert_int_equal(ms_rsync_check_task(&r2, err, sizeof(err)), 0);
}

static void check_task_refuses_a_match_pattern_that_is_not_one_wildcard_name(void **state)
{
    static const struct {
        const char *pattern, *why;
    } bad[] = {
        {"", "match[1] must not be empty"},         {"a/[b]*", "match[1] must not contain '/'"},
        {"/[b]*", "match[1] must not contain '/'"}, {"abc", "match[1] must hold a '['"},
        {"a\\*", "match[1] must hold a '['"},       {"..", "match[1] must hold a '['"},
    };
    char *match[2] = {"[\\a]*"}, long_pattern[2 * NAME_MAX + 2], err[128];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        match[1] = (char *)bad[i].pattern;
        ms_task_t c = match_chunk("flat", match, 2);
        assert_refused(&c, bad[i].why);
    }
    memset(long_pattern, 'x', sizeof(long_pattern) - 1);
    long_pattern[0] = '[';
    long_pattern[2 * NAME_MAX] = '\0';
    match[1] = long_pattern;
    ms_task_t c = match_chunk("flat", match, 2);
    assert_int_equal(ms_rsync_check_task(&c, err, sizeof(err)), 0);
    long_pattern[2 * NAME_MAX] = 'x';
    long_pattern[2 * NAME_MAX + 1] = '\0';
    assert_refused(&c, "match[1] longer than 510 bytes");
    ms_task_t missing = match_chunk("", NULL, 1);
    assert_refused(&missing, "match[0] is missing");
    ms_task_t many = match_chunk("", match, MS_MAX_ITEMS + 1);
    assert_refused(&many, "4097 match, over 4096");
    ms_task_t bad_sub = match_chunk("a/../b", match, 1);
    assert_refused(&bad_sub, "each part of sub");
}

static void check_task_refuses_an_xmatch_that_is_not_a_relative_wildcard_path(void **state)
{
    static const struct {
        const char *pattern, *why;
    } bad[] = {
        {"", "xmatch[1] must not be empty or start with '/'"},
        {"/flat/[a]*", "xmatch[1] must not be empty or start with '/'"},
        {"flat/abc", "xmatch[1] must hold a '['"},
        {"flat/a\\*", "xmatch[1] must hold a '['"},
        {"../[a]*", "each part of xmatch[1] must not be empty, \".\" or \"..\""},
        {"flat/../[a]*", "each part of xmatch[1]"},
        {"./[a]*", "each part of xmatch[1]"},
        {"flat/.", "each part of xmatch[1]"},
        {"[a]/..", "each part of xmatch[1]"},
        {"flat//[a]*", "each part of xmatch[1]"},
        {"flat/[a]*/", "each part of xmatch[1]"},
    };
    char *xmatch[2] = {"flat/[\\a]*"}, err[128];
    char *long_pattern = malloc(MS_MAX_PATH + 2);

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        xmatch[1] = (char *)bad[i].pattern;
        ms_task_t r = match_rest(xmatch, 2);
        assert_refused(&r, bad[i].why);
    }
    assert_non_null(long_pattern);
    memset(long_pattern, 'x', MS_MAX_PATH + 1);
    long_pattern[0] = '[';
    long_pattern[MS_MAX_PATH] = '\0';
    xmatch[1] = long_pattern;
    ms_task_t r = match_rest(xmatch, 2);
    assert_int_equal(ms_rsync_check_task(&r, err, sizeof(err)), 0);
    long_pattern[MS_MAX_PATH] = 'x';
    long_pattern[MS_MAX_PATH + 1] = '\0';
    assert_refused(&r, "xmatch[1] is 4097 bytes long, over 4096");
    free(long_pattern);
    ms_task_t missing = match_rest(NULL, 1);
    assert_refused(&missing, "xmatch[0] is missing");
    ms_task_t many = match_rest(xmatch, MS_MAX_ITEMS + 1);
    assert_refused(&many, "4097 xmatch, over 4096");
}

static void check_task_refuses_impossible_mixes_with_match_and_xmatch(void **state)
{
    char *items[] = {"x"}, *excl[] = {"y"}, *match[] = {"[\\a]*"}, *xmatch[] = {"f/[\\a]*"};
    ms_task_t items_match = chunk("", items, 1), match_excl = match_chunk("", match, 1);
    ms_task_t match_xmatch = match_chunk("", match, 1), items_xmatch = chunk("", items, 1);
    ms_task_t xmatch_sub = match_rest(xmatch, 1), top_match = task("", MS_TASK_TOP);
    ms_task_t top_xmatch = task("", MS_TASK_TOP);

    (void)state;
    items_match.match = match;
    items_match.n_match = 1;
    assert_refused(&items_match, "a task must not have both items and match");
    match_excl.excl = excl;
    match_excl.n_excl = 1;
    assert_refused(&match_excl, "a task must not have both match and excl");
    match_xmatch.xmatch = xmatch;
    match_xmatch.n_xmatch = 1;
    assert_refused(&match_xmatch, "a task must not have both match and xmatch");
    items_xmatch.xmatch = xmatch;
    items_xmatch.n_xmatch = 1;
    assert_refused(&items_xmatch, "a task must not have both items and xmatch");
    xmatch_sub.sub = "flat";
    assert_refused(&xmatch_sub,
                   "a task with xmatch (the rest of a split project) must have an empty sub");
    top_match.match = match;
    top_match.n_match = 1;
    assert_refused(&top_match, "a top task must have no sub, items, excl, match or xmatch");
    top_xmatch.xmatch = xmatch;
    top_xmatch.n_xmatch = 1;
    assert_refused(&top_xmatch, "a top task must have no sub, items, excl, match or xmatch");
}

static void check_task_refuses_impossible_mixes_of_sub_items_and_excl(void **state)
{
    char *items[] = {"x"}, *excl[] = {"y"};
    ms_task_t both = chunk("", items, 1), rest_sub = rest(excl, 1),
              sub_only = chunk("lib", NULL, 0);
    ms_task_t top = task("", MS_TASK_TOP), top_excl = task("", MS_TASK_TOP);
    ms_task_t top_sub = task("", MS_TASK_TOP);

    (void)state;
    both.excl = excl;
    both.n_excl = 1;
    assert_refused(&both, "both items and excl");
    rest_sub.sub = "lib";
    assert_refused(&rest_sub, "must have an empty sub");
    assert_refused(&sub_only, "a task with a sub folder must have items or match");
    top.items = items;
    top.n_items = 1;
    assert_refused(&top, "a top task must have no sub, items, excl, match or xmatch");
    top_excl.excl = excl;
    top_excl.n_excl = 1;
    assert_refused(&top_excl, "a top task must have no sub, items, excl, match or xmatch");
    top_sub.sub = "lib";
    assert_refused(&top_sub, "a top task must have no sub, items, excl, match or xmatch");
}

/* The deletion guard on t's folders, opened as the worker opens them. */
static int check_anchored(const ms_task_t *t, char *err, size_t errlen)
{
    ms_anchor_t a;
    int rc = ms_anchor_open(t, &a, err, errlen);

    if (rc != 0)
        fail_msg("ms_anchor_open: %s", err);
    rc = ms_rsync_check_delete_safe(t, a.src, a.dst, err, errlen);
    ms_anchor_close(&a);
    return rc;
}

static void delete_safety_of_a_chunk_or_a_rest_looks_at_the_project_folder(void **state)
{
    char dir[64], err[512], src[128], dst[128], *items[] = {"f"}, *excl[] = {"f"};
    char *match[] = {"[\\f]"}, *xmatch[] = {"[\\f]"};
    ms_task_t parts[] = {chunk("", items, 1), rest(excl, 1), match_chunk("", match, 1),
                         match_rest(xmatch, 1)};

    (void)state;
    scratch(dir, sizeof(dir), 0, 1, 0); /* src/p empty, dst/p not */
    snprintf(src, sizeof(src), "%s/src", dir);
    snprintf(dst, sizeof(dst), "%s/dst", dir);
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        parts[i].project = "p";
        parts[i].source = src;
        parts[i].dest = dst;
        parts[i].flags = MS_TASK_DELETE;
        assert_int_equal(check_anchored(&parts[i], err, sizeof(err)), -1);
        assert_non_null(strstr(err, "refusing to mirror deletions"));
    }
    rm_scratch(dir);
}

/* A chunk of name ranges runs rsync on its sub folder: that folder empty in
 * the source (an unmounted disk under the project) while its backup is not
 * is refused, even when the project itself has other entries. */
static void delete_safety_of_a_chunk_of_name_ranges_looks_at_its_folder(void **state)
{
    char dir[64], err[512], src[128], dst[128], p[256], *match[] = {"[\\a-\\m]*"};
    ms_task_t t = match_chunk("big", match, 1);

    (void)state;
    scratch(dir, sizeof(dir), 1, 1, 0); /* src/p/f and dst/p/f */
    snprintf(src, sizeof(src), "%s/src", dir);
    snprintf(dst, sizeof(dst), "%s/dst", dir);
    snprintf(p, sizeof(p), "%s/p/big", src);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/p/big", dst);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/p/big/aaa", dst);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    t.project = "p";
    t.source = src;
    t.dest = dst;
    t.flags = MS_TASK_DELETE;
    assert_int_equal(check_anchored(&t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/p/big"));
    snprintf(p, sizeof(p), "%s/p/big/aaa", src);
    assert_non_null(f = fopen(p, "w"));
    fclose(f);
    assert_int_equal(check_anchored(&t, err, sizeof(err)), 0);
    rm_scratch(dir);
}

/* ---- --stats ------------------------------------------------------------ */

static void stats_of_a_first_run_count_every_file_and_byte(void **state)
{
    ms_rsync_stats_t st = parse_fixture("rsync-stats-first-run.txt");

    (void)state;
    assert_int_equal(st.files, 5);
    assert_int_equal(st.bytes_total, 3011);
    assert_int_equal(st.bytes_transferred, 3006);
}

static void stats_of_a_no_change_run_transfer_nothing(void **state)
{
    ms_rsync_stats_t st = parse_fixture("rsync-stats-no-change.txt");

    (void)state;
    assert_int_equal(st.files, 5);
    assert_int_equal(st.bytes_total, 3011);
    assert_int_equal(st.bytes_transferred, 0);
}

static void stats_with_thousands_separators_are_read_whole(void **state)
{
    ms_rsync_stats_t st = parse_fixture("rsync-stats-thousands.txt");
    ms_rsync_stats_t plain = parse_fixture("rsync-stats-no-h.txt");
    ms_rsync_stats_t one = parse_fixture("rsync-stats-one-changed.txt");

    (void)state;
    assert_int_equal(st.files, 1502);
    assert_int_equal(st.bytes_total, 1240960);
    assert_int_equal(st.bytes_transferred, 1240960);
    assert_memory_equal(&st, &plain, sizeof(st));
    assert_int_equal(one.files, 1502);
    assert_int_equal(one.bytes_total, 1240966);
    assert_int_equal(one.bytes_transferred, 8);
}

static void stats_accept_dots_as_separators(void **state)
{
    const char text[] = "Number of files: 1.234.567 (reg: 1.234.000, dir: 567)\n"
                        "Total file size: 9.876.543.210 bytes\n"
                        "Total transferred file size: 1.000 bytes\n";
    ms_rsync_stats_t st;

    (void)state;
    assert_int_equal(ms_rsync_parse_stats(text, strlen(text), &st), 0);
    assert_int_equal(st.files, 1234567);
    assert_int_equal(st.bytes_total, 9876543210ULL);
    assert_int_equal(st.bytes_transferred, 1000);
}

static void stats_do_not_misread_human_readable_sizes(void **state)
{
    ms_rsync_stats_t st = parse_fixture("rsync-stats-hh.txt"); /* "1.18M bytes" */

    (void)state;
    assert_int_equal(st.files, 1502);
    assert_int_equal(st.bytes_total, 0);
    assert_int_equal(st.bytes_transferred, 0);
}

static void stats_missing_or_cut_short_are_refused(void **state)
{
    const char text[] = "Number of files: 12 (reg: 11, dir: 1)\n";
    const char *junk = "rsync: change_dir \"/nope\" failed: No such file or directory (2)\n";
    ms_rsync_stats_t st;

    (void)state;
    assert_int_equal(ms_rsync_parse_stats("", 0, &st), -1);
    assert_int_equal(ms_rsync_parse_stats(NULL, 0, &st), -1);
    assert_int_equal(ms_rsync_parse_stats(junk, strlen(junk), &st), -1);
    assert_int_equal(st.files, 0);
    /* len ends inside "Number of f": the text after len is not looked at. */
    assert_int_equal(ms_rsync_parse_stats(text, 11, &st), -1);
    /* A count cut by the end of the buffer is still a whole number. */
    assert_int_equal(ms_rsync_parse_stats(text, 19, &st), 0);
    assert_int_equal(st.files, 12);
    assert_int_equal(ms_rsync_parse_stats("Number of files: 18446744073709551616\n", 38, &st), -1);
}

static void stats_take_the_last_block_after_a_file_list(void **state)
{
    /* With -v, a file named like a stats line is printed before the stats. */
    const char text[] = "Number of files: 999\n"
                        "Number of files: 3 (reg: 2, dir: 1)\n"
                        "Total file size: 10 bytes\n"
                        "Total transferred file size: 4 bytes\n"
                        "sent 200 bytes  received 35 bytes  470.00 bytes/sec\n";
    ms_rsync_stats_t st;

    (void)state;
    assert_int_equal(ms_rsync_parse_stats(text, strlen(text), &st), 0);
    assert_int_equal(st.files, 3);
    assert_int_equal(st.bytes_total, 10);
    assert_int_equal(st.bytes_transferred, 4);
}

/* ---- stderr tail -------------------------------------------------------- */

static void error_tail_of_a_real_failure_is_the_whole_message(void **state)
{
    size_t len;
    char *text = read_fixture("rsync-stderr-mkdir-exists.txt", &len);
    char out[2049];

    (void)state;
    ms_rsync_error_tail(text, len, out, sizeof(out));
    assert_int_equal(strlen(out), len - 1); /* the final newline goes */
    assert_memory_equal(out, text, len - 1);
    assert_non_null(strstr(out, "File exists (17)"));
    assert_non_null(strstr(out, "rsync error: error in file IO (code 11)"));
    free(text);
}

static void error_tail_keeps_whole_last_lines_and_drops_blank_ones(void **state)
{
    const char text[] = "line one\nline two\nline three\n\n \n";
    char out[32];

    (void)state;
    ms_rsync_error_tail(text, strlen(text), out, 16);
    assert_string_equal(out, "line three");
    ms_rsync_error_tail(text, strlen(text), out, 20);
    assert_string_equal(out, "line two\nline three");
}

static void error_tail_cuts_one_long_line_to_fit(void **state)
{
    char out[5];

    (void)state;
    ms_rsync_error_tail("abcdefghij\n", 11, out, sizeof(out));
    assert_string_equal(out, "ghij");
    ms_rsync_error_tail("", 0, out, sizeof(out));
    assert_string_equal(out, "");
    ms_rsync_error_tail("\n\n\n", 3, out, sizeof(out));
    assert_string_equal(out, "");
    ms_rsync_error_tail("a\0b", 3, out, sizeof(out));
    assert_string_equal(out, "a?b");
}

/* ---- verify ---------------------------------------------------------------- */

static void argv_for_a_verify_compares_by_checksum_and_writes_nothing(void **state)
{
    ms_task_t t = task("alpha", MS_TASK_VERIFY);
    char *extra[] = {"-H"};
    const char *const want[] = {"rsync",
                                "-a",
                                "-c",
                                "-n",
                                "-i",
                                "--delete",
                                "--stats",
                                "-H",
                                "--",
                                "/data/prod/alpha/",
                                "/backup/prod/alpha/",
                                NULL};

    (void)state;
    assert_task_argv(&t, extra, 1, want);
}

static void argv_for_a_verify_top_task_keeps_its_filters(void **state)
{
    ms_task_t t = task("", MS_TASK_TOP | MS_TASK_VERIFY);
    const char *const want[] = {"rsync",
                                "-a",
                                "-c",
                                "-n",
                                "-i",
                                "--delete",
                                "--stats",
                                "--exclude=/.multisync.lock",
                                "--exclude=/*/",
                                "--",
                                "/data/prod/",
                                "/backup/prod/",
                                NULL};

    (void)state;
    assert_task_argv(&t, NULL, 0, want);
}

static void argv_for_a_verify_chunk_keeps_its_items(void **state)
{
    char *items[] = {"a", "b"};
    ms_task_t t = task("alpha", MS_TASK_VERIFY);
    const char *const want[] = {"rsync",
                                "-a",
                                "-c",
                                "-n",
                                "-i",
                                "--delete",
                                "--stats",
                                "--",
                                "/data/prod/alpha/big/a",
                                "/data/prod/alpha/big/b",
                                "/backup/prod/alpha/big/",
                                NULL};

    (void)state;
    t.sub = "big";
    t.items = items;
    t.n_items = 2;
    assert_task_argv(&t, NULL, 0, want);
}

static void check_task_refuses_a_verify_that_would_write(void **state)
{
    ms_task_t t = task("alpha", MS_TASK_VERIFY | MS_TASK_DELETE);

    (void)state;
    assert_refused(&t, "writes nothing");
    t.flags = MS_TASK_VERIFY | MS_TASK_TOP | MS_TASK_PRUNE;
    t.project = "";
    assert_refused(&t, "writes nothing");
    t.flags = MS_TASK_VERIFY | MS_TASK_REMOVE;
    t.project = "alpha";
    assert_refused(&t, "writes nothing");
}

static void check_task_wants_a_complete_snapshot_for_a_verify(void **state)
{
    ms_task_t t = task("alpha", MS_TASK_VERIFY);
    char err[256];

    (void)state;
    t.snap = "2026-12-07T021500Z";
    t.link = "";
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof(err)), 0);
    t.snap = "2026-12-07T021500Z.partial";
    assert_refused(&t, "complete");
    t.snap = "2026-12-07T021500Z";
    t.link = "2026-12-06T021500Z";
    assert_refused(&t, "links to no snapshot");
    /* and a snapshot's copy task still wants one being written */
    t.flags = 0;
    t.link = "";
    assert_refused(&t, "being written");
}

/* ---- dry run ------------------------------------------------------------- */

/* Whether argv (NULL-terminated) holds arg. */
static int has_arg(char **argv, const char *arg)
{
    for (size_t i = 0; argv[i] != NULL; i++)
        if (strcmp(argv[i], arg) == 0)
            return 1;
    return 0;
}

static void argv_for_a_dry_run_is_the_copys_with_n_and_i_and_no_checksum(void **state)
{
    ms_task_t t = task("alpha", MS_TASK_VERIFY | MS_TASK_DRY_RUN);
    char *extra[] = {"-H", "--bwlimit=50m"};
    const char *const want[] = {"rsync",
                                "-a",
                                "-n",
                                "-i",
                                "--stats",
                                "-H",
                                "--bwlimit=50m",
                                "--",
                                "/data/prod/alpha/",
                                "/backup/prod/alpha/",
                                NULL};

    (void)state;
    assert_task_argv(&t, extra, 2, want);
}

static void argv_for_a_dry_run_deletes_only_when_its_run_does(void **state)
{
    char err[256];
    ms_task_t t = task("alpha", MS_TASK_VERIFY | MS_TASK_DRY_RUN);
    char **argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));

    (void)state;
    assert_non_null(argv);
    assert_true(has_arg(argv, "-n") && has_arg(argv, "-i"));
    assert_false(has_arg(argv, "-c") || has_arg(argv, "--delete") ||
                 has_arg(argv, "--delete-delay") || has_arg(argv, "--mkpath"));
    ms_rsync_argv_free(argv);
    t.flags |= MS_TASK_DELETE; /* the copy's --delete, as the copy would run it */
    argv = ms_rsync_argv("rsync", NULL, 0, &t, NULL, err, sizeof(err));
    assert_non_null(argv);
    assert_true(has_arg(argv, "-n") && has_arg(argv, "--delete-delay"));
    assert_false(has_arg(argv, "-c"));
    ms_rsync_argv_free(argv);
}

static void argv_for_a_dry_run_top_task_keeps_the_copys_filters(void **state)
{
    ms_task_t t = task("", MS_TASK_TOP | MS_TASK_VERIFY | MS_TASK_DRY_RUN | MS_TASK_DELETE);
    const char *const want[] = {"rsync",
                                "-a",
                                "-n",
                                "-i",
                                "--stats",
                                "--delete-delay",
                                "--exclude=/.multisync.lock",
                                "--exclude=/*/",
                                "--",
                                "/data/prod/",
                                "/backup/prod/",
                                NULL};

    (void)state;
    assert_task_argv(&t, NULL, 0, want);
}

static void check_task_lets_a_dry_run_list_deletions_but_never_remove(void **state)
{
    char err[256];
    ms_task_t t = task("alpha", MS_TASK_VERIFY | MS_TASK_DRY_RUN | MS_TASK_DELETE);

    (void)state;
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof(err)), 0);
    t = task("", MS_TASK_TOP | MS_TASK_VERIFY | MS_TASK_DRY_RUN | MS_TASK_DELETE | MS_TASK_FORCE);
    assert_int_equal(ms_rsync_check_task(&t, err, sizeof(err)), 0);
    t.flags |= MS_TASK_PRUNE;
    assert_refused(&t, "writes nothing");
    t = task("alpha", MS_TASK_VERIFY | MS_TASK_DRY_RUN | MS_TASK_REMOVE);
    assert_refused(&t, "writes nothing");
    /* a dry run is a verify: without the flag it would be a copy */
    t = task("alpha", MS_TASK_DRY_RUN);
    assert_refused(&t, "is a verify");
}

/* The itemize lines of text fed in pieces of at most step bytes. */
static ms_rsync_itemize_t *itemize(const char *text, size_t len, size_t step, const char *prefix)
{
    static ms_rsync_itemize_t it;

    ms_rsync_itemize_init(&it, prefix);
    for (size_t i = 0; i < len; i += step)
        ms_rsync_itemize_feed(&it, text + i, len - i < step ? len - i : step);
    ms_rsync_itemize_end(&it);
    return &it;
}

static void itemize_counts_every_difference_and_not_the_stats(void **state)
{
    size_t len;
    char *text = read_fixture("rsync-verify-differs.txt", &len), out[1024];
    const char *want = "8 paths differ:\n"
                       "*deleting   gonedir/g\n"
                       "*deleting   gonedir/\n"
                       "*deleting   old\n"
                       "*deleting   extra\n"
                       ">f+++++++++ s\n"
                       ">fc..p..... d/f\n"
                       "cd+++++++++ newdir/\n"
                       ">f+++++++++ newdir/n\n";

    (void)state;
    /* Whole, and cut at every byte: a line split across reads is one line. */
    for (size_t step = 1; step <= len; step = step < 16 ? step + 1 : step * 3) {
        ms_rsync_itemize_t *it = itemize(text, len, step, "");
        assert_int_equal(ms_rsync_itemize_text(it, out, sizeof(out)), 8);
        assert_string_equal(out, want);
    }
    free(text);
    text = read_fixture("rsync-verify-same.txt", &len);
    assert_int_equal(itemize(text, len, len, "")->n, 0);
    free(text);
    text = read_fixture("rsync-verify-one-changed.txt", &len);
    assert_int_equal(ms_rsync_itemize_text(itemize(text, len, 7, ""), out, sizeof(out)), 1);
    assert_string_equal(out, "1 path differs:\n>fc........ d/f\n");
    free(text);
}

static void itemize_says_what_a_dry_run_would_change(void **state)
{
    const char *text = "created directory /proc/multisync-dry-run-nothing-here\n"
                       "cd+++++++++ ./\n>f+++++++++ new.txt\n";
    char out[256];
    ms_rsync_itemize_t *it = itemize(text, strlen(text), 3, "alpha/");

    (void)state;
    it->dry_run = true;
    assert_int_equal(ms_rsync_itemize_text(it, out, sizeof(out)), 2);
    assert_string_equal(out, "2 paths would change:\n"
                             "cd+++++++++ alpha/\n"
                             ">f+++++++++ alpha/new.txt\n");
    it = itemize(">f.st...... a\n", 14, 14, "");
    it->dry_run = true;
    ms_rsync_itemize_text(it, out, sizeof(out));
    assert_string_equal(out, "1 path would change:\n>f.st...... a\n");
}

static void itemize_names_paths_from_the_backup_root(void **state)
{
    const char *text = ".d..t...... ./\n>fc........ f\n*deleting   old/\n";
    char out[256];

    (void)state;
    ms_rsync_itemize_text(itemize(text, strlen(text), 5, "alpha/big/"), out, sizeof(out));
    assert_string_equal(out, "3 paths differ:\n"
                             ".d..t...... alpha/big/\n"
                             ">fc........ alpha/big/f\n"
                             "*deleting   alpha/big/old/\n");
    ms_rsync_itemize_text(itemize(text, strlen(text), 100, ""), out, sizeof(out));
    assert_string_equal(out, "3 paths differ:\n.d..t...... ./\n>fc........ f\n*deleting   old/\n");
}

static void itemize_ends_lines_at_carriage_returns_and_at_eof(void **state)
{
    /* progress lines end in '\r' (--info=progress2 from --rsync-opt) */
    const char *text = "         1,024 100%  1.00MB/s 0:00:00\r>f+++++++++ a\r\n"
                       "        12 100%\r\r\n>f.st...... b";
    char out[256];

    (void)state;
    ms_rsync_itemize_text(itemize(text, strlen(text), 3, ""), out, sizeof(out));
    assert_string_equal(out, "2 paths differ:\n>f+++++++++ a\n>f.st...... b\n");
    assert_null(strchr(out, '\r'));
}

static void itemize_keeps_the_first_lines_and_counts_the_rest(void **state)
{
    static ms_rsync_itemize_t it;
    char line[64], out[MS_ITEMIZE_BYTES + 256], longline[3000];

    (void)state;
    ms_rsync_itemize_init(&it, "p/");
    for (int i = 0; i < 250; i++) {
        snprintf(line, sizeof(line), ">fc........ file%03d\n", i);
        ms_rsync_itemize_feed(&it, line, strlen(line));
    }
    ms_rsync_itemize_end(&it);
    assert_int_equal(ms_rsync_itemize_text(&it, out, sizeof(out)), 250);
    assert_int_equal(it.n_head, MS_ITEMIZE_LINES);
    assert_non_null(strstr(out, ">fc........ p/file099\n... and 150 more\n"));
    assert_null(strstr(out, "file100"));
    assert_true(strncmp(out, "250 paths differ:\n>fc........ p/file000\n", 40) == 0);

    /* bytes bound it too; a line too long is kept cut */
    ms_rsync_itemize_init(&it, "");
    memset(longline, 'x', sizeof(longline));
    memcpy(longline, ">f+++++++++ ", 12);
    longline[sizeof(longline) - 1] = '\n';
    for (int i = 0; i < 20; i++)
        ms_rsync_itemize_feed(&it, longline, sizeof(longline));
    assert_int_equal(it.n, 20);
    assert_true(it.n_head < 20 && it.head_len <= MS_ITEMIZE_BYTES);
    ms_rsync_itemize_text(&it, out, sizeof(out));
    assert_non_null(strstr(out, "x...\n"));
    assert_non_null(strstr(out, "... and "));

    /* and a message buffer too small cuts, NUL-terminated */
    assert_int_equal(ms_rsync_itemize_text(&it, out, 10), 20);
    assert_string_equal(out, "20 paths ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(argv_for_a_project_copies_source_project_into_dest_project),
        cmocka_unit_test(argv_for_a_top_task_copies_the_root_without_its_subfolders),
        cmocka_unit_test(argv_puts_extra_options_before_the_exclude_and_the_separator),
        cmocka_unit_test(argv_does_not_double_a_trailing_slash),
        cmocka_unit_test(argv_keeps_a_remote_dest_home_relative),
        cmocka_unit_test(argv_passes_odd_project_names_as_one_argument),
        cmocka_unit_test(check_task_accepts_a_project_and_a_top_task),
        cmocka_unit_test(check_task_refuses_empty_dot_and_dotdot),
        cmocka_unit_test(check_task_refuses_a_slash_in_the_project),
        cmocka_unit_test(check_task_refuses_a_name_longer_than_NAME_MAX),
        cmocka_unit_test(check_task_refuses_unknown_flags),
        cmocka_unit_test(check_task_refuses_a_carry_without_a_link_snapshot),
        cmocka_unit_test(check_task_takes_a_pack_of_plain_project_names_only),
        cmocka_unit_test(argv_for_a_delete_task_mirrors_deletions_after_the_transfer),
        cmocka_unit_test(argv_keeps_the_slash_after_a_local_root_ending_in_a_colon),
        cmocka_unit_test(delete_is_refused_when_the_source_is_empty_and_the_backup_is_not),
        cmocka_unit_test(delete_is_allowed_from_a_non_empty_source_or_into_an_empty_backup),
        cmocka_unit_test(delete_to_a_remote_is_refused_whenever_the_source_is_empty),
        cmocka_unit_test(tasks_without_delete_are_never_checked),
        cmocka_unit_test(check_task_refuses_empty_roots_and_a_named_top_task),
        cmocka_unit_test(argv_for_a_chunk_copies_each_item_as_itself_into_the_sub_folder),
        cmocka_unit_test(argv_for_a_chunk_of_the_project_folder_itself_and_with_delete),
        cmocka_unit_test(argv_refuses_delete_excluded_for_parts_of_a_split_project),
        cmocka_unit_test(argv_for_a_rest_excludes_each_path_anchored_at_the_project),
        cmocka_unit_test(argv_escapes_an_excluded_path_with_a_wildcard_character),
        cmocka_unit_test(argv_for_a_match_chunk_includes_its_patterns_then_excludes_the_rest),
        cmocka_unit_test(argv_for_a_match_chunk_of_the_project_folder_itself),
        cmocka_unit_test(argv_for_a_rest_excludes_its_patterns_as_written_after_its_paths),
        cmocka_unit_test(check_task_accepts_chunks_and_rests),
        cmocka_unit_test(task_part_names_a_chunk_a_match_chunk_a_rest_and_a_whole_project),
        cmocka_unit_test(check_task_accepts_match_chunks_and_rests_with_xmatch),
        cmocka_unit_test(check_task_refuses_a_match_pattern_that_is_not_one_wildcard_name),
        cmocka_unit_test(check_task_refuses_an_xmatch_that_is_not_a_relative_wildcard_path),
        cmocka_unit_test(check_task_refuses_impossible_mixes_with_match_and_xmatch),
        cmocka_unit_test(check_task_refuses_a_sub_or_excl_that_is_not_a_relative_path_of_names),
        cmocka_unit_test(check_task_refuses_an_item_that_is_not_one_name),
        cmocka_unit_test(check_task_refuses_impossible_mixes_of_sub_items_and_excl),
        cmocka_unit_test(delete_safety_of_a_chunk_or_a_rest_looks_at_the_project_folder),
        cmocka_unit_test(delete_safety_of_a_chunk_of_name_ranges_looks_at_its_folder),
        cmocka_unit_test(stats_of_a_first_run_count_every_file_and_byte),
        cmocka_unit_test(stats_of_a_no_change_run_transfer_nothing),
        cmocka_unit_test(stats_with_thousands_separators_are_read_whole),
        cmocka_unit_test(stats_accept_dots_as_separators),
        cmocka_unit_test(stats_do_not_misread_human_readable_sizes),
        cmocka_unit_test(stats_missing_or_cut_short_are_refused),
        cmocka_unit_test(stats_take_the_last_block_after_a_file_list),
        cmocka_unit_test(error_tail_of_a_real_failure_is_the_whole_message),
        cmocka_unit_test(error_tail_keeps_whole_last_lines_and_drops_blank_ones),
        cmocka_unit_test(error_tail_cuts_one_long_line_to_fit),
        cmocka_unit_test(argv_for_a_verify_compares_by_checksum_and_writes_nothing),
        cmocka_unit_test(argv_for_a_verify_top_task_keeps_its_filters),
        cmocka_unit_test(argv_for_a_verify_chunk_keeps_its_items),
        cmocka_unit_test(check_task_refuses_a_verify_that_would_write),
        cmocka_unit_test(check_task_wants_a_complete_snapshot_for_a_verify),
        cmocka_unit_test(argv_for_a_dry_run_is_the_copys_with_n_and_i_and_no_checksum),
        cmocka_unit_test(argv_for_a_dry_run_deletes_only_when_its_run_does),
        cmocka_unit_test(argv_for_a_dry_run_top_task_keeps_the_copys_filters),
        cmocka_unit_test(check_task_lets_a_dry_run_list_deletions_but_never_remove),
        cmocka_unit_test(itemize_says_what_a_dry_run_would_change),
        cmocka_unit_test(itemize_counts_every_difference_and_not_the_stats),
        cmocka_unit_test(itemize_names_paths_from_the_backup_root),
        cmocka_unit_test(itemize_ends_lines_at_carriage_returns_and_at_eof),
        cmocka_unit_test(itemize_keeps_the_first_lines_and_counts_the_rest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
