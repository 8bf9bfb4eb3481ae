/*
 * ms_utf8.h - names made valid UTF-8 for JSON and terminals.
 *
 * Project, host and set names are bytes chosen by whoever made a folder or
 * started a worker; JSON strings must be UTF-8. The backup itself stays
 * byte-exact: only what the master reports is cleaned, each invalid byte
 * written as the four characters "\xNN".
 */
#ifndef MS_UTF8_H
#define MS_UTF8_H

#include <stddef.h>

/*
 * Write s into out (outlen > 0) as valid UTF-8: valid sequences as they
 * are, any other byte (a stray continuation byte, an overlong form, a
 * surrogate, a code point over U+10FFFF, a cut sequence) as "\xNN". A name
 * too long for out is cut between characters, never inside one. Returns
 * out, always NUL-terminated.
 */
const char *ms_utf8_clean(const char *s, char *out, size_t outlen);

#endif
