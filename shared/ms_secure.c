#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "ms_err.h"
#include "ms_keys.h"
#include "ms_secure.h"

int ms_endpoint_is_network(const char *endpoint)
{
    return strncmp(endpoint, "ipc://", 6) != 0 && strncmp(endpoint, "inproc://", 9) != 0;
}

int ms_secure_client(void *sock, const char *endpoint, const char *key_path,
                     const char *server_pub_path, int insecure, int *curve, char *err,
                     size_t errlen)
{
    char server[MS_KEY_Z85_SIZE];
    *curve = 0;
    if (!ms_endpoint_is_network(endpoint))
        return 0;
    if (!key_path || !server_pub_path) {
        if (insecure)
            return 0;
        return ms_errf(err, errlen,
                       "%s is a network endpoint: give --key FILE.key and --master-key MASTER.pub "
                       "(CURVE), or --insecure for plaintext",
                       endpoint);
    }
    if (!zmq_has("curve"))
        return ms_errf(err, errlen, "this libzmq was built without CURVE: cannot secure %s",
                       endpoint);
    if (ms_pubkey_load(server_pub_path, server, err, errlen) != 0)
        return -1;
    ms_keypair_t *kp = ms_keypair_load(key_path, err, errlen);
    if (!kp)
        return -1;
    int rc = ms_curve_client(sock, kp, server);
    ms_keypair_destroy(&kp);
    if (rc != 0)
        return ms_errf(err, errlen, "cannot set up CURVE: %s", zmq_strerror(errno));
    *curve = 1;
    return 0;
}
