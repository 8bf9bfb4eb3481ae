/* bench/gen.c - the deterministic project tree that bench/bench.sh backs up.
 *
 *   gen ROOT PROJECTS FILES BYTES [SEED]
 *
 * Writes ROOT (which must not exist) with PROJECTS folders proj01, proj02...
 * Project k gets about 1/k of the files and of the bytes (Zipf-like, as real
 * project trees are: a few big ones and a long tail). Inside a project, files
 * sit in leaf folders 2 to 4 levels deep, about 40 a folder, with sizes drawn
 * from a heavy-tailed distribution; each project also has a few empty folders
 * and two relative symlinks (to a folder and to a file). ROOT itself holds two
 * loose files and a symlink to proj01, so the "loose files" task is exercised.
 *
 * Same arguments, same tree: names, sizes, contents, modes and mtimes come
 * from a seeded splitmix64 stream and integer arithmetic only (no floating
 * point, no time of day), so two runs on any machine write the same bytes.
 * FILES counts regular files and BYTES their total size, both exactly.
 * On success it prints one line of counts and a 64-bit hash of the tree
 * (paths, sizes, modes, link targets and every content word), which
 * bench.sh keeps as the identity of the tree it measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define BASE_MTIME 1700000000 /* 2023-11-14: every mtime is this plus an index */
#define FILES_PER_DIR 40
#define BUF_WORDS (1u << 17) /* 1 MiB write buffer */

static uint64_t tree_hash = 0xcbf29ce484222325ull; /* FNV-1a offset basis */
static unsigned long n_dirs, n_empty, n_links;
static size_t root_len; /* paths are hashed relative to ROOT, so --out does not matter */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* A path into a PATH_MAX buffer; a path that does not fit is an error. */
__attribute__((format(printf, 2, 3))) static void fmt_path(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, 4096, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= 4096)
        die("path too long");
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        tree_hash = (tree_hash ^ b[i]) * 0x100000001b3ull;
}

static void hash_u64(uint64_t v)
{
    hash_bytes(&v, sizeof v);
}

static void hash_path(const char *path)
{
    size_t n = strlen(path);
    const char *rel = n >= root_len ? path + root_len : "";
    hash_bytes(rel, strlen(rel) + 1);
}

/* Every folder we create, so its mtime can be fixed once nothing more is
 * created inside it (adding an entry changes a folder's mtime). */
static char **dirs;
static size_t dirs_len, dirs_cap;

static void remember_dir(const char *path)
{
    if (strlen(path) < root_len)
        return; /* a parent of ROOT: not part of the tree */
    if (dirs_len == dirs_cap) {
        dirs_cap = dirs_cap ? dirs_cap * 2 : 1024;
        dirs = realloc(dirs, dirs_cap * sizeof *dirs);
        if (!dirs)
            die("out of memory");
    }
    dirs[dirs_len++] = strdup(path);
    n_dirs++;
    hash_path(path);
}

/* mkdir -p, remembering each folder it creates. */
static void mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        die("path too long: %s", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) == 0)
            remember_dir(buf);
        else if (errno != EEXIST)
            die("mkdir %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
}

static void set_mtime(const char *path, long idx, int flags)
{
    struct timespec ts[2] = {{BASE_MTIME + idx, 0}, {BASE_MTIME + idx, 0}};
    if (utimensat(AT_FDCWD, path, ts, flags) != 0)
        die("utimensat %s: %s", path, strerror(errno));
}

/* One regular file of exactly SIZE bytes; its content is the splitmix64
 * stream seeded from SEED and the file's global index. */
static void write_file(const char *path, uint64_t size, uint64_t seed, unsigned long idx,
                       mode_t mode)
{
    static uint64_t buf[BUF_WORDS];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        die("create %s: %s", path, strerror(errno));
    uint64_t s = seed ^ (0xd1b54a32d192ed03ull * (idx + 1));
    uint64_t left = size;
    hash_path(path);
    hash_u64(size);
    hash_u64(mode);
    while (left > 0) {
        size_t chunk = left < sizeof buf ? (size_t)left : sizeof buf;
        size_t words = (chunk + 7) / 8;
        for (size_t i = 0; i < words; i++) {
            buf[i] = splitmix64(&s);
            tree_hash = (tree_hash ^ buf[i]) * 0x100000001b3ull;
        }
        const char *p = (const char *)buf;
        size_t todo = chunk;
        while (todo > 0) {
            ssize_t w = write(fd, p, todo);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                die("write %s: %s", path, strerror(errno));
            }
            p += w;
            todo -= (size_t)w;
        }
        left -= chunk;
    }
    if (fchmod(fd, mode) != 0)
        die("chmod %s: %s", path, strerror(errno));
    struct timespec ts[2] = {{BASE_MTIME + (long)idx, 0}, {BASE_MTIME + (long)idx, 0}};
    if (futimens(fd, ts) != 0)
        die("futimens %s: %s", path, strerror(errno));
    if (close(fd) != 0)
        die("close %s: %s", path, strerror(errno));
}

static void make_link(const char *target, const char *path)
{
    if (symlink(target, path) != 0)
        die("symlink %s: %s", path, strerror(errno));
    set_mtime(path, (long)n_links, AT_SYMLINK_NOFOLLOW);
    n_links++;
    hash_path(path);
    hash_bytes(target, strlen(target) + 1);
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || s[0] == '-')
        die("bad %s: %s", what, s);
    return v;
}

static const char *const exts[] = {"dat", "txt", "bin", "log", "csv", "json", "c", "png"};

/* One project: NF files holding NB bytes in total. */
static void make_project(const char *root, unsigned k, uint64_t nf, uint64_t nb, uint64_t seed,
                         unsigned long *file_idx)
{
    char proj[4096], path[4096];
    uint64_t rng = seed ^ (0x9e3779b97f4a7c15ull * k);
    fmt_path(proj, "%s/proj%02u", root, k);
    mkdir_p(proj);

    /* Leaf folders: leaf d is modA/pkgB[/vC[/xD]], (A, B) unique per leaf,
     * so depth is 2 to 4 and no two leaves share a path. */
    uint64_t nleaf = nf / FILES_PER_DIR ? nf / FILES_PER_DIR : 1;
    uint64_t fan = 2;
    while (fan * fan < nleaf)
        fan++;
    char(*leaf)[256] = malloc(nleaf * sizeof *leaf);
    if (!leaf)
        die("out of memory");
    for (uint64_t d = 0; d < nleaf; d++) {
        uint64_t r = splitmix64(&rng);
        int n =
            snprintf(leaf[d], sizeof leaf[d], "mod%02" PRIu64 "/pkg%02" PRIu64, d % fan, d / fan);
        unsigned depth = 2 + (unsigned)(r % 3);
        if (depth >= 3)
            n +=
                snprintf(leaf[d] + n, sizeof leaf[d] - (size_t)n, "/v%u", (unsigned)((r >> 8) % 4));
        if (depth >= 4)
            snprintf(leaf[d] + n, sizeof leaf[d] - (size_t)n, "/x%u", (unsigned)((r >> 16) % 4));
        fmt_path(path, "%s/%s", proj, leaf[d]);
        mkdir_p(path);
    }

    /* Sizes: a weight of (1..1024) << (0..11) per file (log-uniform-ish: many
     * small files, a few large ones), scaled so they add up to NB exactly. */
    uint64_t *w = malloc(nf * sizeof *w);
    if (!w)
        die("out of memory");
    unsigned __int128 wsum = 0;
    for (uint64_t i = 0; i < nf; i++) {
        uint64_t r = splitmix64(&rng);
        w[i] = (1 + r % 1024) << ((r >> 10) % 12);
        wsum += w[i];
    }
    uint64_t given = 0;
    for (uint64_t i = 0; i < nf; i++) {
        w[i] = (uint64_t)((unsigned __int128)nb * w[i] / wsum);
        given += w[i];
    }
    w[0] += nb - given; /* the rounding remainder */

    /* Files: the first NLEAF fill one leaf each (no leaf stays empty), the
     * rest go to a random leaf. A few get other modes than 0644. */
    char first[512] = ""; /* the first file, relative to the project */
    for (uint64_t i = 0; i < nf; i++) {
        uint64_t r = splitmix64(&rng);
        uint64_t d = i < nleaf ? i : r % nleaf;
        mode_t mode = i % 23 == 5 ? 0755 : i % 17 == 3 ? 0600 : 0644;
        fmt_path(path, "%s/%s/f%06" PRIu64 ".%s", proj, leaf[d], i, exts[(r >> 32) % 8]);
        if (i == 0)
            snprintf(first, sizeof first, "%s/f%06" PRIu64 ".%s", leaf[d], i, exts[(r >> 32) % 8]);
        write_file(path, w[i], seed, (*file_idx)++, mode);
    }

    /* Empty folders, some at the top of the project, some nested. */
    uint64_t nempty = 1 + nleaf / 8;
    for (uint64_t e = 0; e < nempty; e++) {
        if (e % 2)
            fmt_path(path, "%s/mod00/empty%02" PRIu64, proj, e);
        else
            fmt_path(path, "%s/empty%02" PRIu64, proj, e);
        mkdir_p(path);
        n_empty++;
    }

    /* Two relative symlinks: to a leaf folder and to the project's first file. */
    fmt_path(path, "%s/latest", proj);
    make_link(leaf[0], path);
    fmt_path(path, "%s/current", proj);
    make_link(first, path);
    free(w);
    free(leaf);
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: gen ROOT PROJECTS FILES BYTES [SEED]\n");
        return 2;
    }
    const char *root = argv[1];
    uint64_t projects = parse_u64(argv[2], "PROJECTS");
    uint64_t files = parse_u64(argv[3], "FILES");
    uint64_t bytes = parse_u64(argv[4], "BYTES");
    uint64_t seed = argc == 6 ? parse_u64(argv[5], "SEED") : 42;
    if (projects < 1 || projects > 99)
        die("PROJECTS must be 1..99");
    if (files < projects + 2)
        die("FILES must be at least PROJECTS + 2");
    umask(022);
    root_len = strlen(root);

    struct stat st;
    if (lstat(root, &st) == 0)
        die("%s exists: the tree must be written from scratch", root);
    mkdir_p(root);

    /* Loose files directly in ROOT (they count in FILES and BYTES). */
    uint64_t loose[2] = {bytes >= 4096 ? 1000 : 0, bytes >= 4096 ? 300 : 0};
    const char *loose_name[2] = {"README.txt", "MANIFEST"};
    unsigned long file_idx = 0;
    char path[4096];
    for (int i = 0; i < 2; i++) {
        fmt_path(path, "%s/%s", root, loose_name[i]);
        write_file(path, loose[i], seed, file_idx++, 0644);
    }
    uint64_t pfiles = files - 2, pbytes = bytes - loose[0] - loose[1];

    /* Zipf weights 1/k in integers (W / k), so the split is exact and the
     * same everywhere; project 1 takes the rounding remainders. */
    const uint64_t W = 232792560; /* lcm(1..20): W / k is exact for small k */
    uint64_t wsum = 0;
    for (uint64_t k = 1; k <= projects; k++)
        wsum += W / k;
    uint64_t *nf = calloc(projects + 1, sizeof *nf), *nb = calloc(projects + 1, sizeof *nb);
    if (!nf || !nb)
        die("out of memory");
    uint64_t fgiven = 0, bgiven = 0;
    for (uint64_t k = 1; k <= projects; k++) {
        nf[k] = (uint64_t)((unsigned __int128)pfiles * (W / k) / wsum);
        if (nf[k] == 0)
            nf[k] = 1;
        nb[k] = (uint64_t)((unsigned __int128)pbytes * (W / k) / wsum);
        fgiven += nf[k];
        bgiven += nb[k];
    }
    if (fgiven > pfiles)
        die("too few FILES for %" PRIu64 " projects", projects);
    nf[1] += pfiles - fgiven;
    nb[1] += pbytes - bgiven;

    for (uint64_t k = 1; k <= projects; k++)
        make_project(root, (unsigned)k, nf[k], nb[k], seed, &file_idx);

    fmt_path(path, "%s/newest", root);
    make_link("proj01", path);

    /* Folder mtimes last: nothing is created in them any more. */
    for (size_t i = 0; i < dirs_len; i++) {
        set_mtime(dirs[i], (long)i, 0);
        free(dirs[i]);
    }
    printf("files=%lu bytes=%" PRIu64 " dirs=%lu empty_dirs=%lu symlinks=%lu hash=%016" PRIx64 "\n",
           file_idx, bytes, n_dirs, n_empty, n_links, tree_hash);
    free(dirs);
    free(nf);
    free(nb);
    return 0;
}
