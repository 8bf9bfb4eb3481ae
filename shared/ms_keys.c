#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "ms_err.h"
#include "ms_keys.h"

/* A key file is one line; anything larger is not a key file. */
#define KEY_FILE_MAX 256

struct ms_keypair {
    char public_z85[MS_KEY_Z85_SIZE];
    char *secret_z85; /* sodium_malloc'd, MS_KEY_Z85_SIZE, read-only once filled */
};

/* --- reading and checking key text ----------------------------------------- */

int ms_key_z85_valid(const char *s)
{
    uint8_t bin[32];

    if (!s || strnlen(s, MS_KEY_Z85_SIZE) != MS_KEY_Z85_LEN)
        return 0;
    int ok = zmq_z85_decode(bin, s) != NULL;
    sodium_memzero(bin, sizeof bin); /* s may be a secret key */
    return ok;
}

/* Read the whole of fd (a regular file) into buf, NUL-terminated; fail when
 * it holds more than size - 1 bytes. */
static int read_small(int fd, const char *path, char *buf, size_t size, char *err, size_t errlen)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = read(fd, buf + len, size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ms_errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == size)
            return ms_errf(err, errlen, "%s is too large: more than %zu bytes", path, size - 1);
    }
    buf[len] = '\0';
    return 0;
}

/* Check that buf holds one Z85 key, optionally followed by whitespace, and
 * cut the whitespace. Never quotes the text: it may be a secret. */
static int parse_key_text(char *buf, const char *path, const char *what, char *err, size_t errlen)
{
    size_t len = strlen(buf);

    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t'))
        buf[--len] = '\0';
    if (len != MS_KEY_Z85_LEN)
        return ms_errf(err, errlen,
                       "%s is not a CURVE %s key: expected %d Z85 characters, found %zu", path,
                       what, MS_KEY_Z85_LEN, len);
    if (!ms_key_z85_valid(buf))
        return ms_errf(err, errlen, "%s is not a CURVE %s key: invalid Z85 text", path, what);
    return 0;
}

static int open_regular(const char *path, struct stat *st, char *err, size_t errlen)
{
    /* O_NONBLOCK: opening a FIFO planted in place of a key must not hang. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        ms_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) != 0) {
        int saved = errno;
        close(fd);
        ms_errf(err, errlen, "cannot stat %s: %s", path, strerror(saved));
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        ms_errf(err, errlen, "%s is not a regular file", path);
        return -1;
    }
    return fd;
}

/* The rules ssh applies to private keys. */
static int check_secret_mode(const struct stat *st, const char *path, char *err, size_t errlen)
{
    uid_t me = geteuid();

    if (st->st_uid != me && st->st_uid != 0)
        return ms_errf(err, errlen, "%s is owned by uid %u, not by this user (uid %u) or root",
                       path, (unsigned)st->st_uid, (unsigned)me);
    if (st->st_mode & 077)
        return ms_errf(err, errlen,
                       "permissions %04o for %s are too open: a secret must not be accessible "
                       "by group or others (chmod 600 %s)",
                       (unsigned)(st->st_mode & 07777), path, path);
    return 0;
}

/* --- loading ------------------------------------------------------------------ */

static ms_keypair_t *keypair_from_secret(const char *secret, const char *path, char *err,
                                         size_t errlen)
{
    ms_keypair_t *kp = calloc(1, sizeof *kp);

    if (!kp || !(kp->secret_z85 = sodium_malloc(MS_KEY_Z85_SIZE))) {
        ms_errf(err, errlen, "out of memory loading %s", path);
        goto fail;
    }
    memcpy(kp->secret_z85, secret, MS_KEY_Z85_SIZE);
    if (zmq_curve_public(kp->public_z85, kp->secret_z85) != 0) {
        ms_errf(err, errlen, "cannot derive the public key of %s: %s", path, zmq_strerror(errno));
        goto fail;
    }
    if (sodium_mprotect_readonly(kp->secret_z85) != 0) {
        ms_errf(err, errlen, "cannot protect the key of %s: %s", path, strerror(errno));
        goto fail;
    }
    return kp;
fail:
    ms_keypair_destroy(&kp);
    return NULL;
}

int ms_secret_file_read(const char *path, char *buf, size_t size, char *err, size_t errlen)
{
    struct stat st;
    int fd = open_regular(path, &st, err, errlen);
    if (fd < 0)
        return -1;
    int rc = check_secret_mode(&st, path, err, errlen) == 0 &&
                     read_small(fd, path, buf, size, err, errlen) == 0
                 ? 0
                 : -1;
    close(fd);
    return rc;
}

ms_keypair_t *ms_keypair_load(const char *secret_path, char *err, size_t errlen)
{
    ms_keypair_t *kp = NULL;
    char *buf = NULL;

    if (sodium_init() < 0) {
        ms_errf(err, errlen, "cannot initialise libsodium");
        goto out;
    }
    if (!(buf = sodium_malloc(KEY_FILE_MAX + 1))) {
        ms_errf(err, errlen, "out of memory loading %s", secret_path);
        goto out;
    }
    if (ms_secret_file_read(secret_path, buf, KEY_FILE_MAX + 1, err, errlen) != 0 ||
        parse_key_text(buf, secret_path, "secret", err, errlen) != 0)
        goto out;
    kp = keypair_from_secret(buf, secret_path, err, errlen);
out:
    sodium_free(buf); /* wipes; accepts NULL */
    return kp;
}

const char *ms_keypair_public(const ms_keypair_t *kp)
{
    return kp ? kp->public_z85 : NULL;
}

const char *ms_keypair_secret(const ms_keypair_t *kp)
{
    return kp ? kp->secret_z85 : NULL;
}

void ms_keypair_destroy(ms_keypair_t **kpp)
{
    if (!kpp || !*kpp)
        return;
    sodium_free((*kpp)->secret_z85); /* makes it writable, wipes, unmaps */
    free(*kpp);
    *kpp = NULL;
}

int ms_pubkey_load(const char *path, char out[MS_KEY_Z85_SIZE], char *err, size_t errlen)
{
    char buf[KEY_FILE_MAX + 1];
    struct stat st;
    int rc = -1;

    int fd = open_regular(path, &st, err, errlen);
    if (fd < 0)
        return -1;
    if (read_small(fd, path, buf, sizeof buf, err, errlen) == 0 &&
        parse_key_text(buf, path, "public", err, errlen) == 0) {
        memcpy(out, buf, MS_KEY_Z85_SIZE);
        rc = 0;
    }
    close(fd);
    return rc;
}

/* --- generating ------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Create path (never an existing file), write "z85\n", fsync. *created is set
 * as soon as the file exists, so the caller can remove it on a later error. */
static int write_key_file(const char *path, const char *z85, mode_t mode, int *created, char *err,
                          size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 && errno == EEXIST)
        return ms_errf(err, errlen, "refusing to overwrite %s", path);
    if (fd < 0)
        return ms_errf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    *created = 1;
    /* fchmod: the umask must not make a public key unreadable or, for the
     * secret, anything but 0600 (O_CREAT's mode can only lose bits). */
    if (fchmod(fd, mode) != 0 || write_all(fd, z85, MS_KEY_Z85_LEN) != 0 ||
        write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
        int saved = errno;
        close(fd);
        return ms_errf(err, errlen, "cannot write %s: %s", path, strerror(saved));
    }
    if (close(fd) != 0)
        return ms_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int key_paths(const char *base, char *key, char *pub, size_t size, char *err, size_t errlen)
{
    if (!base || !*base)
        return ms_errf(err, errlen, "no key file name given");
    if ((size_t)snprintf(key, size, "%s.key", base) >= size ||
        (size_t)snprintf(pub, size, "%s.pub", base) >= size)
        return ms_errf(err, errlen, "key file name too long: %s", base);
    return 0;
}

static int refuse_existing(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) == 0)
        return ms_errf(err, errlen, "refusing to overwrite %s", path);
    if (errno != ENOENT)
        return ms_errf(err, errlen, "cannot check %s: %s", path, strerror(errno));
    return 0;
}

int ms_keys_generate(const char *base, char *err, size_t errlen)
{
    char key_path[PATH_MAX], pub_path[PATH_MAX], pub[MS_KEY_Z85_SIZE];
    char *secret = NULL;
    int key_created = 0, pub_created = 0, rc = -1;

    if (!zmq_has("curve"))
        return ms_errf(err, errlen,
                       "this libzmq has no CURVE support (zmq_has(\"curve\") is "
                       "false): install a libzmq built with libsodium");
    if (key_paths(base, key_path, pub_path, sizeof key_path, err, errlen) != 0 ||
        refuse_existing(pub_path, err, errlen) != 0)
        return -1;
    if (sodium_init() < 0 || !(secret = sodium_malloc(MS_KEY_Z85_SIZE))) {
        ms_errf(err, errlen, "cannot allocate guarded memory for the secret key");
        goto out;
    }
    if (zmq_curve_keypair(pub, secret) != 0) {
        ms_errf(err, errlen, "cannot generate a key pair: %s", zmq_strerror(errno));
        goto out;
    }
    if (write_key_file(key_path, secret, 0600, &key_created, err, errlen) != 0)
        goto out;
    sodium_memzero(secret, MS_KEY_Z85_SIZE);
    if (write_key_file(pub_path, pub, 0644, &pub_created, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0 && key_created)
        unlink(key_path);
    if (rc != 0 && pub_created)
        unlink(pub_path);
    sodium_free(secret); /* wipes */
    return rc;
}

/* --- socket options ------------------------------------------------------------ */

int ms_curve_server(void *sock, const ms_keypair_t *kp, const char *zap_domain)
{
    int one = 1;

    if (!sock || !kp || !zap_domain || !*zap_domain) {
        errno = EINVAL;
        return -1;
    }
    /* The secret goes in as 41 bytes (with its NUL): libzmq then decodes it
     * in place instead of copying it to an unwiped stack buffer. */
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_z85, MS_KEY_Z85_SIZE) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain)) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof one) != 0)
        return -1;
    return 0;
}

int ms_curve_client(void *sock, const ms_keypair_t *kp, const char *server_public_z85)
{
    if (!sock || !kp || !ms_key_z85_valid(server_public_z85)) {
        errno = EINVAL;
        return -1;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_public_z85, MS_KEY_Z85_SIZE) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->public_z85, MS_KEY_Z85_SIZE) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_z85, MS_KEY_Z85_SIZE) != 0)
        return -1;
    return 0;
}
