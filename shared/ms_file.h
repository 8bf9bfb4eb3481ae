/*
 * ms_file.h - whole writes, and files replaced all at once.
 */
#ifndef MS_FILE_H
#define MS_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* All of buf into fd, across short writes and EINTR. Returns 0, or -1
 * with errno set (EIO for a write that wrote nothing). */
int ms_write_all(int fd, const void *buf, size_t len);

/*
 * Replace path with text: written into a hidden temporary file in the same
 * folder (".BASE.XXXXXX": no collector's "*.prom" glob, no "*.json" reader
 * sees it), given mode, synced, then renamed over path. A reader sees the
 * old file or the new one, never a part; a crash leaves the old one. The
 * temporary file goes when anything fails. Returns 0, or -1 with err set
 * ("cannot write PATH: reason").
 */
int ms_file_replace(const char *path, const char *text, size_t len, mode_t mode, char *err,
                    size_t errlen);

#endif
