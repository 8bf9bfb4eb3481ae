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
#include <sys/wait.h>
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

/* --- the same walk whatever the threads -------------------------------------- */

#define N_SMALL 30 /* small projects beside the huge one */

/* Whether a and b are the same walk, every field; says where they differ. */
static int same_walk(const ms_walk_t *a, const ms_walk_t *b)
{
    if (a->task_id != b->task_id || a->bytes != b->bytes || a->files != b->files ||
        !ms_fp_equal(a->fp, b->fp) || a->hardlinks != b->hardlinks ||
        a->incomplete != b->incomplete || a->unread != b->unread || a->n_nodes != b->n_nodes ||
        a->n_lists != b->n_lists) {
        print_message("walk %llu: totals, flags or counts differ\n",
                      (unsigned long long)a->task_id);
        return 0;
    }
    for (size_t i = 0; i < a->n_nodes; i++) {
        const ms_wnode_t *x = &a->nodes[i], *y = &b->nodes[i];
        if (strcmp(x->name, y->name) != 0 || x->parent != y->parent || x->is_dir != y->is_dir ||
            x->kept != y->kept || x->bytes != y->bytes || x->files != y->files ||
            !ms_fp_equal(x->fp, y->fp)) {
            print_message("walk %llu: node %zu differs\n", (unsigned long long)a->task_id, i);
            return 0;
        }
    }
    for (size_t i = 0; i < a->n_lists; i++) {
        const ms_wlist_t *x = &a->lists[i], *y = &b->lists[i];
        if (x->node != y->node || x->n != y->n)
            return 0;
        for (size_t j = 0; j < x->n; j++)
            if (strcmp(x->e[j].name, y->e[j].name) != 0 || x->e[j].bytes != y->e[j].bytes ||
                x->e[j].files != y->e[j].files || !ms_fp_equal(x->e[j].fp, y->e[j].fp))
                return 0;
    }
    return 1;
}

/* Walk projects names[0..n) of root with a walker of threads threads;
 * out[i] is the walk of names[i] (task id i + 1). */
static void walk_all(const char *root, char **names, size_t n, unsigned threads, uint64_t keep_min,
                     ms_walk_t **out)
{
    uint64_t ids[N_SMALL + 4];
    char err[256];
    for (size_t i = 0; i < n; i++) {
        ids[i] = i + 1;
        out[i] = NULL;
    }
    ms_walker_t *wk = ms_walker_start(root, names, ids, n, keep_min, threads, err, sizeof err);
    assert_non_null(wk);
    int done = 0;
    while (!done) {
        size_t got = 0;
        ms_walk_t **walks = ms_walker_take(wk, &got, &done);
        for (size_t i = 0; i < got; i++) {
            assert_true(walks[i]->task_id >= 1 && walks[i]->task_id <= n);
            assert_null(out[walks[i]->task_id - 1]);
            out[walks[i]->task_id - 1] = walks[i];
        }
        free(walks);
        if (!done)
            usleep(1000);
    }
    ms_walker_stop(&wk);
    for (size_t i = 0; i < n; i++)
        assert_non_null(out[i]);
}

/* huge/: 3 levels of 10 folders, 4 files each, big files (sparse) here and
 * there, a folder of 4,200 files (a name list), links, empty folders, a
 * hard link; and N_SMALL small projects s0..: ~6,000 entries in all. */
static void threads_tree(const fx_t *fx)
{
    sh(fx, "mkdir huge && cd huge && for a in 0 1 2 3 4 5 6 7 8 9; do "
           "for b in 0 1 2 3 4 5 6 7 8 9; do mkdir -p $a/$b/0 $a/$b/1 $a/$b/e && "
           "for f in w x y z; do printf $a$b$f >$a/$b/0/$f; done && "
           "truncate -s ${a}${b}00000 $a/$b/1/big && ln -s ../0/w $a/$b/1/l; done; done && "
           "mkdir flat && cd flat && seq -f 'f%05g' 1 4200 | xargs touch && "
           "truncate -s 30000000 f00007 && ln f00001 hard");
    sh(fx, "for i in $(seq 0 29); do mkdir -p s$i/d && printf $i >s$i/d/f; done");
}

static void check_threads_walk(const fx_t *fx, char **names, size_t n, uint64_t keep_min)
{
    atomic_int stop = 0;
    ms_walk_t *one[N_SMALL + 4], *many[N_SMALL + 4];
    walk_all(fx->root, names, n, 1, keep_min, one);
    for (size_t i = 0; i < n; i++) {
        ms_walk_t *alone = ms_walk_project(fx->root, names[i], i + 1, keep_min, &stop);
        assert_non_null(alone);
        assert_true(same_walk(alone, one[i]));
        ms_walk_free(&alone);
    }
    for (unsigned threads = 2; threads <= 8; threads *= 2) {
        walk_all(fx->root, names, n, threads, keep_min, many);
        for (size_t i = 0; i < n; i++) {
            if (!same_walk(one[i], many[i]))
                fail_msg("%s: %u threads walk it otherwise than one", names[i], threads);
            ms_walk_free(&many[i]);
        }
    }
    for (size_t i = 0; i < n; i++)
        ms_walk_free(&one[i]);
}

static void test_a_walk_in_several_threads_is_the_walk_in_one(void **state)
{
    fx_t *fx = *state;
    threads_tree(fx);
    char *names[N_SMALL + 2] = {"huge", "gone"};
    char buf[N_SMALL][8];
    for (int i = 0; i < N_SMALL; i++) {
        snprintf(buf[i], sizeof buf[i], "s%d", i);
        names[i + 2] = buf[i];
    }
    /* Every folder kept, then only the big ones. */
    check_threads_walk(fx, names, N_SMALL + 2, 1);
    check_threads_walk(fx, names, N_SMALL + 2, 4000000);
    atomic_int stop = 0;
    ms_walk_t *w = ms_walk_project(fx->root, "huge", 1, 4000000, &stop);
    assert_non_null(w);
    assert_true(w->hardlinks);
    assert_int_equal(w->n_lists, 1);
    assert_true(w->n_nodes > 100);
    ms_walk_free(&w);
}

static void test_a_walk_stopped_midway_frees_everything_and_returns(void **state)
{
    fx_t *fx = *state;
    threads_tree(fx);
    char *names[] = {"huge", "s0", "s1", "huge"};
    uint64_t ids[] = {1, 2, 3, 4};
    char err[256];
    /* Stopped at once, a little later, and (never taken) after its end; the
     * walks handed over and not taken are freed too (ASan: no leak). */
    for (int delay_us = 0; delay_us <= 400000; delay_us = delay_us ? delay_us * 20 : 1000) {
        ms_walker_t *wk = ms_walker_start(fx->root, names, ids, 4, 1, 4, err, sizeof err);
        assert_non_null(wk);
        usleep((useconds_t)delay_us);
        ms_walker_stop(&wk);
        assert_null(wk);
    }
    atomic_int stop = 1;
    assert_null(ms_walk_project(fx->root, "huge", 1, 1, &stop));
}

/* In a child without the rights to read p/b/locked (root reads all: the
 * child is nobody then), the walk in one thread and in four: 0 when both
 * are incomplete, unread and the same. */
static int unreadable_walks(const fx_t *fx)
{
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 2;
    atomic_int stop = 0;
    char *names[] = {"p"};
    ms_walk_t *one = ms_walk_project(fx->root, "p", 1, 1, &stop), *many[1];
    walk_all(fx->root, names, 1, 4, 1, many);
    int ok = one && one->incomplete && one->unread && same_walk(one, many[0]);
    ms_walk_free(&one);
    ms_walk_free(&many[0]);
    return ok ? 0 : 1;
}

static void test_an_unreadable_folder_leaves_the_same_incomplete_walk_in_any_threads(void **state)
{
    fx_t *fx = *state;
    small_tree(fx);
    sh(fx, "chmod 755 . && mkdir p/b/locked && printf s >p/b/locked/secret && "
           "chmod 000 p/b/locked");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(unreadable_walks(fx));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    sh(fx, "chmod 755 p/b/locked");
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
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
        cmocka_unit_test_setup_teardown(test_a_walk_in_several_threads_is_the_walk_in_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_walk_stopped_midway_frees_everything_and_returns,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_an_unreadable_folder_leaves_the_same_incomplete_walk_in_any_threads, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
