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

/* text must be refused with an error that contains want. */
static void assert_refused(const char *text, const char *want)
{
    ms_config_t cfg = {0};
    char err[512] = "";
    if (load_text(text, &cfg, err, sizeof err) != -1)
        fail_msg("loaded, want '%s' for:\n%s", want, text);
    if (!strstr(err, want))
        fail_msg("got '%s', want '%s'", err, want);
    ms_config_free(&cfg);
}

/* text must load; cfg holds it. */
static void assert_loads(const char *text, ms_config_t *cfg)
{
    char err[512] = "";
    memset(cfg, 0, sizeof *cfg);
    if (load_text(text, cfg, err, sizeof err) != 0)
        fail_msg("refused: '%s' for:\n%s", err, text);
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
    assert_int_equal(cfg.worker_wait_s, 600);
    assert_int_equal(cfg.hook_timeout_s, 600);
    const ms_set_t *s = ms_config_find_set(&cfg, "nightly");
    assert_non_null(s);
    assert_string_equal(s->source, "/data/prod");
    assert_string_equal(s->dest, "/backup/prod");
    assert_int_equal(s->delete, 0);
    assert_int_equal(s->worker_wait_s, 0); /* commented out: [master]'s */
    assert_int_equal(s->pre_run.n, 0);     /* commented out: the examples only */
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
    assert_int_equal(
        load_text("[worker]\nrsync_opt = -H\nrsync_opt = --bwlimit=10m\n", &cfg, err, sizeof err),
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
        {"[master]\nwalk_threads = 0\n", ":2: walk_threads must be a number from 1 to 256"},
        {"[master]\nwalk_threads = 257\n", ":2: walk_threads must be a number from 1 to 256"},
        {"[master]\nlog_level = loud\n", ":2: log_level must be debug, info, warn or error"},
        {"[set a]\nsource = /s\ndestination = /d\ndelete = maybe\n",
         ":4: delete must be yes or no"},
        {"[set a]\nsource = /s\n", "[set a] needs both source and destination"},
        {"[sets]\nx = 1\n", ":2: unknown section [sets]"},
        {"[worker\nmaster = x\n", ":1: no valid [section] header before key 'master'"},
        {"master = x\n", ":1: no valid [section] header before key 'master'"},
        {"[master]\nattempts = 3\n[worker\nslots = 2\n", ":3: a [section] header needs its ']'"},
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
static const struct option worker_longopts[] = {{"master", required_argument, NULL, 'm'},
                                                {"rsync-opt", required_argument, NULL, 256},
                                                {"config", required_argument, NULL, 'c'},
                                                {"verbose", no_argument, NULL, 'v'},
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
    assert_string_equal(
        master_from_args(&cfg, (char *[]){"w", "-cdeploy/worker.ini.example", NULL}),
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

static void a_key_given_twice_in_a_section_is_refused_with_both_lines(void **state)
{
    (void)state;
    assert_refused("[master]\ncatalog = /a.db\nlisten = tcp://*:1\ncatalog = /b.db\n",
                   ":4: duplicate key 'catalog' in [master] (first set on line 2)");
    assert_refused("[worker]\nslots = 2\nslots = 4\n",
                   ":3: duplicate key 'slots' in [worker] (first set on line 2)");
    assert_refused("[set nightly]\nsource = /s\ndestination = /d\n\ndestination = /e\n",
                   ":5: duplicate key 'destination' in [set nightly] (first set on line 3)");
    assert_refused("[set a]\nsource = /s\ndestination = /d\n[set b]\nsource = /s\n"
                   "destination = /d\ndelete = no\ndelete = yes\n",
                   ":8: duplicate key 'delete' in [set b] (first set on line 7)");
}

static void the_same_key_in_two_sections_is_not_a_duplicate(void **state)
{
    ms_config_t cfg;
    (void)state;
    assert_loads("[set a]\nsource = /s\ndestination = /d\n[set b]\nsource = /s\n"
                 "destination = /e\n",
                 &cfg);
    assert_string_equal(ms_config_find_set(&cfg, "b")->dest, "/e");
    ms_config_free(&cfg);
}

static void repeatable_worker_keys_may_still_be_given_several_times(void **state)
{
    ms_config_t cfg;
    (void)state;
    assert_loads("[worker]\nrsync_opt = -H\nallow_source = /a\nrsync_opt = -A\n"
                 "allow_dest = /c\nallow_source = /b\nallow_dest = /d\n",
                 &cfg);
    assert_int_equal(cfg.n_rsync_opts, 2);
    assert_string_equal(cfg.rsync_opts[1], "-A");
    assert_int_equal(cfg.n_allow_source, 2);
    assert_string_equal(cfg.allow_source[1], "/b");
    assert_int_equal(cfg.n_allow_dest, 2);
    assert_string_equal(cfg.allow_dest[1], "/d");
    ms_config_free(&cfg);
}

static void a_section_given_twice_is_refused_with_its_line(void **state)
{
    (void)state;
    assert_refused("[set nightly]\nsource = /s\ndestination = /d\n[master]\nattempts = 3\n"
                   "[set nightly]\ndelete = yes\n",
                   ":6: section [set nightly] given twice (first on line 1)");
    assert_refused("[master]\nattempts = 3\n[master]\nlisten = tcp://*:1\n",
                   ":3: section [master] given twice (first on line 1)");
    assert_refused("[worker]\nslots = 2\n[set a]\nsource = /s\ndestination = /d\n\n"
                   "; again\n[worker]\nname = x\n",
                   ":8: section [worker] given twice (first on line 1)");
    /* A UTF-8 byte order mark before the first header changes nothing. */
    assert_refused("\xEF\xBB\xBF[master]\nattempts = 3\n[master]\nlisten = tcp://*:1\n",
                   ":3: section [master] given twice (first on line 1)");
    /* The same set, however many spaces follow "set". */
    assert_refused("[set a]\nsource = /s\ndestination = /d\n[set  a]\ndelete = yes\n",
                   ":4: section [set a] given twice (first on line 1)");
}

/* inih reports keys, not headers: a section without keys is never seen. It
 * sets nothing, so repeating it changes nothing. */
static void a_repeated_section_without_keys_changes_nothing_and_loads(void **state)
{
    ms_config_t cfg;
    (void)state;
    assert_loads("[set a]\n[set a]\nsource = /s\ndestination = /d\n[set a]\n", &cfg);
    assert_int_equal(cfg.n_sets, 1);
    ms_config_free(&cfg);
}

/* inih reads an indented line after a key as more of that key's value:
 * "  control = y" under "listen = x" would set listen to "control = y". */
static void an_indented_line_is_refused_not_taken_as_more_of_the_key_above(void **state)
{
    ms_config_t cfg;
    (void)state;
    assert_refused("[master]\n  listen = tcp://*:1\n  control = ipc:///c\n",
                   ":3: indented line would continue the value of 'listen' in [master]");
    assert_refused("[set a]\nsource = /s\ndestination = /d\n    /other\n",
                   ":4: indented line would continue the value of 'destination' in [set a]");
    assert_refused("[worker]\nrsync_opt = -H\n  rsync_opt = -A ; comment\n",
                   ":3: indented line would continue the value of 'rsync_opt' in [worker]");
    /* An indented key right below its header is a key. */
    assert_loads("[worker]\n  slots = 2\n[set a]\n\tsource = /s\ndestination = /d\n", &cfg);
    assert_int_equal(cfg.slots, 2);
    ms_config_free(&cfg);
}

static void relative_set_paths_are_refused_with_their_line(void **state)
{
    (void)state;
    assert_refused("[set nightly]\nsource = data/prod\ndestination = /backup/prod\n",
                   ":2: [set nightly] source must be an absolute path, not 'data/prod'");
    assert_refused("[set nightly]\nsource = /data/prod\n\ndestination = ./backup\n",
                   ":4: [set nightly] destination must be an absolute path or an rsync "
                   "remote (host:path), not './backup'");
    assert_refused("[set a]\nsource = ~/data\ndestination = /d\n",
                   ":2: [set a] source must be an absolute path, not '~/data'");
    assert_refused("[set a]\nsource = host:/data\ndestination = /d\n",
                   ":2: [set a] source must be an absolute path, not 'host:/data'");
    assert_refused("[set a]\nsource = /s\ndestination =\n",
                   ":3: [set a] destination must be an absolute path");
}

static void a_set_destination_may_be_an_rsync_remote(void **state)
{
    static const char *dests[] = {"backup-host:/srv/backup", "backup@host:prod",
                                  "host::module/prod", "rsync://host/module/prod"};
    (void)state;
    for (size_t i = 0; i < sizeof dests / sizeof dests[0]; i++) {
        ms_config_t cfg;
        char text[256];
        snprintf(text, sizeof text, "[set a]\nsource = /s\ndestination = %s\n", dests[i]);
        assert_loads(text, &cfg);
        assert_string_equal(ms_config_find_set(&cfg, "a")->dest, dests[i]);
        ms_config_free(&cfg);
    }
}

static void worker_wait_is_read_for_every_run_and_for_one_set(void **state)
{
    ms_config_t cfg;
    (void)state;
    assert_loads("[master]\nworker_wait = 900\n[set a]\nsource = /s\ndestination = /d\n"
                 "worker_wait = 604800\n[set b]\nsource = /s\ndestination = /d\n"
                 "[set c]\nsource = /s\ndestination = /d\nworker_wait = 1\n",
                 &cfg);
    assert_int_equal(cfg.worker_wait_s, 900);
    assert_int_equal(ms_config_find_set(&cfg, "a")->worker_wait_s, 604800);
    assert_int_equal(ms_config_find_set(&cfg, "b")->worker_wait_s, 0); /* not set */
    assert_int_equal(ms_config_find_set(&cfg, "c")->worker_wait_s, 1);
    ms_config_free(&cfg);
    assert_loads("[master]\nattempts = 2\n", &cfg);
    assert_int_equal(cfg.worker_wait_s, 0); /* not set */
    assert_int_equal(cfg.walk_threads, 0);  /* not set: one per core */
    ms_config_free(&cfg);
    assert_loads("[master]\nwalk_threads = 3\n", &cfg);
    assert_int_equal(cfg.walk_threads, 3);
    ms_config_free(&cfg);
}

static void hooks_are_read_as_argv_words_with_their_timeout(void **state)
{
    ms_config_t cfg;
    (void)state;
    assert_loads("[master]\nhook_timeout = 120\n"
                 "[set a]\nsource = /s\ndestination = /d\n"
                 "pre_run = /usr/local/bin/dump-db --out '/data/db/dump 1.sql' \"it's\"\n"
                 "post_run = /bin/sh -c 'echo done > /tmp/x'\n"
                 "on_failure = /usr/bin/logger  multisync\\ failed\n"
                 "hook_timeout = 30\n"
                 "[set b]\nsource = /s\ndestination = /d\n",
                 &cfg);
    const ms_set_t *a = ms_config_find_set(&cfg, "a"), *b = ms_config_find_set(&cfg, "b");
    assert_int_equal(cfg.hook_timeout_s, 120);
    assert_int_equal(a->hook_timeout_s, 30);
    assert_int_equal(a->pre_run.n, 4);
    assert_string_equal(a->pre_run.v[0], "/usr/local/bin/dump-db");
    assert_string_equal(a->pre_run.v[2], "/data/db/dump 1.sql");
    assert_string_equal(a->pre_run.v[3], "it's");
    assert_null(a->pre_run.v[4]);
    assert_int_equal(a->post_run.n, 3);
    assert_string_equal(a->post_run.v[2], "echo done > /tmp/x");
    assert_int_equal(a->on_failure.n, 2);
    assert_string_equal(a->on_failure.v[1], "multisync failed");
    assert_int_equal(b->pre_run.n, 0); /* none */
    assert_null(b->pre_run.v);
    assert_int_equal(b->hook_timeout_s, 0); /* [master]'s */
    ms_config_free(&cfg);
}

static void a_hook_that_is_no_absolute_program_or_leaves_a_quote_open_is_refused(void **state)
{
    (void)state;
    assert_refused("[set a]\nsource = /s\ndestination = /d\npre_run = pg_dump db\n",
                   ":4: [set a] pre_run: the program must be an absolute path (no shell runs "
                   "it), not 'pg_dump'");
    assert_refused("[set a]\nsource = /s\ndestination = /d\n\npost_run = ./notify\n",
                   ":5: [set a] post_run: the program must be an absolute path");
    assert_refused("[set a]\nsource = /s\ndestination = /d\non_failure = '/bin/x\n",
                   ":4: [set a] on_failure: unbalanced single quote (opened at column 1)");
    assert_refused("[set a]\nsource = /s\ndestination = /d\npre_run = /bin/x \"a\n",
                   ":4: [set a] pre_run: unbalanced double quote");
    assert_refused("[set a]\nsource = /s\ndestination = /d\npre_run = ''\n",
                   ":4: [set a] pre_run: the program must be an absolute path");
    assert_refused("[set a]\nsource = /s\ndestination = /d\npre_run =\n",
                   ":4: [set a] pre_run needs a program to run");
    assert_refused("[set a]\nsource = /s\ndestination = /d\npre_run = /bin/a\npre_run = /bin/b\n",
                   ":5: duplicate key 'pre_run' in [set a] (first set on line 4)");
    assert_refused("[set a]\nsource = /s\ndestination = /d\nhook_timeout = 0\n",
                   ":4: hook_timeout must be a number from 1 to 86400, not '0'");
    assert_refused("[master]\nhook_timeout = 86401\n",
                   ":2: hook_timeout must be a number from 1 to 86400");
    assert_refused("[worker]\npre_run = /bin/x\n", ":2: unknown key 'pre_run' in [worker]");
}

static void worker_wait_out_of_range_is_refused_with_its_line(void **state)
{
    (void)state;
    assert_refused("[master]\nworker_wait = 0\n",
                   ":2: worker_wait must be a number from 1 to 604800, not '0'");
    assert_refused("[master]\nworker_wait = 604801\n",
                   ":2: worker_wait must be a number from 1 to 604800");
    assert_refused("[master]\nworker_wait = 10m\n", ":2: worker_wait must be a number");
    assert_refused("[set a]\nsource = /s\ndestination = /d\nworker_wait = 0\n",
                   ":4: worker_wait must be a number from 1 to 604800");
    assert_refused("[set a]\nsource = /s\ndestination = /d\nworker_wait = -5\n",
                   ":4: worker_wait must be a number from 1 to 604800");
}

/* inih goes on after a syntax error; the first error is the one reported. */
static void a_syntax_error_before_a_bad_key_is_reported_at_its_own_line(void **state)
{
    ms_config_t cfg = {0};
    char err[512] = "";
    (void)state;
    assert_int_equal(load_text("[worker]\nno equals sign\nslotz = 4\n", &cfg, err, sizeof err), -1);
    if (!strstr(err, ":2: syntax error") || strstr(err, "slotz"))
        fail_msg("got '%s'", err);
    ms_config_free(&cfg);
}

static void a_folder_given_as_the_config_is_refused(void **state)
{
    ms_config_t cfg = {0};
    char err[512] = "";
    (void)state;
    assert_int_equal(ms_config_load(&cfg, "deploy", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read config deploy"));
    ms_config_free(&cfg);
}

/* A command line's number options: the row of the option is parsed into
 * its field; out of bounds, the field stays and the message names them. */
static void a_number_option_goes_to_its_field_or_is_refused_with_its_bounds(void **state)
{
    (void)state;
    typedef struct {
        unsigned slots, beat;
    } settings_t;
    static const ms_number_opt_t table[] = {
        {'s', "--slots", "takes a number from", 1, 4096, offsetof(settings_t, slots)},
        {'b', "--beat", "takes", 10, 600, offsetof(settings_t, beat)},
    };
    settings_t st = {.slots = 7, .beat = 70};
    char err[128] = "";
    assert_int_equal(ms_number_opt(table, 2, 'b', "20", &st, err, sizeof err), 1);
    assert_int_equal(st.beat, 20);
    assert_int_equal(st.slots, 7);
    assert_int_equal(ms_number_opt(table, 2, 's', "4097", &st, err, sizeof err), -1);
    assert_string_equal(err, "--slots takes a number from 1 to 4096");
    assert_int_equal(st.slots, 7);
    assert_int_equal(ms_number_opt(table, 2, 'b', "-20", &st, err, sizeof err), -1);
    assert_string_equal(err, "--beat takes 10 to 600");
    assert_int_equal(ms_number_opt(table, 2, 'x', "1", &st, err, sizeof err), 0);
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
        cmocka_unit_test(a_key_given_twice_in_a_section_is_refused_with_both_lines),
        cmocka_unit_test(the_same_key_in_two_sections_is_not_a_duplicate),
        cmocka_unit_test(repeatable_worker_keys_may_still_be_given_several_times),
        cmocka_unit_test(a_section_given_twice_is_refused_with_its_line),
        cmocka_unit_test(a_repeated_section_without_keys_changes_nothing_and_loads),
        cmocka_unit_test(an_indented_line_is_refused_not_taken_as_more_of_the_key_above),
        cmocka_unit_test(relative_set_paths_are_refused_with_their_line),
        cmocka_unit_test(a_set_destination_may_be_an_rsync_remote),
        cmocka_unit_test(worker_wait_is_read_for_every_run_and_for_one_set),
        cmocka_unit_test(worker_wait_out_of_range_is_refused_with_its_line),
        cmocka_unit_test(hooks_are_read_as_argv_words_with_their_timeout),
        cmocka_unit_test(a_hook_that_is_no_absolute_program_or_leaves_a_quote_open_is_refused),
        cmocka_unit_test(a_syntax_error_before_a_bad_key_is_reported_at_its_own_line),
        cmocka_unit_test(a_folder_given_as_the_config_is_refused),
        cmocka_unit_test(a_number_option_goes_to_its_field_or_is_refused_with_its_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
