/*
 * test_fp.c - fingerprints of entries and trees (ms_fp.h): every field
 * rsync -a -H carries over moves an entry's, a tree's is a sum that no
 * walk order changes and from which a subtree subtracts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ms_fp.h"

static struct stat base(void)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_mode = S_IFREG | 0644;
    st.st_size = 1000;
    st.st_ino = 77;
    st.st_uid = 1000;
    st.st_gid = 1000;
    st.st_mtim.tv_sec = 1796609700;
    st.st_mtim.tv_nsec = 5;
    st.st_ctim = st.st_mtim;
    return st;
}

static void each_carried_field_moves_the_fingerprint(void **state)
{
    (void)state;
    struct stat st = base();
    ms_fp_t ref = ms_fp_entry("a/b", &st, NULL, 0);
    assert_true(ms_fp_equal(ref, ms_fp_entry("a/b", &st, NULL, 0)));
    struct stat v[9];
    for (int i = 0; i < 9; i++)
        v[i] = base();
    v[0].st_size = 1001;
    v[1].st_mtim.tv_nsec = 6; /* a nanosecond */
    v[2].st_ctim.tv_sec += 1; /* an xattr, an ACL, a new hard link */
    v[3].st_mode = S_IFREG | 0600;
    v[4].st_uid = 0;
    v[5].st_gid = 0;
    v[6].st_ino = 78;
    v[7].st_mode = S_IFDIR | 0644; /* the type */
    v[8].st_rdev = 0x0801;
    for (int i = 0; i < 9; i++)
        assert_false(ms_fp_equal(ref, ms_fp_entry("a/b", &v[i], NULL, 0)));
    assert_false(ms_fp_equal(ref, ms_fp_entry("a/c", &st, NULL, 0))); /* a rename */
    struct stat lnk = base();
    lnk.st_mode = S_IFLNK | 0777;
    assert_false(ms_fp_equal(ms_fp_entry("l", &lnk, "x", 1), ms_fp_entry("l", &lnk, "y", 1)));
}

static void a_tree_is_a_sum_in_any_order_and_a_subtree_subtracts(void **state)
{
    (void)state;
    struct stat st = base();
    ms_fp_t e1 = ms_fp_entry("", &st, NULL, 0), e2 = ms_fp_entry("x", &st, NULL, 0),
            e3 = ms_fp_entry("x/y", &st, NULL, 0);
    ms_fp_t s1 = {0}, s2 = {0};
    ms_fp_add(&s1, e1);
    ms_fp_add(&s1, e2);
    ms_fp_add(&s1, e3);
    ms_fp_add(&s2, e3);
    ms_fp_add(&s2, e1);
    ms_fp_add(&s2, e2);
    assert_true(ms_fp_equal(s1, s2));
    ms_fp_sub(&s1, e2);
    ms_fp_sub(&s1, e3); /* the project less its chunk "x" */
    assert_true(ms_fp_equal(s1, e1));
    char hex[MS_FP_HEX];
    ms_fp_t back;
    ms_fp_hex(s2, hex);
    assert_int_equal(strlen(hex), 32);
    assert_int_equal(ms_fp_parse(hex, &back), 0);
    assert_true(ms_fp_equal(back, s2));
    assert_int_equal(ms_fp_parse("0x0000000000000000000000000000000", &back), -1);
    assert_int_equal(ms_fp_parse("short", &back), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_carried_field_moves_the_fingerprint),
        cmocka_unit_test(a_tree_is_a_sum_in_any_order_and_a_subtree_subtracts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
