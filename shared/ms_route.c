/*
 * ms_route.c - the HTTP listener's routes: exact paths, a run id after a
 * prefix, ?n= for the history. See ms_route.h.
 */
#include <string.h>

#include "ms_route.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* What follows a route's path. */
typedef enum {
    ARG_NONE,  /* the path is the whole of it */
    ARG_COUNT, /* the path, then ?n=N optionally */
    ARG_ID     /* the path is a prefix: a run id follows */
} arg_t;

typedef struct {
    const char *path;
    ms_route_id_t route;
    arg_t arg;
} route_row_t;

/* Exact paths before the prefixes they share ("/api/report/last"). */
static const route_row_t routes[] = {
    {"/api/status", MS_ROUTE_STATUS, ARG_NONE},
    {"/api/history", MS_ROUTE_HISTORY, ARG_COUNT},
    {"/api/report/last", MS_ROUTE_REPORT_LAST, ARG_NONE},
    {"/api/report/", MS_ROUTE_REPORT, ARG_ID},
    {"/metrics", MS_ROUTE_METRICS, ARG_NONE},
    {"/", MS_ROUTE_PAGE, ARG_NONE},
};

static int refuse(ms_route_t *out, int status, const char *error)
{
    out->route = MS_ROUTE_NONE;
    out->status = status;
    out->error = error;
    return status;
}

/* A decimal number of len characters within [min, max], without sign,
 * leading zero or anything else. Returns 0, or -1. */
static int span_number(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 20 || (s[0] == '0' && len > 1))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The value of argument name in the query (NUL-terminated, after '?'),
 * its length in *len; NULL when it is not there. The first one counts. */
static const char *query_arg(const char *query, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    for (const char *p = query; p && *p;) {
        size_t plen = strcspn(p, "&");
        if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            *len = plen - nlen - 1;
            return p + nlen + 1;
        }
        p = p[plen] ? p + plen + 1 : NULL;
    }
    return NULL;
}

static int route_count(const char *query, ms_route_t *out)
{
    size_t len = 0;
    const char *v = query_arg(query, "n", &len);
    uint64_t n = MS_ROUTE_HISTORY_DEFAULT;
    if (v && span_number(v, len, 1, MS_ROUTE_HISTORY_MAX, &n) != 0)
        return refuse(out, 400, "n must be a number from 1 to " STR(MS_ROUTE_HISTORY_MAX));
    out->n = (unsigned)n;
    return out->status;
}

static int route_id(const char *id, size_t len, ms_route_t *out)
{
    if (span_number(id, len, 1, UINT32_MAX, &out->run_id) != 0)
        return refuse(out, 400, "a run id is a number from 1 to 4294967295, or last");
    return out->status;
}

/* A row of the table that path (len characters) names, or NULL. */
static const route_row_t *find_row(const char *path, size_t len)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t rlen = strlen(routes[i].path);
        if (routes[i].arg == ARG_ID ? len >= rlen && memcmp(path, routes[i].path, rlen) == 0
                                    : len == rlen && memcmp(path, routes[i].path, len) == 0)
            return &routes[i];
    }
    return NULL;
}

int ms_route(const char *method, const char *uri, ms_route_t *out)
{
    memset(out, 0, sizeof *out);
    if (!method || !uri)
        return refuse(out, 400, "no method or no path");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return refuse(out, 405, "read-only: only GET and HEAD");
    out->head = method[0] == 'H';
    size_t ulen = strnlen(uri, MS_ROUTE_URI_MAX + 1);
    if (ulen > MS_ROUTE_URI_MAX)
        return refuse(out, 414, "the URI is too long");
    size_t plen = strcspn(uri, "?#");
    const char *query = uri[plen] == '?' ? uri + plen + 1 : NULL;
    const route_row_t *row = find_row(uri, plen);
    if (!row)
        return refuse(out, 404, "no such path");
    out->route = row->route;
    out->status = 200;
    if (row->arg == ARG_COUNT)
        return route_count(query, out);
    if (row->arg == ARG_ID) {
        size_t rlen = strlen(row->path);
        return route_id(uri + rlen, plen - rlen, out);
    }
    return out->status;
}
