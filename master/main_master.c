/*
 * multisync-master - the daemon that hands backup tasks to workers and
 * answers runs and status queries on its control endpoint.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_config.h"
#include "ms_log.h"
#include "ms_master.h"
#include "ms_signal.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: multisync-master --listen ENDPOINT --control ENDPOINT [options]\n"
            "       multisync-master -c FILE [options]\n"
            "\n"
            "  -l, --listen EP        endpoint workers connect to, e.g. tcp://0.0.0.0:5555\n"
            "  -C, --control EP       endpoint for `multisync run/status --master EP`\n"
            "      --heartbeat-ms N   heartbeat interval (default 1000)\n"
            "  -c, --config FILE      read [master] and [set NAME] sections of FILE\n"
            "  -v, --verbose          log debug messages\n"
            "  -h, --help             this text\n");
}

static int parse_args(int argc, char **argv, ms_config_t *cfg, int *heartbeat_ms, int *verbose)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},   {"control", required_argument, NULL, 'C'},
        {"heartbeat-ms", required_argument, NULL, 'H'}, {"config", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    char err[512];
    unsigned u;
    int c;
    if (ms_config_load_from_args(cfg, argc, argv, err, sizeof err) != 0) {
        fprintf(stderr, "multisync-master: %s\n", err);
        return -1;
    }
    while ((c = getopt_long(argc, argv, "l:C:c:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            ms_config_set_str(&cfg->listen, optarg);
            break;
        case 'C':
            ms_config_set_str(&cfg->control, optarg);
            break;
        case 'H':
            if (ms_parse_uint(optarg, 10, 600000, &u) != 0) {
                fprintf(stderr, "multisync-master: --heartbeat-ms takes 10 to 600000\n");
                return -1;
            }
            *heartbeat_ms = (int)u;
            break;
        case 'c':
            break;
        case 'v':
            *verbose = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "multisync-master: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!cfg->listen || !cfg->control) {
        fprintf(stderr, "multisync-master: both --listen and --control are needed\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    ms_config_t cfg = {0};
    int heartbeat_ms = 0, verbose = 0, rc = 1;
    char err[512];
    ms_master_t *m = NULL;
    if (parse_args(argc, argv, &cfg, &heartbeat_ms, &verbose) != 0)
        goto out;
    ms_log_init("multisync-master", ms_config_log_level(&cfg, verbose));
    if (ms_signal_install() != 0) {
        perror("multisync-master: sigaction");
        goto out;
    }
    ms_master_opts_t o = {.listen = cfg.listen, .control = cfg.control, .config = &cfg,
                          .heartbeat_ms = heartbeat_ms};
    if (!(m = ms_master_new(&o, err, sizeof err))) {
        ms_error("%s", err);
        goto out;
    }
    ms_info("listening for workers on %s, control on %s, %zu backup set(s)", cfg.listen,
            cfg.control, cfg.n_sets);
    while (!ms_stop_signal) {
        if (ms_master_poll(m, 1000) != 0 && errno != EINTR) {
            ms_error("poll failed: %s", strerror(errno));
            goto out;
        }
    }
    ms_info("stopping on signal %d", (int)ms_stop_signal);
    rc = 0;
out:
    ms_master_destroy(&m);
    ms_config_free(&cfg);
    return rc;
}
