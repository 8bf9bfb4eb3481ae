#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_run.h"

static int init_task(ms_runrec_t *r, size_t i, const char *project, uint32_t flags)
{
    ms_trec_t *t = &r->tasks[i];
    t->id = i;
    t->run = r;
    t->flags = flags;
    t->state = (flags & MS_TASK_TOP) ? MS_TS_HELD : MS_TS_QUEUED;
    t->host = t->failed_on = "";
    t->project = strdup(project);
    return t->project ? 0 : -1;
}

ms_runrec_t *ms_run_new(uint64_t id, const char *source, const char *dest, const char *set,
                     char *const *projects, size_t n_projects)
{
    ms_runrec_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->id = id;
    r->n_tasks = n_projects + 1;
    r->tasks = calloc(r->n_tasks, sizeof *r->tasks);
    r->source = strdup(source);
    r->dest = strdup(dest);
    r->set = set ? strdup(set) : NULL;
    if (!r->tasks || !r->source || !r->dest || (set && !r->set))
        goto fail;
    for (size_t i = 0; i < n_projects; i++)
        if (init_task(r, i, projects[i], 0) != 0)
            goto fail;
    if (init_task(r, n_projects, "", MS_TASK_TOP) != 0)
        goto fail;
    clock_gettime(CLOCK_REALTIME, &r->started_rt);
    return r;
fail:
    ms_run_destroy(&r);
    return NULL;
}

void ms_run_destroy(ms_runrec_t **rp)
{
    if (!rp || !*rp)
        return;
    ms_runrec_t *r = *rp;
    for (size_t i = 0; r->tasks && i < r->n_tasks; i++) {
        free(r->tasks[i].project);
        free(r->tasks[i].result.message);
    }
    free(r->tasks);
    free(r->workers);
    free(r->extra_json);
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    free(r->source);
    free(r->dest);
    free(r->set);
    free(r);
    *rp = NULL;
}

const char *ms_run_intern(ms_runrec_t *r, const char *name)
{
    if (!name || !*name)
        return "";
    for (size_t i = 0; i < r->n_names; i++)
        if (strcmp(r->names[i], name) == 0)
            return r->names[i];
    char **n = realloc(r->names, (r->n_names + 1) * sizeof *n);
    if (!n)
        return "";
    r->names = n;
    if (!(n[r->n_names] = strdup(name)))
        return "";
    return n[r->n_names++];
}

ms_trec_t *ms_run_task(ms_runrec_t *r, uint64_t task_id)
{
    return task_id < r->n_tasks ? &r->tasks[task_id] : NULL;
}

ms_run_worker_t *ms_run_worker(ms_runrec_t *r, const char *host)
{
    for (size_t i = 0; i < r->n_workers; i++)
        if (strcmp(r->workers[i].host, host) == 0)
            return &r->workers[i];
    return NULL;
}

int ms_run_note_worker(ms_runrec_t *r, const char *id, const char *host, unsigned slots)
{
    ms_run_worker_t *known = ms_run_worker(r, host);
    if (known) { /* the same host, maybe on a new connection (new id) */
        snprintf(known->id, sizeof known->id, "%s", id);
        known->slots = slots;
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
    w->tasks = 1;
    return 0;
}

int ms_result_ok(const ms_result_t *res)
{
    return res->term_signal == 0 && (res->exit_code == 0 || res->exit_code == 24);
}

ms_outcome_t ms_result_outcome(const ms_result_t *res)
{
    if (ms_result_ok(res))
        return MS_OUTCOME_OK;
    if (res->term_signal != 0)
        return MS_OUTCOME_TRANSIENT;
    switch (res->exit_code) {
    case -2:
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

void ms_run_set_result(ms_trec_t *t, ms_result_t *res)
{
    free(t->result.message);
    t->result = *res;
    res->message = NULL;
}

int ms_run_task_final(ms_runrec_t *r, ms_trec_t *t)
{
    t->state = ms_result_ok(&t->result) ? MS_TS_OK : MS_TS_FAILED;
    r->n_finished++;
    if (t->state == MS_TS_FAILED)
        r->n_failed++;
    if (r->n_finished == r->n_tasks) {
        r->finished = 1;
        clock_gettime(CLOCK_REALTIME, &r->finished_rt);
        return 0;
    }
    /* The top task is last in the array and the only one held. */
    ms_trec_t *top = &r->tasks[r->n_tasks - 1];
    return top->state == MS_TS_HELD && r->n_finished == r->n_tasks - 1;
}
