/*
 * test_walk.c - the walk's fingerprints on real trees (ms_walk.h): every
 * change that `rsync -a` would carry over changes the project's, nothing
 * else does, and each node's and listed entry's is the sum of its entries'.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "ms_fp.h"
#include "ms_walk.h"
#include "ms_test.h"

typedef struct {
    char root[64];
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    ms_test_tmpdir(fx->root, sizeof fx->root, "walk");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(ms_test_rmtree(fx->root), 0);
    free(fx);
    return 0;
}

/* Run cmd in the fixture's folder (a shell: the rows read as commands). */
static void sh(const fx_t *fx, const char *cmd)
{
    char line[1024];
    snprintf(line, sizeof line, "cd '%s' && %s", fx->root, cmd);
    assert_int_equal(system(line), 0);
}

/* p/a/f1, p/a/sub/f2, p/b/f3, p/link -> a/f1, p/empty/, and a folder
 * outside the project. */
static void small_tree(const fx_t *fx)
{
    sh(fx, "mkdir -p p/a/sub p/b p/empty outside && printf hello >p/a/f1 && "
           "printf world >p/a/sub/f2 && printf x >p/b/f3 && ln -s a/f1 p/link");
}

static ms_fp_t project_fp(const fx_t *fx)
{
    atomic_int stop = 0;
    ms_walk_t *w = ms_walk_project(fx->root, "p", 1, 1, &stop);
    assert_non_null(w);
    assert_false(w->incomplete);
    ms_fp_t fp = w->fp;
    ms_walk_free(&w);
    return fp;
}

static void xattr_set(const fx_t *fx)
{
    char path[256];
    snprintf(path, sizeof path, "%s/p/a/f1", fx->root);
    assert_int_equal(setxattr(path, "user.multisync", "1", 1, 0), 0);
}

static int xattr_supported(const fx_t *fx)
{
    char path[256];
    snprintf(path, sizeof path, "%s/p/b/f3", fx->root);
    if (setxattr(path, "user.probe", "1", 1, 0) == 0)
        return removexattr(path, "user.probe") == 0;
    print_message("xattr row skipped: user.* xattrs: %s\n", strerror(errno));
    return 0;
}

/* One change rsync -a would carry over: a command, or a function. */
typedef struct {
    const char *what;
    const char *cmd;
    void (*fn)(const fx_t *fx);
    int needs_root;
} change_t;

static const change_t changes[] = {
    {"a file's mtime", "touch -m -d '2031-02-03 04:05:06.7' p/a/f1", NULL, 0},
    {"a file's mode", "chmod 600 p/a/f1", NULL, 0},
    {"a file's owner", "chown 1 p/a/f1", NULL, 1},
    {"a file's group", "chgrp 1 p/a/f1", NULL, 1},
    {"a file's size", "truncate -s 5000 p/b/f3", NULL, 0},
    {"a file deep down rewritten", "printf WORLD >p/a/sub/f2", NULL, 0},
    {"a file renamed", "mv p/b/f3 p/b/f4", NULL, 0},
    {"a file added", "printf n >p/a/sub/new", NULL, 0},
    {"a file removed", "rm p/a/sub/new", NULL, 0},
    {"an empty folder added", "mkdir p/a/newdir", NULL, 0},
    {"an empty folder removed", "rmdir p/empty", NULL, 0},
    {"a link's target", "ln -sfn b p/link", NULL, 0},
    {"a hard link from outside the project", "ln p/a/f1 outside/f1", NULL, 0},
    {"a hard link inside the project", "ln p/a/f1 p/b/f1-again", NULL, 0},
    {"the project folder's mode", "chmod 700 p", NULL, 0},
    {"a user xattr", NULL, xattr_set, 0},
};

static void test_every_change_rsync_carries_over_changes_the_project_fingerprint(void **state)
{
    fx_t *fx = *state;
    small_tree(fx);
    int xattrs = xattr_supported(fx);
    for (size_t i = 0; i < sizeof changes / sizeof *changes; i++) {
        const change_t *c = &changes[i];
        if ((c->needs_root && geteuid() != 0) || (c->fn == xattr_set && !xattrs)) {
            print_message("row skipped: %s (%s)\n", c->what,
                          c->needs_root ? "not root" : "no user xattrs here");
            continue;
        }
        ms_fp_t before = project_fp(fx);
        if (c->cmd)
            sh(fx, c->cmd);
        else
            c->fn(fx);
        ms_fp_t after = project_fp(fx);
        if (ms_fp_equal(before, after))
            fail_msg("the fingerprint did not change: %s", c->what);
        print_message("changed: %s\n", c->what);
    }
}

static void test_nothing_changed_or_only_an_atime_leaves_the_fingerprint(void **state)
{
    fx_t *fx = *state;
    small_tree(fx);
    /* An old atime (this moves the ctime, so before the first walk): the
     * read below then moves the atime under relatime too. */
    sh(fx, "touch -a -d '2001-01-01' p/a/f1");
    ms_fp_t first = project_fp(fx);
    assert_true(ms_fp_equal(first, project_fp(fx))); /* the walk reads folders: their atimes */
    char path[256], buf[16];
    struct stat before, after;
    snprintf(path, sizeof path, "%s/p/a/f1", fx->root);
    assert_int_equal(lstat(path, &before), 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_true(read(fd, buf, sizeof buf) > 0);
    close(fd);
    assert_int_equal(lstat(path, &after), 0);
    if (after.st_atime == before.st_atime)
        print_message("atime row skipped: reading does not move atimes here (noatime)\n");
    assert_true(ms_fp_equal(first, project_fp(fx)));
}

/* --- the sums, computed apart from the walk --------------------------------- */

typedef struct {
    char *rel;
    ms_fp_t fp;
} seen_t;

/* Every entry below root/p (p itself too), fingerprinted here with lstat
 * and readlink. */
static size_t fingerprint_all(const char *dir, const char *rel, seen_t **out, size_t n)
{
    struct stat st;
    char target[4096];
    assert_int_equal(lstat(dir, &st), 0);
    ssize_t len = S_ISLNK(st.st_mode) ? readlink(dir, target, sizeof target) : 0;
    assert_true(len >= 0);
    *out = realloc(*out, (n + 1) * sizeof **out);
    assert_non_null(*out);
    (*out)[n].rel = strdup(rel);
    (*out)[n++].fp = ms_fp_entry(rel, &st, S_ISLNK(st.st_mode) ? target : NULL, (size_t)len);
    if (!S_ISDIR(st.st_mode))
        return n;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A '%s'", dir);
    FILE *ls = popen(cmd, "r");
    char name[256];
    while (fgets(name, sizeof name, ls)) {
        name[strcspn(name, "\n")] = '\0';
        char sub[1024], subrel[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, name);
        snprintf(subrel, sizeof subrel, "%s%s%s", rel, *rel ? "/" : "", name);
        n = fingerprint_all(sub, subrel, out, n);
    }
    pclose(ls);
    return n;
}

/* The sum over the entries at rel and below it. */
static ms_fp_t sum_below(const seen_t *s, size_t n, const char *rel)
{
    ms_fp_t sum = {0, 0};
    size_t len = strlen(rel);
    for (size_t i = 0; i < n; i++)
        if (len == 0 ||
            (strncmp(s[i].rel, rel, len) == 0 && (s[i].rel[len] == '\0' || s[i].rel[len] == '/')))
            ms_fp_add(&sum, s[i].fp);
    return sum;
}

static void node_path(const ms_walk_t *w, size_t i, char *buf, size_t len)
{
    if (i == 0) {
        buf[0] = '\0';
        return;
    }
    char parent[1024];
    node_path(w, w->nodes[i].parent, parent, sizeof parent);
    snprintf(buf, len, "%s%s%s", parent, *parent ? "/" : "", w->nodes[i].name);
}

static void test_each_node_and_listed_entry_is_the_sum_of_its_entries(void **state)
{
    fx_t *fx = *state;
    small_tree(fx);
    /* A folder of more entries than nodes take: a name list. */
    sh(fx, "mkdir p/many && cd p/many && seq -f 'f%05g' 1 4100 | xargs touch && mkdir d && "
           "printf in >d/x && ln -s ../a many-link");
    atomic_int stop = 0;
    ms_walk_t *w = ms_walk_project(fx->root, "p", 1, 1, &stop);
    assert_non_null(w);
    assert_false(w->incomplete);
    char top[128];
    snprintf(top, sizeof top, "%s/p", fx->root);
    seen_t *seen = NULL;
    size_t n = fingerprint_all(top, "", &seen, 0);
    assert_int_equal(w->files, n);
    assert_true(ms_fp_equal(w->fp, sum_below(seen, n, "")));
    assert_true(w->n_nodes >= 10); /* keep_min 1: every folder kept */
    char rel[1024];
    for (size_t i = 0; i < w->n_nodes; i++) {
        node_path(w, i, rel, sizeof rel);
        if (!ms_fp_equal(w->nodes[i].fp, sum_below(seen, n, rel)))
            fail_msg("node '%s': not the sum of its entries", rel);
    }
    assert_int_equal(w->n_lists, 1);
    node_path(w, w->lists[0].node, rel, sizeof rel);
    assert_string_equal(rel, "many");
    assert_int_equal(w->lists[0].n, 4102);
    for (size_t i = 0; i < w->lists[0].n; i++) {
        char entry[1100];
        snprintf(entry, sizeof entry, "many/%s", w->lists[0].e[i].name);
        assert_true(ms_fp_equal(w->lists[0].e[i].fp, sum_below(seen, n, entry)));
    }
    for (size_t i = 0; i < n; i++)
        free(seen[i].rel);
    free(seen);
    ms_walk_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_every_change_rsync_carries_over_changes_the_project_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_nothing_changed_or_only_an_atime_leaves_the_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_node_and_listed_entry_is_the_sum_of_its_entries,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
