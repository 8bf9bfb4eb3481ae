#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ms_log.h"

static const char *log_program = "multisync";
static ms_log_level_t log_min = MS_LOG_INFO;

void ms_log_init(const char *program, ms_log_level_t min_level)
{
    log_program = program;
    log_min = min_level;
}

static const char *level_names[] = {"debug", "info", "warn", "error"};

int ms_log_level_parse(const char *name, ms_log_level_t *out)
{
    for (int i = MS_LOG_DEBUG; i <= MS_LOG_ERROR; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (ms_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

/* "YYYY-MM-DDTHH:MM:SS" of t, formatted once per second (a busy master logs
 * a line per task: thousands a second). Per thread: the walker logs too. */
static const char *log_second(time_t t)
{
    static _Thread_local time_t cached = (time_t)-1;
    static _Thread_local char when[32];
    if (t != cached) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        cached = t;
    }
    return when;
}

void ms_log(ms_log_level_t level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[2304];
    int head = snprintf(line, sizeof line, "%s.%03ldZ %s[%s]: ", log_second(ts.tv_sec),
                        ts.tv_nsec / 1000000, log_program, level_names[level]);
    if (head < 0 || (size_t)head >= sizeof line - 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + head, sizeof line - (size_t)head - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)head + (n < 0 ? 0 : (size_t)n);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    /* One line per message, whatever a peer or a path put in it: control
     * bytes (newlines, escapes) become '?'. Callers that show names use
     * ms_log_safe, which keeps them readable as \xNN. */
    for (unsigned char *p = (unsigned char *)line + head; p < (unsigned char *)line + len; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    line[len++] = '\n';
    /* One write: lines of several processes sharing a log do not mix. */
    fwrite(line, 1, len, stderr);
}

const char *ms_log_safe(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen == 0)
        return out;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < outlen; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *p);
    }
    out[o] = '\0';
    return out;
}
