/*
 * ms_scan.h - turn a source root into the list of its projects.
 *
 * Every immediate subfolder of the root is a project (a symlink to a folder
 * is not: it is copied as a link with the loose files). Everything else
 * directly in the root (files, links, fifos, devices) is copied by the one
 * "top" task, which always exists because it also sets the attributes of
 * the destination root itself.
 *
 * The scan also fingerprints what the top task copies and checks (ms_fp.h):
 * the root folder itself, every loose entry, and the projects' names (a
 * project gone means backups to prune), so that a run where none of it
 * changed needs no top rsync either (ms_unchanged.h).
 */
#ifndef MS_SCAN_H
#define MS_SCAN_H

#include <stddef.h>

#include "ms_fp.h"

typedef struct {
    char **projects; /* folder names, sorted bytewise; owned */
    size_t n_projects;
    size_t n_loose;   /* entries that are not folders */
    ms_fp_t top_fp;   /* the root, its loose entries, the projects' names */
    int top_fp_known; /* 0: some entry could not be read */
} ms_scan_t;

/* Scan root. Returns 0, or -1 with err set (root missing, not a folder,
 * unreadable). On success free the result with ms_scan_free. */
int ms_scan_root(const char *root, ms_scan_t *out, char *err, size_t errlen);

void ms_scan_free(ms_scan_t *s);

#endif
