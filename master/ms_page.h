/*
 * ms_page.h - the status page the master serves at `/` on its HTTP
 * listener: one static HTML file with its CSS and script inline
 * (master/page/index.html), compiled into the binary by make (its bytes
 * become build/gen/ms_page_data.c), so the master needs no files at run
 * time and the page no network but the master's: it fetches only
 * api/status, api/history?n=30 and api/report/ID|last, relative to where
 * it is served, and draws them.
 *
 * The page carries its own Content-Security-Policy (a <meta> tag): its one
 * script allowed by its sha256, no other source of anything. An HTTP
 * server that sends a CSP header with the page must send that same policy
 * (ms_page_csp): two policies both apply, and a stricter one would block
 * the script.
 */
#ifndef MS_PAGE_H
#define MS_PAGE_H

#include <stddef.h>

/* The page: UTF-8 HTML, *len bytes (also NUL-terminated), static, never
 * freed. Serve it as "text/html; charset=utf-8". */
const char *ms_page_html(size_t *len);

/* The page's Content-Security-Policy, as its <meta> tag says it, for a
 * Content-Security-Policy header; static. "" if the page had none. */
const char *ms_page_csp(void);

#endif
