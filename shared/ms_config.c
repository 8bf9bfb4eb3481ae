#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ms_argv.h"
#include "ms_config.h"
#include "ms_err.h"
#include "ms_log.h"
#include "ms_path.h"
#include "ms_proto.h"
#include "ms_strv.h"

/* A section or a key already read from this file, and its line. */
typedef struct {
    char *section;
    char *key; /* NULL: the section itself */
    int line;
} seen_t;

typedef struct {
    ms_config_t *cfg;
    char *err;
    size_t errlen;
    const char *path;
    FILE *f;
    int read_errno;
    /* Lines as inih counts them: one per read. */
    int line;          /* the line being parsed */
    int header_line;   /* the last line that looked like a [section] header */
    int bad_header;    /* the first line that starts with '[' but has no ']' */
    int last_key_line; /* the line of the last key */
    char raw[1024];    /* the line being parsed, as read */
    char cur[128];     /* the section of the last key */
    seen_t *seen;
    size_t n_seen;
    int err_line; /* the line the handler's first error is reported at */
} load_ctx_t;

int ms_config_set_str(char **dst, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(*dst);
    *dst = copy;
    return 0;
}

int ms_config_add_str(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

int ms_config_add_rsync_opt(ms_config_t *cfg, const char *opt)
{
    return ms_config_add_str(&cfg->rsync_opts, &cfg->n_rsync_opts, opt);
}

const ms_set_t *ms_config_find_set(const ms_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sets; i++)
        if (strcmp(cfg->sets[i].name, name) == 0)
            return &cfg->sets[i];
    return NULL;
}

int ms_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int ms_number_opt(const ms_number_opt_t *table, size_t n, int opt, const char *arg, void *settings,
                  char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const ms_number_opt_t *o = &table[i];
        if (o->opt != opt)
            continue;
        if (ms_parse_uint(arg, o->min, o->max, (unsigned *)((char *)settings + o->field)) == 0)
            return 1;
        return ms_errf(err, errlen, "%s %s %u to %u", o->name, o->takes, o->min, o->max);
    }
    return 0;
}

int ms_parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
            *out = strcasecmp(s, yes[i]) == 0;
            return 0;
        }
    }
    return -1;
}

static ms_set_t *get_set(ms_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sets; i++)
        if (strcmp(cfg->sets[i].name, name) == 0)
            return &cfg->sets[i];
    ms_set_t *n = realloc(cfg->sets, (cfg->n_sets + 1) * sizeof *n);
    if (!n)
        return NULL;
    cfg->sets = n;
    ms_set_t *s = &n[cfg->n_sets];
    memset(s, 0, sizeof *s);
    if (!(s->name = strdup(name)))
        return NULL;
    cfg->n_sets++;
    return s;
}

/* Keep the first error (inih goes on after one) and the line it is about. */
__attribute__((format(printf, 3, 0))) static int vfail_at(load_ctx_t *c, int line, const char *fmt,
                                                          va_list ap)
{
    if (c->err[0] == '\0') {
        vsnprintf(c->err, c->errlen, fmt, ap);
        c->err_line = line;
    }
    return 0;
}

__attribute__((format(printf, 2, 3))) static int fail(load_ctx_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(c, c->line, fmt, ap);
    va_end(ap);
    return 0;
}

__attribute__((format(printf, 3, 4))) static int fail_at(load_ctx_t *c, int line, const char *fmt,
                                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(c, line, fmt, ap);
    va_end(ap);
    return 0;
}

static int log_level_key(load_ctx_t *c, const char *value)
{
    ms_log_level_t level;
    if (ms_log_level_parse(value, &level) != 0)
        return fail(c, "log_level must be debug, info, warn or error, not '%s'", value);
    return ms_config_set_str(&c->cfg->log_level, value) == 0;
}

/* A number key: "name = N" within [min, max]. */
static int uint_key(load_ctx_t *c, const char *key, const char *value, unsigned min, unsigned max,
                    unsigned *out)
{
    if (ms_parse_uint(value, min, max, out) != 0)
        return fail(c, "%s must be a number from %u to %u, not '%s'", key, min, max, value);
    return 1;
}

static int bool_key(load_ctx_t *c, const char *key, const char *value, int *out)
{
    if (ms_parse_bool(value, out) != 0)
        return fail(c, "%s must be yes or no, not '%s'", key, value);
    return 1;
}

/* Keys both daemons take. Returns -1 when key is not one of them. */
static int common_key(load_ctx_t *c, const char *key, const char *value)
{
    ms_config_t *cfg = c->cfg;
    if (strcmp(key, "log_level") == 0)
        return log_level_key(c, value);
    if (strcmp(key, "heartbeat_ms") == 0)
        return uint_key(c, key, value, 10, 600000, &cfg->heartbeat_ms);
    if (strcmp(key, "key") == 0)
        return ms_config_set_str(&cfg->key, value) == 0;
    if (strcmp(key, "insecure") == 0)
        return bool_key(c, key, value, &cfg->insecure);
    return -1;
}

/* The HTTP listener's keys. Returns -1 when key is not one of them. */
static int http_key(load_ctx_t *c, const char *key, const char *value)
{
    ms_config_t *cfg = c->cfg;
    if (strcmp(key, "http_listen") == 0)
        return ms_config_set_str(&cfg->http_listen, value) == 0;
    if (strcmp(key, "http_cert") == 0)
        return ms_config_set_str(&cfg->http_cert, value) == 0;
    if (strcmp(key, "http_key") == 0)
        return ms_config_set_str(&cfg->http_key, value) == 0;
    if (strcmp(key, "http_password_file") == 0)
        return ms_config_set_str(&cfg->http_password_file, value) == 0;
    return -1;
}

static int master_key(load_ctx_t *c, const char *key, const char *value)
{
    ms_config_t *cfg = c->cfg;
    int rc = common_key(c, key, value);
    if (rc < 0)
        rc = http_key(c, key, value);
    if (rc >= 0)
        return rc;
    if (strcmp(key, "authorized") == 0)
        return ms_config_set_str(&cfg->authorized, value) == 0;
    if (strcmp(key, "admin_keys") == 0)
        return ms_config_set_str(&cfg->admin_keys, value) == 0;
    if (strcmp(key, "catalog") == 0)
        return ms_config_set_str(&cfg->catalog, value) == 0;
    if (strcmp(key, "attempts") == 0)
        return uint_key(c, key, value, 1, 100, &cfg->attempts);
    if (strcmp(key, "retry_delay_ms") == 0)
        return uint_key(c, key, value, 1, 3600000, &cfg->retry_delay_ms);
    if (strcmp(key, "task_timeout") == 0)
        return uint_key(c, key, value, 1, 31536000, &cfg->task_timeout_s);
    if (strcmp(key, "split_min_mb") == 0)
        return uint_key(c, key, value, 1, 1048576, &cfg->split_min_mb);
    if (strcmp(key, "walk_threads") == 0)
        return uint_key(c, key, value, 1, MS_WALK_THREADS_MAX, &cfg->walk_threads);
    if (strcmp(key, "worker_wait") == 0)
        return uint_key(c, key, value, 1, MS_WORKER_WAIT_MAX_S, &cfg->worker_wait_s);
    if (strcmp(key, "full_every") == 0)
        return uint_key(c, key, value, 1, 100000, &cfg->full_every);
    if (strcmp(key, "hook_timeout") == 0)
        return uint_key(c, key, value, 1, MS_HOOK_TIMEOUT_MAX_S, &cfg->hook_timeout_s);
    if (strcmp(key, "split") == 0) {
        int split = 1;
        if (!bool_key(c, key, value, &split))
            return 0;
        cfg->no_split = !split;
        return 1;
    }
    if (strcmp(key, "listen") == 0)
        return ms_config_set_str(&cfg->listen, value) == 0;
    if (strcmp(key, "control") == 0)
        return ms_config_set_str(&cfg->control, value) == 0;
    return fail(c, "unknown key '%s' in [%s]", key, "master");
}

static int worker_key(load_ctx_t *c, const char *key, const char *value)
{
    ms_config_t *cfg = c->cfg;
    int rc = common_key(c, key, value);
    if (rc >= 0)
        return rc;
    if (strcmp(key, "master_key") == 0)
        return ms_config_set_str(&cfg->master_key, value) == 0;
    if (strcmp(key, "allow_source") == 0)
        return ms_config_add_str(&cfg->allow_source, &cfg->n_allow_source, value) == 0;
    if (strcmp(key, "allow_dest") == 0)
        return ms_config_add_str(&cfg->allow_dest, &cfg->n_allow_dest, value) == 0;
    if (strcmp(key, "master") == 0)
        return ms_config_set_str(&cfg->master, value) == 0;
    if (strcmp(key, "name") == 0)
        return ms_config_set_str(&cfg->name, value) == 0;
    if (strcmp(key, "rsync") == 0)
        return ms_config_set_str(&cfg->rsync, value) == 0;
    if (strcmp(key, "rsync_opt") == 0)
        return ms_config_add_rsync_opt(cfg, value) == 0;
    if (strcmp(key, "slots") == 0)
        return uint_key(c, key, value, 1, MS_MAX_SLOTS, &cfg->slots);
    if (strcmp(key, "drain_timeout") == 0)
        return uint_key(c, key, value, 1, 86400, &cfg->drain_timeout_s);
    return fail(c, "unknown key '%s' in [%s]", key, "worker");
}

/*
 * A set's paths are as the workers see them: a relative one would depend on
 * each worker's working folder, so it is refused as on the command line.
 */
static int set_path_key(load_ctx_t *c, const char *name, const char *key, const char *value,
                        char **dst)
{
    int is_dest = strcmp(key, "destination") == 0;
    if (value[0] != '/' && !(is_dest && ms_path_is_remote(value)))
        return fail(c, "[set %s] %s must be an absolute path%s, not '%s'", name, key,
                    is_dest ? " or an rsync remote (host:path)" : "", value);
    return ms_config_set_str(dst, value) == 0;
}

/*
 * A hook: its words (ms_argv.h), the first an absolute path. No shell
 * finds the program on a PATH, and the daemon's own PATH is not the
 * operator's: a bare name would run whatever it finds, or nothing.
 */
static int hook_key(load_ctx_t *c, const char *name, const char *key, const char *value,
                    ms_strv_t *dst)
{
    char why[256];
    ms_strv_t v = MS_STRV_INIT;
    if (ms_argv_split(value, &v, why, sizeof why) != 0) {
        ms_strv_clear(&v); /* the words' array, even when the words went */
        return fail(c, "[set %s] %s: %s", name, key, why);
    }
    if (v.n == 0) {
        ms_strv_clear(&v);
        return fail(c, "[set %s] %s needs a program to run", name, key);
    }
    if (v.v[0][0] != '/') {
        fail(c, "[set %s] %s: the program must be an absolute path (no shell runs it), not '%s'",
             name, key, v.v[0]);
        ms_strv_clear(&v);
        return 0;
    }
    ms_strv_clear(dst);
    *dst = v;
    return 1;
}

/* The hooks' keys of a set; -1 when key is none of them. */
static int set_hook_key(load_ctx_t *c, ms_set_t *s, const char *key, const char *value)
{
    if (strcmp(key, "pre_run") == 0)
        return hook_key(c, s->name, key, value, &s->pre_run);
    if (strcmp(key, "post_run") == 0)
        return hook_key(c, s->name, key, value, &s->post_run);
    if (strcmp(key, "on_failure") == 0)
        return hook_key(c, s->name, key, value, &s->on_failure);
    if (strcmp(key, "hook_timeout") == 0)
        return uint_key(c, key, value, 1, MS_HOOK_TIMEOUT_MAX_S, &s->hook_timeout_s);
    return -1;
}

static int set_key(load_ctx_t *c, const char *name, const char *key, const char *value)
{
    if (*name == '\0')
        return fail(c, "a [set] section needs a name: [set NAME]");
    ms_set_t *s = get_set(c->cfg, name);
    if (!s)
        return 0;
    if (strcmp(key, "source") == 0)
        return set_path_key(c, name, key, value, &s->source);
    if (strcmp(key, "destination") == 0)
        return set_path_key(c, name, key, value, &s->dest);
    if (strcmp(key, "delete") == 0) {
        if (ms_parse_bool(value, &s->delete) != 0)
            return fail(c, "delete must be yes or no, not '%s'", value);
        return 1;
    }
    if (strcmp(key, "worker_wait") == 0)
        return uint_key(c, key, value, 1, MS_WORKER_WAIT_MAX_S, &s->worker_wait_s);
    if (strcmp(key, "full_every") == 0)
        return uint_key(c, key, value, 1, 100000, &s->full_every);
    if (strcmp(key, "snapshots") == 0) {
        if (ms_parse_bool(value, &s->snapshots) != 0)
            return fail(c, "snapshots must be yes or no, not '%s'", value);
        return 1;
    }
    unsigned *keep = ms_keep_field(&s->keep, key);
    if (keep)
        return uint_key(c, key, value, 1, MS_KEEP_MAX, keep);
    int rc = set_hook_key(c, s, key, value);
    return rc >= 0 ? rc : fail(c, "unknown key '%s' in [set %s]", key, name);
}

/* The NAME of a [set NAME] section (spaces after "set" skipped), or NULL. */
static const char *set_name(const char *section)
{
    if (strncmp(section, "set", 3) != 0 || (section[3] != ' ' && section[3] != '\0'))
        return NULL;
    const char *name = section + 3;
    while (*name == ' ')
        name++;
    return name;
}

/* s past its leading white space, as inih skips it. */
static const char *skip_space(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

/* Reads one line for inih (which reads one per call) and notes what it was. */
static char *read_line(char *buf, int size, void *user)
{
    load_ctx_t *c = user;
    if (!fgets(buf, size, c->f)) {
        c->read_errno = errno;
        return NULL;
    }
    c->line++;
    snprintf(c->raw, sizeof c->raw, "%s", buf);
    const char *s = buf;
    if (c->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* a UTF-8 byte order mark, which inih skips too */
    s = skip_space(s);
    if (*s == '[' && strchr(s, ']'))
        c->header_line = c->line;
    else if (*s == '[' && !c->bad_header)
        c->bad_header = c->line;
    return buf;
}

/*
 * inih reads a non-blank line that starts with a space, below a key, as more
 * of that key's value: it calls the handler again with that key and the
 * whole line as the value. A key's own line has "key =" before its value.
 */
static int continues_key(const load_ctx_t *c, const char *value)
{
    const char *s = skip_space(c->raw);
    size_t n = strlen(value);
    if (n == 0 || strncmp(s, value, n) != 0)
        return 0;
    s = skip_space(s + n);
    return *s == '\0' || *s == ';'; /* what follows is a comment at most */
}

static const seen_t *find_seen(const load_ctx_t *c, const char *section, const char *key)
{
    for (size_t i = 0; i < c->n_seen; i++) {
        const seen_t *s = &c->seen[i];
        if (strcmp(s->section, section) == 0 &&
            (key ? s->key && strcmp(s->key, key) == 0 : !s->key))
            return s;
    }
    return NULL;
}

static int add_seen(load_ctx_t *c, const char *section, const char *key, int line)
{
    seen_t *n = realloc(c->seen, (c->n_seen + 1) * sizeof *n);
    if (!n)
        return fail(c, "out of memory");
    c->seen = n;
    seen_t *s = &n[c->n_seen];
    *s = (seen_t){.section = strdup(section), .key = key ? strdup(key) : NULL, .line = line};
    if (!s->section || (key && !s->key)) {
        free(s->section);
        free(s->key);
        return fail(c, "out of memory");
    }
    c->n_seen++;
    return 1;
}

static void forget_seen(load_ctx_t *c)
{
    for (size_t i = 0; i < c->n_seen; i++) {
        free(c->seen[i].section);
        free(c->seen[i].key);
    }
    free(c->seen);
    c->seen = NULL;
    c->n_seen = 0;
}

/* Keys that add one item to a list: each line adds one. */
static int repeatable(const char *section, const char *key)
{
    return strcmp(section, "worker") == 0 &&
           (strcmp(key, "rsync_opt") == 0 || strcmp(key, "allow_source") == 0 ||
            strcmp(key, "allow_dest") == 0);
}

/*
 * inih calls the handler per key, never per header: a key in another section
 * than the last key's, or below a header read since the last key, is the
 * first of a section. So a section without keys is never seen; it sets
 * nothing, so repeating it changes nothing.
 */
static int enter_section(load_ctx_t *c, const char *section)
{
    int header = c->header_line > c->last_key_line;
    if (!header && strcmp(section, c->cur) == 0)
        return 1;
    int line = header ? c->header_line : c->line;
    snprintf(c->cur, sizeof c->cur, "%s", section);
    const seen_t *s = find_seen(c, section, NULL);
    if (s)
        return fail_at(c, line, "section [%s] given twice (first on line %d)", section, s->line);
    return add_seen(c, section, NULL, line);
}

/*
 * What inih lets through silently, refused: the last value given would win
 * over the first, or an indented line would change the value above it.
 */
static int check_repeats(load_ctx_t *c, const char *section, const char *key, const char *value)
{
    if (continues_key(c, value))
        return fail(c, "indented line would continue the value of '%s' in [%s]: unindent it", key,
                    section);
    int ok = enter_section(c, section);
    c->last_key_line = c->line;
    if (!ok || repeatable(section, key))
        return ok;
    const seen_t *s = find_seen(c, section, key);
    if (s)
        return fail(c, "duplicate key '%s' in [%s] (first set on line %d)", key, section, s->line);
    return add_seen(c, section, key, c->line);
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
    load_ctx_t *c = user;
    const char *set = set_name(section);
    char label[128]; /* the section as errors name it: "set NAME" */
    if (section[0] == '\0')
        return fail_at(c, c->bad_header ? c->bad_header : c->line,
                       "no valid [section] header before key '%s'", key);
    snprintf(label, sizeof label, "%s%s", set ? "set " : "", set ? set : section);
    if (!check_repeats(c, label, key, value))
        return 0;
    if (strcmp(section, "master") == 0)
        return master_key(c, key, value);
    if (strcmp(section, "worker") == 0)
        return worker_key(c, key, value);
    if (set)
        return set_key(c, set, key, value);
    return fail(c, "unknown section [%s]", section);
}

static int check_sets(load_ctx_t *c)
{
    for (size_t i = 0; i < c->cfg->n_sets; i++) {
        const ms_set_t *s = &c->cfg->sets[i];
        if (!s->source || !s->dest)
            return ms_errf(c->err, c->errlen, "%s: [set %s] needs both source and destination",
                           c->path, s->name);
        if (ms_keep_any(&s->keep) && !s->snapshots)
            return ms_errf(c->err, c->errlen,
                           "%s: [set %s] has keep_* rules but no snapshots = yes: a mirror keeps "
                           "no older versions to remove",
                           c->path, s->name);
        if (s->snapshots && s->delete)
            return ms_errf(c->err, c->errlen,
                           "%s: [set %s]: delete = yes is for mirrors; a snapshot is always exact",
                           c->path, s->name);
    }
    return 0;
}

/*
 * "FILE:LINE: what" for the first error: inih's result rc is the first line
 * it found wrong, the handler's first error is reported at err_line. A line
 * inih found wrong before that is a syntax error.
 */
static int report(load_ctx_t *c, int rc)
{
    char what[512];
    int line = rc > 0 ? rc : 0;
    if (c->err[0] && (rc < 0 || c->err_line <= rc))
        line = c->err_line;
    else if (rc > 0 && rc == c->bad_header)
        snprintf(c->err, c->errlen, "a [section] header needs its ']'");
    else
        snprintf(c->err, c->errlen, "%s", rc > 0 ? "syntax error" : "out of memory");
    snprintf(what, sizeof what, "%s", c->err);
    return ms_errf(c->err, c->errlen, "%s:%d: %s", c->path, line, what);
}

int ms_config_load(ms_config_t *cfg, const char *path, char *err, size_t errlen)
{
    load_ctx_t c = {.cfg = cfg, .err = err, .errlen = errlen, .path = path};
    if (!(c.f = fopen(path, "r")))
        return ms_errf(err, errlen, "cannot open config %s: %s", path, strerror(errno));
    err[0] = '\0';
    int rc = ini_parse_stream(read_line, &c, on_entry, &c);
    int unread = ferror(c.f); /* a folder opens, then fails to read */
    fclose(c.f);
    forget_seen(&c);
    if (unread)
        return ms_errf(err, errlen, "cannot read config %s: %s", path, strerror(c.read_errno));
    if (rc != 0)
        return report(&c, rc);
    return check_sets(&c);
}

int ms_config_load_from_args(ms_config_t *cfg, int argc, char **argv, const char *optstring,
                             const struct option *longopts, char *err, size_t errlen)
{
    int c, rc = 0, saved_opterr = opterr;
    opterr = 0; /* the real pass reports unknown options */
    while (rc == 0 && (c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1)
        if (c == 'c')
            rc = ms_config_load(cfg, optarg, err, errlen);
    opterr = saved_opterr;
    optind = 0; /* glibc: start the next getopt from scratch */
    return rc;
}

ms_log_level_t ms_config_log_level(const ms_config_t *cfg, int verbose)
{
    ms_log_level_t level = MS_LOG_INFO;
    if (verbose > 0)
        return MS_LOG_DEBUG;
    if (verbose < 0)
        return MS_LOG_ERROR;
    if (cfg->log_level)
        ms_log_level_parse(cfg->log_level, &level);
    return level;
}

void ms_config_free(ms_config_t *cfg)
{
    if (!cfg)
        return;
    free(cfg->listen);
    free(cfg->control);
    free(cfg->catalog);
    free(cfg->authorized);
    free(cfg->admin_keys);
    free(cfg->http_listen);
    free(cfg->http_cert);
    free(cfg->http_key);
    free(cfg->http_password_file);
    free(cfg->key);
    free(cfg->master_key);
    ms_strv_free(cfg->allow_source, cfg->n_allow_source);
    ms_strv_free(cfg->allow_dest, cfg->n_allow_dest);
    for (size_t i = 0; i < cfg->n_sets; i++) {
        free(cfg->sets[i].name);
        free(cfg->sets[i].source);
        free(cfg->sets[i].dest);
        ms_strv_clear(&cfg->sets[i].pre_run);
        ms_strv_clear(&cfg->sets[i].post_run);
        ms_strv_clear(&cfg->sets[i].on_failure);
    }
    free(cfg->sets);
    free(cfg->master);
    free(cfg->name);
    free(cfg->rsync);
    ms_strv_free(cfg->rsync_opts, cfg->n_rsync_opts);
    free(cfg->log_level);
    memset(cfg, 0, sizeof *cfg);
}
