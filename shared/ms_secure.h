/*
 * ms_secure.h - the policy for securing multisync's sockets, in one place:
 * every tcp:// endpoint is CURVE-encrypted and authenticated unless the
 * operator said --insecure; ipc:// endpoints rely on their folder's
 * permissions; inproc:// never leaves the process.
 */
#ifndef MS_SECURE_H
#define MS_SECURE_H

#include <stddef.h>

/* 1 when endpoint travels over a network (tcp://, or another transport
 * that is not ipc:// or inproc://), else 0. */
int ms_endpoint_is_network(const char *endpoint);

/*
 * Prepare a client socket (before zmq_connect) for endpoint. For a network
 * endpoint: with key_path (our .key) and server_pub_path (the server's .pub)
 * it becomes a CURVE client; without them it is refused unless insecure.
 * Returns 0 (*curve set to 1 when CURVE is on), or -1 with err set: a
 * missing key ("tcp://... needs --key and --master-key, or --insecure"), an
 * unreadable or too open key file, no CURVE in libzmq.
 */
int ms_secure_client(void *sock, const char *endpoint, const char *key_path,
                     const char *server_pub_path, int insecure, int *curve, char *err,
                     size_t errlen);

#endif
