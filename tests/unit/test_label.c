/*
 * test_label.c - how the master names a task in its logs, in `status` and
 * in the report: a project, the top task, a chunk of a split project (by
 * entries or by name patterns) and the rest of one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ms_label.h"

static void a_whole_project_is_named_by_its_folder_and_the_top_task_by_a_dot(void **state)
{
    (void)state;
    char part[64], name[128];
    ms_trec_t t = {.project = "alpha"};
    assert_string_equal(ms_label_part(&t, part, sizeof part), "");
    assert_string_equal(ms_label_task(&t, name, sizeof name), "alpha");
    ms_trec_t top = {.project = "", .flags = MS_TASK_TOP};
    assert_string_equal(ms_label_task(&top, name, sizeof name), ".");
    assert_string_equal(ms_label_project(""), ".");
    assert_string_equal(ms_label_project("beta"), "beta");
}

static void a_chunk_names_its_first_entry_and_how_many_more(void **state)
{
    (void)state;
    char part[64], name[128];
    char *items[] = {"a", "b", "c"};
    ms_trec_t chunk = {.project = "alpha", .sub = "big", .items = items, .n_items = 3};
    assert_string_equal(ms_label_part(&chunk, part, sizeof part), "big/a +2");
    assert_string_equal(ms_label_task(&chunk, name, sizeof name), "alpha [big/a +2]");
    ms_trec_t one = {.project = "alpha", .items = items, .n_items = 1}; /* sub NULL: "" */
    assert_string_equal(ms_label_part(&one, part, sizeof part), "a");
    char *match[] = {"[a-m]*", "[n-z]*"};
    ms_trec_t names = {.project = "alpha", .sub = "many", .match = match, .n_match = 2};
    assert_string_equal(ms_label_task(&names, name, sizeof name), "alpha [many/[a-m]* +1]");
}

static void the_rest_of_a_split_project_is_named_rest(void **state)
{
    (void)state;
    char name[128];
    char *excl[] = {"big/a"};
    ms_trec_t rest = {.project = "alpha", .excl = excl, .n_excl = 1, .n_chunks = 4};
    assert_string_equal(ms_label_task(&rest, name, sizeof name), "alpha [rest]");
}

static void a_log_label_shows_control_bytes_as_hex(void **state)
{
    (void)state;
    char name[128];
    ms_trec_t t = {.project = "evil\n\x1b[2J"};
    assert_string_equal(ms_label_task_log(&t, name, sizeof name), "evil\\x0a\\x1b[2J");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_whole_project_is_named_by_its_folder_and_the_top_task_by_a_dot),
        cmocka_unit_test(a_chunk_names_its_first_entry_and_how_many_more),
        cmocka_unit_test(the_rest_of_a_split_project_is_named_rest),
        cmocka_unit_test(a_log_label_shows_control_bytes_as_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
