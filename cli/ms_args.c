#include "ms_args.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_err.h"

#define RUNS (MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY | MS_CMD_BIT_RESTORE)
#define ASKS                                                                                       \
    (RUNS | MS_CMD_BIT_STATUS | MS_CMD_BIT_HISTORY | MS_CMD_BIT_REPORT | MS_CMD_BIT_SNAPSHOTS |    \
     MS_CMD_BIT_CANCEL)

enum { HERE = 1, REMOTE = 2, BOTH = 3 };

typedef struct {
    int opt;
    const char *name;
    unsigned cmds;       /* MS_CMD_BIT_* */
    unsigned where;      /* HERE: without a master only; REMOTE: with one only */
    const char *belongs; /* where it goes instead, when given in the other mode */
} rule_t;

static const char WORKERS[] = "the workers' (slots, rsync, rsync_opt in worker.ini)";
static const char MASTERS[] = "the master's (its [master] section of master.ini, or "
                              "multisync-master's options)";
static const char CLIENTS[] = "for talking to a master (with --master EP)";

static const rule_t rules[] = {
    {'m', "--master", ASKS, BOTH, NULL},
    {'s', "--slots", RUNS, HERE, WORKERS},
    {'r', "--report", RUNS, BOTH, NULL},
    {'n', "-n", MS_CMD_BIT_HISTORY, BOTH, NULL},
    {'v', "--verbose", ~0u, BOTH, NULL},
    {OPT_RSYNC, "--rsync", RUNS, HERE, WORKERS},
    {OPT_RSYNC_OPT, "--rsync-opt", RUNS, HERE, WORKERS},
    {OPT_JSON, "--json", ASKS, BOTH, NULL},
    {OPT_DELETE, "--delete", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_FORCE_DELETE, "--force-delete", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_WORKER_WAIT, "--worker-wait", RUNS, BOTH, NULL},
    {OPT_SNAPSHOT, "--snapshot", MS_CMD_BIT_RUN, BOTH, NULL},
    {OPT_SNAPSHOT_NAME, "--snapshot", MS_CMD_BIT_VERIFY | MS_CMD_BIT_RESTORE, BOTH, NULL},
    {OPT_FULL, "--full", MS_CMD_BIT_RUN, BOTH, NULL},
    {OPT_DRY_RUN, "--dry-run", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_FULL_EVERY, "--full-every", MS_CMD_BIT_RUN, HERE, MASTERS},
    {OPT_CATALOG, "--catalog", RUNS | MS_CMD_BIT_HISTORY | MS_CMD_BIT_REPORT, HERE,
     "the embedded mode's (a master keeps its catalog= in master.ini)"},
    {OPT_KEEP_LAST, "--keep-last", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_KEEP_HOURLY, "--keep-hourly", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_KEEP_DAILY, "--keep-daily", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_KEEP_WEEKLY, "--keep-weekly", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_KEEP_MONTHLY, "--keep-monthly", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_KEEP_YEARLY, "--keep-yearly", MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY, BOTH, NULL},
    {OPT_ATTEMPTS, "--attempts", RUNS, HERE, MASTERS},
    {OPT_RETRY, "--retry-delay-ms", RUNS, HERE, MASTERS},
    {OPT_TIMEOUT, "--task-timeout", RUNS, HERE, MASTERS},
    {OPT_SPLIT_MIN, "--split-min-mb", RUNS, HERE, MASTERS},
    {OPT_NO_SPLIT, "--no-split", RUNS, HERE, MASTERS},
    {OPT_WALK_THREADS, "--walk-threads", RUNS, HERE, MASTERS},
    {OPT_HEARTBEAT, "--heartbeat-ms", RUNS, HERE, MASTERS},
    {OPT_KEY, "--key", ASKS, REMOTE, CLIENTS},
    {OPT_MASTER_KEY, "--master-key", ASKS, REMOTE, CLIENTS},
    {OPT_INSECURE, "--insecure", ASKS, REMOTE, CLIENTS},
    {OPT_TO, "--to", MS_CMD_BIT_RESTORE, BOTH, NULL},
    {OPT_FORCE, "--force", MS_CMD_BIT_RESTORE, BOTH, NULL},
    {OPT_METRICS_FILE, "--metrics-file", MS_CMD_BIT_RUN, HERE,
     "for embedded runs: a master serves the same metrics itself, at /metrics (--http-listen, "
     "http_listen in [master])"},
};

static const char *const names[] = {"run",    "verify",    "restore", "status", "history",
                                    "report", "snapshots", "keygen",  "cancel"};

unsigned ms_args_command(const char *cmd)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(cmd, names[i]) == 0)
            return 1u << i;
    return 0;
}

static const char *command_name(unsigned cmd)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (cmd == 1u << i)
            return names[i];
    return "this command";
}

static const rule_t *rule_of(int opt)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (rules[i].opt == opt)
            return &rules[i];
    return NULL;
}

int ms_args_check(unsigned cmd, const int *opts, size_t n, int remote, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const rule_t *r = rule_of(opts[i]);
        if (!r) /* an option with no rule: every command's (--help) */
            continue;
        if (!(r->cmds & cmd))
            return ms_errf(err, errlen, "%s does not go with %s", r->name, command_name(cmd));
        if (remote && !(r->where & REMOTE))
            return ms_errf(err, errlen,
                           "%s does not go with --master: that setting is %s, and a run "
                           "through a master would ignore it",
                           r->name, r->belongs);
        if (!remote && !(r->where & HERE))
            return ms_errf(err, errlen, "%s is %s", r->name, r->belongs);
    }
    return 0;
}

int ms_args_default_master(int may_default, char *out, size_t outlen)
{
    struct stat st;
    const char *env = getenv("MULTISYNC_MASTER");
    if (env && env[0])
        return snprintf(out, outlen, "%s", env) < (int)outlen;
    if (!may_default || stat(MS_DEFAULT_CONTROL, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    return snprintf(out, outlen, "ipc://%s", MS_DEFAULT_CONTROL) < (int)outlen;
}

int ms_args_check_output(const char *opt, const char *when, const char *path, char *err,
                         size_t errlen)
{
    char copy[PATH_MAX];
    struct stat st;
    if (!path[0] || snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
        return ms_errf(err, errlen, "%s: give a file name", opt);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return ms_errf(err, errlen, "%s %s is a folder: name the file to write", opt, path);
    const char *dir = dirname(copy);
    if (stat(dir, &st) != 0)
        return ms_errf(err, errlen, "%s %s: its folder %s: %s (make it first: %s)", opt, path, dir,
                       strerror(errno), when);
    if (!S_ISDIR(st.st_mode))
        return ms_errf(err, errlen, "%s %s: %s is not a folder", opt, path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return ms_errf(err, errlen, "%s %s: cannot write in %s: %s", opt, path, dir,
                       strerror(errno));
    return 0;
}

int ms_args_check_report(const char *path, char *err, size_t errlen)
{
    return ms_args_check_output("--report", "the report is written when the run ends", path, err,
                                errlen);
}
