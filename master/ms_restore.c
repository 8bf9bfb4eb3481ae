/*
 * ms_restore.c - what a restore copies and into where (see ms_restore.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_path.h"
#include "ms_proto.h"
#include "ms_restore.h"
#include "ms_snap.h"

#define DIR_PATH (O_PATH | O_DIRECTORY | O_CLOEXEC)
/* Deeper than any real tree: a walk up to / that does not end is refused. */

void ms_restore_free(ms_restore_t *rs)
{
    if (!rs)
        return;
    free(rs->source);
    free(rs->snapshot);
    free(rs->project);
    free(rs->sub);
    free(rs->item);
    memset(rs, 0, sizeof *rs);
}

/* rs's project, sub and item from p, a checked relative path. */
static int split_checked(const char *p, ms_restore_t *rs)
{
    size_t plen = strcspn(p, "/");
    const char *path = p[plen] ? p + plen + 1 : NULL, *last = path ? strrchr(path, '/') : NULL;
    rs->project = strndup(p, plen);
    if (path) {
        rs->sub = last ? strndup(path, (size_t)(last - path)) : strdup("");
        rs->item = strdup(last ? last + 1 : path);
    }
    return rs->project && (!path || (rs->sub && rs->item)) ? 0 : -1;
}

int ms_restore_split(const char *path, ms_restore_t *rs, char *err, size_t errlen)
{
    memset(rs, 0, sizeof *rs);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    char *p = strndup(path, len);
    if (!p)
        return ms_errf(err, errlen, "out of memory");
    int rc = ms_path_check_relpath("the path to restore", p, err, errlen);
    if (rc == 0 && split_checked(p, rs) != 0)
        rc = ms_errf(err, errlen, "out of memory");
    free(p);
    if (rc != 0)
        ms_restore_free(rs);
    return rc;
}

/* What name in dir is, for a message. */
static const char *kind_of(int dir, const char *name)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return "missing";
    return S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISDIR(st.st_mode) ? "a folder" : "a file";
}

/* rs's path in the project's folder (open as *fd, moved down): every
 * folder on the way a real folder, never a link, and the entry there. */
static int check_path(int *fd, const ms_restore_t *rs, const char *where, char *err, size_t errlen)
{
    char comp[NAME_MAX + 1];
    for (const char *s = rs->sub; *s;) {
        size_t n = strcspn(s, "/");
        int upto = (int)(s - rs->sub) + (int)n;
        memcpy(comp, s, n); /* checked: n <= NAME_MAX */
        comp[n] = '\0';
        int next = openat(*fd, comp, DIR_PATH | O_NOFOLLOW);
        if (next < 0 && errno == ENOENT)
            return ms_errf(err, errlen, "%s has no %s/%.*s", where, rs->project, upto, rs->sub);
        if (next < 0)
            return ms_errf(err, errlen, "%s: %s/%.*s is %s, not a folder", where, rs->project, upto,
                           rs->sub, kind_of(*fd, comp));
        close(*fd);
        *fd = next;
        s += n + (s[n] == '/');
    }
    struct stat st;
    if (fstatat(*fd, rs->item, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return ms_errf(err, errlen, "%s has no %s/%s%s%s", where, rs->project, rs->sub,
                       rs->sub[0] ? "/" : "", rs->item);
    return 0;
}

/* rs's project (and path) are in the source root, open as root. */
static int check_present(int root, const ms_restore_t *rs, const char *where, char *err,
                         size_t errlen)
{
    int fd = openat(root, rs->project, DIR_PATH | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return ms_errf(err, errlen, "%s has no project %s", where, rs->project);
    if (fd < 0)
        return ms_errf(err, errlen, "%s: %s is %s, not a project's folder", where, rs->project,
                       kind_of(root, rs->project));
    int rc = rs->item ? check_path(&fd, rs, where, err, errlen) : 0;
    close(fd);
    return rc;
}

/* The source root in backup (open as dir): the snapshot asked for, or the
 * backup itself when it is a mirror. Its descriptor, or -1 with err. */
static int open_root(int dir, const char *backup, const char *snapshot, ms_restore_t *rs, char *err,
                     size_t errlen)
{
    char name[MS_SNAP_NAME_MAX], why[512];
    int has = ms_snap_present(dir, why, sizeof why);
    if (has < 0)
        return ms_errf(err, errlen, "backup %s: %s", backup, why);
    if (!has && snapshot)
        return ms_errf(err, errlen,
                       "backup %s holds no snapshots (a mirror): restore from it without "
                       "--snapshot",
                       backup);
    if (!has)
        return fcntl(dir, F_DUPFD_CLOEXEC, 3);
    if (ms_snap_resolve(dir, snapshot, name, sizeof name, why, sizeof why) != 0)
        return ms_errf(err, errlen, "backup %s: %s", backup, why);
    int root = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0)
        return ms_errf(err, errlen, "snapshot %s/%s: %s", backup, name, strerror(errno));
    if (!(rs->snapshot = strdup(name))) {
        close(root);
        return ms_errf(err, errlen, "out of memory");
    }
    return root;
}

/* backup without trailing slashes, then "/" and snapshot when there is one. */
static char *source_root(const char *backup, const char *snapshot)
{
    size_t len = strlen(backup);
    char *s;
    while (len > 1 && backup[len - 1] == '/')
        len--;
    if (asprintf(&s, "%.*s%s%s", (int)len, backup, snapshot ? "/" : "", snapshot ? snapshot : "") <
        0)
        return NULL;
    return s;
}

int ms_restore_resolve(const char *backup, const char *snapshot, const char *path, ms_restore_t *rs,
                       char *err, size_t errlen)
{
    char where[PATH_MAX + 64];
    memset(rs, 0, sizeof *rs);
    if (ms_path_is_remote(backup) || backup[0] != '/')
        return ms_errf(err, errlen,
                       "a restore reads a backup the master sees at an absolute path, not %s",
                       backup);
    if (ms_restore_split(path, rs, err, errlen) != 0)
        return -1;
    int dir = open(backup, O_RDONLY | O_DIRECTORY | O_CLOEXEC), root = -1, rc = -1;
    if (dir < 0)
        ms_errf(err, errlen, "backup %s: %s", backup, strerror(errno));
    else
        root = open_root(dir, backup, snapshot, rs, err, errlen);
    if (root >= 0) {
        if (rs->snapshot)
            snprintf(where, sizeof where, "snapshot %s", rs->snapshot);
        else
            snprintf(where, sizeof where, "backup %s", backup);
        rc = check_present(root, rs, where, err, errlen);
        close(root);
    }
    if (dir >= 0)
        close(dir);
    if (rc == 0 && !(rs->source = source_root(backup, rs->snapshot)))
        rc = ms_errf(err, errlen, "out of memory");
    if (rc != 0)
        ms_restore_free(rs);
    return rc;
}

int ms_restore_add_tasks(ms_runrec_t *r, const ms_restore_t *rs)
{
    ms_trec_t *t = ms_run_add_task(r, rs->project, 0);
    if (!t)
        return -1;
    if (!rs->item) {
        ms_run_set_state(t, MS_TS_SCANNING);
        return 0;
    }
    /* What is taken is freed with the run, whatever fails. */
    if (!(t->items = calloc(1, sizeof *t->items)))
        return -1;
    t->n_items = 1;
    if (!(t->items[0] = strdup(rs->item)))
        return -1;
    return rs->sub[0] && !(t->sub = strdup(rs->sub)) ? -1 : 0;
}

/* --- the target folder ----------------------------------------------------- */

/* dir (or, missing, the folder it would be made in) is not in the backup,
 * and the backup is not in it. */
static int check_apart(const char *backup, int bfd, const struct stat *bst, const char *dir,
                       char *err, size_t errlen)
{
    int where = ms_path_nesting_fd(bfd, bst, dir, err, errlen);
    if (where < 0)
        return -1;
    if (where == MS_PATH_INSIDE)
        return ms_errf(err, errlen,
                       "%s is inside the backup %s: a restore never writes into a backup; "
                       "choose a folder outside it",
                       dir, backup);
    if (where == MS_PATH_HOLDS)
        return ms_errf(err, errlen,
                       "the backup %s is inside %s: a restore never writes where a backup is; "
                       "choose another folder",
                       backup, dir);
    return 0;
}

/* dir is absolute, with no "." or ".." part (made by ms_restore_abspath). */
static int check_dir_path(const char *dir, char *err, size_t errlen)
{
    if (dir[0] != '/' || ms_path_is_remote(dir))
        return ms_errf(err, errlen,
                       "a restore writes into a folder the master sees at an absolute path, not %s",
                       dir);
    if (dir[1] && ms_path_check_relpath("the folder to restore into", dir + 1, err, errlen) != 0)
        return ms_errf(err, errlen, "%s: give it without \".\", \"..\" or \"//\"", dir);
    return 0;
}

int ms_restore_target(const char *backup, const char *dir, char *err, size_t errlen)
{
    struct stat bst;
    char why[PATH_MAX + 128];
    if (check_dir_path(dir, err, errlen) != 0)
        return -1;
    int bfd = open(backup, DIR_PATH);
    if (bfd < 0 || fstat(bfd, &bst) != 0) {
        ms_errf(err, errlen, "backup %s: %s", backup, strerror(errno));
        if (bfd >= 0)
            close(bfd);
        return -1;
    }
    /* Before anything is made (it could be made in the backup), and again
     * once it is there (something may have been swapped meanwhile). */
    int rc = check_apart(backup, bfd, &bst, dir, err, errlen);
    if (rc == 0 && ms_path_mkdirs(dir, why, sizeof why) != 0)
        rc = ms_errf(err, errlen,
                     "%s; the master must see %s at the same path as the workers: make it, "
                     "empty, where the master can read it",
                     why, dir);
    if (rc == 0)
        rc = check_apart(backup, bfd, &bst, dir, err, errlen);
    close(bfd);
    return rc;
}

int ms_restore_check_empty(const char *dir, int force, char *err, size_t errlen)
{
    if (force)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return ms_errf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, MS_DEST_LOCK))
            rc = ms_errf(err, errlen,
                         "%s is not empty (it holds %s): restore into an empty folder, or give "
                         "--force to write over what is there",
                         dir, e->d_name);
    closedir(d);
    return rc;
}

/* --- DIR as the master takes it ---------------------------------------------- */

int ms_restore_abspath(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    char full[PATH_MAX], cwd[PATH_MAX], real[PATH_MAX];
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return ms_errf(err, errlen, "cannot tell the working folder: %s", strerror(errno));
    if ((size_t)snprintf(full, sizeof full, "%s%s%s", path[0] == '/' ? "" : cwd,
                         path[0] == '/' ? "" : "/", path) >= sizeof full)
        return ms_errf(err, errlen, "%s: path too long", path);
    size_t len = strlen(full);
    while (len > 1 && full[len - 1] == '/')
        full[--len] = '\0';
    /* The longest part that exists, resolved; what follows it must be names. */
    for (size_t cut = len;;) {
        char saved = full[cut];
        full[cut] = '\0';
        int found = realpath(cut ? full : "/", real) != NULL;
        full[cut] = saved;
        if (found) {
            const char *rest = full + cut + (full[cut] == '/');
            if (*rest && ms_path_check_relpath("its missing part", rest, err, errlen) != 0)
                return ms_errf(err, errlen,
                               "%s: its missing part may hold no \".\", \"..\" or "
                               "\"//\"",
                               path);
            int n = snprintf(out, outlen, "%s%s%s", real, *rest && real[1] ? "/" : "", rest);
            return n >= 0 && (size_t)n < outlen ? 0
                                                : ms_errf(err, errlen, "%s: path too long", path);
        }
        if (errno != ENOENT)
            return ms_errf(err, errlen, "%s: %s", path, strerror(errno));
        while (cut > 0 && full[cut - 1] != '/')
            cut--;
        if (cut > 0)
            cut--; /* the slash */
    }
}
