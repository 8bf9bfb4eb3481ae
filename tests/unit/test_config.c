/*
 * Config files: the shipped examples load as documented, and mistakes are
 * refused with the file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_config.h"

static int load_text(const char *text, ms_config_t *cfg, char *err, size_t errlen)
{
    char path[] = "/tmp/ms-test-config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int rc = ms_config_load(cfg, path, err, errlen);
    unlink(path);
    return rc;
}

static void the_shipped_master_example_loads_with_its_documented_values(void **state)
{
    ms_config_t cfg = {0};
    char err[512];
    (void)state;
    assert_int_equal(ms_config_load(&cfg, "deploy/master.ini.example", err, sizeof err), 0);
    assert_string_equal(cfg.listen, "tcp://0.0.0.0:5555");
    assert_string_equal(cfg.catalog, "/var/lib/multisync/catalog.db");
    assert_int_equal(cfg.attempts, 3);
    assert_int_equal(cfg.retry_delay_ms, 1000);
    assert_int_equal(cfg.heartbeat_ms, 1000);
    assert_string_equal(cfg.key, "/etc/multisync/master.key");
    assert_string_equal(cfg.authorized, "/etc/multisync/authorized");
    assert_null(cfg.admin_keys);
    assert_int_equal(cfg.insecure, 0);
    assert_int_equal(cfg.no_split, 0);
    assert_int_equal(cfg.split_min_mb, 32);
    const ms_set_t *s = ms_config_find_set(&cfg, "nightly");
    assert_non_null(s);
    assert_string_equal(s->source, "/data/prod");
    assert_string_equal(s->dest, "/backup/prod");
    assert_int_equal(s->delete, 0);
    ms_config_free(&cfg);
}

static void the_shipped_worker_example_loads_with_its_documented_values(void **state)
{
    ms_config_t cfg = {0};
    char err[512];
    (void)state;
    assert_int_equal(ms_config_load(&cfg, "deploy/worker.ini.example", err, sizeof err), 0);
    assert_string_equal(cfg.master, "tcp://backup-master:5555");
    assert_string_equal(cfg.rsync, "rsync");
    assert_int_equal(cfg.drain_timeout_s, 60);
    assert_int_equal(cfg.slots, 0); /* commented out: number of cores */
    assert_string_equal(cfg.master_key, "/etc/multisync/master.pub");
    assert_int_equal(cfg.n_allow_source, 1);
    assert_string_equal(cfg.allow_source[0], "/data/prod");
    assert_int_equal(cfg.n_allow_dest, 1);
    ms_config_free(&cfg);
}

static void repeated_rsync_opts_are_all_kept_in_order(void **state)
{
    ms_config_t cfg = {0};
    char err[512];
    (void)state;
    assert_int_equal(load_text("[worker]\nrsync_opt = -H\nrsync_opt = --bwlimit=10m\n", &cfg, err,
                               sizeof err),
                     0);
    assert_int_equal(cfg.n_rsync_opts, 2);
    assert_string_equal(cfg.rsync_opts[0], "-H");
    assert_string_equal(cfg.rsync_opts[1], "--bwlimit=10m");
    ms_config_free(&cfg);
}

static void mistakes_are_refused_with_their_line(void **state)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[worker]\nmaster = x\nslotz = 4\n", ":3: unknown key 'slotz' in [worker]"},
        {"[worker]\nslots = 0\n", ":2: slots must be a number from 1 to 4096"},
        {"[worker]\nslots = 4x\n", ":2: slots must be a number"},
        {"[master]\nattempts = -1\n", ":2: attempts must be a number from 1 to 100"},
        {"[master]\nsplit = sometimes\n", ":2: split must be yes or no"},
        {"[master]\nsplit_min_mb = 0\n", ":2: split_min_mb must be a number from 1 to 1048576"},
        {"[master]\nlog_level = loud\n", ":2: log_level must be debug, info, warn or error"},
        {"[set a]\nsource = /s\ndestination = /d\ndelete = maybe\n", ":4: delete must be yes or no"},
        {"[set a]\nsource = /s\n", "[set a] needs both source and destination"},
        {"[sets]\nx = 1\n", ":2: unknown section [sets]"},
        {"[worker\nmaster = x\n", ":1: no valid [section] header before key 'master'"},
        {"master = x\n", ":1: no valid [section] header before key 'master'"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ms_config_t cfg = {0};
        char err[512] = "";
        assert_int_equal(load_text(cases[i].text, &cfg, err, sizeof err), -1);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
        ms_config_free(&cfg);
    }
}

static void a_missing_file_is_refused_clearly(void **state)
{
    ms_config_t cfg = {0};
    char err[512];
    (void)state;
    assert_int_equal(ms_config_load(&cfg, "/nonexistent/multisync.ini", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open config /nonexistent/multisync.ini"));
}

/* The worker's options, as multisync-worker declares them (enough of them). */
static const struct option worker_longopts[] = {
    {"master", required_argument, NULL, 'm'}, {"rsync-opt", required_argument, NULL, 256},
    {"config", required_argument, NULL, 'c'}, {"verbose", no_argument, NULL, 'v'},
    {NULL, 0, NULL, 0}};

/* Load from argv (NULL-terminated) and say which master the file set. */
static const char *master_from_args(ms_config_t *cfg, char **argv)
{
    char err[512];
    int argc = 0;
    while (argv[argc])
        argc++;
    memset(cfg, 0, sizeof *cfg);
    assert_int_equal(
        ms_config_load_from_args(cfg, argc, argv, "m:c:v", worker_longopts, err, sizeof err), 0);
    assert_int_equal(optind, 0); /* the program's own getopt pass starts afresh */
    return cfg->master ? cfg->master : "(none)";
}

static void the_config_file_is_found_in_every_form_getopt_accepts(void **state)
{
    ms_config_t cfg;
    (void)state;
    assert_string_equal(master_from_args(&cfg, (char *[]){"w", "-cdeploy/worker.ini.example", NULL}),
                        "tcp://backup-master:5555");
    ms_config_free(&cfg);
    assert_string_equal(
        master_from_args(&cfg, (char *[]){"w", "-vc", "deploy/worker.ini.example", NULL}),
        "tcp://backup-master:5555");
    ms_config_free(&cfg);
    assert_string_equal(
        master_from_args(&cfg, (char *[]){"w", "--config=deploy/worker.ini.example", NULL}),
        "tcp://backup-master:5555");
    ms_config_free(&cfg);
    /* rsync's -c given to --rsync-opt is its argument, not a config option. */
    assert_string_equal(
        master_from_args(&cfg, (char *[]){"w", "--rsync-opt", "-c", "--master", "x", NULL}),
        "(none)");
    ms_config_free(&cfg);
}

static void delete_accepts_the_usual_spellings(void **state)
{
    ms_config_t cfg = {0};
    char err[512];
    (void)state;
    assert_int_equal(load_text("[set a]\nsource=/s\ndestination=/d\ndelete=Yes\n[set b]\n"
                               "source=/s\ndestination=/d\ndelete=off\n",
                               &cfg, err, sizeof err),
                     0);
    assert_int_equal(ms_config_find_set(&cfg, "a")->delete, 1);
    assert_int_equal(ms_config_find_set(&cfg, "b")->delete, 0);
    ms_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_shipped_master_example_loads_with_its_documented_values),
        cmocka_unit_test(the_shipped_worker_example_loads_with_its_documented_values),
        cmocka_unit_test(repeated_rsync_opts_are_all_kept_in_order),
        cmocka_unit_test(mistakes_are_refused_with_their_line),
        cmocka_unit_test(a_missing_file_is_refused_clearly),
        cmocka_unit_test(delete_accepts_the_usual_spellings),
        cmocka_unit_test(the_config_file_is_found_in_every_form_getopt_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
