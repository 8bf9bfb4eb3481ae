/*
 * ms_hookrun.c - a set's hooks around each of its backups (README
 * "Hooks"): which run gets which hook, their environment, the report file
 * post_run and on_failure read, and what each hook's end means for its
 * run. The processes themselves are ms_hooks'.
 *
 *   pre_run     the run is started (recorded, its projects listed, its
 *               destination locked) but its walk and tasks are held
 *               (MS_RUN_PRE_RUN) until it succeeds; if it fails, every
 *               task fails and nothing is copied
 *   post_run    once the run ended (ok, failed, cancelled) and its report
 *               is written
 *   on_failure  after post_run, when the run did not end ok
 *
 * The run's waiters (its client) are told, and its destination released,
 * once the last of these ended: a nightly job's next step follows them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_argv.h"
#include "ms_err.h"
#include "ms_file.h"
#include "ms_jnum.h"
#include "ms_log.h"
#include "ms_master_int.h"
#include "ms_report.h"

/* The hooks of r's set, or NULL: a set's backups only (not a dry run, a
 * verify, a restore, nor a run of paths the client named). */
static const ms_set_t *set_of(const ms_master_t *m, const ms_runrec_t *r)
{
    if (!r->set || !m->opts.config || !ms_run_backs_up(r->flags) || (r->flags & MS_RUN_DRY_RUN))
        return NULL;
    return ms_config_find_set(m->opts.config, r->set);
}

static unsigned timeout_of(const ms_master_t *m, const ms_set_t *s)
{
    if (s->hook_timeout_s)
        return s->hook_timeout_s;
    return m->opts.config->hook_timeout_s ? m->opts.config->hook_timeout_s
                                          : MS_HOOK_TIMEOUT_DEFAULT_S;
}

/* --- the report file ---------------------------------------------------- */

/* The folder of the reports hooks read: reports/ beside the catalog. */
static int reports_dir(const ms_master_t *m, char *out, size_t outlen)
{
    char copy[PATH_MAX];
    if (!m->opts.catalog || snprintf(copy, sizeof copy, "%s", m->opts.catalog) >= (int)sizeof copy)
        return -1;
    return snprintf(out, outlen, "%s/reports", dirname(copy)) < (int)outlen ? 0 : -1;
}

static void report_path(const ms_master_t *m, uint64_t run_id, char *out, size_t outlen)
{
    char dir[PATH_MAX];
    out[0] = '\0';
    if (reports_dir(m, dir, sizeof dir) == 0 &&
        snprintf(out, outlen, "%s/run-%llu.json", dir, (unsigned long long)run_id) >= (int)outlen)
        out[0] = '\0';
}

static int newer_first(const void *a, const void *b)
{
    unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
    return (x < y) - (x > y);
}

/* Only the newest MS_HOOK_REPORTS_KEPT reports stay. */
static void prune_reports(const char *dir)
{
    unsigned long long *ids = NULL, id;
    size_t n = 0, cap = 0;
    char name[64], path[PATH_MAX + 64];
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        int len = 0;
        if (sscanf(e->d_name, "run-%llu.json%n", &id, &len) != 1 || e->d_name[len] != '\0')
            continue;
        if (n == cap) {
            unsigned long long *v = realloc(ids, (cap = cap ? 2 * cap : 64) * sizeof *v);
            if (!v)
                break;
            ids = v;
        }
        ids[n++] = id;
    }
    if (d)
        closedir(d);
    if (n > 1) /* ids is NULL when the folder holds no report */
        qsort(ids, n, sizeof *ids, newer_first);
    for (size_t i = MS_HOOK_REPORTS_KEPT; i < n; i++) {
        snprintf(name, sizeof name, "run-%llu.json", ids[i]);
        snprintf(path, sizeof path, "%s/%s", dir, name);
        unlink(path);
    }
    free(ids);
}

/* r's report as `multisync report --json` gives it, into path (0600),
 * replaced at once (ms_file_replace): a hook reads it whole. */
static int write_report(ms_master_t *m, ms_runrec_t *r, const char *path, char *err, size_t errlen)
{
    json_t *rep = ms_report_json_page(m->report, r, 0, SIZE_MAX, 0);
    char *text = rep ? json_dumps(rep, JSON_INDENT(2) | MS_JNUM_DUMP) : NULL;
    json_decref(rep);
    if (!text)
        return ms_errf(err, errlen, "cannot write %s: out of memory", path);
    size_t len = strlen(text);
    char *line = realloc(text, len + 2); /* and a newline, as the CLI prints it */
    if (line) {
        memcpy(line + len++, "\n", 2);
        text = line;
    }
    int rc = ms_file_replace(path, text, len, 0600, err, errlen);
    free(text);
    return rc;
}

/* r's report for its hooks: its path in out, "" when none could be
 * written (said in the log; the hooks run anyway). */
static void report_file(ms_master_t *m, ms_runrec_t *r, char *out, size_t outlen)
{
    char dir[PATH_MAX], err[PATH_MAX + 128];
    report_path(m, r->id, out, outlen);
    if (!out[0] || reports_dir(m, dir, sizeof dir) != 0)
        return;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        ms_error("run %llu: its hooks get no report: cannot make %s: %s", (unsigned long long)r->id,
                 dir, strerror(errno));
        out[0] = '\0';
        return;
    }
    if (write_report(m, r, out, err, sizeof err) != 0) {
        ms_error("run %llu: its hooks get no report: %s", (unsigned long long)r->id, err);
        out[0] = '\0';
        return;
    }
    prune_reports(dir);
}

/* --- starting a hook ---------------------------------------------------- */

/* The variables a hook gets (README "Hooks"), in env (room for 8). */
static int make_env(const ms_runrec_t *r, ms_hook_kind_t kind, const char *report, char **env)
{
    int n = 0, ok = 1;
    ok &= asprintf(&env[n++], "MULTISYNC_RUN_ID=%llu", (unsigned long long)r->id) >= 0;
    ok &= asprintf(&env[n++], "MULTISYNC_SET=%s", r->set) >= 0;
    ok &= asprintf(&env[n++], "MULTISYNC_SOURCE=%s", r->source) >= 0;
    ok &= asprintf(&env[n++], "MULTISYNC_DEST=%s", r->dest) >= 0;
    ok &= asprintf(&env[n++], "MULTISYNC_HOOK=%s", ms_hook_name(kind)) >= 0;
    if (kind != MS_HOOK_PRE_RUN) {
        ok &= asprintf(&env[n++], "MULTISYNC_STATUS=%s", ms_run_status(r)) >= 0;
        ok &= asprintf(&env[n++], "MULTISYNC_REPORT=%s", report) >= 0;
    }
    env[n] = NULL;
    return ok ? 0 : -1;
}

/* Start r's hook kind (argv). Returns 0, or -1 (said in the log). */
static int start(ms_master_t *m, ms_runrec_t *r, ms_hook_kind_t kind, const ms_strv_t *argv,
                 const char *report)
{
    char *env[8] = {0}, err[256], line[1024], safe[4 * sizeof line];
    const ms_set_t *s = set_of(m, r);
    int rc = make_env(r, kind, report, env);
    if (rc == 0)
        rc = ms_hooks_start(m->hooks, r->id, kind, argv->v, env, timeout_of(m, s), err, sizeof err);
    else
        snprintf(err, sizeof err, "out of memory");
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        free(env[i]);
    ms_log_safe(ms_argv_quote(argv->v, line, sizeof line), safe, sizeof safe);
    if (rc != 0)
        ms_error("run %llu: %s %s not started: %s", (unsigned long long)r->id, ms_hook_name(kind),
                 safe, err);
    else
        ms_info("run %llu: %s started: %s", (unsigned long long)r->id, ms_hook_name(kind), safe);
    return rc;
}

void ms_hookrun_mark(const ms_master_t *m, ms_runrec_t *r)
{
    const ms_set_t *s = set_of(m, r);
    ms_trec_t *top = ms_run_top(r);
    if (!s || s->pre_run.n == 0)
        return;
    r->flags |= MS_RUN_PRE_RUN;
    /* The top folder's files were looked at before pre_run could change
     * them: the top task is copied, never skipped as unchanged. */
    if (top)
        top->fp_known = 0;
}

int ms_hookrun_pre(ms_master_t *m, ms_runrec_t *r)
{
    const ms_set_t *s = set_of(m, r);
    if (!(r->flags & MS_RUN_PRE_RUN))
        return 0;
    if (s && start(m, r, MS_HOOK_PRE_RUN, &s->pre_run, NULL) == 0)
        return 1;
    r->flags &= ~(uint32_t)MS_RUN_PRE_RUN;
    ms_journal_run_end(m->journal, r);
    ms_master_fail_unfinished(m, r, "not copied: its pre_run hook could not be started", 0);
    return 1;
}

/* The first hook of r's end from `from` on that its set has: post_run,
 * then on_failure when r did not end ok. Returns 1 when one started. */
static int start_after(ms_master_t *m, ms_runrec_t *r, ms_hook_kind_t from)
{
    char report[PATH_MAX + 64];
    const ms_set_t *s = set_of(m, r);
    int ok = strcmp(ms_run_status(r), "ok") == 0;
    if (!s)
        return 0;
    report_path(m, r->id, report, sizeof report);
    if (from == MS_HOOK_POST_RUN && s->post_run.n > 0 &&
        start(m, r, MS_HOOK_POST_RUN, &s->post_run, report) == 0)
        return 1;
    return !ok && s->on_failure.n > 0 &&
           start(m, r, MS_HOOK_ON_FAILURE, &s->on_failure, report) == 0;
}

int ms_hookrun_post(ms_master_t *m, ms_runrec_t *r)
{
    char report[PATH_MAX + 64];
    const ms_set_t *s = set_of(m, r);
    if (!s || (s->post_run.n == 0 && s->on_failure.n == 0))
        return 0;
    if (s->post_run.n == 0 && strcmp(ms_run_status(r), "ok") == 0)
        return 0;
    report_file(m, r, report, sizeof report);
    return start_after(m, r, MS_HOOK_POST_RUN);
}

int ms_hookrun_waits(const ms_master_t *m, const ms_runrec_t *r)
{
    double elapsed;
    return ms_hooks_running(m->hooks, r->id, &elapsed) != NULL;
}

/* --- a hook's end ------------------------------------------------------- */

/* pre_run ended: the run goes on, or every task fails (ends cancelled
 * when the run was cancelled meanwhile), saying why. */
static void pre_run_done(ms_master_t *m, ms_runrec_t *r, const ms_hook_result_t *res)
{
    char why[512];
    r->flags &= ~(uint32_t)MS_RUN_PRE_RUN;
    ms_journal_run_end(m->journal, r);
    if (r->flags & MS_RUN_CANCELLED) {
        ms_master_end_cancelled(m, r);
        return;
    }
    if (res->ok) {
        ms_master_release_run(m, r);
        return;
    }
    snprintf(why, sizeof why, "not copied: the pre_run hook of set %s %s", r->set, res->why);
    ms_master_fail_unfinished(m, r, why, 0);
}

void ms_hookrun_done(void *arg, uint64_t run_id, ms_hook_kind_t kind, const ms_hook_result_t *res)
{
    ms_master_t *m = arg;
    ms_runrec_t *r = ms_master_find_run(m, run_id);
    if (res->ok)
        ms_info("run %llu: %s ok in %.1f s", (unsigned long long)run_id, ms_hook_name(kind),
                res->seconds);
    else
        ms_warn("run %llu: %s failed after %.1f s: %s", (unsigned long long)run_id,
                ms_hook_name(kind), res->seconds, res->why);
    if (!r)
        return;
    if (kind == MS_HOOK_PRE_RUN)
        pre_run_done(m, r, res);
    else if (kind == MS_HOOK_ON_FAILURE || !start_after(m, r, MS_HOOK_ON_FAILURE))
        ms_master_run_closed(m, r);
}
