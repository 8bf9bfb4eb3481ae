/*
 * ms_config.h - configuration files (INI, parsed with libinih) and the
 * settings both daemons share.
 *
 * One file may hold the [master] section, the [worker] section and any
 * number of [set NAME] sections; each program uses its own part. Unknown
 * sections and keys are errors (a typo in a backup config must not be
 * silently ignored). So are a key given twice in a section (except the
 * repeatable ones), a section given twice and an indented line (inih would
 * take it as more of the key above): whoever reads the file must see the
 * value in force. A section without keys is not seen at all; it sets
 * nothing, so repeating it is no error. A set's source must be absolute,
 * its destination absolute or an rsync remote. Command-line options
 * override the file.
 *
 *   [master]
 *   listen  = tcp://0.0.0.0:5555       ; workers connect here
 *   control = ipc:///run/multisync/control.sock
 *   catalog = /var/lib/multisync/catalog.db
 *   attempts = 3  retry_delay_ms = 1000  task_timeout = 0  heartbeat_ms = 1000
 *   worker_wait = 600                  ; 1..604800 s, see below
 *   full_every = 7                     ; every 7th backup skips nothing (1: always)
 *   walk_threads = 4                   ; threads walking a source (default: cores, <= 8)
 *   http_listen = 127.0.0.1:9469       ; the HTTP API (off by default; README "HTTP API")
 *   http_cert = FILE  http_key = FILE  http_password_file = FILE
 *
 *   [set nightly]
 *   source      = /data/prod           ; absolute
 *   destination = /backup/prod         ; absolute, or an rsync remote (host:path)
 *   worker_wait = 3600                 ; this set's, instead of [master]'s
 *   full_every = 7                     ; this set's, instead of [master]'s
 *   snapshots = yes  keep_daily = 7    ; point-in-time snapshots, retention
 *   pre_run  = /usr/local/bin/dump-db --out '/data/prod/db/dump.sql'
 *   post_run = /usr/local/bin/notify   ; on_failure too: an argv (ms_argv.h)
 *   hook_timeout = 600                 ; 1..86400 s; also in [master]
 *
 *   [worker]
 *   master    = tcp://backup-master:5555
 *   slots     = 8
 *   name      = hostA
 *   rsync     = /usr/bin/rsync
 *   rsync_opt = --bwlimit=50m          ; repeatable, as allow_source, allow_dest
 *   drain_timeout = 60  heartbeat_ms = 1000
 *
 * worker_wait: when no worker can take a run's tasks for that many seconds,
 * the run fails. A set's own value wins over [master]'s; with neither, 600.
 *
 * pre_run, post_run, on_failure: programs the master runs around each
 * backup of the set (README "Hooks"), split into words by ms_argv_split;
 * the first word must be an absolute path. hook_timeout: how long each may
 * run, the set's, else [master]'s, else MS_HOOK_TIMEOUT_DEFAULT_S.
 */
#ifndef MS_CONFIG_H
#define MS_CONFIG_H

#include "ms_keep.h"
#include <stddef.h>

#include "ms_log.h"
#include "ms_strv.h"

#define MS_WALK_THREADS_MAX 256 /* walk_threads, --walk-threads: at most */
#define MS_HOOK_TIMEOUT_DEFAULT_S 600
#define MS_HOOK_TIMEOUT_MAX_S 86400

typedef struct {
    char *name;
    char *source;
    char *dest;
    int delete;             /* delete = yes: mirror deletions (rsync --delete-delay) */
    unsigned worker_wait_s; /* this set's worker_wait; 0: not set */
    int snapshots;          /* snapshots = yes: point-in-time snapshots, not a mirror */
    ms_keep_t keep;         /* keep_last, keep_hourly, ... keep_yearly (snapshots only) */
    unsigned full_every;    /* every Nth run is a full pass; 0: the master's */
    /* Hooks: argv (NULL-terminated; n == 0: none), run by the master. */
    ms_strv_t pre_run, post_run, on_failure;
    unsigned hook_timeout_s; /* 0: the master's */
} ms_set_t;

typedef struct {
    /* [master] */
    char *listen;
    char *control;
    char *catalog;
    char *authorized;         /* folder of workers' .pub files */
    char *admin_keys;         /* folder of admins' .pub files (TCP control) */
    unsigned attempts;        /* 0: not set */
    unsigned retry_delay_ms;  /* 0: not set */
    unsigned task_timeout_s;  /* 0: not set */
    unsigned split_min_mb;    /* smallest chunk of a split project; 0: not set */
    unsigned walk_threads;    /* threads walking a source; 0: not set (one per core) */
    int no_split;             /* split = no: every project runs whole */
    unsigned worker_wait_s;   /* every run's worker_wait; 0: not set */
    unsigned full_every;      /* every Nth backup is a full pass; 0: not set */
    unsigned hook_timeout_s;  /* every set's hook_timeout; 0: not set */
    char *http_listen;        /* the HTTP listener's ADDR:PORT; NULL: none */
    char *http_cert;          /* its TLS certificate (PEM) */
    char *http_key;           /* its TLS key (PEM, a secret file) */
    char *http_password_file; /* the admin's password (a secret file) */
    ms_set_t *sets;
    size_t n_sets;
    /* [worker] */
    char *master;
    char *name;
    char *rsync;
    unsigned slots; /* 0: not set */
    char **rsync_opts;
    size_t n_rsync_opts;
    unsigned drain_timeout_s; /* 0: not set */
    char *master_key;         /* the master's .pub file */
    char **allow_source;      /* roots this worker may read */
    size_t n_allow_source;
    char **allow_dest; /* roots this worker may write */
    size_t n_allow_dest;
    /* both */
    char *key;    /* this program's secret key file (.key) */
    int insecure; /* allow plaintext TCP */
    char *log_level;
    unsigned heartbeat_ms; /* 0: not set */
} ms_config_t;

/*
 * Load path into cfg (which must be zeroed or hold earlier settings, which
 * are replaced). Returns 0, or -1 with err set ("FILE:LINE: unknown key
 * 'x' in [worker]", "FILE:LINE: duplicate key 'x' in [master] (first set on
 * line N)", "cannot open config FILE: ..."). Repeats are looked for within
 * the file only: the command line may still override what it sets.
 */
int ms_config_load(ms_config_t *cfg, const char *path, char *err, size_t errlen);

/*
 * Load the file that argv names with -c / --config (in any form getopt
 * accepts: "-cFILE", "-vc FILE", "--config=FILE"...), if any, so that the
 * other options, parsed after it, can override the file. argv is read with
 * the program's own getopt_long optstring and longopts, so that an option's
 * argument that looks like "-c" is not taken for it; getopt is reset after.
 * Returns 0 (also when none is named), or -1 with err set.
 */
struct option;
int ms_config_load_from_args(ms_config_t *cfg, int argc, char **argv, const char *optstring,
                             const struct option *longopts, char *err, size_t errlen);

/* The log level: verbose > 0 debug, verbose < 0 errors only, else the
 * config's log_level, else info. */
ms_log_level_t ms_config_log_level(const ms_config_t *cfg, int verbose);

/* Free what cfg holds and zero it. */
void ms_config_free(ms_config_t *cfg);

/* Set *dst to a copy of value (freeing the old one). Returns 0 or -1. */
int ms_config_set_str(char **dst, const char *value);

/* Append a copy of opt to cfg->rsync_opts. Returns 0 or -1. */
int ms_config_add_rsync_opt(ms_config_t *cfg, const char *opt);

/* Append a copy of s to the list *v of *n strings. Returns 0 or -1. */
int ms_config_add_str(char ***v, size_t *n, const char *s);

/* The set called name, or NULL. */
const ms_set_t *ms_config_find_set(const ms_config_t *cfg, const char *name);

/*
 * Parse a whole decimal number within [min, max] (no sign, no trailing
 * characters). Returns 0, or -1 when s is not such a number.
 */
int ms_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);

/*
 * A number option of a command line, one row of the program's table: how
 * the user types it, its bounds, and where it goes in the program's own
 * settings. Its message reads NAME TAKES MIN to MAX ("--slots takes a
 * number from 1 to 4096", "--heartbeat-ms takes 10 to 600000").
 */
typedef struct {
    int opt;           /* getopt_long's value for it */
    const char *name;  /* "--slots" */
    const char *takes; /* "takes a number from" */
    unsigned min, max;
    size_t field; /* offsetof(SETTINGS, an unsigned field) */
} ms_number_opt_t;

/*
 * When opt is in table (n rows), parse arg into its field of settings (a
 * SETTINGS). Returns 1 when taken, 0 when opt is not in the table, -1 with
 * the option's message in err when arg is not a number within its bounds
 * (the field is then unchanged).
 */
int ms_number_opt(const ms_number_opt_t *table, size_t n, int opt, const char *arg, void *settings,
                  char *err, size_t errlen);

/* yes/no, true/false, on/off, 1/0 (any case). Returns 0, or -1. */
int ms_parse_bool(const char *s, int *out);

#endif
