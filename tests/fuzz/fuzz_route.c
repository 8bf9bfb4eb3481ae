/*
 * fuzz_route.c - libFuzzer harness for what the HTTP listener reads from a
 * client before anything else: the method and raw URI (ms_route) and the
 * Authorization header (ms_webgate_check). The first byte picks which;
 * for the router, the rest is METHOD NUL URI.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ms_route.h"
#include "ms_webgate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ms_webgate_t *gate(void)
{
    static ms_webgate_t *g;
    char path[] = "/tmp/multisync-fuzz-pw.XXXXXX", err[256];
    if (g)
        return g;
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, "pw\n", 3) != 3)
        abort();
    close(fd);
    g = ms_webgate_load(path, err, sizeof err);
    unlink(path);
    if (!g)
        abort();
    return g;
}

/* Whether header is Basic authentication of admin:pw, decoded here on its
 * own: nothing else may pass. */
static int is_admin_pw(const char *header)
{
    unsigned char bin[64];
    size_t len = 0;
    if (strncasecmp(header, "basic ", 6) != 0)
        return 0;
    header += 6 + strspn(header + 6, " ");
    return sodium_base642bin(bin, sizeof bin, header, strlen(header), NULL, &len, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0 &&
           len == 8 && memcmp(bin, "admin:pw", 8) == 0;
}

static void route(const char *text, size_t len)
{
    ms_route_t r;
    size_t mlen = strnlen(text, len);
    const char *uri = mlen < len ? text + mlen + 1 : "";
    int status = ms_route(text, uri, &r);
    if (status != r.status || (r.route == MS_ROUTE_NONE) != (status != 200) ||
        (status == 200 && r.route == MS_ROUTE_HISTORY && (r.n < 1 || r.n > MS_ROUTE_HISTORY_MAX)) ||
        (status == 200 && r.route == MS_ROUTE_REPORT && (r.run_id < 1 || r.run_id > UINT32_MAX)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = malloc(size); /* the rest, NUL-terminated */
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if (data[0] & 1) {
        if (ms_webgate_check(gate(), text) && !is_admin_pw(text))
            abort();
    } else {
        route(text, size - 1);
    }
    free(text);
    return 0;
}
