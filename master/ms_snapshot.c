#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_path.h"
#include "ms_snap.h"
#include "ms_snapshot.h"

/* How many seconds on a name moves when a snapshot of that second exists. */
#define NAME_TRIES 120

void ms_snapshot_folder(const ms_runrec_t *r, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s%s", r->snap ? r->snap->name : "", MS_SNAP_PARTIAL);
}

static int open_dest(const char *dest, int make, char *err, size_t errlen)
{
    if (make && ms_path_mkdirs(dest, err, errlen) != 0)
        return -1;
    int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        ms_errf(err, errlen, "destination %s: %s", dest, strerror(errno));
    return fd;
}

int ms_snapshot_check_mirror(const char *dest, char *err, size_t errlen)
{
    if (ms_path_is_remote(dest))
        return 0;
    int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* not there yet, or not ours to look at: the run says so */
    int has = ms_snap_present(fd, err, errlen);
    close(fd);
    if (has > 0)
        return ms_errf(err, errlen,
                       "destination %s holds snapshots: a mirror run there would delete them; "
                       "run with --snapshot, or choose another destination",
                       dest);
    return has < 0 ? -1 : 0;
}

/* A name for a new snapshot at now, free in the listing: a snapshot of the
 * same second (a quick rerun) moves it on by seconds. */
static int free_name(const ms_snap_t *s, size_t n, time_t now, char *out, size_t outlen)
{
    for (int i = 0; i < NAME_TRIES; i++, now++) {
        int taken = 0;
        ms_snap_format(now, out, outlen);
        for (size_t k = 0; k < n && !taken; k++)
            taken = strncmp(s[k].name, out, strlen(out)) == 0;
        if (!taken)
            return 0;
    }
    return -1;
}

/* The folder this run writes: the newest partial one taken over (renamed
 * to name), or a new one. */
static int make_folder(int dir, const ms_snap_t *partial, const char *name, char *err,
                       size_t errlen)
{
    char folder[MS_SNAP_NAME_MAX + sizeof MS_SNAP_PARTIAL]; /* (name is shorter: for gcc) */
    snprintf(folder, sizeof folder, "%s%s", name, MS_SNAP_PARTIAL);
    if (partial)
        return ms_snap_rename(dir, partial->name, folder, err, errlen);
    if (mkdirat(dir, folder, 0755) != 0)
        return ms_errf(err, errlen, "cannot make the snapshot folder %s: %s", folder,
                       strerror(errno));
    return 0;
}

/* A snapshot destination holds only snapshots: 0, or -1 with err. */
static int check_foreign(int dir, const ms_runrec_t *r, char *err, size_t errlen)
{
    char foreign[256];
    int f = ms_snap_foreign(dir, foreign, sizeof foreign, err, errlen);
    if (f != 0)
        return f < 0 ? -1
                     : ms_errf(err, errlen,
                               "destination %s holds %s, which is not a snapshot: a snapshot "
                               "destination holds only snapshots (a mirror's run would delete "
                               "them); choose an empty folder",
                               r->dest, foreign);
    return 0;
}

static int begin_in(int dir, ms_runrec_t *r, time_t now, const ms_keep_t *keep, char *err,
                    size_t errlen)
{
    char name[MS_SNAP_NAME_MAX];
    if (check_foreign(dir, r, err, errlen) != 0)
        return -1;
    ms_snap_t *s = NULL;
    size_t n = 0;
    if (ms_snap_list(dir, &s, &n, err, errlen) != 0)
        return -1;
    const ms_snap_t *partial = ms_snap_newest(s, n, MS_SNAP_PARTIAL_KIND);
    const ms_snap_t *link = ms_snap_newest(s, n, MS_SNAP_COMPLETE);
    int rc = -1;
    if (free_name(s, n, now, name, sizeof name) != 0)
        ms_errf(err, errlen, "no free snapshot name in %s", r->dest);
    else if (make_folder(dir, partial, name, err, errlen) == 0)
        rc = ms_run_set_snap(r, name, link ? link->name : NULL, keep) == 0
                 ? 0
                 : ms_errf(err, errlen, "out of memory starting a snapshot");
    free(s);
    return rc;
}

int ms_snapshot_begin(ms_runrec_t *r, time_t now, const ms_keep_t *keep, char *err, size_t errlen)
{
    if (ms_path_is_remote(r->dest))
        return ms_errf(err, errlen,
                       "a snapshot needs a destination folder that the master and its workers "
                       "see (a local disk or a shared mount), not the rsync remote %s",
                       r->dest);
    int dir = open_dest(r->dest, 1, err, errlen);
    if (dir < 0)
        return -1;
    int rc = begin_in(dir, r, now, keep, err, errlen);
    close(dir);
    return rc;
}

static int verify_in(int dir, ms_runrec_t *r, const char *want, char *err, size_t errlen)
{
    char name[MS_SNAP_NAME_MAX], why[512];
    int has = ms_snap_present(dir, err, errlen);
    if (has < 0)
        return -1;
    if (has == 0 && want)
        return ms_errf(err, errlen,
                       "destination %s holds no snapshots (a mirror): --snapshot %s is for a "
                       "destination of snapshots",
                       r->dest, want);
    if (has == 0)
        return 0;
    if (ms_snap_resolve(dir, want, name, sizeof name, why, sizeof why) != 0)
        return ms_errf(err, errlen, "destination %s: %s", r->dest, why);
    if (ms_run_set_snap(r, name, NULL, NULL) != 0)
        return ms_errf(err, errlen, "out of memory starting a verify");
    r->snap->complete = 1;
    return 0;
}

int ms_snapshot_verify(ms_runrec_t *r, const char *want, char *err, size_t errlen)
{
    if (ms_path_is_remote(r->dest))
        return want ? ms_errf(err, errlen,
                              "snapshots are kept in a destination folder the master sees, "
                              "not in the rsync remote %s: no --snapshot there",
                              r->dest)
                    : 0;
    int dir = open_dest(r->dest, 0, err, errlen);
    if (dir < 0)
        return -1;
    int rc = verify_in(dir, r, want, err, errlen);
    if (rc == 0 && r->snap) /* retention keeps it while it is read */
        r->snap_read_fd = ms_snap_hold(dir, r->snap->name);
    close(dir);
    return rc;
}

/* A dry run of a snapshot in the destination dir: compared with its
 * latest complete snapshot, else with the one it would begin (none yet). */
static int dry_run_in(int dir, ms_runrec_t *r, time_t now, char *err, size_t errlen)
{
    char name[MS_SNAP_NAME_MAX];
    ms_snap_t *s = NULL;
    size_t n = 0;
    if (check_foreign(dir, r, err, errlen) != 0 || ms_snap_list(dir, &s, &n, err, errlen) != 0)
        return -1;
    const ms_snap_t *last = ms_snap_newest(s, n, MS_SNAP_COMPLETE);
    int rc = 0;
    if (last)
        snprintf(name, sizeof name, "%s", last->name);
    else if (free_name(s, n, now, name, sizeof name) != 0)
        rc = ms_errf(err, errlen, "no free snapshot name in %s", r->dest);
    if (rc == 0 && ms_run_set_snap(r, name, NULL, NULL) != 0)
        rc = ms_errf(err, errlen, "out of memory starting a dry run");
    if (rc == 0)
        r->snap->complete = last != NULL;
    free(s);
    return rc;
}

int ms_snapshot_dry_run(ms_runrec_t *r, time_t now, char *err, size_t errlen)
{
    char name[MS_SNAP_NAME_MAX];
    int snapshot = (r->flags & MS_RUN_SNAPSHOT) != 0;
    if (snapshot && ms_path_is_remote(r->dest))
        return ms_snapshot_begin(r, now, NULL, err, errlen); /* says why not */
    if (!snapshot)
        return ms_snapshot_check_mirror(r->dest, err, errlen);
    int dir = open(r->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0 && errno != ENOENT)
        return ms_errf(err, errlen, "destination %s: %s", r->dest, strerror(errno));
    if (dir >= 0) {
        int rc = dry_run_in(dir, r, now, err, errlen);
        close(dir);
        return rc;
    }
    ms_snap_format(now, name, sizeof name); /* not there yet: its first snapshot */
    return ms_run_set_snap(r, name, NULL, NULL) == 0
               ? 0
               : ms_errf(err, errlen, "out of memory starting a dry run");
}

static int complete_in(int dir, ms_runrec_t *r, const char *notes, char *err, size_t errlen)
{
    char folder[MS_SNAP_NAME_MAX];
    ms_snapshot_folder(r, folder, sizeof folder);
    if (ms_snap_rename(dir, folder, r->snap->name, err, errlen) != 0 ||
        ms_snap_set_latest(dir, r->snap->name, err, errlen) != 0)
        return -1;
    r->snap->complete = 1;
    /* The notes only add figures to `multisync snapshots`: a snapshot is
     * complete without them. */
    if (notes && ms_snap_write_meta(dir, r->snap->name, notes, err, errlen) != 0)
        err[0] = '\0';
    return 0;
}

int ms_snapshot_complete(ms_runrec_t *r, const char *notes, char *err, size_t errlen)
{
    err[0] = '\0';
    int dir = r->snap ? open_dest(r->dest, 0, err, errlen) : -1;
    int rc = dir >= 0 ? complete_in(dir, r, notes, err, errlen) : -1;
    if (dir >= 0)
        close(dir);
    if (rc != 0 && r->snap && !r->snap->error)
        r->snap->error = strdup(err[0] ? err : "cannot complete the snapshot");
    return rc;
}

/* The complete snapshots r's rules let go, renamed NAME.pruning, into
 * *going (with what earlier runs left pruning). */
static int choose(int dir, ms_runrec_t *r, ms_strv_t *going, char *err, size_t errlen)
{
    ms_snap_t *s;
    size_t n, k = 0;
    if (ms_snap_list(dir, &s, &n, err, errlen) != 0)
        return -1;
    time_t *times = calloc(n + 1, sizeof *times);
    const char **why = calloc(n + 1, sizeof *why);
    size_t *at = calloc(n + 1, sizeof *at);
    int rc = times && why && at ? 0 : ms_errf(err, errlen, "out of memory choosing what to keep");
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (s[i].kind == MS_SNAP_COMPLETE) {
            at[k] = i;
            times[k++] = s[i].time;
        }
    if (rc == 0 && ms_keep_select(&r->snap->keep, times, k, why) < 0)
        rc = ms_errf(err, errlen, "out of memory choosing what to keep");
    for (size_t j = 0; rc == 0 && j < k; j++) {
        char folder[2 * MS_SNAP_NAME_MAX];
        const ms_snap_t *one = &s[at[j]];
        /* Kept: by a rule, being the new one, or being read (a restore, a
         * verify) — that one goes with a later run. */
        if (why[j] || strcmp(one->name, r->snap->name) == 0 || ms_snap_held(dir, one->name))
            continue;
        snprintf(folder, sizeof folder, "%s%s", one->name, MS_SNAP_PRUNING);
        if (ms_snap_rename(dir, one->name, folder, err, errlen) != 0 ||
            ms_strv_push(going, folder) != 0)
            rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (s[i].kind == MS_SNAP_PRUNING_KIND && ms_strv_push(going, s[i].name) != 0)
            rc = ms_errf(err, errlen, "out of memory choosing what to keep");
    free(times);
    free(why);
    free(at);
    free(s);
    return rc;
}

/* Hand out each folder of the snapshot folder `folder` (real folders only:
 * a link or a file is left for the snapshot's last removal). Returns how
 * many. */
static int hand_out(int dir, const char *folder, ms_snapshot_add_fn add, void *arg)
{
    int fd = openat(dir, folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    struct stat st;
    int n = 0;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
            continue;
        if (add(arg, folder, e->d_name) != 0) {
            n = -1;
            break;
        }
        n++;
    }
    closedir(d);
    return n;
}

int ms_snapshot_retain(ms_runrec_t *r, ms_snapshot_add_fn add, void *arg, char *err, size_t errlen)
{
    ms_strv_t going = MS_STRV_INIT;
    if (!r->snap || !r->snap->complete || !ms_keep_any(&r->snap->keep))
        return 0;
    int dir = open_dest(r->dest, 0, err, errlen);
    if (dir < 0)
        return -1;
    int total = choose(dir, r, &going, err, errlen);
    for (size_t i = 0; total >= 0 && i < going.n; i++) {
        int n = hand_out(dir, going.v[i], add, arg);
        if (n == 0) /* no folder: its last removal at once */
            n = add(arg, going.v[i], "") == 0 ? 1 : -1;
        if (n < 0)
            total = ms_errf(err, errlen, "cannot hand out the removal of %s", going.v[i]);
        else
            total += n;
    }
    ms_strv_clear(&going);
    close(dir);
    return total;
}

int ms_snapshot_pruned(ms_runrec_t *r, const char *folder)
{
    char name[MS_SNAP_NAME_MAX], notes[2 * MS_SNAP_NAME_MAX + 16];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(folder, "."), folder);
    int dir = open(r->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) { /* its notes go with it */
        snprintf(notes, sizeof notes, "%s/%s.json", MS_SNAP_META, name);
        unlinkat(dir, notes, 0);
        snprintf(notes, sizeof notes, "%s/%s.readers", MS_SNAP_META, name);
        unlinkat(dir, notes, 0);
        close(dir);
    }
    return ms_strv_push(&r->snap->pruned, name);
}

json_t *ms_snapshot_list(const char *dest, char *err, size_t errlen)
{
    if (ms_path_is_remote(dest)) {
        ms_errf(err, errlen, "%s is an rsync remote: its snapshots cannot be listed here", dest);
        return NULL;
    }
    int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        ms_errf(err, errlen, "%s: %s", dest, strerror(errno));
        return NULL;
    }
    char why[512];
    json_t *list = ms_snap_describe(fd, why, sizeof why);
    if (!list)
        ms_errf(err, errlen, "%s: %s", dest, why);
    close(fd);
    return list;
}

int ms_snapshot_hold(const char *backup, const char *name)
{
    int dir = open(backup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = dir >= 0 ? ms_snap_hold(dir, name) : -1;
    if (dir >= 0)
        close(dir);
    return fd;
}
