/*
 * multisync - the command a person types.
 *
 *   multisync run [options] SRC DST        back up every project of SRC into DST
 *   multisync run --master EP SRC DST|SET  ask a running master for a run
 *   multisync run -n ...                   a dry run: what it would copy and delete
 *   multisync verify [--master EP] SRC DST|SET  compare the backup with SRC by content
 *   multisync status --master EP [--json]  what the master is doing
 *   multisync snapshots DST|--master EP SET the snapshots of a backup
 *   multisync restore DST|--master EP SET PROJECT[/PATH] --to DIR
 *                                          copy from a backup back into DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_args.h"
#include "ms_client.h"
#include "ms_clock.h"
#include "ms_config.h"
#include "ms_embedded.h"
#include "ms_jnum.h"
#include "ms_keys.h"
#include "ms_log.h"
#include "ms_path.h"
#include "ms_print.h"
#include "ms_proto.h"
#include "ms_rc.h"
#include "ms_restore.h"
#include "ms_signal.h"
#include "ms_snapshot.h"
#include "ms_state.h"
#include "ms_version.h"

#define MASTER_ANSWER_MS 10000
#define WAIT_AGAIN_MS 2000
/* How long Ctrl-C on `run --master` waits for the report of the run it
 * cancels: its rsyncs stop on SIGTERM within a second or two. */
#define CANCEL_WAIT_MS 10000

static void usage_verify(FILE *f)
{
    fprintf(f, "verify: compare every project of SRC with its backup in DST by content\n"
               "(rsync -a -c -n: checksums of both sides, every file read whole), writing\n"
               "nothing, and list every path that differs. In a destination of snapshots,\n"
               "the latest one, or --snapshot NAME. Exit status 0 when nothing differs.\n"
               "\n");
}

static void usage_restore(FILE *f)
{
    fprintf(f, "snapshots: list the snapshots of a backup (DST read here; SET: its destination,\n"
               "read by the master): name, state, time, projects, files, bytes copied; * latest.\n"
               "\n"
               "restore: copy PROJECT (split and in parallel when big), or PATH in it, from a\n"
               "backup into DIR/PROJECT[/PATH], through the workers (a cluster's allow_source\n"
               "must cover DST, allow_dest DIR). Never writes into the backup; nothing deleted.\n"
               "      --snapshot NAME    restore: from snapshot NAME or latest (default: latest;\n"
               "                         a mirror has none)\n"
               "      --to DIR           restore: the folder to restore into (made when missing;\n"
               "                         not inside DST; with --master, absolute)\n"
               "      --force            restore: write into DIR even when it is not empty\n"
               "\n");
}

static void usage_options(FILE *f)
{
    fprintf(f, "  -m, --master EP        control endpoint of a running multisync-master\n"
               "  -s, --slots N          parallel rsyncs (embedded; default: number of cores)\n"
               "  -r, --report FILE      also write the report as JSON to FILE\n"
               "      --metrics-file FILE.prom\n"
               "                         run (embedded): Prometheus metrics into FILE.prom for\n"
               "                         node_exporter's textfile collector, rewritten every\n"
               "                         5 s and when the run ends\n"
               "  -n, --dry-run          run: list per project what would be copied and\n"
               "                         deleted (rsync -n -i), writing nothing in DST\n"
               "      --delete           mirror deletions (rsync --delete-delay); refused for a\n"
               "                         project whose source is empty while its backup is not;\n"
               "                         once every project is copied, remove the backups of\n"
               "                         projects gone from the source (unless more than a\n"
               "                         quarter of them would go)\n"
               "      --force-delete     with --delete: remove them even then\n"
               "      --full             run: copy every project, none skipped as unchanged\n"
               "                         (a full pass: also every 7th run)\n"
               "      --full-every N     embedded: a full pass every Nth run (default 7)\n"
               "      --snapshot         run: a snapshot DST/<UTC time>, not a mirror;\n"
               "                         verify, restore --snapshot NAME|latest: the one read\n"
               "      --worker-wait S    fail the run when no worker can take its tasks for S\n"
               "                         seconds (default: the set's, the master's, or 600)\n"
               "      --attempts N       attempts per task for transient failures (default 3)\n"
               "      --retry-delay-ms N first retry after N ms, doubling (default 1000)\n"
               "      --task-timeout S   kill a task after S seconds; it counts as transient\n"
               "      --rsync PATH       rsync program (embedded)\n"
               "      --split-min-mb N   split a big project into chunks of at least N MB\n"
               "                         (embedded; default 32; data plus 16 KiB per entry)\n"
               "      --no-split         never split a project: one rsync each (embedded)\n"
               "      --walk-threads N   threads walking SRC (embedded; default: one per core,\n"
               "                         at most 8)\n"
               "      --rsync-opt OPT    extra rsync option, repeatable (embedded)\n"
               "  -v, --verbose          show the master's and worker's logs\n"
               "      --json             status, history, report: print JSON\n"
               "  -n N                   history: the last N runs (default 20)\n"
               "      --heartbeat-ms N   heartbeat and sampling interval (embedded; default 1000)\n"
               "      --key FILE.key     our CURVE key pair, for a tcp:// control endpoint\n"
               "      --master-key FILE  the master's public key (.pub)\n"
               "      --insecure         allow a plaintext tcp:// control endpoint\n"
               "\n");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: multisync run [-n] [options] SRC DST\n"
            "       multisync run --master EP [options] SRC DST\n"
            "       multisync run --master EP [options] SET\n"
            "       multisync status --master EP [--json]\n"
            "       multisync history --master EP [--json] [-n N]\n"
            "       multisync report RUN_ID|last [--master EP] [--json]\n"
            "       multisync cancel RUN_ID [--master EP]\n"
            "       multisync verify [options] SRC DST [--snapshot NAME|latest]\n"
            "       multisync verify --master EP [options] SRC DST|SET [--snapshot NAME|latest]\n"
            "       multisync snapshots DST [--json]\n"
            "       multisync snapshots --master EP SET [--json]\n"
            "       multisync restore [options] DST PROJECT[/PATH] --to DIR\n"
            "       multisync restore --master EP [options] SET|DST PROJECT[/PATH] --to DIR\n"
            "       multisync keygen NAME\n"
            "       multisync --version\n"
            "\n"
            "run: copy every folder of SRC to DST/<name>/ (and the files lying in SRC\n"
            "itself to DST/), one rsync per folder, in parallel. Without --master, an\n"
            "embedded master and a local worker do it on this machine.\n"
            "\n");
    usage_options(f);
    usage_verify(f);
    usage_restore(f);
    fprintf(f, "cancel RUN_ID: stop a run on the master: its queued tasks are dropped, its\n"
               "running rsyncs get SIGTERM; it ends `cancelled` and is not resumed. Ctrl-C on\n"
               "`run --master` cancels its run the same way (twice: stop waiting at once).\n"
               "\n");
    fprintf(f, "keygen NAME: write a CURVE key pair, NAME.key (secret, mode 0600) and NAME.pub.\n"
               "  -h, --help             this text\n"
               "\n"
               "The master: --master EP, else $MULTISYNC_MASTER, else (for status, cancel,\n"
               "history, report and a set's run) ipc:///run/multisync/control.sock when it\n"
               "exists. Without one, run, verify, restore, history and report work here.\n"
               "\n"
               "Exit status, every command: 0 all done (verify: nothing differs); 1 some\n"
               "task failed (verify: or something differs); 2 usage or configuration error\n"
               "(also an unknown run, set, snapshot or path); 3 the master is unreachable\n"
               "or refused us; 4 the run was refused (destination in use, empty source,\n"
               "the delete guard, no worker); 130 interrupted or cancelled.\n");
}

typedef struct {
    const char *master, *report, *rsync, *key, *master_key;
    const char *metrics_file; /* --metrics-file (ms_promfile.h) */
    const char *catalog;      /* --catalog: the embedded mode's state (ms_state.h) */
    int insecure;
    ms_config_t cfg; /* rsync_opts, slots */
    int verbose, json, delete, force_delete, snapshot, full;
    int dry_run;                    /* run -n, --dry-run */
    int restore, force, verify;     /* the restore or verify command; --force */
    const char *to, *snapshot_name; /* restore: --to DIR; restore, verify: --snapshot NAME */
    ms_keep_t keep;                 /* --keep-* */
    unsigned count, heartbeat_ms, worker_wait_s;
    unsigned attempts, retry_delay_ms, task_timeout_s, split_min_mb, full_every, walk_threads;
    int no_split;
    char **args;
    int n_args;
    int seen[64]; /* the options given, in order (ms_args_check) */
    size_t n_seen;
    const char *master_env; /* $MULTISYNC_MASTER, when it chose c->master */
    char master_buf[4096];  /* c->master when not given (ms_args_default_master) */
} cli_t;

static const struct option longopts[] = {
    {"master", required_argument, NULL, 'm'},
    {"slots", required_argument, NULL, 's'},
    {"report", required_argument, NULL, 'r'},
    {"rsync", required_argument, NULL, OPT_RSYNC},
    {"rsync-opt", required_argument, NULL, OPT_RSYNC_OPT},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"delete", no_argument, NULL, OPT_DELETE},
    {"force-delete", no_argument, NULL, OPT_FORCE_DELETE},
    {"worker-wait", required_argument, NULL, OPT_WORKER_WAIT},
    {"snapshot", no_argument, NULL, OPT_SNAPSHOT},
    {"full", no_argument, NULL, OPT_FULL},
    {"full-every", required_argument, NULL, OPT_FULL_EVERY},
    {"catalog", required_argument, NULL, OPT_CATALOG},
    {"keep-last", required_argument, NULL, OPT_KEEP_LAST},
    {"keep-hourly", required_argument, NULL, OPT_KEEP_HOURLY},
    {"keep-daily", required_argument, NULL, OPT_KEEP_DAILY},
    {"keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY},
    {"keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY},
    {"keep-yearly", required_argument, NULL, OPT_KEEP_YEARLY},
    {"attempts", required_argument, NULL, OPT_ATTEMPTS},
    {"retry-delay-ms", required_argument, NULL, OPT_RETRY},
    {"task-timeout", required_argument, NULL, OPT_TIMEOUT},
    {"split-min-mb", required_argument, NULL, OPT_SPLIT_MIN},
    {"no-split", no_argument, NULL, OPT_NO_SPLIT},
    {"walk-threads", required_argument, NULL, OPT_WALK_THREADS},
    {"key", required_argument, NULL, OPT_KEY},
    {"master-key", required_argument, NULL, OPT_MASTER_KEY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
    {"to", required_argument, NULL, OPT_TO},
    {"force", no_argument, NULL, OPT_FORCE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"metrics-file", required_argument, NULL, OPT_METRICS_FILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Each option handler below returns 1 when it took opt, 0 when opt is not
 * one of its family, -1 on a bad value (said on stderr, when there is
 * something to say). */

/* A number within bounds, into a field of cli_t. */
static const ms_number_opt_t numbers[] = {
    {'s', "--slots", "takes a number from", 1, MS_MAX_SLOTS, offsetof(cli_t, cfg.slots)},
    {'n', "-n", "takes a number from", 1, 100000, offsetof(cli_t, count)},
    {OPT_WORKER_WAIT, "--worker-wait", "takes a number of seconds from", 1, MS_WORKER_WAIT_MAX_S,
     offsetof(cli_t, worker_wait_s)},
    {OPT_ATTEMPTS, "--attempts", "takes a number from", 1, 100, offsetof(cli_t, attempts)},
    {OPT_RETRY, "--retry-delay-ms", "takes a number from", 1, 3600000,
     offsetof(cli_t, retry_delay_ms)},
    {OPT_TIMEOUT, "--task-timeout", "takes a number from", 1, 31536000,
     offsetof(cli_t, task_timeout_s)},
    {OPT_SPLIT_MIN, "--split-min-mb", "takes a number from", 1, 1048576,
     offsetof(cli_t, split_min_mb)},
    {OPT_FULL_EVERY, "--full-every", "takes a number from", 1, 100000, offsetof(cli_t, full_every)},
    {OPT_WALK_THREADS, "--walk-threads", "takes a number from", 1, MS_WALK_THREADS_MAX,
     offsetof(cli_t, walk_threads)},
    {OPT_HEARTBEAT, "--heartbeat-ms", "takes", 10, 600000, offsetof(cli_t, heartbeat_ms)},
    {OPT_KEEP_LAST, "--keep-last", "takes a number from", 1, MS_KEEP_MAX,
     offsetof(cli_t, keep.last)},
    {OPT_KEEP_HOURLY, "--keep-hourly", "takes a number from", 1, MS_KEEP_MAX,
     offsetof(cli_t, keep.hourly)},
    {OPT_KEEP_DAILY, "--keep-daily", "takes a number from", 1, MS_KEEP_MAX,
     offsetof(cli_t, keep.daily)},
    {OPT_KEEP_WEEKLY, "--keep-weekly", "takes a number from", 1, MS_KEEP_MAX,
     offsetof(cli_t, keep.weekly)},
    {OPT_KEEP_MONTHLY, "--keep-monthly", "takes a number from", 1, MS_KEEP_MAX,
     offsetof(cli_t, keep.monthly)},
    {OPT_KEEP_YEARLY, "--keep-yearly", "takes a number from", 1, MS_KEEP_MAX,
     offsetof(cli_t, keep.yearly)},
};

static int number_option(cli_t *c, int opt, const char *arg)
{
    char err[128];
    int rc =
        ms_number_opt(numbers, sizeof numbers / sizeof numbers[0], opt, arg, c, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "multisync: %s\n", err);
    return rc;
}

/* A text setting (the last one given wins), or one more --rsync-opt. */
static int text_option(cli_t *c, int opt, const char *arg)
{
    switch (opt) {
    case 'm':
        c->master = arg;
        return 1;
    case 'r':
        c->report = arg;
        return 1;
    case OPT_RSYNC:
        c->rsync = arg;
        return 1;
    case OPT_KEY:
        c->key = arg;
        return 1;
    case OPT_MASTER_KEY:
        c->master_key = arg;
        return 1;
    case OPT_CATALOG:
        c->catalog = arg;
        return 1;
    case OPT_RSYNC_OPT:
        return ms_config_add_rsync_opt(&c->cfg, arg) == 0 ? 1 : -1;
    case OPT_TO:
        c->to = arg;
        return 1;
    case OPT_SNAPSHOT_NAME:
        c->snapshot_name = arg;
        return 1;
    case OPT_METRICS_FILE:
        c->metrics_file = arg;
        return 1;
    }
    return 0;
}

/* An option without a value: a flag set to 1. */
static int switch_option(cli_t *c, int opt)
{
    int *flag = opt == OPT_JSON           ? &c->json
                : opt == 'v'              ? &c->verbose
                : opt == OPT_DELETE       ? &c->delete
                : opt == OPT_FORCE_DELETE ? &c->force_delete
                : opt == OPT_INSECURE     ? &c->insecure
                : opt == OPT_NO_SPLIT     ? &c->no_split
                : opt == OPT_SNAPSHOT     ? &c->snapshot
                : opt == OPT_FULL         ? &c->full
                : opt == OPT_FORCE        ? &c->force
                : opt == OPT_DRY_RUN      ? &c->dry_run
                                          : NULL;
    if (!flag)
        return 0;
    *flag = 1;
    return 1;
}

/* The options of cmd: those of every command, but the --snapshot of
 * verify and restore names the snapshot read (run's takes none). */
static const struct option *options_of(const char *cmd)
{
    static struct option named[sizeof longopts / sizeof longopts[0]];
    if (strcmp(cmd, "verify") != 0 && strcmp(cmd, "restore") != 0)
        return longopts;
    memcpy(named, longopts, sizeof named);
    for (size_t i = 0; named[i].name; i++)
        if (named[i].val == OPT_SNAPSHOT)
            named[i] = (struct option){"snapshot", required_argument, NULL, OPT_SNAPSHOT_NAME};
    return named;
}

/* The options after the command (argv[0]), then its arguments (c->args).
 * run's -n is rsync's: a dry run; history's takes a number. */
static int parse_args(int argc, char **argv, const struct option *opts, cli_t *c)
{
    int opt, run = strcmp(argv[0], "run") == 0;
    while ((opt = getopt_long(argc, argv, run ? "m:s:r:nvh" : "m:s:r:n:vh", opts, NULL)) != -1) {
        if (run && opt == 'n')
            opt = OPT_DRY_RUN;
        if (opt == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c->n_seen < sizeof c->seen / sizeof c->seen[0])
            c->seen[c->n_seen++] = opt;
        int rc = number_option(c, opt, optarg);
        if (rc == 0)
            rc = text_option(c, opt, optarg);
        if (rc == 0)
            rc = switch_option(c, opt);
        if (rc <= 0)
            return -1;
    }
    c->args = argv + optind;
    c->n_args = argc - optind;
    return 0;
}

/* Absolute form of a local path that may not exist yet. */
static int absolute(const char *path, char *out, size_t outlen)
{
    char cwd[PATH_MAX];
    if (realpath(path, out))
        return 0;
    if (path[0] == '/') {
        snprintf(out, outlen, "%s", path);
        return 0;
    }
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    return snprintf(out, outlen, "%s/%s", cwd, path) < (int)outlen ? 0 : -1;
}

/* A client of the master; NULL with err set and *rc the exit status. */
static ms_client_t *connect_master(const cli_t *c, int *rc, char *err, size_t errlen)
{
    ms_client_opts_t o = {
        .endpoint = c->master, .key = c->key, .master_key = c->master_key, .insecure = c->insecure};
    return ms_client_new(&o, rc, err, errlen);
}

/* The exit status for an answer that did not come (recv_rc <= 0), was
 * refused (ERROR: the rc the master gave, else a usage error) or was not
 * what a master says. */
static int answer_rc(int recv_rc, const ms_msg_t *m)
{
    if (recv_rc <= 0)
        return ms_stop_signal ? MS_RC_INTERRUPTED : MS_RC_UNREACHABLE;
    if (m->cmd == MS_CMD_ERROR)
        return m->u.text.rc ? (int)m->u.text.rc : MS_RC_USAGE;
    return MS_RC_UNREACHABLE;
}

static int keygen(const cli_t *c)
{
    char err[512];
    if (c->n_args != 1) {
        fprintf(stderr, "multisync: keygen needs a NAME (writes NAME.key and NAME.pub)\n");
        return 2;
    }
    if (ms_keys_generate(c->args[0], err, sizeof err) != 0) {
        fprintf(stderr, "multisync: %s\n", err);
        return 1;
    }
    printf("wrote %s.key (secret, keep it on this host) and %s.pub (public: copy it to the "
           "peer that must trust this one)\n",
           c->args[0], c->args[0]);
    return 0;
}

/* jansson hands its text over a few bytes at a time: gather it into big
 * writes (a 100,000-row report is 38 MB; fwrite per token took half the
 * time of writing it). */
typedef struct {
    int fd;
    size_t len;
    int failed;
    char buf[1 << 16];
} dump_t;

static int dump_flush(dump_t *d)
{
    for (size_t off = 0; off < d->len && !d->failed;) {
        ssize_t n = write(d->fd, d->buf + off, d->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO; /* no progress and no reason: not "Success" */
        if (n <= 0)
            d->failed = 1;
        else
            off += (size_t)n;
    }
    d->len = 0;
    return d->failed ? -1 : 0;
}

static int dump_chunk(const char *text, size_t size, void *arg)
{
    dump_t *d = arg;
    while (size > 0) {
        if (d->len == sizeof d->buf && dump_flush(d) != 0)
            return -1;
        size_t n = size < sizeof d->buf - d->len ? size : sizeof d->buf - d->len;
        memcpy(d->buf + d->len, text, n);
        d->len += n;
        text += n;
        size -= n;
    }
    return 0;
}

/* j as indented JSON and a newline on fd, in big writes. Returns 0, or -1
 * with errno set. */
static int dump_json_fd(const json_t *j, int fd, size_t flags)
{
    dump_t *d = malloc(sizeof *d);
    if (!d)
        return -1;
    d->fd = fd;
    d->len = 0;
    d->failed = 0;
    int rc = json_dump_callback(j, dump_chunk, d, flags | MS_JNUM_DUMP) == 0 &&
                     dump_chunk("\n", 1, d) == 0 && dump_flush(d) == 0
                 ? 0
                 : -1;
    free(d);
    return rc;
}

/* Write rep to path, through a temporary file synced and renamed at the
 * end: a report is whole or absent, even after a crash. */
static int write_report_file(const json_t *rep, const char *path)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
        fprintf(stderr, "multisync: cannot write report %s: path too long\n", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc =
        fd >= 0 && dump_json_fd(rep, fd, JSON_INDENT(2) | JSON_SORT_KEYS) == 0 && fsync(fd) == 0
            ? 0
            : -1;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -1;
    else
        errno = saved;
    if (rc != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "multisync: cannot write report %s: %s\n", path, strerror(errno));
        if (fd >= 0) /* ours: left half-written */
            unlink(tmp);
        return -1;
    }
    return 0;
}

/* JSON for a person or a script on stdout. Returns 0, or -1 (said). */
static int print_json(const json_t *j)
{
    fflush(stdout);
    if (dump_json_fd(j, STDOUT_FILENO, JSON_INDENT(2)) == 0)
        return 0;
    fprintf(stderr, "multisync: cannot write to stdout: %s\n", strerror(errno));
    return -1;
}

/*
 * The exit status a run's report calls for: 0 when it succeeded (or is
 * still running), 130 when interrupted or cancelled, 4 when it was refused
 * on the way (no worker could take its tasks, the delete guard stopped a
 * removal: the operator must act), else 1.
 */
static int report_rc(const json_t *rep)
{
    const char *status = json_string_value(json_object_get(rep, "status")); /* from the network */
    size_t i;
    const json_t *t;
    if (status && (strcmp(status, "ok") == 0 || strcmp(status, "running") == 0))
        return MS_RC_OK;
    if (status && (strcmp(status, "interrupted") == 0 || strcmp(status, "cancelled") == 0))
        return MS_RC_INTERRUPTED;
    if (json_object_get(rep, "refused"))
        return MS_RC_REFUSED;
    int guard = 0;
    json_array_foreach(json_object_get(rep, "tasks"), i, t)
    {
        const char *st = json_string_value(json_object_get(t, "status"));
        if (json_integer_value(json_object_get(t, "exit_code")) == MS_EXIT_MAX_DELETE)
            guard = 1;
        else if (st && strcmp(st, "ok") != 0 && strcmp(st, "unchanged") != 0 &&
                 strcmp(st, "vanished") != 0)
            return MS_RC_FAILED; /* a failed copy first: the guard may only follow from it */
    }
    return guard ? MS_RC_REFUSED : MS_RC_FAILED;
}

/* Print a report (JSON or table); the exit status the run calls for. */
static int show_report(const cli_t *c, json_t *rep)
{
    if (c->json && print_json(rep) != 0)
        return MS_RC_FAILED;
    if (!c->json)
        ms_print_report(rep, stdout, stderr);
    return report_rc(rep);
}

/* Print the report, write it to --report, and return the exit status. */
static int finish(const cli_t *c, json_t *rep)
{
    fflush(stdout);
    int rc = show_report(c, rep);
    if (c->restore && rc == 0 && !c->json)
        printf("restored %s from %s into %s\n", c->args[1],
               json_string_value(json_object_get(rep, "source")), c->to);
    if (c->report && write_report_file(rep, c->report) != 0 && rc == MS_RC_OK)
        rc = MS_RC_FAILED;
    if (ms_stop_signal)
        rc = MS_RC_INTERRUPTED;
    return rc;
}

/* A verify writes nothing: options that would are refused (said, -1). */
static int check_verify_options(const cli_t *c)
{
    const char *why = NULL;
    if (c->delete || c->force_delete)
        why = "verify writes nothing: --delete and --force-delete are for runs";
    else if (c->dry_run)
        why = "verify writes nothing anyway: --dry-run is for runs";
    else if (ms_keep_any(&c->keep))
        why = "verify removes nothing: --keep-* rules are for runs with --snapshot";
    if (why)
        fprintf(stderr, "multisync: %s\n", why);
    return why ? -1 : 0;
}

/* Options that do not go together: said, and -1. */
static int check_run_options(const cli_t *c)
{
    const char *why = NULL;
    if (c->verify)
        return check_verify_options(c);
    if (c->force_delete && !c->delete &&!c->snapshot)
        why = "--force-delete goes with --delete (or --snapshot)";
    else if (c->snapshot && c->delete)
        why = "--delete is for mirrors: a snapshot is always exact";
    else if (ms_keep_any(&c->keep) && !c->snapshot && !(c->n_args == 1 && c->master))
        why = "--keep-* rules go with --snapshot: a mirror keeps no older versions";
    else if (c->to || c->force)
        why = "--to and --force go with restore";
    if (why)
        fprintf(stderr, "multisync: %s\n", why);
    return why ? -1 : 0;
}

/* A backup (run) or a restore here, from src to dst: its report printed,
 * the exit status returned. */
/* Where the embedded mode keeps its state; NULL (said) when nowhere. */
static const char *state_catalog(const cli_t *c, char *path, size_t size)
{
    char err[512];
    if (ms_state_catalog(c->catalog, 1, path, size, err, sizeof err) == 0)
        return path;
    fprintf(stderr, "multisync: no state kept (%s): every project is copied\n", err);
    return NULL;
}

static int embedded(const cli_t *c, const char *src, const char *dst)
{
    char err[1024], catalog[4096];
    ms_embedded_opts_t o = {.source = src,
                            .catalog = state_catalog(c, catalog, sizeof catalog),
                            .dest = dst,
                            .slots = c->cfg.slots,
                            .rsync = c->rsync,
                            .rsync_opts = c->cfg.rsync_opts,
                            .n_rsync_opts = c->cfg.n_rsync_opts,
                            .verbose = c->verbose,
                            .delete = c->delete,
                            .force_delete = c->force_delete,
                            .snapshot = c->snapshot,
                            .full = c->full,
                            .restore_path = c->restore ? c->args[1] : NULL,
                            .restore_snapshot = c->snapshot_name,
                            .force = c->force,
                            .keep = c->keep,
                            .verify = c->verify,
                            .verify_snapshot = c->snapshot_name,
                            .dry_run = c->dry_run,
                            .worker_wait_s = c->worker_wait_s,
                            .attempts = c->attempts,
                            .retry_delay_ms = (int)c->retry_delay_ms,
                            .task_timeout_s = c->task_timeout_s,
                            .split_min_mb = c->split_min_mb,
                            .full_every = c->full_every,
                            .walk_threads = c->walk_threads,
                            .no_split = c->no_split,
                            .heartbeat_ms = (int)c->heartbeat_ms,
                            .progress = isatty(STDOUT_FILENO) ? stdout : NULL,
                            .metrics_file = c->metrics_file};
    int rc;
    json_t *rep = ms_embedded_run(&o, &rc, err, sizeof err);
    if (!rep) {
        fprintf(stderr, "multisync: %s\n", err);
        return ms_stop_signal ? MS_RC_INTERRUPTED : rc;
    }
    rc = finish(c, rep);
    json_decref(rep);
    return rc;
}

static int run_embedded(cli_t *c)
{
    char src[PATH_MAX], dst[PATH_MAX];
    if (c->n_args != 2) {
        fprintf(stderr, "multisync: run needs SRC and DST (or --master EP)\n");
        return 2;
    }
    if (check_run_options(c) != 0)
        return 2;
    if (!realpath(c->args[0], src)) {
        fprintf(stderr, "multisync: source %s: %s\n", c->args[0], strerror(errno));
        return 2;
    }
    if (ms_path_is_remote(c->args[1]))
        snprintf(dst, sizeof dst, "%s", c->args[1]);
    else if (absolute(c->args[1], dst, sizeof dst) != 0) {
        fprintf(stderr, "multisync: destination %s: path too long\n", c->args[1]);
        return 2;
    }
    return embedded(c, src, dst);
}

/* Wait for the master's answer: 0, or (said) the exit status to end with. */
static int await(ms_client_t *cl, ms_msg_t *m, int want, int timeout_ms, const char *ep)
{
    char err[512], text[1024];
    int rc = ms_client_recv(cl, m, timeout_ms, err, sizeof err);
    if (rc == 0)
        fprintf(stderr, "multisync: no answer from the master at %s\n", ep);
    else if (rc < 0)
        fprintf(stderr, "multisync: %s\n", ms_stop_signal ? "interrupted" : err);
    else if (m->cmd == MS_CMD_ERROR)
        fprintf(stderr, "multisync: the master says: %s\n",
                ms_log_safe(m->u.text.message, text, sizeof text));
    else if (m->cmd != want)
        fprintf(stderr, "multisync: unexpected %s from the master\n", ms_cmd_name(m->cmd));
    else
        return 0;
    return answer_rc(rc, m);
}

/*
 * The next RUN_DONE of run_id (0: any run) holding the rows from `from`
 * (0: any), as JSON; NULL when none comes within MASTER_ANSWER_MS in all
 * (said on stderr). Passed over: STATUS answers, and a RUN_DONE that is
 * not the page asked for (one more answer to an earlier WAIT: it holds
 * the first page; or a page no longer wanted).
 */
static json_t *next_report(ms_client_t *cl, const char *ep, uint64_t run_id, int64_t from,
                           int *exit_rc)
{
    ms_msg_t ans = {0};
    char err[512], text[1024];
    int64_t deadline = ms_now_ms() + MASTER_ANSWER_MS;
    int rc;
    for (;;) {
        int64_t left = deadline - ms_now_ms();
        rc = left > 0 ? ms_client_recv(cl, &ans, (int)left, err, sizeof err) : 0;
        if (rc <= 0 || ans.cmd == MS_CMD_ERROR ||
            (ans.cmd != MS_CMD_RUN_DONE && ans.cmd != MS_CMD_STATUS_REPLY))
            break;
        if (ans.cmd == MS_CMD_RUN_DONE && (run_id == 0 || ans.u.runref.run_id == run_id)) {
            json_t *rep = json_loads(ans.u.runref.report, 0, NULL);
            ms_msg_clear(&ans);
            if (!rep) {
                fprintf(stderr, "multisync: the master's report is not JSON\n");
                return NULL;
            }
            if (from <= 0 || json_integer_value(json_object_get(rep, "tasks_from")) == from)
                return rep;
            json_decref(rep);
        }
        ms_msg_clear(&ans);
    }
    if (rc == 0)
        fprintf(stderr, "multisync: no answer from the master at %s\n", ep);
    else if (rc < 0)
        fprintf(stderr, "multisync: %s\n", ms_stop_signal ? "interrupted" : err);
    else if (ans.cmd == MS_CMD_ERROR)
        fprintf(stderr, "multisync: the master says: %s\n",
                ms_log_safe(ans.u.text.message, text, sizeof text));
    else
        fprintf(stderr, "multisync: unexpected %s from the master\n", ms_cmd_name(ans.cmd));
    *exit_rc = answer_rc(rc, &ans);
    ms_msg_clear(&ans);
    return NULL;
}

/* Pages asked for before the first comes back: the master builds the next
 * ones while this client parses one. */
#define PAGES_AHEAD 4

static int ask_page(ms_client_t *cl, uint64_t run_id, size_t from, size_t count)
{
    char err[512];
    ms_msg_t req = {.cmd = MS_CMD_REPORT};
    req.u.runref.run_id = run_id;
    req.u.runref.from = from;
    req.u.runref.count = count;
    if (ms_client_send(cl, &req, err, sizeof err) != 0) {
        fprintf(stderr, "multisync: %s\n", err);
        return -1;
    }
    return 0;
}

/*
 * The master sends a big run's report in pages ("tasks_total" says how many
 * task rows there are): ask for the rows after those in rep, a few pages
 * ahead, and append them in order. An answer for rows no longer wanted (a
 * page came back shorter than asked) is passed over by next_report.
 * Returns 0, or -1 (said on stderr).
 */
static int fetch_pages(ms_client_t *cl, json_t *rep, const char *ep)
{
    json_t *tasks = json_object_get(rep, "tasks");
    json_int_t total = json_integer_value(json_object_get(rep, "tasks_total"));
    uint64_t run_id = (uint64_t)json_integer_value(json_object_get(rep, "run_id"));
    size_t have = json_array_size(tasks), page = have ? have : 1;
    size_t asked[PAGES_AHEAD], n_asked = 0; /* offsets asked for, oldest first */
    while (json_is_array(tasks) && (json_int_t)have < total) {
        if (n_asked == 0 || asked[0] != have) { /* the pipeline broke: start again */
            n_asked = 0;
            if (ask_page(cl, run_id, have, page) != 0)
                return -1;
            asked[n_asked++] = have;
        }
        while (n_asked < PAGES_AHEAD && (json_int_t)(asked[n_asked - 1] + page) < total) {
            size_t from = asked[n_asked - 1] + page;
            if (ask_page(cl, run_id, from, page) != 0)
                return -1;
            asked[n_asked++] = from;
        }
        int rc;
        json_t *got = next_report(cl, ep, run_id, (int64_t)have, &rc);
        json_t *more = json_object_get(got, "tasks");
        if (!got || json_integer_value(json_object_get(got, "tasks_from")) != (json_int_t)have ||
            json_array_size(more) == 0) {
            fprintf(stderr,
                    "multisync: the master's report of run %llu ended early, at row "
                    "%zu of %lld\n",
                    (unsigned long long)run_id, have, (long long)total);
            json_decref(got);
            return -1;
        }
        json_array_extend(tasks, more);
        have += json_array_size(more);
        json_decref(got);
        memmove(asked, asked + 1, --n_asked * sizeof *asked);
    }
    json_object_del(rep, "tasks_total");
    json_object_del(rep, "tasks_from");
    return 0;
}

/* On a terminal, the progress line of run_id from a STATUS answer. */
static void show_progress(const ms_msg_t *ans, uint64_t run_id)
{
    json_t *st = json_loads(ans->u.json.json, 0, NULL);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(st, "runs"), i, r)
    {
        if ((uint64_t)json_integer_value(json_object_get(r, "id")) == run_id)
            ms_print_progress(stdout, r);
    }
    json_decref(st);
}

/*
 * Wait for the end of run_id. Every few seconds, say WAIT again (the master
 * keeps one registration per client): if the master restarted, the
 * reconnected socket registers us again with the new process, which resumed
 * the run from its catalog. On a terminal, ask for the status every second
 * and show a progress line.
 */
static int send_ref(ms_client_t *cl, int cmd, uint64_t run_id)
{
    char err[512];
    ms_msg_t m = {.cmd = cmd};
    m.u.runref.run_id = run_id;
    if (ms_client_send(cl, &m, err, sizeof err) != 0 && errno != EAGAIN) {
        fprintf(stderr, "multisync: %s\n", err);
        return -1;
    }
    return 0;
}

static int wait_for_run(ms_client_t *cl, uint64_t run_id, ms_msg_t *ans, const char *ep)
{
    char err[512], text[1024];
    int tty = isatty(STDOUT_FILENO);
    int64_t next_wait = ms_now_ms() + WAIT_AGAIN_MS, next_status = 0;
    for (;;) {
        int64_t now = ms_now_ms();
        if (tty && now >= next_status) {
            next_status = now + 1000;
            if (send_ref(cl, MS_CMD_STATUS, run_id) != 0)
                return -1;
        }
        if (now >= next_wait) {
            next_wait = now + WAIT_AGAIN_MS;
            if (send_ref(cl, MS_CMD_WAIT, run_id) != 0)
                return -1;
        }
        if (ms_stop_signal)
            return -1; /* the caller cancels the run */
        int rc = ms_client_recv(cl, ans, 500, err, sizeof err);
        if (rc < 0) {
            if (!ms_stop_signal)
                fprintf(stderr, "multisync: %s\n", err);
            return -1;
        }
        if (rc == 0)
            continue;
        if (ans->cmd == MS_CMD_RUN_DONE && ans->u.runref.run_id == run_id) {
            if (tty)
                putchar('\n');
            return 0;
        }
        if (ans->cmd == MS_CMD_ERROR) {
            fprintf(stderr, "multisync: the master at %s says: %s\n", ep,
                    ms_log_safe(ans->u.text.message, text, sizeof text));
            return -1;
        }
        if (ans->cmd == MS_CMD_STATUS_REPLY && tty)
            show_progress(ans, run_id);
        ms_msg_clear(ans);
    }
}

static uint32_t run_flags(const cli_t *c)
{
    if (c->verify)
        return MS_RUN_VERIFY;
    return (c->dry_run ? MS_RUN_VERIFY | MS_RUN_DRY_RUN : 0) | (c->delete ? MS_RUN_DELETE : 0) |
           (c->force_delete ? MS_RUN_FORCE_DELETE : 0) | (c->snapshot ? MS_RUN_SNAPSHOT : 0) |
           (c->full ? MS_RUN_FULL : 0);
}

static int fill_run_request(const cli_t *c, ms_msg_t *req)
{
    req->cmd = MS_CMD_RUN;
    req->u.run.flags = run_flags(c);
    req->u.run.wait_s = c->worker_wait_s;
    req->u.run.keep_last = c->keep.last;
    req->u.run.keep_hourly = c->keep.hourly;
    req->u.run.keep_daily = c->keep.daily;
    req->u.run.keep_weekly = c->keep.weekly;
    req->u.run.keep_monthly = c->keep.monthly;
    req->u.run.keep_yearly = c->keep.yearly;
    req->u.run.snapshot = (char *)c->snapshot_name;
    if (c->verify && check_verify_options(c) != 0)
        return -1;
    if (c->n_args == 1) {
        req->u.run.set = c->args[0]; /* the set may mirror deletions, or take snapshots */
        return 0;
    }
    if (check_run_options(c) != 0)
        return -1;
    if (c->n_args != 2 || c->args[0][0] != '/' ||
        (c->args[1][0] != '/' && !ms_path_is_remote(c->args[1]))) {
        fprintf(stderr, "multisync: with --master, give a set name, or an absolute SRC and DST "
                        "as the workers see them\n");
        return -1;
    }
    req->u.run.source = c->args[0];
    req->u.run.dest = c->args[1];
    return 0;
}

/* RESTORE: from a set's backup or an absolute DST, as the master sees it. */
static void fill_restore_request(const cli_t *c, ms_msg_t *req)
{
    req->cmd = MS_CMD_RUN;
    req->u.run.flags = MS_RUN_RESTORE | (c->force ? MS_RUN_FORCE : 0);
    req->u.run.wait_s = c->worker_wait_s;
    if (c->args[0][0] == '/')
        req->u.run.source = c->args[0];
    else
        req->u.run.set = c->args[0];
    req->u.run.dest = (char *)c->to;
    req->u.run.snapshot = (char *)c->snapshot_name;
    req->u.run.path = c->args[1];
}

/* The report in a RUN_DONE answer, with every page of its rows; NULL
 * (said on stderr). */
static json_t *full_report(ms_client_t *cl, const ms_msg_t *ans, const char *ep)
{
    json_error_t jerr;
    json_t *rep = json_loads(ans->u.runref.report, 0, &jerr);
    if (!rep)
        fprintf(stderr, "multisync: the master's report is not JSON: %s\n", jerr.text);
    else if (fetch_pages(cl, rep, ep) != 0)
        json_decref(rep);
    else
        return rep;
    return NULL;
}

/*
 * Ctrl-C (or SIGTERM: a nightly job stopped by its timeout) while waiting
 * for run_id: ask the master to cancel the run, and wait a few seconds for
 * its report, which is returned (NULL: none came). A second Ctrl-C ends
 * this process at once; the run is cancelled anyway.
 */
static json_t *cancel_waited_run(ms_client_t *cl, uint64_t run_id, const char *ep)
{
    char err[512], text[1024];
    ms_msg_t ans = {0};
    if (send_ref(cl, MS_CMD_CANCEL_RUN, run_id) != 0 || send_ref(cl, MS_CMD_WAIT, run_id) != 0)
        return NULL;
    signal(SIGINT, SIG_DFL); /* asked: a second Ctrl-C need not wait for the answer */
    signal(SIGTERM, SIG_DFL);
    fprintf(stderr, "multisync: interrupted: cancelling run %llu (Ctrl-C again: stop waiting)\n",
            (unsigned long long)run_id);
    for (int64_t end = ms_now_ms() + CANCEL_WAIT_MS; ms_now_ms() < end; ms_msg_clear(&ans)) {
        if (ms_client_recv(cl, &ans, (int)(end - ms_now_ms()), err, sizeof err) <= 0)
            break;
        if (ans.cmd == MS_CMD_ERROR) /* it ended meanwhile: its report comes (WAIT) */
            fprintf(stderr, "multisync: the master says: %s\n",
                    ms_log_safe(ans.u.text.message, text, sizeof text));
        if (ans.cmd == MS_CMD_RUN_DONE && ans.u.runref.run_id == run_id) {
            json_t *rep = full_report(cl, &ans, ep);
            ms_msg_clear(&ans);
            return rep;
        }
    }
    ms_msg_clear(&ans);
    fprintf(stderr,
            "multisync: no report of run %llu yet: `multisync report %llu` shows it once its "
            "rsyncs stopped\n",
            (unsigned long long)run_id, (unsigned long long)run_id);
    return NULL;
}

static int run_remote(cli_t *c)
{
    char err[512];
    ms_msg_t req = {0}, ans = {0};
    int rc = MS_RC_USAGE;
    if (c->restore)
        fill_restore_request(c, &req);
    else if (fill_run_request(c, &req) != 0)
        return MS_RC_USAGE;
    ms_client_t *cl = connect_master(c, &rc, err, sizeof err);
    if (cl && ms_client_send(cl, &req, err, sizeof err) != 0)
        rc = MS_RC_UNREACHABLE;
    if (!cl || rc == MS_RC_UNREACHABLE) {
        fprintf(stderr, "multisync: %s\n", err);
        goto out;
    }
    if ((rc = await(cl, &ans, MS_CMD_RUN_STARTED, MASTER_ANSWER_MS, c->master)) != 0)
        goto out;
    fprintf(stderr, "multisync: run %llu started on %s; waiting for it (Ctrl-C cancels it)\n",
            (unsigned long long)ans.u.runref.run_id, c->master);
    uint64_t run_id = ans.u.runref.run_id;
    ms_msg_clear(&ans);
    int waited = wait_for_run(cl, run_id, &ans, c->master);
    json_t *rep = waited == 0      ? full_report(cl, &ans, c->master)
                  : ms_stop_signal ? cancel_waited_run(cl, run_id, c->master)
                                   : NULL;
    rc = rep ? finish(c, rep) : ms_stop_signal ? MS_RC_INTERRUPTED : MS_RC_UNREACHABLE;
    json_decref(rep);
out:
    ms_msg_clear(&ans);
    ms_client_destroy(&cl);
    return rc;
}

/* Ask the master one question: the text of its JSON answer (STATUS_REPLY,
 * to free), or NULL (said on stderr) with *rc the exit status to end with. */
static char *ask_text(const cli_t *c, ms_msg_t *req, int *rc)
{
    char err[512];
    ms_msg_t ans = {0};
    char *text = NULL;
    ms_client_t *cl = connect_master(c, rc, err, sizeof err);
    if (cl && ms_client_send(cl, req, err, sizeof err) != 0)
        *rc = MS_RC_UNREACHABLE;
    if (!cl || *rc == MS_RC_UNREACHABLE)
        fprintf(stderr, "multisync: %s\n", err);
    else if ((*rc = await(cl, &ans, MS_CMD_STATUS_REPLY, MASTER_ANSWER_MS, c->master)) == 0) {
        text = ans.u.json.json; /* taken from the message */
        ans.u.json.json = NULL;
    }
    ms_msg_clear(&ans);
    ms_client_destroy(&cl);
    return text;
}

/* The same answer, parsed. */
static json_t *ask(const cli_t *c, ms_msg_t *req, int *rc)
{
    char *text = ask_text(c, req, rc);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (text && !j) {
        fprintf(stderr, "multisync: the master's answer is not JSON\n");
        *rc = MS_RC_UNREACHABLE;
    }
    free(text);
    return j;
}

/* Whether text holds a raw control byte other than JSON's whitespace: JSON
 * escapes them in strings, so the master never sends one, and an escape
 * sequence from the network must not reach the operator's terminal. */
static int has_control(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return 1;
    return 0;
}

/* A JSON object or array as the master sent it, on stdout: for --json, the same
 * bytes /api/status gives. Not parsed and printed again: a fleet's status
 * is a few MB, and that took longer than the master took to answer. Only
 * its first byte and its control bytes are checked: the master built it
 * with jansson. */
static int pass_json(char *text, int *rc)
{
    const char *p = text + strspn(text, " \t\r\n");
    if ((*p != '{' && *p != '[') || has_control(p)) {
        fprintf(stderr, "multisync: the master's answer is not JSON\n");
        *rc = MS_RC_UNREACHABLE;
    } else if (fputs(p, stdout) == EOF || putchar('\n') == EOF || fflush(stdout) == EOF) {
        fprintf(stderr, "multisync: cannot write to stdout: %s\n", strerror(errno));
        *rc = 1;
    }
    free(text);
    return *rc;
}

/* Ask the master one question and print the JSON answer (STATUS_REPLY). */
static int query(cli_t *c, ms_msg_t *req, void (*print)(const json_t *, FILE *))
{
    int rc;
    if (c->json) {
        char *text = ask_text(c, req, &rc);
        return text ? pass_json(text, &rc) : rc;
    }
    json_t *j = ask(c, req, &rc);
    if (j)
        print(j, stdout);
    json_decref(j);
    return rc;
}

static int status(cli_t *c)
{
    ms_msg_t req = {.cmd = MS_CMD_STATUS};
    return query(c, &req, ms_print_status);
}

/* JSON got here (not from a master), printed as asked; its exit status. */
static int print_local(const cli_t *c, json_t *j, const char *err,
                       void (*print)(const json_t *, FILE *))
{
    int rc = j ? 0 : 1;
    if (!j)
        fprintf(stderr, "multisync: %s\n", err);
    else if (c->json)
        rc = print_json(j) == 0 ? 0 : 1;
    else
        print(j, stdout);
    json_decref(j);
    return rc;
}

static int history(cli_t *c)
{
    char path[4096], err[512];
    ms_msg_t req = {.cmd = MS_CMD_HISTORY};
    req.u.history.n = c->count ? c->count : 20;
    if (c->master)
        return query(c, &req, ms_print_history);
    /* The embedded mode's runs, from its own catalog. */
    json_t *h = ms_state_catalog(c->catalog, 0, path, sizeof path, err, sizeof err) == 0
                    ? ms_state_history(path, req.u.history.n, err, sizeof err)
                    : NULL;
    return print_local(c, h, err, ms_print_history);
}

/* The report of one run: the same table (or JSON) as at the end of `run`. */
/* The newest run's id from a history: 0 (said) when there is none. */
static unsigned newest_run(json_t *history, const char *where)
{
    json_int_t id = json_integer_value(json_object_get(json_array_get(history, 0), "run_id"));
    if (history && id <= 0)
        fprintf(stderr, "multisync: no runs yet in %s\n", where);
    json_decref(history);
    return id > 0 && id <= UINT32_MAX ? (unsigned)id : 0;
}

/* report's RUN_ID: a number, or "last" (the newest run); 0 (said) when
 * there is none such. */
static unsigned report_id(const cli_t *c, const char *catalog, int *rc)
{
    char err[512];
    unsigned id = 0;
    *rc = MS_RC_USAGE;
    if (strcmp(c->args[0], "last") != 0) {
        if (ms_parse_uint(c->args[0], 1, UINT32_MAX, &id) != 0)
            fprintf(stderr, "multisync: usage: multisync report RUN_ID|last [--master EP] "
                            "[--json]\n");
        return id;
    }
    if (c->master) {
        ms_msg_t req = {.cmd = MS_CMD_HISTORY};
        req.u.history.n = 1;
        return newest_run(ask(c, &req, rc), "this master's catalog");
    }
    json_t *h = catalog ? ms_state_history(catalog, 1, err, sizeof err) : NULL;
    if (catalog && !h)
        fprintf(stderr, "multisync: %s\n", err);
    return newest_run(h, catalog ? catalog : "the embedded mode's catalog");
}

/* The report of a run: from the master, or from the embedded mode's catalog. */
static int report(cli_t *c)
{
    char err[512], path[4096];
    int rc = MS_RC_USAGE;
    const char *catalog = NULL;
    if (c->n_args != 1) {
        fprintf(stderr, "multisync: usage: multisync report RUN_ID|last [--master EP] [--json]\n");
        return rc;
    }
    if (!c->master && ms_state_catalog(c->catalog, 0, path, sizeof path, err, sizeof err) == 0)
        catalog = path;
    unsigned id = report_id(c, catalog, &rc);
    if (id == 0)
        return rc;
    json_t *rep = NULL;
    if (!c->master) { /* an embedded run's, from its own catalog */
        if (!catalog || !(rep = ms_state_report(catalog, id, err, sizeof err)))
            fprintf(stderr, "multisync: %s\n", err);
        rc = rep ? show_report(c, rep) : MS_RC_USAGE;
        json_decref(rep);
        return rc;
    }
    ms_msg_t req = {.cmd = MS_CMD_REPORT};
    req.u.runref.run_id = id;
    ms_client_t *cl = connect_master(c, &rc, err, sizeof err);
    if (cl && ms_client_send(cl, &req, err, sizeof err) != 0)
        rc = MS_RC_UNREACHABLE;
    if (!cl || rc == MS_RC_UNREACHABLE)
        fprintf(stderr, "multisync: %s\n", err);
    else if ((rep = next_report(cl, c->master, id, 0, &rc)) && fetch_pages(cl, rep, c->master) == 0)
        rc = show_report(c, rep);
    else if (rep)
        rc = MS_RC_UNREACHABLE;
    json_decref(rep);
    ms_client_destroy(&cl);
    return rc;
}

/* The master's answer to CANCEL_RUN, on stdout: what it stopped. */
static void print_cancelled(const json_t *j)
{
    json_int_t running = json_integer_value(json_object_get(j, "running"));
    printf("cancelled run %lld (%lld running task%s stopped, %lld queued dropped)\n",
           (long long)json_integer_value(json_object_get(j, "run_id")), (long long)running,
           running == 1 ? "" : "s", (long long)json_integer_value(json_object_get(j, "queued")));
}

/*
 * Cancel run RUN_ID on the master (its rsyncs stopped, its queued tasks
 * dropped): 0 once the master did; 2 for a run it does not have or that
 * already ended (said: "run 7 already ended: ok"); 3 when it cannot be
 * reached or does not answer.
 */
static int cancel(cli_t *c)
{
    unsigned id;
    int rc;
    ms_msg_t req = {.cmd = MS_CMD_CANCEL_RUN};
    if (c->n_args != 1 || ms_parse_uint(c->args[0], 1, UINT32_MAX, &id) != 0) {
        fprintf(stderr, "multisync: usage: multisync cancel RUN_ID [--master EP]\n");
        return MS_RC_USAGE;
    }
    req.u.runref.run_id = id;
    json_t *j = ask(c, &req, &rc);
    if (j)
        print_cancelled(j);
    json_decref(j);
    return j ? MS_RC_OK : rc;
}

/* The snapshots of a backup: DST read here, or a set's destination read
 * by the master. An empty list is said; a DST or set that cannot be listed
 * is exit 2. */
static int snapshots(cli_t *c)
{
    char dst[PATH_MAX], err[1024], where[PATH_MAX + 16];
    json_t *list = NULL;
    ms_msg_t req = {.cmd = MS_CMD_SNAPSHOTS};
    if (c->n_args != 1) {
        fprintf(stderr, "multisync: snapshots needs DST (or --master EP and a SET)\n");
        return 2;
    }
    req.u.setref.set = c->args[0];
    snprintf(where, sizeof where, "%s%s", c->master ? "set " : "", c->args[0]);
    int rc = MS_RC_USAGE;
    if (c->master)
        list = ask(c, &req, &rc);
    else if (!realpath(c->args[0], dst))
        fprintf(stderr, "multisync: %s: %s\n", c->args[0], strerror(errno));
    else if (!(list = ms_snapshot_list(dst, err, sizeof err)))
        fprintf(stderr, "multisync: %s\n", err);
    if (!list)
        return rc;
    rc = 0;
    if (c->json)
        rc = print_json(list) == 0 ? 0 : 1;
    else if (json_array_size(list) == 0)
        printf("no snapshots in %s\n", where);
    else
        ms_print_snapshots(list, stdout);
    json_decref(list);
    return rc;
}

/* restore's arguments: a backup and what to restore from it, --to DIR
 * (absolute with --master: as the master and the workers see it). Said,
 * and -1, when they do not fit. */
static int check_restore_args(const cli_t *c)
{
    char err[512];
    ms_restore_t rs;
    const char *why = NULL;
    if (c->n_args != 2 || !c->to)
        why = "restore needs DST (or --master EP and a SET), PROJECT[/PATH] and --to DIR";
    else if (c->delete || c->force_delete || c->snapshot || ms_keep_any(&c->keep))
        why = "a restore copies back: --delete, --force-delete and --keep-* do not go with it";
    else if (c->master && c->to[0] != '/')
        why = "with --master, --to DIR must be absolute, as the master and the workers see it";
    else if (ms_restore_split(c->args[1], &rs, err, sizeof err) != 0)
        why = err;
    else
        ms_restore_free(&rs);
    if (why)
        fprintf(stderr, "multisync: %s\n", why);
    return why ? -1 : 0;
}

/* Copy PROJECT[/PATH] from a backup into DIR: here, or through a master
 * and its workers. */
static int restore(cli_t *c)
{
    char backup[PATH_MAX], dir[PATH_MAX], err[1024];
    if (check_restore_args(c) != 0)
        return 2;
    if (c->master)
        return run_remote(c);
    if (!realpath(c->args[0], backup)) {
        fprintf(stderr, "multisync: backup %s: %s\n", c->args[0], strerror(errno));
        return 2;
    }
    if (ms_restore_abspath(c->to, dir, sizeof dir, err, sizeof err) != 0) {
        fprintf(stderr, "multisync: --to %s\n", err);
        return 2;
    }
    c->to = dir;
    return embedded(c, backup, dir);
}

/*
 * Before a command runs: its master (given, or the default one), its
 * options checked against the command and the mode, the --report folder.
 * Returns 0, or (said) the exit status to end with.
 */
static int prepare(cli_t *c, unsigned cmd)
{
    char err[1024];
    const unsigned asks = MS_CMD_BIT_STATUS | MS_CMD_BIT_CANCEL | MS_CMD_BIT_HISTORY |
                          MS_CMD_BIT_REPORT | MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY |
                          MS_CMD_BIT_RESTORE | MS_CMD_BIT_SNAPSHOTS;
    /* The service's socket stands in for --master where a master is
     * needed: status, cancel, a master's history, a set's run. */
    int needs =
        (cmd & (MS_CMD_BIT_STATUS | MS_CMD_BIT_CANCEL | MS_CMD_BIT_HISTORY | MS_CMD_BIT_REPORT)) ||
        ((cmd & (MS_CMD_BIT_RUN | MS_CMD_BIT_VERIFY)) && c->n_args == 1);
    if (!c->master && !c->catalog && (cmd & asks) &&
        ms_args_default_master(needs, c->master_buf, sizeof c->master_buf)) {
        c->master = c->master_buf;
        c->master_env = getenv("MULTISYNC_MASTER");
    }
    if (ms_args_check(cmd, c->seen, c->n_seen, c->master != NULL, err, sizeof err) != 0) {
        fprintf(stderr, "multisync: %s%s\n", err,
                c->master_env && c->master_env[0] ? " (MULTISYNC_MASTER is set)" : "");
        return MS_RC_USAGE;
    }
    if (!c->master && (cmd & (MS_CMD_BIT_STATUS | MS_CMD_BIT_CANCEL))) {
        fprintf(stderr,
                "multisync: no master to ask: give --master EP, set MULTISYNC_MASTER, or "
                "start multisync-master with --control ipc://%s\n",
                MS_DEFAULT_CONTROL);
        return MS_RC_UNREACHABLE;
    }
    if ((c->report && ms_args_check_report(c->report, err, sizeof err) != 0) ||
        (c->metrics_file &&
         ms_args_check_output("--metrics-file", "the metrics are written while the run goes",
                              c->metrics_file, err, sizeof err) != 0)) {
        fprintf(stderr, "multisync: %s\n", err);
        return MS_RC_USAGE;
    }
    return 0;
}

static int dispatch(cli_t *c, unsigned cmd)
{
    switch (cmd) {
    case MS_CMD_BIT_RUN:
    case MS_CMD_BIT_VERIFY:
        return c->master ? run_remote(c) : run_embedded(c);
    case MS_CMD_BIT_STATUS:
        return status(c);
    case MS_CMD_BIT_KEYGEN:
        return keygen(c);
    case MS_CMD_BIT_HISTORY:
        return history(c);
    case MS_CMD_BIT_REPORT:
        return report(c);
    case MS_CMD_BIT_SNAPSHOTS:
        return snapshots(c);
    case MS_CMD_BIT_RESTORE:
        return restore(c);
    case MS_CMD_BIT_CANCEL:
        return cancel(c);
    }
    fprintf(stderr, "multisync: that command is not built in this version\n");
    return MS_RC_USAGE;
}

int main(int argc, char **argv)
{
    cli_t c = {0};
    int rc = 2;
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
        strcmp(argv[1], "version") == 0) {
        ms_version_print("multisync", stdout);
        return MS_RC_OK;
    }
    const char *name = argv[1];
    unsigned cmd = ms_args_command(name);
    if (!cmd) {
        fprintf(stderr,
                "multisync: unknown command '%s' (run, verify, status, history, report, "
                "snapshots, restore, keygen, cancel; --help, --version)\n",
                name);
        return MS_RC_USAGE;
    }
    c.restore = cmd == MS_CMD_BIT_RESTORE;
    c.verify = cmd == MS_CMD_BIT_VERIFY;
    if (parse_args(argc - 1, argv + 1, options_of(name), &c) != 0) {
        usage(stderr);
        goto out;
    }
    /* Without -v the report says what failed; the daemons' logs would repeat it. */
    ms_log_init("multisync", c.verbose ? MS_LOG_INFO : MS_LOG_ERROR);
    ms_signal_install();
    if ((rc = prepare(&c, cmd)) == 0)
        rc = dispatch(&c, cmd);
out:
    ms_config_free(&c.cfg);
    return rc;
}
