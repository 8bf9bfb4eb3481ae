/*
 * test_route.c - ms_route: the HTTP listener answers only its exact paths,
 * only to GET and HEAD, takes a run id and ?n= within their bounds, and
 * maps nothing a client invents (.., %00, doubled slashes, long URIs) to a
 * route. No sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ms_route.h"

static ms_route_t route(const char *method, const char *uri)
{
    ms_route_t r;
    int status = ms_route(method, uri, &r);
    assert_int_equal(status, r.status);
    assert_true((r.route == MS_ROUTE_NONE) == (r.status != 200));
    assert_true((r.error == NULL) == (r.status == 200));
    return r;
}

static void the_api_paths_are_routed(void **state)
{
    (void)state;
    assert_int_equal(route("GET", "/api/status").route, MS_ROUTE_STATUS);
    assert_int_equal(route("GET", "/api/history").route, MS_ROUTE_HISTORY);
    assert_int_equal(route("GET", "/api/report/last").route, MS_ROUTE_REPORT_LAST);
    ms_route_t r = route("GET", "/api/report/42");
    assert_int_equal(r.route, MS_ROUTE_REPORT);
    assert_int_equal(r.run_id, 42);
    assert_int_equal(route("GET", "/api/report/4294967295").run_id, 4294967295u);
}

static void head_is_get_without_a_body(void **state)
{
    (void)state;
    ms_route_t r = route("HEAD", "/api/status");
    assert_int_equal(r.route, MS_ROUTE_STATUS);
    assert_true(r.head);
    assert_false(route("GET", "/api/status").head);
}

static void other_methods_are_405_on_any_path(void **state)
{
    (void)state;
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get", "GETX", ""};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        assert_int_equal(route(methods[i], "/api/status").status, 405);
        assert_int_equal(route(methods[i], "/nowhere").status, 405);
    }
}

static void history_takes_n_within_its_bounds(void **state)
{
    (void)state;
    assert_int_equal(route("GET", "/api/history").n, MS_ROUTE_HISTORY_DEFAULT);
    assert_int_equal(route("GET", "/api/history?n=1").n, 1);
    assert_int_equal(route("GET", "/api/history?n=100000").n, 100000);
    assert_int_equal(route("GET", "/api/history?_=123&n=7").n, 7);
    assert_int_equal(route("GET", "/api/history?nn=5").n, MS_ROUTE_HISTORY_DEFAULT);
    const char *bad[] = {"n=0",  "n=100001", "n=",   "n=-1",  "n=1e3",
                         "n=07", "n=5x",     "n= 5", "n=%35", "n=99999999999999999999999"};
    char uri[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(uri, sizeof uri, "/api/history?%s", bad[i]);
        assert_int_equal(route("GET", uri).status, 400);
    }
}

static void a_bad_run_id_is_400(void **state)
{
    (void)state;
    const char *bad[] = {"/api/report/",   "/api/report/0",          "/api/report/-1",
                         "/api/report/x",  "/api/report/4294967296", "/api/report/01",
                         "/api/report/1/", "/api/report/1/2",        "/api/report/%31",
                         "/api/report/1 ", "/api/report/lastx",      "/api/report/../status"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(route("GET", bad[i]).status, 400);
}

static void only_exact_paths_match(void **state)
{
    (void)state;
    const char *unknown[] = {"",
                             "//",
                             "/index.html",
                             "/api",
                             "/api/",
                             "/api/status/",
                             "//api/status",
                             "/api//status",
                             "/API/status",
                             "/api/%73tatus",
                             "/api/status%00",
                             "/api/../api/status",
                             "/./api/status",
                             "../../etc/passwd",
                             "/metrics/",
                             "/metricsx",
                             "/api/statusx",
                             "api/status",
                             "http://host/api/status"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_int_equal(route("GET", unknown[i]).status, 404);
}

static void the_page_and_the_metrics_have_their_routes(void **state)
{
    (void)state;
    assert_int_equal(route("GET", "/").route, MS_ROUTE_PAGE);
    assert_int_equal(route("HEAD", "/").route, MS_ROUTE_PAGE);
    assert_int_equal(route("GET", "/?refresh=1").route, MS_ROUTE_PAGE);
    assert_int_equal(route("GET", "/metrics").route, MS_ROUTE_METRICS);
    assert_int_equal(route("POST", "/metrics").status, 405);
}

static void a_query_or_fragment_does_not_change_the_path(void **state)
{
    (void)state;
    assert_int_equal(route("GET", "/api/status?x=1").route, MS_ROUTE_STATUS);
    assert_int_equal(route("GET", "/api/status?").route, MS_ROUTE_STATUS);
    assert_int_equal(route("GET", "/api/status#top").route, MS_ROUTE_STATUS);
    assert_int_equal(route("GET", "/api/report/3?n=5").run_id, 3);
}

static void a_long_uri_is_414_and_null_is_400(void **state)
{
    (void)state;
    char *uri = malloc(MS_ROUTE_URI_MAX + 2);
    memset(uri, 'a', MS_ROUTE_URI_MAX + 1);
    uri[0] = '/';
    uri[MS_ROUTE_URI_MAX + 1] = '\0';
    assert_int_equal(route("GET", uri).status, 414);
    uri[MS_ROUTE_URI_MAX] = '\0';
    assert_int_equal(route("GET", uri).status, 404);
    free(uri);
    assert_int_equal(route(NULL, "/api/status").status, 400);
    assert_int_equal(route("GET", NULL).status, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_api_paths_are_routed),
        cmocka_unit_test(head_is_get_without_a_body),
        cmocka_unit_test(other_methods_are_405_on_any_path),
        cmocka_unit_test(history_takes_n_within_its_bounds),
        cmocka_unit_test(a_bad_run_id_is_400),
        cmocka_unit_test(only_exact_paths_match),
        cmocka_unit_test(the_page_and_the_metrics_have_their_routes),
        cmocka_unit_test(a_query_or_fragment_does_not_change_the_path),
        cmocka_unit_test(a_long_uri_is_414_and_null_is_400),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
