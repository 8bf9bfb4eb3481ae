/*
 * ms_catalog.c - runs, tasks, attempts and workers in SQLite.
 *
 * Every statement is prepared once at open and bound with sqlite3_bind_*;
 * no SQL text is ever built from data. Each save or load runs inside a
 * savepoint: atomic on its own in autocommit mode (one fsync), and simply
 * nested when the master has opened a transaction with ms_catalog_begin().
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_err.h"
#include "ms_jnum.h"
#include "ms_catalog.h"
#include "ms_utf8.h"
#include "ms_split.h"

#define SCHEMA_VERSION 4
#define BUSY_TIMEOUT_MS 5000
#define MAX_TASKS (1 << 24) /* a stored count above this is corruption */

/* The columns of an ms_result_t but its (run, task, attempt), in the order
 * bind_result() and read_result() use. */
#define RESULT_COLS                                                                                \
    "exit_code, term_signal, seconds, files, bytes_total, bytes_transferred, cpu_user_s, "         \
    "cpu_sys_s, max_rss_kb, read_bytes, write_bytes, message"
#define RESULT_DDL                                                                                 \
    " exit_code INTEGER, term_signal INTEGER, seconds REAL, files INTEGER, bytes_total INTEGER,"   \
    " bytes_transferred INTEGER, cpu_user_s REAL, cpu_sys_s REAL, max_rss_kb INTEGER,"             \
    " read_bytes INTEGER, write_bytes INTEGER, message BLOB,"

#define FP_DDL                                                                                     \
    "CREATE TABLE fingerprints ("                                                                  \
    " source BLOB NOT NULL, dest BLOB NOT NULL, project BLOB NOT NULL, part BLOB NOT NULL,"        \
    " fp TEXT NOT NULL, opts TEXT NOT NULL, snap TEXT, run_id INTEGER NOT NULL,"                   \
    " files INTEGER NOT NULL, bytes INTEGER NOT NULL,"                                             \
    " PRIMARY KEY (source, dest, project, part));"

static const char *const schema_sql =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY, source BLOB NOT NULL, dest BLOB NOT NULL,"
    " set_name BLOB, flags INTEGER NOT NULL, started_ns INTEGER NOT NULL,"
    " finished_ns INTEGER NOT NULL, finished INTEGER NOT NULL, n_tasks INTEGER NOT NULL,"
    " extra BLOB, snap BLOB);"
    "CREATE TABLE tasks ("
    " run_id INTEGER NOT NULL, task_id INTEGER NOT NULL, project BLOB NOT NULL,"
    " flags INTEGER NOT NULL, state INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    " worker_id BLOB NOT NULL, host BLOB NOT NULL, failed_on BLOB NOT NULL,"
    " res_run INTEGER, res_task INTEGER, res_attempt INTEGER," RESULT_DDL
    " parent INTEGER NOT NULL DEFAULT -1, spec BLOB,"
    " PRIMARY KEY (run_id, task_id));"
    "CREATE TABLE attempts ("
    " run_id INTEGER NOT NULL, task_id INTEGER NOT NULL, attempt INTEGER NOT NULL,"
    " worker_id BLOB NOT NULL, host BLOB NOT NULL, handed_ns INTEGER NOT NULL,"
    " has_result INTEGER NOT NULL DEFAULT 0," RESULT_DDL " PRIMARY KEY (run_id, task_id, attempt));"
    "CREATE TABLE run_workers ("
    " run_id INTEGER NOT NULL, idx INTEGER NOT NULL, worker_id BLOB NOT NULL,"
    " host BLOB NOT NULL, slots INTEGER NOT NULL, tasks INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, idx));" FP_DDL
    "INSERT INTO meta (key, value) VALUES ('schema_version', 4);";

/* From schema 1 (no split projects): a chunk's parent and its paths. */
static const char *const upgrade_1_sql =
    "ALTER TABLE tasks ADD COLUMN parent INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE tasks ADD COLUMN spec BLOB;"
    "UPDATE meta SET value = 2 WHERE key = 'schema_version';";

/* From schema 2 (mirrors only): a snapshot run's snapshot (ms_run_snap_json). */
static const char *const upgrade_2_sql = "ALTER TABLE runs ADD COLUMN snap BLOB;"
                                         "UPDATE meta SET value = 3 WHERE key = 'schema_version';";

/* From schema 3: what each project looked like at its last copy (ms_fp.h). */
static const char *const upgrade_3_sql =
    FP_DDL "UPDATE meta SET value = 4 WHERE key = 'schema_version';";

enum {
    ST_BEGIN,
    ST_COMMIT,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_LAST_ID,
    ST_RUN_PUT,
    ST_RUN_END,
    ST_RUN_NTASKS,
    ST_TASK_PUT,
    ST_TASK_STATE,
    ST_ATTEMPT_PUT,
    ST_ATTEMPT_RESULT,
    ST_WORKERS_DEL,
    ST_WORKER_PUT,
    ST_RUN_IDS,
    ST_RUN_GET,
    ST_TASKS_GET,
    ST_WORKERS_GET,
    ST_HISTORY,
    ST_ATTEMPTS_GET,
    ST_PRIOR,
    ST_HOST_CPU,
    ST_FP_PUT,
    ST_FP_GET,
    ST_SINCE_FULL,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_FP_PUT] =
        "INSERT OR REPLACE INTO fingerprints (source, dest, project, part, fp, opts, snap,"
        " run_id, files, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_FP_GET] = "SELECT project, part, fp, opts, snap, run_id, files, bytes FROM fingerprints"
                  " WHERE source = ?1 AND dest = ?2",
    /* Backups (not verify, not restore, not a dry run) of source to dest
     * finished since the last full one (?3: the kinds that are not backups;
     * a dry run of a full pass is a verify: it repaired nothing). */
    [ST_SINCE_FULL] = "SELECT COUNT(*) FROM runs WHERE source = ?1 AND dest = ?2 AND finished = 1"
                      " AND (flags & ?3) = 0 AND id > COALESCE((SELECT MAX(id) FROM runs"
                      " WHERE source = ?1 AND dest = ?2 AND (flags & ?4) != 0"
                      " AND (flags & ?3) = 0), 0)",
    /* Every result of a run, summed per host that produced it. */
    [ST_HOST_CPU] = "SELECT host, SUM(cpu_user_s + cpu_sys_s), SUM(seconds) FROM attempts"
                    " WHERE run_id = ?1 AND has_result = 1 AND seconds > 0 GROUP BY host",
    /* A split project's chunks add up: its bytes, and the work it took.
     * From the last run of the same kind: a verify reads every byte, a
     * copy only what changed, a dry run nothing but the metadata. */
    [ST_PRIOR] = "SELECT project, SUM(bytes_total), SUM(seconds), SUM(files) FROM tasks"
                 " WHERE state = ?4"
                 " AND run_id = (SELECT MAX(id) FROM runs WHERE source = ?1 AND dest = ?2"
                 " AND finished = 1 AND id != ?3 AND (flags & ?5) = ?6) GROUP BY project",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_SAVEPOINT] = "SAVEPOINT ms_op",
    [ST_RELEASE] = "RELEASE ms_op",
    [ST_ROLLBACK_TO] = "ROLLBACK TO ms_op",
    [ST_LAST_ID] = "SELECT COALESCE(MAX(id), 0) FROM runs",
    [ST_RUN_PUT] = "INSERT OR REPLACE INTO runs (id, source, dest, set_name, flags, started_ns,"
                   " finished_ns, finished, n_tasks, snap) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_RUN_NTASKS] = "UPDATE runs SET n_tasks = ?2 WHERE id = ?1",
    /* What a task's life changes; its name, flags, parent and spec stay. */
    [ST_TASK_STATE] = "UPDATE tasks SET (state, attempts, worker_id, host, failed_on, res_run,"
                      " res_task, res_attempt, " RESULT_COLS ") = (?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                      " ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
                      " WHERE run_id = ?1 AND task_id = ?2",
    /* flags: a run cancelled (MS_RUN_CANCELLED) before it ended. */
    [ST_RUN_END] = "UPDATE runs SET finished = ?2, finished_ns = ?3, extra = ?4, snap = ?5,"
                   " flags = ?6 WHERE id = ?1",
    [ST_TASK_PUT] =
        "INSERT OR REPLACE INTO tasks (run_id, task_id, project, flags, state,"
        " attempts, worker_id, host, failed_on, res_run, res_task, res_attempt, " RESULT_COLS
        ", parent, spec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    /* handed_ns is when the attempt was handed out (?6, the task's own
     * handed_ns), else when it was first stored (?7: now); a requeue that
     * cleared the worker must not erase who ran it. */
    [ST_ATTEMPT_PUT] = "INSERT INTO attempts (run_id, task_id, attempt, worker_id, host, handed_ns)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, COALESCE(?6, ?7))"
                       " ON CONFLICT (run_id, task_id, attempt) DO UPDATE SET"
                       " worker_id = COALESCE(NULLIF(excluded.worker_id, x''), worker_id),"
                       " host = COALESCE(NULLIF(excluded.host, x''), host),"
                       " handed_ns = COALESCE(?6, handed_ns)",
    [ST_ATTEMPT_RESULT] = "UPDATE attempts SET has_result = 1, (" RESULT_COLS ")"
                          " = (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                          " WHERE run_id = ?13 AND task_id = ?14 AND attempt = ?15",
    [ST_WORKERS_DEL] = "DELETE FROM run_workers WHERE run_id = ?1",
    [ST_WORKER_PUT] =
        "INSERT OR REPLACE INTO run_workers (run_id, idx, worker_id, host, slots, tasks)"
        " VALUES (?, ?, ?, ?, ?, ?)",
    [ST_RUN_IDS] = "SELECT id FROM runs WHERE (?1 = 0 OR finished = 0) AND n_tasks > 0"
                   " ORDER BY id DESC LIMIT ?2",
    [ST_RUN_GET] = "SELECT id, source, dest, set_name, flags, started_ns, finished_ns, finished,"
                   " n_tasks, extra, snap FROM runs WHERE id = ?1",
    /* With when its last attempt was handed out (the report's start_s). */
    [ST_TASKS_GET] = "SELECT task_id, project, flags, state, attempts, worker_id, host, failed_on,"
                     " res_run, res_task, res_attempt, " RESULT_COLS ", parent, spec,"
                     " (SELECT handed_ns FROM attempts a WHERE a.run_id = t.run_id"
                     " AND a.task_id = t.task_id AND a.attempt = t.attempts)"
                     " FROM tasks t WHERE run_id = ?1 ORDER BY task_id",
    [ST_WORKERS_GET] = "SELECT worker_id, host, slots, tasks FROM run_workers WHERE run_id = ?1"
                       " ORDER BY idx",
    /* Tasks and failures count projects, as the report does: a split
     * project's chunks are one row with it (parent is its rest's id). A
     * cancelled task (?4) is no failure. */
    [ST_HISTORY] = "SELECT r.id, r.set_name, r.source, r.dest, r.started_ns, r.finished_ns,"
                   " r.finished, COALESCE(SUM(t.parent < 0), 0), COUNT(DISTINCT CASE WHEN"
                   " t.state = ?1 AND t.exit_code IS NOT ?4 THEN (CASE WHEN t.parent >= 0 THEN "
                   "t.parent ELSE t.task_id END)"
                   " END),"
                   " COALESCE(SUM(t.bytes_total), 0), COALESCE(SUM(t.bytes_transferred), 0),"
                   " r.snap, r.flags, COALESCE(SUM(t.parent < 0 AND t.exit_code = ?3), 0)"
                   " FROM runs r LEFT JOIN tasks t ON t.run_id = r.id"
                   " GROUP BY r.id ORDER BY r.id DESC LIMIT ?2",
    [ST_ATTEMPTS_GET] = "SELECT attempt, worker_id, host, has_result, exit_code, term_signal,"
                        " seconds, message FROM attempts WHERE run_id = ?1 AND task_id = ?2"
                        " ORDER BY attempt",
};

struct ms_catalog {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
};

/* --- errors and small helpers ----------------------------------------- */

/* "catalog: what: SQLite's message"; call before anything resets the error. */
static int db_err(ms_catalog_t *c, char *err, size_t errlen, const char *what)
{
    return ms_errf(err, errlen, "catalog: %s: %s", what, sqlite3_errmsg(c->db));
}

/* Run a statement that returns no rows, then reset it. */
static int step_done(ms_catalog_t *c, int id, const char *what, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[id];
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(c, err, errlen, what);
    sqlite3_reset(s);
    return rc;
}

static sqlite3_int64 ts_to_ns(const struct timespec *ts)
{
    return (sqlite3_int64)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static struct timespec ns_to_ts(sqlite3_int64 ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000;
        ts.tv_sec--;
    }
    return ts;
}

static sqlite3_int64 now_ns(void)
{
    return ms_wall_ns();
}

/* A name as a BLOB (bytes, not text); NULL as SQL NULL. The string outlives
 * the step that follows, so SQLite need not copy it. */
static void bind_bytes(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_blob(s, i, v, (int)strlen(v), SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* A column as a C string: NULL for SQL NULL, "" for an empty BLOB.
 * The pointer lives until the statement steps or resets. */
static const char *col_str(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    const char *v = (const char *)sqlite3_column_text(s, i);
    return v ? v : "";
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    const char *v = col_str(s, i);
    return v ? strdup(v) : NULL;
}

/* Copy a column into a fixed field. Returns -1 when it does not fit. */
static int col_copy(sqlite3_stmt *s, int i, char *out, size_t outlen)
{
    const char *v = col_str(s, i);
    size_t n = v ? strlen(v) : 0;
    if (n >= outlen)
        return -1;
    memcpy(out, v ? v : "", n + 1);
    return 0;
}

/* --- open and close ---------------------------------------------------- */

/* One integer from a constant query: 0 with *out, 1 for no row, -1. */
static int query_int(ms_catalog_t *c, const char *sql, sqlite3_int64 *out)
{
    sqlite3_stmt *s = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = 0;
    } else if (step == SQLITE_DONE) {
        rc = 1;
    }
    sqlite3_finalize(s);
    return rc;
}

static int check_version(ms_catalog_t *c, const char *path, char *err, size_t errlen)
{
    sqlite3_int64 v = 0;
    int rc = query_int(c, "SELECT value FROM meta WHERE key = 'schema_version'", &v);
    if (rc < 0)
        return db_err(c, err, errlen, path);
    if (rc > 0)
        return ms_errf(err, errlen, "catalog: %s: no schema version in its meta table", path);
    if (v > SCHEMA_VERSION)
        return ms_errf(err, errlen,
                       "catalog: %s has schema version %lld, newer than this program's %d: "
                       "use a newer multisync",
                       path, (long long)v, SCHEMA_VERSION);
    if (v == 1 && sqlite3_exec(c->db, upgrade_1_sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(c, err, errlen, path);
    if ((v == 1 || v == 2) && sqlite3_exec(c->db, upgrade_2_sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(c, err, errlen, path);
    if (v <= 3 && v >= 1 && sqlite3_exec(c->db, upgrade_3_sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(c, err, errlen, path);
    if (v < 1)
        return ms_errf(err, errlen, "catalog: %s: unknown schema version %lld", path, (long long)v);
    return 0;
}

/* Create the schema in an empty file, or check the version of a catalog.
 * Under BEGIN IMMEDIATE so that two masters opening at once agree. */
static int setup_schema(ms_catalog_t *c, const char *path, char *err, size_t errlen)
{
    sqlite3_int64 has_meta = 0, n_objects = 0;
    int rc = -1;
    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_err(c, err, errlen, path);
    if (query_int(c, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                  &has_meta) != 0 ||
        query_int(c, "SELECT count(*) FROM sqlite_master", &n_objects) != 0) {
        db_err(c, err, errlen, path);
        goto out;
    }
    if (has_meta)
        rc = check_version(c, path, err, errlen);
    else if (n_objects > 0)
        rc = ms_errf(err, errlen, "catalog: %s is a SQLite database but not a multisync catalog",
                     path);
    else
        rc = sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL) == SQLITE_OK
                 ? 0
                 : db_err(c, err, errlen, path);
    if (rc == 0 && sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_err(c, err, errlen, path);
out:
    if (rc != 0)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int configure(ms_catalog_t *c, const char *path, char *err, size_t errlen)
{
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* The first statements read the header: a file that is not a database
     * fails here, with SQLite's "file is not a database". */
    /* No automatic checkpoints: one would copy the WAL into the database
     * (and fsync it) in the middle of a loop turn, hundreds of ms during a
     * big run. The master checkpoints when it is idle (ms_catalog_checkpoint). */
    if (sqlite3_exec(c->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) != SQLITE_OK)
        return db_err(c, err, errlen, path);
    return 0;
}

static int prepare_all(ms_catalog_t *c, char *err, size_t errlen)
{
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(c->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i],
                               NULL) != SQLITE_OK)
            return db_err(c, err, errlen, "prepare");
    }
    return 0;
}

ms_catalog_t *ms_catalog_open(const char *path, char *err, size_t errlen)
{
    ms_catalog_t *c = calloc(1, sizeof *c);
    if (!c) {
        ms_errf(err, errlen, "catalog: out of memory");
        return NULL;
    }
    /* One thread uses a connection: SQLite's own locking would only cost. */
    if (sqlite3_open_v2(path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        if (c->db)
            db_err(c, err, errlen, path);
        else
            ms_errf(err, errlen, "catalog: %s: out of memory", path);
        goto fail;
    }
    if (configure(c, path, err, errlen) != 0 || setup_schema(c, path, err, errlen) != 0 ||
        prepare_all(c, err, errlen) != 0)
        goto fail;
    return c;
fail:
    ms_catalog_close(&c);
    return NULL;
}

void ms_catalog_close(ms_catalog_t **cp)
{
    if (!cp || !*cp)
        return;
    ms_catalog_t *c = *cp;
    if (c->db && !sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
    *cp = NULL;
}

/* --- transactions ------------------------------------------------------ */

int ms_catalog_begin(ms_catalog_t *c, char *err, size_t errlen)
{
    if (!sqlite3_get_autocommit(c->db))
        return ms_errf(err, errlen, "catalog: begin: a transaction is already open");
    return step_done(c, ST_BEGIN, "begin", err, errlen);
}

int ms_catalog_in_txn(const ms_catalog_t *c)
{
    return !sqlite3_get_autocommit(c->db);
}

void ms_catalog_rollback(ms_catalog_t *c)
{
    if (ms_catalog_in_txn(c))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

int ms_catalog_commit(ms_catalog_t *c, char *err, size_t errlen)
{
    if (sqlite3_get_autocommit(c->db))
        return ms_errf(err, errlen, "catalog: commit: no transaction is open");
    return step_done(c, ST_COMMIT, "commit", err, errlen);
}

/* Every save and load is one savepoint: in autocommit mode it is its own
 * transaction, inside ms_catalog_begin() it nests. */
static int op_begin(ms_catalog_t *c, char *err, size_t errlen)
{
    return step_done(c, ST_SAVEPOINT, "savepoint", err, errlen);
}

/* Release the savepoint when rc is 0, else undo the operation (err already
 * says why). Returns the outcome. */
static int op_end(ms_catalog_t *c, int rc, char *err, size_t errlen)
{
    if (rc == 0)
        rc = step_done(c, ST_RELEASE, "commit", err, errlen);
    if (rc != 0) {
        step_done(c, ST_ROLLBACK_TO, "rollback", NULL, 0);
        step_done(c, ST_RELEASE, "rollback", NULL, 0);
    }
    return rc;
}

int ms_catalog_reserve_run_id(ms_catalog_t *c, uint64_t *id, char *err, size_t errlen)
{
    /* Its own transaction, so that processes sharing the catalog never
     * take the same id: SQLite gives the row the next one (INTEGER PRIMARY
     * KEY), under the write lock. */
    if (ms_catalog_begin(c, err, errlen) != 0)
        return -1;
    if (sqlite3_exec(c->db,
                     "INSERT INTO runs (source, dest, flags, started_ns, finished_ns, finished,"
                     " n_tasks) VALUES (x'', x'', 0, 0, 0, 0, 0)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        db_err(c, err, errlen, "reserve a run id");
        ms_catalog_rollback(c);
        return -1;
    }
    *id = (uint64_t)sqlite3_last_insert_rowid(c->db);
    return ms_catalog_commit(c, err, errlen);
}

int ms_catalog_drop_run(ms_catalog_t *c, uint64_t id, char *err, size_t errlen)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM runs WHERE id = %llu AND n_tasks = 0",
             (unsigned long long)id);
    return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0
                                                                   : db_err(c, err, errlen, sql);
}

int ms_catalog_last_run_id(ms_catalog_t *c, uint64_t *id, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_LAST_ID];
    int rc = sqlite3_step(s);
    *id = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf(err, errlen, "catalog: reading the last run id: %s", sqlite3_errmsg(c->db));
        return -1;
    }
    return 0;
}

/* --- saving ------------------------------------------------------------ */

/* Bind the 12 columns of RESULT_COLS from index i. */
static void bind_result(sqlite3_stmt *s, int i, const ms_result_t *res)
{
    sqlite3_bind_int(s, i, res->exit_code);
    sqlite3_bind_int(s, i + 1, res->term_signal);
    sqlite3_bind_double(s, i + 2, res->seconds);
    sqlite3_bind_int64(s, i + 3, (sqlite3_int64)res->files);
    sqlite3_bind_int64(s, i + 4, (sqlite3_int64)res->bytes_total);
    sqlite3_bind_int64(s, i + 5, (sqlite3_int64)res->bytes_transferred);
    sqlite3_bind_double(s, i + 6, res->cpu_user_s);
    sqlite3_bind_double(s, i + 7, res->cpu_sys_s);
    sqlite3_bind_int64(s, i + 8, (sqlite3_int64)res->max_rss_kb);
    sqlite3_bind_int64(s, i + 9, (sqlite3_int64)res->read_bytes);
    sqlite3_bind_int64(s, i + 10, (sqlite3_int64)res->write_bytes);
    bind_bytes(s, i + 11, res->message);
}

/*
 * Whether t->result is the outcome of attempt t->attempts: a final state, or
 * a task requeued after that attempt failed (the result names the attempt).
 * A task requeued because its worker vanished has no result for it.
 */
static int result_is_current(const ms_trec_t *t)
{
    if (t->state == MS_TS_OK || t->state == MS_TS_FAILED)
        return 1;
    return t->state != MS_TS_RUNNING && t->result.attempt == t->attempts;
}

/* The attempt's row as handed out (who, when); upserted. */
static int put_attempt_row(ms_catalog_t *c, uint64_t run_id, const ms_trec_t *t, char *err,
                           size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_ATTEMPT_PUT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)t->id);
    sqlite3_bind_int64(s, 3, t->attempts);
    bind_bytes(s, 4, t->worker_id);
    bind_bytes(s, 5, t->host);
    if (t->handed_ns)
        sqlite3_bind_int64(s, 6, t->handed_ns);
    else
        sqlite3_bind_null(s, 6);
    sqlite3_bind_int64(s, 7, now_ns());
    return step_done(c, ST_ATTEMPT_PUT, "save attempt", err, errlen);
}

static int put_attempt_result(ms_catalog_t *c, uint64_t run_id, const ms_trec_t *t, char *err,
                              size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_ATTEMPT_RESULT];
    bind_result(s, 1, &t->result);
    sqlite3_bind_int64(s, 13, (sqlite3_int64)run_id);
    sqlite3_bind_int64(s, 14, (sqlite3_int64)t->id);
    sqlite3_bind_int64(s, 15, t->attempts);
    return step_done(c, ST_ATTEMPT_RESULT, "save attempt result", err, errlen);
}

/* An attempt is inserted when it is handed out; its result, when it comes,
 * updates that row (one statement per save, not two: a run of 100,000
 * tasks saves each three times). */
static int put_attempt(ms_catalog_t *c, uint64_t run_id, const ms_trec_t *t, char *err,
                       size_t errlen)
{
    if (!result_is_current(t))
        return put_attempt_row(c, run_id, t, err, errlen);
    if (put_attempt_result(c, run_id, t, err, errlen) != 0)
        return -1;
    if (sqlite3_changes(c->db) > 0)
        return 0;
    /* No row yet (a result for an attempt never saved as handed out). */
    if (put_attempt_row(c, run_id, t, err, errlen) != 0)
        return -1;
    return put_attempt_result(c, run_id, t, err, errlen);
}

static int put_worker(ms_catalog_t *c, uint64_t run_id, size_t idx, const ms_run_worker_t *w,
                      char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_WORKER_PUT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)idx);
    bind_bytes(s, 3, w->id);
    bind_bytes(s, 4, w->host);
    sqlite3_bind_int64(s, 5, w->slots);
    sqlite3_bind_int64(s, 6, w->tasks);
    return step_done(c, ST_WORKER_PUT, "save worker", err, errlen);
}

/* The run's entry for the task's worker, so that an unfinished run comes
 * back with its workers[] too. */
static int put_task_worker(ms_catalog_t *c, const ms_trec_t *t, char *err, size_t errlen)
{
    const ms_runrec_t *r = t->run;
    /* A host's entry carries the id of its newest connection (hashed by
     * host: a thousand workers). */
    const ms_run_worker_t *w = r && t->worker_id[0] && t->host ? ms_run_worker(r, t->host) : NULL;
    if (!w || strcmp(w->id, t->worker_id) != 0)
        return 0;
    return put_worker(c, r->id, (size_t)(w - r->workers), w, err, errlen);
}

/* Bind what a task's life changes, 20 columns from index i: state,
 * attempts, worker_id, host, failed_on, res_run, res_task, res_attempt
 * and RESULT_COLS. */
static void bind_life(sqlite3_stmt *s, int i, const ms_trec_t *t)
{
    sqlite3_bind_int(s, i, (int)t->state);
    sqlite3_bind_int64(s, i + 1, t->attempts);
    bind_bytes(s, i + 2, t->worker_id);
    bind_bytes(s, i + 3, t->host);
    bind_bytes(s, i + 4, t->failed_on);
    sqlite3_bind_int64(s, i + 5, (sqlite3_int64)t->result.run_id);
    sqlite3_bind_int64(s, i + 6, (sqlite3_int64)t->result.task_id);
    sqlite3_bind_int64(s, i + 7, t->result.attempt);
    bind_result(s, i + 8, &t->result);
}

static int put_task(ms_catalog_t *c, uint64_t run_id, const ms_trec_t *t, int with_worker,
                    char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_TASK_PUT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)t->id);
    bind_bytes(s, 3, t->project ? t->project : "");
    sqlite3_bind_int64(s, 4, t->flags);
    bind_life(s, 5, t);
    sqlite3_bind_int64(s, 25, t->parent == MS_NO_TASK ? -1 : (sqlite3_int64)t->parent);
    size_t spec_len = 0;
    char *spec = ms_run_spec_encode(t, &spec_len);
    if (!spec && (t->n_items || t->n_excl))
        return ms_errf(err, errlen, "catalog: out of memory");
    if (spec)
        sqlite3_bind_blob(s, 26, spec, (int)spec_len, free);
    else
        sqlite3_bind_null(s, 26);
    if (step_done(c, ST_TASK_PUT, "save task", err, errlen) != 0)
        return -1;
    if (t->attempts >= 1 && put_attempt(c, run_id, t, err, errlen) != 0)
        return -1;
    /* The worker's count of tasks changes when a task is handed out. */
    return with_worker && t->state == MS_TS_RUNNING ? put_task_worker(c, t, err, errlen) : 0;
}

static int put_workers(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen)
{
    sqlite3_bind_int64(c->st[ST_WORKERS_DEL], 1, (sqlite3_int64)r->id);
    if (step_done(c, ST_WORKERS_DEL, "save workers", err, errlen) != 0)
        return -1;
    return ms_catalog_save_workers(c, r, err, errlen);
}

/* A snapshot run's snapshot, or NULL for a mirror. 0, or -1 (memory). */
static int bind_snap(sqlite3_stmt *s, int i, const ms_runrec_t *r)
{
    char *text = ms_run_snap_json(r);
    if (r->snap && !text)
        return -1;
    if (text)
        sqlite3_bind_blob(s, i, text, (int)strlen(text), free);
    else
        sqlite3_bind_null(s, i);
    return 0;
}

static int put_run(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_RUN_PUT];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
    bind_bytes(s, 2, r->source);
    bind_bytes(s, 3, r->dest);
    bind_bytes(s, 4, r->set);
    sqlite3_bind_int64(s, 5, r->flags);
    sqlite3_bind_int64(s, 6, ts_to_ns(&r->started_rt));
    sqlite3_bind_int64(s, 7, ts_to_ns(&r->finished_rt));
    sqlite3_bind_int(s, 8, r->finished != 0);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)r->n_tasks);
    if (bind_snap(s, 10, r) != 0)
        return ms_errf(err, errlen, "catalog: save run: out of memory");
    if (step_done(c, ST_RUN_PUT, "save run", err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < r->n_tasks; i++)
        if (put_task(c, r->id, ms_run_at(r, i), 0, err, errlen) != 0)
            return -1;
    return put_workers(c, r, err, errlen);
}

int ms_catalog_save_run(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen)
{
    if (op_begin(c, err, errlen) != 0)
        return -1;
    return op_end(c, put_run(c, r, err, errlen), err, errlen);
}

int ms_catalog_save_task(ms_catalog_t *c, const ms_trec_t *t, char *err, size_t errlen)
{
    if (!t->run)
        return ms_errf(err, errlen, "catalog: save task %" PRIu64 ": task has no run", t->id);
    if (op_begin(c, err, errlen) != 0)
        return -1;
    return op_end(c, put_task(c, t->run->id, t, 1, err, errlen), err, errlen);
}

/* The columns ST_TASK_STATE changes; 0, or -1 when there is no row. */
static int put_task_state(ms_catalog_t *c, uint64_t run_id, const ms_trec_t *t, char *err,
                          size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_TASK_STATE];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)t->id);
    bind_life(s, 3, t);
    if (step_done(c, ST_TASK_STATE, "save task state", err, errlen) != 0)
        return -1;
    return sqlite3_changes(c->db) > 0 ? 0 : 1;
}

static int update_task(ms_catalog_t *c, const ms_trec_t *t, char *err, size_t errlen)
{
    int rc = put_task_state(c, t->run->id, t, err, errlen);
    if (rc == 1) /* never stored: the whole row */
        return put_task(c, t->run->id, t, 0, err, errlen);
    if (rc == 0 && t->attempts >= 1)
        rc = put_attempt(c, t->run->id, t, err, errlen);
    return rc;
}

int ms_catalog_update_task(ms_catalog_t *c, const ms_trec_t *t, char *err, size_t errlen)
{
    if (!t->run)
        return ms_errf(err, errlen, "catalog: save task %" PRIu64 ": task has no run", t->id);
    if (ms_catalog_in_txn(c))
        return update_task(c, t, err, errlen);
    if (op_begin(c, err, errlen) != 0)
        return -1;
    return op_end(c, update_task(c, t, err, errlen), err, errlen);
}

int ms_catalog_save_workers(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->n_workers; i++)
        if (put_worker(c, r->id, i, &r->workers[i], err, errlen) != 0)
            return -1;
    return 0;
}

int ms_catalog_save_ntasks(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_RUN_NTASKS];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)r->n_tasks);
    return step_done(c, ST_RUN_NTASKS, "save task count", err, errlen);
}

static int put_run_end(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_RUN_END];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
    sqlite3_bind_int(s, 2, r->finished != 0);
    sqlite3_bind_int64(s, 3, ts_to_ns(&r->finished_rt));
    if (r->extra_json)
        sqlite3_bind_blob(s, 4, r->extra_json, (int)strlen(r->extra_json), SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 4);
    if (bind_snap(s, 5, r) != 0)
        return ms_errf(err, errlen, "catalog: save run end: out of memory");
    sqlite3_bind_int64(s, 6, r->flags);
    if (step_done(c, ST_RUN_END, "save run end", err, errlen) != 0)
        return -1;
    if (sqlite3_changes(c->db) == 0)
        return ms_errf(err, errlen, "catalog: save run end: no run %" PRIu64, r->id);
    return put_workers(c, r, err, errlen);
}

int ms_catalog_save_run_end(ms_catalog_t *c, const ms_runrec_t *r, char *err, size_t errlen)
{
    if (op_begin(c, err, errlen) != 0)
        return -1;
    return op_end(c, put_run_end(c, r, err, errlen), err, errlen);
}

/* --- loading ----------------------------------------------------------- */

/* Read the 12 columns of RESULT_COLS from column i. */
static int read_result(sqlite3_stmt *s, int i, ms_result_t *res)
{
    res->exit_code = sqlite3_column_int(s, i);
    res->term_signal = sqlite3_column_int(s, i + 1);
    res->seconds = sqlite3_column_double(s, i + 2);
    res->files = (uint64_t)sqlite3_column_int64(s, i + 3);
    res->bytes_total = (uint64_t)sqlite3_column_int64(s, i + 4);
    res->bytes_transferred = (uint64_t)sqlite3_column_int64(s, i + 5);
    res->cpu_user_s = sqlite3_column_double(s, i + 6);
    res->cpu_sys_s = sqlite3_column_double(s, i + 7);
    res->max_rss_kb = (uint64_t)sqlite3_column_int64(s, i + 8);
    res->read_bytes = (uint64_t)sqlite3_column_int64(s, i + 9);
    res->write_bytes = (uint64_t)sqlite3_column_int64(s, i + 10);
    free(res->message);
    res->message = col_dup(s, i + 11);
    return res->message || sqlite3_column_type(s, i + 11) == SQLITE_NULL ? 0 : -1;
}

/* Overwrite task t with the current row of ST_TASKS_GET. */
static int fill_task(ms_trec_t *t, sqlite3_stmt *s, char *err, size_t errlen)
{
    char host[MS_MAX_NAME + 1], failed_on[MS_MAX_NAME + 1];
    int state = sqlite3_column_int(s, 3);
    if (state < MS_TS_HELD || state > MS_TS_SCANNING)
        return ms_errf(err, errlen, "catalog: run %" PRIu64 " task %" PRIu64 ": bad state %d",
                       t->run->id, t->id, state);
    char *project = col_dup(s, 1);
    if (!project)
        return ms_errf(err, errlen, "catalog: out of memory");
    free(t->project);
    t->project = project;
    t->flags = (uint32_t)sqlite3_column_int64(s, 2);
    t->state = (ms_task_state_t)state;
    t->attempts = (uint32_t)sqlite3_column_int64(s, 4);
    if (col_copy(s, 5, t->worker_id, sizeof t->worker_id) != 0 ||
        col_copy(s, 6, host, sizeof host) != 0 || col_copy(s, 7, failed_on, sizeof failed_on) != 0)
        return ms_errf(err, errlen, "catalog: run %" PRIu64 " task %" PRIu64 ": name too long",
                       t->run->id, t->id);
    t->host = ms_run_intern(t->run, host);
    t->failed_on = ms_run_intern(t->run, failed_on);
    t->result.run_id = (uint64_t)sqlite3_column_int64(s, 8);
    t->result.task_id = (uint64_t)sqlite3_column_int64(s, 9);
    t->result.attempt = (uint32_t)sqlite3_column_int64(s, 10);
    if (read_result(s, 11, &t->result) != 0)
        return ms_errf(err, errlen, "catalog: out of memory");
    sqlite3_int64 parent = sqlite3_column_int64(s, 23);
    t->parent = parent < 0 ? MS_NO_TASK : (uint64_t)parent;
    const void *spec = sqlite3_column_blob(s, 24);
    int spec_len = sqlite3_column_bytes(s, 24);
    if (spec && ms_run_spec_decode(t, spec, (size_t)spec_len) != 0)
        return ms_errf(err, errlen, "catalog: run %" PRIu64 " task %" PRIu64 ": bad chunk paths",
                       t->run->id, t->id);
    t->handed_ns = sqlite3_column_int64(s, 25); /* NULL (never handed out): 0 */
    return 0;
}

/* The tasks of r, which has none yet, from their rows: expected of them. */
static int read_tasks(ms_catalog_t *c, ms_runrec_t *r, size_t expected, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_TASKS_GET];
    size_t i = 0;
    int rc, ret = -1;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (i >= expected || sqlite3_column_int64(s, 0) != (sqlite3_int64)i) {
            ms_errf(err, errlen, "catalog: run %" PRIu64 ": task rows do not match its %zu tasks",
                    r->id, expected);
            goto out;
        }
        ms_trec_t *t = ms_run_add_task(r, "", 0);
        i++;
        if (!t) {
            ms_errf(err, errlen, "catalog: out of memory");
            goto out;
        }
        if (fill_task(t, s, err, errlen) != 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        db_err(c, err, errlen, "load tasks");
        goto out;
    }
    if (i != expected) {
        ms_errf(err, errlen, "catalog: run %" PRIu64 ": %zu tasks stored, %zu expected", r->id, i,
                expected);
        goto out;
    }
    ms_run_recount(r);
    ret = 0;
out:
    sqlite3_reset(s);
    return ret;
}

/* Each worker's task CPU and wall seconds: every result its host sent
 * (the attempts table keeps them all; a task keeps only its last). */
static int read_host_cpu(ms_catalog_t *c, ms_runrec_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_HOST_CPU];
    int rc;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char host[MS_MAX_NAME + 1];
        ms_run_worker_t *w = col_copy(s, 0, host, sizeof host) == 0 ? ms_run_worker(r, host) : NULL;
        if (w) {
            w->task_cpu_s = sqlite3_column_double(s, 1);
            w->task_secs = sqlite3_column_double(s, 2);
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : db_err(c, err, errlen, "load task cpu per host");
}

static int add_worker(ms_runrec_t *r, sqlite3_stmt *s, char *err, size_t errlen)
{
    ms_run_worker_t *nw = realloc(r->workers, (r->n_workers + 1) * sizeof *nw);
    if (!nw)
        return ms_errf(err, errlen, "catalog: out of memory");
    r->workers = nw;
    ms_run_worker_t *w = &nw[r->n_workers++];
    memset(w, 0, sizeof *w);
    if (col_copy(s, 0, w->id, sizeof w->id) != 0 || col_copy(s, 1, w->host, sizeof w->host) != 0)
        return ms_errf(err, errlen, "catalog: run %" PRIu64 ": worker name too long", r->id);
    w->slots = (unsigned)sqlite3_column_int64(s, 2);
    w->tasks = (unsigned)sqlite3_column_int64(s, 3);
    return 0;
}

static int read_workers(ms_catalog_t *c, ms_runrec_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_WORKERS_GET];
    int rc, ret = -1;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)r->id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        if (add_worker(r, s, err, errlen) != 0)
            goto out;
    if (rc != SQLITE_DONE) {
        db_err(c, err, errlen, "load workers");
        goto out;
    }
    ret = 0;
out:
    sqlite3_reset(s);
    return ret;
}

/* A run without its tasks from the current row of ST_RUN_GET; *n_tasks
 * says how many rows read_tasks() must find. */
static ms_runrec_t *run_from_row(sqlite3_stmt *s, size_t *n_tasks, char *err, size_t errlen)
{
    ms_runrec_t *r = NULL;
    uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_int64 n = sqlite3_column_int64(s, 8);
    char *src = col_dup(s, 1), *dst = col_dup(s, 2), *set = col_dup(s, 3);
    if (n < 1 || n > MAX_TASKS) {
        ms_errf(err, errlen, "catalog: run %" PRIu64 ": bad task count %lld", id, (long long)n);
        goto out;
    }
    if (!src || !dst || (!set && sqlite3_column_type(s, 3) != SQLITE_NULL) ||
        !(r = ms_run_new(id, src, dst, set))) {
        ms_errf(err, errlen, "catalog: out of memory");
        goto out;
    }
    *n_tasks = (size_t)n;
    r->flags = (uint32_t)sqlite3_column_int64(s, 4);
    r->started_rt = ns_to_ts(sqlite3_column_int64(s, 5));
    r->finished_rt = ns_to_ts(sqlite3_column_int64(s, 6));
    r->finished = sqlite3_column_int(s, 7) != 0;
    r->extra_json = col_dup(s, 9); /* NULL when absent or out of memory: recomputed then */
    char *snap = col_dup(s, 10);
    if ((snap || sqlite3_column_type(s, 10) != SQLITE_NULL) &&
        (!snap || ms_run_snap_from_json(r, snap) != 0)) {
        ms_errf(err, errlen, "catalog: run %" PRIu64 ": its snapshot record is unreadable", id);
        ms_run_destroy(&r);
    }
    free(snap);
out:
    free(src);
    free(dst);
    free(set);
    return r;
}

static ms_runrec_t *read_run(ms_catalog_t *c, uint64_t run_id, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_RUN_GET];
    ms_runrec_t *r = NULL;
    size_t n_tasks = 0;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)run_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        r = run_from_row(s, &n_tasks, err, errlen);
    else if (rc == SQLITE_DONE)
        ms_errf(err, errlen, "catalog: no run %" PRIu64, run_id);
    else
        db_err(c, err, errlen, "load run");
    sqlite3_reset(s);
    if (r && (read_tasks(c, r, n_tasks, err, errlen) != 0 || read_workers(c, r, err, errlen) != 0 ||
              read_host_cpu(c, r, err, errlen) != 0))
        ms_run_destroy(&r);
    return r;
}

ms_runrec_t *ms_catalog_load_run(ms_catalog_t *c, uint64_t run_id, char *err, size_t errlen)
{
    if (op_begin(c, err, errlen) != 0)
        return NULL;
    ms_runrec_t *r = read_run(c, run_id, err, errlen);
    if (op_end(c, r ? 0 : -1, err, errlen) != 0)
        ms_run_destroy(&r);
    return r;
}

static void free_runs(ms_runrec_t **runs, size_t n)
{
    for (size_t i = 0; runs && i < n; i++)
        ms_run_destroy(&runs[i]);
    free(runs);
}

/* Rebuild each run ST_RUN_IDS names into *runs (*n of them so far). */
static int read_runs(ms_catalog_t *c, int unfinished_only, size_t limit, ms_runrec_t ***runs,
                     size_t *n, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_RUN_IDS];
    int rc, ret = -1;
    sqlite3_bind_int(s, 1, unfinished_only != 0);
    sqlite3_bind_int64(s, 2, unfinished_only || limit == 0 ? -1 : (sqlite3_int64)limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ms_runrec_t **nr = realloc(*runs, (*n + 1) * sizeof *nr);
        if (!nr) {
            ms_errf(err, errlen, "catalog: out of memory");
            goto out;
        }
        *runs = nr;
        if (!(nr[*n] = read_run(c, (uint64_t)sqlite3_column_int64(s, 0), err, errlen)))
            goto out;
        (*n)++;
    }
    if (rc != SQLITE_DONE) {
        db_err(c, err, errlen, "load runs");
        goto out;
    }
    ret = 0;
out:
    sqlite3_reset(s);
    return ret;
}

int ms_catalog_load_runs(ms_catalog_t *c, int unfinished_only, size_t limit, ms_runrec_t ***runs,
                         size_t *n, char *err, size_t errlen)
{
    *runs = NULL;
    *n = 0;
    if (op_begin(c, err, errlen) != 0)
        return -1;
    int rc = read_runs(c, unfinished_only, limit, runs, n, err, errlen);
    if (op_end(c, rc, err, errlen) != 0) {
        free_runs(*runs, *n);
        *runs = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* --- JSON -------------------------------------------------------------- */

/* A name as a JSON string in valid UTF-8 (see ms_utf8_clean); null for NULL. */
static json_t *json_name(const char *s)
{
    if (!s)
        return json_null();
    size_t cap = 4 * strlen(s) + 6; /* room for every byte as "\xNN" */
    char *buf = malloc(cap);
    json_t *j = buf ? json_string(ms_utf8_clean(s, buf, cap)) : NULL;
    free(buf);
    return j;
}

static void rfc3339(sqlite3_int64 ns, char *out, size_t outlen)
{
    struct timespec ts = ns_to_ts(ns);
    struct tm tm;
    if (!gmtime_r(&ts.tv_sec, &tm) || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, outlen, "?");
}

static json_t *history_row(sqlite3_stmt *s)
{
    char started[64], finished[64];
    sqlite3_int64 start = sqlite3_column_int64(s, 4), end = sqlite3_column_int64(s, 5);
    int done = sqlite3_column_int(s, 6) != 0;
    sqlite3_int64 failed = sqlite3_column_int64(s, 8);
    int cancelled = (sqlite3_column_int64(s, 12) & MS_RUN_CANCELLED) != 0;
    const char *status = !done       ? (cancelled ? "cancelling" : "running")
                         : cancelled ? "cancelled"
                         : failed    ? "failed"
                                     : "ok";
    rfc3339(start, started, sizeof started);
    rfc3339(end, finished, sizeof finished);
    double wall = (double)((done ? end : now_ns()) - start) / 1e9;
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:s, s:s?, s:s, s:f, s:I, s:I, s:I, s:I}", "run_id",
                     (json_int_t)sqlite3_column_int64(s, 0), "kind",
                     ms_run_kind((uint32_t)sqlite3_column_int64(s, 12)), "set",
                     json_name(col_str(s, 1)), "source", json_name(col_str(s, 2)), "destination",
                     json_name(col_str(s, 3)), "started", started, "finished",
                     done ? finished : NULL, "status", status, "wall_seconds", ms_jnum_ms(wall),
                     "tasks", (json_int_t)sqlite3_column_int64(s, 7), "failed", (json_int_t)failed,
                     "bytes_total", (json_int_t)sqlite3_column_int64(s, 9), "bytes_transferred",
                     (json_int_t)sqlite3_column_int64(s, 10));
}

/* A snapshot run's entry says its snapshot: name, complete, what
 * retention removed after it (from the run's snapshot record). */
static void add_snapshot(json_t *entry, sqlite3_stmt *s, int col)
{
    json_t *snap = sqlite3_column_type(s, col) == SQLITE_NULL
                       ? NULL
                       : json_loadb(sqlite3_column_blob(s, col),
                                    (size_t)sqlite3_column_bytes(s, col), 0, NULL);
    if (!json_is_object(snap) || !entry) {
        json_decref(snap);
        return;
    }
    json_object_del(snap, "keep");
    json_object_del(snap, "retained");
    if (json_is_string(json_object_get(snap, "error")))
        json_object_set_new(entry, "status", json_string("failed"));
    json_object_set_new(entry, "snapshot", snap);
}

/* One history entry from the current row of ST_HISTORY. */
static json_t *history_entry(sqlite3_stmt *s)
{
    json_t *entry = history_row(s);
    uint64_t flags = (uint64_t)sqlite3_column_int64(s, 12);
    if (entry)
        json_object_set_new(entry, "unchanged", json_integer(sqlite3_column_int64(s, 13)));
    if (entry) /* a full pass of a backup (never of a verify or restore) */
        json_object_set_new(entry, "full", json_boolean(flags & MS_RUN_FULL));
    /* (a verify's is the compared one; a dry run's wrote nothing) */
    if ((flags & MS_RUN_SNAPSHOT) && !(flags & MS_RUN_DRY_RUN))
        add_snapshot(entry, s, 11);
    return entry;
}

/* One attempt from the current row of ST_ATTEMPTS_GET: the outcome fields
 * are null while the attempt has no result. */
static json_t *attempt_entry(sqlite3_stmt *s)
{
    int has = sqlite3_column_int(s, 3) != 0;
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "attempt",
                     (json_int_t)sqlite3_column_int64(s, 0), "worker", json_name(col_str(s, 1)),
                     "host", json_name(col_str(s, 2)), "exit_code",
                     has ? json_integer(sqlite3_column_int(s, 4)) : json_null(), "signal",
                     has ? json_integer(sqlite3_column_int(s, 5)) : json_null(), "seconds",
                     has ? json_real(ms_jnum_ms(sqlite3_column_double(s, 6))) : json_null(),
                     "message", has ? json_name(col_str(s, 7)) : json_null());
}

/* Step s (bound by the caller) into a JSON array of entry(row). */
static json_t *rows_json(ms_catalog_t *c, sqlite3_stmt *s, json_t *(*entry)(sqlite3_stmt *),
                         const char *what, char *err, size_t errlen)
{
    json_t *arr = json_array();
    int rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(s)) == SQLITE_ROW)
        if (json_array_append_new(arr, entry(s)) != 0)
            break;
    if (rc != SQLITE_DONE) {
        if (!arr || rc == SQLITE_ROW)
            ms_errf(err, errlen, "catalog: %s: out of memory", what);
        else
            db_err(c, err, errlen, what);
        json_decref(arr);
        arr = NULL;
    }
    sqlite3_reset(s);
    return arr;
}

json_t *ms_catalog_history(ms_catalog_t *c, size_t n, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_HISTORY];
    sqlite3_bind_int(s, 1, MS_TS_FAILED);
    sqlite3_bind_int64(s, 2, n == 0 ? -1 : (sqlite3_int64)n);
    sqlite3_bind_int(s, 3, MS_EXIT_UNCHANGED);
    sqlite3_bind_int(s, 4, MS_EXIT_CANCELLED);
    return rows_json(c, s, history_entry, "history", err, errlen);
}

json_t *ms_catalog_attempts(ms_catalog_t *c, uint64_t run_id, uint64_t task_id, char *err,
                            size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_ATTEMPTS_GET];
    sqlite3_bind_int64(s, 1, (sqlite3_int64)run_id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)task_id);
    return rows_json(c, s, attempt_entry, "attempts", err, errlen);
}

/* --- sizes from the previous run --------------------------------------- */

static int cmp_task_project(const void *a, const void *b)
{
    return strcmp((*(ms_trec_t *const *)a)->project, (*(ms_trec_t *const *)b)->project);
}

/* Give each task of r, by project name, the size it had last time, and r
 * the total cost of that run. */
static int apply_prior(ms_runrec_t *r, sqlite3_stmt *s, ms_trec_t **by_name, size_t n)
{
    int rc;
    r->prior_cost = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r->prior_cost += ms_split_cost((uint64_t)sqlite3_column_int64(s, 1),
                                       (uint64_t)sqlite3_column_int64(s, 3));
        char *project = col_dup(s, 0);
        if (!project)
            continue;
        ms_trec_t key = {.project = project}, *kp = &key;
        ms_trec_t **hit = bsearch(&kp, by_name, n, sizeof *by_name, cmp_task_project);
        if (hit) {
            (*hit)->expected_bytes = (uint64_t)sqlite3_column_int64(s, 1);
            (*hit)->expected_seconds = sqlite3_column_double(s, 2);
            (*hit)->expected_known = 1;
        }
        free(project);
    }
    return rc;
}

int ms_catalog_prior_sizes(ms_catalog_t *c, ms_runrec_t *r, char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_PRIOR];
    ms_trec_t **by_name = malloc(r->n_tasks * sizeof *by_name);
    if (!by_name)
        return ms_errf(err, errlen, "catalog: out of memory");
    for (size_t i = 0; i < r->n_tasks; i++)
        by_name[i] = ms_run_at(r, i);
    qsort(by_name, r->n_tasks, sizeof *by_name, cmp_task_project);
    sqlite3_bind_blob(s, 1, r->source, (int)strlen(r->source), SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 2, r->dest, (int)strlen(r->dest), SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)r->id);
    sqlite3_bind_int(s, 4, MS_TS_OK);
    /* A cancelled run's sizes are those of the tasks it ended in time. */
    sqlite3_bind_int(s, 5, (int)(MS_RUN_VERIFY | MS_RUN_DRY_RUN | MS_RUN_CANCELLED));
    sqlite3_bind_int(s, 6, (int)(r->flags & (MS_RUN_VERIFY | MS_RUN_DRY_RUN)));
    int rc = apply_prior(r, s, by_name, r->n_tasks) == SQLITE_DONE
                 ? 0
                 : db_err(c, err, errlen, "sizes of the previous run");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    free(by_name);
    return rc;
}

int ms_catalog_checkpoint(ms_catalog_t *c, int *wal_pages, char *err, size_t errlen)
{
    int log = 0, done = 0;
    if (!sqlite3_get_autocommit(c->db))
        return ms_errf(err, errlen, "catalog: no checkpoint inside a transaction");
    if (sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) != SQLITE_OK)
        return ms_errf(err, errlen, "catalog: checkpoint: %s", sqlite3_errmsg(c->db));
    if (wal_pages)
        *wal_pages = log - done;
    return 0;
}

/* --- fingerprints ------------------------------------------------------ */

int ms_catalog_fp_put(ms_catalog_t *c, const char *source, const char *dest,
                      const ms_catalog_fp_t *rec, char *err, size_t errlen)
{
    char hex[MS_FP_HEX];
    sqlite3_stmt *s = c->st[ST_FP_PUT];
    ms_fp_hex(rec->fp, hex);
    bind_bytes(s, 1, source);
    bind_bytes(s, 2, dest);
    bind_bytes(s, 3, rec->project);
    bind_bytes(s, 4, rec->part);
    sqlite3_bind_text(s, 5, hex, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, rec->opts, -1, SQLITE_TRANSIENT);
    if (rec->snap)
        sqlite3_bind_text(s, 7, rec->snap, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 7);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)rec->run_id);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)rec->files);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)rec->bytes);
    return step_done(c, ST_FP_PUT, "save a fingerprint", err, errlen);
}

/* The record in the current row of ST_FP_GET; -1 when it is malformed. */
static int fp_row(sqlite3_stmt *s, ms_catalog_fp_t *rec)
{
    rec->project = col_str(s, 0);
    rec->part = col_str(s, 1);
    rec->opts = col_str(s, 3);
    rec->snap = sqlite3_column_type(s, 4) == SQLITE_NULL ? NULL : col_str(s, 4);
    rec->run_id = (uint64_t)sqlite3_column_int64(s, 5);
    rec->files = (uint64_t)sqlite3_column_int64(s, 6);
    rec->bytes = (uint64_t)sqlite3_column_int64(s, 7);
    const char *hex = (const char *)sqlite3_column_text(s, 2);
    return rec->project && rec->part && rec->opts && hex ? ms_fp_parse(hex, &rec->fp) : -1;
}

int ms_catalog_fp_each(ms_catalog_t *c, const char *source, const char *dest,
                       int (*fn)(void *arg, const ms_catalog_fp_t *rec), void *arg, char *err,
                       size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_FP_GET];
    int rc, stop = 0;
    bind_bytes(s, 1, source);
    bind_bytes(s, 2, dest);
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        ms_catalog_fp_t rec;
        if (fp_row(s, &rec) == 0) /* a malformed one: as if none (the copy runs) */
            stop = fn(arg, &rec) != 0;
    }
    rc = stop || rc == SQLITE_DONE ? 0 : db_err(c, err, errlen, "fingerprints");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return stop ? -1 : rc;
}

int ms_catalog_since_full(ms_catalog_t *c, const char *source, const char *dest, uint64_t *n,
                          char *err, size_t errlen)
{
    sqlite3_stmt *s = c->st[ST_SINCE_FULL];
    bind_bytes(s, 1, source);
    bind_bytes(s, 2, dest);
    sqlite3_bind_int(s, 3, (int)(MS_RUN_VERIFY | MS_RUN_RESTORE));
    sqlite3_bind_int(s, 4, (int)MS_RUN_FULL);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    rc = rc == SQLITE_ROW ? 0 : db_err(c, err, errlen, "runs since the last full one");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

int ms_catalog_set_sync(ms_catalog_t *c, int full, char *err, size_t errlen)
{
    const char *sql = full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
    return sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0
                                                                   : db_err(c, err, errlen, sql);
}
