#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_hmap.h"
#include "ms_lock.h"
#include "ms_run.h"

ms_runrec_t *ms_run_new(uint64_t id, const char *source, const char *dest, const char *set)
{
    ms_runrec_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->id = id;
    r->top = SIZE_MAX; /* none until ms_run_add_task adds it */
    r->source = strdup(source);
    r->dest = strdup(dest);
    r->set = set ? strdup(set) : NULL;
    if (!r->source || !r->dest || (set && !r->set)) {
        ms_run_destroy(&r);
        return NULL;
    }
    clock_gettime(CLOCK_REALTIME, &r->started_rt);
    r->snap_read_fd = -1;
    r->name_map = ms_hmap_new(); /* NULL: lookups scan */
    r->worker_map = ms_hmap_new();
    return r;
}

ms_trec_t *ms_run_add_task(ms_runrec_t *r, const char *project, uint32_t flags)
{
    size_t i = r->n_tasks;
    if (i / MS_RUN_SEG == r->n_segs) {
        ms_trec_t **ns = realloc(r->segs, (r->n_segs + 1) * sizeof *ns);
        if (!ns)
            return NULL;
        r->segs = ns;
        if (!(ns[r->n_segs] = calloc(MS_RUN_SEG, sizeof **ns)))
            return NULL;
        r->n_segs++;
    }
    ms_trec_t *t = ms_run_at(r, i);
    memset(t, 0, sizeof *t);
    if (!(t->project = strdup(project)))
        return NULL;
    t->id = i;
    t->run = r;
    t->flags = flags;
    t->parent = MS_NO_TASK;
    t->state = (flags & MS_TASK_TOP) ? MS_TS_HELD : MS_TS_QUEUED;
    r->n_in[t->state]++;
    t->host = t->failed_on = t->opts = "";
    r->n_tasks++;
    if (flags & MS_TASK_TOP)
        r->top = i;
    return t;
}

int ms_run_add_projects(ms_runrec_t *r, char *const *projects, size_t n, ms_task_state_t state)
{
    for (size_t i = 0; i < n; i++) {
        ms_trec_t *t = ms_run_add_task(r, projects[i], 0);
        if (!t)
            return -1;
        ms_run_set_state(t, state);
    }
    return ms_run_add_task(r, "", MS_TASK_TOP) ? 0 : -1;
}

ms_trec_t *ms_run_top(const ms_runrec_t *r)
{
    return r->top < r->n_tasks ? ms_run_at(r, r->top) : NULL;
}

static void free_task(ms_trec_t *t)
{
    free(t->project);
    free(t->result.message);
    free(t->sub);
    ms_strv_free(t->items, t->n_items);
    ms_strv_free(t->excl, t->n_excl);
    ms_strv_free(t->match, t->n_match);
    ms_strv_free(t->xmatch, t->n_xmatch);
    free(t->members);
    memset(t, 0, sizeof *t);
}

void ms_run_set_state(ms_trec_t *t, ms_task_state_t s)
{
    ms_runrec_t *r = t->run;
    ms_task_state_t old = t->state;
    r->n_in[old]--;
    r->n_in[s]++;
    t->state = s;
    r->n_finished = r->n_in[MS_TS_OK] + r->n_in[MS_TS_FAILED];
    r->n_failed = r->n_in[MS_TS_FAILED];
    r->n_scanning = r->n_in[MS_TS_SCANNING];
}

void ms_run_drop_from(ms_runrec_t *r, size_t n)
{
    while (r->n_tasks > n) {
        ms_trec_t *t = ms_run_at(r, --r->n_tasks);
        r->n_in[t->state]--;
        free_task(t);
    }
    if (r->top >= r->n_tasks)
        r->top = SIZE_MAX;
}

static void snap_free(ms_run_snap_t *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->link);
    free(s->error);
    free(s->prune_error);
    ms_strv_clear(&s->pruned);
    free(s);
}

int ms_run_set_snap(ms_runrec_t *r, const char *name, const char *link, const ms_keep_t *keep)
{
    ms_run_snap_t *s = calloc(1, sizeof *s);
    if (!s || !(s->name = strdup(name)) || (link && !(s->link = strdup(link)))) {
        snap_free(s);
        return -1;
    }
    if (keep)
        s->keep = *keep;
    snap_free(r->snap);
    r->snap = s;
    return 0;
}

char *ms_run_snap_json(const ms_runrec_t *r)
{
    const ms_run_snap_t *s = r->snap;
    if (!s)
        return NULL;
    json_t *pruned = json_array();
    for (size_t i = 0; pruned && i < s->pruned.n; i++)
        json_array_append_new(pruned, json_string(s->pruned.v[i]));
    const ms_keep_t *k = &s->keep;
    json_t *o = json_pack("{s:s, s:s*, s:[i,i,i,i,i,i], s:b, s:s*, s:o*, s:b, s:s*}", "name",
                          s->name, "link", s->link, "keep", k->last, k->hourly, k->daily, k->weekly,
                          k->monthly, k->yearly, "complete", s->complete, "error", s->error,
                          "pruned", pruned, "retained", s->retained, "prune_error", s->prune_error);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

int ms_run_snap_from_json(ms_runrec_t *r, const char *text)
{
    json_t *o = json_loads(text, 0, NULL), *pruned = NULL;
    const char *name = NULL, *link = NULL, *error = NULL, *prune_error = NULL;
    int retained = 0;
    int k[6] = {0}, complete = 0, rc = -1;
    if (o && json_unpack(o, "{s:s, s?s, s:[iiiiii], s:b, s?s, s?o, s?b, s?s}", "name", &name,
                         "link", &link, "keep", &k[0], &k[1], &k[2], &k[3], &k[4], &k[5],
                         "complete", &complete, "error", &error, "pruned", &pruned, "retained",
                         &retained, "prune_error", &prune_error) == 0) {
        ms_keep_t keep = {(unsigned)k[0], (unsigned)k[1], (unsigned)k[2],
                          (unsigned)k[3], (unsigned)k[4], (unsigned)k[5]};
        rc = ms_run_set_snap(r, name, link, &keep);
    }
    if (rc == 0) {
        r->snap->complete = complete;
        r->snap->retained = retained;
        rc = (error && !(r->snap->error = strdup(error))) ||
                     (prune_error && !(r->snap->prune_error = strdup(prune_error)))
                 ? -1
                 : 0;
        for (size_t i = 0; rc == 0 && i < json_array_size(pruned); i++) {
            const char *p = json_string_value(json_array_get(pruned, i));
            rc = p && ms_strv_push(&r->snap->pruned, p) != 0 ? -1 : 0;
        }
    }
    json_decref(o);
    return rc;
}

void ms_run_destroy(ms_runrec_t **rp)
{
    if (!rp || !*rp)
        return;
    ms_runrec_t *r = *rp;
    snap_free(r->snap);
    if (r->snap_read_fd >= 0)
        close(r->snap_read_fd);
    ms_lock_release(&r->dest_lock);
    ms_run_drop_from(r, 0);
    for (size_t i = 0; i < r->n_segs; i++)
        free(r->segs[i]);
    free(r->segs);
    free(r->workers);
    free(r->extra_json);
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    ms_hmap_destroy(&r->name_map);
    ms_hmap_destroy(&r->worker_map);
    free(r->source);
    free(r->dest);
    free(r->set);
    free(r);
    *rp = NULL;
}

/*
 * Blob: sections, each a tag byte and a string ended by a NUL (no string
 * holds one): 's' sub, 'i' an item, 'e' an excl, 'm' a match, 'x' an xmatch.
 */
static int has_part(const ms_trec_t *t)
{
    return t->n_items || t->n_excl || t->n_match || t->n_xmatch;
}

static size_t put_section(char *p, char tag, const char *s)
{
    size_t n = strlen(s) + 2;
    if (p) {
        p[0] = tag;
        memcpy(p + 1, s, n - 1);
    }
    return n;
}

static size_t put_sections(char *p, char tag, char **v, uint32_t n)
{
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++)
        len += put_section(p ? p + len : NULL, tag, v[i]);
    return len;
}

static size_t put_all(char *p, const ms_trec_t *t)
{
    size_t len = put_section(p, 's', t->sub ? t->sub : "");
    len += put_sections(p ? p + len : NULL, 'i', t->items, t->n_items);
    len += put_sections(p ? p + len : NULL, 'e', t->excl, t->n_excl);
    len += put_sections(p ? p + len : NULL, 'm', t->match, t->n_match);
    len += put_sections(p ? p + len : NULL, 'x', t->xmatch, t->n_xmatch);
    return len;
}

char *ms_run_spec_encode(const ms_trec_t *t, size_t *len)
{
    if (!has_part(t))
        return NULL;
    *len = put_all(NULL, t);
    char *blob = malloc(*len);
    if (blob)
        put_all(blob, t);
    return blob;
}

/* The entries tagged tag in blob, as a new vector (*n of them). */
static int take_sections(const char *b, size_t len, char tag, char ***out, uint32_t *n)
{
    uint32_t count = 0;
    for (size_t i = 0; i < len; i += strlen(b + i + 1) + 2)
        count += b[i] == tag;
    if (count > MS_MAX_ITEMS)
        return -1;
    *out = NULL;
    *n = 0;
    if (count == 0)
        return 0;
    char **v = calloc(count, sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < len; i += strlen(b + i + 1) + 2)
        if (b[i] == tag && !(v[(*n)++] = strdup(b + i + 1))) {
            ms_strv_free(v, *n);
            *n = 0;
            return -1;
        }
    *out = v;
    return 0;
}

int ms_run_spec_decode(ms_trec_t *t, const void *blob, size_t len)
{
    const char *b = blob;
    /* Every section is a known tag and a NUL-ended string within len. */
    for (size_t i = 0; i < len;) {
        const char *end = i + 1 < len ? memchr(b + i + 1, '\0', len - i - 1) : NULL;
        if (!end || !strchr("siemx", b[i]))
            return -1;
        i = (size_t)(end - b) + 1;
    }
    char **sub = NULL;
    uint32_t n_sub = 0;
    if (take_sections(b, len, 's', &sub, &n_sub) != 0 || n_sub != 1) {
        ms_strv_free(sub, n_sub);
        return -1;
    }
    t->sub = sub[0];
    free(sub);
    if (take_sections(b, len, 'i', &t->items, &t->n_items) != 0 ||
        take_sections(b, len, 'e', &t->excl, &t->n_excl) != 0 ||
        take_sections(b, len, 'm', &t->match, &t->n_match) != 0 ||
        take_sections(b, len, 'x', &t->xmatch, &t->n_xmatch) != 0)
        return -1; /* what was taken is freed with the task */
    return 0;
}

void ms_run_recount(ms_runrec_t *r)
{
    memset(r->n_in, 0, sizeof r->n_in);
    r->top = SIZE_MAX;
    for (size_t i = 0; i < r->n_tasks; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        t->pending = t->n_chunks = 0;
    }
    for (size_t i = 0; i < r->n_tasks; i++) {
        ms_trec_t *t = ms_run_at(r, i);
        int final = t->state == MS_TS_OK || t->state == MS_TS_FAILED;
        r->n_in[t->state]++;
        if (t->flags & MS_TASK_TOP)
            r->top = i;
        if (t->parent < r->n_tasks) {
            ms_trec_t *rest = ms_run_at(r, t->parent);
            rest->n_chunks++;
            rest->pending += !final;
        }
    }
    r->n_finished = r->n_in[MS_TS_OK] + r->n_in[MS_TS_FAILED];
    r->n_failed = r->n_in[MS_TS_FAILED];
    r->n_scanning = r->n_in[MS_TS_SCANNING];
}

const char *ms_run_intern(ms_runrec_t *r, const char *name)
{
    if (!name || !*name)
        return "";
    char *known = r->name_map ? ms_hmap_get(r->name_map, name, strlen(name)) : NULL;
    for (size_t i = 0; !r->name_map && !known && i < r->n_names; i++)
        if (strcmp(r->names[i], name) == 0)
            known = r->names[i];
    if (known)
        return known;
    char **n = realloc(r->names, (r->n_names + 1) * sizeof *n);
    if (!n)
        return "";
    r->names = n;
    if (!(n[r->n_names] = strdup(name)))
        return "";
    if (r->name_map && ms_hmap_put(r->name_map, name, strlen(name), n[r->n_names]) != 0)
        ms_hmap_destroy(&r->name_map); /* out of memory: scan from now on */
    return n[r->n_names++];
}

ms_trec_t *ms_run_task(ms_runrec_t *r, uint64_t task_id)
{
    return task_id < r->n_tasks ? ms_run_at(r, task_id) : NULL;
}

/* Whether the map of workers by host holds every one: the catalog
 * appends the workers of a resumed run to the array itself. Adds those
 * missing; 0 when the map cannot be used (none, out of memory). */
static int worker_map_ready(const ms_runrec_t *r)
{
    if (!r->worker_map)
        return 0;
    if (ms_hmap_count(r->worker_map) == r->n_workers)
        return 1;
    for (size_t i = 0; i < r->n_workers; i++) {
        const char *host = r->workers[i].host;
        if (!ms_hmap_get(r->worker_map, host, strlen(host)) &&
            ms_hmap_put(r->worker_map, host, strlen(host), (void *)(uintptr_t)(i + 1)) != 0)
            return 0;
    }
    return ms_hmap_count(r->worker_map) == r->n_workers;
}

ms_run_worker_t *ms_run_worker(const ms_runrec_t *r, const char *host)
{
    if (worker_map_ready(r)) {
        uintptr_t at = (uintptr_t)ms_hmap_get(r->worker_map, host, strlen(host));
        return at ? &r->workers[at - 1] : NULL;
    }
    for (size_t i = 0; i < r->n_workers; i++)
        if (strcmp(r->workers[i].host, host) == 0)
            return &r->workers[i];
    return NULL;
}

int ms_run_note_worker(ms_runrec_t *r, const char *id, const char *host, unsigned slots,
                       unsigned unconfined)
{
    ms_run_worker_t *known = ms_run_worker(r, host);
    if (known) { /* the same host, maybe on a new connection (new id) */
        snprintf(known->id, sizeof known->id, "%s", id);
        known->slots = slots;
        known->unconfined = unconfined;
        known->tasks++;
        return 0;
    }
    ms_run_worker_t *nw = realloc(r->workers, (r->n_workers + 1) * sizeof *nw);
    if (!nw)
        return -1;
    r->workers = nw;
    ms_run_worker_t *w = &nw[r->n_workers++];
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    snprintf(w->host, sizeof w->host, "%s", host);
    w->slots = slots;
    w->unconfined = unconfined;
    w->tasks = 1;
    return 0;
}

int ms_result_ok(const ms_result_t *res)
{
    return res->term_signal == 0 &&
           (res->exit_code == 0 || res->exit_code == 24 || res->exit_code == MS_EXIT_VANISHED ||
            res->exit_code == MS_EXIT_UNCHANGED || res->exit_code == MS_EXIT_WOULD_CHANGE);
}

int ms_result_unchanged(const ms_result_t *res)
{
    return res->term_signal == 0 && res->exit_code == MS_EXIT_UNCHANGED;
}

int ms_result_vanished(const ms_result_t *res)
{
    return res->term_signal == 0 && res->exit_code == MS_EXIT_VANISHED;
}

int ms_result_differs(const ms_result_t *res)
{
    return res->term_signal == 0 && res->exit_code == MS_EXIT_DIFFERS;
}

int ms_result_cancelled(const ms_result_t *res)
{
    return res->term_signal == 0 && res->exit_code == MS_EXIT_CANCELLED;
}

const char *ms_run_status(const ms_runrec_t *r)
{
    if (!r->finished)
        return (r->flags & MS_RUN_CANCELLED) ? "cancelling" : "running";
    if (r->flags & MS_RUN_CANCELLED)
        return "cancelled";
    return r->n_failed || (r->snap && r->snap->error) ? "failed" : "ok";
}

int ms_result_would_change(const ms_result_t *res)
{
    return res->term_signal == 0 && res->exit_code == MS_EXIT_WOULD_CHANGE;
}

int ms_run_backs_up(uint32_t flags)
{
    if (flags & MS_RUN_RESTORE)
        return 0;
    return !(flags & MS_RUN_VERIFY) || (flags & MS_RUN_DRY_RUN);
}

const char *ms_run_kind(uint32_t flags)
{
    if (flags & MS_RUN_DRY_RUN)
        return "dry-run";
    if (flags & MS_RUN_VERIFY)
        return "verify";
    if (flags & MS_RUN_RESTORE)
        return "restore";
    return (flags & MS_RUN_SNAPSHOT) ? "snapshot" : "mirror";
}

ms_outcome_t ms_result_outcome(const ms_result_t *res)
{
    if (ms_result_ok(res))
        return MS_OUTCOME_OK;
    if (res->term_signal != 0)
        return MS_OUTCOME_TRANSIENT;
    switch (res->exit_code) {
    case MS_EXIT_DIFFERS: /* a verify found differences: the same again */
        return MS_OUTCOME_PERMANENT;
    case MS_EXIT_BUSY:
    case 126: /* the worker could not run its rsync: the run goes on elsewhere */
    case 127:
    case 10: /* error in socket I/O */
    case 11: /* error in file I/O */
    case 12: /* error in rsync protocol data stream */
    case 20: /* stopped by SIGTERM/SIGINT (a stopping worker, a lost lease) */
    case 30: /* timeout in data send/receive */
    case 35: /* timeout waiting for daemon connection */
        return MS_OUTCOME_TRANSIENT;
    default:
        return MS_OUTCOME_PERMANENT;
    }
}

/* Count t's result for the host that produced it (t->host). */
static void count_result(ms_runrec_t *r, const ms_trec_t *t)
{
    ms_run_worker_t *w = r && t->result.seconds > 0 && t->host ? ms_run_worker(r, t->host) : NULL;
    if (w) {
        w->task_cpu_s += t->result.cpu_user_s + t->result.cpu_sys_s;
        w->task_secs += t->result.seconds;
    }
}

void ms_run_set_result(ms_trec_t *t, ms_result_t *res)
{
    free(t->result.message);
    t->result = *res;
    res->message = NULL;
    count_result(t->run, t);
}

int ms_run_task_waits(const ms_runrec_t *r, const ms_trec_t *t)
{
    if (t->flags & MS_TASK_TOP)
        return r->n_finished < r->n_tasks - 1;
    return t->n_chunks > 0 && t->pending > 0;
}

static int release(const ms_runrec_t *r, ms_trec_t *t)
{
    return t && t->state == MS_TS_HELD && !ms_run_task_waits(r, t);
}

int ms_run_task_final(ms_runrec_t *r, ms_trec_t *t, ms_trec_t *rel[2])
{
    int n = 0;
    ms_run_set_state(t, ms_result_ok(&t->result) ? MS_TS_OK : MS_TS_FAILED);
    if (r->n_finished == r->n_tasks) {
        r->finished = 1;
        clock_gettime(CLOCK_REALTIME, &r->finished_rt);
        return 0;
    }
    if (t->parent < r->n_tasks) {
        ms_trec_t *rest = ms_run_at(r, t->parent);
        if (rest->pending > 0)
            rest->pending--;
        if (release(r, rest))
            rel[n++] = rest;
    }
    ms_trec_t *top = ms_run_top(r);
    if (release(r, top))
        rel[n++] = top;
    return n;
}
