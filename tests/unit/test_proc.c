/*
 * test_proc.c - /proc/<pid>/io: parsing a captured file and reading live
 * processes, including a zombie (the pool reads rsync's counters there).
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ms_proc.h"

#define WRITE_SIZE (1024 * 1024)

static char *read_fixture(const char *name)
{
    const char *dir = getenv("MS_FIXTURES");
    char path[PATH_MAX], *buf;
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir != NULL ? dir : "tests/fixtures", name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open fixture %s (run from the repo root or set MS_FIXTURES)", path);
    buf = calloc(1, 4096);
    assert_non_null(buf);
    n = fread(buf, 1, 4095, f);
    assert_true(n > 0);
    fclose(f);
    return buf;
}

/* Write WRITE_SIZE bytes to /dev/null in chunks. */
static void write_to_null(void)
{
    static char chunk[65536];
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    for (size_t done = 0; done < WRITE_SIZE; done += sizeof(chunk))
        assert_int_equal(write(fd, chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
    close(fd);
}

static void parse_io_reads_a_captured_file(void **state)
{
    char *text = read_fixture("proc-io-dd-5M.txt"); /* sh after dd wrote 5 MiB */
    ms_proc_io_t io;

    (void)state;
    assert_int_equal(ms_proc_parse_io(text, &io), 0);
    assert_int_equal(io.rchar, 5253836);
    assert_int_equal(io.wchar, 5242974);
    assert_int_equal(io.read_bytes, 90112);
    assert_int_equal(io.write_bytes, 5255168);
    free(text);
}

static void parse_io_refuses_missing_or_bad_fields(void **state)
{
    const char *bad[] = {
        "",
        "hello\n",
        "rchar: 1\nwchar: 2\nread_bytes: 3\n",                   /* no write_bytes */
        "rchar: 1\nwchar: x\nread_bytes: 3\nwrite_bytes: 4\n",   /* not a number */
        "rchar: -1\nwchar: 2\nread_bytes: 3\nwrite_bytes: 4\n",  /* negative */
        "rchar: 1\nwchar: 2\nread_bytes: 3\nwrite_bytes: 4kB\n", /* trailing junk */
        "rchar: 18446744073709551616\nwchar: 2\nread_bytes: 3\nwrite_bytes: 4\n", /* > 2^64-1 */
    };
    ms_proc_io_t io = {1, 2, 3, 4};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(ms_proc_parse_io(bad[i], &io), -1);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(io.rchar, 1); /* untouched on failure */
}

static void parse_io_takes_fields_in_any_order_without_a_final_newline(void **state)
{
    const char *text = "write_bytes: 4\ncancelled_write_bytes: 9\nsyscr: 8\nread_bytes: 3\n"
                       "wchar: 2\nrchar: 18446744073709551615";
    ms_proc_io_t io;

    (void)state;
    assert_int_equal(ms_proc_parse_io(text, &io), 0);
    assert_true(io.rchar == UINT64_MAX);
    assert_int_equal(io.wchar, 2);
    assert_int_equal(io.read_bytes, 3);
    assert_int_equal(io.write_bytes, 4);
}

static void read_io_of_self_counts_what_we_just_wrote(void **state)
{
    ms_proc_io_t before, after;

    (void)state;
    assert_int_equal(ms_proc_read_io(getpid(), &before), 0);
    write_to_null();
    assert_int_equal(ms_proc_read_io(getpid(), &after), 0);
    assert_true(after.wchar >= before.wchar + WRITE_SIZE);
    assert_true(after.rchar > before.rchar); /* reading /proc/self/io counts too */
}

/*
 * The pool's case: rsync's receiver is a grandchild. Once reaped by the
 * child, its counters belong to the child, and they can still be read
 * while the child is an unreaped zombie.
 */
static void read_io_of_a_zombie_includes_the_children_it_reaped(void **state)
{
    siginfo_t si;
    ms_proc_io_t io;
    pid_t pid = fork();

    (void)state;
    assert_true(pid >= 0);
    if (pid == 0) {
        pid_t grandchild = fork();

        if (grandchild == 0) {
            write_to_null();
            _exit(0);
        }
        waitpid(grandchild, NULL, 0);
        _exit(0);
    }
    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(si.si_pid, pid);
    assert_int_equal(ms_proc_read_io(pid, &io), 0);
    assert_true(io.wchar >= WRITE_SIZE);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void read_io_of_a_process_that_is_gone_fails_with_ENOENT(void **state)
{
    ms_proc_io_t io;
    pid_t pid = fork();

    (void)state;
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    errno = 0;
    assert_int_equal(ms_proc_read_io(pid, &io), -1);
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_io_reads_a_captured_file),
        cmocka_unit_test(parse_io_refuses_missing_or_bad_fields),
        cmocka_unit_test(parse_io_takes_fields_in_any_order_without_a_final_newline),
        cmocka_unit_test(read_io_of_self_counts_what_we_just_wrote),
        cmocka_unit_test(read_io_of_a_zombie_includes_the_children_it_reaped),
        cmocka_unit_test(read_io_of_a_process_that_is_gone_fails_with_ENOENT),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
