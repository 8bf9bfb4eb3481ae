/*
 * ms_pool.c - the worker's local pool of rsync children.
 *
 * Each slot holds one child from ms_pool_start() until its result is taken
 * with ms_pool_next_result(). A child goes: running -> reaped (exit status,
 * rusage and /proc io recorded) -> finished (both pipes at EOF, result
 * built) -> collected (slot freed).
 */
#include "ms_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_proc.h"
#include "ms_rsync.h"

#define MS_POOL_MAX_SLOTS 4096
#define OUT_KEEP ((size_t)64 * 1024) /* tail of stdout: the --stats block is at the end */
#define ERR_KEEP ((size_t)16 * 1024) /* tail of stderr */
#define MSG_TAIL 2048                /* stderr bytes that go into a result message */
#define READ_CHUNK 16384
#define READS_PER_CALL 16 /* bound the time one noisy child takes per call */
#define EXEC_FAILED 127   /* exit status of a child that could not exec */

extern char **environ;

struct ms_child {
    pid_t pid;
    int out_fd, err_fd; /* parent ends of the pipes; -1 once at EOF */
    bool reaped, finished;
    uint64_t seq; /* finish order, so results come out first finished first */
    struct timespec started;
    double timeout_s;  /* kill it when it has run this long; 0: never */
    char why[128];     /* why the pool killed it, for the message */
    struct timespec term_at; /* when it got SIGTERM from the pool; 0: not yet */
    uint64_t bytes_done; /* from rsync's --info=progress2 lines */
    ms_result_t res; /* res.message stays NULL: msg is copied on collection */
    char msg[MSG_TAIL + 256]; /* why + tail */
    size_t out_len, err_len;
    char out[OUT_KEEP];
    char errbuf[ERR_KEEP];
};

struct ms_pool {
    char *rsync;
    char **extra;
    size_t n_extra;
    unsigned slots;
    int sfd; /* signalfd for SIGCHLD */
    uint64_t seq;
    struct ms_child **child; /* slots entries, NULL when free */
};

/* What the forked child needs, prepared before fork. */
struct child_setup {
    pid_t parent;
    int out_w, err_w;
    char **argv, **envp;
};

/* ---- small helpers ------------------------------------------------------ */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void free_strv(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char **copy_strv(char *const *v, size_t n)
{
    char **c = calloc(n + 1, sizeof(*c));

    for (size_t i = 0; c != NULL && i < n; i++) {
        c[i] = strdup(v[i]);
        if (c[i] == NULL) {
            free_strv(c, i);
            return NULL;
        }
    }
    return c;
}

/* Append src to a buffer keeping only its last cap bytes. */
static void keep_tail(char *keep, size_t cap, size_t *len, const char *src, size_t n)
{
    if (n >= cap) {
        memcpy(keep, src + n - cap, cap);
        *len = cap;
        return;
    }
    if (*len + n > cap) {
        size_t drop = *len + n - cap;

        memmove(keep, keep + drop, *len - drop);
        *len -= drop;
    }
    memcpy(keep + *len, src, n);
    *len += n;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static double tv_seconds(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* ---- the forked child (async-signal-safe calls only) -------------------- */

static void child_write(const char *s)
{
    size_t len = strlen(s);

    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, s, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* Tell the parent through stderr (the pipe, once set up) and give up. */
static _Noreturn void child_fail(const char *what, const char *arg, int e)
{
    const char *desc = strerrordesc_np(e);

    child_write("multisync: ");
    child_write(what);
    if (arg != NULL) {
        child_write(" '");
        child_write(arg);
        child_write("'");
    }
    child_write(": ");
    child_write(desc != NULL ? desc : "unknown error");
    child_write("\n");
    _exit(EXEC_FAILED);
}

/* stdin from /dev/null, stdout and stderr to the pipes. The ends are first
 * moved above 2 so that no dup2 can clobber another when the parent ran
 * with 0, 1 or 2 closed. */
static int child_stdio(int out_w, int err_w)
{
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int in = nul < 0 ? -1 : fcntl(nul, F_DUPFD_CLOEXEC, 3);
    int out = in < 0 ? -1 : fcntl(out_w, F_DUPFD_CLOEXEC, 3);
    int err = out < 0 ? -1 : fcntl(err_w, F_DUPFD_CLOEXEC, 3);

    if (err < 0)
        return -1; /* errno from the call that failed */
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
        return -1;
    return 0;
}

static _Noreturn void child_run(const struct child_setup *a)
{
    sigset_t none;

    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent)
        _exit(EXEC_FAILED); /* the worker is already gone */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    if (child_stdio(a->out_w, a->err_w) < 0)
        child_fail("cannot set up the standard descriptors of", a->argv[0], errno);
    close_range(3, ~0U, 0); /* the worker's sockets are none of rsync's business */
    execvpe(a->argv[0], a->argv, a->envp);
    child_fail("cannot run rsync program", a->argv[0], errno);
}

/* ---- starting a child --------------------------------------------------- */

/* The current environment with LC_ALL=C, so rsync's messages and stats
 * are in the form we parse. The strings are shared, only the vector is
 * malloc'd. */
static char **build_env(void)
{
    static char lc_all[] = "LC_ALL=C";
    size_t n = 0, k = 0;
    char **env;

    while (environ != NULL && environ[n] != NULL)
        n++;
    env = calloc(n + 2, sizeof(*env));
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) != 0)
            env[k++] = environ[i];
    env[k] = lc_all;
    return env;
}

/* A pipe whose read end (the parent's) is nonblocking; both ends close on
 * exec, the child's end is dup2'ed to 1 or 2 which clears that. */
static int make_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -1;
    return fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

static int spawn(struct ms_child *c, char **argv, char **envp, char *err, size_t errlen)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    struct child_setup a = {getpid(), -1, -1, argv, envp};
    int rc = -1;

    if (make_pipe(outp) < 0 || make_pipe(errp) < 0) {
        snprintf(err, errlen, "cannot create pipes for rsync: %s", strerror(errno));
        goto out;
    }
    a.out_w = outp[1];
    a.err_w = errp[1];
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    c->pid = fork();
    if (c->pid < 0) {
        snprintf(err, errlen, "cannot fork rsync: %s", strerror(errno));
        goto out;
    }
    if (c->pid == 0)
        child_run(&a);
    setpgid(c->pid, c->pid); /* the child does it too: no window for killpg */
    c->out_fd = outp[0];
    c->err_fd = errp[0];
    outp[0] = errp[0] = -1;
    rc = 0;
out:
    close_fd(&outp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    return rc;
}

static struct ms_child *child_new(const ms_task_t *t)
{
    struct ms_child *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->pid = -1;
    c->out_fd = c->err_fd = -1;
    c->res.run_id = t->run_id;
    c->res.task_id = t->task_id;
    c->res.attempt = t->attempt;
    c->timeout_s = t->timeout_s;
    return c;
}

/* Kill what still runs of c, reap it, free it. */
static void child_destroy(struct ms_child *c)
{
    if (c == NULL)
        return;
    if (c->pid > 0 && !c->reaped) {
        killpg(c->pid, SIGKILL);
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    close_fd(&c->out_fd);
    close_fd(&c->err_fd);
    free(c);
}

static int free_slot(const ms_pool_t *p)
{
    for (unsigned i = 0; i < p->slots; i++)
        if (p->child[i] == NULL)
            return (int)i;
    return -1;
}

int ms_pool_start(ms_pool_t *p, const ms_task_t *t, char *err, size_t errlen)
{
    char **argv = NULL, **envp = NULL;
    struct ms_child *c = NULL;
    int slot, rc = -1;

    if (p == NULL) {
        snprintf(err, errlen, "no pool");
        return -1;
    }
    if (ms_rsync_check_task(t, err, errlen) < 0 || ms_rsync_check_delete_safe(t, err, errlen) < 0)
        return -1;
    if ((slot = free_slot(p)) < 0) {
        snprintf(err, errlen, "pool full: all %u slots busy", p->slots);
        return -1;
    }
    argv = ms_rsync_argv(p->rsync, p->extra, p->n_extra, t, err, errlen);
    if (argv == NULL)
        goto out;
    envp = build_env();
    c = child_new(t);
    if (envp == NULL || c == NULL) {
        snprintf(err, errlen, "out of memory starting rsync");
        goto out;
    }
    if (spawn(c, argv, envp, err, errlen) < 0)
        goto out;
    p->child[slot] = c;
    c = NULL;
    rc = 0;
out:
    free(c);
    free(envp);
    ms_rsync_argv_free(argv);
    return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

/* Block SIGCHLD (a signalfd only sees blocked signals) and open the fd. */
static int open_sigchld_fd(char *err, size_t errlen)
{
    sigset_t set;
    int fd;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
        snprintf(err, errlen, "cannot block SIGCHLD: %s", strerror(errno));
        return -1;
    }
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        snprintf(err, errlen, "cannot create a signalfd for SIGCHLD: %s", strerror(errno));
    return fd;
}

static int check_new_args(const char *rsync, char *const *extra, size_t n_extra, unsigned slots,
                          char *err, size_t errlen)
{
    if (rsync == NULL || rsync[0] == '\0') {
        snprintf(err, errlen, "no rsync program given");
        return -1;
    }
    if (slots == 0 || slots > MS_POOL_MAX_SLOTS) {
        snprintf(err, errlen, "slots must be 1..%d, not %u", MS_POOL_MAX_SLOTS, slots);
        return -1;
    }
    for (size_t i = 0; i < n_extra; i++)
        if (extra == NULL || extra[i] == NULL) {
            snprintf(err, errlen, "extra rsync option %zu is NULL", i);
            return -1;
        }
    return 0;
}

ms_pool_t *ms_pool_new(const char *rsync, char *const *extra, size_t n_extra, unsigned slots,
                       char *err, size_t errlen)
{
    ms_pool_t *p = NULL;

    if (check_new_args(rsync, extra, n_extra, slots, err, errlen) < 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory creating the pool");
        return NULL;
    }
    p->sfd = -1;
    p->slots = slots;
    p->n_extra = n_extra;
    p->rsync = strdup(rsync);
    p->extra = copy_strv(extra, n_extra);
    p->child = calloc(slots, sizeof(*p->child));
    if (p->rsync == NULL || p->extra == NULL || p->child == NULL) {
        snprintf(err, errlen, "out of memory creating the pool");
        goto out;
    }
    if ((p->sfd = open_sigchld_fd(err, errlen)) < 0)
        goto out;
    return p;
out:
    ms_pool_destroy(&p);
    return NULL;
}

void ms_pool_destroy(ms_pool_t **pp)
{
    ms_pool_t *p;

    if (pp == NULL || *pp == NULL)
        return;
    p = *pp;
    *pp = NULL;
    for (unsigned i = 0; p->child != NULL && i < p->slots; i++)
        child_destroy(p->child[i]);
    free(p->child);
    close_fd(&p->sfd);
    free_strv(p->extra, p->n_extra);
    free(p->rsync);
    free(p);
}

unsigned ms_pool_busy(const ms_pool_t *p)
{
    unsigned n = 0;

    for (unsigned i = 0; p != NULL && i < p->slots; i++)
        if (p->child[i] != NULL)
            n++;
    return n;
}

unsigned ms_pool_slots(const ms_pool_t *p)
{
    return p != NULL ? p->slots : 0;
}

/* ---- event handling ----------------------------------------------------- */

static void add_pollfd(struct pollfd *fds, size_t max, size_t *n, int fd)
{
    if (fd < 0 || *n >= max)
        return;
    fds[*n].fd = fd;
    fds[*n].events = POLLIN;
    fds[*n].revents = 0;
    (*n)++;
}

size_t ms_pool_pollfds(const ms_pool_t *p, struct pollfd *fds, size_t max)
{
    size_t n = 0;

    if (p == NULL)
        return 0;
    add_pollfd(fds, max, &n, p->sfd);
    for (unsigned i = 0; i < p->slots; i++) {
        const struct ms_child *c = p->child[i];

        if (c == NULL)
            continue;
        add_pollfd(fds, max, &n, c->out_fd);
        add_pollfd(fds, max, &n, c->err_fd);
    }
    return n;
}

/* Read what a pipe holds now into its tail buffer; close it at EOF (or on
 * an error no retry would fix). */
static void drain_pipe(int *fd, char *keep, size_t cap, size_t *len)
{
    char chunk[READ_CHUNK];

    for (int i = 0; *fd >= 0 && i < READS_PER_CALL; i++) {
        ssize_t n = read(*fd, chunk, sizeof(chunk));

        if (n > 0)
            keep_tail(keep, cap, len, chunk, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return;
        else
            close_fd(fd);
    }
}

static int drain_signalfd(int sfd, char *err, size_t errlen)
{
    struct signalfd_siginfo si;

    for (;;) {
        ssize_t n = read(sfd, &si, sizeof(si));

        if (n > 0 || (n < 0 && errno == EINTR))
            continue;
        if (n < 0 && errno == EAGAIN)
            return 0;
        snprintf(err, errlen, "reading the SIGCHLD signalfd: %s",
                 n < 0 ? strerror(errno) : "end of file");
        return -1;
    }
}

static void record_exit(struct ms_child *c, int status, const struct rusage *ru)
{
    c->reaped = true;
    c->res.seconds = seconds_since(&c->started);
    c->res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    c->res.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    c->res.cpu_user_s = tv_seconds(&ru->ru_utime);
    c->res.cpu_sys_s = tv_seconds(&ru->ru_stime);
    c->res.max_rss_kb = ru->ru_maxrss > 0 ? (uint64_t)ru->ru_maxrss : 0;
}

/* The child vanished from under us (someone else reaped it): end the task
 * as failed rather than wait for it forever. */
static int lost_child(struct ms_child *c, char *err, size_t errlen)
{
    int e = errno;

    c->reaped = true;
    c->res.seconds = seconds_since(&c->started);
    c->res.exit_code = -1;
    snprintf(err, errlen, "waiting for rsync pid %ld: %s", (long)c->pid, strerror(e));
    return -1;
}

/* Reap c if it exited: /proc io first, while it is a zombie, then wait4 for
 * its rusage. Returns 0 (reaped or still running) or -1. */
static int try_reap(struct ms_child *c, char *err, size_t errlen)
{
    siginfo_t si;
    ms_proc_io_t io;
    struct rusage ru;
    int status;

    memset(&si, 0, sizeof(si));
    while (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        if (errno != EINTR)
            return lost_child(c, err, errlen);
    if (si.si_pid != c->pid)
        return 0;
    if (ms_proc_read_io(c->pid, &io) == 0) {
        c->res.read_bytes = io.read_bytes;
        c->res.write_bytes = io.write_bytes;
    }
    while (wait4(c->pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return lost_child(c, err, errlen);
    record_exit(c, status, &ru);
    return 0;
}

static void build_message(struct ms_child *c)
{
    char tail[MSG_TAIL + 1];
    int sig = c->res.term_signal;

    ms_rsync_error_tail(c->errbuf, c->err_len, tail, sizeof(tail));
    if (c->why[0] != '\0') {
        snprintf(c->msg, sizeof(c->msg), "%s%s%s", c->why, tail[0] != '\0' ? "\n" : "", tail);
    } else if (sig != 0) {
        const char *desc = sigdescr_np(sig);

        snprintf(c->msg, sizeof(c->msg), "rsync killed by signal %d (%s)%s%s", sig,
                 desc != NULL ? desc : "unknown signal", tail[0] != '\0' ? "\n" : "", tail);
    } else if (c->res.exit_code == -1) {
        snprintf(c->msg, sizeof(c->msg), "rsync exit status unknown (reaped elsewhere)%s%s",
                 tail[0] != '\0' ? "\n" : "", tail);
    } else if (c->res.exit_code != 0) {
        if (tail[0] != '\0')
            snprintf(c->msg, sizeof(c->msg), "%s", tail);
        else
            snprintf(c->msg, sizeof(c->msg), "rsync exited with code %d", (int)c->res.exit_code);
    }
}

static void finish(ms_pool_t *p, struct ms_child *c)
{
    ms_rsync_stats_t st;

    ms_rsync_parse_stats(c->out, c->out_len, &st);
    c->res.files = st.files;
    c->res.bytes_total = st.bytes_total;
    c->res.bytes_transferred = st.bytes_transferred;
    build_message(c);
    c->finished = true;
    c->seq = ++p->seq;
}

/* Progress lines are short: the last few hundred bytes hold the newest. */
static void update_progress(struct ms_child *c)
{
    size_t tail = c->out_len < 512 ? c->out_len : 512;
    uint64_t bytes;
    if (ms_rsync_parse_progress(c->out + c->out_len - tail, tail, &bytes) == 0)
        c->bytes_done = bytes;
}

int ms_pool_handle(ms_pool_t *p, char *err, size_t errlen)
{
    int rc = 0;

    if (p == NULL)
        return 0;
    if (drain_signalfd(p->sfd, err, errlen) < 0)
        rc = -1;
    /* SIGCHLDs merge, so every running child is checked, not one per signal. */
    for (unsigned i = 0; i < p->slots; i++) {
        struct ms_child *c = p->child[i];

        if (c == NULL || c->finished)
            continue;
        if (!c->reaped && try_reap(c, err, errlen) < 0)
            rc = -1;
        size_t before = c->out_len;
        drain_pipe(&c->out_fd, c->out, OUT_KEEP, &c->out_len);
        if (c->out_len != before)
            update_progress(c);
        drain_pipe(&c->err_fd, c->errbuf, ERR_KEEP, &c->err_len);
        if (c->reaped && c->out_fd < 0 && c->err_fd < 0)
            finish(p, c);
    }
    return rc;
}

int ms_pool_next_result(ms_pool_t *p, ms_result_t *r)
{
    struct ms_child *c;
    int best = -1;

    for (unsigned i = 0; p != NULL && i < p->slots; i++) {
        c = p->child[i];
        if (c != NULL && c->finished && (best < 0 || c->seq < p->child[best]->seq))
            best = (int)i;
    }
    if (best < 0)
        return 0;
    c = p->child[best];
    *r = c->res;
    r->message = strdup(c->msg);
    if (r->message == NULL)
        return 0; /* out of memory: the result stays queued */
    p->child[best] = NULL;
    child_destroy(c);
    return 1;
}

void ms_pool_signal_all(ms_pool_t *p, int sig)
{
    for (unsigned i = 0; p != NULL && i < p->slots; i++) {
        const struct ms_child *c = p->child[i];

        /* A reaped child's pid may belong to someone else by now. */
        if (c != NULL && !c->reaped)
            killpg(c->pid, sig);
    }
}

/* Signal one running child's process group, noting why. SIGTERM starts
 * the grace after which ms_pool_expire sends SIGKILL. */
static void kill_child(struct ms_child *c, int sig, const char *why)
{
    if (c == NULL || c->reaped || c->finished)
        return;
    if (why != NULL && c->why[0] == '\0')
        snprintf(c->why, sizeof(c->why), "%s", why);
    if (sig == SIGTERM && c->term_at.tv_sec == 0)
        clock_gettime(CLOCK_MONOTONIC, &c->term_at);
    killpg(c->pid, sig);
}

int ms_pool_kill(ms_pool_t *p, const ms_taskref_t *ref, int sig, const char *why)
{
    for (unsigned i = 0; p != NULL && i < p->slots; i++) {
        struct ms_child *c = p->child[i];
        if (c != NULL && c->res.run_id == ref->run_id && c->res.task_id == ref->task_id &&
            c->res.attempt == ref->attempt) {
            kill_child(c, sig, why);
            return 0;
        }
    }
    return -1;
}

void ms_pool_kill_all(ms_pool_t *p, int sig, const char *why)
{
    for (unsigned i = 0; p != NULL && i < p->slots; i++)
        kill_child(p->child[i], sig, why);
}

/* Seconds until c needs the pool's attention (its timeout, or the end of
 * its SIGTERM grace), acting on what is due now; -1 when never. */
static double expire_child(struct ms_child *c)
{
    if (c->term_at.tv_sec != 0) {
        double left = MS_POOL_KILL_GRACE_S - seconds_since(&c->term_at);
        if (left <= 0)
            killpg(c->pid, SIGKILL); /* repeated each call until it is reaped */
        return left > 0 ? left : 0.1;
    }
    if (c->timeout_s <= 0)
        return -1;
    double left = c->timeout_s - seconds_since(&c->started);
    if (left > 0)
        return left;
    char why[128];
    snprintf(why, sizeof(why), "timed out after %.0f s", c->timeout_s);
    kill_child(c, SIGTERM, why);
    return MS_POOL_KILL_GRACE_S;
}

double ms_pool_expire(ms_pool_t *p)
{
    double next = -1;
    for (unsigned i = 0; p != NULL && i < p->slots; i++) {
        struct ms_child *c = p->child[i];
        if (c == NULL || c->reaped)
            continue;
        double left = expire_child(c);
        if (left >= 0 && (next < 0 || left < next))
            next = left;
    }
    return next;
}

size_t ms_pool_running(const ms_pool_t *p, ms_taskref_t *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; p != NULL && i < p->slots && n < max; i++) {
        const struct ms_child *c = p->child[i];
        if (c != NULL && !c->finished && !c->reaped)
            out[n++] = (ms_taskref_t){c->res.run_id, c->res.task_id, c->res.attempt};
    }
    return n;
}

size_t ms_pool_progress(const ms_pool_t *p, ms_progress_t *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; p != NULL && i < p->slots && n < max; i++) {
        const struct ms_child *c = p->child[i];
        if (c != NULL && !c->finished && !c->reaped)
            out[n++] = (ms_progress_t){c->res.run_id, c->res.task_id, c->res.attempt,
                                       c->bytes_done};
    }
    return n;
}
