#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"
#include "ms_scan.h"
#include "ms_strv.h"

/* Whether root entry e is a folder (a project), its fingerprint added to
 * out's top_fp: a folder's by its name alone (its own walk has the rest), a
 * loose entry's whole, a link's target too. */
static int scan_entry(int dirfd, const struct dirent *e, ms_scan_t *out)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    if (e->d_type != DT_DIR && fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        out->top_fp_known = 0; /* gone since readdir, or unreadable: it runs */
        return 0;
    }
    if (e->d_type == DT_DIR || S_ISDIR(st.st_mode)) {
        struct stat name_only = {.st_mode = S_IFDIR};
        ms_fp_add(&out->top_fp, ms_fp_entry(e->d_name, &name_only, NULL, 0));
        return 1;
    }
    ms_fp_t fp;
    if (ms_fp_at(dirfd, e->d_name, e->d_name, &st, &fp) != 0)
        out->top_fp_known = 0;
    ms_fp_add(&out->top_fp, fp);
    return 0;
}

int ms_scan_root(const char *root, ms_scan_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(root);
    if (!d)
        return ms_errf(err, errlen, "cannot read source root %s: %s", root, strerror(errno));
    ms_strv_t projects = MS_STRV_INIT;
    int rc = -1;
    struct dirent *e;
    struct stat rst;
    out->top_fp_known = fstat(dirfd(d), &rst) == 0;
    if (out->top_fp_known)
        out->top_fp = ms_fp_entry("", &rst, NULL, 0);
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!scan_entry(dirfd(d), e, out)) {
            out->n_loose++;
        } else if (ms_strv_push(&projects, e->d_name) != 0) {
            ms_errf(err, errlen, "scan %s: out of memory", root);
            goto out;
        }
        errno = 0;
    }
    if (errno != 0) {
        ms_errf(err, errlen, "cannot list source root %s: %s", root, strerror(errno));
        goto out;
    }
    ms_strv_sort(projects.v, projects.n);
    out->n_projects = projects.n;
    out->projects = ms_strv_detach(&projects);
    rc = 0;
out:
    closedir(d);
    ms_strv_clear(&projects); /* the names read before a failure */
    if (rc != 0)
        ms_scan_free(out);
    return rc;
}

void ms_scan_free(ms_scan_t *s)
{
    if (!s)
        return;
    ms_strv_free(s->projects, s->n_projects);
    memset(s, 0, sizeof *s);
}
