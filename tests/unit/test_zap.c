/*
 * test_zap.c - the master's ZAP handler and handshake monitor, with real
 * sockets in one context: a CURVE ROUTER on tcp://127.0.0.1, DEALER
 * clients, and the test loop polling ms_zap_handle / ms_monitor_handle the
 * way the master's loop will. "Gets nothing" means no message reaches the
 * server within NOTHING_MS.
 *
 * Keys (generated once): server, alice (listed in the "workers" directory),
 * mallory (not listed).
 */
#include <errno.h>
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
#include "ms_monitor.h"
#include "ms_zap.h"

#define THROUGH_MS 2000 /* deadline for a message that should arrive */
#define NOTHING_MS 300  /* how long a refused client is watched */

static char g_dir[PATH_MAX];  /* mkdtemp'd */
static char g_keys[PATH_MAX]; /* g_dir/keys: NAME.key and NAME.pub */

typedef struct {
    void *ctx;
    ms_zap_t *zap; /* NULL in the tests without a handler */
    ms_monitor_t *mon;
    void *server;
    char ep[256];
    char workers[PATH_MAX]; /* allow-list directory of domain "workers" */
    ms_keypair_t *server_kp;
    void *clients[4];
    size_t n_clients;
    /* what the loop saw */
    int messages;
    char user_id[64];
    int denials;
    ms_zap_denial_t denial;
    int warnings;
    char warning[512];
    int failures_reported;
    ms_monitor_event_t failure;
    char failure_address[128];
} fx_t;

/* --- files ---------------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static const char *path(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n >= PATH_MAX)
        fail_msg("path too long");
    return buf;
}

static void write_file(const char *p, const char *text, mode_t mode)
{
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        fail_msg("cannot write %s: %s", p, strerror(errno));
    chmod(p, mode);
}

/* Copy keys/NAME.pub to dir/AS.pub. */
static void allow(const char *dir, const char *name, const char *as)
{
    char src[PATH_MAX], dst[PATH_MAX], z85[MS_KEY_Z85_SIZE + 1], err[256];
    if (ms_pubkey_load(path(src, "%s/%s.pub", g_keys, name), z85, err, sizeof err) != 0)
        fail_msg("%s", err);
    strcat(z85, "\n");
    write_file(path(dst, "%s/%s.pub", dir, as), z85, 0644);
}

static ms_keypair_t *load_pair(const char *name)
{
    char p[PATH_MAX], err[256];
    ms_keypair_t *kp = ms_keypair_load(path(p, "%s/%s.key", g_keys, name), err, sizeof err);
    if (!kp)
        fail_msg("%s", err);
    return kp;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int group_setup(void **state)
{
    char tmpl[] = "/tmp/test_zap.XXXXXX", base[PATH_MAX], err[256];
    (void)state;
    if (!mkdtemp(tmpl))
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", tmpl);
    path(g_keys, "%s/keys", g_dir);
    if (mkdir(g_keys, 0700) != 0)
        return -1;
    const char *names[] = {"server", "alice", "mallory"};
    for (size_t i = 0; i < 3; i++)
        if (ms_keys_generate(path(base, "%s/%s", g_keys, names[i]), err, sizeof err) != 0)
            return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- hooks ------------------------------------------------------------------------ */

static void on_warning(void *arg, const char *domain, const char *message)
{
    fx_t *fx = arg;
    (void)domain;
    fx->warnings++;
    snprintf(fx->warning, sizeof fx->warning, "%s", message);
}

static void on_denied(void *arg, const ms_zap_denial_t *d)
{
    fx_t *fx = arg;
    fx->denials++;
    fx->denial = *d;
}

static void on_failure(void *arg, const ms_monitor_event_t *ev)
{
    fx_t *fx = arg;
    fx->failures_reported++;
    fx->failure = *ev;
    snprintf(fx->failure_address, sizeof fx->failure_address, "%s", ev->address);
    fx->failure.address = fx->failure_address;
    fx->failure.what = NULL;
}

/* --- sockets ------------------------------------------------------------------------ */

static void set_int(void *sock, int option, int value)
{
    assert_int_equal(zmq_setsockopt(sock, option, &value, sizeof value), 0);
}

/* A ROUTER of fx->ctx on tcp://127.0.0.1:*, a CURVE server in domain
 * "workers" when curve, with ZAP_ENFORCE_DOMAIN when enforce. */
static void bind_server(fx_t *fx, int curve, int enforce)
{
    size_t len = sizeof fx->ep;
    char err[256];

    fx->server = zmq_socket(fx->ctx, ZMQ_ROUTER);
    set_int(fx->server, ZMQ_LINGER, 0);
    if (curve && enforce) {
        assert_int_equal(ms_curve_server(fx->server, fx->server_kp, "workers"), 0);
    } else if (curve) { /* what ms_curve_server did before ZAP_ENFORCE_DOMAIN */
        set_int(fx->server, ZMQ_CURVE_SERVER, 1);
        assert_int_equal(zmq_setsockopt(fx->server, ZMQ_CURVE_SECRETKEY,
                                        ms_keypair_secret(fx->server_kp), MS_KEY_Z85_SIZE),
                         0);
        assert_int_equal(zmq_setsockopt(fx->server, ZMQ_ZAP_DOMAIN, "workers", 7), 0);
    }
    fx->mon = ms_monitor_new(fx->ctx, fx->server, err, sizeof err);
    assert_non_null(fx->mon);
    assert_int_equal(zmq_bind(fx->server, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(fx->server, ZMQ_LAST_ENDPOINT, fx->ep, &len), 0);
}

static void fx_setup_common(fx_t *fx, int with_zap)
{
    char err[256];
    memset(fx, 0, sizeof *fx);
    fx->ctx = zmq_ctx_new();
    fx->server_kp = load_pair("server");
    path(fx->workers, "%s/workers-XXXXXX", g_dir);
    if (!mkdtemp(fx->workers))
        fail_msg("mkdtemp: %s", strerror(errno));
    allow(fx->workers, "alice", "alice");
    if (with_zap) {
        fx->zap = ms_zap_new(fx->ctx, err, sizeof err);
        if (!fx->zap)
            fail_msg("%s", err);
        ms_zap_set_hooks(fx->zap, on_warning, on_denied, fx);
        assert_int_equal(ms_zap_allow_dir(fx->zap, "workers", fx->workers, err, sizeof err), 0);
    }
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx_setup_common(fx, 1);
    bind_server(fx, 1, 1);
    *state = fx;
    return 0;
}

static int setup_without_handler(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    fx_setup_common(fx, 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    for (size_t i = 0; i < fx->n_clients; i++)
        zmq_close(fx->clients[i]);
    ms_monitor_destroy(&fx->mon);
    if (fx->server)
        zmq_close(fx->server);
    ms_zap_destroy(&fx->zap);
    zmq_ctx_term(fx->ctx);
    ms_keypair_destroy(&fx->server_kp);
    nftw(fx->workers, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* A DEALER that connects to the server as name (NULL: no CURVE at all),
 * trusting server_key (NULL: the real one), and sends "hello". */
static void *client(fx_t *fx, const char *name, const char *server_key)
{
    void *c = zmq_socket(fx->ctx, ZMQ_DEALER);
    assert_true(fx->n_clients < sizeof fx->clients / sizeof fx->clients[0]);
    fx->clients[fx->n_clients++] = c;
    set_int(c, ZMQ_LINGER, 0);
    set_int(c, ZMQ_RECONNECT_IVL, 20);
    if (name) {
        ms_keypair_t *kp = load_pair(name);
        char pub[MS_KEY_Z85_SIZE], p[PATH_MAX], err[256];
        if (server_key &&
            ms_pubkey_load(path(p, "%s/%s.pub", g_keys, server_key), pub, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_int_equal(
            ms_curve_client(c, kp, server_key ? pub : ms_keypair_public(fx->server_kp)), 0);
        ms_keypair_destroy(&kp);
    }
    assert_int_equal(zmq_connect(c, fx->ep), 0);
    assert_int_equal(zmq_send(c, "hello", 5, 0), 5);
    return c;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read one whole message from the server: [routing id] [body]. */
static void server_read(fx_t *fx)
{
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&id, fx->server, 0) >= 0);
    assert_true(zmq_msg_recv(&body, fx->server, 0) >= 0);
    const char *uid = zmq_msg_gets(&body, "User-Id");
    snprintf(fx->user_id, sizeof fx->user_id, "%s", uid ? uid : "(none)");
    fx->messages++;
    zmq_msg_close(&body);
    zmq_msg_close(&id);
}

/* Run the owner's loop for up to ms; stop early once a message arrived when
 * until_message. Returns the number of messages the server read. */
static int pump(fx_t *fx, int ms, int until_message)
{
    int64_t end = now_ms() + ms;
    int before = fx->messages;

    while (now_ms() < end && !(until_message && fx->messages > before)) {
        zmq_pollitem_t items[3] = {{fx->server, 0, ZMQ_POLLIN, 0},
                                   {ms_monitor_socket(fx->mon), 0, ZMQ_POLLIN, 0},
                                   {ms_zap_socket(fx->zap), 0, ZMQ_POLLIN, 0}};
        assert_true(zmq_poll(items, fx->zap ? 3 : 2, 10) >= 0);
        if (items[0].revents & ZMQ_POLLIN)
            server_read(fx);
        if (items[1].revents & ZMQ_POLLIN)
            assert_true(ms_monitor_handle(fx->mon, on_failure, fx) >= 0);
        if (fx->zap && (items[2].revents & ZMQ_POLLIN))
            assert_true(ms_zap_handle(fx->zap) >= 0);
    }
    return fx->messages - before;
}

#define assert_gets_through(fx, name)                                                              \
    do {                                                                                           \
        assert_int_equal(pump((fx), THROUGH_MS, 1), 1);                                            \
        assert_string_equal((fx)->user_id, (name));                                                \
    } while (0)
#define assert_gets_nothing(fx) assert_int_equal(pump((fx), NOTHING_MS, 0), 0)

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));                               \
    } while (0)

/* --- who gets in -------------------------------------------------------------------- */

static void test_a_listed_key_gets_through_with_its_name_as_user_id(void **state)
{
    fx_t *fx = *state;
    ms_zap_stats_t st;
    client(fx, "alice", NULL);
    assert_gets_through(fx, "alice");
    ms_zap_stats(fx->zap, &st);
    assert_int_equal(st.allowed, 1);
    assert_int_equal(st.denied, 0);
    assert_null(ms_zap_last_denial(fx->zap));
}

static void test_an_unlisted_key_gets_nothing_and_the_denial_is_reported(void **state)
{
    fx_t *fx = *state;
    char pub[MS_KEY_Z85_SIZE], p[PATH_MAX], err[256];
    ms_zap_stats_t st;
    client(fx, "mallory", NULL);
    assert_gets_nothing(fx);
    assert_true(fx->denials >= 1);
    assert_int_equal(ms_pubkey_load(path(p, "%s/mallory.pub", g_keys), pub, err, sizeof err), 0);
    const ms_zap_denial_t *d = ms_zap_last_denial(fx->zap);
    assert_non_null(d);
    assert_string_equal(d->key, pub);
    assert_string_equal(d->domain, "workers");
    assert_string_equal(d->address, "127.0.0.1");
    assert_string_equal(d->mechanism, "CURVE");
    assert_string_equal(d->reason, "key not allowed");
    assert_string_equal(fx->denial.key, pub);
    ms_zap_stats(fx->zap, &st);
    assert_int_equal(st.denied, (uint64_t)fx->denials);
    assert_int_equal(st.allowed, 0);
}

static void test_with_zap_enforced_and_no_handler_bound_nobody_gets_in(void **state)
{
    fx_t *fx = *state;
    bind_server(fx, 1, 1);
    client(fx, "alice", NULL);
    assert_gets_nothing(fx);
}

/* The control for the test above: the fail-open that ZAP_ENFORCE_DOMAIN closes. */
static void test_without_enforcement_no_handler_lets_any_key_in(void **state)
{
    fx_t *fx = *state;
    bind_server(fx, 1, 0);
    client(fx, "mallory", NULL);
    assert_int_equal(pump(fx, THROUGH_MS, 1), 1);
}

static void test_a_plaintext_client_gets_nothing(void **state)
{
    fx_t *fx = *state;
    client(fx, NULL, NULL);
    assert_gets_nothing(fx);
    assert_int_equal(fx->denials, 0); /* refused before ZAP is asked */
}

static void test_a_client_with_the_wrong_server_key_gets_nothing(void **state)
{
    fx_t *fx = *state;
    client(fx, "alice", "mallory");
    assert_gets_nothing(fx);
}

static void test_reload_after_adding_and_removing_pub_files_changes_who_gets_in(void **state)
{
    fx_t *fx = *state;
    char p[PATH_MAX], err[256];

    allow(fx->workers, "mallory", "hostB");
    assert_int_equal(ms_zap_key_count(fx->zap, "workers"), 1); /* not before a reload */
    assert_int_equal(ms_zap_reload(fx->zap, err, sizeof err), 0);
    assert_int_equal(ms_zap_key_count(fx->zap, "workers"), 2);
    client(fx, "mallory", NULL);
    assert_gets_through(fx, "hostB");

    assert_int_equal(unlink(path(p, "%s/alice.pub", fx->workers)), 0);
    assert_int_equal(ms_zap_reload(fx->zap, err, sizeof err), 0);
    client(fx, "alice", NULL);
    assert_gets_nothing(fx);
    assert_string_equal(ms_zap_last_denial(fx->zap)->reason, "key not allowed");
}

static void test_a_failed_reload_keeps_the_old_lists(void **state)
{
    fx_t *fx = *state;
    char moved[PATH_MAX], err[256];

    assert_int_equal(rename(fx->workers, path(moved, "%s.moved", fx->workers)), 0);
    assert_int_equal(ms_zap_reload(fx->zap, err, sizeof err), -1);
    assert_contains(err, "cannot read key directory");
    assert_int_equal(rename(moved, fx->workers), 0);
    assert_int_equal(ms_zap_key_count(fx->zap, "workers"), 1);
    client(fx, "alice", NULL);
    assert_gets_through(fx, "alice");
}

/* --- the ZAP protocol itself ------------------------------------------------------ */

/* Send frames (n of them, sizes from strlen unless lens) to the handler from
 * a REQ socket, let it answer, and return the status code; *user gets the
 * User-Id. */
static int zap_ask(fx_t *fx, void *req, const char **frames, const size_t *lens, size_t n,
                   char *user, size_t userlen)
{
    char buf[64];
    for (size_t i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(frames[i]);
        assert_int_equal(zmq_send(req, frames[i], len, i + 1 < n ? ZMQ_SNDMORE : 0), (int)len);
    }
    zmq_pollitem_t item = {ms_zap_socket(fx->zap), 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&item, 1, 1000), 1);
    assert_int_equal(ms_zap_handle(fx->zap), 1);
    /* "1.0", request id, status code, status text, user id, metadata */
    int code = 0, more = 1, i = 0;
    size_t more_len = sizeof more;
    for (; more; i++) {
        int len = zmq_recv(req, buf, sizeof buf - 1, 0);
        assert_true(len >= 0);
        buf[len < (int)sizeof buf ? len : (int)sizeof buf - 1] = '\0';
        if (i == 0)
            assert_string_equal(buf, "1.0");
        if (i == 2)
            code = atoi(buf);
        if (i == 4)
            snprintf(user, userlen, "%s", buf);
        zmq_getsockopt(req, ZMQ_RCVMORE, &more, &more_len);
    }
    assert_int_equal(i, 6);
    return code;
}

static void *zap_client(fx_t *fx)
{
    void *req = zmq_socket(fx->ctx, ZMQ_REQ);
    fx->clients[fx->n_clients++] = req;
    set_int(req, ZMQ_LINGER, 0);
    assert_int_equal(zmq_connect(req, MS_ZAP_ENDPOINT), 0);
    return req;
}

static void key_of(const char *name, uint8_t key[32])
{
    char p[PATH_MAX], z85[MS_KEY_Z85_SIZE], err[256];
    assert_int_equal(ms_pubkey_load(path(p, "%s/%s.pub", g_keys, name), z85, err, sizeof err), 0);
    assert_non_null(zmq_z85_decode(key, z85));
}

static void test_a_malformed_zap_request_gets_500_and_the_handler_keeps_working(void **state)
{
    fx_t *fx = *state;
    void *req = zap_client(fx);
    uint8_t alice[32];
    char user[64];
    key_of("alice", alice);

    const char *one[] = {"garbage"};
    assert_int_equal(zap_ask(fx, req, one, NULL, 1, user, sizeof user), 500);
    const char *v2[] = {"2.0", "1", "workers", "127.0.0.1", "", "CURVE", (char *)alice};
    const size_t v2_lens[] = {3, 1, 7, 9, 0, 5, 32};
    assert_int_equal(zap_ask(fx, req, v2, v2_lens, 7, user, sizeof user), 500);
    const size_t short_lens[] = {3, 1, 7, 9, 0, 5, 31};
    v2[0] = "1.0";
    assert_int_equal(zap_ask(fx, req, v2, short_lens, 7, user, sizeof user), 500);
    const char *many[12] = {"1.0", "1", "workers", "a", "", "CURVE", "k", "x", "x", "x", "x", "x"};
    assert_int_equal(zap_ask(fx, req, many, NULL, 12, user, sizeof user), 500);
    ms_zap_stats_t st;
    ms_zap_stats(fx->zap, &st);
    assert_int_equal(st.malformed, 4);

    /* still answering: well-formed, then a real client */
    assert_int_equal(zap_ask(fx, req, v2, v2_lens, 7, user, sizeof user), 200);
    assert_string_equal(user, "alice");
    client(fx, "alice", NULL);
    assert_gets_through(fx, "alice");
}

static void test_other_mechanisms_and_unknown_domains_get_400(void **state)
{
    fx_t *fx = *state;
    void *req = zap_client(fx);
    uint8_t alice[32];
    char user[64];
    key_of("alice", alice);

    const char *null_mech[] = {"1.0", "7", "workers", "10.0.0.9", "", "NULL"};
    assert_int_equal(zap_ask(fx, req, null_mech, NULL, 6, user, sizeof user), 400);
    assert_string_equal(fx->denial.mechanism, "NULL");
    assert_string_equal(fx->denial.address, "10.0.0.9");
    assert_string_equal(fx->denial.key, "");
    const char *plain[] = {"1.0", "8", "workers", "10.0.0.9", "", "PLAIN", "alice", "secret"};
    assert_int_equal(zap_ask(fx, req, plain, NULL, 8, user, sizeof user), 400);
    assert_contains(fx->denial.reason, "CURVE required");
    const char *control[] = {"1.0", "9", "control", "10.0.0.9", "", "CURVE", (char *)alice};
    const size_t lens[] = {3, 1, 7, 8, 0, 5, 32};
    assert_int_equal(zap_ask(fx, req, control, lens, 7, user, sizeof user), 400);
    assert_string_equal(fx->denial.reason, "no allow-list for this ZAP domain");
    assert_string_equal(fx->denial.domain, "control");
    assert_int_equal(fx->denials, 3);
}

static void test_each_domain_has_its_own_list(void **state)
{
    fx_t *fx = *state;
    char admins[PATH_MAX], user[64], err[256];
    uint8_t alice[32], mallory[32];
    key_of("alice", alice);
    key_of("mallory", mallory);
    assert_int_equal(mkdir(path(admins, "%s/admins", g_dir), 0755), 0);
    allow(admins, "mallory", "root@console");
    assert_int_equal(ms_zap_allow_dir(fx->zap, "control", admins, err, sizeof err), 0);

    void *req = zap_client(fx);
    const char *ask[] = {"1.0", "1", "control", "", "", "CURVE", (char *)mallory};
    const size_t lens[] = {3, 1, 7, 0, 0, 5, 32};
    assert_int_equal(zap_ask(fx, req, ask, lens, 7, user, sizeof user), 200);
    assert_string_equal(user, "root@console");
    ask[6] = (char *)alice;
    assert_int_equal(zap_ask(fx, req, ask, lens, 7, user, sizeof user), 400);
    ask[2] = "workers";
    assert_int_equal(zap_ask(fx, req, ask, lens, 7, user, sizeof user), 200);
    assert_string_equal(user, "alice");
    nftw(admins, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- loading --------------------------------------------------------------------- */

static void test_bad_pub_files_are_skipped_with_a_warning(void **state)
{
    fx_t *fx = *state;
    char p[PATH_MAX], err[256];

    write_file(path(p, "%s/garbage.pub", fx->workers), "not a key\n", 0644);
    allow(fx->workers, "mallory", ".hidden");
    allow(fx->workers, "mallory", "two words");
    allow(fx->workers, "alice", "zz-duplicate");
    allow(fx->workers, "mallory", "open");
    chmod(path(p, "%s/open.pub", fx->workers), 0666);
    assert_int_equal(mkdir(path(p, "%s/dir.pub", fx->workers), 0755), 0);
    write_file(path(p, "%s/notes.txt", fx->workers), "ignored\n", 0644);

    fx->warnings = 0;
    assert_int_equal(ms_zap_reload(fx->zap, err, sizeof err), 0);
    assert_int_equal(fx->warnings, 6);
    assert_int_equal(ms_zap_key_count(fx->zap, "workers"), 1);
    client(fx, "alice", NULL);
    assert_gets_through(fx, "alice"); /* not "zz-duplicate" */
    client(fx, "mallory", NULL);
    assert_gets_nothing(fx);
}

static void test_an_empty_directory_is_allowed_with_a_warning(void **state)
{
    fx_t *fx = *state;
    char empty[PATH_MAX], err[256];
    assert_int_equal(mkdir(path(empty, "%s/empty", g_dir), 0755), 0);
    fx->warnings = 0;
    assert_int_equal(ms_zap_allow_dir(fx->zap, "workers", empty, err, sizeof err), 0);
    assert_int_equal(fx->warnings, 1);
    assert_contains(fx->warning, "no valid *.pub file");
    assert_int_equal(ms_zap_key_count(fx->zap, "workers"), 0);
    assert_int_equal(ms_zap_allow_dir(fx->zap, "workers", "/nonexistent", err, sizeof err), -1);
    assert_contains(err, "/nonexistent");
    assert_int_equal(ms_zap_allow_dir(fx->zap, "", empty, err, sizeof err), -1);
    rmdir(empty);
}

static void test_a_second_handler_in_the_same_context_is_refused(void **state)
{
    fx_t *fx = *state;
    char err[256];
    ms_zap_t *z = ms_zap_new(fx->ctx, err, sizeof err);
    assert_null(z);
    assert_contains(err, "inproc://zeromq.zap.01");
    ms_zap_destroy(&z);
    ms_zap_destroy(NULL);
}

/* --- the handshake monitor ----------------------------------------------------------- */

/* libzmq 4.3.4 does not retry a failed handshake: two clients make two. */
static void test_the_monitor_reports_plaintext_clients_once_a_minute(void **state)
{
    fx_t *fx = *state;
    client(fx, NULL, NULL);
    client(fx, NULL, NULL);
    assert_gets_nothing(fx);
    assert_int_equal(ms_monitor_failures(fx->mon), 2);
    assert_int_equal(fx->failures_reported, 1);
    assert_int_equal(fx->failure.event, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert_int_equal(fx->failure.value, ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH);
    assert_string_equal(fx->failure.address, fx->ep); /* 4.3.4: the local endpoint */
}

static void test_the_monitor_reports_a_wrong_server_key_and_a_denied_key(void **state)
{
    fx_t *fx = *state;
    client(fx, "alice", "mallory");
    assert_gets_nothing(fx);
    assert_int_equal(fx->failures_reported, 1);
    assert_int_equal(fx->failure.event, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    assert_int_equal(fx->failure.value, ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC);
    client(fx, "mallory", NULL);
    assert_gets_nothing(fx);
    assert_int_equal(fx->failures_reported, 2); /* another kind: reported too */
    assert_int_equal(fx->failure.event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(fx->failure.value, 400);
}

static void test_recent_reports_a_key_once_per_window_and_counts_the_rest(void **state)
{
    unsigned hidden = 99;
    (void)state;
    ms_recent_t *r = ms_recent_new(2, 60000);
    assert_int_equal(ms_recent_first(r, "a", 0, &hidden), 1);
    assert_int_equal(hidden, 0);
    assert_int_equal(ms_recent_first(r, "a", 1000, &hidden), 0);
    assert_int_equal(ms_recent_first(r, "a", 59999, &hidden), 0);
    assert_int_equal(ms_recent_first(r, "a", 60000, &hidden), 1);
    assert_int_equal(hidden, 2);
    assert_int_equal(ms_recent_first(r, "a", 60001, &hidden), 0);
    /* full: a new key evicts the one reported longest ago */
    assert_int_equal(ms_recent_first(r, "b", 60010, NULL), 1);
    assert_int_equal(ms_recent_first(r, "", 60020, NULL), 1); /* evicts a; "" is a key too */
    assert_int_equal(ms_recent_first(r, "b", 60030, NULL), 0);
    assert_int_equal(ms_recent_first(r, "", 60030, NULL), 0);
    assert_int_equal(ms_recent_first(r, "a", 60040, NULL), 1); /* forgotten: reported again */
    ms_recent_destroy(&r);
    assert_null(r);
    ms_recent_destroy(&r);
    assert_null(ms_recent_new(0, 1));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define T0(name) cmocka_unit_test_setup_teardown(name, setup_without_handler, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_listed_key_gets_through_with_its_name_as_user_id),
        T(test_an_unlisted_key_gets_nothing_and_the_denial_is_reported),
        T0(test_with_zap_enforced_and_no_handler_bound_nobody_gets_in),
        T0(test_without_enforcement_no_handler_lets_any_key_in),
        T(test_a_plaintext_client_gets_nothing),
        T(test_a_client_with_the_wrong_server_key_gets_nothing),
        T(test_reload_after_adding_and_removing_pub_files_changes_who_gets_in),
        T(test_a_failed_reload_keeps_the_old_lists),
        T(test_a_malformed_zap_request_gets_500_and_the_handler_keeps_working),
        T(test_other_mechanisms_and_unknown_domains_get_400),
        T(test_each_domain_has_its_own_list),
        T(test_bad_pub_files_are_skipped_with_a_warning),
        T(test_an_empty_directory_is_allowed_with_a_warning),
        T(test_a_second_handler_in_the_same_context_is_refused),
        T(test_the_monitor_reports_plaintext_clients_once_a_minute),
        T(test_the_monitor_reports_a_wrong_server_key_and_a_denied_key),
        cmocka_unit_test(test_recent_reports_a_key_once_per_window_and_counts_the_rest),
    };
#undef T
#undef T0
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
