/*
 * ms_rsync.c - argv for a task, figures from rsync --stats, stderr tail.
 */
#include "ms_rsync.h"
#include "ms_path.h"

#include <dirent.h>
#include <errno.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_RSYNC_FIXED_ARGS 6 /* rsync -a --stats --info=progress2 --mkpath [--delete-delay] */

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

static int check_project(const ms_task_t *t, char *err, size_t errlen)
{
    const char *p = t->project;

    if (t->flags & MS_TASK_TOP) {
        if (p[0] != '\0') {
            snprintf(err, errlen, "a top task must have an empty project name");
            return -1;
        }
        return 0;
    }
    if (p[0] == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
        snprintf(err, errlen, "project name must not be empty, \".\" or \"..\"");
        return -1;
    }
    if (strchr(p, '/') != NULL) {
        snprintf(err, errlen, "project name must not contain '/'");
        return -1;
    }
    if (strlen(p) > NAME_MAX) {
        snprintf(err, errlen, "project name longer than %d bytes", NAME_MAX);
        return -1;
    }
    return 0;
}

static int check_root(const char *what, const char *root, char *err, size_t errlen)
{
    if (root == NULL || root[0] == '\0') {
        snprintf(err, errlen, "task %s is empty", what);
        return -1;
    }
    if (strlen(root) > MS_MAX_PATH) {
        snprintf(err, errlen, "task %s longer than %d bytes", what, MS_MAX_PATH);
        return -1;
    }
    return 0;
}

int ms_rsync_check_task(const ms_task_t *t, char *err, size_t errlen)
{
    if (t == NULL || t->project == NULL) {
        snprintf(err, errlen, "task has no project");
        return -1;
    }
    if (t->flags & ~MS_TASK_FLAGS_KNOWN) {
        snprintf(err, errlen, "task has unknown flags 0x%x", (unsigned)t->flags);
        return -1;
    }
    if (check_root("source", t->source, err, errlen) < 0 ||
        check_root("dest", t->dest, err, errlen) < 0)
        return -1;
    return check_project(t, err, errlen);
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

static int push(char **argv, size_t *n, const char *s)
{
    argv[*n] = strdup(s);
    if (argv[*n] == NULL)
        return -1;
    (*n)++;
    return 0;
}

static int push_fixed(char **argv, size_t *n, const char *rsync, char *const *extra, size_t n_extra,
                      bool top, bool del)
{
    static const char *const fixed[] = {"-a", "--stats", "--info=progress2", "--mkpath"};

    if (push(argv, n, rsync) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (push(argv, n, fixed[i]) < 0)
            return -1;
    if (del && push(argv, n, "--delete-delay") < 0)
        return -1;
    for (size_t i = 0; i < n_extra; i++)
        if (push(argv, n, extra[i]) < 0)
            return -1;
    if (top && push(argv, n, "--exclude=/*/") < 0)
        return -1;
    return push(argv, n, "--");
}

char **ms_rsync_argv(const char *rsync, char *const *extra, size_t n_extra, const ms_task_t *t,
                     char *err, size_t errlen)
{
    bool top = (t->flags & MS_TASK_TOP) != 0;
    size_t n = 0, cap = MS_RSYNC_FIXED_ARGS + n_extra + 5;
    char **argv = calloc(cap, sizeof(*argv));

    if (argv == NULL)
        goto out;
    if (push_fixed(argv, &n, rsync, extra, n_extra, top, (t->flags & MS_TASK_DELETE) != 0) < 0)
        goto out;
    if ((argv[n++] = join_dir(t->source, t->project)) == NULL)
        goto out;
    if ((argv[n++] = join_dir(t->dest, t->project)) == NULL)
        goto out;
    return argv;
out:
    snprintf(err, errlen, "out of memory building the rsync command");
    ms_rsync_argv_free(argv);
    return NULL;
}

void ms_rsync_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}

/* ---- progress ------------------------------------------------------------ */

/* The number at the start of s[0..len) (separators skipped); -1 if none. */
static int leading_number(const char *s, size_t len, uint64_t *out)
{
    size_t i = 0;
    uint64_t v = 0;
    int digits = 0;
    while (i < len && s[i] == ' ')
        i++;
    for (; i < len && (is_digit(s[i]) || s[i] == ','); i++) {
        if (s[i] == ',')
            continue;
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        digits++;
    }
    if (!digits)
        return -1;
    *out = v;
    return 0;
}

int ms_rsync_parse_progress(const char *text, size_t len, uint64_t *bytes)
{
    size_t end = len;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && text[start - 1] != '\r' && text[start - 1] != '\n')
            start--;
        if (memchr(text + start, '%', end - start) &&
            leading_number(text + start, end - start, bytes) == 0)
            return 0;
        end = start > 0 ? start - 1 : 0;
    }
    return -1;
}

/* ---- deletion safety ------------------------------------------------------ */

/* 1 when path is a folder with at least one entry, 0 when it is an empty
 * folder or missing, -1 when it exists but is not a readable folder. */
static int folder_has_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int found = 0;

    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    while (!found && (e = readdir(d)) != NULL)
        found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return found;
}

int ms_rsync_check_delete_safe(const ms_task_t *t, char *err, size_t errlen)
{
    char *src, *dst;
    int rc = -1, s, d;

    if (!(t->flags & MS_TASK_DELETE))
        return 0;
    src = join_dir(t->source, t->project);
    dst = join_dir(t->dest, t->project);
    if (src == NULL || dst == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    s = folder_has_entries(src);
    d = ms_path_is_remote(t->dest) ? 1 : folder_has_entries(dst);
    if (s < 0)
        snprintf(err, errlen, "source %s is not a readable folder: %s", src, strerror(errno));
    else if (s == 0 && d != 0)
        snprintf(err, errlen,
                 "refusing to mirror deletions: source %s is missing or empty while its backup "
                 "%s is not (unmounted source?)",
                 src, dst);
    else
        rc = 0;
out:
    free(src);
    free(dst);
    return rc;
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
