#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_fp.h"

/* The stat fields rsync -a -H carries over, in a fixed layout (no padding
 * from the platform's struct stat reaches the hash). */
typedef struct {
    uint64_t size, ino, ctime_ns, mtime_ns;
    uint32_t mode, uid, gid, rdev_major, rdev_minor;
} fields_t;

static uint64_t ns_of(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

ms_fp_t ms_fp_entry(const char *relpath, const struct stat *st, const char *target, size_t len)
{
    fields_t f;
    memset(&f, 0, sizeof f);
    f.size = (uint64_t)st->st_size;
    f.ino = (uint64_t)st->st_ino;
    f.ctime_ns = ns_of(&st->st_ctim);
    f.mtime_ns = ns_of(&st->st_mtim);
    f.mode = (uint32_t)st->st_mode; /* type and permissions */
    f.uid = (uint32_t)st->st_uid;
    f.gid = (uint32_t)st->st_gid;
    f.rdev_major = (uint32_t)(st->st_rdev >> 32);
    f.rdev_minor = (uint32_t)st->st_rdev;
    crypto_generichash_state h;
    unsigned char out[16];
    crypto_generichash_init(&h, NULL, 0, sizeof out);
    crypto_generichash_update(&h, (const unsigned char *)relpath, strlen(relpath) + 1);
    crypto_generichash_update(&h, (const unsigned char *)&f, sizeof f);
    if (target)
        crypto_generichash_update(&h, (const unsigned char *)target, len);
    crypto_generichash_final(&h, out, sizeof out);
    ms_fp_t fp;
    memcpy(&fp.a, out, 8);
    memcpy(&fp.b, out + 8, 8);
    return fp;
}

int ms_fp_at(int dirfd, const char *name, const char *relpath, const struct stat *st, ms_fp_t *out)
{
    char target[PATH_MAX];
    ssize_t len = S_ISLNK(st->st_mode) ? readlinkat(dirfd, name, target, sizeof target) : 0;
    *out = ms_fp_entry(relpath, st, S_ISLNK(st->st_mode) && len >= 0 ? target : NULL,
                       len > 0 ? (size_t)len : 0);
    return len < 0 ? -1 : 0;
}

void ms_fp_hex(ms_fp_t fp, char *out)
{
    snprintf(out, MS_FP_HEX, "%016llx%016llx", (unsigned long long)fp.a, (unsigned long long)fp.b);
}

int ms_fp_parse(const char *hex, ms_fp_t *fp)
{
    unsigned long long a, b;
    int used = 0;
    if (strlen(hex) != 32 || strspn(hex, "0123456789abcdef") != 32 ||
        sscanf(hex, "%16llx%16llx%n", &a, &b, &used) != 2 || used != 32)
        return -1;
    fp->a = a;
    fp->b = b;
    return 0;
}

void ms_fp_opts(const char *version, char *const *opts, size_t n, char *out)
{
    crypto_generichash_state h;
    unsigned char sum[16];
    ms_fp_t fp;
    crypto_generichash_init(&h, NULL, 0, sizeof sum);
    crypto_generichash_update(&h, (const unsigned char *)(version ? version : ""),
                              strlen(version ? version : "") + 1);
    for (size_t i = 0; i < n; i++)
        crypto_generichash_update(&h, (const unsigned char *)opts[i], strlen(opts[i]) + 1);
    crypto_generichash_final(&h, sum, sizeof sum);
    memcpy(&fp.a, sum, 8);
    memcpy(&fp.b, sum + 8, 8);
    ms_fp_hex(fp, out);
}
