/*
 * ms_args.h - which command takes which option, where its master is, and
 * the checks the command line gets before anything starts.
 *
 * An option a command would ignore is an error, said with where it belongs:
 * `run --master EP --slots 8` would otherwise run with the workers' slots
 * while the operator believes 8.
 */
#ifndef MS_ARGS_H
#define MS_ARGS_H

#include <stddef.h>

/* The long options without a short form (the short ones are their letter). */
enum {
    OPT_RSYNC = 256,
    OPT_RSYNC_OPT,
    OPT_JSON,
    OPT_DELETE,
    OPT_ATTEMPTS,
    OPT_RETRY,
    OPT_TIMEOUT,
    OPT_KEY,
    OPT_MASTER_KEY,
    OPT_INSECURE,
    OPT_HEARTBEAT,
    OPT_SPLIT_MIN,
    OPT_NO_SPLIT,
    OPT_WALK_THREADS,
    OPT_FORCE_DELETE,
    OPT_WORKER_WAIT,
    OPT_SNAPSHOT,
    OPT_FULL,
    OPT_FULL_EVERY,
    OPT_CATALOG,
    OPT_KEEP_LAST,
    OPT_KEEP_HOURLY,
    OPT_KEEP_DAILY,
    OPT_KEEP_WEEKLY,
    OPT_KEEP_MONTHLY,
    OPT_KEEP_YEARLY,
    OPT_TO,
    OPT_FORCE,
    OPT_SNAPSHOT_NAME,
    OPT_DRY_RUN, /* -n after run; history's -n is a count */
    OPT_METRICS_FILE
};

/* The commands, as bits: which of them an option goes with. */
enum {
    MS_CMD_BIT_RUN = 1u << 0,
    MS_CMD_BIT_VERIFY = 1u << 1,
    MS_CMD_BIT_RESTORE = 1u << 2,
    MS_CMD_BIT_STATUS = 1u << 3,
    MS_CMD_BIT_HISTORY = 1u << 4,
    MS_CMD_BIT_REPORT = 1u << 5,
    MS_CMD_BIT_SNAPSHOTS = 1u << 6,
    MS_CMD_BIT_KEYGEN = 1u << 7,
    MS_CMD_BIT_CANCEL = 1u << 8,
};

/* cmd's bit; 0 for no command of ours. */
unsigned ms_args_command(const char *cmd);

/*
 * Whether every option in opts[0..n) (getopt's values) goes with command
 * cmd (MS_CMD_BIT_*), run through a master (remote) or here. Returns 0, or
 * -1 with err naming the first that does not and where it belongs.
 */
int ms_args_check(unsigned cmd, const int *opts, size_t n, int remote, char *err, size_t errlen);

/* The socket a master installed as a service listens on (multisync.ini(5)). */
#define MS_DEFAULT_CONTROL "/run/multisync/control.sock"

/*
 * The master to talk to when no --master was given: $MULTISYNC_MASTER when
 * set (for every command: the operator named it), else the service's
 * socket when it exists, for the commands that need a master (may_default:
 * status, cancel, a set's run...). Writes "ipc://..." or the variable's
 * value into out; returns 1 when there is one, 0 when none.
 */
int ms_args_default_master(int may_default, char *out, size_t outlen);

/*
 * --report FILE, before the run starts: its folder exists and may be
 * written, and FILE is not a folder. Returns 0, or -1 with err set.
 */
int ms_args_check_report(const char *path, char *err, size_t errlen);

/* The same for any option naming a file the run writes (opt: "--report",
 * "--metrics-file"); when: when it is written, said if its folder is
 * missing ("the report is written when the run ends"). */
int ms_args_check_output(const char *opt, const char *when, const char *path, char *err,
                         size_t errlen);

#endif
