/*
 * test_pool.c - the pool of rsync children, with the real rsync on real
 * trees in a temporary directory under /tmp, and small shell scripts
 * standing in for rsync where a test needs a child that hangs or spies.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ms_pool.h"

#define MiB (1024 * 1024)
#define BIG_SIZE (20 * MiB)
#define MAX_RESULTS 8
#define DEADLINE_S 20

static char g_root[PATH_MAX]; /* mkdtemp'd, removed by the group teardown */

/* ---- files and trees ---------------------------------------------------- */

/* g_root + "/" + printf(fmt, ...) */
__attribute__((format(printf, 2, 3))) static const char *at(char *buf, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    if (snprintf(buf, PATH_MAX, "%s/%s", g_root, rel) >= PATH_MAX)
        fail_msg("path too long: %s", rel);
    return buf;
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* A file of size bytes whose content depends on seed. */
static void make_file(const char *path, size_t size, unsigned seed)
{
    static char chunk[65536];
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        fail_msg("create %s: %s", path, strerror(errno));
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)((i * 31 + seed * 7 + i / 251) & 0xff);
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof(chunk) ? size - done : sizeof(chunk);

        assert_int_equal(fwrite(chunk, 1, n, f), n);
        done += n;
    }
    assert_int_equal(fclose(f), 0);
}

static void make_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0755), 0);
}

static void assert_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca, cb;

    if (fa == NULL || fb == NULL)
        fail_msg("cannot open %s or %s", a, b);
    do {
        ca = getc(fa);
        cb = getc(fb);
        if (ca != cb)
            fail_msg("%s and %s differ", a, b);
    } while (ca != EOF);
    fclose(fa);
    fclose(fb);
}

static bool exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* ---- driving the pool --------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static ms_task_t task(uint64_t id, const char *project, const char *source, const char *dest)
{
    ms_task_t t = {.run_id = 3,
                   .task_id = id,
                   .attempt = 2,
                   .flags = project[0] == '\0' ? MS_TASK_TOP : 0,
                   .project = (char *)project,
                   .source = (char *)source,
                   .dest = (char *)dest};
    return t;
}

static void start(ms_pool_t *p, const ms_task_t *t)
{
    char err[256] = "";

    if (ms_pool_start(p, t, err, sizeof(err)) < 0)
        fail_msg("ms_pool_start(%s): %s", t->project, err);
}

/* The owner's loop, as the worker's: poll the pool's fds until the pool's
 * next due time, handle, take results. */
static void collect(ms_pool_t *p, ms_result_t *out, size_t want)
{
    struct pollfd fds[1 + 2 * MAX_RESULTS];
    double deadline = now_s() + DEADLINE_S;
    char err[256] = "";
    size_t got = 0;

    while (got < want) {
        size_t n = ms_pool_pollfds(p, fds, sizeof(fds) / sizeof(fds[0]));
        double due = ms_pool_expire(p);
        int timeout = due >= 0 && due < 1 ? (int)(due * 1000) + 1 : 1000;

        assert_true(n >= 1 && n <= 1 + 2 * (size_t)ms_pool_slots(p));
        if (poll(fds, n, timeout) < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        if (ms_pool_handle(p, fds, n, err, sizeof(err)) < 0)
            fail_msg("ms_pool_handle: %s", err);
        while (got < want && ms_pool_next_result(p, &out[got]) == 1)
            got++;
        if (now_s() > deadline)
            fail_msg("only %zu of %zu results after %d s", got, want, DEADLINE_S);
    }
}

static ms_result_t *by_task(ms_result_t *r, size_t n, uint64_t task_id)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].task_id == task_id)
            return &r[i];
    fail_msg("no result for task %llu", (unsigned long long)task_id);
    return NULL;
}

static void free_results(ms_result_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].message);
        r[i].message = NULL;
    }
}

/* A successful first copy: files and bytes as rsync counts them (symlinks
 * count in bytes by their target's length, but are not "transferred"). */
static void assert_ok(const ms_result_t *r, uint64_t files, uint64_t bytes, uint64_t xfer)
{
    if (r->exit_code != 0)
        fail_msg("task %llu: exit %d: %s", (unsigned long long)r->task_id, r->exit_code,
                 r->message);
    assert_int_equal(r->term_signal, 0);
    assert_string_equal(r->message, "");
    assert_int_equal(r->run_id, 3);
    assert_int_equal(r->attempt, 2);
    assert_int_equal(r->files, files);
    assert_int_equal(r->bytes_total, bytes);
    assert_int_equal(r->bytes_transferred, xfer);
    assert_true(r->seconds > 0 && r->seconds < DEADLINE_S);
    assert_true(r->cpu_user_s + r->cpu_sys_s > 0);
    assert_true(r->max_rss_kb > 0);
}

static void assert_contains(const char *text, const char *part)
{
    if (text == NULL || strstr(text, part) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", text != NULL ? text : "(null)", part);
}

/* Wait until the script stand-in wrote its pid, i.e. it really runs. */
static pid_t wait_pidfile(const char *path)
{
    double deadline = now_s() + DEADLINE_S;
    long pid = 0;

    while (pid <= 0) {
        FILE *f = fopen(path, "r");

        if (f != NULL) {
            if (fscanf(f, "%ld", &pid) != 1)
                pid = 0;
            fclose(f);
        }
        if (now_s() > deadline)
            fail_msg("%s never appeared", path);
        if (pid <= 0)
            usleep(10000);
    }
    return (pid_t)pid;
}

static ms_pool_t *new_pool(const char *rsync, char *const *extra, size_t n_extra, unsigned slots)
{
    char err[256] = "";
    ms_pool_t *p = ms_pool_new(rsync, extra, n_extra, slots, err, sizeof(err));

    if (p == NULL)
        fail_msg("ms_pool_new: %s", err);
    return p;
}

/* ---- tests -------------------------------------------------------------- */

static void pool_runs_at_most_slots_children_and_reports_their_counters(void **state)
{
    char a[PATH_MAX], b[PATH_MAX], src[PATH_MAX], dst[PATH_MAX], err[256] = "";
    ms_pool_t *p = new_pool("rsync", NULL, 0, 2);
    ms_result_t r[3];
    ms_task_t alpha, big, gamma;

    (void)state;
    make_dir(at(src, "slots-src"));
    at(dst, "slots-dst");
    make_dir(at(a, "slots-src/alpha"));
    make_dir(at(a, "slots-src/alpha/sub"));
    make_dir(at(a, "slots-src/alpha/sub/deeper"));
    make_file(at(a, "slots-src/alpha/a.txt"), 1000, 1);
    make_file(at(a, "slots-src/alpha/sub/b.bin"), 5000, 2);
    make_file(at(a, "slots-src/alpha/sub/deeper/empty"), 0, 3);
    make_dir(at(a, "slots-src/big"));
    make_file(at(a, "slots-src/big/f.bin"), BIG_SIZE, 4);
    make_dir(at(a, "slots-src/gamma"));
    make_file(at(a, "slots-src/gamma/x"), 10, 5);
    alpha = task(1, "alpha", src, dst);
    big = task(2, "big", src, dst);
    gamma = task(3, "gamma", src, dst);

    start(p, &alpha);
    start(p, &big);
    assert_int_equal(ms_pool_start(p, &gamma, err, sizeof(err)), -1);
    assert_contains(err, "full");
    assert_int_equal(ms_pool_busy(p), 2);
    collect(p, r, 2);
    assert_int_equal(ms_pool_busy(p), 0);
    start(p, &gamma);
    collect(p, &r[2], 1);

    assert_ok(by_task(r, 3, 1), 6, 6000, 6000); /* 3 dirs + 3 files */
    assert_ok(by_task(r, 3, 2), 2, BIG_SIZE, BIG_SIZE);
    assert_ok(by_task(r, 3, 3), 2, 10, 10);
    /* write_bytes counts the page-cache pages rsync's receiver dirtied (ext4). */
    assert_true(by_task(r, 3, 2)->write_bytes >= BIG_SIZE);
    assert_same_file(at(a, "slots-src/alpha/sub/b.bin"), at(b, "slots-dst/alpha/sub/b.bin"));
    assert_same_file(at(a, "slots-src/alpha/sub/deeper/empty"),
                     at(b, "slots-dst/alpha/sub/deeper/empty"));
    assert_same_file(at(a, "slots-src/big/f.bin"), at(b, "slots-dst/big/f.bin"));
    assert_same_file(at(a, "slots-src/gamma/x"), at(b, "slots-dst/gamma/x"));
    free_results(r, 3);
    ms_pool_destroy(&p);
}

static void projects_with_a_dash_a_space_or_a_non_utf8_byte_are_copied_intact(void **state)
{
    const char *names[] = {"-rf --delete", "with space", "\xff\xfe"};
    char a[PATH_MAX], b[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    ms_pool_t *p = new_pool("rsync", NULL, 0, 3);
    ms_result_t r[3];

    (void)state;
    make_dir(at(src, "odd-src"));
    at(dst, "odd-dst");
    for (unsigned i = 0; i < 3; i++) {
        ms_task_t t = task(10 + i, names[i], src, dst);

        make_dir(at(a, "odd-src/%s", names[i]));
        make_file(at(a, "odd-src/%s/data", names[i]), 100 + i, i);
        start(p, &t);
    }
    collect(p, r, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_ok(by_task(r, 3, 10 + i), 2, 100 + i, 100 + i);
        assert_same_file(at(a, "odd-src/%s/data", names[i]), at(b, "odd-dst/%s/data", names[i]));
    }
    assert_false(exists(at(b, "odd-dst/-rf")));
    assert_false(exists(at(b, "odd-dst/with")));
    free_results(r, 3);
    ms_pool_destroy(&p);
}

static void a_failing_rsync_gives_its_exit_code_and_error_text(void **state)
{
    char a[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    ms_pool_t *p = new_pool("rsync", NULL, 0, 1);
    ms_task_t t;
    ms_result_t r;

    (void)state;
    make_dir(at(src, "fail-src"));
    make_dir(at(a, "fail-src/proj"));
    make_file(at(a, "fail-src/proj/clash"), 10, 1);
    make_dir(at(dst, "fail-dst"));
    make_dir(at(a, "fail-dst/proj"));
    make_dir(at(a, "fail-dst/proj/clash")); /* a full folder where the file should go */
    make_file(at(a, "fail-dst/proj/clash/f"), 10, 2);
    t = task(20, "proj", src, dst);
    start(p, &t);
    collect(p, &r, 1);
    assert_true(r.exit_code > 0);
    assert_int_equal(r.term_signal, 0);
    assert_contains(r.message, "could not make way for new regular file: clash");
    assert_contains(r.message, "rsync error");
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

static void a_top_task_copies_loose_files_and_links_but_not_subfolders(void **state)
{
    char a[PATH_MAX], b[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    ms_pool_t *p = new_pool("rsync", NULL, 0, 1);
    ms_task_t t;
    ms_result_t r;
    ssize_t n;

    (void)state;
    make_dir(at(src, "top-src"));
    make_file(at(a, "top-src/loose1"), 100, 1);
    make_file(at(a, "top-src/loose2"), 200, 2);
    assert_int_equal(symlink("loose1", at(a, "top-src/link")), 0);
    make_dir(at(a, "top-src/sub1"));
    make_file(at(a, "top-src/sub1/inner"), 50, 3);
    make_dir(at(a, "top-src/sub2"));
    t = task(30, "", src, at(dst, "top-dst"));
    start(p, &t);
    collect(p, &r, 1);
    assert_ok(&r, 4, 300 + 6, 300); /* root, 2 files, a link of 6 bytes ("loose1") */
    assert_same_file(at(a, "top-src/loose1"), at(b, "top-dst/loose1"));
    assert_same_file(at(a, "top-src/loose2"), at(b, "top-dst/loose2"));
    n = readlink(at(b, "top-dst/link"), a, sizeof(a) - 1);
    assert_int_equal(n, 6);
    assert_memory_equal(a, "loose1", 6);
    assert_false(exists(at(b, "top-dst/sub1")));
    assert_false(exists(at(b, "top-dst/sub2")));
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

static void signal_all_sigkill_ends_a_running_task_with_signal_9(void **state)
{
    char script[PATH_MAX], pidfile[PATH_MAX], body[2 * PATH_MAX], src[PATH_MAX], proj[PATH_MAX];
    ms_pool_t *p;
    ms_task_t t;
    ms_result_t r;
    pid_t pid;

    (void)state;
    at(pidfile, "sleeper.pid");
    snprintf(body, sizeof(body), "echo $$ > '%s'\nexec sleep 30", pidfile);
    make_script(at(script, "sleeper-rsync"), body);
    make_dir(at(src, "sleep-src"));
    make_dir(at(proj, "sleep-src/anything"));
    p = new_pool(script, NULL, 0, 1);
    t = task(40, "anything", src, src);
    start(p, &t);
    pid = wait_pidfile(pidfile);
    ms_pool_signal_all(p, SIGKILL);
    collect(p, &r, 1);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_int_equal(r.exit_code, -1);
    assert_true(r.seconds < 10);
    assert_contains(r.message, "rsync killed by signal 9 (Killed)");
    assert_int_equal(kill(pid, 0), -1); /* reaped, not left a zombie */
    assert_int_equal(errno, ESRCH);
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

static void destroy_kills_and_reaps_what_still_runs(void **state)
{
    char script[PATH_MAX], pidfile[PATH_MAX], body[2 * PATH_MAX], src[PATH_MAX], proj[PATH_MAX];
    ms_pool_t *p;
    ms_task_t t;
    pid_t pid;
    double t0;

    (void)state;
    at(pidfile, "destroyed.pid");
    snprintf(body, sizeof(body), "echo $$ > '%s'\nexec sleep 30", pidfile);
    make_script(at(script, "destroyed-rsync"), body);
    make_dir(at(src, "destroy-src"));
    make_dir(at(proj, "destroy-src/anything"));
    p = new_pool(script, NULL, 0, 2);
    t = task(50, "anything", src, src);
    start(p, &t);
    pid = wait_pidfile(pidfile);
    t0 = now_s();
    ms_pool_destroy(&p);
    assert_null(p);
    assert_true(now_s() - t0 < 5);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    ms_pool_destroy(&p); /* idempotent */
    ms_pool_destroy(NULL);
}

static void a_missing_rsync_program_fails_with_127_and_says_why(void **state)
{
    char src[PATH_MAX], noexec[PATH_MAX], proj[PATH_MAX];
    const char *progs[] = {"/nonexistent-dir/rsync", "ms-no-such-rsync-program", noexec};
    const char *why[] = {"No such file or directory", "No such file or directory",
                         "Permission denied"};

    (void)state;
    make_dir(at(src, "missing-src"));
    make_dir(at(proj, "missing-src/anything"));
    make_script(at(noexec, "not-executable-rsync"), "exit 0");
    assert_int_equal(chmod(noexec, 0644), 0);
    for (unsigned i = 0; i < 3; i++) {
        ms_pool_t *p = new_pool(progs[i], NULL, 0, 1);
        ms_task_t t = task(60 + i, "anything", src, src);
        ms_result_t r;

        start(p, &t);
        collect(p, &r, 1);
        assert_int_equal(r.exit_code, 127);
        assert_int_equal(r.term_signal, 0);
        assert_contains(r.message, "cannot run rsync program");
        assert_contains(r.message, progs[i]);
        assert_contains(r.message, why[i]);
        free_results(&r, 1);
        ms_pool_destroy(&p);
    }
}

static void a_refused_task_starts_nothing(void **state)
{
    ms_pool_t *p = new_pool("rsync", NULL, 0, 1);
    ms_task_t bad = task(70, "a/b", "/tmp", "/tmp");
    char src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX];
    /* Mirroring an emptied source folder onto a backup that has files. */
    ms_task_t del = task(71, "proj", at(src, "refuse-src"), at(dst, "refuse-dst"));
    struct pollfd fds[4];
    char err[256] = "";

    (void)state;
    make_dir(src);
    make_dir(at(a, "refuse-src/proj"));
    make_dir(dst);
    make_dir(at(a, "refuse-dst/proj"));
    make_file(at(a, "refuse-dst/proj/kept"), 10, 1);
    del.flags = MS_TASK_DELETE;
    assert_int_equal(ms_pool_start(p, &bad, err, sizeof(err)), -1);
    assert_contains(err, "'/'");
    assert_int_equal(ms_pool_start(p, &del, err, sizeof(err)), -1);
    assert_contains(err, "refusing to mirror deletions");
    assert_int_equal(ms_pool_busy(p), 0);
    assert_int_equal(ms_pool_pollfds(p, fds, 4), 1); /* the signalfd alone */
    assert_true(exists(at(a, "refuse-dst/proj/kept")));
    ms_pool_destroy(&p);
}

/* A project gone since the walk, or a link now: nothing runs, nothing is
 * made in the backup, and the pool says so (the agent reports it vanished). */
static void a_vanished_project_starts_nothing_and_creates_nothing(void **state)
{
    ms_pool_t *p = new_pool("rsync", NULL, 0, 1);
    char src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX], err[512] = "";
    ms_task_t gone = task(72, "gone", at(src, "vanish-src"), at(dst, "vanish-dst"));
    ms_task_t link = task(73, "link", src, dst);

    (void)state;
    make_dir(src);
    assert_int_equal(symlink("/etc", at(a, "vanish-src/link")), 0);
    assert_int_equal(ms_pool_start(p, &gone, err, sizeof(err)), MS_POOL_VANISHED);
    assert_contains(err, "vanish-src/gone is gone since the walk");
    assert_int_equal(ms_pool_start(p, &link, err, sizeof(err)), MS_POOL_VANISHED);
    assert_contains(err, "vanish-src/link is a symbolic link since the walk");
    assert_int_equal(ms_pool_busy(p), 0);
    assert_false(exists(dst));
    ms_pool_destroy(&p);
}

/* A stand-in rsync that reports what it was given on stderr and fails: it
 * runs in the project's source folder and finds the destination folder on
 * descriptor 3, which the message names by its path. */
static void the_child_runs_with_LC_ALL_C_an_empty_mask_and_no_stdin(void **state)
{
    char script[PATH_MAX], src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX], want[2 * PATH_MAX];
    ms_pool_t *p;
    ms_task_t t;
    ms_result_t r;
    char *extra[] = {"--one", "--two"};

    (void)state;
    make_script(at(script, "spy-rsync"),
                "[ -e /proc/$$/fd/4 ] && echo fd4-open >&2\n" /* before any $(...) */
                "echo \"LC_ALL=$LC_ALL\" >&2\n"
                "echo \"stdin=[$(cat)]\" >&2\n"
                "grep SigBlk /proc/self/status >&2\n"
                "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = \"$$\" ] && echo own-group >&2\n"
                "echo \"cwd=$(pwd -P)\" >&2\n"
                "echo \"fd3=$(readlink /proc/$$/fd/3)\" >&2\n"
                "echo \"args=$*\" >&2\n"
                "exit 3");
    make_dir(at(src, "spy-src"));
    make_dir(at(a, "spy-src/proj"));
    p = new_pool(script, extra, 2, 1);
    t = task(80, "proj", src, at(dst, "spy-dst"));
    start(p, &t);
    collect(p, &r, 1);
    assert_int_equal(r.exit_code, 3);
    assert_contains(r.message, "LC_ALL=C\n");
    assert_contains(r.message, "stdin=[]");
    assert_contains(r.message, "SigBlk:\t0000000000000000");
    assert_contains(r.message, "own-group");
    snprintf(want, sizeof want, "cwd=%s/proj\n", src);
    assert_contains(r.message, want);
    snprintf(want, sizeof want, "fd3=%s/proj\n", dst);
    assert_contains(r.message, want);
    assert_null(strstr(r.message, "fd4-open")); /* nothing else of the worker's */
    assert_contains(r.message, "args=-a --stats --mkpath --one --two -- ");
    /* "./ /proc/self/fd/3/", the second named by the folder it stands for */
    snprintf(want, sizeof want, "-- ./ %s/proj/", dst);
    assert_contains(r.message, want);
    assert_int_equal(r.files, 0);
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

static void stats_are_found_after_more_than_64_KiB_of_verbose_output(void **state)
{
    char a[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    char *extra[] = {"-v"};
    ms_pool_t *p = new_pool("rsync", extra, 1, 1);
    ms_task_t t;
    ms_result_t r;
    const unsigned n = 2500; /* ~45 bytes per name: ~110 KiB of file list */

    (void)state;
    make_dir(at(src, "verbose-src"));
    make_dir(at(a, "verbose-src/many"));
    for (unsigned i = 0; i < n; i++)
        make_file(at(a, "verbose-src/many/a-file-with-a-rather-long-name-%05u", i), 1, i);
    t = task(90, "many", src, at(dst, "verbose-dst"));
    start(p, &t);
    collect(p, &r, 1);
    assert_ok(&r, n + 1, n, n);
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

/* A one-slot pool running task id (project "proj" of NAME-src, into
 * NAME-dst) with the shell script body standing in for rsync; timeout_s
 * as the task's. */
static ms_pool_t *start_stand_in(const char *name, const char *body, uint64_t id, double timeout_s)
{
    char script[PATH_MAX], src[PATH_MAX], dir[PATH_MAX], dst[PATH_MAX];
    ms_pool_t *p;
    ms_task_t t;

    make_script(at(script, "%s-rsync", name), body);
    make_dir(at(src, "%s-src", name));
    make_dir(at(dir, "%s-src/proj", name));
    p = new_pool(script, NULL, 0, 1);
    t = task(id, "proj", src, at(dst, "%s-dst", name));
    t.timeout_s = timeout_s;
    start(p, &t);
    return p;
}

/* Drive the pool as the worker does for about secs seconds, no result
 * expected; returns the most descriptors it was asked to poll at once. */
static size_t spin(ms_pool_t *p, double secs)
{
    struct pollfd fds[1 + 2 * MAX_RESULTS];
    double until = now_s() + secs;
    size_t most = 0;
    char err[256] = "";

    while (now_s() < until) {
        size_t n = ms_pool_pollfds(p, fds, sizeof(fds) / sizeof(fds[0]));
        double due = ms_pool_expire(p);

        most = n > most ? n : most;
        if (poll(fds, n, due >= 0 && due < 0.1 ? (int)(due * 1000) + 1 : 100) < 0 && errno != EINTR)
            fail_msg("poll: %s", strerror(errno));
        if (ms_pool_handle(p, fds, n, err, sizeof(err)) < 0)
            fail_msg("ms_pool_handle: %s", err);
    }
    return most;
}

/* rsync writes a progress line per file: the pool must not wake for each.
 * A running child's stdout is not polled (the signalfd and stderr are),
 * yet its progress is read on the pool's clock, and a kill still works. */
static void a_running_childs_stdout_is_read_on_the_clock_not_polled(void **state)
{
    char pidfile[PATH_MAX], data[PATH_MAX], body[3 * PATH_MAX];
    ms_taskref_t ref = {3, 110, 2};
    ms_progress_t prog[2];
    ms_pool_t *p;
    ms_result_t r;

    (void)state;
    at(pidfile, "chatty.pid");
    make_file(at(data, "chatty.data"), 2000000, 7);
    /* A line a file on stdout that claims 3,000,000 bytes (what rsync's
     * --info=progress2 would say, and what an --rsync-opt can add), then it
     * reads 2,000,000 bytes and stays: the bytes done are what it read. */
    snprintf(body, sizeof(body),
             "i=0\n"
             "while [ $i -lt 3000 ]; do i=$((i + 1))\n"
             "  printf '\\r %%9s  50%%%%  1.00MB/s  0:00:01 (xfr#%%d, to-chk=1/9)' \"$i,000\" $i\n"
             "done\n"
             "echo $$ > '%s'\nexec tail -c +1 -f '%s' >/dev/null",
             pidfile, data);
    p = start_stand_in("chatty", body, 110, 0);
    wait_pidfile(pidfile);
    assert_int_equal(spin(p, 0.4), 2); /* the signalfd and stderr: not stdout */
    assert_int_equal(ms_pool_progress(p, prog, 2), 1);
    assert_int_equal(prog[0].task_id, 110);
    /* /proc/PID/io's rchar: the file, and the shell's own few reads. */
    assert_in_range(prog[0].bytes_done, 2000000, 2000000 + 65536);
    assert_int_equal(ms_pool_kill(p, &ref, SIGTERM, "cancelled by the test"), 0);
    collect(p, &r, 1);
    assert_int_equal(r.term_signal, SIGTERM);
    assert_contains(r.message, "cancelled by the test");
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

/* Whether process pid is a zombie: exited, not yet reaped. */
static bool is_zombie(pid_t pid)
{
    char path[64], stat[512];
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((f = fopen(path, "r")) == NULL)
        return false;
    n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *paren = strrchr(stat, ')');
    return paren != NULL && paren[1] == ' ' && paren[2] == 'Z';
}

/* The pool waits for a child only when the SIGCHLD signalfd says one
 * exited: a wake-up for anything else (here poll found nothing ready)
 * leaves even a zombie alone; the signalfd's wake-up that follows reaps
 * it and ends its task at once. */
static void a_childs_exit_is_noticed_through_SIGCHLD_alone(void **state)
{
    char pidfile[PATH_MAX], body[2 * PATH_MAX];
    struct pollfd fds[1 + 2 * MAX_RESULTS];
    ms_taskref_t running[2];
    ms_pool_t *p;
    ms_result_t r;
    char err[256] = "";

    (void)state;
    at(pidfile, "quick.pid");
    snprintf(body, sizeof(body), "echo $$ > '%s'\necho gone >&2\nexit 3", pidfile);
    p = start_stand_in("quick", body, 113, 0);
    pid_t pid = wait_pidfile(pidfile);
    for (double until = now_s() + DEADLINE_S; !is_zombie(pid); usleep(5000))
        if (now_s() > until)
            fail_msg("rsync stand-in %ld never exited", (long)pid);
    size_t n = ms_pool_pollfds(p, fds, sizeof(fds) / sizeof(fds[0]));
    for (size_t i = 0; i < n; i++)
        fds[i].revents = 0; /* woken by something else: the master, the clock */
    assert_int_equal(ms_pool_handle(p, fds, n, err, sizeof(err)), 0);
    assert_int_equal(ms_pool_next_result(p, &r), 0);
    assert_int_equal(ms_pool_running(p, running, 2), 1);
    assert_true(is_zombie(pid));
    double t0 = now_s();
    assert_true(poll(fds, n, 2000) >= 1);
    assert_true(fds[0].revents & POLLIN); /* the signalfd */
    assert_int_equal(ms_pool_handle(p, fds, n, err, sizeof(err)), 0);
    assert_int_equal(ms_pool_next_result(p, &r), 1);
    assert_true(now_s() - t0 < 0.5);
    assert_int_equal(r.exit_code, 3);
    assert_contains(r.message, "gone");
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

/* A task that outlives its timeout_s is stopped by ms_pool_expire, which
 * the owner's loop calls every turn. */
static void a_task_past_its_timeout_is_stopped_and_says_why(void **state)
{
    ms_pool_t *p;
    ms_result_t r;

    (void)state;
    p = start_stand_in("slow", "exec sleep 30", 111, 1);
    collect(p, &r, 1);
    assert_int_equal(r.term_signal, SIGTERM);
    assert_true(r.seconds >= 1 && r.seconds < 5);
    assert_contains(r.message, "timed out after 1 s");
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

static void pool_new_refuses_bad_arguments(void **state)
{
    char err[256] = "";
    char *extra[] = {NULL};

    (void)state;
    assert_null(ms_pool_new("rsync", NULL, 0, 0, err, sizeof(err)));
    assert_contains(err, "slots");
    assert_null(ms_pool_new("", NULL, 0, 1, err, sizeof(err)));
    assert_contains(err, "rsync");
    assert_null(ms_pool_new(NULL, NULL, 0, 1, err, sizeof(err)));
    assert_null(ms_pool_new("rsync", NULL, 1, 1, err, sizeof(err)));
    assert_null(ms_pool_new("rsync", extra, 1, 1, err, sizeof(err)));
    assert_int_equal(ms_pool_busy(NULL), 0);
    assert_int_equal(ms_pool_slots(NULL), 0);
}

/* ---- verify ---------------------------------------------------------------- */

/* A verify task of project (or the top task for "") from T/src to T/dst. */
static ms_task_t verify_task(uint64_t id, const char *project, const char *src, const char *dst)
{
    ms_task_t t = task(id, project, src, dst);

    t.flags |= MS_TASK_VERIFY;
    return t;
}

/* T/vsrc/proj/{f1,f2,sub/f3} copied to T/vdst/proj by the pool, as a run does. */
static void verify_tree(char *src, char *dst)
{
    char a[PATH_MAX];
    ms_pool_t *p = new_pool("rsync", NULL, 0, 1);
    ms_task_t t;
    ms_result_t r;

    make_dir(at(src, "vsrc"));
    make_dir(at(a, "vsrc/proj"));
    make_dir(at(a, "vsrc/proj/sub"));
    make_file(at(a, "vsrc/proj/f1"), 200000, 1);
    make_file(at(a, "vsrc/proj/f2"), 100000, 2);
    make_file(at(a, "vsrc/proj/sub/f3"), 50000, 3);
    t = task(100, "proj", src, at(dst, "vdst"));
    start(p, &t);
    collect(p, &r, 1);
    assert_int_equal(r.exit_code, 0);
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

static ms_result_t run_one(const ms_task_t *t)
{
    ms_pool_t *p = new_pool("rsync", NULL, 0, 1);
    ms_result_t r;

    start(p, t);
    collect(p, &r, 1);
    ms_pool_destroy(&p);
    return r;
}

static void a_verify_of_an_exact_copy_is_ok_and_reads_both_sides_whole(void **state)
{
    char src[PATH_MAX], dst[PATH_MAX];
    ms_task_t t;
    ms_result_t r;

    (void)state;
    verify_tree(src, dst);
    t = verify_task(101, "proj", src, dst);
    r = run_one(&t);
    if (r.exit_code != 0)
        fail_msg("exit %d: %s", r.exit_code, r.message);
    assert_string_equal(r.message, "");
    assert_int_equal(r.files, 5);
    assert_int_equal(r.bytes_total, 350000);
    /* every byte of both sides went through a checksum: what rsync read
     * (from the disk or the page cache, which holds this fresh copy) */
    assert_true(r.read_bytes >= 2 * 350000);
    assert_int_equal(r.write_bytes, 0);
    free_results(&r, 1);
}

static void a_verify_names_a_changed_byte_a_missing_and_an_extra_file(void **state)
{
    char src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    struct stat st;
    ms_task_t t;
    ms_result_t r;
    FILE *f;

    (void)state;
    verify_tree(src, dst);
    /* one byte of f1 changed in the backup, its size and time kept: only a
     * checksum sees it */
    assert_int_equal(stat(at(a, "vdst/proj/f1"), &st), 0);
    assert_non_null(f = fopen(a, "r+b"));
    fseek(f, 1000, SEEK_SET);
    fputc('X', f);
    fclose(f);
    assert_int_equal(utimensat(AT_FDCWD, a, (struct timespec[]){st.st_atim, st.st_mtim}, 0), 0);
    assert_int_equal(unlink(at(a, "vdst/proj/sub/f3")), 0);
    make_file(at(a, "vdst/proj/extra"), 5, 9);
    /* The folders' times as the copy left them (the source's): else they
     * differ too, whenever the changes fall in another second. */
    static const char *const folders[] = {"proj", "proj/sub"};
    for (size_t i = 0; i < 2; i++) {
        char from[PATH_MAX], rel[64];
        snprintf(rel, sizeof rel, "vsrc/%s", folders[i]);
        assert_int_equal(stat(at(from, "%s", rel), &st), 0);
        snprintf(rel, sizeof rel, "vdst/%s", folders[i]);
        assert_int_equal(
            utimensat(AT_FDCWD, at(b, "%s", rel), (struct timespec[]){st.st_atim, st.st_mtim}, 0),
            0);
    }
    t = verify_task(102, "proj", src, dst);
    r = run_one(&t);
    assert_int_equal(r.exit_code, MS_EXIT_DIFFERS);
    assert_int_equal(r.term_signal, 0);
    assert_contains(r.message, "3 paths differ:\n");
    assert_contains(r.message, "*deleting   proj/extra\n");
    assert_contains(r.message, ">f+++++++++ proj/sub/f3\n");
    assert_contains(r.message, ">fc........ proj/f1\n");
    assert_null(strstr(r.message, "f2"));
    /* and nothing was written: the extra file is there, f3 is not */
    assert_true(exists(at(a, "vdst/proj/extra")));
    assert_false(exists(at(b, "vdst/proj/sub/f3")));
    free_results(&r, 1);
}

static void a_verify_finds_a_project_missing_from_the_backup_without_rsync(void **state)
{
    char src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX], err[PATH_MAX] = "";
    ms_pool_t *p = new_pool("rsync", NULL, 0, 1);
    ms_task_t t;

    (void)state;
    make_dir(at(src, "msrc"));
    make_dir(at(a, "msrc/proj"));
    make_dir(at(dst, "mdst"));
    t = verify_task(103, "proj", src, dst);
    assert_int_equal(ms_pool_start(p, &t, err, sizeof(err)), MS_POOL_DIFFERS);
    assert_string_equal(err, "1 path differs:\nproj/: missing from the backup");
    assert_int_equal(ms_pool_busy(p), 0);
    assert_false(exists(at(a, "mdst/proj")));
    /* a missing backup root is no difference but an error, and is not made */
    t = verify_task(104, "proj", src, at(dst, "mdst-none"));
    assert_int_equal(ms_pool_start(p, &t, err, sizeof(err)), -1);
    assert_false(exists(dst));
    ms_pool_destroy(&p);
}

static void a_verify_top_task_names_the_backups_of_projects_gone_from_the_source(void **state)
{
    char src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX];
    ms_task_t t;
    ms_result_t r;

    (void)state;
    verify_tree(src, dst);
    make_dir(at(a, "vdst/gone"));
    make_file(at(a, "vdst/gone/old"), 3, 5);
    t = verify_task(105, "", src, dst);
    r = run_one(&t);
    assert_int_equal(r.exit_code, MS_EXIT_DIFFERS);
    assert_contains(r.message, "*deleting   gone/\n");
    assert_contains(r.message, "*deleting   gone/old\n");
    assert_null(strstr(r.message, "proj")); /* the projects are their tasks' */
    assert_true(exists(at(a, "vdst/gone/old")));
    free_results(&r, 1);
}

/* A verify's itemize lines are counted as they stream: read in big
 * batches, far more of them than its pipe holds, none is lost. */
static void a_verify_counts_every_line_of_output_larger_than_its_pipe(void **state)
{
    char script[PATH_MAX], src[PATH_MAX], dst[PATH_MAX], a[PATH_MAX];
    ms_pool_t *p;
    ms_task_t t;
    ms_result_t r;

    (void)state;
    /* 60,000 lines of ~30 bytes: 1.8 MB, past a 1 MiB pipe */
    make_script(at(script, "differs-rsync"),
                "seq 60000 | sed 's/^/>f+++++++++ dir\\/file/'\n"
                "echo\necho 'Number of files: 60001 (reg: 60000, dir: 1)'\n"
                "echo 'Total file size: 60000 bytes'\n"
                "echo 'Total transferred file size: 60000 bytes'");
    make_dir(at(src, "many-src"));
    make_dir(at(a, "many-src/proj"));
    make_dir(at(dst, "many-dst"));
    make_dir(at(a, "many-dst/proj"));
    p = new_pool(script, NULL, 0, 1);
    t = verify_task(112, "proj", src, dst);
    start(p, &t);
    collect(p, &r, 1);
    assert_int_equal(r.exit_code, MS_EXIT_DIFFERS);
    assert_contains(r.message, "60000 paths differ:\n>f+++++++++ proj/dir/file1\n");
    assert_contains(r.message, ">f+++++++++ proj/dir/file100\n... and 59900 more\n");
    assert_int_equal(r.files, 60001);
    free_results(&r, 1);
    ms_pool_destroy(&p);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(g_root, sizeof(g_root), "/tmp/ms-test-pool-XXXXXX");
    return mkdtemp(g_root) != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pool_runs_at_most_slots_children_and_reports_their_counters),
        cmocka_unit_test(projects_with_a_dash_a_space_or_a_non_utf8_byte_are_copied_intact),
        cmocka_unit_test(a_failing_rsync_gives_its_exit_code_and_error_text),
        cmocka_unit_test(a_top_task_copies_loose_files_and_links_but_not_subfolders),
        cmocka_unit_test(signal_all_sigkill_ends_a_running_task_with_signal_9),
        cmocka_unit_test(destroy_kills_and_reaps_what_still_runs),
        cmocka_unit_test(a_missing_rsync_program_fails_with_127_and_says_why),
        cmocka_unit_test(a_refused_task_starts_nothing),
        cmocka_unit_test(a_vanished_project_starts_nothing_and_creates_nothing),
        cmocka_unit_test(the_child_runs_with_LC_ALL_C_an_empty_mask_and_no_stdin),
        cmocka_unit_test(stats_are_found_after_more_than_64_KiB_of_verbose_output),
        cmocka_unit_test(a_running_childs_stdout_is_read_on_the_clock_not_polled),
        cmocka_unit_test(a_task_past_its_timeout_is_stopped_and_says_why),
        cmocka_unit_test(a_childs_exit_is_noticed_through_SIGCHLD_alone),
        cmocka_unit_test(pool_new_refuses_bad_arguments),
        cmocka_unit_test(a_verify_of_an_exact_copy_is_ok_and_reads_both_sides_whole),
        cmocka_unit_test(a_verify_names_a_changed_byte_a_missing_and_an_extra_file),
        cmocka_unit_test(a_verify_finds_a_project_missing_from_the_backup_without_rsync),
        cmocka_unit_test(a_verify_top_task_names_the_backups_of_projects_gone_from_the_source),
        cmocka_unit_test(a_verify_counts_every_line_of_output_larger_than_its_pipe),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
