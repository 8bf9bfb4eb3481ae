/*
 * ms_part.c - which part of its project a task copies (see ms_part.h).
 */
#include <stdio.h>
#include <string.h>

#include "ms_part.h"

const char *ms_part_label(const char *sub, const char *first, uint32_t n, int rest, char *out,
                          size_t outlen)
{
    if (n)
        snprintf(out, outlen, "%s%s%s", sub ? sub : "", sub && *sub ? "/" : "", first);
    else
        snprintf(out, outlen, "%s", rest ? "rest" : "");
    if (n > 1) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, " +%u", n - 1);
    }
    return out;
}
