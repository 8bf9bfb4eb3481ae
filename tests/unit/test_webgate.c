/*
 * test_webgate.c - ms_webgate: the HTTP listener's address is parsed
 * strictly and known as loopback or not; off this host it needs TLS and a
 * password; the password file is refused when others may read it; only
 * "admin" with the right password passes the Basic check. No sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "ms_test.h"
#include "ms_webgate.h"

static void addresses_parse_and_know_loopback(void **state)
{
    (void)state;
    ms_webgate_addr_t a;
    char err[256];
    struct {
        const char *listen;
        int ipv6, loopback;
    } ok[] = {{"127.0.0.1:9469", 0, 1}, {"127.1.2.3:1", 0, 1},    {"[::1]:9469", 1, 1},
              {"0.0.0.0:9469", 0, 0},   {"10.0.0.5:65535", 0, 0}, {"[::]:80", 1, 0},
              {"[fe80::1]:8080", 1, 0}, {"128.0.0.1:80", 0, 0}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(ms_webgate_parse(ok[i].listen, &a, err, sizeof err), 0);
        assert_int_equal(a.ipv6, ok[i].ipv6);
        assert_int_equal(a.loopback, ok[i].loopback);
    }
    const char *bad[] = {"",
                         "127.0.0.1",
                         "127.0.0.1:",
                         "127.0.0.1:0",
                         "127.0.0.1:65536",
                         "localhost:9469",
                         "::1:9469",
                         "[::1]",
                         "[::1:9469",
                         "127.0.0.1:94x9",
                         "[127.0.0.1]:80",
                         ":9469",
                         "127.0.0.1:+80",
                         NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(ms_webgate_parse(bad[i], &a, err, sizeof err), -1);
        assert_non_null(strstr(err, "HTTP listen address"));
    }
}

static void off_host_needs_tls_and_a_password(void **state)
{
    (void)state;
    ms_webgate_addr_t lo, any;
    char err[512];
    assert_int_equal(ms_webgate_parse("127.0.0.1:9469", &lo, err, sizeof err), 0);
    assert_int_equal(ms_webgate_parse("0.0.0.0:9469", &any, err, sizeof err), 0);
    assert_int_equal(ms_webgate_allowed(&lo, "127.0.0.1:9469", 0, 0, 0, err, sizeof err), 0);
    assert_int_equal(ms_webgate_allowed(&any, "0.0.0.0:9469", 1, 1, 1, err, sizeof err), 0);
    assert_int_equal(ms_webgate_allowed(&any, "0.0.0.0:9469", 0, 0, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a loopback address"));
    assert_int_equal(ms_webgate_allowed(&any, "0.0.0.0:9469", 1, 1, 0, err, sizeof err), -1);
    assert_int_equal(ms_webgate_allowed(&any, "0.0.0.0:9469", 0, 0, 1, err, sizeof err), -1);
    assert_int_equal(ms_webgate_allowed(&lo, "127.0.0.1:9469", 1, 0, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "--http-key"));
}

typedef struct {
    char dir[64], file[128];
} fx_t;

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    ms_test_tmpdir(fx->dir, sizeof fx->dir, "webgate");
    snprintf(fx->file, sizeof fx->file, "%s/password", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    ms_test_rmtree(fx->dir);
    free(fx);
    return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* "Basic " and the base64 of text. */
static const char *basic(const char *text, char *out, size_t outlen)
{
    strcpy(out, "Basic ");
    sodium_bin2base64(out + 6, outlen - 6, (const unsigned char *)text, strlen(text),
                      sodium_base64_VARIANT_ORIGINAL);
    return out;
}

static void a_password_file_others_may_read_is_refused(void **state)
{
    fx_t *fx = *state;
    char err[512];
    write_file(fx->file, "s3cret\n", 0640);
    assert_null(ms_webgate_load(fx->file, err, sizeof err));
    assert_non_null(strstr(err, "too open"));
    assert_null(strstr(err, "s3cret"));
    write_file(fx->file, "\n", 0600);
    assert_null(ms_webgate_load(fx->file, err, sizeof err));
    assert_non_null(strstr(err, "empty"));
    snprintf(err, sizeof err, "%s/none", fx->dir);
    assert_null(ms_webgate_load(err, err, sizeof err));
}

static void only_admin_with_the_password_passes(void **state)
{
    fx_t *fx = *state;
    char err[512], h[256];
    write_file(fx->file, "s3cret pass\nsecond line ignored\n", 0600);
    ms_webgate_t *g = ms_webgate_load(fx->file, err, sizeof err);
    assert_non_null(g);
    assert_true(ms_webgate_check(g, basic("admin:s3cret pass", h, sizeof h)));
    memcpy(h, "basic ", 6); /* the scheme is case-insensitive */
    assert_true(ms_webgate_check(g, h));
    assert_false(ms_webgate_check(g, basic("admin:s3cret pas", h, sizeof h)));
    assert_false(ms_webgate_check(g, basic("admin:s3cret pass\n", h, sizeof h)));
    assert_false(ms_webgate_check(g, basic("root:s3cret pass", h, sizeof h)));
    assert_false(ms_webgate_check(g, basic("s3cret pass", h, sizeof h)));
    assert_false(ms_webgate_check(g, basic("", h, sizeof h)));
    assert_false(ms_webgate_check(g, NULL));
    assert_false(ms_webgate_check(g, ""));
    assert_false(ms_webgate_check(g, "Basic"));
    assert_false(ms_webgate_check(g, "Basic !!!!"));
    assert_false(ms_webgate_check(g, "Bearer YWRtaW46czNjcmV0IHBhc3M="));
    assert_false(ms_webgate_check(NULL, basic("admin:s3cret pass", h, sizeof h)));
    ms_webgate_destroy(&g);
    assert_null(g);
    ms_webgate_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addresses_parse_and_know_loopback),
        cmocka_unit_test(off_host_needs_tls_and_a_password),
        cmocka_unit_test_setup_teardown(a_password_file_others_may_read_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(only_admin_with_the_password_passes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
