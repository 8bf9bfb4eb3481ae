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
    fprintf(out, "\nrun %.0f: %s  %.0f tasks, %.0f ok, %.0f failed", num(rep, "run_id"),
            str(rep, "status"), num(tot, "tasks"), num(tot, "ok"), num(tot, "failed"));
    if (verify)
        fprintf(out, ", %.0f differ", num(verify, "differs"));
    if (num(tot, "vanished") > 0)
        fprintf(out, ", %.0f vanished from the source", num(tot, "vanished"));
    if (num(tot, "unchanged") > 0)
        fprintf(out, " (%.0f unchanged since their last copy: no rsync)", num(tot, "unchanged"));
    if (json_is_true(json_object_get(rep, "full")))
        fputs(" (a full pass: every project copied)", out);
    fputc('\n', out);
    /* A verify transfers nothing: what it costs is what it read. */
    double moved = verify ? num(tot, "bytes_read") : num(tot, "bytes_transferred");
    fprintf(out, "wall time %.2f s, %.0f files, %s total, %s %s (%s/s)\n", wall, num(tot, "files"),
            human_bytes(num(tot, "bytes_total"), b1, sizeof b1), human_bytes(moved, b2, sizeof b2),
            verify ? "read" : "transferred",
            human_bytes(!verify    ? num(tot, "throughput_bps")
                        : wall > 0 ? moved / wall
                                   : 0,
                        b3, sizeof b3));
    fprintf(out, "cpu %.2f s user + %.2f s sys, parallel efficiency %.0f%% of %.0f slots\n",
            num(tot, "cpu_user_s"), num(tot, "cpu_sys_s"), 100.0 * num(tot, "parallel_efficiency"),
            num(tot, "slots"));
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
    fprintf(out, "%s %s: %.0f path%s\n", label, name, paths, paths == 1 ? "" : "s");
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
    fprintf(out, "verify%s: %.0f of %.0f projects differ (%.0f path%s); %s read\n", snap,
            num(v, "differs"), num(tot, "tasks"), num(v, "paths"), num(v, "paths") == 1 ? "" : "s",
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
    fprintf(err, "FAILED %s on %s (exit %.0f, %.0f attempt%s): %s\n", name, str(t, "host"),
            num(t, "exit_code"), num(t, "attempts"), num(t, "attempts") == 1 ? "" : "s",
            one_line(t, msg, sizeof msg));
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

void ms_print_progress(FILE *out, const json_t *run)
{
    char b1[32], b2[32], b3[32], eta[32];
    const json_t *tasks = json_object_get(run, "tasks");
    if (!json_is_object(run))
        return;
    const json_t *exp = json_object_get(run, "bytes_expected");
    const json_t *e = json_object_get(run, "eta_s");
    double total =
        num(tasks, "queued") + num(tasks, "running") + num(tasks, "done") + num(tasks, "failed");
    fprintf(out, "\r%.0f/%.0f done, %.0f failed, %.0f running | %s%s%s | %s/s | ETA %s\033[K",
            num(tasks, "done") + num(tasks, "failed"), total, num(tasks, "failed"),
            num(tasks, "running"), human_bytes(num(run, "bytes_done"), b1, sizeof b1),
            json_is_number(exp) ? " of " : "",
            json_is_number(exp) ? human_bytes(json_number_value(exp), b2, sizeof b2) : "",
            human_bytes(num(run, "rate_bps"), b3, sizeof b3),
            json_is_number(e) ? hms(json_number_value(e), eta, sizeof eta) : "unknown");
    fflush(out);
}

static void print_diagnosis(const json_t *diag, FILE *out)
{
    const json_t *run = json_object_get(diag, "run");
    const char *host;
    const json_t *h;
    if (!run)
        return;
    fprintf(out, "diagnosis: %s: %s\n  -> %s\n", str(run, "verdict"), str(run, "evidence"),
            str(run, "suggestion"));
    json_object_foreach((json_t *)json_object_get(diag, "hosts"), host, h)
        fprintf(out, "  %s: %s: %s\n", host, str(h, "verdict"), str(h, "evidence"));
}

static void print_run_status(const json_t *run, FILE *out)
{
    char el[32], b1[32], b2[32], b3[32], eta[32], set[300] = "";
    const json_t *t = json_object_get(run, "tasks"), *exp = json_object_get(run, "bytes_expected");
    const json_t *e = json_object_get(run, "eta_s");
    if (json_is_string(json_object_get(run, "set")))
        snprintf(set, sizeof set, " (set %s)", str(run, "set"));
    fprintf(out, "run %.0f%s: %s for %s\n", num(run, "id"), set, str(run, "state"),
            hms(num(run, "elapsed_s"), el, sizeof el));
    fprintf(out, "  tasks: %.0f queued, %.0f running, %.0f done, %.0f failed", num(t, "queued"),
            num(t, "running"), num(t, "done"), num(t, "failed"));
    if (num(t, "scanning") > 0)
        fprintf(out, "; %.0f project(s) still being walked", num(t, "scanning"));
    fputc('\n', out);
    fprintf(out, "  bytes: %s of %s, %s/s, ETA %s\n",
            human_bytes(num(run, "bytes_done"), b1, sizeof b1),
            json_is_number(exp) ? human_bytes(json_number_value(exp), b2, sizeof b2) : "unknown",
            human_bytes(num(run, "rate_bps"), b3, sizeof b3),
            json_is_number(e) ? hms(json_number_value(e), eta, sizeof eta) : "unknown");
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
        fprintf(out, "no run going; the last one, run %.0f, %s: %s, %.0f task(s) failed",
                num(last, "run_id"), str(last, "finished"), str(last, "status"),
                num(tot, "failed"));
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
