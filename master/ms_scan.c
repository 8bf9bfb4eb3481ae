#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_scan.h"

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

static int add_project(ms_scan_t *s, size_t *cap, const char *name)
{
    if (s->n_projects == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **np = realloc(s->projects, ncap * sizeof *np);
        if (!np)
            return -1;
        s->projects = np;
        *cap = ncap;
    }
    if (!(s->projects[s->n_projects] = strdup(name)))
        return -1;
    s->n_projects++;
    return 0;
}

int ms_scan_root(const char *root, ms_scan_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(root);
    if (!d) {
        snprintf(err, errlen, "cannot read source root %s: %s", root, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    int rc = -1;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!is_dir_entry(dirfd(d), e)) {
            out->n_loose++;
        } else if (add_project(out, &cap, e->d_name) != 0) {
            snprintf(err, errlen, "scan %s: out of memory", root);
            goto out;
        }
        errno = 0;
    }
    if (errno != 0) {
        snprintf(err, errlen, "cannot list source root %s: %s", root, strerror(errno));
        goto out;
    }
    if (out->n_projects > 1) /* qsort(NULL, 0) is undefined */
        qsort(out->projects, out->n_projects, sizeof *out->projects, cmp_names);
    rc = 0;
out:
    closedir(d);
    if (rc != 0)
        ms_scan_free(out);
    return rc;
}

void ms_scan_free(ms_scan_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_projects; i++)
        free(s->projects[i]);
    free(s->projects);
    memset(s, 0, sizeof *s);
}
