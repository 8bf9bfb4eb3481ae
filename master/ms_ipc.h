/*
 * ms_ipc.h - binding the master's sockets without taking over someone
 * else's, and without a moment where an ipc:// socket is more open than
 * wanted.
 *
 * libzmq's bind to ipc://PATH unlinks whatever is at PATH and binds anew:
 * a second master would silently steal a live master's endpoint (and
 * libzmq would delete any file at PATH). A socket file takes its mode from
 * the umask (0777 under umask 000: anyone could start runs), and whoever
 * may write its folder may replace it. So, for every ipc://PATH the
 * master binds:
 *   - its folder must not be writable by others;
 *   - PATH.lock is locked (ms_lock) for the master's life: a second
 *     master is refused, naming the first;
 *   - a file at PATH must be a socket nobody accepts connections on (a
 *     stale one: its master died); a live one is another process's,
 *     maybe one without our lock (another program, an older master);
 *   - the file is created at its final mode (umask around zmq_bind), then
 *     chmod'ed to it.
 * An abstract socket (ipc://@name) has no file: the kernel refuses a
 * second bind to it, so none of this applies. Other transports are bound
 * as they are.
 */
#ifndef MS_IPC_H
#define MS_IPC_H

#include <stddef.h>
#include <sys/types.h>

#include "ms_lock.h"

/* The socket file of ep (ipc://PATH), or NULL for an abstract ipc://@name
 * and for other transports. */
const char *ms_ipc_file(const char *ep);

/* A socket folder the master makes: its group may reach the control socket
 * (0660) in it, nobody else may even look, and only the master's user may
 * put files there (the rule ms_ipc_claim enforces on any folder). */
#define MS_IPC_FOLDER_MODE 0750

/*
 * The folder of ep's socket file, made with its missing parents when it is
 * missing (ms_path_make_folder, MS_IPC_FOLDER_MODE); an existing folder is
 * left as it is, for ms_ipc_claim to judge. made gets the folder when it
 * was made now, "" otherwise (and for an ep with no file). Returns 0, or -1
 * with err set.
 */
int ms_ipc_make_folder(const char *ep, char *made, size_t madelen, char *err, size_t errlen);

/*
 * Before binding ep: refuse a socket folder others may write to, and take
 * the lock PATH.lock for holder (ms_lock_take; the caller holds *lock
 * until it no longer binds ep). Returns 0 (*lock NULL when ep has no
 * file), or -1 with err set, e.g. "ipc:///run/x.sock is in use by pid 12
 * multisync-master, ...".
 */
int ms_ipc_claim(const char *ep, const char *holder, ms_lock_t **lock, char *err, size_t errlen);

/*
 * zmq_bind(sock, ep). For ipc://PATH: first refuse when PATH is not a
 * socket, or something accepts connections on it ("ipc://x is in use by
 * another process"); the socket file is created with mode (never more
 * open meanwhile), whatever the umask. Returns 0, or -1 with err set.
 * Call while no other thread of the process creates files (it sets the
 * process's umask for the duration of zmq_bind).
 */
int ms_ipc_bind(void *sock, const char *ep, mode_t mode, char *err, size_t errlen);

#endif
