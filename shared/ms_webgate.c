/*
 * ms_webgate.c - the HTTP listener's address, its rule, and the admin's
 * password. See ms_webgate.h.
 */
#include <arpa/inet.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ms_err.h"
#include "ms_keys.h"
#include "ms_webgate.h"

struct ms_webgate {
    unsigned char hash[crypto_generichash_BYTES]; /* of "admin:PASSWORD" */
};

/* --- the address ------------------------------------------------------------------- */

static int parse_port(const char *s, in_port_t *port)
{
    unsigned long v = 0;
    if (!*s || strlen(s) > 5)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = htons((uint16_t)v);
    return 0;
}

static int parse_v6(const char *host, in_port_t port, ms_webgate_addr_t *out)
{
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->addr;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = port;
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
        return -1;
    out->addrlen = sizeof *s6;
    out->ipv6 = 1;
    out->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    return 0;
}

static int parse_v4(const char *host, in_port_t port, ms_webgate_addr_t *out)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&out->addr;
    s4->sin_family = AF_INET;
    s4->sin_port = port;
    if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
        return -1;
    out->addrlen = sizeof *s4;
    out->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

int ms_webgate_parse(const char *listen, ms_webgate_addr_t *out, char *err, size_t errlen)
{
    char host[64];
    in_port_t port;
    memset(out, 0, sizeof *out);
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    int v6 = listen && listen[0] == '[';
    size_t hlen = colon ? (size_t)(colon - listen) : 0;
    if (v6 && (hlen < 2 || listen[hlen - 1] != ']'))
        colon = NULL;
    if (colon && v6)
        hlen -= 2;
    if (!colon || hlen == 0 || hlen >= sizeof host || parse_port(colon + 1, &port) != 0)
        return ms_errf(err, errlen,
                       "HTTP listen address '%s' is not ADDR:PORT (e.g. 127.0.0.1:9469, "
                       "[::1]:9469; port 1 to 65535)",
                       listen ? listen : "");
    memcpy(host, listen + v6, hlen);
    host[hlen] = '\0';
    if ((v6 ? parse_v6(host, port, out) : parse_v4(host, port, out)) != 0)
        return ms_errf(err, errlen, "HTTP listen address '%s': '%s' is not a numeric IP%s address",
                       listen, host, v6 ? "v6" : "v4 (IPv6 goes in brackets: [::1]:9469)");
    return 0;
}

int ms_webgate_allowed(const ms_webgate_addr_t *a, const char *listen, int has_cert, int has_key,
                       int has_password, char *err, size_t errlen)
{
    if (has_cert != has_key)
        return ms_errf(err, errlen, "HTTP: --http-cert and --http-key go together (%s is missing)",
                       has_cert ? "--http-key" : "--http-cert");
    if (a->loopback || (has_cert && has_password))
        return 0;
    return ms_errf(err, errlen,
                   "HTTP listener %s is not a loopback address: it needs TLS (--http-cert and "
                   "--http-key) and a password (--http-password-file), or listen on 127.0.0.1",
                   listen);
}

/* --- the password ---------------------------------------------------------------- */

/* The hash of user ":" password (len bytes). */
static void credential_hash(const char *password, size_t len, unsigned char *out)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)MS_WEBGATE_USER ":",
                              sizeof MS_WEBGATE_USER);
    crypto_generichash_update(&st, (const unsigned char *)password, len);
    crypto_generichash_final(&st, out, crypto_generichash_BYTES);
    sodium_memzero(&st, sizeof st);
}

ms_webgate_t *ms_webgate_load(const char *path, char *err, size_t errlen)
{
    ms_webgate_t *g = NULL;
    char *buf = NULL;
    if (sodium_init() < 0) {
        ms_errf(err, errlen, "cannot initialise libsodium");
        return NULL;
    }
    if (!(buf = sodium_malloc(MS_WEBGATE_PASSWORD_MAX + 2))) {
        ms_errf(err, errlen, "out of memory loading %s", path);
        return NULL;
    }
    if (ms_secret_file_read(path, buf, MS_WEBGATE_PASSWORD_MAX + 2, err, errlen) != 0)
        goto out;
    size_t len = strcspn(buf, "\r\n");
    if (len == 0)
        ms_errf(err, errlen, "password file %s: its first line is empty", path);
    else if (len > MS_WEBGATE_PASSWORD_MAX)
        ms_errf(err, errlen, "password file %s: the password is longer than %d bytes", path,
                MS_WEBGATE_PASSWORD_MAX);
    else if (!(g = calloc(1, sizeof *g)))
        ms_errf(err, errlen, "out of memory loading %s", path);
    else
        credential_hash(buf, len, g->hash);
out:
    sodium_free(buf); /* wipes */
    return g;
}

void ms_webgate_destroy(ms_webgate_t **g)
{
    if (!g || !*g)
        return;
    sodium_memzero((*g)->hash, sizeof(*g)->hash);
    free(*g);
    *g = NULL;
}

int ms_webgate_check(const ms_webgate_t *g, const char *authorization)
{
    unsigned char cred[sizeof MS_WEBGATE_USER + MS_WEBGATE_PASSWORD_MAX];
    unsigned char hash[crypto_generichash_BYTES];
    size_t len = 0;
    if (!g || !authorization || strncasecmp(authorization, "Basic ", 6) != 0)
        return 0;
    const char *b64 = authorization + 6 + strspn(authorization + 6, " ");
    size_t b64len = strlen(b64);
    if (b64len > 2 * sizeof cred || sodium_base642bin(cred, sizeof cred, b64, b64len, NULL, &len,
                                                      NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return 0;
    /* The user must be admin: the hash covers "user:password" whole. */
    crypto_generichash(hash, sizeof hash, cred, len, NULL, 0);
    int ok = sodium_memcmp(hash, g->hash, sizeof hash) == 0;
    sodium_memzero(cred, sizeof cred);
    sodium_memzero(hash, sizeof hash);
    return ok;
}
