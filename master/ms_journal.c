/*
 * ms_journal.c - the catalog's transactions, group commit, restore after a
 * failure, and checkpoints (see ms_journal.h).
 */
#include "ms_journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_clock.h"
#include "ms_log.h"

#define WARN_EVERY_MS 10000
#define RETRY_MS 1000
#define CHECKPOINT_EVERY_MS 10000
#define CHECKPOINT_WAL_BYTES (256LL * 1024 * 1024)
/*
 * Group commit. Results that come within GROUP_COMMIT_MS of the first
 * change not yet committed share its commit, and so its fsync: a flood of
 * small tasks costs one fsync per few milliseconds instead of one per few
 * results. Tasks are handed out after the commit (durable before sent), so
 * a free slot waits at most this long for its next task.
 */
#define GROUP_COMMIT_MS 2

/* A run written since the last commit, and whether its workers' counts
 * changed (they are stored once, at the commit). */
typedef struct {
    ms_runrec_t *r;
    int workers;
} dirty_t;

struct ms_journal {
    ms_catalog_t *cat;
    char *wal_path;
    int in_txn;
    int64_t txn_since_ms; /* when the open transaction took its first write */
    int lost;             /* a write failed: the catalog misses changes */
    int failing;          /* an operation failed since the last commit */
    int64_t retry_ms;     /* after a failed flush: not again before then */
    int64_t warned_ms;
    int64_t next_checkpoint_ms;
    dirty_t *dirty;
    size_t n_dirty, cap_dirty;
};

ms_journal_t *ms_journal_new(ms_catalog_t *cat, const char *path)
{
    ms_journal_t *j = calloc(1, sizeof *j);
    if (j && cat && path && asprintf(&j->wal_path, "%s-wal", path) < 0)
        j->wal_path = NULL;
    if (!j || (cat && path && !j->wal_path)) {
        free(j);
        ms_catalog_close(&cat);
        return NULL;
    }
    j->cat = cat;
    return j;
}

ms_catalog_t *ms_journal_catalog(const ms_journal_t *j)
{
    return j ? j->cat : NULL;
}

/* A catalog operation failed. lost: a write's effect may be missing (half
 * there, or SQLite rolled the whole transaction back): the next flush
 * stores every dirty run again before it commits. A commit that failed with
 * its transaction still open loses nothing: the next flush commits again. */
static void failed(ms_journal_t *j, const char *err, int lost)
{
    int64_t now = ms_now_ms();
    j->lost |= lost;
    j->failing = 1;
    j->retry_ms = now + RETRY_MS; /* not again at once: it would most likely fail again */
    if (j->warned_ms == 0 || now - j->warned_ms >= WARN_EVERY_MS) {
        ms_error("catalog write failed, tasks are held back until it works again: %s", err);
        j->warned_ms = now;
    }
}

/* SQLite rolls a transaction back by itself on some failures: what it held
 * is lost, and writes must not go on in autocommit mode. */
static void sync_txn(ms_journal_t *j)
{
    if (j->in_txn && !ms_catalog_in_txn(j->cat)) {
        j->in_txn = 0;
        j->lost = 1;
    }
}

static int begin(ms_journal_t *j)
{
    char err[512];
    sync_txn(j);
    if (j->in_txn)
        return 0;
    if (ms_catalog_begin(j->cat, err, sizeof err) != 0) {
        failed(j, err, 1); /* the writes that wanted it are not done */
        return -1;
    }
    j->in_txn = 1;
    j->txn_since_ms = ms_now_ms();
    return 0;
}

/* Note r as written since the last commit (workers: its workers' counts
 * too). A run that cannot be noted (out of memory) is logged as a failed
 * write: after a failure, its changes might not be stored again. */
static void note_dirty(ms_journal_t *j, ms_runrec_t *r, int workers)
{
    for (size_t i = 0; i < j->n_dirty; i++)
        if (j->dirty[i].r == r) {
            j->dirty[i].workers |= workers;
            return;
        }
    if (j->n_dirty == j->cap_dirty) {
        size_t ncap = j->cap_dirty ? j->cap_dirty * 2 : 8;
        dirty_t *nd = realloc(j->dirty, ncap * sizeof *nd);
        if (!nd) {
            failed(j, "out of memory noting a run to store", 1);
            return;
        }
        j->dirty = nd;
        j->cap_dirty = ncap;
    }
    j->dirty[j->n_dirty++] = (dirty_t){r, workers};
}

/* Begin (if need be) and note r; 0 when the write may go ahead. */
static int prepare(ms_journal_t *j, ms_runrec_t *r, int workers)
{
    if (!j->cat)
        return -1;
    note_dirty(j, r, workers);
    return begin(j);
}

void ms_journal_task(ms_journal_t *j, const ms_trec_t *t)
{
    char err[512];
    /* Handing out changes a worker's task count: stored once per commit. */
    if (prepare(j, t->run, t->state == MS_TS_RUNNING) == 0 &&
        ms_catalog_update_task(j->cat, t, err, sizeof err) != 0)
        failed(j, err, 1);
}

void ms_journal_task_whole(ms_journal_t *j, const ms_trec_t *t)
{
    char err[512];
    if (prepare(j, t->run, 0) == 0 && ms_catalog_save_task(j->cat, t, err, sizeof err) != 0)
        failed(j, err, 1);
}

void ms_journal_run_end(ms_journal_t *j, ms_runrec_t *r)
{
    char err[512];
    if (prepare(j, r, 0) == 0 && ms_catalog_save_run_end(j->cat, r, err, sizeof err) != 0)
        failed(j, err, 1);
}

void ms_journal_ntasks(ms_journal_t *j, ms_runrec_t *r)
{
    char err[512];
    if (prepare(j, r, 0) == 0 && ms_catalog_save_ntasks(j->cat, r, err, sizeof err) != 0)
        failed(j, err, 1);
}

void ms_journal_fingerprint(ms_journal_t *j, const ms_trec_t *t, const ms_catalog_fp_t *rec)
{
    char err[512];
    if (prepare(j, t->run, 0) == 0 &&
        ms_catalog_fp_put(j->cat, t->run->source, t->run->dest, rec, err, sizeof err) != 0)
        failed(j, err, 1);
}

void ms_journal_workers(ms_journal_t *j, ms_runrec_t *r)
{
    if (j->cat)
        note_dirty(j, r, 1);
}

/* Store again, whole, every run written since the last commit, after
 * writes were lost (a run the catalog already holds as it is, such as a
 * finished one not written since, is left alone: a restore stalls the
 * loop). */
static int restore(ms_journal_t *j, char *err, size_t errlen)
{
    for (size_t i = 0; i < j->n_dirty; i++) {
        ms_runrec_t *r = j->dirty[i].r;
        if (ms_catalog_save_run(j->cat, r, err, errlen) != 0 ||
            (r->finished && ms_catalog_save_run_end(j->cat, r, err, errlen) != 0))
            return -1;
        j->dirty[i].workers = 0; /* save_run stored them */
    }
    return 0;
}

static int write_out(ms_journal_t *j, char *err, size_t errlen)
{
    if (j->lost && restore(j, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < j->n_dirty; i++)
        if (j->dirty[i].workers && ms_catalog_save_workers(j->cat, j->dirty[i].r, err, errlen) != 0)
            return -1;
    return 0;
}

static void committed(ms_journal_t *j)
{
    if (j->failing)
        ms_info("catalog writes work again: it holds every change");
    j->in_txn = j->lost = j->failing = 0;
    j->n_dirty = 0;
}

int ms_journal_flush(ms_journal_t *j, int force)
{
    char err[512] = "";
    if (!j || !j->cat)
        return 0;
    sync_txn(j);
    if (!j->in_txn && !j->lost)
        return 0;
    /* Storing runs again is heavy, and BEGIN may wait for a lock: once a
     * second while it fails (unless the master is about to exit). */
    if (j->lost && j->failing && !force && ms_now_ms() < j->retry_ms)
        return -1;
    if (begin(j) != 0) {
        j->retry_ms = ms_now_ms() + RETRY_MS;
        return -1;
    }
    if (write_out(j, err, sizeof err) != 0) {
        failed(j, err, 1);
    } else if (ms_catalog_commit(j->cat, err, sizeof err) != 0) {
        failed(j, err, !ms_catalog_in_txn(j->cat)); /* still open: nothing lost */
    } else {
        committed(j);
        return 0;
    }
    j->retry_ms = ms_now_ms() + RETRY_MS;
    if (!ms_catalog_in_txn(j->cat))
        j->in_txn = 0;
    return -1; /* what is open stays open; the next flush tries again */
}

int ms_journal_new_run(ms_journal_t *j, ms_runrec_t *r, char *err, size_t errlen)
{
    if (!j->cat)
        return 0;
    note_dirty(j, r, 0);
    err[0] = '\0';
    if (begin(j) == 0 && ms_catalog_save_run(j->cat, r, err, errlen) == 0 &&
        ms_journal_flush(j, 0) == 0)
        return 0;
    /* The refused run's rows must not be committed later: undo the whole
     * transaction, and store every other run written in it again. */
    ms_journal_forget_run(j, r);
    ms_catalog_rollback(j->cat);
    j->in_txn = 0;
    j->lost = 1;
    if (!err[0])
        snprintf(err, errlen, "cannot record the run in the catalog");
    return -1;
}

void ms_journal_forget_run(ms_journal_t *j, const ms_runrec_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; j && i < j->n_dirty; i++)
        if (j->dirty[i].r != r)
            j->dirty[kept++] = j->dirty[i];
    if (j)
        j->n_dirty = kept;
}

int64_t ms_journal_commit_due(const ms_journal_t *j)
{
    return j && j->in_txn ? j->txn_since_ms + GROUP_COMMIT_MS : INT64_MAX;
}

static long long wal_bytes(const ms_journal_t *j)
{
    struct stat st;
    return j->wal_path && stat(j->wal_path, &st) == 0 ? (long long)st.st_size : 0;
}

void ms_journal_checkpoint(ms_journal_t *j, int busy)
{
    char err[256];
    if (!j || !j->cat || j->in_txn || ms_now_ms() < j->next_checkpoint_ms)
        return;
    j->next_checkpoint_ms = ms_now_ms() + CHECKPOINT_EVERY_MS;
    /* A checkpoint stalls the loop for a while: not during a run, unless
     * the log has grown too large to wait. */
    if (busy && wal_bytes(j) < CHECKPOINT_WAL_BYTES)
        return;
    if (ms_catalog_checkpoint(j->cat, NULL, err, sizeof err) != 0)
        ms_warn("%s", err);
}

void ms_journal_destroy(ms_journal_t **jp)
{
    if (!jp || !*jp)
        return;
    ms_journal_t *j = *jp;
    if (ms_journal_flush(j, 1) != 0 && j->cat)
        ms_error("the catalog misses the last changes");
    ms_catalog_close(&j->cat);
    free(j->dirty);
    free(j->wal_path);
    free(j);
    *jp = NULL;
}
