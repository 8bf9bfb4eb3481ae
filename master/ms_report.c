#include <string.h>
#include <time.h>

#include "ms_diag.h"
#include "ms_label.h"
#include "ms_log.h"
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
    switch (t->state) {
    case MS_TS_HELD:
    case MS_TS_QUEUED:
    case MS_TS_SCANNING:
        return "queued";
    case MS_TS_RUNNING:
        return "running";
    case MS_TS_OK:
        return ms_result_vanished(&t->result) ? "vanished" : "ok";
    case MS_TS_FAILED:
        return "failed";
    }
    return "unknown";
}

/* How far along a state is, to fold a split project's tasks into one
 * state: failed if any failed, else running if any runs, ... */
static int state_rank(ms_task_state_t s)
{
    switch (s) {
    case MS_TS_OK:
        return 0;
    case MS_TS_HELD:
    case MS_TS_QUEUED:
    case MS_TS_SCANNING:
        return 1;
    case MS_TS_RUNNING:
        return 2;
    case MS_TS_FAILED:
        return 3;
    }
    return 0;
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
    if (state_rank(c->state) > state_rank(row->state)) {
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

static json_t *task_json(const ms_trec_t *t)
{
    char name[4 * MS_MAX_PATH], host[4 * MS_MAX_NAME + 8], msg[4 * 4096];
    const ms_result_t *r = &t->result;
    ms_utf8_clean(r->message ? r->message : "", msg, sizeof msg);
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:f, s:I, s:I, s:I, s:f, s:f, s:I, s:I, "
        "s:I, s:s}",
        "project", ms_utf8_clean(ms_label_project(t->project), name, sizeof name), "worker",
        t->worker_id, "host", ms_utf8_clean(t->host, host, sizeof host), "status", state_name(t),
        "exit_code", (int)r->exit_code, "attempts", (int)t->attempts, "seconds", r->seconds,
        "files", (json_int_t)r->files, "bytes_total", (json_int_t)r->bytes_total,
        "bytes_transferred", (json_int_t)r->bytes_transferred, "cpu_user_s", r->cpu_user_s,
        "cpu_sys_s", r->cpu_sys_s, "max_rss_kb", (json_int_t)r->max_rss_kb, "read_bytes",
        (json_int_t)r->read_bytes, "write_bytes", (json_int_t)r->write_bytes, "message", msg);
}

typedef struct {
    json_int_t tasks, ok, failed, vanished, files, total, xfer, rd, wr;
    double cpu_u, cpu_s, task_secs;
} totals_t;

static void add_totals(totals_t *s, const ms_trec_t *t)
{
    const ms_result_t *r = &t->result;
    s->tasks++;
    int vanished = t->state == MS_TS_OK && ms_result_vanished(r);
    s->ok += t->state == MS_TS_OK && !vanished;
    s->vanished += vanished;
    s->failed += t->state == MS_TS_FAILED;
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
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:f, s:f, s:i}",
                     "tasks", s->tasks, "ok", s->ok, "failed", s->failed, "vanished", s->vanished,
                     "files", s->files,
                     "bytes_total", s->total, "bytes_transferred", s->xfer, "cpu_user_s",
                     s->cpu_u, "cpu_sys_s", s->cpu_s, "read_bytes", s->rd, "write_bytes", s->wr,
                     "throughput_bps", bps, "parallel_efficiency", eff, "slots", (int)slots);
}

/* A frozen run (finished, or read back from the catalog) carries its
 * diagnosis and workers' figures in extra_json; a live one computes them. */
static json_t *workers_json(const ms_runrec_t *r, const json_t *frozen, unsigned *slots)
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
            json_object_update_new(o, ms_diag_worker_json(w));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* The rows of a report: one per project, a split project's chunks folded
 * into a copy of its rest. A finished run's fold never changes: it is kept
 * with the run, so that each page of a big report costs its own rows, not
 * a pass over every task. */
typedef struct {
    const ms_trec_t **rows; /* in task order */
    ms_trec_t **folded;     /* by task index: the folded copy, or NULL */
    size_t n_rows, n_tasks;
    totals_t tot;
} fold_t;

static void fold_free(void *p)
{
    fold_t *f = p;
    if (!f)
        return;
    for (size_t i = 0; f->folded && i < f->n_tasks; i++)
        free(f->folded[i]);
    free(f->folded);
    free(f->rows);
    free(f);
}

static fold_t *fold_new(const ms_runrec_t *r)
{
    fold_t *f = calloc(1, sizeof *f);
    size_t n = r->n_tasks ? r->n_tasks : 1;
    if (!f || !(f->folded = calloc(n, sizeof *f->folded)) || !(f->rows = calloc(n, sizeof *f->rows))) {
        fold_free(f);
        return NULL;
    }
    f->n_tasks = r->n_tasks;
    for (size_t i = 0; i < r->n_tasks; i++) {
        const ms_trec_t *c = ms_run_at(r, i);
        if (c->parent >= r->n_tasks)
            continue;
        ms_trec_t **row = &f->folded[c->parent];
        if (!*row) {
            if (!(*row = malloc(sizeof **row))) {
                fold_free(f);
                return NULL;
            }
            **row = *ms_run_at(r, c->parent);
            (*row)->run = (ms_runrec_t *)r;
        }
        fold_chunk(*row, c);
    }
    for (size_t i = 0; i < r->n_tasks; i++) {
        const ms_trec_t *t = ms_run_at(r, i);
        if (t->parent < r->n_tasks)
            continue;
        const ms_trec_t *row = f->folded[i] ? f->folded[i] : t;
        add_totals(&f->tot, row);
        f->rows[f->n_rows++] = row;
    }
    return f;
}

/* The rows from..from+max-1 among those selected (all, or the failed ones)
 * as JSON; *selected: how many rows are selected in all. */
static json_t *page_rows(const fold_t *f, size_t from, size_t max,
                         int failed_only, size_t *selected)
{
    json_t *tasks = json_array();
    size_t k = 0;
    for (size_t i = 0; tasks && i < f->n_rows; i++) {
        const ms_trec_t *row = f->rows[i];
        if (failed_only && row->state != MS_TS_FAILED)
            continue;
        if (k++ < from || k - from > max)
            continue;
        json_t *o = task_json(row);
        if (row->n_chunks) /* a folded row is a copy of its rest */
            json_object_set_new(o, "chunks", json_integer(row->n_chunks));
        json_array_append_new(tasks, o);
    }
    *selected = k;
    return tasks;
}

json_t *ms_report_json_page(const ms_runrec_t *r, size_t from, size_t max, int failed_only)
{
    char started[32], finished[32], src[4 * MS_MAX_PATH], dst[4 * MS_MAX_PATH];
    char set[4 * MS_MAX_NAME + 8];
    fold_t *f = r->report_cache;
    if (!f && (f = fold_new(r)) && r->finished) {
        ((ms_runrec_t *)r)->report_cache = f; /* a cache: the run is the same */
        ((ms_runrec_t *)r)->report_cache_free = fold_free;
    }
    if (!f)
        return NULL;
    size_t selected = 0;
    json_t *tasks = page_rows(f, from, max, failed_only, &selected);
    totals_t tot = f->tot;
    if (f != r->report_cache)
        fold_free(f);
    unsigned slots = 0;
    json_t *frozen = r->extra_json ? json_loads(r->extra_json, 0, NULL) : NULL;
    json_t *workers = workers_json(r, frozen, &slots);
    json_t *diag = json_object_get(frozen, "diagnosis");
    diag = diag ? json_incref(diag) : ms_diag_json(r);
    json_decref(frozen);
    struct timespec end = r->finished_rt;
    if (!r->finished)
        clock_gettime(CLOCK_REALTIME, &end);
    double wall = (double)(end.tv_sec - r->started_rt.tv_sec) +
                  (double)(end.tv_nsec - r->started_rt.tv_nsec) / 1e9;
    rfc3339(&r->started_rt, started, sizeof started);
    if (r->finished)
        rfc3339(&r->finished_rt, finished, sizeof finished);
    const char *status = !r->finished ? "running" : r->n_failed ? "failed" : "ok";
    json_t *rep = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s?, s:f, s:s, s:o, s:o, s:o, s:o}", "run_id",
                     (json_int_t)r->id, "source", ms_utf8_clean(r->source, src, sizeof src),
                     "destination", ms_utf8_clean(r->dest, dst, sizeof dst), "set",
                     r->set ? ms_utf8_clean(r->set, set, sizeof set) : NULL,
                     "started", started, "finished", r->finished ? finished : NULL,
                     "wall_seconds", wall, "status", status, "totals",
                     totals_json(&tot, wall, slots), "tasks", tasks, "workers", workers,
                     "diagnosis", diag);
    if (rep && (from > 0 || selected > json_array_size(tasks))) {
        json_object_set_new(rep, "tasks_from", json_integer((json_int_t)from));
        json_object_set_new(rep, "tasks_total", json_integer((json_int_t)selected));
    }
    return rep;
}

/* --- printing --------------------------------------------------------- */

static const char *human_bytes(double b, char *out, size_t outlen)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024 && u < 5) {
        b /= 1024;
        u++;
    }
    snprintf(out, outlen, u ? "%.1f %s" : "%.0f %s", b, units[u]);
    return out;
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/*
 * s, safe for a terminal: what the printers show comes from a master over
 * the network and holds names anyone who can make a folder chose, so
 * control bytes (escape sequences, carriage returns, newlines) become \xNN;
 * UTF-8 stays. The text lives in one of a few rotating buffers, enough for
 * a printf with several of them.
 */
static const char *esc(const char *s)
{
    static _Thread_local char ring[8][16384];
    static _Thread_local unsigned next;
    char *out = ring[next++ % 8];
    size_t n = 0, len = sizeof ring[0];
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 5 < len; p++) {
        if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(out + n, len - n, "\\x%02x", *p);
        else
            out[n++] = (char)*p;
    }
    out[n] = '\0';
    return out;
}

static const char *raw(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* o's string at key, escaped (esc). */
static const char *str(const json_t *o, const char *key)
{
    return esc(raw(o, key));
}

/* A name for a terminal: UTF-8 kept, control characters as \xNN, cut to
 * width characters (not bytes) so that the columns stay aligned. */
static const char *cell(const char *s, int width, char *out, size_t outlen)
{
    size_t o = 0;
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < outlen; p++) {
        int starts_char = (*p & 0xc0) != 0x80;
        if (starts_char && chars == width)
            break;
        chars += starts_char;
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    for (; chars < width && o + 1 < outlen; chars++)
        out[o++] = ' ';
    out[o] = '\0';
    return out;
}

static void print_task(const json_t *t, FILE *out)
{
    char name[256], host[256], b1[32], b2[32], b3[32], b4[32];
    fprintf(out, "%s %s %-8s %3.0f %8.1f %9.0f %10s %10s %7.2f %10s %10s\n",
            cell(raw(t, "project"), 24, name, sizeof name), cell(raw(t, "host"), 14, host, sizeof host),
            str(t, "status"), num(t, "attempts"), num(t, "seconds"),
            num(t, "files"), human_bytes(num(t, "bytes_total"), b1, sizeof b1),
            human_bytes(num(t, "bytes_transferred"), b2, sizeof b2),
            num(t, "cpu_user_s") + num(t, "cpu_sys_s"),
            human_bytes(num(t, "read_bytes"), b3, sizeof b3),
            human_bytes(num(t, "write_bytes"), b4, sizeof b4));
}

static void print_totals(const json_t *rep, const json_t *tot, FILE *out)
{
    char b1[32], b2[32], b3[32];
    double wall = num(rep, "wall_seconds");
    fprintf(out, "\nrun %.0f: %s  %.0f tasks, %.0f ok, %.0f failed", num(rep, "run_id"),
            str(rep, "status"), num(tot, "tasks"), num(tot, "ok"), num(tot, "failed"));
    if (num(tot, "vanished") > 0)
        fprintf(out, ", %.0f vanished from the source", num(tot, "vanished"));
    fputc('\n', out);
    fprintf(out, "wall time %.2f s, %.0f files, %s total, %s transferred (%s/s)\n", wall,
            num(tot, "files"), human_bytes(num(tot, "bytes_total"), b1, sizeof b1),
            human_bytes(num(tot, "bytes_transferred"), b2, sizeof b2),
            human_bytes(num(tot, "throughput_bps"), b3, sizeof b3));
    fprintf(out, "cpu %.2f s user + %.2f s sys, parallel efficiency %.0f%% of %.0f slots\n",
            num(tot, "cpu_user_s"), num(tot, "cpu_sys_s"), 100.0 * num(tot, "parallel_efficiency"),
            num(tot, "slots"));
}

/* ", no allow_source, no allow_dest" for a worker's "unconfined" list;
 * "" when it is confined. */
static const char *unconfined_text(const json_t *w, char *out, size_t outlen)
{
    size_t i, len = 0;
    const json_t *what;
    out[0] = '\0';
    json_array_foreach(json_object_get(w, "unconfined"), i, what)
    {
        const char *s = json_string_value(what);
        if (s && (strcmp(s, "source") == 0 || strcmp(s, "dest") == 0))
            len += (size_t)snprintf(out + len, outlen - len, "%sno allow_%s", len ? ", " : "", s);
        if (len >= outlen)
            break;
    }
    return out;
}

/* What an operator must know of each worker: unconfined, or rsync broken. */
static void print_worker_warnings(const json_t *workers, FILE *out, const char *when)
{
    size_t i;
    const json_t *w;
    char what[128];
    json_array_foreach(workers, i, w)
    {
        if (unconfined_text(w, what, sizeof what)[0])
            fprintf(out, "WARNING: %s %s unconfined (%s): it reads and writes wherever a run "
                    "says\n", str(w, "host"), when, what);
        if (json_is_string(json_object_get(w, "broken")))
            fprintf(out, "WARNING: %s gets no tasks: %s\n", str(w, "host"), str(w, "broken"));
    }
}

/* t's message on one line (rsync's lines joined), escaped. */
static const char *one_line(const json_t *t, char *msg, size_t size)
{
    snprintf(msg, size, "%s", raw(t, "message"));
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return esc(msg);
}

static void print_failure(const json_t *t, FILE *err)
{
    char name[1024], msg[4096];
    ms_log_safe(raw(t, "project"), name, sizeof name);
    fprintf(err, "FAILED %s on %s (exit %.0f, %.0f attempt%s): %s\n", name, str(t, "host"),
            num(t, "exit_code"), num(t, "attempts"), num(t, "attempts") == 1 ? "" : "s",
            one_line(t, msg, sizeof msg));
}

/* A row that did not fail but has something to say: it vanished from the
 * source, or the worker replaced a link or removed gone projects' backups. */
static void print_note(const json_t *t, FILE *out)
{
    char name[1024], msg[4096];
    int vanished = strcmp(str(t, "status"), "vanished") == 0;
    if (!vanished && raw(t, "message")[0] == '\0')
        return;
    ms_log_safe(raw(t, "project"), name, sizeof name);
    fprintf(out, "%s %s: %s\n", vanished ? "VANISHED" : "NOTE", name, one_line(t, msg, sizeof msg));
}

int ms_report_print(const json_t *rep, FILE *out, FILE *err)
{
    const json_t *tasks = json_object_get(rep, "tasks");
    const json_t *tot = json_object_get(rep, "totals");
    if (!json_is_array(tasks) || !json_is_object(tot))
        return -1;
    fprintf(out, "%-24s %-14s %-8s %3s %8s %9s %10s %10s %7s %10s %10s\n", "PROJECT", "HOST",
            "STATUS", "ATT", "SECONDS", "FILES", "TOTAL", "CHANGED", "CPU_S", "READ", "WRITTEN");
    size_t i;
    json_t *t;
    int failed = 0;
    json_array_foreach(tasks, i, t) print_task(t, out);
    print_totals(rep, tot, out);
    print_worker_warnings(json_object_get(rep, "workers"), out, "ran");
    json_array_foreach(tasks, i, t)
    {
        const char *status = str(t, "status");
        if (strcmp(status, "failed") == 0) {
            print_failure(t, err);
            failed++;
        } else if (strcmp(status, "ok") == 0 || strcmp(status, "vanished") == 0) {
            print_note(t, out);
        } else {
            char name[1024];
            ms_log_safe(raw(t, "project"), name, sizeof name);
            fprintf(err, "NOT DONE %s: %s\n", name,
                    strcmp(str(t, "status"), "running") == 0 ? "still running" : "not started");
            failed++;
        }
    }
    return failed;
}

/* --- status, history, progress ---------------------------------------- */

static const char *hms(double secs, char *out, size_t outlen)
{
    long s = secs > 0 ? (long)(secs + 0.5) : 0;
    snprintf(out, outlen, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    return out;
}

void ms_report_progress(FILE *out, const json_t *run)
{
    char b1[32], b2[32], b3[32], eta[32];
    const json_t *tasks = json_object_get(run, "tasks");
    if (!json_is_object(run))
        return;
    const json_t *exp = json_object_get(run, "bytes_expected");
    const json_t *e = json_object_get(run, "eta_s");
    double total = num(tasks, "queued") + num(tasks, "running") + num(tasks, "done") +
                   num(tasks, "failed");
    fprintf(out, "\r%.0f/%.0f done, %.0f failed, %.0f running | %s%s%s | %s/s | ETA %s\033[K",
            num(tasks, "done") + num(tasks, "failed"), total, num(tasks, "failed"),
            num(tasks, "running"), human_bytes(num(run, "bytes_done"), b1, sizeof b1),
            json_is_number(exp) ? " of " : "",
            json_is_number(exp) ? human_bytes(json_number_value(exp), b2, sizeof b2) : "",
            human_bytes(num(run, "rate_bps"), b3, sizeof b3),
            json_is_number(e) ? hms(json_number_value(e), eta, sizeof eta) : "unknown");
    fflush(out);
}

static void print_diagnosis(const json_t *diag, FILE *out)
{
    const json_t *run = json_object_get(diag, "run");
    const char *host;
    const json_t *h;
    if (!run)
        return;
    fprintf(out, "diagnosis: %s: %s\n  -> %s\n", str(run, "verdict"), str(run, "evidence"),
            str(run, "suggestion"));
    json_object_foreach((json_t *)json_object_get(diag, "hosts"), host, h)
        fprintf(out, "  %s: %s: %s\n", host, str(h, "verdict"), str(h, "evidence"));
}

static void print_run_status(const json_t *run, FILE *out)
{
    char el[32], b1[32], b2[32], b3[32], eta[32], set[300] = "";
    const json_t *t = json_object_get(run, "tasks"), *exp = json_object_get(run, "bytes_expected");
    const json_t *e = json_object_get(run, "eta_s");
    if (json_is_string(json_object_get(run, "set")))
        snprintf(set, sizeof set, " (set %s)", str(run, "set"));
    fprintf(out, "run %.0f%s: %s for %s\n", num(run, "id"), set, str(run, "state"),
            hms(num(run, "elapsed_s"), el, sizeof el));
    fprintf(out, "  tasks: %.0f queued, %.0f running, %.0f done, %.0f failed", num(t, "queued"),
            num(t, "running"), num(t, "done"), num(t, "failed"));
    if (num(t, "scanning") > 0)
        fprintf(out, "; %.0f project(s) still being walked", num(t, "scanning"));
    fputc('\n', out);
    fprintf(out, "  bytes: %s of %s, %s/s, ETA %s\n",
            human_bytes(num(run, "bytes_done"), b1, sizeof b1),
            json_is_number(exp) ? human_bytes(json_number_value(exp), b2, sizeof b2) : "unknown",
            human_bytes(num(run, "rate_bps"), b3, sizeof b3),
            json_is_number(e) ? hms(json_number_value(e), eta, sizeof eta) : "unknown");
    print_diagnosis(json_object_get(run, "diagnosis"), out);
}

static void print_workers(const json_t *workers, FILE *out)
{
    size_t i;
    const json_t *w;
    char host[64], b1[32], b2[32], b3[32];
    fprintf(out, "\n%-16s %5s %4s %5s %10s %10s %5s %10s %6s %6s\n", "HOST", "SLOTS", "BUSY",
            "CPU%", "DISK_R/s", "DISK_W/s", "DISK%", "NET/s", "DONE", "SEEN");
    json_array_foreach(workers, i, w)
        fprintf(out, "%s %5.0f %4.0f %5.0f %10s %10s %5.0f %10s %6.0f %5.1fs\n",
                cell(raw(w, "host"), 16, host, sizeof host), num(w, "slots"), num(w, "busy"),
                num(w, "cpu_percent"), human_bytes(num(w, "disk_read_bps"), b1, sizeof b1),
                human_bytes(num(w, "disk_write_bps"), b2, sizeof b2),
                num(w, "disk_busy_percent"),
                human_bytes(num(w, "net_sent_bps") + num(w, "net_recv_bps"), b3, sizeof b3),
                num(w, "tasks_done"), num(w, "last_seen_s"));
    print_worker_warnings(workers, out, "is");
}

static void print_running(const json_t *running, FILE *out)
{
    size_t i;
    const json_t *t;
    char name[128], host[64], el[32], b1[32], full[1024];
    if (json_array_size(running) == 0)
        return;
    fprintf(out, "\n%-32s %-16s %3s %9s %10s\n", "RUNNING", "HOST", "ATT", "ELAPSED", "BYTES");
    json_array_foreach(running, i, t)
    {
        const char *part = raw(t, "part");
        snprintf(full, sizeof full, "%s%s%s%s", raw(t, "project"), *part ? " [" : "", part,
                 *part ? "]" : "");
        fprintf(out, "%s %s %3.0f %9s %10s\n", cell(full, 32, name, sizeof name),
                cell(raw(t, "host"), 16, host, sizeof host), num(t, "attempt"),
                hms(num(t, "elapsed_s"), el, sizeof el),
                human_bytes(num(t, "bytes_done"), b1, sizeof b1));
    }
}

void ms_report_print_status(const json_t *st, FILE *out)
{
    const json_t *run = json_object_get(st, "run"), *last = json_object_get(st, "last_run");
    char wall[32];
    if (json_is_object(run)) {
        print_run_status(run, out);
    } else if (json_is_object(last)) {
        fprintf(out, "no run going; the last one, run %.0f, %s: %s, %.0f task(s) failed, took %s\n",
                num(last, "run_id"), str(last, "finished"), str(last, "status"),
                num(json_object_get(last, "totals"), "failed"),
                hms(num(last, "wall_seconds"), wall, sizeof wall));
        print_diagnosis(json_object_get(last, "diagnosis"), out);
    } else {
        fprintf(out, "no run yet\n");
    }
    print_workers(json_object_get(st, "workers"), out);
    print_running(json_object_get(st, "running"), out);
}

void ms_report_print_history(const json_t *history, FILE *out)
{
    size_t i;
    const json_t *r;
    char wall[32], b1[32], src[64];
    fprintf(out, "%-6s %-8s %-20s %9s %6s %6s %10s  %s\n", "RUN", "STATUS", "STARTED", "WALL",
            "TASKS", "FAILED", "BYTES", "SET / SOURCE");
    json_array_foreach(history, i, r)
        fprintf(out, "%-6.0f %-8s %-20s %9s %6.0f %6.0f %10s  %s\n", num(r, "run_id"),
                str(r, "status"), str(r, "started"), hms(num(r, "wall_seconds"), wall, sizeof wall),
                num(r, "tasks"), num(r, "failed"),
                human_bytes(num(r, "bytes_total"), b1, sizeof b1),
                json_is_string(json_object_get(r, "set")) ? str(r, "set")
                                                          : cell(raw(r, "source"), 40, src,
                                                                 sizeof src));
}
