#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_file.h"
#include "ms_snap.h"

#define STAMP_LEN 18 /* "2026-12-07T021500Z" */

void ms_snap_format(time_t t, char *out, size_t outlen)
{
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, outlen, "%Y-%m-%dT%H%M%SZ", &tm) == 0) {
        if (outlen)
            out[0] = '\0';
    }
}

static int digits(const char *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* The time a stamp names; -1 unless it is exactly one strftime would write
 * (so 2026-02-30 is no date, and each time has one name). */
static int parse_stamp(const char *s, time_t *t)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[17] != 'Z' || digits(s, 4, &y) ||
        digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
        digits(s + 13, 2, &mi) || digits(s + 15, 2, &se))
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *t = timegm(&tm);
    char back[STAMP_LEN + 1];
    ms_snap_format(*t, back, sizeof back);
    return *t >= 0 && memcmp(back, s, STAMP_LEN) == 0 ? 0 : -1;
}

int ms_snap_parse(const char *name, time_t *t, ms_snap_kind_t *kind)
{
    if (strnlen(name, STAMP_LEN) < STAMP_LEN || parse_stamp(name, t) != 0)
        return -1;
    const char *suffix = name + STAMP_LEN;
    if (!*suffix)
        *kind = MS_SNAP_COMPLETE;
    else if (strcmp(suffix, MS_SNAP_PARTIAL) == 0)
        *kind = MS_SNAP_PARTIAL_KIND;
    else if (strcmp(suffix, MS_SNAP_PRUNING) == 0)
        *kind = MS_SNAP_PRUNING_KIND;
    else
        return -1;
    return 0;
}

static int is_type(int dir, const char *name, mode_t type)
{
    struct stat st;
    return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == type;
}

/* A folder of DST that is a snapshot's: its entry, else -1. */
static int snapshot_entry(int dir, const char *name, ms_snap_t *s)
{
    if (strlen(name) >= sizeof s->name || ms_snap_parse(name, &s->time, &s->kind) != 0 ||
        !is_type(dir, name, S_IFDIR))
        return -1;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->latest = 0;
    return 0;
}

static DIR *open_listing(int dir, char *err, size_t errlen)
{
    int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        ms_errf(err, errlen, "cannot list the destination: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    return d;
}

static int by_time(const void *a, const void *b)
{
    const ms_snap_t *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Mark the snapshot `latest` points at. */
static void mark_latest(int dir, ms_snap_t *s, size_t n)
{
    char target[MS_SNAP_NAME_MAX + 1];
    ssize_t len = readlinkat(dir, MS_SNAP_LATEST, target, sizeof target - 1);
    if (len <= 0 || (size_t)len >= sizeof target - 1)
        return;
    target[len] = '\0';
    for (size_t i = 0; i < n; i++)
        s[i].latest = strcmp(s[i].name, target) == 0;
}

int ms_snap_list(int dir, ms_snap_t **out, size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    DIR *d = open_listing(dir, err, errlen);
    if (!d)
        return -1;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        ms_snap_t s;
        if (snapshot_entry(dir, e->d_name, &s) != 0)
            continue;
        if (*n == cap) {
            ms_snap_t *grown = realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof *grown);
            if (!grown) {
                closedir(d);
                free(*out);
                *out = NULL;
                *n = 0;
                return ms_errf(err, errlen, "out of memory listing snapshots");
            }
            *out = grown;
        }
        (*out)[(*n)++] = s;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, by_time);
    mark_latest(dir, *out, *n);
    return 0;
}

const ms_snap_t *ms_snap_newest(const ms_snap_t *s, size_t n, ms_snap_kind_t kind)
{
    for (size_t i = n; i-- > 0;)
        if (s[i].kind == kind)
            return &s[i];
    return NULL;
}

/* Whether an entry of DST belongs in a snapshot destination. */
static int belongs(int dir, const char *name)
{
    ms_snap_t s;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "lost+found") == 0)
        return 1;
    if (strcmp(name, MS_SNAP_LATEST) == 0)
        return is_type(dir, name, S_IFLNK);
    if (strcmp(name, MS_SNAP_META) == 0)
        return is_type(dir, name, S_IFDIR);
    if (strcmp(name, ".multisync.lock") == 0)
        return is_type(dir, name, S_IFREG);
    return snapshot_entry(dir, name, &s) == 0;
}

int ms_snap_foreign(int dir, char *out, size_t outlen, char *err, size_t errlen)
{
    DIR *d = open_listing(dir, err, errlen);
    if (!d)
        return -1;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        if (!belongs(dir, e->d_name)) {
            snprintf(out, outlen, "%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

int ms_snap_present(int dir, char *err, size_t errlen)
{
    if (is_type(dir, MS_SNAP_LATEST, S_IFLNK) || is_type(dir, MS_SNAP_META, S_IFDIR))
        return 1;
    ms_snap_t *s;
    size_t n;
    if (ms_snap_list(dir, &s, &n, err, errlen) != 0)
        return -1;
    free(s);
    return n > 0;
}

static int sync_dir(int dir, char *err, size_t errlen)
{
    if (fsync(dir) != 0)
        return ms_errf(err, errlen, "cannot sync the destination: %s", strerror(errno));
    return 0;
}

/* DST/.multisync, made when missing: its descriptor, or -1 with err. */
static int open_meta(int dir, char *err, size_t errlen)
{
    if (mkdirat(dir, MS_SNAP_META, 0755) != 0 && errno != EEXIST) {
        ms_errf(err, errlen, "cannot make %s: %s", MS_SNAP_META, strerror(errno));
        return -1;
    }
    int fd = openat(dir, MS_SNAP_META, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        ms_errf(err, errlen, "cannot open %s: %s", MS_SNAP_META, strerror(errno));
    return fd;
}

int ms_snap_set_latest(int dir, const char *name, char *err, size_t errlen)
{
    /* Made in .multisync/ and renamed into DST: a link left by a crash
     * lies there, never as a foreign entry of DST. */
    int meta = open_meta(dir, err, errlen);
    if (meta < 0)
        return -1;
    const char *tmp = "latest.new";
    unlinkat(meta, tmp, 0);
    int rc = 0;
    if (symlinkat(name, meta, tmp) != 0)
        rc = ms_errf(err, errlen, "cannot make the link to %s: %s", name, strerror(errno));
    else if (renameat(meta, tmp, dir, MS_SNAP_LATEST) != 0)
        rc = ms_errf(err, errlen, "cannot switch %s to %s: %s", MS_SNAP_LATEST, name,
                     strerror(errno));
    close(meta);
    return rc == 0 ? sync_dir(dir, err, errlen) : rc;
}

int ms_snap_rename(int dir, const char *from, const char *to, char *err, size_t errlen)
{
    if (renameat2(dir, from, dir, to, RENAME_NOREPLACE) != 0)
        return ms_errf(err, errlen, "cannot rename %s to %s: %s", from, to, strerror(errno));
    return sync_dir(dir, err, errlen);
}

int ms_snap_write_meta(int dir, const char *name, const char *text, char *err, size_t errlen)
{
    char file[MS_SNAP_NAME_MAX + 8], tmp[MS_SNAP_NAME_MAX + 16];
    snprintf(file, sizeof file, "%s.json", name);
    snprintf(tmp, sizeof tmp, "%s.json.new", name);
    int meta = open_meta(dir, err, errlen);
    if (meta < 0)
        return -1;
    int fd = openat(meta, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd < 0 || ms_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0)
        rc = ms_errf(err, errlen, "cannot write %s/%s: %s", MS_SNAP_META, file, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == 0 && renameat(meta, tmp, meta, file) != 0)
        rc = ms_errf(err, errlen, "cannot write %s/%s: %s", MS_SNAP_META, file, strerror(errno));
    close(meta);
    return rc;
}

char *ms_snap_read_meta(int dir, const char *name)
{
    char file[MS_SNAP_NAME_MAX + 24];
    snprintf(file, sizeof file, "%s/%s.json", MS_SNAP_META, name);
    int fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    ssize_t r;
    while (text && (r = read(fd, text + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap) {
            char *grown = cap < (1u << 20) ? realloc(text, cap *= 2) : NULL;
            if (!grown)
                free(text);
            text = grown;
        }
    }
    close(fd);
    if (text)
        text[len] = '\0';
    return text;
}

/* Remove every entry of the open folder fd, then nothing else. */
static int empty_folder(int fd, uint64_t *removed, char *err, size_t errlen);

static int remove_entry(int dir, const char *name, uint64_t *removed, char *err, size_t errlen)
{
    if (unlinkat(dir, name, 0) == 0) {
        ++*removed;
        return 0;
    }
    if (errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return ms_errf(err, errlen, "cannot remove %s: %s", name, strerror(errno));
    /* A folder: empty it through its own descriptor, opened without
     * following a link (a link is unlinked above, never followed). */
    int sub = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return ms_errf(err, errlen, "cannot open %s: %s", name, strerror(errno));
    int rc = empty_folder(sub, removed, err, errlen);
    close(sub);
    if (rc == 0 && unlinkat(dir, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = ms_errf(err, errlen, "cannot remove %s: %s", name, strerror(errno));
    else if (rc == 0)
        ++*removed;
    return rc;
}

static int empty_folder(int fd, uint64_t *removed, char *err, size_t errlen)
{
    int lfd = dup(fd);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    if (!d) {
        if (lfd >= 0)
            close(lfd);
        return ms_errf(err, errlen, "cannot list a folder: %s", strerror(errno));
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = remove_entry(fd, e->d_name, removed, err, errlen);
    }
    closedir(d);
    return rc;
}

int ms_snap_rmtree(int dir, const char *name, uint64_t *removed, char *err, size_t errlen)
{
    uint64_t count = 0;
    int rc = remove_entry(dir, name, &count, err, errlen);
    if (removed)
        *removed = count;
    return rc;
}

int ms_snap_resolve(int dir, const char *want, char *out, size_t outlen, char *err, size_t errlen)
{
    char target[MS_SNAP_NAME_MAX + 1];
    int latest = !want || strcmp(want, MS_SNAP_LATEST) == 0;
    if (latest) {
        ssize_t len = readlinkat(dir, MS_SNAP_LATEST, target, sizeof target - 1);
        if (len <= 0 || (size_t)len >= sizeof target - 1)
            return ms_errf(err, errlen, "no complete snapshot here (%s %s)", MS_SNAP_LATEST,
                           len < 0 && errno == ENOENT ? "is missing" : "is not a snapshot's");
        target[len] = '\0';
        want = target;
    }
    time_t t;
    ms_snap_kind_t kind;
    if (ms_snap_parse(want, &t, &kind) != 0 || kind != MS_SNAP_COMPLETE)
        return ms_errf(err, errlen, "%s is not the name of a complete snapshot (%s)", want,
                       "like 2026-12-07T021500Z");
    if (!is_type(dir, want, S_IFDIR))
        return ms_errf(err, errlen, "there is no snapshot %s%s", want,
                       latest ? " (where latest points)" : "");
    if (strlen(want) >= outlen)
        return ms_errf(err, errlen, "snapshot name too long");
    snprintf(out, outlen, "%s", want);
    return 0;
}

/* How many real folders (projects) snapshot folder name holds. */
static json_int_t count_projects(int dir, const char *name)
{
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    json_int_t n = 0;
    struct dirent *e;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && is_type(fd, e->d_name, S_IFDIR);
    closedir(d);
    return n;
}

static const char *kind_name(ms_snap_kind_t k)
{
    return k == MS_SNAP_COMPLETE ? "complete" : k == MS_SNAP_PARTIAL_KIND ? "partial" : "pruning";
}

/* One snapshot's row: its name and state, and its run's figures. */
static json_t *describe_one(int dir, const ms_snap_t *s)
{
    char when[32], stamp[MS_SNAP_NAME_MAX];
    struct tm tm;
    gmtime_r(&s->time, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:b, s:I}", "name", s->name, "state", kind_name(s->kind), "time",
                  when, "latest", s->latest, "projects", count_projects(dir, s->name));
    snprintf(stamp, sizeof stamp, "%.18s", s->name);
    char *text = o ? ms_snap_read_meta(dir, stamp) : NULL;
    json_t *notes = text ? json_loads(text, 0, NULL) : NULL;
    json_t *tot = json_object_get(notes, "totals");
    if (json_is_object(tot)) {
        json_object_set(o, "run_id", json_object_get(notes, "run_id"));
        json_object_set(o, "files", json_object_get(tot, "files"));
        json_object_set(o, "bytes_total", json_object_get(tot, "bytes_total"));
        json_object_set(o, "bytes_transferred", json_object_get(tot, "bytes_transferred"));
    }
    json_decref(notes);
    free(text);
    return o;
}

json_t *ms_snap_describe(int dir, char *err, size_t errlen)
{
    ms_snap_t *s;
    size_t n;
    if (ms_snap_list(dir, &s, &n, err, errlen) != 0)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, describe_one(dir, &s[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    free(s);
    if (!arr)
        ms_errf(err, errlen, "out of memory listing snapshots");
    return arr;
}

int ms_snap_hold(int dir, const char *name)
{
    char file[MS_SNAP_NAME_MAX + 16];
    char err[8];
    snprintf(file, sizeof file, "%s.readers", name);
    int meta = open_meta(dir, err, sizeof err);
    int fd = meta < 0 ? -1 : openat(meta, file, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (meta >= 0)
        close(meta);
    if (fd < 0) { /* may not write here: an existing one may still be read */
        snprintf(file, sizeof file, "%s/%s.readers", MS_SNAP_META, name);
        fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int ms_snap_held(int dir, const char *name)
{
    char file[MS_SNAP_NAME_MAX + 24];
    snprintf(file, sizeof file, "%s/%s.readers", MS_SNAP_META, name);
    int fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}
