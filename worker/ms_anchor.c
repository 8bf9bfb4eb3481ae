/*
 * ms_anchor.c - open a task's folders without following a symbolic link
 * below the roots (see ms_anchor.h).
 */
#include "ms_anchor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_path.h"

#define DIR_FLAGS (O_PATH | O_DIRECTORY | O_CLOEXEC)
/* How often a destination folder is made again when it keeps being swapped. */
#define MAKE_TRIES 3

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* What name in dirfd is, for a message ("a symbolic link", "a file"...). */
static const char *kind_of(int dirfd, const char *name)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return "gone";
    if (S_ISLNK(st.st_mode))
        return "a symbolic link";
    if (S_ISDIR(st.st_mode))
        return "a folder";
    return S_ISREG(st.st_mode) ? "a file" : "not a folder";
}

/* path += "/" + name (shown in messages only; cut when too long). */
static void path_add(char *path, size_t size, const char *name)
{
    size_t len = strlen(path);

    snprintf(path + len, size - len, "%s%s", len && path[len - 1] == '/' ? "" : "/", name);
}

/* The next component of *rel into comp (NUL-terminated); 0 when none is left. */
static int next_comp(const char **rel, char *comp)
{
    const char *p = *rel + strspn(*rel, "/");
    size_t n = strcspn(p, "/");

    if (n == 0)
        return 0;
    memcpy(comp, p, n); /* ms_rsync_check_task: n <= NAME_MAX */
    comp[n] = '\0';
    *rel = p + n;
    return 1;
}

/* Descend from *fd (replaced) through rel in the source; a component that
 * is not a real folder any more means the task's folder vanished. */
static int open_source_rel(int *fd, const char *rel, char *path, size_t size, char *err,
                           size_t errlen)
{
    char comp[NAME_MAX + 1];

    while (next_comp(&rel, comp)) {
        int next = openat(*fd, comp, DIR_FLAGS | O_NOFOLLOW);

        path_add(path, size, comp);
        if (next < 0 && (errno == ENOENT || errno == ENOTDIR)) {
            ms_errf(err, errlen, "source %s is %s since the walk: nothing to copy", path,
                    errno == ENOENT ? "gone" : kind_of(*fd, comp));
            return MS_ANCHOR_VANISHED;
        }
        if (next < 0)
            return ms_errf(err, errlen, "source %s: %s", path, strerror(errno));
        close(*fd);
        *fd = next;
    }
    return 0;
}

/* Note what was replaced (the first few; the rest as a count). */
static void note_replaced(char *note, size_t size, const char *path, const char *kind)
{
    size_t len = strlen(note);

    if (len + 8 >= size)
        return;
    snprintf(note + len, size - len, "%sreplaced %s %s by a folder", len ? "; " : "", kind, path);
}

/*
 * The folder name in dirfd, made or replaced as needed: a missing one is
 * created, a link or a file is removed (unlinkat never follows a link) and
 * a folder created in its place. Returns its descriptor, or -1 with err set.
 */
static int make_folder(int dirfd, const char *name, const char *path, char *note, size_t notelen,
                       char *err, size_t errlen)
{
    for (int i = 0; i < MAKE_TRIES; i++) {
        int fd = openat(dirfd, name, DIR_FLAGS | O_NOFOLLOW);

        if (fd >= 0)
            return fd;
        if (errno == ENOTDIR) {
            const char *kind = kind_of(dirfd, name);

            if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT && errno != EISDIR)
                return ms_errf(err, errlen, "destination %s is %s and cannot be removed: %s", path,
                               kind, strerror(errno));
            note_replaced(note, notelen, path, kind);
        } else if (errno != ENOENT) {
            return ms_errf(err, errlen, "destination %s: %s", path, strerror(errno));
        }
        if (mkdirat(dirfd, name, 0777) != 0 && errno != EEXIST)
            return ms_errf(err, errlen, "cannot create destination %s: %s", path, strerror(errno));
    }
    return ms_errf(err, errlen, "destination %s keeps being replaced while the worker makes it",
                   path);
}

/*
 * The same folder in the link snapshot, when it is there: a->link_root
 * (DST/LINK) and a->link (its folder below), opened like the source, never
 * through a link. Anything missing or not a folder is no error: a project
 * new since that snapshot has nothing to link to (a->link -1).
 */
static void open_link(int root, const ms_task_t *t, const char *rel, ms_anchor_t *a)
{
    char path[PATH_MAX] = "", err[8];
    if (!t->link || !t->link[0] ||
        (a->link_root = openat(root, t->link, DIR_FLAGS | O_NOFOLLOW)) < 0)
        return;
    if ((a->link = fcntl(a->link_root, F_DUPFD_CLOEXEC, 3)) >= 0 &&
        open_source_rel(&a->link, rel, path, sizeof path, err, sizeof err) != 0)
        close_fd(&a->link);
}

/*
 * A verify's folder comp in dirfd: opened, never made nor replaced. One
 * that is missing, a link or not a folder is a difference, not an error:
 * -1 with *missing set and err naming it (shown, the path rel from the
 * backup's root, "alpha/sub/"). A dry run's is no difference: its copy
 * would make the folder (or replace what is there, which a->note says),
 * and its rsync compares with nothing (a->absent), so that every entry is
 * listed. Returns its descriptor, or -1 with err.
 */
static int open_backup(int dirfd, const char *comp, char *rel, size_t relsize, int *missing,
                       ms_anchor_t *a, int dry_run, char *err, size_t errlen)
{
    size_t len = strlen(rel);
    int fd = openat(dirfd, comp, DIR_FLAGS | O_NOFOLLOW);

    snprintf(rel + len, relsize - len, "%s/", comp);
    if (fd >= 0 || (errno != ENOENT && errno != ENOTDIR))
        return fd >= 0 ? fd : ms_errf(err, errlen, "backup %s: %s", rel, strerror(errno));
    const char *kind = kind_of(dirfd, comp);
    int gone = strcmp(kind, "gone") == 0;
    *missing = 1;
    a->absent = dry_run;
    if (dry_run && !gone)
        snprintf(a->note, sizeof a->note,
                 "%s is %s in the backup: the copy would replace it by a "
                 "folder",
                 rel, kind);
    if (gone)
        return ms_errf(err, errlen, "%s: missing from the backup", rel);
    return ms_errf(err, errlen, "%s: %s in the backup, not a folder", rel, kind);
}

/* The destination root, made when missing (but for a verify); in a
 * snapshot, the snapshot's folder in it, which the master made: never made
 * nor followed here. A dry run's that is not there yet is absent
 * (a->absent, -1 with err ""): its backup would begin there. */
static int open_dest_root(const ms_task_t *t, const char *rel, ms_anchor_t *a, char *path,
                          size_t size, char *err, size_t errlen)
{
    int fd = open(t->dest, DIR_FLAGS);

    if (fd < 0 && errno == ENOENT && !(t->flags & MS_TASK_VERIFY) &&
        ms_path_mkdirs(t->dest, err, errlen) == 0)
        fd = open(t->dest, DIR_FLAGS);
    if (fd < 0 && errno == ENOENT && (t->flags & MS_TASK_DRY_RUN)) {
        a->absent = 1;
        return -1;
    }
    if (fd < 0)
        return err[0] ? -1 : ms_errf(err, errlen, "destination %s: %s", t->dest, strerror(errno));
    snprintf(path, size, "%s", t->dest);
    if (!t->snap || !t->snap[0])
        return fd;
    open_link(fd, t, rel, a);
    path_add(path, size, t->snap);
    int snap = openat(fd, t->snap, DIR_FLAGS | O_NOFOLLOW);
    if (snap < 0 && errno == ENOENT && (t->flags & MS_TASK_DRY_RUN))
        a->absent = 1; /* the snapshot it would begin */
    else if (snap < 0)
        ms_errf(err, errlen, "snapshot folder %s: %s", path,
                errno == ENOENT || errno == ENOTDIR ? kind_of(fd, t->snap) : strerror(errno));
    close(fd);
    return snap;
}

static int open_dest(const ms_task_t *t, const char *rel, ms_anchor_t *a, char *err, size_t errlen)
{
    char path[PATH_MAX], comp[NAME_MAX + 1], backup[PATH_MAX] = "";
    int fd = open_dest_root(t, rel, a, path, sizeof path, err, errlen), missing = 0;
    int dry_run = (t->flags & MS_TASK_DRY_RUN) != 0;

    if (fd < 0)
        return a->absent ? 0 : -1;
    while (next_comp(&rel, comp)) {
        path_add(path, sizeof path, comp);
        int next =
            (t->flags & MS_TASK_VERIFY)
                ? open_backup(fd, comp, backup, sizeof backup, &missing, a, dry_run, err, errlen)
                : make_folder(fd, comp, path, a->note, sizeof a->note, err, errlen);
        close(fd);
        if (next < 0 && a->absent)
            err[0] = '\0';
        if (next < 0)
            return a->absent ? 0 : missing ? MS_ANCHOR_MISSING : -1;
        fd = next;
    }
    a->dst = fd;
    return 0;
}

int ms_anchor_open(const ms_task_t *t, ms_anchor_t *a, char *err, size_t errlen)
{
    char rel[PATH_MAX], path[PATH_MAX];
    const char *sub = t->sub ? t->sub : "";
    int rc;

    memset(a, 0, sizeof *a);
    a->src_root = a->src = a->dst = a->link_root = a->link = -1;
    err[0] = '\0';
    if ((size_t)snprintf(rel, sizeof rel, "%s/%s", t->project, sub) >= sizeof rel)
        return ms_errf(err, errlen, "task path too long");
    if ((a->src_root = open(t->source, DIR_FLAGS)) < 0)
        return ms_errf(err, errlen, "source %s: %s", t->source, strerror(errno));
    if ((a->src = fcntl(a->src_root, F_DUPFD_CLOEXEC, 3)) < 0) {
        rc = ms_errf(err, errlen, "source %s: %s", t->source, strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof path, "%s", t->source);
    /* The source first: a vanished one must leave no trace in the backup. */
    if ((rc = open_source_rel(&a->src, rel, path, sizeof path, err, errlen)) != 0)
        goto fail;
    if (!ms_path_is_remote(t->dest) && (rc = open_dest(t, rel, a, err, errlen)) != 0)
        goto fail;
    /* Carried over: its copy in the link snapshot is what rsync reads (and
     * links to); without one there, the source, as any snapshot task. */
    if ((t->flags & MS_TASK_CARRY) && a->link >= 0) {
        close(a->src);
        if ((a->src = fcntl(a->link, F_DUPFD_CLOEXEC, 3)) < 0) {
            rc = ms_errf(err, errlen, "link snapshot %s: %s", t->link, strerror(errno));
            goto fail;
        }
    }
    return 0;
fail:
    ms_anchor_close(a);
    return rc;
}

/* Every member of a pack is a real folder of the source root: 0, or
 * MS_ANCHOR_VANISHED naming the first that is not (nothing is made then). */
static int pack_sources(const ms_task_t *t, int root, char *err, size_t errlen)
{
    for (uint32_t i = 0; i <= t->n_items; i++) {
        const char *name = i == 0 ? t->project : t->items[i - 1];
        int fd = openat(root, name, DIR_FLAGS | O_NOFOLLOW);
        if (fd < 0) {
            ms_errf(err, errlen, "source %s/%s is %s since the walk", t->source, name,
                    errno == ENOENT ? "gone" : kind_of(root, name));
            return MS_ANCHOR_VANISHED;
        }
        close(fd);
    }
    return 0;
}

/* Each member's folder in the destination root: made, or a link or file
 * there replaced (never followed), as for any task. */
static int pack_dests(const ms_task_t *t, ms_anchor_t *a, const char *root, char *err,
                      size_t errlen)
{
    char path[PATH_MAX];
    for (uint32_t i = 0; i <= t->n_items; i++) {
        const char *name = i == 0 ? t->project : t->items[i - 1];
        snprintf(path, sizeof path, "%s", root);
        path_add(path, sizeof path, name);
        int fd = make_folder(a->dst, name, path, a->note, sizeof a->note, err, errlen);
        if (fd < 0)
            return -1;
        close(fd);
    }
    return 0;
}

int ms_anchor_open_pack(const ms_task_t *t, ms_anchor_t *a, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int rc;

    memset(a, 0, sizeof *a);
    a->src_root = a->src = a->dst = a->link_root = a->link = -1;
    err[0] = '\0';
    if ((a->src_root = open(t->source, DIR_FLAGS)) < 0)
        return ms_errf(err, errlen, "source %s: %s", t->source, strerror(errno));
    if ((a->src = fcntl(a->src_root, F_DUPFD_CLOEXEC, 3)) < 0) {
        rc = ms_errf(err, errlen, "source %s: %s", t->source, strerror(errno));
        goto fail;
    }
    if ((rc = pack_sources(t, a->src_root, err, errlen)) != 0)
        goto fail;
    rc = -1;
    if (ms_path_is_remote(t->dest))
        return 0;
    if ((a->dst = open_dest_root(t, "", a, path, sizeof path, err, errlen)) < 0 ||
        pack_dests(t, a, path, err, errlen) != 0)
        goto fail;
    if (a->link_root >= 0 && (a->link = fcntl(a->link_root, F_DUPFD_CLOEXEC, 3)) < 0)
        goto fail;
    return 0;
fail:
    ms_anchor_close(a);
    return rc;
}

void ms_anchor_close(ms_anchor_t *a)
{
    close_fd(&a->src_root);
    close_fd(&a->src);
    close_fd(&a->dst);
    close_fd(&a->link_root);
    close_fd(&a->link);
}
