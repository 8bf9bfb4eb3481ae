/*
 * test_part.c - the label of a task's part of its project, as the master
 * and the worker both write it: a chunk by its first entry and how many
 * more, the rest of a split project, a whole project.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ms_part.h"

static void a_chunk_is_its_folder_its_first_entry_and_how_many_more(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(ms_part_label("big", "a", 3, 0, out, sizeof out), "big/a +2");
    assert_string_equal(ms_part_label("big/deep", "a", 1, 0, out, sizeof out), "big/deep/a");
    assert_string_equal(ms_part_label("", "a", 2, 0, out, sizeof out), "a +1");
    assert_string_equal(ms_part_label(NULL, "[a-m]*", 1, 0, out, sizeof out), "[a-m]*");
}

static void the_rest_is_rest_and_a_whole_project_has_no_label(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(ms_part_label(NULL, NULL, 0, 1, out, sizeof out), "rest");
    assert_string_equal(ms_part_label("", NULL, 0, 0, out, sizeof out), "");
}

static void a_label_longer_than_its_buffer_is_cut(void **state)
{
    (void)state;
    char out[8];
    assert_string_equal(ms_part_label("folder", "entry", 1, 0, out, sizeof out), "folder/");
    assert_string_equal(ms_part_label("ab", "cd", 100, 0, out, sizeof out), "ab/cd +");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_chunk_is_its_folder_its_first_entry_and_how_many_more),
        cmocka_unit_test(the_rest_is_rest_and_a_whole_project_has_no_label),
        cmocka_unit_test(a_label_longer_than_its_buffer_is_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
