#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zmq.h>

#include "ms_err.h"
#include "ms_hmap.h"
#include "ms_keys.h"
#include "ms_zap.h"

/* A ZAP request: version, request id, domain, address, identity, mechanism,
 * then the credentials: none (NULL), one (CURVE), two (PLAIN). */
#define ZAP_MAX_FRAMES 8
#define F_VERSION 0
#define F_REQUEST_ID 1
#define F_DOMAIN 2
#define F_ADDRESS 3
#define F_MECHANISM 5
#define F_KEY 6
#define CURVE_KEY_BYTES 32

typedef struct {
    char *name; /* the file name without ".pub": the User-Id */
    uint8_t key[CURVE_KEY_BYTES];
} zap_key_t;

typedef struct {
    char domain[sizeof(((ms_zap_denial_t *)0)->domain)];
    char *dir;
    zap_key_t *keys;
    size_t n_keys;
    ms_hmap_t *by_name; /* the names, for a check per message from a fleet; NULL: scan */
} zap_list_t;

struct ms_zap {
    void *sock; /* REP on MS_ZAP_ENDPOINT */
    zap_list_t *lists;
    size_t n_lists;
    ms_zap_warning_fn *warning;
    ms_zap_denied_fn *denied;
    void *arg;
    ms_zap_stats_t stats;
    ms_zap_denial_t last;
    int has_last;
};

typedef struct {
    zmq_msg_t f[ZAP_MAX_FRAMES];
    size_t n;
    int too_many;
} zap_request_t;

__attribute__((format(printf, 3, 4))) static void warn(const ms_zap_t *z, const char *domain,
                                                       const char *fmt, ...)
{
    char msg[PATH_MAX + 256];
    va_list ap;

    if (!z->warning)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    z->warning(z->arg, domain, msg);
}

/* --- allow-lists ----------------------------------------------------------------- */

static void list_free(zap_list_t *l)
{
    for (size_t i = 0; i < l->n_keys; i++)
        free(l->keys[i].name);
    free(l->keys);
    free(l->dir);
    ms_hmap_destroy(&l->by_name);
    memset(l, 0, sizeof *l);
}

static void lists_free(zap_list_t *lists, size_t n)
{
    for (size_t i = 0; i < n; i++)
        list_free(&lists[i]);
    free(lists);
}

static int is_pub_file(const struct dirent *d)
{
    size_t len = strlen(d->d_name);
    return len >= 4 && strcmp(d->d_name + len - 4, ".pub") == 0;
}

/* Whether the first len bytes of name make a User-Id: no hidden files, and
 * nothing a log line or a shell would interpret. */
static int valid_key_name(const char *name, size_t len)
{
    if (len == 0 || name[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-", name[i]))
            return 0;
    return 1;
}

static const zap_key_t *find_key(const zap_list_t *l, const uint8_t *key)
{
    for (size_t i = 0; i < l->n_keys; i++)
        if (memcmp(l->keys[i].key, key, CURVE_KEY_BYTES) == 0)
            return &l->keys[i];
    return NULL;
}

static int add_key(zap_list_t *l, const char *name, size_t len, const uint8_t *key)
{
    zap_key_t *keys = realloc(l->keys, (l->n_keys + 1) * sizeof *keys);
    if (!keys)
        return -1;
    l->keys = keys;
    if (!(keys[l->n_keys].name = strndup(name, len)))
        return -1;
    memcpy(keys[l->n_keys].key, key, CURVE_KEY_BYTES);
    if (l->n_keys == 0)
        l->by_name = ms_hmap_new(); /* NULL: names are scanned */
    if (l->by_name && ms_hmap_put(l->by_name, name, len, l) != 0)
        ms_hmap_destroy(&l->by_name);
    l->n_keys++;
    return 0;
}

/* Read dir/file into key, or warn and return -1. */
static int read_pub_file(const ms_zap_t *z, const zap_list_t *l, const char *file, uint8_t *key)
{
    char path[PATH_MAX], z85[MS_KEY_Z85_SIZE], why[PATH_MAX + 128];
    struct stat st;

    if ((size_t)snprintf(path, sizeof path, "%s/%s", l->dir, file) >= sizeof path) {
        warn(z, l->domain, "%s/%s: path too long; skipped", l->dir, file);
        return -1;
    }
    const char *bad = NULL;
    if (stat(path, &st) != 0)
        bad = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        bad = "not a regular file";
    else if (st.st_mode & S_IWOTH)
        bad = "writable by others, so anyone could replace the key";
    if (bad) {
        warn(z, l->domain, "%s: %s; skipped", path, bad);
        return -1;
    }
    if (ms_pubkey_load(path, z85, why, sizeof why) != 0) {
        warn(z, l->domain, "%s; skipped", why);
        return -1;
    }
    zmq_z85_decode(key, z85); /* validated by ms_pubkey_load */
    return 0;
}

/* Add the key of one NAME.pub file to l, unless it is bad (warning). Returns
 * -1 only when out of memory. */
static int load_one(const ms_zap_t *z, zap_list_t *l, const char *file)
{
    size_t len = strlen(file) - 4; /* without ".pub" */
    uint8_t key[CURVE_KEY_BYTES];

    if (!valid_key_name(file, len)) {
        warn(z, l->domain,
             "%s/%s: the name must be made of [A-Za-z0-9._@+-] and not start with "
             "'.'; skipped",
             l->dir, file);
        return 0;
    }
    if (read_pub_file(z, l, file, key) != 0)
        return 0;
    const zap_key_t *dup = find_key(l, key);
    if (dup) {
        warn(z, l->domain, "%s/%s: same key as %s.pub; skipped", l->dir, file, dup->name);
        return 0;
    }
    return add_key(l, file, len, key);
}

/* Fill l->keys from l->dir. Returns 0, or -1 with err set. */
static int load_list(const ms_zap_t *z, zap_list_t *l, char *err, size_t errlen)
{
    struct dirent **names = NULL;
    int rc = 0;

    int n = scandir(l->dir, &names, is_pub_file, alphasort);
    if (n < 0)
        return ms_errf(err, errlen, "cannot read key directory %s: %s", l->dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        if (rc == 0 && load_one(z, l, names[i]->d_name) != 0)
            rc = ms_errf(err, errlen, "out of memory loading %s", l->dir);
        free(names[i]);
    }
    free(names);
    if (rc == 0 && l->n_keys == 0)
        warn(z, l->domain, "no valid *.pub file in %s: no key can connect in domain %s", l->dir,
             l->domain);
    return rc;
}

/* A new list for domain from dir. Returns 0, or -1 with err set and *l freed. */
static int list_load(const ms_zap_t *z, zap_list_t *l, const char *domain, const char *dir,
                     char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    snprintf(l->domain, sizeof l->domain, "%s", domain);
    if (!(l->dir = strdup(dir)))
        return ms_errf(err, errlen, "out of memory");
    if (load_list(z, l, err, errlen) != 0) {
        list_free(l);
        return -1;
    }
    return 0;
}

static zap_list_t *find_list(const ms_zap_t *z, const char *domain, size_t len)
{
    for (size_t i = 0; i < z->n_lists; i++)
        if (strlen(z->lists[i].domain) == len && memcmp(z->lists[i].domain, domain, len) == 0)
            return &z->lists[i];
    return NULL;
}

int ms_zap_allow_dir(ms_zap_t *z, const char *domain, const char *dir, char *err, size_t errlen)
{
    zap_list_t fresh;

    if (!z || !domain || !*domain || strlen(domain) >= sizeof fresh.domain || !dir || !*dir)
        return ms_errf(err, errlen, "ZAP domain (1 to %zu bytes) and key directory required",
                       sizeof fresh.domain - 1);
    if (list_load(z, &fresh, domain, dir, err, errlen) != 0)
        return -1;
    zap_list_t *old = find_list(z, domain, strlen(domain));
    if (old) {
        list_free(old);
        *old = fresh;
        return 0;
    }
    zap_list_t *lists = realloc(z->lists, (z->n_lists + 1) * sizeof *lists);
    if (!lists) {
        list_free(&fresh);
        return ms_errf(err, errlen, "out of memory");
    }
    z->lists = lists;
    lists[z->n_lists++] = fresh;
    return 0;
}

int ms_zap_reload(ms_zap_t *z, char *err, size_t errlen)
{
    zap_list_t *fresh = calloc(z->n_lists ? z->n_lists : 1, sizeof *fresh);

    if (!fresh)
        return ms_errf(err, errlen, "out of memory");
    for (size_t i = 0; i < z->n_lists; i++) {
        if (list_load(z, &fresh[i], z->lists[i].domain, z->lists[i].dir, err, errlen) != 0) {
            lists_free(fresh, i);
            return -1;
        }
    }
    lists_free(z->lists, z->n_lists);
    z->lists = fresh;
    return 0;
}

int ms_zap_allows_name(const ms_zap_t *z, const char *domain, const char *name)
{
    const zap_list_t *l = z && domain ? find_list(z, domain, strlen(domain)) : NULL;
    if (l && name && l->by_name)
        return ms_hmap_get(l->by_name, name, strlen(name)) != NULL;
    for (size_t i = 0; l && name && i < l->n_keys; i++)
        if (strcmp(l->keys[i].name, name) == 0)
            return 1;
    return 0;
}

size_t ms_zap_key_count(const ms_zap_t *z, const char *domain)
{
    const zap_list_t *l = z && domain ? find_list(z, domain, strlen(domain)) : NULL;
    return l ? l->n_keys : 0;
}

/* --- requests and replies ------------------------------------------------------ */

/* Receive one whole request. Returns 1, 0 when none is pending, -1 on error.
 * Frames past ZAP_MAX_FRAMES are read and dropped (too_many). */
static int request_recv(void *sock, zap_request_t *r)
{
    zmq_msg_t extra;
    int more = 1;

    r->n = 0;
    r->too_many = 0;
    while (more) {
        zmq_msg_t *m = r->n < ZAP_MAX_FRAMES ? &r->f[r->n] : &extra;
        zmq_msg_init(m);
        /* The parts of a message arrive together: only the first may be missing. */
        if (zmq_msg_recv(m, sock, r->n == 0 && !r->too_many ? ZMQ_DONTWAIT : 0) < 0) {
            int none = r->n == 0 && !r->too_many && errno == EAGAIN;
            zmq_msg_close(m);
            return none ? 0 : -1;
        }
        more = zmq_msg_more(m);
        if (m == &extra) {
            r->too_many = 1;
            zmq_msg_close(m);
        } else {
            r->n++;
        }
    }
    return 1;
}

static void request_close(zap_request_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        zmq_msg_close(&r->f[i]);
    r->n = 0;
}

static int frame_is(zap_request_t *r, size_t i, const char *s)
{
    return i < r->n && zmq_msg_size(&r->f[i]) == strlen(s) &&
           memcmp(zmq_msg_data(&r->f[i]), s, strlen(s)) == 0;
}

/* Copy frame i as printable text into dst. */
static void frame_text(zap_request_t *r, size_t i, char *dst, size_t size)
{
    size_t len = i < r->n ? zmq_msg_size(&r->f[i]) : 0;
    const unsigned char *p = len ? zmq_msg_data(&r->f[i]) : NULL;

    if (len > size - 1)
        len = size - 1;
    for (size_t k = 0; k < len; k++)
        dst[k] = (char)(p[k] >= 0x20 && p[k] < 0x7f ? p[k] : '?');
    dst[len] = '\0';
}

static int reply(void *sock, zap_request_t *r, const char *code, const char *text,
                 const char *user_id)
{
    const int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    size_t id_len = r->n > F_REQUEST_ID ? zmq_msg_size(&r->f[F_REQUEST_ID]) : 0;
    const void *id = id_len ? zmq_msg_data(&r->f[F_REQUEST_ID]) : "";

    if (zmq_send(sock, "1.0", 3, more) < 0 || zmq_send(sock, id, id_len, more) < 0 ||
        zmq_send(sock, code, strlen(code), more) < 0 ||
        zmq_send(sock, text, strlen(text), more) < 0 ||
        zmq_send(sock, user_id, strlen(user_id), more) < 0 ||
        zmq_send(sock, "", 0, ZMQ_DONTWAIT) < 0) /* metadata: none */
        return -1;
    return 0;
}

static int deny(ms_zap_t *z, zap_request_t *r, const char *reason)
{
    ms_zap_denial_t *d = &z->last;

    memset(d, 0, sizeof *d);
    frame_text(r, F_DOMAIN, d->domain, sizeof d->domain);
    frame_text(r, F_ADDRESS, d->address, sizeof d->address);
    frame_text(r, F_MECHANISM, d->mechanism, sizeof d->mechanism);
    if (frame_is(r, F_MECHANISM, "CURVE") && r->n > F_KEY &&
        zmq_msg_size(&r->f[F_KEY]) == CURVE_KEY_BYTES)
        zmq_z85_encode(d->key, zmq_msg_data(&r->f[F_KEY]), CURVE_KEY_BYTES);
    d->reason = reason;
    z->has_last = 1;
    z->stats.denied++;
    if (z->denied)
        z->denied(z->arg, d);
    return reply(z->sock, r, "400", reason, "");
}

static int answer(ms_zap_t *z, zap_request_t *r)
{
    if (r->too_many || r->n < F_MECHANISM + 1 || !frame_is(r, F_VERSION, "1.0")) {
        z->stats.malformed++;
        return reply(z->sock, r, "500", "malformed ZAP request", "");
    }
    if (!frame_is(r, F_MECHANISM, "CURVE"))
        return deny(z, r, "mechanism not allowed (CURVE required)");
    if (r->n != F_KEY + 1 || zmq_msg_size(&r->f[F_KEY]) != CURVE_KEY_BYTES) {
        z->stats.malformed++;
        return reply(z->sock, r, "500", "malformed CURVE credentials", "");
    }
    const zap_list_t *l =
        find_list(z, zmq_msg_data(&r->f[F_DOMAIN]), zmq_msg_size(&r->f[F_DOMAIN]));
    if (!l)
        return deny(z, r, "no allow-list for this ZAP domain");
    const zap_key_t *k = find_key(l, zmq_msg_data(&r->f[F_KEY]));
    if (!k)
        return deny(z, r, "key not allowed");
    z->stats.allowed++;
    return reply(z->sock, r, "200", "OK", k->name);
}

int ms_zap_handle(ms_zap_t *z)
{
    zap_request_t r;
    int answered = 0;

    for (;;) {
        int rc = request_recv(z->sock, &r);
        if (rc <= 0)
            return rc == 0 ? answered : -1;
        rc = answer(z, &r);
        request_close(&r);
        if (rc != 0)
            return -1;
        answered++;
    }
}

/* --- lifecycle ------------------------------------------------------------------- */

ms_zap_t *ms_zap_new(void *zmq_ctx, char *err, size_t errlen)
{
    int linger = 0;
    ms_zap_t *z = calloc(1, sizeof *z);

    if (!z) {
        ms_errf(err, errlen, "out of memory");
        return NULL;
    }
    if (!(z->sock = zmq_socket(zmq_ctx, ZMQ_REP)) ||
        zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(z->sock, MS_ZAP_ENDPOINT) != 0) {
        ms_errf(err, errlen, "cannot bind the ZAP handler on %s: %s", MS_ZAP_ENDPOINT,
                zmq_strerror(errno));
        ms_zap_destroy(&z);
    }
    return z;
}

void ms_zap_set_hooks(ms_zap_t *z, ms_zap_warning_fn *warning, ms_zap_denied_fn *denied, void *arg)
{
    z->warning = warning;
    z->denied = denied;
    z->arg = arg;
}

void *ms_zap_socket(ms_zap_t *z)
{
    return z ? z->sock : NULL;
}

void ms_zap_stats(const ms_zap_t *z, ms_zap_stats_t *out)
{
    if (z)
        *out = z->stats;
    else
        memset(out, 0, sizeof *out);
}

const ms_zap_denial_t *ms_zap_last_denial(const ms_zap_t *z)
{
    return z && z->has_last ? &z->last : NULL;
}

void ms_zap_destroy(ms_zap_t **zp)
{
    if (!zp || !*zp)
        return;
    ms_zap_t *z = *zp;
    if (z->sock)
        zmq_close(z->sock);
    lists_free(z->lists, z->n_lists);
    free(z);
    *zp = NULL;
}
