/*
 * test_rsync_split.c - the argv of a split project's chunks and rest, run by
 * the real rsync on real trees: what is copied, what is excluded, what is
 * deleted. The pure argv shapes are in test_rsync.c; this file checks that
 * rsync reads them as meant, above all the escaping of excluded paths.
 *
 *   T/src/p  the project      T/dst/p  its backup
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ms_rsync.h"

#define NEW "new content"
#define OLD "old"

static char g_root[256];

static const char *at(char *buf, const char *side, const char *rel)
{
    if (snprintf(buf, PATH_MAX, "%s/%s/p/%s", g_root, side, rel) >= PATH_MAX)
        fail_msg("path too long: %s", rel);
    return buf;
}

/* mkdir -p of side/p/rel's parent, then write text into it. */
static void put(const char *side, const char *rel, const char *text)
{
    char p[PATH_MAX];
    FILE *f;

    at(p, side, rel);
    for (char *s = strchr(p + strlen(g_root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", p, strerror(errno));
        *s = '/';
    }
    f = fopen(p, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s", p);
}

/* The content of side/p/rel, "" when it is missing. */
static const char *get(const char *side, const char *rel, char *buf, size_t size)
{
    char p[PATH_MAX];
    FILE *f = fopen(at(p, side, rel), "r");
    size_t n = 0;

    if (f != NULL) {
        n = fread(buf, 1, size - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

#define assert_content(side, rel, want)                                                            \
    do {                                                                                           \
        char got_[64];                                                                             \
        if (strcmp(get(side, rel, got_, sizeof got_), want) != 0)                                  \
            fail_msg("%s/%s holds \"%s\", not \"%s\"", side, rel, got_, want);                     \
    } while (0)

static int setup(void **state)
{
    char tmpl[] = "/tmp/test_rsync_split.XXXXXX", p[PATH_MAX];

    (void)state;
    if (!mkdtemp(tmpl) || !realpath(tmpl, p) || strlen(p) >= sizeof g_root)
        return -1;
    memcpy(g_root, p, strlen(p) + 1);
    snprintf(p, sizeof p, "%s/src", g_root);
    return mkdir(p, 0755);
}

static int teardown(void **state)
{
    char cmd[sizeof g_root + 16];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    return system(cmd) == 0 ? 0 : -1;
}

/* Build t's argv, run it, expect exit 0. */
static void run_rsync(ms_task_t *t)
{
    char src[PATH_MAX], dst[PATH_MAX], err[256];
    char **argv;
    int status, fd;
    pid_t pid;

    snprintf(src, sizeof src, "%s/src", g_root);
    snprintf(dst, sizeof dst, "%s/dst", g_root);
    t->project = "p";
    t->source = src;
    t->dest = dst;
    t->attempt = 1;
    if (ms_rsync_check_task(t, err, sizeof err) != 0)
        fail_msg("task refused: %s", err);
    argv = ms_rsync_argv("rsync", NULL, 0, t, err, sizeof err);
    assert_non_null(argv);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fd = open("/dev/null", O_WRONLY);
        dup2(fd, STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    ms_rsync_argv_free(argv);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * Excluded paths with rsync's wildcard and escape characters, each next to
 * a sibling that the same text read as a wildcard pattern would match; and
 * d/keep, which only an exclude not anchored at the project would match.
 */
static const char *const g_excl[] = {
    "a*b",   "a?b",       "[a]",   "back\\slash", "x*\\y", "sp ace",
    "-dash", "new\nline", "d/a*b", "d/[x]y",      "lit]",  "keep",
};
static const char *const g_siblings[] = {
    "aXb", "aYb", "a", "backslash", "xZ\\y", "sp", "dash", "new", "d/aQb", "d/xy", "lit", "d/keep",
};

static void a_rest_neither_copies_nor_deletes_its_excluded_paths(void **state)
{
    char *excl[sizeof g_excl / sizeof g_excl[0] + 1];
    ms_task_t t = {.flags = MS_TASK_DELETE, .sub = ""};

    (void)state;
    for (size_t i = 0; i < sizeof g_excl / sizeof g_excl[0]; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "%s%s", g_excl[i], strcmp(g_excl[i], "keep") ? "" : "/f");
        put("src", rel, NEW);
        put("dst", rel, OLD);
        excl[i] = (char *)g_excl[i];
    }
    /* excluded and only in the backup (a chunk's folder, say): kept */
    excl[sizeof g_excl / sizeof g_excl[0]] = "gone*";
    put("dst", "gone*/f", OLD);
    put("dst", "goner", OLD); /* would match the unescaped "gone*" */
    for (size_t i = 0; i < sizeof g_siblings / sizeof g_siblings[0]; i++)
        put("src", g_siblings[i], NEW);
    put("dst", "stale", OLD);
    t.excl = excl;
    t.n_excl = sizeof excl / sizeof excl[0];

    run_rsync(&t);
    for (size_t i = 0; i < sizeof g_excl / sizeof g_excl[0]; i++)
        if (strcmp(g_excl[i], "keep") != 0)
            assert_content("dst", g_excl[i], OLD);
    assert_content("dst", "keep/f", OLD);
    assert_content("dst", "gone*/f", OLD);
    for (size_t i = 0; i < sizeof g_siblings / sizeof g_siblings[0]; i++)
        assert_content("dst", g_siblings[i], NEW);
    assert_content("dst", "stale", "");
    assert_content("dst", "goner", "");
}

static void a_chunk_copies_its_items_as_themselves_into_a_new_sub_folder(void **state)
{
    static const char *const copied[] = {"sub dir/deep/lib/f", "sub dir/deep/-rf",
                                         "sub dir/deep/new\nline"};
    static const char *const not_items[] = {"sub dir/deep/other", "top"};
    char *items[] = {"lib", "-rf", "link", "new\nline"};
    ms_task_t t = {.sub = "sub dir/deep", .items = items, .n_items = 4};
    char p[PATH_MAX], target[16];
    struct stat st;
    ssize_t n;

    (void)state;
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
        put("src", copied[i], NEW);
    for (size_t i = 0; i < sizeof not_items / sizeof not_items[0]; i++)
        put("src", not_items[i], NEW);
    assert_int_equal(symlink("lib", at(p, "src", "sub dir/deep/link")), 0);

    run_rsync(&t); /* T/dst does not exist: --mkpath makes dst/p/sub dir/deep */
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
        assert_content("dst", copied[i], NEW);
    for (size_t i = 0; i < sizeof not_items / sizeof not_items[0]; i++)
        assert_content("dst", not_items[i], "");
    assert_content("dst", "sub dir/deep/f", ""); /* lib copied as lib, not into deep */
    assert_int_equal(lstat(at(p, "dst", "sub dir/deep/link"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    n = readlink(p, target, sizeof target - 1);
    assert_int_equal(n, 3);
    target[n] = '\0';
    assert_string_equal(target, "lib");
}

static void a_chunk_with_delete_mirrors_inside_its_items_only(void **state)
{
    char *items[] = {"lib", "file"};
    ms_task_t t = {.flags = MS_TASK_DELETE, .sub = "", .items = items, .n_items = 2};

    (void)state;
    put("src", "lib/f", NEW);
    put("src", "file", NEW);
    put("dst", "lib/stale", OLD);
    put("dst", "not-an-item", OLD);

    run_rsync(&t);
    assert_content("dst", "lib/f", NEW);
    assert_content("dst", "file", NEW);
    assert_content("dst", "lib/stale", "");
    assert_content("dst", "not-an-item", OLD);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_rest_neither_copies_nor_deletes_its_excluded_paths),
        T(a_chunk_copies_its_items_as_themselves_into_a_new_sub_folder),
        T(a_chunk_with_delete_mirrors_inside_its_items_only),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
