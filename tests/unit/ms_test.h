/*
 * ms_test.h - what the unit tests share: a private folder under /tmp and its
 * removal. Header-only: each test binary is one .c file linked with the
 * library. Include after <cmocka.h>.
 */
#ifndef MS_TEST_H
#define MS_TEST_H

#include <ftw.h>
#include <stdio.h>
#include <unistd.h>

/* A new empty folder /tmp/ms-test-NAME.XXXXXX, its path in buf. */
static inline void ms_test_tmpdir(char *buf, size_t len, const char *name)
{
    if ((size_t)snprintf(buf, len, "/tmp/ms-test-%s.XXXXXX", name) >= len)
        fail_msg("ms_test_tmpdir: buffer too small");
    assert_non_null(mkdtemp(buf));
}

static inline int ms_test_rm_entry(const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Remove dir and everything below it (no shell). Returns 0 or -1. */
static inline int ms_test_rmtree(const char *dir)
{
    return nftw(dir, ms_test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
