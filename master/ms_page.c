/*
 * ms_page.c - the status page compiled in (see ms_page.h).
 */
#include <string.h>

#include "ms_page.h"

/* build/gen/ms_page_data.c, made by make from master/page/index.html: its
 * bytes and a NUL; ms_page_size does not count the NUL. */
extern const unsigned char ms_page_data[];
extern const size_t ms_page_size;

const char *ms_page_html(size_t *len)
{
    *len = ms_page_size;
    return (const char *)ms_page_data;
}

const char *ms_page_csp(void)
{
    static char csp[1024];
    static const char key[] = "http-equiv=\"Content-Security-Policy\" content=\"";
    if (csp[0])
        return csp;
    const char *p = strstr((const char *)ms_page_data, key);
    const char *end = p ? strchr(p + sizeof key - 1, '"') : NULL;
    if (end && (size_t)(end - (p + sizeof key - 1)) < sizeof csp)
        memcpy(csp, p + sizeof key - 1, (size_t)(end - (p + sizeof key - 1)));
    return csp;
}
