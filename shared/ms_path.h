/*
 * ms_path.h - what rsync takes a path argument to be.
 */
#ifndef MS_PATH_H
#define MS_PATH_H

/*
 * rsync's rule: "rsync://..." or a ':' before any '/' names another host
 * (host:path, user@host:path, host::module). Returns 1 for such a remote
 * destination, 0 for a local path.
 */
int ms_path_is_remote(const char *dest);

/* mkdir -p path (links in it are followed: a path an operator named).
 * Returns 0, or -1 with err set ("cannot create destination /x: ..."). */
int ms_path_mkdirs(const char *path, char *err, size_t errlen);

#endif
