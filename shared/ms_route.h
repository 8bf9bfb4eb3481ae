/*
 * ms_route.h - the HTTP listener's router: a request's method and raw URI
 * (as the client sent it, before any percent-decoding) to a route and its
 * arguments, or to the HTTP status that refuses it.
 *
 * Pure: no allocation, no I/O, no state; the URI is only read, never
 * decoded nor normalised. A path matches a route exactly or not at all:
 * "/api/status/", "//api/status", "/api/%73tatus" and anything with ".."
 * are unknown (404), never mapped to a file or another route. A query
 * string ("?...") is ignored except for the arguments a route takes;
 * unknown query arguments are ignored (a browser's cache buster).
 *
 * Adding a route: a value in ms_route_id_t and a row in the table in
 * ms_route.c (its path, and whether it takes a run id or ?n=); then its
 * handler in master/ms_http.c.
 */
#ifndef MS_ROUTE_H
#define MS_ROUTE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MS_ROUTE_NONE = 0,    /* refused: see status */
    MS_ROUTE_STATUS,      /* /api/status: `multisync status --json` */
    MS_ROUTE_HISTORY,     /* /api/history[?n=N]: `multisync history -n N --json` */
    MS_ROUTE_REPORT,      /* /api/report/ID: `multisync report ID --json` */
    MS_ROUTE_REPORT_LAST, /* /api/report/last: `multisync report last --json` */
    MS_ROUTE_METRICS,     /* /metrics: Prometheus text (ms_metrics.h) */
    MS_ROUTE_PAGE,        /* /: the status page (ms_page.h) */
    MS_ROUTE_COUNT
} ms_route_id_t;

/* /api/history without ?n=, and the bounds of n (those of `history -n`). */
#define MS_ROUTE_HISTORY_DEFAULT 30
#define MS_ROUTE_HISTORY_MAX 100000
/* A longer URI is refused (414) before it is looked at. */
#define MS_ROUTE_URI_MAX 2048

typedef struct {
    ms_route_id_t route; /* MS_ROUTE_NONE: refused with status */
    int status;          /* 200, or 400, 404, 405, 414 */
    const char *error;   /* refused: what is wrong, a static string; else NULL */
    int head;            /* HEAD: the same answer without its body */
    uint64_t run_id;     /* MS_ROUTE_REPORT: 1 to UINT32_MAX, as `report ID` takes */
    unsigned n;          /* MS_ROUTE_HISTORY: 1 to MS_ROUTE_HISTORY_MAX */
} ms_route_t;

/*
 * Route method (NUL-terminated, e.g. "GET") and uri (NUL-terminated, the
 * request target as sent). Only GET and HEAD are served: any other method
 * is 405, whatever the path. NULL method or uri: 400. Fills *out and
 * returns out->status.
 */
int ms_route(const char *method, const char *uri, ms_route_t *out);

#endif
