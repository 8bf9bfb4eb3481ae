/*
 * ms_fp.h - fingerprints of trees: what tells a quiet night from a busy one
 * without reading a file.
 *
 * An entry's fingerprint is a 128-bit BLAKE2b hash of what `rsync -a` (with
 * -H) would carry over for it: its path relative to its project, its type,
 * size, mtime and ctime in nanoseconds, mode, owner, group, inode, and a
 * link's target. A change of content moves mtime, of an xattr or ACL (or a
 * new hard link) moves ctime, a rename moves the path. A tree's
 * fingerprint is the sum of its entries' (two 64-bit halves, each modulo
 * 2^64): the order of a walk does not matter, a subtree's is the sum of
 * its own, and a tree less some subtrees is a subtraction (a split
 * project's rest: the project less its chunks).
 *
 * Nothing here touches a file; the caller stats (and reads a link).
 */
#ifndef MS_FP_H
#define MS_FP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct {
    uint64_t a, b;
} ms_fp_t;

#define MS_FP_HEX 33 /* 32 hex digits and a NUL */

/* The fingerprint of one entry: relpath (from its project's folder, "" for
 * the folder itself), its lstat, and for a link its target (NULL
 * otherwise; len bytes). */
ms_fp_t ms_fp_entry(const char *relpath, const struct stat *st, const char *target, size_t len);

/* The same for the entry name of the folder dirfd (lstat st), a link's
 * target read there. 0, or -1 when the target could not be read (*out is
 * then the entry's without it: what it misses might have changed). */
int ms_fp_at(int dirfd, const char *name, const char *relpath, const struct stat *st, ms_fp_t *out);

static inline void ms_fp_add(ms_fp_t *sum, ms_fp_t x)
{
    sum->a += x.a;
    sum->b += x.b;
}

static inline void ms_fp_sub(ms_fp_t *sum, ms_fp_t x)
{
    sum->a -= x.a;
    sum->b -= x.b;
}

static inline int ms_fp_equal(ms_fp_t x, ms_fp_t y)
{
    return x.a == y.a && x.b == y.b;
}

/* What makes two workers' copies alike: their rsync's version line and
 * their extra rsync options, in order, hashed to 32 hex digits (out:
 * MS_FP_HEX bytes). A copy is skipped only when made with the same. */
void ms_fp_opts(const char *version, char *const *opts, size_t n, char *out);

/* As 32 hex digits (out: MS_FP_HEX bytes); and back: 0, or -1. */
void ms_fp_hex(ms_fp_t fp, char *out);
int ms_fp_parse(const char *hex, ms_fp_t *fp);

#endif
