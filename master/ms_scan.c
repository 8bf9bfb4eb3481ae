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

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir_entry(int dirfd, const struct dirent *e)
{
    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    return S_ISDIR(st.st_mode);
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
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!is_dir_entry(dirfd(d), e)) {
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
    if (projects.n > 1) /* qsort(NULL, 0) is undefined */
        qsort(projects.v, projects.n, sizeof *projects.v, cmp_names);
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
