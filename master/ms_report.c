#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ms_diag.h"
#include "ms_jnum.h"
#include "ms_label.h"
#include "ms_report.h"
#include "ms_utf8.h"

static void rfc3339(const struct timespec *ts, char *out, size_t outlen)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *state_name(const ms_trec_t *t)
{
    if ((t->flags & MS_TASK_REMOVE) && t->state == MS_TS_OK)
        return "removed";
    switch (t->state) {
    case MS_TS_HELD:
    case MS_TS_QUEUED:
    case MS_TS_SCANNING:
        return "queued";
    case MS_TS_RUNNING:
        return "running";
    case MS_TS_OK:
        return ms_result_vanished(&t->result)       ? "vanished"
               : ms_result_unchanged(&t->result)    ? "unchanged"
               : ms_result_would_change(&t->result) ? "would-change"
                                                    : "ok";
    case MS_TS_FAILED:
        return ms_result_differs(&t->result)     ? "differs"
               : ms_result_cancelled(&t->result) ? "cancelled"
                                                 : "failed";
    }
    return "unknown";
}

/* How far along a task is, to fold a split project's tasks into one
 * state: failed if any failed, else cancelled if any was, else differs if
 * any differs (a verify), else running if any runs, ... */
static int state_rank(const ms_trec_t *t)
{
    switch (t->state) {
    case MS_TS_OK:
        return 0;
    case MS_TS_HELD:
    case MS_TS_QUEUED:
    case MS_TS_SCANNING:
        return 1;
    case MS_TS_RUNNING:
        return 2;
    case MS_TS_FAILED:
        return ms_result_differs(&t->result) ? 3 : ms_result_cancelled(&t->result) ? 4 : 5;
    }
    return 0;
}

/* Whether t lists paths: a verify's that differ, a dry run's that would
 * change. */
static int lists_paths(const ms_trec_t *t)
{
    return t->state == MS_TS_FAILED ? ms_result_differs(&t->result)
                                    : t->state == MS_TS_OK && ms_result_would_change(&t->result);
}

/* How many paths a verify task found different (a dry-run task, that
 * would change): its message says so first ("12 paths differ:", "3 paths
 * would change:", ms_rsync_itemize_text); 0 when it did not. */
static uint64_t differ_paths(const ms_trec_t *t)
{
    const char *msg = t->result.message;
    char *end = NULL;
    if (!lists_paths(t))
        return 0;
    uint64_t n = msg ? strtoull(msg, &end, 10) : 0;
    return end && end != msg && strncmp(end, " path", 5) == 0 ? n : 1;
}

/* Fold chunk c into row, its project's row (a copy of the project's rest):
 * counters add up, and the worst state and its failure show. */
static void fold_chunk(ms_trec_t *row, const ms_trec_t *c)
{
    ms_result_t *a = &row->result;
    const ms_result_t *b = &c->result;
    a->seconds += b->seconds;
    a->files += b->files;
    a->bytes_total += b->bytes_total;
    a->bytes_transferred += b->bytes_transferred;
    a->cpu_user_s += b->cpu_user_s;
    a->cpu_sys_s += b->cpu_sys_s;
    a->read_bytes += b->read_bytes;
    a->write_bytes += b->write_bytes;
    if (b->max_rss_kb > a->max_rss_kb)
        a->max_rss_kb = b->max_rss_kb;
    if (c->attempts > row->attempts)
        row->attempts = c->attempts;
    if (c->handed_ns && (!row->handed_ns || c->handed_ns < row->handed_ns))
        row->handed_ns = c->handed_ns; /* the row starts with its first part */
    /* unchanged only when every part was: one copied makes the project ok */
    if (c->state == MS_TS_OK && row->state == MS_TS_OK && ms_result_unchanged(a) &&
        !ms_result_unchanged(b) && !ms_result_vanished(b)) {
        a->exit_code = b->exit_code;
        a->message = b->message; /* borrowed */
    }
    /* a dry run's project would change when any part would (fold_differs
     * gathers what each lists) */
    if (c->state == MS_TS_OK && row->state == MS_TS_OK && ms_result_would_change(b))
        a->exit_code = b->exit_code;
    if (state_rank(c) > state_rank(row)) {
        row->state = c->state;
        row->host = c->host;
        snprintf(row->worker_id, sizeof row->worker_id, "%s", c->worker_id);
        if (c->state == MS_TS_FAILED) {
            a->exit_code = b->exit_code;
            a->term_signal = b->term_signal;
            a->message = b->message; /* borrowed */
        }
    }
}

/* Wall clock ns (ms_wall_ns) as seconds after r started, to the ms; null
 * for 0 (a task never handed out: unchanged, queued, cancelled first). */
static json_t *run_offset(const ms_runrec_t *r, int64_t ns)
{
    int64_t start = (int64_t)r->started_rt.tv_sec * 1000000000 + r->started_rt.tv_nsec;
    return ns ? json_real(ms_jnum_ms((double)(ns - start) / 1e9)) : json_null();
}

/* A row's JSON; paths: a verify's differences in it (0: none). start_s:
 * when its last attempt was handed out (a split project's: its first
 * part), for a timeline of the run. */
static json_t *task_row(const ms_trec_t *t, uint64_t paths)
{
    char name[4 * MS_MAX_PATH], host[4 * MS_MAX_NAME + 8], msg[4 * 4096];
    const ms_result_t *r = &t->result;
    ms_utf8_clean(r->message ? r->message : "", msg, sizeof msg);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:f, s:I, s:I, s:I, s:f, s:f, s:I, s:I, "
        "s:I, s:s, s:o*}",
        "project", ms_utf8_clean(ms_label_project(t->project), name, sizeof name), "worker",
        t->worker_id, "host", ms_utf8_clean(t->host, host, sizeof host), "status", state_name(t),
        "exit_code", (int)r->exit_code, "attempts", (int)t->attempts, "start_s",
        run_offset(t->run, t->handed_ns), "seconds", ms_jnum_ms(r->seconds), "files",
        (json_int_t)r->files, "bytes_total", (json_int_t)r->bytes_total, "bytes_transferred",
        (json_int_t)r->bytes_transferred, "cpu_user_s", ms_jnum_ms(r->cpu_user_s), "cpu_sys_s",
        ms_jnum_ms(r->cpu_sys_s), "max_rss_kb", (json_int_t)r->max_rss_kb, "read_bytes",
        (json_int_t)r->read_bytes, "write_bytes", (json_int_t)r->write_bytes, "message", msg,
        "paths", paths ? json_integer((json_int_t)paths) : NULL);
}

/* A task's row; a removal's (retention) says which snapshot it removed
 * its project from: "removed_from". */
static json_t *task_json(const ms_trec_t *t, uint64_t paths)
{
    json_t *o = task_row(t, paths);
    if (o && (t->flags & MS_TASK_REMOVE) && t->sub)
        json_object_set_new(o, "removed_from", json_stringn(t->sub, strcspn(t->sub, ".")));
    return o;
}

typedef struct {
    json_int_t tasks, ok, failed, vanished, files, total, xfer, rd, wr;
    json_int_t differs, paths; /* a verify's rows that differ, and their paths */
    json_int_t changes;        /* a dry run's rows that would change (paths: theirs) */
    json_int_t unchanged;      /* rows skipped as unchanged (counted in ok too) */
    json_int_t cancelled;      /* rows of a cancelled run not done (not counted as failed) */
    double cpu_u, cpu_s, task_secs;
} totals_t;

static void add_totals(totals_t *s, const ms_trec_t *t, uint64_t paths)
{
    const ms_result_t *r = &t->result;
    s->tasks++;
    int vanished = t->state == MS_TS_OK && ms_result_vanished(r);
    int differs = t->state == MS_TS_FAILED && ms_result_differs(r);
    int cancelled = t->state == MS_TS_FAILED && ms_result_cancelled(r);
    s->ok += t->state == MS_TS_OK && !vanished;
    s->unchanged += t->state == MS_TS_OK && ms_result_unchanged(r);
    s->vanished += vanished;
    s->failed += t->state == MS_TS_FAILED && !differs && !cancelled;
    s->cancelled += cancelled;
    s->differs += differs;
    s->changes += t->state == MS_TS_OK && ms_result_would_change(r);
    s->paths += (json_int_t)paths;
    s->files += (json_int_t)r->files;
    s->total += (json_int_t)r->bytes_total;
    s->xfer += (json_int_t)r->bytes_transferred;
    s->rd += (json_int_t)r->read_bytes;
    s->wr += (json_int_t)r->write_bytes;
    s->cpu_u += r->cpu_user_s;
    s->cpu_s += r->cpu_sys_s;
    s->task_secs += r->seconds;
}

static json_t *totals_json(const totals_t *s, double wall, unsigned slots)
{
    double eff = wall > 0 && slots > 0 ? s->task_secs / (wall * slots) : 0.0;
    double bps = wall > 0 ? (double)s->xfer / wall : 0.0;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:f, s:i}",
                     "tasks", s->tasks, "ok", s->ok, "unchanged", s->unchanged, "failed", s->failed,
                     "vanished", s->vanished, "files", s->files, "bytes_total", s->total,
                     "bytes_transferred", s->xfer, "cpu_user_s", ms_jnum_ms(s->cpu_u), "cpu_sys_s",
                     ms_jnum_ms(s->cpu_s), "read_bytes", s->rd, "write_bytes", s->wr,
                     "throughput_bps", ms_jnum_whole(bps), "parallel_efficiency", ms_jnum_ms(eff),
                     "slots", (int)slots);
}

/* A frozen run (finished, or read back from the catalog) carries its
 * diagnosis and workers' figures in extra_json; a live one computes them. */
static json_t *workers_json(const ms_diag_t *diag, const ms_runrec_t *r, const json_t *frozen,
                            unsigned *slots)
{
    json_t *arr = json_array();
    char host[4 * MS_MAX_NAME + 8];
    *slots = 0;
    for (size_t i = 0; arr && i < r->n_workers; i++) {
        const ms_run_worker_t *w = &r->workers[i];
        *slots += w->slots;
        json_t *o = json_pack("{s:s, s:s, s:i, s:i}", "id", w->id, "host",
                              ms_utf8_clean(w->host, host, sizeof host), "slots", (int)w->slots,
                              "tasks", (int)w->tasks);
        json_t *figures = json_object_get(json_object_get(frozen, "workers"), w->id);
        if (figures)
            json_object_update(o, figures);
        else
            json_object_update_new(o, ms_diag_worker_json(diag, r, w));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* The rows of a report: one per project, a split project's chunks folded
 * into a copy of its rest. A finished run's fold never changes: it is kept
 * (ms_report_t), so that each page of a big report costs its own rows, not
 * a pass over every task. */
typedef struct {
    const ms_trec_t **rows; /* in task order */
    ms_trec_t **folded;     /* by task index: the folded copy, or NULL */
    /* A verify's, by task index, for a folded row: the differing paths of
     * its parts, and what they list (owned; the row's message when the
     * row differs). NULL for other runs. */
    uint64_t *paths;
    char **texts;
    /* By task index, for a folded row: when the last of its parts that
     * ended ended (wall clock ns; 0: none did), its end_s. */
    int64_t *ends;
    size_t n_rows, n_tasks;
    totals_t tot;
} fold_t;

static void fold_free(fold_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->folded && i < f->n_tasks; i++)
        free(f->folded[i]);
    for (size_t i = 0; f->texts && i < f->n_tasks; i++)
        free(f->texts[i]);
    free(f->folded);
    free(f->ends);
    free(f->paths);
    free(f->texts);
    free(f->rows);
    free(f);
}

/* When part t ended (wall clock ns), if it ran and ended; else 0. */
static int64_t part_end(const ms_trec_t *t)
{
    if (!t->handed_ns || (t->state != MS_TS_OK && t->state != MS_TS_FAILED))
        return 0;
    return t->handed_ns + (int64_t)(t->result.seconds * 1e9);
}

static void note_end(int64_t *end, const ms_trec_t *t)
{
    int64_t e = part_end(t);
    if (e > *end)
        *end = e;
}

/* Fold every chunk into its project's row. 0, or -1 (memory). */
static int fold_chunks(fold_t *f, const ms_runrec_t *r)
{
    for (size_t i = 0; i < r->n_tasks; i++) {
        const ms_trec_t *c = ms_run_at(r, i);
        if (c->parent >= r->n_tasks)
            continue;
        ms_trec_t **row = &f->folded[c->parent];
        if (!*row) {
            if (!(*row = malloc(sizeof **row)))
                return -1;
            **row = *ms_run_at(r, c->parent);
            note_end(&f->ends[c->parent], *row);
        }
        fold_chunk(*row, c);
        note_end(&f->ends[c->parent], c);
    }
    return 0;
}

/* Append the lines of msg (all but its first: "N paths differ:") to *buf,
 * each ended by a newline. 0, or -1 (memory). */
static int append_lines(char **buf, const char *msg)
{
    const char *nl = msg ? strchr(msg, '\n') : NULL;
    const char *lines = nl ? nl + 1 : "";
    size_t old = *buf ? strlen(*buf) : 0, add = strlen(lines);
    int end = add > 0 && lines[add - 1] != '\n';
    char *grown = realloc(*buf, old + add + end + 1);
    if (!grown)
        return -1;
    memcpy(grown + old, lines, add);
    if (end)
        grown[old + add++] = '\n';
    grown[old + add] = '\0';
    *buf = grown;
    return 0;
}

/* The message of folded row k: its parts' differences (a dry run's:
 * changes) under one count. */
static int join_text(fold_t *f, size_t k, int dry_run)
{
    char *text = NULL;
    ms_trec_t *row = f->folded[k];
    uint64_t n = f->paths[k];
    if (asprintf(&text, "%" PRIu64 " path%s:\n%s", n,
                 dry_run  ? (n == 1 ? " would change" : "s would change")
                 : n == 1 ? " differs"
                          : "s differ",
                 f->texts[k]) < 0)
        return -1;
    free(f->texts[k]);
    f->texts[k] = text;
    row->result.message = text; /* the row's, borrowed from the fold */
    return 0;
}

/* A verify's split projects: what each part of one found different (a
 * dry run's: would change), in its row. 0, or -1 (memory). */
static int fold_differs(fold_t *f, const ms_runrec_t *r)
{
    size_t n = r->n_tasks ? r->n_tasks : 1;
    if (!(f->paths = calloc(n, sizeof *f->paths)) || !(f->texts = calloc(n, sizeof *f->texts)))
        return -1;
    for (size_t i = 0; i < r->n_tasks; i++) {
        const ms_trec_t *t = ms_run_at(r, i);
        size_t k = t->parent < r->n_tasks ? t->parent : i;
        uint64_t paths = differ_paths(t);
        if (!f->folded[k] || paths == 0)
            continue;
        f->paths[k] += paths;
        if (append_lines(&f->texts[k], t->result.message) != 0)
            return -1;
    }
    int dry_run = (r->flags & MS_RUN_DRY_RUN) != 0;
    for (size_t k = 0; k < r->n_tasks; k++)
        if (f->texts[k] && lists_paths(f->folded[k]) && join_text(f, k, dry_run) != 0)
            return -1;
    return 0;
}

/* The differing paths in row i (a task's index): a folded row's parts'. */
static uint64_t row_paths(const fold_t *f, size_t i, const ms_trec_t *row)
{
    return f->paths && f->folded[i] ? f->paths[i] : differ_paths(row);
}

static fold_t *fold_new(const ms_runrec_t *r)
{
    fold_t *f = calloc(1, sizeof *f);
    size_t n = r->n_tasks ? r->n_tasks : 1;
    if (!f || !(f->folded = calloc(n, sizeof *f->folded)) ||
        !(f->rows = calloc(n, sizeof *f->rows)) || !(f->ends = calloc(n, sizeof *f->ends))) {
        fold_free(f);
        return NULL;
    }
    f->n_tasks = r->n_tasks;
    if (fold_chunks(f, r) != 0 || ((r->flags & MS_RUN_VERIFY) && fold_differs(f, r) != 0)) {
        fold_free(f);
        return NULL;
    }
    for (size_t i = 0; i < r->n_tasks; i++) {
        const ms_trec_t *t = ms_run_at(r, i);
        if (t->parent < r->n_tasks)
            continue;
        const ms_trec_t *row = f->folded[i] ? f->folded[i] : t;
        add_totals(&f->tot, row, row_paths(f, i, row));
        f->rows[f->n_rows++] = row;
    }
    return f;
}

/* The rows from..from+max-1 among those selected (all, or the failed ones)
 * as JSON; *selected: how many rows are selected in all. */
static json_t *page_rows(const fold_t *f, size_t from, size_t max, int failed_only,
                         size_t *selected)
{
    json_t *tasks = json_array();
    size_t k = 0;
    for (size_t i = 0; tasks && i < f->n_rows; i++) {
        const ms_trec_t *row = f->rows[i];
        if (failed_only && row->state != MS_TS_FAILED)
            continue;
        if (k++ < from || k - from > max)
            continue;
        json_t *o = task_json(row, row_paths(f, (size_t)row->id, row));
        if (row->n_chunks) { /* a folded row is a copy of its rest */
            json_object_set_new(o, "chunks", json_integer(row->n_chunks));
            json_object_set_new(o, "end_s", run_offset(row->run, f->ends[row->id]));
        }
        json_array_append_new(tasks, o);
    }
    *selected = k;
    return tasks;
}

/* The report's memory of finished runs: the fold of the last one asked
 * for, so that paging through a big report costs each page its own rows;
 * and where a live run's diagnosis comes from. */
struct ms_report {
    const ms_runrec_t *run; /* whose fold this is; NULL: none */
    fold_t *fold;
    const ms_diag_t *diag; /* not owned; NULL: none */
};

ms_report_t *ms_report_new(const ms_diag_t *diag)
{
    ms_report_t *rep = calloc(1, sizeof *rep);
    if (rep)
        rep->diag = diag;
    return rep;
}

void ms_report_forget(ms_report_t *rep, const ms_runrec_t *r)
{
    if (rep && rep->run == r) {
        fold_free(rep->fold);
        rep->fold = NULL;
        rep->run = NULL;
    }
}

void ms_report_destroy(ms_report_t **rep)
{
    if (!*rep)
        return;
    ms_report_forget(*rep, (*rep)->run);
    free(*rep);
    *rep = NULL;
}

/* r's fold: the kept one, or a new one that rep keeps when r is finished
 * (a running run's rows change: its fold is the caller's to free). */
static fold_t *fold_of(ms_report_t *rep, const ms_runrec_t *r)
{
    if (rep && rep->run == r)
        return rep->fold;
    fold_t *f = fold_new(r);
    if (f && rep && r->finished) {
        ms_report_forget(rep, rep->run);
        rep->run = r;
        rep->fold = f;
    }
    return f;
}

/* A snapshot run's snapshot: which, linked to which, complete or why not,
 * and what retention removed after it. */
static json_t *snapshot_json(const ms_run_snap_t *s)
{
    json_t *pruned = json_array();
    for (size_t i = 0; pruned && i < s->pruned.n; i++)
        json_array_append_new(pruned, json_string(s->pruned.v[i]));
    return json_pack("{s:s, s:s?, s:b, s:s?, s:o*, s:s?}", "name", s->name, "link", s->link,
                     "complete", s->complete, "error", s->error, "pruned", pruned, "prune_error",
                     s->prune_error);
}

/* What the run is ("kind"); a snapshot run's snapshot; a verify's
 * differences {"snapshot": the one compared or null, "differs": rows,
 * "paths"} and the bytes its rsyncs read (totals "bytes_read": the verify
 * tasks' read_bytes, ms_pool.h); a dry run's changes {"snapshot": the one
 * compared or null, "changes": rows, "paths"}. */
static void add_kind(json_t *out, const ms_runrec_t *r, const totals_t *tot)
{
    json_object_set_new(out, "kind", json_string(ms_run_kind(r->flags)));
    if (ms_run_backs_up(r->flags))
        json_object_set_new(out, "full", json_boolean(r->flags & MS_RUN_FULL));
    if (r->flags & MS_RUN_DRY_RUN) {
        const char *compared = r->snap && r->snap->complete ? r->snap->name : NULL;
        json_object_set_new(out, "dry_run",
                            json_pack("{s:s?, s:I, s:I}", "snapshot", compared, "changes",
                                      tot->changes, "paths", tot->paths));
        return;
    }
    if (!(r->flags & MS_RUN_VERIFY)) {
        if (r->snap)
            json_object_set_new(out, "snapshot", snapshot_json(r->snap));
        return;
    }
    json_object_set_new(json_object_get(out, "totals"), "bytes_read", json_integer(tot->rd));
    json_object_set_new(out, "verify",
                        json_pack("{s:s?, s:I, s:I}", "snapshot", r->snap ? r->snap->name : NULL,
                                  "differs", tot->differs, "paths", tot->paths));
}

json_t *ms_report_json_page(ms_report_t *rep, const ms_runrec_t *r, size_t from, size_t max,
                            int failed_only)
{
    char started[32], finished[32], src[4 * MS_MAX_PATH], dst[4 * MS_MAX_PATH];
    char set[4 * MS_MAX_NAME + 8];
    fold_t *f = fold_of(rep, r);
    if (!f)
        return NULL;
    size_t selected = 0;
    json_t *tasks = page_rows(f, from, max, failed_only, &selected);
    totals_t tot = f->tot;
    if (!rep || rep->fold != f)
        fold_free(f);
    unsigned slots = 0;
    const ms_diag_t *figures = rep ? rep->diag : NULL;
    json_t *frozen = r->extra_json ? json_loads(r->extra_json, 0, NULL) : NULL;
    json_t *workers = workers_json(figures, r, frozen, &slots);
    json_t *diag = json_object_get(frozen, "diagnosis");
    diag = diag ? json_incref(diag) : ms_diag_json(figures, r);
    json_decref(frozen);
    struct timespec end = r->finished_rt;
    if (!r->finished)
        clock_gettime(CLOCK_REALTIME, &end);
    double wall = (double)(end.tv_sec - r->started_rt.tv_sec) +
                  (double)(end.tv_nsec - r->started_rt.tv_nsec) / 1e9;
    rfc3339(&r->started_rt, started, sizeof started);
    if (r->finished)
        rfc3339(&r->finished_rt, finished, sizeof finished);
    json_t *out =
        json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s?, s:f, s:s, s:o, s:o, s:o, s:o}", "run_id",
                  (json_int_t)r->id, "source", ms_utf8_clean(r->source, src, sizeof src),
                  "destination", ms_utf8_clean(r->dest, dst, sizeof dst), "set",
                  r->set ? ms_utf8_clean(r->set, set, sizeof set) : NULL, "started", started,
                  "finished", r->finished ? finished : NULL, "wall_seconds", ms_jnum_ms(wall),
                  "status", ms_run_status(r), "totals", totals_json(&tot, wall, slots), "tasks",
                  tasks, "workers", workers, "diagnosis", diag);
    if (out && (from > 0 || selected > json_array_size(tasks))) {
        json_object_set_new(out, "tasks_from", json_integer((json_int_t)from));
        json_object_set_new(out, "tasks_total", json_integer((json_int_t)selected));
    }
    if (out) {
        json_object_set_new(json_object_get(out, "totals"), "cancelled",
                            json_integer(tot.cancelled));
        add_kind(out, r, &tot);
    }
    if (out && r->no_worker) /* a client exits MS_RC_REFUSED, not "some tasks failed" */
        json_object_set_new(out, "refused", json_string("no worker could take its tasks"));
    return out;
}
