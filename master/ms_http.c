/*
 * ms_http.c - the master's HTTP listener: libmicrohttpd in the master's
 * loop, the gate (TLS, password), the routes' handlers, and a report sent
 * in pages. See ms_http.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <sodium.h>

#include "ms_clock.h"
#include "ms_err.h"
#include "ms_http.h"
#include "ms_jnum.h"
#include "ms_keys.h"
#include "ms_log.h"
#include "ms_metrics.h"
#include "ms_page.h"
#include "ms_rc.h"
#include "ms_route.h"
#include "ms_webgate.h"

/* A PEM certificate chain or key: larger is not one. */
#define PEM_MAX (64 * 1024)
/* Task rows per page of a report sent: building and writing one page is
 * what a turn of the loop spends on one connection (README "HTTP API"). */
#define REPORT_PAGE 500
/* The buffer libmicrohttpd fills from a report, per connection. */
#define STREAM_BLOCK (16 * 1024)
/* Failed logins are logged at most once per this many ms, with a count. */
#define AUTH_LOG_MS 60000

struct ms_http {
    struct MHD_Daemon *d;
    ms_master_t *m;      /* NULL until ms_http_serve */
    ms_webgate_t *gate;  /* NULL: no password asked */
    char *cert, *key;    /* PEM; key in guarded memory (sodium_malloc) */
    size_t auth_failed;  /* failed logins not logged yet */
    int64_t auth_logged; /* when the last were, ms */
    json_t *history;     /* the whole history, for /metrics' counters */
    int64_t history_ms;  /* when it was read; re-read after HISTORY_TTL_MS */
};

/* /metrics sums the catalog's whole history (its counters): read at most
 * this often, not on every scrape. */
#define HISTORY_TTL_MS 10000

/* A request, from its raw URI (before libmicrohttpd decodes it) to its end. */
typedef struct {
    char *uri;
    int seen;     /* the handler saw its headers */
    int answered; /* and queued its answer */
} req_t;

/* --- answers ------------------------------------------------------------------------ */

/* Queue text (len bytes) as the answer with status: malloc'd and consumed
 * (MHD_RESPMEM_MUST_FREE), or lasting as long as the program
 * (MHD_RESPMEM_PERSISTENT); csp: its Content-Security-Policy, or NULL. */
static enum MHD_Result queue_body(struct MHD_Connection *c, unsigned status, char *text, size_t len,
                                  enum MHD_ResponseMemoryMode mem, const char *type,
                                  const char *csp)
{
    struct MHD_Response *r = text ? MHD_create_response_from_buffer(len, text, mem) : NULL;
    if (!r) {
        if (mem == MHD_RESPMEM_MUST_FREE)
            free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (csp)
        MHD_add_response_header(r, "Content-Security-Policy", csp);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, char *text, size_t len,
                                  const char *type)
{
    return queue_body(c, status, text, len, MHD_RESPMEM_MUST_FREE, type, NULL);
}

/* j (consumed) as the answer: compact JSON and a newline. */
static enum MHD_Result queue_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | MS_JNUM_DUMP) : NULL;
    json_decref(j);
    size_t len = text ? strlen(text) : 0;
    char *body = text ? realloc(text, len + 2) : NULL;
    if (!body) {
        free(text);
        return MHD_NO;
    }
    memcpy(body + len, "\n", 2);
    return queue_text(c, status, body, len + 1, "application/json");
}

static enum MHD_Result queue_error(struct MHD_Connection *c, unsigned status, const char *what)
{
    return queue_json(c, status, json_pack("{s:s}", "error", what));
}

/* --- a report, in pages ------------------------------------------------------------- */

/* A report being sent: its keys before "tasks" and its first page went
 * out first; each later call of the reader adds the next page of rows;
 * then the keys after "tasks". The run is looked up by id for each page,
 * so a run the master forgets meanwhile ends the answer short, never
 * reads freed memory. */
typedef struct {
    ms_master_t *m;
    uint64_t run_id;
    size_t next, total; /* the next row to fetch; rows in all */
    char *text;         /* what is ready to go, from off to len */
    size_t len, off;
    json_t *after; /* the keys after "tasks" (an object), until they are written */
} stream_t;

static void stream_free(void *arg)
{
    stream_t *s = arg;
    free(s->text);
    json_decref(s->after);
    free(s);
}

/* Write "KEY":VALUE, compact, to f. */
static int dump_member(FILE *f, const char *key, const json_t *v)
{
    json_t *k = json_string(key);
    int rc = k && json_dumpf(k, f, JSON_ENCODE_ANY) == 0 && fputc(':', f) != EOF &&
                     json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY | MS_JNUM_DUMP) == 0
                 ? 0
                 : -1;
    json_decref(k);
    return rc;
}

/* Write the rows of tasks to f, each after a comma unless it is row 0. */
static int dump_rows(FILE *f, const json_t *tasks, size_t first_index)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tasks, i, t)
    {
        if ((first_index + i > 0 && fputc(',', f) == EOF) ||
            json_dumpf(t, f, JSON_COMPACT | MS_JNUM_DUMP) != 0)
            return -1;
    }
    return 0;
}

/* The opening of the report in page (its first page): "{", its keys up to
 * "tasks", and "tasks":[ with its rows, to f; the keys after "tasks" are
 * kept in s->after. */
static int dump_head(FILE *f, stream_t *s, json_t *page)
{
    const char *key;
    json_t *v;
    int seen_tasks = 0, n = 0;
    s->after = json_object();
    if (!s->after || fputc('{', f) == EOF)
        return -1;
    json_object_foreach(page, key, v)
    {
        if (strcmp(key, "tasks_total") == 0 || strcmp(key, "tasks_from") == 0)
            continue; /* as the client removes them once it has every page */
        if (seen_tasks) {
            json_object_set(s->after, key, v);
            continue;
        }
        if ((n++ && fputc(',', f) == EOF) ||
            (strcmp(key, "tasks") == 0 ? 0 : dump_member(f, key, v)))
            return -1;
        if (strcmp(key, "tasks") == 0) {
            seen_tasks = 1;
            if (fputs("\"tasks\":[", f) == EOF || dump_rows(f, v, 0) != 0)
                return -1;
        }
    }
    if (!seen_tasks) /* no rows: an empty list where the client would have it */
        return fputs(n ? ",\"tasks\":[" : "\"tasks\":[", f) == EOF ? -1 : 0;
    return 0;
}

/* The closing: "]", the keys after "tasks", "}" and a newline. */
static int dump_tail(FILE *f, stream_t *s)
{
    const char *key;
    json_t *v;
    if (fputc(']', f) == EOF)
        return -1;
    json_object_foreach(s->after, key, v)
    {
        if (fputc(',', f) == EOF || dump_member(f, key, v) != 0)
            return -1;
    }
    json_decref(s->after);
    s->after = NULL;
    return fputs("}\n", f) == EOF ? -1 : 0;
}

/* The next piece of the report into s->text: the next page of rows, or
 * the closing. Returns 0, or -1 (the run is gone, or out of memory). */
static int stream_more(stream_t *s)
{
    free(s->text);
    s->text = NULL;
    s->len = s->off = 0;
    FILE *f = open_memstream(&s->text, &s->len);
    if (!f)
        return -1;
    int rc = 0;
    if (s->next < s->total) {
        json_t *page = ms_master_report_page(s->m, s->run_id, s->next, REPORT_PAGE);
        json_t *rows = json_object_get(page, "tasks");
        size_t from = (size_t)json_integer_value(json_object_get(page, "tasks_from"));
        if (!page || from != s->next || json_array_size(rows) == 0 || dump_rows(f, rows, from))
            rc = -1;
        s->next += json_array_size(rows);
        json_decref(page);
    } else if (s->after) {
        rc = dump_tail(f, s);
    }
    return fclose(f) == 0 ? rc : -1;
}

static ssize_t stream_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    stream_t *s = arg;
    (void)pos;
    if (s->off == s->len) {
        if (s->next >= s->total && !s->after)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (stream_more(s) != 0) {
            ms_warn("HTTP: the report of run %llu ended short, at row %zu of %zu",
                    (unsigned long long)s->run_id, s->next, s->total);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->text + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

/* A stream of run_id's report from its first page (consumed); NULL on out
 * of memory. */
static stream_t *stream_new(ms_master_t *m, uint64_t run_id, json_t *page)
{
    stream_t *s = calloc(1, sizeof *s);
    FILE *f = s ? open_memstream(&s->text, &s->len) : NULL;
    if (f) {
        json_t *total = json_object_get(page, "tasks_total");
        s->m = m;
        s->run_id = run_id;
        s->next = json_array_size(json_object_get(page, "tasks"));
        s->total = total ? (size_t)json_integer_value(total) : s->next;
        int rc = dump_head(f, s, page);
        if (fclose(f) == 0 && rc == 0) {
            json_decref(page);
            return s;
        }
    }
    json_decref(page);
    if (s)
        stream_free(s);
    return NULL;
}

static enum MHD_Result queue_report(ms_http_t *h, struct MHD_Connection *c, uint64_t run_id)
{
    json_t *page = ms_master_report_page(h->m, run_id, 0, REPORT_PAGE);
    if (!page) {
        char text[64];
        snprintf(text, sizeof text, "no run %llu on this master", (unsigned long long)run_id);
        return queue_error(c, MHD_HTTP_NOT_FOUND, text);
    }
    stream_t *s = stream_new(h->m, run_id, page);
    struct MHD_Response *r = s ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                   stream_read, s, stream_free)
                               : NULL;
    if (!r) {
        if (s)
            stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* --- the routes ---------------------------------------------------------------------- */

static enum MHD_Result on_history(ms_http_t *h, struct MHD_Connection *c, const ms_route_t *rt)
{
    char err[512];
    json_t *hist = ms_master_history(h->m, rt->n, err, sizeof err);
    return hist ? queue_json(c, MHD_HTTP_OK, hist)
                : queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
}

static enum MHD_Result on_report_last(ms_http_t *h, struct MHD_Connection *c)
{
    char err[512];
    json_t *hist = ms_master_history(h->m, 1, err, sizeof err);
    json_int_t id = json_integer_value(json_object_get(json_array_get(hist, 0), "run_id"));
    json_decref(hist);
    if (!hist)
        return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
    if (id <= 0)
        return queue_error(c, MHD_HTTP_NOT_FOUND, "no runs yet on this master");
    return queue_report(h, c, (uint64_t)id);
}

/* The whole history, read again when older than HISTORY_TTL_MS (borrowed;
 * NULL with err when the catalog cannot be read). */
static const json_t *whole_history(ms_http_t *h, char *err, size_t errlen)
{
    int64_t now = ms_now_ms();
    if (h->history && now - h->history_ms < HISTORY_TTL_MS)
        return h->history;
    json_t *hist = ms_master_history(h->m, 0, err, errlen);
    if (hist) {
        json_decref(h->history);
        h->history = hist;
        h->history_ms = now;
    }
    return hist ? hist : h->history;
}

static enum MHD_Result on_metrics(ms_http_t *h, struct MHD_Connection *c)
{
    char err[512] = "";
    size_t len = 0;
    json_t *status = ms_master_status(h->m);
    const json_t *hist = whole_history(h, err, sizeof err);
    char *text = status ? ms_metrics_text(status, hist, &len, err, sizeof err) : NULL;
    json_decref(status);
    if (!text)
        return queue_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, err[0] ? err : "out of memory");
    return queue_text(c, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

static enum MHD_Result on_page(struct MHD_Connection *c)
{
    size_t len;
    char *page = (char *)ms_page_html(&len); /* static: libmicrohttpd only reads it */
    /* The page's own policy: its one inline script, by hash, and nothing else. */
    return queue_body(c, MHD_HTTP_OK, page, len, MHD_RESPMEM_PERSISTENT, "text/html; charset=utf-8",
                      ms_page_csp());
}

static enum MHD_Result dispatch(ms_http_t *h, struct MHD_Connection *c, const ms_route_t *rt)
{
    switch (rt->route) {
    case MS_ROUTE_STATUS:
        return queue_json(c, MHD_HTTP_OK, ms_master_status(h->m));
    case MS_ROUTE_HISTORY:
        return on_history(h, c, rt);
    case MS_ROUTE_REPORT:
        return queue_report(h, c, rt->run_id);
    case MS_ROUTE_REPORT_LAST:
        return on_report_last(h, c);
    case MS_ROUTE_METRICS:
        return on_metrics(h, c);
    case MS_ROUTE_PAGE:
        return on_page(c);
    default:
        return queue_error(c, rt->status ? (unsigned)rt->status : MHD_HTTP_NOT_FOUND,
                           rt->error ? rt->error : "no such path");
    }
}

/* --- requests ------------------------------------------------------------------------ */

/* The client's address, for the log. */
static const char *client_addr(struct MHD_Connection *c, char *out, size_t outlen)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(out, outlen, "?");
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)outlen);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)outlen);
    return out;
}

static void auth_failed(ms_http_t *h, struct MHD_Connection *c)
{
    char addr[INET6_ADDRSTRLEN];
    int64_t now = ms_now_ms();
    h->auth_failed++;
    if (h->auth_logged && now - h->auth_logged < AUTH_LOG_MS)
        return;
    client_addr(c, addr, sizeof addr);
    ms_warn("HTTP: %zu request(s) without the admin's password (the last from %s)", h->auth_failed,
            addr);
    h->auth_failed = 0;
    h->auth_logged = now;
}

static enum MHD_Result ask_password(ms_http_t *h, struct MHD_Connection *c)
{
    auth_failed(h, c);
    char *text = strdup("{\"error\":\"the admin's password is needed\"}\n");
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_basic_auth_fail_response(c, "multisync", r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    ms_http_t *h = cls;
    req_t *q = *con_cls;
    ms_route_t rt;
    (void)url; /* decoded: routes are matched on the raw URI */
    (void)version;
    (void)upload;
    if (!q || !h->m)
        return MHD_NO;
    if (q->answered || *upload_size) { /* a body nobody asked for: dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    ms_route(method, q->uri, &rt);
    /* A GET is answered once the whole request is in, so that the
     * connection may serve the next one; any other method at once, and
     * then the connection closes without reading its body. */
    if (!q->seen++ && rt.status != MHD_HTTP_METHOD_NOT_ALLOWED)
        return MHD_YES;
    q->answered = 1;
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h->gate && !ms_webgate_check(h->gate, auth))
        return ask_password(h, c);
    ms_debug("HTTP %s %.200s", method, q->uri);
    return dispatch(h, c, &rt);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    req_t *q = calloc(1, sizeof *q);
    if (q && !(q->uri = strdup(uri ? uri : ""))) {
        free(q);
        q = NULL;
    }
    return q;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    req_t *q = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (q) {
        free(q->uri);
        free(q);
        *con_cls = NULL;
    }
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    (void)cls;
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    ms_debug("HTTP: %s", text);
}

/* --- the daemon ---------------------------------------------------------------------- */

/* A PEM file into memory (text, NUL-terminated), in guarded memory when it
 * is a secret. NULL with err set. */
static char *read_pem(const char *path, int secret, char *err, size_t errlen)
{
    char *buf = secret ? sodium_malloc(PEM_MAX + 1) : malloc(PEM_MAX + 1);
    if (!buf) {
        ms_errf(err, errlen, "out of memory reading %s", path);
        return NULL;
    }
    int rc = -1;
    if (secret) {
        rc = ms_secret_file_read(path, buf, PEM_MAX + 1, err, errlen);
    } else {
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, PEM_MAX + 1, f) : 0;
        if (!f || ferror(f))
            ms_errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        else if (n > PEM_MAX)
            ms_errf(err, errlen, "%s is too large for a certificate", path);
        else
            rc = 0;
        buf[n <= PEM_MAX ? n : PEM_MAX] = '\0';
        if (f)
            fclose(f);
    }
    if (rc == 0 && !strstr(buf, "-----BEGIN "))
        rc = ms_errf(err, errlen, "%s is not PEM (no -----BEGIN line)", path);
    if (rc == 0)
        return buf;
    secret ? sodium_free(buf) : free(buf);
    return NULL;
}

/* The rule, then the files. 0, or -1 with err set. */
static int load_config(ms_http_t *h, const ms_http_opts_t *o, const ms_webgate_addr_t *a, char *err,
                       size_t errlen)
{
    if (ms_webgate_allowed(a, o->listen, o->cert != NULL, o->key != NULL, o->password_file != NULL,
                           err, errlen) != 0)
        return -1;
    if (sodium_init() < 0)
        return ms_errf(err, errlen, "cannot initialise libsodium");
    if (o->cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return ms_errf(err, errlen, "HTTP: this libmicrohttpd was built without TLS");
    if (o->cert && (!(h->cert = read_pem(o->cert, 0, err, errlen)) ||
                    !(h->key = read_pem(o->key, 1, err, errlen))))
        return -1;
    if (o->password_file && !(h->gate = ms_webgate_load(o->password_file, err, errlen)))
        return -1;
    return 0;
}

static struct MHD_Daemon *start(ms_http_t *h, const ms_webgate_addr_t *a)
{
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (a->ipv6 ? MHD_USE_IPv6 : 0) |
                     (h->cert ? MHD_USE_TLS : 0);
    /* Without a certificate the list ends at once. */
    struct MHD_OptionItem tls[] = {
        {h->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, h->cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->key},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&a->addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)MS_HTTP_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)MS_HTTP_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MS_HTTP_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MS_HTTP_CONN_MEMORY,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
}

ms_http_t *ms_http_new(const ms_http_opts_t *o, int *rc, char *err, size_t errlen)
{
    ms_webgate_addr_t a;
    ms_http_t *h = calloc(1, sizeof *h);
    *rc = MS_RC_USAGE;
    if (!h) {
        ms_errf(err, errlen, "out of memory");
        return NULL;
    }
    if (ms_webgate_parse(o->listen, &a, err, errlen) != 0 || load_config(h, o, &a, err, errlen))
        goto fail;
    *rc = MS_RC_FAILED;
    if (!(h->d = start(h, &a))) {
        ms_errf(err, errlen, "HTTP: cannot listen on %s: %s", o->listen,
                errno ? strerror(errno) : "libmicrohttpd refused its settings");
        goto fail;
    }
    return h;
fail:
    ms_http_destroy(&h);
    return NULL;
}

static long http_timeout(void *arg)
{
    ms_http_t *h = arg;
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) != MHD_YES)
        return -1;
    return ms > LONG_MAX ? LONG_MAX : (long)ms;
}

static void http_run(void *arg)
{
    ms_http_t *h = arg;
    if (MHD_run(h->d) != MHD_YES)
        ms_debug("HTTP: MHD_run failed");
}

void ms_http_serve(ms_http_t *h, ms_master_t *m)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    h->m = m;
    ms_master_set_extra(m, &(ms_master_extra_t){di ? di->epoll_fd : -1, http_timeout, http_run, h});
}

void ms_http_destroy(ms_http_t **hp)
{
    ms_http_t *h = hp ? *hp : NULL;
    if (!h)
        return;
    if (h->m)
        ms_master_set_extra(h->m, NULL);
    if (h->d)
        MHD_stop_daemon(h->d);
    ms_webgate_destroy(&h->gate);
    json_decref(h->history);
    free(h->cert);
    sodium_free(h->key); /* wipes */
    free(h);
    *hp = NULL;
}
