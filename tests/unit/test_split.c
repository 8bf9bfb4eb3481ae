/*
 * test_split.c - walking a real project tree and cutting it into chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_split.h"
#include "ms_walk.h"
#include "ms_test.h"

#define MB (1024 * 1024)

typedef struct {
    char root[64];
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    ms_test_tmpdir(fx->root, sizeof fx->root, "split");
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

static void mkdirs(fx_t *fx, const char *rel)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", fx->root, rel);
    assert_int_equal(system(cmd), 0);
}

/* A sparse file of size bytes: its size counts, no disk is used. */
static void file_of(fx_t *fx, const char *rel, off_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fx->root, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

static const ms_wnode_t *node(const ms_walk_t *w, const char *name)
{
    for (size_t i = 0; i < w->n_nodes; i++)
        if (strcmp(w->nodes[i].name, name) == 0)
            return &w->nodes[i];
    return NULL;
}

/* p/big/{a,b,c,d} of 100 MB each, p/big/tiny/ small, p/mid of 60 MB,
 * p/small of 1 MB, and a 5 MB file at the top. */
static void skewed_tree(fx_t *fx)
{
    const char *dirs[] = {"p/big/a",    "p/big/b", "p/big/c", "p/big/d",
                          "p/big/tiny", "p/mid",   "p/small"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        mkdirs(fx, dirs[i]);
    file_of(fx, "p/big/a/f", 100 * MB);
    file_of(fx, "p/big/b/f", 100 * MB);
    file_of(fx, "p/big/c/f", 100 * MB);
    file_of(fx, "p/big/d/f", 100 * MB);
    file_of(fx, "p/big/tiny/f", 1000);
    file_of(fx, "p/mid/f", 60 * MB);
    file_of(fx, "p/small/f", 1 * MB);
    file_of(fx, "p/top", 5 * MB);
}

static void test_a_walk_counts_bytes_and_entries_and_keeps_only_big_folders(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    skewed_tree(fx);
    ms_walk_t *w = ms_walk_project(fx->root, "p", 42, 32 * MB, &stop);
    assert_non_null(w);
    assert_int_equal(w->task_id, 42);
    assert_int_equal(w->bytes, 466ull * MB + 1000);
    /* p, top, big, mid, small, 4+1 folders in big with a file each, mid/f, small/f */
    assert_int_equal(w->files, 1 + 1 + 3 + 5 * 2 + 2);
    assert_false(w->hardlinks);
    assert_false(w->incomplete);
    assert_non_null(node(w, "big"));
    assert_non_null(node(w, "a"));
    assert_non_null(node(w, "small")); /* itself kept, as an entry of p */
    assert_true(node(w, "big")->kept);
    assert_false(node(w, "small")->kept);
    assert_int_equal(node(w, "big")->bytes, 400ull * MB + 1000);
    ms_walk_free(&w);
    assert_null(w);
}

static int has_item(const ms_plan_t *p, const char *sub, const char *item)
{
    for (size_t i = 0; i < p->n; i++)
        for (uint32_t j = 0; j < p->chunks[i].n_items; j++)
            if (strcmp(p->chunks[i].sub, sub) == 0 && strcmp(p->chunks[i].items[j], item) == 0)
                return 1;
    return 0;
}

static void test_a_big_project_is_cut_by_its_big_folders_and_the_rest_stays(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    skewed_tree(fx);
    ms_walk_t *w = ms_walk_project(fx->root, "p", 1, 32 * MB, &stop);
    ms_plan_t p;
    assert_int_equal(ms_split_plan(w, 110.0 * MB, 32.0 * MB, &p), 0);
    /* big (400 MB) is descended into: a..d take a chunk each, tiny rides
     * along with one of them; at the top, mid and small are packed into one
     * chunk (61 MB); the top file was not kept (a folder's files are, only
     * when they weigh a chunk): the rest's. */
    assert_true(has_item(&p, "big", "a"));
    assert_true(has_item(&p, "big", "b"));
    assert_true(has_item(&p, "big", "c"));
    assert_true(has_item(&p, "big", "d"));
    assert_true(has_item(&p, "", "mid"));
    assert_true(has_item(&p, "", "small"));
    assert_false(has_item(&p, "", "top"));
    assert_true(has_item(&p, "big", "tiny"));
    assert_int_equal(p.n, 5);
    assert_int_equal(p.n_items, 7);
    double sum = p.rest_cost;
    for (size_t i = 0; i < p.n; i++) {
        assert_true(p.chunks[i].cost <= 110.0 * MB + 2 * MS_FILE_COST);
        sum += p.chunks[i].cost;
    }
    assert_true(sum > ms_split_cost(w->bytes, w->files) - 1 &&
                sum < ms_split_cost(w->bytes, w->files) + 1);
    ms_split_free(&p);
    ms_walk_free(&w);
}

/* Ten folders proj/dN of one file of size each, planned with target and
 * min_chunk: five chunks of two folders each. */
static void ten_folders_in_five_chunks(fx_t *fx, const char *proj, off_t size, double target,
                                       double min_chunk)
{
    atomic_int stop = 0;
    char rel[64];
    for (int i = 0; i < 10; i++) {
        snprintf(rel, sizeof rel, "%s/d%d", proj, i);
        mkdirs(fx, rel);
        snprintf(rel, sizeof rel, "%s/d%d/f", proj, i);
        file_of(fx, rel, size);
    }
    ms_walk_t *w = ms_walk_project(fx->root, proj, 1, (uint64_t)min_chunk, &stop);
    assert_non_null(w);
    ms_plan_t p;
    assert_int_equal(ms_split_plan(w, target, min_chunk, &p), 0);
    assert_int_equal(p.n, 5);
    assert_int_equal(p.n_items, 10);
    for (size_t i = 0; i < p.n; i++)
        assert_int_equal(p.chunks[i].n_items, 2);
    ms_split_free(&p);
    ms_walk_free(&w);
}

static void test_small_folders_are_packed_together_up_to_the_target(void **state)
{
    /* two 20 MB folders per 50 MB chunk */
    ten_folders_in_five_chunks(*state, "q", 20 * MB, 50.0 * MB, 16.0 * MB);
}

static void test_big_files_of_a_flat_folder_become_chunks(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    mkdirs(fx, "vm");
    file_of(fx, "vm/one.img", 100 * MB);
    file_of(fx, "vm/two.img", 100 * MB);
    file_of(fx, "vm/three.img", 100 * MB);
    ms_walk_t *w = ms_walk_project(fx->root, "vm", 1, 32 * MB, &stop);
    ms_plan_t p;
    assert_int_equal(ms_split_plan(w, 100.0 * MB, 32.0 * MB, &p), 0);
    assert_int_equal(p.n, 3);
    assert_true(has_item(&p, "", "one.img"));
    ms_split_free(&p);
    ms_walk_free(&w);
}

static void test_hard_links_or_links_to_folders_never_split_what_they_should_not(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    char a[512], b[512];
    skewed_tree(fx);
    /* A symbolic link to a big folder is an entry, not a folder to walk. */
    snprintf(a, sizeof a, "%s/p/big", fx->root);
    snprintf(b, sizeof b, "%s/p/link", fx->root);
    assert_int_equal(symlink(a, b), 0);
    ms_walk_t *w = ms_walk_project(fx->root, "p", 1, 32 * MB, &stop);
    assert_int_equal(w->bytes, 466ull * MB + 1000);
    assert_false(node(w, "link") && node(w, "link")->is_dir);
    ms_walk_free(&w);
    /* One hard link anywhere: the project runs whole. */
    snprintf(a, sizeof a, "%s/p/mid/f", fx->root);
    snprintf(b, sizeof b, "%s/p/big/a/hard", fx->root);
    assert_int_equal(link(a, b), 0);
    w = ms_walk_project(fx->root, "p", 1, 32 * MB, &stop);
    assert_true(w->hardlinks);
    ms_plan_t p;
    assert_int_equal(ms_split_plan(w, 110.0 * MB, 32.0 * MB, &p), 0);
    assert_int_equal(p.n, 0);
    ms_walk_free(&w);
}

static void test_files_linked_only_from_outside_the_project_do_not_keep_it_whole(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    char a[512], b[512];
    skewed_tree(fx);
    /* As in a snapshot: every file shares its inode with another
     * snapshot's copy, outside this project. */
    const char *files[] = {"big/a/f", "big/b/f", "big/c/f", "big/d/f", "mid/f", "top"};
    mkdirs(fx, "other");
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(a, sizeof a, "%s/p/%s", fx->root, files[i]);
        snprintf(b, sizeof b, "%s/other/%zu", fx->root, i);
        assert_int_equal(link(a, b), 0);
    }
    ms_walk_t *w = ms_walk_project(fx->root, "p", 1, 32 * MB, &stop);
    assert_false(w->hardlinks);
    ms_plan_t p;
    assert_int_equal(ms_split_plan(w, 110.0 * MB, 32.0 * MB, &p), 0);
    assert_true(p.n > 1);
    ms_split_free(&p);
    ms_walk_free(&w);
}

/* The chunks whose patterns match name (rsync's wildmatch and fnmatch
 * agree on these shapes: escaped literals, bracket ranges, a final '*'). */
static int chunks_matching(const ms_plan_t *p, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < p->n; i++)
        for (uint32_t j = 0; j < p->chunks[i].n_match; j++)
            n += fnmatch(p->chunks[i].match[j], name, 0) == 0;
    return n;
}

static void test_a_folder_of_very_many_files_is_cut_by_ranges_of_names(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    char rel[128];
    /* 6,000 files of 20 KB: names mostly "IMG_0xxxx" (one prefix holds
     * most of the cost, so the cut goes several bytes deep), a few others,
     * and names that need escaping or are prefixes of others. */
    mkdirs(fx, "cam/flat");
    for (int i = 0; i < 5990; i++) {
        snprintf(rel, sizeof rel, "cam/flat/IMG_%05d.jpg", i);
        file_of(fx, rel, 20000);
    }
    const char *odd[] = {"IMG",      "IMG_", "a*b", "[x]", "back\\slash",
                         "\xff\xfe", "zz",   "-d",  "a",   "ab"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        snprintf(rel, sizeof rel, "cam/flat/%s", odd[i]);
        file_of(fx, rel, 20000);
    }
    ms_walk_t *w = ms_walk_project(fx->root, "cam", 1, 16 * MB, &stop);
    assert_non_null(w);
    assert_int_equal(w->n_lists, 1);
    assert_int_equal(w->lists[0].n, 6000);
    for (size_t i = 1; i < w->lists[0].n; i++)
        assert_true(strcmp(w->lists[0].e[i - 1].name, w->lists[0].e[i].name) < 0);
    ms_plan_t p;
    double target = 40.0 * MB;
    assert_int_equal(ms_split_plan(w, target, 16.0 * MB, &p), 0);
    /* ~216 MB of cost (data plus 16 KiB an entry): at least 5 chunks. */
    assert_true(p.n >= 5);
    assert_int_equal(p.n_items, 0);
    for (size_t i = 0; i < p.n; i++) {
        assert_string_equal(p.chunks[i].sub, "flat");
        assert_true(p.chunks[i].n_match >= 1);
        assert_true(p.chunks[i].cost <=
                    target + 16.0 * MB + 1); /* past it only to reach the smallest */
        for (uint32_t j = 0; j < p.chunks[i].n_match; j++)
            assert_non_null(strchr(p.chunks[i].match[j], '['));
    }
    /* Every name is in at most one chunk, and what is in none is small. */
    double rest = 0;
    for (size_t i = 0; i < w->lists[0].n; i++) {
        int k = chunks_matching(&p, w->lists[0].e[i].name);
        assert_true(k <= 1);
        if (k == 0)
            rest += ms_split_cost(w->lists[0].e[i].bytes, w->lists[0].e[i].files);
    }
    assert_true(rest < 2 * 16.0 * MB);
    ms_split_free(&p);
    ms_walk_free(&w);
}

/* The chunk of p whose sub is sub and that lists item or matches it (a
 * name range); how many do. */
static int chunks_with(const ms_plan_t *p, const char *sub, const char *item)
{
    int k = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->chunks[i].sub, sub) != 0)
            continue;
        for (uint32_t j = 0; j < p->chunks[i].n_items; j++)
            k += strcmp(p->chunks[i].items[j], item) == 0;
        for (uint32_t j = 0; j < p->chunks[i].n_match; j++)
            k += fnmatch(p->chunks[i].match[j], item, 0) == 0;
    }
    return k;
}

/* n folders sub/dNNNN of one small file each (issue 14's project). */
static void small_folders(fx_t *fx, const char *sub, int n)
{
    char path[512];
    mkdirs(fx, sub);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s/d%04d", fx->root, sub, i);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof path, "%s/d%04d/f", sub, i);
        file_of(fx, path, 100);
    }
}

/* Checks a plan of the folders of sub: some chunks, each of at least
 * min_chunk, every folder in at most one, and the rest smaller than two
 * chunks. */
static void check_small_folders_plan(const ms_walk_t *w, const ms_plan_t *p, const char *sub, int n,
                                     double min_chunk)
{
    assert_true(p->n >= 2);
    for (size_t i = 0; i < p->n; i++)
        assert_true(p->chunks[i].cost >= min_chunk);
    char name[16];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "d%04d", i);
        assert_true(chunks_with(p, sub, name) <= 1);
    }
    assert_true(p->rest_cost < 2 * min_chunk);
    assert_true(p->rest_cost < ms_split_cost(w->bytes, w->files) / 4);
}

static void test_a_project_of_many_small_folders_is_split_near_the_smallest_chunk(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    small_folders(fx, "many", 5000); /* ~160 MB of cost, too many entries for nodes */
    ms_walk_t *w = ms_walk_project(fx->root, "many", 1, 8 * MB, &stop);
    assert_non_null(w);
    assert_int_equal(w->n_lists, 1);
    ms_plan_t p;
    /* 8 slots: a fair share of 20 MB, chunks of a third of it, at least 8 MB. */
    double target = 160.0 * MB / 8 / 3 > 8.0 * MB ? 160.0 * MB / 8 / 3 : 8.0 * MB;
    assert_int_equal(ms_split_plan(w, target, 8.0 * MB, &p), 0);
    print_message("%zu chunks, rest %.1f MB\n", p.n, p.rest_cost / MB);
    check_small_folders_plan(w, &p, "", 5000, 8.0 * MB);
    ms_split_free(&p);
    /* No smallest chunk, a target below one folder: a range each, and an end. */
    assert_int_equal(ms_split_plan(w, 1000.0, 0, &p), 0);
    assert_true(p.n >= MS_SPLIT_MAX_CHUNKS / 2);
    for (size_t i = 0; i < p.n; i++)
        assert_true(p.chunks[i].n_match >= 1);
    ms_split_free(&p);
    ms_walk_free(&w);
}

static void test_folders_of_a_bit_over_half_a_target_are_packed_in_twos(void **state)
{
    /* One 3 MB folder is below the smallest chunk (4.5 MB), two are above
     * the target (5 MB): two per chunk all the same, not one (dropped). */
    ten_folders_in_five_chunks(*state, "mid", 3 * MB, 5.0 * MB, 4.5 * MB);
}

static void test_a_missing_project_is_an_incomplete_walk_of_nothing(void **state)
{
    fx_t *fx = *state;
    atomic_int stop = 0;
    ms_walk_t *w = ms_walk_project(fx->root, "gone", 9, 32 * MB, &stop);
    assert_non_null(w);
    assert_true(w->incomplete);
    assert_int_equal(w->bytes, 0);
    ms_walk_free(&w);
}

static void test_the_walker_thread_hands_every_project_back(void **state)
{
    fx_t *fx = *state;
    char err[256];
    skewed_tree(fx);
    mkdirs(fx, "q");
    char *names[] = {"p", "q", "gone"};
    uint64_t ids[] = {5, 6, 7};
    ms_walker_t *wk = ms_walker_start(fx->root, names, ids, 3, 32 * MB, 2, err, sizeof err);
    assert_non_null(wk);
    uint64_t seen = 0;
    int done = 0;
    for (int tries = 0; !done && tries < 1000; tries++) {
        size_t n = 0;
        ms_walk_t **walks = ms_walker_take(wk, &n, &done);
        for (size_t i = 0; i < n; i++) {
            seen |= 1u << walks[i]->task_id;
            ms_walk_free(&walks[i]);
        }
        free(walks);
        if (!done)
            usleep(10000);
    }
    assert_true(done);
    assert_int_equal(seen, (1u << 5) | (1u << 6) | (1u << 7));
    ms_walker_stop(&wk);
    assert_null(wk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_walk_counts_bytes_and_entries_and_keeps_only_big_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_big_project_is_cut_by_its_big_folders_and_the_rest_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_folders_are_packed_together_up_to_the_target,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_files_of_a_flat_folder_become_chunks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_hard_links_or_links_to_folders_never_split_what_they_should_not, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_files_linked_only_from_outside_the_project_do_not_keep_it_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_folder_of_very_many_files_is_cut_by_ranges_of_names,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_project_of_many_small_folders_is_split_near_the_smallest_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folders_of_a_bit_over_half_a_target_are_packed_in_twos,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_missing_project_is_an_incomplete_walk_of_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_walker_thread_hands_every_project_back, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
