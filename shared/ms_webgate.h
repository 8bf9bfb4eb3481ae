/*
 * ms_webgate.h - who may reach the master's HTTP listener: its address,
 * the rule for a listener off this host, and the admin's password.
 *
 * The rule: a listener on a loopback address (127.0.0.0/8, ::1) may be
 * plain HTTP and open, as only this host's users reach it; any other
 * address needs TLS (a certificate and its key) and the password, or the
 * master does not start.
 *
 * The password is checked as HTTP Basic authentication of the user
 * MS_WEBGATE_USER. It is read from a file that must be a regular file
 * owned by this user or root and closed to group and others (the rules of
 * a secret key, ms_keys.h); it is the file's first line. Held only as a
 * BLAKE2b hash of "user:password", compared in constant time.
 *
 * Nothing here logs; errors go to err, and never quote a secret.
 */
#ifndef MS_WEBGATE_H
#define MS_WEBGATE_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#define MS_WEBGATE_USER "admin"
#define MS_WEBGATE_PASSWORD_MAX 1024

/* An address to listen on, parsed. */
typedef struct {
    struct sockaddr_storage addr; /* sockaddr_in or sockaddr_in6 */
    socklen_t addrlen;
    int ipv6;
    int loopback; /* 127.0.0.0/8 or ::1 */
} ms_webgate_addr_t;

/*
 * Parse "ADDR:PORT": a numeric IPv4 address, or an IPv6 one in brackets
 * ("[::1]:9469"), and a port from 1 to 65535. No host names: what is
 * reachable must be plain from the config. Returns 0, or -1 with err set.
 */
int ms_webgate_parse(const char *listen, ms_webgate_addr_t *out, char *err, size_t errlen);

/*
 * The rule above: 0 when a listener on a with (tls, password) is allowed,
 * else -1 with err saying what is missing and what to do. A certificate
 * without its key or the other way round is an error anywhere.
 */
int ms_webgate_allowed(const ms_webgate_addr_t *a, const char *listen, int has_cert, int has_key,
                       int has_password, char *err, size_t errlen);

typedef struct ms_webgate ms_webgate_t;

/*
 * Load the password from path (see above: a file others cannot read, its
 * first line, 1 to MS_WEBGATE_PASSWORD_MAX bytes). Returns a gate the
 * caller owns, or NULL with err set.
 */
ms_webgate_t *ms_webgate_load(const char *path, char *err, size_t errlen);

/* Wipe and free *g, set it to NULL. NULL-safe. */
void ms_webgate_destroy(ms_webgate_t **g);

/*
 * Whether authorization (an Authorization header's value, NUL-terminated,
 * or NULL when there was none) is "Basic " and the base64 of
 * "admin:PASSWORD" with the right password. 1 yes, 0 no. The time it takes
 * does not depend on how much of the password is right.
 */
int ms_webgate_check(const ms_webgate_t *g, const char *authorization);

#endif
