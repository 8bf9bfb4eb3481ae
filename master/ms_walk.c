#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ms_split.h"
#include "ms_walk.h"

#define NONE ((size_t)-1)

/* The regular files of more than one link the walk met, by device and
 * inode (an open-addressing set): a second path to one of them is a hard
 * link inside the project. */
typedef struct {
    dev_t dev;
    ino_t ino;
} file_id_t;

typedef struct {
    file_id_t *slot; /* ino 0: free (no file has inode 0) */
    size_t cap, n;   /* cap: a power of two, or 0 */
} linked_t;

typedef struct {
    ms_walk_t *w;
    linked_t linked;
    size_t cap;
    uint64_t keep_min;
    const atomic_int *stop;
    int oom;
    size_t plen;     /* the length of path */
    size_t root_len; /* of the project's folder in path: what follows is the relative path */
    ms_fp_t root_fp; /* the project's folder's own */
    char path[PATH_MAX + NAME_MAX + 2]; /* a folder's, then one of its entries' */
} walk_ctx_t;

/* What a subtree adds up to: bytes of regular files, entries, fingerprint. */
typedef struct {
    uint64_t bytes, files;
    ms_fp_t fp;
} sum_t;

typedef struct {
    char *name;
    int is_dir;
    uint64_t size; /* regular files */
    ms_fp_t fp;    /* its own (a folder's: not its entries') */
} entry_t;

/* Append a node; NONE when there are too many (the walk is then incomplete). */
static size_t add_node(walk_ctx_t *c, const char *name, size_t parent, int is_dir)
{
    ms_walk_t *w = c->w;
    if (w->n_nodes >= MS_WALK_MAX_NODES) {
        w->incomplete = 1;
        return NONE;
    }
    if (w->n_nodes == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 4;
        ms_wnode_t *nn = realloc(w->nodes, ncap * sizeof *nn);
        if (!nn) {
            c->oom = 1;
            return NONE;
        }
        w->nodes = nn;
        c->cap = ncap;
    }
    ms_wnode_t *n = &w->nodes[w->n_nodes];
    memset(n, 0, sizeof *n);
    if (!(n->name = strdup(name))) {
        c->oom = 1;
        return NONE;
    }
    n->parent = (uint32_t)parent;
    n->is_dir = (uint8_t)is_dir;
    return w->n_nodes++;
}

static void free_list(ms_wlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].name);
    free(l->e);
}

/* Drop the name lists of the nodes from index from on. */
static void drop_lists(ms_walk_t *w, size_t from)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->n_lists; i++) {
        if (w->lists[i].node >= from)
            free_list(&w->lists[i]);
        else
            w->lists[kept++] = w->lists[i];
    }
    w->n_lists = kept;
}

/* Drop the nodes from index keep on (a subtree too small to keep), and
 * their name lists. */
static void truncate_nodes(ms_walk_t *w, size_t keep)
{
    for (size_t i = keep; i < w->n_nodes; i++)
        free(w->nodes[i].name);
    if (keep < w->n_nodes)
        w->n_nodes = keep;
    drop_lists(w, keep);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const ms_wentry_t *)a)->name, ((const ms_wentry_t *)b)->name);
}

/* Keep folder node k's entries as a sorted name list; takes the names
 * (their owners' pointers are set to NULL). Out of memory: nothing kept. */
static void keep_list(walk_ctx_t *c, size_t k, entry_t *e, size_t n, const sum_t *sums)
{
    ms_walk_t *w = c->w;
    ms_wlist_t *nl = realloc(w->lists, (w->n_lists + 1) * sizeof *nl);
    if (!nl)
        return;
    w->lists = nl;
    ms_wentry_t *le = malloc(n * sizeof *le);
    if (!le)
        return;
    for (size_t i = 0; i < n; i++) {
        le[i] = (ms_wentry_t){
            .name = e[i].name, .bytes = sums[i].bytes, .files = sums[i].files, .fp = sums[i].fp};
        e[i].name = NULL;
    }
    qsort(le, n, sizeof *le, cmp_entry);
    w->lists[w->n_lists++] = (ms_wlist_t){.node = k, .e = le, .n = n};
}

static size_t slot_of(const linked_t *l, dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;
    size_t i = (size_t)(h ^ (h >> 29)) & (l->cap - 1);
    while (l->slot[i].ino && (l->slot[i].ino != ino || l->slot[i].dev != dev))
        i = (i + 1) & (l->cap - 1);
    return i;
}

/* Room for one more at half load; -1 when out of memory. */
static int linked_grow(linked_t *l)
{
    if (2 * (l->n + 1) <= l->cap)
        return 0;
    linked_t bigger = {calloc(l->cap ? 2 * l->cap : 64, sizeof *bigger.slot),
                       l->cap ? 2 * l->cap : 64, l->n};
    if (!bigger.slot)
        return -1;
    for (size_t i = 0; i < l->cap; i++)
        if (l->slot[i].ino)
            bigger.slot[slot_of(&bigger, l->slot[i].dev, l->slot[i].ino)] = l->slot[i];
    free(l->slot);
    *l = bigger;
    return 0;
}

/*
 * A regular file of more than one link: a hard link inside the project
 * when the walk met it before, by another path. Links to files outside
 * the project do not count: a snapshot shares its unchanged files with
 * the other snapshots, and that must not keep its projects whole when
 * they are restored. Out of memory: taken as a link (whole is safe).
 */
static void note_linked(walk_ctx_t *c, const struct stat *st)
{
    linked_t *l = &c->linked;
    if (c->w->hardlinks || st->st_ino == 0)
        return;
    if (linked_grow(l) != 0) {
        c->w->hardlinks = 1;
        return;
    }
    size_t i = slot_of(l, st->st_dev, st->st_ino);
    if (l->slot[i].ino) {
        c->w->hardlinks = 1;
        return;
    }
    l->slot[i] = (file_id_t){st->st_dev, st->st_ino};
    l->n++;
}

static void free_entries(entry_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

/* The path of c->path relative to the project's folder ("" for itself). */
static const char *relpath(const walk_ctx_t *c)
{
    return c->plen > c->root_len ? c->path + c->root_len + 1 : "";
}

/* The fingerprint of the entry name of the folder at c->path (lstat st),
 * fd that folder: its path relative to the project, and a link's target.
 * A target that cannot be read leaves the walk unread. */
static ms_fp_t entry_fp(walk_ctx_t *c, int fd, const char *name, const struct stat *st)
{
    size_t len = strlen(name), saved = c->plen;
    char target[PATH_MAX];
    ssize_t tlen = 0;
    if (S_ISLNK(st->st_mode) && (tlen = readlinkat(fd, name, target, sizeof target)) < 0) {
        c->w->unread = c->w->incomplete = 1;
        tlen = 0;
    }
    c->path[c->plen++] = '/';
    memcpy(c->path + c->plen, name, len + 1);
    c->plen += len;
    ms_fp_t fp = ms_fp_entry(relpath(c), st, S_ISLNK(st->st_mode) ? target : NULL, (size_t)tlen);
    c->path[saved] = '\0';
    c->plen = saved;
    return fp;
}

/* Read the folder at c->path: its entries (lstat'ed and fingerprinted),
 * without "." and "..". Returns -1 when it cannot be read (the walk is then
 * incomplete). */
static int read_folder(walk_ctx_t *c, entry_t **out, size_t *n_out)
{
    DIR *d = opendir(c->path);
    *out = NULL;
    *n_out = 0;
    if (!d)
        return -1;
    struct stat self;
    if (c->plen == c->root_len && fstat(dirfd(d), &self) == 0)
        c->root_fp = ms_fp_entry("", &self, NULL, 0);
    entry_t *e = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    errno = 0;
    while ((de = readdir(d)) != NULL && !atomic_load(c->stop)) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* not just vanished: the sizes miss it */
                rc = -1;
            errno = 0; /* else readdir's end would read as its error */
            continue;
        }
        if (S_ISREG(st.st_mode) && st.st_nlink > 1)
            note_linked(c, &st);
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            entry_t *ne = realloc(e, ncap * sizeof *ne);
            if (!ne)
                goto oom;
            e = ne;
            cap = ncap;
        }
        if (!(e[n].name = strdup(de->d_name)))
            goto oom;
        e[n].is_dir = S_ISDIR(st.st_mode);
        e[n].size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        e[n].fp = entry_fp(c, dirfd(d), de->d_name, &st);
        n++;
        errno = 0;
    }
    if (errno != 0)
        rc = -1;
    closedir(d);
    *out = e;
    *n_out = n;
    return rc;
oom:
    c->oom = 1;
    closedir(d);
    free_entries(e, n);
    *out = NULL;
    *n_out = 0;
    return 0;
}

static void walk_folder(walk_ctx_t *c, size_t k, sum_t *s);

/* A folder's entries as the walk sees them: its own files' total, whether
 * they are kept as nodes, and, for a folder of too many entries for nodes,
 * each entry's subtree for its name list (es; NULL when not listed). */
typedef struct {
    entry_t *e;
    size_t n;
    uint64_t own_bytes, own_files;
    int keep_files;
    sum_t *es;
} folder_t;

static void describe_folder(const walk_ctx_t *c, size_t k, folder_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (!f->e[i].is_dir) {
            f->own_bytes += f->e[i].size;
            f->own_files++;
        }
    f->keep_files = k != NONE && f->own_files <= MS_WALK_MAX_FILES &&
                    ms_split_cost(f->own_bytes, f->own_files) >= (double)c->keep_min;
    /* Too many entries for nodes: their subtrees, for a name list. */
    if (k != NONE && f->n > MS_WALK_MAX_FILES && f->n <= MS_WALK_MAX_LIST)
        f->es = malloc(f->n * sizeof *f->es);
}

/* A file entry of the folder k: a node of its own when the folder keeps
 * its files. */
static void walk_file(walk_ctx_t *c, size_t k, const folder_t *f, const entry_t *e)
{
    size_t node = f->keep_files ? add_node(c, e->name, k, 0) : NONE;
    if (node != NONE) {
        c->w->nodes[node].bytes = e->size;
        c->w->nodes[node].files = 1;
        c->w->nodes[node].fp = e->fp;
    }
}

/* The subfolder e of the folder k, walked: its subtree in *sub (itself
 * included; sub->fp holds its own when called); 0, or -1 when its path is
 * too long (not walked). */
static int walk_sub(walk_ctx_t *c, size_t k, const entry_t *e, sum_t *sub)
{
    size_t len = strlen(e->name), saved = c->plen;
    if (c->plen + 1 + len >= PATH_MAX)
        return -1;
    c->path[c->plen++] = '/';
    memcpy(c->path + c->plen, e->name, len + 1);
    c->plen += len;
    size_t d = k != NONE ? add_node(c, e->name, k, 1) : NONE;
    walk_folder(c, d, sub);
    c->path[saved] = '\0';
    c->plen = saved;
    if (d != NONE) {
        ms_wnode_t *dn = &c->w->nodes[d];
        dn->bytes = sub->bytes;
        dn->files = sub->files;
        dn->fp = sub->fp;
        dn->kept = ms_split_cost(sub->bytes, sub->files) >= (double)c->keep_min;
        if (!dn->kept) {
            truncate_nodes(c->w, d + 1);
            drop_lists(c->w, d);
        }
    }
    return 0;
}

/*
 * Walk the folder at c->path, whose node is k (NONE: not kept), adding its
 * entries' subtrees to *s.
 */
static void walk_folder(walk_ctx_t *c, size_t k, sum_t *s)
{
    folder_t f = {0};
    if (read_folder(c, &f.e, &f.n) != 0)
        c->w->incomplete = c->w->unread = 1;
    describe_folder(c, k, &f);
    for (size_t i = 0; i < f.n && !c->oom && !atomic_load(c->stop); i++) {
        sum_t sub = {f.e[i].size, 1, f.e[i].fp};
        if (!f.e[i].is_dir)
            walk_file(c, k, &f, &f.e[i]);
        else if (walk_sub(c, k, &f.e[i], &sub) != 0)
            c->w->incomplete = c->w->unread = 1; /* its path is too long: not walked */
        s->bytes += sub.bytes;
        s->files += sub.files;
        ms_fp_add(&s->fp, sub.fp);
        if (f.es)
            f.es[i] = sub;
    }
    if (f.es && !c->oom && !atomic_load(c->stop))
        keep_list(c, k, f.e, f.n, f.es);
    free(f.es);
    free_entries(f.e, f.n);
}

ms_walk_t *ms_walk_project(const char *source, const char *project, uint64_t task_id,
                           uint64_t keep_min, const atomic_int *stop)
{
    walk_ctx_t *c = calloc(1, sizeof *c);
    ms_walk_t *w = calloc(1, sizeof *w);
    if (!c || !w || sodium_init() < 0) /* sodium_init: BLAKE2b's fastest code */
        goto fail;
    c->w = w;
    c->keep_min = keep_min;
    c->stop = stop;
    w->task_id = task_id;
    int len = snprintf(c->path, PATH_MAX, "%s/%s", source, project);
    if (len < 0 || len >= PATH_MAX) {
        w->incomplete = w->unread = 1;
        free(c);
        return w;
    }
    c->plen = c->root_len = (size_t)len;
    size_t root = add_node(c, "", 0, 1);
    if (root == NONE)
        goto fail;
    sum_t s = {0, 1, {0, 0}};
    walk_folder(c, root, &s);
    ms_fp_add(&s.fp, c->root_fp);
    w->bytes = s.bytes;
    w->files = s.files;
    w->fp = s.fp;
    w->nodes[0].bytes = w->bytes;
    w->nodes[0].files = w->files;
    w->nodes[0].fp = w->fp;
    w->nodes[0].kept = 1;
    if (c->oom || atomic_load(stop))
        goto fail;
    free(c->linked.slot);
    free(c);
    return w;
fail:
    if (c)
        free(c->linked.slot);
    free(c);
    ms_walk_free(&w);
    return NULL;
}

void ms_walk_free(ms_walk_t **wp)
{
    if (!wp || !*wp)
        return;
    ms_walk_t *w = *wp;
    truncate_nodes(w, 0);
    free(w->nodes);
    free(w->lists);
    free(w);
    *wp = NULL;
}

/* --- the thread ------------------------------------------------------------ */

struct ms_walker {
    pthread_t thread;
    int efd;
    atomic_int stop;
    char *source;
    char **projects;
    uint64_t *ids;
    size_t n;
    uint64_t keep_min;
    pthread_mutex_t lock; /* guards what follows */
    ms_walk_t **out;
    size_t n_out, cap_out;
    int done;
};

static void hand_over(ms_walker_t *wk, ms_walk_t *w)
{
    pthread_mutex_lock(&wk->lock);
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
    pthread_mutex_unlock(&wk->lock);
}

static void *walker_main(void *arg)
{
    ms_walker_t *wk = arg;
    for (size_t i = 0; i < wk->n && !atomic_load(&wk->stop); i++) {
        ms_walk_t *w =
            ms_walk_project(wk->source, wk->projects[i], wk->ids[i], wk->keep_min, &wk->stop);
        if (!w && !atomic_load(&wk->stop) && (w = calloc(1, sizeof *w))) {
            w->task_id = wk->ids[i]; /* out of memory: an empty, incomplete walk */
            w->incomplete = w->unread = 1;
        }
        if (w)
            hand_over(wk, w);
        uint64_t one = 1;
        if (write(wk->efd, &one, sizeof one) < 0) {
            /* an eventfd write fails only on overflow: the reader is woken */
        }
    }
    pthread_mutex_lock(&wk->lock);
    wk->done = 1;
    pthread_mutex_unlock(&wk->lock);
    uint64_t one = 1;
    if (write(wk->efd, &one, sizeof one) < 0) {
    }
    return NULL;
}

static void walker_free(ms_walker_t *wk)
{
    for (size_t i = 0; i < wk->n; i++)
        free(wk->projects ? wk->projects[i] : NULL);
    free(wk->projects);
    free(wk->ids);
    for (size_t i = 0; i < wk->n_out; i++)
        ms_walk_free(&wk->out[i]);
    free(wk->out);
    free(wk->source);
    if (wk->efd >= 0)
        close(wk->efd);
    pthread_mutex_destroy(&wk->lock);
    free(wk);
}

ms_walker_t *ms_walker_start(const char *source, char *const *projects, const uint64_t *ids,
                             size_t n, uint64_t keep_min, char *err, size_t errlen)
{
    ms_walker_t *wk = calloc(1, sizeof *wk);
    if (!wk) {
        snprintf(err, errlen, "walk: out of memory");
        return NULL;
    }
    pthread_mutex_init(&wk->lock, NULL);
    wk->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    wk->keep_min = keep_min;
    wk->source = strdup(source);
    wk->projects = calloc(n ? n : 1, sizeof *wk->projects);
    wk->ids = calloc(n ? n : 1, sizeof *wk->ids);
    int ok = wk->efd >= 0 && wk->source && wk->projects && wk->ids;
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
    int rc = pthread_create(&wk->thread, NULL, walker_main, wk);
    if (rc != 0) {
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
    ms_walker_t *wk = *wkp;
    atomic_store(&wk->stop, 1);
    pthread_join(wk->thread, NULL);
    walker_free(wk);
    *wkp = NULL;
}
