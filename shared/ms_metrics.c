#include "ms_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_err.h"
#include "ms_utf8.h"
#include "ms_version.h"

/* --- RFC 3339 ---------------------------------------------------------- */

/* n decimal digits at *p into *v, *p moved past them; 0 when not there. */
static int digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return 0;
        *v = *v * 10 + (**p - '0');
    }
    return 1;
}

/* *p is one of chars: moved past it. Never steps over the NUL. */
static int expect(const char **p, const char *chars)
{
    if (!**p || !strchr(chars, **p))
        return 0;
    (*p)++;
    return 1;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d, proleptic Gregorian (H. Hinnant's
 * days_from_civil): no timegm, no TZ, no locale. */
static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* ".123" (any number of digits, at least one) as a fraction; 0 without. */
static int fraction(const char **p, double *frac)
{
    double scale = 0.1;
    *frac = 0;
    if (**p != '.')
        return 1;
    (*p)++;
    if (**p < '0' || **p > '9')
        return 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, scale /= 10)
        *frac += (**p - '0') * scale;
    return 1;
}

/* "Z" or "+HH:MM" / "-HH:MM" as seconds east of UTC. */
static int zone(const char **p, int *offset)
{
    int sign, h, m;
    *offset = 0;
    if (expect(p, "Zz"))
        return 1;
    if (**p != '+' && **p != '-')
        return 0;
    sign = *(*p)++ == '-' ? -1 : 1;
    if (!digits(p, 2, &h) || !expect(p, ":") || !digits(p, 2, &m) || h > 23 || m > 59)
        return 0;
    *offset = sign * (h * 3600 + m * 60);
    return 1;
}

int ms_metrics_rfc3339(const char *s, double *out)
{
    int y, mo, d, h, mi, sec, offset;
    double frac;
    const char *p = s;
    if (!p || !digits(&p, 4, &y) || !expect(&p, "-") || !digits(&p, 2, &mo) || !expect(&p, "-") ||
        !digits(&p, 2, &d) || !expect(&p, "Tt ") || !digits(&p, 2, &h) || !expect(&p, ":") ||
        !digits(&p, 2, &mi) || !expect(&p, ":") || !digits(&p, 2, &sec) || !fraction(&p, &frac) ||
        !zone(&p, &offset) || *p)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -1; /* sec 60: a leap second, read as the next minute's first */
    *out = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600 + mi * 60 + sec + frac - offset;
    return 0;
}

/* --- writing samples ---------------------------------------------------- */

/* The text being written, and the family whose samples come next: its
 * HELP and TYPE are written before its first sample, so a family with no
 * sample leaves no line. */
typedef struct {
    FILE *f;
    int failed; /* out of memory */
    const char *name, *type, *help;
    int shown;
} out_t;

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    o->name = name;
    o->type = type;
    o->help = help;
    o->shown = 0;
}

/* v as a label value: valid UTF-8, then backslash, quote and newline
 * escaped (the three the format escapes). */
static void put_value(out_t *o, const char *v)
{
    size_t cap = 4 * strlen(v) + 6; /* every byte may become "\xNN" (ms_utf8_clean) */
    char small[256], *buf = cap <= sizeof small ? small : malloc(cap);
    if (!buf) {
        o->failed = 1;
        return;
    }
    for (const char *c = ms_utf8_clean(v, buf, cap); *c; c++) {
        if (*c == '\\' || *c == '"')
            fputc('\\', o->f);
        if (*c == '\n')
            fputs("\\n", o->f);
        else
            fputc(*c, o->f);
    }
    if (buf != small)
        free(buf);
}

/* Whole numbers as such (bytes, timestamps); others with 15 digits. */
static void put_number(FILE *f, double v)
{
    if (v > -1e17 && v < 1e17 && (double)(long long)v == v)
        fprintf(f, "%lld", (long long)v);
    else
        fprintf(f, "%.15g", v);
}

/* One sample of the current family, with 0, 1 or 2 labels (k1, k2 NULL
 * when absent). */
static void sample2(out_t *o, const char *k1, const char *v1, const char *k2, const char *v2,
                    double v)
{
    if (!o->shown)
        fprintf(o->f, "# HELP %s %s\n# TYPE %s %s\n", o->name, o->help, o->name, o->type);
    o->shown = 1;
    fputs(o->name, o->f);
    if (k1) {
        fprintf(o->f, "{%s=\"", k1);
        put_value(o, v1);
        if (k2) {
            fprintf(o->f, "\",%s=\"", k2);
            put_value(o, v2);
        }
        fputs("\"}", o->f);
    }
    fputc(' ', o->f);
    put_number(o->f, v);
    fputc('\n', o->f);
}

static void sample(out_t *o, const char *k, const char *v, double value)
{
    sample2(o, k, v, NULL, NULL, value);
}

/* A number at key in obj into *v; 0 when there is none (null, missing,
 * not a number). */
static int num(const json_t *obj, const char *key, double *v)
{
    const json_t *j = json_object_get(obj, key);
    if (!json_is_number(j))
        return 0;
    *v = json_number_value(j);
    return 1;
}

/* The same, negative values read as 0: parts of counters. */
static double count(const json_t *obj, const char *key)
{
    double v;
    return num(obj, key, &v) && v > 0 ? v : 0;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int is(const char *s, const char *what)
{
    return s && strcmp(s, what) == 0;
}

/* --- runs: per set, from the history and the last run ------------------- */

/* The statuses a finished run ends with (ms_run_status, and the report's
 * "interrupted"): the values of the status labels. */
static const char *const ENDED[] = {"ok", "failed", "cancelled", "interrupted"};
#define N_ENDED (sizeof ENDED / sizeof ENDED[0])

static int ended_index(const char *status)
{
    for (size_t i = 0; status && i < N_ENDED; i++)
        if (strcmp(status, ENDED[i]) == 0)
            return (int)i;
    return -1;
}

/* A finished backup: its set label (malloc'd), when it ended and how. */
typedef struct {
    char *set;
    double finished, wall;
    int ended; /* index in ENDED */
} run_t;

/* A backup: kind mirror or snapshot (absent in older JSON: a backup). */
static int is_backup(const json_t *r)
{
    const char *kind = str(r, "kind");
    return !kind || is(kind, "mirror") || is(kind, "snapshot");
}

/* The set's name, or "SOURCE -> DESTINATION" (malloc'd). */
static char *set_label(const json_t *r)
{
    const char *set = str(r, "set"), *src = str(r, "source"), *dst = str(r, "destination");
    if (set && set[0])
        return strdup(set);
    size_t n = strlen(src ? src : "?") + strlen(dst ? dst : "?") + 5;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s -> %s", src ? src : "?", dst ? dst : "?");
    return s;
}

/* r into runs[*n] when it is a finished backup; -1 out of memory. */
static int take_run(const json_t *r, run_t *runs, size_t *n)
{
    run_t x = {.ended = ended_index(str(r, "status"))};
    if (!json_is_object(r) || !is_backup(r) || x.ended < 0 ||
        ms_metrics_rfc3339(str(r, "finished"), &x.finished) != 0)
        return 0;
    if (!num(r, "wall_seconds", &x.wall))
        x.wall = -1;
    if (!(x.set = set_label(r)))
        return -1;
    runs[(*n)++] = x;
    return 0;
}

/* The last run of status when history does not hold it already (no
 * history, or one read before that run ended). */
static const json_t *last_run_not_in(const json_t *last, const json_t *history)
{
    size_t i;
    const json_t *h;
    const json_t *id = json_object_get(last, "run_id");
    if (!json_is_object(last))
        return NULL;
    json_array_foreach(history, i, h)
    {
        if (json_is_integer(id) && json_equal(json_object_get(h, "run_id"), id) &&
            ended_index(str(h, "status")) >= 0)
            return NULL;
    }
    return last;
}

/* Set first, then the newest first. */
static int by_set_newest(const void *a, const void *b)
{
    const run_t *x = a, *y = b;
    int c = strcmp(x->set, y->set);
    return c ? c : (x->finished < y->finished) - (x->finished > y->finished);
}

/* The finished backups of history and of the status's last run, sorted
 * by set then newest first. NULL (with *n 0) when there are none or
 * memory ran out (o->failed). */
static run_t *collect_runs(out_t *o, const json_t *status, const json_t *history, size_t *n)
{
    const json_t *last = last_run_not_in(json_object_get(status, "last_run"), history);
    size_t i, cap = json_array_size(history) + 1;
    const json_t *r;
    run_t *runs = malloc(cap * sizeof *runs);
    *n = 0;
    if (!runs) {
        o->failed = 1;
        return NULL;
    }
    json_array_foreach(history, i, r)
    {
        if (take_run(r, runs, n) != 0)
            o->failed = 1;
    }
    if (last && take_run(last, runs, n) != 0)
        o->failed = 1;
    if (*n > 1)
        qsort(runs, *n, sizeof *runs, by_set_newest);
    return runs;
}

static void free_runs(run_t *runs, size_t n)
{
    for (size_t i = 0; runs && i < n; i++)
        free(runs[i].set);
    free(runs);
}

/* Calls each(o, runs + first, count) for every set's group of runs. */
static void per_set(out_t *o, const run_t *runs, size_t n,
                    void (*each)(out_t *, const run_t *, size_t))
{
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(runs[j].set, runs[i].set) == 0;)
            j++;
        each(o, runs + i, j - i);
    }
}

static void set_success(out_t *o, const run_t *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (g[i].ended == 0) { /* the newest ok one */
            sample(o, "set", g[i].set, g[i].finished);
            return;
        }
}

static void set_last_by_status(out_t *o, const run_t *g, size_t n)
{
    for (size_t s = 0; s < N_ENDED; s++)
        for (size_t i = 0; i < n; i++)
            if (g[i].ended == (int)s) {
                sample2(o, "set", g[i].set, "status", ENDED[s], g[i].finished);
                break;
            }
}

static void set_duration(out_t *o, const run_t *g, size_t n)
{
    (void)n;
    if (g[0].wall >= 0)
        sample(o, "set", g[0].set, g[0].wall);
}

static void set_status_ok(out_t *o, const run_t *g, size_t n)
{
    (void)n;
    sample(o, "set", g[0].set, g[0].ended == 0);
}

/* The per-set gauges, each a family filled by one pass over the sets. */
static const struct {
    const char *name, *help;
    void (*each)(out_t *, const run_t *, size_t);
} SET_FAMILIES[] = {
    {"multisync_last_success_timestamp_seconds",
     "When the newest backup of the set that succeeded ended (Unix time).", set_success},
    {"multisync_last_run_timestamp_seconds",
     "When the newest backup of the set that ended with this status ended (Unix time).",
     set_last_by_status},
    {"multisync_last_run_success",
     "1 when the newest finished backup of the set succeeded, else 0.", set_status_ok},
    {"multisync_run_duration_seconds", "Wall time of the newest finished backup of the set.",
     set_duration},
};

static void sets(out_t *o, const json_t *status, const json_t *history)
{
    size_t n;
    run_t *runs = collect_runs(o, status, history, &n);
    for (size_t i = 0; i < sizeof SET_FAMILIES / sizeof SET_FAMILIES[0]; i++) {
        family(o, SET_FAMILIES[i].name, "gauge", SET_FAMILIES[i].help);
        per_set(o, runs, n, SET_FAMILIES[i].each);
    }
    free_runs(runs, n);
}

/* --- counters: sums over the history's finished runs --------------------- */

typedef struct {
    double bytes, ok, unchanged, failed, runs[N_ENDED];
} totals_t;

/* A run that copies: every kind but verify and dry-run. */
static int copies(const json_t *r)
{
    const char *kind = str(r, "kind");
    return !is(kind, "verify") && !is(kind, "dry-run");
}

static void add_run(totals_t *t, const json_t *r)
{
    int ended = ended_index(str(r, "status"));
    if (!json_is_object(r) || ended < 0 || !copies(r))
        return; /* a run going on counts once it ended */
    double failed = count(r, "failed"), unchanged = count(r, "unchanged");
    t->runs[ended]++;
    t->bytes += count(r, "bytes_transferred");
    t->failed += failed;
    t->unchanged += unchanged;
    if (is(ENDED[ended], "ok") || is(ENDED[ended], "failed")) { /* every task ended */
        double ok = count(r, "tasks") - failed - unchanged;
        t->ok += ok > 0 ? ok : 0;
    }
}

static void totals(out_t *o, const json_t *history)
{
    totals_t t = {0};
    size_t i;
    const json_t *r;
    if (!json_is_array(history))
        return;
    json_array_foreach(history, i, r)
    {
        add_run(&t, r);
    }
    family(o, "multisync_bytes_transferred_total", "counter",
           "Bytes rsync transferred, summed over the catalog's finished runs that copy.");
    sample(o, NULL, NULL, t.bytes);
    family(o, "multisync_tasks_total", "counter",
           "Tasks of the catalog's finished runs that copy, by outcome.");
    sample(o, "status", "ok", t.ok);
    sample(o, "status", "unchanged", t.unchanged);
    sample(o, "status", "failed", t.failed);
    family(o, "multisync_runs_total", "counter",
           "The catalog's finished runs that copy, by status.");
    for (size_t s = 0; s < N_ENDED; s++)
        sample(o, "status", ENDED[s], t.runs[s]);
}

/* --- the current run ---------------------------------------------------- */

/* A gauge from a key of an object, with its help. */
typedef struct {
    const char *name, *key, *help;
    double scale;
} gauge_t;

static const gauge_t RUN_GAUGES[] = {
    {"multisync_run_elapsed_seconds", "elapsed_s", "Time since the current run started.", 1},
    {"multisync_run_progress_ratio", "percent",
     "Share of the current run's work done (0-1); absent while unknown.", 0.01},
    {"multisync_run_rate_bytes_per_second", "rate_bps",
     "Work bytes per second since the current run's first task started.", 1},
    {"multisync_run_eta_seconds", "eta_s",
     "Seconds the current run still needs at its rate; absent while unknown.", 1},
};

static void gauges(out_t *o, const json_t *obj, const gauge_t *g, size_t n)
{
    double v;
    for (size_t i = 0; i < n; i++) {
        family(o, g[i].name, "gauge", g[i].help);
        if (num(obj, g[i].key, &v))
            sample(o, NULL, NULL, v * g[i].scale);
    }
}

static const char *const TASK_STATES[] = {"total",  "queued",    "running", "done",
                                          "failed", "unchanged", "scanning"};

static void run_tasks(out_t *o, const json_t *tasks)
{
    double v;
    family(o, "multisync_run_tasks", "gauge",
           "The current run's tasks by state, as status --json counts them (done includes "
           "unchanged; total is all).");
    for (size_t i = 0; i < sizeof TASK_STATES / sizeof TASK_STATES[0]; i++)
        if (num(tasks, TASK_STATES[i], &v))
            sample(o, "state", TASK_STATES[i], v);
}

static void run_bytes(out_t *o, const json_t *run)
{
    double v;
    family(o, "multisync_run_bytes", "gauge",
           "The current run's bytes: work done, work expected in all, unchanged (in neither), "
           "sized by the walk so far.");
    if (num(run, "bytes_done", &v))
        sample(o, "kind", "done", v);
    if (num(run, "bytes_expected", &v))
        sample(o, "kind", "expected", v);
    if (num(run, "bytes_unchanged", &v))
        sample(o, "kind", "unchanged", v);
    if (num(json_object_get(run, "walk"), "bytes", &v))
        sample(o, "kind", "walked", v);
}

static void current_run(out_t *o, const json_t *status)
{
    const json_t *run = json_object_get(status, "run"), *runs = json_object_get(status, "runs");
    double v;
    family(o, "multisync_runs_active", "gauge", "Runs going on now.");
    if (json_is_array(runs) || json_is_object(run))
        sample(o, NULL, NULL, json_is_array(runs) ? json_array_size(runs) : 1);
    family(o, "multisync_tasks_queued", "gauge", "Tasks waiting for a slot, all runs.");
    if (num(status, "queued", &v))
        sample(o, NULL, NULL, v);
    family(o, "multisync_tasks_running", "gauge", "Tasks running now, all runs.");
    if (num(status, "running_total", &v))
        sample(o, NULL, NULL, v);
    if (!json_is_object(run))
        return;
    run_tasks(o, json_object_get(run, "tasks"));
    run_bytes(o, run);
    gauges(o, run, RUN_GAUGES, sizeof RUN_GAUGES / sizeof RUN_GAUGES[0]);
}

/* --- workers ------------------------------------------------------------ */

/* A worker: its label (malloc'd, clean UTF-8) and its status entry (NULL:
 * named by a diagnosis or the last run, not connected). */
typedef struct {
    char *name;
    const json_t *j;
} worker_t;

typedef struct {
    worker_t *w;
    size_t n, cap;
} workers_t;

static void add_worker(out_t *o, workers_t *ws, const char *name, const json_t *j)
{
    if (!name || !name[0])
        return;
    if (ws->n == ws->cap) {
        size_t cap = ws->cap ? 2 * ws->cap : 16;
        worker_t *w = realloc(ws->w, cap * sizeof *w);
        if (!w) {
            o->failed = 1;
            return;
        }
        ws->w = w;
        ws->cap = cap;
    }
    size_t cap = 4 * strlen(name) + 6;
    if (!(ws->w[ws->n].name = malloc(cap))) {
        o->failed = 1;
        return;
    }
    ms_utf8_clean(name, ws->w[ws->n].name, cap);
    ws->w[ws->n++].j = j;
}

/* By name, the connected one first: it is the one kept. */
static int by_name_connected(const void *a, const void *b)
{
    const worker_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->j == NULL) - (y->j == NULL);
}

/* The diagnosis status shows: the current run's, else the last run's. */
static const json_t *shown_diagnosis(const json_t *status)
{
    const json_t *run = json_object_get(status, "run");
    if (json_is_object(run))
        return json_object_get(run, "diagnosis");
    return json_object_get(json_object_get(status, "last_run"), "diagnosis");
}

/* Every worker connected, and every host the shown diagnosis or the last
 * run names; sorted by name, each once. */
static void collect_workers(out_t *o, const json_t *status, workers_t *ws)
{
    size_t i, k;
    const json_t *w;
    const char *host;
    json_array_foreach(json_object_get(status, "workers"), i, w)
    {
        if (json_is_object(w))
            add_worker(o, ws, str(w, "host") ? str(w, "host") : str(w, "id"), w);
    }
    json_object_foreach((json_t *)json_object_get(shown_diagnosis(status), "hosts"), host, w)
        add_worker(o, ws, host, NULL);
    json_array_foreach(json_object_get(json_object_get(status, "last_run"), "workers"), i, w)
        add_worker(o, ws, str(w, "host"), NULL);
    if (ws->n > 1) /* qsort's array may not be NULL, even for no element */
        qsort(ws->w, ws->n, sizeof *ws->w, by_name_connected);
    for (i = k = 0; i < ws->n; i++) {
        if (k > 0 && strcmp(ws->w[k - 1].name, ws->w[i].name) == 0)
            free(ws->w[i].name);
        else
            ws->w[k++] = ws->w[i];
    }
    ws->n = k;
}

static const gauge_t WORKER_GAUGES[] = {
    {"multisync_worker_cpu_percent", "cpu_percent", "The worker host's CPU busy, 0-100.", 1},
    {"multisync_worker_load1", "load1", "The worker host's 1-minute load average.", 1},
    {"multisync_worker_memory_used_percent", "mem_used_percent",
     "The worker host's memory in use, 0-100.", 1},
    {"multisync_worker_disk_busy_percent", "disk_busy_percent",
     "The worker host's disks' busy time, 0-100.", 1},
    {"multisync_worker_disk_read_bytes_per_second", "disk_read_bps",
     "The worker host's disk reads, between its last two samples.", 1},
    {"multisync_worker_disk_write_bytes_per_second", "disk_write_bps",
     "The worker host's disk writes, between its last two samples.", 1},
    {"multisync_worker_network_sent_bytes_per_second", "net_sent_bps",
     "The worker host's network sends (lo excluded), between its last two samples.", 1},
    {"multisync_worker_network_received_bytes_per_second", "net_recv_bps",
     "The worker host's network receives (lo excluded), between its last two samples.", 1},
    {"multisync_worker_tasks_done", "tasks_done", "Tasks the worker finished since it connected.",
     1},
    {"multisync_worker_last_seen_seconds", "last_seen_s",
     "Seconds since the master last heard the worker.", 1},
};

static const gauge_t WORKER_COUNTERS[] = {
    {"multisync_worker_disk_read_bytes_total", "disk_read_bytes",
     "The worker host's whole-disk reads since it booted.", 1},
    {"multisync_worker_disk_written_bytes_total", "disk_write_bytes",
     "The worker host's whole-disk writes since it booted.", 1},
    {"multisync_worker_network_sent_bytes_total", "net_sent_bytes",
     "The worker host's network bytes sent (lo excluded) since it booted.", 1},
    {"multisync_worker_network_received_bytes_total", "net_recv_bytes",
     "The worker host's network bytes received (lo excluded) since it booted.", 1},
};

/* One family per entry of g, a sample per connected worker that has it. */
static void worker_table(out_t *o, const workers_t *ws, const gauge_t *g, size_t n,
                         const char *type)
{
    double v;
    for (size_t k = 0; k < n; k++) {
        family(o, g[k].name, type, g[k].help);
        for (size_t i = 0; i < ws->n; i++)
            if (num(ws->w[i].j, g[k].key, &v))
                sample(o, "worker", ws->w[i].name, v * g[k].scale);
    }
}

static void worker_slots(out_t *o, const workers_t *ws)
{
    double slots, busy;
    family(o, "multisync_worker_slots", "gauge", "The worker's rsync slots, busy and free.");
    for (size_t i = 0; i < ws->n; i++)
        if (num(ws->w[i].j, "slots", &slots) && num(ws->w[i].j, "busy", &busy)) {
            sample2(o, "worker", ws->w[i].name, "state", "busy", busy);
            sample2(o, "worker", ws->w[i].name, "state", "free", slots > busy ? slots - busy : 0);
        }
}

/* up, draining, broken: 0 or 1 each. */
static void worker_flags(out_t *o, const workers_t *ws)
{
    family(o, "multisync_worker_up", "gauge",
           "1 while the worker is connected; 0 for one the current or last run names that is "
           "not.");
    for (size_t i = 0; i < ws->n; i++)
        sample(o, "worker", ws->w[i].name, ws->w[i].j != NULL);
    family(o, "multisync_worker_draining", "gauge", "1 while the worker drains (takes no task).");
    for (size_t i = 0; i < ws->n; i++)
        if (ws->w[i].j)
            sample(o, "worker", ws->w[i].name,
                   json_is_true(json_object_get(ws->w[i].j, "draining")));
    family(o, "multisync_worker_broken", "gauge",
           "1 when the worker gets no task because its rsync cannot run.");
    for (size_t i = 0; i < ws->n; i++)
        if (ws->w[i].j)
            sample(o, "worker", ws->w[i].name,
                   json_is_string(json_object_get(ws->w[i].j, "broken")));
}

static void workers(out_t *o, const json_t *status)
{
    workers_t ws = {0};
    collect_workers(o, status, &ws);
    worker_flags(o, &ws);
    worker_slots(o, &ws);
    worker_table(o, &ws, WORKER_GAUGES, sizeof WORKER_GAUGES / sizeof WORKER_GAUGES[0], "gauge");
    worker_table(o, &ws, WORKER_COUNTERS, sizeof WORKER_COUNTERS / sizeof WORKER_COUNTERS[0],
                 "counter");
    for (size_t i = 0; i < ws.n; i++)
        free(ws.w[i].name);
    free(ws.w);
}

/* --- diagnosis ---------------------------------------------------------- */

static const char *const VERDICTS[] = {"cpu-bound", "io-bound", "long-task", "under-provisioned",
                                       "balanced"};

/* Every verdict, 1 for the one v names (a state set: a new verdict is a
 * change of value, not a series that vanishes); labelled with the worker
 * host, or not (host NULL: the run's). */
static void verdicts(out_t *o, const char *host, const json_t *v)
{
    const char *verdict = str(v, "verdict");
    for (size_t i = 0; verdict && i < sizeof VERDICTS / sizeof VERDICTS[0]; i++) {
        if (host)
            sample2(o, "worker", host, "verdict", VERDICTS[i], is(verdict, VERDICTS[i]));
        else
            sample(o, "verdict", VERDICTS[i], is(verdict, VERDICTS[i]));
    }
}

static void diagnosis(out_t *o, const json_t *status)
{
    const json_t *diag = shown_diagnosis(status), *v;
    const char *host;
    family(o, "multisync_diagnosis", "gauge",
           "The current (else the last) run's verdict per worker host: 1 for the one it has.");
    json_object_foreach((json_t *)json_object_get(diag, "hosts"), host, v)
    {
        verdicts(o, host, v);
    }
    family(o, "multisync_run_diagnosis", "gauge",
           "The current (else the last) run's verdict: 1 for the one it has.");
    verdicts(o, NULL, json_object_get(diag, "run"));
}

/* --- the whole text ----------------------------------------------------- */

char *ms_metrics_text(const json_t *status, const json_t *history, size_t *len, char *err,
                      size_t errlen)
{
    char *text = NULL;
    out_t o = {.f = open_memstream(&text, len)};
    if (!o.f) {
        ms_errf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    family(&o, "multisync_info", "gauge", "The multisync version that wrote these metrics.");
    sample(&o, "version", MS_VERSION, 1);
    sets(&o, status, history);
    totals(&o, history);
    current_run(&o, status);
    workers(&o, status);
    diagnosis(&o, status);
    if (fclose(o.f) != 0 || o.failed) {
        free(text);
        ms_errf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    return text;
}
