#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_catalog.h"
#include "ms_err.h"
#include "ms_path.h"
#include "ms_report.h"
#include "ms_state.h"

int ms_state_catalog(const char *given, int make, char *out, size_t outlen, char *err,
                     size_t errlen)
{
    char dir[4096];
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (given) {
        if ((size_t)snprintf(out, outlen, "%s", given) >= outlen)
            return ms_errf(err, errlen, "--catalog: path too long");
        return 0;
    }
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/multisync", xdg);
    else if (home && home[0] == '/')
        snprintf(dir, sizeof dir, "%s/.local/state/multisync", home);
    else
        return ms_errf(err, errlen, "neither $XDG_STATE_HOME nor $HOME is set");
    if ((size_t)snprintf(out, outlen, "%s/catalog.db", dir) >= outlen)
        return ms_errf(err, errlen, "state folder path too long");
    mode_t old = umask(077); /* made 0700: run history is the user's */
    int rc = make ? ms_path_mkdirs(dir, err, errlen) : 0;
    umask(old);
    return rc;
}

/* The catalog at path when there is one; NULL with err[0] == '\0' when
 * there is none yet. */
static ms_catalog_t *open_existing(const char *path, char *err, size_t errlen)
{
    struct stat st;
    err[0] = '\0';
    if (stat(path, &st) != 0 && errno == ENOENT)
        return NULL;
    return ms_catalog_open(path, err, errlen);
}

json_t *ms_state_history(const char *catalog, size_t n, char *err, size_t errlen)
{
    ms_catalog_t *c = open_existing(catalog, err, errlen);
    if (!c)
        return err[0] ? NULL : json_array();
    json_t *h = ms_catalog_history(c, n, err, errlen);
    ms_catalog_close(&c);
    return h;
}

json_t *ms_state_report(const char *catalog, uint64_t id, char *err, size_t errlen)
{
    ms_catalog_t *c = open_existing(catalog, err, errlen);
    if (!c) {
        if (!err[0])
            ms_errf(err, errlen, "no runs yet (no catalog %s)", catalog);
        return NULL;
    }
    ms_runrec_t *r = ms_catalog_load_run(c, id, err, errlen);
    ms_catalog_close(&c);
    json_t *rep = r ? ms_report_json_page(NULL, r, 0, SIZE_MAX, 0) : NULL;
    if (r && !rep)
        ms_errf(err, errlen, "out of memory");
    ms_run_destroy(&r);
    return rep;
}
