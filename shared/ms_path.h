/*
 * ms_path.h - what rsync takes a path argument to be, and the relative
 * paths a task or a restore may name.
 */
#ifndef MS_PATH_H
#define MS_PATH_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * rsync's rule: "rsync://..." or a ':' before any '/' names another host
 * (host:path, user@host:path, host::module). Returns 1 for such a remote
 * destination, 0 for a local path.
 */
int ms_path_is_remote(const char *dest);

/* mkdir -p path (links in it are followed: a path an operator named).
 * Returns 0, or -1 with err set ("cannot create destination /x: ..."). */
int ms_path_mkdirs(const char *path, char *err, size_t errlen);

/*
 * A daemon's own folder (a state or socket folder an operator named), made
 * when missing: missing parents 0755 (as mkdir -p makes them, never more
 * open whatever the umask), then path itself with exactly mode, owned by
 * this process's user. An existing folder is left as it is (its mode is the
 * operator's). *created says whether path was made now. Returns 0, or -1
 * with err set, e.g. "cannot create folder /a/b: /a exists and is not a
 * folder".
 */
int ms_path_make_folder(const char *path, mode_t mode, int *created, char *err, size_t errlen);

/* s[0..n) is one path component: not empty, "." or "..", no '/', at most
 * NAME_MAX bytes. what names it in the error. Returns 0, or -1 with err set. */
int ms_path_check_name(const char *what, const char *s, size_t n, char *err, size_t errlen);

/*
 * path is a relative path of names: components separated by single '/', no
 * leading or trailing '/', each one a name as above, shorter than
 * MS_MAX_PATH in all. what names it in the error ("sub", "excl[3]").
 * Returns 0, or -1 with err set (naming no path: names may hold any byte).
 */
int ms_path_check_relpath(const char *what, const char *path, char *err, size_t errlen);

/*
 * Where folder b lies against folder a, by device and inode (another path
 * to the same folder counts; links are followed: these are paths an
 * operator named). b may not exist yet: then the nearest folder above it
 * decides whether it would be inside a. Returns MS_PATH_INSIDE (b is a or
 * below it), MS_PATH_HOLDS (b exists and a is below it), MS_PATH_APART, or
 * -1 with err set. The _fd form takes a as an open folder and its stat.
 */
enum { MS_PATH_APART = 0, MS_PATH_INSIDE = 1, MS_PATH_HOLDS = 2 };
int ms_path_nesting(const char *a, const char *b, char *err, size_t errlen);
int ms_path_nesting_fd(int afd, const struct stat *ast, const char *b, char *err, size_t errlen);

#endif
