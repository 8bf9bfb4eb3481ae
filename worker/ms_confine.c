#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_path.h"
#include "ms_err.h"
#include "ms_rsync.h"
#include "ms_confine.h"
#include "ms_strv.h"

struct ms_confine {
    ms_strv_t src;        /* resolved directories */
    ms_strv_t dst_local;  /* resolved directories */
    ms_strv_t dst_remote; /* remote prefixes, as written */
};

/* --- paths ------------------------------------------------------------------------ */

/* The path part of a remote spec: after "rsync://" or the host's ':' / "::". */
static const char *remote_path(const char *s)
{
    if (strncmp(s, "rsync://", 8) == 0)
        return s + 8;
    s = strchr(s, ':');
    while (*s == ':')
        s++;
    return s;
}

static int has_dotdot(const char *p)
{
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return 1;
        p += n;
        p += strspn(p, "/");
    }
    return 0;
}

/* Whether path is root or below it, comparing whole components. */
static int is_inside(const char *path, const char *root, int remote)
{
    size_t n = strlen(root);

    if (strncmp(path, root, n) != 0)
        return 0;
    if (path[n] == '\0' || path[n] == '/')
        return 1;
    /* "/" and remote prefixes ending at a separator ("host:", ".../") */
    return n > 0 && (root[n - 1] == '/' || (remote && root[n - 1] == ':'));
}

static const char *find_root(const ms_strv_t *r, const char *path, int remote)
{
    for (size_t i = 0; i < r->n; i++)
        if (is_inside(path, r->v[i], remote))
            return r->v[i];
    return NULL;
}

/* Append ", " r to buf (len bytes used); once it does not fit, end with
 * "..." and return -1. */
static int append_root(char *buf, size_t size, size_t *len, const char *r)
{
    int n = snprintf(buf + *len, size - *len, "%s%s", *len ? ", " : "", r);
    if (n < 0 || (size_t)n >= size - *len) {
        snprintf(buf + size - 4, 4, "...");
        return -1;
    }
    *len += (size_t)n;
    return 0;
}

/* The roots of a then b (may be NULL), "a, b, c", into buf (size > 4). */
static const char *roots_text(const ms_strv_t *a, const ms_strv_t *b, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < a->n; i++)
        if (append_root(buf, size, &len, a->v[i]) != 0)
            return buf;
    for (size_t i = 0; b && i < b->n; i++)
        if (append_root(buf, size, &len, b->v[i]) != 0)
            return buf;
    return buf;
}

/* dir + "/" + name as ms_rsync joins them: no slash doubled, none after
 * the ':' of a remote "host:" (the remote home). */
static int join(char *out, const char *dir, const char *name)
{
    size_t len = strlen(dir);
    int no_sep = !*name || (len && dir[len - 1] == '/') ||
                 (len && dir[len - 1] == ':' && ms_path_is_remote(dir));
    const char *sep = no_sep ? "" : "/";
    return (size_t)snprintf(out, PATH_MAX, "%s%s%s", dir, sep, name) < PATH_MAX ? 0 : -1;
}

/* Move the last component of head (which has no trailing '/') to *comp and
 * cut it off head ("/a/b" -> "/a" + "b", "/a" -> "/" + "a", "a" -> "." + "a"). */
static void split_last(char *head, char *comp, size_t size)
{
    size_t len = strlen(head);

    while (len > 1 && head[len - 1] == '/')
        head[--len] = '\0';
    char *slash = strrchr(head, '/');
    snprintf(comp, size, "%s", slash ? slash + 1 : head);
    if (!slash)
        memcpy(head, ".", 2);
    else if (slash == head)
        head[1] = '\0';
    else
        *slash = '\0';
}

/* Prepend "/" comp to tail, unless comp is "" or ".". */
static int push_missing(char *tail, const char *comp)
{
    char tmp[PATH_MAX];

    if (!*comp || strcmp(comp, ".") == 0)
        return 0;
    int n = snprintf(tmp, sizeof tmp, "/%s%s", comp, tail);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    memcpy(tail, tmp, (size_t)n + 1);
    return 0;
}

/* Resolve path, which need not exist yet: realpath of its longest existing
 * prefix, then the missing components. */
static int resolve_maybe_missing(const char *path, char *out, char *err, size_t errlen)
{
    char head[PATH_MAX], tail[PATH_MAX] = "", comp[NAME_MAX + 2];
    struct stat st;

    snprintf(head, sizeof head, "%s", path);
    while (!realpath(head, out)) {
        if (errno != ENOENT)
            return ms_errf(err, errlen, "destination %s: %s: %s", path, head, strerror(errno));
        if (lstat(head, &st) == 0)
            return ms_errf(err, errlen, "destination %s: %s is a symbolic link to nowhere", path,
                           head);
        split_last(head, comp, sizeof comp);
        if (strcmp(comp, "..") == 0)
            return ms_errf(err, errlen, "destination %s: '..' after a missing directory", path);
        if (push_missing(tail, comp) != 0)
            return ms_errf(err, errlen, "destination %s: path too long", path);
    }
    const char *base = strcmp(out, "/") == 0 ? "" : out;
    int n = snprintf(head, sizeof head, "%s%s", base, tail);
    if (n < 0 || (size_t)n >= sizeof head)
        return ms_errf(err, errlen, "destination %s: path too long", path);
    snprintf(out, PATH_MAX, "%s", n ? head : "/");
    return 0;
}

/* --- roots ------------------------------------------------------------------------ */

static int add_local_root(ms_strv_t *r, const char *what, const char *path, char *err,
                          size_t errlen)
{
    char resolved[PATH_MAX];
    struct stat st;

    if (!path || !*path)
        return ms_errf(err, errlen, "%s: empty path", what);
    if (!realpath(path, resolved))
        return ms_errf(err, errlen, "%s %s: %s", what, path, strerror(errno));
    if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
        return ms_errf(err, errlen, "%s %s: not a directory", what, path);
    if (ms_strv_push(r, resolved) != 0)
        return ms_errf(err, errlen, "out of memory");
    return 0;
}

ms_confine_t *ms_confine_new(void)
{
    return calloc(1, sizeof(ms_confine_t));
}

int ms_confine_allow_source(ms_confine_t *c, const char *path, char *err, size_t errlen)
{
    return add_local_root(&c->src, "allow_source", path, err, errlen);
}

int ms_confine_allow_dest(ms_confine_t *c, const char *path, char *err, size_t errlen)
{
    if (!path || !*path || !ms_path_is_remote(path))
        return add_local_root(&c->dst_local, "allow_dest", path, err, errlen);
    if (has_dotdot(remote_path(path)))
        return ms_errf(err, errlen, "allow_dest %s: '..' is not allowed in a remote prefix", path);
    if (ms_strv_push(&c->dst_remote, path) != 0)
        return ms_errf(err, errlen, "out of memory");
    return 0;
}

int ms_confine_restricts_sources(const ms_confine_t *c)
{
    return c->src.n > 0;
}

int ms_confine_restricts_dests(const ms_confine_t *c)
{
    return c->dst_local.n + c->dst_remote.n > 0;
}

void ms_confine_destroy(ms_confine_t **cp)
{
    if (!cp || !*cp)
        return;
    ms_strv_clear(&(*cp)->src);
    ms_strv_clear(&(*cp)->dst_local);
    ms_strv_clear(&(*cp)->dst_remote);
    free(*cp);
    *cp = NULL;
}

/* --- checks ------------------------------------------------------------------------ */

static int check_project(const char *project, char *err, size_t errlen)
{
    if (strchr(project, '/') || strcmp(project, ".") == 0 || strcmp(project, "..") == 0 ||
        strlen(project) > NAME_MAX)
        return ms_errf(err, errlen, "project '%s' is not a single directory name", project);
    return 0;
}

/* "...: it resolves to R" when R says more than the path as given. */
static const char *resolves_note(const char *given, const char *resolved, char *buf, size_t size)
{
    if (strcmp(given, resolved) == 0)
        return "";
    snprintf(buf, size, ": it resolves to %s", resolved);
    return buf;
}

/* The root resolved (realpath), then rel below it as it is: ms_anchor
 * never follows a link below the root, so that is where the task goes. */
static int resolved_path(const char *resolved_root, const char *rel, char *out)
{
    const char *sep = *rel && strcmp(resolved_root, "/") != 0 ? "/" : "";
    return (size_t)snprintf(out, PATH_MAX, "%s%s%s", resolved_root, sep, rel) < PATH_MAX ? 0 : -1;
}

static int check_source(const ms_confine_t *c, const char *root, const char *rel, char *err,
                        size_t errlen)
{
    char resolved[PATH_MAX], path[PATH_MAX], given[PATH_MAX], roots[1024], note[PATH_MAX + 32];
    struct stat st;

    if (!realpath(root, resolved))
        return ms_errf(err, errlen, "source %s: %s", root, strerror(errno));
    if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
        return ms_errf(err, errlen, "source %s is not a directory", root);
    if (resolved_path(resolved, rel, path) != 0 || join(given, root, rel) != 0)
        return ms_errf(err, errlen, "source %s: path too long", root);
    if (find_root(&c->src, path, 0))
        return 0;
    return ms_errf(err, errlen, "source %s is outside the allowed source roots (%s)%s", given,
                   roots_text(&c->src, NULL, roots, sizeof roots),
                   resolves_note(given, path, note, sizeof note));
}

static int check_remote_dest(const ms_confine_t *c, const char *path, char *err, size_t errlen)
{
    char roots[1024];

    if (has_dotdot(remote_path(path)))
        return ms_errf(err, errlen, "destination %s: '..' is not allowed in a remote path", path);
    if (find_root(&c->dst_remote, path, 1))
        return 0;
    return ms_errf(err, errlen,
                   "destination %s is remote and no allowed remote destination matches it (%s)",
                   path, roots_text(&c->dst_remote, &c->dst_local, roots, sizeof roots));
}

static int check_local_dest(const ms_confine_t *c, const char *root, const char *rel, char *err,
                            size_t errlen)
{
    char resolved[PATH_MAX], path[PATH_MAX], given[PATH_MAX], roots[1024], note[PATH_MAX + 32];

    if (resolve_maybe_missing(root, resolved, err, errlen) != 0)
        return -1;
    if (resolved_path(resolved, rel, path) != 0 || join(given, root, rel) != 0)
        return ms_errf(err, errlen, "destination %s: path too long", root);
    if (find_root(&c->dst_local, path, 0))
        return 0;
    return ms_errf(err, errlen, "destination %s is outside the allowed destination roots (%s)%s",
                   given, roots_text(&c->dst_local, &c->dst_remote, roots, sizeof roots),
                   resolves_note(given, path, note, sizeof note));
}

/* project/sub, project or sub (either may be ""), below the root. */
static int rel_path(char *out, const char *project, const char *sub)
{
    const char *sep = *project && *sub ? "/" : "";
    return (size_t)snprintf(out, PATH_MAX, "%s%s%s", project, sep, sub) < PATH_MAX ? 0 : -1;
}

int ms_confine_check_task(const ms_confine_t *c, const ms_task_t *t, char *err, size_t errlen)
{
    static const ms_confine_t none;
    char rel[PATH_MAX], dst[PATH_MAX];
    const char *sub;

    if (!t || !t->source || !*t->source || !t->dest || !*t->dest || !t->project)
        return ms_errf(err, errlen, "task without a source or a destination");
    c = c ? c : &none;
    sub = t->sub ? t->sub : "";
    if (check_project(t->project, err, errlen) != 0 ||
        (*sub && ms_rsync_check_relpath("sub", sub, err, errlen) != 0))
        return -1;
    if (rel_path(rel, t->project, sub) != 0 || join(dst, t->dest, rel) != 0)
        return ms_errf(err, errlen, "path too long");
    if (c->src.n && check_source(c, t->source, rel, err, errlen) != 0)
        return -1;
    if (!ms_confine_restricts_dests(c))
        return 0;
    if (ms_path_is_remote(t->dest))
        return check_remote_dest(c, dst, err, errlen);
    return check_local_dest(c, t->dest, rel, err, errlen);
}
