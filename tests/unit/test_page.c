/*
 * test_page.c - the status page compiled into the master (ms_page.h): the
 * bytes of master/page/index.html, fetching nothing from anywhere but the
 * master, putting no data into markup, and a Content-Security-Policy that
 * allows its one script by the script's own hash. What the page shows is
 * tested in a real browser: tests/integration/test_page.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_page.h"

#define PAGE_SRC "master/page/index.html"

/* The whole of path (run from the repo root), NUL-terminated; *len bytes. */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (run from the repo root)", path);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    assert_false(ferror(f));
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static void the_page_compiled_in_is_the_html_file_byte_for_byte(void **state)
{
    (void)state;
    size_t len = 0, file_len = 0;
    const char *page = ms_page_html(&len);
    char *file = read_all(PAGE_SRC, &file_len);
    assert_int_equal(len, file_len);
    assert_memory_equal(page, file, len);
    assert_int_equal(page[len], '\0');
    assert_int_equal(strncmp(page, "<!DOCTYPE html>", 15), 0);
    free(file);
}

/* Whether the page has text s in it. */
static int has(const char *s)
{
    size_t len;
    return strstr(ms_page_html(&len), s) != NULL;
}

static void the_page_loads_nothing_from_elsewhere(void **state)
{
    (void)state;
    size_t len;
    const char *page = ms_page_html(&len);
    /* The one URL is SVG's namespace, a name that is never fetched. */
    for (const char *p = page; (p = strstr(p, "http")) != NULL; p++)
        if (strncmp(p, "http-equiv", 10) != 0 &&
            strncmp(p, "http://www.w3.org/2000/svg\"", 27) != 0)
            fail_msg("a URL in the page: %.60s", p);
    assert_false(has("https:"));
    assert_false(has(" src="));
    assert_false(has(" href="));
    assert_false(has("url("));
    assert_false(has("@import"));
    assert_false(has("@font-face"));
    /* Its fetches are relative: the master's own api/. */
    assert_true(has("getJSON(\"api/status\")"));
    assert_true(has("getJSON(\"api/history?n=30\")"));
    assert_true(has("\"api/report/\""));
}

static void no_data_ever_becomes_markup(void **state)
{
    (void)state;
    assert_false(has("innerHTML"));
    assert_false(has("outerHTML"));
    assert_false(has("insertAdjacentHTML"));
    assert_false(has("document.write"));
    assert_false(has("eval("));
    assert_false(has("new Function"));
}

/* The page's one script, between <script> and </script>. */
static void script_of(const char *page, const char **start, size_t *n)
{
    const char *open = strstr(page, "<script>");
    assert_non_null(open);
    *start = open + strlen("<script>");
    const char *close = strstr(*start, "</script>");
    assert_non_null(close);
    assert_null(strstr(close + 1, "<script")); /* one script: the hash allows only it */
    *n = (size_t)(close - *start);
}

static void the_policy_allows_the_pages_script_by_its_hash_and_nothing_else(void **state)
{
    (void)state;
    size_t len, n;
    const char *page = ms_page_html(&len), *script;
    unsigned char digest[crypto_hash_sha256_BYTES];
    char b64[64], want[128];
    assert_true(sodium_init() >= 0);
    script_of(page, &script, &n);
    crypto_hash_sha256(digest, (const unsigned char *)script, n);
    sodium_bin2base64(b64, sizeof b64, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "script-src 'sha256-%s'", b64);
    const char *csp = ms_page_csp();
    if (!strstr(csp, want))
        fail_msg("the page's script changed: its CSP must say %s (it says: %s)", want, csp);
    assert_int_equal(strncmp(csp, "default-src 'none'; connect-src 'self';", 39), 0);
    assert_null(strstr(csp, "unsafe-eval"));
    assert_null(strstr(csp, "script-src 'unsafe-inline'"));
    assert_string_equal(ms_page_csp(), csp); /* the same, kept */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_page_compiled_in_is_the_html_file_byte_for_byte),
        cmocka_unit_test(the_page_loads_nothing_from_elsewhere),
        cmocka_unit_test(no_data_ever_becomes_markup),
        cmocka_unit_test(the_policy_allows_the_pages_script_by_its_hash_and_nothing_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
