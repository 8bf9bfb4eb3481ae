#include "ms_version.h"

#include <sodium.h>
#include <sqlite3.h>
#include <zmq.h>

void ms_version_print(const char *prog, FILE *f)
{
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    fprintf(f, "%s %s (libzmq %d.%d.%d, libsodium %s, SQLite %s)\n", prog, MS_VERSION, major, minor,
            patch, sodium_version_string(), sqlite3_libversion());
}
