/*
 * ms_argv.h - a command line of a config file split into an argv, without
 * a shell: the hooks' pre_run, post_run and on_failure.
 *
 *   pre_run = /usr/local/bin/dump-db --out "/data/prod/db/dump 1.sql" 'it''s'
 *
 * Words are separated by spaces and tabs. Single quotes take everything up
 * to the next single quote as it is; double quotes group too, and inside
 * them a backslash escapes only `"` and `\` (else it is itself); outside
 * quotes a backslash takes the next character as it is. Quoted and plain
 * parts that touch make one word (`a"b c"d` is `ab cd`); `""` is an empty
 * word. Nothing else is special: no variables, globs, redirections, pipes
 * or `;` (write `sh -c '...'` for a shell). Nothing here logs.
 */
#ifndef MS_ARGV_H
#define MS_ARGV_H

#include <stddef.h>

#include "ms_strv.h"

/*
 * Split line into words, appended to *out (copies; out->v stays
 * NULL-terminated). Returns 0, or -1 with err set ("unbalanced double
 * quote (opened at column 12)", "a backslash ends the line", "out of
 * memory"); out then holds what it held before.
 */
int ms_argv_split(const char *line, ms_strv_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/*
 * argv as one line for a log: each word as it is when it needs no
 * quoting, else in single quotes (a `'` inside as `'\''`), so that what
 * the log shows splits back into the same words. Returns out (cut short
 * with "..." when outlen is too small).
 */
const char *ms_argv_quote(char *const *argv, char *out, size_t outlen);

#endif
