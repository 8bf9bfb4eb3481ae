/*
 * ms_host.c - host-wide counters read from /proc and /sys (see ms_host.h).
 *
 * The parsers walk NUL-terminated text line by line and never look past a
 * line's '\n' or the final NUL; each number is read digit by digit with an
 * overflow check rather than with strtoull, which accepts signs and blanks
 * in places the kernel never writes them.
 */
#include "ms_host.h"
#include "ms_clock.h"
#include "ms_err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_FIRST ((size_t)64 * 1024) /* first buffer size; it doubles up to MS_HOST_READ_MAX */
#define ROOT_MAX (PATH_MAX - 64)       /* room for "/<device name>/slaves" and "/net/dev" */
#define SECTOR 512u                    /* diskstats counts 512-byte sectors on every device */

typedef struct {
    ms_host_disk_t *v;
    size_t n, cap;
} disk_list_t;

typedef struct {
    ms_host_netif_t *v;
    size_t n, cap;
} netif_list_t;

struct ms_host {
    char *proc_root, *sys_block;
    char *buf;      /* the file being parsed, NUL-terminated */
    size_t buf_cap; /* bytes of content it holds, plus one for the NUL */
    /* what this call read, and the baseline from the previous call */
    ms_host_stat_t *stat, *prev_stat;
    disk_list_t disks, prev_disks; /* whole disks only, sorted by name */
    netif_list_t nets, prev_nets;  /* lo left out, sorted by name */
    double prev_now;
    bool have_prev;
};

/* ---- scanning ---------------------------------------------------------- */

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool is_end(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\0';
}

static bool at_eol(const char *p)
{
    p = skip_blanks(p);
    return *p == '\n' || *p == '\0';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *next_line(const char *p)
{
    const char *nl = strchr(p, '\n');

    return nl != NULL ? nl + 1 : NULL;
}

/* Digits at s into *v; returns the first non-digit, or NULL on overflow. */
static const char *take_digits(const char *s, uint64_t *v)
{
    *v = 0;
    for (; is_digit(*s); s++) {
        uint64_t d = (uint64_t)(*s - '0');

        if (*v > (UINT64_MAX - d) / 10)
            return NULL;
        *v = *v * 10 + d;
    }
    return s;
}

/* The unsigned decimal after blanks at *p, which must end at a blank or the
 * end of the line; advances *p past it. */
static bool take_u64(const char **p, uint64_t *out)
{
    const char *s = skip_blanks(*p);
    uint64_t v;

    if (!is_digit(*s))
        return false;
    s = take_digits(s, &v);
    if (s == NULL || !is_end(*s))
        return false;
    *p = s;
    *out = v;
    return true;
}

/* A non-negative decimal like "0.42" after blanks at *p, read exactly as
 * integer / 10^k (at most 18 fraction digits count). */
static bool take_decimal(const char **p, double *out)
{
    const char *s = skip_blanks(*p);
    uint64_t whole, frac = 0;
    double scale = 1;

    if (!is_digit(*s) || (s = take_digits(s, &whole)) == NULL)
        return false;
    if (*s == '.') {
        if (!is_digit(*++s))
            return false;
        for (; is_digit(*s); s++) {
            if (scale < 1e18) {
                frac = frac * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
        }
    }
    if (!is_end(*s))
        return false;
    *p = s;
    *out = (double)whole + (double)frac / scale;
    return true;
}

/* The non-blank run after blanks at *p into name; false when empty or when
 * it does not fit in size. */
static bool take_word(const char **p, char *name, size_t size)
{
    const char *s = skip_blanks(*p);
    size_t len = 0;

    while (!is_end(s[len]))
        len++;
    if (len == 0 || len >= size)
        return false;
    memcpy(name, s, len);
    name[len] = '\0';
    *p = s + len;
    return true;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- /proc/stat -------------------------------------------------------- */

enum { LABEL_OTHER = -2, LABEL_TOTAL = -1 };

/* The first word of a /proc/stat line: LABEL_TOTAL for "cpu", N for "cpuN"
 * with N < MS_HOST_MAX_CPUS, LABEL_OTHER for anything else. */
static long cpu_label(const char **p)
{
    char word[16];
    uint64_t n;
    const char *end;

    if (!take_word(p, word, sizeof(word)) || strncmp(word, "cpu", 3) != 0)
        return LABEL_OTHER;
    if (word[3] == '\0')
        return LABEL_TOTAL;
    if (!is_digit(word[3]))
        return LABEL_OTHER;
    end = take_digits(word + 3, &n);
    if (end == NULL || *end != '\0' || n >= MS_HOST_MAX_CPUS)
        return LABEL_OTHER;
    return (long)n;
}

/* At least user, nice, system and idle; fields past the tenth are ignored. */
static bool take_cpu_times(const char *p, ms_host_cpu_t *cpu)
{
    ms_host_cpu_t c = {.present = true};
    size_t i = 0;

    while (i < MS_CPU_FIELDS && !at_eol(p)) {
        if (!take_u64(&p, &c.t[i]))
            return false;
        i++;
    }
    if (i < 4)
        return false;
    *cpu = c;
    return true;
}

static void parse_stat_line(const char *line, ms_host_stat_t *out)
{
    const char *p = line;
    long n = cpu_label(&p);
    ms_host_cpu_t *cpu;

    if (n == LABEL_OTHER)
        return;
    cpu = n == LABEL_TOTAL ? &out->total : &out->core[n];
    if (cpu->present || !take_cpu_times(p, cpu))
        return;
    if (n >= 0 && (unsigned)n >= out->n_cpus)
        out->n_cpus = (unsigned)n + 1;
}

int ms_host_parse_stat(const char *text, ms_host_stat_t *out)
{
    if (text == NULL || out == NULL) {
        errno = EINVAL;
        return -1;
    }
    memset(out, 0, sizeof(*out));
    for (const char *line = text; line != NULL && *line != '\0'; line = next_line(line))
        parse_stat_line(line, out);
    if (!out->total.present) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* ---- /proc/diskstats and /proc/net/dev --------------------------------- */

/* "major minor name" then 11 counters; later fields (kernel 4.18+, 5.5+)
 * are not needed. */
static bool parse_disk_line(const char *p, ms_host_disk_t *out)
{
    ms_host_disk_t d;
    uint64_t f[11], major, minor;

    if (!take_u64(&p, &major) || !take_u64(&p, &minor) || !take_word(&p, d.name, sizeof(d.name)))
        return false;
    for (size_t i = 0; i < 11; i++)
        if (!take_u64(&p, &f[i]))
            return false;
    d.read_sectors = f[2];
    d.write_sectors = f[6];
    d.io_ticks = f[9];
    *out = d;
    return true;
}

int ms_host_parse_diskstats(const char *text, ms_host_disk_t *disks, size_t cap, size_t *n)
{
    size_t count = 0;

    if (text == NULL || n == NULL || (disks == NULL && cap > 0)) {
        errno = EINVAL;
        return -1;
    }
    for (const char *line = text; line != NULL && *line != '\0'; line = next_line(line)) {
        ms_host_disk_t d;

        if (!parse_disk_line(line, &d))
            continue;
        if (count < cap)
            disks[count] = d;
        count++;
    }
    *n = count;
    return 0;
}

/* "name: " then 8 receive and 8 transmit counters; names hold no blank and
 * no ':' (the kernel refuses them). */
static bool parse_netif_line(const char *p, ms_host_netif_t *out)
{
    ms_host_netif_t nif;
    uint64_t f[16];
    size_t len = 0;

    p = skip_blanks(p);
    while (p[len] != ':' && !is_end(p[len]))
        len++;
    if (p[len] != ':' || len == 0 || len >= sizeof(nif.name))
        return false;
    memcpy(nif.name, p, len);
    nif.name[len] = '\0';
    p += len + 1;
    for (size_t i = 0; i < 16; i++)
        if (!take_u64(&p, &f[i]))
            return false;
    nif.recv_bytes = f[0];
    nif.sent_bytes = f[8];
    *out = nif;
    return true;
}

int ms_host_parse_netdev(const char *text, ms_host_netif_t *ifs, size_t cap, size_t *n)
{
    size_t count = 0;

    if (text == NULL || n == NULL || (ifs == NULL && cap > 0)) {
        errno = EINVAL;
        return -1;
    }
    for (const char *line = text; line != NULL && *line != '\0'; line = next_line(line)) {
        ms_host_netif_t nif;

        if (!parse_netif_line(line, &nif))
            continue;
        if (count < cap)
            ifs[count] = nif;
        count++;
    }
    *n = count;
    return 0;
}

/* ---- /proc/meminfo and /proc/loadavg ----------------------------------- */

enum { MEM_TOTAL, MEM_AVAILABLE, MEM_FREE, MEM_BUFFERS, MEM_CACHED, MEM_KEYS };

/* "Key:   123 kB" for one of the keys above: the key's index, the value in
 * bytes in *bytes; -1 for another key or a malformed value. */
static int parse_mem_line(const char *p, uint64_t *bytes)
{
    static const char *const keys[MEM_KEYS] = {"MemTotal", "MemAvailable", "MemFree", "Buffers",
                                               "Cached"};
    uint64_t kb;

    for (int i = 0; i < MEM_KEYS; i++) {
        size_t klen = strlen(keys[i]);

        if (strncmp(p, keys[i], klen) != 0 || p[klen] != ':')
            continue;
        p += klen + 1;
        if (!take_u64(&p, &kb) || kb > UINT64_MAX / 1024)
            return -1;
        p = skip_blanks(p);
        if (strncmp(p, "kB", 2) != 0 || !at_eol(p + 2))
            return -1;
        *bytes = kb * 1024;
        return i;
    }
    return -1;
}

int ms_host_parse_meminfo(const char *text, ms_host_mem_t *out)
{
    uint64_t v[MEM_KEYS] = {0}, bytes;
    unsigned seen = 0;

    if (text == NULL || out == NULL) {
        errno = EINVAL;
        return -1;
    }
    for (const char *line = text; line != NULL && *line != '\0'; line = next_line(line)) {
        int k = parse_mem_line(line, &bytes);

        if (k >= 0) {
            v[k] = bytes;
            seen |= 1u << k;
        }
    }
    if (!(seen & 1u << MEM_TOTAL) || !(seen & (1u << MEM_AVAILABLE | 1u << MEM_FREE))) {
        errno = EINVAL;
        return -1;
    }
    if (!(seen & 1u << MEM_AVAILABLE))
        v[MEM_AVAILABLE] = sat_add(sat_add(v[MEM_FREE], v[MEM_BUFFERS]), v[MEM_CACHED]);
    out->total = v[MEM_TOTAL];
    out->available = v[MEM_AVAILABLE] < v[MEM_TOTAL] ? v[MEM_AVAILABLE] : v[MEM_TOTAL];
    return 0;
}

int ms_host_parse_loadavg(const char *text, double load[3])
{
    double v[3];

    if (text == NULL || load == NULL) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!take_decimal(&text, &v[i])) {
            errno = EINVAL;
            return -1;
        }
    }
    memcpy(load, v, sizeof(v));
    return 0;
}

/* ---- reading files ----------------------------------------------------- */

/* dir/name into out; false when it does not fit (roots are checked by
 * ms_host_new and names are short, so only a bug gets there). */
static bool join(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);

    return n >= 0 && (size_t)n < size;
}

/* Double the buffer: 1 done, 0 already at MS_HOST_READ_MAX, -1 no memory. */
static int grow_buf(ms_host_t *h)
{
    size_t cap = h->buf_cap * 2;
    char *p;

    if (h->buf_cap >= MS_HOST_READ_MAX)
        return 0;
    if (cap > MS_HOST_READ_MAX)
        cap = MS_HOST_READ_MAX;
    p = realloc(h->buf, cap + 1);
    if (p == NULL)
        return -1;
    h->buf = p;
    h->buf_cap = cap;
    return 1;
}

/* Read fd to its end into h->buf; a file longer than MS_HOST_READ_MAX is cut
 * after its last complete line, so no half line is parsed as a whole one. */
static int read_fd(ms_host_t *h, int fd)
{
    size_t len = 0;
    int room = 1;

    while (room > 0) {
        if (len == h->buf_cap && (room = grow_buf(h)) <= 0)
            break;
        ssize_t n = read(fd, h->buf + len, h->buf_cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            h->buf[len] = '\0';
            return 0;
        }
        len += (size_t)n;
    }
    if (room < 0)
        return -1; /* errno ENOMEM from realloc */
    h->buf[len] = '\0';
    char *nl = memrchr(h->buf, '\n', len);
    *(nl != NULL ? nl + 1 : h->buf) = '\0';
    return 0;
}

/* Read proc_root/name into h->buf. */
static int read_proc(ms_host_t *h, const char *name, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int fd, rc, saved;

    if (!join(path, sizeof(path), h->proc_root, name))
        return ms_errf(err, errlen, "%s/%s: path too long", h->proc_root, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ms_errf(err, errlen, "open %s: %s", path, strerror(errno));
    rc = read_fd(h, fd);
    saved = errno;
    close(fd);
    if (rc < 0)
        ms_errf(err, errlen, "read %s: %s", path, strerror(saved));
    return rc;
}

/* ---- which devices count ----------------------------------------------- */

/* True when the sysfs directory dir has a slaves/ entry: a device stacked
 * on others (dm, md), whose I/O the disks below count again. */
static bool has_slaves(const char *dir)
{
    char path[PATH_MAX];
    struct dirent *e;
    bool found = false;
    DIR *d;

    if (!join(path, sizeof(path), dir, "slaves") || (d = opendir(path)) == NULL)
        return false;
    while (!found && (e = readdir(d)) != NULL)
        found = e->d_name[0] != '.';
    closedir(d);
    return found;
}

static bool is_whole_disk(const ms_host_t *h, const char *name)
{
    static const char *const virt[] = {"loop", "ram", "zram"};
    char path[PATH_MAX], *p;
    struct stat st;

    for (size_t i = 0; i < sizeof(virt) / sizeof(virt[0]); i++)
        if (strncmp(name, virt[i], strlen(virt[i])) == 0)
            return false;
    if (name[0] == '.')
        return false;
    if (!join(path, sizeof(path), h->sys_block, name))
        return false;
    for (p = path + strlen(h->sys_block) + 1; *p != '\0'; p++)
        if (*p == '/')
            *p = '!'; /* "cciss/c0d0" is /sys/block/cciss!c0d0 */
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    return !has_slaves(path);
}

/* Both list element types start with their name. */
static int by_name(const void *a, const void *b)
{
    return strncmp((const char *)a, (const char *)b, MS_HOST_NAME_MAX);
}

/* qsort and bsearch want a non-NULL base even for no element. */
static void sort_by_name(void *v, size_t n, size_t size)
{
    if (n > 1)
        qsort(v, n, size, by_name);
}

static const void *find_by_name(const void *key, const void *v, size_t n, size_t size)
{
    return n > 0 ? bsearch(key, v, n, size, by_name) : NULL;
}

/* ---- sampling ---------------------------------------------------------- */

static int read_stat(ms_host_t *h, char *err, size_t errlen)
{
    if (read_proc(h, "stat", err, errlen) < 0)
        return -1;
    if (ms_host_parse_stat(h->buf, h->stat) < 0)
        return ms_errf(err, errlen, "parse %s/stat: no cpu line", h->proc_root);
    return 0;
}

/* Make room for n elements of size bytes in *v (capacity *cap). */
static int reserve(void **v, size_t *cap, size_t n, size_t size)
{
    void *p;

    if (n <= *cap)
        return 0;
    if (n > SIZE_MAX / size || (p = realloc(*v, n * size)) == NULL)
        return -1;
    *v = p;
    *cap = n;
    return 0;
}

static int read_disks(ms_host_t *h, char *err, size_t errlen)
{
    disk_list_t *l = &h->disks;
    size_t n = 0, kept = 0;
    void *v = l->v;

    if (read_proc(h, "diskstats", err, errlen) < 0)
        return -1;
    ms_host_parse_diskstats(h->buf, l->v, l->cap, &n);
    if (n > l->cap) {
        if (reserve(&v, &l->cap, n, sizeof(*l->v)) < 0)
            return ms_errf(err, errlen, "parse %s/diskstats: out of memory", h->proc_root);
        l->v = v;
        ms_host_parse_diskstats(h->buf, l->v, l->cap, &n);
    }
    for (size_t i = 0; i < n; i++)
        if (is_whole_disk(h, l->v[i].name))
            l->v[kept++] = l->v[i];
    l->n = kept;
    sort_by_name(l->v, l->n, sizeof(*l->v));
    return 0;
}

static int read_nets(ms_host_t *h, char *err, size_t errlen)
{
    netif_list_t *l = &h->nets;
    size_t n = 0, kept = 0;
    void *v = l->v;

    if (read_proc(h, "net/dev", err, errlen) < 0)
        return -1;
    ms_host_parse_netdev(h->buf, l->v, l->cap, &n);
    if (n > l->cap) {
        if (reserve(&v, &l->cap, n, sizeof(*l->v)) < 0)
            return ms_errf(err, errlen, "parse %s/net/dev: out of memory", h->proc_root);
        l->v = v;
        ms_host_parse_netdev(h->buf, l->v, l->cap, &n);
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(l->v[i].name, "lo") != 0)
            l->v[kept++] = l->v[i];
    l->n = kept;
    sort_by_name(l->v, l->n, sizeof(*l->v));
    return 0;
}

static int read_mem_and_load(ms_host_t *h, ms_host_sample_t *s, char *err, size_t errlen)
{
    ms_host_mem_t mem;
    double load[3];

    if (read_proc(h, "meminfo", err, errlen) < 0)
        return -1;
    if (ms_host_parse_meminfo(h->buf, &mem) < 0)
        return ms_errf(err, errlen, "parse %s/meminfo: no MemTotal or MemAvailable", h->proc_root);
    if (read_proc(h, "loadavg", err, errlen) < 0)
        return -1;
    if (ms_host_parse_loadavg(h->buf, load) < 0)
        return ms_errf(err, errlen, "parse %s/loadavg: not three load averages", h->proc_root);
    s->mem_total = mem.total;
    s->mem_available = mem.available;
    s->mem_used = mem.total - mem.available;
    s->load1 = load[0];
    s->load5 = load[1];
    s->load15 = load[2];
    return 0;
}

static void add_totals(const ms_host_t *h, ms_host_sample_t *s)
{
    for (size_t i = 0; i < h->disks.n; i++) {
        s->disk_read_bytes += h->disks.v[i].read_sectors * SECTOR;
        s->disk_write_bytes += h->disks.v[i].write_sectors * SECTOR;
        s->disk_busy_ms += h->disks.v[i].io_ticks;
    }
    for (size_t i = 0; i < h->nets.n; i++) {
        s->net_recv_bytes += h->nets.v[i].recv_bytes;
        s->net_sent_bytes += h->nets.v[i].sent_bytes;
    }
    s->n_cpus = h->stat->n_cpus;
}

/* How much a counter grew; 0 when it went backwards (wrap, reset). */
static uint64_t grew(uint64_t cur, uint64_t prev)
{
    return cur >= prev ? cur - prev : 0;
}

static double clamp_percent(double v)
{
    return v > 100 ? 100 : v > 0 ? v : 0;
}

/* Busy and iowait shares of one cpu line between two samples, 0..100. */
static void cpu_shares(const ms_host_cpu_t *cur, const ms_host_cpu_t *prev, double *busy,
                       double *iowait)
{
    double d[MS_CPU_FIELDS], total = 0;

    *busy = *iowait = 0;
    if (!cur->present || !prev->present)
        return;
    for (size_t i = 0; i < MS_CPU_FIELDS; i++)
        d[i] = (double)grew(cur->t[i], prev->t[i]);
    for (size_t i = 0; i < MS_CPU_GUEST; i++)
        total += d[i];
    if (total <= 0)
        return;
    *busy = clamp_percent(100 * (total - (d[MS_CPU_IDLE] + d[MS_CPU_IOWAIT])) / total);
    *iowait = clamp_percent(100 * d[MS_CPU_IOWAIT] / total);
}

static void cpu_rates(const ms_host_t *h, ms_host_sample_t *s)
{
    double busy, iowait;

    cpu_shares(&h->stat->total, &h->prev_stat->total, &s->cpu_percent, &s->iowait_percent);
    for (unsigned i = 0; i < h->stat->n_cpus; i++) {
        cpu_shares(&h->stat->core[i], &h->prev_stat->core[i], &busy, &iowait);
        s->core_percent[i] = (uint8_t)(busy + 0.5);
    }
}

static void disk_rates(const ms_host_t *h, double interval, ms_host_sample_t *s)
{
    uint64_t rd = 0, wr = 0, busy = 0;
    unsigned both = 0;

    for (size_t i = 0; i < h->disks.n; i++) {
        const ms_host_disk_t *c = &h->disks.v[i], *p;

        p = find_by_name(c, h->prev_disks.v, h->prev_disks.n, sizeof(*p));
        if (p == NULL)
            continue;
        rd = sat_add(rd, grew(c->read_sectors, p->read_sectors));
        wr = sat_add(wr, grew(c->write_sectors, p->write_sectors));
        busy = sat_add(busy, grew(c->io_ticks, p->io_ticks));
        both++;
    }
    s->disk_read_bps = (double)rd * SECTOR / interval;
    s->disk_write_bps = (double)wr * SECTOR / interval;
    if (both > 0)
        s->disk_busy_percent = clamp_percent(100 * (double)busy / (interval * 1000 * both));
}

static void net_rates(const ms_host_t *h, double interval, ms_host_sample_t *s)
{
    uint64_t recv = 0, sent = 0;

    for (size_t i = 0; i < h->nets.n; i++) {
        const ms_host_netif_t *c = &h->nets.v[i], *p;

        p = find_by_name(c, h->prev_nets.v, h->prev_nets.n, sizeof(*p));
        if (p == NULL)
            continue;
        recv = sat_add(recv, grew(c->recv_bytes, p->recv_bytes));
        sent = sat_add(sent, grew(c->sent_bytes, p->sent_bytes));
    }
    s->net_recv_bps = (double)recv / interval;
    s->net_sent_bps = (double)sent / interval;
}

/* What was read becomes the baseline; the old baseline's storage is reused. */
static void keep_baseline(ms_host_t *h, double now_s)
{
    ms_host_stat_t *st = h->prev_stat;
    disk_list_t dl = h->prev_disks;
    netif_list_t nl = h->prev_nets;

    h->prev_stat = h->stat;
    h->stat = st;
    h->prev_disks = h->disks;
    h->disks = dl;
    h->prev_nets = h->nets;
    h->nets = nl;
    h->prev_now = now_s;
    h->have_prev = true;
}

int ms_host_sample_at(ms_host_t *h, double now_s, ms_host_sample_t *out, char *err, size_t errlen)
{
    ms_host_sample_t s = {0};

    if (h == NULL || out == NULL)
        return ms_errf(err, errlen, "ms_host_sample: no handle or no output");
    if (read_stat(h, err, errlen) < 0 || read_disks(h, err, errlen) < 0 ||
        read_nets(h, err, errlen) < 0 || read_mem_and_load(h, &s, err, errlen) < 0)
        return -1;
    add_totals(h, &s);
    if (h->have_prev) {
        double interval = now_s - h->prev_now;

        cpu_rates(h, &s);
        if (interval > 0) {
            s.interval_s = interval;
            disk_rates(h, interval, &s);
            net_rates(h, interval, &s);
        }
    }
    keep_baseline(h, now_s);
    *out = s;
    return 0;
}

int ms_host_sample(ms_host_t *h, ms_host_sample_t *out, char *err, size_t errlen)
{
    return ms_host_sample_at(h, ms_mono_seconds(), out, err, errlen);
}

/* ---- lifecycle --------------------------------------------------------- */

static ms_host_t *alloc_host(const char *proc_root, const char *sys_block)
{
    ms_host_t *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->proc_root = strdup(proc_root);
    h->sys_block = strdup(sys_block);
    h->stat = malloc(sizeof(*h->stat));
    h->prev_stat = malloc(sizeof(*h->prev_stat));
    h->buf = malloc(READ_FIRST + 1);
    h->buf_cap = READ_FIRST;
    if (h->proc_root == NULL || h->sys_block == NULL || h->stat == NULL || h->prev_stat == NULL ||
        h->buf == NULL)
        ms_host_destroy(&h);
    return h;
}

ms_host_t *ms_host_new(const char *proc_root, const char *sys_block, char *err, size_t errlen)
{
    char path[PATH_MAX];
    ms_host_t *h;

    if (proc_root == NULL || sys_block == NULL) {
        ms_errf(err, errlen, "ms_host_new: no proc_root or no sys_block");
        return NULL;
    }
    if (strlen(proc_root) > ROOT_MAX || strlen(sys_block) > ROOT_MAX) {
        ms_errf(err, errlen, "ms_host_new: root path longer than %d bytes", ROOT_MAX);
        return NULL;
    }
    if (!join(path, sizeof(path), proc_root, "stat") || access(path, R_OK) != 0) {
        ms_errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    h = alloc_host(proc_root, sys_block);
    if (h == NULL)
        ms_errf(err, errlen, "ms_host_new: out of memory");
    return h;
}

void ms_host_destroy(ms_host_t **h)
{
    if (h == NULL || *h == NULL)
        return;
    free((*h)->proc_root);
    free((*h)->sys_block);
    free((*h)->buf);
    free((*h)->stat);
    free((*h)->prev_stat);
    free((*h)->disks.v);
    free((*h)->prev_disks.v);
    free((*h)->nets.v);
    free((*h)->prev_nets.v);
    free(*h);
    *h = NULL;
}
