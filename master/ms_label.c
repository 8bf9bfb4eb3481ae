/*
 * ms_label.c - how the master names a task (see ms_label.h).
 */
#include <stdio.h>
#include <string.h>

#include "ms_label.h"
#include "ms_log.h"

const char *ms_label_project(const char *project)
{
    return project[0] ? project : ".";
}

const char *ms_label_part(const ms_trec_t *t, char *out, size_t outlen)
{
    uint32_t n = t->n_items ? t->n_items : t->n_match;
    if (n)
        snprintf(out, outlen, "%s%s%s", t->sub ? t->sub : "", t->sub && *t->sub ? "/" : "",
                 t->n_items ? t->items[0] : t->match[0]);
    else
        snprintf(out, outlen, "%s", t->n_chunks ? "rest" : "");
    if (n > 1) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, " +%u", n - 1);
    }
    return out;
}

const char *ms_label_task(const ms_trec_t *t, char *out, size_t outlen)
{
    char part[1024];
    ms_label_part(t, part, sizeof part);
    snprintf(out, outlen, "%s%s%s%s", ms_label_project(t->project), *part ? " [" : "", part,
             *part ? "]" : "");
    return out;
}

const char *ms_label_task_log(const ms_trec_t *t, char *out, size_t outlen)
{
    char name[4 * MS_MAX_PATH];
    return ms_log_safe(ms_label_task(t, name, sizeof name), out, outlen);
}
