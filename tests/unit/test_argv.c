/*
 * Hook command lines: a config value split into an argv as documented
 * (ms_argv.h), refused clearly when a quote is left open, and quoted back
 * for the log so that it splits into the same words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_argv.h"

/* line must split into the n words of want. */
static void assert_words(const char *line, const char *const *want, size_t n)
{
    ms_strv_t v = MS_STRV_INIT;
    char err[256] = "";
    if (ms_argv_split(line, &v, err, sizeof err) != 0)
        fail_msg("'%s' refused: %s", line, err);
    if (v.n != n)
        fail_msg("'%s': %zu words, want %zu", line, v.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v.v[i], want[i]);
    if (n)
        assert_null(v.v[n]);
    ms_strv_clear(&v);
}

#define WORDS(line, ...)                                                                           \
    do {                                                                                           \
        const char *w_[] = {__VA_ARGS__};                                                          \
        assert_words(line, w_, sizeof w_ / sizeof w_[0]);                                          \
    } while (0)

static void assert_refused(const char *line, const char *want)
{
    ms_strv_t v = MS_STRV_INIT;
    char err[256] = "";
    assert_int_equal(ms_strv_push(&v, "kept"), 0);
    if (ms_argv_split(line, &v, err, sizeof err) != -1)
        fail_msg("'%s' split, want '%s'", line, want);
    if (!strstr(err, want))
        fail_msg("'%s': got '%s', want '%s'", line, err, want);
    assert_int_equal(v.n, 1); /* what it held before, and only that */
    assert_string_equal(v.v[0], "kept");
    assert_null(v.v[1]);
    ms_strv_clear(&v);
}

static void blanks_separate_words_however_many(void **state)
{
    (void)state;
    WORDS("/bin/echo a b", "/bin/echo", "a", "b");
    WORDS("  /bin/echo\t a  \t b  ", "/bin/echo", "a", "b");
    WORDS("/usr/bin/x", "/usr/bin/x");
}

static void quotes_group_words_and_touching_parts_join(void **state)
{
    (void)state;
    WORDS("/bin/x 'a b' \"c  d\"", "/bin/x", "a b", "c  d");
    WORDS("/bin/x a\"b c\"d 'e'f", "/bin/x", "ab cd", "ef");
    WORDS("/bin/x '' \"\" ''\"\"", "/bin/x", "", "", "");
    WORDS("/bin/x \"it's\" 'say \"hi\"'", "/bin/x", "it's", "say \"hi\"");
}

static void
backslashes_escape_outside_quotes_and_only_quote_or_backslash_in_double_quotes(void **state)
{
    (void)state;
    WORDS("/bin/x a\\ b \\'c \\\\", "/bin/x", "a b", "'c", "\\");
    WORDS("/bin/x \"a\\\"b\" \"c\\\\d\" \"e\\nf\"", "/bin/x", "a\"b", "c\\d", "e\\nf");
    WORDS("/bin/x 'a\\b'", "/bin/x", "a\\b"); /* single quotes: as it is */
}

static void nothing_a_shell_would_expand_is_special(void **state)
{
    (void)state;
    WORDS("/bin/x $HOME *.sql >out ; rm -rf / | cat `id` ~", "/bin/x", "$HOME", "*.sql", ">out",
          ";", "rm", "-rf", "/", "|", "cat", "`id`", "~");
    WORDS("/bin/sh -c 'pg_dump db > /data/db.sql'", "/bin/sh", "-c", "pg_dump db > /data/db.sql");
}

static void an_empty_line_has_no_words(void **state)
{
    ms_strv_t v = MS_STRV_INIT;
    char err[64];
    (void)state;
    assert_int_equal(ms_argv_split("", &v, err, sizeof err), 0);
    assert_int_equal(ms_argv_split(" \t ", &v, err, sizeof err), 0);
    assert_int_equal(v.n, 0);
}

static void an_open_quote_or_a_last_backslash_is_refused_with_where(void **state)
{
    (void)state;
    assert_refused("/bin/x 'a b", "unbalanced single quote (opened at column 8)");
    assert_refused("/bin/x \"a b", "unbalanced double quote (opened at column 8)");
    assert_refused("/bin/x \"a\\\"", "unbalanced double quote");
    assert_refused("/bin/x ok 'a\"b", "unbalanced single quote");
    assert_refused("/bin/x a\\", "a backslash ends the line");
}

/* argv quoted for the log splits back into argv. */
static void assert_round_trip(char *const *argv)
{
    char line[512], err[128];
    ms_strv_t v = MS_STRV_INIT;
    ms_argv_quote(argv, line, sizeof line);
    if (ms_argv_split(line, &v, err, sizeof err) != 0)
        fail_msg("'%s' refused: %s", line, err);
    for (size_t i = 0; argv[i]; i++) {
        assert_true(i < v.n);
        assert_string_equal(v.v[i], argv[i]);
    }
    ms_strv_clear(&v);
}

static void a_quoted_argv_splits_back_into_the_same_words(void **state)
{
    char out[256];
    char *plain[] = {"/bin/echo", "a", "b=c", NULL};
    char *odd[] = {"/bin/x", "a b", "", "it's", "say \"hi\"", "$HOME", "back\\slash", NULL};
    (void)state;
    assert_string_equal(ms_argv_quote(plain, out, sizeof out), "/bin/echo a b=c");
    assert_string_equal(ms_argv_quote(odd, out, sizeof out),
                        "/bin/x 'a b' '' 'it'\\''s' 'say \"hi\"' '$HOME' 'back\\slash'");
    assert_round_trip(plain);
    assert_round_trip(odd);
}

static void a_quoted_argv_too_long_is_cut_with_dots(void **state)
{
    char out[12];
    char *argv[] = {"/usr/local/bin/something", "long", NULL};
    (void)state;
    ms_argv_quote(argv, out, sizeof out);
    assert_true(strlen(out) < sizeof out);
    assert_non_null(strstr(out, "..."));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blanks_separate_words_however_many),
        cmocka_unit_test(quotes_group_words_and_touching_parts_join),
        cmocka_unit_test(
            backslashes_escape_outside_quotes_and_only_quote_or_backslash_in_double_quotes),
        cmocka_unit_test(nothing_a_shell_would_expand_is_special),
        cmocka_unit_test(an_empty_line_has_no_words),
        cmocka_unit_test(an_open_quote_or_a_last_backslash_is_refused_with_where),
        cmocka_unit_test(a_quoted_argv_splits_back_into_the_same_words),
        cmocka_unit_test(a_quoted_argv_too_long_is_cut_with_dots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
