/*
 * test_keys.c - CURVE key files (generate, load, refuse) and the socket
 * helpers, ending with a real CURVE handshake over ipc:// authorised by
 * ms_zap.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "ms_keys.h"
#include "ms_zap.h"

/* A valid Z85 secret key text (from zmq_curve_keypair). */
#define SAMPLE_SECRET "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"

static char g_dir[PATH_MAX];

__attribute__((format(printf, 2, 3))) static const char *at(char *buf, const char *fmt, ...)
{
    char rel[PATH_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    if (snprintf(buf, PATH_MAX, "%s/%s", g_dir, rel) >= PATH_MAX)
        fail_msg("path too long: %s", rel);
    return buf;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    if (chmod(path, mode) != 0)
        fail_msg("chmod %s: %s", path, strerror(errno));
}

static void read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return st.st_mode & 07777;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup_dir(void **state)
{
    char tmpl[] = "/tmp/test_keys.XXXXXX";
    (void)state;
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", tmpl);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    return nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                               \
    } while (0)

/* --- generating ------------------------------------------------------------------ */

static void test_generate_writes_a_0600_secret_and_a_0644_public_key(void **state)
{
    char base[PATH_MAX], p[PATH_MAX], text[128], err[256];
    (void)state;
    mode_t old = umask(077); /* the public key must stay readable anyway */
    int rc = ms_keys_generate(at(base, "gen"), err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(mode_of(at(p, "gen.key")), 0600);
    assert_int_equal(mode_of(at(p, "gen.pub")), 0644);
    read_file(at(p, "gen.key"), text, sizeof text);
    assert_int_equal(strlen(text), 41);
    assert_int_equal(text[40], '\n');
    text[40] = '\0';
    assert_true(ms_key_z85_valid(text));
    read_file(at(p, "gen.pub"), text, sizeof text);
    assert_int_equal(strlen(text), 41);
}

static void test_generate_refuses_to_overwrite_an_existing_secret_key(void **state)
{
    char base[PATH_MAX], p[PATH_MAX], text[128], err[256];
    (void)state;
    write_file(at(p, "old.key"), "precious\n", 0600);
    assert_int_equal(ms_keys_generate(at(base, "old"), err, sizeof err), -1);
    assert_contains(err, "refusing to overwrite");
    assert_contains(err, "old.key");
    read_file(at(p, "old.key"), text, sizeof text);
    assert_string_equal(text, "precious\n");
    assert_false(exists(at(p, "old.pub")));
}

static void test_generate_refuses_when_the_public_key_exists(void **state)
{
    char base[PATH_MAX], p[PATH_MAX], err[256];
    (void)state;
    write_file(at(p, "half.pub"), "x\n", 0644);
    assert_int_equal(ms_keys_generate(at(base, "half"), err, sizeof err), -1);
    assert_contains(err, "refusing to overwrite");
    assert_contains(err, "half.pub");
    assert_false(exists(at(p, "half.key")));
}

static void test_generate_into_a_missing_directory_leaves_nothing(void **state)
{
    char base[PATH_MAX], err[256];
    (void)state;
    assert_int_equal(ms_keys_generate(at(base, "no/such/dir/k"), err, sizeof err), -1);
    assert_contains(err, "cannot create");
    assert_int_equal(ms_keys_generate("", err, sizeof err), -1);
}

/* --- loading --------------------------------------------------------------------- */

static void test_a_generated_key_loads_and_its_public_key_matches_the_pub_file(void **state)
{
    char base[PATH_MAX], p[PATH_MAX], text[128], pub[MS_KEY_Z85_SIZE], err[256];
    (void)state;
    assert_int_equal(ms_keys_generate(at(base, "pair"), err, sizeof err), 0);
    ms_keypair_t *kp = ms_keypair_load(at(p, "pair.key"), err, sizeof err);
    assert_non_null(kp);
    assert_int_equal(ms_pubkey_load(at(p, "pair.pub"), pub, err, sizeof err), 0);
    assert_string_equal(ms_keypair_public(kp), pub);
    read_file(at(p, "pair.key"), text, sizeof text);
    text[40] = '\0';
    assert_string_equal(ms_keypair_secret(kp), text);
    ms_keypair_destroy(&kp);
    assert_null(kp);
    ms_keypair_destroy(&kp);
    ms_keypair_destroy(NULL);
}

static void test_a_secret_key_open_to_group_or_others_is_refused(void **state)
{
    const mode_t modes[] = {0640, 0604, 0620, 0602, 0644, 0660};
    char p[PATH_MAX], want[PATH_MAX + 64], err[512];
    (void)state;
    at(p, "open.key");
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_file(p, SAMPLE_SECRET "\n", modes[i]);
        assert_null(ms_keypair_load(p, err, sizeof err));
        snprintf(want, sizeof want, "permissions %04o for %s are too open", (unsigned)modes[i], p);
        assert_contains(err, want);
    }
    chmod(p, 0400);
    ms_keypair_t *kp = ms_keypair_load(p, err, sizeof err);
    assert_non_null(kp);
    ms_keypair_destroy(&kp);
}

static void test_malformed_secret_keys_are_refused_without_quoting_them(void **state)
{
    static const char *bad[] = {
        "",                                           /* empty */
        "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%c\n",  /* 39: truncated */
        SAMPLE_SECRET "x\n",                          /* 41 */
        "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%c~\n", /* '~' is not Z85 */
        " " SAMPLE_SECRET "\n",                       /* leading space */
        SAMPLE_SECRET "\n" SAMPLE_SECRET "\n",        /* two keys */
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",      /* garbage */
    };
    char p[PATH_MAX], err[512];
    (void)state;
    at(p, "bad.key");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(p, bad[i], 0600);
        if (ms_keypair_load(p, err, sizeof err))
            fail_msg("case %zu was accepted", i);
        assert_contains(err, "is not a CURVE secret key");
        assert_null(strstr(err, "D:)Q[IlAW"));
    }
}

static void test_trailing_whitespace_after_a_key_is_accepted(void **state)
{
    const char *ok[] = {SAMPLE_SECRET, SAMPLE_SECRET "\r\n", SAMPLE_SECRET "  \t\n\n"};
    char p[PATH_MAX], err[256];
    (void)state;
    at(p, "ws.key");
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        write_file(p, ok[i], 0600);
        ms_keypair_t *kp = ms_keypair_load(p, err, sizeof err);
        if (!kp)
            fail_msg("case %zu: %s", i, err);
        assert_string_equal(ms_keypair_secret(kp), SAMPLE_SECRET);
        ms_keypair_destroy(&kp);
    }
}

static void test_an_oversized_missing_or_non_regular_key_file_is_refused(void **state)
{
    char p[PATH_MAX], big[1024], err[512];
    (void)state;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(at(p, "big.key"), big, 0600);
    assert_null(ms_keypair_load(p, err, sizeof err));
    assert_contains(err, "too large");
    assert_null(ms_keypair_load(at(p, "missing.key"), err, sizeof err));
    assert_contains(err, "No such file or directory");
    assert_null(ms_keypair_load(g_dir, err, sizeof err));
    assert_contains(err, "not a regular file");
    assert_int_equal(mkfifo(at(p, "fifo.key"), 0600), 0);
    assert_null(ms_keypair_load(p, err, sizeof err)); /* and does not hang */
}

static void test_a_public_key_file_is_validated(void **state)
{
    char p[PATH_MAX], out[MS_KEY_Z85_SIZE], err[512];
    (void)state;
    write_file(at(p, "x.pub"), "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", 0644);
    assert_int_equal(ms_pubkey_load(p, out, err, sizeof err), 0);
    assert_string_equal(out, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    write_file(p, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\n", 0644);
    assert_int_equal(ms_pubkey_load(p, out, err, sizeof err), -1);
    assert_contains(err, "is not a CURVE public key");
    write_file(p, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf\"\n", 0644);
    assert_int_equal(ms_pubkey_load(p, out, err, sizeof err), -1);
    assert_contains(err, "invalid Z85");
}

static void test_z85_key_validation(void **state)
{
    (void)state;
    assert_true(ms_key_z85_valid(SAMPLE_SECRET));
    assert_false(ms_key_z85_valid(NULL));
    assert_false(ms_key_z85_valid(""));
    assert_false(ms_key_z85_valid(SAMPLE_SECRET "0"));
    assert_false(ms_key_z85_valid("D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%c_"));
}

/* --- sockets ------------------------------------------------------------------------ */

static ms_keypair_t *new_pair(const char *name, const char *dir)
{
    char base[PATH_MAX], p[PATH_MAX + 8], err[256];
    snprintf(base, sizeof base, "%s/%s", dir, name);
    if (ms_keys_generate(base, err, sizeof err) != 0)
        fail_msg("%s", err);
    snprintf(p, sizeof p, "%s.key", base);
    ms_keypair_t *kp = ms_keypair_load(p, err, sizeof err);
    if (!kp)
        fail_msg("%s", err);
    return kp;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Poll the ZAP handler and sock until a message arrives on sock (into buf,
 * returns its size) or timeout_ms passes (-1). */
static int pump_recv(ms_zap_t *z, void *sock, zmq_msg_t *msg, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (now_ms() < end) {
        zmq_pollitem_t items[] = {{ms_zap_socket(z), 0, ZMQ_POLLIN, 0}, {sock, 0, ZMQ_POLLIN, 0}};
        assert_true(zmq_poll(items, 2, 20) >= 0);
        if (items[0].revents & ZMQ_POLLIN)
            assert_true(ms_zap_handle(z) >= 0);
        if ((items[1].revents & ZMQ_POLLIN) && zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) >= 0)
            return (int)zmq_msg_size(msg);
    }
    return -1;
}

static void test_the_helpers_make_a_curve_handshake_authorised_by_zap(void **state)
{
    char dir[PATH_MAX], ep[PATH_MAX + 16], err[256];
    int linger = 0;
    (void)state;
    mkdir(at(dir, "authorized"), 0755);
    ms_keypair_t *server_kp = new_pair("server", g_dir);
    ms_keypair_t *client_kp = new_pair("hostA", dir);
    void *ctx = zmq_ctx_new();
    ms_zap_t *z = ms_zap_new(ctx, err, sizeof err);
    assert_non_null(z);
    assert_int_equal(ms_zap_allow_dir(z, "workers", dir, err, sizeof err), 0);

    void *server = zmq_socket(ctx, ZMQ_ROUTER), *client = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(server, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(client, ZMQ_LINGER, &linger, sizeof linger);
    snprintf(ep, sizeof ep, "ipc://%s/s.ipc", g_dir);
    assert_int_equal(ms_curve_server(server, server_kp, "workers"), 0);
    assert_int_equal(zmq_bind(server, ep), 0);
    assert_int_equal(ms_curve_client(client, client_kp, ms_keypair_public(server_kp)), 0);
    assert_int_equal(zmq_connect(client, ep), 0);
    ms_keypair_destroy(&client_kp); /* libzmq holds its own copy */

    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    assert_int_equal(zmq_send(client, "ping", 4, 0), 4);
    assert_true(pump_recv(z, server, &id, 2000) > 0);
    assert_int_equal(zmq_msg_recv(&body, server, 0), 4);
    assert_memory_equal(zmq_msg_data(&body), "ping", 4);
    assert_string_equal(zmq_msg_gets(&body, "User-Id"), "hostA");
    /* and back */
    assert_true(zmq_msg_send(&id, server, ZMQ_SNDMORE) >= 0);
    assert_int_equal(zmq_send(server, "pong", 4, 0), 4);
    char reply[8];
    assert_int_equal(zmq_recv(client, reply, sizeof reply, 0), 4);
    assert_memory_equal(reply, "pong", 4);

    zmq_msg_close(&body);
    zmq_msg_close(&id);
    zmq_close(client);
    zmq_close(server);
    ms_zap_destroy(&z);
    zmq_ctx_term(ctx);
    ms_keypair_destroy(&server_kp);
}

static void test_the_helpers_refuse_bad_arguments(void **state)
{
    char p[PATH_MAX], err[256];
    (void)state;
    write_file(at(p, "arg.key"), SAMPLE_SECRET "\n", 0600);
    ms_keypair_t *kp = ms_keypair_load(p, err, sizeof err);
    assert_non_null(kp);
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    errno = 0;
    assert_int_equal(ms_curve_client(s, kp, "not a key"), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(ms_curve_client(s, NULL, ms_keypair_public(kp)), -1);
    assert_int_equal(ms_curve_server(s, kp, ""), -1);
    assert_int_equal(ms_curve_server(NULL, kp, "workers"), -1);
    assert_null(ms_keypair_public(NULL));
    zmq_close(s);
    zmq_ctx_term(ctx);
    ms_keypair_destroy(&kp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_writes_a_0600_secret_and_a_0644_public_key),
        cmocka_unit_test(test_generate_refuses_to_overwrite_an_existing_secret_key),
        cmocka_unit_test(test_generate_refuses_when_the_public_key_exists),
        cmocka_unit_test(test_generate_into_a_missing_directory_leaves_nothing),
        cmocka_unit_test(test_a_generated_key_loads_and_its_public_key_matches_the_pub_file),
        cmocka_unit_test(test_a_secret_key_open_to_group_or_others_is_refused),
        cmocka_unit_test(test_malformed_secret_keys_are_refused_without_quoting_them),
        cmocka_unit_test(test_trailing_whitespace_after_a_key_is_accepted),
        cmocka_unit_test(test_an_oversized_missing_or_non_regular_key_file_is_refused),
        cmocka_unit_test(test_a_public_key_file_is_validated),
        cmocka_unit_test(test_z85_key_validation),
        cmocka_unit_test(test_the_helpers_make_a_curve_handshake_authorised_by_zap),
        cmocka_unit_test(test_the_helpers_refuse_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
