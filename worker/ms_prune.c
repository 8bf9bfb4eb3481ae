/*
 * ms_prune.c - which backups of projects gone from the source a mirror run
 * removes (see ms_prune.h).
 */
#include "ms_prune.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_proto.h"
#include "ms_rsync.h"
#include "ms_strv.h"

static int is_folder(int dirfd, const struct dirent *e)
{
    struct stat st;

    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    return fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* The real folders of the folder fd, sorted, into *out. Returns 0 or -1 (errno). */
static int list_folders(int fd, ms_strv_t *out)
{
    int rd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = rd >= 0 ? fdopendir(rd) : NULL;
    const struct dirent *e;
    int rc = 0;

    if (d == NULL) {
        if (rd >= 0)
            close(rd);
        return -1;
    }
    errno = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && is_folder(rd, e))
            rc = ms_strv_push(out, e->d_name);
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = -1;
    closedir(d);
    if (rc == 0)
        ms_strv_sort(out->v, out->n);
    return rc;
}

int ms_prune_plan(int src_root, int dst_root, int force, ms_prune_t *p, char *err, size_t errlen)
{
    ms_strv_t src = MS_STRV_INIT, dst = MS_STRV_INIT, gone = MS_STRV_INIT;
    int rc = -1;

    memset(p, 0, sizeof *p);
    if (list_folders(src_root, &src) != 0 || list_folders(dst_root, &dst) != 0) {
        ms_errf(err, errlen, "cannot list the source and backup roots: %s", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < dst.n; i++)
        if (ms_strv_find(src.v, src.n, dst.v[i]) < 0 && ms_strv_push(&gone, dst.v[i]) != 0) {
            ms_errf(err, errlen, "out of memory");
            goto out;
        }
    p->n_backups = dst.n;
    p->n_gone = gone.n;
    p->gone = ms_strv_detach(&gone);
    p->refused = !force && p->n_gone * 4 > p->n_backups;
    rc = 0;
out:
    ms_strv_clear(&src);
    ms_strv_clear(&dst);
    ms_strv_clear(&gone);
    return rc;
}

int ms_prune_patterns(const ms_prune_t *p, char *err, size_t errlen)
{
    int fd = memfd_create("multisync-prune", MFD_CLOEXEC);

    if (fd < 0)
        return ms_errf(err, errlen, "cannot create the list of backups to remove: %s",
                       strerror(errno));
    for (size_t i = 0; i < p->n_gone; i++) {
        char *pat = ms_rsync_literal("/", p->gone[i], "/");
        size_t len = pat ? strlen(pat) + 1 : 0; /* the NUL ends the rule (--from0) */
        ssize_t n = pat ? write(fd, pat, len) : -1;

        free(pat);
        if (n < 0 || (size_t)n != len) {
            close(fd);
            return ms_errf(err, errlen, "cannot write the list of backups to remove");
        }
    }
    if (lseek(fd, 0, SEEK_SET) != 0) { /* rsync reads it from its start */
        close(fd);
        return ms_errf(err, errlen, "cannot rewind the list of backups to remove");
    }
    return fd;
}

/* ", NAME" for each gone folder while it fits, then ", and N more". */
static void append_names(const ms_prune_t *p, char *out, size_t outlen)
{
    size_t len = strlen(out);

    for (size_t i = 0; i < p->n_gone; i++) {
        int n = snprintf(out + len, outlen - len, "%s%s", i ? ", " : ": ", p->gone[i]);

        if (n < 0 || (size_t)n >= outlen - len - 24) { /* room for the count */
            snprintf(out + len, outlen - len, ", and %zu more", p->n_gone - i);
            return;
        }
        len += (size_t)n;
    }
}

void ms_prune_describe(const ms_prune_t *p, char *out, size_t outlen)
{
    out[0] = '\0';
    if (p->n_gone == 0 || outlen < 64)
        return;
    if (p->refused && p->snapshot)
        snprintf(out, outlen,
                 "refusing to complete the snapshot: %zu of the %zu projects of the last snapshot "
                 "are gone from the source, more than a quarter (is the source fully there?); "
                 "--force-delete completes it anyway",
                 p->n_gone, p->n_backups);
    else if (p->refused)
        snprintf(out, outlen,
                 "refusing to remove the backups of %zu of %zu projects whose source folders are "
                 "gone: more than a quarter (is the source fully there?); --force-delete removes "
                 "them",
                 p->n_gone, p->n_backups);
    else
        snprintf(out, outlen, "removed the backup%s of %zu project%s gone from the source",
                 p->n_gone == 1 ? "" : "s", p->n_gone, p->n_gone == 1 ? "" : "s");
    append_names(p, out, outlen);
}

void ms_prune_free(ms_prune_t *p)
{
    ms_strv_free(p->gone, p->n_gone);
    memset(p, 0, sizeof *p);
}
