/*
 * ms_label.c - how the master names a task (see ms_label.h).
 */
#include <stdio.h>
#include <string.h>

#include "ms_label.h"
#include "ms_log.h"
#include "ms_part.h"

const char *ms_label_project(const char *project)
{
    return project[0] ? project : ".";
}

const char *ms_label_part(const ms_trec_t *t, char *out, size_t outlen)
{
    uint32_t n = t->n_items ? t->n_items : t->n_match;
    const char *first = t->n_items ? t->items[0] : n ? t->match[0] : NULL;
    return ms_part_label(t->sub, first, n, t->n_chunks > 0, out, outlen);
}

const char *ms_label_task(const ms_trec_t *t, char *out, size_t outlen)
{
    char part[1024];
    if (t->flags & MS_TASK_PACK) { /* it carries other projects in its rsync */
        snprintf(out, outlen, "%s [and %u packed]", ms_label_project(t->project), t->n_items);
        return out;
    }
    if (t->flags & MS_TASK_REMOVE) { /* retention: t->sub is the snapshot */
        snprintf(out, outlen, "%s [removed from %.*s]", ms_label_project(t->project),
                 (int)strcspn(t->sub ? t->sub : "", "."), t->sub ? t->sub : "");
        return out;
    }
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
