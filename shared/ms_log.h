/*
 * ms_log.h - the daemons' log: one line per event on stderr, with a UTC
 * timestamp, the program name and a level. Only the programs' boundary code
 * logs (see STYLE.md); library modules return errors instead.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

typedef enum { MS_LOG_DEBUG, MS_LOG_INFO, MS_LOG_WARN, MS_LOG_ERROR } ms_log_level_t;

/* Name shown in every line, and the lowest level shown (default INFO). */
void ms_log_init(const char *program, ms_log_level_t min_level);

/* "debug", "info", "warn" or "error" to a level. Returns 0, or -1. */
int ms_log_level_parse(const char *name, ms_log_level_t *out);

void ms_log(ms_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ms_debug(...) ms_log(MS_LOG_DEBUG, __VA_ARGS__)
#define ms_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)
#define ms_warn(...) ms_log(MS_LOG_WARN, __VA_ARGS__)
#define ms_error(...) ms_log(MS_LOG_ERROR, __VA_ARGS__)

/*
 * Copy s into out (size outlen) so that it is safe in a log line: bytes
 * outside printable ASCII become \xNN. Project names are bytes from a
 * filesystem and may hold newlines or terminal escapes. Returns out.
 */
const char *ms_log_safe(const char *s, char *out, size_t outlen);

#endif
