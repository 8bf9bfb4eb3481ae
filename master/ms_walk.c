/*
 * ms_walk.c - the walk of a run's projects, in threads that share the
 * folders to read (see ms_walk.h); one project's walk, and the walk in
 * one thread, are ms_wtree.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <sodium.h>

#include "ms_walk.h"
#include "ms_wtree.h"

#define WALK_THREADS_DEFAULT_MAX 8 /* by default; more gains little: the disks are the limit */

unsigned ms_walk_threads_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > WALK_THREADS_DEFAULT_MAX ? WALK_THREADS_DEFAULT_MAX : (unsigned)n;
}

/* --- the threads ----------------------------------------------------------- */

struct ms_walker {
    pthread_t *threads;
    size_t n_threads, n_started;
    int efd;
    atomic_int stop;
    char *source;
    char **projects;
    uint64_t *ids;
    size_t n;
    uint64_t keep_min;
    pthread_mutex_t lock; /* guards what follows */
    pthread_cond_t more;  /* folders to read, or the end */
    size_t next;          /* the next project to start */
    ms_wdir_t *stack;     /* folders to read, of the projects under way */
    ms_wtree_t **live;    /* the projects under way (at most n_threads) */
    size_t n_live;
    size_t busy; /* threads reading a folder */
    ms_walk_t **out;
    size_t n_out, cap_out;
    int done;
};

static void wake_reader(ms_walker_t *wk)
{
    uint64_t one = 1;
    if (write(wk->efd, &one, sizeof one) < 0) {
        /* an eventfd write fails only on overflow: the reader is woken */
    }
}

/* Hand walk w over (the lock held). */
static void hand_over(ms_walker_t *wk, ms_walk_t *w)
{
    if (wk->n_out == wk->cap_out) {
        size_t ncap = wk->cap_out ? wk->cap_out * 2 : 64;
        ms_walk_t **no = realloc(wk->out, ncap * sizeof *no);
        if (no) {
            wk->out = no;
            wk->cap_out = ncap;
        }
    }
    if (wk->n_out < wk->cap_out)
        wk->out[wk->n_out++] = w;
    else
        ms_walk_free(&w); /* out of memory: the project runs whole */
    wake_reader(wk);
}

/* An empty, incomplete walk for project i (out of memory: it runs whole),
 * handed over (the lock held). */
static void hand_over_unwalked(ms_walker_t *wk, uint64_t task_id)
{
    ms_walk_t *w = calloc(1, sizeof *w);
    if (w) {
        w->task_id = task_id;
        w->incomplete = w->unread = 1;
        hand_over(wk, w);
    }
}

/* The next project's first folder (the lock held), or NULL when none is
 * left to start. */
static ms_wdir_t *start_project(ms_walker_t *wk)
{
    /* Never more projects under way than threads: with no folder waiting,
     * each is read by a thread (live has room for one more). */
    while (wk->next < wk->n && wk->n_live <= wk->n_threads) {
        size_t i = wk->next++;
        ms_wdir_t *root = NULL;
        ms_wtree_t *t = ms_wtree_new(wk->source, wk->projects[i], wk->ids[i], wk->keep_min, &root);
        if (t) {
            wk->live[wk->n_live++] = t;
            return root;
        }
        hand_over_unwalked(wk, wk->ids[i]);
    }
    return NULL;
}

/* The next folder to read (the lock held, waiting for one), or NULL when
 * the walk is over or stopped. */
static ms_wdir_t *next_folder(ms_walker_t *wk)
{
    for (;;) {
        ms_wdir_t *d = NULL;
        if (atomic_load(&wk->stop))
            return NULL;
        if ((d = ms_wdir_pop(&wk->stack)) || (d = start_project(wk)))
            return d;
        if (wk->busy == 0) {
            if (!wk->done) {
                wk->done = 1;
                wake_reader(wk);
            }
            pthread_cond_broadcast(&wk->more);
            return NULL;
        }
        pthread_cond_wait(&wk->more, &wk->lock);
    }
}

/* Tree t is complete: out of the projects under way, its walk handed over
 * (the lock held; released while the walk is made). */
static void finish_project(ms_walker_t *wk, ms_wtree_t *t)
{
    uint64_t task_id = ms_wtree_task_id(t);
    for (size_t i = 0; i < wk->n_live; i++)
        if (wk->live[i] == t)
            wk->live[i] = wk->live[--wk->n_live];
    pthread_mutex_unlock(&wk->lock);
    ms_walk_t *w = ms_wtree_finish(&t);
    pthread_mutex_lock(&wk->lock);
    if (w)
        hand_over(wk, w);
    else if (!atomic_load(&wk->stop))
        hand_over_unwalked(wk, task_id);
    pthread_cond_broadcast(&wk->more);
}

static void *walker_main(void *arg)
{
    ms_walker_t *wk = arg;
    pthread_mutex_lock(&wk->lock);
    ms_wdir_t *d;
    while ((d = next_folder(wk)) != NULL) {
        wk->busy++;
        pthread_mutex_unlock(&wk->lock);
        ms_wdir_t *subs = NULL;
        ms_wtree_t *t = ms_wdir_tree(d);
        int rc = ms_wtree_read(d, &wk->stop, &subs);
        pthread_mutex_lock(&wk->lock);
        if (subs) {
            ms_wdir_push(&wk->stack, subs);
            pthread_cond_broadcast(&wk->more);
        }
        if (rc == 1)
            finish_project(wk, t);
        wk->busy--;
    }
    pthread_mutex_unlock(&wk->lock);
    return NULL;
}

static void walker_free(ms_walker_t *wk)
{
    for (size_t i = 0; i < wk->n; i++)
        free(wk->projects ? wk->projects[i] : NULL);
    free(wk->projects);
    free(wk->ids);
    for (size_t i = 0; i < wk->n_live; i++)
        ms_wtree_destroy(&wk->live[i]);
    free(wk->live);
    for (size_t i = 0; i < wk->n_out; i++)
        ms_walk_free(&wk->out[i]);
    free(wk->out);
    free(wk->source);
    free(wk->threads);
    if (wk->efd >= 0)
        close(wk->efd);
    pthread_cond_destroy(&wk->more);
    pthread_mutex_destroy(&wk->lock);
    free(wk);
}

/* A walker of n projects with threads threads, not started; NULL (err
 * set) when out of memory. */
static ms_walker_t *walker_new(const char *source, char *const *projects, const uint64_t *ids,
                               size_t n, unsigned threads, char *err, size_t errlen)
{
    ms_walker_t *wk = calloc(1, sizeof *wk);
    if (!wk) {
        snprintf(err, errlen, "walk: out of memory");
        return NULL;
    }
    pthread_mutex_init(&wk->lock, NULL);
    pthread_cond_init(&wk->more, NULL);
    wk->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    wk->n_threads = threads ? threads : ms_walk_threads_default();
    wk->threads = calloc(wk->n_threads, sizeof *wk->threads);
    wk->live = calloc(wk->n_threads + 1, sizeof *wk->live);
    wk->source = strdup(source);
    wk->projects = calloc(n ? n : 1, sizeof *wk->projects);
    wk->ids = calloc(n ? n : 1, sizeof *wk->ids);
    int ok = wk->efd >= 0 && wk->threads && wk->live && wk->source && wk->projects && wk->ids;
    for (size_t i = 0; ok && i < n; i++) {
        wk->ids[i] = ids[i];
        ok = (wk->projects[i] = strdup(projects[i])) != NULL;
        wk->n = i + 1;
    }
    if (!ok) {
        snprintf(err, errlen, "walk: %s", wk->efd < 0 ? strerror(errno) : "out of memory");
        walker_free(wk);
        return NULL;
    }
    return wk;
}

/* Stop the threads started and join them. */
static void walker_join(ms_walker_t *wk)
{
    atomic_store(&wk->stop, 1);
    pthread_mutex_lock(&wk->lock);
    pthread_cond_broadcast(&wk->more);
    pthread_mutex_unlock(&wk->lock);
    for (size_t i = 0; i < wk->n_started; i++)
        pthread_join(wk->threads[i], NULL);
    wk->stack = NULL; /* its folders are the live trees': freed with them */
}

ms_walker_t *ms_walker_start(const char *source, char *const *projects, const uint64_t *ids,
                             size_t n, uint64_t keep_min, unsigned threads, char *err,
                             size_t errlen)
{
    if (sodium_init() < 0) { /* before any thread: BLAKE2b's fastest code */
        snprintf(err, errlen, "walk: libsodium cannot start");
        return NULL;
    }
    ms_walker_t *wk = walker_new(source, projects, ids, n, threads, err, errlen);
    if (!wk)
        return NULL;
    wk->keep_min = keep_min;
    int rc = 0;
    while (wk->n_started < wk->n_threads &&
           (rc = pthread_create(&wk->threads[wk->n_started], NULL, walker_main, wk)) == 0)
        wk->n_started++;
    if (wk->n_started == 0) { /* fewer than asked is fine; none is not */
        snprintf(err, errlen, "walk: cannot start a thread: %s", strerror(rc));
        walker_free(wk);
        return NULL;
    }
    return wk;
}

int ms_walker_fd(const ms_walker_t *wk)
{
    return wk->efd;
}

ms_walk_t **ms_walker_take(ms_walker_t *wk, size_t *n, int *done)
{
    uint64_t count;
    if (read(wk->efd, &count, sizeof count) < 0) {
        /* EAGAIN: nothing signalled since the last take */
    }
    pthread_mutex_lock(&wk->lock);
    ms_walk_t **out = wk->out;
    *n = wk->n_out;
    *done = wk->done;
    wk->out = NULL;
    wk->n_out = wk->cap_out = 0;
    pthread_mutex_unlock(&wk->lock);
    return out;
}

void ms_walker_stop(ms_walker_t **wkp)
{
    if (!wkp || !*wkp)
        return;
    walker_join(*wkp);
    walker_free(*wkp);
    *wkp = NULL;
}
