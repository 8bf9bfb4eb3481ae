/*
 * ms_pool.c - the worker's local pool of rsync children.
 *
 * Each slot holds one child from ms_pool_start() until its result is taken
 * with ms_pool_next_result(). A child goes: running -> reaped (exit status,
 * rusage and /proc io recorded) -> finished (both pipes at EOF, result
 * built) -> collected (slot freed).
 *
 * A copy's stdout is quiet until rsync's --stats at its end: how far a running
 * copy got is read from /proc/PID/io when asked (the sending rsync's rchar),
 * not from a progress line per file, which cost rsync a write and the worker
 * a wake-up for every file. A verify or a dry run writes a line per
 * difference (-i), and an operator's --rsync-opt may add more, so a running
 * child's stdout is not polled either: it gets a big pipe, read on the
 * pool's clock (every capacity / OUT_RATE_MAX seconds) often enough that no
 * rsync fills it meanwhile, and to its end once the child exited. stderr,
 * quiet unless something goes wrong, and the SIGCHLD signalfd are polled; a
 * child is waited for only after a SIGCHLD. (Were a pipe ever full, rsync
 * would wait for the next read: slower, nothing lost.)
 */
#include "ms_pool.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_anchor.h"
#include "ms_clock.h"
#include "ms_err.h"
#include "ms_proc.h"
#include "ms_prune.h"
#include "ms_rsync.h"
#include "ms_snap.h"
#include "ms_strv.h"

#define OUT_KEEP ((size_t)64 * 1024) /* tail of stdout: the --stats block is at the end */
#define ERR_KEEP ((size_t)16 * 1024) /* tail of stderr */
#define MSG_TAIL 2048                /* stderr bytes that go into a result message */
#define MSG_MAX (MS_ITEMIZE_BYTES + MSG_TAIL + 1024) /* a result's message, whole */
#define READ_CHUNK 65536
#define READS_PER_CALL 16 /* bound the time one noisy child takes per call: 1 MiB */
/* The stdout pipe asked for: the smallest of these. The budget keeps all
 * the pool's pipes within half of the default pipe-user-pages-soft (64 MiB
 * a user), past which the kernel gives a user's new pipes a single page. */
#define OUT_PIPE_MAX ((size_t)1 << 20)
#define OUT_PIPE_BUDGET ((size_t)32 << 20)
/* Faster than any rsync writes its stdout: ~70 bytes a file, and no rsync
 * copies 100,000 files a second. A pipe read every cap / this many seconds
 * never fills (125 ms for 1 MiB). */
#define OUT_RATE_MAX (8.0 * 1024 * 1024)
/* A smaller pipe (the kernel refused to grow it) would need reading so
 * often that polling it, a wake-up per line, is no worse. */
#define OUT_PIPE_CLOCKED ((size_t)256 * 1024)
#define EXEC_FAILED 127 /* exit status of a child that could not exec */
/* The descriptor a child rsync finds open besides 0-2: the destination
 * folder it writes into. (A file named by /proc/self/fd/N would not do for
 * a list: rsync 3.4+ opens such files without following any link; the top
 * task's list of backups to remove is its stdin, read as "-".) */
#define DST_FD 3
#define DST_FD_PATH "/proc/self/fd/3"
/* And in a snapshot, the same folder in the last snapshot (--link-dest). */
#define LINK_FD 4
#define LINK_FD_PATH "/proc/self/fd/4"
/* A dry run's destination where the backup has no folder yet: a path where
 * nothing is and nothing can be made (procfs has no such entry, and makes
 * none), so that its rsync -n lists every entry as new, writes nothing and
 * follows nothing (a link planted in the backup is never given to it). */
#define DRY_RUN_NOWHERE "/proc/multisync-dry-run-nothing-here"

extern char **environ;

struct ms_child {
    pid_t pid;
    int out_fd, err_fd; /* parent ends of the pipes; -1 once at EOF */
    bool out_clocked;   /* out_fd is read on the pool's clock, not polled, until reaped */
    double read_every;  /* then every this many seconds (its capacity / OUT_RATE_MAX) */
    bool reaped, finished;
    uint64_t seq; /* finish order, so results come out first finished first */
    struct timespec started;
    double timeout_s;         /* kill it when it has run this long; 0: never */
    char why[128];            /* why the pool killed it, for the message */
    struct timespec term_at;  /* when it got SIGTERM from the pool; 0: not yet */
    ms_result_t res;          /* res.message stays NULL: msg is copied on collection */
    char msg[MSG_MAX];        /* note + why + tail, or a verify's differences */
    bool verify;              /* MS_TASK_VERIFY: items reads its differences */
    ms_rsync_itemize_t items; /* a verify's itemize lines, read as they stream */
    char note[768];       /* what the worker did besides rsync: links replaced, backups removed */
    int32_t refused_exit; /* rsync succeeded but the task fails with this (pruning refused) */
    char dst_path[1024];  /* the destination folder, named in messages for DST_FD_PATH */
    size_t out_len, err_len;
    char out[OUT_KEEP];
    char errbuf[ERR_KEEP];
};

struct ms_pool {
    char *rsync;
    ms_strv_t extra; /* extra rsync options, copied */
    unsigned slots;
    int sfd;          /* signalfd for SIGCHLD */
    size_t out_pipe;  /* the stdout pipe's size asked for */
    double next_read; /* ms_mono_seconds() when clocked pipes are read next; 0: none runs */
    uint64_t seq;
    struct ms_child **child; /* slots entries, NULL when free */
};

/* What the forked child needs, prepared before fork. */
struct child_setup {
    pid_t parent;
    int out_w, err_w;
    int cwd_fd;  /* the folder rsync runs in */
    int dst_fd;  /* becomes DST_FD; -1: none (remote destination) */
    int link_fd; /* becomes LINK_FD; -1: none */
    int list_fd; /* becomes stdin (at its start); -1: /dev/null */
    char **argv, **envp;
};

/* ---- small helpers ------------------------------------------------------ */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
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

/* stdin from list (or /dev/null), stdout and stderr to the pipes. The ends
 * are first moved above 2 so that no dup2 can clobber another when the
 * parent ran with 0, 1 or 2 closed. */
static int child_stdio(int list, int out_w, int err_w)
{
    int nul = list >= 0 ? list : open("/dev/null", O_RDONLY | O_CLOEXEC);
    int in = nul < 0 ? -1 : fcntl(nul, F_DUPFD_CLOEXEC, 3);
    int out = in < 0 ? -1 : fcntl(out_w, F_DUPFD_CLOEXEC, 3);
    int err = out < 0 ? -1 : fcntl(err_w, F_DUPFD_CLOEXEC, 3);

    if (err < 0)
        return -1; /* errno from the call that failed */
    if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(err, STDERR_FILENO) < 0)
        return -1;
    return 0;
}

/* DST_FD from d and LINK_FD from l (-1: it stays closed). Both are first
 * moved above them, so that no dup2 lands on one of them (which would keep
 * its close-on-exec, or clobber the other). */
static int child_dst_fd(int d, int l)
{
    int dd = d >= 0 ? fcntl(d, F_DUPFD_CLOEXEC, LINK_FD + 1) : -1;
    int ll = l >= 0 ? fcntl(l, F_DUPFD_CLOEXEC, LINK_FD + 1) : -1;

    if ((d >= 0 && dd < 0) || (l >= 0 && ll < 0))
        return -1;
    close(DST_FD);
    close(LINK_FD);
    if (dd >= 0 && dup2(dd, DST_FD) < 0)
        return -1;
    return ll >= 0 && dup2(ll, LINK_FD) < 0 ? -1 : 0;
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
    if (child_stdio(a->list_fd, a->out_w, a->err_w) < 0)
        child_fail("cannot set up the standard descriptors of", a->argv[0], errno);
    /* rsync reads from the folder the worker opened, never a path (ms_anchor.h). */
    if (fchdir(a->cwd_fd) < 0)
        child_fail("cannot enter the source folder for", a->argv[0], errno);
    if (child_dst_fd(a->dst_fd, a->link_fd) < 0)
        child_fail("cannot hand the destination folder to", a->argv[0], errno);
    close_range(LINK_FD + 1, ~0U, 0); /* the worker's sockets are none of rsync's business */
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

static int spawn(struct ms_child *c, struct child_setup *a, char *err, size_t errlen)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};
    int rc = -1;

    if (make_pipe(outp) < 0 || make_pipe(errp) < 0) {
        ms_errf(err, errlen, "cannot create pipes for rsync: %s", strerror(errno));
        goto out;
    }
    a->parent = getpid();
    a->out_w = outp[1];
    a->err_w = errp[1];
    c->started = ms_mono_now();
    c->pid = fork();
    if (c->pid < 0) {
        ms_errf(err, errlen, "cannot fork rsync: %s", strerror(errno));
        goto out;
    }
    if (c->pid == 0)
        child_run(a);
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
    c->verify = (t->flags & MS_TASK_VERIFY) != 0;
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

/*
 * c runs: it takes slot. Its stdout pipe grows to out_pipe (0: stays as it
 * is) when the kernel lets it; big enough, it is read on the pool's clock,
 * which then ticks at least as often as this pipe needs.
 */
static void adopt(ms_pool_t *p, int slot, struct ms_child *c, size_t out_pipe)
{
    int cap;

    if (out_pipe > 0)
        (void)fcntl(c->out_fd, F_SETPIPE_SZ, (int)out_pipe); /* EPERM: the user's budget is spent */
    cap = fcntl(c->out_fd, F_GETPIPE_SZ);
    c->out_clocked = cap > 0 && (size_t)cap >= OUT_PIPE_CLOCKED;
    if (c->out_clocked) {
        double due = ms_mono_seconds() + (c->read_every = (double)cap / OUT_RATE_MAX);

        if (p->next_read == 0 || due < p->next_read)
            p->next_read = due;
    }
    p->child[slot] = c;
}

static int free_slot(const ms_pool_t *p)
{
    for (unsigned i = 0; i < p->slots; i++)
        if (p->child[i] == NULL)
            return (int)i;
    return -1;
}

/* Everything a task needs before its rsync starts (see ms_pool_start). */
typedef struct {
    ms_anchor_t a;
    ms_task_t t;  /* the task; a chunk's items only those still there */
    char **items; /* t.items when some were dropped (borrowed strings) */
    ms_prune_t prune;
    int list_fd; /* the top task's list of backups to remove; -1 */
} launch_t;

static void launch_free(launch_t *l)
{
    ms_anchor_close(&l->a);
    free(l->items);
    ms_prune_free(&l->prune);
    if (l->list_fd >= 0)
        close(l->list_fd);
}

/* Append text to c->note ("; " between notes). */
static void add_note(struct ms_child *c, const char *text)
{
    size_t len = strlen(c->note);

    if (text[0] != '\0')
        snprintf(c->note + len, sizeof c->note - len, "%s%s", len ? "; " : "", text);
}

/* Keep the items of a chunk that are still in its source folder (the walk
 * saw them; any may have gone since). Returns MS_POOL_VANISHED when none is
 * left, else 0 (or -1 when out of memory). */
static int keep_present_items(launch_t *l, struct ms_child *c, char *err, size_t errlen)
{
    struct stat st;
    uint32_t kept = 0;

    if (l->t.n_items == 0)
        return 0;
    if ((l->items = calloc(l->t.n_items, sizeof *l->items)) == NULL)
        return ms_errf(err, errlen, "out of memory starting rsync");
    for (uint32_t i = 0; i < l->t.n_items; i++)
        if (fstatat(l->a.src, l->t.items[i], &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
            l->items[kept++] = l->t.items[i];
    if (kept == 0) {
        ms_errf(err, errlen,
                "the %u entries of this part vanished from the source since the walk: "
                "nothing to copy",
                l->t.n_items);
        return MS_POOL_VANISHED;
    }
    if (kept < l->t.n_items) {
        char note[96];
        snprintf(note, sizeof note, "%u of its %u entries vanished from the source since the walk",
                 l->t.n_items - kept, l->t.n_items);
        add_note(c, note);
    }
    l->t.items = l->items;
    l->t.n_items = kept;
    return 0;
}

/* The top task of a snapshot: the guard against the last snapshot. */
static int guard_snapshot(launch_t *l, struct ms_child *c, char *err, size_t errlen)
{
    char text[sizeof c->note];
    ms_prune_t guard = {0};

    if (l->a.link_root < 0)
        return 0; /* the first snapshot */
    if (ms_prune_plan(l->a.src_root, l->a.link_root, l->t.flags & MS_TASK_FORCE, &guard, err,
                      errlen) != 0)
        return -1;
    guard.snapshot = 1;
    if (guard.refused) {
        ms_prune_describe(&guard, text, sizeof text);
        add_note(c, text);
        c->refused_exit = MS_EXIT_MAX_DELETE;
    }
    ms_prune_free(&guard);
    return 0;
}

/* The top task of a run that mirrors deletions: which backups of projects
 * gone from the source it removes (ms_prune.h). */
static int plan_prune(launch_t *l, struct ms_child *c, char *err, size_t errlen)
{
    char text[sizeof c->note];

    if (!(l->t.flags & MS_TASK_PRUNE))
        return 0;
    if (l->t.snap && l->t.snap[0] && guard_snapshot(l, c, err, errlen) != 0)
        return -1;
    if (l->a.dst < 0) {
        add_note(c, "the backups of projects gone from the source are not looked for in a remote "
                    "destination");
        return 0;
    }
    /* A snapshot being written is no one's only copy: what its source lost
     * since it was begun goes from it unguarded (the guard is above). */
    int force = (l->t.flags & MS_TASK_FORCE) || (l->t.snap && l->t.snap[0]);
    if (ms_prune_plan(l->a.src_root, l->a.dst, force, &l->prune, err, errlen) != 0)
        return -1;
    ms_prune_describe(&l->prune, text, sizeof text);
    add_note(c, text);
    if (l->prune.refused)
        c->refused_exit = MS_EXIT_MAX_DELETE;
    else if (l->prune.n_gone > 0 && (l->list_fd = ms_prune_patterns(&l->prune, err, errlen)) < 0)
        return -1;
    return 0;
}

/* A verify's folder missing from the backup (err: which, and how): the
 * difference found, as a verify task's message says it. */
static int missing_in_backup(char *err, size_t errlen)
{
    char what[MS_MAX_PATH + 64];

    snprintf(what, sizeof what, "%s", err);
    ms_errf(err, errlen, "1 path differs:\n%s", what);
    return MS_POOL_DIFFERS;
}

/* Whether the task's destination is an rsync remote (not a dry run's
 * folder that is not there yet). */
static int is_remote(const launch_t *l)
{
    return l->a.dst < 0 && !l->a.absent;
}

/*
 * A verify: its itemize lines named from the backup's root (a project
 * sent relative to a remote names itself); the top task also lists the
 * backup's folders that have no folder in the source, as a run with
 * --delete would remove them (ms_prune.h): they differ too. A dry run's
 * top task lists them only when its copy deletes, and not when its
 * guard would refuse (the note says so, as the copy's would).
 */
static int plan_verify(launch_t *l, struct ms_child *c, char *err, size_t errlen)
{
    const ms_task_t *t = &l->t;
    char prefix[MS_MAX_PATH], text[sizeof c->note];
    const char *sub = t->sub ? t->sub : "";
    int relative = is_remote(l) && !(t->flags & MS_TASK_TOP);
    int dry_run = (t->flags & MS_TASK_DRY_RUN) != 0;

    snprintf(prefix, sizeof prefix, "%s%s%s%s", relative ? "" : t->project,
             t->project[0] && !relative ? "/" : "", sub, sub[0] ? "/" : "");
    ms_rsync_itemize_init(&c->items, prefix);
    c->items.dry_run = dry_run;
    if (!(t->flags & MS_TASK_TOP) || l->a.dst < 0 || (dry_run && !(t->flags & MS_TASK_DELETE)))
        return 0;
    int force = !dry_run || (t->flags & MS_TASK_FORCE);
    if (ms_prune_plan(l->a.src_root, l->a.dst, force, &l->prune, err, errlen) != 0)
        return -1;
    if (l->prune.refused) {
        l->prune.snapshot = t->snap && t->snap[0];
        ms_prune_describe(&l->prune, text, sizeof text);
        add_note(c, "the copy would fail");
        add_note(c, text);
    } else if (l->prune.n_gone > 0 &&
               (l->list_fd = ms_prune_patterns(&l->prune, err, errlen)) < 0) {
        return -1;
    }
    return 0;
}

/* Open the task's folders and decide what it does. 0, -1 (err),
 * MS_POOL_VANISHED (err says why), or for a verify MS_POOL_DIFFERS (err
 * says what). */
static int prepare(launch_t *l, struct ms_child *c, const ms_task_t *t, char *err, size_t errlen)
{
    int rc;

    l->t = *t;
    l->list_fd = -1;
    if ((rc = ms_anchor_open(t, &l->a, err, errlen)) == MS_ANCHOR_MISSING)
        return missing_in_backup(err, errlen);
    if (rc != 0)
        return rc == MS_ANCHOR_VANISHED ? MS_POOL_VANISHED : -1;
    add_note(c, l->a.note);
    if ((rc = keep_present_items(l, c, err, errlen)) != 0)
        return rc;
    /* (a dry run's folder that is not there yet: its copy would lose nothing) */
    if (!l->a.absent && ms_rsync_check_delete_safe(
                            t, l->a.src, l->a.link >= 0 ? l->a.link : l->a.dst, err, errlen) != 0)
        return -1;
    snprintf(c->dst_path, sizeof c->dst_path, "%s%s%s%s%s%s%s", t->dest,
             t->snap && t->snap[0] ? "/" : "", t->snap ? t->snap : "", t->project[0] ? "/" : "",
             t->project, t->sub && t->sub[0] ? "/" : "", t->sub ? t->sub : "");
    if (c->verify)
        return plan_verify(l, c, err, errlen);
    return plan_prune(l, c, err, errlen);
}

/*
 * A removal (MS_TASK_REMOVE): the worker's own program removes the folder
 * PROJECT of DST/SNAP (a snapshot being pruned), or with MS_TASK_TOP all of
 * DST/SNAP, in a child like an rsync (killable, counted, its errors on
 * stderr): it runs in the folder holding what it removes, opened without
 * following a link, and removes by descriptor (ms_snap_rmtree), never
 * through a path or a link.
 */
static char **removal_argv(const ms_task_t *t, int *cwd, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int whole = (t->flags & MS_TASK_TOP) != 0;
    int root = open(t->dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
    *cwd = root < 0 ? -1
           : whole  ? fcntl(root, F_DUPFD_CLOEXEC, 3)
                    : openat(root, t->snap, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    snprintf(path, sizeof path, "%s/%s", t->dest, t->snap);
    if (*cwd < 0)
        ms_errf(err, errlen, "%s: %s", root < 0 ? t->dest : path, strerror(errno));
    if (root >= 0)
        close(root);
    if (*cwd < 0)
        return NULL;
    char **argv = calloc(4, sizeof *argv);
    if (!argv || !(argv[0] = strdup("/proc/self/exe")) || !(argv[1] = strdup(MS_REMOVE_TREE_ARG)) ||
        !(argv[2] = strdup(whole ? t->snap : t->project))) {
        ms_rsync_argv_free(argv);
        close(*cwd);
        *cwd = -1;
        ms_errf(err, errlen, "out of memory starting a removal");
        return NULL;
    }
    return argv;
}

static int start_removal(struct ms_child *c, const ms_task_t *t, char **envp, char *err,
                         size_t errlen)
{
    int cwd = -1;
    char **argv = removal_argv(t, &cwd, err, errlen);
    if (!argv)
        return -1;
    snprintf(c->dst_path, sizeof c->dst_path, "%s/%s/%s", t->dest, t->snap, t->project);
    struct child_setup setup = {
        .cwd_fd = cwd, .dst_fd = -1, .link_fd = -1, .list_fd = -1, .argv = argv, .envp = envp};
    int rc = spawn(c, &setup, err, errlen);
    ms_rsync_argv_free(argv);
    close(cwd);
    return rc;
}

/* A pack's member i (0: t->project): its name. */
static const char *member(const ms_task_t *t, uint32_t i)
{
    return i == 0 ? t->project : t->items[i - 1];
}

/* A pack that mirrors deletions: no member whose source is empty while its
 * backup (or last snapshot) is not (ms_rsync_check_delete_safe). */
static int pack_delete_safe(const ms_task_t *t, const ms_anchor_t *a, char *err, size_t errlen)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && (t->flags & MS_TASK_DELETE) && i <= t->n_items; i++) {
        int fl = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int src = openat(a->src_root, member(t, i), fl);
        int base = a->link_root >= 0 ? a->link_root : a->dst;
        int dst = base >= 0 ? openat(base, member(t, i), fl) : -1;
        ms_task_t one = *t;
        one.project = (char *)member(t, i);
        one.n_items = 0;
        one.items = NULL;
        one.flags &= ~MS_TASK_PACK;
        /* No folder there (a new project, a remote backup): nothing to lose. */
        if (src >= 0 && (dst >= 0 || base < 0 || a->dst < 0))
            rc = ms_rsync_check_delete_safe(&one, src,
                                            dst >= 0     ? dst
                                            : a->dst < 0 ? -1
                                                         : base,
                                            err, errlen);
        if (src >= 0)
            close(src);
        if (dst >= 0)
            close(dst);
    }
    return rc;
}

/*
 * A pack of projects (MS_TASK_PACK): one rsync in the source root copies
 * every member folder to the destination root, `rsync -a ./P ./I1 ... DST/`
 * (ms_anchor_open_pack). A member gone or unsafe refuses the whole pack:
 * the master then runs its projects one by one, each with its own answer.
 */
static int start_pack(ms_pool_t *p, struct ms_child *c, const ms_task_t *t, char **envp, char *err,
                      size_t errlen)
{
    ms_anchor_t a;
    char **argv = NULL, **names = calloc(t->n_items + 1, sizeof *names);
    int rc = ms_anchor_open_pack(t, &a, err, errlen);
    if (rc == MS_ANCHOR_VANISHED)
        rc = -1; /* not the pack's answer: each member's own, one by one */
    if (rc == 0 && (rc = pack_delete_safe(t, &a, err, errlen)) == 0 && names) {
        ms_task_t all = *t;
        for (uint32_t i = 0; i <= t->n_items; i++)
            names[i] = (char *)member(t, i);
        all.project = "";
        all.items = names;
        all.n_items = t->n_items + 1;
        ms_rsync_where_t w = {".", a.dst >= 0 ? DST_FD_PATH : t->dest, 0, NULL,
                              a.link >= 0 ? LINK_FD_PATH : NULL};
        argv = ms_rsync_argv(p->rsync, p->extra.v, p->extra.n, &all, &w, err, errlen);
    }
    if (argv) {
        snprintf(c->dst_path, sizeof c->dst_path, "%s%s%s", t->dest,
                 t->snap && t->snap[0] ? "/" : "", t->snap ? t->snap : "");
        struct child_setup setup = {.cwd_fd = a.src_root,
                                    .dst_fd = a.dst,
                                    .link_fd = a.link,
                                    .list_fd = -1,
                                    .argv = argv,
                                    .envp = envp};
        rc = spawn(c, &setup, err, errlen);
    } else if (rc == 0) {
        rc = names ? -1 : ms_errf(err, errlen, "out of memory starting a pack");
    }
    ms_anchor_close(&a);
    ms_rsync_argv_free(argv);
    free(names);
    return rc < 0 ? -1 : rc;
}

int ms_pool_start(ms_pool_t *p, const ms_task_t *t, char *err, size_t errlen)
{
    launch_t l = {.a = {.src_root = -1, .src = -1, .dst = -1, .link_root = -1, .link = -1},
                  .list_fd = -1};
    struct child_setup setup = {0};
    char **argv = NULL, **envp = NULL;
    struct ms_child *c = NULL;
    int slot, rc = -1;

    if (p == NULL)
        return ms_errf(err, errlen, "no pool");
    if (ms_rsync_check_task(t, err, errlen) < 0)
        return -1;
    if ((slot = free_slot(p)) < 0)
        return ms_errf(err, errlen, "pool full: all %u slots busy", p->slots);
    if ((c = child_new(t)) == NULL || (envp = build_env()) == NULL) {
        ms_errf(err, errlen, "out of memory starting rsync");
        goto out;
    }
    if (t->flags & (MS_TASK_REMOVE | MS_TASK_PACK)) {
        rc = (t->flags & MS_TASK_REMOVE) ? start_removal(c, t, envp, err, errlen)
                                         : start_pack(p, c, t, envp, err, errlen);
        if (rc == 0) {
            /* A removal prints one line, at its end: polled. */
            adopt(p, slot, c, (t->flags & MS_TASK_REMOVE) ? 0 : p->out_pipe);
            c = NULL;
        }
        goto out;
    }
    if ((rc = prepare(&l, c, t, err, errlen)) != 0)
        goto out;
    rc = -1;
    /* Local: rsync runs in the source folder, writes into DST_FD. Remote:
     * in the source root, the project sent relative (ms_rsync_where_t). */
    ms_rsync_where_t w = {".",
                          l.a.absent     ? DRY_RUN_NOWHERE
                          : l.a.dst >= 0 ? DST_FD_PATH
                                         : t->dest,
                          is_remote(&l), l.list_fd >= 0 ? "-" : NULL,
                          l.a.link >= 0 ? LINK_FD_PATH : NULL};
    if ((argv = ms_rsync_argv(p->rsync, p->extra.v, p->extra.n, &l.t, &w, err, errlen)) == NULL)
        goto out;
    setup = (struct child_setup){.cwd_fd = is_remote(&l) ? l.a.src_root : l.a.src,
                                 .dst_fd = l.a.dst,
                                 .link_fd = l.a.link,
                                 .list_fd = l.list_fd,
                                 .argv = argv,
                                 .envp = envp};
    if (spawn(c, &setup, err, errlen) < 0)
        goto out;
    adopt(p, slot, c, p->out_pipe);
    c = NULL;
    rc = 0;
out:
    launch_free(&l);
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
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return ms_errf(err, errlen, "cannot block SIGCHLD: %s", strerror(errno));
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        ms_errf(err, errlen, "cannot create a signalfd for SIGCHLD: %s", strerror(errno));
    return fd;
}

/* The stdout pipe each child gets: OUT_PIPE_MAX, within the system's
 * limit for a user (fs.pipe-max-size) and the pool's budget. */
static size_t out_pipe_size(unsigned slots)
{
    unsigned long max = OUT_PIPE_MAX;
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "re");
    size_t size = OUT_PIPE_BUDGET / slots;

    if (f != NULL) {
        if (fscanf(f, "%lu", &max) != 1)
            max = OUT_PIPE_MAX;
        fclose(f);
    }
    if (size > max)
        size = max;
    return size < OUT_PIPE_MAX ? size : OUT_PIPE_MAX;
}

static int check_new_args(const char *rsync, char *const *extra, size_t n_extra, unsigned slots,
                          char *err, size_t errlen)
{
    if (rsync == NULL || rsync[0] == '\0')
        return ms_errf(err, errlen, "no rsync program given");
    if (slots == 0 || slots > MS_MAX_SLOTS)
        return ms_errf(err, errlen, "slots must be 1..%d, not %u", MS_MAX_SLOTS, slots);
    for (size_t i = 0; i < n_extra; i++)
        if (extra == NULL || extra[i] == NULL)
            return ms_errf(err, errlen, "extra rsync option %zu is NULL", i);
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
        ms_errf(err, errlen, "out of memory creating the pool");
        return NULL;
    }
    p->sfd = -1;
    p->slots = slots;
    p->out_pipe = out_pipe_size(slots);
    p->rsync = strdup(rsync);
    p->child = calloc(slots, sizeof(*p->child));
    bool oom = p->rsync == NULL || p->child == NULL;
    for (size_t i = 0; !oom && i < n_extra; i++)
        oom = ms_strv_push(&p->extra, extra[i]) != 0;
    if (oom) {
        ms_errf(err, errlen, "out of memory creating the pool");
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
    ms_strv_clear(&p->extra);
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
        if (!c->out_clocked || c->reaped)
            add_pollfd(fds, max, &n, c->out_fd);
        add_pollfd(fds, max, &n, c->err_fd);
    }
    return n;
}

/* Read what a pipe holds now into its tail buffer, and through items
 * when not NULL (a verify's stdout); close it at EOF (or on an error no
 * retry would fix). Returns whether it stopped with more to read. */
static bool drain_pipe(int *fd, char *keep, size_t cap, size_t *len, ms_rsync_itemize_t *items)
{
    char chunk[READ_CHUNK];

    for (int i = 0; *fd >= 0 && i < READS_PER_CALL; i++) {
        ssize_t n = read(*fd, chunk, sizeof(chunk));

        if (n > 0 && items != NULL)
            ms_rsync_itemize_feed(items, chunk, (size_t)n);
        if (n > 0)
            keep_tail(keep, cap, len, chunk, (size_t)n);
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return false;
        else
            close_fd(fd);
    }
    return *fd >= 0;
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
        return ms_errf(err, errlen, "reading the SIGCHLD signalfd: %s",
                       n < 0 ? strerror(errno) : "end of file");
    }
}

static void record_exit(struct ms_child *c, int status, const struct rusage *ru)
{
    c->reaped = true;
    c->res.seconds = ms_seconds_since(&c->started);
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
    c->res.seconds = ms_seconds_since(&c->started);
    c->res.exit_code = -1;
    return ms_errf(err, errlen, "waiting for rsync pid %ld: %s", (long)c->pid, strerror(e));
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
    /* A verify reads every file whole for its checksums, from the disk or
     * the page cache: what it read is every byte rsync read (rchar), not
     * only what reached the storage layer. */
    if (ms_proc_read_io(c->pid, &io) == 0) {
        c->res.read_bytes = c->verify ? io.rchar : io.read_bytes;
        c->res.write_bytes = io.write_bytes;
    }
    while (wait4(c->pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return lost_child(c, err, errlen);
    record_exit(c, status, &ru);
    return 0;
}

/* Each DST_FD_PATH in s (size bytes) written as the folder it stands for. */
static void name_dst(char *s, size_t size, const char *dst_path)
{
    size_t plen = strlen(DST_FD_PATH), dlen = strlen(dst_path);
    char *at = s;

    while (dst_path[0] != '\0' && (at = strstr(at, DST_FD_PATH)) != NULL) {
        size_t rest = strlen(at + plen);

        if ((size_t)(at - s) + dlen + rest + 1 > size)
            return;
        memmove(at + dlen, at + plen, rest + 1);
        memcpy(at, dst_path, dlen);
        at += dlen;
    }
}

/* Why rsync failed, from how it ended and its stderr's tail. */
static void failure_text(const struct ms_child *c, const char *tail, char *out, size_t outlen)
{
    int sig = c->res.term_signal;
    const char *nl = tail[0] != '\0' ? "\n" : "";

    out[0] = '\0';
    if (c->why[0] != '\0') {
        snprintf(out, outlen, "%s%s%s", c->why, nl, tail);
    } else if (sig != 0) {
        const char *desc = sigdescr_np(sig);
        snprintf(out, outlen, "rsync killed by signal %d (%s)%s%s", sig,
                 desc != NULL ? desc : "unknown signal", nl, tail);
    } else if (c->res.exit_code == -1) {
        snprintf(out, outlen, "rsync exit status unknown (reaped elsewhere)%s%s", nl, tail);
    } else if (c->refused_exit != 0 && c->res.exit_code == c->refused_exit) {
        return; /* rsync succeeded: the note says what was refused */
    } else if (c->res.exit_code != 0 && tail[0] != '\0') {
        snprintf(out, outlen, "%s", tail);
    } else if (c->res.exit_code != 0) {
        snprintf(out, outlen, "rsync exited with code %d", (int)c->res.exit_code);
    }
}

/* The result's message: the worker's note (what it did besides rsync),
 * then why it failed; the destination named by its path. */
static void build_message(struct ms_child *c)
{
    char tail[MSG_TAIL + 1], why[sizeof c->msg];

    ms_rsync_error_tail(c->errbuf, c->err_len, tail, sizeof(tail));
    failure_text(c, tail, why, sizeof why);
    snprintf(c->msg, sizeof c->msg, "%s%s%s", c->note, c->note[0] && why[0] ? "\n" : "", why);
    name_dst(c->msg, sizeof c->msg, c->dst_path);
}

/*
 * A verify whose rsync succeeded (24: source files vanished meanwhile)
 * with itemize lines: the task ends MS_EXIT_DIFFERS and its message is
 * what differs (then the worker's note); a dry run's ends
 * MS_EXIT_WOULD_CHANGE, a success, its message what would change.
 * Returns whether it did.
 */
static bool verify_differs(struct ms_child *c)
{
    ms_rsync_itemize_end(&c->items);
    if (c->items.n == 0 || c->res.term_signal != 0 ||
        (c->res.exit_code != 0 && c->res.exit_code != 24))
        return false;
    c->res.exit_code = c->items.dry_run ? MS_EXIT_WOULD_CHANGE : MS_EXIT_DIFFERS;
    ms_rsync_itemize_text(&c->items, c->msg, sizeof c->msg);
    size_t len = strlen(c->msg);
    if (c->note[0] != '\0')
        snprintf(c->msg + len, sizeof c->msg - len, "%s", c->note);
    return true;
}

static void finish(ms_pool_t *p, struct ms_child *c)
{
    ms_rsync_stats_t st;

    ms_rsync_parse_stats(c->out, c->out_len, &st);
    c->res.files = st.files;
    c->res.bytes_total = st.bytes_total;
    c->res.bytes_transferred = st.bytes_transferred;
    /* rsync did its part; what the worker refused to do fails the task. */
    if (c->refused_exit != 0 && c->res.term_signal == 0 &&
        (c->res.exit_code == 0 || c->res.exit_code == 24))
        c->res.exit_code = c->refused_exit;
    if (!c->verify || !verify_differs(c))
        build_message(c);
    c->finished = true;
    c->seq = ++p->seq;
}

/* What one call of ms_pool_handle was woken for. */
struct wake {
    const struct pollfd *fds; /* as ms_pool_pollfds wrote them, revents set; NULL: anything */
    size_t n, at;             /* at: the next of fds to match, in their order */
    bool sigchld;             /* a child exited (or stopped) */
    bool clock;               /* the clocked pipes are due */
    bool more;                /* one of them was left with more to read */
};

/* Whether poll found fd ready. The descriptors come in ms_pool_pollfds'
 * order, so w->at walks them along; one that was not polled (a clocked
 * stdout, a child started since) matches none. */
static bool ready(struct wake *w, int fd)
{
    if (w->fds == NULL)
        return true;
    if (fd < 0 || w->at >= w->n || w->fds[w->at].fd != fd)
        return false;
    return w->fds[w->at++].revents != 0;
}

static void read_out(struct ms_child *c, struct wake *w)
{
    if (drain_pipe(&c->out_fd, c->out, OUT_KEEP, &c->out_len, c->verify ? &c->items : NULL) &&
        c->out_clocked && !c->reaped)
        w->more = true;
}

static int handle_child(ms_pool_t *p, struct ms_child *c, struct wake *w, char *err, size_t errlen)
{
    bool out_ready = ready(w, c->out_fd), err_ready = ready(w, c->err_fd);
    bool was_reaped = c->reaped;
    int rc = 0;

    /* SIGCHLDs merge: on one, every running child is checked. */
    if (w->sigchld && !c->reaped && try_reap(c, err, errlen) < 0)
        rc = -1;
    bool exited = c->reaped && !was_reaped; /* its pipes are read to the end from now on */
    if (out_ready || exited || (w->clock && c->out_clocked))
        read_out(c, w);
    if (err_ready || exited)
        drain_pipe(&c->err_fd, c->errbuf, ERR_KEEP, &c->err_len, NULL);
    if (c->reaped && c->out_fd < 0 && c->err_fd < 0)
        finish(p, c);
    return rc;
}

/* The clocked pipes were read: when next (0: none is left). */
static void rearm(ms_pool_t *p, bool now)
{
    double every = 0;

    for (unsigned i = 0; i < p->slots; i++) {
        const struct ms_child *c = p->child[i];

        if (c != NULL && c->out_clocked && !c->reaped && (every == 0 || c->read_every < every))
            every = c->read_every;
    }
    p->next_read = every == 0 ? 0 : ms_mono_seconds() + (now ? 0 : every);
}

int ms_pool_handle(ms_pool_t *p, const struct pollfd *fds, size_t n, char *err, size_t errlen)
{
    struct wake w = {.fds = fds, .n = n};
    int rc = 0;

    if (p == NULL)
        return 0;
    w.sigchld = ready(&w, p->sfd);
    w.clock = p->next_read > 0 && ms_mono_seconds() >= p->next_read;
    if (w.sigchld && drain_signalfd(p->sfd, err, errlen) < 0)
        rc = -1;
    for (unsigned i = 0; i < p->slots; i++) {
        struct ms_child *c = p->child[i];

        if (c != NULL && !c->finished && handle_child(p, c, &w, err, errlen) < 0)
            rc = -1;
    }
    if (w.clock || w.more)
        rearm(p, w.more);
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
        c->term_at = ms_mono_now();
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
        double left = MS_POOL_KILL_GRACE_S - ms_seconds_since(&c->term_at);
        if (left <= 0)
            killpg(c->pid, SIGKILL); /* repeated each call until it is reaped */
        return left > 0 ? left : 0.1;
    }
    if (c->timeout_s <= 0)
        return -1;
    double left = c->timeout_s - ms_seconds_since(&c->started);
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

    if (p != NULL && p->next_read > 0) {
        double left = p->next_read - ms_mono_seconds();
        next = left > 0 ? left : 0;
    }
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

/* What the rsync the pool started has read so far. For a copy that process
 * is the sender (it forks the receiver), so its rchar is the source's bytes
 * it went through, as rsync's own progress counts them, plus a little of the
 * protocol; the master caps it at the task's size. 0 when /proc says nothing
 * (the child just exited). */
static uint64_t bytes_read(const struct ms_child *c)
{
    ms_proc_io_t io;
    return ms_proc_read_io(c->pid, &io) == 0 ? io.rchar : 0;
}

size_t ms_pool_progress(const ms_pool_t *p, ms_progress_t *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; p != NULL && i < p->slots && n < max; i++) {
        const struct ms_child *c = p->child[i];
        if (c != NULL && !c->finished && !c->reaped)
            out[n++] =
                (ms_progress_t){c->res.run_id, c->res.task_id, c->res.attempt, bytes_read(c)};
    }
    return n;
}

int ms_pool_remove_tree_main(const char *name)
{
    char err[1024];
    uint64_t removed = 0;
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = here < 0
                 ? ms_errf(err, sizeof err, "cannot open the working folder: %s", strerror(errno))
                 : ms_snap_rmtree(here, name, &removed, err, sizeof err);
    if (here >= 0)
        close(here);
    printf("Number of files: %llu\n", (unsigned long long)removed);
    if (rc != 0)
        fprintf(stderr, "cannot remove %s: %s\n", name, err);
    return rc == 0 ? 0 : 1;
}
