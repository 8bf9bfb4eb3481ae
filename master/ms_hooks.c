/*
 * ms_hooks.c - a [set]'s hooks as child processes of the master's loop
 * (ms_hooks.h): spawned, their output read line by line into the log,
 * timed, killed, reaped by pid.
 */
#include "ms_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_clock.h"
#include "ms_err.h"
#include "ms_log.h"

/* Reading a chatty hook must not starve the loop: so much per turn. */
#define READS_PER_TURN 16
/* A hook that closed its output but has not exited yet: looked at again
 * this soon (its exit does not wake the loop). */
#define EXIT_RECHECK_MS 100
/* The master stopping waits this long for its hooks to go after SIGTERM. */
#define DESTROY_GRACE_MS 2000

extern char **environ;

typedef struct {
    uint64_t run_id;
    ms_hook_kind_t kind;
    pid_t pid;     /* also its process group; 0: never ran */
    int fd;        /* its output's read end; -1: closed */
    int exited;    /* its exit was seen (a zombie until reaped) */
    int term_sent; /* SIGTERM sent to its group */
    int finished;  /* reaped, result known: to be told */
    int64_t started_ms, deadline_ms, kill_at_ms;
    unsigned timeout_s;
    unsigned lines; /* output lines logged */
    size_t len;
    char line[1024]; /* the output line being read */
    ms_hook_result_t res;
} hook_t;

struct ms_hooks {
    hook_t **v;
    size_t n;
    ms_hooks_done_fn done;
    void *arg;
};

const char *ms_hook_name(ms_hook_kind_t kind)
{
    switch (kind) {
    case MS_HOOK_PRE_RUN:
        return "pre_run";
    case MS_HOOK_POST_RUN:
        return "post_run";
    default:
        return "on_failure";
    }
}

ms_hooks_t *ms_hooks_new(ms_hooks_done_fn done, void *arg)
{
    ms_hooks_t *h = calloc(1, sizeof *h);
    if (h) {
        h->done = done;
        h->arg = arg;
    }
    return h;
}

/* --- output --------------------------------------------------------------- */

/* One line of the hook's output into the log, the first MS_HOOK_LOG_LINES. */
static void log_line(hook_t *k)
{
    char safe[4 * sizeof k->line];
    k->line[k->len] = '\0';
    if (k->len > 0 && k->line[k->len - 1] == '\r')
        k->line[k->len - 1] = '\0';
    if (k->lines < MS_HOOK_LOG_LINES)
        ms_info("run %llu: %s: %s", (unsigned long long)k->run_id, ms_hook_name(k->kind),
                ms_log_safe(k->line, safe, sizeof safe));
    else if (k->lines == MS_HOOK_LOG_LINES)
        ms_warn("run %llu: %s writes more than %d lines: the rest is not logged",
                (unsigned long long)k->run_id, ms_hook_name(k->kind), MS_HOOK_LOG_LINES);
    k->lines++;
    k->len = 0;
}

static void feed(hook_t *k, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            log_line(k);
            continue;
        }
        k->line[k->len++] = buf[i];
        if (k->len == sizeof k->line - 1) /* a long line, logged in pieces */
            log_line(k);
    }
}

static void close_output(hook_t *k)
{
    if (k->len > 0)
        log_line(k); /* its last line, without a newline */
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

/* Read what the hook wrote, up to READS_PER_TURN reads; its end of file
 * (or a read error) closes the pipe. */
static void read_output(hook_t *k)
{
    char buf[4096];
    for (int i = 0; i < READS_PER_TURN && k->fd >= 0; i++) {
        ssize_t n = read(k->fd, buf, sizeof buf);
        if (n > 0) {
            feed(k, buf, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            if (n < 0 && errno == EAGAIN)
                return;
            close_output(k);
        }
    }
}

/* --- start ---------------------------------------------------------------- */

/* Whether environment entry e ("NAME=...") sets a name that extra sets too. */
static int overridden(const char *e, char *const *extra)
{
    const char *eq = strchr(e, '=');
    size_t n = eq ? (size_t)(eq - e) : strlen(e);
    for (size_t i = 0; extra && extra[i]; i++)
        if (strncmp(extra[i], e, n) == 0 && extra[i][n] == '=')
            return 1;
    return 0;
}

/* The master's environment with extra added: an array of pointers into
 * both (the caller frees the array only), or NULL. */
static char **make_env(char *const *extra)
{
    size_t n = 0, m = 0, o = 0;
    while (environ && environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    for (size_t i = 0; env && i < n; i++)
        if (!overridden(environ[i], extra))
            env[o++] = environ[i];
    for (size_t i = 0; env && i < m; i++)
        env[o++] = extra[i];
    return env;
}

/* The child's setup, done by posix_spawn before exec: its own process
 * group, default signals, /, stdin /dev/null, stdout and stderr the pipe,
 * nothing else open. Returns 0, or an error number. */
static int spawn_setup(posix_spawnattr_t *at, posix_spawn_file_actions_t *fa, int out)
{
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&dfl, sigs[i]);
    int rc = posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                              POSIX_SPAWN_SETSIGDEF);
    rc = rc ? rc : posix_spawnattr_setpgroup(at, 0);
    rc = rc ? rc : posix_spawnattr_setsigmask(at, &none);
    rc = rc ? rc : posix_spawnattr_setsigdefault(at, &dfl);
    rc = rc ? rc : posix_spawn_file_actions_addchdir_np(fa, "/");
    rc = rc ? rc : posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out, 1);
    rc = rc ? rc : posix_spawn_file_actions_adddup2(fa, out, 2);
    return rc ? rc : posix_spawn_file_actions_addclosefrom_np(fa, 3);
}

/* Spawn argv with env writing into out. Returns 0 with *pid, or an error
 * number (the program could not be run). */
static int spawn(char *const *argv, char *const *env, int out, pid_t *pid)
{
    posix_spawnattr_t at;
    posix_spawn_file_actions_t fa;
    if (posix_spawnattr_init(&at) != 0)
        return ENOMEM;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        posix_spawnattr_destroy(&at);
        return ENOMEM;
    }
    int rc = spawn_setup(&at, &fa, out);
    if (rc == 0)
        rc = posix_spawn(pid, argv[0], &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

static int add(ms_hooks_t *h, hook_t *k)
{
    hook_t **v = realloc(h->v, (h->n + 1) * sizeof *v);
    if (!v)
        return -1;
    h->v = v;
    h->v[h->n++] = k;
    return 0;
}

/* Run k's argv: on success k has its pid and pipe; a program that cannot
 * be run ends k at once (told at the next tick). -1: no pipe or memory. */
static int run(hook_t *k, char *const *argv, char *const *env, char *err, size_t errlen)
{
    int p[2];
    char **all = make_env(env);
    if (!all || pipe2(p, O_CLOEXEC) != 0) {
        free(all);
        return ms_errf(err, errlen, "cannot start the %s hook: %s", ms_hook_name(k->kind),
                       all ? strerror(errno) : "out of memory");
    }
    int rc = spawn(argv, all, p[1], &k->pid);
    free(all);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        k->pid = 0;
        k->finished = 1;
        k->res.exit_code = -1;
        snprintf(k->res.why, sizeof k->res.why, "cannot run %s: %s", argv[0], strerror(rc));
        return 0;
    }
    k->fd = p[0];
    fcntl(k->fd, F_SETFL, O_NONBLOCK);
    return 0;
}

int ms_hooks_start(ms_hooks_t *h, uint64_t run_id, ms_hook_kind_t kind, char *const *argv,
                   char *const *env, unsigned timeout_s, char *err, size_t errlen)
{
    hook_t *k = calloc(1, sizeof *k);
    if (!k || add(h, k) != 0) {
        free(k);
        return ms_errf(err, errlen, "out of memory starting a hook");
    }
    k->run_id = run_id;
    k->kind = kind;
    k->fd = -1;
    k->timeout_s = timeout_s;
    k->started_ms = ms_now_ms();
    k->deadline_ms = k->started_ms + (int64_t)timeout_s * 1000;
    if (run(k, argv, env, err, errlen) != 0) {
        h->n--;
        free(k);
        return -1;
    }
    return 0;
}

/* --- end ------------------------------------------------------------------ */

/* k's result once it is reaped with wait status st. */
static void note_status(hook_t *k, int st)
{
    ms_hook_result_t *r = &k->res;
    r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->term_signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    r->ok = r->exit_code == 0 && !r->timed_out && !r->stopped;
    if (r->timed_out)
        snprintf(r->why, sizeof r->why, "killed after its timeout of %u s", k->timeout_s);
    else if (r->stopped)
        snprintf(r->why, sizeof r->why, "stopped");
    else if (r->term_signal)
        snprintf(r->why, sizeof r->why, "killed by signal %d (%s)", r->term_signal,
                 strsignal(r->term_signal));
    else
        snprintf(r->why, sizeof r->why, "exited with status %d", r->exit_code);
}

/*
 * k's leader exited (seen without reaping it, so that its pid still names
 * its process group): one killed (timeout, stop) takes what is left of its
 * group with it; what it wrote is read, and it is reaped.
 */
static void reap(hook_t *k)
{
    int st = 0;
    if (k->res.timed_out || k->res.stopped)
        kill(-k->pid, SIGKILL);
    read_output(k);
    close_output(k);
    while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR)
        ;
    note_status(k, st);
    k->finished = 1;
}

/* k is past its time: SIGTERM to its group, SIGKILL after the grace. */
static void signal_group(hook_t *k, int64_t now)
{
    if (!k->term_sent) {
        k->term_sent = 1;
        k->kill_at_ms = now + MS_HOOK_KILL_GRACE_MS;
        kill(-k->pid, SIGTERM);
    } else if (now >= k->kill_at_ms) {
        k->kill_at_ms = INT64_MAX;
        kill(-k->pid, SIGKILL);
    }
}

static void check(hook_t *k, int64_t now)
{
    siginfo_t si = {0};
    if (k->finished || k->pid <= 0)
        return;
    if (waitid(P_PID, (id_t)k->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == k->pid) {
        reap(k);
        return;
    }
    if (now >= k->deadline_ms && !k->res.stopped)
        k->res.timed_out = 1;
    if (k->res.timed_out || k->res.stopped)
        signal_group(k, now);
}

void ms_hooks_tick(ms_hooks_t *h)
{
    int64_t now = ms_now_ms();
    size_t kept = 0, n_done = 0;
    for (size_t i = 0; i < h->n; i++)
        check(h->v[i], now);
    hook_t **done = malloc((h->n ? h->n : 1) * sizeof *done);
    if (!done)
        return; /* told next turn */
    /* Out of the list first: done may start the next hook. */
    for (size_t i = 0; i < h->n; i++) {
        if (h->v[i]->finished)
            done[n_done++] = h->v[i];
        else
            h->v[kept++] = h->v[i];
    }
    h->n = kept;
    for (size_t i = 0; i < n_done; i++) {
        done[i]->res.seconds = (double)(now - done[i]->started_ms) / 1000.0;
        h->done(h->arg, done[i]->run_id, done[i]->kind, &done[i]->res);
        free(done[i]);
    }
    free(done);
}

int ms_hooks_stop(ms_hooks_t *h, uint64_t run_id)
{
    for (size_t i = 0; i < h->n; i++) {
        hook_t *k = h->v[i];
        if (k->run_id != run_id || k->finished)
            continue;
        k->res.stopped = 1;
        if (k->pid > 0 && !k->term_sent)
            signal_group(k, ms_now_ms());
        return 1;
    }
    return 0;
}

const char *ms_hooks_running(const ms_hooks_t *h, uint64_t run_id, double *elapsed_s)
{
    for (size_t i = 0; h && i < h->n; i++) {
        if (h->v[i]->run_id == run_id) {
            *elapsed_s = (double)(ms_now_ms() - h->v[i]->started_ms) / 1000.0;
            return ms_hook_name(h->v[i]->kind);
        }
    }
    return NULL;
}

size_t ms_hooks_poll_items(const ms_hooks_t *h, zmq_pollitem_t *items, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n && n < max; i++)
        if (h->v[i]->fd >= 0)
            items[n++] = (zmq_pollitem_t){NULL, h->v[i]->fd, ZMQ_POLLIN, 0};
    return n;
}

void ms_hooks_handle(ms_hooks_t *h, const zmq_pollitem_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(items[i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            continue;
        for (size_t k = 0; k < h->n; k++)
            if (h->v[k]->fd == items[i].fd)
                read_output(h->v[k]);
    }
    ms_hooks_tick(h);
}

int64_t ms_hooks_next_due(const ms_hooks_t *h)
{
    int64_t due = INT64_MAX, now = ms_now_ms();
    for (size_t i = 0; h && i < h->n; i++) {
        const hook_t *k = h->v[i];
        int64_t at = k->finished    ? now
                     : k->fd < 0    ? now + EXIT_RECHECK_MS
                     : k->term_sent ? k->kill_at_ms
                                    : k->deadline_ms;
        if (at < due)
            due = at;
    }
    return due;
}

/* The master stops: k gets DESTROY_GRACE_MS after its SIGTERM, then
 * SIGKILL, and is reaped. */
static void stop_for_good(hook_t *k)
{
    int st;
    for (int waited = 0; waited < DESTROY_GRACE_MS; waited += 10) {
        if (waitpid(k->pid, &st, WNOHANG) != 0)
            return;
        usleep(10 * 1000);
    }
    kill(-k->pid, SIGKILL);
    waitpid(k->pid, &st, 0);
}

void ms_hooks_destroy(ms_hooks_t **hp)
{
    if (!hp || !*hp)
        return;
    ms_hooks_t *h = *hp;
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i]->pid > 0 && !h->v[i]->finished)
            kill(-h->v[i]->pid, SIGTERM);
    for (size_t i = 0; i < h->n; i++) {
        hook_t *k = h->v[i];
        if (k->pid > 0 && !k->finished)
            stop_for_good(k);
        if (k->fd >= 0)
            close(k->fd);
        free(k);
    }
    free(h->v);
    free(h);
    *hp = NULL;
}
