/*
 * multisync-worker - the agent that runs backup tasks on one host.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_agent.h"
#include "ms_config.h"
#include "ms_confine.h"
#include "ms_fp.h"
#include "ms_log.h"
#include "ms_pool.h"
#include "ms_proto.h"
#include "ms_rsync.h"
#include "ms_secure.h"
#include "ms_rc.h"
#include "ms_signal.h"
#include "ms_version.h"

/* Simulated workers in one process: the bench's 1,000 (ms_agent.h). */
#define MS_MAX_AGENTS 10000

static int noop_executor;    /* --noop-executor: for the control-plane benchmark */
static int exit_with_parent; /* --exit-with-parent: the worker of `multisync run` */
static unsigned agents = 1;  /* --agents N: simulated workers, with --noop-executor */

static void usage(FILE *f)
{
    fprintf(f, "usage: multisync-worker --master ENDPOINT [options]\n"
               "       multisync-worker -c FILE [options]\n"
               "\n"
               "Runs backup tasks handed out by a multisync master, each as a child rsync.\n"
               "\n"
               "  -m, --master EP        master's worker endpoint, e.g. tcp://backup1:5555\n"
               "  -s, --slots N          tasks at once (default: number of cores)\n"
               "  -n, --name NAME        host name it announces (default: the --key file's\n"
               "                         name, hostA for hostA.key; else the hostname)\n"
               "      --rsync PATH       rsync program (default: rsync from PATH)\n"
               "      --rsync-opt OPT    extra rsync option, repeatable (e.g. --rsync-opt=-H)\n"
               "      --heartbeat-ms N   heartbeat interval (default 1000)\n"
               "      --drain-timeout S  on SIGTERM, let running tasks finish for up to S s\n"
               "                         (default 60), then interrupt them\n"
               "      --key FILE.key     this worker's CURVE key pair (multisync keygen)\n"
               "      --master-key FILE  the master's public key (.pub)\n"
               "      --insecure         allow a plaintext tcp:// master (no keys)\n"
               "      --allow-source DIR only read sources under DIR (repeatable)\n"
               "      --allow-dest DIR   only write backups under DIR (repeatable; may be an\n"
               "                         rsync remote prefix such as backup-host:/srv)\n"
               "      --noop-executor    benchmarks only: report every task done, run nothing\n"
               "      --agents N         benchmarks only, with --noop-executor: N simulated\n"
               "                         workers in this process, each its own connection,\n"
               "                         named NAME-1..NAME-N; with --key K.key agent i uses\n"
               "                         K-i.key\n"
               "      --exit-with-parent for multisync run: stop at once when the process that\n"
               "                         started this worker exits\n"
               "  -c, --config FILE      read the [worker] section of FILE\n"
               "  -v, --verbose          log debug messages\n"
               "  -q, --quiet            log only errors\n"
               "  -h, --help             this text\n"
               "  -V, --version          the version, and of the libraries\n");
}

enum {
    OPT_RSYNC = 256,
    OPT_RSYNC_OPT,
    OPT_HEARTBEAT,
    OPT_DRAIN,
    OPT_KEY,
    OPT_MASTER_KEY,
    OPT_INSECURE,
    OPT_ALLOW_SOURCE,
    OPT_ALLOW_DEST,
    OPT_NOOP,
    OPT_EXIT_WITH_PARENT,
    OPT_AGENTS
};

static const char optstring[] = "m:s:n:c:vqhV";
static const struct option longopts[] = {
    {"master", required_argument, NULL, 'm'},
    {"slots", required_argument, NULL, 's'},
    {"name", required_argument, NULL, 'n'},
    {"rsync", required_argument, NULL, OPT_RSYNC},
    {"rsync-opt", required_argument, NULL, OPT_RSYNC_OPT},
    {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN},
    {"key", required_argument, NULL, OPT_KEY},
    {"master-key", required_argument, NULL, OPT_MASTER_KEY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"allow-source", required_argument, NULL, OPT_ALLOW_SOURCE},
    {"allow-dest", required_argument, NULL, OPT_ALLOW_DEST},
    {"noop-executor", no_argument, NULL, OPT_NOOP},
    {"exit-with-parent", no_argument, NULL, OPT_EXIT_WITH_PARENT},
    {"agents", required_argument, NULL, OPT_AGENTS},
    {"config", required_argument, NULL, 'c'},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

/* Each option handler below returns 1 when it took opt, 0 when opt is not
 * one of its family, -1 on a bad value (said on stderr). */

/* A number within bounds, into a field of the config. */
static const ms_number_opt_t numbers[] = {
    {'s', "--slots", "takes a number from", 1, MS_MAX_SLOTS, offsetof(ms_config_t, slots)},
    {OPT_HEARTBEAT, "--heartbeat-ms", "takes", 10, 600000, offsetof(ms_config_t, heartbeat_ms)},
    {OPT_DRAIN, "--drain-timeout", "takes", 1, 86400, offsetof(ms_config_t, drain_timeout_s)},
};

static int number_option(ms_config_t *cfg, int opt, const char *arg)
{
    char err[128];
    int rc =
        ms_number_opt(numbers, sizeof numbers / sizeof numbers[0], opt, arg, cfg, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "multisync-worker: %s\n", err);
    return rc;
}

/* A text setting (the last one given wins), or one more entry of a list. */
static int text_option(ms_config_t *cfg, int opt, const char *arg)
{
    switch (opt) {
    case 'm':
        ms_config_set_str(&cfg->master, arg);
        return 1;
    case 'n':
        ms_config_set_str(&cfg->name, arg);
        return 1;
    case OPT_RSYNC:
        ms_config_set_str(&cfg->rsync, arg);
        return 1;
    case OPT_KEY:
        ms_config_set_str(&cfg->key, arg);
        return 1;
    case OPT_MASTER_KEY:
        ms_config_set_str(&cfg->master_key, arg);
        return 1;
    case OPT_RSYNC_OPT:
        ms_config_add_rsync_opt(cfg, arg);
        return 1;
    case OPT_ALLOW_SOURCE:
        ms_config_add_str(&cfg->allow_source, &cfg->n_allow_source, arg);
        return 1;
    case OPT_ALLOW_DEST:
        ms_config_add_str(&cfg->allow_dest, &cfg->n_allow_dest, arg);
        return 1;
    case OPT_AGENTS:
        if (ms_parse_uint(arg, 1, MS_MAX_AGENTS, &agents) == 0)
            return 1;
        fprintf(stderr, "multisync-worker: --agents takes 1 to %d\n", MS_MAX_AGENTS);
        return -1;
    }
    return 0;
}

/* An option without a value; -c, read before by ms_config_load_from_args. */
static int switch_option(ms_config_t *cfg, int opt, int *verbose)
{
    switch (opt) {
    case OPT_INSECURE:
        cfg->insecure = 1;
        return 1;
    case OPT_NOOP:
        noop_executor = 1;
        return 1;
    case OPT_EXIT_WITH_PARENT:
        exit_with_parent = 1;
        return 1;
    case 'v':
        *verbose = 1;
        return 1;
    case 'q':
        *verbose = -1;
        return 1;
    case 'c':
        return 1;
    }
    return 0;
}

/* The config file named by -c first, then the other options over it. */
static int parse_args(int argc, char **argv, ms_config_t *cfg, int *verbose)
{
    char err[512];
    int opt;
    if (ms_config_load_from_args(cfg, argc, argv, optstring, longopts, err, sizeof err) != 0) {
        fprintf(stderr, "multisync-worker: %s\n", err);
        return -1;
    }
    while ((opt = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            exit(MS_RC_OK);
        }
        if (opt == 'V') {
            ms_version_print("multisync-worker", stdout);
            exit(MS_RC_OK);
        }
        int rc = number_option(cfg, opt, optarg);
        if (rc == 0)
            rc = text_option(cfg, opt, optarg);
        if (rc == 0)
            rc = switch_option(cfg, opt, verbose);
        if (rc == 0)
            usage(stderr);
        if (rc <= 0)
            return -1;
    }
    if (optind != argc) {
        fprintf(stderr, "multisync-worker: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* The master knows a worker by its key's name (its .pub in the authorized
 * folder): announcing that name too makes the worker's log and the
 * master's agree. Without a key, the hostname. */
static void default_name(ms_config_t *cfg)
{
    char host[256];
    const char *base = cfg->key ? strrchr(cfg->key, '/') : NULL;
    base = base ? base + 1 : cfg->key;
    size_t n = base ? strlen(base) : 0;
    if (n > 4 && strcmp(base + n - 4, ".key") == 0 && n - 4 < sizeof host) {
        memcpy(host, base, n - 4);
        host[n - 4] = '\0';
    } else if (gethostname(host, sizeof host) != 0) {
        snprintf(host, sizeof host, "localhost");
    }
    host[sizeof host - 1] = '\0';
    ms_config_set_str(&cfg->name, host);
}

static int fill_defaults(ms_config_t *cfg)
{
    if (!cfg->master) {
        fprintf(stderr, "multisync-worker: no master: give --master ENDPOINT or -c FILE\n");
        return -1;
    }
    if (cfg->slots == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->slots = n > 0 && n <= MS_MAX_SLOTS ? (unsigned)n : 1;
    }
    if (!cfg->name)
        default_name(cfg);
    if (!cfg->rsync)
        ms_config_set_str(&cfg->rsync, "rsync");
    if (strlen(cfg->name) > MS_MAX_NAME) {
        fprintf(stderr, "multisync-worker: --name is longer than %d bytes\n", MS_MAX_NAME);
        return -1;
    }
    if (agents > 1 && !noop_executor) {
        fprintf(stderr, "multisync-worker: --agents needs --noop-executor (simulated workers)\n");
        return -1;
    }
    return 0;
}

/* The roots this worker may touch, from allow_source / allow_dest. */
static ms_confine_t *make_confine(const ms_config_t *cfg)
{
    char err[1024];
    ms_confine_t *c = ms_confine_new();
    for (size_t i = 0; c && i < cfg->n_allow_source; i++) {
        if (ms_confine_allow_source(c, cfg->allow_source[i], err, sizeof err) != 0) {
            ms_error("%s", err);
            ms_confine_destroy(&c);
        }
    }
    for (size_t i = 0; c && i < cfg->n_allow_dest; i++) {
        if (ms_confine_allow_dest(c, cfg->allow_dest[i], err, sizeof err) != 0) {
            ms_error("%s", err);
            ms_confine_destroy(&c);
        }
    }
    if (c && !ms_confine_restricts_sources(c))
        ms_warn("no allow_source: tasks may read any folder the master names");
    if (c && !ms_confine_restricts_dests(c))
        ms_warn("no allow_dest: tasks may write to any destination the master names");
    return c;
}

/* Which of its roots this worker leaves open (MS_UNCONFINED_*). */
static unsigned unconfined_bits(const ms_confine_t *c)
{
    return (ms_confine_restricts_sources(c) ? 0 : MS_UNCONFINED_SOURCE) |
           (ms_confine_restricts_dests(c) ? 0 : MS_UNCONFINED_DEST);
}

int main(int argc, char **argv)
{
    ms_config_t cfg = {0};
    char version[MS_MAX_NAME + 1] = "", err[1024];
    int verbose = 0, rc = MS_RC_USAGE;
    /* A child of the pool removing a pruned snapshot's project (ms_pool.h). */
    if (argc == 3 && strcmp(argv[1], MS_REMOVE_TREE_ARG) == 0)
        return ms_pool_remove_tree_main(argv[2]);
    if (parse_args(argc, argv, &cfg, &verbose) != 0 || fill_defaults(&cfg) != 0)
        goto out;
    rc = MS_RC_FAILED;
    ms_log_init("multisync-worker", ms_config_log_level(&cfg, verbose));
    if (ms_signal_install() != 0) {
        perror("multisync-worker: sigaction");
        goto out;
    }
    /* A worker whose rsync cannot run would fail every task it is handed
     * while healthy workers sit idle: it does not start. */
    if (!noop_executor &&
        ms_rsync_version(cfg.rsync, version, sizeof version, err, sizeof err) != 0) {
        ms_error("%s", err);
        goto out;
    }
    ms_confine_t *confine = make_confine(&cfg);
    if (!confine)
        goto out;
    /* Plaintext also with a key but no master key (ms_secure_client). */
    if (ms_endpoint_is_network(cfg.master) && (!cfg.key || !cfg.master_key) && cfg.insecure)
        ms_warn("INSECURE: plaintext connection to %s: anyone on the path can read and forge "
                "tasks",
                cfg.master);
    char opts[MS_FP_HEX];
    ms_fp_opts(version, cfg.rsync_opts, cfg.n_rsync_opts, opts);
    ms_agent_opts_t o = {.master = cfg.master,
                         .name = cfg.name,
                         .slots = cfg.slots,
                         .rsync = cfg.rsync,
                         .rsync_opts = cfg.rsync_opts,
                         .n_rsync_opts = cfg.n_rsync_opts,
                         .heartbeat_ms = (int)cfg.heartbeat_ms,
                         .drain_timeout_s = cfg.drain_timeout_s,
                         .key = cfg.key,
                         .master_key = cfg.master_key,
                         .insecure = cfg.insecure,
                         .confine = confine,
                         .noop = noop_executor,
                         .rsync_version = version[0] ? version : NULL,
                         .unconfined = unconfined_bits(confine),
                         .opts = opts,
                         .exit_with_parent = exit_with_parent,
                         .agents = agents};
    rc = ms_agent_run(&o, &ms_stop_signal);
    ms_confine_destroy(&confine);
out:
    ms_config_free(&cfg);
    return rc;
}
