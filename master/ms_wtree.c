/*
 * ms_wtree.c - one project's walk, folder by folder (see ms_wtree.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ms_split.h"
#include "ms_wtree.h"

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

/* What a kept folder keeps of an entry once complete: a node (its
 * subfolders always, its files when it keeps them), in readdir order. */
typedef struct {
    char *name;
    uint8_t is_dir, kept;
    sum_t sum;
    ms_wdir_t *dir; /* a kept subfolder's own, or NULL */
} kid_t;

struct ms_wdir {
    ms_wtree_t *tree;
    ms_wdir_t *parent; /* NULL for the project's own */
    ms_wdir_t *next;   /* in the caller's stack */
    size_t slot;       /* its entry in its parent's */
    size_t len;        /* of its path (ms_wtree.c: dir_path) */
    ms_fp_t own;       /* its own entry's fingerprint */
    entry_t *e;        /* until complete: its entries, */
    sum_t *es;         /* each one's subtree (a subfolder's once complete), */
    ms_wdir_t **sub;   /* each subfolder (NULL once complete and not kept) */
    size_t n;
    atomic_size_t pending; /* subfolders not complete yet */
    kid_t *kids;           /* complete and kept: its nodes */
    size_t n_kids;
    ms_wentry_t *list; /* complete and kept: its name list, or NULL */
    size_t n_list;
};

struct ms_wtree {
    uint64_t task_id, keep_min;
    char *root_path; /* the project's folder's; NULL when too long */
    size_t root_len; /* its length: what follows in a path is relative to the project */
    ms_wdir_t *root;
    sum_t total;
    atomic_size_t n_kids; /* nodes kept so far, beyond which none are */
    pthread_mutex_t lock; /* guards linked */
    linked_t linked;
    atomic_int hardlinks;  /* two paths in the project are one regular file */
    atomic_int incomplete; /* some folder could not be read, or too many nodes */
    atomic_int unread;     /* some folder, entry or link could not be read */
    atomic_int oom;
};

static void free_entries(entry_t *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        free(e[i].name);
    free(e);
}

static void free_list(ms_wentry_t *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        free(e[i].name);
    free(e);
}

/* Free folder d and everything below it, in whatever state. */
static void free_dir(ms_wdir_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->sub && i < d->n; i++)
        free_dir(d->sub[i]);
    for (size_t i = 0; i < d->n_kids; i++) {
        free(d->kids[i].name);
        free_dir(d->kids[i].dir);
    }
    free(d->kids);
    free_list(d->list, d->n_list);
    free_entries(d->e, d->n);
    free(d->es);
    free(d->sub);
    free(d);
}

static ms_wdir_t *new_dir(ms_wtree_t *t, ms_wdir_t *parent, size_t slot, size_t len)
{
    ms_wdir_t *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->tree = t;
    d->parent = parent;
    d->slot = slot;
    d->len = len;
    atomic_init(&d->pending, 0);
    return d;
}

ms_wtree_t *ms_wtree_new(const char *source, const char *project, uint64_t task_id,
                         uint64_t keep_min, ms_wdir_t **root)
{
    ms_wtree_t *t = calloc(1, sizeof *t);
    char *path = malloc(PATH_MAX);
    if (!t || !path) {
        free(t);
        free(path);
        return NULL;
    }
    t->task_id = task_id;
    t->keep_min = keep_min;
    pthread_mutex_init(&t->lock, NULL);
    int len = snprintf(path, PATH_MAX, "%s/%s", source, project);
    if (len < 0 || len >= PATH_MAX) {
        free(path); /* too long: the walk of nothing, incomplete */
        path = NULL;
        atomic_store(&t->incomplete, 1);
        atomic_store(&t->unread, 1);
    }
    t->root_len = len > 0 ? (size_t)len : 0;
    t->root_path = path;
    if (!(t->root = new_dir(t, NULL, 0, t->root_len))) {
        free(path);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
    }
    *root = t->root;
    return t;
}

ms_wtree_t *ms_wdir_tree(const ms_wdir_t *d)
{
    return d->tree;
}

uint64_t ms_wtree_task_id(const ms_wtree_t *t)
{
    return t->task_id;
}

void ms_wdir_push(ms_wdir_t **stack, ms_wdir_t *subs)
{
    if (!subs)
        return;
    ms_wdir_t *last = subs;
    while (last->next)
        last = last->next;
    last->next = *stack;
    *stack = subs;
}

ms_wdir_t *ms_wdir_pop(ms_wdir_t **stack)
{
    ms_wdir_t *d = *stack;
    if (d) {
        *stack = d->next;
        d->next = NULL;
    }
    return d;
}

/* --- reading a folder ------------------------------------------------------ */

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
static void note_linked(ms_wtree_t *t, const struct stat *st)
{
    if (atomic_load(&t->hardlinks) || st->st_ino == 0)
        return;
    pthread_mutex_lock(&t->lock);
    linked_t *l = &t->linked;
    size_t i = linked_grow(l) == 0 ? slot_of(l, st->st_dev, st->st_ino) : SIZE_MAX;
    if (i == SIZE_MAX || l->slot[i].ino) {
        atomic_store(&t->hardlinks, 1);
    } else {
        l->slot[i] = (file_id_t){st->st_dev, st->st_ino};
        l->n++;
    }
    pthread_mutex_unlock(&t->lock);
}

static void set_unread(ms_wtree_t *t)
{
    atomic_store(&t->incomplete, 1);
    atomic_store(&t->unread, 1);
}

/* The fingerprint of the entry name (lstat st) of the folder at path (of
 * length plen, in a buffer with room for the name), fd that folder: its
 * path relative to the project, and a link's target. A target that cannot
 * be read leaves the walk unread. */
static ms_fp_t entry_fp(ms_wtree_t *t, char *path, size_t plen, int fd, const char *name,
                        const struct stat *st)
{
    ms_fp_t fp;
    path[plen] = '/';
    strcpy(path + plen + 1, name);
    if (ms_fp_at(fd, name, path + t->root_len + 1, st, &fp) != 0)
        set_unread(t);
    path[plen] = '\0';
    return fp;
}

/* One more entry at the end of *e (of *n, room for *cap); -1 when out of memory. */
static int add_entry(entry_t **e, size_t *n, size_t *cap, const char *name)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        entry_t *ne = realloc(*e, ncap * sizeof *ne);
        if (!ne)
            return -1;
        *e = ne;
        *cap = ncap;
    }
    if (!((*e)[*n].name = strdup(name)))
        return -1;
    (*n)++;
    return 0;
}

/* Read the open folder dir at path (length plen, in a buffer with room for
 * a name): its entries, lstat'ed and fingerprinted, without "." and "..".
 * Returns 0, 1 when some entry could not be read, -1 when out of memory or
 * stopped (nothing kept). */
static int read_entries(ms_wtree_t *t, DIR *dir, char *path, size_t plen, const atomic_int *stop,
                        entry_t **out, size_t *n_out)
{
    entry_t *e = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    errno = 0;
    while ((de = readdir(dir)) != NULL) {
        if (atomic_load(stop))
            goto fail;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* not just vanished: the sizes miss it */
                rc = 1;
            errno = 0; /* else readdir's end would read as its error */
            continue;
        }
        if (S_ISREG(st.st_mode) && st.st_nlink > 1)
            note_linked(t, &st);
        if (add_entry(&e, &n, &cap, de->d_name) != 0) {
            atomic_store(&t->oom, 1);
            goto fail;
        }
        e[n - 1].is_dir = S_ISDIR(st.st_mode);
        e[n - 1].size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
        e[n - 1].fp = entry_fp(t, path, plen, dirfd(dir), de->d_name, &st);
        errno = 0;
    }
    *out = e;
    *n_out = n;
    return errno != 0 ? 1 : rc;
fail:
    free_entries(e, n);
    return -1;
}

/*
 * Folder d's path, in buf (PATH_MAX bytes at least): the project's folder,
 * then the names of d's folders in their parents' entries. Folders are
 * not given a path of their own: a folder waiting to be read could be one
 * of millions, and its folders' entries are there until it completes.
 */
static const char *dir_path(const ms_wdir_t *d, char *buf)
{
    size_t pos = d->len;
    buf[pos] = '\0';
    for (; d->parent; d = d->parent) {
        const char *name = d->parent->e[d->slot].name;
        size_t len = strlen(name);
        pos -= len;
        memcpy(buf + pos, name, len);
        buf[--pos] = '/';
    }
    memcpy(buf, d->tree->root_path, pos);
    return buf;
}

/* Open and read folder d (its entries in d->e); the project's folder's
 * own fingerprint too. Returns 0, or -1 when stopped or out of memory. */
static int read_dir(ms_wdir_t *d, const atomic_int *stop)
{
    ms_wtree_t *t = d->tree;
    char path[PATH_MAX + NAME_MAX + 2];
    DIR *dir = t->root_path ? opendir(dir_path(d, path)) : NULL;
    if (!dir) {
        set_unread(t);
        return 0;
    }
    size_t plen = d->len;
    struct stat self;
    if (!d->parent && fstat(dirfd(dir), &self) == 0)
        d->own = ms_fp_entry("", &self, NULL, 0);
    int rc = read_entries(t, dir, path, plen, stop, &d->e, &d->n);
    closedir(dir);
    if (rc == 1)
        set_unread(t);
    return rc < 0 ? -1 : 0;
}

/* The subfolder i of d to read: its path (NULL when too long: not walked,
 * the walk incomplete). */
static ms_wdir_t *subdir(ms_wdir_t *d, size_t i, int *oom)
{
    size_t len = d->len + 1 + strlen(d->e[i].name);
    if (len >= PATH_MAX) {
        set_unread(d->tree);
        return NULL;
    }
    ms_wdir_t *s = new_dir(d->tree, d, i, len);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    s->own = d->e[i].fp;
    return s;
}

static int complete(ms_wdir_t *d);

/* Folder d as if it had no entries (out of memory). */
static void forget_entries(ms_wdir_t *d)
{
    for (size_t i = 0; d->sub && i < d->n; i++)
        free_dir(d->sub[i]);
    free_entries(d->e, d->n);
    free(d->es);
    free(d->sub);
    d->e = NULL;
    d->es = NULL;
    d->sub = NULL;
    d->n = 0;
    atomic_store(&d->pending, 0);
}

/* Set d up as read: each entry's sum so far, its subfolders made (a chain
 * in *subs, counted in pending). Returns 0, or -1 when out of memory. */
static int spread(ms_wdir_t *d, ms_wdir_t **subs)
{
    int oom = 0;
    d->es = malloc((d->n ? d->n : 1) * sizeof *d->es);
    d->sub = calloc(d->n ? d->n : 1, sizeof *d->sub);
    if (!d->es || !d->sub)
        return -1;
    size_t n_subs = 0;
    ms_wdir_t **tail = subs;
    for (size_t i = 0; i < d->n; i++) {
        d->es[i] = (sum_t){d->e[i].size, 1, d->e[i].fp};
        if (d->e[i].is_dir && !oom && (d->sub[i] = subdir(d, i, &oom)) != NULL) {
            *tail = d->sub[i];
            tail = &d->sub[i]->next;
            n_subs++;
        }
    }
    atomic_store(&d->pending, n_subs);
    return oom ? -1 : 0;
}

int ms_wtree_read(ms_wdir_t *d, const atomic_int *stop, ms_wdir_t **subs)
{
    *subs = NULL;
    if (atomic_load(stop) || read_dir(d, stop) != 0)
        return atomic_load(stop) ? -1 : complete(d); /* out of memory: goes on empty */
    if (spread(d, subs) != 0) {
        atomic_store(&d->tree->oom, 1); /* the walk goes on, to end NULL */
        forget_entries(d);
        *subs = NULL;
    }
    return *subs ? 0 : complete(d);
}

/* --- a complete folder ----------------------------------------------------- */

static void add(sum_t *s, const sum_t *e)
{
    s->bytes += e->bytes;
    s->files += e->files;
    ms_fp_add(&s->fp, e->fp);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const ms_wentry_t *)a)->name, ((const ms_wentry_t *)b)->name);
}

/* Keep the complete folder d's entries as a sorted name list. */
static void keep_list(ms_wdir_t *d)
{
    ms_wentry_t *le = malloc(d->n * sizeof *le);
    size_t n = 0;
    for (; le && n < d->n; n++) {
        le[n] = (ms_wentry_t){.name = strdup(d->e[n].name),
                              .bytes = d->es[n].bytes,
                              .files = d->es[n].files,
                              .fp = d->es[n].fp};
        if (!le[n].name)
            break;
    }
    if (!le || n < d->n) {
        free_list(le, n);
        atomic_store(&d->tree->oom, 1);
        return;
    }
    qsort(le, n, sizeof *le, cmp_entry);
    d->list = le;
    d->n_list = n;
}

/* The nodes of the complete folder d, kept (its subfolders, and its files
 * when they weigh a chunk and are not too many): the entries' names move
 * to them. Out of memory, or past MS_WALK_MAX_NODES in the project,
 * nothing is kept (the walk is then NULL, or incomplete). */
static void keep_nodes(ms_wdir_t *d, int keep_files, size_t n_kids)
{
    ms_wtree_t *t = d->tree;
    if (atomic_fetch_add(&t->n_kids, n_kids) + n_kids >= MS_WALK_MAX_NODES || n_kids == 0)
        return;
    if (!(d->kids = malloc(n_kids * sizeof *d->kids))) {
        atomic_store(&t->oom, 1);
        return;
    }
    for (size_t i = 0; i < d->n; i++) {
        if (!d->e[i].is_dir && !keep_files)
            continue;
        d->kids[d->n_kids++] = (kid_t){.name = d->e[i].name,
                                       .is_dir = (uint8_t)d->e[i].is_dir,
                                       .kept = d->sub[i] != NULL,
                                       .sum = d->es[i],
                                       .dir = d->sub[i]};
        d->e[i].name = NULL;
        d->sub[i] = NULL;
    }
}

/* The complete folder d is kept: its name list, its nodes; what it kept
 * of its entries while they were read is freed. */
static void keep_dir(ms_wdir_t *d)
{
    ms_wtree_t *t = d->tree;
    uint64_t own_bytes = 0, own_files = 0;
    for (size_t i = 0; i < d->n; i++)
        if (!d->e[i].is_dir) {
            own_bytes += d->e[i].size;
            own_files++;
        }
    int keep_files = own_files <= MS_WALK_MAX_FILES &&
                     ms_split_cost(own_bytes, own_files) >= (double)t->keep_min;
    if (d->n > MS_WALK_MAX_FILES && d->n <= MS_WALK_MAX_LIST)
        keep_list(d);
    keep_nodes(d, keep_files, keep_files ? d->n : d->n - own_files);
    forget_entries(d); /* nodes not kept: the kept subfolders below go too */
}

/* Complete folder d (its subfolders are): its sum, its nodes kept or its
 * subtree freed, its parent told; then the parent, when d was its last
 * subfolder, and so on up. Returns 1 when the project's folder completed. */
static int complete(ms_wdir_t *d)
{
    ms_wtree_t *t = d->tree;
    for (;;) {
        sum_t s = {0, 1, d->own};
        for (size_t i = 0; d->es && i < d->n; i++)
            add(&s, &d->es[i]);
        ms_wdir_t *p = d->parent;
        size_t slot = d->slot;
        int kept = !p || ms_split_cost(s.bytes, s.files) >= (double)t->keep_min;
        if (kept)
            keep_dir(d);
        else
            free_dir(d);
        if (!p) {
            t->total = s;
            return 1;
        }
        p->es[slot] = s;
        p->sub[slot] = kept ? d : NULL;
        if (atomic_fetch_sub(&p->pending, 1) != 1)
            return 0; /* its siblings go on: the last one completes p */
        d = p;
    }
}

/* --- the walk -------------------------------------------------------------- */

/* Add folder d's nodes (it is node k) to w: each subtree right after its
 * node, then d's name list. -1 when out of memory. */
static int emit(ms_walk_t *w, ms_wdir_t *d, size_t k)
{
    for (size_t i = 0; i < d->n_kids; i++) {
        kid_t *c = &d->kids[i];
        size_t idx = w->n_nodes++;
        w->nodes[idx] = (ms_wnode_t){.name = c->name,
                                     .parent = (uint32_t)k,
                                     .is_dir = c->is_dir,
                                     .kept = c->kept,
                                     .bytes = c->sum.bytes,
                                     .files = c->sum.files,
                                     .fp = c->sum.fp};
        c->name = NULL;
        if (c->dir && emit(w, c->dir, idx) != 0)
            return -1;
    }
    if (!d->list)
        return 0;
    ms_wlist_t *nl = realloc(w->lists, (w->n_lists + 1) * sizeof *nl);
    if (!nl)
        return -1;
    w->lists = nl;
    w->lists[w->n_lists++] = (ms_wlist_t){.node = k, .e = d->list, .n = d->n_list};
    d->list = NULL;
    d->n_list = 0;
    return 0;
}

ms_walk_t *ms_wtree_finish(ms_wtree_t **tp)
{
    ms_wtree_t *t = *tp;
    size_t n_kids = atomic_load(&t->n_kids);
    int too_many = n_kids + 1 > MS_WALK_MAX_NODES;
    ms_walk_t *w = calloc(1, sizeof *w);
    if (!w || atomic_load(&t->oom) ||
        !(w->nodes = calloc(too_many ? 1 : n_kids + 1, sizeof *w->nodes)) ||
        !(w->nodes[0].name = strdup("")))
        goto fail;
    w->task_id = t->task_id;
    w->bytes = t->total.bytes;
    w->files = t->total.files;
    w->fp = t->total.fp;
    w->hardlinks = atomic_load(&t->hardlinks);
    w->incomplete = atomic_load(&t->incomplete) || too_many;
    w->unread = atomic_load(&t->unread);
    w->nodes[0] = (ms_wnode_t){.name = w->nodes[0].name,
                               .is_dir = 1,
                               .kept = 1,
                               .bytes = w->bytes,
                               .files = w->files,
                               .fp = w->fp};
    w->n_nodes = 1;
    if (!too_many && emit(w, t->root, 0) != 0)
        goto fail;
    ms_wtree_destroy(tp);
    return w;
fail:
    ms_walk_free(&w);
    ms_wtree_destroy(tp);
    return NULL;
}

void ms_wtree_destroy(ms_wtree_t **tp)
{
    if (!tp || !*tp)
        return;
    ms_wtree_t *t = *tp;
    free_dir(t->root);
    free(t->root_path);
    free(t->linked.slot);
    pthread_mutex_destroy(&t->lock);
    free(t);
    *tp = NULL;
}

/* --- in one thread ---------------------------------------------------------- */

ms_walk_t *ms_walk_project(const char *source, const char *project, uint64_t task_id,
                           uint64_t keep_min, const atomic_int *stop)
{
    ms_wdir_t *stack = NULL, *d;
    if (sodium_init() < 0) /* sodium_init: BLAKE2b's fastest code */
        return NULL;
    ms_wtree_t *t = ms_wtree_new(source, project, task_id, keep_min, &d);
    if (!t)
        return NULL;
    for (; d; d = ms_wdir_pop(&stack)) {
        ms_wdir_t *subs;
        int rc = ms_wtree_read(d, stop, &subs);
        if (rc < 0) {
            ms_wtree_destroy(&t);
            return NULL;
        }
        if (rc == 1)
            return ms_wtree_finish(&t);
        ms_wdir_push(&stack, subs);
    }
    ms_wtree_destroy(&t); /* not reached: the last folder completes the tree */
    return NULL;
}

void ms_walk_free(ms_walk_t **wp)
{
    if (!wp || !*wp)
        return;
    ms_walk_t *w = *wp;
    for (size_t i = 0; i < w->n_nodes; i++)
        free(w->nodes[i].name);
    for (size_t i = 0; i < w->n_lists; i++) {
        for (size_t j = 0; j < w->lists[i].n; j++)
            free(w->lists[i].e[j].name);
        free(w->lists[i].e);
    }
    free(w->nodes);
    free(w->lists);
    free(w);
    *wp = NULL;
}
