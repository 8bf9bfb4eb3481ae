/*
 * ms_rsync.c - argv for a task, figures from rsync --stats, stderr tail.
 */
#include "ms_rsync.h"
#include "ms_err.h"
#include "ms_part.h"
#include "ms_path.h"
#include "ms_snap.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS_RSYNC_FIXED_ARGS                                                                        \
    7 /* rsync and the options every task has: a copy's 4 or 5, a verify's 6 */
/* What a verify task never does: delete, remove backups, remove a snapshot.
 * A dry run writes nothing either, but lists what its copy would delete
 * (-n --delete-delay), and what its guard would let go (FORCE). */
#define VERIFY_NEVER (MS_TASK_DELETE | MS_TASK_PRUNE | MS_TASK_FORCE | MS_TASK_REMOVE)
#define DRY_RUN_NEVER (MS_TASK_PRUNE | MS_TASK_REMOVE)

/* ---- --stats ------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool add_digit(uint64_t *v, char c)
{
    unsigned d = (unsigned)(c - '0');

    if (*v > (UINT64_MAX - d) / 10)
        return false;
    *v = *v * 10 + d;
    return true;
}

/* s[i] is a thousands separator followed by exactly three digits. */
static bool is_group(const char *s, size_t len, size_t i)
{
    if (i + 4 > len || (s[i] != ',' && s[i] != '.'))
        return false;
    if (!is_digit(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 3]))
        return false;
    return i + 4 == len || !is_digit(s[i + 4]);
}

/*
 * Parse "1234" or "1,234,567" (or "1.234.567") from s[0..len). The number
 * must end the line or be followed by a space: "1.18M" (rsync -hh) is
 * refused rather than read as 118.
 */
static bool parse_count(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (len == 0 || !is_digit(s[0]))
        return false;
    while (i < len && is_digit(s[i]))
        if (!add_digit(&v, s[i++]))
            return false;
    for (; is_group(s, len, i); i += 4)
        for (size_t k = 1; k <= 3; k++)
            if (!add_digit(&v, s[i + k]))
                return false;
    if (i < len && s[i] != ' ' && s[i] != '\r')
        return false;
    *out = v;
    return true;
}

/* If line starts with key, parse the count after it into *field. */
static bool match_field(const char *line, size_t len, const char *key, uint64_t *field)
{
    size_t klen = strlen(key);

    if (len < klen || memcmp(line, key, klen) != 0)
        return false;
    return parse_count(line + klen, len - klen, field);
}

int ms_rsync_parse_stats(const char *text, size_t len, ms_rsync_stats_t *out)
{
    bool have_files = false;
    size_t pos = 0;

    memset(out, 0, sizeof(*out));
    /* Later lines win: the stats block is at the end, after any file list. */
    while (text != NULL && pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;

        if (match_field(line, llen, "Number of files: ", &out->files))
            have_files = true;
        match_field(line, llen, "Total file size: ", &out->bytes_total);
        match_field(line, llen, "Total transferred file size: ", &out->bytes_transferred);
        pos += llen + 1;
    }
    return have_files ? 0 : -1;
}

/* ---- task checks -------------------------------------------------------- */

static const char *task_sub(const ms_task_t *t)
{
    return t->sub != NULL ? t->sub : "";
}

/* s[0..n) is one path component; what names it in the error. */
static int check_name(const char *what, const char *s, size_t n, char *err, size_t errlen)
{
    return ms_path_check_name(what, s, n, err, errlen);
}

int ms_rsync_check_relpath(const char *what, const char *path, char *err, size_t errlen)
{
    return ms_path_check_relpath(what, path, err, errlen);
}

static int check_project(const ms_task_t *t, char *err, size_t errlen)
{
    const char *p = t->project;

    if (t->flags & MS_TASK_TOP) {
        if (p[0] != '\0')
            return ms_errf(err, errlen, "a top task must have an empty project name");
        return 0;
    }
    return check_name("project name", p, strlen(p), err, errlen);
}

static int check_item(const char *what, const char *s, char *err, size_t errlen)
{
    return check_name(what, s, strlen(s), err, errlen);
}

/*
 * rsync reads a pattern holding none of *?[ literally, backslashes included,
 * and one holding any as a wildcard pattern in which a backslash escapes.
 * The master escapes match and xmatch for the second reading, and a '['
 * (the name range) guarantees it.
 */
static int check_wild(const char *what, const char *s, char *err, size_t errlen)
{
    if (strchr(s, '[') == NULL)
        return ms_errf(err, errlen, "%s must hold a '[' (rsync reads it as a pattern only then)",
                       what);
    return 0;
}

/* A match pattern: one path component of up to 2*NAME_MAX bytes (escaped). */
static int check_match(const char *what, const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);

    if (n == 0)
        return ms_errf(err, errlen, "%s must not be empty", what);
    if (strchr(s, '/') != NULL)
        return ms_errf(err, errlen, "%s must not contain '/'", what);
    if (n > 2 * NAME_MAX)
        return ms_errf(err, errlen, "%s longer than %d bytes", what, 2 * NAME_MAX);
    return check_wild(what, s, err, errlen);
}

/* An xmatch pattern: relative to the project, no part empty, "." or "..". */
static int check_xmatch(const char *what, const char *s, char *err, size_t errlen)
{
    size_t n = strlen(s);

    if (n == 0 || s[0] == '/')
        return ms_errf(err, errlen, "%s must not be empty or start with '/'", what);
    if (n > MS_MAX_PATH)
        return ms_errf(err, errlen, "%s is %zu bytes long, over %d", what, n, MS_MAX_PATH);
    for (const char *p = s;; p += n + 1) {
        n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return ms_errf(err, errlen, "each part of %s must not be empty, \".\" or \"..\"", what);
        if (p[n] == '\0')
            break;
    }
    return check_wild(what, s, err, errlen);
}

typedef int (*entry_check_fn)(const char *what, const char *s, char *err, size_t errlen);

/* Each entry of a list, checked by check; what names the list ("items"). */
static int check_list(const char *what, char *const *list, uint32_t n, entry_check_fn check,
                      char *err, size_t errlen)
{
    char entry[32];

    if (n > MS_MAX_ITEMS)
        return ms_errf(err, errlen, "task has %" PRIu32 " %s, over %d", n, what, MS_MAX_ITEMS);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(entry, sizeof(entry), "%s[%" PRIu32 "]", what, i);
        if (list == NULL || list[i] == NULL)
            return ms_errf(err, errlen, "task %s is missing", entry);
        if (check(entry, list[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* The first field of a chunk (items, match) or of a rest (excl, xmatch) t has; NULL: none. */
static const char *chunk_field(const ms_task_t *t)
{
    return t->n_items > 0 ? "items" : t->n_match > 0 ? "match" : NULL;
}

static const char *rest_field(const ms_task_t *t)
{
    return t->n_excl > 0 ? "excl" : t->n_xmatch > 0 ? "xmatch" : NULL;
}

/* Which fields go together: a chunk has items or match, a rest excl and/or xmatch. */
static int check_split_shape(const ms_task_t *t, char *err, size_t errlen)
{
    const char *sub = task_sub(t), *chunk = chunk_field(t), *rest = rest_field(t);

    if ((t->flags & MS_TASK_TOP) && (sub[0] != '\0' || chunk != NULL || rest != NULL))
        return ms_errf(err, errlen, "a top task must have no sub, items, excl, match or xmatch");
    if (t->n_items > 0 && t->n_match > 0)
        return ms_errf(err, errlen, "a task must not have both items and match");
    if (chunk != NULL && rest != NULL)
        return ms_errf(err, errlen, "a task must not have both %s and %s", chunk, rest);
    if (rest != NULL && sub[0] != '\0')
        return ms_errf(err, errlen,
                       "a task with %s (the rest of a split project) must have an empty sub", rest);
    if (sub[0] != '\0' && chunk == NULL)
        return ms_errf(err, errlen, "a task with a sub folder must have items or match");
    return 0;
}

/* A chunk (sub + items or match), the rest of a split project (excl, xmatch), or neither. */
static int check_split(const ms_task_t *t, char *err, size_t errlen)
{
    const char *sub = task_sub(t);

    if (check_split_shape(t, err, errlen) < 0)
        return -1;
    if (sub[0] != '\0' && ms_rsync_check_relpath("sub", sub, err, errlen) < 0)
        return -1;
    if (check_list("items", t->items, t->n_items, check_item, err, errlen) < 0 ||
        check_list("excl", t->excl, t->n_excl, ms_rsync_check_relpath, err, errlen) < 0 ||
        check_list("match", t->match, t->n_match, check_match, err, errlen) < 0)
        return -1;
    return check_list("xmatch", t->xmatch, t->n_xmatch, check_xmatch, err, errlen);
}

const char *ms_rsync_task_part(const ms_task_t *t, char *out, size_t outlen)
{
    uint32_t n = t->n_items > 0 ? t->n_items : t->n_match;
    const char *first = t->n_items > 0 ? t->items[0] : n > 0 ? t->match[0] : NULL;

    return ms_part_label(t->sub, first, n, rest_field(t) != NULL, out, outlen);
}

static int check_root(const char *what, const char *root, char *err, size_t errlen)
{
    if (root == NULL || root[0] == '\0')
        return ms_errf(err, errlen, "task %s is empty", what);
    if (strlen(root) > MS_MAX_PATH)
        return ms_errf(err, errlen, "task %s longer than %d bytes", what, MS_MAX_PATH);
    return 0;
}

/* A removal (retention): the folder PROJECT of a snapshot being removed
 * (snap: "NAME.pruning"), or with MS_TASK_TOP that whole folder, nothing
 * else. */
static int check_removal(const ms_task_t *t, char *err, size_t errlen)
{
    time_t when;
    ms_snap_kind_t kind;
    if (t->flags & (MS_TASK_DELETE | MS_TASK_PRUNE | MS_TASK_VERIFY))
        return ms_errf(err, errlen, "a removal task takes no other flag");
    if (!t->snap || ms_snap_parse(t->snap, &when, &kind) != 0 || kind != MS_SNAP_PRUNING_KIND)
        return ms_errf(err, errlen, "a removal task needs a snapshot being removed, not '%s'",
                       t->snap ? t->snap : "");
    if ((t->sub && t->sub[0]) || t->n_items || t->n_excl || t->n_match || t->n_xmatch ||
        (t->link && t->link[0]))
        return ms_errf(err, errlen, "a removal task takes a project and nothing else");
    if (ms_path_is_remote(t->dest))
        return ms_errf(err, errlen, "a removal needs a destination folder, not the remote %s",
                       t->dest);
    return 0;
}

/* A snapshot task: snap a snapshot's folder being written, link (when
 * given) a complete one, both plain names in the destination root. A
 * verify task compares with snap, a complete snapshot, and links nothing. */
static int check_snapshot(const ms_task_t *t, char *err, size_t errlen)
{
    time_t when;
    ms_snap_kind_t kind;
    int has_snap = t->snap && t->snap[0], has_link = t->link && t->link[0];
    if (t->flags & MS_TASK_REMOVE)
        return check_removal(t, err, errlen);
    int verify = (t->flags & MS_TASK_VERIFY) != 0;
    if ((t->flags & MS_TASK_CARRY) &&
        (!has_link || (t->flags & (MS_TASK_TOP | MS_TASK_PRUNE | MS_TASK_PACK | MS_TASK_VERIFY))))
        return ms_errf(err, errlen,
                       "a carried-over task needs a link snapshot, and is a "
                       "project or a part of one");
    if (!has_snap && !has_link)
        return 0;
    if (!has_snap)
        return ms_errf(err, errlen, "task has a link snapshot but no snapshot to write");
    if (verify && has_link)
        return ms_errf(err, errlen, "a verify task links to no snapshot");
    if (ms_snap_parse(t->snap, &when, &kind) != 0 ||
        kind != (verify ? MS_SNAP_COMPLETE : MS_SNAP_PARTIAL_KIND))
        return ms_errf(err, errlen, "task snapshot folder %s is not a snapshot %s", t->snap,
                       verify ? "that is complete" : "being written");
    if (has_link && (ms_snap_parse(t->link, &when, &kind) != 0 || kind != MS_SNAP_COMPLETE))
        return ms_errf(err, errlen, "task link snapshot %s is not a complete snapshot", t->link);
    if (ms_path_is_remote(t->dest))
        return ms_errf(err, errlen, "a snapshot needs a destination folder, not the remote %s",
                       t->dest);
    return 0;
}

/* A pack: a project and other projects (items, plain names), nothing else. */
static int check_pack(const ms_task_t *t, char *err, size_t errlen)
{
    if (t->flags & (MS_TASK_TOP | MS_TASK_PRUNE | MS_TASK_REMOVE | MS_TASK_VERIFY))
        return ms_errf(err, errlen, "a pack of projects takes no top, prune, removal or verify");
    if ((t->sub && t->sub[0]) || t->n_excl || t->n_match || t->n_xmatch || t->n_items == 0)
        return ms_errf(err, errlen, "a pack of projects is a project and other projects' names");
    return check_list("items", t->items, t->n_items, check_item, err, errlen);
}

int ms_rsync_check_task(const ms_task_t *t, char *err, size_t errlen)
{
    if (t == NULL || t->project == NULL)
        return ms_errf(err, errlen, "task has no project");
    if (t->flags & ~MS_TASK_FLAGS_KNOWN)
        return ms_errf(err, errlen, "task has unknown flags 0x%x", (unsigned)t->flags);
    uint32_t never = (t->flags & MS_TASK_DRY_RUN) ? DRY_RUN_NEVER : VERIFY_NEVER;
    if ((t->flags & MS_TASK_DRY_RUN) && !(t->flags & MS_TASK_VERIFY))
        return ms_errf(err, errlen, "a dry-run task is a verify: flags 0x%x", (unsigned)t->flags);
    if ((t->flags & MS_TASK_VERIFY) && (t->flags & never))
        return ms_errf(err, errlen, "a verify task writes nothing: flags 0x%x ask it to",
                       (unsigned)t->flags);
    if (check_root("source", t->source, err, errlen) < 0 ||
        check_root("dest", t->dest, err, errlen) < 0 || check_project(t, err, errlen) < 0 ||
        check_snapshot(t, err, errlen) < 0)
        return -1;
    return (t->flags & MS_TASK_PACK) ? check_pack(t, err, errlen) : check_split(t, err, errlen);
}

/* ---- argv --------------------------------------------------------------- */

/*
 * root + "/" + project + "/", or root + "/" when project is "". Trailing
 * slashes of root are not doubled; a root ending in ':' (an rsync remote
 * such as "host:") gets no slash, so it keeps meaning the remote home.
 */
static char *join_dir(const char *root, const char *project)
{
    size_t rlen = strlen(root), plen = strlen(project);
    const char *sep = "/";
    char *s;

    while (rlen > 0 && root[rlen - 1] == '/')
        rlen--;
    if (rlen > 0 && root[rlen - 1] == ':' && ms_path_is_remote(root))
        sep = "";
    s = malloc(rlen + plen + 3);
    if (s == NULL)
        return NULL;
    snprintf(s, rlen + plen + 3, "%.*s%s%s%s", (int)rlen, root, sep, project, plen > 0 ? "/" : "");
    return s;
}

/*
 * root/project/sub/name: join_dir's folder, then sub and a slash unless sub
 * is "", then name (none when NULL, leaving the trailing slash).
 */
static char *task_path(const char *root, const ms_task_t *t, const char *name)
{
    const char *sub = task_sub(t);
    char *dir = join_dir(root, t->project), *s;

    if (dir == NULL)
        return NULL;
    if (asprintf(&s, "%s%s%s%s", dir, sub, sub[0] != '\0' ? "/" : "", name ? name : "") < 0)
        s = NULL;
    free(dir);
    return s;
}

/* dir + "/" + name (name "" for the folder itself: "dir/"); no slash
 * doubled, none after a remote "host:". */
static char *in_dir(const char *dir, const char *name)
{
    size_t len = strlen(dir);
    int no_sep =
        len > 0 && (dir[len - 1] == '/' || (dir[len - 1] == ':' && ms_path_is_remote(dir)));
    char *s;

    return asprintf(&s, "%s%s%s", dir, no_sep ? "" : "/", name) < 0 ? NULL : s;
}

/*
 * "--exclude=/" + path, anchored at the transfer root. rsync matches a
 * pattern holding none of *?[ literally, backslashes included; in one that
 * holds any, a backslash escapes the next character. So a path with a
 * wildcard character gets each of *?[\ escaped, and any other goes as it is.
 */
char *ms_rsync_literal(const char *prefix, const char *path, const char *suffix)
{
    bool wild = strpbrk(path, "*?[") != NULL;
    char *s = malloc(strlen(prefix) + 2 * strlen(path) + strlen(suffix) + 1), *o;

    if (s == NULL)
        return NULL;
    o = stpcpy(s, prefix);
    for (; *path != '\0'; path++) {
        if (wild && strchr("*?[\\", *path) != NULL)
            *o++ = '\\';
        *o++ = *path;
    }
    strcpy(o, suffix);
    return s;
}

static char *exclude_arg(const char *path)
{
    return ms_rsync_literal("--exclude=/", path, "");
}

/* Take s (malloc'd, or NULL when that failed) as the next argument. */
static int push_own(char **argv, size_t *n, char *s)
{
    if (s == NULL)
        return -1;
    argv[(*n)++] = s;
    return 0;
}

static int push(char **argv, size_t *n, const char *s)
{
    return push_own(argv, n, strdup(s));
}

/* opt + "/" + pattern, as the master wrote it (already escaped). */
static char *anchored(const char *opt, const char *pattern)
{
    char *s;

    return asprintf(&s, "%s/%s", opt, pattern) < 0 ? NULL : s;
}

/* opt + value, e.g. "--include-from=" + a file. */
static char *joined(const char *opt, const char *value)
{
    char *s;

    return asprintf(&s, "%s%s", opt, value) < 0 ? NULL : s;
}

/* The top task leaves the root's folders to the projects' tasks (and the
 * destination's lock alone); with include_from, the folders it names are
 * not left alone: the backups of projects gone from the source, deleted. */
static int push_top_filters(char **argv, size_t *n, const ms_rsync_where_t *w)
{
    if (push(argv, n, "--exclude=/" MS_DEST_LOCK) < 0)
        return -1;
    if (w->include_from != NULL &&
        (push(argv, n, "--from0") < 0 ||
         push_own(argv, n, joined("--include-from=", w->include_from)) < 0))
        return -1;
    return push(argv, n, "--exclude=/*/");
}

/*
 * The filter rules, anchored at the transfer root: the top task's, the
 * rest's excluded paths (escaped here) and patterns (xmatch), or a match
 * chunk's includes, then the exclude of every other entry of its folder.
 */
static int push_filters(char **argv, size_t *n, const ms_task_t *t, const ms_rsync_where_t *w)
{
    if ((t->flags & MS_TASK_TOP) && push_top_filters(argv, n, w) < 0)
        return -1;
    for (uint32_t i = 0; i < t->n_excl; i++)
        if (push_own(argv, n, exclude_arg(t->excl[i])) < 0)
            return -1;
    for (uint32_t i = 0; i < t->n_xmatch; i++)
        if (push_own(argv, n, anchored("--exclude=", t->xmatch[i])) < 0)
            return -1;
    for (uint32_t i = 0; i < t->n_match; i++)
        if (push_own(argv, n, anchored("--include=", t->match[i])) < 0)
            return -1;
    if (t->n_match > 0 && push(argv, n, "--exclude=/*") < 0)
        return -1;
    return 0;
}

/* Everything up to and including "--". */
static int push_options(char **argv, size_t *n, const char *rsync, char *const *extra,
                        size_t n_extra, const ms_task_t *t, const ms_rsync_where_t *w)
{
    static const char *const copy[] = {"-a", "--stats", "--mkpath", NULL};
    /* -n: nothing is written, so --delete only lists what the backup has
     * that the source has not; -c: by content, every file read whole. */
    static const char *const verify[] = {"-a", "-c", "-n", "-i", "--delete", "--stats", NULL};
    /* A dry run: the copy's comparison (rsync's quick check, the worker's
     * options), its --delete-delay when it has one, -n -i to list it. */
    static const char *const dry_run[] = {"-a", "-n", "-i", "--stats", NULL};
    const char *const *fixed = (t->flags & MS_TASK_DRY_RUN)  ? dry_run
                               : (t->flags & MS_TASK_VERIFY) ? verify
                                                             : copy;

    if (push(argv, n, rsync) < 0)
        return -1;
    for (size_t i = 0; fixed[i] != NULL; i++)
        if (push(argv, n, fixed[i]) < 0)
            return -1;
    if ((t->flags & MS_TASK_DELETE) && push(argv, n, "--delete-delay") < 0)
        return -1;
    if (w->link_dest && push_own(argv, n, joined("--link-dest=", w->link_dest)) < 0)
        return -1;
    for (size_t i = 0; i < n_extra; i++)
        if (push(argv, n, extra[i]) < 0)
            return -1;
    if (w->relative && !(t->flags & MS_TASK_TOP) && push(argv, n, "--relative") < 0)
        return -1;
    if (push_filters(argv, n, t, w) < 0)
        return -1;
    return push(argv, n, "--");
}

/* The sources (the folder itself, each item of an items chunk, or the
 * project relative to the source root), then the destination folder. */
static int push_paths(char **argv, size_t *n, const ms_task_t *t, const ms_rsync_where_t *w)
{
    if (w->relative && !(t->flags & MS_TASK_TOP)) {
        char *rel;
        if (asprintf(&rel, "./%s", t->project) < 0)
            rel = NULL;
        if (push_own(argv, n, rel) < 0)
            return -1;
    } else if (t->n_items == 0 && push_own(argv, n, in_dir(w->src, "")) < 0) {
        return -1;
    }
    for (uint32_t i = 0; i < t->n_items; i++)
        if (push_own(argv, n, in_dir(w->src, t->items[i])) < 0)
            return -1;
    return push_own(argv, n, in_dir(w->dst, ""));
}

static int is_split(const ms_task_t *t)
{
    if (t->flags & MS_TASK_PACK)
        return 0; /* whole projects, side by side: no part relies on another's exclusions */
    return t->n_items || t->n_excl || t->n_match || t->n_xmatch;
}

/* What argv cannot be built for: a split task with an option that would
 * break it, or sent relative (remote destinations get no chunks). */
static int check_argv_args(char *const *extra, size_t n_extra, const ms_task_t *t,
                           const ms_rsync_where_t *w, char *err, size_t errlen)
{
    /* A chunk or rest relies on excluded paths being left alone: with
     * --delete-excluded, each would delete what the others copy. */
    for (size_t i = 0; is_split(t) && i < n_extra; i++)
        if (strncmp(extra[i], "--delete-excluded", 17) == 0)
            return ms_errf(err, errlen,
                           "refusing part of a split project with rsync option %s: "
                           "it would delete what other parts copy (remove it, or run the master "
                           "with --no-split)",
                           extra[i]);
    if (w->relative && is_split(t))
        return ms_errf(err, errlen, "a part of a split project cannot go to a remote destination");
    return 0;
}

char **ms_rsync_argv(const char *rsync, char *const *extra, size_t n_extra, const ms_task_t *t,
                     const ms_rsync_where_t *where, char *err, size_t errlen)
{
    char *src = NULL, *dst = NULL, **argv = NULL;
    ms_rsync_where_t w = where ? *where : (ms_rsync_where_t){0};

    if (where == NULL) {
        w.src = src = task_path(t->source, t, NULL);
        w.dst = dst = task_path(t->dest, t, NULL);
        if (src == NULL || dst == NULL)
            goto oom;
    }
    if (check_argv_args(extra, n_extra, t, &w, err, errlen) < 0)
        goto out;
    size_t n = 0, cap = MS_RSYNC_FIXED_ARGS + n_extra + t->n_excl + t->n_xmatch + t->n_match +
                        t->n_items + 10;
    if ((argv = calloc(cap, sizeof(*argv))) == NULL ||
        push_options(argv, &n, rsync, extra, n_extra, t, &w) < 0 || push_paths(argv, &n, t, &w) < 0)
        goto oom;
    goto out;
oom:
    ms_errf(err, errlen, "out of memory building the rsync command");
    ms_rsync_argv_free(argv);
    argv = NULL;
out:
    free(src);
    free(dst);
    return argv;
}

void ms_rsync_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

/* ---- deletion safety ------------------------------------------------------ */

/* 1 when the folder fd (any descriptor of it, O_PATH too) has at least one
 * entry, 0 when it has none, -1 (errno set) when it cannot be read. */
static int folder_has_entries(int fd)
{
    int rd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = rd >= 0 ? fdopendir(rd) : NULL;
    struct dirent *e;
    int found = 0;

    if (d == NULL) {
        int saved = errno;
        if (rd >= 0)
            close(rd);
        errno = saved;
        return -1;
    }
    while (!found && (e = readdir(d)) != NULL)
        found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return found;
}

int ms_rsync_check_delete_safe(const ms_task_t *t, int src, int dst, char *err, size_t errlen)
{
    if (!(t->flags & MS_TASK_DELETE))
        return 0;
    int s = folder_has_entries(src), src_errno = errno;
    int d = dst < 0 ? 1 : folder_has_entries(dst);
    if (s > 0 || (s == 0 && d == 0))
        return 0;
    /* A snapshot's backup to compare with is the last snapshot's copy. */
    int snap = t->link && t->link[0];
    char *root = NULL;
    if (snap && asprintf(&root, "%s/%s", t->dest, t->link) < 0)
        root = NULL;
    char *sp = task_path(t->source, t, NULL), *dp = task_path(root ? root : t->dest, t, NULL);
    if (s < 0)
        ms_errf(err, errlen, "source %s is not a readable folder: %s", sp ? sp : t->source,
                strerror(src_errno));
    else
        ms_errf(err, errlen,
                "refusing to %s: source %s is empty while %s %s is not (unmounted source?)",
                snap ? "take a snapshot of it" : "mirror deletions", sp ? sp : t->source,
                snap ? "its last snapshot" : "its backup", dp ? dp : t->dest);
    free(root);
    free(sp);
    free(dp);
    return -1;
}

/* ---- rsync --version ---------------------------------------------------- */

#define VERSION_WAIT_MS 10000

static _Noreturn void version_child(const char *rsync, int out)
{
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
        dup2(out, STDERR_FILENO) < 0)
        _exit(127);
    execlp(rsync, rsync, "--version", (char *)NULL);
    const char *why = strerror(errno);
    if (write(STDOUT_FILENO, why, strlen(why)) < 0)
        _exit(127);
    _exit(127);
}

/* What fd gives until EOF or the deadline, into buf (NUL-terminated).
 * Returns 1 at EOF, 0 when it stopped before (time, or buf full). */
static int read_until(int fd, char *buf, size_t size, int wait_ms)
{
    size_t len = 0;
    int eof = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (!eof && len + 1 < size && wait_ms > 0 && poll(&p, 1, wait_ms) > 0) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        eof = n == 0;
        len += n > 0 ? (size_t)n : 0;
        wait_ms -= 10; /* a bound, not a clock: a chatty child still ends */
    }
    buf[len] = '\0';
    return eof;
}

int ms_rsync_version(const char *rsync, char *out, size_t outlen, char *err, size_t errlen)
{
    char buf[4096];
    int p[2], status = 0;
    if (pipe2(p, O_CLOEXEC) < 0)
        return ms_errf(err, errlen, "cannot check rsync '%s': %s", rsync, strerror(errno));
    pid_t pid = fork();
    if (pid == 0)
        version_child(rsync, p[1]);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return ms_errf(err, errlen, "cannot check rsync '%s': %s", rsync, strerror(errno));
    }
    if (!read_until(p[0], buf, sizeof buf, VERSION_WAIT_MS))
        kill(pid, SIGKILL); /* too long, or too much: not the rsync we want */
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    buf[strcspn(buf, "\n")] = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && strncmp(buf, "rsync", 5) == 0) {
        snprintf(out, outlen, "%s", buf);
        return 0;
    }
    return ms_errf(err, errlen, "rsync program '%s' does not work (`%s --version`: %s)", rsync,
                   rsync, buf[0] ? buf : "no answer");
}

/* ---- stderr tail -------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

void ms_rsync_error_tail(const char *text, size_t len, char *out, size_t outlen)
{
    size_t start, n;

    if (out == NULL || outlen == 0)
        return;
    out[0] = '\0';
    if (text == NULL)
        return;
    while (len > 0 && is_blank(text[len - 1]))
        len--;
    start = len > outlen - 1 ? len - (outlen - 1) : 0;
    if (start > 0) {
        /* Begin at a whole line when the window holds a line break. */
        const char *nl = memchr(text + start - 1, '\n', len - start);

        if (nl != NULL)
            start = (size_t)(nl - text) + 1;
    }
    n = len - start;
    memcpy(out, text + start, n);
    out[n] = '\0';
    /* A NUL byte from the child would silently cut the message short. */
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\0')
            out[i] = '?';
}

/* ---- what a verify found different (-i) ---------------------------------- */

#define ITEMIZE_CODE 11 /* "YXcstpoguax", or "*deleting" padded */
#define CUT_MARK "..."

void ms_rsync_itemize_init(ms_rsync_itemize_t *it, const char *prefix)
{
    memset(it, 0, sizeof *it);
    snprintf(it->prefix, sizeof it->prefix, "%s", prefix != NULL ? prefix : "");
}

/* "YXcstpoguax PATH": Y the update type (<>ch. or * for a message such as
 * "deleting"), X the file type (f d L D S); rsync escapes the bytes of a
 * name that could break a line (\#012), so one line is one path. */
static bool is_itemize(const char *s, size_t len)
{
    if (len <= ITEMIZE_CODE + 1 || s[ITEMIZE_CODE] != ' ')
        return false;
    if (s[0] == '*')
        return s[1] >= 'a' && s[1] <= 'z';
    /* (strchr finds the NUL too: a line holds none, feed made it '?') */
    return strchr("<>ch.", s[0]) != NULL && strchr("fdLDS", s[1]) != NULL;
}

/* Keep code and prefix + path (plen bytes; cut: it was longer) in the
 * head when the whole line fits there; 0, or -1 (full). */
static int head_add(ms_rsync_itemize_t *it, const char *code, const char *path, size_t plen,
                    bool cut)
{
    size_t pre = strlen(it->prefix);
    bool self = plen == 2 && memcmp(path, "./", 2) == 0 && pre > 0;
    size_t need = ITEMIZE_CODE + 1 + pre + (self ? 0 : plen) + (cut ? strlen(CUT_MARK) : 0) + 1;
    char *o = it->head + it->head_len;

    if (it->n_head >= MS_ITEMIZE_LINES || it->head_len + need > sizeof it->head)
        return -1;
    memcpy(o, code, ITEMIZE_CODE + 1);
    o += ITEMIZE_CODE + 1;
    memcpy(o, it->prefix, pre);
    o += pre;
    if (!self) {
        memcpy(o, path, plen);
        o += plen;
    }
    if (cut)
        o = stpcpy(o, CUT_MARK);
    *o = '\n';
    it->head_len += need;
    it->n_head++;
    return 0;
}

/* The line read so far is whole: count it when it is an itemize line. */
static void line_done(ms_rsync_itemize_t *it)
{
    size_t kept = it->line_len < sizeof it->line ? it->line_len : sizeof it->line;
    bool cut = kept < it->line_len;

    /* Once one line did not fit, later ones are not kept either: the head
     * stays the first lines, in order. */
    if (is_itemize(it->line, kept)) {
        if (it->n_head == it->n)
            (void)head_add(it, it->line, it->line + ITEMIZE_CODE + 1, kept - ITEMIZE_CODE - 1, cut);
        it->n++;
    }
    it->line_len = 0;
}

void ms_rsync_itemize_feed(ms_rsync_itemize_t *it, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || buf[i] == '\r') {
            if (it->line_len > 0)
                line_done(it);
            continue;
        }
        if (it->line_len < sizeof it->line)
            it->line[it->line_len] = buf[i] != '\0' ? buf[i] : '?';
        it->line_len++;
    }
}

void ms_rsync_itemize_end(ms_rsync_itemize_t *it)
{
    if (it->line_len > 0)
        line_done(it);
}

uint64_t ms_rsync_itemize_text(const ms_rsync_itemize_t *it, char *out, size_t outlen)
{
    size_t len;

    if (outlen == 0)
        return it->n;
    len = (size_t)snprintf(out, outlen, "%" PRIu64 " path%s:\n", it->n,
                           it->dry_run  ? (it->n == 1 ? " would change" : "s would change")
                           : it->n == 1 ? " differs"
                                        : "s differ");
    if (len >= outlen)
        return it->n;
    size_t n = it->head_len < outlen - len - 1 ? it->head_len : outlen - len - 1;
    memcpy(out + len, it->head, n);
    len += n;
    out[len] = '\0';
    if (it->n > it->n_head)
        snprintf(out + len, outlen - len, "... and %" PRIu64 " more\n", it->n - it->n_head);
    return it->n;
}
