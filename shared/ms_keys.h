/*
 * ms_keys.h - CURVE key files and the socket options that use them.
 *
 * A key pair is two one-line text files written by `multisync keygen BASE`:
 *
 *   BASE.key  the secret key, 40 Z85 characters and a newline, mode 0600
 *   BASE.pub  the public key, 40 Z85 characters and a newline, mode 0644
 *
 * The master needs its own BASE.key and the .pub of every worker and admin it
 * lets in (see master/ms_zap.h); a worker needs its own BASE.key and the
 * master's .pub.
 *
 * Secrets: a loaded secret key lives only in libsodium guarded memory
 * (sodium_malloc: guard pages, mlock'ed where the limits allow, read-only
 * once filled) and is wiped when the key pair is destroyed. Nothing here logs,
 * and no error message ever contains key material: errors name the file and
 * what is wrong with it.
 *
 * Return conventions: int functions return 0 on success and -1 on failure,
 * with a message in err (always NUL-terminated when errlen > 0), except the
 * socket helpers which, like libzmq, set errno. Constructors return NULL on
 * failure.
 */
#ifndef MS_KEYS_H
#define MS_KEYS_H

#include <stddef.h>

/* Z85 text of a 32-byte CURVE key, and the buffer size holding it with NUL. */
#define MS_KEY_Z85_LEN 40
#define MS_KEY_Z85_SIZE 41

/* The ZAP option that makes CURVE fail closed when no ZAP handler answers.
 * libzmq 4.3.4 lists it as draft but honours it; without it, a CURVE server
 * whose context has no handler on inproc://zeromq.zap.01 lets every client
 * in. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

typedef struct ms_keypair ms_keypair_t;

/*
 * Write a new key pair to base.key and base.pub. Refuses to overwrite:
 * fails if either file exists (base.key is created with O_EXCL, so a race
 * cannot clobber it either). base.key gets mode 0600, base.pub 0644 (set
 * explicitly, whatever the umask). Both are fsync'ed. On failure nothing
 * created by this call is left behind. Fails with a clear message when
 * libzmq was built without CURVE.
 */
int ms_keys_generate(const char *base, char *err, size_t errlen);

/*
 * Load a secret key file and derive its public key. The file must be a
 * regular file owned by this user or root, with no permission bits for group
 * or others ("permissions 0644 for X are too open"), and hold exactly 40 Z85
 * characters, optionally followed by whitespace. Symbolic links are
 * followed (the checks apply to the file they lead to).
 *
 * Returns a key pair the caller owns (ms_keypair_destroy), or NULL with err
 * set.
 */
ms_keypair_t *ms_keypair_load(const char *secret_path, char *err, size_t errlen);

/*
 * Read a small secret file (a key, a password) into buf, NUL-terminated:
 * it must pass the checks of ms_keypair_load (a regular file owned by this
 * user or root, closed to group and others) and hold fewer than size bytes.
 * Returns 0, or -1 with err set; err never quotes the file's content.
 */
int ms_secret_file_read(const char *path, char *buf, size_t size, char *err, size_t errlen);

/* The public key, Z85, NUL-terminated; valid as long as kp. */
const char *ms_keypair_public(const ms_keypair_t *kp);

/*
 * The secret key, Z85, NUL-terminated, in read-only guarded memory; valid
 * as long as kp. Only for zmq_setsockopt (ms_curve_server/ms_curve_client
 * do that for you): never copy it, never print it.
 */
const char *ms_keypair_secret(const ms_keypair_t *kp);

/* Wipe and free *kpp and set it to NULL. Accepts NULL and *kpp == NULL. */
void ms_keypair_destroy(ms_keypair_t **kpp);

/*
 * Load a public key file (40 Z85 characters, optional trailing whitespace,
 * at most a few hundred bytes) into out, NUL-terminated. The key is checked
 * by decoding it. Returns 0, or -1 with err set.
 */
int ms_pubkey_load(const char *path, char out[MS_KEY_Z85_SIZE], char *err, size_t errlen);

/*
 * Whether s is exactly 40 characters that decode as Z85 into a 32-byte key.
 * For keys from config files or the command line. Returns 1 or 0.
 */
int ms_key_z85_valid(const char *s);

/*
 * Make sock a CURVE server with kp's secret key, authenticated by the ZAP
 * handler for zap_domain (non-empty, e.g. "workers" or "control"), and with
 * ZMQ_ZAP_ENFORCE_DOMAIN on so that connections fail when no ZAP handler
 * answers instead of being let in. Call before zmq_bind, after the ZAP
 * handler is bound in the same context (ms_zap_new). kp may be destroyed
 * afterwards: libzmq copies the key.
 * Returns 0, or -1 with errno (EINVAL for a bad argument, or libzmq's; also
 * EINVAL from a libzmq that does not know ZMQ_ZAP_ENFORCE_DOMAIN: then the
 * server must not start, rather than run open).
 */
int ms_curve_server(void *sock, const ms_keypair_t *kp, const char *zap_domain);

/*
 * Make sock a CURVE client of the server whose public key is
 * server_public_z85, using kp as its own key pair. Call before zmq_connect.
 * Returns 0, or -1 with errno (EINVAL for a bad argument or key).
 */
int ms_curve_client(void *sock, const ms_keypair_t *kp, const char *server_public_z85);

#endif
