/*
 * ms_rsync.h - how the worker talks to rsync: the argv it builds for a task
 * and the figures it reads back from rsync's --stats output.
 *
 * The argv is built from the task's fields only; no shell is involved, so a
 * project name with spaces, quotes, a leading dash or any non-UTF-8 byte is
 * passed to rsync as one argument and never interpreted.
 */
#ifndef MS_RSYNC_H
#define MS_RSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ms_codec.h"

typedef struct {
    uint64_t files;             /* "Number of files: N (...)" */
    uint64_t bytes_total;       /* "Total file size: N bytes" */
    uint64_t bytes_transferred; /* "Total transferred file size: N bytes" */
} ms_rsync_stats_t;

/*
 * Parse the figures above from rsync's stdout (--stats). Thousands
 * separators (',' or '.') are accepted. Returns 0 when at least "Number of
 * files" was found, -1 otherwise (fields not found stay 0).
 */
int ms_rsync_parse_stats(const char *text, size_t len, ms_rsync_stats_t *out);

/*
 * Check that a task names what a worker may copy: a project is one path
 * component (non-empty, no '/', not "." or "..", at most NAME_MAX bytes) or
 * "" with MS_TASK_TOP; source and dest are non-empty; flags are known, and
 * a verify task (MS_TASK_VERIFY) has none of DELETE, PRUNE, FORCE, REMOVE
 * (a dry run, MS_TASK_VERIFY | MS_TASK_DRY_RUN: none of PRUNE, REMOVE).
 * A snapshot task's snap is a snapshot being written ("NAME.partial") and
 * its link a complete one or ""; a verify task's snap is a complete
 * snapshot (or "": a mirror) and its link "".
 * A split project's fields (ms_codec.h), at most MS_MAX_ITEMS entries each:
 *   - a chunk has items, each one path component as above, and a sub that
 *     is "" or a relative path (see ms_rsync_check_relpath);
 *   - a match chunk has match and a sub as a chunk's; each pattern is
 *     non-empty, has no '/', is at most 2 * NAME_MAX bytes and holds a '['
 *     (so that rsync reads it as a wildcard pattern, backslashes escaping);
 *   - the rest has excl, each a relative path, and/or xmatch, each a
 *     pattern relative to the project: non-empty, no leading '/', at most
 *     MS_MAX_PATH bytes, holding a '[', no part empty, "." or ".."; and
 *     sub "";
 *   - a task has never more than one of items and match, never one of them
 *     with excl or xmatch, never a sub without items or match, and a top
 *     task has none of them. sub NULL is taken as "".
 * Returns 0, or -1 with the reason in err (which names no path, only the
 * field: names may hold any byte but NUL).
 */
int ms_rsync_check_task(const ms_task_t *t, char *err, size_t errlen);

/* Which part of its project t copies, for a log line: "sub/first +N" for a
 * chunk, "rest" for the rest of a split project, "" for a whole project
 * (ms_part_label: the master names it the same way). Raw bytes. Returns
 * out. */
const char *ms_rsync_task_part(const ms_task_t *t, char *out, size_t outlen);

/*
 * Check that path is a relative path of names: components separated by
 * single '/', no leading or trailing '/', none empty, "." or "..", each at
 * most NAME_MAX bytes, shorter than MS_MAX_PATH in all. what names the
 * field in the error ("sub", "excl[3]"). Returns 0, or -1 with err set.
 * (The rule is ms_path_check_relpath's: a restore's path obeys it too.)
 */
int ms_rsync_check_relpath(const char *what, const char *path, char *err, size_t errlen);

/*
 * For a task with MS_TASK_DELETE: refuse to mirror deletions from a source
 * folder that is empty while its backup is not (an unmounted or wiped
 * source must never empty the backup). src is the task's source folder and
 * dst its destination folder, opened by ms_anchor (any descriptor of a
 * folder), dst -1 for a remote destination: it cannot be looked at, so
 * there an empty source is always refused. In a snapshot (t->link set) dst
 * is the task's folder in the last complete snapshot: the new snapshot
 * would lose what that one has. A source that is missing is not
 * this check's business: ms_anchor reports it as vanished, and nothing runs.
 * Returns 0 when the task may run (always for tasks without the flag), or
 * -1 with the reason in err (which names paths from t).
 */
int ms_rsync_check_delete_safe(const ms_task_t *t, int src, int dst, char *err, size_t errlen);

/*
 * Where a task's rsync reads and writes (see ms_anchor.h):
 *   src      the folder the task's sources are in: "." when rsync runs in it;
 *   dst      the folder copied into: "/proc/self/fd/3" for a folder the worker
 *            opened, or a remote root;
 *   relative the task is a whole project (or the top task) for a remote root:
 *            src is then the source root, the project goes as "./PROJECT"
 *            with --relative and dst is the destination root, so that the
 *            receiving rsync makes DST/PROJECT itself, as an entry of the
 *            transfer (a symbolic link there is replaced, not followed);
 *   include_from  NULL, or a file of NUL-separated rsync include patterns
 *            (--from0 --include-from=FILE; "-": rsync's stdin) put before
 *            the top task's exclusion of the root's folders: the backups it
 *            deletes.
 */
typedef struct {
    const char *src;
    const char *dst;
    int relative;
    const char *include_from;
    const char *link_dest; /* NULL, or --link-dest=LINK_DEST: a snapshot's last copy */
} ms_rsync_where_t;

/*
 * Build the argv for a task:
 *   rsync -a --stats --mkpath [--delete-delay] [extra...]
 *   (a verify task, MS_TASK_VERIFY: rsync -a -c -n -i --delete --stats [extra...],
 *   the same filters and paths: it compares by checksum and writes nothing;
 *   a dry run, MS_TASK_DRY_RUN: rsync -a -n -i --stats [--delete-delay]
 *   [extra...]: the copy's comparison, writing nothing)
 *         [--relative] [top task: --exclude=/LOCK [--from0 --include-from=F] --exclude=/STAR/]
 *         [--exclude=/EXCL...] [--exclude=/XMATCH...]
 *         [--include=/MATCH... --exclude=/STAR] -- SRC... DST
 * where, w->src and w->dst being the task's folders (below),
 *   for a project or the rest  SRC = w->src/       DST = w->dst/
 *   for MS_TASK_TOP            SRC = w->src/       DST = w->dst/
 *   for a chunk (items)        SRC = w->src/ITEM, one per item, in order,
 *                              DST = w->dst/
 *   for a match chunk          SRC = w->src/       DST = w->dst/
 *   relative (remote project)  SRC = ./PROJECT     DST = w->dst/
 * With w NULL the folders are the task's own paths: source/project/sub and
 * dest/project/sub (the roots for a top task), as rsync would resolve them
 * (for tests and for showing a task; the worker always passes w).
 * (STAR being "*"; LOCK the destination's lock file, MS_DEST_LOCK, which
 * the top task neither copies nor deletes.) A chunk's sources have no trailing slash, so
 * each item (folder, file or symbolic link) is copied as itself into DST;
 * --mkpath creates the missing folders of DST. The rest has one
 * --exclude=/EXCL per excl path, anchored at the project: EXCL is the path
 * as it is when it holds none of '*', '?', '[' (rsync then matches it
 * literally, backslashes included), and otherwise the path with a backslash
 * before each '*', '?', '[' and '\' (rsync then reads a wildcard pattern in
 * which a backslash escapes the next character). Then one --exclude=/XMATCH
 * per xmatch pattern, as the master wrote it (escaped already). A match
 * chunk has one --include=/MATCH per pattern, as written, then
 * --exclude=/STAR: it copies the entries of its folder whose names match,
 * with all below them, and no other entry (rsync matches an anchored
 * pattern without '/' against the folder's own entries only). An excluded
 * path is neither copied nor, with --delete-delay, deleted. A folder's
 * trailing slashes are not doubled, and a remote root ending in ':'
 * ("host:") gets no slash.
 * Returns a NULL-terminated, malloc'd vector (free with ms_rsync_argv_free)
 * or NULL with err set. The task must have passed ms_rsync_check_task.
 */
char **ms_rsync_argv(const char *rsync, char *const *extra, size_t n_extra, const ms_task_t *t,
                     const ms_rsync_where_t *w, char *err, size_t errlen);
void ms_rsync_argv_free(char **argv);

/*
 * prefix + path + suffix, path written so that an rsync filter rule matches
 * it literally: as it is when it holds none of '*', '?', '[' (rsync then
 * reads it literally, backslashes included), else with a backslash before
 * each '*', '?', '[' and '\\'. malloc'd; NULL when out of memory.
 */
char *ms_rsync_literal(const char *prefix, const char *path, const char *suffix);

/*
 * Run `rsync --version` (rsync: a program name looked up in PATH, or a
 * path) and put the first line of what it says into out ("rsync  version
 * 3.2.7  protocol version 31"). Returns 0, or -1 with err set when it
 * cannot be run, exits non-zero, says something else, or takes more than
 * 10 s: a worker whose rsync does not work must not take tasks. Call it
 * before any thread or signal handling is set up (it forks and waits).
 */
int ms_rsync_version(const char *rsync, char *out, size_t outlen, char *err, size_t errlen);

/*
 * Reduce rsync's stderr to the part worth showing an operator: the last
 * lines (at most max bytes), with trailing blank lines removed. Writes a
 * NUL-terminated string into out (size outlen).
 */
void ms_rsync_error_tail(const char *text, size_t len, char *out, size_t outlen);

/*
 * What a verify task's rsync (-c -n -i) found different (a dry run's, -n
 * -i: what its copy would change), read from its
 * stdout as it streams (the pool keeps only a tail of it): every itemize
 * line ("YXcstpoguax PATH", e.g. ">fc........ dir/file", or "*deleting
 * PATH") is counted, and the first MS_ITEMIZE_LINES of them, at most
 * MS_ITEMIZE_BYTES in all, are kept with each PATH written after prefix
 * (the task's folder relative to the backup's root, "" or ending in '/';
 * the folder itself, "./", becomes prefix). Reads may cut a line anywhere;
 * '\r' ends a line as '\n' does (a progress line is no itemize line, nor
 * is any line of the --stats block). A line longer than
 * MS_ITEMIZE_LINE_MAX is kept cut, ending in "...". No allocation.
 */
#define MS_ITEMIZE_LINES 100
#define MS_ITEMIZE_BYTES 8192
#define MS_ITEMIZE_LINE_MAX 1024

typedef struct {
    char prefix[MS_MAX_PATH];
    char head[MS_ITEMIZE_BYTES]; /* the kept lines, each ended by '\n' (no NUL) */
    size_t head_len;
    uint32_t n_head;                /* lines kept in head */
    uint64_t n;                     /* itemize lines seen */
    char line[MS_ITEMIZE_LINE_MAX]; /* the line being read, cut to fit */
    size_t line_len;                /* its length so far, cut or not */
    bool dry_run;                   /* the paths would change (a dry run), not differ */
} ms_rsync_itemize_t;

/* Start reading; prefix as above (cut to fit). */
void ms_rsync_itemize_init(ms_rsync_itemize_t *it, const char *prefix);

/* The next len bytes of stdout. */
void ms_rsync_itemize_feed(ms_rsync_itemize_t *it, const char *buf, size_t len);

/* At EOF: a last line without its newline counts too. */
void ms_rsync_itemize_end(ms_rsync_itemize_t *it);

/* The message of a verify task that found differences: "N paths differ:"
 * ("1 path differs:"; with dry_run "N paths would change:"), the kept lines, and "... and M more"
 * when not all were kept; NUL-terminated in out, cut to outlen. Returns it->n. */
uint64_t ms_rsync_itemize_text(const ms_rsync_itemize_t *it, char *out, size_t outlen);

#endif
