/*
 * test_rsync_split.c - the argv of a split project's chunks and rest, run by
 * the real rsync on real trees: what is copied, what is excluded, what is
 * deleted. The pure argv shapes are in test_rsync.c; this file checks that
 * rsync reads them as meant, above all the escaping of excluded paths and
 * the name ranges of match chunks.
 *
 *   T/src/p  the project      T/dst/p  its backup
 *   T/tN/p   what task N alone copies into an empty backup
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
#include "ms_test.h"

#define NEW "new content"
#define OLD "old"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

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
    (void)state;
    return ms_test_rmtree(g_root);
}

static int exists(const char *side, const char *rel)
{
    char p[PATH_MAX];
    struct stat st;

    return lstat(at(p, side, rel), &st) == 0;
}

/* Build t's argv with T/side as the destination root, run it, expect exit 0. */
static void run_rsync_to(ms_task_t *t, const char *side)
{
    char src[PATH_MAX], dst[PATH_MAX], err[256];
    char **argv;
    int status, fd;
    pid_t pid;

    snprintf(src, sizeof src, "%s/src", g_root);
    snprintf(dst, sizeof dst, "%s/%s", g_root, side);
    t->project = "p";
    t->source = src;
    t->dest = dst;
    t->attempt = 1;
    if (ms_rsync_check_task(t, err, sizeof err) != 0)
        fail_msg("task refused: %s", err);
    argv = ms_rsync_argv("rsync", NULL, 0, t, NULL, err, sizeof err);
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

static void run_rsync(ms_task_t *t)
{
    run_rsync_to(t, "dst");
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

/* ---- match chunks: a folder cut by ranges of names ------------------------ */

/*
 * One range of names as the master writes it: the prefix with each of *?[\
 * escaped, then the bytes lo..hi in brackets, each escaped ([\lo] alone
 * when lo == hi), then '*' unless the range is one exact name.
 *
 * rsync's wildmatch reads "[\X-\Y]" as the byte X, then the bytes from X to
 * Y (compared unsigned), so any byte but NUL and '/' may end a range,
 * ']', '-', '^', '!', '\' and 0x80..0xff included; a reversed range
 * "[\Y-\X]" (Y > X) matches Y alone, not nothing.
 */
typedef struct {
    const char *prefix;
    unsigned char lo, hi;
    int star;
} range_t;

static char *range_pattern(const char *dir, const range_t *r)
{
    char *s = malloc(strlen(dir) + 2 * strlen(r->prefix) + 10), *o;

    assert_non_null(s);
    o = stpcpy(s, dir);
    for (const char *p = r->prefix; *p != '\0'; p++) {
        if (strchr("*?[\\", *p) != NULL)
            *o++ = '\\';
        *o++ = *p;
    }
    o += sprintf(o, "[\\%c", r->lo);
    if (r->hi != r->lo)
        o += sprintf(o, "-\\%c", r->hi);
    strcpy(o, r->star ? "]*" : "]");
    return s;
}

#define N_GROUPS 3
#define MAX_RANGES 8

/* flat's ranges: three groups that together cover every name below. */
static const range_t g_ranges[N_GROUPS][MAX_RANGES + 1] = {
    {{"", 0x01, '9', 1}},
    {{"", ':', 'Z', 1},
     {"[", 'x', 'x', 1},
     {"[", 'y', 'y', 0},
     {"", '\\', '\\', 0},
     {"\\", 'b', 'b', 1},
     {"", ']', '`', 1}},
    {{"", 'a', 'a', 0},
     {"a", 'b', 'b', 0},
     {"ab", 'c', 'c', 0},
     {"ab", 'd', 0xff, 1},
     {"a", '*', '*', 1},
     {"a", 'c', 0xff, 1},
     {"", 'b', '~', 1},
     {"", 0x80, 0xff, 1}},
};

typedef struct {
    const char *path; /* below flat: a file, or a file in a folder entry */
    int group;
} flat_entry_t;

/* clang-format off */
static const flat_entry_t g_flat[] = {
    {"!bang", 0}, {"#hash", 0}, {"*star", 0}, {"-dash", 0}, {".hidden", 0}, {"0", 0},
    {"1x", 0}, {"42", 0}, {"9z", 0},
    {"?q", 1}, {"A", 1}, {"Mx", 1}, {"Zed", 1}, {"[x]1", 1}, {"[x]2", 1}, {"[y", 1},
    {"\\", 1}, {"\\back", 1}, {"]close", 1}, {"^caret", 1}, {"_under", 1}, {"`tick", 1},
    {"a", 2}, {"ab", 2}, {"abc", 2}, {"abd", 2}, {"a*b", 2}, {"adir/inner", 2}, {"azz", 2},
    {"b", 2}, {"bee", 2}, {"c", 2}, {"m-n", 2}, {"x y", 2}, {"z", 2}, {"~tilde", 2},
    {"\xc3\xa9t\xc3\xa9", 2}, {"\xff", 2}, {"\xff" "end", 2},
};
/* Only in the backup, each in its group's ranges (adir/stale inside one). */
static const flat_entry_t g_stale[] = {
    {"5stale", 0}, {"!stale", 0},
    {"Qstale", 1}, {"[x]stale", 1}, {"\\bstale", 1}, {"^stale", 1},
    {"abzstale", 2}, {"adir/stale", 2}, {"\xfestale", 2}, {"qstale", 2},
};
/* clang-format on */
static const char *const g_old[] = {"0", "Zed", "adir/inner"}; /* in the backup, outdated */

static const char *flat(char *buf, const char *rel)
{
    snprintf(buf, PATH_MAX, "flat/%s", rel);
    return buf;
}

/* Group g's patterns (dir "" for a chunk of flat, "flat/" for the rest's xmatch) into v. */
static uint32_t group_patterns(int g, const char *dir, char **v)
{
    uint32_t n = 0;

    for (; n < MAX_RANGES && g_ranges[g][n].lo != 0; n++)
        v[n] = range_pattern(dir, &g_ranges[g][n]);
    return n;
}

static void free_patterns(char **v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        free(v[i]);
}

/* Chunk g of flat, or (g == N_GROUPS) the rest excluding every group. */
static ms_task_t flat_task(int g, char **v, uint32_t *n)
{
    ms_task_t t = {.flags = MS_TASK_DELETE, .sub = ""};

    if (g < N_GROUPS) {
        *n = group_patterns(g, "", v);
        t.sub = "flat";
        t.match = v;
        t.n_match = *n;
        return t;
    }
    *n = 0;
    for (int h = 0; h < N_GROUPS; h++)
        *n += group_patterns(h, "flat/", v + *n);
    t.xmatch = v;
    t.n_xmatch = *n;
    return t;
}

static void put_flat_trees(void)
{
    char rel[PATH_MAX];

    for (size_t i = 0; i < ARRAY_LEN(g_flat); i++)
        put("src", flat(rel, g_flat[i].path), NEW);
    put("src", "other", NEW);
}

static void each_name_of_a_big_folder_is_copied_by_exactly_one_task(void **state)
{
    char *v[N_GROUPS * MAX_RANGES], rel[PATH_MAX], side[8];
    int copies[ARRAY_LEN(g_flat)] = {0};
    uint32_t n;

    (void)state;
    put_flat_trees();
    for (int g = 0; g <= N_GROUPS; g++) {
        ms_task_t t = flat_task(g, v, &n);
        snprintf(side, sizeof side, "t%d", g);
        run_rsync_to(&t, side);
        free_patterns(v, n);
        for (size_t i = 0; i < ARRAY_LEN(g_flat); i++)
            copies[i] += exists(side, flat(rel, g_flat[i].path));
        assert_int_equal(exists(side, "other"), g == N_GROUPS);
    }
    for (size_t i = 0; i < ARRAY_LEN(g_flat); i++)
        if (copies[i] != 1)
            fail_msg("flat/%s copied %d times", g_flat[i].path, copies[i]);
}

/* After chunks 0..done-1 of flat: each entry as its group says. */
static void assert_flat_after(int done)
{
    char rel[PATH_MAX];

    for (size_t i = 0; i < ARRAY_LEN(g_stale); i++)
        if (exists("dst", flat(rel, g_stale[i].path)) != (g_stale[i].group >= done))
            fail_msg("after %d chunks, stale flat/%s is %s", done, g_stale[i].path,
                     g_stale[i].group >= done ? "gone" : "still there");
    for (size_t i = 0; i < ARRAY_LEN(g_flat); i++) {
        const char *want = g_flat[i].group < done ? NEW : "";
        for (size_t k = 0; k < ARRAY_LEN(g_old); k++)
            if (g_flat[i].group >= done && strcmp(g_flat[i].path, g_old[k]) == 0)
                want = OLD;
        assert_content("dst", flat(rel, g_flat[i].path), want);
    }
}

static void match_chunks_copy_and_delete_in_their_ranges_only_and_the_rest_outside(void **state)
{
    char *v[N_GROUPS * MAX_RANGES], rel[PATH_MAX], cmd[3 * sizeof g_root + 64];
    ms_task_t rest;
    uint32_t n, n_rest;

    (void)state;
    put_flat_trees();
    for (size_t i = 0; i < ARRAY_LEN(g_stale); i++)
        put("dst", flat(rel, g_stale[i].path), OLD);
    for (size_t i = 0; i < ARRAY_LEN(g_old); i++)
        put("dst", flat(rel, g_old[i]), OLD);
    put("dst", "stale", OLD);

    for (int g = 0; g < N_GROUPS; g++) {
        ms_task_t t = flat_task(g, v, &n);
        run_rsync(&t);
        free_patterns(v, n);
        assert_flat_after(g + 1);
        assert_content("dst", "stale", OLD); /* outside flat: the rest's */
        assert_content("dst", "other", "");
    }
    rest = flat_task(N_GROUPS, v, &n_rest);
    run_rsync(&rest);
    assert_content("dst", "stale", "");
    assert_content("dst", "other", NEW);
    snprintf(cmd, sizeof cmd, "diff -r '%s/src/p' '%s/dst/p' >/dev/null", g_root, g_root);
    assert_int_equal(system(cmd), 0);

    /* inside the ranges, the rest neither copies nor deletes */
    put("src", "flat/Zed", "changed");
    put("src", "flat/adir/inner", "changed");
    put("dst", "flat/Qstale", OLD);
    put("dst", "flat/adir/stale", OLD);
    run_rsync(&rest);
    free_patterns(v, n_rest);
    assert_content("dst", "flat/Zed", NEW);
    assert_content("dst", "flat/adir/inner", NEW);
    assert_content("dst", "flat/Qstale", OLD);
    assert_content("dst", "flat/adir/stale", OLD);
}

/*
 * Ranges that leave names out (here the project folder itself, sub ""):
 * the rest copies what no range covers and deletes the stale entries there.
 */
static void the_rest_handles_the_names_that_no_range_covers(void **state)
{
    static const range_t ranges[] = {{"", 'a', 'f', 1}, {"", 'x', 'z', 1}};
    char *match[2], *xmatch[2];
    ms_task_t chunks[2] = {{.flags = MS_TASK_DELETE, .sub = "", .n_match = 1},
                           {.flags = MS_TASK_DELETE, .sub = "", .n_match = 1}};
    ms_task_t rest = {.flags = MS_TASK_DELETE, .sub = "", .xmatch = xmatch, .n_xmatch = 2};

    (void)state;
    for (int i = 0; i < 2; i++) {
        match[i] = xmatch[i] = range_pattern("", &ranges[i]);
        chunks[i].match = &match[i];
    }
    put("src", "apple", NEW);
    put("src", "gap", NEW);
    put("src", "gdir/f", NEW);
    put("src", "zoo", NEW);
    put("dst", "bstale", OLD);
    put("dst", "gap", OLD);
    put("dst", "go-stale", OLD);
    put("dst", "gdir/stale", OLD);
    put("dst", "zstale", OLD);

    run_rsync(&chunks[0]);
    run_rsync(&chunks[1]);
    assert_content("dst", "apple", NEW);
    assert_content("dst", "zoo", NEW);
    assert_content("dst", "bstale", "");
    assert_content("dst", "zstale", "");
    assert_content("dst", "gap", OLD);
    assert_content("dst", "go-stale", OLD);
    put("dst", "cstale", OLD); /* in a range: not the rest's */
    run_rsync(&rest);
    assert_content("dst", "gap", NEW);
    assert_content("dst", "gdir/f", NEW);
    assert_content("dst", "go-stale", "");
    assert_content("dst", "gdir/stale", "");
    assert_content("dst", "cstale", OLD);
    free(match[0]);
    free(match[1]);
}

/* Ranges of two bytes (one at the ends), dealt to three chunks in turn. */
static void deal_ranges(const unsigned char *bytes, size_t nb, size_t first_len,
                        char *v[N_GROUPS][128], uint32_t *n, int *group)
{
    for (size_t i = 0, k = 0; i < nb; k++) {
        size_t len = i == 0 && first_len == 1 ? 1 : i + 1 < nb ? 2 : 1;
        range_t r = {"", bytes[i], bytes[i + len - 1], 1};
        int g = (int)(k % N_GROUPS);

        v[g][n[g]++] = range_pattern("", &r);
        for (size_t j = i; j < i + len; j++)
            group[j] = g;
        i += len;
    }
}

static void every_byte_but_nul_and_slash_can_end_an_escaped_range(void **state)
{
    unsigned char bytes[254];
    char name[8], rel[PATH_MAX], side[8], *v[N_GROUPS][128];
    int group[sizeof bytes];
    size_t nb = 0;

    (void)state;
    for (int b = 1; b < 256; b++)
        if (b != '/')
            bytes[nb++] = (unsigned char)b;
    for (size_t i = 0; i < nb; i++) {
        snprintf(name, sizeof name, "%cx", bytes[i]);
        put("src", flat(rel, name), NEW);
    }
    /* twice, so that each byte is a low end once and a high end once */
    for (size_t first_len = 1; first_len <= 2; first_len++) {
        uint32_t n[N_GROUPS] = {0};
        deal_ranges(bytes, nb, first_len, v, n, group);
        for (int g = 0; g < N_GROUPS; g++) {
            ms_task_t t = {.sub = "flat", .match = v[g], .n_match = n[g]};
            snprintf(side, sizeof side, "t%zu%d", first_len, g);
            run_rsync_to(&t, side);
            free_patterns(v[g], n[g]);
            for (size_t i = 0; i < nb; i++) {
                snprintf(name, sizeof name, "%cx", bytes[i]);
                if (exists(side, flat(rel, name)) != (group[i] == g))
                    fail_msg("byte 0x%02x: chunk %d of %zu %s it", bytes[i], g, first_len,
                             group[i] == g ? "missed" : "copied");
            }
        }
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(a_rest_neither_copies_nor_deletes_its_excluded_paths),
        T(a_chunk_copies_its_items_as_themselves_into_a_new_sub_folder),
        T(a_chunk_with_delete_mirrors_inside_its_items_only),
        T(each_name_of_a_big_folder_is_copied_by_exactly_one_task),
        T(match_chunks_copy_and_delete_in_their_ranges_only_and_the_rest_outside),
        T(the_rest_handles_the_names_that_no_range_covers),
        T(every_byte_but_nul_and_slash_can_end_an_escaped_range),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
