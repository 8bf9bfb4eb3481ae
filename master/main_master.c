/*
 * multisync-master - the daemon that hands backup tasks to workers and
 * answers runs and status queries on its control endpoint.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_config.h"
#include "ms_http.h"
#include "ms_ipc.h"
#include "ms_log.h"
#include "ms_master.h"
#include "ms_path.h"
#include "ms_rc.h"
#include "ms_signal.h"
#include "ms_version.h"

#define DEFAULT_CATALOG "/var/lib/multisync/catalog.db"

static void usage(FILE *f)
{
    fprintf(f, "usage: multisync-master --listen ENDPOINT --control ENDPOINT [options]\n"
               "       multisync-master -c FILE [options]\n"
               "\n"
               "  -l, --listen EP         endpoint workers connect to, e.g. tcp://0.0.0.0:5555\n"
               "  -C, --control EP        endpoint for `multisync run/status --master EP`\n"
               "      --catalog FILE      SQLite catalog of runs (default " DEFAULT_CATALOG ")\n"
               "      --attempts N        attempts per task for transient failures (default 3)\n"
               "      --retry-delay-ms N  first retry after N ms, doubling (default 1000)\n"
               "      --task-timeout S    kill a task after S seconds (default: no limit)\n"
               "      --split-min-mb N    split a big project into chunks of at least N MB\n"
               "                          (default 32; data plus 16 KiB per entry)\n"
               "      --no-split          never split a project: one rsync each\n"
               "      --walk-threads N    threads walking a source (default: one per core, at\n"
               "                          most 8)\n"
               "      --heartbeat-ms N    heartbeat interval (default 1000); a worker silent for\n"
               "                          3 intervals loses its tasks to the others\n"
               "      --key FILE.key      the master's CURVE key pair (multisync keygen)\n"
               "      --authorized DIR    the workers' .pub files: only they may connect\n"
               "      --admin-keys DIR    the admins' .pub files, for a tcp:// control endpoint\n"
               "      --insecure          allow plaintext tcp:// endpoints (no --key)\n"
               "      --http-listen ADDR:PORT  serve the HTTP API there, e.g. 127.0.0.1:9469\n"
               "                          (off by default; another address than loopback\n"
               "                          needs TLS and the password)\n"
               "      --http-cert FILE    TLS certificate (PEM) for the HTTP API\n"
               "      --http-key FILE     its private key (PEM, mode 0600)\n"
               "      --http-password-file FILE  the password of the user admin (HTTP Basic),\n"
               "                          its first line (mode 0600)\n"
               "  -c, --config FILE       read [master] and [set NAME] sections of FILE\n"
               "  -v, --verbose           log debug messages\n"
               "  -h, --help              this text\n"
               "  -V, --version           the version, and of the libraries\n"
               "\n"
               "SIGTERM: persist, tell the workers the master restarts, exit 0. Started again\n"
               "with the same catalog, it resumes unfinished runs. SIGHUP: re-read the key\n"
               "folders; workers whose key was removed are dropped.\n");
}

enum {
    OPT_CATALOG = 256,
    OPT_ATTEMPTS,
    OPT_RETRY,
    OPT_TIMEOUT,
    OPT_HEARTBEAT,
    OPT_KEY,
    OPT_AUTHORIZED,
    OPT_ADMIN,
    OPT_INSECURE,
    OPT_SPLIT_MIN,
    OPT_NO_SPLIT,
    OPT_WALK_THREADS,
    OPT_HTTP_LISTEN,
    OPT_HTTP_CERT,
    OPT_HTTP_KEY,
    OPT_HTTP_PASSWORD
};

static int number(const char *name, const char *arg, unsigned min, unsigned max, unsigned *out)
{
    if (ms_parse_uint(arg, min, max, out) == 0)
        return 0;
    fprintf(stderr, "multisync-master: %s takes a number from %u to %u\n", name, min, max);
    return -1;
}

static int option(int c, const char *arg, ms_config_t *cfg, int *verbose)
{
    switch (c) {
    case 'l':
        return ms_config_set_str(&cfg->listen, arg);
    case 'C':
        return ms_config_set_str(&cfg->control, arg);
    case OPT_CATALOG:
        return ms_config_set_str(&cfg->catalog, arg);
    case OPT_ATTEMPTS:
        return number("--attempts", arg, 1, 100, &cfg->attempts);
    case OPT_RETRY:
        return number("--retry-delay-ms", arg, 1, 3600000, &cfg->retry_delay_ms);
    case OPT_TIMEOUT:
        return number("--task-timeout", arg, 1, 31536000, &cfg->task_timeout_s);
    case OPT_HEARTBEAT:
        return number("--heartbeat-ms", arg, 10, 600000, &cfg->heartbeat_ms);
    case OPT_KEY:
        return ms_config_set_str(&cfg->key, arg);
    case OPT_AUTHORIZED:
        return ms_config_set_str(&cfg->authorized, arg);
    case OPT_ADMIN:
        return ms_config_set_str(&cfg->admin_keys, arg);
    case OPT_INSECURE:
        cfg->insecure = 1;
        return 0;
    case OPT_SPLIT_MIN:
        return number("--split-min-mb", arg, 1, 1048576, &cfg->split_min_mb);
    case OPT_NO_SPLIT:
        cfg->no_split = 1;
        return 0;
    case OPT_WALK_THREADS:
        return number("--walk-threads", arg, 1, MS_WALK_THREADS_MAX, &cfg->walk_threads);
    case OPT_HTTP_LISTEN:
        return ms_config_set_str(&cfg->http_listen, arg);
    case OPT_HTTP_CERT:
        return ms_config_set_str(&cfg->http_cert, arg);
    case OPT_HTTP_KEY:
        return ms_config_set_str(&cfg->http_key, arg);
    case OPT_HTTP_PASSWORD:
        return ms_config_set_str(&cfg->http_password_file, arg);
    case 'c':
        return 0;
    case 'v':
        *verbose = 1;
        return 0;
    case 'h':
        usage(stdout);
        exit(MS_RC_OK);
    case 'V':
        ms_version_print("multisync-master", stdout);
        exit(MS_RC_OK);
    default:
        usage(stderr);
        return -1;
    }
}

static int parse_args(int argc, char **argv, ms_config_t *cfg, int *verbose)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"control", required_argument, NULL, 'C'},
        {"catalog", required_argument, NULL, OPT_CATALOG},
        {"attempts", required_argument, NULL, OPT_ATTEMPTS},
        {"retry-delay-ms", required_argument, NULL, OPT_RETRY},
        {"task-timeout", required_argument, NULL, OPT_TIMEOUT},
        {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
        {"key", required_argument, NULL, OPT_KEY},
        {"authorized", required_argument, NULL, OPT_AUTHORIZED},
        {"admin-keys", required_argument, NULL, OPT_ADMIN},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"split-min-mb", required_argument, NULL, OPT_SPLIT_MIN},
        {"walk-threads", required_argument, NULL, OPT_WALK_THREADS},
        {"no-split", no_argument, NULL, OPT_NO_SPLIT},
        {"http-listen", required_argument, NULL, OPT_HTTP_LISTEN},
        {"http-cert", required_argument, NULL, OPT_HTTP_CERT},
        {"http-key", required_argument, NULL, OPT_HTTP_KEY},
        {"http-password-file", required_argument, NULL, OPT_HTTP_PASSWORD},
        {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    char err[512];
    int c;
    static const char optstring[] = "l:C:c:vhV";
    if (ms_config_load_from_args(cfg, argc, argv, optstring, longopts, err, sizeof err) != 0) {
        fprintf(stderr, "multisync-master: %s\n", err);
        return -1;
    }
    while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1)
        if (option(c, optarg, cfg, verbose) != 0)
            return -1;
    if (optind != argc) {
        fprintf(stderr, "multisync-master: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!cfg->listen || !cfg->control) {
        fprintf(stderr, "multisync-master: both --listen and --control are needed\n");
        return -1;
    }
    return cfg->catalog ? 0 : ms_config_set_str(&cfg->catalog, DEFAULT_CATALOG);
}

/*
 * A fresh machine has neither the catalog's folder nor the control socket's:
 * they are made, and said, rather than the start failing on "unable to open
 * database file". The catalog's is 0700 (the runs' history, and the lock
 * that keeps a second master away); a socket's is as ms_ipc wants it. An
 * existing folder is left as it is (ms_ipc_claim still refuses one others
 * may write to). Logs what it made, or why it could not.
 */
static int make_folders(const ms_config_t *cfg)
{
    char copy[PATH_MAX], made[PATH_MAX], why[PATH_MAX + 128];
    const char *eps[] = {cfg->listen, cfg->control};
    int created;
    snprintf(copy, sizeof copy, "%s", cfg->catalog);
    const char *dir = dirname(copy);
    if (ms_path_make_folder(dir, 0700, &created, why, sizeof why) != 0) {
        ms_error("catalog %s: %s", cfg->catalog, why);
        return -1;
    }
    if (created)
        ms_info("created the catalog's folder %s (mode 0700)", dir);
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        if (ms_ipc_make_folder(eps[i], made, sizeof made, why, sizeof why) != 0) {
            ms_error("%s", why);
            return -1;
        }
        if (made[0])
            ms_info("created the socket folder %s (mode %04o) for %s", made,
                    (unsigned)MS_IPC_FOLDER_MODE, eps[i]);
    }
    return 0;
}

/* The HTTP listener when --http-listen asks for one: bound before the
 * master opens its catalog, so that a configuration the rules refuse
 * stops the start (exit 2) before any run resumes. 0, or -1 (logged) with
 * *rc the exit status. */
static int start_http(const ms_config_t *cfg, ms_http_t **h, int *rc)
{
    char err[1024];
    ms_http_opts_t o = {cfg->http_listen, cfg->http_cert, cfg->http_key, cfg->http_password_file};
    *h = NULL;
    if (!cfg->http_listen) {
        if (cfg->http_cert || cfg->http_key || cfg->http_password_file) {
            ms_error("--http-cert, --http-key and --http-password-file need --http-listen");
            *rc = MS_RC_USAGE;
            return -1;
        }
        return 0;
    }
    if (!(*h = ms_http_new(&o, rc, err, sizeof err))) {
        ms_error("%s", err);
        return -1;
    }
    ms_info("HTTP API on %s://%s%s", cfg->http_cert ? "https" : "http", cfg->http_listen,
            cfg->http_password_file ? " (the admin's password needed)" : "");
    return 0;
}

static ms_master_t *start_master(const ms_config_t *cfg)
{
    char err[1024];
    ms_master_opts_t o = {.listen = cfg->listen,
                          .control = cfg->control,
                          .config = cfg,
                          .heartbeat_ms = (int)cfg->heartbeat_ms,
                          .attempts = cfg->attempts,
                          .retry_delay_ms = (int)cfg->retry_delay_ms,
                          .task_timeout_s = cfg->task_timeout_s,
                          .catalog = cfg->catalog,
                          .split_min_mb = cfg->split_min_mb,
                          .walk_threads = cfg->walk_threads,
                          .no_split = cfg->no_split,
                          .worker_wait_s = cfg->worker_wait_s,
                          .full_every = cfg->full_every,
                          .key = cfg->key,
                          .authorized = cfg->authorized,
                          .admin_keys = cfg->admin_keys,
                          .insecure = cfg->insecure};
    ms_master_t *m = ms_master_new(&o, err, sizeof err);
    if (!m)
        ms_error("%s", err);
    return m;
}

int main(int argc, char **argv)
{
    ms_config_t cfg = {0};
    int verbose = 0, rc = MS_RC_USAGE;
    char err[1024];
    ms_master_t *m = NULL;
    ms_http_t *http = NULL;
    if (parse_args(argc, argv, &cfg, &verbose) != 0)
        goto out;
    rc = MS_RC_FAILED;
    ms_log_init("multisync-master", ms_config_log_level(&cfg, verbose));
    if (ms_signal_install() != 0 || ms_signal_install_reload() != 0) {
        perror("multisync-master: sigaction");
        goto out;
    }
    if (start_http(&cfg, &http, &rc) != 0 || make_folders(&cfg) != 0 || !(m = start_master(&cfg)))
        goto out;
    if (http)
        ms_http_serve(http, m);
    ms_info("listening for workers on %s, control on %s, catalog %s, %zu backup set(s)", cfg.listen,
            cfg.control, cfg.catalog, cfg.n_sets);
    while (!ms_stop_signal) {
        if (ms_reload_signal) {
            ms_reload_signal = 0;
            if (ms_master_reload(m, err, sizeof err) != 0)
                ms_error("SIGHUP: %s", err);
        }
        if (ms_master_poll(m, 1000) != 0 && errno != EINTR) {
            ms_error("poll failed: %s", strerror(errno));
            goto out;
        }
    }
    ms_info("stopping on signal %d: workers keep their tasks and will reconnect",
            (int)ms_stop_signal);
    ms_master_shutdown(m);
    rc = 0;
out:
    ms_http_destroy(&http);
    ms_master_destroy(&m);
    ms_config_free(&cfg);
    return rc;
}
