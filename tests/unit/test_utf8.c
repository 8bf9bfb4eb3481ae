/*
 * test_utf8.c - names made valid UTF-8 for the report's JSON: what is valid
 * stays byte for byte, every other byte becomes "\xNN", and a name cut to
 * fit is never cut inside a character.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ms_utf8.h"

static const char *clean(const char *s)
{
    static char out[256];
    return ms_utf8_clean(s, out, sizeof out);
}

static void valid_utf8_is_kept_as_it_is(void **state)
{
    (void)state;
    assert_string_equal(clean(""), "");
    assert_string_equal(clean("alpha beta-1"), "alpha beta-1");
    /* 2, 3 and 4 bytes: é, €, U+10FFFF (the last code point) */
    assert_string_equal(clean("caf\xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf"),
                        "caf\xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf");
}

static void each_invalid_byte_becomes_backslash_x(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out, *why;
    } cases[] = {
        {"a\xff-", "a\\xff-", "never valid"},
        {"\x80", "\\x80", "a stray continuation byte"},
        {"\xc0\x80", "\\xc0\\x80", "an overlong NUL"},
        {"\xe0\x80\xaf", "\\xe0\\x80\\xaf", "an overlong '/'"},
        {"\xed\xa0\x80", "\\xed\\xa0\\x80", "a surrogate"},
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", "over U+10FFFF"},
        {"x\xe2\x82", "x\\xe2\\x82", "a sequence cut by the end"},
        {"\xe2\x82x", "\\xe2\\x82x", "a sequence cut by an ASCII byte"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(clean(cases[i].in), cases[i].out) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].why, clean(cases[i].in), cases[i].out);
    }
}

static void a_long_name_is_cut_between_characters(void **state)
{
    (void)state;
    char out[8];
    /* Room for 7 bytes and the NUL, but a character starts only while 5
     * bytes are left: "ab" and one 4-byte character fit, not two. */
    assert_string_equal(ms_utf8_clean("ab\xf0\x9f\x98\x80\xf0\x9f\x98\x80", out, sizeof out),
                        "ab\xf0\x9f\x98\x80");
    assert_string_equal(ms_utf8_clean("\xff\xff\xff", out, sizeof out), "\\xff");
    char tiny[1];
    assert_string_equal(ms_utf8_clean("abc", tiny, sizeof tiny), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_utf8_is_kept_as_it_is),
        cmocka_unit_test(each_invalid_byte_becomes_backslash_x),
        cmocka_unit_test(a_long_name_is_cut_between_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
