/*
 * ms_print.c - the master's JSON as a person reads it (see ms_print.h).
 */
#include <stdio.h>
#include <string.h>

#include "ms_log.h"
#include "ms_print.h"

static const char *human_bytes(double b, char *out, size_t outlen)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (b >= 1024 && u < 5) {
        b /= 1024;
        u++;
    }
    snprintf(out, outlen, u ? "%.1f %s" : "%.0f %s", b, units[u]);
    return out;
}

static double num(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/*
 * s, safe for a terminal: what the printers show comes from a master over
 * the network and holds names anyone who can make a folder chose, so
 * control bytes (escape sequences, carriage returns, newlines) become \xNN;
 * UTF-8 stays. The text lives in one of a few rotating buffers, enough for
 * a printf with several of them.
 */
static const char *esc(const char *s)
{
    static _Thread_local char ring[8][16384];
    static _Thread_local unsigned next;
    char *out = ring[next++ % 8];
    size_t n = 0, len = sizeof ring[0];
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 5 < len; p++) {
        if (*p < 0x20 || *p == 0x7f)
            n += (size_t)snprintf(out + n, len - n, "\\x%02x", *p);
        else
            out[n++] = (char)*p;
    }
    out[n] = '\0';
    return out;
}

/*
 * "1 task", "2 tasks", "0 tasks", "3 entries": n and word, in the plural
 * unless n is 1 (the words counted here are regular: -y makes -ies, else
 * an s). The text lives in one of a few rotating buffers, enough for a
 * printf with several of them.
 */
static const char *count(double n, const char *word)
{
    static _Thread_local char ring[8][64];
    static _Thread_local unsigned next;
    char *out = ring[next++ % 8];
    size_t len = strlen(word);
    if (n == 1)
        snprintf(out, sizeof ring[0], "%.0f %s", n, word);
    else if (len > 1 && word[len - 1] == 'y')
        snprintf(out, sizeof ring[0], "%.0f %.*sies", n, (int)(len - 1), word);
    else
        snprintf(out, sizeof ring[0], "%.0f %ss", n, word);
    return out;
}

static const char *raw(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* o's string at key, escaped (esc). */
static const char *str(const json_t *o, const char *key)
{
    return esc(raw(o, key));
}

/* A name for a terminal: UTF-8 kept, control characters as \xNN, cut to
 * width characters (not bytes) so that the columns stay aligned. */
static const char *cell(const char *s, int width, char *out, size_t outlen)
{
    size_t o = 0;
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < outlen; p++) {
        int starts_char = (*p & 0xc0) != 0x80;
        if (starts_char && chars == width)
            break;
        chars += starts_char;
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    for (; chars < width && o + 1 < outlen; chars++)
        out[o++] = ' ';
    out[o] = '\0';
    return out;
}

static void print_diagnosis(const json_t *diag, FILE *out);

static void print_task(const json_t *t, FILE *out)
{
    char name[256], host[256], b1[32], b2[32], b3[32], b4[32], removal[1024];
    const char *project = raw(t, "project"),
               *from = json_string_value(json_object_get(t, "removed_from"));
    if (from) { /* retention: SNAPSHOT/PROJECT */
        snprintf(removal, sizeof removal, "%s/%s", from, project);
        project = removal;
    }
    fprintf(out, "%s %s %-8s %3.0f %8.1f %9.0f %10s %10s %7.2f %10s %10s\n",
            cell(project, 24, name, sizeof name), cell(raw(t, "host"), 14, host, sizeof host),
            str(t, "status"), num(t, "attempts"), num(t, "seconds"), num(t, "files"),
            human_bytes(num(t, "bytes_total"), b1, sizeof b1),
            human_bytes(num(t, "bytes_transferred"), b2, sizeof b2),
            num(t, "cpu_user_s") + num(t, "cpu_sys_s"),
            human_bytes(num(t, "read_bytes"), b3, sizeof b3),
            human_bytes(num(t, "write_bytes"), b4, sizeof b4));
}

/* The snapshot a snapshot run wrote: where, linked to what, and whether
 * it is complete (latest points at it) or why not. */
static void print_snapshot(const json_t *rep, FILE *out)
{
    const json_t *s = json_object_get(rep, "snapshot"), *p;
    size_t i;
    if (!json_is_object(s))
        return;
    const char *link = json_string_value(json_object_get(s, "link"));
    const char *error = json_string_value(json_object_get(s, "error"));
    int complete = json_is_true(json_object_get(s, "complete"));
    fprintf(out, "snapshot %s%s: %s", str(s, "name"), complete ? "" : ".partial",
            complete ? "complete, latest points at it"
            : error  ? "not completed: "
                     : "not complete: the next run goes on with it");
    if (!complete && error)
        fputs(str(s, "error"), out);
    if (link)
        fprintf(out, " (unchanged files linked to %s)", link);
    fputc('\n', out);
    json_array_foreach(json_object_get(s, "pruned"), i, p)
        fprintf(out, "retention removed snapshot %s\n", json_string_value(p));
}

static void print_totals(const json_t *rep, const json_t *tot, FILE *out)
{
    char b1[32], b2[32], b3[32];
    double wall = num(rep, "wall_seconds");
    const json_t *verify = json_object_get(rep, "verify");
    fprintf(out, "\nrun %.0f: %s  %s, %.0f ok, %.0f failed", num(rep, "run_id"), str(rep, "status"),
            count(num(tot, "tasks"), "task"), num(tot, "ok"), num(tot, "failed"));
    if (verify)
        fprintf(out, ", %.0f differ", num(verify, "differs"));
    if (num(tot, "cancelled") > 0)
        fprintf(out, ", %.0f cancelled", num(tot, "cancelled"));
    if (num(tot, "vanished") > 0)
        fprintf(out, ", %.0f vanished from the source", num(tot, "vanished"));
    if (num(tot, "unchanged") > 0)
        fprintf(out, " (%.0f unchanged since their last copy: no rsync)", num(tot, "unchanged"));
    if (json_is_true(json_object_get(rep, "full")))
        fputs(" (a full pass: every project copied)", out);
    fputc('\n', out);
    /* A verify transfers nothing: what it costs is what it read. */
    double moved = verify ? num(tot, "bytes_read") : num(tot, "bytes_transferred");
    fprintf(out, "wall time %.2f s, %s, %s total, %s %s (%s/s)\n", wall,
            count(num(tot, "files"), "file"), human_bytes(num(tot, "bytes_total"), b1, sizeof b1),
            human_bytes(moved, b2, sizeof b2), verify ? "read" : "transferred",
            human_bytes(!verify    ? num(tot, "throughput_bps")
                        : wall > 0 ? moved / wall
                                   : 0,
                        b3, sizeof b3));
    fprintf(out, "cpu %.2f s user + %.2f s sys, parallel efficiency %.0f%% of %s\n",
            num(tot, "cpu_user_s"), num(tot, "cpu_sys_s"), 100.0 * num(tot, "parallel_efficiency"),
            count(num(tot, "slots"), "slot"));
    print_snapshot(rep, out);
}

/* ", no allow_source, no allow_dest" for a worker's "unconfined" list;
 * "" when it is confined. */
static const char *unconfined_text(const json_t *w, char *out, size_t outlen)
{
    size_t i, len = 0;
    const json_t *what;
    out[0] = '\0';
    json_array_foreach(json_object_get(w, "unconfined"), i, what)
    {
        const char *s = json_string_value(what);
        if (s && (strcmp(s, "source") == 0 || strcmp(s, "dest") == 0))
            len += (size_t)snprintf(out + len, outlen - len, "%sno allow_%s", len ? ", " : "", s);
        if (len >= outlen)
            break;
    }
    return out;
}

/* What an operator must know of each worker: unconfined, or rsync broken. */
static void print_worker_warnings(const json_t *workers, FILE *out, const char *when)
{
    size_t i;
    const json_t *w;
    char what[128];
    json_array_foreach(workers, i, w)
    {
        if (unconfined_text(w, what, sizeof what)[0])
            fprintf(out,
                    "WARNING: %s %s unconfined (%s): it reads and writes wherever a run "
                    "says\n",
                    str(w, "host"), when, what);
        if (json_is_string(json_object_get(w, "broken")))
            fprintf(out, "WARNING: %s gets no tasks: %s\n", str(w, "host"), str(w, "broken"));
    }
}

/* t's message on one line (rsync's lines joined), escaped. */
static const char *one_line(const json_t *t, char *msg, size_t size)
{
    snprintf(msg, size, "%s", raw(t, "message"));
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return esc(msg);
}

/* A verify's row that differs (a dry run's that would change: label
 * "WOULD CHANGE"): the paths it lists, one a line. */
static void print_differs(const json_t *t, const char *label, FILE *out)
{
    char name[1024], line[4096];
    const char *msg = raw(t, "message"), *nl = strchr(msg, '\n');
    double paths = num(t, "paths");
    ms_log_safe(raw(t, "project"), name, sizeof name);
    fprintf(out, "%s %s: %s\n", label, name, count(paths, "path"));
    for (const char *p = nl ? nl + 1 : ""; *p;) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        fprintf(out, "  %s\n", esc(line));
        p += n + (p[n] == '\n');
    }
}

/* A verify's last word: how many projects and paths differ, what was read. */
static void print_verify(const json_t *rep, FILE *out)
{
    const json_t *v = json_object_get(rep, "verify"), *tot = json_object_get(rep, "totals");
    char b1[32], snap[128] = "";
    if (!json_is_object(v))
        return;
    if (json_is_string(json_object_get(v, "snapshot")))
        snprintf(snap, sizeof snap, " of snapshot %s", str(v, "snapshot"));
    fprintf(out, "verify%s: %.0f of %s differ (%s); %s read\n", snap, num(v, "differs"),
            count(num(tot, "tasks"), "project"), count(num(v, "paths"), "path"),
            human_bytes(num(tot, "bytes_read"), b1, sizeof b1));
}

/* A dry run's last word: how many projects would change, how many paths,
 * how much the copy would transfer; and that nothing was written. */
static void print_dry_run(const json_t *rep, FILE *out)
{
    const json_t *d = json_object_get(rep, "dry_run"), *tot = json_object_get(rep, "totals");
    char b1[32], snap[128] = "";
    if (!json_is_object(d))
        return;
    if (json_is_string(json_object_get(d, "snapshot")))
        snprintf(snap, sizeof snap, " against snapshot %s", str(d, "snapshot"));
    fprintf(out,
            "dry run%s: %.0f of %.0f projects would change (%.0f path%s, %s to transfer); "
            "nothing written\n",
            snap, num(d, "changes"), num(tot, "tasks"), num(d, "paths"),
            num(d, "paths") == 1 ? "" : "s",
            human_bytes(num(tot, "bytes_transferred"), b1, sizeof b1));
}

static void print_failure(const json_t *t, FILE *err)
{
    char name[1024], msg[4096];
    ms_log_safe(raw(t, "project"), name, sizeof name);
    fprintf(err, "FAILED %s on %s (exit %.0f, %s): %s\n", name, str(t, "host"), num(t, "exit_code"),
            count(num(t, "attempts"), "attempt"), one_line(t, msg, sizeof msg));
}

/* A row that did not fail but has something to say: it vanished from the
 * source, or the worker replaced a link or removed gone projects' backups. */
static void print_note(const json_t *t, FILE *out)
{
    char name[1024], msg[4096];
    int vanished = strcmp(str(t, "status"), "vanished") == 0;
    if ((!vanished && raw(t, "message")[0] == '\0') || strcmp(str(t, "status"), "unchanged") == 0)
        return; /* the total says how many were unchanged */
    ms_log_safe(raw(t, "project"), name, sizeof name);
    fprintf(out, "%s %s: %s\n", vanished ? "VANISHED" : "NOTE", name, one_line(t, msg, sizeof msg));
}

/* A row of a cancelled run that was not done: never started, or stopped. */
static void print_cancelled(const json_t *t, FILE *err)
{
    char name[1024], msg[4096];
    ms_log_safe(raw(t, "project"), name, sizeof name);
    fprintf(err, "CANCELLED %s: %s\n", name, one_line(t, msg, sizeof msg));
}

int ms_print_report(const json_t *rep, FILE *out, FILE *err)
{
    const json_t *tasks = json_object_get(rep, "tasks");
    const json_t *tot = json_object_get(rep, "totals");
    if (!json_is_array(tasks) || !json_is_object(tot))
        return -1;
    fprintf(out, "%-24s %-14s %-8s %3s %8s %9s %10s %10s %7s %10s %10s\n", "PROJECT", "HOST",
            "STATUS", "ATT", "SECONDS", "FILES", "TOTAL", "CHANGED", "CPU_S", "READ", "WRITTEN");
    size_t i;
    json_t *t;
    int failed = 0;
    json_array_foreach(tasks, i, t) print_task(t, out);
    print_totals(rep, tot, out);
    print_worker_warnings(json_object_get(rep, "workers"), out, "ran");
    print_diagnosis(json_object_get(rep, "diagnosis"), out);
    json_array_foreach(tasks, i, t)
    {
        const char *status = str(t, "status");
        if (strcmp(status, "failed") == 0) {
            print_failure(t, err);
            failed++;
        } else if (strcmp(status, "ok") == 0 || strcmp(status, "vanished") == 0 ||
                   strcmp(status, "removed") == 0 || strcmp(status, "unchanged") == 0) {
            print_note(t, out);
        } else if (strcmp(status, "differs") == 0) {
            print_differs(t, "DIFFERS", out);
        } else if (strcmp(status, "would-change") == 0) {
            print_differs(t, "WOULD CHANGE", out);
        } else if (strcmp(status, "cancelled") == 0) {
            print_cancelled(t, err);
        } else {
            char name[1024];
            ms_log_safe(raw(t, "project"), name, sizeof name);
            fprintf(err, "NOT DONE %s: %s\n", name,
                    strcmp(str(t, "status"), "running") == 0 ? "still running" : "not started");
            failed++;
        }
    }
    print_verify(rep, out);
    print_dry_run(rep, out);
    return failed;
}

/* --- status, history, progress ----------------------------------------- */

static const char *hms(double secs, char *out, size_t outlen)
{
    long s = secs > 0 ? (long)(secs + 0.5) : 0;
    snprintf(out, outlen, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    return out;
}

/* An ETA as a clock shows a countdown: "0:27", "12:05", "1:02:03";
 * "unknown" for what is not a number. */
static const char *eta_text(const json_t *eta, char *out, size_t outlen)
{
    if (!json_is_number(eta))
        return "unknown";
    double secs = json_number_value(eta);
    long s = secs > 0 ? (long)(secs + 0.5) : 0;
    if (s >= 3600)
        return hms(secs, out, outlen);
    snprintf(out, outlen, "%ld:%02ld", s / 60, s % 60);
    return out;
}

/* "3/12 tasks", with the failed and unchanged ones said when there are
 * any. A master older than tasks.total: the states added up. */
static const char *tasks_text(const json_t *t, char *out, size_t outlen)
{
    double total = json_is_number(json_object_get(t, "total"))
                       ? num(t, "total")
                       : num(t, "queued") + num(t, "running") + num(t, "done") + num(t, "failed");
    int n =
        snprintf(out, outlen, "%.0f/%s", num(t, "done") + num(t, "failed"), count(total, "task"));
    if (num(t, "failed") > 0 && n > 0 && (size_t)n < outlen)
        n += snprintf(out + n, outlen - (size_t)n, ", %.0f failed", num(t, "failed"));
    if (num(t, "unchanged") > 0 && n > 0 && (size_t)n < outlen)
        snprintf(out + n, outlen - (size_t)n, " (%.0f unchanged)", num(t, "unchanged"));
    return out;
}

/* "1.2 GiB of 3.4 GiB"; while the walk sizes the source and the total is
 * not known yet, what it found so far. */
static const char *bytes_text(const json_t *run, char *out, size_t outlen)
{
    char b1[32], b2[32];
    const json_t *exp = json_object_get(run, "bytes_expected"),
                 *walk = json_object_get(run, "walk");
    human_bytes(num(run, "bytes_done"), b1, sizeof b1);
    if (json_is_number(exp))
        snprintf(out, outlen, "%s of %s", b1, human_bytes(json_number_value(exp), b2, sizeof b2));
    else if (json_is_object(walk) && !json_is_true(json_object_get(walk, "done")))
        snprintf(out, outlen, "%s, walking: %s found", b1,
                 human_bytes(num(walk, "bytes"), b2, sizeof b2));
    else
        snprintf(out, outlen, "%s of unknown", b1);
    return out;
}

void ms_print_progress(FILE *out, const json_t *run)
{
    char tasks[128], bytes[128], pct[16] = "", rate[32], eta[32];
    if (!json_is_object(run))
        return;
    const json_t *p = json_object_get(run, "percent");
    if (json_is_number(p))
        snprintf(pct, sizeof pct, "  %.1f%%", json_number_value(p));
    fprintf(out, "\r%s%s  %s  %s/s  ETA %s\033[K",
            tasks_text(json_object_get(run, "tasks"), tasks, sizeof tasks), pct,
            bytes_text(run, bytes, sizeof bytes),
            human_bytes(num(run, "rate_bps"), rate, sizeof rate),
            eta_text(json_object_get(run, "eta_s"), eta, sizeof eta));
    fflush(out);
}

/* A host's verdict with the figures behind it: "cpu 97%, disk 12% busy,
 * ..."; a report stored before the figures were kept shows its evidence. */
static void print_host_verdict(const char *host, const json_t *h, FILE *out)
{
    const json_t *f = json_object_get(h, "figures");
    char name[256], net[32];
    ms_log_safe(host, name, sizeof name);
    fprintf(out, "diagnosis: %s %s (", name, str(h, "verdict"));
    if (json_is_object(f)) {
        fprintf(out, "cpu %.0f%%, disk %.0f%% busy, network %s/s, %s %s busy %.0f%% of the time",
                num(f, "cpu_percent"), num(f, "disk_busy_percent"),
                human_bytes(num(f, "net_bps"), net, sizeof net),
                num(f, "slots") == 1 ? "its" : "all", count(num(f, "slots"), "slot"),
                num(f, "slots_full_percent"));
        if (json_is_number(json_object_get(f, "rsync_cpu_percent")))
            fprintf(out, ", each rsync %.0f%% of a core", num(f, "rsync_cpu_percent"));
    } else {
        fputs(str(h, "evidence"), out);
    }
    fputs(")\n", out);
    if (strcmp(raw(h, "verdict"), "balanced") != 0 && raw(h, "suggestion")[0])
        fprintf(out, "  -> %s\n", str(h, "suggestion"));
}

/* The run's verdict, its evidence and what to do, then one line per host. */
static void print_diagnosis(const json_t *diag, FILE *out)
{
    const json_t *run = json_object_get(diag, "run");
    const char *host;
    const json_t *h;
    if (!json_is_object(run))
        return;
    fprintf(out, "diagnosis: run %s: %s\n  -> %s\n", str(run, "verdict"), str(run, "evidence"),
            str(run, "suggestion"));
    json_object_foreach((json_t *)json_object_get(diag, "hosts"), host, h)
        print_host_verdict(host, h, out);
}

static void print_run_status(const json_t *run, FILE *out)
{
    char el[32], tasks[128], bytes[128], b3[32], eta[32], set[300] = "";
    const json_t *t = json_object_get(run, "tasks"), *p = json_object_get(run, "percent");
    const json_t *walk = json_object_get(run, "walk");
    if (json_is_string(json_object_get(run, "set")))
        snprintf(set, sizeof set, " (set %s)", str(run, "set"));
    const json_t *hook = json_object_get(run, "hook");
    fprintf(out, "run %.0f%s: %s for %s\n", num(run, "id"), set, str(run, "state"),
            hms(num(run, "elapsed_s"), el, sizeof el));
    if (json_is_object(hook)) /* README "Hooks" */
        fprintf(out, "  waiting on its %s hook, running for %s\n", str(hook, "name"),
                hms(num(hook, "elapsed_s"), b3, sizeof b3));
    fprintf(out, "  tasks: %.0f queued, %.0f running, %.0f done, %.0f failed", num(t, "queued"),
            num(t, "running"), num(t, "done"), num(t, "failed"));
    if (num(t, "unchanged") > 0)
        fprintf(out, " (%.0f unchanged)", num(t, "unchanged"));
    if (num(t, "scanning") > 0)
        fprintf(out, "; %s still being walked or split", count(num(t, "scanning"), "project"));
    fputc('\n', out);
    if (json_is_object(walk))
        fprintf(out, "  walk: %s%s, %s, %s\n",
                json_is_true(json_object_get(walk, "done")) ? "" : "going on, ",
                count(num(walk, "projects"), "project"), count(num(walk, "files"), "entry"),
                human_bytes(num(walk, "bytes"), b3, sizeof b3));
    fprintf(out, "  progress: %s", tasks_text(t, tasks, sizeof tasks));
    if (json_is_number(p))
        fprintf(out, ", %.1f%%", json_number_value(p));
    fprintf(out, ", %s, %s/s, ETA %s\n", bytes_text(run, bytes, sizeof bytes),
            human_bytes(num(run, "rate_bps"), b3, sizeof b3),
            eta_text(json_object_get(run, "eta_s"), eta, sizeof eta));
    print_diagnosis(json_object_get(run, "diagnosis"), out);
}

static void print_workers(const json_t *workers, FILE *out)
{
    size_t i;
    const json_t *w;
    char host[64], b1[32], b2[32], b3[32];
    fprintf(out, "\n%-16s %5s %4s %5s %10s %10s %5s %10s %6s %6s\n", "HOST", "SLOTS", "BUSY",
            "CPU%", "DISK_R/s", "DISK_W/s", "DISK%", "NET/s", "DONE", "SEEN");
    json_array_foreach(workers, i, w)
        fprintf(out, "%s %5.0f %4.0f %5.0f %10s %10s %5.0f %10s %6.0f %5.1fs\n",
                cell(raw(w, "host"), 16, host, sizeof host), num(w, "slots"), num(w, "busy"),
                num(w, "cpu_percent"), human_bytes(num(w, "disk_read_bps"), b1, sizeof b1),
                human_bytes(num(w, "disk_write_bps"), b2, sizeof b2), num(w, "disk_busy_percent"),
                human_bytes(num(w, "net_sent_bps") + num(w, "net_recv_bps"), b3, sizeof b3),
                num(w, "tasks_done"), num(w, "last_seen_s"));
    print_worker_warnings(workers, out, "is");
}

static void print_running(const json_t *running, double total, FILE *out)
{
    size_t i;
    const json_t *t;
    char name[128], host[64], el[32], b1[32], full[1024];
    if (json_array_size(running) == 0)
        return;
    fprintf(out, "\n%-32s %-16s %3s %9s %10s\n", "RUNNING", "HOST", "ATT", "ELAPSED", "BYTES");
    json_array_foreach(running, i, t)
    {
        const char *part = raw(t, "part");
        snprintf(full, sizeof full, "%s%s%s%s", raw(t, "project"), *part ? " [" : "", part,
                 *part ? "]" : "");
        fprintf(out, "%s %s %3.0f %9s %10s\n", cell(full, 32, name, sizeof name),
                cell(raw(t, "host"), 16, host, sizeof host), num(t, "attempt"),
                hms(num(t, "elapsed_s"), el, sizeof el),
                human_bytes(num(t, "bytes_done"), b1, sizeof b1));
    }
    if (total > (double)json_array_size(running)) /* the master lists the longest-running */
        fprintf(out, "... and %.0f more running\n", total - (double)json_array_size(running));
}

void ms_print_status(const json_t *st, FILE *out)
{
    const json_t *run = json_object_get(st, "run"), *last = json_object_get(st, "last_run");
    char wall[32];
    if (json_is_object(run)) {
        print_run_status(run, out);
    } else if (json_is_object(last)) {
        const json_t *tot = json_object_get(last, "totals");
        fprintf(out, "no run going; the last one, run %.0f, %s: %s, %s failed", num(last, "run_id"),
                str(last, "finished"), str(last, "status"), count(num(tot, "failed"), "task"));
        if (num(tot, "unchanged") > 0)
            fprintf(out, ", %.0f unchanged (no rsync)", num(tot, "unchanged"));
        fprintf(out, ", took %s\n", hms(num(last, "wall_seconds"), wall, sizeof wall));
        print_diagnosis(json_object_get(last, "diagnosis"), out);
    } else {
        fprintf(out, "no run yet\n");
    }
    print_workers(json_object_get(st, "workers"), out);
    print_running(json_object_get(st, "running"), num(st, "running_total"), out);
}

/* Under a snapshot run's line: its snapshot, and what retention removed. */
static void print_history_snapshot(const json_t *s, FILE *out)
{
    size_t i;
    const json_t *p;
    if (!json_is_object(s))
        return;
    fprintf(out, "       snapshot %s%s", str(s, "name"),
            json_is_true(json_object_get(s, "complete")) ? "" : ".partial (not complete)");
    if (json_array_size(json_object_get(s, "pruned")) > 0)
        fputs(", removed:", out);
    json_array_foreach(json_object_get(s, "pruned"), i, p)
        fprintf(out, " %s", json_string_value(p));
    fputc('\n', out);
}

void ms_print_history(const json_t *history, FILE *out)
{
    size_t i;
    const json_t *r;
    char wall[32], b1[32], src[64];
    fprintf(out, "%-6s %-8s %-8s %-20s %9s %6s %6s %9s %10s  %s\n", "RUN", "KIND", "STATUS",
            "STARTED", "WALL", "TASKS", "FAILED", "UNCHANGED", "BYTES", "SET / SOURCE");
    json_array_foreach(history, i, r)
    {
        fprintf(out, "%-6.0f %-8s %-8s %-20s %9s %6.0f %6.0f %9.0f %10s  %s\n", num(r, "run_id"),
                json_is_true(json_object_get(r, "full")) && strcmp(str(r, "kind"), "dry-run") != 0
                    ? "full"
                    : str(r, "kind"),
                str(r, "status"), str(r, "started"), hms(num(r, "wall_seconds"), wall, sizeof wall),
                num(r, "tasks"), num(r, "failed"), num(r, "unchanged"),
                human_bytes(num(r, "bytes_total"), b1, sizeof b1),
                json_is_string(json_object_get(r, "set"))
                    ? str(r, "set")
                    : cell(raw(r, "source"), 40, src, sizeof src));
        print_history_snapshot(json_object_get(r, "snapshot"), out);
    }
}

/* A count from o at key, or "-" when there is none. */
static const char *count_or_dash(const json_t *o, const char *key, char *out, size_t outlen)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        return "-";
    snprintf(out, outlen, "%.0f", json_number_value(v));
    return out;
}

void ms_print_snapshots(const json_t *snapshots, FILE *out)
{
    size_t i;
    const json_t *s;
    int latest = 0;
    char name[128], projects[32], files[32], copied[32];
    fprintf(out, "  %-26s %-8s %-20s %8s %9s %10s\n", "SNAPSHOT", "STATE", "TIME", "PROJECTS",
            "FILES", "COPIED");
    json_array_foreach(snapshots, i, s)
    {
        const json_t *x = json_object_get(s, "bytes_transferred");
        int is_latest = json_is_true(json_object_get(s, "latest"));
        latest |= is_latest;
        fprintf(out, "%c %s %-8s %-20s %8s %9s %10s\n", is_latest ? '*' : ' ',
                cell(raw(s, "name"), 26, name, sizeof name), str(s, "state"), str(s, "time"),
                count_or_dash(s, "projects", projects, sizeof projects),
                count_or_dash(s, "files", files, sizeof files),
                json_is_number(x) ? human_bytes(json_number_value(x), copied, sizeof copied) : "-");
    }
    if (latest)
        fprintf(out, "* latest\n");
}
