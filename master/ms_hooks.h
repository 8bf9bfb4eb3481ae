/*
 * ms_hooks.h - the programs a [set] runs around each of its backups
 * (pre_run, post_run, on_failure: README "Hooks"), run by the master
 * without ever blocking its loop.
 *
 * A hook is an argv (ms_argv.h), never a shell line. It is started with
 * posix_spawn in a process group of its own, in /, stdin /dev/null, its
 * stdout and stderr one pipe that the loop polls (ms_hooks_poll_items)
 * and reads: each line goes to the master's log with the hook's name and
 * run id (at most MS_HOOK_LOG_LINES a hook, then one line saying the rest
 * was dropped). Every other descriptor is closed, and the signals the
 * master handles or ignores are back to their defaults. Its environment
 * is the master's with the given variables added (replacing any of the
 * same name).
 *
 * A hook that outlives its timeout gets SIGTERM to its process group, and
 * SIGKILL MS_HOOK_KILL_GRACE_MS later; so does one stopped (ms_hooks_stop,
 * a cancelled run). It is reaped by its own pid (waitpid of that pid only:
 * never another child of the process, such as the embedded worker). Its
 * end is told through the done callback, from ms_hooks_handle or
 * ms_hooks_tick, never from inside ms_hooks_start: a program that cannot
 * be run (missing, not executable) ends failed the same way. The callback
 * may start the next hook.
 *
 * Nothing here knows about runs beyond their ids.
 */
#ifndef MS_HOOKS_H
#define MS_HOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define MS_HOOK_KILL_GRACE_MS 5000
#define MS_HOOK_LOG_LINES 1000

typedef enum { MS_HOOK_PRE_RUN, MS_HOOK_POST_RUN, MS_HOOK_ON_FAILURE } ms_hook_kind_t;

/* "pre_run", "post_run", "on_failure": as in master.ini and MULTISYNC_HOOK. */
const char *ms_hook_name(ms_hook_kind_t kind);

typedef struct {
    int ok;          /* exited 0 */
    int exit_code;   /* its exit status; -1: killed by a signal, or never ran */
    int term_signal; /* the signal that ended it; 0: none */
    int timed_out;   /* outlived its timeout and was killed */
    int stopped;     /* stopped by ms_hooks_stop */
    double seconds;
    char why[320]; /* how it ended, for a person: "exited with status 3", "killed
                    * after its timeout of 600 s", "cannot run /x: No such file ..." */
} ms_hook_result_t;

typedef void (*ms_hooks_done_fn)(void *arg, uint64_t run_id, ms_hook_kind_t kind,
                                 const ms_hook_result_t *res);

typedef struct ms_hooks ms_hooks_t;

/* No hooks running yet; done is called at each one's end. NULL: memory. */
ms_hooks_t *ms_hooks_new(ms_hooks_done_fn done, void *arg);

/* Stop every hook still running (SIGTERM to its group, SIGKILL 2 s later
 * if it lingers, waiting for it), without calling done, and free h: the
 * master is stopping. NULL-safe; sets *h NULL. */
void ms_hooks_destroy(ms_hooks_t **h);

/*
 * Start argv (argv[0] an absolute path) for run_id, with env ("NAME=value",
 * NULL-terminated) added to the master's environment, for at most
 * timeout_s seconds. Returns 0: its end will be told through done (also
 * when it could not be run). -1 with err only when out of memory or out
 * of descriptors: done will not be called.
 */
int ms_hooks_start(ms_hooks_t *h, uint64_t run_id, ms_hook_kind_t kind, char *const *argv,
                   char *const *env, unsigned timeout_s, char *err, size_t errlen);

/* Stop run_id's hook now (SIGTERM, SIGKILL after the grace): it ends with
 * stopped set. Returns 1 when one was running, else 0. */
int ms_hooks_stop(ms_hooks_t *h, uint64_t run_id);

/* The name of the hook run_id waits on and for how long it ran
 * (*elapsed_s), or NULL when none runs for it. */
const char *ms_hooks_running(const ms_hooks_t *h, uint64_t run_id, double *elapsed_s);

/* Up to max items for zmq_poll (the hooks' output pipes); how many. Then
 * ms_hooks_handle with the same items after zmq_poll. */
size_t ms_hooks_poll_items(const ms_hooks_t *h, zmq_pollitem_t *items, size_t max);

/* Read what the hooks wrote, then ms_hooks_tick. */
void ms_hooks_handle(ms_hooks_t *h, const zmq_pollitem_t *items, size_t n);

/* Reap the hooks that ended, kill those past their time, call done. */
void ms_hooks_tick(ms_hooks_t *h);

/* When ms_hooks_tick has something to do next (monotonic ms), or
 * INT64_MAX: a deadline, a kill, a hook that closed its output and should
 * be reaped soon, a result to tell. */
int64_t ms_hooks_next_due(const ms_hooks_t *h);

#endif
